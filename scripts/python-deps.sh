#!/usr/bin/env bash
# Installs the Python packages the interop tests use (the reference implementations: fastavro,
# and confluent-kafka's schema registry client and serdes), pinned in
# scripts/python-requirements.txt, into `.venv-test` at the repository root. Used by
# crates/weir-engine/tests/notation_avro.rs, crates/weir/tests/registry_interop.rs and
# crates/weir/tests/registry_run.rs. Prints the venv's python (an absolute path) on its last
# line.
#
# Idempotent: a venv whose stamp matches the requirements file is kept; otherwise it is made
# afresh (`venv --clear`, so packages dropped from the file go too) and the stamp is written
# last, so a venv left half-made by an interrupted install is never taken for a good one.
# Safe to call from several processes at once (cargo runs test binaries in parallel): the
# whole check-or-install runs under an exclusive lock on `.venv-test.lock` (flock(1)), so one
# process installs while the others wait and then find the venv ready.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv-test
REQUIREMENTS=scripts/python-requirements.txt
STAMP="$VENV/.weir-requirements"
PYTHON="${PYTHON:-python3}"

exec 9>"$VENV.lock"
if command -v flock >/dev/null; then
  flock 9
else
  echo "python-deps.sh: flock(1) not found; installing without a lock (do not run tests in parallel on a fresh venv)" >&2
fi

if [[ -x "$VENV/bin/python" && -f "$STAMP" ]] && cmp -s "$STAMP" "$REQUIREMENTS"; then
  echo "$PWD/$VENV/bin/python"
  exit 0
fi
echo "python-deps.sh: installing scripts/python-requirements.txt into $VENV" >&2
"$PYTHON" -m venv --clear "$VENV" >&2
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQUIREMENTS" >&2
cp "$REQUIREMENTS" "$STAMP"
echo "$PWD/$VENV/bin/python"
