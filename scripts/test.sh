#!/usr/bin/env bash
# The project's whole test suite: what the README's test command and CI run.
# Everything the tests need is installed or started from here, and stopped again.
set -euo pipefail
cd "$(dirname "$0")/.."
# The reference Python packages of the interop and Kafka tests (the tests would install them
# on first use too; installing here first reports a failed install once, before any test runs).
scripts/python-deps.sh >/dev/null
# A real Apache Kafka broker for the Kafka tests (crates/weir-kafka/tests, crates/weir/tests/kafka_*):
# started here, named to the tests by WEIR_KAFKA_BOOTSTRAP, and stopped by its own PID at the end.
KAFKA_DIR="${TMPDIR:-/tmp}/weir-test-kafka-$$"
# PostgreSQL and RabbitMQ (Debian's packages) for the external-systems tests
# (crates/weir/tests/external_*.rs): the same, through WEIR_PG_URL and WEIR_AMQP_URL.
PG_DIR="${TMPDIR:-/tmp}/weir-test-postgres-$$"
AMQP_DIR="${TMPDIR:-/tmp}/weir-test-rabbitmq-$$"
stop_services() {
  scripts/kafka.sh stop --dir "$KAFKA_DIR" >/dev/null 2>&1 || true
  scripts/postgres.sh stop --dir "$PG_DIR" >/dev/null 2>&1 || true
  scripts/rabbitmq.sh stop --dir "$AMQP_DIR" >/dev/null 2>&1 || true
}
trap stop_services EXIT
WEIR_KAFKA_BOOTSTRAP=$(scripts/kafka.sh start --dir "$KAFKA_DIR")
export WEIR_KAFKA_BOOTSTRAP
echo "test.sh: Kafka broker at $WEIR_KAFKA_BOOTSTRAP ($KAFKA_DIR)" >&2
WEIR_PG_URL=$(scripts/postgres.sh start --dir "$PG_DIR")
export WEIR_PG_URL
echo "test.sh: PostgreSQL at $WEIR_PG_URL ($PG_DIR)" >&2
WEIR_AMQP_URL=$(scripts/rabbitmq.sh start --dir "$AMQP_DIR")
export WEIR_AMQP_URL
echo "test.sh: RabbitMQ at $WEIR_AMQP_URL ($AMQP_DIR)" >&2
cargo test --workspace --no-fail-fast
