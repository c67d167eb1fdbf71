#!/usr/bin/env bash
# Installs the Python packages the JSON Schema and Protobuf interop tests use
# (crates/weir-engine/tests/notation_jsonschema.rs, notation_protobuf.rs) into the project's
# test virtualenv `.venv-test` (gitignored): Confluent's Python client with its schema
# registry serializers, and the `jsonschema` and `protobuf` packages those need.
#
# Idempotent: does nothing when the packages are already importable. Prints the venv's
# python on its last line.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv-test
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
check='import confluent_kafka, confluent_kafka.schema_registry.json_schema, confluent_kafka.schema_registry.protobuf, jsonschema, google.protobuf'
if ! "$venv/bin/python" -c "$check" 2>/dev/null; then
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        'confluent-kafka[schemaregistry,json,protobuf]>=2.5' jsonschema protobuf googleapis-common-protos
    "$venv/bin/python" -c "$check"
fi
echo "$(pwd)/$venv/bin/python"
