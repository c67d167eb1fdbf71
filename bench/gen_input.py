"""Writes N JSON order records, one per line, compact (as a JSON serializer writes them).

Usage: python3 gen_input.py N OUT

Deterministic (seeded): the same N gives the same file. Records are ~170 bytes. The file
is fed to Weir with `weir topic produce --raw` (each line is a value, byte for byte) and
read as is by plain_loop.py, so both process exactly the same bytes.
"""

import json
import random
import sys

STATUSES = ["new", "paid", "shipped", "cancelled"]
CURRENCIES = ["EUR", "USD", "GBP"]
REGIONS = ["eu-west-1", "eu-central-1", "us-east-1", "ap-south-1"]
TAGS = ["web", "app", "promo", "b2b", "gift"]


def main():
    n, out = int(sys.argv[1]), sys.argv[2]
    rnd = random.Random(42)
    total = 0
    with open(out, "w") as f:
        for i in range(n):
            record = {
                "id": f"o{i:010d}",
                "customer": f"cust-{rnd.randrange(100000):05d}",
                "amount": round(rnd.uniform(0, 1000), 2),
                "currency": rnd.choice(CURRENCIES),
                "quantity": rnd.randrange(1, 20),
                "status": rnd.choice(STATUSES),
                "region": rnd.choice(REGIONS),
                "ts": 1700000000000 + i * 37,
                "tags": rnd.sample(TAGS, 2),
            }
            line = json.dumps(record, separators=(",", ":"))
            total += len(line)
            f.write(line)
            f.write("\n")
    print(f"wrote {n} records to {out}, {total / n:.0f} bytes per record on average", file=sys.stderr)


if __name__ == "__main__":
    main()
