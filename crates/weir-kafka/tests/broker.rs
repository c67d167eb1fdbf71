//! The broker port on a real Kafka broker: topics, records, offsets, positions.

mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use support::{broker, config, now_ms, unique};
use weir_engine::broker::{Broker, CleanupPolicy, ErrorKind, NewRecord, StoredRecord, TopicSpec};
use weir_kafka::{KafkaBroker, KafkaConfig};

fn read_all(broker: &KafkaBroker, topic: &str, partition: u32, from: u64) -> Vec<StoredRecord> {
    let end = broker.end_offset(topic, partition).expect("end");
    let mut out = Vec::new();
    let mut at = from;
    while at < end {
        let batch = broker.read(topic, partition, at, 1 << 20).expect("read");
        let Some(last) = batch.last() else { break };
        at = last.offset + 1;
        out.extend(batch);
    }
    out
}

#[test]
fn topics_are_created_with_their_spec() {
    let broker = broker();
    let compacted = unique("compacted");
    let spec = TopicSpec { partitions: 3, cleanup: CleanupPolicy::Compact, retention_ms: None, min_compaction_lag_ms: Some(90_000) };
    assert_eq!(broker.ensure_topic_with(&compacted, &spec).expect("create"), 3);
    // Existing: left as it is, whatever the spec asked.
    assert_eq!(broker.ensure_topic(&compacted, 8).expect("existing"), 3);
    let configs: HashMap<String, String> = broker.topic_configs(&compacted).expect("describe").into_iter().collect();
    assert_eq!(configs.get("cleanup.policy").map(String::as_str), Some("compact"));
    assert_eq!(configs.get("retention.ms").map(String::as_str), Some("-1"));
    assert_eq!(configs.get("min.compaction.lag.ms").map(String::as_str), Some("90000"));
    assert_eq!(configs.get("message.timestamp.type").map(String::as_str), Some("CreateTime"));

    let windowed = unique("windowed");
    let spec =
        TopicSpec { partitions: 2, cleanup: CleanupPolicy::CompactDelete, retention_ms: Some(3_600_000), min_compaction_lag_ms: None };
    assert_eq!(broker.ensure_topic_with(&windowed, &spec).expect("create"), 2);
    let configs: HashMap<String, String> = broker.topic_configs(&windowed).expect("describe").into_iter().collect();
    assert_eq!(configs.get("cleanup.policy").map(String::as_str), Some("compact,delete"));
    assert_eq!(configs.get("retention.ms").map(String::as_str), Some("3600000"));

    // Default spec: delete, 7 days.
    let plain = unique("plain");
    assert_eq!(broker.ensure_topic(&plain, 1).expect("create"), 1);
    let configs: HashMap<String, String> = broker.topic_configs(&plain).expect("describe").into_iter().collect();
    assert_eq!(configs.get("cleanup.policy").map(String::as_str), Some("delete"));
    assert_eq!(configs.get("retention.ms").map(String::as_str), Some("604800000"));
}

#[test]
fn invalid_topics_are_refused_with_the_name() {
    let broker = broker();
    let error = broker.ensure_topic("bad name with spaces", 1).expect_err("invalid name");
    assert_eq!(error.kind, ErrorKind::InvalidTopic, "{error}");
    assert!(error.to_string().contains("bad name with spaces"), "{error}");
}

#[test]
fn records_round_trip_with_keys_tombstones_headers_and_timestamps() {
    let broker = broker();
    let topic = unique("roundtrip");
    broker.ensure_topic(&topic, 2).expect("create");
    let t0 = now_ms() - 60_000;
    let records = vec![
        NewRecord::new(t0, Some(b"k1"), Some(b"v1")),
        NewRecord { timestamp: t0 + 1, key: Some(b"k2".to_vec()), value: None, headers: vec![] },
        NewRecord {
            timestamp: t0 + 2,
            key: None,
            value: Some(b"no key".to_vec()),
            headers: vec![("h".to_string(), b"1".to_vec()), ("h".to_string(), b"2".to_vec()), ("empty".to_string(), Vec::new())],
        },
        NewRecord::new(t0 - 5_000, Some(b""), Some(b"")),
    ];
    broker.append(&topic, 1, &records).expect("append");
    broker.sync().expect("sync");
    assert_eq!(broker.end_offset(&topic, 1).expect("end"), 4);
    assert_eq!(broker.end_offset(&topic, 0).expect("end"), 0);
    let expected: Vec<StoredRecord> = records.iter().enumerate().map(|(i, r)| r.at_offset(i as u64)).collect();
    assert_eq!(read_all(&broker, &topic, 1, 0), expected);
    // From the middle, and again from the start (a seek back).
    assert_eq!(broker.read(&topic, 1, 2, 1 << 20).expect("read"), expected[2..].to_vec());
    assert_eq!(broker.read(&topic, 1, 0, 1).expect("read one"), expected[..1].to_vec(), "max_bytes: at least one record");
    assert_eq!(broker.read(&topic, 1, 1, 1 << 20).expect("read on"), expected[1..].to_vec());
    // At and past the end: nothing, at once.
    let started = Instant::now();
    assert!(broker.read(&topic, 1, 4, 1 << 20).expect("at end").is_empty());
    assert!(broker.read(&topic, 1, 99, 1 << 20).expect("past end").is_empty());
    assert!(broker.read(&topic, 0, 0, 1 << 20).expect("empty partition").is_empty());
    assert!(started.elapsed() < Duration::from_secs(3), "reads at the end took {:?}", started.elapsed());
    // More records after the end was seen are read by the same reader.
    broker.append(&topic, 1, &[NewRecord::new(t0 + 10, Some(b"k5"), Some(b"v5"))]).expect("append");
    broker.sync().expect("sync");
    assert_eq!(broker.read(&topic, 1, 4, 1 << 20).expect("read new"), vec![NewRecord::new(t0 + 10, Some(b"k5"), Some(b"v5")).at_offset(4)]);
    assert_eq!(broker.start_offset(&topic, 1).expect("start"), 0);
}

#[test]
fn reads_below_the_start_read_from_the_start() {
    let broker = broker();
    let topic = unique("truncated");
    broker.ensure_topic(&topic, 1).expect("create");
    let records: Vec<NewRecord> = (0..10).map(|i| NewRecord::new(now_ms(), Some(format!("k{i}").as_bytes()), Some(b"v"))).collect();
    broker.append(&topic, 0, &records).expect("append");
    broker.sync().expect("sync");
    support::delete_records(&topic, 0, 6);
    assert_eq!(broker.start_offset(&topic, 0).expect("start"), 6);
    let read = read_all(&broker, &topic, 0, 0);
    assert_eq!(read.iter().map(|r| r.offset).collect::<Vec<_>>(), vec![6, 7, 8, 9]);
    assert_eq!(read[0].key.as_deref(), Some(&b"k6"[..]));
}

#[test]
fn unknown_topics_and_partitions_are_errors_naming_them() {
    let broker = broker();
    let missing = unique("missing");
    let error = broker.end_offset(&missing, 0).expect_err("unknown topic");
    assert!(matches!(error.kind, ErrorKind::UnknownTopic | ErrorKind::PartitionOutOfRange), "{error:?}");
    assert!(error.to_string().contains(&missing), "{error}");
    let error = broker.read(&missing, 0, 0, 100).expect_err("unknown topic");
    assert!(error.to_string().contains(&missing), "{error}");
    let topic = unique("two");
    broker.ensure_topic(&topic, 2).expect("create");
    let error = broker.end_offset(&topic, 5).expect_err("no partition 5");
    assert!(error.to_string().contains(&format!("{topic}/5")), "{error}");
}

#[test]
fn a_failed_delivery_is_reported_by_sync_naming_the_partition() {
    let broker = broker();
    let topic = unique("small");
    broker.ensure_topic(&topic, 1).expect("create");
    support::set_topic_config(&topic, "max.message.bytes", "2000");
    let big = vec![b'x'; 10_000];
    broker.append(&topic, 0, &[NewRecord::new(now_ms(), None, Some(&big))]).expect("append is asynchronous");
    let error = broker.sync().expect_err("too large");
    assert_eq!(error.kind, ErrorKind::InvalidRecord, "{error:?}");
    assert!(error.to_string().contains(&format!("{topic}/0")), "{error}");
    // Reported once; the next records go through.
    broker.append(&topic, 0, &[NewRecord::new(now_ms(), None, Some(b"small"))]).expect("append");
    broker.sync().expect("sync after the failure was reported");
}

#[test]
fn wait_for_waits_for_an_offset() {
    let broker = std::sync::Arc::new(broker());
    let topic = unique("wait");
    broker.ensure_topic(&topic, 1).expect("create");
    assert!(!broker.wait_for(&topic, 0, 0, Duration::from_millis(200)).expect("nothing yet"));
    let writer = {
        let (broker, topic) = (std::sync::Arc::clone(&broker), topic.clone());
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            broker
                .append(&topic, 0, &[NewRecord::new(now_ms(), None, Some(b"a")), NewRecord::new(now_ms(), None, Some(b"b"))])
                .expect("append");
            broker.sync().expect("sync");
        })
    };
    let started = Instant::now();
    assert!(broker.wait_for(&topic, 0, 1, Duration::from_secs(20)).expect("wait"));
    assert!(started.elapsed() >= Duration::from_millis(250));
    writer.join().expect("writer");
    assert!(broker.wait_for(&topic, 0, 1, Duration::ZERO).expect("there"));
    assert!(!broker.wait_for(&topic, 0, 2, Duration::from_millis(100)).expect("not there"));
}

#[test]
fn positions_are_committed_per_group() {
    let broker = broker();
    let topic = unique("positions");
    broker.ensure_topic(&topic, 2).expect("create");
    let (group, other) = (unique("group"), unique("other"));
    assert_eq!(broker.committed(&group, &topic, 0).expect("none yet"), None);
    broker.commit(&group, &[(&topic, 0, 5), (&topic, 1, 7)]).expect("commit");
    assert_eq!(broker.committed(&group, &topic, 0).expect("committed"), Some(5));
    assert_eq!(broker.committed(&group, &topic, 1).expect("committed"), Some(7));
    assert_eq!(broker.committed(&other, &topic, 0).expect("other group"), None);
    broker.commit(&group, &[(&topic, 0, 9)]).expect("commit again");
    assert_eq!(broker.committed(&group, &topic, 0).expect("committed"), Some(9));
    // Seen by another client of the cluster.
    let again = support::broker();
    assert_eq!(again.committed(&group, &topic, 1).expect("committed"), Some(7));
}

#[test]
fn an_unreachable_broker_fails_within_the_deadline() {
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let mut config = KafkaConfig::new(format!("127.0.0.1:{port}"));
    config.connect_timeout = Duration::from_secs(4);
    let started = Instant::now();
    let error = KafkaBroker::connect(config).err().expect("unreachable");
    let took = started.elapsed();
    assert_eq!(error.kind, ErrorKind::Unavailable, "{error:?}");
    assert!(error.to_string().contains(&format!("127.0.0.1:{port}")), "{error}");
    assert!(took >= Duration::from_secs(4) && took < Duration::from_secs(10), "took {took:?}");
}

#[test]
fn bad_client_properties_are_refused_at_connect() {
    let bad = config().with_properties([("linger.ms", "not a number")]).expect("config");
    let error = KafkaBroker::connect(bad).err().expect("bad property");
    assert!(error.to_string().contains("linger.ms"), "{error}");
    let streams = config().with_properties([("application.id", "x"), ("default.key.serde", "y")]).expect("config");
    let broker = KafkaBroker::connect(streams).expect("streams keys are dropped, not refused");
    let dropped: Vec<&str> = broker.dropped_properties().iter().map(|d| d.key.as_str()).collect();
    assert_eq!(dropped, ["application.id", "default.key.serde"]);
    assert_eq!(broker.describe(), format!("Kafka at {}", support::bootstrap()));
}

/// Reads a partition as a changelog restore does (store/mod.rs): `while at < end`, stopping
/// at an empty read.
fn restore(broker: &KafkaBroker, topic: &str) -> Vec<u64> {
    let end = broker.end_offset(topic, 0).expect("end");
    let mut at = 0;
    let mut seen = Vec::new();
    while at < end {
        let batch = broker.read(topic, 0, at, 1 << 20).expect("read");
        let Some(last) = batch.last() else { break };
        seen.extend(batch.iter().map(|r| r.offset));
        at = last.offset + 1;
    }
    seen
}

#[test]
fn a_restore_ends_when_the_rest_of_a_partition_is_transaction_markers() {
    let topic = unique("transactional");
    let plain = broker();
    plain.ensure_topic(&topic, 1).expect("create");
    // Offsets 0..3 committed, 3 a commit marker; 4 aborted, 5 an abort marker.
    support::write_transactions(&topic, &[(3, true), (1, false)]);
    // The coordinator writes the markers after the producer's call returns: wait for them.
    let waiting = Instant::now();
    while plain.end_offset(&topic, 0).expect("end") < 6 && waiting.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(plain.end_offset(&topic, 0).expect("end"), 6);

    let started = Instant::now();
    assert_eq!(restore(&plain, &topic), vec![0, 1, 2, 4], "read_uncommitted sees the aborted record");
    let mut committed = config();
    committed.read_committed = true;
    let committed = KafkaBroker::connect(committed).expect("connect");
    // The last stable offset: everything is decided.
    assert_eq!(committed.end_offset(&topic, 0).expect("end"), 6);
    assert_eq!(restore(&committed, &topic), vec![0, 1, 2], "read_committed skips the aborted record");
    // Reading again where the records ended, as a restore's last read does: nothing, quickly.
    assert!(committed.read(&topic, 0, 3, 1 << 20).expect("read").is_empty());
    assert!(plain.read(&topic, 0, 5, 1 << 20).expect("read").is_empty());
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
}

#[test]
fn a_full_producer_queue_waits_for_deliveries_instead_of_failing() {
    let config = config().with_properties([("producer.queue.buffering.max.messages", "10")]).expect("config");
    let broker = KafkaBroker::connect(config).expect("connect");
    let topic = unique("backpressure");
    broker.ensure_topic(&topic, 1).expect("create");
    let records: Vec<NewRecord> = (0..2000).map(|i| NewRecord::new(now_ms(), Some(format!("k{i}").as_bytes()), Some(b"v"))).collect();
    broker.append(&topic, 0, &records).expect("append waits while the queue is full");
    broker.sync().expect("sync");
    assert_eq!(broker.end_offset(&topic, 0).expect("end"), 2000);
    assert_eq!(read_all(&broker, &topic, 0, 0).len(), 2000);
}

#[test]
fn a_thread_reads_several_partitions_in_turn() {
    // As a stream thread fills its tasks' inputs: one batch of each partition in turn.
    let broker = broker();
    let topic = unique("interleaved");
    broker.ensure_topic(&topic, 3).expect("create");
    for p in 0..3u32 {
        let records: Vec<NewRecord> =
            (0..3000).map(|i| NewRecord::new(now_ms(), Some(format!("p{p}-{i}").as_bytes()), Some(&[b'x'; 50][..]))).collect();
        broker.append(&topic, p, &records).expect("append");
    }
    broker.sync().expect("sync");
    let mut next = [0u64; 3];
    let mut keys: Vec<Vec<String>> = vec![Vec::new(); 3];
    let deadline = Instant::now() + Duration::from_secs(60);
    while next.iter().any(|n| *n < 3000) {
        assert!(Instant::now() < deadline, "stuck at {next:?}");
        for p in 0..3u32 {
            let batch = broker.read(&topic, p, next[p as usize], 4096).expect("read");
            if let Some(last) = batch.last() {
                assert_eq!(batch[0].offset, next[p as usize], "a batch starts where the last ended");
                next[p as usize] = last.offset + 1;
            }
            keys[p as usize].extend(batch.into_iter().map(|r| String::from_utf8(r.key.unwrap_or_default()).expect("utf-8")));
        }
    }
    for (p, keys) in keys.iter().enumerate() {
        let expected: Vec<String> = (0..3000).map(|i| format!("p{p}-{i}")).collect();
        assert_eq!(keys, &expected, "partition {p}");
    }
}

#[test]
fn records_synced_before_a_read_are_read_even_after_an_earlier_end() {
    // The reader has an end-of-partition event queued from before the append (the last reads
    // took one record each and left it there): the read must not take it for the end.
    let broker = broker();
    let topic = unique("stale-end");
    broker.ensure_topic(&topic, 1).expect("create");
    let record = |i: usize| NewRecord::new(now_ms(), Some(format!("k{i}").as_bytes()), Some(b"v"));
    broker.append(&topic, 0, &(0..3).map(record).collect::<Vec<_>>()).expect("append");
    broker.sync().expect("sync");
    for at in 0..3 {
        let one = broker.read(&topic, 0, at, 1).expect("read one");
        assert_eq!(one.iter().map(|r| r.offset).collect::<Vec<_>>(), vec![at]);
    }
    // Let the end event arrive behind the third record.
    std::thread::sleep(Duration::from_millis(500));
    broker.append(&topic, 0, &(3..5).map(record).collect::<Vec<_>>()).expect("append");
    broker.sync().expect("sync");
    let read = broker.read(&topic, 0, 3, 1 << 20).expect("read");
    assert_eq!(read.iter().map(|r| r.offset).collect::<Vec<_>>(), vec![3, 4]);
    assert!(broker.read(&topic, 0, 5, 1 << 20).expect("at end").is_empty());
}

#[test]
fn read_committed_stops_at_an_open_transaction_and_reads_it_once_committed() {
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
    let topic = unique("open-transaction");
    let plain = broker();
    plain.ensure_topic(&topic, 1).expect("create");
    plain.append(&topic, 0, &[NewRecord::new(now_ms(), Some(b"before"), Some(b"v"))]).expect("append");
    plain.sync().expect("sync");
    let producer: BaseProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", support::bootstrap())
        .set("transactional.id", unique("open"))
        .create()
        .expect("transactional producer");
    producer.init_transactions(Duration::from_secs(30)).expect("init");
    producer.begin_transaction().expect("begin");
    for key in ["t1", "t2"] {
        producer.send(BaseRecord::<str, str>::to(&topic).partition(0).key(key).payload("v")).map_err(|(e, _)| e).expect("send");
    }
    producer.flush(Duration::from_secs(30)).expect("flush");

    let mut committed = config();
    committed.read_committed = true;
    let committed = KafkaBroker::connect(committed).expect("connect");
    assert_eq!(committed.end_offset(&topic, 0).expect("last stable offset"), 1);
    assert_eq!(plain.end_offset(&topic, 0).expect("high watermark"), 3);
    let started = Instant::now();
    assert_eq!(restore(&committed, &topic), vec![0]);
    assert!(committed.read(&topic, 0, 1, 1 << 20).expect("at the open transaction").is_empty());
    assert!(!committed.wait_for(&topic, 0, 1, Duration::from_millis(300)).expect("not stable yet"));
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());

    producer.commit_transaction(Duration::from_secs(30)).expect("commit");
    assert!(committed.wait_for(&topic, 0, 2, Duration::from_secs(10)).expect("stable"));
    let keys: Vec<Vec<u8>> = committed.read(&topic, 0, 1, 1 << 20).expect("read").into_iter().filter_map(|r| r.key).collect();
    assert_eq!(keys, vec![b"t1".to_vec(), b"t2".to_vec()]);
}
