# Sourced by the benchmark scripts: the work directory and the weir binary.
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
