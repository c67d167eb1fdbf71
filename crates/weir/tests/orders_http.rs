//! The orders example's HTTP interface on the embedded log, as `examples/orders/run-embedded.sh`
//! runs it (`weir run --embedded ksml-runner.yaml --routes routes.yaml`): the original's
//! EndToEndTest ported (orders POSTed over HTTP come back VALIDATED or FAILED over HTTP as
//! the rules say, driven by the demo client `client.py`), and many concurrent orders for one
//! product never reserving more than its stock.

#[path = "run/common.rs"]
mod common;
#[path = "orders/http.rs"]
mod http;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use http::{example, free_port};
use serde_json::Value as Json;

/// Held by each test: each runs the whole ecosystem, one at a time on a small machine.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The ecosystem in one `weir run` with the routes, its state in a directory of its own.
struct Ecosystem {
    child: Option<Child>,
    dir: common::Dir,
    base: String,
}

impl Ecosystem {
    fn start(name: &str) -> Ecosystem {
        let dir = common::Dir::new(name);
        let port = free_port();
        let log = std::fs::File::create(dir.path.join("run.stderr")).expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_weir"))
            .args(["run", "--embedded", "--no-progress", "ksml-runner.yaml", "--routes", "routes.yaml"])
            .current_dir(example())
            .env("NO_COLOR", "1")
            .env_remove("RUST_LOG")
            .env("WEIR_STATE", dir.path.join("state"))
            .env("ORDERS_PORT", port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start weir run");
        let e = Ecosystem { child: Some(child), dir, base: format!("http://127.0.0.1:{port}") };
        http::wait_ready(&e.base, true, Duration::from_secs(60), || e.log());
        e
    }

    fn state(&self) -> PathBuf {
        self.dir.path.join("state")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path.join("run.stderr")).unwrap_or_default()
    }

    /// Stops the run with SIGINT; panics unless it exits 0.
    fn stop(&mut self) {
        let mut child = self.child.take().expect("running");
        common::interrupt(&child);
        let status = loop_wait(&mut child);
        assert_eq!(status, Some(0), "weir run exited with {status:?}\n{}", self.log());
    }

    /// `weir topic consume <topic> --from-beginning` of the stopped run, as JSON lines.
    fn consume(&self, topic: &str, value_type: &str) -> Vec<Json> {
        let state = self.state().to_string_lossy().into_owned();
        let args = ["topic", "--storage", &state, "consume", topic, "--from-beginning", "--format", "json", "--value-type", value_type];
        let out = Command::new(env!("CARGO_BIN_EXE_weir"))
            .args(args)
            .args(["--config", "ksml-runner.yaml"])
            .current_dir(example())
            .env("NO_COLOR", "1")
            .env("WEIR_STATE", self.state())
            .output()
            .expect("weir topic consume");
        common::assert_ok(&out, &format!("weir topic consume {topic}"));
        common::stdout(&out).lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect()
    }
}

fn loop_wait(child: &mut Child) -> Option<i32> {
    let began = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("poll") {
            return status.code();
        }
        if began.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Drop for Ecosystem {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[test]
fn orders_posted_over_http_come_back_validated_or_failed_as_the_rules_say() {
    // The original's EndToEndTest: POST an order, GET it back, wait for its validation;
    // here orders of every kind (client.py), each one's state checked against the rules,
    // with a payment each (written to payment-requests) for the EmailService.
    let _serial = serial();
    let mut e = Ecosystem::start("orders-http");
    let topic = format!("{} topic --storage {}", env!("CARGO_BIN_EXE_weir"), e.state().display());
    let report = http::run_client(&e.base, 10, Some(&topic));
    e.stop();
    // Each order and its payment sent an email per order record: CREATED and VALIDATED or
    // FAILED, CREATED only for the no-stock ones (orders are not filtered by state).
    let emails = e.consume("emails", "json");
    for line in report.lines().filter(|l| l.contains("  ->  ")) {
        let id = line.split_whitespace().next().expect("an order id");
        let sent = emails.iter().filter(|m| m["value"]["order"]["id"] == id).count();
        assert_eq!(sent, if line.contains("no-stock") { 1 } else { 2 }, "emails for {line}: {emails:?}");
    }
}

#[test]
fn concurrent_orders_for_one_product_never_reserve_more_than_its_stock() {
    // 2000 UNDERPANTS in stock (seed.yaml): one order takes 1950, then 200 orders of one
    // unit come at once from 16 threads. Exactly 50 of them fit: VALIDATED; the others FAIL
    // the inventory check (and pass the others): FAILED. The reservations never exceed 2000.
    let _serial = serial();
    let mut e = Ecosystem::start("orders-concurrent");
    let bases = [e.base.clone()];
    let run = std::process::id();
    let big = http::order(&format!("{run}-big"), 1, "UNDERPANTS", 1950, 0.0);
    assert_eq!(http::post_concurrently(&bases, std::slice::from_ref(&big), 1), [201]);
    let first = http::validated(&bases, &[format!("{run}-big")], 1, 60_000);
    assert_eq!(first[0].as_ref().map(|o| o["state"].clone()), Ok(serde_json::json!("VALIDATED")), "{first:?}");

    let orders: Vec<Json> = (0..200).map(|i| http::order(&format!("{run}-{i:03}"), 1 + i % 8, "UNDERPANTS", 1, 1.0)).collect();
    let statuses = http::post_concurrently(&bases, &orders, 16);
    assert!(statuses.iter().all(|s| *s == 201), "POST statuses: {statuses:?}");
    let ids: Vec<String> = orders.iter().map(|o| o["id"].as_str().expect("id").to_string()).collect();
    let results = http::validated(&bases, &ids, 16, 120_000);
    let failures: Vec<&String> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(failures.is_empty(), "{failures:?}\n{}", e.log());
    let states: Vec<&str> = results.iter().map(|r| r.as_ref().ok().and_then(|o| o["state"].as_str()).unwrap_or("?")).collect();
    let count = |s: &str| states.iter().filter(|x| **x == s).count();
    assert_eq!((count("VALIDATED"), count("FAILED")), (50, 150), "{states:?}");
    e.stop();

    // Every FAILED order failed the inventory check and passed the other two; every
    // VALIDATED one passed all three.
    let validations = e.consume("order-validations", "avro:OrderValidation");
    for (id, state) in ids.iter().zip(&states) {
        let mut checks: Vec<(String, String)> = validations
            .iter()
            .filter(|v| v["value"]["orderId"].as_str() == Some(id))
            .map(|v| {
                (v["value"]["checkType"].as_str().unwrap_or("?").into(), v["value"]["validationResult"].as_str().unwrap_or("?").into())
            })
            .collect();
        checks.sort();
        let inventory = if *state == "VALIDATED" { "PASS" } else { "FAIL" };
        let expected: Vec<(String, String)> = [("FRAUD_CHECK", "PASS"), ("INVENTORY_CHECK", inventory), ("ORDER_DETAILS_CHECK", "PASS")]
            .map(|(c, r)| (c.into(), r.into()))
            .into();
        assert_eq!(checks, expected, "order {id} ({state})");
    }
    // The reservations' changelog: 1950, then one more per VALIDATED order, never above 2000.
    let changelog = e.consume("orders-ecosystem-reserved_stock-changelog", "long");
    let reserved: Vec<i64> = changelog.iter().filter(|r| r["key"] == "UNDERPANTS").map(|r| r["value"].as_i64().expect("a long")).collect();
    assert_eq!(reserved, (1950..=2000).collect::<Vec<i64>>(), "{changelog:?}");
}
