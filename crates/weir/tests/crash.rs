//! Crash safety of `weir run` on the embedded log, end to end with the built binary.
//!
//! The runtime promises at least once: outputs are appended and synced before the input
//! offsets that produced them are committed, so a process killed at any point loses nothing
//! when restarted, may repeat what it did since its last commit, and never leaves a damaged
//! log behind. These tests kill `weir run` with SIGKILL (`Child::kill`) at pseudo-random points
//! (a fixed-seed xorshift, so a failure reproduces) and check exactly that:
//!
//! - `killed_pipeline_loses_nothing_and_writes_no_garbage`: a filter + Python `mapValues`
//!   pipeline over records produced up front, killed 15 times, then run to completion:
//!   every input that passes the filter is in the output, every output is the right
//!   transformation of an input, the log opens and reads cleanly, the group has no lag.
//! - `killed_producer_leaves_no_corrupt_record`: a producer with `count` writing as fast as
//!   it can while a pipeline consumes its topic, killed repeatedly: both topics read back
//!   without error and hold only whole, correct records, and draining the pipeline afterwards
//!   loses none of the produced records.
//!
//! Each prints what it saw (how far each killed run got, duplicates, recovery events).

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// A fresh directory for one test, removed when dropped (kept if the test failed, to look at).
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("weir-crash-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    fn storage(&self) -> PathBuf {
        self.path("state")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("kept {} for inspection", self.0.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// xorshift64: a fixed seed gives the same kill points on every run.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// Uniform-ish in `lo..=hi`.
    fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

fn weir() -> Command {
    Command::new(env!("CARGO_BIN_EXE_weir"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `weir topic <args> --storage <dir>/state`; expects success and returns stdout.
fn topic(dir: &TempDir, args: &[&str]) -> String {
    let out = weir().arg("topic").args(args).arg("--storage").arg(dir.storage()).current_dir(&dir.0).output().expect("run weir topic");
    assert_ok(&out, &format!("weir topic {args:?}"));
    text(&out.stdout)
}

fn assert_ok(out: &Output, what: &str) {
    assert!(out.status.success(), "{what} failed ({})\nstdout:\n{}\nstderr:\n{}", out.status, text(&out.stdout), text(&out.stderr));
}

/// A running `weir run`, killed if the test panics.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `weir run <config>` with its stderr going to `log`.
fn start(dir: &TempDir, config: &str, log: &Path) -> Running {
    let stderr = std::fs::File::create(log).expect("create run log");
    let child = weir()
        .args(["run", "--embedded"])
        .arg(config)
        .current_dir(&dir.0)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("start weir run");
    Running(child)
}

/// Lets `run` work for `ms` milliseconds after it started, then kills it with SIGKILL. Fails
/// if it stopped on its own before (it only stops when asked or on an error).
fn kill_after(mut run: Running, started: Instant, ms: u64, log: &Path) {
    let deadline = started + Duration::from_millis(ms);
    if let Some(left) = deadline.checked_duration_since(Instant::now()) {
        std::thread::sleep(left);
    }
    if let Some(status) = run.0.try_wait().expect("poll weir run") {
        panic!("weir run stopped by itself ({status}) before it was killed:\n{}", std::fs::read_to_string(log).unwrap_or_default());
    }
    run.0.kill().expect("kill weir run");
    run.0.wait().expect("reap weir run");
}

/// Runs `weir run --until-idle <config>` to completion; returns its stderr.
fn run_until_idle(dir: &TempDir, config: &str) -> String {
    let out = weir().args(["run", "--until-idle", "--embedded", config]).current_dir(&dir.0).output().expect("run weir run --until-idle");
    assert_ok(&out, "weir run --until-idle");
    text(&out.stderr)
}

/// The group's committed next offset for partition 0 of `topic`, read from the offsets file
/// itself so that looking does not open (and recover) the log between kills.
fn committed(dir: &TempDir, group: &str, topic: &str) -> u64 {
    let file = dir.storage().join("groups").join(format!("{group}.offsets"));
    let Ok(contents) = std::fs::read_to_string(file) else { return 0 };
    contents
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f.len() == 3 && f[0] == topic && f[1] == "0").then(|| f[2].parse().ok()).flatten()
        })
        .next()
        .unwrap_or(0)
}

/// Bytes in the segment files of partition 0 of `topic`.
fn partition_bytes(dir: &TempDir, topic: &str) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir.storage().join("topics").join(topic).join("0")) else { return 0 };
    entries.flatten().filter_map(|e| e.metadata().ok()).map(|m| m.len()).sum()
}

/// One record as `weir topic consume --format json` prints it.
struct Consumed {
    offset: u64,
    key: Value,
    value: Value,
}

/// All records of a (one-partition) topic, checked to be whole JSON lines with dense offsets.
fn consume_all(dir: &TempDir, topic_name: &str) -> Vec<Consumed> {
    let out = topic(dir, &["consume", topic_name, "--from-beginning", "--format", "json"]);
    let mut records = Vec::new();
    for (n, line) in out.lines().enumerate() {
        let r: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{topic_name}: line {n} of consume is not JSON ({e}): {line}"));
        let offset = r["offset"].as_u64().unwrap_or_else(|| panic!("{topic_name}: no offset in {line}"));
        assert_eq!(offset, n as u64, "{topic_name}: offsets are not dense at line {n}: {line}");
        assert_eq!(r["partition"], json!(0), "{topic_name}: {line}");
        records.push(Consumed { offset, key: r["key"].clone(), value: r["value"].clone() });
    }
    records
}

/// The group's line in `weir topic describe`: (committed, end, lag).
fn group_position(describe: &str, group: &str) -> Option<(u64, u64, u64)> {
    describe.lines().find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.len() == 5 && f[0] == group && f[1] == "0").then(|| Some((f[2].parse().ok()?, f[3].parse().ok()?, f[4].parse().ok()?))).flatten()
    })
}

/// The functions both tests use: what the pipeline keeps and how it transforms a value. The
/// Rust twins below ([`kept`], [`transformed`]) say what the output must be.
const FUNCTIONS: &str = r#"
functions:
  keep:
    type: predicate
    expression: value["n"] % 3 != 0
  enrich:
    type: valueTransformer
    code: |
      out = dict(value)
      out["doubled"] = value["n"] * 2
      out["tag"] = value["tag"].upper()
    expression: out
    resultType: json
"#;

fn kept(value: &Value) -> bool {
    value["n"].as_i64().is_some_and(|n| n % 3 != 0)
}

fn transformed(value: &Value) -> Value {
    let mut out = value.clone();
    let n = value["n"].as_i64().expect("n");
    out["doubled"] = json!(n * 2);
    out["tag"] = json!(value["tag"].as_str().expect("tag").to_uppercase());
    out
}

fn pipeline(from: &str, to: &str) -> String {
    format!(
        "
streams:
  {from}:
    topic: {from}
    keyType: string
    valueType: json
  {to}:
    topic: {to}
    keyType: string
    valueType: json
pipelines:
  main:
    from: {from}
    via:
      - type: filter
        if: keep
      - type: mapValues
        mapper: enrich
    to: {to}
"
    )
}

fn runner_config(group: &str, producers: bool) -> String {
    format!(
        "
ksml:
  storageDirectory: state
  createStorageDirectory: true
  enableProducers: {producers}
  definitions:
    app: def.yaml
kafka:
  application.id: {group}
  bootstrap.servers: localhost:9092
  commit.interval.ms: 100
"
    )
}

/// Counts the log repairs the runs reported (torn tails cut, temp files removed).
fn recovery_events(logs: &[PathBuf]) -> usize {
    logs.iter().map(|l| std::fs::read_to_string(l).unwrap_or_default().matches("embedded log recovery").count()).sum()
}

// Enough that the first kills hit a run at work even with the pipeline at full speed.
const INPUTS: u64 = 150_000;
const KILLS: usize = 15;

#[test]
fn killed_pipeline_loses_nothing_and_writes_no_garbage() {
    let dir = TempDir::new("pipeline");
    let group = "crash-app";
    // Inputs: unique ids, ~110 bytes each; a third of them are filtered out.
    let mut inputs = BTreeMap::new();
    let mut lines = String::new();
    for id in 0..INPUTS {
        let value = json!({"id": id, "n": (id * 7919) % 1000, "tag": format!("t{}", id % 50), "pad": "x".repeat(40)});
        lines.push_str(&json!({"key": format!("k{id}"), "value": value}).to_string());
        lines.push('\n');
        inputs.insert(id, value);
    }
    std::fs::write(dir.path("input.jsonl"), lines).expect("write input");
    topic(&dir, &["produce", "input", "--file", "input.jsonl"]);
    std::fs::write(dir.path("def.yaml"), format!("{}{FUNCTIONS}", pipeline("input", "output"))).expect("write definition");
    std::fs::write(dir.path("ksml-runner.yaml"), runner_config(group, true)).expect("write runner config");

    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let mut logs = Vec::new();
    let mut interrupted = 0;
    println!("pipeline: kill  after_ms  committed  output_bytes");
    for kill in 1..=KILLS {
        let before = committed(&dir, group, "input");
        let ms = rng.between(50, 400);
        let log = dir.path(&format!("run-{kill}.log"));
        let started = Instant::now();
        let run = start(&dir, "ksml-runner.yaml", &log);
        kill_after(run, started, ms, &log);
        logs.push(log);
        let after = committed(&dir, group, "input");
        assert!(after >= before, "the committed offset went back from {before} to {after}");
        if after < INPUTS {
            interrupted += 1;
        }
        println!("pipeline: {kill:>4}  {ms:>8}  {after:>9}  {:>12}", partition_bytes(&dir, "output"));
    }
    let final_log = run_until_idle(&dir, "ksml-runner.yaml");

    // The log opens, every topic describes and reads without a corruption error.
    let described = topic(&dir, &["describe", "input"]);
    assert_eq!(group_position(&described, group), Some((INPUTS, INPUTS, 0)), "the group must have consumed every input:\n{described}");
    topic(&dir, &["describe", "output"]);
    let input_back = consume_all(&dir, "input");
    assert_eq!(input_back.len() as u64, INPUTS, "the input topic changed");

    // No garbage: each output is the transformation of the input its key names, and that
    // input passes the filter.
    let outputs = consume_all(&dir, "output");
    let mut seen = HashSet::new();
    for r in &outputs {
        let id: u64 = r
            .key
            .as_str()
            .and_then(|k| k.strip_prefix('k'))
            .and_then(|k| k.parse().ok())
            .unwrap_or_else(|| panic!("output @{}: unexpected key {}", r.offset, r.key));
        let input = inputs.get(&id).unwrap_or_else(|| panic!("output @{}: no input has id {id}", r.offset));
        assert!(kept(input), "output @{}: input {id} should have been filtered out: {}", r.offset, r.value);
        assert_eq!(r.value, transformed(input), "output @{}: wrong transformation of input {id}", r.offset);
        seen.insert(id);
    }
    // None lost.
    let expected: Vec<u64> = inputs.iter().filter(|(_, v)| kept(v)).map(|(id, _)| *id).collect();
    let lost: Vec<u64> = expected.iter().copied().filter(|id| !seen.contains(id)).collect();
    assert!(
        lost.is_empty(),
        "{} inputs that pass the filter are missing from the output, e.g. {:?}",
        lost.len(),
        &lost[..lost.len().min(10)]
    );

    let duplicates = outputs.len() - seen.len();
    logs.push(dir.path("final.log"));
    std::fs::write(dir.path("final.log"), final_log).expect("write final log");
    println!(
        "pipeline: {INPUTS} inputs, {} pass the filter; {} outputs after {KILLS} kills ({interrupted} while inputs were left), {duplicates} duplicates ({:.2}%); {} log recovery events",
        expected.len(),
        outputs.len(),
        100.0 * duplicates as f64 / expected.len() as f64,
        recovery_events(&logs)
    );
    // The kills must have hit a run at work, or this test shows nothing.
    assert!(interrupted >= 2, "only {interrupted} kills happened before the inputs were all committed");
}

#[test]
fn killed_producer_leaves_no_corrupt_record() {
    let dir = TempDir::new("producer");
    let group = "crash-producer";
    // Ids restart at 1 in every run; a record is a function of its id, so repeats are
    // identical and every record can be checked on its own.
    let producer = r#"
  generate:
    type: generator
    globalCode: |
      state = {"id": 0}
    code: |
      state["id"] += 1
      i = state["id"]
      v = {"id": i, "n": (i * 7919) % 1000, "tag": "g" + str(i % 13), "pad": "y" * (i % 40)}
    expression: ("p" + str(i), v)
    resultType: (string, json)

producers:
  gen:
    generator: generate
    count: 10000000
    to: generated
"#;
    std::fs::write(dir.path("def.yaml"), format!("{}{FUNCTIONS}{producer}", pipeline("generated", "output"))).expect("write definition");
    std::fs::write(dir.path("ksml-runner.yaml"), runner_config(group, true)).expect("write runner config");
    std::fs::write(dir.path("drain.yaml"), runner_config(group, false)).expect("write runner config");

    let generated =
        |id: u64| json!({"id": id, "n": (id * 7919) % 1000, "tag": format!("g{}", id % 13), "pad": "y".repeat((id % 40) as usize)});
    let mut rng = XorShift(0x2545_F491_4F6C_DD1D);
    let mut logs = Vec::new();
    println!("producer: kill  after_ms  generated_bytes  committed");
    for kill in 1..=6 {
        let ms = rng.between(200, 900);
        let log = dir.path(&format!("run-{kill}.log"));
        let started = Instant::now();
        let run = start(&dir, "ksml-runner.yaml", &log);
        kill_after(run, started, ms, &log);
        logs.push(log);
        println!("producer: {kill:>4}  {ms:>8}  {:>15}  {:>9}", partition_bytes(&dir, "generated"), committed(&dir, group, "generated"));
    }

    // Both topics read back whole and correct after the kills, before anything else ran.
    let check_generated = |records: &[Consumed]| {
        let mut ids = HashSet::new();
        for r in records {
            let id = r.value["id"].as_u64().unwrap_or_else(|| panic!("generated @{}: not a generated value: {}", r.offset, r.value));
            assert_eq!(r.key, json!(format!("p{id}")), "generated @{}: key", r.offset);
            assert_eq!(r.value, generated(id), "generated @{}: value", r.offset);
            ids.insert(id);
        }
        ids
    };
    let check_output = |records: &[Consumed]| {
        let mut ids = HashSet::new();
        for r in records {
            let id: u64 = r
                .key
                .as_str()
                .and_then(|k| k.strip_prefix('p'))
                .and_then(|k| k.parse().ok())
                .unwrap_or_else(|| panic!("output @{}: key {}", r.offset, r.key));
            let input = generated(id);
            assert!(kept(&input), "output @{}: id {id} should have been filtered out", r.offset);
            assert_eq!(r.value, transformed(&input), "output @{}: wrong transformation of id {id}", r.offset);
            ids.insert(id);
        }
        ids
    };
    let produced = consume_all(&dir, "generated");
    assert!(!produced.is_empty(), "the producer wrote nothing before it was killed");
    let produced_ids = check_generated(&produced);
    check_output(&consume_all(&dir, "output"));

    // Drain the pipeline (producers off): nothing the producer wrote is lost downstream.
    logs.push(dir.path("drain.log"));
    let drain_log = run_until_idle(&dir, "drain.yaml");
    std::fs::write(dir.path("drain.log"), drain_log).expect("write drain log");
    let described = topic(&dir, &["describe", "generated"]);
    let end = produced.len() as u64;
    assert_eq!(group_position(&described, group), Some((end, end, 0)), "the drain must consume everything:\n{described}");
    let outputs = consume_all(&dir, "output");
    let output_ids = check_output(&outputs);
    let lost: Vec<u64> = produced_ids.iter().copied().filter(|id| kept(&generated(*id)) && !output_ids.contains(id)).collect();
    assert!(
        lost.is_empty(),
        "{} produced ids that pass the filter are missing downstream, e.g. {:?}",
        lost.len(),
        &lost[..lost.len().min(10)]
    );
    let kept_records = produced.iter().filter(|r| kept(&r.value)).count();
    assert!(outputs.len() >= kept_records, "{} outputs for {kept_records} generated records that pass the filter", outputs.len());
    println!(
        "producer: {} generated records ({} distinct ids), {} outputs for {kept_records} kept records ({} extra from at-least-once); {} log recovery events",
        produced.len(),
        produced_ids.len(),
        outputs.len(),
        outputs.len() as i64 - kept_records as i64,
        recovery_events(&logs)
    );
}
