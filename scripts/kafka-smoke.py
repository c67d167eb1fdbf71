#!/usr/bin/env python3
"""Smoke test of a Kafka broker (the one scripts/kafka.sh starts) with confluent-kafka.

    PY=$(scripts/python-deps.sh)
    BOOTSTRAP=$(scripts/kafka.sh start)
    "$PY" scripts/kafka-smoke.py "$BOOTSTRAP"            # write, then check
    scripts/kafka.sh stop --keep && scripts/kafka.sh start
    "$PY" scripts/kafka-smoke.py "$BOOTSTRAP" --verify   # check again after the restart
    scripts/kafka.sh stop

Without --verify it (re)creates the topics weir-smoke (4 partitions) and weir-smoke-txn
(1 partition); produces 1000 records to weir-smoke with an idempotent producer; reads them
back in the consumer group weir-smoke-group and commits its offsets; then, with a
transactional producer, commits a transaction of 10 records to weir-smoke-txn and aborts one
of 5, and reads weir-smoke-txn read_committed (10 records) and read_uncommitted (15).
With --verify it writes nothing and checks what the first run left: the topics and their
partition counts, the 1000 records, the group's committed offsets (1000 in all), and the
committed transaction (10 records read_committed).

Prints one line per step with its time and exits 0 when all hold, 1 otherwise. Every wait is
bounded.
"""

import sys
import time

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

TOPIC = "weir-smoke"
TXN_TOPIC = "weir-smoke-txn"
GROUP = "weir-smoke-group"
PARTITIONS = 4
RECORDS = 1000
TXN_COMMITTED = 10
TXN_ABORTED = 5
TIMEOUT = 30.0  # seconds, for any one step


def step(name, started):
    print(f"kafka-smoke: {name}: ok ({time.monotonic() - started:.2f} s)", flush=True)


def fail(message):
    print(f"kafka-smoke: FAILED: {message}", flush=True)
    sys.exit(1)


def create_topics(admin):
    started = time.monotonic()
    existing = admin.list_topics(timeout=TIMEOUT).topics
    stale = [t for t in (TOPIC, TXN_TOPIC) if t in existing]
    if stale:
        for topic, future in admin.delete_topics(stale, operation_timeout=TIMEOUT).items():
            future.result()
        deadline = time.monotonic() + TIMEOUT
        while any(t in admin.list_topics(timeout=TIMEOUT).topics for t in stale):
            if time.monotonic() > deadline:
                fail(f"topics {stale} still there {TIMEOUT} s after deleting them")
            time.sleep(0.2)
    new = [NewTopic(TOPIC, PARTITIONS, 1), NewTopic(TXN_TOPIC, 1, 1)]
    deadline = time.monotonic() + TIMEOUT
    while True:
        futures = admin.create_topics(new, operation_timeout=TIMEOUT)
        try:
            for future in futures.values():
                future.result()
            break
        except KafkaException as e:
            # Right after a delete the broker may still be removing the old topic.
            if e.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS or time.monotonic() > deadline:
                raise
            time.sleep(0.5)
            new = [t for t in new if t.topic not in admin.list_topics(timeout=TIMEOUT).topics]
            if not new:
                break
    check_topics(admin)
    step(f"created {TOPIC} ({PARTITIONS} partitions) and {TXN_TOPIC}", started)


def check_topics(admin):
    deadline = time.monotonic() + TIMEOUT
    while True:
        topics = admin.list_topics(timeout=TIMEOUT).topics
        counts = {t: len(topics[t].partitions) if t in topics else 0 for t in (TOPIC, TXN_TOPIC)}
        if counts == {TOPIC: PARTITIONS, TXN_TOPIC: 1}:
            return
        if time.monotonic() > deadline:
            fail(f"partition counts {counts}, expected {TOPIC}: {PARTITIONS}, {TXN_TOPIC}: 1")
        time.sleep(0.2)


def produce(bootstrap):
    started = time.monotonic()
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 5})
    errors = []

    def delivered(err, _msg):
        if err is not None:
            errors.append(err)

    for i in range(RECORDS):
        producer.produce(TOPIC, key=f"key-{i}", value=f"value-{i}", on_delivery=delivered)
        producer.poll(0)
    left = producer.flush(TIMEOUT)
    if left or errors:
        fail(f"produce: {left} records undelivered, errors {errors[:3]}")
    step(f"produced {RECORDS} records to {TOPIC}", started)


def consume_all(bootstrap, topic, expected, group, isolation="read_committed", commit=False):
    """Reads `topic` from the start in `group` until `expected` records came, and a little longer
    to see that no more come. Returns the values read."""
    consumer = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "isolation.level": isolation,
    })
    consumer.subscribe([topic])
    values = []
    deadline = time.monotonic() + TIMEOUT
    quiet_until = None
    try:
        while time.monotonic() < deadline:
            msg = consumer.poll(0.2)
            if msg is None:
                if quiet_until is not None and time.monotonic() > quiet_until:
                    break
                continue
            if msg.error():
                fail(f"consume {topic}: {msg.error()}")
            values.append(msg.value().decode())
            if len(values) >= expected and quiet_until is None:
                quiet_until = time.monotonic() + 1.0
        if commit and values:
            consumer.commit(asynchronous=False)
    finally:
        consumer.close()
    return values


def check_consumed(bootstrap, group, commit):
    started = time.monotonic()
    values = consume_all(bootstrap, TOPIC, RECORDS, group, commit=commit)
    if sorted(values) != sorted(f"value-{i}" for i in range(RECORDS)):
        fail(f"read {len(values)} records ({len(set(values))} distinct) from {TOPIC}, expected {RECORDS}")
    step(f"read the {RECORDS} records back in group {group}" + (" and committed" if commit else ""), started)


def check_committed(bootstrap):
    started = time.monotonic()
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": GROUP, "enable.auto.commit": False})
    try:
        committed = consumer.committed([TopicPartition(TOPIC, p) for p in range(PARTITIONS)], timeout=TIMEOUT)
        lows_highs = [consumer.get_watermark_offsets(TopicPartition(TOPIC, p), timeout=TIMEOUT) for p in range(PARTITIONS)]
    finally:
        consumer.close()
    total = sum(tp.offset for tp in committed if tp.offset >= 0)
    end = sum(high for _low, high in lows_highs)
    if total != RECORDS or end != RECORDS:
        fail(f"group {GROUP} committed {total} and the partitions end at {end}, expected {RECORDS}")
    step(f"group {GROUP} has {total} committed, partitions end at {end}", started)


def transactions(bootstrap):
    started = time.monotonic()
    producer = Producer({"bootstrap.servers": bootstrap, "transactional.id": "weir-smoke-txn"})
    producer.init_transactions(TIMEOUT)
    producer.begin_transaction()
    for i in range(TXN_COMMITTED):
        producer.produce(TXN_TOPIC, key=f"k{i}", value=f"committed-{i}")
    producer.commit_transaction(TIMEOUT)
    producer.begin_transaction()
    for i in range(TXN_ABORTED):
        producer.produce(TXN_TOPIC, key=f"k{i}", value=f"aborted-{i}")
    producer.flush(TIMEOUT)
    producer.abort_transaction(TIMEOUT)
    step(f"transactional producer: init, commit of {TXN_COMMITTED}, abort of {TXN_ABORTED}", started)


def check_transactions(bootstrap, suffix, uncommitted_too):
    started = time.monotonic()
    values = consume_all(bootstrap, TXN_TOPIC, TXN_COMMITTED, f"weir-smoke-rc-{suffix}")
    if sorted(values) != sorted(f"committed-{i}" for i in range(TXN_COMMITTED)):
        fail(f"read_committed read {values}, expected the {TXN_COMMITTED} committed records")
    if uncommitted_too:
        values = consume_all(bootstrap, TXN_TOPIC, TXN_COMMITTED + TXN_ABORTED, f"weir-smoke-ru-{suffix}",
                             isolation="read_uncommitted")
        if len(values) != TXN_COMMITTED + TXN_ABORTED:
            fail(f"read_uncommitted read {len(values)} records, expected {TXN_COMMITTED + TXN_ABORTED}")
    step(f"read_committed sees only the {TXN_COMMITTED} committed records", started)


def main():
    args = sys.argv[1:]
    if not args or args[0].startswith("-") or any(a not in ("--verify",) for a in args[1:]):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    bootstrap, verify = args[0], "--verify" in args[1:]
    started = time.monotonic()
    suffix = str(int(time.time() * 1000))
    admin = AdminClient({"bootstrap.servers": bootstrap})
    if verify:
        check_topics(admin)
        step(f"{TOPIC} still has {PARTITIONS} partitions", started)
        check_committed(bootstrap)
        check_consumed(bootstrap, f"{GROUP}-verify-{suffix}", commit=False)
        check_transactions(bootstrap, suffix, uncommitted_too=False)
    else:
        create_topics(admin)
        produce(bootstrap)
        check_consumed(bootstrap, GROUP, commit=True)
        check_committed(bootstrap)
        transactions(bootstrap)
        check_transactions(bootstrap, suffix, uncommitted_too=True)
    print(f"kafka-smoke: all ok against {bootstrap} ({time.monotonic() - started:.2f} s)", flush=True)


if __name__ == "__main__":
    try:
        main()
    except KafkaException as e:
        fail(f"{e}")
