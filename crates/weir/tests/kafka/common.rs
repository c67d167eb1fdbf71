//! Helpers for the tests of `weir run` on a real Apache Kafka broker: the broker (the one
//! `scripts/test.sh` started, named by `WEIR_KAFKA_BOOTSTRAP`, or else one this test binary
//! starts with `scripts/kafka.sh` in `target/kafka-tests` and leaves running for the next
//! test binaries; `scripts/kafka.sh stop --dir target/kafka-tests` stops it), an external
//! client (confluent-kafka, `client.py`) to create, produce and consume as a user's other
//! services would, and `weir run` processes on a runner config.

#![allow(dead_code)]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value as Json;

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("workspace root")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Held by each test for its whole run: the tests start several `weir` processes each, and
/// run one at a time so that a 2-core machine does not turn their deadlines into flakes.
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The shared broker's bootstrap address.
pub fn bootstrap() -> &'static str {
    static BOOTSTRAP: OnceLock<String> = OnceLock::new();
    BOOTSTRAP.get_or_init(|| {
        if let Ok(b) = std::env::var("WEIR_KAFKA_BOOTSTRAP")
            && !b.trim().is_empty()
        {
            return b.trim().to_string();
        }
        let dir = root().join("target/kafka-tests");
        start_broker(&dir)
    })
}

/// Starts (or finds running) the broker of `dir`; its bootstrap address.
pub fn start_broker(dir: &Path) -> String {
    let out = Command::new(root().join("scripts/kafka.sh"))
        .args(["start", "--dir"])
        .arg(dir)
        .stderr(Stdio::piped())
        .output()
        .expect("run scripts/kafka.sh");
    assert!(out.status.success(), "scripts/kafka.sh start --dir {} failed:\n{}", dir.display(), text(&out.stderr));
    text(&out.stdout).trim().to_string()
}

/// Stops the broker of `dir` (`--keep`: its data and port stay, for a restart).
pub fn stop_broker(dir: &Path, keep: bool) {
    let mut c = Command::new(root().join("scripts/kafka.sh"));
    c.args(["stop", "--dir"]).arg(dir);
    if keep {
        c.arg("--keep");
    }
    let out = c.stderr(Stdio::piped()).output().expect("run scripts/kafka.sh");
    assert!(out.status.success(), "scripts/kafka.sh stop failed:\n{}", text(&out.stderr));
}

/// The test venv's Python (confluent-kafka installed), from `scripts/python-deps.sh`.
pub fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let out = Command::new(root().join("scripts/python-deps.sh")).output().expect("run scripts/python-deps.sh");
        assert!(out.status.success(), "scripts/python-deps.sh failed:\n{}", text(&out.stderr));
        PathBuf::from(text(&out.stdout).lines().last().expect("python path").trim())
    })
}

/// A name no other test (or earlier run) has used: topics and groups must be fresh.
pub fn unique(name: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() % 1_000_000_000_000);
    format!("{name}-{}-{}-{nanos}", std::process::id(), NEXT.fetch_add(1, Ordering::SeqCst))
}

fn client(args: &[&str], stdin: &str) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/kafka/client.py");
    let mut child = Command::new(python())
        .arg(script)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start client.py");
    child.stdin.take().expect("stdin").write_all(stdin.as_bytes()).expect("write stdin");
    let out = child.wait_with_output().expect("client.py");
    assert!(out.status.success(), "client.py {args:?} failed:\n{}", text(&out.stderr));
    text(&out.stdout)
}

/// Creates `topic` with `partitions` through the external client.
pub fn create_topic(bootstrap: &str, topic: &str, partitions: u32) {
    client(&["create", bootstrap, topic, &partitions.to_string()], "");
}

/// Produces records (objects with `key`, `value`, optional `partition`, `timestamp`) through
/// the external client.
pub fn produce(bootstrap: &str, topic: &str, records: &[Json]) {
    let lines: String = records.iter().map(|r| format!("{r}\n")).collect();
    let n = client(&["produce", bootstrap, topic], &lines);
    assert_eq!(n.trim(), records.len().to_string(), "records produced to {topic}");
}

/// Reads `topic` from the start through the external client until `count` records, or
/// `quiet` without a new one.
pub fn consume(bootstrap: &str, topic: &str, count: usize, quiet: Duration, isolation: &str) -> Vec<Json> {
    client(&["consume", bootstrap, topic, &count.to_string(), &quiet.as_secs_f64().to_string(), isolation], "")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("client.py printed {l:?}: {e}")))
        .collect()
}

/// The (low, high) watermarks of each partition of `topic`, by partition.
pub fn watermarks(bootstrap: &str, topic: &str) -> Vec<(u64, u64)> {
    client(&["watermarks", bootstrap, topic], "")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let w: Json = serde_json::from_str(l).unwrap_or_else(|e| panic!("client.py printed {l:?}: {e}"));
            (w["low"].as_u64().expect("low"), w["high"].as_u64().expect("high"))
        })
        .collect()
}

/// Polls `topic` until `done(records)` holds or `timeout` passes; the last records read.
pub fn consume_until(bootstrap: &str, topic: &str, timeout: Duration, done: impl Fn(&[Json]) -> bool) -> Vec<Json> {
    let start = Instant::now();
    loop {
        let records = consume(bootstrap, topic, usize::MAX >> 1, Duration::from_secs(2), "read_uncommitted");
        if done(&records) || start.elapsed() > timeout {
            return records;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// A working directory with a runner config for one application on the broker.
pub struct App {
    pub dir: PathBuf,
    pub application_id: String,
    pub bootstrap: String,
}

impl App {
    /// `definition` (KSML YAML) as `def.yaml`, and a runner config for it on `bootstrap`
    /// with `extra` lines added under `kafka:`.
    pub fn new(name: &str, bootstrap: &str, definition: &str, extra: &str) -> App {
        let application_id = unique(name);
        let dir = std::env::temp_dir().join(format!("weir-kafka-{application_id}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create dir");
        std::fs::write(dir.join("def.yaml"), definition).expect("write definition");
        let config = format!(
            "ksml:\n  definitions:\n    main: def.yaml\n  storageDirectory: state\n  createStorageDirectory: true\nkafka:\n  bootstrap.servers: {bootstrap}\n  application.id: {application_id}\n  commit.interval.ms: 500\n{extra}"
        );
        std::fs::write(dir.join("ksml-runner.yaml"), config).expect("write runner config");
        App { dir, application_id, bootstrap: bootstrap.to_string() }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_weir"));
        c.args(args).current_dir(&self.dir).env("NO_COLOR", "1").env_remove("RUST_LOG");
        c
    }

    /// `weir run --until-idle ksml-runner.yaml` (plus `args`), to completion.
    pub fn run_until_idle(&self, args: &[&str]) -> Output {
        let mut all = vec!["run", "--until-idle"];
        all.extend_from_slice(args);
        all.push("ksml-runner.yaml");
        self.command(&all).stdin(Stdio::null()).output().expect("run weir")
    }

    /// Starts `weir run ksml-runner.yaml` in the background, stderr to `<name>.stderr`.
    pub fn spawn(&self, name: &str) -> Child {
        self.spawn_with(name, &[])
    }

    /// Starts `weir run <config>` (a runner config of its own in the directory) in the
    /// background, stderr to `<name>.stderr`.
    pub fn spawn_config(&self, name: &str, config: &str) -> Child {
        self.spawn_args(name, &["run", config])
    }

    /// Starts `weir run <args> ksml-runner.yaml` in the background, stderr to `<name>.stderr`.
    pub fn spawn_with(&self, name: &str, args: &[&str]) -> Child {
        let mut all = vec!["run"];
        all.extend_from_slice(args);
        all.push("ksml-runner.yaml");
        self.spawn_args(name, &all)
    }

    /// Starts `weir <args>` in the background, stdout and stderr to `<name>.stdout`/`.stderr`.
    pub fn spawn_args(&self, name: &str, args: &[&str]) -> Child {
        let file = |ext: &str| std::fs::File::create(self.dir.join(format!("{name}.{ext}"))).expect("create output file");
        self.command(args).stdin(Stdio::null()).stdout(file("stdout")).stderr(file("stderr")).spawn().expect("start weir")
    }

    pub fn stderr_of(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join(format!("{name}.stderr"))).unwrap_or_default()
    }
}

impl Drop for App {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        } else {
            eprintln!("kept {} for inspection", self.dir.display());
        }
    }
}

/// Sends SIGINT (a clean stop) to a child.
pub fn interrupt(child: &Child) {
    let status = Command::new("kill").args(["-INT", &child.id().to_string()]).status().expect("kill -INT");
    assert!(status.success(), "kill -INT failed");
}

/// Waits for a child to exit (SIGKILL and panic after `timeout`); its exit code.
pub fn wait(child: &mut Child, timeout: Duration, what: &str) -> Option<i32> {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("poll child") {
            return status.code();
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not stop within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn assert_ok(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed ({:?})\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// A copy of `{IN}` to `{OUT}` marking each JSON value `seen`.
pub const COPY: &str = "streams:\n  orders:\n    topic: {IN}\n    keyType: string\n    valueType: json\nfunctions:\n  mark:\n    type: valueTransformer\n    code: |\n      value['seen'] = True\n    expression: value\n    resultType: json\npipelines:\n  p:\n    from: orders\n    via:\n      - type: mapValues\n        mapper: mark\n    to:\n      topic: {OUT}\n      keyType: string\n      valueType: json\n";

/// A count of `{IN}`'s records by key, to `{OUT}` as longs.
pub const COUNT: &str = "streams:\n  words:\n    topic: {IN}\n    keyType: string\n    valueType: string\npipelines:\n  p:\n    from: words\n    via:\n      - type: groupByKey\n      - type: count\n      - type: toStream\n    to:\n      topic: {OUT}\n      keyType: string\n      valueType: long\n";

/// A count of `{IN}`'s records by value (through a repartition topic), to `{OUT}` as longs.
pub const COUNT_BY_VALUE: &str = "streams:\n  words:\n    topic: {IN}\n    keyType: string\n    valueType: string\npipelines:\n  p:\n    from: words\n    via:\n      - type: groupBy\n        mapper:\n          expression: value\n          resultType: string\n      - type: count\n      - type: toStream\n    to:\n      topic: {OUT}\n      keyType: string\n      valueType: long\n";

/// A definition template with its input and output topics filled in.
pub fn definition(template: &str, input: &str, output: &str) -> String {
    template.replace("{IN}", input).replace("{OUT}", output)
}

/// A consumed record's value, as JSON.
pub fn value_of(record: &Json) -> Json {
    let text = record["value"].as_str().unwrap_or_else(|| panic!("record without a text value: {record}"));
    serde_json::from_str(text).unwrap_or_else(|e| panic!("value is not JSON ({e}): {text}"))
}

/// The `id` of every consumed record's JSON value, in order.
pub fn ids(records: &[Json]) -> Vec<u64> {
    records.iter().map(|r| value_of(r)["id"].as_u64().expect("id")).collect()
}

/// Every count written per key, in order (a long: 8 bytes big-endian, hex from client.py).
pub fn counts(records: &[Json]) -> std::collections::BTreeMap<String, Vec<i64>> {
    let mut out: std::collections::BTreeMap<String, Vec<i64>> = std::collections::BTreeMap::new();
    for r in records {
        let hex = r["value"].as_str().and_then(|s| s.strip_prefix("hex:")).map(str::to_string);
        let bytes: Vec<u8> = match hex {
            Some(h) => (0..h.len()).step_by(2).map(|i| u8::from_str_radix(&h[i..i + 2], 16).expect("hex")).collect(),
            None => r["value"].as_str().expect("value").as_bytes().to_vec(),
        };
        let n = i64::from_be_bytes(bytes.try_into().expect("8 bytes"));
        out.entry(r["key"].as_str().expect("key").to_string()).or_default().push(n);
    }
    out
}

/// The last count written per key.
pub fn last_counts(records: &[Json]) -> std::collections::BTreeMap<String, i64> {
    counts(records).into_iter().filter_map(|(k, v)| v.last().map(|n| (k, *n))).collect()
}
