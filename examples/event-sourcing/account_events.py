"""An account event log, and a reference replay of it, for the event-sourcing example and
tests/suites/event-sourcing.yaml.

    python3 account_events.py > events.jsonl     # lines for `weir topic produce`
"""
import json

_TS = 1767225600000  # 2026-01-01T00:00:00Z


def ev(kind, seq, amount=None):
    e = {"type": kind, "seq": seq}
    if amount is not None:
        e["amount"] = amount
    return e


def event_log():
    """(account, event) in log order, amounts in cents; the accounts' events interleave."""
    return [
        ("acc-1", ev("deposited", 1, 10000)),
        ("acc-2", ev("deposited", 1, 2500)),
        ("acc-1", ev("withdrawn", 2, 3000)),
        ("acc-3", ev("deposited", 1, 500)),
        ("acc-2", ev("withdrawn", 2, 2500)),
        ("acc-1", ev("deposited", 3, 1234)),
        ("acc-2", ev("closed", 3)),
        ("acc-3", ev("withdrawn", 2, 800)),          # an overdraft the bank allowed: a fact
        ("acc-2", ev("deposited", 4, 100)),          # after the close: ignored
        ("acc-1", ev("withdrawn", 4, 234)),
    ]


def replay(events):
    """The reference: each account's state from its events, written independently of the
    pipeline's aggregator (same rules, stated once more)."""
    state = {}
    for account, e in events:
        s = state.setdefault(account, {"balance": 0, "status": "open", "version": 0, "applied": 0, "ignored": 0})
        if e["seq"] <= s["version"]:
            continue
        s["version"] = e["seq"]
        if s["status"] == "closed" or e["type"] not in ("deposited", "withdrawn", "closed"):
            s["ignored"] += 1
            continue
        s["applied"] += 1
        if e["type"] == "closed":
            s["status"] = "closed"
        else:
            s["balance"] += e["amount"] if e["type"] == "deposited" else -e["amount"]
    return state


def latest(records):
    """The last state per account from the changelog's records."""
    return {r["key"]: r["value"] for r in records}


if __name__ == "__main__":
    for i, (k, v) in enumerate(event_log()):
        print(json.dumps({"key": k, "value": v, "timestamp": _TS + i * 1000}))
