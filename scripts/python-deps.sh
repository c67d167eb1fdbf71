#!/usr/bin/env bash
# Installs the Python packages the interop tests use (the reference Avro implementations:
# fastavro and confluent-kafka's schema-registry serdes) into `.venv-test` at the repository
# root, with pinned versions. Idempotent: a venv that already has these versions is kept.
# Prints the venv's python on its last line.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv-test
PACKAGES=(
  "fastavro==1.12.1"
  "confluent-kafka[avro,schemaregistry]==2.12.1"
)
STAMP="$VENV/.weir-deps"
WANT="$(printf '%s\n' "${PACKAGES[@]}")"
if [[ -x "$VENV/bin/python" && -f "$STAMP" && "$(cat "$STAMP")" == "$WANT" ]]; then
  echo "$PWD/$VENV/bin/python"
  exit 0
fi
PYTHON="${PYTHON:-python3}"
"$PYTHON" -m venv "$VENV" >&2
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${PACKAGES[@]}" >&2
printf '%s' "$WANT" > "$STAMP"
echo "$PWD/$VENV/bin/python"
