#!/usr/bin/env bash
# Runs podman scenarios on nook (or RUNTIME=/usr/sbin/runc to check the scenarios themselves).
# Private podman config and storage under a temp dir: the host's podman state is untouched.
# Prints PASS/FAIL lines and "clients-podman: N passed, M failed"; exits 1 on any failure.
# Env: RUNTIME (default /usr/local/bin/nook), ONLY=regex (subset of scenarios), KEEP=1 (keep the temp dir),
# PODMAN_CGROUP_MANAGER (default cgroupfs; systemd in the systemd lane).
# The scenarios' shell snippets run in the container: no host-side expansion wanted.
# shellcheck disable=SC2016
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=podman-common.sh
source "$(dirname "$0")/podman-common.sh"
# Commands run as root here (podman-rootless.sh runs them as its user).
AS_USER=()

need_root
ensure_pkg podman podman
ensure_pkg conmon conmon
ensure_pkg python3 python3

make_workdir podman
make_wrapper
IMG=localhost/nookbox:latest
CIDS=$WORK/cids
: >"$CIDS"

# Private containers.conf: the shipped snippet, with the runtime entry pointing at the argv-logging wrapper.
{
    sed -e '/^\[engine.runtimes\]/,$d' "$CLIENTS_DIR/containers.conf"
    echo "[engine.runtimes]"
    echo "$RUNTIME_NAME = [\"$WRAPPER\"]"
} >"$WORK/containers.conf"
sed -i -e "s|^events_logger = .*|&\nevents_logfile_path = \"$WORK/events.log\"|" "$WORK/containers.conf"
cat >"$WORK/storage.conf" <<EOF
[storage]
driver = "vfs"
graphroot = "$WORK/root"
runroot = "$WORK/runroot"
EOF
export CONTAINERS_CONF=$WORK/containers.conf
export CONTAINERS_STORAGE_CONF=$WORK/storage.conf

# cgroupfs where systemd is not PID 1 (this host); the systemd lane (hack/vm/systemd.sh) sets
# PODMAN_CGROUP_MANAGER=systemd: nook then gets --systemd-cgroup and a slice:prefix:name path.
CGROUP_MANAGER=${PODMAN_CGROUP_MANAGER:-cgroupfs}
PODMAN=(podman --root "$WORK/root" --runroot "$WORK/runroot" --tmpdir "$WORK/tmp"
    --storage-driver vfs --cgroup-manager "$CGROUP_MANAGER" --events-backend file --runtime "$RUNTIME_NAME")
# Until nook implements linux.seccomp (podman sends its default profile otherwise).
SEC=(--security-opt seccomp=unconfined)

pm() { timeout 90 "${PODMAN[@]}" "$@"; }

cleanup() {
    local rc=$?
    set +e
    pm rm -a -f -t 0 >/dev/null 2>&1
    pm rmi -a -f >/dev/null 2>&1
    # conmon processes left behind by a failing runtime (their command lines name our temp dir).
    kill_workdir_processes
    umount_workdir
    # Container cgroups (cgroupfs manager: <controller>/libpod_parent/libpod-<id>).
    local cid dir
    while read -r cid; do
        for dir in /sys/fs/cgroup/*/libpod_parent/libpod-"$cid"* /sys/fs/cgroup/*/libpod_parent/libpod-conmon-"$cid"*; do
            [[ -d $dir ]] && rmdir "$dir" 2>/dev/null
        done
    done <"$CIDS"
    rmdir /sys/fs/cgroup/*/libpod_parent/conmon /sys/fs/cgroup/*/libpod_parent 2>/dev/null
    finish_workdir "$rc"
}
trap cleanup EXIT

# run_d ARGS...: podman run -d, records the id for cleanup, prints it.
run_d() {
    local cid
    cid=$(pm run -d "${SEC[@]}" "$@")
    echo "$cid" >>"$CIDS"
    echo "$cid"
}

# Scenarios ------------------------------------------------------------------------------------------

# podman's default: a linux.seccomp profile in config.json (nook refuses it until seccomp lands).
t_default_seccomp() {
    local out
    out=$(pm run --rm "$IMG" echo hi)
    expect_eq output "$out" hi
}

t_detached() {
    local cid st
    cid=$(run_d "$IMG" sh -c 'echo started; exec sleep 1000')
    st=$(pm ps --filter "id=$cid" --format '{{.State}}')
    expect_match "ps state" "$st" "Up*"
    sleep 0.5
    expect_eq logs "$(pm logs "$cid")" started
    pm stop -t 1 "$cid"
    expect_eq "status after stop" "$(pm inspect -f '{{.State.Status}}' "$cid")" exited
    pm rm "$cid"
    expect_eq "ps -a after rm" "$(pm ps -a -q --filter "id=$cid")" ""
}

t_exec() {
    local cid
    cid=$(run_d --hostname exectest "$IMG" sleep 1000)
    expect_eq "exec output" "$(pm exec "$cid" cat /etc/hostname)" exectest
    expect_eq "exec exit code" "$(status pm exec "$cid" sh -c 'exit 5')" 5
    expect_eq "exec -u" "$(pm exec -u 1000 "$cid" id -u)" 1000
    expect_eq "exec -e" "$(pm exec -e FOO=bar "$cid" sh -c 'echo $FOO')" bar
    expect_eq "exec missing command" "$(status pm exec "$cid" /no/such/cmd)" 127
    pm rm -f -t 0 "$cid"
}

t_pause() {
    local cid
    cid=$(run_d "$IMG" sleep 1000)
    pm pause "$cid"
    expect_eq "status after pause" "$(pm inspect -f '{{.State.Status}}' "$cid")" paused
    pm unpause "$cid"
    expect_eq "status after unpause" "$(pm inspect -f '{{.State.Status}}' "$cid")" running
    expect_eq "exec after unpause" "$(pm exec "$cid" echo alive)" alive
    pm rm -f -t 0 "$cid"
}

t_stats() {
    local cid out
    cid=$(run_d --memory 64m "$IMG" sleep 1000)
    out=$(pm stats --no-stream --format '{{.ID}} {{.MemUsage}} {{.PIDs}}' "$cid")
    echo "$out"
    expect_match "stats output" "$out" "${cid:0:12}* / 67.11MB 1"
    pm rm -f -t 0 "$cid"
}

t_memory() {
    local rc
    # A shell variable of 100 MB: more than the 32 MB limit.
    rc=$(status pm run --rm "${SEC[@]}" --memory 32m "$IMG" sh -c 'x=$(head -c 100000000 /dev/zero | tr "\0" a); echo ${#x}')
    expect_eq "exit code" "$rc" 137
}

t_pids() {
    local out rc=0
    # 30 background sleeps against a limit of 10 pids: some forks must fail.
    out=$(pm run --rm "${SEC[@]}" --pids-limit 10 "$IMG" sh -c 'i=0; while [ $i -lt 30 ]; do sleep 5 & i=$((i+1)); done; echo spawned' 2>&1) || rc=$?
    echo "$out (exit $rc)"
    expect_match "fork failure" "$out" "*fork*"
    [[ $out != *spawned* ]] || { echo "all 30 forks succeeded"; return 1; }
}

t_hostname() {
    expect_eq hostname "$(pm run --rm "${SEC[@]}" --hostname foo "$IMG" hostname)" foo
}

t_volume() {
    mkdir -p "$WORK/vol"
    echo from-host >"$WORK/vol/in"
    local out
    out=$(pm run --rm "${SEC[@]}" -v "$WORK/vol:/data" "$IMG" sh -c 'cat /data/in; echo from-container >/data/out')
    expect_eq "read in container" "$out" from-host
    expect_eq "written by container" "$(cat "$WORK/vol/out")" from-container
}

t_privileged() {
    local out
    out=$(pm run --rm "${SEC[@]}" --privileged "$IMG" sh -c 'awk "/^CapEff/ {print \$2}" /proc/self/status; ls /dev/kmsg')
    expect_eq "CapEff, /dev/kmsg" "$out" "$(awk '/^CapBnd/ {print $2}' /proc/self/status)
/dev/kmsg"
}

t_host_namespaces() {
    local out
    out=$(pm run --rm "${SEC[@]}" --pid host --ipc host --uts host "$IMG" sh -c 'hostname; readlink /proc/self/ns/pid')
    expect_eq "hostname, pid ns" "$out" "$(hostname)
$(readlink /proc/self/ns/pid)"
}

t_env_workdir() {
    expect_eq "env, cwd" "$(pm run --rm "${SEC[@]}" -e FOO=bar -w /tmp "$IMG" sh -c 'echo $FOO; pwd')" "bar
/tmp"
}

# podman's checkpoint and restore: the runtime's `checkpoint` (CRIU dumps the container, which
# ends exited) and `restore` (under the same container, through conmon); the counter lives in the
# shell's memory, so it goes on from where it stood only if the memory came back. podman finds
# `criu` on PATH (so does the runtime): $NOOK_CRIU (hack/criu.sh) is put there for it.
t_checkpoint() {
    local cid before after
    mkdir -p "$WORK/criu-bin"
    ln -sf "$NOOK_CRIU" "$WORK/criu-bin/criu"
    export PATH=$WORK/criu-bin:$PATH
    cid=$(run_d "$IMG" sh -c 'i=0; while :; do i=$((i+1)); echo $i > /tmp/count; sleep 0.1; done')
    sleep 1.5
    before=$(pm exec "$cid" cat /tmp/count)
    pm container checkpoint "$cid"
    expect_eq "status after checkpoint" "$(pm inspect -f '{{.State.Status}}' "$cid")" exited
    pm container restore "$cid"
    expect_eq "status after restore" "$(pm inspect -f '{{.State.Status}}' "$cid")" running
    after=$(pm exec "$cid" cat /tmp/count)
    echo "counter: $before before the checkpoint, $after after the restore"
    if ((after < before)); then
        echo "the counter started again: the restored container is not the checkpointed one"
        return 1
    fi
    pm rm -f -t 0 "$cid"
}

# Main -----------------------------------------------------------------------------------------------

make_rootfs_tar
pm import -q "$ROOTFS_TAR" "$IMG" >/dev/null

scenario echo t_echo
scenario default-seccomp t_default_seccomp
scenario detached-ps-logs-stop-rm t_detached
scenario exec t_exec
scenario tty t_tty
scenario exec-tty t_exec_tty
scenario pause-unpause t_pause
scenario top t_top
scenario stats t_stats
scenario memory-oom t_memory
scenario pids-limit t_pids
scenario read-only t_read_only
scenario tmpfs-copyup t_tmpfs
scenario cap-drop-all t_cap_drop
scenario user t_user
scenario hostname t_hostname
scenario volume t_volume
scenario privileged t_privileged
scenario host-namespaces t_host_namespaces
scenario env-workdir t_env_workdir
scenario exit-code t_exit_code
if [[ -n ${NOOK_CRIU:-} ]]; then
    scenario checkpoint-restore t_checkpoint
elif [[ -z $ONLY || checkpoint-restore =~ $ONLY ]]; then
    echo "SKIP checkpoint-restore: NOOK_CRIU is not set (hack/criu.sh finds or builds CRIU)"
fi
scenario run-rm-echo-time t_time
if [[ -s $WORK/time ]]; then
    echo "TIME podman run --rm $IMG echo hi ($RUNTIME_NAME): median $(cat "$WORK/time") ms of 11"
fi

summary podman
