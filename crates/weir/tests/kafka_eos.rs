//! `weir run` with `processing.guarantee: exactly_once_v2` on a real Apache Kafka broker
//! (`scripts/kafka.sh`; see `kafka/common.rs`), with a process killed by SIGKILL mid-stream
//! while records keep coming:
//!
//! - a copy pipeline on a 4-partition input shared by two processes: a `read_committed`
//!   consumer of the output sees every input exactly once (a `read_uncommitted` one also sees
//!   the killed process's aborted records, which is what at-least-once would have kept);
//! - a count (groupByKey → count → toStream → to): after a new process takes over, the counts a
//!   `read_committed` consumer sees for a key are exactly 1, 2, …, n for its n inputs;
//! - `weir run --until-idle` ends under exactly-once although its repartition topic, written
//!   in transactions, ends in transaction markers (offsets with nothing to read).

#[path = "kafka/common.rs"]
mod common;

use std::collections::BTreeMap;
use std::process::Child;
use std::time::{Duration, Instant};

use common::{
    App, COPY, COUNT, COUNT_BY_VALUE, bootstrap, consume, counts, create_topic, definition, ids, interrupt, produce, serial, unique, wait,
};
use serde_json::{Value as Json, json};

/// Exactly-once, and a dead process's partitions handed over after 10 s (not 45).
const EOS: &str = "  processing.guarantee: exactly_once_v2\n  session.timeout.ms: 10000\n  heartbeat.interval.ms: 1000\n";

/// Now, in milliseconds: records stamped in the past would be deleted by the topics' 7-day
/// retention as soon as the broker checks.
fn now_ms() -> u64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock after 1970");
    u64::try_from(since.as_millis()).expect("milliseconds")
}

/// Orders with ids `from..to`, spread over `partitions` by id.
fn orders(from: u64, to: u64, partitions: u64) -> Vec<Json> {
    (from..to)
        .map(|id| {
            let value = json!({"id": id});
            json!({"key": format!("c{}", id % 7), "value": value.to_string(), "partition": id % partitions, "timestamp": now_ms() + id})
        })
        .collect()
}

/// Words keyed `w0`..`w5` over 2 partitions (a key always in the same one).
fn words(from: u64, to: u64) -> Vec<Json> {
    (from..to).map(|i| json!({"key": format!("w{}", i % 6), "value": "x", "partition": (i % 6) % 2, "timestamp": now_ms() + i})).collect()
}

/// Reads `topic` (`read_committed`) until `done(records)` holds or `timeout` passes.
fn committed_until(b: &str, topic: &str, timeout: Duration, done: impl Fn(&[Json]) -> bool) -> Vec<Json> {
    let start = Instant::now();
    loop {
        let records = consume(b, topic, usize::MAX >> 1, Duration::from_secs(2), "read_committed");
        if done(&records) || start.elapsed() > timeout {
            return records;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Produces `batches` one after the other on another thread (records keep coming).
fn produce_in_background(b: &str, topic: &str, batches: Vec<Vec<Json>>) -> std::thread::JoinHandle<()> {
    let (b, topic) = (b.to_string(), topic.to_string());
    std::thread::spawn(move || {
        for batch in batches {
            produce(&b, &topic, &batch);
            std::thread::sleep(Duration::from_millis(200));
        }
    })
}

/// Sets `commit.interval.ms` in the app's runner config (`None`: the default).
fn set_commit_interval(app: &App, ms: Option<u64>) {
    let path = app.dir.join("ksml-runner.yaml");
    let config = std::fs::read_to_string(&path).expect("runner config");
    let line = ms.map_or(String::new(), |ms| format!("  commit.interval.ms: {ms}\n"));
    std::fs::write(&path, config.replace("  commit.interval.ms: 500\n", &line)).expect("runner config");
}

fn stop(app: &App, children: &mut [(&str, &mut Child)]) {
    for (_, child) in children.iter() {
        interrupt(child);
    }
    for (name, child) in children.iter_mut() {
        let code = wait(child, Duration::from_secs(60), name);
        assert_eq!(code, Some(0), "{name} stopped cleanly:\n{}", app.stderr_of(name));
    }
}

#[test]
fn a_read_committed_consumer_sees_each_output_once_when_a_process_is_killed_mid_stream() {
    let _serial = serial();
    let b = bootstrap();
    let (input, output) = (unique("eos-in"), unique("eos-out"));
    create_topic(b, &input, 4);
    create_topic(b, &output, 4);
    let app = App::new("eos-copy", b, &definition(COPY, &input, &output), EOS);
    // Exactly-once's default commit interval (100 ms), not the tests' 500 ms.
    set_commit_interval(&app, None);
    let mut first = app.spawn("first");
    let mut second = app.spawn("second");
    produce(b, &input, &orders(0, 2000, 4));
    let got = committed_until(b, &output, Duration::from_secs(90), |r| r.len() >= 2000);
    assert!(got.len() >= 2000, "the first inputs are processed:\nfirst:\n{}\nsecond:\n{}", app.stderr_of("first"), app.stderr_of("second"));
    // Records keep coming while the first process is killed: it dies inside a transaction.
    let batches: Vec<Vec<Json>> = (0..8).map(|n| orders(2000 + n * 1000, 3000 + n * 1000, 4)).collect();
    let producing = produce_in_background(b, &input, batches);
    std::thread::sleep(Duration::from_secs(3));
    first.kill().expect("SIGKILL the first process");
    let _ = first.wait();
    producing.join().expect("producer thread");
    let total = 10_000;
    let got = committed_until(b, &output, Duration::from_secs(120), |r| r.len() >= total);
    // Settled: nothing more comes after a while.
    std::thread::sleep(Duration::from_secs(3));
    stop(&app, &mut [("second", &mut second)]);
    let committed = consume(b, &output, usize::MAX >> 1, Duration::from_secs(3), "read_committed");
    let everything = consume(b, &output, usize::MAX >> 1, Duration::from_secs(3), "read_uncommitted");
    let mut seen: BTreeMap<u64, usize> = BTreeMap::new();
    for id in ids(&committed) {
        *seen.entry(id).or_default() += 1;
    }
    let duplicates: Vec<(u64, usize)> = seen.iter().filter(|(_, n)| **n > 1).map(|(id, n)| (*id, *n)).take(20).collect();
    let missing: Vec<u64> = (0..total as u64).filter(|id| !seen.contains_key(id)).take(20).collect();
    eprintln!(
        "exactly once: {} outputs read_committed for {total} inputs ({} read_uncommitted, aborted records included; {} before the stop)",
        committed.len(),
        everything.len(),
        got.len()
    );
    assert!(
        duplicates.is_empty() && missing.is_empty(),
        "read_committed: duplicates (first 20, id → times) {duplicates:?}, missing (first 20) {missing:?}\nsecond:\n{}",
        app.stderr_of("second")
    );
    assert_eq!(committed.len(), total, "each input once");
    assert!(app.stderr_of("first").contains("task"), "the first process had tasks:\n{}", app.stderr_of("first"));
    assert!(app.stderr_of("second").contains("transactional.id"), "the second wrote in transactions:\n{}", app.stderr_of("second"));
}

#[test]
fn a_count_is_exact_after_a_process_is_killed_mid_stream_and_another_takes_over() {
    let _serial = serial();
    let b = bootstrap();
    let (input, output) = (unique("eos-words"), unique("eos-counts"));
    create_topic(b, &input, 2);
    create_topic(b, &output, 2);
    let app = App::new("eos-count", b, &definition(COUNT, &input, &output), EOS);
    // Long transactions: the first process surely dies with records in an open one.
    set_commit_interval(&app, Some(5000));
    let mut first = app.spawn("first");
    produce(b, &input, &words(0, 600));
    let got = committed_until(b, &output, Duration::from_secs(90), |r| r.len() >= 600);
    assert!(got.len() >= 600, "the first words are counted:\n{}", app.stderr_of("first"));
    let batches: Vec<Vec<Json>> = (0..8).map(|n| words(600 + n * 600, 1200 + n * 600)).collect();
    let producing = produce_in_background(b, &input, batches);
    std::thread::sleep(Duration::from_secs(2));
    first.kill().expect("SIGKILL the first process");
    let _ = first.wait();
    // A new process (the killed one's state is gone with it): restores the counts from the
    // changelog (read_committed) and goes on.
    let mut second = app.spawn("second");
    producing.join().expect("producer thread");
    let total: u64 = 600 + 8 * 600;
    let per_key = i64::try_from(total / 6).expect("count");
    let expected: BTreeMap<String, Vec<i64>> = (0..6).map(|k| (format!("w{k}"), (1..=per_key).collect())).collect();
    let done = |r: &[Json]| counts(r).values().all(|c| c.last() == Some(&per_key)) && counts(r).len() == 6;
    committed_until(b, &output, Duration::from_secs(150), done);
    std::thread::sleep(Duration::from_secs(2));
    stop(&app, &mut [("second", &mut second)]);
    let committed = consume(b, &output, usize::MAX >> 1, Duration::from_secs(3), "read_committed");
    let everything = consume(b, &output, usize::MAX >> 1, Duration::from_secs(3), "read_uncommitted");
    eprintln!(
        "exactly once: {} count updates read_committed for {total} inputs ({} read_uncommitted, aborted records included)",
        committed.len(),
        everything.len()
    );
    let got = counts(&committed);
    let last: BTreeMap<&String, Option<&i64>> = got.iter().map(|(k, c)| (k, c.last())).collect();
    assert_eq!(
        got,
        expected,
        "each key's counts are 1..={per_key}, once each (last counts: {last:?})\nsecond:\n{}",
        app.stderr_of("second")
    );
    assert!(app.stderr_of("second").contains("restored"), "the second process restored the store:\n{}", app.stderr_of("second"));
    assert!(
        everything.len() > committed.len(),
        "the first process was killed inside a transaction: its aborted updates are visible read_uncommitted only"
    );
}

#[test]
fn until_idle_ends_under_exactly_once_although_the_repartition_topic_ends_in_markers() {
    let _serial = serial();
    let b = bootstrap();
    let (input, output) = (unique("eos-idle-in"), unique("eos-idle-out"));
    create_topic(b, &input, 2);
    // Values v0..v4, 12 of each, over both partitions: counting by value repartitions.
    let records: Vec<Json> = (0..60u64)
        .map(|i| json!({"key": format!("k{i}"), "value": format!("v{}", i % 5), "partition": i % 2, "timestamp": now_ms() + i}))
        .collect();
    produce(b, &input, &records);
    let app = App::new("eos-idle", b, &definition(COUNT_BY_VALUE, &input, &output), EOS);
    let mut run = app.spawn_with("run", &["--until-idle"]);
    let code = wait(&mut run, Duration::from_secs(120), "weir run --until-idle under exactly-once");
    assert_eq!(code, Some(0), "weir run --until-idle:\n{}", app.stderr_of("run"));
    let got = consume(b, &output, usize::MAX >> 1, Duration::from_secs(3), "read_committed");
    let finals: BTreeMap<String, i64> = counts(&got).into_iter().map(|(k, v)| (k, *v.iter().max().expect("a count"))).collect();
    let expected: BTreeMap<String, i64> = (0..5).map(|v| (format!("v{v}"), 12)).collect();
    assert_eq!(finals, expected, "every record counted before the run ended");
}
