# shellcheck shell=bash
# Sourced by the benchmarks on Kafka (bench/kafka/run.sh, bench/fk/kafka.sh): the Python with
# confluent-kafka and kafka_util.py, the Kafka Streams baseline's build, and the broker.
# Expects ROOT (the repository) and WORK (the run's work dir) to be set.
#
#   kafka_python           sets KAFKA_PYTHON (KAFKA_PYTHON, or scripts/python-deps.sh's venv);
#                          KU runs kafka_util.py with it
#   streams_build          builds bench/kafka/streams once (cached by a stamp of its sources);
#                          sets STREAMS_DIR, STREAMS_CP, STREAMS_VERSION
#   broker_start           WEIR_KAFKA_BOOTSTRAP, or scripts/kafka.sh's broker in $WORK/kafka;
#                          sets BOOTSTRAP, STARTED_BROKER (1: ours), KAFKA_DIR, KAFKA_VERSION
#   broker_stop            stops the broker broker_start started (by its PID file), if any
#   broker_describe        one line: the address and what it is
#   topic_rename DEF NAME=TOPIC...
#                          prints the definition DEF with its `topic: NAME` lines naming TOPIC
#   weir_runner_config DEF APP
#                          prints a runner config for `weir run` of DEF on the broker:
#                          application.id APP, GUARANTEE (at_least_once), reading from the
#                          earliest offset, its state in ./state
KAFKA_BENCH=$ROOT/bench/kafka
STARTED_BROKER=0

kafka_python() {
    KAFKA_PYTHON=${KAFKA_PYTHON:-$("$ROOT/scripts/python-deps.sh" | tail -n 1)}
    "$KAFKA_PYTHON" -c 'import confluent_kafka' 2> /dev/null \
        || { echo "$KAFKA_PYTHON has no confluent_kafka (set KAFKA_PYTHON)" >&2; exit 1; }
}
KU() { "$KAFKA_PYTHON" "$KAFKA_BENCH/kafka_util.py" "$@"; }

streams_build() {
    STREAMS_DIR=$KAFKA_BENCH/streams
    # shellcheck disable=SC2034 # used by the scripts that source this
    STREAMS_CP="$STREAMS_DIR/target/streams-bench.jar:$STREAMS_DIR/target/lib/*"
    STREAMS_VERSION=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$STREAMS_DIR/pom.xml")
    local stamp
    stamp=$(find "$STREAMS_DIR/pom.xml" "$STREAMS_DIR/src" -type f -print0 | sort -z | xargs -0 cat | sha256sum | cut -d' ' -f1)
    if [[ ! -f $STREAMS_DIR/target/streams-bench.jar || "$(cat "$STREAMS_DIR/target/.bench-stamp" 2> /dev/null)" != "$stamp" ]]; then
        echo "building: Kafka Streams baseline (mvn -B -q package)" >&2
        (cd "$STREAMS_DIR" && mvn -B -q -Dstyle.color=never package > "$WORK/mvn.log" 2>&1) \
            || { cat "$WORK/mvn.log" >&2; echo "mvn package of $STREAMS_DIR failed" >&2; exit 1; }
        echo "$stamp" > "$STREAMS_DIR/target/.bench-stamp"
    fi
}

broker_start() {
    KAFKA_DIR=$WORK/kafka
    if [[ -n ${WEIR_KAFKA_BOOTSTRAP:-} ]]; then
        BOOTSTRAP=$WEIR_KAFKA_BOOTSTRAP
    else
        BOOTSTRAP=$("$ROOT/scripts/kafka.sh" start --dir "$KAFKA_DIR")
        STARTED_BROKER=1
    fi
    KAFKA_VERSION=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$ROOT/scripts/kafka/pom.xml" 2> /dev/null || true)
    if [[ -n ${STREAMS_VERSION:-} && -n $KAFKA_VERSION && $KAFKA_VERSION != "$STREAMS_VERSION" ]]; then
        echo "NOTE: Kafka Streams $STREAMS_VERSION (bench/kafka/streams/pom.xml) but broker $KAFKA_VERSION (scripts/kafka/pom.xml): keep them in step" >&2
    fi
}

broker_stop() {
    if ((STARTED_BROKER)); then
        "$ROOT/scripts/kafka.sh" stop --dir "$KAFKA_DIR" > /dev/null 2>&1 || true
        STARTED_BROKER=0
    fi
}

broker_describe() {
    echo "$BOOTSTRAP ($([[ $STARTED_BROKER == 1 ]] && echo "scripts/kafka.sh, Apache Kafka ${KAFKA_VERSION:-?}, one KRaft node" || echo "WEIR_KAFKA_BOOTSTRAP"))"
}

weir_runner_config() {
    cat << EOF
ksml:
  storageDirectory: state
  createStorageDirectory: true
  definitions:
    bench: $1
kafka:
  bootstrap.servers: $BOOTSTRAP
  application.id: $2
  processing.guarantee: ${GUARANTEE:-at_least_once}
  auto.offset.reset: earliest
EOF
}

topic_rename() {
    local def=$1 args=() pair
    shift
    for pair in "$@"; do
        args+=(-e "s/^([[:space:]]*topic:[[:space:]]*)${pair%%=*}[[:space:]]*$/\1${pair#*=}/")
    done
    sed -E "${args[@]}" "$def"
}
