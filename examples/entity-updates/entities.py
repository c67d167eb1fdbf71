"""N items over C delivery classes, and class changes: the inputs of the entity-update examples.

Used three ways: as a command that writes JSON lines for `weir topic produce`, by the `weir test`
suites (tests/suites/entity-updates-*.yaml import it through their moduleDirectory), and by the
benchmark (bench/fk/run.sh). Everything is a function of its arguments: no randomness, so a class's
items can be listed again by whoever changes the class (the "external job" of the replay design).

    python3 entities.py classes C [VERSION]     # C class records (key: class id)
    python3 entities.py items N C               # N item records (key: item id)
    python3 entities.py change CLASS VERSION    # one class record: CLASS's data at VERSION
    python3 entities.py replay CLASS N C        # the ids of CLASS's items (replay design)
    python3 entities.py count CLASS N C         # how many items CLASS has
"""

import json
import sys

CARRIERS = ["postnl", "dhl", "ups", "dpd", "gls"]


def class_id(c):
    return f"C{c:02d}"


def item_id(i):
    return f"item-{i:07d}"


def class_of(i, classes):
    """The class number of item i: spread evenly, not in blocks (a prime stride)."""
    return (i * 7919) % classes


def item(i, classes):
    return {"id": item_id(i), "name": f"item {i}", "class": class_id(class_of(i, classes)), "price": (i * 37) % 10000 / 100}


def delivery(c, version=1):
    """Class c's delivery data at a version: each version changes the times."""
    return {"class": class_id(c), "minDays": 1 + (c + version) % 3, "maxDays": 3 + (c + version) % 5,
            "carrier": CARRIERS[(c + version) % len(CARRIERS)], "version": version}


def enriched(item_value, class_value):
    """What both designs write downstream for an item: the item with its class's delivery data."""
    return {**item_value, "delivery": {k: v for k, v in class_value.items() if k != "class"}}


def items_of(c, n, classes):
    return [item_id(i) for i in range(n) if class_of(i, classes) == c]


def expected(n, classes, versions=None, moved=None, deleted=()):
    """The downstream table after N items over C classes were written (both designs agree on it):
    item id -> enriched item, None for a deleted one. versions: class number -> its current
    version (default 1); moved: item number -> the class number it moved to."""
    versions, moved = versions or {}, moved or {}
    out = {}
    for i in range(n):
        if i in deleted:
            out[item_id(i)] = None
            continue
        value = item(i, classes)
        if i in moved:
            value["class"] = class_id(moved[i])
        c = class_number(value["class"])
        out[item_id(i)] = enriched(value, delivery(c, versions.get(c, 1)))
    return out


def latest(records):
    """The last value of each key of a topic's records (as `weir test` gives them)."""
    return {r["key"]: r["value"] for r in records}


def class_number(text):
    return int(text[1:]) if text.startswith("C") else int(text)


def main(args):
    out = sys.stdout
    line = lambda key, value: out.write(json.dumps({"key": key, "value": value}, separators=(",", ":")) + "\n")
    cmd = args[0] if args else ""
    if cmd == "classes":
        version = int(args[2]) if len(args) > 2 else 1
        for c in range(int(args[1])):
            line(class_id(c), delivery(c, version))
    elif cmd == "items":
        n, classes = int(args[1]), int(args[2])
        for i in range(n):
            line(item_id(i), item(i, classes))
    elif cmd == "change":
        c = class_number(args[1])
        line(class_id(c), delivery(c, int(args[2])))
    elif cmd == "replay":
        c = class_number(args[1])
        for key in items_of(c, int(args[2]), int(args[3])):
            line(key, {"reason": "class changed", "class": class_id(c)})
    elif cmd == "count":
        print(len(items_of(class_number(args[1]), int(args[2]), int(args[3]))))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
