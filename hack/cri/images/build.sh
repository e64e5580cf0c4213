#!/usr/bin/env bash
# hack/cri/images/build.sh OUT: builds, from Debian packages and the small C programs beside this
# script, every image the CRI lane needs, as OCI image-layout archives OUT/<file>.tar, and writes
# OUT/images.list ("<name> <file>" lines) for `ctr -n k8s.io images import`.
#
# critest's tests expect content of their own in the images they name (cri-tools pkg/validate):
#   e2e busybox:1.29-2   sh with applets that are programs on PATH (the MaskedPaths test masks
#                        /bin/ls and expects "/bin/sh: ls: Permission denied", so Debian's
#                        dynamic busybox, whose sh execs applets, not the standalone busybox-static),
#                        pgrep (execSync timeout), ipcs (HostIpc): procps' and util-linux's, with
#                        their libraries
#   e2e nginx:1.14-2     HTTP 200 on port 80, /var/run/nginx.pid, a process named nginx (HostPID),
#                        "master process" in pid 1's cmdline (ContainerPID): nginx.c
#   hostnet-nginx-amd64  the same on port 12003 (port forward in the host network)
#   e2e httpd:2.4.39-4   HTTP 200 on port 80 and "httpd -D FOREGROUND" in its log (multi-container)
#   e2e nonewprivs:1.3   a setuid-root program printing "Effective uid: N" (NoNewPrivs): nonewprivs.c
#   test-image-predefined-group  user 1000 in group 50000 defined in the image, USER 1000
# plus the pod sandbox image (pause.c). Layers are written with fixed owners and times, so the same
# inputs give the same image ids.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: hack/cri/images/build.sh OUT}
# Debian's dynamic busybox package conflicts with busybox-static: its .deb is only unpacked here.
debs=${NOOK_CRI_DEBS:-$out/debs}
mkdir -p "$out" "$debs"
tmp=$(mktemp -d "$out/build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
: >"$out/images.list"

PATH_ENV='PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

# copy_with_libs ROOT BINARY [DEST]: BINARY at ROOT/DEST (default: its own path) and the shared
# libraries ldd names for it at their own paths.
copy_with_libs() {
    local root=$1 bin=$2 dest=${3:-$2} lib
    install -D -m 0755 "$bin" "$root$dest"
    for lib in $(ldd "$bin" | grep -o '/[^ ]*'); do
        [[ -e $root$lib ]] || install -D -m 0755 "$(readlink -f "$lib")" "$root$lib"
    done
}

# base_rootfs DIR: Debian's busybox (applets hard links to it in /bin, as in the e2e busybox
# image: masking /bin/ls must not mask the shell with it), pgrep, ipcs, passwd and group as in
# the e2e busybox image.
base_rootfs() {
    local dir=$1 applet
    mkdir -p "$dir"/{bin,sbin,usr/bin,usr/sbin,usr/local/bin,proc,sys,dev,tmp,etc,root,var/run,home}
    chmod 1777 "$dir/tmp"
    copy_with_libs "$dir" "$busybox" /bin/busybox
    while read -r applet; do
        [[ $applet == busybox || -e $dir/bin/$applet ]] || ln "$dir/bin/busybox" "$dir/bin/$applet"
    done < <("$busybox" --list)
    copy_with_libs "$dir" "$(command -v pgrep)" /usr/bin/pgrep
    copy_with_libs "$dir" "$(command -v ipcs)" /usr/bin/ipcs
    cat >"$dir/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
EOF
    cat >"$dir/etc/group" <<'EOF'
root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
www-data:x:33:
nogroup:x:65534:
EOF
}

# image NAME FILE ROOTFS CONFIG: OUT/FILE.tar, an OCI image layout with one layer (ROOTFS) and the
# image config CONFIG (the "config" object of the OCI image config), annotated with NAME.
image() {
    local name=$1 file=$2 rootfs=$3 config=$4 layer=$tmp/$2-layer.tar
    tar --sort=name --numeric-owner --owner=0 --group=0 --mtime=@0 -C "$rootfs" -cf "$layer" .
    "$here/../../oci-archive.sh" "$name" "$layer" "$config" "$out/$file.tar"
    rm -f "$layer"
    echo "$name $file.tar" >>"$out/images.list"
}

# Debian's busybox (dynamic), unpacked from its package.
if ! ls "$debs"/busybox_*.deb >/dev/null 2>&1; then
    # (apt warns that it downloads as root, not as _apt: harmless here)
    (cd "$debs" && apt-get download busybox 2>&1 | grep -v '^W: Download is performed unsandboxed')
fi
dpkg-deb -x "$(ls "$debs"/busybox_*.deb | tail -n 1)" "$tmp/busybox-deb"
busybox=$tmp/busybox-deb/bin/busybox

mkdir -p "$tmp/bin"
for prog in pause nonewprivs nginx; do
    gcc -static -O2 -Wall -Wextra -Werror -o "$tmp/bin/$prog" "$here/$prog.c"
done

# The pod sandbox.
mkdir -p "$tmp/pause"/{dev,proc,sys,etc}
install -m 0755 "$tmp/bin/pause" "$tmp/pause/pause"
image localhost/nook-cri/pause:1 pause "$tmp/pause" '{"Entrypoint":["/pause"]}'

base_rootfs "$tmp/busybox"
image registry.k8s.io/e2e-test-images/busybox:1.29-2 busybox "$tmp/busybox" "{\"Env\":[\"$PATH_ENV\"],\"Cmd\":[\"sh\"]}"

# nginx, on port 80 and (hostnet-nginx) on 12003.
for port in 80 12003; do
    dir=$tmp/nginx-$port
    base_rootfs "$dir"
    install -m 0755 "$tmp/bin/nginx" "$dir/usr/sbin/nginx"
    mkdir -p "$dir/etc/nginx" "$dir/usr/share/nginx/html"
    echo "$port" >"$dir/etc/nginx/port"
    echo '<html><body>Welcome to nginx (nook CRI lane)</body></html>' >"$dir/usr/share/nginx/html/index.html"
done
nginx_config="{\"Env\":[\"$PATH_ENV\"],\"Cmd\":[\"nginx\",\"-g\",\"daemon off;\"],\"StopSignal\":\"SIGQUIT\"}"
image registry.k8s.io/e2e-test-images/nginx:1.14-2 nginx "$tmp/nginx-80" "$nginx_config"
image gcr.io/k8s-staging-cri-tools/hostnet-nginx-amd64:latest hostnet-nginx "$tmp/nginx-12003" "$nginx_config"

# httpd: says what Apache's httpd says about its command line, then serves with busybox httpd.
dir=$tmp/httpd
base_rootfs "$dir"
mkdir -p "$dir/usr/local/apache2/htdocs"
echo '<html><body><h1>It works!</h1></body></html>' >"$dir/usr/local/apache2/htdocs/index.html"
cat >"$dir/usr/local/bin/httpd-foreground" <<'EOF'
#!/bin/sh
echo "[core:notice] AH00094: Command line: 'httpd -D FOREGROUND'"
trap 'kill $pid; exit 0' TERM INT
httpd -f -p 80 -h /usr/local/apache2/htdocs &
pid=$!
wait $pid
EOF
chmod 0755 "$dir/usr/local/bin/httpd-foreground"
image registry.k8s.io/e2e-test-images/httpd:2.4.39-4 httpd "$dir" \
    "{\"Env\":[\"$PATH_ENV\"],\"Cmd\":[\"httpd-foreground\"]}"

# nonewprivs: the setuid-root program.
dir=$tmp/nonewprivs
base_rootfs "$dir"
install -m 4755 "$tmp/bin/nonewprivs" "$dir/usr/local/bin/nnp"
image registry.k8s.io/e2e-test-images/nonewprivs:1.3 nonewprivs "$dir" \
    "{\"Env\":[\"$PATH_ENV\"],\"Entrypoint\":[\"/usr/local/bin/nnp\"]}"

# A user whose group the image defines.
dir=$tmp/predefined-group
base_rootfs "$dir"
echo 'default-user:x:1000:1000::/home/default-user:/bin/sh' >>"$dir/etc/passwd"
printf 'default-user:x:1000:\ngroup-defined-in-image:x:50000:default-user\n' >>"$dir/etc/group"
mkdir -p "$dir/home/default-user"
image gcr.io/k8s-staging-cri-tools/test-image-predefined-group:latest predefined-group "$dir" \
    "{\"Env\":[\"$PATH_ENV\"],\"Cmd\":[\"sh\"],\"User\":\"1000\"}"

echo "images: $(wc -l <"$out/images.list") archives in $out"
