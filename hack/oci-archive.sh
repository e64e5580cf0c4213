#!/usr/bin/env bash
# hack/oci-archive.sh NAME LAYER CONFIG OUT: writes OUT, an OCI image-layout archive (tar) of one
# image named NAME with one uncompressed layer (the tar file LAYER) and the image config CONFIG
# (the JSON "config" object of an OCI image config: Env, Cmd, User...). Built by hand, so that no
# registry or other engine is needed; containerd (`ctr images import`) and podman (`podman load`)
# read it. The same inputs give the same archive (and image id).
set -euo pipefail

name=${1:?usage: hack/oci-archive.sh NAME LAYER CONFIG OUT}
layer=${2:?}
config=${3:?}
out=${4:?}
dir=$(mktemp -d "${TMPDIR:-/tmp}/oci-archive.XXXXXX")
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/blobs/sha256"

# blob FILE: moves FILE into the blobs as sha256:<digest>, prints "<digest> <size>".
blob() {
    local digest size
    digest=$(sha256sum "$1" | cut -d' ' -f1)
    size=$(stat -c %s "$1")
    mv "$1" "$dir/blobs/sha256/$digest"
    echo "$digest $size"
}

cp "$layer" "$dir/layer.tar"
read -r ldigest lsize < <(blob "$dir/layer.tar")
printf '{"architecture":"amd64","os":"linux","config":%s,"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
    "$config" "$ldigest" >"$dir/config.json"
read -r cdigest csize < <(blob "$dir/config.json")
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' \
    "$cdigest" "$csize" "$ldigest" "$lsize" >"$dir/manifest.json"
read -r mdigest msize < <(blob "$dir/manifest.json")
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"platform":{"architecture":"amd64","os":"linux"},"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}]}' \
    "$mdigest" "$msize" "$name" "${name##*:}" >"$dir/index.json"
echo '{"imageLayoutVersion":"1.0.0"}' >"$dir/oci-layout"
tar --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$dir" -cf "$out" oci-layout index.json blobs
