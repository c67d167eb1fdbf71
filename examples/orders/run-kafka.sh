#!/usr/bin/env bash
# The orders ecosystem on Kafka, each service its own `weir run` process with its own
# application id (as the original's services), and two instances of the Orders Service
# (same application id, each its own applicationServer port and state), serving the HTTP
# interface (routes.yaml); a GET to either answers for every order.
#
#   examples/orders/run-kafka.sh        # starts a broker (scripts/kafka.sh) and a registry
#   KAFKA_BOOTSTRAP=host:9092 SCHEMA_REGISTRY_URL=http://host:8081 examples/orders/run-kafka.sh
#
# Without KAFKA_BOOTSTRAP it starts the project's broker (scripts/kafka.sh, in $KAFKA_DIR,
# default /tmp/weir-orders-kafka) and stops it at the end. Without SCHEMA_REGISTRY_URL it
# starts a small in-memory registry speaking Confluent's REST API (the project's test registry,
# crates/weir/tests/registry/fake_registry.py; any Confluent-compatible registry works).
# Ctrl-C stops every process it started, by PID. Logs: $LOG_DIR (default /tmp/weir-orders-logs).
# PARTITIONS (default 2) is the partition count of orders and order-validations, which must be
# equal (the aggregator joins them); the others get one.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$here"

if [ -z "${WEIR:-}" ]; then
  if command -v weir >/dev/null; then WEIR=weir
  else
    # the project's own build, brought up to date (a no-op when it is)
    (cd "$root" && cargo build --release -q -p weir) || { echo "run-kafka.sh: cannot build weir; set WEIR" >&2; exit 1; }
    WEIR="$root/target/release/weir"
  fi
fi
LOG_DIR="${LOG_DIR:-/tmp/weir-orders-logs}"
STATE_DIR="${STATE_DIR:-/tmp/weir-orders-state}"
PARTITIONS="${PARTITIONS:-2}"
mkdir -p "$LOG_DIR" "$STATE_DIR"

pids=()
started_kafka=""
registry_fd=""
cleanup() {
  trap - INT TERM EXIT
  echo "run-kafka.sh: stopping" >&2
  # One SIGTERM each: `weir run` finishes its records, commits and exits (a second signal
  # would make it exit at once, hence each runs in its own session, out of reach of Ctrl-C).
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ -n "$registry_fd" ]; then exec 3>&-; wait "$registry_pid" 2>/dev/null || true; fi
  if [ -n "$started_kafka" ]; then "$root/scripts/kafka.sh" stop --dir "$started_kafka" >/dev/null || true; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -z "${KAFKA_BOOTSTRAP:-}" ]; then
  started_kafka="${KAFKA_DIR:-/tmp/weir-orders-kafka}"
  KAFKA_BOOTSTRAP=$("$root/scripts/kafka.sh" start --dir "$started_kafka")
fi
export KAFKA_BOOTSTRAP
echo "Kafka at $KAFKA_BOOTSTRAP" >&2

if [ -z "${SCHEMA_REGISTRY_URL:-}" ]; then
  # The registry runs until its standard input closes: fd 3 is that input, closed by cleanup.
  exec 3> >(exec python3 "$root/crates/weir/tests/registry/fake_registry.py" > "$LOG_DIR/registry.log" 2>&1)
  registry_fd=3
  registry_pid=$!
  for _ in $(seq 100); do
    SCHEMA_REGISTRY_URL=$(sed -n 's/^listening on //p' "$LOG_DIR/registry.log")
    [ -n "$SCHEMA_REGISTRY_URL" ] && break
    sleep 0.1
  done
  [ -n "$SCHEMA_REGISTRY_URL" ] || { echo "run-kafka.sh: the registry did not start: $LOG_DIR/registry.log" >&2; exit 1; }
fi
export SCHEMA_REGISTRY_URL
echo "schema registry at $SCHEMA_REGISTRY_URL" >&2

topic() { "$WEIR" topic --bootstrap-server "$KAFKA_BOOTSTRAP" "$@"; }
for t in orders order-validations; do
  topic describe "$t" >/dev/null 2>&1 || topic create "$t" --partitions "$PARTITIONS" >/dev/null
done

# Seed data first (stock levels, customers), so that the services find it.
WEIR_STATE="$STATE_DIR/seed" "$WEIR" run --until-idle --no-progress kafka/seed.yaml > "$LOG_DIR/seed.log" 2>&1 \
  || { echo "run-kafka.sh: seeding failed: $LOG_DIR/seed.log" >&2; exit 1; }

start() { # name, runner config, then VAR=value settings and `weir run` options, in any order
  local name=$1 config=$2 envs=() args=(); shift 2
  for a in "$@"; do case $a in *=*) envs+=("$a") ;; *) args+=("$a") ;; esac; done
  setsid env WEIR_STATE="$STATE_DIR/$name" "${envs[@]}" "$WEIR" run --no-progress "${args[@]}" "$config" > "$LOG_DIR/$name.log" 2>&1 &
  pids+=($!)
  echo "  $name: pid $!, log $LOG_DIR/$name.log" >&2
}
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port1="${ORDERS_PORT_1:-$(free_port)}"
port2="${ORDERS_PORT_2:-$(free_port)}"

echo "starting the services:" >&2
start orders-service-1 kafka/orders-service.yaml ORDERS_PORT="$port1" --routes routes.yaml
start orders-service-2 kafka/orders-service.yaml ORDERS_PORT="$port2" --routes routes.yaml
start order-details kafka/order-details.yaml
start fraud kafka/fraud.yaml
start inventory kafka/inventory.yaml
start validations-aggregator kafka/validations-aggregator.yaml
start email kafka/email.yaml
start json-ingest kafka/json-ingest.yaml

cat <<MSG
Orders Service instances: http://127.0.0.1:$port1 and http://127.0.0.1:$port2
  demo client: python3 $here/client.py --url http://127.0.0.1:$port1,http://127.0.0.1:$port2 \\
                 --weir-topic "$WEIR topic --bootstrap-server $KAFKA_BOOTSTRAP"
Ctrl-C stops everything.
MSG
# Ends when a service stops (its log says why), or on Ctrl-C.
wait -n "${pids[@]}" || true
echo "run-kafka.sh: a service stopped; see $LOG_DIR" >&2
