#!/usr/bin/env bash
# The whole test suite: formatting, clippy, unit tests, the cgroup v2 lane (a qemu VM with a
# pure cgroup2 hierarchy), the systemd lane (a qemu VM with systemd as PID 1),
# podman/containerd/docker driving nook, the OCI validation suite, and
# the OCI integration tests against real containers (last, so the run ends with their result). Run as root.
# fmt, clippy and the unit tests stop the run at once; every other lane runs even when one
# before it failed, and the run ends with the list of the lanes that failed (exit status 1).
#
#   NOOK_RUNTIME=/usr/sbin/runc   run the integration tests against runc (checks the tests)
#   NOOK_TEST_SKIP="vm clients"   skip the slow lanes (e.g. while iterating locally);
#                                 "fuzz" skips the bounded config fuzzing run, "oci" the OCI
#                                 validation suite, "cri" the CRI lane (containerd + critest),
#                                 "monitor" the web monitor in headless chromium, "cni" the
#                                 bridge networking example, "systemd" the systemd lane
#                                 (hack/vm/systemd.sh), "integration" the integration tests
#   NOOK_FUZZ_SECONDS=60          how long that run fuzzes (hack/fuzz.sh)
#   NOOK_CRIU_BUILD=1             build CRIU from source even if `criu` on PATH works (hack/criu.sh)
set -euo pipefail

cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1 && [[ -x $HOME/.cargo/bin/cargo ]]; then
    export PATH=$HOME/.cargo/bin:$PATH
fi
if [[ $(id -u) != 0 ]]; then
    echo "test: the integration tests create real containers; run as root (sudo hack/test.sh)" >&2
    exit 1
fi

skip=" ${NOOK_TEST_SKIP:-} "
step() { echo; echo "=== $*"; }
skipped() { [[ $skip == *" $1 "* ]]; }

step "cargo fmt --check"
cargo fmt --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets -- -D warnings

step "unit tests"
cargo test --lib --bins

# The library's tests that need root and a real /sys/fs/cgroup (marked #[ignore] so that a
# plain `cargo test` runs as any user).
step "root-only unit tests"
cargo test --lib -- --ignored

# The lanes: each runs unless its word is in NOOK_TEST_SKIP; a failed lane is reported and the
# run goes on, so that one run shows every lane's result; the exit status says if any failed.
failed=()
# lane WORD TITLE FUNCTION: one lane.
lane() {
    local word=$1 title=$2 fn=$3
    if skipped "$word"; then
        step "$title: skipped (NOOK_TEST_SKIP)"
        return
    fi
    step "$title"
    local start=$SECONDS rc=0
    # In the background and waited for: inside an `if` or `||`, bash would ignore set -e in
    # the function, and a lane would go on past its first failing command.
    "$fn" &
    wait $! || rc=$?
    if ((rc == 0)); then
        echo "=== $title: passed ($((SECONDS - start)) s)"
    else
        echo "=== $title: FAILED ($((SECONDS - start)) s)"
        failed+=("$title")
    fi
}

# CRIU for the checkpoint/restore tests (tests/oci-integration/checkpoint.rs and
# podman's checkpoint-restore scenario in the clients lane): a working criu on PATH, else CRIU
# built from ../shared/criu (hack/criu.sh says which). Without one those tests record skips,
# and the run fails: this host can run CRIU 4.2.
step "CRIU for checkpoint/restore"
if NOOK_CRIU=$(hack/criu.sh); then
    export NOOK_CRIU
else
    echo "=== CRIU for checkpoint/restore: FAILED (the checkpoint tests will skip)"
    failed+=("CRIU for checkpoint/restore")
    unset NOOK_CRIU
fi

# The engines call the installed binary; make sure it is this tree's.
install_release() {
    cargo build --release
    hack/install.sh
}

lane_fuzz() { hack/fuzz.sh; }
lane_vm() { hack/vm/run.sh; }
# systemd as PID 1 in a debootstrapped Debian VM: the checks and the integration tests with
# --systemd-cgroup (hack/vm/systemd.sh). Bounded as a whole: the first run also debootstraps.
lane_systemd() { timeout -k 30 "${NOOK_SYSTEMD_LANE_TIMEOUT:-1500}" hack/vm/systemd.sh; }
lane_clients() {
    install_release
    hack/clients/all.sh
}
# The OCI's own conformance suite against the installed nook (hack/oci-validation.sh; the
# files this host cannot pass are listed with their reasons in hack/oci-validation/).
lane_oci() {
    install_release
    hack/oci-validation.sh
}
# Kubernetes' path: containerd's CRI plugin and runc shim onto the installed nook; critest on
# nook and on runc, crictl scenarios, nothing left behind (hack/cri/run.sh).
lane_cri() {
    install_release
    hack/cri/run.sh
}
# nook monitor's page in Debian's chromium: it lists the running containers and its CPU %
# rises when one burns CPU (hack/monitor/browser.sh; the screenshot lands in target/monitor/).
lane_monitor() {
    cargo build --release
    hack/monitor/browser.sh
}
# Two containers on a CNI bridge made by createRuntime/poststop hooks ping each other;
# no veth, lease or bridge left (hack/cni/test.sh, in a network namespace of its own).
lane_cni() {
    cargo build --release
    hack/cni/test.sh
}

lane fuzz "fuzz config loading (${NOOK_FUZZ_SECONDS:-60} s)" lane_fuzz
lane vm "cgroup v2 lane (qemu, pure cgroup2)" lane_vm
lane systemd "systemd lane (qemu, systemd as PID 1, --systemd-cgroup)" lane_systemd
lane clients "podman (root and rootless), containerd, docker on nook" lane_clients
lane oci "OCI validation suite (runtime-tools validation/, 58 files)" lane_oci
lane cri "CRI lane (containerd CRI, critest and crictl on nook and runc)" lane_cri
lane monitor "web monitor in headless chromium" lane_monitor
lane cni "bridge networking with CNI plugins from hooks" lane_cni

# Two threads: the suite is mostly waiting on the runtime, and the machine has two cores.
# Every test that checks less than it could says so in this file (support::skip).
export NOOK_SKIP_LOG=$PWD/target/integration-skips.log
lane_integration() {
    rm -f "$NOOK_SKIP_LOG"
    cargo test --test oci-integration -- --test-threads "${TEST_THREADS:-2}"
}
lane integration "integration tests against ${NOOK_RUNTIME:-the nook binary built by cargo}" lane_integration
if [[ -s $NOOK_SKIP_LOG ]]; then
    echo "integration tests: $(wc -l <"$NOOK_SKIP_LOG") skipped (checked less than they could here):"
    sed 's/^/  /' "$NOOK_SKIP_LOG"
else
    echo "integration tests: 0 skipped"
fi

if ((${#failed[@]} > 0)); then
    step "FAILED: ${#failed[@]} lane(s):"
    printf '  %s\n' "${failed[@]}"
    exit 1
fi
step "all checks passed"
