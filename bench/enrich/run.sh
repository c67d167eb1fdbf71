#!/usr/bin/env bash
# Enrichment through Weir's resilience toolkit (docs/external-systems.md) against the test
# service (scripts/testsvc.py, loopback), in one run, in turns, medians:
#
# 1. throughput at LATENCY_MS (5 ms) per answer: `weir run --until-idle` enriching N orders
#    from a topic of PARTITIONS (8) partitions with THREADS (8) stream threads and with 1,
#    against a plain Python loop making the same calls one at a time (plain_loop.py); records/s
#    and the ratios (goal: 8 threads >= 5x the loop). Weir's time is the whole process, start
#    to exit.
# 2. the toolkit's cost per call when the service answers at once: CALLS calls with a bare
#    http.client connection, then CALLS through weir.http.Client (retry, breaker, concurrency
#    limit, metrics), TURNS turns, inside Weir's interpreter (overhead.yaml); microseconds per
#    call, medians.
#
#   WEIR_BIN=target/debug/weir bench/enrich/run.sh     # without WEIR_BIN: a release build first
#
# Environment: N (2000), LATENCY_MS (5), PARTITIONS (8), THREADS (8), ROUNDS (3), CALLS (100),
# TURNS (30), PYTHON (python3), WEIR_BIN, WEIR_BENCH_DIR (kept if given).
set -euo pipefail
# shellcheck source=bench/common.sh
source "$(dirname "$0")/../common.sh"
bench_setup weir-bench-enrich
HERE=$BENCH/enrich
N=${N:-2000}
LATENCY_MS=${LATENCY_MS:-5}
PARTITIONS=${PARTITIONS:-8}
THREADS=${THREADS:-8}
ROUNDS=${ROUNDS:-3}
CALLS=${CALLS:-100}
TURNS=${TURNS:-30}
PYTHON=${PYTHON:-python3}

# The service: stops when its stdin (this script's coprocess pipe) closes.
coproc SVC { exec "$PYTHON" "$ROOT/scripts/testsvc.py" --latency-ms "$LATENCY_MS"; }
SVC_IN=${SVC[1]}
cleanup() {
    kill "$SVC_PID" 2> /dev/null || true
    wait 2> /dev/null || true
    [[ -n ${WEIR_BENCH_DIR:-} ]] || rm -rf "$WORK"
}
trap cleanup EXIT
read -r -u "${SVC[0]}" line
export ITEMS_URL="http://${line#listening on }"
svc() { echo "$1" >&"$SVC_IN" && read -r -u "${SVC[0]}" _; }

echo "machine: $(nproc) cores, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo); load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "weir: ${WEIR_BIN:-$(cd "$ROOT" && git describe --always --dirty) (release)}; service $ITEMS_URL at $LATENCY_MS ms per answer"
echo "N=$N orders (each a different item), $PARTITIONS partitions, $ROUNDS rounds"

"$PYTHON" -c "import json
for i in range($N): print(json.dumps({'key': f'o{i}', 'value': {'order': i, 'item': i, 'qty': 1 + i % 3}}))" > "$WORK/orders.jsonl"

# weir_enrich THREADS: seconds of one `weir run --until-idle` over a fresh log
weir_enrich() {
    local dir=$WORK/run-$1 t0 t1 out
    rm -rf "$dir"
    mkdir -p "$dir"
    cp "$HERE/enrich.yaml" "$dir/"
    cat > "$dir/ksml-runner.yaml" << YAML
ksml:
  storageDirectory: $dir/state
  createStorageDirectory: true
  definitions:
    enrich: enrich.yaml
  pythonContext:
    allowHostSocketAccess: true
    inheritEnvironmentVariables: true
kafka:
  application.id: bench-enrich
  bootstrap.servers: unused:9092
  num.stream.threads: $1
YAML
    "$WEIR" topic create orders --partitions "$PARTITIONS" --storage "$dir/state" -q > /dev/null
    "$WEIR" topic produce orders --file "$WORK/orders.jsonl" --storage "$dir/state" -q > /dev/null
    t0=$(now)
    "$WEIR" run -q --until-idle --embedded "$dir/ksml-runner.yaml" 2> "$dir/run.log" || {
        cat "$dir/run.log" >&2
        exit 1
    }
    t1=$(now)
    out=$("$WEIR" topic list --storage "$dir/state" | awk '$1 == "orders_enriched" { print $5 }')
    [[ $out == "$N" ]] || { echo "weir ($1 threads) wrote ${out:-0} of $N records" >&2; exit 1; }
    elapsed "$t0" "$t1"
}

echo
echo "1. enrichment at $LATENCY_MS ms per call (seconds per round: loop, weir x$THREADS, weir x1)"
: > "$WORK/loop" && : > "$WORK/many" && : > "$WORK/one"
for r in $(seq "$ROUNDS"); do
    loop=$("$PYTHON" "$HERE/plain_loop.py" "$ITEMS_URL" "$WORK/orders.jsonl")
    many=$(weir_enrich "$THREADS")
    one=$(weir_enrich 1)
    echo "$loop" >> "$WORK/loop"
    echo "$many" >> "$WORK/many"
    echo "$one" >> "$WORK/one"
    echo "  round $r: $loop s, $many s, $one s"
done
LOOP=$(median < "$WORK/loop")
MANY=$(median < "$WORK/many")
ONE=$(median < "$WORK/one")
printf '  plain Python loop, one call at a time: %8s records/s\n' "$(rate "$N" "$LOOP")"
printf '  weir, %2s stream threads:              %8s records/s  (%sx the loop)\n' "$THREADS" "$(rate "$N" "$MANY")" "$(ratio "$LOOP" "$MANY")"
printf '  weir,  1 stream thread:               %8s records/s  (%sx the loop)\n' "$(rate "$N" "$ONE")" "$(ratio "$LOOP" "$ONE")"

echo
echo "2. the toolkit's cost per call, service answering at once ($TURNS turns of $CALLS calls each, medians)"
svc "latency 0"
dir=$WORK/overhead
mkdir -p "$dir"
cp "$HERE/overhead.yaml" "$dir/"
cat > "$dir/ksml-runner.yaml" << YAML
ksml:
  storageDirectory: $dir/state
  createStorageDirectory: true
  definitions:
    overhead: overhead.yaml
  pythonContext:
    allowHostSocketAccess: true
    inheritEnvironmentVariables: true
kafka:
  application.id: bench-enrich-overhead
  bootstrap.servers: unused:9092
YAML
echo "{\"key\": \"go\", \"value\": {\"calls\": $CALLS, \"turns\": $TURNS}}" | "$WEIR" topic produce go --storage "$dir/state" -q > /dev/null 2>&1
"$WEIR" run -q --until-idle --embedded "$dir/ksml-runner.yaml" 2> "$dir/run.log" || {
    cat "$dir/run.log" >&2
    exit 1
}
"$WEIR" topic consume measured --from-beginning --format json --storage "$dir/state" | "$PYTHON" -c "
import json, sys
v = json.loads(sys.stdin.readline())['value']
q = lambda xs: f'{sorted(xs)[len(xs) // 4]:.0f} to {sorted(xs)[3 * len(xs) // 4]:.0f}'
print(f\"  bare http.client call: {v['bare_us']:7.1f} us   (turns' interquartile range: {q(v['bare_turns'])})\")
print(f\"  weir.http.Client call: {v['toolkit_us']:7.1f} us   (turns' interquartile range: {q(v['toolkit_turns'])})\")
print(f\"  the policies' cost:    {v['cost_us']:7.1f} us per call (median of the turns' differences; medians' ratio {v['toolkit_us'] / v['bare_us']:.2f}x)\")"
