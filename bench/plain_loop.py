"""The baseline for the Python benchmark: what a user would write without Weir.

Usage: python3 plain_loop.py INPUT OUTPUT

Reads INPUT (one JSON value per line, the file Weir's input topic was fed from), and for
each line: json.loads, the predicate, the transformer, json.dumps, written to OUTPUT. The
two functions are the ones in python_pipeline.yaml, called the way Weir calls them
(key, value). Prints one line: records, seconds, records/s, records written.
"""

import json
import sys
import time


def is_valid(key, value):
    return value["amount"] >= 20.0 and value["status"] != "cancelled"


def enrich(key, value):
    result = {
        "id": value["id"],
        "customer": value["customer"],
        "cents": int(value["amount"] * 100),
        "currency": value["currency"],
        "region": value["region"].upper(),
        "big": value["amount"] > 500,
    }
    return result


def main():
    source, target = sys.argv[1], sys.argv[2]
    start = time.perf_counter()
    n = written = 0
    with open(source, "rb") as f, open(target, "w") as out:
        for line in f:
            n += 1
            value = json.loads(line)
            if is_valid(None, value):
                out.write(json.dumps(enrich(None, value)))
                out.write("\n")
                written += 1
    took = time.perf_counter() - start
    print(f"{n} {took:.3f} {n / took:.0f} {written}")


if __name__ == "__main__":
    main()
