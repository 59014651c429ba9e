#!/usr/bin/env bash
# Long fuzzing run, beyond the short pass in `cargo test` (see README, "Durability and testing").
#
#   scripts/fuzz-long.sh [SECONDS_PER_TARGET]     (default 600)
#
# 1. The cargo-fuzz targets in fuzz/ (coverage-guided libFuzzer, same oracles as tests/fuzz.rs),
#    each for SECONDS_PER_TARGET, starting from fuzz/corpus/<target>/. cargo-fuzz needs nightly
#    compiler flags; on the stable toolchain RUSTC_BOOTSTRAP=1 unlocks them. New corpus entries go
#    to target/fuzz-corpus/<target>/, crashes to fuzz/artifacts/<target>/ (both untracked): copy
#    a crash into fuzz/corpus/<target>/ once it is fixed, as a regression seed.
#    Set EVENTSTREAM_FUZZ_NO_LIBFUZZER=1 to skip this step (it also is skipped, saying so, where
#    cargo-fuzz cannot be installed or built).
# 2. The in-suite targets of tests/fuzz.rs (mutation and proptest, including the structured
#    request and round-trip targets libFuzzer does not cover), each for SECONDS_PER_TARGET, one
#    at a time. EVENTSTREAM_FUZZ_SEED replays a run.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-600}"

# cargo-fuzz passes nightly-only flags; the stable toolchain accepts them under RUSTC_BOOTSTRAP.
fuzz() { RUSTC_BOOTSTRAP=1 cargo fuzz "$@"; }

# Installs cargo-fuzz if needed and builds the targets; fails if either cannot be done here.
setup_libfuzzer() {
    if ! cargo fuzz --version >/dev/null 2>&1; then
        echo "== installing cargo-fuzz"
        cargo install cargo-fuzz --locked || return 1
    fi
    echo "== building the cargo-fuzz targets"
    fuzz build --debug-assertions || return 1
}

if [ "${EVENTSTREAM_FUZZ_NO_LIBFUZZER:-}" = 1 ]; then
    echo "== skipping cargo-fuzz (EVENTSTREAM_FUZZ_NO_LIBFUZZER=1)"
elif setup_libfuzzer; then
    for target in $(fuzz list); do
        echo "== cargo fuzz: $target for ${seconds}s"
        mkdir -p "target/fuzz-corpus/$target"
        # malloc_limit_mb: no single allocation may approach what a forged length field asks.
        fuzz run --debug-assertions "$target" "target/fuzz-corpus/$target" "fuzz/corpus/$target" -- \
            -max_total_time="$seconds" -max_len=65536 -malloc_limit_mb=256 -rss_limit_mb=4096
    done
else
    echo "== cargo-fuzz is not usable on this machine; running only the in-suite targets"
fi

echo "== tests/fuzz.rs: each target for ${seconds}s"
EVENTSTREAM_FUZZ_LONG=1 EVENTSTREAM_FUZZ_SECONDS="$seconds" \
    cargo test --test fuzz -- --test-threads=1 --nocapture
