#!/usr/bin/env bash
# Runs containerd (ctr + io.containerd.runc.v2 shim) scenarios on nook (or RUNTIME=/usr/sbin/runc).
# Starts a private containerd (root, state, socket, runtime root under a temp dir) and stops it at the end.
# Prints PASS/FAIL lines and "clients-containerd: N passed, M failed"; exits 1 on any failure.
# Env: RUNTIME (default /usr/local/bin/nook), ONLY=regex (subset of scenarios), KEEP=1 (keep the temp dir).
# The scenarios' shell snippets run in the container: no host-side expansion wanted.
# shellcheck disable=SC2016
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

need_root
ensure_pkg containerd containerd
ensure_pkg python3 python3

make_workdir containerd
make_wrapper
IMG=docker.io/library/nookbox:latest
NS=nookclients
SOCK=$WORK/containerd.sock
CONTAINERD_PID=

cat >"$WORK/config.toml" <<EOF
version = 2
root = "$WORK/root"
state = "$WORK/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]
[grpc]
  address = "$SOCK"
[plugins."io.containerd.internal.v1.opt"]
  path = "$WORK/opt"
EOF

ctrc() { timeout 90 ctr -a "$SOCK" -n "$NS" "$@"; }
# What ctr sends by default: no seccomp profile, so nothing to disable here.
RUNOPTS=(--snapshotter native --runc-binary "$WRAPPER" --runc-root "$WORK/runc-root" --fifo-dir "$WORK/fifo")

cleanup() {
    local rc=$?
    set +e
    if [[ -n $CONTAINERD_PID ]]; then
        local id
        for id in $(ctrc task ls -q 2>/dev/null); do
            ctrc task kill -s SIGKILL "$id" >/dev/null 2>&1
            ctrc task rm -f "$id" >/dev/null 2>&1
        done
        for id in $(ctrc containers ls -q 2>/dev/null); do
            ctrc containers rm "$id" >/dev/null 2>&1
        done
        ctrc images rm "$IMG" >/dev/null 2>&1
        kill "$CONTAINERD_PID" 2>/dev/null
        wait "$CONTAINERD_PID" 2>/dev/null
    fi
    kill_workdir_processes
    umount_workdir
    # ctr's cgroups: <controller>/<namespace>/<id>.
    local dir
    for dir in /sys/fs/cgroup/*/"$NS"/* /sys/fs/cgroup/unified/"$NS"/*; do
        [[ -d $dir ]] && rmdir "$dir" 2>/dev/null
    done
    rmdir /sys/fs/cgroup/*/"$NS" 2>/dev/null
    remove_run_containerd
    finish_workdir "$rc"
}
trap cleanup EXIT

# task_status ID: RUNNING, PAUSED, STOPPED, ...
task_status() {
    ctrc task ls | awk -v id="$1" '$1 == id {print $3}'
}

# The shim's log of the runtime's --log json (the runtime's errors) for a container.
show_shim_log() {
    local f=$WORK/state/io.containerd.runtime.v2.task/$NS/$1/log.json
    if [[ -s $f ]]; then
        echo "--- $f"
        tail -n 5 "$f"
    fi
}

# Scenarios ------------------------------------------------------------------------------------------

t_echo() {
    local out
    out=$(ctrc run --rm "${RUNOPTS[@]}" "$IMG" c-echo echo hi) || { show_shim_log c-echo; return 1; }
    expect_eq output "$out" hi
}

# ctr --seccomp: containerd's default profile (what the CRI plugin and nerdctl send by default).
t_seccomp() {
    local out
    out=$(ctrc run --rm --seccomp "${RUNOPTS[@]}" "$IMG" c-seccomp echo hi) || { show_shim_log c-seccomp; return 1; }
    expect_eq output "$out" hi
}

t_detached() {
    ctrc run -d "${RUNOPTS[@]}" "$IMG" c-det sleep 1000 || { show_shim_log c-det; return 1; }
    expect_eq "task status" "$(task_status c-det)" RUNNING
}

t_exec() {
    local out rc=0
    out=$(ctrc task exec --fifo-dir "$WORK/fifo" --exec-id x1 c-det sh -c 'echo in-exec; exit 6') || rc=$?
    expect_eq "exec output" "$out" in-exec
    expect_eq "exec exit code" "$rc" 6
    out=$(ctrc task exec --fifo-dir "$WORK/fifo" --exec-id x2 --user 1000 c-det id -u) || { show_shim_log c-det; return 1; }
    expect_eq "exec --user" "$out" 1000
}

t_exec_tty() {
    local out
    out=$(on_pty ctr -a "$SOCK" -n "$NS" task exec -t --fifo-dir "$WORK/fifo" --exec-id x3 c-det sh -c 'tty; echo ok')
    echo "$out"
    expect_match "exec tty output" "$out" "*/dev/pts/*ok*"
}

t_ps() {
    local out pid
    out=$(ctrc task ps c-det)
    echo "$out"
    pid=$(ctrc task ls | awk '$1 == "c-det" {print $2}')
    expect_match "ps output" "$out" "*$pid*"
}

t_pause() {
    ctrc task pause c-det
    expect_eq "status after pause" "$(task_status c-det)" PAUSED
    ctrc task resume c-det
    expect_eq "status after resume" "$(task_status c-det)" RUNNING
    expect_eq "exec after resume" "$(ctrc task exec --fifo-dir "$WORK/fifo" --exec-id x4 c-det echo alive)" alive
}

t_metrics() {
    local out
    out=$(ctrc task metrics c-det 2>&1) || { echo "$out"; show_shim_log c-det; return 1; }
    echo "$out"
    expect_match "metrics output" "$out" "*memory.usage_in_bytes*"
}

t_kill() {
    ctrc task kill -s SIGKILL c-det
    wait_for 10 sh -c "ctr -a '$SOCK' -n '$NS' task ls | grep -q '^c-det .*STOPPED'"
    ctrc task rm c-det
    ctrc containers rm c-det
    expect_eq "containers after rm" "$(ctrc containers ls -q)" ""
}

t_tty() {
    local out rc=0
    out=$(on_pty ctr -a "$SOCK" -n "$NS" run --rm -t "${RUNOPTS[@]}" "$IMG" c-tty sh -c 'tty; echo ok; exit 4') || rc=$?
    echo "$out"
    expect_match "tty output" "$out" "*/dev/pts/0*ok*"
    expect_eq "exit code" "$rc" 4
}

t_exit_code() {
    expect_eq "sh -c 'exit 3'" "$(status ctrc run --rm "${RUNOPTS[@]}" "$IMG" c-exit sh -c 'exit 3')" 3
}

t_memory() {
    local rc
    rc=$(status ctrc run --rm --memory-limit 33554432 "${RUNOPTS[@]}" "$IMG" c-mem \
        sh -c 'x=$(head -c 100000000 /dev/zero | tr "\0" a); echo ${#x}')
    expect_eq "exit code" "$rc" 137
}

# Main -----------------------------------------------------------------------------------------------

containerd --config "$WORK/config.toml" --log-level debug >"$WORK/containerd.log" 2>&1 &
CONTAINERD_PID=$!
wait_for 30 ctr -a "$SOCK" version
make_oci_archive "$IMG"
ctrc images import --snapshotter native "$OCI_TAR" >/dev/null
ctrc images check | grep -q "$IMG"

scenario echo t_echo
scenario default-seccomp t_seccomp
scenario run-detached t_detached
scenario exec t_exec
scenario exec-tty t_exec_tty
scenario task-ps t_ps
scenario pause-resume t_pause
scenario metrics t_metrics
scenario kill-rm t_kill
scenario tty t_tty
scenario exit-code t_exit_code
scenario memory-oom t_memory

summary containerd
