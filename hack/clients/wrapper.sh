# shellcheck shell=bash
# Body of the runtime wrapper that lib.sh's make_wrapper writes (after a line setting RUNTIME and WORK):
# logs the command line and exit status, and keeps each bundle's config.json.
log() { echo "$(date +%T.%N) [$$] $*" >>"$WORK/argv.log"; }
log "$RUNTIME $*"
prev=
for arg in "$@"; do
    bundle=
    [[ $prev == --bundle || $prev == -b ]] && bundle=$arg
    [[ $arg == --bundle=* ]] && bundle=${arg#--bundle=}
    if [[ -n $bundle ]]; then
        # Named after the container id, the last argument.
        cp -f "$bundle/config.json" "$WORK/configs/${*: -1}.json" 2>/dev/null
    fi
    prev=$arg
done
"$RUNTIME" "$@"
rc=$?
log "exit $rc"
exit $rc
