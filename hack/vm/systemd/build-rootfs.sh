#!/usr/bin/env bash
# Builds the systemd lane's root filesystem image (see hack/vm/README.md, "systemd lane"):
#   OUTDIR/rootfs/      debootstrap --variant=minbase bookworm + the packages in ./packages,
#                       from the mirror apt uses; rebuilt only when that list changes
#   OUTDIR/root.img     an ext4 image of it (mke2fs -d, no loop mount) with the lane's files
#                       from ./rootfs-files and the cloud kernel's modules added; rebuilt when
#                       the list, the kernel, this script or those files change
# The VM boots root.img read-write with qemu's snapshot=on, so the image itself never changes.
# Installs debootstrap when missing. Needs root (debootstrap chroots).
#
# usage: build-rootfs.sh OUTDIR
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=${1:?usage: build-rootfs.sh OUTDIR}

log() { printf 'systemd-rootfs: %s\n' "$*" >&2; }

# The first deb822 or one-line source of the main archive that apt itself uses.
mirror() {
    local m
    m=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
        awk '/^URIs:/ {u=$2} /^Suites:/ && / bookworm( |$)/ && u {print u; exit}')
    [ -n "$m" ] || m=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
        awk '$1 == "deb" && $3 == "bookworm" {print $2; exit}')
    printf '%s\n' "${m:-http://deb.debian.org/debian}"
}

packages=$(grep -v '^#' "$here/packages" | grep -v '^ *$' | tr '\n' ',' | sed 's/,$//')
rootfs_key=$(printf '%s\n' "$packages" | sha256sum | cut -c1-16)
mkdir -p "$out"

if [ "$(cat "$out/rootfs.key" 2>/dev/null)" != "$rootfs_key" ]; then
    if ! command -v debootstrap >/dev/null; then
        log "installing debootstrap"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
    fi
    url=$(mirror)
    log "debootstrap bookworm from $url (minbase + $packages); the first run takes minutes"
    t0=$(date +%s)
    rm -rf "$out/rootfs.new" "$out/rootfs" "$out/rootfs.key" "$out/root.img" "$out/root.key"
    debootstrap --variant=minbase --include="$packages" bookworm "$out/rootfs.new" "$url" \
        >"$out/debootstrap.log" 2>&1 || {
        tail -n 30 "$out/debootstrap.log" >&2
        log "debootstrap failed (whole log: $out/debootstrap.log)"
        exit 1
    }
    # Not needed in a throwaway VM: apt's package cache and lists.
    rm -rf "$out/rootfs.new"/var/cache/apt/archives/*.deb "$out/rootfs.new"/var/lib/apt/lists/*
    mv "$out/rootfs.new" "$out/rootfs"
    printf '%s\n' "$rootfs_key" >"$out/rootfs.key"
    log "debootstrap took $(($(date +%s) - t0)) s, $(du -sh "$out/rootfs" | cut -f1)"
fi

# The modules of the kernel the VM boots (Debian's cloud kernel, as the cgroup v2 lane's):
# overlay, for one, is a module there.
kver=$(find /boot -maxdepth 1 -name 'vmlinuz-*-cloud-amd64' | sort -V | tail -n 1 | sed 's|.*/vmlinuz-||')
[ -n "$kver" ] && [ -d "/lib/modules/$kver" ] || { log "no cloud kernel with modules in /boot, /lib/modules"; exit 1; }

# The image's key: the package list, the kernel, this script and every file the lane adds to
# the root filesystem.
img_key=$( (printf '%s %s\n' "$rootfs_key" "$kver"; sha256sum <"$0"; cd "$here/rootfs-files" && find . -type f -o -type l |
    LC_ALL=C sort | while read -r f; do printf '%s ' "$f"; if [ -L "$f" ]; then readlink "$f"; else sha256sum <"$f"; fi; done) |
    sha256sum | cut -c1-16)
if [ "$(cat "$out/root.key" 2>/dev/null)" != "$img_key" ] || [ ! -s "$out/root.img" ]; then
    t0=$(date +%s)
    stage=$out/rootfs
    # The lane's files (units, fstab, hostname...), copied over the debootstrapped tree.
    cp -a --no-preserve=ownership "$here/rootfs-files/." "$stage/"
    # Units the lane does not want: no getty on the serial consoles (they would write over the
    # results), nothing waiting for devices that no udev announces.
    for unit in getty.target serial-getty@.service getty@.service console-getty.service \
        systemd-timesyncd.service apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer \
        e2scrub_reap.service fstrim.timer dpkg-db-backup.timer systemd-networkd-wait-online.service; do
        ln -sfn /dev/null "$stage/etc/systemd/system/$unit"
    done
    mkdir -p "$stage/etc/systemd/system/multi-user.target.wants"
    ln -sfn /etc/systemd/system/vm-lane.service \
        "$stage/etc/systemd/system/multi-user.target.wants/vm-lane.service"
    rm -rf "$stage/lib/modules" && mkdir -p "$stage/lib/modules"
    cp -a "/lib/modules/$kver" "$stage/lib/modules/"
    # root with no password (the console has no getty anyway).
    sed -i 's/^root:[^:]*:/root::/' "$stage/etc/shadow"
    size_mb=$(($(du -sm "$stage" | cut -f1) * 3 / 2 + 512))
    rm -f "$out/root.img"
    mke2fs -q -t ext4 -L nook-root -E root_owner=0:0 -d "$stage" "$out/root.img" "${size_mb}M" >/dev/null
    printf '%s\n' "$img_key" >"$out/root.key"
    log "root image $out/root.img (${size_mb} MB, sparse) built in $(($(date +%s) - t0)) s"
fi
