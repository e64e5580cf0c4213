#!/bin/bash
# The systemd lane's own checks (run in the VM by run.sh, systemd as PID 1, pure cgroup2):
# containers created with --systemd-cgroup are transient scopes systemd knows, their limits are
# in the scope's cgroup files and in `systemctl show`, update/pause/resume/ps/kill --all work on
# them, nested slices land where systemd puts them, bad input fails cleanly, and after `delete`
# systemd has forgotten the scope. Prints `PASS name` / `FAIL name` lines (details on the lines
# before a FAIL) and `checks: done` when it got to the end.
set -uo pipefail

nook=${NOOK:-/usr/local/bin/nook}
cg=/sys/fs/cgroup
work=/tmp/sdchecks
root=$work/state
bundle=$work/bundle
rm -rf "$work"
mkdir -p "$root" "$bundle/rootfs"

pass() { echo "PASS systemd::$1"; }
fail() {
    echo "  -> $2"
    echo "FAIL systemd::$1"
}
# check NAME EXPECTED ACTUAL
check() {
    if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "expected '$2', got '$3'"; fi
}
# Every runtime call is bounded and traced on fd 3 (never captured by $(...)).
exec 3>&1
rt() {
    echo "  \$ nook --systemd-cgroup $*" >&3
    timeout 60 "$nook" --systemd-cgroup --root "$root" "$@"
}
readf() { cat "$1" 2>/dev/null || echo "<missing $1>"; }
# show UNIT PROP: one property's value as systemctl shows it.
show() { systemctl show "$1" -p "$2" --value 2>&1; }
# units PATTERN: the units systemd knows (loaded, active or not) whose line matches.
units() { systemctl list-units --all --no-legend --plain 2>&1 | grep -E "$1" || true; }

r=$bundle/rootfs
mkdir -p "$r/bin" "$r/proc" "$r/sys" "$r/dev" "$r/tmp" "$r/etc" "$r/root"
cp /bin/busybox "$r/bin/busybox"
for a in $(/bin/busybox --list); do
    [ "$a" = busybox ] || ln -s busybox "$r/bin/$a"
done
echo 'root:x:0:0:root:/root:/bin/sh' >"$r/etc/passwd"

# config ARGS_JSON RESOURCES_JSON CGROUPS_PATH
config() {
    cat >"$bundle/config.json" <<JSON
{
  "ociVersion": "1.0.2",
  "process": {"terminal": false, "user": {"uid": 0, "gid": 0}, "args": $1,
              "env": ["PATH=/bin"], "cwd": "/"},
  "root": {"path": "rootfs"},
  "hostname": "sdcheck",
  "mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=755"]}
  ],
  "linux": {
    "cgroupsPath": "$3",
    "resources": $2,
    "namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "ipc"}, {"type": "uts"}, {"type": "network"}]
  }
}
JSON
}
state_pid() { rt state "$1" 2>/dev/null | jq -r .pid; }
# wait_gone UNIT: up to 5 s for systemd to forget a unit.
wait_gone() {
    local i=0
    while [ -n "$(units "^$1 ")" ] && [ "$i" -lt 50 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    [ -z "$(units "^$1 ")" ]
}

echo "checks: systemd $(systemctl --version | head -n 1), $(systemctl is-system-running 2>&1) system"
check pid1-is-systemd systemd "$(cat /proc/1/comm)"
check pure-cgroup2 cgroup2fs "$(stat -f -c %T /sys/fs/cgroup)"

# --- 1: limits as unit properties and in the scope's files -----------------------------------
id=nook-limits
unit=nook-$id.scope
dir=$cg/system.slice/$unit
config '["sleep", "1000"]' '{
    "memory": {"limit": 67108864},
    "pids": {"limit": 42},
    "cpu": {"quota": 50000, "period": 100000, "shares": 512},
    "devices": [{"allow": false, "access": "rwm"}]
  }' "system.slice:nook:$id"
if rt create --bundle "$bundle" "$id" </dev/null >"$work/create.out" 2>&1 &&
    rt start "$id" </dev/null >"$work/start.out" 2>&1; then
    pass limits-create-start
    pid=$(state_pid "$id")
    check limits-proc-pid-cgroup "0::/system.slice/$unit" "$(readf "/proc/$pid/cgroup")"
    check limits-unit-active active "$(show "$unit" ActiveState)"
    check limits-unit-delegate yes "$(show "$unit" Delegate)"
    check limits-unit-control-group "/system.slice/$unit" "$(show "$unit" ControlGroup)"
    check limits-memory.max 67108864 "$(readf "$dir/memory.max")"
    check limits-pids.max 42 "$(readf "$dir/pids.max")"
    check limits-cpu.max "50000 100000" "$(readf "$dir/cpu.max")"
    check limits-cpu.weight 20 "$(readf "$dir/cpu.weight")"
    echo "  systemctl show $unit:"
    systemctl show "$unit" -p MemoryMax -p CPUQuotaPerSecUSec -p CPUQuotaPeriodUSec -p TasksMax \
        -p CPUWeight -p DevicePolicy | sed 's/^/    /'
    check limits-show-MemoryMax 67108864 "$(show "$unit" MemoryMax)"
    check limits-show-CPUQuotaPerSecUSec 500ms "$(show "$unit" CPUQuotaPerSecUSec)"
    check limits-show-TasksMax 42 "$(show "$unit" TasksMax)"
    check limits-show-CPUWeight 20 "$(show "$unit" CPUWeight)"
    check limits-show-DevicePolicy strict "$(show "$unit" DevicePolicy)"
    check limits-init-in-cgroup.procs yes "$(grep -qx "$pid" "$dir/cgroup.procs" && echo yes || echo no)"
    if out=$(rt exec "$id" cat /proc/self/cgroup </dev/null 2>&1); then
        # The container has its own cgroup namespace only if the config asks; here it sees the host path.
        check limits-exec-joins-scope "0::/system.slice/$unit" "$out"
    else
        fail limits-exec-joins-scope "exec failed: $out"
    fi
    # update: properties first (systemd), then the files.
    if out=$(rt update --memory 134217728 --pids-limit 50 --cpu-quota 25000 "$id" 2>&1); then
        pass limits-update
        check update-memory.max 134217728 "$(readf "$dir/memory.max")"
        check update-pids.max 50 "$(readf "$dir/pids.max")"
        check update-cpu.max "25000 100000" "$(readf "$dir/cpu.max")"
        check update-show-MemoryMax 134217728 "$(show "$unit" MemoryMax)"
        check update-show-TasksMax 50 "$(show "$unit" TasksMax)"
        check update-show-CPUQuotaPerSecUSec 250ms "$(show "$unit" CPUQuotaPerSecUSec)"
    else
        fail limits-update "$out"
    fi
    # A daemon-reload makes systemd re-apply every unit's properties to the cgroup files: the
    # updated limits must survive it (they would not if only the files had been written).
    systemctl daemon-reload
    check reload-keeps-memory.max 134217728 "$(readf "$dir/memory.max")"
    check reload-keeps-pids.max 50 "$(readf "$dir/pids.max")"
    check reload-keeps-cpu.max "25000 100000" "$(readf "$dir/cpu.max")"
    if out=$(rt pause "$id" 2>&1); then
        check pause-freezes "frozen 1" "$(grep '^frozen' "$dir/cgroup.events")"
        check pause-state paused "$(rt state "$id" 2>/dev/null | jq -r .status)"
        if out=$(rt resume "$id" 2>&1); then
            check resume-thaws "frozen 0" "$(grep '^frozen' "$dir/cgroup.events")"
        else
            fail resume-thaws "resume failed: $out"
        fi
    else
        fail pause-freezes "pause failed: $out"
    fi
    check ps-lists-init yes "$(rt ps --format json "$id" 2>/dev/null | jq -e "index($pid) != null" >/dev/null && echo yes || echo no)"
    check events-stats-pids yes "$(rt events --stats "$id" 2>/dev/null | jq -e '.data.pids.current >= 1' >/dev/null && echo yes || echo no)"
    rt exec -d "$id" sleep 1000 </dev/null >/dev/null 2>&1
    check kill-all-two-procs 2 "$(wc -l <"$dir/cgroup.procs")"
    if out=$(rt kill --all "$id" KILL 2>&1); then pass kill-all; else fail kill-all "$out"; fi
    for _ in $(seq 1 50); do
        [ "$(rt state "$id" 2>/dev/null | jq -r .status)" = stopped ] && break
        sleep 0.1
    done
    check kill-all-stopped stopped "$(rt state "$id" 2>/dev/null | jq -r .status)"
    if out=$(rt delete "$id" 2>&1); then pass delete; else fail delete "$out"; fi
    if wait_gone "$unit"; then pass delete-scope-gone; else fail delete-scope-gone "$(units "^$unit ")"; fi
    check delete-cgroup-removed no "$([ -d "$dir" ] && echo yes || echo no)"
    check delete-nothing-nook-in-list-units "" "$(units nook)"
else
    fail limits-create-start "$(cat "$work/create.out" "$work/start.out" 2>/dev/null)"
    rt delete --force "$id" >/dev/null 2>&1 || true
fi

# --- 2: a nested slice, and the limits bite ------------------------------------------------
# nook-lane-x.slice is /nook.slice/nook-lane.slice/nook-lane-x.slice; systemd makes the slices.
id=nook-oom
unit=nook-$id.scope
config '["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"]' \
    '{"memory": {"limit": 16777216}}' "nook-lane-x.slice:nook:$id"
code=0
rt run --bundle "$bundle" "$id" </dev/null >"$work/oom.out" 2>&1 || code=$?
check oom-run-exit-137 137 "$code"
[ "$code" = 137 ] || sed 's/^/  /' "$work/oom.out"
check oom-scope-gone "" "$(units "^$unit ")"
check nested-slice-made active "$(show nook-lane-x.slice ActiveState)"
check nested-slice-cgroup /nook.slice/nook-lane.slice/nook-lane-x.slice "$(show nook-lane-x.slice ControlGroup)"

id=nook-pids
unit=nook-$id.scope
# The init stays (a scope whose last process exits is gone with its cgroup); an exec'd shell
# forks until pids.max refuses (busybox sh gives up at the first failed fork).
config '["sleep", "300"]' '{"pids": {"limit": 6}}' "nook-lane-x.slice:nook:$id"
if rt run --detach --bundle "$bundle" "$id" </dev/null >"$work/run.out" 2>&1; then
    d=$cg/nook.slice/nook-lane.slice/nook-lane-x.slice/$unit
    check pids-scope-in-nested-slice "0::/nook.slice/nook-lane.slice/nook-lane-x.slice/$unit" \
        "$(readf "/proc/$(state_pid "$id")/cgroup")"
    rt exec "$id" sh -c 'for i in 1 2 3 4 5 6 7 8 9 10 11 12; do sleep 300 & done' \
        </dev/null >/dev/null 2>&1
    events=$(sed -n 's/^max //p' "$d/pids.events" 2>/dev/null)
    if [ "${events:-0}" -gt 0 ]; then pass pids-events-max; else fail pids-events-max "pids.events max is '${events:-}'"; fi
    check pids-show-TasksMax 6 "$(show "$unit" TasksMax)"
    rt delete --force "$id" >/dev/null 2>&1 || true
    if wait_gone "$unit"; then pass pids-scope-gone; else fail pids-scope-gone "$(units "^$unit ")"; fi
else
    fail pids-run-detach "$(cat "$work/run.out")"
    rt delete --force "$id" >/dev/null 2>&1 || true
fi
# The slices are the caller's (runc leaves them too); stop them so nothing of the lane stays.
systemctl stop nook.slice 2>/dev/null || true

# --- 3: bad input: a clear error naming the field, nothing left --------------------------------
id=nook-bad
for bad in "a--b.slice:nook:$id" "system.slice:nook" "notaslice:nook:$id"; do
    config '["true"]' '{"pids": {"limit": 10}}' "$bad"
    out=$(rt create --bundle "$bundle" "$id" </dev/null 2>&1)
    code=$?
    check "bad-path-exit-1 ($bad)" 1 "$code"
    case "$out" in
        *cgroupsPath*) pass "bad-path-names-field ($bad)" ;;
        *) fail "bad-path-names-field ($bad)" "$out" ;;
    esac
    check "bad-path-no-state ($bad)" "" "$(ls "$root")"
done
check bad-path-nothing-in-list-units "" "$(units nook)"

rm -rf "$work"
echo "checks: done"
