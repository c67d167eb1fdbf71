#!/usr/bin/env bash
# A real RabbitMQ broker for Weir's tests and examples: the Debian package rabbitmq-server
# (installed with apt-get if missing), one node with its own dir, ports, Erlang cookie and
# epmd, on loopback only. docs/databases-and-queues.md tells more.
#
#   scripts/rabbitmq.sh start [--dir D] [--port P]
#       Starts the broker and prints its AMQP URL, alone on stdout:
#       WEIR_AMQP_URL=$(scripts/rabbitmq.sh start). The URL is
#       amqp://guest:guest@127.0.0.1:PORT/%2F (RabbitMQ's guest user, allowed on loopback
#       only). A dir already made is started again with its data and ports; a broker of that
#       dir already running is left as it is and its URL printed.
#   scripts/rabbitmq.sh stop [--dir D] [--keep]
#       SIGTERM to the broker's VM (by the PID it wrote, never by name; Erlang stops cleanly
#       on it), SIGKILL after 30 s; then the same for the dir's epmd; then removes the dir,
#       unless --keep.
#   scripts/rabbitmq.sh status [--dir D]
#       Prints "running URL" (exit 0), or "stopped" (exit 1).
#
# The dir D is $WEIR_AMQP_DIR, else /tmp/weir-rabbitmq-$UID. In it: rabbitmq.conf,
# enabled_plugins (none), home/.erlang.cookie, mnesia/ (the node's data), log/, ports,
# rabbitmq.pid (the VM), epmd.pid. Nothing is read from /etc/rabbitmq or /var/lib/rabbitmq,
# and no system-wide epmd is started or used: the node's epmd listens on a port of its own.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NAME=rabbitmq.sh
# shellcheck source-path=SCRIPTDIR source=lib/service.sh
. "$SCRIPT_DIR/lib/service.sh"
START_TIMEOUT="${WEIR_AMQP_START_TIMEOUT:-90}"
MARKER=.weir-rabbitmq
RABBIT_BIN=/usr/lib/rabbitmq/bin

parse_args "${WEIR_AMQP_DIR:-/tmp/weir-rabbitmq-$UID}" "$@"
PID_FILE="$DIR/rabbitmq.pid"
EPMD_PID_FILE="$DIR/epmd.pid"
LOG="$DIR/console.log"

ensure_installed() {
  [[ -x "$RABBIT_BIN/rabbitmq-server" ]] && command -v epmd >/dev/null && return 0
  ((EUID == 0)) || die "RabbitMQ is not installed; install it: apt-get install -y rabbitmq-server"
  say "installing RabbitMQ (apt-get install -y rabbitmq-server)"
  # The package's service is not started: policy-rc.d, or no init system, in containers; and
  # this script never uses it.
  apt-get install -y rabbitmq-server >&2 || { apt-get update >&2 && apt-get install -y rabbitmq-server >&2; } \
    || die "apt-get could not install rabbitmq-server"
  [[ -x "$RABBIT_BIN/rabbitmq-server" ]] || die "rabbitmq-server installed, but $RABBIT_BIN/rabbitmq-server is missing"
}

# ports: "AMQP EPMD DIST"
port_of() { cut -d' ' -f"$1" "$DIR/ports"; }

running_pid() {
  local pid
  [[ -f "$PID_FILE" ]] || return 1
  pid=$(cat "$PID_FILE" 2>/dev/null) || return 1
  pid_runs "$pid" "-weir_dir $DIR" || return 1
  echo "$pid"
}

epmd_pid() {
  local pid
  [[ -f "$EPMD_PID_FILE" ]] || return 1
  pid=$(cat "$EPMD_PID_FILE" 2>/dev/null) || return 1
  pid_runs "$pid" "epmd -port $(port_of 2) " || return 1
  echo "$pid"
}

url() { echo "amqp://guest:guest@127.0.0.1:$(port_of 1)/%2F"; }

log_tail() {
  say "last lines of $LOG and $DIR/log:"
  tail -n 30 "$LOG" "$DIR"/log/*.log 2>/dev/null | sed 's/^/    /' >&2 || true
}

# The environment RabbitMQ's scripts read: everything in the dir, nothing system-wide.
rabbit_env() {
  export HOME="$DIR/home"
  export RABBITMQ_CONF_ENV_FILE="$DIR/rabbitmq-env.conf"
  export RABBITMQ_CONFIG_FILE="$DIR/rabbitmq.conf"
  export RABBITMQ_ADVANCED_CONFIG_FILE="$DIR/advanced.config"
  export RABBITMQ_ENABLED_PLUGINS_FILE="$DIR/enabled_plugins"
  export RABBITMQ_MNESIA_BASE="$DIR/mnesia"
  export RABBITMQ_LOG_BASE="$DIR/log"
  export RABBITMQ_PID_FILE="$PID_FILE"
  export RABBITMQ_NODENAME=weir@localhost
  export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
  export RABBITMQ_NODE_PORT
  RABBITMQ_NODE_PORT=$(port_of 1)
  export RABBITMQ_DIST_PORT
  RABBITMQ_DIST_PORT=$(port_of 3)
  export ERL_EPMD_PORT
  ERL_EPMD_PORT=$(port_of 2)
  export ERL_EPMD_ADDRESS=127.0.0.1
  # -weir_dir marks the VM's command line as this dir's, for running_pid.
  export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-start_epmd false -kernel inet_dist_use_interface {127,0,0,1} -weir_dir $DIR"
}

start_epmd() {
  local eport deadline
  eport=$(port_of 2)
  epmd_pid >/dev/null && return 0
  port_answers "$eport" && die "epmd port $eport (of $DIR) is taken by another process"
  setsid epmd -port "$eport" -address 127.0.0.1 </dev/null >>"$DIR/epmd.log" 2>&1 8>&- &
  echo "$!" >"$EPMD_PID_FILE"
  deadline=$((SECONDS + 10))
  until port_answers "$eport"; do
    ((SECONDS < deadline)) || die "epmd did not listen on 127.0.0.1:$eport within 10 s"
    sleep 0.05
  done
}

cmd_start() {
  local port pid deadline
  lock_dir
  if [[ -f "$DIR/ports" ]] && pid=$(running_pid); then
    [[ -z "$PORT" || "$PORT" == "$(port_of 1)" ]] || die "the broker of $DIR runs on port $(port_of 1), not $PORT"
    say "already running (pid $pid, $DIR)"
    url
    return 0
  fi
  ensure_installed
  if [[ -f "$DIR/$MARKER" && -f "$DIR/ports" ]]; then
    port=$(port_of 1)
    [[ -z "$PORT" || "$PORT" == "$port" ]] || die "$DIR was made with port $port, not $PORT (stop it without --keep to start afresh)"
    port_answers "$port" && die "port $port (of $DIR) is taken by another process"
    say "starting RabbitMQ again on 127.0.0.1:$port ($DIR)"
  else
    if [[ -n "$(ls -A "$DIR" 2>/dev/null)" && ! -f "$DIR/$MARKER" ]]; then
      die "$DIR is not empty and was not made by rabbitmq.sh; choose another --dir"
    fi
    mkdir -p "$DIR/home" "$DIR/log" "$DIR/mnesia"
    touch "$DIR/$MARKER"
    if [[ -n "$PORT" ]]; then
      port="$PORT"
      port_touched "$port" && die "port $port is taken"
    else
      port=$(free_port)
    fi
    local eport dport
    eport=$(free_port "$port")
    dport=$(free_port "$port" "$eport")
    echo "$port $eport $dport" >"$DIR/ports"
    # A cookie of this node's own (the Erlang distribution's shared secret).
    head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$DIR/home/.erlang.cookie"
    chmod 400 "$DIR/home/.erlang.cookie"
    : >"$DIR/rabbitmq-env.conf"
    echo "[]." >"$DIR/enabled_plugins"
    echo "[]." >"$DIR/advanced.config"
    cat >"$DIR/rabbitmq.conf" <<CONF
# Written by scripts/rabbitmq.sh: one node on loopback, for tests and examples.
listeners.tcp.1 = 127.0.0.1:$port
loopback_users.guest = true
log.console = true
log.console.level = warning
log.file.level = info
# A test broker on a shared machine: do not block publishers for a low-disk or memory alarm
# at the usual thresholds.
disk_free_limit.absolute = 50MB
vm_memory_high_watermark.relative = 0.8
CONF
    say "starting RabbitMQ on 127.0.0.1:$port (epmd :$eport, distribution :$dport, $DIR)"
  fi
  rabbit_env
  start_epmd
  rm -f "$PID_FILE"
  [[ -f "$LOG" ]] && mv -f "$LOG" "$LOG.1"
  : >"$LOG"
  # setsid: its own session; fds to the log or /dev/null (see postgres.sh).
  setsid "$RABBIT_BIN/rabbitmq-server" </dev/null >>"$LOG" 2>&1 8>&- &
  local wrapper=$!
  deadline=$((SECONDS + START_TIMEOUT))
  # Ready when the VM has written its PID and the AMQP port answers (RabbitMQ opens its
  # listeners last, once booted).
  until running_pid >/dev/null && port_answers "$port"; do
    if ! kill -0 "$wrapper" 2>/dev/null; then
      log_tail
      die "RabbitMQ exited during start-up"
    fi
    if ((SECONDS >= deadline)); then
      log_tail
      die "RabbitMQ was not ready within $START_TIMEOUT s; 'scripts/rabbitmq.sh stop --dir $DIR' ends it"
    fi
    sleep 0.2
  done
  say "ready: $(url) (pid $(running_pid))"
  url
}

cmd_stop() {
  local pid
  lock_dir
  if [[ -f "$DIR/ports" ]]; then
    if pid=$(running_pid); then
      say "stopping RabbitMQ (pid $pid, $DIR)"
      stop_pid "$pid" TERM 30
    fi
    if pid=$(epmd_pid); then
      stop_pid "$pid" TERM 5
    fi
  fi
  if ((KEEP == 0)) && [[ -d "$DIR" ]]; then
    if [[ -f "$DIR/$MARKER" ]]; then rm -rf "$DIR"; else say "not removing $DIR: rabbitmq.sh did not make it"; fi
  fi
  rm -f "$DIR.lock"
}

cmd_status() {
  if [[ -f "$DIR/ports" ]] && running_pid >/dev/null; then echo "running $(url)"; else echo stopped; return 1; fi
}

case "$CMD" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *) die "unknown command '$CMD' (start, stop, status)" ;;
esac
