//! `weir topic` on a real Apache Kafka broker (`scripts/kafka.sh`; see `kafka/common.rs`):
//! the same commands and formats as on the embedded log, checked against the embedded log
//! itself and against an external client (confluent-kafka).

#[path = "kafka/common.rs"]
mod common;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{bootstrap, serial, unique};
use serde_json::{Value as Json, json};

/// A fresh directory for one test, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("weir-topic-kafka-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs `weir topic <args>` in `dir` with `stdin` as input.
fn weir(dir: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_weir"))
        .arg("topic")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run weir");
    child.stdin.take().expect("stdin").write_all(stdin.as_bytes()).expect("write stdin");
    child.wait_with_output().expect("wait for weir")
}

/// Runs and expects success; returns stdout.
fn ok(dir: &Path, args: &[&str], stdin: &str) -> String {
    let out = weir(dir, args, stdin);
    assert_eq!(out.status.code(), Some(0), "weir topic {args:?}\nstdout:\n{}\nstderr:\n{}", text(&out.stdout), text(&out.stderr));
    text(&out.stdout)
}

/// `weir topic --bootstrap-server <b> <args>`.
fn kafka(dir: &Path, args: &[&str], stdin: &str) -> String {
    let mut all = vec!["--bootstrap-server", bootstrap()];
    all.extend_from_slice(args);
    ok(dir, &all, stdin)
}

fn json_lines(text: &str) -> Vec<Json> {
    text.lines().filter(|l| !l.trim().is_empty()).map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}"))).collect()
}

/// Records with keys (partitioned by murmur2), explicit partitions, headers, a tombstone, a
/// key-less record, a JSON value and bytes that are not UTF-8.
const LINES: &str = r#"{"key": "alice", "value": {"n": 1}, "timestamp": 1700000000000, "headers": {"source": "test", "trace": "t-1"}}
{"key": "bob", "value": "plain text", "timestamp": 1700000000001}
{"key": "carol", "value": null, "timestamp": 1700000000002}
{"key": "dave", "value": 42, "timestamp": 1700000000003, "partition": 2}
{"key": null, "value": "no key", "timestamp": 1700000000004, "partition": 1}
{"keyHex": "00ff10", "valueHex": "deadbeef", "timestamp": 1700000000005, "partition": 0}
{"key": "erin", "value": "{\"pretty\": true}", "timestamp": 1700000000006, "headers": {"h": "v"}}
{"key": "frank", "value": [1, 2, 3], "timestamp": 1700000000007}
"#;

/// What the external client prints for a key or value: text, `hex:…` for other bytes, null.
fn client_bytes(record: &Json, name: &str) -> Json {
    if let Some(hex) = record.get(format!("{name}Hex")) {
        return json!(format!("hex:{}", hex.as_str().expect("hex")));
    }
    match &record[name] {
        Json::Null => Json::Null,
        Json::String(s) => json!(s),
        other => json!(other.to_string()),
    }
}

#[test]
fn create_list_describe_produce_and_consume_match_the_embedded_log_and_an_external_client() {
    let _serial = serial();
    let dir = TempDir::new("roundtrip");
    let topic = unique("weir-topic");
    let created = kafka(&dir.0, &["create", &topic, "--partitions", "3", "--retention", "forever"], "");
    assert!(created.contains(&format!("created topic '{topic}'")) && created.contains("3 partitions"), "{created}");

    // Created again: an error naming the topic.
    let again = weir(&dir.0, &["--bootstrap-server", bootstrap(), "create", &topic], "");
    assert_eq!(again.status.code(), Some(2));
    assert!(text(&again.stderr).contains(&format!("topic '{topic}' already exists")), "{}", text(&again.stderr));

    let listed = kafka(&dir.0, &["list"], "");
    let row = listed.lines().find(|l| l.starts_with(&format!("{topic} "))).unwrap_or_else(|| panic!("{topic} not listed:\n{listed}"));
    assert_eq!(row.split_whitespace().collect::<Vec<_>>(), [topic.as_str(), "3", "delete", "0", "0"], "{listed}");
    assert!(listed.starts_with("TOPIC"), "{listed}");

    let produced = kafka(&dir.0, &["produce", &topic], LINES);
    assert!(produced.starts_with(&format!("produced 8 records to '{topic}'")), "{produced}");

    // The same lines on the embedded log.
    let storage = dir.0.join("state");
    let storage = storage.to_str().expect("utf-8 path");
    ok(&dir.0, &["--storage", storage, "create", &topic, "--partitions", "3", "--retention", "forever"], "");
    ok(&dir.0, &["--storage", storage, "produce", &topic], LINES);
    let embedded = ok(&dir.0, &["--storage", storage, "consume", &topic, "--from-beginning", "--format", "json"], "");

    let on_kafka = kafka(&dir.0, &["consume", &topic, "--from-beginning", "--format", "json"], "");
    assert_eq!(json_lines(&on_kafka), json_lines(&embedded), "Kafka:\n{on_kafka}\nembedded:\n{embedded}");
    assert_eq!(json_lines(&on_kafka).len(), 8);
    // Text format too.
    let text_kafka = kafka(&dir.0, &["consume", &topic, "--from-beginning"], "");
    let text_embedded = ok(&dir.0, &["--storage", storage, "consume", &topic, "--from-beginning"], "");
    assert_eq!(text_kafka, text_embedded);
    // --partition and --max.
    let p2 = kafka(&dir.0, &["consume", &topic, "--from-beginning", "--partition", "2", "--max", "1", "--format", "json"], "");
    let expected: Vec<Json> = json_lines(&embedded).into_iter().filter(|r| r["partition"] == 2).take(1).collect();
    assert_eq!(json_lines(&p2), expected);

    // The external client reads the same bytes the embedded log stores.
    let external = common::consume(bootstrap(), &topic, 8, Duration::from_secs(5), "read_uncommitted");
    let mut external: Vec<Json> = external
        .into_iter()
        .map(|r| json!({"partition": r["partition"], "offset": r["offset"], "timestamp": r["timestamp"], "key": r["key"], "value": r["value"]}))
        .collect();
    let mut expected: Vec<Json> = json_lines(&embedded)
        .iter()
        .map(|r| {
            json!({"partition": r["partition"], "offset": r["offset"], "timestamp": r["timestamp"],
                   "key": client_bytes(r, "key"), "value": client_bytes(r, "value")})
        })
        .collect();
    let order = |r: &Json| (r["partition"].as_u64(), r["offset"].as_u64());
    external.sort_by_key(order);
    expected.sort_by_key(order);
    assert_eq!(external, expected);

    let described = kafka(&dir.0, &["describe", &topic], "");
    assert!(described.contains("cleanup.policy       delete"), "{described}");
    // Kept forever: the records' timestamps are from 2023, which a finite retention would delete.
    assert!(described.contains("retention.ms         -1 (forever)"), "{described}");
    assert!(described.contains("PARTITION  START  END  RECORDS  SEGMENTS  BYTES"), "{described}");
    let ends: u64 = described
        .lines()
        .skip_while(|l| !l.starts_with("PARTITION"))
        .skip(1)
        .take(3)
        .map(|l| {
            let cells: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(&cells[3..], ["-", "-", "-"], "{described}");
            cells[2].parse::<u64>().expect("end")
        })
        .sum();
    assert_eq!(ends, 8, "{described}");

    let listed = kafka(&dir.0, &["list"], "");
    let row = listed.lines().find(|l| l.starts_with(&format!("{topic} "))).expect("listed");
    assert_eq!(row.split_whitespace().collect::<Vec<_>>(), [topic.as_str(), "3", "delete", "0", "8"], "{listed}");

    // Compacted topics: a record without key is refused, naming the line.
    let compacted = unique("weir-topic-compact");
    let created = kafka(&dir.0, &["create", &compacted, "--compact", "--retention", "7d"], "");
    assert!(created.contains("cleanup.policy=compact,delete"), "{created}");
    let refused = weir(&dir.0, &["--bootstrap-server", bootstrap(), "produce", &compacted], "{\"value\": \"v\"}\n");
    assert_eq!(refused.status.code(), Some(2));
    assert!(text(&refused.stderr).contains("line 1 of stdin: record without key for compacted topic"), "{}", text(&refused.stderr));
    let described = kafka(&dir.0, &["describe", &compacted], "");
    assert!(described.contains("cleanup.policy       compact,delete"), "{described}");
    assert!(described.contains("retention.ms         604800000 (7d)"), "{described}");
}

#[test]
fn records_of_an_external_producer_are_consumed() {
    let _serial = serial();
    let dir = TempDir::new("external");
    let topic = unique("weir-topic-ext");
    // Kept forever: the records' timestamps are from 2023, which the default retention would delete.
    kafka(&dir.0, &["create", &topic, "--partitions", "2", "--retention", "forever"], "");
    let records = [
        json!({"key": "a", "value": "{\"x\":1}", "partition": 0, "timestamp": 1_700_000_000_000u64}),
        json!({"key": "b", "value": "hello", "partition": 1, "timestamp": 1_700_000_000_001u64}),
        json!({"key": "c", "value": "again", "partition": 0, "timestamp": 1_700_000_000_002u64}),
    ];
    common::produce(bootstrap(), &topic, &records);
    let out = kafka(&dir.0, &["consume", &topic, "--from-beginning", "--format", "json"], "");
    let got: Vec<Json> = json_lines(&out)
        .into_iter()
        .map(|r| json!({"partition": r["partition"], "offset": r["offset"], "timestamp": r["timestamp"], "key": r["key"], "value": r["value"], "headers": r["headers"]}))
        .collect();
    assert_eq!(
        got,
        [
            json!({"partition": 0, "offset": 0, "timestamp": 1_700_000_000_000u64, "key": "a", "value": {"x": 1}, "headers": {}}),
            json!({"partition": 0, "offset": 1, "timestamp": 1_700_000_000_002u64, "key": "c", "value": "again", "headers": {}}),
            json!({"partition": 1, "offset": 0, "timestamp": 1_700_000_000_001u64, "key": "b", "value": "hello", "headers": {}}),
        ]
    );
    let text_out = kafka(&dir.0, &["consume", &topic, "--from-beginning", "--partition", "1"], "");
    assert_eq!(text_out, "p1@0 2023-11-14T22:13:20.001Z key=b value=hello headers={}\n");

    // From the end without --follow: nothing, and a note that says why.
    let out = weir(&dir.0, &["--bootstrap-server", bootstrap(), "consume", &topic], "");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stdout), "");
    assert!(text(&out.stderr).contains("add --from-beginning"), "{}", text(&out.stderr));
}

#[test]
fn follow_prints_records_produced_while_it_waits() {
    let _serial = serial();
    let dir = TempDir::new("follow");
    let topic = unique("weir-topic-follow");
    kafka(&dir.0, &["create", &topic, "--partitions", "2"], "");
    let child = Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(["topic", "--bootstrap-server", bootstrap(), "consume", &topic, "--follow", "--max", "2", "--format", "json"])
        .current_dir(&dir.0)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run weir");
    // Give the consumer time to see the (empty) ends before producing.
    std::thread::sleep(Duration::from_secs(3));
    kafka(&dir.0, &["produce", &topic], "{\"key\": \"k\", \"value\": \"v1\", \"partition\": 1}\n{\"value\": \"v2\", \"partition\": 0}\n");
    let started = Instant::now();
    let out = child.wait_with_output().expect("wait");
    assert!(started.elapsed() < Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let mut values: Vec<String> = json_lines(&text(&out.stdout)).iter().map(|r| r["value"].as_str().expect("value").to_string()).collect();
    values.sort();
    assert_eq!(values, ["v1", "v2"]);
}

#[test]
fn a_runner_config_gives_its_client_properties_with_bootstrap_server_and_alone_keeps_the_embedded_log() {
    let _serial = serial();
    let dir = TempDir::new("config");
    let topic = unique("weir-topic-config");
    let config = dir.0.join("ksml-runner.yaml");
    std::fs::write(dir.0.join("app.yaml"), "streams:\n  s:\n    topic: t\n    keyType: string\n    valueType: string\n")
        .expect("write app");
    std::fs::write(
        &config,
        "ksml:\n  storageDirectory: state\n  createStorageDirectory: true\n  definitions:\n    app: app.yaml\nkafka:\n  bootstrap.servers: unused:9092\n  application.id: topic-test\n  client.id: weir-topic-test\n",
    )
    .expect("write config");
    let config = config.to_str().expect("utf-8 path");
    // With --bootstrap-server: Kafka, the config's client properties passed along.
    ok(&dir.0, &["--bootstrap-server", bootstrap(), "--config", config, "create", &topic], "");
    let listed = kafka(&dir.0, &["list"], "");
    assert!(listed.lines().any(|l| l.starts_with(&format!("{topic} "))), "{listed}");
    // Alone: the embedded log, whatever its kafka section says.
    ok(&dir.0, &["--config", config, "--storage", "state", "create", &topic], "");
    assert!(dir.0.join("state").join("topics").join(&topic).exists(), "created on the embedded log");
}

#[test]
fn unknown_topics_and_unreachable_brokers_are_clear_errors() {
    let _serial = serial();
    let dir = TempDir::new("errors");
    let missing = unique("no-such-topic");
    let out = weir(&dir.0, &["--bootstrap-server", bootstrap(), "consume", &missing, "--from-beginning"], "");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains(&format!("unknown topic '{missing}' on Kafka at {}", bootstrap())), "{}", text(&out.stderr));
    let out = weir(&dir.0, &["--bootstrap-server", bootstrap(), "describe", &missing], "");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains(&format!("unknown topic '{missing}'")), "{}", text(&out.stderr));

    let started = Instant::now();
    let out = weir(&dir.0, &["--bootstrap-server", "127.0.0.1:1", "list"], "");
    assert!(started.elapsed() < Duration::from_secs(40), "took {:?}", started.elapsed());
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("cannot reach Kafka at 127.0.0.1:1"), "{}", text(&out.stderr));
}
