#!/usr/bin/env python3
"""Load client of the orders example (bench/orders/run.sh): CLIENTS closed loops, each posting
an order (POST /v1/orders) and then waiting for its validation with the blocking
GET /v1/orders/{id}/validated at the next instance (the one it did not post to, when there
are several), for DURATION seconds. Prints orders/s accepted (POST 201s), the final states,
and the POST latency and the POST -> VALIDATED latency (from sending the POST until the
blocking GET returns), p50/p99/max. Python standard library only.

    python3 load.py --url http://127.0.0.1:PORT[,http://127.0.0.1:PORT2] [--clients 16] [--duration 20]

Before measuring it waits (up to --ready-timeout seconds) until one order goes all the way
through: every service is running. The orders pass every check without using up anything:
quantity 0 of JUMPERS at 1.00 (no stock reserved, nothing towards the fraud limit),
customers 1..8 in turn. Exits 1 when an order ends in another state than VALIDATED, a request
fails, or no order was accepted.
"""

import argparse
import http.client
import json
import sys
import threading
import time
import urllib.parse


class Instance:
    """One keep-alive connection to one instance (per thread)."""

    def __init__(self, base):
        u = urllib.parse.urlsplit(base)
        self.host, self.port = u.hostname, u.port
        self.conn = None

    def request(self, method, path, body=None, timeout=120):
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data is not None else {}
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
            try:
                self.conn.request(method, path, body=data, headers=headers)
                resp = self.conn.getresponse()
                raw = resp.read()
                if resp.getheader("Connection", "").lower() == "close":
                    self.conn.close()
                    self.conn = None
                return resp.status, raw
            except (OSError, http.client.HTTPException) as e:
                self.conn.close()
                self.conn = None
                # A kept-alive connection the server had closed: once more on a new one.
                retry = isinstance(e, (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError))
                if attempt == 2 or not retry:
                    raise
        raise AssertionError("unreachable")


def order(order_id, i):
    return {"id": order_id, "customerId": 1 + i % 8, "state": "CREATED", "product": "JUMPERS", "quantity": 0, "price": 1.0}


def percentile(sorted_values, p):
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(round(p / 100 * (len(sorted_values) - 1))))]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--url", required=True, help="the Orders Service, or several comma-separated instances")
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--duration", type=float, default=20.0, help="seconds of posting (the last orders' waits come after)")
    p.add_argument("--ready-timeout", type=float, default=180.0)
    p.add_argument("--label", default="")
    args = p.parse_args()
    bases = [u.rstrip("/") for u in args.url.split(",") if u.strip()]
    run = f"{int(time.time() * 1000)}"

    # Warm-up: one order all the way through (every service up, topics and groups there).
    first = Instance(bases[0])
    deadline = time.time() + args.ready_timeout
    while True:
        try:
            status, body = first.request("POST", "/v1/orders", order(f"{run}-warmup", 0))
            if status == 201:
                status, body = first.request("GET", f"/v1/orders/{run}-warmup/validated?timeout={int(args.ready_timeout * 1000)}", timeout=args.ready_timeout + 10)
                if status == 200 and json.loads(body).get("state") == "VALIDATED":
                    break
        except (OSError, http.client.HTTPException) as e:
            status, body = 0, str(e).encode()
        if time.time() > deadline:
            print(f"load.py: no order validated within {args.ready_timeout} s (last answer {status} {body[:200]!r})", file=sys.stderr)
            return 1
        time.sleep(0.5)

    lock = threading.Lock()
    post_ms, final_ms, states, errors, slowest = [], [], {}, [], []
    counter = iter(range(1 << 62))
    start = time.perf_counter()
    stop_at = start + args.duration

    def client(c):
        conns = [Instance(b) for b in bases]
        while time.perf_counter() < stop_at:
            with lock:
                i = next(counter)
            oid = f"{run}-{i:07d}"
            at, other = conns[i % len(conns)], conns[(i + 1) % len(conns)]
            t0 = time.perf_counter()
            try:
                status, body = at.request("POST", "/v1/orders", order(oid, i))
                t1 = time.perf_counter()
                if status != 201:
                    with lock:
                        errors.append(f"POST {oid}: {status} {body[:200]!r}")
                    continue
                status, body = other.request("GET", f"/v1/orders/{oid}/validated?timeout=60000")
                t2 = time.perf_counter()
            except (OSError, http.client.HTTPException) as e:
                with lock:
                    errors.append(f"order {oid}: {e}")
                continue
            state = json.loads(body).get("state") if status == 200 else f"HTTP {status}"
            with lock:
                post_ms.append((t1 - t0) * 1000)
                slowest.append(((t2 - t0) * 1000, oid, t0 - start, (t1 - t0) * 1000, (t2 - t1) * 1000, c))
                states[state] = states.get(state, 0) + 1
                if status == 200:
                    final_ms.append((t2 - t0) * 1000)

    threads = [threading.Thread(target=client, args=(c,)) for c in range(args.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start

    accepted = len(post_ms)
    post_ms.sort()
    final_ms.sort()
    label = f"{args.label}: " if args.label else ""
    print(f"{label}{accepted} orders accepted (POST 201) in {elapsed:.1f} s by {args.clients} clients: {accepted / elapsed:.0f} orders/s")
    print(f"{label}final states: {', '.join(f'{k} {v}' for k, v in sorted(states.items()))}; errors {len(errors)}")
    print(f"{label}POST -> 201       p50 {percentile(post_ms, 50):7.1f} ms  p99 {percentile(post_ms, 99):7.1f} ms  max {post_ms[-1] if post_ms else float('nan'):7.1f} ms")
    print(f"{label}POST -> VALIDATED p50 {percentile(final_ms, 50):7.1f} ms  p99 {percentile(final_ms, 99):7.1f} ms  max {final_ms[-1] if final_ms else float('nan'):7.1f} ms")
    print(f"RESULT label={args.label} accepted={accepted} rate={accepted / elapsed:.1f} p50_ms={percentile(final_ms, 50):.1f} p99_ms={percentile(final_ms, 99):.1f} errors={len(errors)}")
    # The slowest orders: when they started, and where the time went.
    for total, oid, at, post, wait, c in sorted(slowest, reverse=True)[:3]:
        print(f"{label}slowest: order {oid} (client {c}) posted at +{at:.2f} s: POST {post:.1f} ms, then GET /validated {wait:.1f} ms")
    for e in errors[:5]:
        print(f"  {e}", file=sys.stderr)
    bad = accepted == 0 or errors or set(states) != {"VALIDATED"}
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
