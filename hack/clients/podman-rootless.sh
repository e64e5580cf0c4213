#!/usr/bin/env bash
# Runs rootless podman on nook (or RUNTIME=/usr/sbin/runc to check the scenarios themselves): podman
# run by an unprivileged user with /etc/subuid and /etc/subgid ranges, as desktop users run it.
#
# As root, it makes (unless they exist) the user $PODMAN_USER (default nookpodman) with 65536
# subordinate uids and gids (Debian's useradd gives a new user a range; else usermod adds one), its XDG_RUNTIME_DIR (/run/user/UID, mode 0700: no logind here), and a
# private podman config and storage in a temp dir the user owns; then runs podman as that user
# (setpriv, a clean environment). What it made it removes at the end: containers, images, the
# storage, the user's processes (podman's rootless pause process), the runtime dir, and the user
# and its subordinate ranges. It then checks that nothing is left: processes of the user, mounts
# under the temp dir, the runtime's state.
# Prints PASS/FAIL lines and "clients-podman-rootless (RUNTIME): N passed, M failed"; exits 1 on
# any failure or leftover.
# Env: RUNTIME (default /usr/local/bin/nook), ONLY=regex, KEEP=1, PODMAN_USER, STORAGE_DRIVER
# (default: overlay when the user can mount overlayfs in its own user namespace, else vfs).
# The scenarios' shell snippets run in the container: no host-side expansion wanted.
# shellcheck disable=SC2016
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=podman-common.sh
source "$(dirname "$0")/podman-common.sh"

need_root
ensure_pkg podman podman
ensure_pkg conmon conmon
ensure_pkg python3 python3
ensure_pkg newuidmap uidmap
ensure_pkg setpriv util-linux

PODMAN_USER=${PODMAN_USER:-nookpodman}
# The user's subordinate ids when it has none: clear of the range the integration tests' user gets.
SUBIDS=500000-565535

make_workdir podman-rootless
make_wrapper
IMG=localhost/nookbox:latest

# Set once the user exists (the cleanup then removes what was made for it), and once podman is configured.
PUID=
PODMAN_READY=0
CREATED_USER=0
ADDED_SUBUIDS=0
ADDED_SUBGIDS=0
CREATED_RUNDIR=0
UDIR=$WORK/user

# The runtime's state dir: podman passes none to a rootless runtime, which then keeps its state in
# $XDG_RUNTIME_DIR/<name> (runc's rule, nook's too). A container left behind shows there.
runtime_state_dir() {
    local root
    root=$(grep -o -- "--root [^ ]*" "$ARGV_LOG" | head -n 1 | cut -d' ' -f2)
    echo "${root:-$XDG_DIR/$RUNTIME_NAME}"
}

LEFTOVERS=0
# leftover WHAT LIST: reports LIST (if not empty) as left behind.
leftover() {
    if [[ -n $2 ]]; then
        echo "clients-podman-rootless: left behind: $1:"
        echo "$2" | sed 's/^/    /'
        LEFTOVERS=$((LEFTOVERS + 1))
    fi
}

# user_processes: the user's live processes, "pid ppid state command line" each. Zombies are left out:
# they hold nothing but a pid, and reaping them is their parent's job (conmons of tty containers end up
# children of pid 1, which on this host reaps them late).
user_processes() {
    [[ -z $PUID ]] || ps -o pid=,ppid=,stat=,args= -u "$PUID" | awk '$3 !~ /^Z/' || true
}
no_user_processes() {
    [[ -z $(user_processes) ]]
}

cleanup() {
    local rc=$?
    set +e
    if [[ -z $PUID ]]; then
        finish_workdir "$rc"
    fi
    local state
    state=$(runtime_state_dir)
    if [[ $PODMAN_READY == 1 ]]; then
        pm rm -a -f -t 0 >/dev/null 2>&1
        pm rmi -a -f >/dev/null 2>&1
    fi
    # What the runtime still lists once podman removed everything: containers it left behind.
    leftover "containers in the runtime's state dir $state" "$(ls -A "$state" 2>/dev/null)"
    # The user's processes: podman's rootless pause process (holds its user namespace) is expected,
    # and goes; anything else (a container, conmon) is a leftover.
    leftover "processes of $PODMAN_USER besides podman's pause process" \
        "$(user_processes | grep -v -E '^ *[0-9]+ +[0-9]+ +[^ ]+ +(catatonit -P|podman)( |$)' || true)"
    local pid
    for pid in $(user_processes | awk '{print $1}'); do
        kill -9 "$pid" 2>/dev/null
    done
    kill_workdir_processes
    wait_for 10 no_user_processes
    leftover "processes of $PODMAN_USER after kill" "$(user_processes)"
    leftover mounts "$(findmnt -rn -o TARGET | grep "^$WORK" || true)"
    umount_workdir
    # The storage (files owned by the user's subordinate ids: root removes them) and the runtime dir.
    rm -rf "$UDIR/root" "$XDG_DIR/nook-clients-runroot"
    leftover "podman storage" "$(ls -d "$UDIR/root" "$XDG_DIR/nook-clients-runroot" 2>/dev/null)"
    if [[ $CREATED_RUNDIR == 1 ]]; then
        rm -rf "$XDG_DIR"
        rmdir /run/user 2>/dev/null
    else
        # Only what podman and the runtime put there.
        rm -rf "$XDG_DIR/libpod" "$XDG_DIR/containers" "$XDG_DIR/$RUNTIME_NAME"
    fi
    [[ $ADDED_SUBUIDS == 0 ]] || usermod --del-subuids "$SUBIDS" "$PODMAN_USER"
    [[ $ADDED_SUBGIDS == 0 ]] || usermod --del-subgids "$SUBIDS" "$PODMAN_USER"
    if [[ $CREATED_USER == 1 ]]; then
        userdel "$PODMAN_USER"
        leftover "user $PODMAN_USER" "$(getent passwd "$PODMAN_USER")"
    fi
    leftover "subordinate ids of $PODMAN_USER" "$( ( [[ $ADDED_SUBUIDS == 0 ]] || grep "^$PODMAN_USER:" /etc/subuid
        [[ $ADDED_SUBGIDS == 0 ]] || grep "^$PODMAN_USER:" /etc/subgid) || true)"
    if ((LEFTOVERS > 0)); then
        echo "clients-podman-rootless: FAILED: $LEFTOVERS kinds of things left behind"
        [[ $rc != 0 ]] || rc=1
    else
        echo "clients-podman-rootless: nothing left behind (containers, processes, mounts, storage, runtime state, user)"
    fi
    finish_workdir "$rc"
}
trap cleanup EXIT

# The user ------------------------------------------------------------------------------------------

if ! id -u "$PODMAN_USER" >/dev/null 2>&1; then
    useradd -M -d /nonexistent -s /usr/sbin/nologin "$PODMAN_USER"
    CREATED_USER=1
fi
PUID=$(id -u "$PODMAN_USER")
PGID=$(id -g "$PODMAN_USER")
XDG_DIR=/run/user/$PUID
if ! grep -q "^$PODMAN_USER:" /etc/subuid; then
    usermod --add-subuids "$SUBIDS" "$PODMAN_USER"
    ADDED_SUBUIDS=1
fi
if ! grep -q "^$PODMAN_USER:" /etc/subgid; then
    usermod --add-subgids "$SUBIDS" "$PODMAN_USER"
    ADDED_SUBGIDS=1
fi
if [[ ! -d $XDG_DIR ]]; then
    mkdir -p /run/user
    mkdir -m 0700 "$XDG_DIR"
    chown "$PUID:$PGID" "$XDG_DIR"
    CREATED_RUNDIR=1
fi

# The user's own part of the work dir: home, podman config and storage. The wrapper's logs must be
# writable by the user too.
mkdir -p "$UDIR/home" "$UDIR/tmp"
: >"$ARGV_LOG"
chown -R "$PUID:$PGID" "$UDIR" "$ARGV_LOG" "$WORK/configs" "$WORK/logs"

# as_user CMD...: CMD run as the user, with the environment a login would give it (and nothing of ours).
AS_USER=(setpriv --reuid "$PUID" --regid "$PGID" --init-groups --reset-env
    env -i HOME="$UDIR/home" USER="$PODMAN_USER" LOGNAME="$PODMAN_USER"
    PATH=/usr/local/bin:/usr/bin:/bin XDG_RUNTIME_DIR="$XDG_DIR"
    CONTAINERS_CONF="$UDIR/containers.conf" CONTAINERS_STORAGE_CONF="$UDIR/storage.conf")
as_user() { "${AS_USER[@]}" "$@"; }

# overlay_works: can the user mount overlayfs in a user namespace of its own (kernel >= 5.13)?
overlay_works() {
    local d=$UDIR/tmp/ovl
    as_user mkdir -p "$d/l" "$d/u" "$d/w" "$d/m"
    as_user unshare --user --map-root-user --mount \
        mount -t overlay overlay -o "lowerdir=$d/l,upperdir=$d/u,workdir=$d/w" "$d/m" 2>/dev/null
    local rc=$?
    rm -rf "$d"
    return $rc
}
if [[ -z ${STORAGE_DRIVER:-} ]]; then
    STORAGE_DRIVER=vfs
    if overlay_works; then
        STORAGE_DRIVER=overlay
    fi
fi

# podman wants a runroot of at most 50 characters: in the runtime dir.
RUNROOT=$XDG_DIR/nook-clients-runroot

# Private containers.conf: the shipped snippet, with the runtime entry pointing at the argv-logging wrapper.
{
    sed -e '/^\[engine.runtimes\]/,$d' "$CLIENTS_DIR/containers.conf"
    echo "[engine.runtimes]"
    echo "$RUNTIME_NAME = [\"$WRAPPER\"]"
} >"$UDIR/containers.conf"
sed -i -e "s|^events_logger = .*|&\nevents_logfile_path = \"$UDIR/events.log\"|" "$UDIR/containers.conf"
cat >"$UDIR/storage.conf" <<EOF
[storage]
driver = "$STORAGE_DRIVER"
graphroot = "$UDIR/root"
runroot = "$RUNROOT"
EOF
chown -R "$PUID:$PGID" "$UDIR"

PODMAN=(podman --root "$UDIR/root" --runroot "$RUNROOT" --tmpdir "$UDIR/tmp"
    --storage-driver "$STORAGE_DRIVER" --cgroup-manager cgroupfs --events-backend file --runtime "$RUNTIME_NAME")
# One thing per scenario: podman's default seccomp profile only in default-seccomp; no networking.
SEC=(--security-opt seccomp=unconfined --network none)

pm() { timeout 90 "${AS_USER[@]}" "${PODMAN[@]}" "$@"; }
PODMAN_READY=1


# state_is CID STATE: is the container in STATE (podman's word)?
state_is() {
    [[ $(pm inspect -f '{{.State.Status}}' "$1") == "$2" ]]
}

# run_d ARGS...: podman run -d, prints the container's id.
run_d() {
    pm run -d "${SEC[@]}" "$@"
}

# Scenarios ------------------------------------------------------------------------------------------

# Root in the container is the user on the host; the other ids are its subordinate ones.
# (A user with more subordinate ranges gets them too, on further lines: the first range is checked.)
t_id_maps() {
    local out sub size
    sub=$(grep "^$PODMAN_USER:" /etc/subuid | head -n 1 | cut -d: -f2)
    size=$(grep "^$PODMAN_USER:" /etc/subuid | head -n 1 | cut -d: -f3)
    out=$(pm run --rm "${SEC[@]}" "$IMG" sh -c 'id -u; cat /proc/self/uid_map')
    echo "$out"
    expect_eq "uid, uid_map" "$(echo "$out" | tr -s ' ' | sed 's/^ //' | head -n 3)" "0
0 $PUID 1
1 $sub $size"
}

t_detached_exec_stop() {
    local cid
    cid=$(run_d --hostname rl "$IMG" sh -c 'echo started; exec sleep 1000')
    expect_match "ps state" "$(pm ps --filter "id=$cid" --format '{{.State}}')" "Up*"
    expect_eq "exec output" "$(pm exec "$cid" cat /etc/hostname)" rl
    expect_eq "exec exit code" "$(status pm exec "$cid" sh -c 'exit 5')" 5
    expect_eq "exec -u" "$(pm exec -u 1000 "$cid" id -u)" 1000
    expect_eq logs "$(pm logs "$cid")" started
    pm stop -t 1 "$cid"
    expect_eq "status after stop" "$(pm inspect -f '{{.State.Status}}' "$cid")" exited
    pm rm "$cid"
    expect_eq "ps -a after rm" "$(pm ps -a -q --filter "id=$cid")" ""
}

# Several mapped ranges, the container's ids split over the user and its subordinate ranges; files
# written by each id show on the host with the host's ids.
t_uidmap_ranges() {
    local out sub vol=$UDIR/vol-ranges
    sub=$(grep "^$PODMAN_USER:" /etc/subuid | head -n 1 | cut -d: -f2)
    as_user mkdir -m 777 "$vol"
    # podman's --uidmap is container:intermediate:size, the intermediate ids being those of podman's
    # own user namespace (0 = the user, 1.. = its subordinate ids); the container's uid_map shows them.
    out=$(pm run --rm "${SEC[@]}" --uidmap 0:1:1000 --uidmap 1000:0:1 --uidmap 1001:1001:1000 \
        --gidmap 0:1:1000 --gidmap 1000:0:1 --gidmap 1001:1001:1000 -v "$vol:/data" \
        --user 1000:1000 "$IMG" sh -c 'id -u; id -g; cat /proc/self/uid_map; touch /data/by-1000')
    echo "$out"
    expect_eq "uid, gid, uid_map" "$(echo "$out" | tr -s ' ' | sed 's/^ //')" "1000
1000
0 1 1000
1000 0 1
1001 1001 1000"
    pm run --rm "${SEC[@]}" --uidmap 0:1:1000 --uidmap 1000:0:1 --uidmap 1001:1001:1000 \
        --gidmap 0:1:1000 --gidmap 1000:0:1 --gidmap 1001:1001:1000 -v "$vol:/data" \
        "$IMG" sh -c 'touch /data/by-0; touch /data/by-1001; chown 1001:1001 /data/by-1001'
    expect_eq "host owners of files by 1000, 0, 1001" \
        "$(stat -c %u:%g "$vol/by-1000" "$vol/by-0" "$vol/by-1001" | tr '\n' ' ')" \
        "$PUID:$PGID $sub:$sub $((sub + 1000)):$((sub + 1000)) "
}

# exec, top, stop in a container that has a user namespace of its own (podman's is its parent).
t_uidmap_exec() {
    local cid
    cid=$(run_d --uidmap 0:1:1000 --uidmap 1000:0:1 --uidmap 1001:1001:1000 \
        --gidmap 0:1:1000 --gidmap 1000:0:1 --gidmap 1001:1001:1000 "$IMG" sleep 1000)
    expect_eq "exec uid_map" "$(pm exec "$cid" cat /proc/self/uid_map | tr -s ' ' | sed 's/^ //')" "0 1 1000
1000 0 1
1001 1001 1000"
    expect_eq "exec -u 1000" "$(pm exec -u 1000:1000 "$cid" sh -c 'id -u; touch /tmp/by-1000; stat -c %u /tmp/by-1000')" "1000
1000"
    expect_match "top" "$(pm top "$cid")" "*sleep 1000*"
    pm stop -t 1 "$cid"
    expect_eq "status after stop" "$(pm inspect -f '{{.State.Status}}' "$cid")" exited
    pm rm "$cid"
}

t_keep_id_exec() {
    local cid
    cid=$(run_d --userns keep-id "$IMG" sleep 1000)
    expect_eq "exec id" "$(pm exec "$cid" id -u)" "$PUID"
    expect_eq "exec -u 0" "$(pm exec -u 0 "$cid" id -u)" 0
    pm rm -f -t 0 "$cid"
}

# --userns=keep-id: the user keeps its own uid inside.
t_keep_id() {
    local out
    out=$(pm run --rm "${SEC[@]}" --userns keep-id "$IMG" sh -c 'id -u; id -g')
    expect_eq "uid, gid" "$(echo "$out" | tr '\n' ' ')" "$PUID $PGID "
}

# A file the container's root writes lands on the host as the user; one of uid 1000 as a subordinate id.
t_volume_owner() {
    local vol=$UDIR/vol sub
    sub=$(grep "^$PODMAN_USER:" /etc/subuid | head -n 1 | cut -d: -f2)
    as_user mkdir -p "$vol"
    pm run --rm "${SEC[@]}" -v "$vol:/data" "$IMG" sh -c 'echo x >/data/by-root; mkdir /data/d; chown 1000:1000 /data/d'
    expect_eq "owner of a file by root" "$(stat -c %u "$vol/by-root")" "$PUID"
    expect_eq "owner of a dir chowned to 1000" "$(stat -c %u "$vol/d")" "$((sub + 999))"
}

# podman's default: its seccomp profile in config.json, as a rootless user gets it.
t_default_seccomp() {
    local out
    out=$(pm run --rm --network none "$IMG" sh -c 'echo hi; grep ^Seccomp: /proc/self/status')
    expect_eq output "$(echo "$out" | tr -s '\t ' ' ')" "hi
Seccomp: 2"
}

t_env_workdir_hostname() {
    expect_eq "env, cwd, hostname" "$(pm run --rm "${SEC[@]}" -e FOO=bar -w /tmp --hostname foo "$IMG" sh -c 'echo $FOO; pwd; hostname')" "bar
/tmp
foo"
}

t_privileged() {
    local out
    out=$(pm run --rm "${SEC[@]}" --privileged "$IMG" sh -c 'awk "/^CapEff/ {print \$2}" /proc/self/status; ls /dev/kmsg; head -c 4 /dev/zero | wc -c')
    echo "$out"
    expect_match "CapEff, /dev/kmsg, /dev/zero" "$out" "*
/dev/kmsg
4"
}

t_restart_wait() {
    local cid
    cid=$(run_d "$IMG" sh -c 'echo run; exec sleep 1000')
    pm restart -t 1 "$cid"
    expect_eq "status after restart" "$(pm inspect -f '{{.State.Status}}' "$cid")" running
    expect_eq "logs after restart" "$(pm logs "$cid" | tr '\n' ' ')" "run run "
    pm rm -f -t 0 "$cid"
    cid=$(run_d "$IMG" sh -c 'sleep 0.5; exit 7')
    expect_eq "wait exit code" "$(pm wait "$cid")" 7
    pm rm "$cid"
}

t_exec_variants() {
    local cid
    cid=$(run_d "$IMG" sleep 1000)
    expect_eq "exec -w" "$(pm exec -w /tmp "$cid" pwd)" /tmp
    pm exec -d "$cid" sh -c 'echo detached >/tmp/d'
    wait_for 5 pm exec "$cid" test -s /tmp/d
    expect_eq "exec -d wrote" "$(pm exec "$cid" cat /tmp/d)" detached
    expect_eq "exec --privileged CapEff" "$(pm exec --privileged "$cid" awk '/^CapEff/ {print $2}' /proc/self/status)" \
        "$(pm run --rm "${SEC[@]}" --privileged "$IMG" awk '/^CapEff/ {print $2}' /proc/self/status)"
    pm rm -f -t 0 "$cid"
}

t_mounts() {
    local vol=$UDIR/vol-mounts
    as_user mkdir -p "$vol"
    as_user sh -c "echo host >$vol/f"
    expect_eq "ro bind, tmpfs" "$(pm run --rm "${SEC[@]}" --mount "type=bind,src=$vol,dst=/ro,ro" --mount type=tmpfs,dst=/scratch \
        "$IMG" sh -c 'cat /ro/f; touch /ro/x 2>/dev/null && echo writable; touch /scratch/y && echo tmpfs-ok')" "host
tmpfs-ok"
}

t_device() {
    expect_eq "--device /dev/null" "$(pm run --rm "${SEC[@]}" --device /dev/null:/dev/mynull "$IMG" sh -c 'echo x >/dev/mynull && echo ok')" ok
}

# (--ipc host: podman wants the host's /dev/mqueue, which this host lacks.)
t_host_pid_uts() {
    local out
    out=$(pm run --rm "${SEC[@]}" --pid host --uts host "$IMG" sh -c 'hostname; readlink /proc/self/ns/pid')
    expect_eq "hostname, pid ns" "$out" "$(hostname)
$(readlink /proc/self/ns/pid)"
}

t_ulimit_nnp() {
    expect_eq "ulimit -n, NoNewPrivs" "$(pm run --rm "${SEC[@]}" --ulimit nofile=512:512 --security-opt no-new-privileges "$IMG" sh -c 'ulimit -n; grep ^NoNewPrivs /proc/self/status | tr -d "\t "')" "512
NoNewPrivs:1"
}

# A tty in a container with its own user namespace: the pty belongs to the container's root
# and group tty (5), both mapped.
t_tty_ranges() {
    local out rc=0
    out=$(on_pty "${AS_USER[@]}" "${PODMAN[@]}" run -it --rm "${SEC[@]}" --uidmap 0:1:1000 --uidmap 1000:0:1 \
        --uidmap 1001:1001:1000 --gidmap 0:1:1000 --gidmap 1000:0:1 --gidmap 1001:1001:1000 \
        "$IMG" sh -c 'tty; stat -c "%u %g" $(tty); echo ok; sleep 0.3') || rc=$?
    echo "$out"
    expect_match "tty, its owner" "$out" "*/dev/pts/0*0 5*ok*"
    expect_eq "exit code" "$rc" 0
}

t_tty_keep_id() {
    local out
    out=$(on_pty "${AS_USER[@]}" "${PODMAN[@]}" run -it --rm "${SEC[@]}" --userns keep-id "$IMG" sh -c 'tty; stat -c "%u %g" $(tty); echo ok; sleep 0.3')
    echo "$out"
    expect_match "tty, its owner" "$out" "*/dev/pts/0*$PUID 5*ok*"
}

# --init: podman binds its catatonit in as /run/podman-init, pid 1.
t_init() {
    expect_eq "pid 1" "$(pm run --rm "${SEC[@]}" --init "$IMG" cat /proc/1/cmdline | tr '\0' ' ')" "/run/podman-init -- cat /proc/1/cmdline "
}

t_sysctl_shm() {
    expect_eq "msgmax, /dev/shm size" "$(pm run --rm "${SEC[@]}" --sysctl kernel.msgmax=4096 --shm-size 10m "$IMG" \
        sh -c 'cat /proc/sys/kernel/msgmax; df -k /dev/shm | tail -n 1 | tr -s " " | cut -d" " -f2')" "4096
10240"
}

t_named_volume() {
    pm volume create nookvol >/dev/null
    pm run --rm "${SEC[@]}" -v nookvol:/data "$IMG" sh -c 'echo hi >/data/x'
    expect_eq "volume content" "$(pm run --rm "${SEC[@]}" -v nookvol:/data "$IMG" cat /data/x)" hi
    pm volume rm nookvol >/dev/null
}

# Container root with CAP_SYS_ADMIN (in the user's namespace only) mounts a tmpfs of its own.
t_cap_add_mount() {
    expect_eq mount "$(pm run --rm "${SEC[@]}" --cap-add SYS_ADMIN "$IMG" sh -c 'mkdir /m; mount -t tmpfs t /m && echo mounted')" mounted
}

# A pod: its infra container (podman's own pause image, built from catatonit) holds the ipc and
# uts namespaces the pod's containers join by path.
t_pod() {
    local pod cid infra_ipc
    pod=$(pm pod create --network none --share ipc,uts)
    cid=$(pm run -d --pod "$pod" "${SEC[@]}" "$IMG" sleep 1000)
    infra_ipc=$(pm exec "$cid" readlink /proc/1/ns/ipc)
    expect_eq "ipc ns of a second container" "$(pm run --rm --pod "$pod" "${SEC[@]}" "$IMG" readlink /proc/self/ns/ipc)" "$infra_ipc"
    pm pod stop -t 1 "$pod" >/dev/null
    pm pod rm -f -t 0 "$pod" >/dev/null
    expect_eq "pods after rm" "$(pm pod ps -q)" ""
}

# --rootfs: a directory the user unpacked, no image.
t_rootfs() {
    as_user mkdir -p "$UDIR/rootfs"
    as_user tar -C "$UDIR/rootfs" -xf "$ROOTFS_TAR"
    expect_eq "id" "$(pm run --rm "${SEC[@]}" --rootfs "$UDIR/rootfs" id -u)" 0
}

# --userns nomap (the user's own id left out) and auto (a range of the given size), both from the
# user's subordinate ids.
t_userns_nomap_auto() {
    expect_eq "nomap: uid, uid_map" "$(pm run --rm "${SEC[@]}" --userns nomap "$IMG" sh -c 'id -u; cat /proc/self/uid_map' | tr -s ' ' | sed 's/^ //')" "0
0 1 65536"
    expect_eq "auto: uid, uid_map" "$(pm run --rm "${SEC[@]}" --userns auto:size=2000 "$IMG" sh -c 'id -u; cat /proc/self/uid_map' | tr -s ' ' | sed 's/^ //')" "0
0 1 2000"
}

# The host's network namespace (no networking set up): the runtime makes no network namespace.
t_network_host() {
    expect_eq "net ns" "$(pm run --rm --security-opt seccomp=unconfined --network host "$IMG" readlink /proc/self/ns/net)" \
        "$(as_user readlink /proc/self/ns/net)"
}

t_devpts_oom_score() {
    expect_eq "devpts mount, oom_score_adj" "$(pm run --rm "${SEC[@]}" --mount type=devpts,destination=/mypts --oom-score-adj 500 \
        "$IMG" sh -c 'grep -c " /mypts devpts " /proc/mounts; cat /proc/self/oom_score_adj')" "1
500"
}

t_kill() {
    local cid
    cid=$(run_d "$IMG" sleep 1000)
    pm kill "$cid" >/dev/null
    wait_for 10 state_is "$cid" exited
    expect_eq "exit code after kill" "$(pm inspect -f '{{.State.ExitCode}}' "$cid")" 137
    pm rm "$cid"
}

# Main -----------------------------------------------------------------------------------------------

echo "podman rootless as $PODMAN_USER (uid $PUID), storage driver $STORAGE_DRIVER"
make_rootfs_tar
pm import -q "$ROOTFS_TAR" "$IMG" >/dev/null

scenario echo t_echo
scenario id-maps t_id_maps
scenario detached-exec-stop-rm t_detached_exec_stop
scenario uidmap-ranges t_uidmap_ranges
scenario uidmap-ranges-exec-stop t_uidmap_exec
scenario userns-keep-id t_keep_id
scenario userns-keep-id-exec t_keep_id_exec
scenario volume-owner t_volume_owner
scenario default-seccomp t_default_seccomp
scenario user t_user
scenario read-only t_read_only
scenario tmpfs-copyup t_tmpfs
scenario cap-drop-all t_cap_drop
scenario env-workdir-hostname t_env_workdir_hostname
scenario top t_top
scenario privileged t_privileged
scenario restart-wait t_restart_wait
scenario exec-variants t_exec_variants
scenario mounts t_mounts
scenario device t_device
scenario host-pid-uts t_host_pid_uts
scenario ulimit-no-new-privs t_ulimit_nnp
scenario tty-ranges t_tty_ranges
scenario tty-keep-id t_tty_keep_id
scenario init t_init
scenario sysctl-shm-size t_sysctl_shm
scenario named-volume t_named_volume
scenario cap-add-mount t_cap_add_mount
scenario pod t_pod
scenario rootfs t_rootfs
scenario userns-nomap-auto t_userns_nomap_auto
scenario network-host t_network_host
scenario devpts-oom-score t_devpts_oom_score
scenario exit-code t_exit_code
scenario kill t_kill
scenario tty t_tty
scenario exec-tty t_exec_tty
scenario run-rm-echo-time t_time
if [[ -s $WORK/time ]]; then
    echo "TIME rootless podman run --rm $IMG echo hi ($RUNTIME_NAME): median $(cat "$WORK/time") ms of 11"
fi

summary podman-rootless
