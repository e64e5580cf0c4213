#!/usr/bin/env bash
# N containers created concurrently, then all deleted concurrently (one batch).
# usage: batch.sh RUNTIME ROOT BUNDLE N
# Fails (after cleaning up) if any create or delete failed.
set -euo pipefail
rt=$1 root=$2 bundle=$3 n=$4
prefix=bt$$-
pids=()
for ((i = 0; i < n; i++)); do
    "$rt" --root "$root" create --bundle "$bundle" "$prefix$i" </dev/null >/dev/null 2>&1 &
    pids+=($!)
done
failed=0
for pid in "${pids[@]}"; do
    wait "$pid" || failed=1
done
pids=()
for ((i = 0; i < n; i++)); do
    "$rt" --root "$root" delete "$prefix$i" >/dev/null 2>&1 &
    pids+=($!)
done
for pid in "${pids[@]}"; do
    wait "$pid" || failed=1
done
if ((failed)); then
    for ((i = 0; i < n; i++)); do
        "$rt" --root "$root" delete --force "$prefix$i" >/dev/null 2>&1 || true
    done
    echo "batch: a create or delete failed for $rt" >&2
    exit 1
fi
