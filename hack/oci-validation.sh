#!/usr/bin/env bash
# The OCI validation lane: builds the OCI's own conformance suite (runtime-tools validation/,
# 58 test programs) and runs every file against a runtime, as root. Prints a per-file table and
# a closing `oci-validation: N passed, M failed` line; keeps each file's TAP output.
#
# usage: hack/oci-validation.sh [RUNTIME]        (default: $RUNTIME, else the installed nook)
#
# A file has failed when it exits non-zero, prints a `not ok` line, or prints a YAML `error:`
# block that belongs to no test line (several hook tests report failure only that way).
# hack/oci-validation/expected-failures lists the files that cannot pass where the lane runs,
# each with its reason. The lane fails on any failure not listed, and on a listed file that
# passes (so the list never goes stale). A reason that starts with "racy:" marks a file whose
# result depends on timing in the suite itself: either outcome is accepted and shown as such.
#
# Environment (all optional):
#   OCI_TOOLS_SRC       a runtime-tools tree to use instead of the committed tarball's
#   OCI_TOOLS_TARBALL   the tarball (default: ../shared/oci-validation/runtime-tools-5e639034.tar.gz)
#   OCI_VALIDATION_OUT  work dir: the built suite, bundles, TAP files (default: target/oci-validation)
#   OCI_VALIDATION_ONLY space-separated file names to run (default: all)
#   OCI_VALIDATION_HOST the expected-failures column to use: host or vm (default: host)
#   OCI_VALIDATION_BUILD_ONLY=1   build the suite and stop (the VM lane uses this)
#   OCI_VALIDATION_SUITE a directory with an already built suite (runtimetest, rootfs, *.t)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
out=${OCI_VALIDATION_OUT:-$repo/target/oci-validation}
where=${OCI_VALIDATION_HOST:-host}
expected_file=$here/oci-validation/expected-failures
per_file_timeout=${OCI_VALIDATION_FILE_TIMEOUT:-300}

log() { printf 'oci-validation: %s\n' "$*" >&2; }

if [[ $(id -u) != 0 ]]; then
    log "run as root: the suite creates real containers"
    exit 1
fi

# --- build -------------------------------------------------------------------------------
build_suite() {
    local src=$1
    local go
    go=$("$here/oci-validation/install-go.sh")
    log "building the suite in $src with $("$go" version | cut -d' ' -f3)"
    # Static (CGO off, pure-Go user and DNS lookups): the same programs then run in the VM lane,
    # whose initramfs has no libc.
    (
        cd "$src"
        export PATH=$(dirname "$go"):$PATH GOFLAGS=-mod=vendor GOPROXY=off GOTOOLCHAIN=local \
            CGO_ENABLED=0 GOCACHE=$out/gocache
        make -s runtimetest >/dev/null
        # The Makefile builds one file per go invocation; build them all in one process.
        make -s validation-executables BUILDTAGS="netgo osusergo" >/dev/null
    )
}

suite=${OCI_VALIDATION_SUITE:-}
if [[ -z $suite ]]; then
    if [[ -n ${OCI_TOOLS_SRC:-} ]]; then
        suite=$(cd "$OCI_TOOLS_SRC" && pwd)
    else
        tarball=${OCI_TOOLS_TARBALL:-$repo/../shared/oci-validation/runtime-tools-5e639034.tar.gz}
        if [[ ! -f $tarball ]]; then
            log "no suite: $tarball is missing (set OCI_TOOLS_SRC or OCI_TOOLS_TARBALL)"
            exit 1
        fi
        suite=$out/runtime-tools
        stamp=$out/.unpacked-$(sha256sum "$tarball" | cut -c1-16)
        if [[ ! -f $stamp ]]; then
            rm -rf "$suite" "$out"/.unpacked-*
            mkdir -p "$out"
            tar -xzf "$tarball" -C "$out"
            touch "$stamp"
        fi
    fi
    if [[ ! -x $suite/runtimetest ]] || [[ -n $(find "$suite/validation" -name '*.go' -newer "$suite/runtimetest" -print -quit) ]] ||
        [[ $(find "$suite/validation" -name '*.t' | wc -l) -lt 58 ]]; then
        build_suite "$suite"
    fi
fi
if [[ ${OCI_VALIDATION_BUILD_ONLY:-} == 1 ]]; then
    echo "$suite"
    exit 0
fi

# --- run ---------------------------------------------------------------------------------
runtime=${1:-${RUNTIME:-$(command -v nook || true)}}
if [[ -z $runtime || ! -x $runtime ]]; then
    log "no runtime to test (pass its path; the default is the installed nook)"
    exit 1
fi
runtime=$(readlink -f "$runtime")
name=$(basename "$runtime")
tapdir=$out/tap-$name-$where
rm -rf "$tapdir"
mkdir -p "$tapdir"
# The bundles go here; mode 0755 so a mapped root in a user namespace can reach them.
tmp=$(mktemp -d "${TMPDIR:-/tmp}/oci-validation.XXXXXX")
chmod 0755 "$tmp"
# A runtime may leave mounts in a bundle (runc 1.1.5 does for a config without a mount
# namespace): unmount them before removing anything, and never cross into another file system.
cleanup_tmp() {
    awk -v t="$tmp/" 'index($5, t) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
        while read -r m; do umount -l "$m" 2>/dev/null || true; done
    rm -rf --one-file-system "$tmp"
}
trap cleanup_tmp EXIT

# expected-failures: "<file> <host|vm|all> <reason...>", '#' comments.
declare -A expected=()
while read -r file scope reason; do
    [[ -z $file || $file == \#* ]] && continue
    if [[ $scope == all || $scope == "$where" ]]; then
        expected[$file]=$reason
    fi
done <"$expected_file"

mapfile -t files < <(cd "$suite/validation" && find . -mindepth 2 -maxdepth 2 -name '*.t' |
    sed 's|^\./[^/]*/||; s|\.t$||' | sort)
if [[ -n ${OCI_VALIDATION_ONLY:-} ]]; then
    read -r -a files <<<"$OCI_VALIDATION_ONLY"
fi

# Whether a TAP file shows a failure: a `not ok` line, or an error key in a YAML block (the
# suite writes them as JSON) that follows no test line (after the plan, or before any test).
# A test's description may go on over a `Refer to:` line.
tap_failed() {
    awk '
        /^not ok/ { bad = 1 }
        /^(not )?ok / { intest = 1; next }
        /^  / { if (!intest && $0 ~ /^  +("error"|error):/) bad = 1; next }
        /^Refer to: / { next }
        { intest = 0 }
        END { exit bad ? 0 : 1 }
    ' "$1"
}

printf '%-40s %-6s %6s %7s %5s  %s\n' file result ok "not ok" skip note
passed=0 failed=0 unexpected=0 total_ok=0 total_notok=0 total_skip=0
bad_list=()
for f in "${files[@]}"; do
    tap=$tapdir/$f.tap
    rc=0
    (cd "$suite" && RUNTIME=$runtime TMPDIR=$tmp timeout -k 10 "$per_file_timeout" \
        "./validation/$f/$f.t") >"$tap" 2>&1 </dev/null || rc=$?
    ok=$(grep -c '^ok ' "$tap" || true)
    notok=$(grep -c '^not ok' "$tap" || true)
    skip=$(grep -ciE '^ok .*# skip' "$tap" || true)
    total_ok=$((total_ok + ok)) total_notok=$((total_notok + notok)) total_skip=$((total_skip + skip))
    note=""
    if [[ ${expected[$f]:-} == racy:* ]]; then
        # The suite races the container's own process: either outcome says nothing of the runtime.
        if [[ $rc -ne 0 ]] || tap_failed "$tap"; then result=racy-fail; failed=$((failed + 1)); else result=racy-pass; passed=$((passed + 1)); fi
        printf '%-40s %-6s %6s %7s %5s  %s\n' "$f" "$result" "$ok" "$notok" "$skip" "$note"
        continue
    fi
    if [[ $rc -ne 0 ]] || tap_failed "$tap"; then
        failed=$((failed + 1))
        [[ $rc -ne 0 ]] && note="exit $rc"
        if [[ -n ${expected[$f]:-} ]]; then
            result=xfail
        else
            result=FAIL
            unexpected=$((unexpected + 1))
            bad_list+=("$f")
        fi
    else
        passed=$((passed + 1))
        if [[ -n ${expected[$f]:-} ]]; then
            result=XPASS
            note="listed as expected to fail: take it off the list"
            unexpected=$((unexpected + 1))
            bad_list+=("$f")
        else
            result=pass
        fi
    fi
    printf '%-40s %-6s %6s %7s %5s  %s\n' "$f" "$result" "$ok" "$notok" "$skip" "$note"
done
# Bundles and state of a file that timed out must not outlive the lane.
# (No container left, or no state dir yet, is not an error.)
{ "$runtime" list -q 2>/dev/null || true; } | { grep -E '^[0-9a-f-]{36}$' || true; } | while read -r id; do
    "$runtime" delete --force "$id" >/dev/null 2>&1 || true
done

echo
echo "runtime $runtime ($where): TAP ok $total_ok, not ok $total_notok, skipped $total_skip; TAP in $tapdir"
for f in "${bad_list[@]}"; do
    echo "unexpected: $f (see $tapdir/$f.tap)"
    { grep -E '^not ok|^  error:|^    (message|error):' "$tapdir/$f.tap" || true; } | head -n 8 | sed 's/^/    /'
done
echo "oci-validation: $passed passed, $failed failed ($unexpected unexpected)"
[[ $unexpected -eq 0 ]]
