#!/usr/bin/env bash
# The orders example (examples/orders) under load over HTTP: bench/orders/load.py's closed
# loops (POST an order, then the blocking GET /validated) against the ecosystem
#   embedded  examples/orders/run-embedded.sh: one `weir run` on the embedded log
#   kafka     examples/orders/run-kafka.sh: a process per service, two Orders Service
#             instances, on the project's broker (scripts/kafka.sh, started and stopped by
#             run-kafka.sh) and the test registry; POSTs alternate between the instances and
#             each GET goes to the other one
# Prints, per backend: orders/s accepted (POST 201s), the final states, p50/p99/max of the
# POST and of POST -> VALIDATED (client-side), and the load average. Asserts nothing but
# that every order was validated (load.py exits 1 otherwise). Loopback only.
#
#   bench/orders/run.sh                       # both backends, 20 s of load each (≈ 2 min)
#   BACKENDS=embedded DURATION=10 bench/orders/run.sh
#
# Environment: BACKENDS ("embedded kafka"), DURATION (seconds of load per backend, 20),
# CLIENTS (concurrent closed loops, 16), PYTHON (python3), WEIR_BIN (a weir binary; else
# `cargo build --release -p weir`), WEIR_BENCH_DIR (a work dir kept afterwards).
set -euo pipefail
# shellcheck source=bench/common.sh
source "$(dirname "$0")/../common.sh"
bench_setup weir-orders

BACKENDS=${BACKENDS:-embedded kafka}
DURATION=${DURATION:-20}
CLIENTS=${CLIENTS:-16}
PYTHON=${PYTHON:-python3}
EXAMPLE=$ROOT/examples/orders

RUN_PID=
# shellcheck disable=SC2317 # called by the EXIT trap
stop_run() {
    # run-embedded.sh execs weir (SIGTERM: a clean stop); run-kafka.sh stops every process
    # it started, the broker too, on SIGTERM.
    if [[ -n $RUN_PID ]]; then
        kill -TERM "$RUN_PID" 2> /dev/null || true
        wait "$RUN_PID" 2> /dev/null || true
        RUN_PID=
    fi
}
status=0
# shellcheck disable=SC2317 # the EXIT trap
cleanup() {
    stop_run
    if [[ $status != 0 ]]; then
        echo "kept $WORK (the logs)" >&2
    elif [[ -z ${WEIR_BENCH_DIR:-} ]]; then
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT

free_port() { "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

echo "machine: $(nproc) cores, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo), Linux $(uname -r)"
echo "weir:    ${WEIR_BIN:-$(cd "$ROOT" && git describe --always --dirty)}  $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "load:    $CLIENTS clients, ${DURATION} s per backend (closed loops: POST, then GET /validated at the other instance)"

# load BACKEND URLS: load.py against URLS, with the load average before and after.
load() {
    echo
    echo "== $1"
    echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
    local rc=0
    "$PYTHON" "$BENCH/orders/load.py" --url "$2" --clients "$CLIENTS" --duration "$DURATION" --label "$1" || rc=$?
    echo "load average after:  $(cut -d' ' -f1-3 /proc/loadavg)"
    [[ $rc == 0 ]] || echo "$1: load.py exited $rc (see above; logs in $WORK)" >&2
    return $rc
}

for backend in $BACKENDS; do
    case $backend in
    embedded)
        port=$(free_port)
        WEIR=$WEIR ORDERS_PORT=$port WEIR_STATE=$WORK/embedded-state \
            "$EXAMPLE/run-embedded.sh" > "$WORK/embedded.log" 2>&1 &
        RUN_PID=$!
        load embedded "http://127.0.0.1:$port" || status=1
        stop_run
        ;;
    kafka)
        port1=$(free_port)
        port2=$(free_port)
        # In a session of its own: its cleanup, not Ctrl-C, stops what it started.
        setsid env WEIR="$WEIR" ORDERS_PORT_1="$port1" ORDERS_PORT_2="$port2" KAFKA_DIR="$WORK/kafka" \
            LOG_DIR="$WORK/kafka-logs" STATE_DIR="$WORK/kafka-state" "$EXAMPLE/run-kafka.sh" > "$WORK/kafka.log" 2>&1 &
        RUN_PID=$!
        load kafka "http://127.0.0.1:$port1,http://127.0.0.1:$port2" || status=1
        stop_run
        ;;
    *)
        echo "BACKENDS: embedded and/or kafka, not '$backend'" >&2
        exit 2
        ;;
    esac
done
exit $status
