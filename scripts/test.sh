#!/usr/bin/env bash
# The project's whole test suite: what the README's test command and CI run.
# Everything the tests need is installed or started from here.
set -euo pipefail
cd "$(dirname "$0")/.."
# The reference Python packages of the interop tests (the tests would install them on first
# use too; installing here first reports a failed install once, before any test runs).
scripts/python-deps.sh >/dev/null
cargo test --workspace --no-fail-fast
