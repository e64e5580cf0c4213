#!/usr/bin/env bash
# hack/cri/run.sh: the CRI lane. nook under Kubernetes' container runtime interface, as kubelet
# would drive it: containerd's CRI plugin with the runc shim (io.containerd.runc.v2) calling the
# installed nook (/usr/local/bin/nook; install this tree's with `cargo build --release &&
# hack/install.sh`). Run as root; hack/test.sh runs it (NOOK_TEST_SKIP=cri skips it there).
#
# 1. Builds critest and crictl from ../shared/cri/cri-tools-v1.26.1.tar.gz (vendored) with Debian's
#    Go 1.19 into target/cri/bin, kept between runs (rebuilt when the tarball or Go changes).
# 2. Builds the images critest names, with the content its tests expect (hack/cri/images/build.sh).
# 3. Makes a network namespace (a file under the work dir, entered with nsenter --net: `ip netns
#    exec` would remount /sys) and starts there a private containerd (root, state, socket under the
#    work dir) with the CRI plugin, runtime handlers `nook` and `runc`, the locally built sandbox
#    image and a CNI bridge network from Debian's containernetworking-plugins; imports the images.
# 4. Runs critest against each handler (image-manager specs are skipped: they pull test images from
#    a registry, and nothing here may reach one; benchmark specs are skipped by critest itself
#    unless asked for: they measure, they do not validate), then the crictl scenarios below.
# 5. Stops containerd, removes every pod, mount, cgroup, shared memory segment and the netns it
#    made (also on failure or ^C), and checks that none is left.
# Prints "cri-<handler>: N passed, M failed" per handler; exits 1 if anything failed or was left.
#
# Env: NOOK_CRI_HANDLERS="nook runc" (the handlers to test, in order), NOOK_CRI_FOCUS=regex (only
# the critest specs matching), NOOK_CRI_CRITEST=0 (skip critest: only the crictl scenarios),
# ONLY=regex (only the crictl scenarios matching), KEEP=1 (keep the work dir for a post-mortem).
set -euo pipefail

CRI_DIR=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=../clients/lib.sh
source "$CRI_DIR/../clients/lib.sh"
OUT=$REPO_DIR/target/cri
TARBALL=${NOOK_CRI_TARBALL:-$REPO_DIR/../shared/cri/cri-tools-v1.26.1.tar.gz}
HANDLERS=${NOOK_CRI_HANDLERS:-nook runc}
FOCUS=${NOOK_CRI_FOCUS:-}
RUN_CRITEST=${NOOK_CRI_CRITEST:-1}
declare -A BINARY=([nook]=/usr/local/bin/nook [runc]=/usr/sbin/runc)

need_root
if [[ ! -f $TARBALL ]]; then
    echo "cri: no cri-tools source at $TARBALL (NOOK_CRI_TARBALL names another)" >&2
    exit 1
fi
ensure_pkg containerd containerd
ensure_pkg /usr/lib/cni/bridge containernetworking-plugins
ensure_pkg iptables iptables
ensure_pkg ip iproute2
ensure_pkg gcc gcc
ensure_pkg ipcmk util-linux
ensure_pkg pgrep procps
ensure_pkg python3 python3
ensure_pkg jq jq
for h in $HANDLERS; do
    if [[ ! -x ${BINARY[$h]:-} ]]; then
        echo "cri: no binary for handler $h (${BINARY[$h]:-unknown handler})" >&2
        exit 1
    fi
done

# 1. critest and crictl --------------------------------------------------------------------------

build_tools() {
    local go=/usr/lib/go-1.19/bin/go stamp src
    # Debian 12's own Go (not a backport): apt-get install golang-go.
    [[ -x $go ]] || ensure_pkg /usr/lib/go-1.19/bin/go golang-go
    stamp="$(sha256sum "$TARBALL" | cut -d' ' -f1) $("$go" version)"
    if [[ -x $OUT/bin/critest && -x $OUT/bin/crictl && $(cat "$OUT/bin/stamp" 2>/dev/null) == "$stamp" ]]; then
        return 0
    fi
    echo "cri: building critest and crictl with $("$go" version) (about 2-4 minutes)"
    rm -rf "$OUT/src" "$OUT/bin"
    mkdir -p "$OUT/src" "$OUT/bin"
    tar -C "$OUT/src" -xzf "$TARBALL"
    src=$(find "$OUT/src" -mindepth 1 -maxdepth 1 -type d | head -n 1)
    local ldflags="-X github.com/kubernetes-sigs/cri-tools/pkg/version.Version=1.26.1"
    (
        cd "$src"
        export GOFLAGS=-mod=vendor GOPROXY=off GOTOOLCHAIN=local CGO_ENABLED=0
        # The binaries are what is kept: the build cache (~450 MB) goes with the sources.
        export GOCACHE=$OUT/src/go-cache GOPATH=$OUT/src/gopath
        "$go" test -c -o "$OUT/bin/critest" -ldflags "$ldflags" -trimpath ./cmd/critest
        "$go" build -o "$OUT/bin/crictl" -ldflags "$ldflags" -trimpath ./cmd/crictl
    )
    rm -rf "$OUT/src"
    echo "$stamp" >"$OUT/bin/stamp"
}
build_tools
CRITEST=$OUT/bin/critest
CRICTL=$OUT/bin/crictl

# 2-3. work dir, images, netns, containerd --------------------------------------------------------

# What is there before the lane, so that the cleanup removes only what the lane made.
RUN_NETNS_BEFORE=$(ls /run/netns 2>/dev/null || true)
# libcni keeps each attachment's result in /var/lib/cni/results until the pod's network is removed.
CNI_DIR_EXISTED=0
[[ ! -d /var/lib/cni ]] || CNI_DIR_EXISTED=1
SHM_BEFORE=$(ipcs -m | awk '$2 ~ /^[0-9]+$/ {print $2}' | sort)
k8s_cgroups() { find /sys/fs/cgroup/*/k8s.io -maxdepth 1 -type d 2>/dev/null | sort -r || true; }
K8S_CGROUPS_BEFORE=$(k8s_cgroups)

WORK=$(mktemp -d /tmp/nook-cri.XXXXXX)
chmod 755 "$WORK"
mkdir -p "$WORK/logs" "$WORK/tmp" "$WORK/cni" "$WORK/configs" "$WORK/pod-logs"
SOCK=$WORK/containerd.sock
printf 'runtime-endpoint: unix://%s\nimage-endpoint: unix://%s\ntimeout: 60\n' "$SOCK" "$SOCK" >"$WORK/crictl.yaml"
NETNS=$WORK/netns
IN_NS=(nsenter --net="$NETNS")
CONTAINERD_PID=
touch "$WORK/started"
# The lane's cgroup: a child of ours in every hierarchy. containerd starts in it, so do its shims;
# the cleanup removes the whole tree. Pods given no cgroup parent (critest's, ours) go to
# /k8s.io/<id> in every hierarchy: the cleanup removes the ids that were not there before.
LANE_CGROUPS=()
lane_cgroups() {
    local line ctrls path mnt opts dir
    while IFS=: read -r _ ctrls path; do
        mnt=
        while read -r dir fstype opts; do
            if [[ -z $ctrls && $fstype == cgroup2 ]] ||
                [[ -n $ctrls && $fstype == cgroup && ,$opts, == *,${ctrls//,/,*,},* ]]; then
                mnt=$dir
                break
            fi
        done < <(findmnt -rn -t cgroup,cgroup2 -o TARGET,FSTYPE,OPTIONS)
        [[ -n $mnt ]] || continue
        dir=$mnt${path%/}/nook-cri-${WORK##*.}
        mkdir "$dir"
        if [[ $ctrls == *cpuset* ]]; then
            cat "$(dirname "$dir")/cpuset.cpus" >"$dir/cpuset.cpus"
            cat "$(dirname "$dir")/cpuset.mems" >"$dir/cpuset.mems"
        fi
        LANE_CGROUPS+=("$dir")
    done </proc/self/cgroup
}
LEFTOVERS=0

ctr_() { timeout --foreground 120 ctr -a "$SOCK" -n k8s.io "$@"; }
crictl_() { timeout --foreground 120 "${IN_NS[@]}" "$CRICTL" -c "$WORK/crictl.yaml" "$@"; }

# remove_pods: stops and removes every pod (and so every container) the CRI plugin knows.
remove_pods() {
    local id
    for id in $(crictl_ pods -q 2>/dev/null); do
        crictl_ stopp "$id" >/dev/null 2>&1
        crictl_ rmp -f "$id" >/dev/null 2>&1
    done
    return 0
}

# leftover WHAT LIST: reports LIST (if not empty) as left behind.
leftover() {
    if [[ -n $2 ]]; then
        echo "cri: left behind: $1:"
        echo "$2" | sed 's/^/    /'
        LEFTOVERS=$((LEFTOVERS + 1))
    fi
}

cleanup() {
    local rc=$?
    set +e
    trap - INT TERM
    if [[ -n $CONTAINERD_PID ]]; then
        remove_pods
        kill "$CONTAINERD_PID" 2>/dev/null
        wait "$CONTAINERD_PID" 2>/dev/null
    fi
    # Shims (their command line names the work dir's socket) and anything else still running there.
    # containerd 1.6 puts a shim's socket in /run/containerd/s, named sha256(<address>/<namespace>/
    # <id>): a shim killed here leaves it behind.
    local sid shim_sockets=()
    for sid in $(pgrep -af "containerd-shim-runc-v2 .*-address $SOCK" | grep -o -- '-id [^ ]*' | cut -d' ' -f2); do
        shim_sockets+=("/run/containerd/s/$(printf '%s' "$SOCK/k8s.io/$sid" | sha256sum | cut -d' ' -f1)")
    done
    kill_workdir_processes
    rm -f "${shim_sockets[@]}"
    umount_workdir
    # The runtimes' state dirs: a runtime that left a container behind shows here.
    local h state
    for h in $HANDLERS; do
        # (The shim keeps one dir per containerd namespace there.)
        state=$(ls -A "$WORK/$h-root/k8s.io" 2>/dev/null)
        leftover "$h state in $WORK/$h-root" "$state"
    done
    # The lane's cgroup trees (pods', containers'), deepest first; first anything still in them
    # (the cleanup itself runs outside them).
    local tree dirs dir pid cgroups_left=
    for tree in "${LANE_CGROUPS[@]}"; do
        dirs=$(find "$tree" -type d 2>/dev/null | sort -r)
        for dir in $dirs; do
            for pid in $(cat "$dir/cgroup.procs" 2>/dev/null); do
                kill -9 "$pid" 2>/dev/null
            done
        done
        for dir in $dirs; do
            # A cgroup whose last process just died may take a moment to be removable.
            wait_for 10 rmdir "$dir" || true
        done
        [[ ! -d $tree ]] || cgroups_left+="$(find "$tree" -type d)"$'\n'
    done
    for dir in $(k8s_cgroups | grep -vxF "$K8S_CGROUPS_BEFORE"); do
        for pid in $(cat "$dir/cgroup.procs" 2>/dev/null); do
            kill -9 "$pid" 2>/dev/null
        done
        wait_for 10 rmdir "$dir" || true
        [[ ! -d $dir ]] || cgroups_left+="$dir"$'\n'
    done
    leftover cgroups "${cgroups_left%$'\n'}"
    # Shared memory segments critest's HostIpc specs make on the host with ipcmk (and never remove).
    local id
    for id in $(ipcs -m | awk '$2 ~ /^[0-9]+$/ {print $2}' | sort | comm -13 <(echo "$SHM_BEFORE") -); do
        ipcrm -m "$id" 2>/dev/null
    done
    # Pod network namespaces containerd made in /run/netns.
    local ns
    for ns in $(ls /run/netns 2>/dev/null | sort | comm -13 <(echo "$RUN_NETNS_BEFORE" | sort) -); do
        umount "/run/netns/$ns" 2>/dev/null
        rm -f "/run/netns/$ns"
        echo "cri: removed pod netns /run/netns/$ns"
    done
    umount "$NETNS" 2>/dev/null
    remove_run_containerd
    local cni_left
    cni_left=$(find /var/lib/cni/results -type f -newer "$WORK/started" \( -name 'nook-cri-*' -o -name 'cni-loopback-*' \) 2>/dev/null)
    # shellcheck disable=SC2086 # one file per word
    [[ -z $cni_left ]] || rm -f $cni_left
    [[ $CNI_DIR_EXISTED == 1 ]] || rmdir /var/lib/cni/results /var/lib/cni 2>/dev/null
    # The checks: nothing of ours mounted, running, or in /run/netns.
    leftover mounts "$(findmnt -rn -o TARGET | grep "^$WORK" || true)"
    leftover processes "$(pgrep -af "$WORK" | grep -v "^$$ " || true)"
    leftover "pod network namespaces" "$(ls /run/netns 2>/dev/null | sort | comm -13 <(echo "$RUN_NETNS_BEFORE" | sort) - || true)"
    leftover "CNI results in /var/lib/cni/results" "$cni_left"
    local sock sockets_left=
    for sock in "${shim_sockets[@]}"; do
        [[ ! -e $sock ]] || sockets_left+="$sock"$'\n'
    done
    leftover "shim sockets" "${sockets_left%$'\n'}"
    leftover "shared memory segments" "$(ipcs -m | awk '$2 ~ /^[0-9]+$/ {print $2}' | sort | comm -13 <(echo "$SHM_BEFORE") - || true)"
    if ((LEFTOVERS > 0)); then
        echo "cri: FAILED: $LEFTOVERS kinds of things left behind"
        [[ $rc != 0 ]] || rc=1
    else
        echo "cri: nothing left behind (mounts, processes, cgroups, netns, CNI results, shm, runtime state)"
    fi
    if [[ $KEEP == 1 ]]; then
        echo "kept $WORK"
    else
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

NOOK_CRI_DEBS=$OUT/debs "$CRI_DIR/images/build.sh" "$WORK/images" >"$WORK/logs/images.log" 2>&1 || {
    cat "$WORK/logs/images.log"
    exit 1
}

touch "$NETNS"
unshare --net="$NETNS" true
"${IN_NS[@]}" ip link set lo up

cat >"$WORK/cni/10-nook-cri.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "nook-cri",
  "plugins": [
    {"type": "bridge", "bridge": "nookcri0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
     "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.88.0.0/16"}]], "routes": [{"dst": "0.0.0.0/0"}],
              "dataDir": "$WORK/cni-ipam"}},
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF

# Pods ask for oom_score_adj -998 (the sandbox) or -997: lowering it needs CAP_SYS_RESOURCE, which
# some hosts (this project's CI machine among them) do not give even root. There, as for rootless
# containerd, the CRI plugin clamps the values to its own score.
restrict_oom=false
(((0x$(awk '/^CapEff/ {print $2}' /proc/self/status) >> 24) & 1)) || restrict_oom=true
{
    cat <<EOF
version = 2
root = "$WORK/root"
state = "$WORK/state"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]
[grpc]
  address = "$SOCK"
[ttrpc]
  address = "$SOCK.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$WORK/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "localhost/nook-cri/pause:1"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  restrict_oom_score_adj = $restrict_oom
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$WORK/cni"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "nook"
EOF
    for h in nook runc; do
        cat <<EOF
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.$h]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.$h.options]
        BinaryName = "${BINARY[$h]}"
        Root = "$WORK/$h-root"
EOF
    done
} >"$WORK/containerd.toml"

lane_cgroups
(
    for dir in "${LANE_CGROUPS[@]}"; do
        echo "$BASHPID" >"$dir/cgroup.procs"
    done
    # A session of its own: a ^C at the terminal stops the lane, whose cleanup still needs containerd.
    exec setsid "${IN_NS[@]}" containerd --config "$WORK/containerd.toml" --log-level debug
) >"$WORK/logs/containerd.log" 2>&1 &
CONTAINERD_PID=$!
wait_for 60 ctr -a "$SOCK" version || {
    tail -n 30 "$WORK/logs/containerd.log"
    exit 1
}
wait_for 60 crictl_ info
while read -r name file; do
    ctr_ images import "$WORK/images/$file" >/dev/null
    grep -qxF "$name" <<<"$(ctr_ images ls -q)" || {
        echo "cri: image $name missing after import"
        exit 1
    }
done <"$WORK/images/images.list"
echo "cri: containerd $(containerd --version | awk '{print $3}') in netns $NETNS, $(wc -l <"$WORK/images/images.list") images imported"

# 4. critest, then the crictl scenarios, per handler -------------------------------------------------

# shellcheck source-path=SCRIPTDIR source=scenarios.sh
source "$CRI_DIR/scenarios.sh"

declare -A CRITEST_PASSED CRITEST_FAILED CRITEST_FAILURES
run_critest() {
    local h=$1 log=$WORK/logs/critest-$1.log rc=0 args=()
    [[ -z $FOCUS ]] || args+=(-ginkgo.focus "$FOCUS")
    echo "cri: critest on $h (log: $log)"
    TMPDIR=$WORK/tmp timeout --foreground 1800 "${IN_NS[@]}" "$CRITEST" -runtime-endpoint "unix://$SOCK" \
        -image-endpoint "unix://$SOCK" -runtime-handler "$h" \
        -ginkgo.skip 'Image Manager' -ginkgo.no-color "${args[@]}" >"$log" 2>&1 || rc=$?
    local line
    line=$(grep -E '[0-9]+ Passed \| [0-9]+ Failed' "$log" | tail -n 1 || true)
    if [[ -z $line ]]; then
        echo "cri: critest on $h ended (status $rc) without a summary:"
        tail -n 30 "$log"
        CRITEST_PASSED[$h]=0
        CRITEST_FAILED[$h]=1
        CRITEST_FAILURES[$h]="critest did not finish (status $rc)"
        return 0
    fi
    CRITEST_PASSED[$h]=$(sed -E 's/.*[^0-9]([0-9]+) Passed.*/\1/' <<<"$line")
    CRITEST_FAILED[$h]=$(sed -E 's/.*[^0-9]([0-9]+) Failed.*/\1/' <<<"$line")
    CRITEST_FAILURES[$h]=$(sed -n '/Summarizing [0-9]* Failure/,$p' "$log" | grep -E '^\s*\[(FAIL|PANICKED|TIMEDOUT)\]' | sed 's/^\s*//' || true)
    echo "cri: critest on $h: ${CRITEST_PASSED[$h]} passed, ${CRITEST_FAILED[$h]} failed ($(grep -oE 'Ran [0-9]+ of [0-9]+ Specs in [0-9.]+ seconds' "$log" | tail -n 1))"
    [[ -z ${CRITEST_FAILURES[$h]} ]] || sed 's/^/    /' <<<"${CRITEST_FAILURES[$h]}"
    remove_pods
}

declare -A SC_PASSED SC_FAILED
status_all=0
for h in $HANDLERS; do
    CRITEST_PASSED[$h]=0
    CRITEST_FAILED[$h]=0
    [[ $RUN_CRITEST == 0 ]] || run_critest "$h"
    run_scenarios "$h"
    SC_PASSED[$h]=$PASSED
    SC_FAILED[$h]=$FAILED
    remove_pods
done

echo
for h in $HANDLERS; do
    total_passed=$((CRITEST_PASSED[$h] + SC_PASSED[$h]))
    total_failed=$((CRITEST_FAILED[$h] + SC_FAILED[$h]))
    echo "cri-$h: $total_passed passed, $total_failed failed" \
        "(critest ${CRITEST_PASSED[$h]}/$((CRITEST_PASSED[$h] + CRITEST_FAILED[$h])), crictl scenarios ${SC_PASSED[$h]}/$((SC_PASSED[$h] + SC_FAILED[$h])))"
    ((total_failed == 0)) || status_all=1
done
exit "$status_all"
