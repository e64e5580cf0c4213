# shellcheck shell=bash
# The CRI lane's crictl scenarios (sourced by hack/cri/run.sh, which provides crictl_, WORK, the
# images and lib.sh's pass/fail helpers): what kubelet does with a pod beyond critest's specs.
# run_scenarios HANDLER runs them all on pods of that runtime handler; PASSED/FAILED count them.
# The shell snippets run in the containers: no host-side expansion wanted.
# shellcheck disable=SC2016

BUSYBOX_IMAGE=registry.k8s.io/e2e-test-images/busybox:1.29-2
SC=

# save_id NAME ID / id_of NAME: container and pod ids across scenarios (each runs in a subshell).
save_id() { echo "$2" >"$WORK/ids/$SC-$1"; }
id_of() { cat "$WORK/ids/$SC-$1"; }

# pod NAME LINUX_JSON: runs a pod on handler $SC; saves its id as NAME and its config for create.
pod() {
    local name=$SC-$1 file=$WORK/configs/$SC-$1-pod.json id
    mkdir -p "$WORK/pod-logs/$name"
    jq -n --arg name "$name" --arg logdir "$WORK/pod-logs/$name" --argjson linux "$2" \
        '{metadata: {name: $name, namespace: "nook-cri", uid: ($name + "-uid"), attempt: 0},
          hostname: $name, log_directory: $logdir, linux: $linux}' >"$file"
    id=$(crictl_ runp --runtime "$SC" "$file")
    save_id "$1" "$id"
}

# run_ctr POD NAME ATTEMPT COMMAND_JSON [LINUX_JSON]: creates and starts a container in pod POD (a
# pod() name); saves its id as NAME (NAME.ATTEMPT for attempts after the first).
run_ctr() {
    local pod=$1 name=$2 attempt=$3 file=$WORK/configs/$SC-$2-$3.json id key=$2
    ((attempt == 0)) || key=$name.$attempt
    jq -n --arg name "$name" --argjson attempt "$attempt" --arg image "$BUSYBOX_IMAGE" \
        --argjson cmd "$4" --argjson linux "${5:-{\}}" \
        '{metadata: {name: $name, attempt: $attempt}, image: {image: $image}, command: $cmd,
          log_path: ($name + "_" + ($attempt | tostring) + ".log"), linux: $linux}' >"$file"
    id=$(crictl_ create "$(id_of "$pod")" "$file" "$WORK/configs/$SC-$pod-pod.json")
    crictl_ start "$id" >/dev/null
    save_id "$key" "$id"
}

# state ID: CONTAINER_RUNNING, CONTAINER_EXITED, ...
state() { crictl_ inspect -o json "$1" | jq -r .status.state; }
is_state() { [[ $(state "$1") == "$2" ]]; }
logs_have() { crictl_ logs "$1" 2>&1 | grep -q "$2"; }
exit_code() { crictl_ inspect -o json "$1" | jq -r .status.exitCode; }
# xc ID CMD...: crictl exec (streaming, no tty): its stdout.
xc() {
    local id=$1
    shift
    crictl_ exec "$id" "$@"
}

# Scenarios ------------------------------------------------------------------------------------------

# A pod of two containers: both share the sandbox's network, IPC and UTS namespaces (kubelet's
# defaults), each has its own pid namespace.
s_shared_namespaces() {
    pod main '{"security_context": {"namespace_options": {"network": 0, "pid": 1, "ipc": 0}}}'
    # kubelet says it twice: in the pod's config and in each container's.
    local own_pid='{"security_context": {"namespace_options": {"network": 0, "pid": 1, "ipc": 0}}}'
    run_ctr main c1 0 '["sleep", "3600"]' "$own_pid"
    run_ctr main c2 0 '["sleep", "3600"]' "$own_pid"
    local spid ns c want got
    spid=$(crictl_ inspectp -o json "$(id_of main)" | jq -r .info.pid)
    for ns in net ipc uts; do
        want=$(readlink "/proc/$spid/ns/$ns")
        for c in c1 c2; do
            got=$(xc "$(id_of $c)" readlink /proc/self/ns/$ns)
            expect_eq "$c's $ns namespace" "$got" "$want"
        done
    done
    expect_eq "hostname in c2" "$(xc "$(id_of c2)" hostname)" "$SC-main"
    want=$(readlink "/proc/$spid/ns/pid")
    got=$(xc "$(id_of c1)" readlink /proc/self/ns/pid)
    [[ $got != "$want" ]] || { echo "c1 shares the sandbox's pid namespace ($got)"; return 1; }
    # The sandbox's address is on c1's eth0.
    local ip
    ip=$(crictl_ inspectp -o json "$(id_of main)" | jq -r .status.network.ip)
    expect_match "c1's addresses" "$(xc "$(id_of c1)" ip -4 addr show eth0)" "*inet $ip/*"
}

s_exec() {
    local c1 out rc=0
    c1=$(id_of c1)
    out=$(xc "$c1" sh -c 'echo out; echo err >&2' 2>"$WORK/stderr")
    expect_eq "exec stdout" "$out" out
    expect_eq "exec stderr" "$(cat "$WORK/stderr")" err
    rc=0
    out=$(xc "$c1" tty 2>/dev/null) || rc=$?
    expect_eq "exec without -t: tty" "$out" "not a tty"
    expect_eq "exec without -t: tty's status" "$rc" 1
    rc=0
    xc "$c1" sh -c 'exit 3' 2>"$WORK/stderr" || rc=$?
    expect_match "exec exit status" "$(cat "$WORK/stderr")" "*command terminated with exit code 3*"
    expect_eq "crictl exec's status" "$rc" 1
    # crictl exec -s: ExecSync.
    out=$(crictl_ exec -s "$c1" sh -c 'echo sync; exit 3' 2>&1) || rc=$?
    expect_match "exec -s" "$out" "*sync*3*"
    out=$(xc "$c1" id -u)
    expect_eq "exec id -u" "$out" 0
}

s_exec_tty() {
    local out
    out=$(on_pty "${IN_NS[@]}" "$CRICTL" -c "$WORK/crictl.yaml" exec -it "$(id_of c1)" sh -c 'tty; echo ok')
    echo "$out"
    expect_match "exec -t output" "$out" "*/dev/pts/*ok*"
}

s_logs() {
    run_ctr main logger 0 '["sh", "-c", "echo one; echo two; echo oops >&2"]'
    local id
    id=$(id_of logger)
    wait_for 60 is_state "$id" CONTAINER_EXITED || true
    expect_eq state "$(state "$id")" CONTAINER_EXITED
    expect_eq "logs stdout" "$(crictl_ logs "$id" 2>/dev/null)" $'one\ntwo'
    expect_eq "logs stderr" "$(crictl_ logs "$id" 2>&1 >/dev/null)" oops
    # (Which of "two" and "oops" came last is up to the scheduler: two pipes.)
    expect_eq "logs --tail 1: lines" "$(crictl_ logs --tail 1 "$id" 2>&1 | wc -l)" 1
    local path
    path=$(crictl_ inspect -o json "$id" | jq -r .status.logPath)
    expect_match "log file" "$(cat "$path")" "*stdout F one*stdout F two*"
    expect_match "log file" "$(cat "$path")" "*stderr F oops*"
}

# What kubelet does when a container has exited: a new container of the same name, attempt + 1,
# in the same pod; the old one stays (exited) with its log.
s_restart_after_exit() {
    run_ctr main logger 1 '["sh", "-c", "echo second"]'
    local id
    id=$(id_of logger.1)
    wait_for 60 is_state "$id" CONTAINER_EXITED || true
    expect_eq "new attempt's state" "$(state "$id")" CONTAINER_EXITED
    expect_eq "new attempt's exit code" "$(exit_code "$id")" 0
    expect_eq "new attempt's log" "$(crictl_ logs "$id" 2>&1)" second
    expect_eq "attempt" "$(crictl_ inspect -o json "$id" | jq -r .status.metadata.attempt)" 1
    expect_eq "old attempt's log" "$(crictl_ logs "$(id_of logger)" 2>/dev/null)" $'one\ntwo'
    expect_eq "containers named logger" "$(crictl_ ps -a -q --name '^logger$' --pod "$(id_of main)" | wc -l)" 2
}

s_stats() {
    local json
    json=$(crictl_ stats -o json --id "$(id_of c1)")
    echo "$json"
    expect_eq "stats entries" "$(jq '.stats | length' <<<"$json")" 1
    jq -e '.stats[0].memory.workingSetBytes.value | tonumber > 0' <<<"$json" >/dev/null ||
        { echo "no memory working set"; return 1; }
    jq -e '.stats[0].cpu.usageCoreNanoSeconds.value | tonumber > 0' <<<"$json" >/dev/null ||
        { echo "no cpu usage"; return 1; }
}

s_update_memory() {
    local id pid cg
    id=$(id_of c1)
    crictl_ update --memory 67108864 "$id"
    pid=$(crictl_ inspect -o json "$id" | jq -r .info.pid)
    cg=$(awk -F: '$2 ~ /(^|,)memory(,|$)/ {print $3}' "/proc/$pid/cgroup")
    echo "memory cgroup: $cg"
    if [[ -n $cg ]]; then
        expect_eq "memory.limit_in_bytes" "$(cat "/sys/fs/cgroup/memory$cg/memory.limit_in_bytes")" 67108864
    else
        cg=$(awk -F: '$1 == "0" {print $3}' "/proc/$pid/cgroup")
        expect_eq "memory.max" "$(cat "/sys/fs/cgroup/unified$cg/memory.max")" 67108864
    fi
    expect_eq "limit in the spec" "$(crictl_ inspect -o json "$id" | jq -r .info.runtimeSpec.linux.resources.memory.limit)" 67108864
    expect_eq "still running" "$(state "$id")" CONTAINER_RUNNING
}

# crictl stop --timeout: SIGTERM first (a container that handles it exits with its own status),
# SIGKILL when the grace period ends (one that ignores SIGTERM is killed: 137, not before).
s_stop_grace_period() {
    run_ctr main graceful 0 '["sh", "-c", "trap \"echo got TERM; exit 7\" TERM; echo ready; while :; do sleep 1; done"]'
    run_ctr main stubborn 0 '["sh", "-c", "trap \"\" TERM; echo ready; while :; do sleep 1; done"]'
    local g s start
    g=$(id_of graceful)
    s=$(id_of stubborn)
    wait_for 60 logs_have "$g" ready
    wait_for 60 logs_have "$s" ready
    crictl_ stop --timeout 30 "$g" >/dev/null
    expect_eq "graceful state" "$(state "$g")" CONTAINER_EXITED
    expect_eq "graceful exit code" "$(exit_code "$g")" 7
    expect_match "graceful log" "$(crictl_ logs "$g" 2>&1)" "*got TERM*"
    start=$SECONDS
    crictl_ stop --timeout 2 "$s" >/dev/null
    expect_eq "stubborn state" "$(state "$s")" CONTAINER_EXITED
    expect_eq "stubborn exit code" "$(exit_code "$s")" 137
    ((SECONDS - start >= 2)) || { echo "killed before its 2 s grace period"; return 1; }
}

# A hardened pod: runtime/default seccomp, read-only rootfs, all capabilities dropped,
# no_new_privs.
s_hardened_pod() {
    local sc='{"seccomp": {"profile_type": 0}}'
    pod hardened "{\"security_context\": $sc}"
    run_ctr hardened locked 0 '["sleep", "3600"]' '{"security_context": {"seccomp": {"profile_type": 0},
        "readonly_rootfs": true, "capabilities": {"drop_capabilities": ["ALL"]}, "no_new_privs": true}}'
    local id status spec
    id=$(id_of locked)
    status=$(xc "$id" cat /proc/self/status)
    expect_match "Seccomp" "$status" $'*\nSeccomp:\t2\n*'
    expect_match "NoNewPrivs" "$status" $'*\nNoNewPrivs:\t1\n*'
    expect_match "CapEff" "$status" $'*\nCapEff:\t0000000000000000\n*'
    expect_match "CapBnd" "$status" $'*\nCapBnd:\t0000000000000000\n*'
    expect_match "writing /" "$(xc "$id" sh -c 'touch /x 2>&1; echo rc=$?')" "*Read-only file system*rc=1"
    expect_match "writing /etc" "$(xc "$id" sh -c 'touch /etc/x 2>&1; echo rc=$?')" "*Read-only file system*rc=1"
    # Creating a user namespace needs no capability, but the default profile refuses it without
    # CAP_SYS_ADMIN: the profile is in force.
    expect_match "unshare -U" "$(xc "$id" sh -c 'unshare -U true 2>&1; echo rc=$?')" "*Operation not permitted*rc=1"
    spec=$(crictl_ inspect -o json "$id" | jq .info.runtimeSpec)
    expect_eq "seccomp defaultAction" "$(jq -r .linux.seccomp.defaultAction <<<"$spec")" SCMP_ACT_ERRNO
    expect_eq "root.readonly" "$(jq -r .root.readonly <<<"$spec")" true
    expect_eq "noNewPrivileges" "$(jq -r .process.noNewPrivileges <<<"$spec")" true
}

# Removing the pods removes every container and leaves nothing in the runtime's state dir.
s_remove_pods() {
    local p
    for p in main hardened; do
        crictl_ stopp "$(id_of $p)" >/dev/null
        crictl_ rmp "$(id_of $p)" >/dev/null
    done
    expect_eq "pods" "$(crictl_ pods -q)" ""
    expect_eq "containers" "$(crictl_ ps -a -q)" ""
    expect_eq "$SC state dir" "$(ls -A "$WORK/$SC-root/k8s.io" 2>/dev/null)" ""
}

# sc_scenario NAME FUNC: lib.sh's scenario, labelled with the runtime handler under test.
sc_scenario() {
    scenario "$1" "$2" "$SC $1"
}

run_scenarios() {
    SC=$1
    PASSED=0
    FAILED=0
    FAILED_NAMES=()
    mkdir -p "$WORK/ids"
    echo "cri: crictl scenarios on $SC"
    sc_scenario shared-namespaces s_shared_namespaces
    sc_scenario exec s_exec
    sc_scenario exec-tty s_exec_tty
    sc_scenario logs s_logs
    sc_scenario restart-after-exit s_restart_after_exit
    sc_scenario stats s_stats
    sc_scenario update-memory s_update_memory
    sc_scenario stop-grace-period s_stop_grace_period
    sc_scenario hardened-pod s_hardened_pod
    sc_scenario remove-pods s_remove_pods
}
