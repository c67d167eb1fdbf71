# Sourced by the benchmark scripts: the work directory, the weir binary, and small helpers.
#
#   bench_setup <name>   sets ROOT, BENCH, WORK (WEIR_BENCH_DIR, kept, or a fresh
#                        /tmp/<name>.XXXXXX removed on exit) and WEIR (WEIR_BIN, or
#                        target/release/weir built now).
bench_setup() {
    ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
    BENCH=$ROOT/bench
    if [[ -n ${WEIR_BENCH_DIR:-} ]]; then
        WORK=$WEIR_BENCH_DIR
        mkdir -p "$WORK"
    else
        WORK=$(mktemp -d "/tmp/$1.XXXXXX")
        trap 'rm -rf "$WORK"' EXIT
    fi
    if [[ -n ${WEIR_BIN:-} ]]; then
        WEIR=$WEIR_BIN # a binary built elsewhere (e.g. to compare a change); no build
    else
        echo "building: cargo build --release -p weir" >&2
        (cd "$ROOT" && cargo build --release -p weir --quiet)
        WEIR=${CARGO_TARGET_DIR:-$ROOT/target}/release/weir
    fi
}

now() { date +%s.%N; }
# seconds between two `now`s
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", n / s }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "-"; else printf "%.2f", a / b }'; }
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
# bytes in MiB ("-" stays "-")
mib() { awk -v b="$1" 'BEGIN { if (b == "-") print "-"; else printf "%.1f", b / 1048576 }'; }
# "Maximum resident set size (kbytes)" of a GNU time -v report, in MiB
max_rss_mib() { awk -F': ' '/Maximum resident set size/ { printf "%.1f", $2 / 1024 }' "$1"; }

# The wrk benchmarks' settings and helpers (bench/rest/run.sh, bench/routes/run.sh):
#   wrk_setup            sets KEYS (10000), DURATION (10 s per wrk run), THREADS (2),
#                        CONNECTIONS (16), REPEAT (3), PYTHON (python3) unless given, and
#                        WRK (scripts/wrk.sh, which installs it when missing); needs curl
#   free_port            a free loopback port
#   machine_lines        the machine, the build and wrk, and the load now
#   wait_for WHAT SECONDS COMMAND...   polls COMMAND every 0.1 s until it succeeds; fails
#                        (printing $WORK/weir.log) if it does not, or if $WEIR_PID exits
#   stop_weir_and_clean  stops $WEIR_PID (SIGTERM, waited for) and removes $WORK unless kept
wrk_setup() {
    KEYS=${KEYS:-10000}
    DURATION=${DURATION:-10}
    THREADS=${THREADS:-2}
    CONNECTIONS=${CONNECTIONS:-16}
    REPEAT=${REPEAT:-3}
    PYTHON=${PYTHON:-python3}
    command -v curl > /dev/null || { echo "needs curl" >&2; exit 1; }
    WRK=$("$ROOT/scripts/wrk.sh")
}
free_port() { "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
machine_lines() {
    echo "machine: $(nproc) cores, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo), Linux $(uname -r)"
    echo "weir:    ${WEIR_BIN:-$(cd "$ROOT" && git describe --always --dirty)}; $("$WRK" --version 2>&1 | head -1 | cut -d' ' -f1-2)"
    echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min) before the run"
}
wait_for() {
    local what=$1 limit=$2 i
    shift 2
    for ((i = 0; i < limit * 10; i++)); do
        "$@" && return 0
        kill -0 "$WEIR_PID" 2> /dev/null || { cat "$WORK/weir.log" >&2; echo "weir run exited while waiting for $what" >&2; exit 1; }
        sleep 0.1
    done
    cat "$WORK/weir.log" >&2
    echo "gave up waiting for $what after $limit s" >&2
    exit 1
}
stop_weir_and_clean() {
    if [[ -n ${WEIR_PID:-} ]]; then
        kill -TERM "$WEIR_PID" 2> /dev/null || true
        wait "$WEIR_PID" 2> /dev/null || true
    fi
    [[ -n ${WEIR_BENCH_DIR:-} ]] || rm -rf "$WORK"
}
