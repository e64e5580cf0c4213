#!/usr/bin/env bash
# Fuzz config.json loading and validation (fuzz/fuzz_targets/config.rs) for a bounded time.
# Exits non-zero when libFuzzer finds a crash, panic, timeout or OOM; the input that did it is
# left in fuzz/artifacts/config/.
#
#   NOOK_FUZZ_SECONDS=600   how long to fuzz (default 60)
#   NOOK_FUZZ_JOBS=2        parallel fuzzing processes, libFuzzer's -fork (default 1)
#
# libFuzzer grows its corpus in a temporary copy of fuzz/corpus/config, so the committed seeds
# stay a small, hand-picked set. Add an input to fuzz/corpus/config only when it found a bug.
set -euo pipefail

cd "$(dirname "$0")/../fuzz"

seconds=${NOOK_FUZZ_SECONDS:-60}
jobs=${NOOK_FUZZ_JOBS:-1}

if ! command -v rustup >/dev/null 2>&1 && [[ -x $HOME/.cargo/bin/rustup ]]; then
    export PATH=$HOME/.cargo/bin:$PATH
fi
# cargo-fuzz needs nightly for -Zsanitizer; the root package itself builds on stable.
if ! rustup run nightly rustc --version >/dev/null 2>&1; then
    rustup toolchain install nightly --profile minimal
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

parallel=()
if ((jobs > 1)); then
    parallel=(-fork="$jobs")
fi

corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
cp corpus/config/* "$corpus"/

# -a: debug assertions, and with them integer overflow checks: an overflow is a finding too.
# -timeout: one input may take at most 5 s (a hang is a finding); -rss_limit_mb: runaway memory
# from a small input is one too. -max_len: configs are small; longer inputs only slow it down.
nice -n 10 cargo +nightly fuzz run -a config "$corpus" -- \
    -dict=config.dict \
    -max_total_time="$seconds" \
    -max_len=16384 \
    -timeout=5 \
    -rss_limit_mb=2048 \
    -print_final_stats=1 \
    "${parallel[@]}"
