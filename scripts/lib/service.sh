# shellcheck shell=bash
# Shared by scripts/postgres.sh and scripts/rabbitmq.sh (sourced, not run): the parts of a
# service script that do not depend on the service. The caller sets NAME (for messages),
# DIR (the service's dir, absolute) and PID_FILE before using them.

say() { echo "$NAME: $*" >&2; }
die() { say "$*"; exit 1; }

# Takes an exclusive lock on <dir>.lock (beside the dir, so `stop` can remove the dir) on fd 8.
lock_dir() {
  mkdir -p "$(dirname "$DIR")"
  exec 8>"$DIR.lock"
  flock -w 120 8 || die "could not lock $DIR.lock within 120 s (another $NAME on this dir is stuck?)"
}

# Does something accept TCP connections on 127.0.0.1:$1?
port_answers() {
  timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

# Is port $1 used by any TCP socket at all, in any state?
port_touched() {
  local p="$1"
  if command -v ss >/dev/null && [[ -n "$(ss -Htan "( sport = :$p or dport = :$p )" 2>/dev/null)" ]]; then
    return 0
  fi
  port_answers "$p"
}

# A port free on loopback, below Linux's ephemeral range (32768-60999) so that no client
# connection takes it between the choice and the server's bind; never one of the arguments.
free_port() {
  local p tries=0
  while ((tries++ < 200)); do
    p=$((20000 + (RANDOM * 32768 + RANDOM) % 12000))
    [[ " $* " == *" $p "* ]] && continue
    port_touched "$p" || { echo "$p"; return 0; }
  done
  die "found no free port on 127.0.0.1 in 200 tries"
}

# Is PID $1 alive (not a zombie) with a command line containing $2? (So a reused PID is
# never taken for the service.)
pid_runs() {
  local pid="$1" state cmdline
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [[ -r "/proc/$pid/stat" ]] || return 1
  state=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1) || return 1
  [[ "$state" != Z && "$state" != X ]] || return 1
  cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
  [[ "$cmdline" == *"$2"* ]]
}

# Sends SIGTERM (or $2) to PID $1, then SIGKILL after $3 seconds; returns once it is gone.
stop_pid() {
  local pid="$1" sig="${2:-TERM}" timeout="${3:-20}" deadline
  kill -"$sig" "$pid" 2>/dev/null || return 0
  deadline=$((SECONDS + timeout))
  while kill -0 "$pid" 2>/dev/null && [[ "$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1)" != Z ]]; do
    if ((SECONDS >= deadline)); then
      say "pid $pid still running after $timeout s: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.1
  done
}
