#!/usr/bin/env bash
# One create + start + wait + delete cycle, each a separate runtime command.
# usage: lifecycle.sh RUNTIME ROOT BUNDLE
# The bundle's process is /bin/true; "wait" polls `state` (no sleep) until it says stopped.
set -euo pipefail
rt=$1 root=$2 bundle=$3
id=lc$$
"$rt" --root "$root" create --bundle "$bundle" "$id" </dev/null >/dev/null 2>&1
"$rt" --root "$root" start "$id" >/dev/null
polls=0
while :; do
    state=$("$rt" --root "$root" state "$id")
    [[ $state =~ \"status\":\ *\"stopped\" ]] && break
    polls=$((polls + 1))
    if ((polls > 2000)); then
        echo "lifecycle: $id never stopped" >&2
        exit 1
    fi
done
"$rt" --root "$root" delete "$id"
