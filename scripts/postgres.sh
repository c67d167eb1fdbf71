#!/usr/bin/env bash
# A real PostgreSQL server for Weir's tests and examples: the Debian package's binaries
# (installed with apt-get if missing), a cluster of its own in a dir, on loopback only.
# docs/databases-and-queues.md tells more.
#
#   scripts/postgres.sh start [--dir D] [--port P]
#       Starts the server and prints its connection URL, alone on stdout:
#       WEIR_PG_URL=$(scripts/postgres.sh start). The URL is
#       postgresql://weir@127.0.0.1:PORT/weir (user weir, trust authentication on loopback,
#       database weir). A dir already made is started again with its data and its port; a
#       server of that dir already running is left as it is and its URL printed.
#   scripts/postgres.sh stop [--dir D] [--keep]
#       Fast shutdown (SIGINT) of the server of that dir, by the PID in its postmaster.pid
#       (never by name), SIGKILL after 20 s; then removes the dir, unless --keep.
#   scripts/postgres.sh status [--dir D]
#       Prints "running URL" (exit 0), or "stopped" (exit 1).
#
# The dir D is $WEIR_PG_DIR, else /tmp/weir-postgres-$UID. In it: data/ (the cluster),
# postgres.log, url. Run as root, the server runs as the system user postgres (PostgreSQL
# refuses root) and the dir is made its own. fsync is off: a test and example database,
# quick, safe across server restarts, not across a machine crash.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NAME=postgres.sh
# shellcheck source-path=SCRIPTDIR source=lib/service.sh
. "$SCRIPT_DIR/lib/service.sh"
START_TIMEOUT="${WEIR_PG_START_TIMEOUT:-30}"
MARKER=.weir-postgres

parse_args "${WEIR_PG_DIR:-/tmp/weir-postgres-$UID}" "$@"
DATA="$DIR/data"
PID_FILE="$DATA/postmaster.pid"
LOG="$DIR/postgres.log"
RUN_AS=postgres

# The newest installed server's bin dir, installing the Debian package if there is none.
pg_bin() {
  local bin
  bin=$(find /usr/lib/postgresql -maxdepth 3 -path '*/bin/postgres' 2>/dev/null | sort -V | tail -n 1)
  if [[ -z "$bin" ]]; then
    ((EUID == 0)) || die "no PostgreSQL server under /usr/lib/postgresql; install it: apt-get install -y postgresql"
    say "installing PostgreSQL (apt-get install -y postgresql)"
    apt-get install -y postgresql >&2 || { apt-get update >&2 && apt-get install -y postgresql >&2; } \
      || die "apt-get could not install postgresql"
    bin=$(find /usr/lib/postgresql -maxdepth 3 -path '*/bin/postgres' | sort -V | tail -n 1)
    [[ -n "$bin" ]] || die "postgresql installed, but no server binary under /usr/lib/postgresql"
  fi
  dirname "$bin"
}

# The PID of this dir's running server (first line of postmaster.pid), or fails.
running_pid() {
  local pid
  [[ -f "$PID_FILE" ]] || return 1
  pid=$(head -n 1 "$PID_FILE" 2>/dev/null) || return 1
  pid_runs "$pid" "$DATA" || return 1
  echo "$pid"
}

url() { echo "postgresql://weir@127.0.0.1:$(cat "$DIR/port")/weir"; }

log_tail() {
  say "last lines of $LOG:"
  tail -n 30 "$LOG" 2>/dev/null | sed 's/^/    /' >&2 || true
}

cmd_start() {
  local bin port pid deadline
  lock_dir
  if pid=$(running_pid); then
    [[ -z "$PORT" || "$PORT" == "$(cat "$DIR/port")" ]] || die "the server of $DIR runs on port $(cat "$DIR/port"), not $PORT"
    say "already running (pid $pid, $DIR)"
    url
    return 0
  fi
  bin=$(pg_bin)
  ((EUID == 0)) || RUN_AS="$(id -un)"
  AS_USER=()
  ((EUID == 0)) && AS_USER=(setpriv --reuid "$RUN_AS" --regid "$RUN_AS" --init-groups --)
  if [[ -f "$DIR/$MARKER" && -f "$DATA/PG_VERSION" && -f "$DIR/port" ]]; then
    port=$(cat "$DIR/port")
    [[ -z "$PORT" || "$PORT" == "$port" ]] || die "$DIR was made with port $port, not $PORT (stop it without --keep to start afresh)"
    port_answers "$port" && die "port $port (of $DIR) is taken by another process"
    say "starting PostgreSQL again on 127.0.0.1:$port ($DIR)"
  else
    if [[ -n "$(ls -A "$DIR" 2>/dev/null)" && ! -f "$DIR/$MARKER" ]]; then
      die "$DIR is not empty and was not made by postgres.sh; choose another --dir"
    fi
    rm -rf "$DATA" "$DIR/port"
    mkdir -p "$DIR"
    touch "$DIR/$MARKER"
    ((EUID == 0)) && chown "$RUN_AS:" "$DIR"
    if [[ -n "$PORT" ]]; then
      port="$PORT"
      port_touched "$port" && die "port $port is taken"
    else
      port=$(free_port)
    fi
    "${AS_USER[@]}" "$bin/initdb" -D "$DATA" -U weir --auth=trust -E UTF8 --locale=C.UTF-8 --no-sync >"$DIR/initdb.log" 2>&1 \
      || { cat "$DIR/initdb.log" >&2; die "initdb into $DATA failed"; }
    echo "$port" >"$DIR/port"
    say "starting PostgreSQL on 127.0.0.1:$port ($DIR)"
  fi
  mkdir -p "$DIR/socket"
  ((EUID == 0)) && chown -R "$RUN_AS:" "$DIR"
  [[ -f "$LOG" ]] && mv -f "$LOG" "$LOG.1"
  : >"$LOG"
  ((EUID == 0)) && chown "$RUN_AS:" "$LOG"
  # setsid: its own session, so a signal to the caller's process group does not reach it.
  # Its fds go to the log or /dev/null (an inherited stdout would keep $(postgres.sh start)
  # waiting; an inherited lock fd would hold the dir's lock).
  setsid "${AS_USER[@]}" "$bin/postgres" -D "$DATA" -p "$port" \
    -c listen_addresses=127.0.0.1 -c unix_socket_directories="$DIR/socket" -c fsync=off \
    -c full_page_writes=off -c max_connections=50 -c shared_buffers=16MB </dev/null >>"$LOG" 2>&1 8>&- &
  deadline=$((SECONDS + START_TIMEOUT))
  until "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" -d postgres -U weir; do
    if ((SECONDS >= deadline)); then
      log_tail
      die "PostgreSQL was not ready within $START_TIMEOUT s"
    fi
    if ! jobs -r | grep -q . && ! running_pid >/dev/null; then
      log_tail
      die "PostgreSQL exited during start-up"
    fi
    sleep 0.1
  done
  if ! "$bin/psql" -qAt -h 127.0.0.1 -p "$port" -U weir -d postgres -c "SELECT 1 FROM pg_database WHERE datname = 'weir'" | grep -q 1; then
    "$bin/psql" -q -h 127.0.0.1 -p "$port" -U weir -d postgres -c "CREATE DATABASE weir" >&2 || die "could not create the database weir"
  fi
  say "ready: $(url) (pid $(running_pid))"
  url
}

cmd_stop() {
  local pid
  lock_dir
  if pid=$(running_pid); then
    say "stopping PostgreSQL (pid $pid, $DIR)"
    stop_pid "$pid" INT 20
  fi
  if ((KEEP == 0)) && [[ -d "$DIR" ]]; then
    if [[ -f "$DIR/$MARKER" ]]; then rm -rf "$DIR"; else say "not removing $DIR: postgres.sh did not make it"; fi
  fi
  rm -f "$DIR.lock"
}

cmd_status() {
  if running_pid >/dev/null; then echo "running $(url)"; else echo stopped; return 1; fi
}

case "$CMD" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *) die "unknown command '$CMD' (start, stop, status)" ;;
esac
