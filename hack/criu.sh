#!/usr/bin/env bash
# Finds a CRIU that works on this host for `nook checkpoint` / `nook restore` and their tests, and
# prints its path on stdout (everything else goes to stderr, saying which one it used):
#
#   NOOK_CRIU=$(hack/criu.sh)
#
# 1. `criu` on PATH, when `criu check` passes with it (Debian 12's 3.17 fails on kernels newer
#    than it knows: "vdso: Unexpected rt vDSO area bounds");
# 2. else CRIU built from source into target/criu (cached: built once per version), from
#    $NOOK_CRIU_TARBALL (default ../shared/criu/criu-v4.2.tar.gz), its Debian build dependencies
#    installed with apt when they are missing.
#
# CRIU also needs iptables-restore at run time (it locks the container's network with it);
# installed here when missing. Exits non-zero when no working CRIU could be had.
#
#   NOOK_CRIU_BUILD=1   ignore `criu` on PATH, always use the one built from source
set -euo pipefail

cd "$(dirname "$0")/.."

say() { echo "criu.sh: $*" >&2; }

if [[ $(id -u) != 0 ]]; then
    say "run as root (criu check needs it)"
    exit 1
fi

# Debian packages (bookworm): build dependencies of CRIU's `make criu` (not its docs, crit or
# plugins), and iptables for iptables-restore at run time.
build_deps=(gcc make pkg-config libc6-dev libprotobuf-dev libprotobuf-c-dev protobuf-c-compiler
    protobuf-compiler libnl-3-dev libcap-dev libnet1-dev libbsd-dev libgnutls28-dev libdrm-dev
    libnftables-dev)
apt_install() {
    local missing=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
    done
    ((${#missing[@]} == 0)) && return 0
    say "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2 ||
        { apt-get update >&2 && DEBIAN_FRONTEND=noninteractive \
            apt-get install -y --no-install-recommends "${missing[@]}" >&2; }
}

command -v iptables-restore >/dev/null 2>&1 || apt_install iptables

works() { "$1" check >/dev/null 2>&1; }

if [[ -z ${NOOK_CRIU_BUILD:-} ]] && path=$(command -v criu 2>/dev/null); then
    if works "$path"; then
        say "using $path from PATH ($("$path" --version | head -1)): criu check passes"
        echo "$path"
        exit 0
    fi
    say "$path from PATH fails criu check here ($("$path" --version 2>&1 | head -1)); building from source"
fi

tarball=${NOOK_CRIU_TARBALL:-../shared/criu/criu-v4.2.tar.gz}
if [[ ! -f $tarball ]]; then
    say "no working criu on PATH and no source tarball at $tarball"
    exit 1
fi
version=$(basename "$tarball" .tar.gz)
dir=$PWD/target/criu/$version
bin=$dir/bin/criu

if [[ -x $bin ]] && works "$bin"; then
    say "using $bin (cached build of $version): criu check passes"
    echo "$bin"
    exit 0
fi

apt_install "${build_deps[@]}"
say "building $version into $dir (a minute or two)"
rm -rf "$dir"
mkdir -p "$dir/src" "$dir/bin"
tar -xzf "$tarball" -C "$dir/src" --strip-components=1
# Only the criu binary: no docs (asciidoc), crit, libcriu or plugins.
make -C "$dir/src" -j"$(nproc)" criu >"$dir/build.log" 2>&1 || {
    tail -30 "$dir/build.log" >&2
    say "build failed; full log in $dir/build.log"
    exit 1
}
cp "$dir/src/criu/criu" "$bin"
if ! "$bin" check >&2; then
    say "$bin was built but criu check fails on this host"
    exit 1
fi
say "using $bin (built from $tarball): criu check passes"
echo "$bin"
