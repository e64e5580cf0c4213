#!/usr/bin/env bash
# Runs every check: formatting, clippy, unit tests, then the OCI integration tests (as root).
# Exits non-zero on the first failure. NOOK_RUNTIME=/usr/sbin/runc runs the integration tests
# against runc instead of nook, to check the tests themselves.
set -euo pipefail

cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1 && [[ -x $HOME/.cargo/bin/cargo ]]; then
    export PATH=$HOME/.cargo/bin:$PATH
fi
if [[ $(id -u) != 0 ]]; then
    echo "test: the integration tests create real containers; run as root (sudo hack/test.sh)" >&2
    exit 1
fi

step() { echo; echo "=== $*"; }

step "cargo fmt --check"
cargo fmt --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets -- -D warnings

step "unit tests"
cargo test --lib --bins

# Two threads: the suite is mostly waiting on the runtime, and the machine has two cores.
step "integration tests against ${NOOK_RUNTIME:-the nook binary built by cargo}"
cargo test --test oci-integration -- --test-threads "${TEST_THREADS:-2}"

step "all checks passed"
