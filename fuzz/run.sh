#!/usr/bin/env bash
# Runs every fuzz target for a while: `fuzz/run.sh 60` is the CI smoke run (60 s per target),
# `fuzz/run.sh 600` the documented long run (10 minutes per target). Needs the nightly
# toolchain and cargo-fuzz (`cargo install cargo-fuzz --locked`); exits non-zero on a crash.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
# One build of every target first: they share their dependencies, and cargo links them in parallel.
ASAN_OPTIONS=detect_leaks=0 cargo +nightly fuzz build -O
for target in command_decoding event_decoding token_parsing evidence_pack; do
    echo "== fuzz $target for ${seconds}s"
    # Leak detection is off: the targets keep their app and runtime for the whole run on
    # purpose; -rss_limit_mb still bounds growth.
    ASAN_OPTIONS=detect_leaks=0 cargo +nightly fuzz run -O "$target" -- -max_total_time="$seconds" \
        -max_len=65536 -rss_limit_mb=2048 -detect_leaks=0
done
