#!/usr/bin/env bash
# Runs docker scenarios on nook (or RUNTIME=/usr/sbin/runc): dockerd --add-runtime nook=..., docker run --runtime nook.
# Starts a private dockerd (and the containerd it supervises) with data, exec root, socket and pidfile under a
# temp dir, no networking (no bridge, no iptables), the vfs storage driver; stops it at the end.
# Prints PASS/FAIL lines and "clients-docker: N passed, M failed"; exits 1 on any failure.
# Env: RUNTIME (default /usr/local/bin/nook), ONLY=regex (subset of scenarios), KEEP=1 (keep the temp dir),
# DOCKER_RUN_OPTS (extra docker run options).
# The scenarios' shell snippets run in the container: no host-side expansion wanted.
# shellcheck disable=SC2016
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

need_root
ensure_pkg /usr/sbin/dockerd docker.io
ensure_pkg containerd containerd
ensure_pkg python3 python3

make_workdir docker
make_wrapper
IMG=nookbox:latest
SOCK=$WORK/docker.sock
DOCKERD_PID=
CIDS=$WORK/cids
: >"$CIDS"
# Debian's client, same API version as its dockerd (another docker CLI may come first on PATH).
DOCKER_BIN=/usr/bin/docker
export DOCKER_CONFIG=$WORK/client-config
mkdir -p "$DOCKER_CONFIG"
echo '{}' >"$WORK/daemon.json"

dk() { timeout 90 "$DOCKER_BIN" -H "unix://$SOCK" "$@"; }
# Until nook implements linux.seccomp (docker sends its default profile otherwise).
SEC=(--security-opt seccomp=unconfined)
# "runc" is reserved by dockerd: the runc check registers its wrapper under another name.
DOCKER_RUNTIME=$RUNTIME_NAME
[[ $DOCKER_RUNTIME != runc ]] || DOCKER_RUNTIME=runc-wrapped
# DOCKER_RUN_OPTS: extra options for every docker run (word-split), e.g. "--blkio-weight 500".
read -r -a EXTRA <<<"${DOCKER_RUN_OPTS:-}"
RUNOPTS=(--runtime "$DOCKER_RUNTIME" --network none ${EXTRA[@]+"${EXTRA[@]}"})

cleanup() {
    local rc=$?
    set +e
    if [[ -n $DOCKERD_PID ]]; then
        local ids
        ids=$(dk ps -aq 2>/dev/null)
        [[ -n $ids ]] && dk rm -f "$ids" >/dev/null 2>&1
        dk rmi -f "$IMG" >/dev/null 2>&1
        kill "$DOCKERD_PID" 2>/dev/null
        local _
        for _ in $(seq 50); do
            kill -0 "$DOCKERD_PID" 2>/dev/null || break
            sleep 0.2
        done
        kill -9 "$DOCKERD_PID" 2>/dev/null
        wait "$DOCKERD_PID" 2>/dev/null
    fi
    kill_workdir_processes
    umount_workdir
    # Container cgroups: <controller>/docker/<id>.
    local cid dir
    while read -r cid; do
        for dir in /sys/fs/cgroup/*/docker/"$cid"*; do
            [[ -d $dir ]] && rmdir "$dir" 2>/dev/null
        done
    done <"$CIDS"
    rmdir /sys/fs/cgroup/*/docker 2>/dev/null
    remove_run_containerd
    finish_workdir "$rc"
}
trap cleanup EXIT

# run_d ARGS...: docker run -d, records the id for cleanup, prints it.
run_d() {
    local cid
    cid=$(dk run -d "${RUNOPTS[@]}" "${SEC[@]}" "$@")
    echo "$cid" >>"$CIDS"
    echo "$cid"
}

# docker run --rm, recording nothing (the container is gone when it returns).
run_rm() {
    dk run --rm "${RUNOPTS[@]}" "$@"
}

# Scenarios ------------------------------------------------------------------------------------------

t_echo() {
    expect_eq output "$(run_rm "${SEC[@]}" "$IMG" echo hi)" hi
}

# docker's default: its seccomp profile in config.json (nook refuses it until seccomp lands).
t_default_seccomp() {
    expect_eq output "$(run_rm "$IMG" echo hi)" hi
}

t_detached() {
    local cid
    cid=$(run_d "$IMG" sh -c 'echo started; exec sleep 1000')
    expect_eq "status" "$(dk inspect -f '{{.State.Status}}' "$cid")" running
    sleep 0.5
    expect_eq logs "$(dk logs "$cid")" started
    expect_eq "exec output" "$(dk exec "$cid" cat /etc/hostname)" "${cid:0:12}"
    expect_eq "exec exit code" "$(status dk exec "$cid" sh -c 'exit 5')" 5
    expect_eq "exec -u" "$(dk exec -u 1000 "$cid" id -u)" 1000
    dk stop -t 1 "$cid" >/dev/null
    expect_eq "status after stop" "$(dk inspect -f '{{.State.Status}}' "$cid")" exited
    dk rm "$cid" >/dev/null
    expect_eq "ps -a after rm" "$(dk ps -aq --filter "id=$cid")" ""
}

t_pause() {
    local cid
    cid=$(run_d "$IMG" sleep 1000)
    dk pause "$cid" >/dev/null
    expect_eq "status after pause" "$(dk inspect -f '{{.State.Status}}' "$cid")" paused
    dk unpause "$cid" >/dev/null
    expect_eq "status after unpause" "$(dk inspect -f '{{.State.Status}}' "$cid")" running
    expect_match "top" "$(dk top "$cid")" "*sleep 1000*"
    dk rm -f "$cid" >/dev/null
}

t_tty() {
    local out rc=0
    out=$(on_pty "$DOCKER_BIN" -H "unix://$SOCK" run -it --rm "${RUNOPTS[@]}" "${SEC[@]}" "$IMG" sh -c 'tty; echo ok; exit 4') || rc=$?
    echo "$out"
    expect_match "tty output" "$out" "*/dev/pts/0*ok*"
    expect_eq "exit code" "$rc" 4
}

t_exec_tty() {
    local cid out
    cid=$(run_d "$IMG" sleep 1000)
    out=$(on_pty "$DOCKER_BIN" -H "unix://$SOCK" exec -it "$cid" sh -c 'tty; echo ok')
    echo "$out"
    expect_match "exec tty output" "$out" "*/dev/pts/*ok*"
    dk rm -f "$cid" >/dev/null
}

t_memory() {
    local rc
    rc=$(status run_rm "${SEC[@]}" --memory 32m "$IMG" sh -c 'x=$(head -c 100000000 /dev/zero | tr "\0" a); echo ${#x}')
    expect_eq "exit code" "$rc" 137
}

t_read_only() {
    expect_eq "touch / exit code" "$(status run_rm "${SEC[@]}" --read-only "$IMG" touch /newfile)" 1
    run_rm "${SEC[@]}" --read-only --tmpfs /tmp "$IMG" touch /tmp/newfile
}

t_user_caps() {
    expect_eq id "$(run_rm "${SEC[@]}" --user 1000:1000 "$IMG" id)" "uid=1000(tester) gid=1000(tester) groups=1000(tester)"
    expect_eq CapEff "$(run_rm "${SEC[@]}" --cap-drop ALL "$IMG" awk '/^CapEff/ {print $2}' /proc/self/status)" 0000000000000000
}

t_exit_code() {
    expect_eq "sh -c 'exit 3'" "$(status run_rm "${SEC[@]}" "$IMG" sh -c 'exit 3')" 3
    expect_eq "missing command" "$(status run_rm "${SEC[@]}" "$IMG" /no/such/cmd)" 127
}

# Main -----------------------------------------------------------------------------------------------

/usr/sbin/dockerd --config-file "$WORK/daemon.json" -H "unix://$SOCK" --pidfile "$WORK/docker.pid" \
    --data-root "$WORK/data" --exec-root "$WORK/exec" --storage-driver vfs \
    --iptables=false --ip-masq=false --bridge=none --userland-proxy=false \
    --exec-opt native.cgroupdriver=cgroupfs --log-level debug \
    --add-runtime "$DOCKER_RUNTIME=$WRAPPER" >"$WORK/dockerd.log" 2>&1 &
DOCKERD_PID=$!
wait_for 60 "$DOCKER_BIN" -H "unix://$SOCK" version
make_rootfs_tar
dk import "$ROOTFS_TAR" "$IMG" >/dev/null

scenario echo t_echo
scenario default-seccomp t_default_seccomp
scenario detached-logs-exec-stop-rm t_detached
scenario pause-unpause-top t_pause
scenario tty t_tty
scenario exec-tty t_exec_tty
scenario memory-oom t_memory
scenario read-only t_read_only
scenario user-cap-drop t_user_caps
scenario exit-code t_exit_code

summary docker
