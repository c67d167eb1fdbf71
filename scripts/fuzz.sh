#!/usr/bin/env bash
# Runs every fuzz target (fuzz/, cargo fuzz with libFuzzer) for a bounded time and prints, per
# target: executions, time, corpus size and findings. Crashes are kept in
# fuzz/artifacts/<target>/ (reproduce with `scripts/fuzz.sh --repro <file>`, see
# docs/fuzzing.md). Exits 1 when a target found something.
#
#   scripts/fuzz.sh                    # every target, 60 s each
#   SECONDS_EACH=300 scripts/fuzz.sh definition notations
#
# cargo fuzz needs nightly compiler flags; the stable toolchain accepts them with
# RUSTC_BOOTSTRAP=1, set here for the fuzz build only. cargo-fuzz itself is installed from
# crates.io when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${SECONDS_EACH:-60}
export RUSTC_BOOTSTRAP=1
command -v cargo-fuzz > /dev/null || cargo install --locked cargo-fuzz
ALL=$(cd fuzz && cargo fuzz list)
TARGETS=${*:-$ALL}
cd fuzz
cargo fuzz build -O >&2
mkdir -p corpus
# Seeds: the project's own definitions, runner configs and suites for the YAML targets.
seed() {
    local target=$1
    shift
    mkdir -p "corpus/$target"
    for f in "$@"; do cp -n "$f" "corpus/$target/$(echo "$f" | tr / _)" 2> /dev/null || true; done
}
seed definition ../examples/*/*.yaml ../examples/*/*/*.yaml ../crates/weir/tests/run/*/*.yaml
seed runner_config ../examples/*/ksml-runner*.yaml ../examples/*/*/ksml-runner*.yaml
seed suite ../tests/suites/*.yaml
found=0
printf '%-14s %12s %8s %8s %9s\n' target executions seconds corpus findings
for t in $TARGETS; do
    mkdir -p "corpus/$t" "artifacts/$t"
    before=$(find "artifacts/$t" -type f | wc -l)
    log=$(mktemp)
    cargo fuzz run -O "$t" "corpus/$t" -- -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 -timeout=10 \
        -print_final_stats=1 > "$log" 2>&1 || true
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
    secs=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
    [[ $execs != "?" && $secs != "?" && $secs -gt 0 ]] && secs=$((execs / secs)) || secs="?"
    after=$(find "artifacts/$t" -type f | wc -l)
    corpus=$(find "corpus/$t" -type f | wc -l)
    printf '%-14s %12s %8s %8s %9s\n' "$t" "$execs" "$secs" "$corpus" "$((after - before))"
    if ((after > before)); then
        found=1
        grep -E "panicked|ERROR: libFuzzer|SUMMARY" "$log" | head -5 >&2
    fi
    rm -f "$log"
done
exit $found
