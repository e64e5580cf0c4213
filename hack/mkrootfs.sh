#!/usr/bin/env bash
# Builds a minimal busybox rootfs into DIR from Debian's busybox-static (/bin/busybox).
# Idempotent: re-running refreshes the binary and applet links and leaves anything else alone.
set -euo pipefail

dir=${1:?usage: hack/mkrootfs.sh DIR}
busybox=${BUSYBOX:-/bin/busybox}

if ! "$busybox" --list >/dev/null 2>&1; then
    echo "mkrootfs: $busybox is not a working busybox; install busybox-static" >&2
    exit 1
fi
if file_type=$(file -b "$busybox" 2>/dev/null) && [[ $file_type == *dynamically* ]]; then
    echo "mkrootfs: $busybox is dynamically linked; install busybox-static" >&2
    exit 1
fi

mkdir -p "$dir"/{bin,proc,sys,dev,tmp,etc,root,mnt,home/tester}
chmod 1777 "$dir/tmp"
# A copy, not a hardlink: a container running as root must not be able to write to the host's busybox.
install -m 0755 "$busybox" "$dir/bin/busybox.new"
mv -f "$dir/bin/busybox.new" "$dir/bin/busybox"
while read -r applet; do
    [[ $applet == busybox ]] && continue
    ln -sfn busybox "$dir/bin/$applet"
done < <("$busybox" --list)

cat >"$dir/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
tester:x:1000:1000:tester:/home/tester:/bin/sh
PASSWD
cat >"$dir/etc/group" <<'GROUP'
root:x:0:
tester:x:1000:
GROUP
echo "mkrootfs: busybox rootfs ready in $dir"
