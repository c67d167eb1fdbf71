"""JSON lines for `weir topic produce` (bench/rest/run.sh): KEYS keys k00000.. (5 digits).

    gen_events.py KEYS every OUT        # one record per key, in a shuffled order
    gen_events.py KEYS COUNT OUT [SEED] # COUNT records with keys drawn at random
"""
import json
import random
import sys

keys, what, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
rng = random.Random(int(sys.argv[4]) if len(sys.argv) > 4 else 13)
if what == "every":
    order = list(range(keys))
    rng.shuffle(order)
else:
    order = [rng.randrange(keys) for _ in range(int(what))]
with open(out, "w") as f:
    for i, k in enumerate(order):
        f.write(json.dumps({"key": f"k{k:05d}", "value": {"amount": i % 1000, "note": "x" * 40}}) + "\n")
