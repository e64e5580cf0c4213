# shellcheck shell=bash
# Shared helpers for hack/clients/{podman,containerd,docker}.sh (sourced, not run).
#
# Provides: pass/fail accounting with a summary line, scenario runner with per-scenario logs,
# a wrapper around the OCI runtime that logs every command line the client runs,
# a busybox rootfs tarball (the image every client imports), install-if-missing.

CLIENTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$CLIENTS_DIR/../.." && pwd)

# RUNTIME=/usr/sbin/runc runs the same scenarios against runc (to check the tests themselves).
RUNTIME=${RUNTIME:-/usr/local/bin/nook}
RUNTIME_NAME=$(basename "$RUNTIME")
# KEEP=1 leaves the work directory (logs, argv log) in place for a post-mortem.
KEEP=${KEEP:-0}
# ONLY=regex runs only the scenarios whose name matches.
ONLY=${ONLY:-}

PASSED=0
FAILED=0
FAILED_NAMES=()
WORK=

need_root() {
    if [[ $(id -u) != 0 ]]; then
        echo "$0: run as root" >&2
        exit 1
    fi
}

# ensure_pkg CMD PKG: installs Debian package PKG unless CMD is on PATH (or an absolute path that exists).
# on_pty CMD...: runs CMD on a new pty nobody types on (hack/ptyrun.py, 60 s at most), prints its
# output with the pty's \r taken out, and returns its exit code.
on_pty() {
    python3 "$REPO_DIR/hack/ptyrun.py" --timeout 60 "$@" | tr -d '\r'
}

ensure_pkg() {
    local cmd=$1 pkg=$2
    if [[ $cmd == /* && -x $cmd ]] || { [[ $cmd != /* ]] && command -v "$cmd" >/dev/null 2>&1; }; then
        return 0
    fi
    echo "installing $pkg" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$pkg" >&2
}

# make_workdir NAME: a private temp dir for all client state, logs and the runtime wrapper.
make_workdir() {
    WORK=$(mktemp -d "/tmp/nook-clients-$1.XXXXXX")
    chmod 755 "$WORK"
    mkdir -p "$WORK/logs" "$WORK/bin"
    # Engines' helpers drop files in their working directory (conmon writes "oom" there after an OOM kill).
    cd "$WORK"
}

# make_wrapper: $WORK/bin/$RUNTIME_NAME logs its argv and exit status to $WORK/argv.log, copies the bundle's
# config.json to $WORK/configs/ID.json and runs $RUNTIME.
# It keeps the runtime's name so that name-based client logic (podman's runtime_supports_json) still applies.
# It does not exec, so the exit status gets logged; it does not touch stdio, so fds pass through unchanged.
make_wrapper() {
    if [[ ! -x $RUNTIME ]]; then
        echo "$0: RUNTIME=$RUNTIME: no such executable" >&2
        rm -rf "$WORK"
        exit 1
    fi
    WRAPPER=$WORK/bin/$RUNTIME_NAME
    ARGV_LOG=$WORK/argv.log
    mkdir -p "$WORK/configs"
    {
        echo '#!/bin/bash'
        printf 'RUNTIME=%q WORK=%q\n' "$RUNTIME" "$WORK"
        cat "$CLIENTS_DIR/wrapper.sh"
    } >"$WRAPPER"
    chmod 755 "$WRAPPER"
}

# finish_workdir RC: remove $WORK (or say where it was kept with KEEP=1) and exit RC.
finish_workdir() {
    if [[ $KEEP == 1 ]]; then
        echo "kept $WORK"
    else
        rm -rf "$WORK"
    fi
    exit "$1"
}

# make_rootfs_tar: sets ROOTFS_TAR=$WORK/rootfs.tar, a busybox rootfs built by hack/mkrootfs.sh.
make_rootfs_tar() {
    ensure_pkg /bin/busybox busybox-static
    "$REPO_DIR/hack/mkrootfs.sh" "$WORK/rootfs" >/dev/null
    tar -C "$WORK/rootfs" -cf "$WORK/rootfs.tar" .
    # shellcheck disable=SC2034 # used by the sourcing scripts
    ROOTFS_TAR=$WORK/rootfs.tar
}

pass() {
    echo "PASS $1"
    PASSED=$((PASSED + 1))
}

fail() {
    echo "FAIL $1"
    FAILED=$((FAILED + 1))
    FAILED_NAMES+=("$1")
}

# scenario NAME FUNC [LABEL]: runs FUNC in a subshell with errexit, its output in
# $WORK/logs/LABEL.log (LABEL defaults to NAME; $ONLY selects by NAME); PASS if it returns 0,
# else FAIL, the tail of its log and, with the runtime wrapper (make_wrapper), the runtime
# command lines it ran.
scenario() {
    local name=$1 fn=$2 label=${3:-$1} rc
    if [[ -n $ONLY && ! $name =~ $ONLY ]]; then
        return 0
    fi
    local log=$WORK/logs/${label// /-}.log
    local argv_start=""
    if [[ -n ${ARGV_LOG:-} ]]; then
        echo "=== $label" >>"$ARGV_LOG"
        argv_start=$(wc -l <"$ARGV_LOG")
    fi
    set +e
    (
        set -euo pipefail
        "$fn"
    ) >"$log" 2>&1 </dev/null
    rc=$?
    set -e
    if [[ $rc == 0 ]]; then
        pass "$label"
    else
        fail "$label"
        sed 's/^/    | /' "$log" | tail -n 25
        if [[ -n $argv_start ]]; then
            echo "    runtime command lines:"
            tail -n +"$((argv_start + 1))" "$ARGV_LOG" | sed 's/^/    > /' | tail -n 30
        fi
    fi
}

# expect_eq WHAT ACTUAL EXPECTED
expect_eq() {
    if [[ $2 != "$3" ]]; then
        echo "expected $1 to be '$3', got '$2'"
        return 1
    fi
}

# expect_match WHAT ACTUAL GLOB
expect_match() {
    # shellcheck disable=SC2053 # the third argument is a glob on purpose
    if [[ $2 != $3 ]]; then
        echo "expected $1 to match '$3', got '$2'"
        return 1
    fi
}

# status CMD...: prints CMD's exit status, never fails.
status() {
    local rc=0
    "$@" || rc=$?
    echo "$rc"
}

# median N...: the median of the given numbers.
median() {
    printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}

# summary NAME: the final line; exit status 1 if anything failed.
summary() {
    echo "clients-$1 ($RUNTIME): $PASSED passed, $FAILED failed"
    if ((FAILED > 0)); then
        echo "failed: ${FAILED_NAMES[*]}"
        return 1
    fi
}

# make_oci_archive NAME: sets OCI_TAR=$WORK/oci.tar, an OCI image layout (one uncompressed layer: the
# busybox rootfs) annotated with NAME (hack/oci-archive.sh).
make_oci_archive() {
    [[ -n ${ROOTFS_TAR:-} ]] || make_rootfs_tar
    "$REPO_DIR/hack/oci-archive.sh" "$1" "$ROOTFS_TAR" \
        '{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["sh"]}' "$WORK/oci.tar"
    # shellcheck disable=SC2034 # used by the sourcing scripts
    OCI_TAR=$WORK/oci.tar
}

# wait_for SECONDS CMD...: retries CMD every 0.2 s until it succeeds or SECONDS pass.
wait_for() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@" >/dev/null 2>&1; do
        if ((SECONDS >= deadline)); then
            echo "timed out waiting for: $*"
            return 1
        fi
        sleep 0.2
    done
}

# kill_workdir_processes: kills (by pid) the processes whose command line names $WORK (daemons, shims, conmons).
kill_workdir_processes() {
    local pid
    for pid in $(pgrep -f "$WORK"); do
        [[ $pid != "$$" ]] && kill -9 "$pid" 2>/dev/null
    done
    return 0
}

# umount_workdir: lazily unmounts everything mounted under $WORK, deepest first.
umount_workdir() {
    findmnt -rn -o TARGET | grep "^$WORK/" | sort -r | xargs -r -n1 umount -l 2>/dev/null
    return 0
}

# containerd 1.6 shims put their sockets in /run/containerd/s whatever the daemon's state dir:
# remove_run_containerd removes those dirs at the end if they did not exist at the start (and are empty).
RUN_CONTAINERD_EXISTED=0
[[ ! -d /run/containerd ]] || RUN_CONTAINERD_EXISTED=1
remove_run_containerd() {
    if [[ $RUN_CONTAINERD_EXISTED == 0 ]]; then
        rmdir /run/containerd/s /run/containerd/fifo /run/containerd 2>/dev/null
    fi
    return 0
}
