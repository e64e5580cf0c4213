#!/usr/bin/env bash
# The cgroup v2 lane: boots a small VM on a pure cgroup v2 hierarchy and runs nook's cgroup
# checks and OCI integration tests inside it, then the OCI validation lane
# (hack/oci-validation.sh, `vm` column of its expected-failures). Exits 0 only if every result
# passed and the validation lane had no unexpected result. See hack/vm/README.md.
#
# Environment (all optional):
#   NOOK_VM_OUT      work dir                          (default: target/vm)
#   NOOK_VM_NOOK     nook binary to test               (default: cargo build --release)
#   NOOK_VM_TESTBIN  integration test binary, or "none" (default: cargo test --no-run)
#   NOOK_VM_FILTER   run only integration tests whose name contains this
#   NOOK_VM_SKIP     skip integration tests whose name contains any of these (comma-separated)
#   NOOK_VM_TIMEOUT  seconds for the whole VM run    (default: 600 + NOOK_VM_OCI_TIMEOUT;
#                    the integration tests get this - 90 - NOOK_VM_OCI_TIMEOUT)
#   NOOK_VM_OCI      1: run the OCI validation lane in the VM too; 0: don't (default: 1)
#   NOOK_VM_OCI_SUITE   a built suite (default: OCI_VALIDATION_BUILD_ONLY=1 hack/oci-validation.sh)
#   NOOK_VM_OCI_ONLY    space-separated validation files to run (default: all)
#   NOOK_VM_OCI_TIMEOUT seconds for the whole validation run in the VM (default: 600)
#   NOOK_VM_ACCEL    tcg | kvm                         (default: tcg)
#   NOOK_VM_MEM      guest memory                      (default: 1536M)
set -euo pipefail

start=$(date +%s)
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=${NOOK_VM_OUT:-$repo/target/vm}
oci=${NOOK_VM_OCI:-1}
oci_timeout=0
[ "$oci" = 1 ] && oci_timeout=${NOOK_VM_OCI_TIMEOUT:-600}
timeout_s=${NOOK_VM_TIMEOUT:-$((600 + oci_timeout))}
mem=${NOOK_VM_MEM:-1536M}

log() { printf 'vm-lane: %s\n' "$*" >&2; }

mkdir -p "$out"
"$here/build-initramfs.sh" --install-only

cd "$repo"
# shellcheck source=lib.sh
source "$here/lib.sh"
build_binaries
oci_args=()
drive_args=()
if [ "$oci" = 1 ]; then
    suite=${NOOK_VM_OCI_SUITE:-}
    if [ -z "$suite" ]; then
        log "building the OCI validation suite (if not built)"
        suite=$(OCI_VALIDATION_BUILD_ONLY=1 "$repo/hack/oci-validation.sh")
    fi
    oci_args=(--oci-suite "$suite")
    # The suite's drive, read-only (the VM mounts it at /oci); NVMe because the cloud kernel
    # has its driver built in (virtio-blk is a module).
    drive_args=(-drive "file=$out/oci-suite.img,if=none,id=oci,format=raw,readonly=on"
        -device nvme,drive=oci,serial=nook-oci)
fi
build_done=$(date +%s)

"$here/build-initramfs.sh" ${oci_args[@]+"${oci_args[@]}"} "$out" "$nook" ${testbin:+"$testbin"}

# Software emulation by default: this project's machines are themselves VMs, and their
# nested /dev/kvm is not usable (qemu aborts on MSR 0x10a with -cpu host, hangs with others).
accel=${NOOK_VM_ACCEL:-tcg}
case "$accel" in
    kvm) accel_args=(-accel kvm -cpu host) ;;
    tcg) accel_args=(-accel tcg -cpu max) ;;
    *) log "NOOK_VM_ACCEL must be kvm or tcg, not $accel"; exit 2 ;;
esac

# The VM stops the tests itself 90 s before the host gives up, to still report.
test_timeout=$((timeout_s - 90 - oci_timeout))
[ "$test_timeout" -ge 60 ] || test_timeout=60
cmdline="console=ttyS0 panic=-1 quiet loglevel=3 rdinit=/init psi=1 nook.timeout=$test_timeout"
[ -n "${NOOK_VM_FILTER:-}" ] && cmdline+=" nook.filter=$NOOK_VM_FILTER"
if [ "$oci" = 1 ]; then
    cmdline+=" nook.oci=1 nook.oci_timeout=$oci_timeout"
    [ -n "${NOOK_VM_OCI_ONLY:-}" ] && cmdline+=" nook.oci_only=$(echo "$NOOK_VM_OCI_ONLY" | tr ' ' ',')"
fi
# The tty tests drive python3 (hack/recvtty.py) and script(1), which the initramfs lacks.
# The initramfs has no python3 for hack/recvtty.py: the terminal tests run on the host lane only.
# The rootless tests need useradd, setpriv and newuidmap, which the initramfs lacks; the idmap
# tests bind from the VM's tmpfs, which its 6.1 kernel cannot idmap (tmpfs can from 6.3 on).
# Every test that starts a python3 helper (hack/recvtty.py, hack/systemd/fake-systemd.py) is
# listed.
skip=${NOOK_VM_SKIP-tty::,security::console_symlink,security::dev_pts_and_ptmx,exec::exec_with_a_process_file_applies_console_size,systemd::systemd_cgroup_scope_lifecycle_against_a_fake_manager,rootless::,idmap::}
[ -n "$skip" ] && cmdline+=" nook.skip=$skip"

console=$out/console.log
results=$out/results.log
rm -f "$console" "$results"
log "booting ($accel, $mem, 2 cpus, timeout ${timeout_s} s); console follows"
boot_start=$(date +%s)
rc=0
timeout -k 10 "$timeout_s" qemu-system-x86_64 \
    "${accel_args[@]}" -smp 2 -m "$mem" \
    -kernel "$out/vmlinuz" -initrd "$out/initramfs.cpio" -append "$cmdline" \
    ${drive_args[@]+"${drive_args[@]}"} \
    -display none -monitor none -no-reboot -nodefaults -vga none \
    -serial stdio -serial "file:$results" \
    </dev/null 2>&1 | tee "$console" || rc=$?
end=$(date +%s)

if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
    log "TIMEOUT: the VM did not finish within ${timeout_s} s"
fi

# Results from the second serial port (no kernel messages mixed in); the console as fallback.
source_file=$results
[ -s "$source_file" ] || source_file=$console
summary=$(tr -d '\r' <"$source_file" | grep -E '^vm-lane: [0-9]+ passed, [0-9]+ failed$' | tail -n 1 || true)
npass=$(tr -d '\r' <"$source_file" | grep -c '^PASS ' || true)
nfail=$(tr -d '\r' <"$source_file" | grep -c '^FAIL ' || true)

echo
echo "=== vm-lane results ==="
tr -d '\r' <"$source_file" | grep '^FAIL ' || true
echo "build $((build_done - start)) s, VM $((end - boot_start)) s, total wall time $((end - start)) s"
if [ -z "$summary" ]; then
    log "no summary line from the VM (crashed or timed out); $npass PASS and $nfail FAIL lines seen"
    echo "vm-lane: $npass passed, $((nfail + 1)) failed"
    exit 1
fi
echo "$summary"
status=0
if [ "$nfail" -ne 0 ] || ! [[ "$summary" =~ ' 0 failed'$ ]] || [ "$npass" -eq 0 ]; then
    status=1
fi

if [ "$oci" = 1 ]; then
    echo
    echo "=== OCI validation in the VM (expected-failures column: vm) ==="
    # Table rows whose result is not a plain pass, the script's `unexpected:` excerpts, its summary.
    tr -d '\r' <"$source_file" | grep -E '^[a-z0-9_]+ +(FAIL|xfail|XPASS) |^unexpected: |^    (not ok|  error:|    message:|    error:)' || true
    oci_summary=$(tr -d '\r' <"$source_file" |
        grep -E '^oci-validation: [0-9]+ passed, [0-9]+ failed \([0-9]+ unexpected\)$' | tail -n 1 || true)
    if [ -z "$oci_summary" ]; then
        log "no oci-validation summary line from the VM (crashed, timed out or no drive)"
        echo "oci-validation: no result"
        status=1
    else
        echo "$oci_summary"
        [[ "$oci_summary" =~ '(0 unexpected)'$ ]] || status=1
    fi
fi
exit "$status"
