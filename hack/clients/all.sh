#!/usr/bin/env bash
# Runs the podman (as root and rootless), containerd and docker scenarios one after the other (same environment: RUNTIME, ONLY,
# KEEP); exits 1 if any of them failed.
set -euo pipefail
dir=$(dirname "$0")
rc=0
for engine in podman podman-rootless containerd docker; do
    "$dir/$engine.sh" || rc=1
done
exit "$rc"
