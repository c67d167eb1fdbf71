//! `weir run` on a real Apache Kafka broker (`scripts/kafka.sh`; see `kafka/common.rs`),
//! end to end with the built binary and an external client (confluent-kafka):
//!
//! - records produced by another client are processed and read back by another client;
//! - several processes of one application share a 4-partition input; one killed with SIGKILL
//!   mid-stream, the others take over its tasks, and the output holds every input;
//! - a count store is rebuilt from its changelog by a new process, and counting continues;
//! - the broker stops and restarts mid-stream, and nothing is lost;
//! - the same definitions give the same outputs on the embedded log and on Kafka;
//! - what was consumed and committed of a repartition topic is deleted from it (purged).

#[path = "kafka/common.rs"]
mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::Duration;

use common::{
    App, COPY, COUNT, COUNT_BY_VALUE, assert_ok, bootstrap, consume, consume_until, create_topic, definition, ids, interrupt, last_counts,
    produce, serial, unique, value_of, wait, watermarks,
};
use serde_json::{Value as Json, json};

/// The records' timestamps start an hour ago: recent enough that the broker's retention
/// (7 days) never deletes them mid-test, and the same on both backends.
fn base_time() -> u64 {
    static BASE: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *BASE.get_or_init(|| {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
        now - 3_600_000
    })
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Orders with ids `from..to`: key `c<id % 7>`, value `{"id", "amount"}`, spread over
/// `partitions` by id.
fn orders(from: u64, to: u64, partitions: u64) -> Vec<Json> {
    (from..to)
        .map(|id| {
            let value = json!({"id": id, "amount": (id * 37) % 100});
            json!({"key": format!("c{}", id % 7), "value": value.to_string(), "partition": id % partitions, "timestamp": base_time() + id})
        })
        .collect()
}

const MARK: &str = "streams:\n  orders:\n    topic: {IN}\n    keyType: string\n    valueType: json\nfunctions:\n  big:\n    type: predicate\n    expression: value['amount'] >= 50\n  mark:\n    type: valueTransformer\n    code: |\n      value['seen'] = True\n    expression: value\n    resultType: json\npipelines:\n  p:\n    from: orders\n    via:\n      - type: filter\n        if: big\n      - type: mapValues\n        mapper: mark\n    to:\n      topic: {OUT}\n      keyType: string\n      valueType: json\n";

#[test]
fn records_from_an_external_producer_are_processed_and_read_back_by_an_external_consumer() {
    let _serial = serial();
    let b = bootstrap();
    let (input, output) = (unique("orders"), unique("big-orders"));
    create_topic(b, &input, 4);
    let records = orders(0, 400, 4);
    produce(b, &input, &records);
    let app = App::new("external", b, &definition(MARK, &input, &output), "");
    let out = app.run_until_idle(&[]);
    assert_ok(&out, "weir run on Kafka");
    let stderr = text(&out.stderr);
    assert!(stderr.contains(&format!("Kafka at {b}")), "the first lines say the backend and where:\n{stderr}");

    let expected: BTreeMap<u64, Json> = records
        .iter()
        .map(value_of)
        .filter(|v| v["amount"].as_u64().expect("amount") >= 50)
        .map(|mut v| {
            v["seen"] = json!(true);
            (v["id"].as_u64().expect("id"), v)
        })
        .collect();
    let got = consume(b, &output, expected.len() + 10, Duration::from_secs(5), "read_uncommitted");
    let by_id: BTreeMap<u64, Json> = got.iter().map(|r| (value_of(r)["id"].as_u64().expect("id"), value_of(r))).collect();
    assert_eq!(got.len(), expected.len(), "each passing record once");
    assert_eq!(by_id, expected);
    for r in &got {
        let v = value_of(r);
        assert_eq!(r["key"], json!(format!("c{}", v["id"].as_u64().expect("id") % 7)), "keys kept: {r}");
    }
}

#[test]
fn processes_share_the_partitions_and_take_over_from_one_killed_mid_stream() {
    let _serial = serial();
    let b = bootstrap();
    let (input, output) = (unique("shared-in"), unique("shared-out"));
    create_topic(b, &input, 4);
    create_topic(b, &output, 4);
    let app = App::new("shared", b, &definition(COPY, &input, &output), "");
    let mut first = app.spawn("first");
    let mut second = app.spawn("second");
    produce(b, &input, &orders(0, 3000, 4));
    // Both have work before a third joins.
    consume_until(b, &output, Duration::from_secs(60), |r| r.len() >= 3000);
    let mut third = app.spawn("third");
    produce(b, &input, &orders(3000, 6000, 4));
    std::thread::sleep(Duration::from_secs(4));
    // Killed mid-stream: no commit, no goodbye to the group.
    first.kill().expect("SIGKILL the first process");
    let _ = first.wait();
    produce(b, &input, &orders(6000, 9000, 4));
    let got = consume_until(b, &output, Duration::from_secs(120), |r| ids(r).into_iter().collect::<BTreeSet<_>>().len() >= 9000);
    for child in [&second, &third] {
        interrupt(child);
    }
    let codes = [wait(&mut second, Duration::from_secs(60), "second weir"), wait(&mut third, Duration::from_secs(60), "third weir")];
    let distinct: BTreeSet<u64> = ids(&got).into_iter().collect();
    let missing: Vec<u64> = (0..9000).filter(|id| !distinct.contains(id)).take(20).collect();
    eprintln!("outputs {} for 9000 inputs ({} repeated after the kill)", got.len(), got.len() - distinct.len());
    assert!(
        missing.is_empty(),
        "inputs missing from the output (first 20): {missing:?}\nsecond:\n{}\nthird:\n{}",
        app.stderr_of("second"),
        app.stderr_of("third")
    );
    assert_eq!(codes, [Some(0), Some(0)], "clean stops\nsecond:\n{}\nthird:\n{}", app.stderr_of("second"), app.stderr_of("third"));
    // The work was shared: each process owned tasks at some point.
    for name in ["first", "second", "third"] {
        assert!(app.stderr_of(name).contains("task"), "{name} never opened a task:\n{}", app.stderr_of(name));
    }
}

/// Words keyed `w0`..`w2`; a key always goes to the same partition, as a keyed producer's
/// partitioner sends it (a count by key is per task).
fn words(from: u64, to: u64) -> Vec<Json> {
    (from..to)
        .map(|i| json!({"key": format!("w{}", i % 3), "value": "x", "partition": (i % 3) % 2, "timestamp": base_time() + i}))
        .collect()
}

#[test]
fn a_count_is_rebuilt_from_its_changelog_by_a_new_process() {
    let _serial = serial();
    let b = bootstrap();
    let (input, output) = (unique("words"), unique("counts"));
    create_topic(b, &input, 2);
    produce(b, &input, &words(0, 60));
    let first = App::new("count", b, &definition(COUNT, &input, &output), "");
    assert_ok(&first.run_until_idle(&[]), "first run");
    let after_first = consume(b, &output, 60, Duration::from_secs(5), "read_uncommitted");
    assert_eq!(last_counts(&after_first), BTreeMap::from([("w0".into(), 20), ("w1".into(), 20), ("w2".into(), 20)]));

    // Another process, another directory, same application: nothing local survives; the
    // counts come back from the changelog.
    produce(b, &input, &words(60, 120));
    let second = App::new("count", b, &definition(COUNT, &input, &output), "");
    let config = std::fs::read_to_string(second.dir.join("ksml-runner.yaml")).expect("config");
    std::fs::write(second.dir.join("ksml-runner.yaml"), config.replace(&second.application_id, &first.application_id)).expect("config");
    let out = second.run_until_idle(&[]);
    assert_ok(&out, "second run");
    let all = consume(b, &output, 120, Duration::from_secs(5), "read_uncommitted");
    assert_eq!(all.len(), 120, "one update per input");
    assert_eq!(last_counts(&all), BTreeMap::from([("w0".into(), 40), ("w1".into(), 40), ("w2".into(), 40)]));
    assert!(text(&out.stderr).contains("restored"), "the second run restored the store:\n{}", text(&out.stderr));
}

#[test]
fn the_broker_restarts_mid_stream_and_nothing_is_lost() {
    let _serial = serial();
    // A broker of its own: the shared one serves the other tests meanwhile.
    let dir = std::env::temp_dir().join(unique("weir-kafka-restart"));
    let b = common::start_broker(&dir);
    // Stopped (by its PID) and removed however the test ends.
    struct Stop(std::path::PathBuf);
    impl Drop for Stop {
        fn drop(&mut self) {
            let _ = Command::new(common::root().join("scripts/kafka.sh")).args(["stop", "--dir"]).arg(&self.0).output();
        }
    }
    let _stop = Stop(dir.clone());
    let (input, output) = (unique("restart-in"), unique("restart-out"));
    create_topic(&b, &input, 2);
    create_topic(&b, &output, 2);
    let app = App::new("restart", &b, &definition(COPY, &input, &output), "");
    let mut weir = app.spawn("weir");
    produce(&b, &input, &orders(0, 500, 2));
    consume_until(&b, &output, Duration::from_secs(60), |r| r.len() >= 500);
    common::stop_broker(&dir, true);
    std::thread::sleep(Duration::from_secs(3));
    let again = common::start_broker(&dir);
    assert_eq!(again, b, "the broker comes back on its port");
    produce(&b, &input, &orders(500, 1000, 2));
    let got = consume_until(&b, &output, Duration::from_secs(120), |r| ids(r).into_iter().collect::<BTreeSet<_>>().len() >= 1000);
    interrupt(&weir);
    let code = wait(&mut weir, Duration::from_secs(60), "weir");
    let distinct: BTreeSet<u64> = ids(&got).into_iter().collect();
    assert_eq!(distinct.len(), 1000, "every input in the output\n{}", app.stderr_of("weir"));
    assert_eq!(code, Some(0), "a clean stop after the broker came back\n{}", app.stderr_of("weir"));
}

/// Definitions run on both backends: stateless, branching, a count, a stream–table join.
const SAME: &[(&str, &str)] = &[
    ("mark", MARK),
    ("count", COUNT),
    (
        "branch",
        "streams:\n  orders:\n    topic: {IN}\n    keyType: string\n    valueType: json\npipelines:\n  p:\n    from: orders\n    branch:\n      - if:\n          expression: value['amount'] < 30\n        to:\n          topic: {OUT}\n          keyType: string\n          valueType: json\n      - to:\n          topic: {OUT}-rest\n          keyType: string\n          valueType: json\n",
    ),
];

/// Every record of `topic` on the embedded log of `dir`, as `(partition, key, value, timestamp)`.
fn embedded_records(dir: &std::path::Path, topic: &str) -> Vec<(u64, String, String, u64)> {
    let out = Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(["topic", "consume", topic, "--from-beginning", "--format", "json", "--storage", "state"])
        .current_dir(dir)
        .output()
        .expect("weir topic consume");
    assert_ok(&out, "weir topic consume");
    text(&out.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let r: Json = serde_json::from_str(l).expect("json line");
            let show = |v: &Json| match v {
                Json::String(s) => s.clone(),
                other => other.to_string(),
            };
            (r["partition"].as_u64().expect("partition"), show(&r["key"]), show(&r["value"]), r["timestamp"].as_u64().expect("timestamp"))
        })
        .collect()
}

#[test]
fn the_same_definitions_give_the_same_outputs_on_the_embedded_log_and_on_kafka() {
    let _serial = serial();
    let b = bootstrap();
    for (name, template) in SAME {
        let (input, output) = (unique(&format!("same-{name}")), unique(&format!("same-{name}-out")));
        let records = if *name == "count" { words(0, 50) } else { orders(0, 200, 2) };
        let def = definition(template, &input, &output);
        // Kafka
        create_topic(b, &input, 2);
        create_topic(b, &output, 2);
        produce(b, &input, &records);
        let app = App::new(name, b, &def, "");
        assert_ok(&app.run_until_idle(&[]), &format!("{name} on Kafka"));
        // The embedded log: the same records, partitions and timestamps.
        let lines: String = records
            .iter()
            .map(|r| {
                let value: Json = serde_json::from_str(r["value"].as_str().expect("value")).unwrap_or_else(|_| r["value"].clone());
                format!("{}\n", json!({"key": r["key"], "value": value, "partition": r["partition"], "timestamp": r["timestamp"]}))
            })
            .collect();
        for (topic, partitions) in [(&input, "2"), (&output, "2")] {
            let out = Command::new(env!("CARGO_BIN_EXE_weir"))
                .args(["topic", "create", topic, "--partitions", partitions, "--storage", "state"])
                .current_dir(&app.dir)
                .output()
                .expect("weir topic create");
            assert_ok(&out, "weir topic create");
        }
        let mut produce_cmd = Command::new(env!("CARGO_BIN_EXE_weir"))
            .args(["topic", "produce", &input, "--storage", "state"])
            .current_dir(&app.dir)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("weir topic produce");
        std::io::Write::write_all(&mut produce_cmd.stdin.take().expect("stdin"), lines.as_bytes()).expect("write");
        assert_ok(&produce_cmd.wait_with_output().expect("produce"), "weir topic produce");
        assert_ok(&app.run_until_idle(&["--embedded"]), &format!("{name} on the embedded log"));

        let mut outputs = vec![output.clone()];
        if *name == "branch" {
            outputs.push(format!("{output}-rest"));
        }
        for topic in outputs {
            let embedded = embedded_records(&app.dir, &topic);
            let kafka: Vec<(u64, String, String, u64)> =
                consume(b, &topic, embedded.len() + 1, Duration::from_secs(10), "read_uncommitted")
                    .iter()
                    .map(|r| {
                        let show = |v: &Json| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string());
                        (
                            r["partition"].as_u64().expect("partition"),
                            show(&r["key"]),
                            show(&r["value"]),
                            r["timestamp"].as_u64().expect("timestamp"),
                        )
                    })
                    .collect();
            let mut kafka_sorted = kafka.clone();
            kafka_sorted.sort_by_key(|r| r.0);
            assert!(!embedded.is_empty(), "{name}: the embedded run wrote to {topic}");
            assert_eq!(normalize(&kafka_sorted), normalize(&embedded), "{name}: topic {topic} differs between Kafka and the embedded log");
        }
    }
}

/// Values as JSON where they parse (the embedded log's consumer prints JSON values as JSON,
/// longs as numbers), so both sides compare by content; partition order kept.
fn normalize(records: &[(u64, String, String, u64)]) -> Vec<(u64, String, Json, u64)> {
    records
        .iter()
        .map(|(p, k, v, t)| {
            let value = if let Some(hex) = v.strip_prefix("hex:") {
                let bytes: Vec<u8> = (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex")).collect();
                match <[u8; 8]>::try_from(bytes.as_slice()) {
                    Ok(b) => json!(i64::from_be_bytes(b)),
                    Err(_) => json!(hex),
                }
            } else {
                serde_json::from_str(v).unwrap_or_else(|_| json!(v))
            };
            (*p, k.clone(), value, *t)
        })
        .collect()
}

#[test]
fn a_repartition_topic_is_purged_of_what_was_consumed_and_committed() {
    let _serial = serial();
    let b = bootstrap();
    let (input, output) = (unique("purge-in"), unique("purge-out"));
    create_topic(b, &input, 2);
    create_topic(b, &output, 2);
    let records: Vec<Json> = (0..100u64)
        .map(|i| json!({"key": format!("k{i}"), "value": format!("v{}", i % 4), "partition": i % 2, "timestamp": base_time() + i}))
        .collect();
    produce(b, &input, &records);
    let app = App::new("purge", b, &definition(COUNT_BY_VALUE, &input, &output), "  repartition.purge.interval.ms: 0\n");
    let repartition = format!("{}-main_pipelines_p_via_0-repartition", app.application_id);
    let mut run = app.spawn("run");
    let all = consume_until(b, &output, Duration::from_secs(60), |r| r.len() >= 100);
    assert_eq!(all.len(), 100, "one count update per input:\n{}", app.stderr_of("run"));
    assert_eq!(last_counts(&all), (0..4).map(|v| (format!("v{v}"), 25)).collect::<BTreeMap<_, _>>());
    // The next commit (every 500 ms here) is followed by a purge (interval 0): the repartition
    // topic's start moves up to its end.
    let start = std::time::Instant::now();
    let marks = loop {
        let marks = watermarks(b, &repartition);
        if marks.iter().all(|(low, high)| low == high) || start.elapsed() > Duration::from_secs(30) {
            break marks;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    interrupt(&run);
    assert_eq!(wait(&mut run, Duration::from_secs(60), "weir run"), Some(0), "{}", app.stderr_of("run"));
    assert_eq!(marks.iter().map(|(_, high)| high).sum::<u64>(), 100, "every record went through the repartition topic: {marks:?}");
    assert!(marks.iter().all(|(low, high)| low == high), "consumed records deleted: {marks:?}");
}
