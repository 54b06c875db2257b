#!/usr/bin/env bash
# Builds every fuzz target and runs each for N seconds (default 30) from its committed seed
# corpus; fails on any crash, leak, timeout or out-of-memory. Usage: fuzz/run-short.sh [N]
set -euo pipefail
cd "$(dirname "$0")"
secs="${1:-30}"
# cargo-fuzz needs nightly flags; RUSTC_BOOTSTRAP lets the stable toolchain accept them.
export RUSTC_BOOTSTRAP=1
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi
cargo fuzz build
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
status=0
for target in $(cargo fuzz list); do
    # Run on a copy of the seeds: new inputs found here are not meant to be committed.
    mkdir -p "$work/$target"
    cp -R "corpus/$target/." "$work/$target/" 2>/dev/null || true
    echo "== $target: ${secs}s"
    if ! cargo fuzz run "$target" "$work/$target" -- \
        -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        2>"$work/$target.log"; then
        tail -n 60 "$work/$target.log"
        echo "FAIL: $target (reproducer in fuzz/artifacts/$target/)"
        status=1
    else
        grep -E "^(stat::number_of_executed_units|#[0-9]+ +DONE)" "$work/$target.log" || true
    fi
done
exit "$status"
