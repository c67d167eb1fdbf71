#!/usr/bin/env bash
# The project's whole test suite: what the README's test command and CI run.
# Everything the tests need is installed or started from here.
set -euo pipefail
cd "$(dirname "$0")/.."
# The JSON Schema and Protobuf interop tests run Confluent's Python serializers from .venv-test.
scripts/python-deps-schemas.sh >/dev/null
cargo test --workspace --no-fail-fast
