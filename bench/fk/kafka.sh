#!/usr/bin/env bash
# Keeping items current when their delivery class changes (issue 17, part 1), on Apache Kafka:
# Weir's design (a), the foreign-key join, and design (b), the replay, against Kafka Streams'
# foreign-key join (the same topology in Java, bench/kafka/streams FkJoinBench), all on one
# broker, in turns (Weir's join, Kafka Streams' join, Weir's replay; REPEAT rounds). Prints
# figures and ratios; asserts nothing except that each run wrote what it must. See
# bench/README.md ("On Kafka, against Kafka Streams") and docs/entity-updates.md.
#
#   bench/fk/kafka.sh                  # N=1,000,000 items over C=50 classes, 3 class changes
#   N=20000 CHANGES=1 bench/fk/kafka.sh
#   ONLY=fk bench/fk/kafka.sh          # the two foreign-key joins only (Weir, Kafka Streams)
#   ONLY=streams bench/fk/kafka.sh     # or weir-fk-join, weir-replay, weir (both), all
#
# Environment: N (1000000), C (50), CHANGES (3: class changes per run, medians), CLASS (C07),
# REPEAT (1: rounds of the runs, in turns; figures are medians over them), PARTITIONS (4: of
# every input, output and internal topic), ONLY (all), KS_EXTRA (Kafka Streams configs
# KEY=VALUE; default statestore.cache.max.bytes=0, see below; empty for none),
# STREAMS_JAVA_OPTS (JVM options; none: the JVM's defaults), WEIR_KAFKA_BOOTSTRAP (a broker to
# use instead of starting scripts/kafka.sh's; bytes on disk are then measured only with
# WEIR_KAFKA_DATA, its log dir), WEIR_BIN, PYTHON (python3: entities.py), KAFKA_PYTHON
# (a python with confluent-kafka; else scripts/python-deps.sh's venv), WEIR_BENCH_DIR (kept if
# given), TIMEOUT (600 s per wait).
#
# Once: the items (entities.py, N over C classes) are written to one topic that every run reads
# (`weir topic produce`, timed apart, not counted). Per run, fresh topics for the classes (the C
# class records, timestamped before the items, so the classes are there when the items come),
# the output and (b) the replays, a fresh application id, and one process:
# 1. load: from the process's start until the output topic's end offsets reach N (start-up,
#    group join and the join's round trips included): items/s; and the same from the first
#    output record. Then the internal topics
#    (<application id>-*): records (end offsets) and bytes (their *.log files in the broker's
#    log dir; the changelogs apart = the state on the broker), and the local state dir.
# 2. class changes, CHANGES times, on the same running process: class CLASS gets a new version
#    (design b: then the ids of its ~N/C items to the replay topic, as the external job would),
#    produced by kafka_util.py change, which times from the first produce until the output
#    holds the new version for every item of the class (read from the output's ends, assigned
#    before the clock starts). Records and bytes appended to the internal topics meanwhile
#    (1 s after the last item) are counted.
# 3. SIGINT (Weir) or SIGTERM (the JVM): peak RSS of the process (GNU time) over 1 and 2.
#
# Kafka Streams runs with its record cache off (statestore.cache.max.bytes=0): with the cache,
# a class change waits in the classes table's cache until the next commit (30 s by default) and
# the latency measured would be the commit interval. Weir has no such cache. Both at least once,
# one stream thread, commit interval 30 s, the JVM's default heap.
set -euo pipefail
# shellcheck source=bench/common.sh
source "$(dirname "$0")/../common.sh"
bench_setup weir-bench-fk-kafka
# shellcheck source=bench/kafka/common.sh
source "$ROOT/bench/kafka/common.sh"
# shellcheck source=bench/fk/common.sh
source "$ROOT/bench/fk/common.sh"
cleanup() {
    stop_runs
    broker_stop
    [[ -n ${WEIR_BENCH_DIR:-} ]] || rm -rf "$WORK"
}
trap cleanup EXIT

REPEAT=${REPEAT:-1}
PARTITIONS=${PARTITIONS:-4}
ONLY=${ONLY:-all}
KS_EXTRA=${KS_EXTRA-statestore.cache.max.bytes=0}
case $ONLY in
    all) SIDES=(weir-fk-join streams-fk-join weir-replay) ;;
    fk) SIDES=(weir-fk-join streams-fk-join) ;;
    weir) SIDES=(weir-fk-join weir-replay) ;;
    streams) SIDES=(streams-fk-join) ;;
    weir-fk-join | weir-replay) SIDES=("$ONLY") ;;
    *) echo "ONLY: all, fk, weir, streams, weir-fk-join or weir-replay" >&2; exit 2 ;;
esac

kafka_python
streams_build
broker_start
DATA=${WEIR_KAFKA_DATA:-}
if ((STARTED_BROKER)); then DATA=$KAFKA_DIR/data; fi

echo "machine: $(nproc) cores, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM"
echo "broker:  $(broker_describe); $PARTITIONS partitions per topic; at_least_once"
echo "weir:    ${WEIR_BIN:-$(cd "$ROOT" && git describe --always --dirty)}; Kafka Streams $STREAMS_VERSION ($(java -version 2>&1 | head -n 1)), configs: ${KS_EXTRA:-none}"
echo "N=$N items over C=$C classes; class $CLASS changed $CHANGES times per run; $REPEAT round(s) of: ${SIDES[*]}"
echo "load: $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min) before the run"

fk_inputs
ITEMS=fk-items-$N-$$
KU create "$BOOTSTRAP" "$PARTITIONS" "$ITEMS"
# the classes are timestamped a second before the first item
CLASSES_TS=$(($(date +%s%3N) - 1000))
t0=$(now)
"$WEIR" topic produce "$ITEMS" --bootstrap-server "$BOOTSTRAP" --file "$WORK/items.jsonl" -q > /dev/null
t1=$(now)
echo "input: $ITEMS, $N items ($(wc -c < "$WORK/items.jsonl") bytes of JSON lines), produced in $(elapsed "$t0" "$t1") s (not counted); $AFFECTED items in class $CLASS"
echo
sed "s/^{/{\"timestamp\":$CLASSES_TS,/" "$WORK/classes.jsonl" > "$WORK/classes-ts.jsonl"

RUN_ID=0
declare -A FIG # FIG[side/figure] = the values of the rounds, space-separated
# one_run SIDE: one process of SIDE on fresh topics; adds its figures to FIG
one_run() {
    local side=$1
    RUN_ID=$((RUN_ID + 1))
    local id=$RUN_ID-$$
    local app=fk-$side-$id classes=fk-classes-$id out=fk-enriched-$id replays=fk-replays-$id
    local dir=$WORK/$side-$id
    mkdir -p "$dir"
    echo "== $side (run $RUN_ID: application.id $app) =="
    KU create "$BOOTSTRAP" "$PARTITIONS" "$classes" "$out" "$replays"
    "$WEIR" topic produce "$classes" --bootstrap-server "$BOOTSTRAP" --file "$WORK/classes-ts.jsonl" -q > /dev/null
    local t0 t1 state
    if [[ $side == weir-* ]]; then
        local design=${side#weir-}
        topic_rename "$EXAMPLES/$design/pipeline.yaml" "items=$ITEMS" "delivery_classes=$classes" \
            "items_enriched=$out" "item_replays=$replays" > "$dir/pipeline.yaml"
        weir_runner_config "$dir/pipeline.yaml" "$app" > "$dir/ksml-runner.yaml"
        state=$dir/state
        t0=$(now)
        (cd "$dir" && exec $TIME -v -o "$dir/time.txt" "$WEIR" run -q "$dir/ksml-runner.yaml" 2> "$dir/run.log") &
    else
        state=$dir/ks-state
        t0=$(now)
        # shellcheck disable=SC2086 # STREAMS_JAVA_OPTS and KS_EXTRA are word lists
        $TIME -v -o "$dir/time.txt" java ${STREAMS_JAVA_OPTS:-} -Dorg.slf4j.simpleLogger.defaultLogLevel=warn \
            -cp "$STREAMS_CP" dev.weir.bench.FkJoinBench "$BOOTSTRAP" "$app" "$ITEMS" "$classes" "$out" "$state" \
            $KS_EXTRA 2> "$dir/run.log" &
    fi
    RUN_PID=$!
    local first
    first=$(KU wait-end "$BOOTSTRAP" "$out" "$N" "$TIMEOUT" "$RUN_PID") || {
        echo "$side: the load did not complete; its log:" >&2
        tail -n 30 "$dir/run.log" >&2
        exit 1
    }
    t1=$(now)
    local load_s recs bytes changelog net_s
    load_s=$(elapsed "$t0" "$t1")
    net_s=$(elapsed "$first" "$t1")
    sleep 2 # whatever the load still appends
    local written
    written=$(KU end "$BOOTSTRAP" "$out")
    [[ $written == "$N" ]] || echo "  WARNING: the load wrote $written records, not $N" >&2
    read -r recs bytes changelog < <(KU internal "$BOOTSTRAP" "$app" "$DATA")
    printf '  load: %s s from the process start to %s items written, %s items/s (%s s, %s items/s from the first item written); internal topics: %s records, %s MiB (changelogs %s MiB); local state %s MiB\n' \
        "$load_s" "$N" "$(rate "$N" "$load_s")" "$net_s" "$(rate "$N" "$net_s")" "$recs" "$(mib "$bytes")" "$(mib "$changelog")" "$(mib "$(du -sb "$state" | cut -f1)")"
    KU internal "$BOOTSTRAP" "$app" "$DATA" detail | awk '{ printf "    %10s records %9s bytes  %s\n", $1, $2, $3 }'
    FIG[$side/load]+="$(rate "$N" "$load_s") "
    FIG[$side/load_net]+="$(rate "$N" "$net_s") "
    FIG[$side/load_recs]+="$recs "
    FIG[$side/internal_mib]+="$(mib "$bytes") "
    FIG[$side/changelog_mib]+="$(mib "$changelog") "
    FIG[$side/local_mib]+="$(mib "$(du -sb "$state" | cut -f1)") "
    local v times=() crecs=() cbytes=()
    for ((v = 2; v < 2 + CHANGES; v++)); do
        local r0 b0 r1 b1 s files
        read -r r0 b0 _ < <(KU internal "$BOOTSTRAP" "$app" "$DATA")
        "$PYTHON" "$GEN" change "$CLASS" "$v" > "$dir/change-$v.jsonl"
        files=("$classes" "$dir/change-$v.jsonl")
        [[ $side == weir-replay ]] && files+=("$replays" "$WORK/replay.jsonl")
        s=$(KU change "$BOOTSTRAP" "$out" "$AFFECTED" "$v" "${files[@]}")
        sleep 1 # whatever the change still appends to internal topics
        read -r r1 b1 _ < <(KU internal "$BOOTSTRAP" "$app" "$DATA")
        local db=-
        [[ $b0 != - ]] && db=$(((b1 - b0) / 1024))
        printf '  class change %d: %s s until the last of its %s items was written; internal topics +%s records, +%s KiB\n' \
            "$((v - 1))" "$s" "$AFFECTED" "$((r1 - r0))" "$db"
        times+=("$s") crecs+=("$((r1 - r0))") cbytes+=("$db")
    done
    # SIGINT to weir, SIGTERM to the JVM: the process itself (GNU time, its parent, reports)
    kill "$([[ $side == weir-* ]] && echo -INT || echo -TERM)" "$(pgrep -P "$RUN_PID")"
    local rc=0
    wait "$RUN_PID" || rc=$?
    RUN_PID=
    # the JVM exits 143 after SIGTERM (its shutdown hook closed Kafka Streams)
    if ((rc != 0)) && [[ $side == weir-* || $rc != 143 ]]; then
        echo "$side exited $rc; its log:" >&2
        tail -n 30 "$dir/run.log" >&2
        exit 1
    fi
    local rss
    rss=$(max_rss_mib "$dir/time.txt")
    echo "  peak RSS (load + changes): $rss MiB; CPU $(awk -F': ' '/User time/ { u = $2 } /System time/ { s = $2 } END { printf "%.1f", u + s }' "$dir/time.txt") s"
    FIG[$side/change_s]+="$(printf '%s\n' "${times[@]}" | median) "
    FIG[$side/change_recs]+="$(printf '%s\n' "${crecs[@]}" | median) "
    FIG[$side/change_kib]+="$(printf '%s\n' "${cbytes[@]}" | median) "
    FIG[$side/rss]+="$rss "
    KU delete "$BOOTSTRAP" "$classes" "$out" "$replays" "$app-*"
    rm -rf "$state"
}

for ((round = 1; round <= REPEAT; round++)); do
    for side in "${SIDES[@]}"; do
        one_run "$side"
    done
    echo "load: $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min) after round $round"
    echo
done
KU delete "$BOOTSTRAP" "$ITEMS"

# fig SIDE NAME: the median of a figure over the rounds
fig() { tr ' ' '\n' <<< "${FIG[$1/$2]:-}" | { grep . || true; } | median; }
echo "== summary: N=$N, C=$C, $PARTITIONS partitions, $REPEAT round(s), medians of $CHANGES class changes of $AFFECTED items =="
row() { printf '  %-44s %14s %14s %16s %12s\n' "$@"; }
row "" "weir (a) fk" "weir (b) replay" "kafka streams fk" "(a)/streams"
figrow() { # LABEL NAME
    local a b k
    a=$(fig weir-fk-join "$2")
    b=$(fig weir-replay "$2")
    k=$(fig streams-fk-join "$2")
    row "$1" "${a:--}" "${b:--}" "${k:--}" "$([[ -n $a && -n $k && $a != - && $k != - ]] && ratio "$a" "$k" || echo -)"
}
figrow "initial load, items/s (from process start)" load
figrow "  the same from the first item written" load_net
figrow "internal records after load" load_recs
figrow "class change to last item written, s" change_s
figrow "internal records per class change" change_recs
figrow "internal KiB per class change" change_kib
figrow "changelogs on the broker after load, MiB" changelog_mib
figrow "all internal topics after load, MiB" internal_mib
figrow "local state dir after load, MiB" local_mib
figrow "peak RSS, load + changes, MiB" rss
[[ -z ${FIG[weir-replay/change_s]:-} ]] || echo "  (b)'s class change includes producing its $AFFECTED replay ids."
echo "load: $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min) after the run"
