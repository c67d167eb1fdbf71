#!/usr/bin/env bash
# HTTP routes benchmark (docs/http-routes.md): wrk against a running `weir run --embedded
# --routes` over bench/rest/count.yaml (store `counts`, 10,000 keys counted once), in turns:
#   state  GET /state/keyValue/counts/get/<key>  the REST API's own query, answered on the
#                                                server's threads: the baseline
#   route  GET /v1/counts/<key>                  a query route over the same store (a thread
#                                                per request; the key is there, so no wait)
#   post   POST /v1/events                       a produce route: each request one record,
#                                                appended and fsynced before the 201
# Prints requests/s, p50/p99 latency and errors of each run, the medians, and route/state.
# Prints figures; asserts nothing. See bench/README.md.
#
#   bench/routes/run.sh                      # 3 turns of 10 s runs (≈ 1.5 min)
#   REPEAT=1 DURATION=3 bench/routes/run.sh  # quicker
#
# Environment: KEYS (10000), DURATION (seconds per wrk run, 10), THREADS (wrk threads, 2),
# CONNECTIONS (16), REPEAT (3), PYTHON (python3), WEIR_BIN (skip the build), WEIR_BENCH_DIR
# (kept if given). wrk comes from scripts/wrk.sh. Needs curl.
set -euo pipefail
# shellcheck source=bench/common.sh
source "$(dirname "$0")/../common.sh"
bench_setup weir-routes

wrk_setup

WEIR_PID=
trap stop_weir_and_clean EXIT

REST_PORT=$(free_port)
REST=http://127.0.0.1:$REST_PORT

machine_lines

"$PYTHON" "$BENCH/rest/gen_events.py" "$KEYS" every "$WORK/seed.jsonl"
"$WEIR" topic produce events --file "$WORK/seed.jsonl" --storage "$WORK/state" > /dev/null 2>&1
cat > "$WORK/ksml-runner.yaml" <<YAML
ksml:
  storageDirectory: $WORK/state
  definitions:
    count: $BENCH/rest/count.yaml
  applicationServer:
    enabled: true
    host: 127.0.0.1
    port: $REST_PORT
kafka:
  application.id: bench-routes
  bootstrap.servers: localhost:9092
YAML
# The produce route writes to a topic the pipeline does not read, so the pipeline stays idle.
cat > "$WORK/routes.yaml" <<YAML
routes:
  - path: /v1/counts/{key}
    method: GET
    query: {store: counts, key: "{key}"}
  - path: /v1/events
    method: POST
    produce: {topic: ingested, valueType: json, key: "{body.id}"}
YAML
"$WEIR" run --embedded --no-progress --routes "$WORK/routes.yaml" "$WORK/ksml-runner.yaml" > "$WORK/weir.log" 2>&1 &
WEIR_PID=$!

ready() { [[ $(curl -s -o /dev/null -w '%{http_code}' "$REST/ready") == 204 ]]; }
last_counted() { [[ $(curl -s "$REST/v1/counts/k$(printf %05d $((KEYS - 1)))?timeout=0") == *'1'* ]]; }
wait_for "/ready" 60 ready
wait_for "the seed records counted" 60 last_counted
echo "store:   GET /v1/counts/k00042 -> $(curl -s "$REST/v1/counts/k00042" | tr -d ' \n')"

# wrk_run MODE: one wrk run; prints its figures and appends them to $WORK/<mode>.txt
wrk_run() {
    local mode=$1 out result
    out=$(KEYS=$KEYS MODE=$mode "$WRK" -t "$THREADS" -c "$CONNECTIONS" -d "${DURATION}s" --latency -s "$BENCH/rest/get.lua" "$REST")
    result=$(grep '^RESULT' <<< "$out")
    echo "$result" >> "$WORK/$mode.txt"
    field() { tr ' ' '\n' <<< "$result" | awk -F= -v k="$1" '$1 == k { print $2 }'; }
    printf '%-6s %8s requests/s  p50 %7s ms  p99 %7s ms  max %8s ms  errors %s (non-2xx %s, timeouts %s)\n' \
        "$mode" "$(field rps)" "$(field p50_ms)" "$(field p99_ms)" "$(field max_ms)" "$(field errors)" "$(field status)" "$(field timeout)"
}

echo
echo "wrk -t $THREADS -c $CONNECTIONS -d ${DURATION}s, keys k<random of $KEYS>, loopback, in turns:"
for ((i = 1; i <= REPEAT; i++)); do
    wrk_run state
    wrk_run route
    wrk_run post
done
echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min) after the run"

med() { tr ' ' '\n' < "$1" | awk -F= -v k="$2" '$1 == k { print $2 }' | median; }
echo
echo "medians of $REPEAT run(s) each:"
for mode in state route post; do
    printf '%-6s %8s requests/s  p50 %7s ms  p99 %7s ms  errors (sum) %s\n' "$mode" "$(med "$WORK/$mode.txt" rps)" \
        "$(med "$WORK/$mode.txt" p50_ms)" "$(med "$WORK/$mode.txt" p99_ms)" \
        "$(tr ' ' '\n' < "$WORK/$mode.txt" | awk -F= '$1 == "errors" { s += $2 } END { print s + 0 }')"
done
echo "requests/s route / state: $(ratio "$(med "$WORK/route.txt" rps)" "$(med "$WORK/state.txt" rps)")x"
