#!/usr/bin/env bash
# Bridge networking for nook bundles with Debian's CNI plugins, called from nook's hooks
# (hack/cni/hook.sh: createRuntime adds, poststop deletes). Two containers on one bridge ping
# each other by address; once both are deleted no veth, address lease or bridge is left.
# Everything happens in a network namespace this script makes (and removes): no traffic and
# no interface outside it.
#
#   NOOK=/path/to/nook   the binary to test (default: the release build, else the debug one)
#   KEEP=1               leave the work directory in place
# Run as root. Exit status non-zero on any failure.
set -euo pipefail

# shellcheck source=hack/clients/lib.sh
source "$(dirname "$0")/../clients/lib.sh"
need_root

target=$REPO_DIR/target/x86_64-unknown-linux-gnu
NOOK=${NOOK:-$([[ -x $target/release/nook ]] && echo "$target/release/nook" || echo "$target/debug/nook")}
export NOOK
fail() { echo "FAIL cni: $*" >&2; exit 1; }

# Outside: make the namespace, run this script again inside it, remove it.
if [[ ${1:-} != --inside ]]; then
    [[ -x $NOOK ]] || fail "no nook binary at $NOOK (cargo build first)"
    ensure_pkg /usr/lib/cni/bridge containernetworking-plugins
    ensure_pkg jq jq
    ensure_pkg /bin/busybox busybox-static
    ns=nook-cni-$$
    ip netns add "$ns"
    trap 'ip netns del "$ns" 2>/dev/null || true' EXIT
    rc=0
    # nsenter rather than `ip netns exec`, which remounts /sys and so hides the cgroup mounts.
    nsenter --net="/run/netns/$ns" "$0" --inside || rc=$?
    # The bridge and the veths lived in that namespace only.
    if ip link show nookbr0 >/dev/null 2>&1; then
        fail "a bridge nookbr0 appeared outside the test's namespace"
    fi
    exit "$rc"
fi

WORK=$(mktemp -d /tmp/nook-cni.XXXXXX)
ROOT=$WORK/state
cleanup() {
    local rc=$?
    set +e
    for id in cni-a cni-b; do "$NOOK" --root "$ROOT" delete --force "$id" >/dev/null 2>&1; done
    if [[ $KEEP == 1 ]]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
    exit "$rc"
}
trap cleanup EXIT
nook() { "$NOOK" --root "$ROOT" "$@"; }
ip link set lo up

# The network: a bridge with a /24; host-local keeps its leases under this run's work dir.
cat >"$WORK/net.json" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "nook-cni-test",
  "type": "bridge",
  "bridge": "nookbr0",
  "isGateway": false,
  "ipMasq": false,
  "ipam": {
    "type": "host-local",
    "ranges": [[{"subnet": "10.89.0.0/24"}]],
    "dataDir": "$WORK/ipam"
  }
}
EOF

# One bundle: busybox sleeping, a network namespace of its own (the default spec has one),
# CAP_NET_RAW for ping, and the two hooks.
mkdir -p "$WORK/bundle"
"$REPO_DIR/hack/mkrootfs.sh" "$WORK/bundle/rootfs" >/dev/null
(cd "$WORK/bundle" && "$NOOK" spec)
python3 - "$WORK/bundle/config.json" "$REPO_DIR/hack/cni/hook.sh" "$WORK/net.json" <<'EOF'
import json, sys
path, hook, net = sys.argv[1:]
c = json.load(open(path))
c["process"]["args"] = ["sleep", "3600"]
c["process"]["terminal"] = False
for s in ("bounding", "effective", "permitted"):
    c["process"]["capabilities"][s].append("CAP_NET_RAW")
assert any(n["type"] == "network" for n in c["linux"]["namespaces"])
c["hooks"] = {
    "createRuntime": [{"path": hook, "args": ["hook.sh", "add", net], "timeout": 30}],
    "poststop": [{"path": hook, "args": ["hook.sh", "del", net], "timeout": 30}],
}
json.dump(c, open(path, "w"), indent=2)
EOF

addr_of() {
    nook exec "$1" ip -4 -o addr show dev eth0 | awk '{print $4}' | cut -d/ -f1
}
for id in cni-a cni-b; do
    nook create --bundle "$WORK/bundle" "$id" </dev/null >/dev/null 2>"$WORK/$id.create.log" ||
        fail "create $id: $(cat "$WORK/$id.create.log")"
    nook start "$id"
done
a=$(addr_of cni-a)
b=$(addr_of cni-b)
echo "cni-a: $a, cni-b: $b"
[[ $a == 10.89.0.* && $b == 10.89.0.* && $a != "$b" ]] || fail "addresses: cni-a '$a', cni-b '$b'"
[[ $(ip -o link show master nookbr0 | wc -l) == 2 ]] || fail "not two veths on nookbr0: $(ip -o link show master nookbr0)"
ls "$WORK/ipam/nook-cni-test/$a" "$WORK/ipam/nook-cni-test/$b" >/dev/null || fail "no leases for $a and $b"

nook exec cni-a ping -c 3 -W 2 "$b" || fail "cni-a cannot reach cni-b at $b"
nook exec cni-b ping -c 3 -W 2 "$a" || fail "cni-b cannot reach cni-a at $a"
# Each sees the other's traffic on its own eth0 (the counters the monitor shows).
rx=$(nook events --stats cni-b | jq '[.data.network_interfaces[] | select(.Name == "eth0") | .RxPackets] | add')
[[ $rx -ge 3 ]] || fail "cni-b's eth0 counted $rx packets in"

# Delete one: its lease goes, the bridge stays for the other.
nook delete --force cni-a
[[ ! -e $WORK/ipam/nook-cni-test/$a ]] || fail "lease of $a left after deleting cni-a"
ip link show nookbr0 >/dev/null || fail "the bridge went while cni-b is still on it"
[[ $(ip -o link show master nookbr0 | wc -l) == 1 ]] || fail "cni-a's veth left: $(ip -o link show master nookbr0)"
nook delete --force cni-b

# Leak checks: no veth, no bridge, no lease (host-local keeps only its lock and last-reserved files).
left=$(ip -o link show type veth)
[[ -z $left ]] || fail "veths left: $left"
! ip link show nookbr0 >/dev/null 2>&1 || fail "bridge nookbr0 left"
leases=$(find "$WORK/ipam" -type f ! -name lock ! -name 'last_reserved_ip.*' -printf '%f\n')
[[ -z $leases ]] || fail "leases left: $leases"
[[ -z $(nook list -q) ]] || fail "containers left: $(nook list -q)"
echo "PASS cni: cni-a ($a) and cni-b ($b) pinged each other over nookbr0; nothing left"
