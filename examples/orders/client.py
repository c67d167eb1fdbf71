#!/usr/bin/env python3
"""Demo client of the orders example: posts orders to the Orders Service over HTTP, reads each
back with the blocking GET, and prints its final state and whether the rules say so.

    python3 client.py --url http://127.0.0.1:18894 [-n 20] [--weir-topic "weir topic --storage DIR"]

Orders cycle through five kinds, each with the outcome the services' rules give it:

    pass       JUMPERS x1 at 1.00, customers 1..8           VALIDATED (all three checks PASS)
    details    a negative price                             FAILED (OrderDetailsService)
    fraud      customer 9, 1 x 2500.00 (limit 2000)         FAILED (FraudService)
    inventory  UNDERPANTS x1000000 at 0.00                  FAILED (InventoryService: not in stock)
    no-stock   STOCKINGS (the seed has no stock row)        stays CREATED: the inventory join
                                                            drops it, so /validated times out (504)

For each: POST /v1/orders (201 and a Location), GET <Location>?timeout= (the order as
posted, in whatever state it has reached), then GET /v1/orders/{id}/validated?timeout= (VALIDATED or FAILED, or 504 for no-stock).
--url takes several comma-separated instances: requests alternate between them (the
instances forward to the one that holds the order). With --weir-topic, a payment per order is
written to payment-requests (the JSON ingest turns it into a payments record), so the
EmailService sends emails (its log, and the emails topic). Exits 1 when an order's outcome is
not what the rules say. Python standard library only.
"""

import argparse
import json
import shlex
import subprocess
import sys
import time
import urllib.error
import urllib.request

KINDS = ["pass", "details", "fraud", "inventory", "no-stock"]


def order_for(kind, order_id, i):
    order = {"id": order_id, "customerId": 1 + i % 8, "state": "CREATED", "product": "JUMPERS", "quantity": 1, "price": 1.0}
    if kind == "details":
        order["price"] = -1.0
    elif kind == "fraud":
        order.update(customerId=9, price=2500.0)
    elif kind == "inventory":
        order.update(product="UNDERPANTS", quantity=1000000, price=0.0)
    elif kind == "no-stock":
        order["product"] = "STOCKINGS"
    return order


EXPECTED = {"pass": "VALIDATED", "details": "FAILED", "fraud": "FAILED", "inventory": "FAILED", "no-stock": "CREATED"}


def request(method, url, body=None, timeout_s=120):
    """(status, headers, parsed JSON body or text); HTTP errors are returned, not raised."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    req.add_header("Accept", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:
            status, headers, raw = resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as e:
        status, headers, raw = e.code, e.headers, e.read()
    text = raw.decode("utf-8", "replace")
    try:
        return status, headers, json.loads(text) if text else None
    except ValueError:
        return status, headers, text


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--url", required=True, help="the Orders Service, or several comma-separated instances")
    p.add_argument("-n", type=int, default=10, help="orders to post (default 10: each kind twice)")
    p.add_argument("--timeout", type=int, default=30000, help="ms a GET waits (default 30000)")
    p.add_argument("--no-stock-timeout", type=int, default=3000, help="ms the /validated GET of a no-stock order waits (default 3000)")
    p.add_argument("--weir-topic", help='a `weir topic` command for the log or cluster, e.g. "weir topic --storage DIR": also write a payment per order')
    args = p.parse_args()
    bases = [u.rstrip("/") for u in args.url.split(",") if u.strip()]

    run = int(time.time())
    results = []
    for i in range(args.n):
        kind = KINDS[i % len(KINDS)]
        order_id = f"{run}{i:04d}"
        order = order_for(kind, order_id, i)
        base = bases[i % len(bases)]
        other = bases[(i + 1) % len(bases)]
        problems = []

        status, headers, _ = request("POST", f"{base}/v1/orders", order)
        location = headers.get("Location") if headers else None
        if status != 201 or not location:
            problems.append(f"POST gave {status}, Location {location!r}")
        else:
            if location.startswith("/"):
                location = base + location
            status, _, got = request("GET", f"{location}?timeout={args.timeout}")
            # The order as posted; the validators may already have changed its state.
            if status != 200 or not isinstance(got, dict) or {**got, "state": "CREATED"} != order:
                problems.append(f"GET {location} gave {status} {got!r}, not the order posted")
        if args.weir_topic:
            # Paid right away: the EmailService joins an order and its payment within a minute.
            payment = {"id": f"Payment:{order_id}", "orderId": order_id, "ccy": "CZK", "amount": 1000.0}
            line = json.dumps({"key": payment["id"], "value": payment}) + "\n"
            out = subprocess.run(shlex.split(args.weir_topic) + ["produce", "payment-requests"], input=line, text=True, capture_output=True)
            if out.returncode != 0:
                problems.append(f"payment not written: {out.stderr.strip()}")

        wait = args.no_stock_timeout if kind == "no-stock" else args.timeout
        status, _, got = request("GET", f"{other}/v1/orders/{order_id}/validated?timeout={wait}")
        if status == 200 and isinstance(got, dict):
            state = got.get("state")
            if {**got, "state": order["state"]} != order:
                problems.append(f"the validated order differs from the one posted: {got!r}")
        elif status == 504 and kind == "no-stock":
            _, _, now = request("GET", f"{other}/v1/orders/{order_id}?timeout={args.timeout}")
            state = now.get("state") if isinstance(now, dict) else f"? ({now!r})"
        else:
            state = f"HTTP {status}"
        ok = state == EXPECTED[kind] and not problems
        results.append(ok)
        print(f"{order_id}  {kind:<10} {order['product']:<10} qty {order['quantity']:>8} x {order['price']:>8.2f}  "
              f"customer {order['customerId']}  ->  {state:<10} {'as the rules say' if ok else 'expected ' + EXPECTED[kind]}"
              + "".join(f"\n    {p}" for p in problems), flush=True)

    passed = sum(results)
    print(f"{passed} of {len(results)} orders as the rules say")
    return 0 if passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
