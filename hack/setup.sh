#!/usr/bin/env bash
# Prepares a fresh Debian 12 machine (as root) to build, install and try nook:
# installs the build and test dependencies, builds nook, installs it to /usr/local/bin/nook on a
# read-only bind mount (hack/install.sh), prepares bundles/busybox and runs a demo container from it.
set -euo pipefail

cd "$(dirname "$0")/.."

if [[ $(id -u) != 0 ]]; then
    echo "setup: run as root (sudo hack/setup.sh)" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends \
    busybox-static libseccomp-dev pkg-config gcc g++ libc6-dev make git ca-certificates curl \
    runc crun util-linux hyperfine uidmap

# Rust: use the toolchain already on PATH, else install a minimal stable one with rustup.
if ! command -v cargo >/dev/null 2>&1 && [[ -x $HOME/.cargo/bin/cargo ]]; then
    export PATH=$HOME/.cargo/bin:$PATH
fi
if ! command -v cargo >/dev/null 2>&1; then
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs |
        sh -s -- -y --profile minimal --component rustfmt,clippy
    export PATH=$HOME/.cargo/bin:$PATH
fi
cargo --version

cargo build --release
hack/install.sh
nook --version

hack/mkrootfs.sh bundles/busybox/rootfs

echo "setup: demo container from bundles/busybox"
# A demo left over from an interrupted run would make the id clash.
nook delete --force demo >/dev/null 2>&1 || true
nook run --bundle bundles/busybox demo </dev/null
