//! Helpers for the `weir run` end-to-end tests: a fresh directory per test, the built binary
//! driven step by step (`weir topic produce`, `weir run`, `weir topic consume`), and
//! comparison of output records against expected JSON lines.
//!
//! The log allows one process at a time, so every step runs to completion before the next.

#![allow(dead_code)]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value as Json;

/// A fresh working directory for one test, removed when dropped (kept when the test fails,
/// for inspection). The embedded log is `<dir>/.weir-state`.
pub struct Dir {
    pub path: PathBuf,
}

static NEXT: AtomicUsize = AtomicUsize::new(0);

impl Dir {
    pub fn new(name: &str) -> Dir {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let path = std::env::temp_dir().join(format!("weir-run-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create temp dir");
        Dir { path }
    }

    /// Writes `text` to `file` in the directory.
    pub fn write(&self, file: &str, text: &str) -> &Self {
        let path = self.path.join(file);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create dir");
        }
        std::fs::write(path, text).expect("write file");
        self
    }

    /// Copies a fixture from `tests/run/` into the directory, under its file name.
    pub fn fixture(&self, fixture: &str) -> String {
        let text = std::fs::read_to_string(fixture_path(fixture)).unwrap_or_else(|e| panic!("fixture {fixture}: {e}"));
        let name = Path::new(fixture).file_name().and_then(|n| n.to_str()).expect("file name").to_string();
        self.write(&name, &text);
        name
    }

    pub fn read(&self, file: &str) -> String {
        std::fs::read_to_string(self.path.join(file)).unwrap_or_else(|e| panic!("read {file}: {e}"))
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_weir"));
        c.args(args).current_dir(&self.path).env("NO_COLOR", "1").env_remove("RUST_LOG");
        c
    }

    /// Runs `weir <args>` with `stdin`, to completion.
    pub fn weir(&self, args: &[&str], stdin: &str) -> Output {
        self.weir_env(args, stdin, &[])
    }

    /// Runs `weir <args>` with `stdin` and these environment variables, to completion.
    pub fn weir_env(&self, args: &[&str], stdin: &str, env: &[(&str, &str)]) -> Output {
        let mut command = self.command(args);
        command.envs(env.iter().copied());
        let mut child = command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("start weir");
        child.stdin.take().expect("stdin").write_all(stdin.as_bytes()).expect("write stdin");
        child.wait_with_output().expect("wait for weir")
    }

    /// `weir topic produce <topic>` with records as JSON objects (one per line, or several
    /// on a line: they are written one per line); panics unless it succeeds.
    pub fn produce(&self, topic: &str, records: &str) -> &Self {
        let lines: String = parse_lines(records).iter().map(|r| format!("{r}\n")).collect();
        let out = self.weir(&["topic", "produce", topic], &lines);
        assert_ok(&out, &format!("weir topic produce {topic}"));
        self
    }

    /// `weir run --until-idle <files>`; returns the output, whatever the exit status.
    pub fn run(&self, files: &[&str]) -> Output {
        let mut args = vec!["run", "--until-idle", "--embedded"];
        args.extend_from_slice(files);
        self.weir(&args, "")
    }

    /// `weir run --until-idle <files>`; panics unless it exits with 0. Returns stdout.
    pub fn run_ok(&self, files: &[&str]) -> String {
        let out = self.run(files);
        assert_ok(&out, &format!("weir run --until-idle {files:?}"));
        stdout(&out)
    }

    /// Starts `weir run <files>` (not until idle) in the background; its stdout and stderr
    /// go to `run.stdout` and `run.stderr` in the directory.
    pub fn spawn_run(&self, files: &[&str]) -> Child {
        let mut args = vec!["run", "--embedded"];
        args.extend_from_slice(files);
        let file = |name: &str| std::fs::File::create(self.path.join(name)).expect("create output file");
        self.command(&args).stdin(Stdio::null()).stdout(file("run.stdout")).stderr(file("run.stderr")).spawn().expect("start weir run")
    }

    /// Waits for a background run (killing it, and failing, after `timeout`); returns its
    /// exit code, stdout and stderr.
    pub fn finish(&self, mut child: Child, timeout: Duration) -> (Option<i32>, String, String) {
        let start = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().expect("poll child") {
                break status;
            }
            if start.elapsed() > timeout {
                let _ = child.kill();
                let _ = child.wait();
                panic!("weir run did not stop within {timeout:?}\nstderr:\n{}", self.read("run.stderr"));
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        (status.code(), self.read("run.stdout"), self.read("run.stderr"))
    }

    /// Starts `weir run <files>`, lets it run for `for_how_long`, stops it with SIGINT and
    /// expects a clean exit (status 0). Returns stdout.
    pub fn run_for(&self, files: &[&str], for_how_long: Duration) -> String {
        let child = self.spawn_run(files);
        std::thread::sleep(for_how_long);
        interrupt(&child);
        let (code, out, err) = self.finish(child, Duration::from_secs(20));
        assert_eq!(code, Some(0), "weir run {files:?} (stopped with SIGINT) failed\nstdout:\n{out}\nstderr:\n{err}");
        out
    }

    /// Every record of `topic` (all partitions), as `weir topic consume --format json`
    /// prints them. An unknown topic, or a log not made yet, gives no records.
    pub fn consume(&self, topic: &str) -> Vec<Json> {
        let out = self.weir(&["topic", "consume", topic, "--from-beginning", "--format", "json"], "");
        let err = stderr(&out);
        if !out.status.success() && (err.contains(&format!("unknown topic '{topic}'")) || err.contains("no embedded log in")) {
            return Vec::new();
        }
        assert_ok(&out, &format!("weir topic consume {topic}"));
        stdout(&out)
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("consume printed a bad line {l:?}: {e}")))
            .collect()
    }

    /// Asserts that `topic` holds exactly the `expected` records (JSON lines), in order
    /// (partition by partition, each in offset order). Each expected line names the fields it
    /// checks (`key`, `value`, `headers`, `timestamp`, `partition`, ...): only those are
    /// compared, so `{"key": "a", "value": 1}` ignores the timestamp.
    pub fn expect_topic(&self, topic: &str, expected: &str) {
        let actual = self.consume(topic);
        let expected = parse_lines(expected);
        let projected: Vec<Json> = actual.iter().zip(expected.iter()).map(|(a, e)| project(a, e)).collect();
        let shown = |v: &[Json]| v.iter().map(|j| j.to_string()).collect::<Vec<_>>().join("\n");
        assert!(
            actual.len() == expected.len() && projected == expected,
            "topic '{topic}' in {}:\nexpected:\n{}\nactual:\n{}",
            self.path.display(),
            shown(&expected),
            shown(&actual)
        );
    }

    /// The values of `topic`'s records.
    pub fn values(&self, topic: &str) -> Vec<Json> {
        self.consume(topic).into_iter().map(|r| r["value"].clone()).collect()
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

pub fn fixture_path(fixture: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/run").join(fixture)
}

/// JSON values separated by whitespace (one per line, or several on a line) → values.
pub fn parse_lines(text: &str) -> Vec<Json> {
    serde_json::Deserializer::from_str(text)
        .into_iter::<Json>()
        .map(|v| v.unwrap_or_else(|e| panic!("bad JSON in {text:?}: {e}")))
        .collect()
}

/// The fields of `actual` that `expected` names. `consume --format json` shows key and value
/// bytes that are compact JSON text as JSON (a string value `"1"` as `1`): where the expected
/// key or value has the same bytes as the actual one, the expected form is kept, so the
/// comparison is on the bytes.
fn project(actual: &Json, expected: &Json) -> Json {
    let Some(fields) = expected.as_object() else { return actual.clone() };
    let mut out = serde_json::Map::new();
    for (name, want) in fields {
        let mut value = actual.get(name).cloned().unwrap_or(Json::Null);
        if (name == "key" || name == "value") && bytes(&value) == bytes(want) {
            value = want.clone();
        }
        out.insert(name.clone(), value);
    }
    Json::Object(out)
}

/// The record bytes `consume --format json` shows as this JSON value.
fn bytes(v: &Json) -> Option<String> {
    match v {
        Json::Null => None,
        Json::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn assert_ok(out: &Output, what: &str) {
    assert_eq!(out.status.code(), Some(0), "{what} failed\nstdout:\n{}\nstderr:\n{}", stdout(out), stderr(out));
}

/// Sends SIGINT to a child (as Ctrl-C would).
pub fn interrupt(child: &Child) {
    let status = Command::new("kill").arg("-INT").arg(child.id().to_string()).status().expect("run kill");
    assert!(status.success(), "kill -INT {} failed", child.id());
}
