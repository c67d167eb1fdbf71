"""The order events of the CQRS example, and a reference fold of them.

`python3 order_events.py` prints them as `weir topic produce` reads them (a JSON object a
line); the suite imports `event_log` and `read_models`.
"""

import json


def event_log():
    """(order id, event) pairs, in the order the write side recorded them."""
    return [
        ("o-1", {"type": "placed", "customer": "c-1", "total": 1250}),
        ("o-2", {"type": "placed", "customer": "c-1", "total": 800}),
        ("o-3", {"type": "placed", "customer": "c-2", "total": 4300}),
        ("o-1", {"type": "shipped"}),
        ("o-4", {"type": "shipped"}),  # never placed: not in any customer's summary
        ("o-2", {"type": "cancelled"}),
        ("o-2", {"type": "shipped"}),  # after the cancel: ignored
        ("o-5", {"type": "placed", "customer": "c-2", "total": 99}),
        ("o-3", {"type": "refunded"}),  # unknown to this read model: counted, nothing else
    ]


def read_models(log):
    """Both read models folded in plain Python: (order_status, customer_orders)."""
    orders = {}
    for order_id, event in log:
        o = orders.setdefault(order_id, {"customer": None, "total": 0, "status": "unknown", "events": 0})
        o["events"] += 1
        kind = event.get("type")
        if kind == "placed" and o["status"] == "unknown":
            o.update(customer=event["customer"], total=event["total"], status="placed")
        elif kind in ("shipped", "cancelled") and o["status"] == "placed":
            o["status"] = kind
    customers = {}
    for o in orders.values():
        if o["customer"] is None:
            continue
        c = customers.setdefault(o["customer"], {"placed": 0, "shipped": 0, "cancelled": 0, "open_total": 0})
        c[o["status"]] += 1
        if o["status"] == "placed":
            c["open_total"] += o["total"]
    return orders, customers


if __name__ == "__main__":
    for key, value in event_log():
        print(json.dumps({"key": key, "value": value}))
