"""An external Kafka client for Weir's Kafka tests: confluent-kafka (librdkafka), as a KSML
user's other services would produce to and consume from the topics Weir works on.

  client.py create  BOOTSTRAP TOPIC PARTITIONS
  client.py produce BOOTSTRAP TOPIC            JSON lines on stdin: {"key", "value", "partition"?,
                                               "timestamp"?, "raw"?}; key/value are text (UTF-8),
                                               or hex bytes when "raw" is true; prints the count
  client.py consume BOOTSTRAP TOPIC COUNT TIMEOUT_S [read_committed]
                                               reads from the start (no group) until COUNT records
                                               or TIMEOUT_S seconds without a new one; prints
                                               JSON lines {"partition","offset","timestamp","key","value"}
                                               (text, or "hex:..." when not UTF-8)
  client.py watermarks BOOTSTRAP TOPIC         prints JSON lines {"partition", "low", "high"}
"""

import json
import sys
import time

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic


def create(bootstrap, topic, partitions):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(topic, num_partitions=int(partitions), replication_factor=1)])
    for f in futures.values():
        f.result(timeout=30)
    print(topic)


def produce(bootstrap, topic):
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True, "linger.ms": 5})
    errors = []

    def delivered(err, _msg):
        if err is not None:
            errors.append(str(err))

    n = 0
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        r = json.loads(line)
        raw = r.get("raw", False)

        def enc(v):
            if v is None:
                return None
            return bytes.fromhex(v) if raw else v.encode("utf-8")

        kwargs = {"key": enc(r.get("key")), "value": enc(r.get("value")), "on_delivery": delivered}
        if "partition" in r:
            kwargs["partition"] = r["partition"]
        if "timestamp" in r:
            kwargs["timestamp"] = r["timestamp"]
        while True:
            try:
                producer.produce(topic, **kwargs)
                break
            except BufferError:
                producer.poll(0.1)
        producer.poll(0)
        n += 1
    left = producer.flush(60)
    if left or errors:
        sys.exit(f"produce to {topic}: {left} not delivered, errors: {errors[:3]}")
    print(n)


def text(b):
    if b is None:
        return None
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        return "hex:" + b.hex()


def consume(bootstrap, topic, count, timeout_s, isolation="read_uncommitted"):
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"weir-test-reader-{time.time_ns()}",
            "enable.auto.commit": False,
            "isolation.level": isolation,
            "auto.offset.reset": "earliest",
        }
    )
    meta = consumer.list_topics(topic, timeout=30)
    if topic not in meta.topics or meta.topics[topic].error is not None:
        sys.exit(f"unknown topic {topic}")
    parts = [TopicPartition(topic, p, 0) for p in meta.topics[topic].partitions]
    consumer.assign(parts)
    out = []
    last = time.monotonic()
    while len(out) < int(count) and time.monotonic() - last < float(timeout_s):
        msg = consumer.poll(0.2)
        if msg is None:
            continue
        if msg.error():
            if msg.error().code() == -191:  # partition EOF
                continue
            raise KafkaException(msg.error())
        last = time.monotonic()
        out.append(
            {
                "partition": msg.partition(),
                "offset": msg.offset(),
                "timestamp": msg.timestamp()[1],
                "key": text(msg.key()),
                "value": text(msg.value()),
            }
        )
    consumer.close()
    for r in out:
        print(json.dumps(r))


def watermarks(bootstrap, topic):
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"weir-test-watermarks-{time.time_ns()}"})
    meta = consumer.list_topics(topic, timeout=30)
    if topic not in meta.topics or meta.topics[topic].error is not None:
        sys.exit(f"unknown topic {topic}")
    for p in sorted(meta.topics[topic].partitions):
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=30, cached=False)
        print(json.dumps({"partition": p, "low": low, "high": high}))
    consumer.close()


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {"create": create, "produce": produce, "consume": consume, "watermarks": watermarks}[cmd](*args)
