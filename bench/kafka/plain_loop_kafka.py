"""The baseline for the Python benchmark on Kafka: what a user writes without Weir.

Usage: python3 plain_loop_kafka.py BOOTSTRAP INPUT OUTPUT EXPECTED [GROUP]

A plain confluent-kafka consume -> produce loop: a consumer in a group (GROUP, else a fresh
one) reads INPUT from the earliest offset, in batches (`consume(500)`), and for each record:
json.loads, the predicate, the transformer, json.dumps, produce to OUTPUT (the key and the
timestamp kept, the partition left to the default partitioner, as a `to` does). The two
functions are bench/plain_loop.py's (imported: the same code as bench/python_pipeline.yaml's,
called the way Weir calls them). Offsets are committed every COMMIT_INTERVAL_MS (default
30000, Kafka Streams' default under at_least_once) after a flush, and at the end, after the
final flush (at least once). Stops after EXPECTED input records.

Prints one line: records, seconds, records/s, records written (acknowledged), timed from the
first record consumed to the last acknowledgement (the interpreter's start, the clients'
start and the group join are left out).
"""

import json
import os
import sys
import time

from confluent_kafka import Consumer, KafkaException, Producer

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from plain_loop import enrich, is_valid  # noqa: E402  (bench/plain_loop.py)


def main():
    bootstrap, source, target, expected = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    group = sys.argv[5] if len(sys.argv) > 5 else f"plain-loop-kafka-{os.getpid()}-{time.time_ns()}"
    commit_every = int(os.environ.get("COMMIT_INTERVAL_MS", "30000")) / 1000
    idle_limit = float(os.environ.get("IDLE_TIMEOUT_S", "30"))
    failed = []

    def on_error(err, msg):  # called for failed deliveries only (delivery.report.only.error)
        failed.append(err)

    consumer = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
    })
    # librdkafka's defaults otherwise (acks=all, linger.ms=5, no compression).
    producer = Producer({
        "bootstrap.servers": bootstrap,
        "delivery.report.only.error": True,
        "on_delivery": on_error,
    })
    consumer.subscribe([source])

    n = written = 0
    start = None
    last_commit = last_record = time.perf_counter()
    produce = producer.produce
    while n < expected:
        batch = consumer.consume(num_messages=min(500, expected - n), timeout=0.1)
        if not batch:
            producer.poll(0)
            if time.perf_counter() - last_record > idle_limit:
                print(f"no record for {idle_limit} s: stopping at {n} of {expected}", file=sys.stderr)
                break
            continue
        if start is None:
            start = time.perf_counter()
        last_record = time.perf_counter()
        for msg in batch:
            if msg.error():
                raise KafkaException(msg.error())
            n += 1
            value = json.loads(msg.value())
            if is_valid(msg.key(), value):
                out = json.dumps(enrich(msg.key(), value)).encode()
                ts = msg.timestamp()[1]
                while True:
                    try:
                        produce(target, out, msg.key(), timestamp=ts)
                        break
                    except BufferError:  # the local queue is full: serve deliveries, retry
                        producer.poll(0.01)
                written += 1
        producer.poll(0)
        if last_record - last_commit >= commit_every:
            producer.flush()
            consumer.commit(asynchronous=True)
            last_commit = time.perf_counter()
    remaining = producer.flush(60)
    took = time.perf_counter() - start if start is not None else 0.0
    if n:
        consumer.commit(asynchronous=False)
    consumer.close()
    acked = written - len(failed) - remaining
    if failed or remaining:
        print(f"{len(failed)} deliveries failed, {remaining} not acknowledged", file=sys.stderr)
    print(f"{n} {took:.3f} {n / took if took else 0:.0f} {acked}")
    sys.exit(0 if n == expected else 1)


if __name__ == "__main__":
    main()
