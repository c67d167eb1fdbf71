#!/usr/bin/env bash
# Installs the Python packages the interop tests use (the reference Avro implementations:
# fastavro and confluent-kafka's schema-registry serdes), pinned in
# scripts/python-requirements.txt, into `.venv-test` at the repository root. Idempotent: a
# venv that already has exactly these pins is kept. Prints the venv's python on its last line.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv-test
REQUIREMENTS=scripts/python-requirements.txt
STAMP="$VENV/.weir-requirements"
if [[ -x "$VENV/bin/python" && -f "$STAMP" ]] && cmp -s "$STAMP" "$REQUIREMENTS"; then
  echo "$PWD/$VENV/bin/python"
  exit 0
fi
PYTHON="${PYTHON:-python3}"
"$PYTHON" -m venv "$VENV" >&2
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQUIREMENTS" >&2
cp "$REQUIREMENTS" "$STAMP"
echo "$PWD/$VENV/bin/python"
