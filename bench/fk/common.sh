# shellcheck shell=bash
# Sourced by bench/fk/run.sh (embedded log) and bench/fk/kafka.sh (Kafka), after bench/common.sh:
# the settings both read, the inputs (entities.py), and stopping the runs they started.
#
#   fk_inputs          writes WORK/classes.jsonl, items.jsonl, replay.jsonl; sets AFFECTED
#   stop_runs          SIGINT to the process under RUN_PID's GNU time, then ends the jobs left
N=${N:-1000000}
C=${C:-50}
CHANGES=${CHANGES:-3}
CLASS=${CLASS:-C07}
PYTHON=${PYTHON:-python3}
TIMEOUT=${TIMEOUT:-600}
TIME=/usr/bin/time
[[ -x $TIME ]] || { echo "needs GNU time at /usr/bin/time (apt-get install time)" >&2; exit 1; }
EXAMPLES=$ROOT/examples/entity-updates
GEN=$EXAMPLES/entities.py
RUN_PID=

fk_inputs() {
    # shellcheck disable=SC2034 # read by the scripts that source this
    AFFECTED=$("$PYTHON" "$GEN" count "$CLASS" "$N" "$C")
    "$PYTHON" "$GEN" classes "$C" > "$WORK/classes.jsonl"
    "$PYTHON" "$GEN" items "$N" "$C" > "$WORK/items.jsonl"
    "$PYTHON" "$GEN" replay "$CLASS" "$N" "$C" > "$WORK/replay.jsonl"
}

stop_runs() {
    [[ -n $RUN_PID ]] && kill -INT "$(pgrep -P "$RUN_PID")" 2> /dev/null
    jobs -p | xargs -r kill 2> /dev/null
    wait
}
