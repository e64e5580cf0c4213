#!/bin/bash
# An OCI hook that puts a container on a bridge with Debian's CNI plugins
# (containernetworking-plugins: loopback, bridge, host-local), as podman does:
#
#   createRuntime: hook.sh add NETCONF   the init's network namespace gets lo up and eth0, a veth
#                                        whose other end is on NETCONF's bridge, with an address
#                                        leased by host-local
#   poststop:      hook.sh del NETCONF   the lease is released (the veth went with the namespace),
#                                        and the bridge is removed once nothing is on it
#
# NETCONF is a CNI network config of type "bridge" (hack/cni/test.sh writes one). The runtime
# passes the container's state JSON on stdin (id, pid); hooks get no environment of their own,
# hence PATH here. Logs to stderr, which nook shows when the hook fails.
set -euo pipefail
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
cmd=${1:?usage: hook.sh add|del NETCONF}
conf=${2:?usage: hook.sh add|del NETCONF}
state=$(cat)
id=$(jq -er .id <<<"$state")
pid=$(jq -r '.pid // 0' <<<"$state")
bridge=$(jq -er .bridge "$conf")

export CNI_PATH=${CNI_PATH:-/usr/lib/cni}
export CNI_CONTAINERID=$id CNI_IFNAME=eth0
# One container's hook at a time: the bridge is shared.
exec 9>"$conf.lock"
flock 9

case $cmd in
add)
    export CNI_COMMAND=ADD CNI_NETNS=/proc/$pid/ns/net
    CNI_IFNAME=lo "$CNI_PATH/loopback" >/dev/null <<<'{"cniVersion": "1.0.0", "name": "lo", "type": "loopback"}'
    if ! result=$("$CNI_PATH/bridge" <"$conf"); then
        echo "cni: bridge ADD for $id failed: $result" >&2
        exit 1
    fi
    echo "cni: $id: $(jq -c '[.ips[].address]' <<<"$result") on $bridge" >&2
    ;;
del)
    # The init is gone and its network namespace with it (and so the container's end of the
    # veth and the other end too): an empty CNI_NETNS tells the plugin to release the lease and
    # leave the namespace alone.
    export CNI_COMMAND=DEL CNI_NETNS=
    "$CNI_PATH/bridge" <"$conf" >/dev/null
    if ip link show "$bridge" >/dev/null 2>&1 && [[ -z $(ip -o link show master "$bridge") ]]; then
        ip link del "$bridge"
    fi
    ;;
*)
    echo "usage: hook.sh add|del NETCONF" >&2
    exit 1
    ;;
esac
