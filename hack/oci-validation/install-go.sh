#!/usr/bin/env bash
# Installs Go 1.23 (Debian's golang-1.23-go from bookworm-backports) for building the OCI
# validation suite, which needs Go >= 1.21; bookworm's own Go is 1.19. Only that one package (and
# what it depends on) comes from backports: the suite is enabled for the one install, then removed
# again and the package lists refreshed, so no later apt-get install sees it (with it enabled, the
# VM lane's qemu install fails to resolve). Prints the path of the go binary.
set -euo pipefail

go=/usr/lib/go-1.23/bin/go
if [[ -x $go ]]; then
    echo "$go"
    exit 0
fi
if [[ $(id -u) != 0 ]]; then
    echo "install-go: need root to install golang-1.23-go" >&2
    exit 1
fi

# The backports suite from the same mirror as the machine's own Debian source.
uris=$(awk '/^URIs:/ && /debian\/?$/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
if [[ -z $uris ]]; then
    uris=$(awk '$1 == "deb" && $3 == "bookworm" { print $2; exit }' /etc/apt/sources.list 2>/dev/null || true)
fi
uris=${uris:-http://deb.debian.org/debian}
list=/etc/apt/sources.list.d/nook-go-backports.sources
cleanup() {
    rm -f "$list"
    DEBIAN_FRONTEND=noninteractive apt-get update >/dev/null 2>&1 || true
}
trap cleanup EXIT
cat >"$list" <<SRC
Types: deb
URIs: $uris
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
export DEBIAN_FRONTEND=noninteractive
apt-get update >&2
apt-get install -y --no-install-recommends -t bookworm-backports golang-1.23-go >&2
"$go" version >&2
echo "$go"
