#!/bin/busybox sh
# shellcheck shell=bash
# (busybox ash: POSIX sh plus pipefail; checked as bash, the closest dialect shellcheck knows)
# cgroup v2 checks run by the VM's /init: containers really land in /sys/fs/cgroup/nook/<id>
# with the configured limits, the limits bite, and delete removes the cgroup.
# Prints `PASS name` / `FAIL name` lines (with details on the lines before a FAIL) and
# `checks: done` when it got to the end.
set -euo pipefail

nook=${NOOK:-/usr/local/bin/nook}
cg=/sys/fs/cgroup
work=/tmp/vmchecks
root=$work/state
bundle=$work/bundle
rm -rf "$work"
mkdir -p "$root" "$bundle/rootfs"

pass() { echo "PASS cgroup::$1"; }
fail() {
    echo "  -> $2"
    echo "FAIL cgroup::$1"
}
# check NAME EXPECTED ACTUAL
check() {
    if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "expected '$2', got '$3'"; fi
}
# Every runtime call is bounded: a hang fails that check (exit 124) instead of the lane.
# Each call is traced on fd 3 (the script's stdout, never captured by $(...)).
exec 3>&1
rt() {
    echo "  \$ nook $*" >&3
    timeout 30 "$nook" --root "$root" "$@"
}
readf() { cat "$1" 2>/dev/null || echo "<missing $1>"; }

# A busybox rootfs (a private copy, not a link to the VM's binary).
r=$bundle/rootfs
mkdir -p "$r/bin" "$r/proc" "$r/sys" "$r/dev" "$r/tmp" "$r/etc" "$r/root"
cp /bin/busybox "$r/bin/busybox"
for a in $(/bin/busybox --list); do
    [ "$a" = busybox ] || ln -s busybox "$r/bin/$a"
done
echo 'root:x:0:0:root:/root:/bin/sh' >"$r/etc/passwd"

# config ARGS_JSON RESOURCES_JSON: a minimal config with the given process args and
# linux.resources.
config() {
    cat >"$bundle/config.json" <<EOF
{
  "ociVersion": "1.0.2",
  "process": {
    "terminal": false,
    "user": {"uid": 0, "gid": 0},
    "args": $1,
    "env": ["PATH=/bin"],
    "cwd": "/"
  },
  "root": {"path": "rootfs"},
  "hostname": "vmcheck",
  "mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=755"]}
  ],
  "linux": {
    "resources": $2,
    "namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "ipc"}, {"type": "uts"}, {"type": "network"}]
  }
}
EOF
}

# state_pid ID: the container's host pid from `nook state`.
state_pid() {
    rt state "$1" | sed -n 's/.*"pid": *\([0-9]*\).*/\1/p' | head -n 1
}

# wait_gone DIR: up to 5 s for a cgroup directory to disappear.
wait_gone() {
    i=0
    while [ -d "$1" ] && [ "$i" -lt 50 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    [ ! -d "$1" ]
}

# --- 1: limits land in /sys/fs/cgroup/nook/<id> of a running container -----------------
id=limits
dir=$cg/nook/$id
config '["sleep", "300"]' '{
    "memory": {"limit": 67108864},
    "pids": {"limit": 32},
    "cpu": {"quota": 50000, "period": 100000, "shares": 512}
  }'
if rt create --bundle "$bundle" "$id" </dev/null >"$work/create.out" 2>&1 &&
    rt start "$id" </dev/null >"$work/start.out" 2>&1; then
    pass limits-create-start
    pid=$(state_pid "$id")
    check limits-cgroup-dir yes "$([ -d "$dir" ] && echo yes || echo no)"
    check limits-memory.max 67108864 "$(readf "$dir/memory.max")"
    check limits-pids.max 32 "$(readf "$dir/pids.max")"
    check limits-cpu.max "50000 100000" "$(readf "$dir/cpu.max")"
    # runc's conversion of shares 512: 1 + ((512 - 2) * 9999) / 262142 = 20.
    check limits-cpu.weight 20 "$(readf "$dir/cpu.weight")"
    check limits-init-in-cgroup.procs yes \
        "$(grep -qx "${pid:-none}" "$dir/cgroup.procs" 2>/dev/null && echo yes || echo "no (pid '$pid', procs '$(readf "$dir/cgroup.procs" | tr '\n' ' ')')")"
    check limits-proc-pid-cgroup "0::/nook/$id" "$(readf "/proc/${pid:-none}/cgroup")"
    ctl=$(readf "$dir/cgroup.controllers")
    for c in memory pids cpu; do
        case " $ctl " in
            *" $c "*) pass "limits-controller-$c" ;;
            *) fail "limits-controller-$c" "cgroup.controllers is '$ctl'" ;;
        esac
    done
    # exec joins the same cgroup (skipped while nook has no exec verb).
    if ! "$nook" exec --help >/dev/null 2>&1; then
        echo "SKIP cgroup::limits-exec-joins-cgroup (nook has no exec)"
    elif out=$(rt exec "$id" cat /proc/self/cgroup </dev/null 2>&1); then
        check limits-exec-joins-cgroup "0::/nook/$id" "$out"
    else
        fail limits-exec-joins-cgroup "exec failed: $out"
    fi
    # pause/resume through cgroup.freeze.
    if out=$(rt pause "$id" 2>&1); then
        check limits-pause-freezes "frozen 1" "$(grep '^frozen' "$dir/cgroup.events" 2>/dev/null)"
        if out=$(rt resume "$id" 2>&1); then
            check limits-resume-thaws "frozen 0" "$(grep '^frozen' "$dir/cgroup.events" 2>/dev/null)"
        else
            fail limits-resume-thaws "resume failed: $out"
        fi
    else
        fail limits-pause-freezes "pause failed: $out"
    fi
    rt kill "$id" KILL >/dev/null 2>&1 || true
    if out=$(rt delete --force "$id" 2>&1); then pass limits-delete; else fail limits-delete "$out"; fi
    if wait_gone "$dir"; then pass limits-cgroup-removed; else fail limits-cgroup-removed "$dir still exists: procs '$(readf "$dir/cgroup.procs" | tr '\n' ' ')'"; fi
else
    fail limits-create-start "$(cat "$work/create.out" "$work/start.out" 2>/dev/null)"
    rt delete --force "$id" >/dev/null 2>&1 || true
fi

# --- 2: pids.max stops forks ---------------------------------------------------------------
id=pids
dir=$cg/nook/$id
config '["sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10 11 12; do sleep 300 & done; sleep 300"]' \
    '{"pids": {"limit": 6}}'
if rt run --detach --bundle "$bundle" "$id" </dev/null >"$work/run.out" 2>&1; then
    sleep 2
    # busybox sh gives up at the first failed fork, so only the refusal count is checked.
    events=$(sed -n 's/^max //p' "$dir/pids.events" 2>/dev/null)
    if [ "${events:-0}" -gt 0 ] 2>/dev/null; then pass pids-events-max; else fail pids-events-max "pids.events max is '${events:-}'"; fi
    rt delete --force "$id" >/dev/null 2>&1 || true
    if wait_gone "$dir"; then pass pids-cgroup-removed; else fail pids-cgroup-removed "$dir still exists"; fi
else
    fail pids-run-detach "$(cat "$work/run.out")"
    rt delete --force "$id" >/dev/null 2>&1 || true
fi

# --- 3: memory.max OOM-kills --------------------------------------------------------------
# dd's 64 MiB buffer cannot fit under a 16 MiB limit (the VM has no swap).
id=oom
dir=$cg/nook/$id
config '["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"]' \
    '{"memory": {"limit": 16777216}}'
code=0
rt run --bundle "$bundle" "$id" </dev/null >"$work/oom.out" 2>&1 || code=$?
check oom-run-exit-137 137 "$code"
rt delete --force "$id" >/dev/null 2>&1 || true
if wait_gone "$dir"; then pass oom-cgroup-removed; else fail oom-cgroup-removed "$dir still exists"; fi

# --- 4: cgroupsPath is honoured ------------------------------------------------------------
id=pathed
config '["true"]' '{"pids": {"limit": 10}}'
sed -i 's|"namespaces":|"cgroupsPath": "/vmcheck/custom", "namespaces":|' "$bundle/config.json"
# Output to a file: the created init would hold a $(...) pipe open until it exits.
if rt create --bundle "$bundle" "$id" </dev/null >"$work/pathed.out" 2>&1; then
    check pathed-pids.max 10 "$(readf "$cg/vmcheck/custom/pids.max")"
    rt delete --force "$id" >/dev/null 2>&1 || true
    if wait_gone "$cg/vmcheck/custom"; then pass pathed-cgroup-removed; else fail pathed-cgroup-removed "$cg/vmcheck/custom still exists"; fi
else
    fail pathed-create "$(cat "$work/pathed.out")"
    rt delete --force "$id" >/dev/null 2>&1 || true
fi

# --- 5: the device rules every real config carries ----------------------------------------
# `runc spec`, containerd and podman all send at least a deny-all rule; on v2 it has to become
# an eBPF device program.
id=devices
config '["true"]' '{"devices": [{"allow": false, "access": "rwm"}], "pids": {"limit": 10}}'
code=0
rt run --bundle "$bundle" "$id" </dev/null >"$work/devices.out" 2>&1 || code=$?
if [ "$code" = 0 ]; then pass devices-deny-all-runs; else fail devices-deny-all-runs "exit $code: $(cat "$work/devices.out")"; fi
rt delete --force "$id" >/dev/null 2>&1 || true
if wait_gone "$cg/nook/$id"; then pass devices-cgroup-removed; else fail devices-cgroup-removed "$cg/nook/$id still exists"; fi

rm -rf "$work"
echo "checks: done"
