#!/usr/bin/env bash
# Two variants of `weir run --until-idle` over the same seeded log, in turns (A, B, A, B, ...):
# by default the same build with the REST API and the Prometheus endpoint disabled (A) and
# enabled (B, /metrics scraped every SCRAPE seconds while it runs), or two builds. Prints
# each run, the medians of wall and CPU time (user + system, getrusage), their ratios B/A and
# the median of the pairs' ratios. Prints figures; asserts nothing. See bench/README.md.
#
#   bench/ab.sh                                   # metrics off vs on, python_pipeline.yaml, 400,000 records, 5 pairs
#   DEF=to_only.yaml RECORDS=1000000 bench/ab.sh
#   A_BIN=/tmp/weir-old B_BIN=target/release/weir B_METRICS=off bench/ab.sh   # two builds
#
# Environment: A_BIN, B_BIN (WEIR_BIN or target/release/weir), A_METRICS (off), B_METRICS
# (on), DEF (python_pipeline.yaml), RECORDS (400000), REPEAT (pairs, 5), SCRAPE (seconds
# between scrapes, 0.1), PYTHON (python3), WEIR_BIN (skip the build), WEIR_BENCH_DIR (kept if
# given). Needs curl. The log is seeded with A's weir. The user functions' timing
# (ksml_execution_time) does not depend on the endpoint: it is on in both modes.
set -euo pipefail
[[ -n ${A_BIN:-} && -z ${WEIR_BIN:-} ]] && WEIR_BIN=$A_BIN # no build when A is given
# shellcheck source=bench/common.sh
source "$(dirname "$0")/common.sh"
bench_setup weir-ab
A_BIN=${A_BIN:-$WEIR}
B_BIN=${B_BIN:-$WEIR}
A_METRICS=${A_METRICS:-off}
B_METRICS=${B_METRICS:-on}

DEF=${DEF:-python_pipeline.yaml}
RECORDS=${RECORDS:-400000}
REPEAT=${REPEAT:-5}
SCRAPE=${SCRAPE:-0.1}
PYTHON=${PYTHON:-python3}
# CPU seconds (user + system) of a command, from getrusage: finer than GNU time's 10 ms.
CPU_OF='import resource, subprocess, sys
code = subprocess.run(sys.argv[2:], stderr=open(sys.argv[1], "w")).returncode
u = resource.getrusage(resource.RUSAGE_CHILDREN)
print("%.4f" % (u.ru_utime + u.ru_stime))
sys.exit(code)'
command -v curl > /dev/null || { echo "needs curl" >&2; exit 1; }

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
free_port() { "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

echo "machine: $(nproc) cores, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo), Linux $(uname -r)"
echo "A:       $A_BIN, metrics $A_METRICS"
echo "B:       $B_BIN, metrics $B_METRICS"
echo "         $DEF, $RECORDS records; /metrics scraped every $SCRAPE s when on; source at $(cd "$ROOT" && git describe --always --dirty)"
echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min) before the run"

"$PYTHON" "$BENCH/gen_input.py" "$RECORDS" "$WORK/in.jsonl"
"$A_BIN" topic produce orders --raw --file "$WORK/in.jsonl" --storage "$WORK/seed/state" > /dev/null 2>&1

# one A|B I: one run; appends "wall cpu scrapes" to $WORK/A.txt or B.txt and prints it
one() {
    local side=$1 i=$2 run=$WORK/run bin mode
    if [[ $side == A ]]; then bin=$A_BIN mode=$A_METRICS; else bin=$B_BIN mode=$B_METRICS; fi
    rm -rf "$run"
    mkdir -p "$run"
    cp -r "$WORK/seed/state" "$run/state"
    {
        printf 'ksml:\n  storageDirectory: %s\n  definitions:\n    bench: %s\n' "$run/state" "$BENCH/$DEF"
        if [[ $mode == on ]]; then
            printf '  applicationServer:\n    enabled: true\n    host: 127.0.0.1\n    port: %s\n' "$(free_port)"
            printf '  prometheus:\n    enabled: true\n    host: 127.0.0.1\n    port: %s\n' "$METRICS_PORT"
        fi
        printf 'kafka:\n  application.id: bench\n  bootstrap.servers: localhost:9092\n'
    } > "$run/ksml-runner.yaml"
    local t0 t1 pid scrapes=0
    t0=$(date +%s.%N)
    "$PYTHON" -c "$CPU_OF" "$run/weir.log" "$bin" run --until-idle --embedded "$run/ksml-runner.yaml" > "$run/cpu.txt" &
    pid=$!
    if [[ $mode == on ]]; then
        # Scrape while it runs (a scrape before the endpoint listens fails and is not counted).
        while kill -0 "$pid" 2> /dev/null; do
            curl -sf -o /dev/null "http://127.0.0.1:$METRICS_PORT/metrics" && scrapes=$((scrapes + 1))
            sleep "$SCRAPE"
        done
    fi
    wait "$pid" || { cat "$run/weir.log" >&2; exit 1; }
    t1=$(date +%s.%N)
    local wall cpu
    wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
    cpu=$(cat "$run/cpu.txt")
    echo "$wall $cpu $scrapes" >> "$WORK/$side.txt"
    printf '  %s run %d: %7.3f s wall  %6.0f records/s  %6.3f s CPU  %s\n' "$side" "$i" "$wall" \
        "$(awk -v n="$RECORDS" -v s="$wall" 'BEGIN { print n / s }')" "$cpu" "$(if [[ $mode == on ]]; then echo "$scrapes scrapes"; fi)"
}

METRICS_PORT=$(free_port)
pairs_wall=() pairs_cpu=()
for ((i = 1; i <= REPEAT; i++)); do
    one A "$i"
    one B "$i"
    read -r w_off c_off _ < <(tail -1 "$WORK/A.txt")
    read -r w_on c_on _ < <(tail -1 "$WORK/B.txt")
    pairs_wall+=("$(ratio "$w_on" "$w_off")")
    pairs_cpu+=("$(ratio "$c_on" "$c_off")")
done
echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min) after the run"

col() { awk -v c="$2" '{ print $c }' "$WORK/$1.txt" | median; }
echo "medians of $REPEAT pairs:"
for side in A B; do
    printf '  %s %7s s wall  %6.0f records/s  %6s s CPU\n' "$side" "$(col "$side" 1)" \
        "$(awk -v n="$RECORDS" -v s="$(col "$side" 1)" 'BEGIN { print n / s }')" "$(col "$side" 2)"
done
echo "  B/A wall: $(ratio "$(col B 1)" "$(col A 1)") (medians); pairs ${pairs_wall[*]}, median $(printf '%s\n' "${pairs_wall[@]}" | median)"
echo "  B/A CPU:  $(ratio "$(col B 2)" "$(col A 2)") (medians); pairs ${pairs_cpu[*]}, median $(printf '%s\n' "${pairs_cpu[@]}" | median)"
[[ $B_METRICS == on ]] && echo "  scrapes per B run: $(awk '{ printf "%s ", $3 }' "$WORK/B.txt")"
[[ $A_METRICS == on ]] && echo "  scrapes per A run: $(awk '{ printf "%s ", $3 }' "$WORK/A.txt")"
true
