#!/bin/bash
# The systemd lane's payload, run by vm-lane.service once systemd (PID 1) has booted the VM:
# the lane's checks (checks.sh), then the OCI integration tests with NOOK_SYSTEMD_CGROUP=1 (every
# runtime command gets --systemd-cgroup), then a look for scopes the suite left. Prints one
# `PASS name` / `FAIL name` line per result and `systemd-lane: N passed, M failed` on the
# console (ttyS0, mixed with the journal's console output) and on ttyS1 (results only).
# Settings come from settings.env next to this script (written by hack/vm/systemd.sh).
set -uo pipefail
export PATH=/usr/local/bin:/usr/bin:/usr/sbin:/bin:/sbin
here=$(cd "$(dirname "$0")" && pwd)

filter=""
skip=""
threads=2
timeout=480
# shellcheck source=/dev/null
. "$here/settings.env"

results=/dev/ttyS1
[ -c "$results" ] || results=/dev/null
passed=0
failed=0
record() {
    echo "$1 $2" >"$results"
    if [ "$1" = PASS ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
}
result() {
    echo "$1 $2"
    record "$1" "$2"
}
say() { echo "systemd-lane: $*" | tee "$results"; }

# Boot time: PID 1's start (field 22 of its stat, in clock ticks since boot) is the end of the
# kernel's part; now is the end of systemd's part (this unit is ordered after basic.target).
read -r up _ </proc/uptime
ticks=$(getconf CLK_TCK)
pid1_start=$(awk -v t="$ticks" '{printf "%.1f", $22 / t}' /proc/1/stat)
say "boot: kernel to systemd ${pid1_start} s, payload started at ${up} s of uptime"
echo "systemd-lane: kernel $(uname -r), $(nproc) cpus, $(awk '/MemTotal/ {print $2 " kB"}' /proc/meminfo), $(systemctl --version | head -n 1)"
echo "systemd-lane: cgroup2 controllers: $(cat /sys/fs/cgroup/cgroup.controllers)"
echo "systemd-lane: system.slice subtree_control: $(cat /sys/fs/cgroup/system.slice/cgroup.subtree_control)"
systemctl list-units --failed --no-legend --plain | sed 's/^/systemd-lane: failed unit: /'

install -m 755 "$here/nook" /usr/local/bin/nook
for helper in nook-views nook-criu; do
    if [ -x "$here/$helper" ]; then
        install -m 755 "$here/$helper" "/usr/local/bin/$helper"
    fi
done
echo "systemd-lane: $(/usr/local/bin/nook --version | head -n 1)"

t0=$(date +%s)
echo "systemd-lane: === the lane's checks ==="
timeout 300 "$here/checks.sh" 2>&1 | tee /tmp/checks.out
while IFS= read -r line; do
    case "$line" in
        "PASS "* | "FAIL "*) record "${line%% *}" "${line#* }" ;;
    esac
done </tmp/checks.out
grep -q '^checks: done' /tmp/checks.out || result FAIL systemd::checks-script-finished
t1=$(date +%s)
say "checks took $((t1 - t0)) s"

if [ -x "$here/oci-integration" ]; then
    echo "systemd-lane: === OCI integration tests with --systemd-cgroup (filter '${filter}', skip '${skip}', ${threads} threads, ${timeout} s) ==="
    set -- --test-threads="$threads"
    [ -n "$filter" ] && set -- "$@" "$filter"
    for s in $(echo "$skip" | tr ',' ' '); do set -- "$@" --skip "$s"; done
    rc=0
    mkdir -p /tmp/it
    # This VM has systemd: a test that skips for want of it fails here (support::skip).
    (cd /tmp/it && NOOK_RUNTIME=/usr/local/bin/nook NOOK_SYSTEMD_CGROUP=1 RUST_BACKTRACE=0 \
        NOOK_REQUIRE=systemd NOOK_SKIP_LOG=/tmp/it.skips timeout "$timeout" \
        "$here/oci-integration" "$@" 2>&1) | tee /tmp/it.log || rc=$?
    if [ -s /tmp/it.skips ]; then
        say "$(wc -l </tmp/it.skips) integration tests skipped (checked less than they could):"
        sed 's/^/  /' /tmp/it.skips | tee "$results"
    else
        say "0 integration tests skipped"
    fi
    sed -nE 's/^test (.*) \.\.\. (ok|FAILED)$/\2 \1/p' /tmp/it.log >/tmp/it.results
    while read -r status name; do
        if [ "$status" = ok ]; then result PASS "it::$name"; else result FAIL "it::$name"; fi
    done </tmp/it.results
    if ! grep -q '^test result: ' /tmp/it.log; then
        result FAIL "it::harness-finished (exit $rc, timeout ${timeout} s?)"
    fi
    # Every test deletes what it made: no container scope may stay behind in systemd.
    left=$(systemctl list-units --all --no-legend --plain 'runc-*.scope' 'nook-*.scope' 2>&1)
    if [ -z "$left" ]; then
        result PASS it::no-scope-left
    else
        echo "$left" | sed 's/^/  left: /'
        result FAIL it::no-scope-left
    fi
    say "integration tests took $(($(date +%s) - t1)) s"
fi

# Rootless: nook run by an unprivileged user (the tests make one, with subordinate ids for
# newuidmap), here with a delegated cgroup2 subtree (rootless_delegated_cgroup_takes_a_memory_limit).
# Without --systemd-cgroup: a user's own systemd cgroups would need a user manager.
if [ -x "$here/oci-integration" ] && { [ -z "$filter" ] || [ "${filter#rootless}" != "$filter" ]; }; then
    t3=$(date +%s)
    echo "systemd-lane: === rootless integration tests (rootless::, cgroupfs driver) ==="
    rc=0
    mkdir -p /tmp/it
    # Left out: the console-socket test drives hack/recvtty.py, which the payload lacks.
    (cd /tmp/it && NOOK_RUNTIME=/usr/local/bin/nook RUST_BACKTRACE=0 \
        NOOK_SKIP_LOG=/tmp/rootless.skips timeout 300 \
        "$here/oci-integration" --test-threads=2 rootless:: \
        --skip rootless::root_in_a_user_namespace_gets_its_terminal_through_the_console_socket \
        2>&1) | tee /tmp/rootless.log || rc=$?
    if [ -s /tmp/rootless.skips ]; then
        say "$(wc -l </tmp/rootless.skips) rootless tests skipped (checked less than they could):"
        sed 's/^/  /' /tmp/rootless.skips | tee "$results"
    fi
    sed -nE 's/^test (.*) \.\.\. (ok|FAILED)$/\2 \1/p' /tmp/rootless.log >/tmp/rootless.results
    while read -r status name; do
        if [ "$status" = ok ]; then result PASS "it::$name"; else result FAIL "it::$name"; fi
    done </tmp/rootless.results
    if ! grep -q '^test result: ' /tmp/rootless.log; then
        result FAIL "it::rootless-harness-finished (exit $rc)"
    fi
    say "rootless tests took $(($(date +%s) - t3)) s"
fi

# podman with its systemd cgroup manager (the default where systemd is PID 1) driving nook:
# hack/clients/podman.sh's scenarios; conmon and each container get scopes of their own.
if [ "${podman:-0}" = 1 ]; then
    t2=$(date +%s)
    echo "systemd-lane: === podman scenarios on nook, cgroup_manager=systemd ==="
    (cd /tmp && RUNTIME=/usr/local/bin/nook PODMAN_CGROUP_MANAGER=systemd KEEP=1 \
        timeout "${podman_timeout:-600}" "$here/hack/clients/podman.sh" 2>&1) | tee /tmp/podman.log
    while IFS= read -r line; do
        case "$line" in
            "PASS "* | "FAIL "*) record "${line%% *}" "podman::${line#* }" ;;
        esac
    done </tmp/podman.log
    grep -q '^clients-podman ' /tmp/podman.log || result FAIL "podman::scenarios-finished"
    # podman really drove nook with the systemd driver: every create had --systemd-cgroup and
    # a machine.slice:libpod:<id> path (the runtime wrapper's argv log and config copies).
    work=$(sed -n 's/^kept //p' /tmp/podman.log | tail -n 1)
    creates=$(grep -c ' create ' "$work/argv.log" 2>/dev/null)
    plain=$(grep ' create ' "$work/argv.log" 2>/dev/null | grep -vc -- '--systemd-cgroup')
    if [ "${creates:-0}" -gt 0 ] && [ "${plain:-1}" = 0 ]; then
        result PASS "podman::every-create-had-systemd-cgroup ($creates)"
    else
        result FAIL "podman::every-create-had-systemd-cgroup ($creates creates, $plain without)"
    fi
    paths=$(cat "$work"/configs/*.json 2>/dev/null | jq -r .linux.cgroupsPath | sort -u)
    if [ -n "$paths" ] && ! echo "$paths" | grep -qv '^machine\.slice:libpod:'; then
        result PASS podman::cgroups-paths-are-machine-slice-libpod
    else
        echo "$paths" | sed 's/^/  cgroupsPath: /'
        result FAIL podman::cgroups-paths-are-machine-slice-libpod
    fi
    [ -n "$work" ] && rm -rf "$work"
    left=$(systemctl list-units --all --no-legend --plain 'libpod-*' 2>&1)
    if [ -z "$left" ]; then
        result PASS podman::no-scope-left
    else
        echo "$left" | sed 's/^/  left: /'
        result FAIL podman::no-scope-left
    fi
    say "podman scenarios took $(($(date +%s) - t2)) s"
fi

say "$passed passed, $failed failed"
sync
