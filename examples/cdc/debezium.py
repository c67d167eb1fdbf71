"""Debezium change events → table rows: the reusable part of the CDC example.

Put this file in your `pythonContext.modulePath` (a test suite's `moduleDirectory`) and import
it from a function's `globalCode`; it works on envelopes read as JSON (with or without the
converter's schema/payload wrapper) and as Avro through a registry alike.
"""

# op codes: c = create, u = update, d = delete, r = read (snapshot),
# t = truncate, m = message (logical decoding message, no row)
DEBEZIUM_UPSERT_OPS = ("c", "u", "r")


def debezium_payload(message):
    """The envelope, whether or not the JSON converter wrapped it in schema/payload."""
    if isinstance(message, dict) and "payload" in message and "schema" in message:
        return message["payload"]
    return message


def debezium_row_key(key):
    """A string key from Debezium's key struct: the value of a one-column primary key,
    else the columns joined with '|' in their order."""
    key = debezium_payload(key)
    if isinstance(key, dict):
        values = list(key.values())
        return str(values[0]) if len(values) == 1 else "|".join(str(v) for v in values)
    return None if key is None else str(key)


def debezium_row(message):
    """The row a change event leaves: `after` for c/u/r, None (a delete) for d and for
    a tombstone."""
    envelope = debezium_payload(message)
    if envelope is None:
        return None                      # tombstone
    op = envelope.get("op")
    if op in DEBEZIUM_UPSERT_OPS:
        return envelope.get("after")
    if op == "d":
        return None
    raise ValueError(f"not a row change: op {op!r}")


def debezium_changes_a_row(message):
    """False for truncate (t) and message (m) events, which change no single row."""
    envelope = debezium_payload(message)
    return envelope is None or envelope.get("op") in DEBEZIUM_UPSERT_OPS + ("d",)
