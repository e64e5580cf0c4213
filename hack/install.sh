#!/usr/bin/env bash
# hack/install.sh [BINARY] [DEST]: install nook read-only (as root).
#
# Copies BINARY (default: the release build) to DEST (default: /usr/local/bin/nook) and bind-mounts
# DEST read-only onto itself. A nook whose own image cannot be written through /proc/<pid>/exe
# needs no per-call protection against CVE-2019-5736: create, run and exec then skip the sealed
# re-exec they otherwise do (about 1.3 ms each here; src/security/exe.rs). The protection is the
# same either way: a container that reaches the runtime's exe gets EROFS when it tries to write.
#
# The bind mount lasts until reboot; after one, nook is back on a writable file and seals itself
# per call again (still safe, only slower). To keep it, add to /etc/fstab:
#     /usr/local/bin/nook /usr/local/bin/nook none bind,ro 0 0
set -euo pipefail
cd "$(dirname "$0")/.."

src=${1:-target/x86_64-unknown-linux-gnu/release/nook}
dest=${2:-/usr/local/bin/nook}

# An earlier install is still mounted over DEST (possibly more than once): lift it first.
while grep -q " $dest " /proc/self/mountinfo; do
    umount "$dest"
done
install -D -m 0755 "$src" "$dest"
mount --bind "$dest" "$dest"
mount -o remount,bind,ro "$dest"
echo "install: $dest (read-only bind mount)"

# The programs nook runs from next to itself for its rarer verbs (src/commands/views.rs):
# nook-views (top, monitor) and nook-criu (checkpoint, restore). They never enter a container;
# copied as they are.
for helper in nook-views nook-criu; do
    if [[ -x $(dirname "$src")/$helper ]]; then
        install -m 0755 "$(dirname "$src")/$helper" "$(dirname "$dest")/$helper"
        echo "install: $(dirname "$dest")/$helper"
    fi
done
