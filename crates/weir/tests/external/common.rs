//! Helpers for the tests of Weir with real external systems (`external_db.rs`,
//! `external_queue.rs`): the services, started by the project's own scripts
//! (`scripts/postgres.sh`, `scripts/rabbitmq.sh`); the Python clients the examples' functions
//! import (psycopg2 and pika, installed by `scripts/python-deps.sh` into `.venv-test`); and the
//! examples copied into a test's directory, run by the built `weir`.
//!
//! A service named by its environment variable (`WEIR_PG_URL`, `WEIR_AMQP_URL`, exported by
//! `scripts/test.sh`) is used as it is; without it, the test starts one of its own in a
//! temporary dir and stops it (by its PID, through the script) when it ends. A service that
//! cannot be started fails the test, with the script's output: nothing is skipped.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::common::{Dir, assert_ok, stderr, stdout};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("repository root")
}

/// A service this test started: stopped (and its dir removed) when dropped.
pub struct Service {
    script: &'static str,
    dir: Option<PathBuf>,
    pub url: String,
}

impl Service {
    /// The service named by `env_var`, or a new one started with `scripts/<script> start`.
    pub fn get(env_var: &str, script: &'static str, name: &str) -> Service {
        if let Ok(url) = std::env::var(env_var)
            && !url.trim().is_empty()
        {
            return Service { script, dir: None, url: url.trim().to_string() };
        }
        Service::own(script, name)
    }

    /// A new service of this test alone (for a test that stops and restarts it).
    pub fn own(script: &'static str, name: &str) -> Service {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!("weir-{name}-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::SeqCst)));
        let mut service = Service { script, dir: Some(dir), url: String::new() };
        service.url = service.start();
        service
    }

    fn script(&self, args: &[&str]) -> Output {
        let dir = self.dir.as_ref().expect("a service this test started");
        Command::new(repo().join("scripts").join(self.script))
            .args(args)
            .arg("--dir")
            .arg(dir)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("run scripts/{}: {e}", self.script))
    }

    /// Starts (again) the service of this test; returns its URL.
    pub fn start(&self) -> String {
        let out = self.script(&["start"]);
        assert_ok(&out, &format!("scripts/{} start", self.script));
        stdout(&out).trim().to_string()
    }

    /// Stops the service of this test, keeping its data (for [`Service::start`] again).
    pub fn stop_keeping_data(&self) {
        let out = self.script(&["stop", "--keep"]);
        assert_ok(&out, &format!("scripts/{} stop --keep", self.script));
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if self.dir.is_some() {
            let out = self.script(&["stop"]);
            if !out.status.success() {
                eprintln!("scripts/{} stop failed:\n{}", self.script, stderr(&out));
            }
        }
    }
}

/// The test venv's python (psycopg2 and pika installed), from `scripts/python-deps.sh`.
pub fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let out = Command::new(repo().join("scripts/python-deps.sh")).output().expect("run scripts/python-deps.sh");
        assert_ok(&out, "scripts/python-deps.sh");
        PathBuf::from(stdout(&out).lines().last().expect("the script prints the venv's python").trim())
    })
}

/// Where the venv's packages are: given to `weir run` as `pythonContext.modulePath`, so the
/// examples' functions import psycopg2 and pika from there (a user installs them for the
/// `python3` Weir runs on instead, where they are readable without it).
pub fn site_packages() -> &'static str {
    static SITE: OnceLock<String> = OnceLock::new();
    SITE.get_or_init(|| run_python("import sysconfig; print(sysconfig.get_paths()['purelib'])", &[]).trim().to_string())
}

/// Runs `code` with the venv's python (with `args` in `sys.argv[1:]`); returns its stdout.
pub fn run_python(code: &str, args: &[&str]) -> String {
    let out = Command::new(python()).arg("-c").arg(code).args(args).stdin(Stdio::null()).output().expect("run python");
    assert_ok(&out, &format!("python -c {code:?}"));
    stdout(&out)
}

/// Runs SQL statements (`;`-separated) on the database at `url`; returns the rows of the last
/// one, a line per row, columns separated by `|`.
pub fn sql(url: &str, statements: &str) -> String {
    const CODE: &str = r#"
import sys, psycopg2
c = psycopg2.connect(sys.argv[1], connect_timeout=10)
c.autocommit = True
cur = c.cursor()
cur.execute(sys.argv[2])
if cur.description:
    for row in cur.fetchall():
        print("|".join("" if v is None else str(v) for v in row))
"#;
    run_python(CODE, &[url, statements])
}

/// A database of its own for one test on the server at `url` (so tests sharing one server do
/// not see each other's tables); returns its URL.
pub fn fresh_database(url: &str, name: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let db = format!("{name}_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::SeqCst));
    sql(url, &format!("DROP DATABASE IF EXISTS {db}"));
    sql(url, &format!("CREATE DATABASE {db}"));
    let base = url.rsplit_once('/').map(|(b, _)| b).expect("a database URL ends with /<database>");
    format!("{base}/{db}")
}

/// Copies `examples/<name>` into `dir` and points its runner config's `pythonContext` at the
/// test venv's packages (`modulePath`). `edits` are (from, to) replacements in the files
/// (each must apply: a test never runs a file it did not mean to).
pub fn example(dir: &Dir, name: &str, edits: &[(&str, &str, &str)]) {
    let src = repo().join("examples").join(name);
    for entry in std::fs::read_dir(&src).unwrap_or_else(|e| panic!("{}: {e}", src.display())).flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        if !file.ends_with(".yaml") {
            continue;
        }
        let mut text = std::fs::read_to_string(entry.path()).expect("read example file");
        if file == "ksml-runner.yaml" && text.contains("  pythonContext:\n") {
            text = text.replace("  pythonContext:\n", &format!("  pythonContext:\n    modulePath: {}\n", site_packages()));
        }
        for (f, from, to) in edits {
            if *f == file {
                assert!(text.contains(from), "examples/{name}/{file} no longer holds {from:?}");
                text = text.replace(from, to);
            }
        }
        dir.write(&file, &text);
    }
}

/// A running `weir run`, killed (SIGKILL) if the test ends without stopping it, e.g. when it
/// fails, so no run outlives its test.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Starts `weir run --embedded ksml-runner.yaml` in `dir` with `env`; its stderr goes to
/// `run.stderr` (appended, so a restart's log follows the first run's).
pub fn spawn(dir: &Dir, env: &[(&str, &str)]) -> Running {
    let log = std::fs::OpenOptions::new().create(true).append(true).open(dir.path.join("run.stderr")).expect("open run log");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_weir"));
    cmd.args(["run", "--embedded", "--no-progress", "ksml-runner.yaml"])
        .current_dir(&dir.path)
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log);
    for (k, v) in env {
        cmd.env(k, v);
    }
    Running(cmd.spawn().expect("start weir run"))
}

/// Stops a run with SIGTERM and expects a clean exit (0) within 30 s.
pub fn terminate(dir: &Dir, mut run: Running) {
    let child = &mut run.0;
    let status = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status().expect("run kill");
    assert!(status.success(), "kill -TERM {} failed", child.id());
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().expect("poll weir run") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("weir run did not stop within 30 s of SIGTERM\n{}", dir.read("run.stderr"));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0), "weir run (SIGTERM) exited with {status}\n{}", dir.read("run.stderr"));
}

/// Polls `check` every 100 ms until it gives `Some`, failing after `timeout` with `what` and
/// the run's log.
pub fn wait_for<T>(dir: &Dir, what: &str, timeout: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check() {
            return v;
        }
        if Instant::now() > deadline {
            panic!(
                "timed out after {timeout:?} waiting for {what}\nrun log:\n{}",
                std::fs::read_to_string(dir.path.join("run.stderr")).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Every record of `topic`, as `weir topic consume --format json` prints them; a topic (or a
/// log) not made yet gives none, whether `weir topic` opened the log itself or went through a
/// running `weir run` ([`Dir::consume`]).
pub fn consume(dir: &Dir, topic: &str) -> Vec<serde_json::Value> {
    dir.consume(topic)
}
