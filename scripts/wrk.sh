#!/usr/bin/env bash
# Prints the path of wrk (the HTTP benchmarking tool bench/rest/run.sh uses), installing it
# first when it is missing: `apt-get install -y wrk` (Debian/Ubuntu; as root, or through sudo
# when there is one). Says on stderr when it installs; fails with a message when it cannot.
set -euo pipefail
if command -v wrk > /dev/null; then
    command -v wrk
    exit 0
fi
command -v apt-get > /dev/null || { echo "wrk.sh: wrk is missing and there is no apt-get: install wrk (https://github.com/wg/wrk)" >&2; exit 1; }
SUDO=
if [[ $(id -u) != 0 ]]; then
    command -v sudo > /dev/null || { echo "wrk.sh: wrk is missing; install it as root: apt-get install -y wrk" >&2; exit 1; }
    SUDO=sudo
fi
echo "wrk.sh: wrk is missing: installing it with '$SUDO apt-get install -y wrk'" >&2
$SUDO apt-get install -y wrk > /dev/null || {
    echo "wrk.sh: apt-get install failed; trying once more after apt-get update" >&2
    $SUDO apt-get update > /dev/null
    $SUDO apt-get install -y wrk > /dev/null
}
command -v wrk
