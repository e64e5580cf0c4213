#!/usr/bin/env bash
# The systemd lane: boots a Debian bookworm VM (root filesystem from debootstrap, cached) with
# systemd as PID 1 on a pure cgroup2 hierarchy and runs, with --systemd-cgroup, the lane's checks
# (hack/vm/systemd/checks.sh) and the OCI integration tests inside it. Prints PASS/FAIL lines and
# `systemd-lane: N passed, M failed`; exits 0 only if every result passed. See hack/vm/README.md.
#
# Environment (all optional):
#   NOOK_VM_OUT      work dir (root image cache, logs)  (default: target/systemd-vm)
#   NOOK_VM_NOOK     nook binary to test                (default: cargo build --release)
#   NOOK_VM_TESTBIN  integration test binary, or "none" (default: cargo test --no-run)
#   NOOK_VM_FILTER   run only integration tests whose name contains this
#   NOOK_VM_SKIP     skip integration tests whose name contains any of these (comma-separated)
#   NOOK_VM_TIMEOUT  seconds for the whole VM run       (default: 900 + NOOK_VM_PODMAN_TIMEOUT;
#                    the tests get 150 s and podman's time less)
#   NOOK_VM_ACCEL    tcg | kvm                          (default: tcg, see README)
#   NOOK_VM_MEM      guest memory                       (default: 1536M)
#   NOOK_VM_DEBUG    1: the kernel's and systemd's whole boot output on the console
#   NOOK_VM_PODMAN   1: podman's scenarios (hack/clients/podman.sh) with cgroup_manager=systemd
#                    on nook after the tests; 0: not                   (default: 1)
#   NOOK_VM_PODMAN_TIMEOUT  seconds for those                          (default: 450)
set -euo pipefail

start=$(date +%s)
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=${NOOK_VM_OUT:-$repo/target/systemd-vm}
podman=${NOOK_VM_PODMAN:-1}
podman_timeout=0
[ "$podman" = 1 ] && podman_timeout=${NOOK_VM_PODMAN_TIMEOUT:-450}
timeout_s=${NOOK_VM_TIMEOUT:-$((900 + podman_timeout))}
mem=${NOOK_VM_MEM:-1536M}

log() { printf 'systemd-lane: %s\n' "$*" >&2; }

mkdir -p "$out"
# qemu and the cloud kernel, as the cgroup v2 lane uses them.
"$here/build-initramfs.sh" --install-only

cd "$repo"
# shellcheck source=lib.sh
source "$here/lib.sh"
build_binaries
build_done=$(date +%s)

"$here/systemd/build-rootfs.sh" "$out"
rootfs_done=$(date +%s)

kernel=$(find /boot -maxdepth 1 -name 'vmlinuz-*-cloud-amd64' | sort -V | tail -n 1)
[ -n "$kernel" ] || { log "no /boot/vmlinuz-*-cloud-amd64"; exit 1; }

# The tests inside stop 150 s (boot, checks, shutdown) and podman's time before the host gives
# up, to still report.
test_timeout=$((timeout_s - 150 - podman_timeout))
[ "$test_timeout" -ge 60 ] || test_timeout=60
# Tests that do not apply here, each for a reason:
# - tty::, the console tests and the fake manager's test start python3 (hack/recvtty.py,
#   hack/systemd/fake-systemd.py), which this root filesystem lacks; the fake manager's job is
#   what the real one does here;
# - rootless:: runs nook as an unprivileged user, whose --systemd-cgroup would need a user
#   manager (systemd --user) with a session: the payload runs rootless:: on its own after the
#   suite, without --systemd-cgroup (a delegated cgroup2 subtree instead).
skip=${NOOK_VM_SKIP-tty::,security::console_symlink,security::dev_pts_and_ptmx,exec::exec_with_a_process_file_applies_console_size,systemd::systemd_cgroup_scope_lifecycle_against_a_fake_manager,rootless::}

# The payload drive: nook, the test binary (debug info stripped), the scripts and settings.
stage=$out/payload
rm -rf "$stage"
mkdir -p "$stage"
install -m 755 "$nook" "$stage/nook"
# The programs nook runs from next to itself (top/monitor, checkpoint/restore), when built.
for helper in nook-views nook-criu; do
    if [ -x "$(dirname "$nook")/$helper" ]; then
        install -m 755 "$(dirname "$nook")/$helper" "$stage/$helper"
    fi
done
if [ -n "$testbin" ]; then
    objcopy --strip-debug "$testbin" "$stage/oci-integration"
    chmod 755 "$stage/oci-integration"
fi
install -m 755 "$here/systemd/run-in-vm.sh" "$stage/run.sh"
install -m 755 "$here/systemd/checks.sh" "$stage/checks.sh"
if [ "$podman" = 1 ]; then
    mkdir -p "$stage/hack"
    cp -r "$repo/hack/clients" "$stage/hack/"
    install -m 755 "$repo/hack/mkrootfs.sh" "$repo/hack/ptyrun.py" "$stage/hack/"
fi
{
    printf 'filter=%q\n' "${NOOK_VM_FILTER:-}"
    printf 'skip=%q\n' "$skip"
    printf 'timeout=%q\n' "$test_timeout"
    printf 'podman=%q\n' "$podman"
    printf 'podman_timeout=%q\n' "$podman_timeout"
} >"$stage/settings.env"
size_mb=$(($(du -sm "$stage" | cut -f1) * 5 / 4 + 16))
rm -f "$out/payload.img"
mke2fs -q -t ext4 -O ^has_journal -L nook-payload -E root_owner=0:0 -d "$stage" "$out/payload.img" "${size_mb}M" >/dev/null
rm -rf "$stage"

# Software emulation by default: the machines here are VMs whose nested /dev/kvm does not
# work with qemu (see README).
accel=${NOOK_VM_ACCEL:-tcg}
case "$accel" in
    kvm) accel_args=(-accel kvm -cpu host) ;;
    tcg) accel_args=(-accel tcg -cpu max) ;;
    *) log "NOOK_VM_ACCEL must be kvm or tcg, not $accel"; exit 2 ;;
esac

# systemd as PID 1 from the root image (the cloud kernel has NVMe and ext4 built in, so no
# initramfs), on cgroup2 only. The root image is written through a snapshot (qemu discards the
# writes), so every run boots the same filesystem.
cmdline="console=ttyS0 root=/dev/nvme0n1 rootfstype=ext4 rw rootwait init=/lib/systemd/systemd"
cmdline+=" systemd.unified_cgroup_hierarchy=1 panic=-1"
if [ "${NOOK_VM_DEBUG:-0}" = 1 ]; then
    cmdline+=" systemd.show_status=1 systemd.log_level=info"
else
    cmdline+=" quiet loglevel=3 systemd.show_status=error"
fi
console=$out/console.log
results=$out/results.log
rm -f "$console" "$results"
log "booting ($accel, $mem, 2 cpus, timeout ${timeout_s} s); console follows"
boot_start=$(date +%s)
rc=0
timeout -k 10 "$timeout_s" qemu-system-x86_64 \
    "${accel_args[@]}" -smp 2 -m "$mem" \
    -kernel "$kernel" -append "$cmdline" \
    -drive "file=$out/root.img,if=none,id=root,format=raw,snapshot=on" \
    -drive "file=$out/payload.img,if=none,id=payload,format=raw,readonly=on" \
    -device nvme,id=nvme0,serial=nook-systemd \
    -device nvme-ns,drive=root,bus=nvme0,nsid=1 \
    -device nvme-ns,drive=payload,bus=nvme0,nsid=2 \
    -display none -monitor none -no-reboot -nodefaults -vga none \
    -serial stdio -serial "file:$results" \
    </dev/null 2>&1 | tee "$console" || rc=$?
end=$(date +%s)

if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
    log "TIMEOUT: the VM did not finish within ${timeout_s} s"
fi
clean() { tr -d '\r' <"$results"; }
[ -s "$results" ] || results=$console
summary=$(clean | grep -E '^systemd-lane: [0-9]+ passed, [0-9]+ failed$' | tail -n 1 || true)
npass=$(clean | grep -c '^PASS ' || true)
nfail=$(clean | grep -c '^FAIL ' || true)

echo
echo "=== systemd-lane results ==="
clean | grep -E '^FAIL |^systemd-lane: (boot|checks took|integration tests took|podman scenarios took|[0-9]+ integration tests skipped)|^  SKIP ' || true
echo "build $((build_done - start)) s, root filesystem $((rootfs_done - build_done)) s, VM $((end - boot_start)) s, total wall time $((end - start)) s"
if [ -z "$summary" ]; then
    log "no summary line from the VM (crashed or timed out); $npass PASS and $nfail FAIL lines seen"
    echo "systemd-lane: $npass passed, $((nfail + 1)) failed"
    exit 1
fi
echo "$summary"
if [ "$nfail" -ne 0 ] || ! [[ "$summary" =~ ' 0 failed'$ ]] || [ "$npass" -eq 0 ]; then
    exit 1
fi
