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
