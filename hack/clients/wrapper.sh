# shellcheck shell=bash
# Body of the runtime wrapper that lib.sh's make_wrapper writes (after a line setting RUNTIME, WORK and
# WORKAROUNDS): logs the command line and exit status, keeps the bundle's config.json, applies WORKAROUNDS.
log() { echo "$(date +%T.%N) [$$] $*" >>"$WORK/argv.log"; }
log "$RUNTIME $*"
args=()
prev=
for arg in "$@"; do
    orig=$arg
    if [[ $prev == --root && $WORKAROUNDS == *short-root* ]]; then
        mkdir -p "$arg"
        arg=/tmp/nkr.$(printf %s "$orig" | cksum | cut -d' ' -f1)
        [[ -L $arg ]] || ln -sfn "$orig" "$arg"
        echo "$arg" >>"$WORK/short-roots"
        log "workaround short-root: --root $arg"
    fi
    bundle=
    [[ $prev == --bundle || $prev == -b ]] && bundle=$arg
    [[ $arg == --bundle=* ]] && bundle=${arg#--bundle=}
    if [[ -n $bundle ]]; then
        # Named after the container id, the last argument.
        cp -f "$bundle/config.json" "$WORK/configs/${*: -1}.json" 2>/dev/null
        if [[ $WORKAROUNDS == *blkio-weight-0* ]] &&
            python3 - "$bundle/config.json" <<'PY'; then
import json, sys
path = sys.argv[1]
config = json.load(open(path))
blkio = config.get("linux", {}).get("resources", {}).get("blockIO", {})
if blkio.get("weight", 1) != 0:
    sys.exit(1)
del blkio["weight"]
json.dump(config, open(path, "w"))
PY
            log "workaround blkio-weight-0: removed linux.resources.blockIO.weight=0"
        fi
    fi
    args+=("$arg")
    prev=$orig
done
"$RUNTIME" "${args[@]}"
rc=$?
log "exit $rc"
exit $rc
