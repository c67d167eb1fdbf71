#!/usr/bin/env bash
# REST API benchmark: wrk against GET /state/keyValue/counts/get/<key> of a running
# `weir run --embedded`, keys drawn at random from the 10,000 the store holds. Measured with
# the pipeline idle and with the pipeline processing records (a feeder producing into its
# input), in turns; prints requests/s, p50/p99 latency and errors of each run and the
# medians. Prints figures; asserts nothing. See bench/README.md.
#
#   bench/rest/run.sh                     # 3 turns of: idle, busy with wrk, busy without wrk
#   REPEAT=1 DURATION=5 bench/rest/run.sh # quicker
#
# Environment: KEYS (10000), DURATION (seconds per wrk run, 10), THREADS (wrk threads, 2),
# CONNECTIONS (16), REPEAT (3), CHUNK (records per feeder batch, 50000), PYTHON (python3),
# WEIR_BIN (skip the build), WEIR_BENCH_DIR (kept if given). wrk comes from scripts/wrk.sh,
# which installs it with apt-get when it is missing (and says so). Needs curl.
set -euo pipefail
# shellcheck source=bench/common.sh
source "$(dirname "$0")/../common.sh"
bench_setup weir-rest
HERE=$BENCH/rest

wrk_setup
CHUNK=${CHUNK:-50000}

WEIR_PID=
FEEDER_PID=
cleanup() {
    touch "$WORK/stop" 2> /dev/null || true
    [[ -n $FEEDER_PID ]] && kill "$FEEDER_PID" 2> /dev/null && wait "$FEEDER_PID" 2> /dev/null
    stop_weir_and_clean
}
trap cleanup EXIT

REST_PORT=$(free_port)
METRICS_PORT=$(free_port)
REST=http://127.0.0.1:$REST_PORT
METRICS=http://127.0.0.1:$METRICS_PORT/metrics

machine_lines

# The store: one record per key, so every key has a count of 1 before the first request.
"$PYTHON" "$HERE/gen_events.py" "$KEYS" every "$WORK/seed.jsonl"
"$PYTHON" "$HERE/gen_events.py" "$KEYS" "$CHUNK" "$WORK/chunk.jsonl"
"$WEIR" topic produce events --file "$WORK/seed.jsonl" --storage "$WORK/state" > /dev/null 2>&1
cat > "$WORK/ksml-runner.yaml" <<EOF
ksml:
  storageDirectory: $WORK/state
  definitions:
    count: $HERE/count.yaml
  applicationServer:
    enabled: true
    host: 127.0.0.1
    port: $REST_PORT
  prometheus:
    enabled: true
    host: 127.0.0.1
    port: $METRICS_PORT
kafka:
  application.id: bench-rest
  bootstrap.servers: localhost:9092
EOF
"$WEIR" run --embedded "$WORK/ksml-runner.yaml" > "$WORK/weir.log" 2>&1 &
WEIR_PID=$!

# metric NAME: its value on the metrics page (0 when absent)
metric() { curl -s "$METRICS" | awk -v m="$1" '$1 == m { v = $2 } END { print v + 0 }'; }
ready() { [[ $(curl -s -o /dev/null -w '%{http_code}' "$REST/ready") == 204 ]]; }
caught_up() { (($(metric weir_records_in_total) >= $1)); }
wait_for "/ready" 60 ready
wait_for "the seed records counted" 60 caught_up "$KEYS"
PRODUCED=$KEYS
sample=$(curl -s "$REST/state/keyValue/counts/get/k00042" | tr -d ' \n')
echo "store:   $(metric 'weir_store_entries{store="counts"}') entries; GET /state/keyValue/counts/get/k00042 -> $sample"
[[ $sample == *'"value":1'* ]] || echo "WARNING: k00042 should count 1 before the measured runs" >&2

# The feeder: batches of CHUNK records into 'events' through the running weir's control
# socket (weir topic produce), keeping one to two batches ahead of what the pipeline has
# read (polling weir_records_in_total every 50 ms), until $WORK/stop exists.
feeder() {
    local produced=$PRODUCED
    while [[ ! -e $WORK/stop ]]; do
        "$WEIR" topic produce events --file "$WORK/chunk.jsonl" --storage "$WORK/state" > /dev/null 2>&1 || {
            echo "feeder: weir topic produce failed" >&2
            return 1
        }
        produced=$((produced + CHUNK))
        echo "$produced" > "$WORK/produced"
        while [[ ! -e $WORK/stop ]] && (($(metric weir_records_in_total) < produced - CHUNK)); do sleep 0.05; done
    done
}
start_feeder() {
    rm -f "$WORK/stop"
    echo "$PRODUCED" > "$WORK/produced"
    feeder &
    FEEDER_PID=$!
    wait_for "the pipeline to start on the feeder's records" 30 caught_up $((PRODUCED + 1))
}
# stop_feeder: stops it and waits until the pipeline has read everything it produced
stop_feeder() {
    touch "$WORK/stop"
    wait "$FEEDER_PID" || true
    FEEDER_PID=
    PRODUCED=$(cat "$WORK/produced")
    wait_for "the pipeline to drain the feeder's records" 120 caught_up "$PRODUCED"
}

now() { date +%s.%N; }
# wrk_run LABEL: one wrk run; prints its figures and appends them to $WORK/<label>.txt
wrk_run() {
    local label=$1 n0 n1 t0 t1 out
    n0=$(metric weir_records_in_total)
    t0=$(now)
    out=$(KEYS=$KEYS STORE=counts "$WRK" -t "$THREADS" -c "$CONNECTIONS" -d "${DURATION}s" --latency -s "$HERE/get.lua" "$REST")
    t1=$(now)
    n1=$(metric weir_records_in_total)
    local result
    result=$(grep '^RESULT' <<< "$out")
    local pipeline
    pipeline=$(awk -v a="$n0" -v b="$n1" -v s="$t0" -v e="$t1" 'BEGIN { printf "%.0f", (b - a) / (e - s) }')
    echo "$result pipeline_rps=$pipeline" >> "$WORK/$label.txt"
    field() { tr ' ' '\n' <<< "$result" | awk -F= -v k="$1" '$1 == k { print $2 }'; }
    printf '%-14s %8s requests/s  p50 %7s ms  p99 %7s ms  max %8s ms  errors %s (non-2xx %s, timeouts %s)  pipeline %s records/s\n' \
        "$label" "$(field rps)" "$(field p50_ms)" "$(field p99_ms)" "$(field max_ms)" "$(field errors)" "$(field status)" "$(field timeout)" "$pipeline"
}
# pipeline_only SECONDS: the pipeline's rate with the feeder and no wrk, appended to $WORK/nowrk.txt
pipeline_only() {
    local n0 n1 t0 t1 rate
    n0=$(metric weir_records_in_total)
    t0=$(now)
    sleep "$1"
    t1=$(now)
    n1=$(metric weir_records_in_total)
    rate=$(awk -v a="$n0" -v b="$n1" -v s="$t0" -v e="$t1" 'BEGIN { printf "%.0f", (b - a) / (e - s) }')
    echo "pipeline_rps=$rate" >> "$WORK/nowrk.txt"
    printf '%-14s %s\n' "busy, no wrk" "pipeline $rate records/s (the feeder alone, $1 s)"
}

echo
echo "wrk -t $THREADS -c $CONNECTIONS -d ${DURATION}s, GET /state/keyValue/counts/get/k<random of $KEYS>, loopback:"
for ((i = 1; i <= REPEAT; i++)); do
    wrk_run idle
    start_feeder
    wrk_run busy
    pipeline_only "$DURATION"
    stop_feeder
done
echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min) after the run"

# med FILE KEY: the median of KEY=value over the lines of FILE
med() { tr ' ' '\n' < "$1" | awk -F= -v k="$2" '$1 == k { print $2 }' | median; }
echo
echo "medians of $REPEAT run(s) each:"
for label in idle busy; do
    printf '%-14s %8s requests/s  p50 %7s ms  p99 %7s ms  errors (sum) %s\n' "$label" "$(med "$WORK/$label.txt" rps)" \
        "$(med "$WORK/$label.txt" p50_ms)" "$(med "$WORK/$label.txt" p99_ms)" \
        "$(tr ' ' '\n' < "$WORK/$label.txt" | awk -F= '$1 == "errors" { s += $2 } END { print s + 0 }')"
done
busy_rate=$(med "$WORK/busy.txt" pipeline_rps)
alone_rate=$(med "$WORK/nowrk.txt" pipeline_rps)
echo "pipeline while wrk runs: $busy_rate records/s; without wrk: $alone_rate records/s ($(awk -v a="$busy_rate" -v b="$alone_rate" 'BEGIN { printf "%.2f", (b > 0) ? a / b : 0 }')x)"
echo "requests/s busy / idle: $(awk -v a="$(med "$WORK/busy.txt" rps)" -v b="$(med "$WORK/idle.txt" rps)" 'BEGIN { printf "%.2f", a / b }')x"
echo "after the runs: $(metric 'weir_store_entries{store="counts"}') entries in counts, $(metric weir_records_in_total) records read ($(cat "$WORK/produced" 2> /dev/null || echo "$PRODUCED") produced)"
