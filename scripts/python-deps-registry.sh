#!/usr/bin/env bash
# Installs the Python packages the schema registry interop tests use (Confluent's reference
# client, `confluent-kafka[schemaregistry]`) into a project-local virtual environment under
# target/, which git ignores. Idempotent: a second run with the packages present does nothing.
# Prints the venv's python on success.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${WEIR_REGISTRY_VENV:-target/venv-registry}"
PY="$VENV/bin/python"
if [ -x "$PY" ] && "$PY" -c "import confluent_kafka.schema_registry" 2>/dev/null; then
    echo "$PY"
    exit 0
fi
python3 -m venv "$VENV"
"$PY" -m pip install --quiet --disable-pip-version-check "confluent-kafka[schemaregistry]>=2.6,<3" >&2
"$PY" -c "import confluent_kafka.schema_registry" >&2
echo "$PY"
