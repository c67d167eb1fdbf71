#!/usr/bin/env bash
# Weir on Kafka against baselines on the same broker, in the same run. Prints figures; asserts
# nothing. See bench/README.md ("On Kafka").
#
#   bench/kafka/run.sh                  # everything: 3 pairs per case, in turns, medians
#   REPEAT=1 bench/kafka/run.sh         # quicker
#   ONLY=passthrough|python|count bench/kafka/run.sh
#   NO_WEIR=1 bench/kafka/run.sh        # the baselines only (no weir build)
#
# Cases (Weir, then its baselines, REPEAT times; fresh output topics and application ids for
# every run):
#   passthrough  bench/to_only.yaml (JSON -> JSON)    vs a librdkafka consume->produce loop
#                (passthrough_rdkafka/) and Kafka Streams stream().to() (byte arrays)
#   python       bench/python_pipeline.yaml            vs plain_loop_kafka.py (confluent-kafka)
#                and Kafka Streams with the same filter+map in Java (Jackson)
#   count        bench/kafka/count.yaml                vs Kafka Streams' count (the same topology)
#
# Environment: NOPY_RECORDS (1000000, passthrough), PY_RECORDS (200000, python),
# COUNT_RECORDS (PY_RECORDS), REPEAT (3), ONLY (all), PARTITIONS (4, of the input and output
# topics), GUARANTEE (at_least_once; exactly_once_v2 for Weir and Kafka Streams; the plain
# loops stay at least once), STREAMS_REF (1: Kafka Streams also in passthrough and python;
# 0: only in count), STREAMS_JAVA_OPTS (JVM options of the Kafka Streams runs; none: the JVM's
# defaults), KS_EXTRA (Streams configs KEY=VALUE added to every Kafka Streams run, e.g.
# statestore.cache.max.bytes=0), WEIR_KAFKA_BOOTSTRAP (a broker to use instead of starting
# scripts/kafka.sh's), WEIR_BIN (a weir binary; else `cargo build --release -p weir`), NO_WEIR,
# WEIR_TIMEOUT (300 s per weir run), PYTHON (python3: gen_input.py), KAFKA_PYTHON (a python
# with confluent-kafka; else scripts/python-deps.sh's venv), WEIR_BENCH_DIR (a work dir kept
# afterwards; else a fresh temp dir, removed).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BENCH=$ROOT/bench

NOPY_RECORDS=${NOPY_RECORDS:-1000000}
PY_RECORDS=${PY_RECORDS:-200000}
COUNT_RECORDS=${COUNT_RECORDS:-$PY_RECORDS}
REPEAT=${REPEAT:-3}
ONLY=${ONLY:-all}
PARTITIONS=${PARTITIONS:-4}
GUARANTEE=${GUARANTEE:-at_least_once}
STREAMS_REF=${STREAMS_REF:-1}
NO_WEIR=${NO_WEIR:-0}
WEIR_TIMEOUT=${WEIR_TIMEOUT:-300}
PYTHON=${PYTHON:-python3}
TIME=/usr/bin/time
[[ -x $TIME ]] || { echo "needs GNU time at /usr/bin/time (apt-get install time)" >&2; exit 1; }
case $GUARANTEE in at_least_once | exactly_once_v2) ;; *) echo "GUARANTEE: at_least_once or exactly_once_v2" >&2; exit 2 ;; esac

# ---- work dir, broker, cleanup ---------------------------------------------------------------

if [[ -n ${WEIR_BENCH_DIR:-} ]]; then
    WORK=$WEIR_BENCH_DIR
    mkdir -p "$WORK"
    KEEP_WORK=1
else
    WORK=$(mktemp -d /tmp/weir-kafka-bench.XXXXXX)
    KEEP_WORK=0
fi
# shellcheck source=bench/kafka/common.sh
source "$HERE/common.sh"
cleanup() {
    broker_stop
    ((KEEP_WORK)) || rm -rf "$WORK"
}
trap cleanup EXIT

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
rate() { awk -v n="$1" -v s="$2" 'BEGIN { if (s > 0) printf "%.0f", n / s; else print 0 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
words() { tr ' ' '\n' <<< "$1" | grep .; }
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
# user + system CPU seconds of a GNU time -v report
cpu_s() { awk -F': ' '/User time/ { u = $2 } /System time/ { s = $2 } END { printf "%.2f", u + s }' "$1"; }
max_rss_mib() { awk -F': ' '/Maximum resident set size/ { printf "%.1f", $2 / 1024 }' "$1"; }
wall_s() { awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; printf "%.3f", s }' "$1"; }
load() { echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min) $1"; }

# ---- builds (cached: a second run builds nothing) ---------------------------------------------

kafka_python

RDK_DIR=$HERE/passthrough_rdkafka
# shellcheck disable=SC2034 # used by the command templates (eval)
RDK=$RDK_DIR/target/release/passthrough_rdkafka
echo "building: passthrough_rdkafka (cargo, own workspace; minutes the first time)" >&2
cargo build --release --quiet --manifest-path "$RDK_DIR/Cargo.toml" --target-dir "$RDK_DIR/target" >&2

streams_build

if ((NO_WEIR)); then
    WEIR=""
elif [[ -n ${WEIR_BIN:-} ]]; then
    WEIR=$WEIR_BIN
else
    echo "building: cargo build --release -p weir" >&2
    (cd "$ROOT" && cargo build --release -p weir --quiet)
    WEIR=${CARGO_TARGET_DIR:-$ROOT/target}/release/weir
fi
WEIR_OK=$([[ -n $WEIR ]] && echo 1 || echo 0)

broker_start

echo "machine: $(nproc) cores, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM, Linux $(uname -r)"
echo "broker:  $(broker_describe); $PARTITIONS partitions per topic; $GUARANTEE"
echo "clients: Kafka Streams $STREAMS_VERSION ($(java -version 2>&1 | head -n 1)), librdkafka $("$KAFKA_PYTHON" -c 'import confluent_kafka as c; print(c.libversion()[0], "/ confluent-kafka", c.version()[0] if isinstance(c.version(), tuple) else c.version())'), $("$KAFKA_PYTHON" --version 2>&1)"
echo "weir:    ${WEIR:-none (NO_WEIR)}$([[ -n $WEIR && -z ${WEIR_BIN:-} ]] && echo " ($(cd "$ROOT" && git describe --always --dirty))")"
load "before the run"
echo

# ---- inputs: seeded once ---------------------------------------------------------------------

declare -A SEEDED
# input N: the topic holding gen_input.py's N records (seeded on first use); sets IN, IN_FILE.
input() {
    local n=$1
    IN=bench-orders-$n
    IN_FILE=$WORK/orders-$n.jsonl
    if [[ -z ${SEEDED[$n]:-} ]]; then
        "$PYTHON" "$BENCH/gen_input.py" "$n" "$IN_FILE" 2> /dev/null
        KU create "$BOOTSTRAP" "$PARTITIONS" "$IN"
        local have s r
        have=$(KU end "$BOOTSTRAP" "$IN")
        if ((have == n)); then # a broker given by WEIR_KAFKA_BOOTSTRAP, seeded by an earlier run
            echo "input: $IN, $n records, seeded by an earlier run"
        elif ((have == 0)); then
            read -r s r < <(KU seed "$BOOTSTRAP" "$IN" "$IN_FILE")
            echo "input: $IN, $n records of $(awk -v b="$(stat -c %s "$IN_FILE")" -v n="$n" 'BEGIN { printf "%.0f", b / n - 1 }') bytes, seeded in $s s ($r records/s, confluent-kafka; not counted below)"
        else
            echo "topic $IN holds $have records, not $n: delete it (kafka_util.py delete) or use another broker" >&2
            exit 1
        fi
        SEEDED[$n]=1
    fi
}

RUN_ID=0
# fresh_topic NAME: a new output topic (PARTITIONS partitions); sets OUT.
fresh_topic() {
    RUN_ID=$((RUN_ID + 1))
    OUT=bench-$1-$RUN_ID-$$
    KU create "$BOOTSTRAP" "$PARTITIONS" "$OUT"
}

# "records out": the output's end offsets summed (under exactly_once_v2 they count transaction
# markers too).
line() { # LABEL RUN SECONDS RECORDS WALL RSS OUT CPU
    printf '  %-40s run %d: %7.3f s  %9s records/s  (process %7.3f s, CPU %6s s)  max RSS %7s MiB  (%s records out)\n' \
        "$1" "$2" "$3" "$(rate "$4" "$3")" "$5" "$8" "$6" "$7" >&2
}

# ---- one Weir run ----------------------------------------------------------------------------

# weir_run DEF OUT_IN_DEF IN OUT APP EXPECT_OUT [TIMEOUT]: `weir run --until-idle` of DEF with
# its input topic (`topic: orders`) and its output topic (`topic: OUT_IN_DEF`) renamed IN and
# OUT, on the broker. Sets S (= WALL), WALL, RSS, NOUT; returns 1 (and sets WEIR_OK=0, saying
# why) if weir failed, or wrote nothing to the broker where EXPECT_OUT records were due.
weir_run() {
    local def=$1 out_in_def=$2 in=$3 out=$4 app=$5 expect_out=$6 limit=${7:-$WEIR_TIMEOUT}
    local run=$WORK/weir-run
    rm -rf "$run"
    mkdir -p "$run"
    topic_rename "$def" "orders=$in" "$out_in_def=$out" > "$run/def.yaml"
    weir_runner_config "$run/def.yaml" "$app" > "$run/ksml-runner.yaml"
    local t0 t1 rc=0
    t0=$(now)
    (cd "$run" && timeout "$limit" $TIME -v -o "$run/time.txt" "$WEIR" run --until-idle "$run/ksml-runner.yaml" > "$run/weir.out" 2> "$run/weir.log") || rc=$?
    t1=$(now)
    WALL=$(elapsed "$t0" "$t1")
    S=$WALL
    RSS=$(max_rss_mib "$run/time.txt" 2> /dev/null || echo "?")
    CPU=$(cpu_s "$run/time.txt" 2> /dev/null || echo "?")
    if ((rc != 0)); then
        echo "SKIPPING WEIR: 'weir run --until-idle' on the broker failed (exit $rc$([[ $rc == 124 ]] && echo ", timed out after $limit s")); its last lines:" >&2
        tail -n 15 "$run/weir.log" | sed 's/^/    /' >&2
        WEIR_OK=0
        return 1
    fi
    NOUT=$(KU end "$BOOTSTRAP" "$out")
    if ((expect_out > 0 && NOUT == 0)); then
        echo "SKIPPING WEIR: 'weir run --until-idle' exited 0 in $WALL s but wrote nothing to $out on the broker" >&2
        echo "    (this weir does not run on Kafka yet: without the Kafka backend a runner config's kafka: section is ignored)" >&2
        WEIR_OK=0
        return 1
    fi
    return 0
}

# ---- one baseline run ------------------------------------------------------------------------

# baseline LABEL TEMPLATE: runs the command TEMPLATE (expanded with eval: IN, OUT, N, EXP set)
# under GNU time; it prints "records seconds records/s out". Sets S (the command's own
# timing), WALL (the process's), RSS, NOUT.
baseline() {
    local label=$1 rc=0 n r argv
    eval "argv=($2)"
    $TIME -v -o "$WORK/base-time.txt" "${argv[@]}" > "$WORK/base.out" 2> "$WORK/base.log" || rc=$?
    if ((rc != 0)); then
        echo "$label failed (exit $rc):" >&2
        tail -n 20 "$WORK/base.log" | sed 's/^/    /' >&2
        exit 1
    fi
    read -r n S r NOUT < <(tail -n 1 "$WORK/base.out")
    WALL=$(wall_s "$WORK/base-time.txt")
    RSS=$(max_rss_mib "$WORK/base-time.txt")
    CPU=$(cpu_s "$WORK/base-time.txt")
}

# The Kafka Streams baseline's command line, up to its workload (a template for eval, below).
# shellcheck disable=SC2016
STREAMS_CMD='java ${STREAMS_JAVA_OPTS:-} -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -cp "$STREAMS_CP" dev.weir.bench.StreamsBench "$BOOTSTRAP"'
# shellcheck disable=SC2016
STREAMS_TAIL='"processing.guarantee=$GUARANTEE" ${KS_EXTRA:-}'

# ---- a case: Weir and its baselines in turns ------------------------------------------------

# Per side, arrays of per-run figures, by side index: SECS_i, WALLS_i, RSSS_i.
# run_case TITLE RECORDS EXPECT_OUT DEF OUT_IN_DEF VERIFY SIDE...
# where each SIDE is "label|command template" (see baseline).
run_case() {
    local title=$1 n=$2 exp=$3 def=$4 out_in_def=$5 verify=$6
    shift 6
    local sides=("$@") nsides=$# i j
    echo "== $title =="
    input "$n"
    local -a weir_s=() weir_wall=() weir_rss=() weir_cpu=() pairs=()
    local -A base_s=() base_wall=() base_rss=() base_cpu=() base_out=()
    local fixed_s=0 weir_out=""
    if ((WEIR_OK)); then
        # Weir's fixed cost: start-up, group join, idle detection, shutdown, on an empty topic.
        KU create "$BOOTSTRAP" "$PARTITIONS" bench-empty
        fresh_topic weir-empty
        if weir_run "$def" "$out_in_def" bench-empty "$OUT" "bench-app-empty-$RUN_ID-$$" 0 60; then
            fixed_s=$WALL
            echo "  weir on an empty topic (fixed cost): $fixed_s s" >&2
        fi
        KU delete "$BOOTSTRAP" "$OUT" "bench-app-empty-$RUN_ID-$$*"
    fi
    for ((i = 1; i <= REPEAT; i++)); do
        local weir_rate=""
        if ((WEIR_OK)); then
            fresh_topic "weir-$out_in_def"
            local app=bench-app-$RUN_ID-$$
            if weir_run "$def" "$out_in_def" "$IN" "$OUT" "$app" "$exp"; then
                line "weir run --until-idle" "$i" "$S" "$n" "$WALL" "$RSS" "$NOUT" "$CPU"
                weir_s+=("$S") weir_wall+=("$WALL") weir_rss+=("$RSS") weir_cpu+=("$CPU")
                weir_out=$NOUT
                weir_rate=$(rate "$n" "$(awk -v a="$S" -v b="$fixed_s" 'BEGIN { print a - b }')")
                if [[ -n $verify && $i == 1 ]]; then
                    echo "  weir's counts: $(KU verify-counts "$BOOTSTRAP" "$OUT" "$IN_FILE" || true)" >&2
                fi
            fi
            KU delete "$BOOTSTRAP" "$OUT" "$app*"
        fi
        for ((j = 0; j < nsides; j++)); do
            local label=${sides[j]%%|*} cmd=${sides[j]#*|}
            fresh_topic "base$j"
            # shellcheck disable=SC2034 # used by the command templates (eval)
            N=$n EXP=$exp
            baseline "$label" "$cmd"
            line "$label" "$i" "$S" "$n" "$WALL" "$RSS" "$NOUT" "$CPU"
            if [[ -n $verify && $i == 1 && $label == kafka\ streams* ]]; then
                echo "  kafka streams' counts: $(KU verify-counts "$BOOTSTRAP" "$OUT" "$IN_FILE" || true)" >&2
            fi
            base_s[$j]+="$S " base_wall[$j]+="$WALL " base_rss[$j]+="$RSS " base_cpu[$j]+="$CPU " base_out[$j]=$NOUT
            if ((j == 0)) && [[ -n $weir_rate ]]; then
                pairs+=("$(ratio "$weir_rate" "$(rate "$n" "$S")")")
            fi
            KU delete "$BOOTSTRAP" "$OUT" "streams-bench-*"
        done
    done
    echo "medians of $REPEAT ($n input records):"
    if ((${#weir_s[@]})); then
        local ws wr wc net
        ws=$(printf '%s\n' "${weir_s[@]}" | median)
        wr=$(printf '%s\n' "${weir_rss[@]}" | median)
        wc=$(printf '%s\n' "${weir_cpu[@]}" | median)
        net=$(awk -v a="$ws" -v b="$fixed_s" 'BEGIN { printf "%.3f", a - b }')
        printf '  %-40s %7.3f s  %9s records/s  max RSS %7s MiB  (%s records out; CPU %s s)\n' "weir (process wall)" "$ws" "$(rate "$n" "$ws")" "$wr" "$weir_out" "$wc"
        printf '  %-40s %7.3f s  %9s records/s  (fixed cost on an empty topic: %s s)\n' "weir minus fixed cost" "$net" "$(rate "$n" "$net")" "$fixed_s"
    fi
    for ((j = 0; j < nsides; j++)); do
        local label=${sides[j]%%|*} bs bw br bc
        bs=$(words "${base_s[$j]}" | median)
        bw=$(words "${base_wall[$j]}" | median)
        br=$(words "${base_rss[$j]}" | median)
        bc=$(words "${base_cpu[$j]}" | median)
        printf '  %-40s %7.3f s  %9s records/s  max RSS %7s MiB  (%s records out; process %.3f s, %s records/s; CPU %s s)\n' \
            "$label" "$bs" "$(rate "$n" "$bs")" "$br" "${base_out[$j]}" "$bw" "$(rate "$n" "$bw")" "$bc"
        if ((${#weir_s[@]})); then
            if [[ $GUARANTEE == at_least_once && $weir_out != "${base_out[$j]}" && -z $verify ]]; then
                echo "  WARNING: weir wrote $weir_out records, $label ${base_out[$j]}"
            fi
            echo "  ratio weir/$label: $(ratio "$(rate "$n" "$net")" "$(rate "$n" "$bs")")x (weir minus fixed cost vs its timing), $(ratio "$(rate "$n" "$ws")" "$(rate "$n" "$bw")")x (process wall vs process wall), $(ratio "$bc" "$wc")x (CPU: its seconds / weir's)"
        fi
    done
    if ((${#pairs[@]})); then
        echo "  ratio of each pair (weir minus fixed cost / ${sides[0]%%|*}): ${pairs[*]} (median $(printf '%s\n' "${pairs[@]}" | median))"
    fi
    if ((!WEIR_OK)); then
        echo "  (weir not measured: baselines only)"
    fi
    load "after: $title"
    echo
}

if [[ $ONLY == all || $ONLY == passthrough ]]; then
    sides=("rdkafka loop (Rust, BaseConsumer)|\"\$RDK\" \"\$BOOTSTRAP\" \"\$IN\" \"\$OUT\" \"\$N\"")
    ((STREAMS_REF)) && sides+=("kafka streams stream().to()|$STREAMS_CMD passthrough \"\$IN\" \"\$OUT\" \"\$N\" $STREAMS_TAIL")
    run_case "No Python: copy $NOPY_RECORDS JSON records (weir: to_only.yaml)" "$NOPY_RECORDS" "$NOPY_RECORDS" \
        "$BENCH/to_only.yaml" copied "" "${sides[@]}"
fi
if [[ $ONLY == all || $ONLY == python ]]; then
    input "$PY_RECORDS"
    exp=$(KU expect "$IN_FILE" filtermap)
    sides=("confluent-kafka Python loop|\"\$KAFKA_PYTHON\" \"\$HERE/plain_loop_kafka.py\" \"\$BOOTSTRAP\" \"\$IN\" \"\$OUT\" \"\$N\"")
    ((STREAMS_REF)) && sides+=("kafka streams filter+mapValues (Java)|$STREAMS_CMD filtermap \"\$IN\" \"\$OUT\" \"\$EXP\" $STREAMS_TAIL")
    run_case "Python: filter + mapValues, $PY_RECORDS JSON records (weir: python_pipeline.yaml; $exp pass)" \
        "$PY_RECORDS" "$exp" "$BENCH/python_pipeline.yaml" enriched "" "${sides[@]}"
fi
if [[ $ONLY == all || $ONLY == count ]]; then
    input "$COUNT_RECORDS"
    exp=$(KU expect "$IN_FILE" count)
    run_case "Stateful: filter, groupBy (1000 keys), count, $COUNT_RECORDS JSON records (weir: kafka/count.yaml; $exp counted)" \
        "$COUNT_RECORDS" "$exp" "$HERE/count.yaml" customer_group_counts verify \
        "kafka streams count()|$STREAMS_CMD count \"\$IN\" \"\$OUT\" \"\$EXP\" $STREAMS_TAIL"
fi
load "at the end"
