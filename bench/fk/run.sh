#!/usr/bin/env bash
# Keeping items current when their delivery class changes (issue 17, part 1), on the embedded
# log: design (a), the foreign-key join, against design (b), the replay, in the same run.
# Prints figures and ratios; asserts nothing except that each run wrote what it must.
# See bench/README.md ("Entity updates") and docs/entity-updates.md.
#
#   bench/fk/run.sh                    # N=1,000,000 items over C=50 classes, 3 class changes
#   N=100000 bench/fk/run.sh           # quicker
#
# Environment: N (1000000), C (50), CHANGES (3: class changes per design, medians), CLASS (C07),
# PYTHON (python3), WEIR_BIN, WEIR_BENCH_DIR (kept if given), TIMEOUT (600 s per wait).
#
# Per design:
# 1. load: the classes and the N items are produced into a fresh log (timed apart, not counted),
#    then `weir run --until-idle` writes every item downstream: items/s of that run (process
#    start to exit), its peak RSS, and the bytes of its internal topics (changelogs = the state
#    on disk; repartition/subscription/response topics).
# 2. class changes: `weir run` on the loaded log (restoring its state), warmed by one probe
#    item; then CHANGES times: a class change (design b: and the ids of its items, ~N/C, to the
#    replay topic, as the external job would) is produced through the control socket, and the
#    time from just before that produce until `weir topic consume --follow` has seen the class's
#    last item on items_enriched is the change's latency. Records and bytes appended to the
#    internal topics during each change are counted. Peak RSS of that process (restore
#    included) at the end.
set -euo pipefail
# shellcheck source=bench/common.sh
source "$(dirname "$0")/../common.sh"
bench_setup weir-bench-fk
# on any exit: stop the weir run and consumers this script started, then remove WORK
# shellcheck source=bench/fk/common.sh
source "$ROOT/bench/fk/common.sh"
cleanup() {
    stop_runs
    [[ -n ${WEIR_BENCH_DIR:-} ]] || rm -rf "$WORK"
}
trap cleanup EXIT

# records in the internal topics (application id prefix), summed; through the socket when running
internal_records() { "$WEIR" topic list --storage "$1" | awk -v p="$2-" 'index($1, p) == 1 { n += $5 } END { print n + 0 }'; }
# bytes on disk of the topics matching a pattern (a glob under topics/)
topic_bytes() { local b; b=$(du -scb "$1"/topics/$2 2> /dev/null | tail -1 | cut -f1); echo "${b:-0}"; }

echo "machine: $(nproc) cores, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM"
echo "weir: ${WEIR_BIN:-$(cd "$ROOT" && git describe --always --dirty)}; N=$N items over C=$C classes; class $CLASS changed $CHANGES times per design"
echo "load: $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min) before the run"

fk_inputs
echo "input: $(wc -c < "$WORK/items.jsonl") bytes of items; $AFFECTED items in class $CLASS"
echo

# wait_for PID FILE: waits for a background process, fails after TIMEOUT
wait_for() {
    local pid=$1 what=$2 t=0
    while kill -0 "$pid" 2> /dev/null; do
        sleep 0.02
        t=$((t + 1))
        if ((t > TIMEOUT * 50)); then
            echo "timed out waiting for $what" >&2
            kill "$pid" 2> /dev/null || true
            exit 1
        fi
    done
    wait "$pid"
}

# design NAME APP_ID: sets LOAD_S LOAD_RSS STATE_BYTES INTERNAL_BYTES CHANGE_S RUN_RSS REC_PER_CHANGE BYTES_PER_CHANGE
design() {
    local name=$1 app=$2 dir=$WORK/$1 state=$WORK/$1/state
    rm -rf "$dir"
    mkdir -p "$dir"
    "$WEIR" topic produce delivery_classes --file "$WORK/classes.jsonl" --storage "$state" -q > /dev/null 2>&1
    local t0 t1
    t0=$(now)
    "$WEIR" topic produce items --file "$WORK/items.jsonl" --storage "$state" -q > /dev/null 2>&1
    t1=$(now)
    echo "  produce $N items: $(elapsed "$t0" "$t1") s (not counted)"
    sed "s#pipeline.yaml#$EXAMPLES/$name/pipeline.yaml#" "$EXAMPLES/$name/ksml-runner.yaml" > "$dir/ksml-runner.yaml"
    export WEIR_STATE=$state

    # 1. the initial load
    t0=$(now)
    $TIME -v -o "$dir/load-time.txt" "$WEIR" run -q --until-idle --embedded "$dir/ksml-runner.yaml" 2> "$dir/load.log" || {
        cat "$dir/load.log" >&2
        exit 1
    }
    t1=$(now)
    LOAD_S=$(elapsed "$t0" "$t1")
    LOAD_RSS=$(max_rss_mib "$dir/load-time.txt")
    local out
    out=$("$WEIR" topic list --storage "$state" | awk '$1 == "items_enriched" { print $5 }')
    [[ $out == "$N" ]] || echo "WARNING: the load wrote ${out:-0} records, not $N" >&2
    STATE_BYTES=$(topic_bytes "$state" "$app-*-changelog")
    INTERNAL_BYTES=$(topic_bytes "$state" "$app-*")
    printf '  load: %s s, %s items/s, peak RSS %s MiB; changelogs %s MiB, all internal topics %s MiB\n' \
        "$LOAD_S" "$(rate "$N" "$LOAD_S")" "$LOAD_RSS" "$(mib "$STATE_BYTES")" "$(mib "$INTERNAL_BYTES")"

    # 2. class changes against a running weir
    $TIME -v -o "$dir/run-time.txt" "$WEIR" run -q --embedded "$dir/ksml-runner.yaml" 2> "$dir/run.log" &
    local run=$!
    RUN_PID=$run
    local i=0
    until [[ -S $state/weir.sock ]]; do
        sleep 0.05
        i=$((i + 1))
        ((i < TIMEOUT * 20)) || { echo "weir run did not start" >&2; cat "$dir/run.log" >&2; exit 1; }
    done
    # warm: one new item of another class, written downstream once the state is restored
    "$WEIR" topic consume items_enriched --follow --max 1 --storage "$state" > /dev/null 2>&1 &
    local probe=$!
    sleep 0.3
    t0=$(now)
    echo '{"key": "probe", "value": {"id": "probe", "name": "probe", "class": "C00", "price": 1}}' |
        "$WEIR" topic produce items --storage "$state" > /dev/null
    wait_for $probe "the probe item"
    t1=$(now)
    echo "  restore + first item after start: $(elapsed "$t0" "$t1") s"
    local times=() recs=() bytes=() v
    for ((v = 2; v < 2 + CHANGES; v++)); do
        local r0 b0 r1 b1 s
        r0=$(internal_records "$state" "$app")
        b0=$(topic_bytes "$state" "$app-*")
        "$PYTHON" "$GEN" change "$CLASS" "$v" > "$dir/change-$v.jsonl"
        "$WEIR" topic consume items_enriched --follow --max "$AFFECTED" --storage "$state" > "$dir/change-$v.out" 2>&1 &
        local consumer=$!
        sleep 0.5
        t0=$(now)
        "$WEIR" topic produce delivery_classes --file "$dir/change-$v.jsonl" --storage "$state" > /dev/null
        if [[ $name == replay ]]; then
            "$WEIR" topic produce item_replays --file "$WORK/replay.jsonl" --storage "$state" > /dev/null
        fi
        wait_for $consumer "class change $v"
        t1=$(now)
        s=$(elapsed "$t0" "$t1")
        grep -q "\"version\":$v" "$dir/change-$v.out" || echo "WARNING: change $v: no record with version $v downstream" >&2
        sleep 0.5 # whatever the change still appends to internal topics
        r1=$(internal_records "$state" "$app")
        b1=$(topic_bytes "$state" "$app-*")
        printf '  class change %d: %s s until the last of its %s items was written; internal topics +%s records, +%s KiB\n' \
            "$((v - 1))" "$s" "$AFFECTED" "$((r1 - r0))" "$(((b1 - b0) / 1024))"
        times+=("$s")
        recs+=("$((r1 - r0))")
        bytes+=("$((b1 - b0))")
    done
    # SIGINT to weir itself (GNU time, its parent, would die of it and report nothing)
    kill -INT "$(pgrep -P "$run")"
    wait $run || { echo "weir run failed:" >&2; cat "$dir/run.log" >&2; exit 1; }
    RUN_PID=
    RUN_RSS=$(max_rss_mib "$dir/run-time.txt")
    CHANGE_S=$(printf '%s\n' "${times[@]}" | median)
    REC_PER_CHANGE=$(printf '%s\n' "${recs[@]}" | median)
    BYTES_PER_CHANGE=$(printf '%s\n' "${bytes[@]}" | median)
    echo "  peak RSS of the running weir (restore + changes): $RUN_RSS MiB"
    rm -rf "$state"
}

echo "== (a) foreign-key join (examples/entity-updates/fk-join) =="
design fk-join entity-fk-join
A=("$LOAD_S" "$LOAD_RSS" "$STATE_BYTES" "$INTERNAL_BYTES" "$CHANGE_S" "$RUN_RSS" "$REC_PER_CHANGE" "$BYTES_PER_CHANGE")
echo
echo "== (b) replay (examples/entity-updates/replay) =="
design replay entity-replay
B=("$LOAD_S" "$LOAD_RSS" "$STATE_BYTES" "$INTERNAL_BYTES" "$CHANGE_S" "$RUN_RSS" "$REC_PER_CHANGE" "$BYTES_PER_CHANGE")
echo
echo "load: $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min) after the run"
echo "== summary: N=$N, C=$C, medians of $CHANGES class changes of $AFFECTED items =="
row() { printf '  %-44s %14s %14s %10s\n' "$@"; }
row "" "(a) fk join" "(b) replay" "(a)/(b)"
row "initial load, items/s" "$(rate "$N" "${A[0]}")" "$(rate "$N" "${B[0]}")" "$(ratio "$(rate "$N" "${A[0]}")" "$(rate "$N" "${B[0]}")")"
row "class change to last item written, s" "${A[4]}" "${B[4]}" "$(ratio "${A[4]}" "${B[4]}")"
row "internal records per class change" "${A[6]}" "${B[6]}" "$(ratio "${A[6]}" "${B[6]}")"
row "internal KiB per class change" "$((A[7] / 1024))" "$((B[7] / 1024))" "$(ratio "${A[7]}" "${B[7]}")"
row "state on disk (changelogs), MiB" "$(mib "${A[2]}")" "$(mib "${B[2]}")" "$(ratio "${A[2]}" "${B[2]}")"
row "all internal topics after load, MiB" "$(mib "${A[3]}")" "$(mib "${B[3]}")" "$(ratio "${A[3]}" "${B[3]}")"
row "peak RSS, load, MiB" "${A[1]}" "${B[1]}" "$(ratio "${A[1]}" "${B[1]}")"
row "peak RSS, restore + changes, MiB" "${A[5]}" "${B[5]}" "$(ratio "${A[5]}" "${B[5]}")"
echo "  (b)'s class change includes writing its $AFFECTED replay ids through the control socket."
