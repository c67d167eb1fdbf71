#!/usr/bin/env bash
# The whole orders ecosystem in one `weir run` on the embedded log: every service's
# definition, the seed data (stock levels, customers) and the HTTP interface (routes.yaml),
# served on a port printed below. Stop it with Ctrl-C.
#
#   examples/orders/run-embedded.sh               # a free port, state in examples/orders/.weir-state
#   ORDERS_PORT=18894 WEIR_STATE=/tmp/orders examples/orders/run-embedded.sh
#   WEIR=/path/to/weir examples/orders/run-embedded.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"

if [ -z "${WEIR:-}" ]; then
  if command -v weir >/dev/null; then WEIR=weir
  else
    # the project's own build, brought up to date (a no-op when it is)
    (cd "$here/../.." && cargo build --release -q -p weir) || { echo "run-embedded.sh: cannot build weir; set WEIR" >&2; exit 1; }
    WEIR="$here/../../target/release/weir"
  fi
fi
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
export ORDERS_PORT="${ORDERS_PORT:-$(free_port)}"
export WEIR_STATE="${WEIR_STATE:-$here/.weir-state}"

url="http://127.0.0.1:$ORDERS_PORT"
cat <<MSG
orders ecosystem on the embedded log in $WEIR_STATE
  Orders Service:  $url/v1/orders   (POST an order; GET /v1/orders/{id}[/validated]?timeout=ms)
  demo client:     python3 $here/client.py --url $url --weir-topic "$WEIR topic --storage $WEIR_STATE"
  outputs:         $WEIR topic --storage $WEIR_STATE consume orders --follow --value-type avro:Order --config $here/ksml-runner.yaml
MSG
exec "$WEIR" run --embedded ksml-runner.yaml --routes routes.yaml
