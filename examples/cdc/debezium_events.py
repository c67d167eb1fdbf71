"""Debezium change events for the `inventory.customers` table, in the JSON form Debezium's
JSON converter writes (schemas disabled by default; `with_schema` wraps a record as with
`value.converter.schemas.enable=true`). Used by the example's fixtures and by
tests/suites/cdc-debezium.yaml.

    python3 debezium_events.py > customers.jsonl     # lines for `weir topic produce`
"""
import json
import sys

TOPIC = "dbserver1.inventory.customers"
_TS = 1767225600000  # 2026-01-01T00:00:00Z


def source(ts_ms, snapshot="false", pos=0):
    """A MySQL connector's `source` block."""
    return {
        "version": "2.7.0.Final",
        "connector": "mysql",
        "name": "dbserver1",
        "ts_ms": ts_ms,
        "snapshot": snapshot,
        "db": "inventory",
        "sequence": None,
        "table": "customers",
        "server_id": 223344,
        "gtid": None,
        "file": "mysql-bin.000003",
        "pos": pos,
        "row": 0,
        "thread": 7,
        "query": None,
    }


def key(row_id):
    return {"id": row_id}


def customer(row_id, first, last, email):
    return {"id": row_id, "first_name": first, "last_name": last, "email": email}


def event(op, before, after, n, snapshot="false"):
    ts = _TS + n * 1000
    return {
        "before": before,
        "after": after,
        "source": source(ts, snapshot, pos=154 + n * 100),
        "op": op,
        "ts_ms": ts + 12,
        "transaction": None,
    }


def with_schema(payload):
    """As the JSON converter writes with schemas enabled (schema abbreviated: Weir does not
    read it)."""
    return {"schema": {"type": "struct", "optional": False, "name": "dbserver1.inventory.customers.Envelope"}, "payload": payload}


SALLY = customer(1001, "Sally", "Thomas", "sally.thomas@acme.com")
GEORGE = customer(1002, "George", "Bailey", "gbailey@foobar.com")
EDWARD = customer(1003, "Edward", "Walker", "ed@walker.com")
ANNE = customer(1004, "Anne", "Kretchmar", "annek@noanswer.org")
ANNE_NEW_EMAIL = {**ANNE, "email": "anne@kretchmar.org"}


def changes():
    """(key, value) pairs in topic order: a snapshot of three rows, a create, an update, and
    the delete of a snapshotted row followed by its tombstone."""
    return [
        (key(1001), event("r", None, SALLY, 0, snapshot="first")),
        (key(1002), event("r", None, GEORGE, 0, snapshot="true")),
        (key(1003), event("r", None, EDWARD, 0, snapshot="last")),
        (key(1004), event("c", None, ANNE, 1)),
        (key(1004), event("u", ANNE, ANNE_NEW_EMAIL, 2)),
        (key(1002), event("d", GEORGE, None, 3)),
        (key(1002), None),  # the tombstone Debezium writes after a delete
    ]


def expected():
    """The table after changes(): row key -> row."""
    return {"1001": SALLY, "1003": EDWARD, "1004": ANNE_NEW_EMAIL}


def latest(records):
    """The current row per key from a changelog's records (a null value deletes)."""
    state = {}
    for r in records:
        if r["value"] is None:
            state.pop(r["key"], None)
        else:
            state[r["key"]] = r["value"]
    return state


if __name__ == "__main__":
    for i, (k, v) in enumerate(changes()):
        print(json.dumps({"key": k, "value": v, "timestamp": _TS + i}))
    sys.stdout.flush()
