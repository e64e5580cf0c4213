#!/usr/bin/env bash
# The whole test suite: formatting, clippy, unit tests, the cgroup v2 lane (a qemu VM with a
# pure cgroup2 hierarchy), podman/containerd/docker driving nook, the OCI validation suite, and
# the OCI integration tests against real containers (last, so the run ends with their result). Run as root.
# Exits non-zero on the first failure.
#
#   NOOK_RUNTIME=/usr/sbin/runc   run the integration tests against runc (checks the tests)
#   NOOK_TEST_SKIP="vm clients"   skip the slow lanes (e.g. while iterating locally);
#                                 "fuzz" skips the bounded config fuzzing run, "oci" the OCI
#                                 validation suite, "cri" the CRI lane (containerd + critest)
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

if skipped fuzz; then
    step "fuzz config loading: skipped (NOOK_TEST_SKIP)"
else
    step "fuzz config loading (${NOOK_FUZZ_SECONDS:-60} s)"
    hack/fuzz.sh
fi

# CRIU for the checkpoint/restore tests (tests/oci-integration/checkpoint.rs and
# podman's checkpoint-restore scenario in the clients lane): a working criu
# on PATH, else CRIU built from ../shared/criu (hack/criu.sh says which). Without one those
# tests record skips.
step "CRIU for checkpoint/restore"
if NOOK_CRIU=$(hack/criu.sh); then
    export NOOK_CRIU
else
    echo "no working CRIU: the checkpoint tests will skip"
    unset NOOK_CRIU
fi

if skipped vm; then
    step "cgroup v2 lane: skipped (NOOK_TEST_SKIP)"
else
    step "cgroup v2 lane (qemu, pure cgroup2)"
    hack/vm/run.sh
fi

if skipped clients; then
    step "podman, containerd, docker on nook: skipped (NOOK_TEST_SKIP)"
else
    step "podman, containerd, docker on nook"
    # The engines call the installed binary; make sure it is this tree's.
    cargo build --release
    hack/install.sh
    hack/clients/all.sh
fi

if skipped oci; then
    step "OCI validation suite: skipped (NOOK_TEST_SKIP)"
else
    # The OCI's own conformance suite against the installed nook (hack/oci-validation.sh; the
    # files this host cannot pass are listed with their reasons in hack/oci-validation/).
    step "OCI validation suite (runtime-tools validation/, 58 files)"
    cargo build --release
    hack/install.sh
    hack/oci-validation.sh
fi

if skipped cri; then
    step "CRI lane: skipped (NOOK_TEST_SKIP)"
else
    # Kubernetes' path: containerd's CRI plugin and runc shim onto the installed nook; critest on
    # nook and on runc, crictl scenarios, nothing left behind (hack/cri/run.sh).
    step "CRI lane (containerd CRI, critest and crictl on nook and runc)"
    cargo build --release
    hack/install.sh
    hack/cri/run.sh
fi

# Two threads: the suite is mostly waiting on the runtime, and the machine has two cores.
step "integration tests against ${NOOK_RUNTIME:-the nook binary built by cargo}"
# Every test that checks less than it could says so in this file (support::skip).
export NOOK_SKIP_LOG=$PWD/target/integration-skips.log
rm -f "$NOOK_SKIP_LOG"
cargo test --test oci-integration -- --test-threads "${TEST_THREADS:-2}"
if [[ -s $NOOK_SKIP_LOG ]]; then
    echo "integration tests: $(wc -l <"$NOOK_SKIP_LOG") skipped (checked less than they could here):"
    sed 's/^/  /' "$NOOK_SKIP_LOG"
else
    echo "integration tests: 0 skipped"
fi

step "all checks passed"
