#!/usr/bin/env bash
# Instructions per record (valgrind's callgrind), for the Python pipeline and the plain loop:
# a figure that does not move with the machine's load, for comparing changes on a shared
# machine where wall times vary by 10-50%. Prints figures; asserts nothing.
#
#   bench/instructions.sh                 # 20,000 records
#   RECORDS=5000 bench/instructions.sh
#
# Environment: RECORDS (20000), DEF (python_pipeline.yaml), WEIR_BIN (skip the build), PYTHON
# (python3), PYTHONHASHSEED (0; `random` for CPython's default), WEIR_BENCH_DIR (kept if given), METRICS (off; `on` enables the REST API and the
# Prometheus endpoint and scrapes /metrics every SCRAPE seconds, 1, while weir runs: the
# exporter's work is counted, and the scrapes of each run are printed). Needs valgrind (and
# curl for METRICS=on). Each figure is (instructions of
# a run over RECORDS records - instructions of the same run over none) / RECORDS, so start-up
# is left out on both sides. Instructions are not time (cache misses, system calls and I/O
# are not in them), but a change that removes work shows here first.
set -euo pipefail
# shellcheck source=bench/common.sh
source "$(dirname "$0")/common.sh"
bench_setup weir-instructions

RECORDS=${RECORDS:-20000}
DEF=${DEF:-python_pipeline.yaml}
PYTHON=${PYTHON:-python3}
# CPython's string hashes are seeded at random by default, which moves the figure by ±150
# from run to run; a fixed seed makes it repeat to within a few instructions.
export PYTHONHASHSEED=${PYTHONHASHSEED:-0}
METRICS=${METRICS:-off}
SCRAPE=${SCRAPE:-1}
command -v valgrind > /dev/null || { echo "needs valgrind" >&2; exit 1; }
# The interpreter itself, not a launcher script (pyenv's shims would be measured instead).
PY=$("$PYTHON" -c 'import sys; print(sys.executable)')

"$PYTHON" "$BENCH/gen_input.py" "$RECORDS" "$WORK/in.jsonl" 2> /dev/null
: > "$WORK/empty.jsonl"
"$WEIR" topic produce orders --raw --file "$WORK/in.jsonl" --storage "$WORK/seed/state" > /dev/null 2>&1
mkdir -p "$WORK/seed-empty/state"

# instructions COMMAND...: callgrind's total for one run
instructions() {
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 > /dev/null | awk '/Collected/ { print $NF }'
}

free_port() { "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# weir_run SEED: instructions of `weir run --until-idle` over a copy of the seeded log
weir_run() {
    rm -rf "$WORK/run"
    mkdir -p "$WORK/run"
    cp -r "$WORK/$1/state" "$WORK/run/state"
    local port rest_port scraper
    {
        printf 'ksml:\n  storageDirectory: %s\n  definitions:\n    bench: %s\n' "$WORK/run/state" "$BENCH/$DEF"
        if [[ $METRICS == on ]]; then
            port=$(free_port)
            rest_port=$(free_port)
            printf '  applicationServer:\n    enabled: true\n    host: 127.0.0.1\n    port: %s\n' "$rest_port"
            printf '  prometheus:\n    enabled: true\n    host: 127.0.0.1\n    port: %s\n' "$port"
        fi
        printf 'kafka:\n  application.id: bench\n  bootstrap.servers: localhost:9092\n'
    } > "$WORK/run/ksml-runner.yaml"
    if [[ $METRICS == on ]]; then
        # Scrapes until stopped; each success is a line in scrapes-SEED (failures, before the
        # endpoint listens, are not counted).
        : > "$WORK/scrapes-$1"
        (while true; do
            curl -sf -o /dev/null "http://127.0.0.1:$port/metrics" && echo >> "$WORK/scrapes-$1"
            sleep "$SCRAPE"
        done) > /dev/null 2>&1 &
        scraper=$!
    fi
    instructions "$WEIR" run --until-idle --embedded "$WORK/run/ksml-runner.yaml"
    if [[ $METRICS == on ]]; then
        kill "$scraper"
        wait "$scraper" 2> /dev/null || true
    fi
}

per_record() { awk -v a="$1" -v b="$2" -v n="$RECORDS" 'BEGIN { printf "%.0f", (a - b) / n }'; }

weir_full=$(weir_run seed)
weir_empty=$(weir_run seed-empty)
scrapes=
[[ $METRICS == on ]] && scrapes="; REST API and metrics on, $(wc -l < "$WORK/scrapes-seed") + $(wc -l < "$WORK/scrapes-seed-empty") scrapes (full + empty run)"
echo "weir run ($DEF):    $(per_record "$weir_full" "$weir_empty") instructions per record ($RECORDS records$scrapes)"
if [[ $DEF == python_pipeline.yaml ]]; then
    plain_full=$(instructions "$PY" "$BENCH/plain_loop.py" "$WORK/in.jsonl" "$WORK/plain.out")
    plain_empty=$(instructions "$PY" "$BENCH/plain_loop.py" "$WORK/empty.jsonl" "$WORK/plain.out")
    echo "plain CPython loop:  $(per_record "$plain_full" "$plain_empty") instructions per record"
fi
