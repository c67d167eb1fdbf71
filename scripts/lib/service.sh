# shellcheck shell=bash
# Shared by scripts/kafka.sh, scripts/postgres.sh and scripts/rabbitmq.sh (sourced, not run):
# the parts of a service script that do not depend on the service. The caller sets NAME (for
# messages) before sourcing; parse_args sets CMD, DIR (absolute), PORT and KEEP.

say() { echo "$NAME: $*" >&2; }
die() { say "$*"; exit 1; }

# The calling script's header comment (from its second line to `set -euo`), as help.
usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
  exit 2
}

# Parses `CMD [--dir D] [--port P] [--keep]` (and `-h`): CMD, DIR (absolute; default $1), PORT
# (checked to be a port number, or empty) and KEEP (0 or 1). An argument it does not know goes
# to the caller's function `extra_arg`, if it has one, which sets EXTRA_USED to the number of
# arguments it took (0: unknown).
# shellcheck disable=SC2034 # CMD, PORT and KEEP are the caller's
parse_args() {
  DIR="$1"
  shift
  CMD="${1:-}"
  [[ -n "$CMD" ]] || usage
  shift
  PORT=""
  KEEP=0
  while (($#)); do
    case "$1" in
      --dir) [[ $# -ge 2 ]] || die "--dir needs a value"; DIR="$2"; shift 2 ;;
      --dir=*) DIR="${1#--dir=}"; shift ;;
      --port) [[ $# -ge 2 ]] || die "--port needs a value"; PORT="$2"; shift 2 ;;
      --port=*) PORT="${1#--port=}"; shift ;;
      --keep) KEEP=1; shift ;;
      -h|--help) usage ;;
      *)
        EXTRA_USED=0
        if declare -F extra_arg >/dev/null; then extra_arg "$@"; fi
        ((EXTRA_USED > 0)) || die "unknown argument: $1 (try: $0 --help)"
        shift "$EXTRA_USED"
        ;;
    esac
  done
  [[ -n "$DIR" ]] || die "empty --dir"
  DIR=$(realpath -m -- "$DIR")
  [[ "$DIR" != / ]] || die "refusing to use / as the state dir"
  if [[ -n "$PORT" ]] && ! [[ "$PORT" =~ ^[0-9]+$ && "$PORT" -ge 1 && "$PORT" -le 65535 ]]; then
    die "--port must be a port number, not '$PORT'"
  fi
}

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
