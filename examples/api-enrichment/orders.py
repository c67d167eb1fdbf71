#!/usr/bin/env python3
"""Prints N orders (default 1000) as `weir topic produce` input: key o<n>, value
{"order": n, "item": n % ITEMS, "qty": 1..3}; ITEMS (default 500) distinct items."""
import json
import sys

n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
items = int(sys.argv[2]) if len(sys.argv) > 2 else 500
for i in range(n):
    print(json.dumps({"key": f"o{i}", "value": {"order": i, "item": i % items, "qty": 1 + i % 3}}))
