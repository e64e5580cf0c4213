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
}

# make_wrapper: $WORK/bin/$RUNTIME_NAME logs its argv and exit status to $WORK/argv.log and runs $RUNTIME.
# It keeps the runtime's name so that name-based client logic (podman's runtime_supports_json) still applies.
# It does not exec, so the exit status gets logged; it does not touch stdio, so fds pass through unchanged.
make_wrapper() {
    WRAPPER=$WORK/bin/$RUNTIME_NAME
    ARGV_LOG=$WORK/argv.log
    cat >"$WRAPPER" <<EOF
#!/bin/bash
echo "\$(date +%T.%N) [\$\$] $RUNTIME \$*" >>'$ARGV_LOG'
'$RUNTIME' "\$@"
rc=\$?
echo "\$(date +%T.%N) [\$\$] exit \$rc" >>'$ARGV_LOG'
exit \$rc
EOF
    chmod 755 "$WRAPPER"
}

# make_rootfs_tar: sets ROOTFS_TAR=$WORK/rootfs.tar,, a busybox rootfs built by hack/mkrootfs.sh.
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

# scenario NAME FUNC: runs FUNC in a subshell with errexit, its output in $WORK/logs/NAME.log;
# PASS if it returns 0, else FAIL and the tail of its log.
scenario() {
    local name=$1 fn=$2 rc
    if [[ -n $ONLY && ! $name =~ $ONLY ]]; then
        return 0
    fi
    local log=$WORK/logs/$name.log
    echo "=== $name" >>"$ARGV_LOG"
    local argv_start
    argv_start=$(wc -l <"$ARGV_LOG")
    set +e
    (
        set -euo pipefail
        "$fn"
    ) >"$log" 2>&1 </dev/null
    rc=$?
    set -e
    if [[ $rc == 0 ]]; then
        pass "$name"
    else
        fail "$name"
        sed 's/^/    | /' "$log" | tail -n 25
        echo "    runtime command lines:"
        tail -n +"$((argv_start + 1))" "$ARGV_LOG" | sed 's/^/    > /' | tail -n 30
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
