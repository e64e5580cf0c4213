#!/usr/bin/env bash
# Builds the cgroup v2 test VM's boot files into OUTDIR:
#   OUTDIR/vmlinuz          Debian's cloud kernel (copied from /boot)
#   OUTDIR/initramfs.cpio   busybox, nook (+ its shared libs), the optional test binary
#                           (+ its libs), hack/vm/init and hack/vm/checks.sh
#   OUTDIR/oci-suite.img    with --oci-suite: an ext4 image (attached as an NVMe drive, mounted
#                           read-only at /oci) holding the built OCI validation suite (stripped)
#                           and hack/oci-validation.sh with its expected-failures list; the
#                           initramfs then also gets bash, GNU rm and apparmor_parser (+ libs)
#                           and hack/vm/apparmor-profile, which the lane's script needs
# Installs what it needs (qemu-system-x86, linux-image-cloud-amd64, busybox-static, cpio)
# when missing. Idempotent: the staging tree is rebuilt from scratch on every call.
#
# usage: build-initramfs.sh [--oci-suite SUITE_DIR] OUTDIR NOOK_BINARY [TEST_BINARY]
#        build-initramfs.sh --install-only
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

log() { printf 'build-initramfs: %s\n' "$*" >&2; }

install_packages() {
    local missing=() pkg
    for pkg in qemu-system-x86 linux-image-cloud-amd64 busybox-static cpio; do
        if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
            missing+=("$pkg")
        fi
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        log "installing ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
}

# The newest installed cloud kernel.
find_kernel() {
    local k
    k=$(find /boot -maxdepth 1 -name 'vmlinuz-*-cloud-amd64' | sort -V | tail -n 1)
    if [ -z "$k" ]; then
        log "no /boot/vmlinuz-*-cloud-amd64 after installing linux-image-cloud-amd64"
        exit 1
    fi
    printf '%s\n' "$k"
}

# Copies the shared libraries (and the dynamic loader) that ldd lists for $1 into the
# staging tree at the same absolute paths.
copy_libs() {
    local bin=$1 stage=$2 lib
    if ! ldd "$bin" >/dev/null 2>&1; then
        return 0 # statically linked
    fi
    # Lines look like "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or
    # "/lib64/ld-linux-x86-64.so.2 (0x...)"; vdso has no path.
    # A static-pie passes the check above and lists nothing: no match is fine.
    ldd "$bin" | { grep -o '/[^ ]*' || true; } | while read -r lib; do
        if [ -e "$lib" ]; then
            mkdir -p "$stage$(dirname "$lib")"
            cp -L "$lib" "$stage$lib"
        fi
    done
}

# The OCI validation lane's drive: the suite's programs (static Go, debug info stripped: 58
# programs of 3.6 MB would be 210 MB), runtimetest, the rootfs tarball, and the lane's own
# script and expected-failures list, in an ext4 image so the initramfs stays small (the VM's
# init copies the initramfs once more onto a tmpfs).
build_oci_image() {
    local suite=$1 img=$2 dir f name size_mb
    local repo_hack
    repo_hack=$(cd "$here/.." && pwd)
    dir=$out/oci-stage
    rm -rf "$dir"
    mkdir -p "$dir/suite/validation" "$dir/hack/oci-validation"
    for f in "$suite"/validation/*/*.t; do
        name=$(basename "$f" .t)
        [ "$(basename "$(dirname "$f")")" = "$name" ] || continue
        if ! file -b "$f" | grep -q 'statically linked'; then
            log "$f is not statically linked: the VM has no libc for it (build it with CGO_ENABLED=0)"
            exit 1
        fi
        mkdir -p "$dir/suite/validation/$name"
        strip -o "$dir/suite/validation/$name/$name.t" "$f"
    done
    strip -o "$dir/suite/runtimetest" "$suite/runtimetest"
    cp "$suite/rootfs-amd64.tar.gz" "$dir/suite/"
    install -m 755 "$repo_hack/oci-validation.sh" "$dir/hack/oci-validation.sh"
    install -m 644 "$repo_hack/oci-validation/expected-failures" "$dir/hack/oci-validation/"
    size_mb=$(($(du -sm "$dir" | cut -f1) * 5 / 4 + 16))
    rm -f "$img"
    mke2fs -q -t ext4 -O ^has_journal -L nook-oci -E root_owner=0:0 -d "$dir" "$img" "${size_mb}M" >/dev/null
    rm -rf "$dir"
    log "OCI validation suite: $(ls "$suite"/validation/*/*.t | wc -l) files, image $img ${size_mb} MB"
}

# apparmor_parser from Debian's apparmor package, unpacked into OUTDIR (not installed on the
# host, which has AppArmor off).
find_apparmor_parser() {
    local dir=$out/apparmor deb
    if [ ! -x "$dir/sbin/apparmor_parser" ] && [ ! -x "$dir/usr/sbin/apparmor_parser" ]; then
        rm -rf "$dir" && mkdir -p "$dir/deb"
        log "fetching the apparmor package for apparmor_parser"
        (cd "$dir/deb" && apt-get download -q apparmor >/dev/null)
        deb=$(find "$dir/deb" -name 'apparmor_*.deb' | head -n 1)
        [ -n "$deb" ] || { log "apt-get download apparmor failed"; exit 1; }
        dpkg-deb -x "$deb" "$dir"
    fi
    if [ -x "$dir/sbin/apparmor_parser" ]; then
        printf '%s\n' "$dir/sbin/apparmor_parser"
    else
        printf '%s\n' "$dir/usr/sbin/apparmor_parser"
    fi
}

if [ "${1:-}" = "--install-only" ]; then
    install_packages
    exit 0
fi

oci_suite=""
if [ "${1:-}" = "--oci-suite" ]; then
    oci_suite=${2:?--oci-suite needs the suite directory}
    shift 2
fi
if [ "$#" -lt 2 ] || [ "$#" -gt 3 ]; then
    echo "usage: $0 [--oci-suite SUITE_DIR] OUTDIR NOOK_BINARY [TEST_BINARY] | --install-only" >&2
    exit 2
fi
out=$1
nook=$2
testbin=${3:-}

install_packages

[ -x "$nook" ] || { log "nook binary $nook is not executable"; exit 1; }
if [ -n "$testbin" ] && [ ! -x "$testbin" ]; then
    log "test binary $testbin is not executable"
    exit 1
fi

mkdir -p "$out"
stage="$out/stage"
rm -rf "$stage"
mkdir -p "$stage"

# Merged-/usr layout like the host, so ldd's paths (/lib/..., /lib64/...) land right.
mkdir -p "$stage"/usr/{bin,sbin,lib,lib64,local/bin,local/lib/nook-vm}
ln -s usr/bin "$stage/bin"
ln -s usr/sbin "$stage/sbin"
ln -s usr/lib "$stage/lib"
ln -s usr/lib64 "$stage/lib64"
mkdir -p "$stage"/{dev,proc,sys,run,tmp,root,etc,newroot}
chmod 1777 "$stage/tmp"

# Console nodes: the kernel opens /dev/console for init before anything is mounted.
mknod -m 600 "$stage/dev/console" c 5 1
mknod -m 666 "$stage/dev/null" c 1 3

# busybox: the VM's userland and the tests' container rootfs source (/bin/busybox).
cp /bin/busybox "$stage/usr/bin/busybox"
while read -r applet; do
    case "$applet" in
        busybox | "") ;;
        *) [ -e "$stage/usr/bin/$applet" ] || ln -s busybox "$stage/usr/bin/$applet" ;;
    esac
done < <(/bin/busybox --list)
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$stage/etc/passwd"
printf 'root:x:0:\n' >"$stage/etc/group"

# nook at /usr/local/bin/nook; the tests tell nook from runc by the file name.
cp "$nook" "$stage/usr/local/bin/nook"
copy_libs "$nook" "$stage"
# The programs nook runs from next to itself (top/monitor, checkpoint/restore), when built.
for helper in nook-views nook-criu; do
    if [ -x "$(dirname "$nook")/$helper" ]; then
        cp "$(dirname "$nook")/$helper" "$stage/usr/local/bin/$helper"
        copy_libs "$(dirname "$nook")/$helper" "$stage"
    fi
done

if [ -n "$testbin" ]; then
    # Debug info is most of a debug test binary's size and is not needed to run it.
    if command -v objcopy >/dev/null; then
        objcopy --strip-debug "$testbin" "$stage/usr/local/lib/nook-vm/oci-integration"
    else
        cp "$testbin" "$stage/usr/local/lib/nook-vm/oci-integration"
    fi
    chmod 755 "$stage/usr/local/lib/nook-vm/oci-integration"
    copy_libs "$testbin" "$stage"
fi

if [ -n "$oci_suite" ]; then
    build_oci_image "$oci_suite" "$out/oci-suite.img"
    # hack/oci-validation.sh is bash and removes its bundles with `rm --one-file-system`,
    # which busybox's rm lacks; the suite unpacks its rootfs with `tar -xf rootfs.tar.gz`,
    # which busybox's tar refuses (no compression detection; GNU tar runs `gzip -d`).
    cp /bin/bash "$stage/usr/bin/bash"
    copy_libs /bin/bash "$stage"
    for tool in rm tar; do
        rm -f "$stage/usr/bin/$tool"
        cp "/bin/$tool" "$stage/usr/bin/$tool"
        copy_libs "/bin/$tool" "$stage"
    done
    # The AppArmor file loads the profile it names; apparmor_parser loads it in the VM.
    apparmor_parser=$(find_apparmor_parser)
    cp "$apparmor_parser" "$stage/usr/sbin/apparmor_parser"
    copy_libs "$apparmor_parser" "$stage"
    install -m 644 "$here/apparmor-profile" "$stage/usr/local/lib/nook-vm/apparmor-profile"
    mkdir -p "$stage/etc/apparmor"
    : >"$stage/etc/apparmor/parser.conf"
fi

install -m 755 "$here/init" "$stage/init"
install -m 755 "$here/checks.sh" "$stage/usr/local/lib/nook-vm/checks.sh"

kernel=$(find_kernel)
cp "$kernel" "$out/vmlinuz"

# Uncompressed: the kernel unpacks it faster than it would inflate it, which matters
# without KVM.
(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet) >"$out/initramfs.cpio.tmp"
mv "$out/initramfs.cpio.tmp" "$out/initramfs.cpio"
rm -rf "$stage"
log "kernel $(basename "$kernel"), initramfs $(du -h "$out/initramfs.cpio" | cut -f1) in $out"
