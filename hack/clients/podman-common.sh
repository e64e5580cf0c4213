# hack/clients/podman-common.sh: the podman scenarios that run the same as root (podman.sh) and
# rootless (podman-rootless.sh); sourced by both after lib.sh. Each script defines pm (podman
# with its flags), PODMAN, AS_USER (the prefix that runs a command as podman's user; empty as
# root), SEC (the security flags its runs take), IMG and run_d.
# shellcheck shell=bash

t_echo() {
    local out
    out=$(pm run --rm "${SEC[@]}" "$IMG" echo hi)
    expect_eq output "$out" hi
}

t_top() {
    local cid out
    cid=$(run_d "$IMG" sleep 1000)
    out=$(pm top "$cid")
    echo "$out"
    expect_match "top output" "$out" "*sleep 1000*"
    pm rm -f -t 0 "$cid"
}

t_cap_drop() {
    local out
    out=$(pm run --rm "${SEC[@]}" --cap-drop ALL "$IMG" grep -E '^Cap(Eff|Prm|Bnd)' /proc/self/status)
    echo "$out"
    expect_eq caps "$(echo "$out" | awk '{print $2}' | sort -u)" 0000000000000000
}

t_user() {
    expect_eq id "$(pm run --rm "${SEC[@]}" --user 1000:1000 "$IMG" id)" "uid=1000(tester) gid=1000(tester) groups=1000(tester)"
}

t_exit_code() {
    expect_eq "sh -c 'exit 3'" "$(status pm run --rm "${SEC[@]}" "$IMG" sh -c 'exit 3')" 3
    expect_eq "missing command" "$(status pm run --rm "${SEC[@]}" "$IMG" /no/such/cmd)" 127
}

t_time() {
    local t0 t1 times=()
    for _ in 1 2 3 4 5 6 7 8 9 10 11; do
        t0=$(date +%s%N)
        pm run --rm "${SEC[@]}" "$IMG" echo hi >/dev/null
        t1=$(date +%s%N)
        times+=($(((t1 - t0) / 1000000)))
    done
    echo "times (ms): ${times[*]}"
    median "${times[@]}" >"$WORK/time"
}

t_read_only() {
    local rc
    rc=$(status pm run --rm "${SEC[@]}" --read-only "$IMG" touch /newfile)
    expect_eq "touch / exit code" "$rc" 1
    # podman mounts a tmpfs on /tmp with --read-only.
    pm run --rm "${SEC[@]}" --read-only "$IMG" touch /tmp/newfile
}

# podman adds "tmpcopyup" to --tmpfs mounts by default (copy the image's directory into the new tmpfs).
t_tmpfs() {
    local out
    out=$(pm run --rm "${SEC[@]}" --tmpfs /etc "$IMG" sh -c 'grep " /etc " /proc/mounts | cut -d" " -f3; head -n 1 /etc/passwd; touch /etc/new')
    expect_eq "fs type, copied-up file" "$out" "tmpfs
root:x:0:0:root:/root:/bin/sh"
}

# ptys: on_pty gives podman a terminal, so -it goes through the console socket.
t_tty() {
    local out rc=0
    out=$(on_pty "${AS_USER[@]}" "${PODMAN[@]}" run -it --rm "${SEC[@]}" "$IMG" sh -c 'tty; echo ok; sleep 0.3; exit 4') || rc=$?
    echo "$out"
    expect_match "tty output" "$out" "*/dev/pts/0*ok*"
    expect_eq "exit code" "$rc" 4
}

t_exec_tty() {
    local cid out
    cid=$(run_d "$IMG" sleep 1000)
    out=$(on_pty "${AS_USER[@]}" "${PODMAN[@]}" exec -it "$cid" sh -c 'tty; echo ok')
    echo "$out"
    expect_match "exec tty output" "$out" "*/dev/pts/*ok*"
    pm rm -f -t 0 "$cid"
}
