#!/usr/bin/env bash
# Decode + encode throughput per notation for one 20-field record, each with a baseline
# measured in the same run (see each example's doc comment). Prints figures; asserts nothing.
#
#   bench/notations.sh
set -euo pipefail
cd "$(dirname "$0")/.."
for example in notation_bench notation_bench_avro notation_bench_schema notation_bench_text; do
    echo "== $example"
    cargo run --quiet --release -p weir-engine --example "$example"
    echo
done
