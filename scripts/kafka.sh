#!/usr/bin/env bash
# A real Apache Kafka broker for Weir's tests and users: one KRaft node (broker and controller
# in one JVM) on loopback, its jars taken from Maven Central with scripts/kafka/pom.xml (no
# tarball, no Docker). Needs Java 17+ (`java`, or $JAVA_HOME/bin/java) and Maven (`mvn`).
# docs/kafka-broker.md tells more.
#
#   scripts/kafka.sh start  [--dir D] [--port P] [--set KEY=VALUE]...
#       Starts the broker and prints its bootstrap address (127.0.0.1:PORT), alone on stdout:
#       BOOTSTRAP=$(scripts/kafka.sh start). Waits (bounded) until it serves clients. A dir
#       already formatted is started again with its data and its ports (never reformatted);
#       a broker of that dir already running is left as it is and its address printed.
#   scripts/kafka.sh stop   [--dir D] [--keep]
#       SIGTERM to the broker of that dir (by its PID file, never by name), SIGKILL after
#       $WEIR_KAFKA_STOP_TIMEOUT s (20); then removes the dir, unless --keep. `stop --keep`
#       then `start` on the same dir resumes the same broker, same port, same data.
#   scripts/kafka.sh status [--dir D]
#       Prints "running ADDRESS" (exit 0), or "stopped [ADDRESS]" (exit 1).
#   scripts/kafka.sh fetch
#       Only fills the jar cache (e.g. ahead of tests run offline). Prints the libs dir.
#
# The dir D is $WEIR_KAFKA_DIR, else /tmp/weir-kafka-$UID. In it: server.properties, data/
# (the KRaft metadata log and the topics), kafka.log (the broker's console, WARN and up;
# kafka.log.1 is the previous start's), kafka.pid, bootstrap (the address), log4j2.xml,
# format.log (StorageTool's output).
# --port picks the client port of a new dir (else a free loopback port is chosen, and another
# for the controller); --set adds a broker setting to a new dir's server.properties.
# Jars: ${WEIR_KAFKA_HOME:-~/.cache/weir-kafka}/<kafka version>/libs, fetched once (Maven's
# ~/.m2 caches them too) and fetched again when scripts/kafka/pom.xml changes.
# Other knobs: WEIR_KAFKA_HEAP (512m), WEIR_KAFKA_JAVA_OPTS (JVM options put after ours, so
# they win), WEIR_KAFKA_START_TIMEOUT (60 s, to be ready), WEIR_KAFKA_STOP_TIMEOUT (20 s),
# WEIR_KAFKA_FETCH_TIMEOUT (900 s, for mvn).
#
# Concurrent calls on one dir are serialised by a lock on <dir>.lock, and fetches by a lock in
# the jar cache, so parallel test binaries can all call `start` on one dir, or each on its own.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
POM="$SCRIPT_DIR/kafka/pom.xml"
LOG4J_XML="$SCRIPT_DIR/kafka/log4j2.xml"
KAFKA_VERSION=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$POM")
CACHE_HOME="${WEIR_KAFKA_HOME:-$HOME/.cache/weir-kafka}"
LIBS="$CACHE_HOME/$KAFKA_VERSION/libs"
HEAP="${WEIR_KAFKA_HEAP:-512m}"
START_TIMEOUT="${WEIR_KAFKA_START_TIMEOUT:-60}"
STOP_TIMEOUT="${WEIR_KAFKA_STOP_TIMEOUT:-20}"
FETCH_TIMEOUT="${WEIR_KAFKA_FETCH_TIMEOUT:-900}"
JAVA="${JAVA_HOME:+$JAVA_HOME/bin/}java"
# Written into every dir this script makes; `stop` removes only dirs that have it.
MARKER=.weir-kafka
# The line KafkaRaftServer logs (at INFO, kept by log4j2.xml) once the broker has caught up
# with the metadata log and been unfenced: from then on it serves metadata and creates topics.
READY_LINE='Kafka Server started'

NAME=kafka.sh
# shellcheck source-path=SCRIPTDIR source=lib/service.sh
. "$SCRIPT_DIR/lib/service.sh"

# ---- options ---------------------------------------------------------------------------------

EXTRA_SETTINGS=()
# --set KEY=VALUE (repeatable): a broker setting added to server.properties.
extra_arg() {
  case "$1" in
    --set) [[ $# -ge 2 && "$2" == *=* ]] || die "--set needs KEY=VALUE"; EXTRA_SETTINGS+=("$2"); EXTRA_USED=2 ;;
    --set=*) [[ "$1" == --set=*=* ]] || die "--set needs KEY=VALUE"; EXTRA_SETTINGS+=("${1#--set=}"); EXTRA_USED=1 ;;
  esac
}
parse_args "${WEIR_KAFKA_DIR:-/tmp/weir-kafka-$UID}" "$@"
PID_FILE="$DIR/kafka.pid"
PROPS="$DIR/server.properties"
LOG="$DIR/kafka.log"

# ---- helpers ---------------------------------------------------------------------------------

# A setting of the dir's server.properties.
prop() { sed -n "s/^$1=//p" "$PROPS" | tail -n 1; }

client_port() { local l; l=$(prop listeners); l="${l#*PLAINTEXT://}"; l="${l%%,*}"; echo "${l##*:}"; }

# Is this PID our broker, alive? Its command line must name this dir's server.properties (so a
# reused PID is never taken for it), and it must not be a zombie (a broker whose parent has
# exited is reaped by whoever adopted it, which in a container may be nobody).
is_our_broker() {
  pid_runs "$1" "$PROPS" && [[ "$(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null)" == *kafka.Kafka* ]]
}

# Prints the PID of this dir's running broker, or fails.
running_pid() {
  local pid
  [[ -f "$PID_FILE" ]] || return 1
  pid=$(cat "$PID_FILE" 2>/dev/null) || return 1
  is_our_broker "$pid" || return 1
  echo "$pid"
}

# Is something listening on port $1? (A socket of an earlier run of this broker left in
# TIME_WAIT does not count: Kafka binds with SO_REUSEADDR.)
port_in_use() {
  local p="$1"
  if command -v ss >/dev/null && [[ -n "$(ss -Hltn "( sport = :$p )" 2>/dev/null)" ]]; then
    return 0
  fi
  port_answers "$p"
}

log_tail() {
  if [[ -s "$LOG" ]]; then
    say "last lines of $LOG:"
    tail -n 40 "$LOG" | sed 's/^/    /' >&2
  else
    say "$LOG is empty"
  fi
}

check_java() {
  command -v "$JAVA" >/dev/null || die "java not found (Kafka's broker needs Java 17+ on PATH or in \$JAVA_HOME)"
  local v major
  v=$("$JAVA" -version 2>&1 | sed -n 's/.* version "\([^"]*\)".*/\1/p' | head -n 1)
  major="${v%%.*}"
  [[ "$major" == 1 ]] && major=$(echo "$v" | cut -d. -f2)
  if ! [[ "$major" =~ ^[0-9]+$ ]] || ((major < 17)); then
    die "Kafka $KAFKA_VERSION's broker needs Java 17+, found '${v:-unknown}' ($JAVA)"
  fi
}

# ---- the jar cache ---------------------------------------------------------------------------

# Fills $LIBS with the runtime classpath of scripts/kafka/pom.xml, unless it already holds that
# pom's classpath (stamped by the pom's hash, written last, so a half-done fetch never counts).
fetch_jars() {
  local want stamp="$LIBS/.weir-complete" tmp fd
  want=$(sha256sum <"$POM" | cut -d' ' -f1)
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then return 0; fi
  mkdir -p "$CACHE_HOME"
  exec {fd}>"$CACHE_HOME/.fetch.lock"
  flock -w "$FETCH_TIMEOUT" "$fd" || die "could not lock $CACHE_HOME/.fetch.lock within $FETCH_TIMEOUT s"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then exec {fd}>&-; return 0; fi
  command -v mvn >/dev/null || die "mvn not found: Maven fetches the broker's jars from Maven Central"
  say "fetching Apache Kafka $KAFKA_VERSION's jars from Maven Central into $LIBS"
  tmp=$(mktemp -d "$CACHE_HOME/fetch.XXXXXX")
  # Maven writes (even with -q) colour codes to stdout: keep stdout for the address alone.
  if ! timeout "$FETCH_TIMEOUT" mvn -B -q -Dstyle.color=never -f "$POM" \
      dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp/libs" >&2; then
    rm -rf "$tmp"
    die "mvn could not fetch the broker's jars (is Maven Central reachable? see above)"
  fi
  # The classpath must hold exactly one SLF4J binding that fits its slf4j-api, or the broker
  # logs nothing (and kafka.sh never sees it get ready).
  if compgen -G "$tmp/libs/slf4j-api-1.*.jar" >/dev/null; then
    compgen -G "$tmp/libs/log4j-slf4j-impl-*.jar" >/dev/null \
      || { rm -rf "$tmp"; die "slf4j-api 1.x needs org.apache.logging.log4j:log4j-slf4j-impl in $POM"; }
  elif compgen -G "$tmp/libs/slf4j-api-2.*.jar" >/dev/null; then
    compgen -G "$tmp/libs/log4j-slf4j2-impl-*.jar" >/dev/null \
      || { rm -rf "$tmp"; die "slf4j-api 2.x needs org.apache.logging.log4j:log4j-slf4j2-impl (not log4j-slf4j-impl) in $POM"; }
  fi
  compgen -G "$tmp/libs/kafka_2.13-$KAFKA_VERSION.jar" >/dev/null \
    || { rm -rf "$tmp"; die "the fetch did not bring kafka_2.13-$KAFKA_VERSION.jar"; }
  echo "$want" >"$tmp/libs/.weir-complete"
  mkdir -p "$(dirname "$LIBS")"
  rm -rf "$LIBS"
  mv "$tmp/libs" "$LIBS"
  rm -rf "$tmp"
  exec {fd}>&-
}

# Runs a Kafka tool (JVM options first, then the main class and its arguments).
run_java() {
  "$JAVA" -Dlog4j2.configurationFile="$DIR/log4j2.xml" -cp "$LIBS/*" "$@"
}

# ---- start -----------------------------------------------------------------------------------

write_properties() {
  local port="$1" cport="$2" tmp="$PROPS.tmp" kv
  cat >"$tmp" <<EOF
# Written by scripts/kafka.sh: one KRaft node, broker and controller in one JVM, on loopback.
# Kept across 'stop --keep' and 'start' (the formatted data and the ports belong together).
process.roles=broker,controller
node.id=1
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
# A dynamic quorum of one voter, formatted with 'format --standalone' (KIP-853).
controller.quorum.bootstrap.servers=127.0.0.1:$cport
log.dirs=$DIR/data

# One node: every replication factor and min ISR is 1.
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1

# Small and quick for tests: one partition (not 50) for each internal topic, so the first
# group or transaction does not wait for 50 partitions to be created and loaded; no 3 s
# delay before a group's first rebalance; the log cleaner's dedupe buffer 2 MiB instead of
# 128 MiB (Kafka's own test harness does the same) so the heap stays small; few threads on
# a 2-core machine.
offsets.topic.num.partitions=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.num.partitions=1
group.initial.rebalance.delay.ms=0
log.cleaner.dedupe.buffer.size=2097152
num.network.threads=2
num.io.threads=2
num.recovery.threads.per.data.dir=1
background.threads=2
num.partitions=1
# After a crash (SIGKILL), the restarted node's controller keeps the old broker registration
# until its session times out, and the new broker waits for that: 9 s by default, about 5 s
# here. Not lower, so that a busy machine delaying heartbeats does not fence the broker.
broker.heartbeat.interval.ms=1000
broker.session.timeout.ms=5000

# Topics are created explicitly (by tests and by Weir), never as a side effect of a metadata
# request or a produce: an auto-created topic would have 1 partition and hide a missing
# create. Override with 'kafka.sh start --set auto.create.topics.enable=true'.
auto.create.topics.enable=false
EOF
  if ((${#EXTRA_SETTINGS[@]})); then
    echo "" >>"$tmp"
    echo "# From kafka.sh start --set" >>"$tmp"
    for kv in "${EXTRA_SETTINGS[@]}"; do echo "$kv" >>"$tmp"; done
  fi
  mv "$tmp" "$PROPS"
}

format_storage() {
  local id
  local flog="$DIR/format.log"
  : >"$flog"
  id=$(run_java -XX:TieredStopAtLevel=1 kafka.tools.StorageTool random-uuid 2>>"$flog") \
    || { cat "$flog" >&2; die "StorageTool random-uuid failed"; }
  [[ -n "$id" ]] || die "StorageTool random-uuid printed no id"
  # --standalone: a dynamic KRaft quorum (KIP-853) whose one voter is this node, found through
  # controller.quorum.bootstrap.servers.
  if ! run_java -XX:TieredStopAtLevel=1 kafka.tools.StorageTool format -t "$id" -c "$PROPS" --standalone >>"$flog" 2>&1; then
    cat "$flog" >&2
    die "formatting $DIR/data failed"
  fi
}

launch() {
  local pid
  [[ -f "$LOG" ]] && mv -f "$LOG" "$LOG.1"
  : >"$LOG"
  # setsid: the broker gets its own session, so a Ctrl-C or a signal to the caller's process
  # group does not reach it (only 'stop' does). All of its fds go to the log or /dev/null:
  # an inherited stdout would keep $(kafka.sh start) waiting forever, and an inherited lock fd
  # would hold the dir's lock for the broker's whole life.
  # shellcheck disable=SC2086
  # -XX:TieredStopAtLevel=1 (the C1 compiler only): measured here, a start 1.3 s quicker,
  # half the CPU time and ~30 MB less RSS, and no slower under test loads (the C2 compiler's
  # threads compete with the tests for 2 cores). WEIR_KAFKA_JAVA_OPTS comes after, so
  # e.g. -XX:TieredStopAtLevel=4 there brings C2 back.
  setsid "$JAVA" -Xms64m -Xmx"$HEAP" -XX:TieredStopAtLevel=1 \
    -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
    -XX:+ExplicitGCInvokesConcurrent -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$DIR/log4j2.xml" -cp "$LIBS/*" \
    ${WEIR_KAFKA_JAVA_OPTS:-} \
    kafka.Kafka "$PROPS" </dev/null >>"$LOG" 2>&1 8>&- &
  pid=$!
  echo "$pid" >"$PID_FILE"
  # $! is the forked shell, which becomes setsid and then java: wait (bounded) for the exec
  # to show in /proc, so that is_our_broker does not take the moment before it for an exit.
  local deadline=$((SECONDS + 10))
  while ! is_our_broker "$pid"; do
    if ! kill -0 "$pid" 2>/dev/null || [[ "$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1)" == Z ]]; then
      return 0 # it died: wait_ready reports it with the log
    fi
    if ((SECONDS >= deadline)); then
      die "pid $pid did not become the broker within 10 s: $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)"
    fi
    sleep 0.05
  done
}

# Waits until the broker of this dir serves clients: its process is alive, its client port
# accepts connections, and it has logged READY_LINE since this start. Bounded.
wait_ready() {
  local port="$1" deadline=$((SECONDS + START_TIMEOUT)) pid
  pid=$(cat "$PID_FILE")
  while :; do
    if ! is_our_broker "$pid"; then
      log_tail
      rm -f "$PID_FILE"
      die "the broker (pid $pid) exited during start-up"
    fi
    if grep -qF "$READY_LINE" "$LOG" 2>/dev/null && port_answers "$port"; then
      return 0
    fi
    if ((SECONDS >= deadline)); then
      log_tail
      die "the broker (pid $pid) was not ready within $START_TIMEOUT s; it is still running: 'scripts/kafka.sh stop --dir $DIR' ends it"
    fi
    sleep 0.2
  done
}

cmd_start() {
  local port cport pid
  check_java
  lock_dir
  if pid=$(running_pid); then
    port=$(client_port)
    [[ -z "$PORT" || "$PORT" == "$port" ]] || die "the broker of $DIR is running on port $port, not $PORT"
    wait_ready "$port"
    say "already running (pid $pid, $DIR)"
    echo "127.0.0.1:$port"
    return 0
  fi
  fetch_jars
  mkdir -p "$DIR"
  if [[ -f "$DIR/data/meta.properties" && -f "$PROPS" ]]; then
    # Formatted before: start it again as it was, same ports, same data.
    port=$(client_port)
    [[ -z "$PORT" || "$PORT" == "$port" ]] \
      || die "$DIR was made with port $port, not $PORT (stop it without --keep to start afresh)"
    ((${#EXTRA_SETTINGS[@]} == 0)) || say "ignoring --set: $DIR keeps the server.properties it was made with"
    [[ -f "$DIR/$MARKER" ]] || die "$DIR holds Kafka data that kafka.sh did not make"
    port_in_use "$port" && die "port $port (of $DIR) is taken by another process"
    cport=$(prop listeners); cport="${cport##*:}"
    port_in_use "$cport" && die "controller port $cport (of $DIR) is taken by another process"
    cp "$LOG4J_XML" "$DIR/log4j2.xml"
    say "starting Kafka $KAFKA_VERSION again on 127.0.0.1:$port ($DIR)"
  else
    if [[ -n "$(ls -A "$DIR" 2>/dev/null)" && ! -f "$DIR/$MARKER" ]]; then
      die "$DIR is not empty and was not made by kafka.sh; choose another --dir"
    fi
    # A new dir, or one whose format never finished: (re)make it whole.
    rm -rf "$DIR/data" "$PROPS"
    touch "$DIR/$MARKER"
    if [[ -n "$PORT" ]]; then
      port="$PORT"
      port_in_use "$port" && die "port $port is taken"
    else
      port=$(free_port)
    fi
    cport=$(free_port "$port")
    cp "$LOG4J_XML" "$DIR/log4j2.xml"
    write_properties "$port" "$cport"
    format_storage
    say "starting Kafka $KAFKA_VERSION on 127.0.0.1:$port (controller :$cport, $DIR)"
  fi
  rm -f "$DIR/bootstrap"
  launch
  wait_ready "$port"
  echo "127.0.0.1:$port" >"$DIR/bootstrap"
  say "ready: 127.0.0.1:$port (pid $(cat "$PID_FILE"))"
  echo "127.0.0.1:$port"
}

# ---- stop, status ----------------------------------------------------------------------------

cmd_stop() {
  local pid deadline
  lock_dir
  if pid=$(running_pid); then
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$((SECONDS + STOP_TIMEOUT))
    while is_our_broker "$pid" && ((SECONDS < deadline)); do sleep 0.2; done
    if is_our_broker "$pid"; then
      say "the broker (pid $pid) did not stop within $STOP_TIMEOUT s of SIGTERM; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      deadline=$((SECONDS + 10))
      while is_our_broker "$pid" && ((SECONDS < deadline)); do sleep 0.2; done
      is_our_broker "$pid" && die "the broker (pid $pid) survived SIGKILL"
    fi
    say "stopped the broker (pid $pid)"
  else
    say "no broker running for $DIR"
  fi
  rm -f "$PID_FILE"
  if ((KEEP)); then
    return 0
  fi
  if [[ -d "$DIR" ]]; then
    if [[ -f "$DIR/$MARKER" ]]; then
      rm -rf "$DIR"
      say "removed $DIR"
    else
      say "left $DIR alone: kafka.sh did not make it"
    fi
  fi
  # $DIR.lock stays: removing it while another kafka.sh waits on it would let a third one
  # lock a new file of that name at the same time.
}

cmd_status() {
  local pid port=""
  [[ -f "$PROPS" ]] && port=$(client_port)
  if pid=$(running_pid); then
    echo "running 127.0.0.1:$port"
    say "pid $pid, dir $DIR"
    return 0
  fi
  echo "stopped${port:+ 127.0.0.1:$port}"
  return 1
}

case "$CMD" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  fetch) fetch_jars; echo "$LIBS" ;;
  -h|--help|help) usage ;;
  *) say "unknown command: $CMD"; usage ;;
esac
