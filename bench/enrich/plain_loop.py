#!/usr/bin/env python3
"""bench/enrich's baseline: the same enrichment as enrich.yaml as a plain Python loop, one call
at a time over one kept-alive http.client connection. Reads `weir topic produce` input
(JSON lines) from the file argv[2]; calls the service at argv[1]; prints the seconds taken."""
import http.client
import json
import sys
import time
import urllib.parse

url = urllib.parse.urlsplit(sys.argv[1])
orders = [json.loads(line) for line in open(sys.argv[2])]
conn = http.client.HTTPConnection(url.hostname, url.port, timeout=5)
out = []
t0 = time.perf_counter()
for order in orders:
    value = order["value"]
    conn.request("GET", f"/items/{value['item']}", headers={"Accept": "application/json"})
    response = conn.getresponse()
    item = json.loads(response.read())
    if response.status != 200:
        sys.exit(f"HTTP {response.status}")
    out.append({**value, "name": item["name"], "price": item["price"]})
print(f"{time.perf_counter() - t0:.3f}")
assert len(out) == len(orders)
