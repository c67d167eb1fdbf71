#!/usr/bin/env bash
# Weir's end-to-end benchmarks. Prints figures; asserts nothing. See bench/README.md.
#
#   bench/run.sh                      # everything, 3 repeats, medians (Weir and the plain loop in turns)
#   REPEAT=1 bench/run.sh             # quicker
#   ONLY=python bench/run.sh          # only the Python pipeline (or ONLY=plain)
#
# Environment: PY_RECORDS (200000), NOPY_RECORDS (1000000), REPEAT (3), PYTHON (python3),
# WEIR_BENCH_DIR (a fresh temp dir; removed at the end unless given), CARGO_TARGET_DIR,
# WEIR_BIN (a weir binary to measure instead of building target/release/weir).
set -euo pipefail
# shellcheck source=bench/common.sh
source "$(dirname "$0")/common.sh"
bench_setup weir-bench

PY_RECORDS=${PY_RECORDS:-200000}
NOPY_RECORDS=${NOPY_RECORDS:-1000000}
REPEAT=${REPEAT:-3}
PYTHON=${PYTHON:-python3}
ONLY=${ONLY:-all}
TIME=/usr/bin/time
[[ -x $TIME ]] || { echo "needs GNU time at /usr/bin/time (apt-get install time)" >&2; exit 1; }


# records held by a topic (END summed over partitions)
topic_end() { "$WEIR" topic list --storage "$1" | awk -v t="$2" '$1 == t { print $5 }'; }

machine() {
    echo "machine: $(nproc) cores, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM, Linux $(uname -r)"
    echo "python:  $($PYTHON --version 2>&1); weir: ${WEIR_BIN:-$(cd "$ROOT" && git describe --always --dirty)}"
    echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min) before the run"
}

# seed NAME FILE: a log with FILE produced (--raw) into topic 'orders'; prints the produce time.
seed() {
    local dir=$WORK/seed-$1
    rm -rf "$dir"
    local t0 t1
    t0=$(now)
    "$WEIR" topic produce orders --raw --file "$2" --storage "$dir/state" > /dev/null 2>&1
    t1=$(now)
    elapsed "$t0" "$t1"
}

# measure SEED DEFINITION OUTPUT_TOPIC RECORDS LABEL [RUNS [FIRST]]: runs `weir run --until-idle`
# RUNS (REPEAT) times on a copy of the seeded log; prints one line per run (numbered from FIRST)
# and sets MEDIAN_S, MEDIAN_RSS, OUT_RECORDS.
measure() {
    local seed=$WORK/seed-$1 def=$2 out=$3 records=$4 label=$5 runs=${6:-$REPEAT} first=${7:-1}
    local times=() rss=() i
    for ((i = first; i < first + runs; i++)); do
        local run=$WORK/run
        rm -rf "$run"
        mkdir -p "$run"
        [[ -d $seed/state ]] && cp -r "$seed/state" "$run/state"
        cat > "$run/ksml-runner.yaml" <<EOF
ksml:
  storageDirectory: state
  createStorageDirectory: true
  definitions:
    bench: $def
kafka:
  application.id: bench
  bootstrap.servers: localhost:9092
EOF
        local t0 t1 s m
        t0=$(now)
        $TIME -v -o "$run/time.txt" "$WEIR" run --until-idle --embedded "$run/ksml-runner.yaml" 2> "$run/weir.log" || {
            cat "$run/weir.log" >&2
            exit 1
        }
        t1=$(now)
        s=$(elapsed "$t0" "$t1")
        m=$(max_rss_mib "$run/time.txt")
        OUT_RECORDS=$(topic_end "$run/state" "$out")
        OUT_RECORDS=${OUT_RECORDS:-0}
        printf '  %-28s run %d: %7.3f s  %9s records/s  max RSS %6s MiB  (%s records out)\n' \
            "$label" "$i" "$s" "$(rate "$records" "$s")" "$m" "$OUT_RECORDS" >&2
        times+=("$s")
        rss+=("$m")
    done
    MEDIAN_S=$(printf '%s\n' "${times[@]}" | median)
    MEDIAN_RSS=$(printf '%s\n' "${rss[@]}" | median)
}

machine
echo

if [[ $ONLY == all || $ONLY == python ]]; then
    echo "== Python pipeline: JSON filter + mapValues (Python), $PY_RECORDS records =="
    "$PYTHON" "$BENCH/gen_input.py" "$PY_RECORDS" "$WORK/py.jsonl"
    produce_s=$(seed py "$WORK/py.jsonl")
    bytes=$(stat -c %s "$WORK/py.jsonl")
    echo "input: $bytes bytes, $(ratio "$bytes" "$PY_RECORDS") bytes per record (with newline)"
    echo "produce (weir topic produce --raw): $produce_s s, $(rate "$PY_RECORDS" "$produce_s") records/s (not counted below)"

    # Fixed cost of a run: start (Python, plan, open the log), find nothing, stop.
    mkdir -p "$WORK/seed-empty"
    measure empty "$BENCH/python_pipeline.yaml" enriched 1 "startup+shutdown (empty)" 2> /dev/null
    startup_s=$MEDIAN_S
    # Weir and the plain loop in turns, so that both see the same machine (its load and speed
    # change from one second to the next): the ratio of each pair, and their median.
    weir=() rss_runs=() plain=() pairs=()
    for ((i = 1; i <= REPEAT; i++)); do
        measure py "$BENCH/python_pipeline.yaml" enriched "$PY_RECORDS" "weir run --until-idle" 1 "$i"
        weir+=("$MEDIAN_S")
        rss_runs+=("$MEDIAN_RSS")
        weir_out=$OUT_RECORDS
        $TIME -v -o "$WORK/plain-time.txt" "$PYTHON" "$BENCH/plain_loop.py" "$WORK/py.jsonl" "$WORK/plain.out" > "$WORK/plain.txt"
        read -r n s r written < "$WORK/plain.txt"
        printf '  %-28s run %d: %7.3f s  %9s records/s  max RSS %6s MiB  (%s records out)\n' \
            "plain CPython loop" "$i" "$s" "$r" "$(max_rss_mib "$WORK/plain-time.txt")" "$written" >&2
        plain+=("$s")
        pairs+=("$(ratio "$s" "$MEDIAN_S")")
    done
    weir_s=$(printf '%s\n' "${weir[@]}" | median)
    weir_rss=$(printf "%s\n" "${rss_runs[@]}" | median)
    plain_s=$(printf '%s\n' "${plain[@]}" | median)
    pair_ratio=$(printf '%s\n' "${pairs[@]}" | median)
    [[ $written == "$weir_out" ]] || echo "WARNING: weir wrote $weir_out records, the plain loop $written" >&2

    weir_rate=$(rate "$PY_RECORDS" "$weir_s")
    plain_rate=$(rate "$PY_RECORDS" "$plain_s")
    net_s=$(awk -v a="$weir_s" -v b="$startup_s" 'BEGIN { printf "%.3f", a - b }')
    echo "medians of $REPEAT:"
    echo "  weir (end to end, wall)      $weir_s s  $weir_rate records/s  max RSS $weir_rss MiB"
    echo "  weir minus fixed cost        $net_s s  $(rate "$PY_RECORDS" "$net_s") records/s  (startup+shutdown on an empty topic: $startup_s s)"
    echo "  plain CPython loop           $plain_s s  $plain_rate records/s  (loop only, interpreter start excluded)"
    echo "  ratio weir/plain             $(ratio "$weir_rate" "$plain_rate")x end to end, $(ratio "$(rate "$PY_RECORDS" "$net_s")" "$plain_rate")x without the fixed cost (goal: >= 2x)"
    echo "  ratio of each pair           ${pairs[*]}  (median $pair_ratio)"
    echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min) after the Python runs"
    echo
fi

if [[ $ONLY == all || $ONLY == plain ]]; then
    echo "== No Python: $NOPY_RECORDS JSON records =="
    "$PYTHON" "$BENCH/gen_input.py" "$NOPY_RECORDS" "$WORK/nopy.jsonl"
    produce_s=$(seed nopy "$WORK/nopy.jsonl")
    echo "produce (weir topic produce --raw): $produce_s s, $(rate "$NOPY_RECORDS" "$produce_s") records/s (not counted below)"

    # Baseline, same run: the same bytes read and written raw (the input topic's segment
    # copied with cat, then fsynced: the floor for "read a log, write a log").
    segs=("$WORK"/seed-nopy/state/topics/orders/0/*.log)
    seg_bytes=$(cat "${segs[@]}" | wc -c)
    base=()
    for ((i = 1; i <= REPEAT; i++)); do
        rm -f "$WORK/copy.bin"
        t0=$(now)
        cat "${segs[@]}" > "$WORK/copy.bin"
        sync "$WORK/copy.bin"
        t1=$(now)
        base+=("$(elapsed "$t0" "$t1")")
    done
    base_s=$(printf '%s\n' "${base[@]}" | median)
    base_rate=$(rate "$NOPY_RECORDS" "$base_s")
    echo "  baseline: cat segment > copy; sync   $base_s s  $base_rate records/s  ($(awk -v b="$seg_bytes" -v s="$base_s" 'BEGIN { printf "%.0f", b / s / 1e6 }') MB/s, $seg_bytes bytes)"

    measure nopy "$BENCH/to_only.yaml" copied "$NOPY_RECORDS" "to only (json -> json)"
    to_s=$MEDIAN_S to_rss=$MEDIAN_RSS
    measure nopy "$BENCH/convert_value.yaml" as_text "$NOPY_RECORDS" "convertValue json -> string"
    cv_s=$MEDIAN_S cv_rss=$MEDIAN_RSS
    echo "medians of $REPEAT:"
    echo "  to only                      $to_s s  $(rate "$NOPY_RECORDS" "$to_s") records/s  max RSS $to_rss MiB  ($(ratio "$(rate "$NOPY_RECORDS" "$to_s")" "$base_rate") of the raw copy)"
    echo "  convertValue json -> string  $cv_s s  $(rate "$NOPY_RECORDS" "$cv_s") records/s  max RSS $cv_rss MiB  ($(ratio "$(rate "$NOPY_RECORDS" "$cv_s")" "$base_rate") of the raw copy)"
fi
