#!/usr/bin/env bash
# Where `weir run` spends its time on a benchmark pipeline: perf (sampling, with DWARF call
# graphs) and strace's syscall counts. Prints reports; asserts nothing.
#
#   bench/profile.sh                         # the Python pipeline, 50,000 records
#   DEF=to_only.yaml bench/profile.sh        # or any definition in bench/ reading 'orders'
#
# Environment: RECORDS (50000), DEF (python_pipeline.yaml), WEIR_BIN (skip the build),
# PYTHON (python3), WEIR_BENCH_DIR (kept if given). Needs perf; strace is optional.
set -euo pipefail
# shellcheck source=bench/common.sh
source "$(dirname "$0")/common.sh"
bench_setup weir-profile

RECORDS=${RECORDS:-50000}
DEF=${DEF:-python_pipeline.yaml}
PYTHON=${PYTHON:-python3}
command -v perf > /dev/null || { echo "needs perf" >&2; exit 1; }

"$PYTHON" "$BENCH/gen_input.py" "$RECORDS" "$WORK/in.jsonl"
"$WEIR" topic produce orders --raw --file "$WORK/in.jsonl" --storage "$WORK/seed/state" > /dev/null 2>&1

fresh() {
    rm -rf "$WORK/run"
    mkdir -p "$WORK/run"
    cp -r "$WORK/seed/state" "$WORK/run/state"
    cat > "$WORK/run/ksml-runner.yaml" <<EOF
ksml:
  storageDirectory: state
  definitions:
    bench: $BENCH/$DEF
kafka:
  application.id: bench
  bootstrap.servers: localhost:9092
EOF
}

if command -v strace > /dev/null; then
    fresh
    strace -f -c -o "$WORK/strace.txt" "$WEIR" run --until-idle --embedded "$WORK/run/ksml-runner.yaml" 2> /dev/null
    echo "== syscalls ($RECORDS records; per-record counts point at per-record work) =="
    head -12 "$WORK/strace.txt"
    echo
fi

fresh
perf record -q -F 1999 --call-graph dwarf,16384 -o "$WORK/perf.data" "$WEIR" run --until-idle --embedded "$WORK/run/ksml-runner.yaml" 2> /dev/null > /dev/null
echo "== time by binary/library (self) =="
perf report -i "$WORK/perf.data" --no-children --sort dso --stdio 2> /dev/null | grep -E '^ +[0-9]' | head -8
echo
echo "== inclusive time by function (children), top 60 =="
perf report -i "$WORK/perf.data" --children --sort sym --stdio 2> /dev/null | grep -E '^ +[0-9]' | head -60
