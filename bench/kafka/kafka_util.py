"""Helpers of bench/kafka/run.sh (confluent-kafka's admin client, producer and consumer).

  kafka_util.py create BOOTSTRAP PARTITIONS TOPIC...   create topics (existing ones are kept)
  kafka_util.py delete BOOTSTRAP TOPIC...              delete topics (missing ones ignored;
                                                       a name ending in * is a prefix)
  kafka_util.py seed BOOTSTRAP TOPIC FILE              produce each line of FILE as a value
                                                       (no key); prints seconds and records/s
  kafka_util.py end BOOTSTRAP TOPIC                    records in a topic (its end offsets
                                                       summed: 0 for a missing topic)
  kafka_util.py expect FILE filtermap|count            records the filter lets through:
                                                       python_pipeline.yaml's or count.yaml's
  kafka_util.py verify-counts BOOTSTRAP TOPIC FILE     reads a count output topic (string keys,
                                                       8-byte big-endian longs) and checks each
                                                       key's last count against FILE's
  kafka_util.py wait-end BOOTSTRAP TOPIC N TIMEOUT [PID]
                                                       returns once the topic's end offsets add
                                                       up to N or more (fails after TIMEOUT s, or
                                                       once process PID is gone); prints the
                                                       time (epoch s) the first record was seen
  kafka_util.py internal BOOTSTRAP PREFIX [DATA_DIR [DETAIL]]
                                                       the topics named PREFIX-*: "records bytes
                                                       changelog_bytes", records = end offsets
                                                       summed, bytes = their *.log files in the
                                                       broker's DATA_DIR (- without it);
                                                       with DETAIL (any 5th argument), one line
                                                       per topic: "records bytes topic"
  kafka_util.py change BOOTSTRAP OUT AFFECTED VERSION TOPIC FILE [TOPIC FILE]...
                                                       bench/fk/kafka.sh's class change: produces
                                                       each FILE's {"key", "value"} lines to its
                                                       TOPIC (string keys, JSON values, Kafka's
                                                       murmur2 partitioning), then waits until OUT
                                                       holds a record with delivery version
                                                       VERSION for AFFECTED distinct keys; prints
                                                       the seconds from the first produce
"""

import glob
import json
import os
import re
import struct
import sys
import time
from collections import Counter

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from plain_loop import is_valid  # noqa: E402  (bench/plain_loop.py)


# count.yaml's functions (and StreamsBench.java's): keep the three in step.
def is_settled(value):
    return value["status"] in ("paid", "shipped")


def customer_group(value):
    return value["customer"][:8]


def admin(bootstrap):
    return AdminClient({"bootstrap.servers": bootstrap, "log_level": 4})


def create(bootstrap, partitions, topics):
    a = admin(bootstrap)
    deadline = time.time() + 60
    pending = list(topics)
    while pending:
        futures = a.create_topics([NewTopic(t, int(partitions), 1) for t in pending], operation_timeout=30)
        pending = []
        for t, f in futures.items():
            try:
                f.result()
            except KafkaException as e:
                if e.args[0].code() == 36:  # TOPIC_ALREADY_EXISTS
                    continue
                # A broker just started (or busy) can refuse for a while: retry, bounded.
                if time.time() > deadline:
                    raise
                print(f"creating {t}: {e.args[0]}; retrying", file=sys.stderr)
                pending.append(t)
        if pending:
            time.sleep(0.5)
    # Wait until the metadata shows every partition (the broker creates them asynchronously).
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            md = a.list_topics(timeout=10).topics
        except KafkaException:
            continue
        if all(t in md and len(md[t].partitions) == int(partitions) and md[t].error is None for t in topics):
            return
        time.sleep(0.1)
    raise SystemExit(f"topics {topics} not ready within 30 s")


def delete(bootstrap, topics):
    a = admin(bootstrap)
    names = [t for t in topics if not t.endswith("*")]
    prefixes = [t[:-1] for t in topics if t.endswith("*")]
    if prefixes:
        names += [t for t in a.list_topics(timeout=10).topics if any(t.startswith(p) for p in prefixes)]
    names = sorted(set(names))
    if not names:
        return
    for t, f in a.delete_topics(names, operation_timeout=30).items():
        try:
            f.result()
        except KafkaException as e:
            if e.args[0].code() != 3:  # UNKNOWN_TOPIC_OR_PART
                raise


def retrying(fn, *args, limit=60):
    """fn(*args), tried again on client errors (a timed-out metadata or offsets request on a
    busy machine) for up to `limit` seconds."""
    deadline = time.time() + limit
    while True:
        try:
            return fn(*args)
        except KafkaException as e:
            if time.time() > deadline:
                raise
            print(f"{fn.__name__}: {e.args[0]}; retrying", file=sys.stderr)
            time.sleep(0.5)


def end(bootstrap, topic):
    md = admin(bootstrap).list_topics(topic=None, timeout=10).topics
    if topic not in md:
        return 0
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-end-offsets", "enable.auto.commit": False})
    total = 0
    for p in md[topic].partitions:
        lo, hi = c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
        total += hi
    c.close()
    return total


def seed(bootstrap, topic, path):
    p = Producer({
        "bootstrap.servers": bootstrap,
        "linger.ms": 20,
        "batch.size": 1048576,
        "queue.buffering.max.messages": 1000000,
        "queue.buffering.max.kbytes": 1048576,
    })
    failed = []
    p_ = p.produce
    t0 = time.perf_counter()
    n = 0
    with open(path, "rb") as f:
        for line in f:
            value = line.rstrip(b"\n")
            while True:
                try:
                    p_(topic, value, on_delivery=lambda err, msg: err and failed.append(err))
                    break
                except BufferError:
                    p.poll(0.05)
            n += 1
            if n % 10000 == 0:
                p.poll(0)
    left = p.flush(120)
    took = time.perf_counter() - t0
    if failed or left:
        raise SystemExit(f"seeding {topic}: {len(failed)} failed, {left} not acknowledged")
    print(f"{took:.3f} {n / took:.0f}")


def records(path):
    with open(path, "rb") as f:
        for line in f:
            yield json.loads(line)


def expect(path, workload):
    if workload == "filtermap":
        return sum(1 for v in records(path) if is_valid(None, v))
    if workload == "count":
        return sum(1 for v in records(path) if is_settled(v))
    raise SystemExit(f"unknown workload {workload}")


def verify_counts(bootstrap, topic, path):
    want = Counter(customer_group(v) for v in records(path) if is_settled(v))
    high = retrying(end, bootstrap, topic)
    c = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": f"bench-verify-{os.getpid()}",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "isolation.level": "read_committed",
        "enable.partition.eof": True,
    })
    md = c.list_topics(topic, timeout=10).topics[topic]
    c.assign([TopicPartition(topic, p, 0) for p in md.partitions])
    got, n, eof, malformed = {}, 0, set(), 0
    deadline = time.time() + 120
    while len(eof) < len(md.partitions) and time.time() < deadline:
        for m in c.consume(1000, timeout=1):
            if m.error():
                if m.error().name() == "_PARTITION_EOF":
                    eof.add(m.partition())
                    continue
                raise KafkaException(m.error())
            n += 1
            if m.key() is None or m.value() is None or len(m.value()) != 8:
                malformed += 1
                continue
            got[m.key().decode()] = struct.unpack(">q", m.value())[0]
    c.close()
    bad = [k for k in set(want) | set(got) if want.get(k) != got.get(k)]
    status = "OK" if not bad and not malformed else f"MISMATCH on {len(bad)} keys, e.g. {sorted(bad)[:3]}"
    if malformed:
        status += f", {malformed} records not a string key and an 8-byte long"
    print(f"{status}: {len(got)} keys (want {len(want)}), counts sum {sum(got.values())} "
          f"(want {sum(want.values())}), {n} records read ({high} offsets)")
    return 0 if not bad and not malformed else 1


def wait_end(bootstrap, topic, n, timeout, pid=None):
    deadline = time.time() + float(timeout)
    md = admin(bootstrap).list_topics(topic=topic, timeout=10).topics[topic]
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-end-offsets", "enable.auto.commit": False})
    have, first = 0, None
    while time.time() < deadline:
        have = sum(c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in md.partitions)
        if have and first is None:
            first = time.time()
        if have >= int(n):
            c.close()
            return first
        if pid:
            try:
                os.kill(int(pid), 0)
            except ProcessLookupError:
                raise SystemExit(f"{topic}: {have} records of {n}, and process {pid} has exited")
        time.sleep(0.05)
    raise SystemExit(f"{topic}: {have} records after {timeout} s, not {n}")


def internal(bootstrap, prefix, data_dir=None, detail=None):
    md = admin(bootstrap).list_topics(timeout=10).topics
    topics = sorted(t for t in md if t.startswith(prefix + "-"))
    counts = {t: end(bootstrap, t) for t in topics}

    def size(t):
        if not data_dir:
            return "-"
        # the partitions' dirs are TOPIC-N: no other topic of the prefix is named TOPIC-N
        dirs = [d for d in glob.glob(os.path.join(data_dir, glob.escape(t) + "-*")) if d.rsplit("-", 1)[1].isdigit()]
        return sum(os.path.getsize(f) for d in dirs for f in glob.glob(os.path.join(d, "*.log")))

    sizes = {t: size(t) for t in topics}
    if detail:
        return "\n".join(f"{counts[t]} {sizes[t]} {t}" for t in topics)
    if not data_dir:
        return f"{sum(counts.values())} - -"
    return f"{sum(counts.values())} {sum(sizes.values())} {sum(v for t, v in sizes.items() if t.endswith('-changelog'))}"


def change(bootstrap, out, affected, version, pairs):
    """Produce the files' records (a class change, then replay ids), timed from the first produce
    until `affected` distinct keys of `out` carry the new version."""
    affected, version = int(affected), int(version)
    batches = []
    for topic, path in zip(pairs[0::2], pairs[1::2]):
        with open(path) as f:
            batches.append((topic, [json.loads(line) for line in f if line.strip()]))
    md = admin(bootstrap).list_topics(topic=out, timeout=10).topics[out]
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-change-{os.getpid()}",
                  "enable.auto.commit": False, "fetch.wait.max.ms": 10})
    # from the output's current ends, assigned (no group join): nothing written after is missed
    c.assign([TopicPartition(out, p, c.get_watermark_offsets(TopicPartition(out, p), timeout=10)[1])
              for p in md.partitions])
    c.consume(1, timeout=0.5)  # connected and fetching before the clock starts
    p = Producer({"bootstrap.servers": bootstrap, "partitioner": "murmur2_random", "linger.ms": 5})
    mark = re.compile(rb'"version": ?%d[,}]' % version)
    t0 = time.perf_counter()
    for topic, recs in batches:
        for r in recs:
            p.produce(topic, key=r["key"].encode(), value=json.dumps(r["value"], separators=(",", ":")).encode())
        p.flush(60)
    seen = set()
    deadline = time.time() + 600
    while len(seen) < affected:
        if time.time() > deadline:
            raise SystemExit(f"{out}: {len(seen)} of {affected} items with version {version} after 600 s")
        for m in c.consume(1000, timeout=0.05):
            if m.error():
                raise KafkaException(m.error())
            if m.value() is not None and mark.search(m.value()):
                seen.add(m.key())
    took = time.perf_counter() - t0
    c.close()
    print(f"{took:.3f}")


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "create":
        create(args[0], args[1], args[2:])
    elif cmd == "delete":
        delete(args[0], args[1:])
    elif cmd == "seed":
        seed(*args)
    elif cmd == "end":
        print(retrying(end, *args))
    elif cmd == "expect":
        print(expect(*args))
    elif cmd == "wait-end":
        print(f"{retrying(wait_end, *args):.3f}")
    elif cmd == "internal":
        print(retrying(internal, *args))
    elif cmd == "change":
        change(args[0], args[1], args[2], args[3], args[4:])
    elif cmd == "verify-counts":
        sys.exit(verify_counts(*args))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
