//! Weir's resilience toolkit (`import weir`, docs/external-systems.md) end to end: `weir run`
//! enriching records through `weir.http.Client` against the test service
//! (scripts/testsvc.py), which each test starts on a loopback port and stops.
//!
//! - a service failing 30 % of its calls loses no record: each is enriched (after retries)
//!   or dead-lettered with the call's endpoint, attempts and cause in its headers;
//! - a service that goes down opens the circuit after the configured number of failures,
//!   records then take the fallback path at once, and when the service returns a probe
//!   closes the circuit again and records are enriched again; the metrics page counts it all;
//! - examples/api-enrichment runs unchanged against it.

#[path = "run/common.rs"]
mod common;
#[path = "registry/common.rs"]
mod reference;

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use common::Dir;
use serde_json::Value as Json;

/// The test service, stopped (and its process reaped) when dropped.
struct Service {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
    url: String,
}

impl Service {
    fn start(args: &[&str]) -> Service {
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/testsvc.py");
        let mut child = Command::new("python3")
            .arg(script)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start scripts/testsvc.py");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let first = lines.recv_timeout(Duration::from_secs(20)).expect("the test service says where it listens");
        let address = first.strip_prefix("listening on ").unwrap_or_else(|| panic!("unexpected first line {first:?}"));
        Service { child, stdin, lines, url: format!("http://{address}") }
    }

    /// Sends a command (`down`, `up`, `stats`); returns the stats it answers with.
    fn command(&mut self, command: &str) -> Json {
        writeln!(self.stdin, "{command}").expect("write to the test service");
        let line = self.lines.recv_timeout(Duration::from_secs(20)).expect("the test service answers");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line:?}: {e}"))
    }

    fn requests(&mut self) -> u64 {
        self.command("stats")["requests"].as_u64().expect("requests")
    }

    /// Waits until the service has served `more` requests more than now.
    fn wait_for_requests(&mut self, more: u64) {
        let target = self.requests() + more;
        let start = Instant::now();
        while self.requests() < target {
            assert!(start.elapsed() < Duration::from_secs(30), "the service got no {more} more requests in 30 s");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A directory with the enrich definition calling `service` with `policies` (Python keyword
/// arguments of `weir.http.Client`), and a runner config sending process errors to `dlq`
/// (with `ksml`, more of its `ksml` section).
fn setup(name: &str, service: &Service, policies: &str, producer: bool, ksml: &str) -> Dir {
    let dir = Dir::new(name);
    let text = std::fs::read_to_string(common::fixture_path("external/enrich.yaml")).expect("fixture");
    dir.write("enrich.yaml", &text.replace("SERVICE_URL", &service.url).replace("POLICIES", policies));
    let mut definitions = "    enrich: enrich.yaml\n".to_string();
    if producer {
        dir.fixture("external/ticking.yaml");
        definitions.push_str("    ticking: ticking.yaml\n");
    }
    dir.write(
        "ksml-runner.yaml",
        &format!(
            "ksml:\n{ksml}  definitions:\n{definitions}  pythonContext:\n    allowHostSocketAccess: true\n  errorHandling:\n    process:\n      \
             handler: continueOnFail\n      deadLetterTopic: dlq\n      log: false\nkafka:\n  application.id: external-test\n  \
             bootstrap.servers: unused:9092\n"
        ),
    );
    dir
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < Duration::from_secs(30), "no {what} within 30 s");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn header<'a>(record: &'a Json, name: &str) -> &'a str {
    record["headers"][name].as_str().unwrap_or_else(|| panic!("no header {name}: {record}"))
}

#[test]
fn a_flaky_service_loses_no_record() {
    let service = Service::start(&["--fail-rate", "0.3", "--seed", "7"]);
    let dir = setup("flaky", &service, "retry=weir.Retry(attempts=2, backoff=0.001, max_backoff=0.01)", false, "");
    let total = 300;
    let input: String = (0..total).map(|n| format!("{{\"key\": \"k{n}\", \"value\": {{\"n\": {n}, \"item\": {}}}}}\n", n % 10)).collect();
    dir.produce("orders", &input);
    dir.run_ok(&["ksml-runner.yaml"]);

    let enriched = dir.values("enriched");
    let dead = dir.consume("dlq");
    // 30 % of attempts fail: 9 % of the records fail twice (27 expected of 300).
    assert!((5..=60).contains(&dead.len()), "{} dead letters of {total}", dead.len());
    let mut seen: Vec<i64> = enriched.iter().map(|v| v["n"].as_i64().expect("n")).collect();
    for v in &enriched {
        let item = v["item"].as_i64().expect("item");
        assert_eq!((v["source"].as_str(), v["name"].as_str()), (Some("service"), Some(format!("item-{item}").as_str())), "{v}");
    }
    for d in &dead {
        assert_eq!(header(d, "weir.error.call.endpoint"), "items");
        assert_eq!(header(d, "weir.error.call.attempts"), "2");
        let cause = header(d, "weir.error.call.cause");
        assert!(cause.contains("HTTP 503") && cause.contains("/items/"), "{cause}");
        let message = header(d, "weir.error.message");
        assert!(message.starts_with("CallFailed: call to 'items' failed after 2 attempts"), "{message}");
        assert_eq!(header(d, "weir.error.function"), "enrich.enrich");
        seen.push(d["value"]["n"].as_i64().expect("n"));
    }
    seen.sort_unstable();
    assert_eq!(seen, (0..total).collect::<Vec<_>>(), "each record enriched or dead-lettered, once");
}

#[test]
fn the_circuit_opens_when_the_service_goes_down_and_closes_when_it_returns() {
    let mut service = Service::start(&[]);
    let metrics_port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port");
    let dir = setup(
        "circuit",
        &service,
        "retry=weir.Retry(attempts=1), breaker=weir.Breaker(failures=3, window=30, reset_after=0.5)",
        true,
        &format!("  prometheus:\n    enabled: true\n    host: 127.0.0.1\n    port: {metrics_port}\n"),
    );
    let mut run = dir.spawn_run(&["ksml-runner.yaml"]);
    // Whatever fails in between, the run is stopped (a panic kills it).
    let phases = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        service.wait_for_requests(10);
        service.command("down");
        let went_down = Instant::now();
        // Down until records took the fallback path and a half-open probe failed (3 failures
        // opened the circuit, the 4th dead letter is a probe's); reading the topics while
        // `weir run` runs goes through its socket.
        let fallbacks = || dir.values("enriched").iter().filter(|v| v["source"] == "fallback").count();
        wait_until("10 fallbacks and a failed probe", || fallbacks() >= 10 && dir.consume("dlq").len() >= 4);
        service.command("up");
        let down_for = went_down.elapsed().as_secs_f64();
        service.wait_for_requests(10);
        (down_for, scrape(&dir, &format!("http://127.0.0.1:{metrics_port}/metrics")))
    }));
    let (down_for, metrics) = phases.unwrap_or_else(|panic| {
        let _ = run.kill();
        let _ = run.wait();
        std::panic::resume_unwind(panic)
    });
    common::interrupt(&run);
    let (code, out, err) = dir.finish(run, Duration::from_secs(30));
    assert_eq!(code, Some(0), "weir run\nstdout:\n{out}\nstderr:\n{err}");

    // Every generated record, in order: enriched, fallback, or dead-lettered.
    let mut records: Vec<(i64, String, String)> = dir
        .values("enriched")
        .iter()
        .map(|v| {
            (
                v["n"].as_i64().expect("n"),
                v["source"].as_str().expect("source").to_string(),
                v["circuit"].as_str().expect("circuit").to_string(),
            )
        })
        .collect();
    for d in dir.consume("dlq") {
        assert_eq!(header(&d, "weir.error.call.endpoint"), "items");
        assert_eq!(header(&d, "weir.error.call.attempts"), "1");
        let cause = header(&d, "weir.error.call.cause");
        // Refused; a call under way when it went down sees its connection end.
        assert!(["Connection refused", "RemoteDisconnected", "ConnectionResetError"].iter().any(|c| cause.contains(c)), "{cause}");
        records.push((d["value"]["n"].as_i64().expect("n"), "failed".to_string(), String::new()));
    }
    records.sort();
    let ns: Vec<i64> = records.iter().map(|r| r.0).collect();
    assert_eq!(ns, (0..records.len() as i64).collect::<Vec<_>>(), "no record lost or doubled");
    let sources: Vec<&str> = records.iter().map(|r| r.1.as_str()).collect();
    let summary: String = sources.iter().map(|s| &s[..1]).collect();

    // Up: enriched, circuit closed. Down: exactly `failures` calls fail, then the circuit is open.
    let first_down = sources.iter().position(|s| *s != "service").expect("the service went down");
    assert!(first_down >= 10, "{summary}");
    assert!(records[..first_down].iter().all(|r| r.2 == "closed"), "{summary}");
    assert_eq!(sources[first_down..first_down + 4], ["failed", "failed", "failed", "fallback"], "{summary}");
    // While down: fallbacks (circuit open), and every reset_after one probe that fails.
    let back = first_down + sources[first_down..].iter().position(|s| *s == "service").expect("the service came back");
    let fallbacks = sources[first_down..back].iter().filter(|s| **s == "fallback").count();
    let probes = sources[first_down + 3..back].iter().filter(|s| **s == "failed").count();
    assert!(fallbacks >= 10, "processing goes on while the circuit is open: {summary}");
    assert!(records[first_down..back].iter().filter(|r| r.1 == "fallback").all(|r| r.2 == "open"), "{summary}");
    // A probe at most every 0.5 s while down.
    assert!(probes >= 1 && probes <= (down_for / 0.5) as usize + 2, "{probes} probes in {down_for} s: {summary}");
    // Back: the probe succeeds, closes the circuit, and everything after is enriched.
    assert!(sources[back..].iter().all(|s| *s == "service") && sources.len() - back >= 10, "{summary}");
    assert!(records[back..].iter().all(|r| r.2 == "closed"), "{summary}");

    // The metrics page, as Prometheus reads it (scraped while running, once the service was
    // back), tagged with the endpoint.
    let get = |name: &str, custom: &str, extra: &[(&str, &str)]| {
        metrics
            .iter()
            .find(|(n, labels, _)| {
                n == name && labels["custom_name"] == custom && labels["endpoint"] == "items" && extra.iter().all(|(k, v)| labels[*k] == *v)
            })
            .map(|s| s.2)
            .unwrap_or_else(|| panic!("no {name} {custom} {extra:?} in {metrics:?}"))
    };
    let counter = "ksml_user_defined_counter_count";
    let calls = |outcome: &str| get(counter, "weir_calls", &[("outcome", outcome)]) as usize;
    let count = |source: &str| sources.iter().filter(|s| **s == source).count();
    // 10 requests before and 10 after (the last of each maybe still under way).
    assert!(calls("success") >= 18 && calls("success") <= count("service"), "{} {summary} {metrics:?}", calls("success"));
    // Every failure and rejection happened before the service came back.
    assert_eq!((calls("failure"), calls("rejected")), (count("failed"), count("fallback")), "{summary} {metrics:?}");
    assert!(get(counter, "weir_circuit_opened", &[]) >= 2.0, "opened, and again after each failed probe: {metrics:?}");
    assert_eq!(get("ksml_user_defined_gauge_value", "weir_circuit_state", &[]), 0.0, "closed again");
    let timed = get("ksml_user_defined_timer_count", "weir_call_latency", &[]);
    let total_ms = get("ksml_user_defined_timer_sum", "weir_call_latency", &[]);
    assert!(timed >= (calls("success") + calls("failure")) as f64 && total_ms > 0.0 && total_ms / timed < 2000.0, "{metrics:?}");
}

/// The samples of the metrics page at `url` as Prometheus' Python client parses it (its
/// OpenMetrics parser): `(name, labels, value)`. The page is kept in `dir` (metrics.txt).
fn scrape(dir: &Dir, url: &str) -> Vec<(String, Json, f64)> {
    const PARSE: &str = r#"
import json, sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
page = open(sys.argv[1]).read()
print(json.dumps([[s.name, s.labels, s.value] for f in text_string_to_metric_families(page) for s in f.samples]))
"#;
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let page = agent.get(url).call().and_then(|mut r| r.body_mut().read_to_string()).unwrap_or_else(|e| panic!("GET {url}: {e}"));
    dir.write("metrics.txt", &page);
    let out =
        Command::new(reference::reference_python()).args(["-c", PARSE]).arg(dir.path.join("metrics.txt")).output().expect("run python");
    assert!(out.status.success(), "prometheus_client cannot parse the page:\n{}\n{page}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("samples")
}

/// examples/api-enrichment, unchanged, against the test service failing 5 % of its answers:
/// with 8 stream threads on 8 partitions, every order enriched (an item's answer cached) or
/// dead-lettered with its cause.
#[test]
fn the_api_enrichment_example_runs() {
    let service = Service::start(&["--latency-ms", "2", "--fail-rate", "0.05", "--seed", "2"]);
    let dir = Dir::new("api-enrichment");
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/api-enrichment");
    for file in ["ksml-runner.yaml", "pipeline.yaml"] {
        dir.write(file, &std::fs::read_to_string(example.join(file)).expect("example file"));
    }
    common::assert_ok(&dir.weir(&["topic", "create", "orders", "--partitions", "8"], ""), "weir topic create");
    let total = 400;
    let orders: String =
        (0..total).map(|n| format!("{{\"key\": \"o{n}\", \"value\": {{\"order\": {n}, \"item\": {}}}}}\n", n % 40)).collect();
    dir.produce("orders", &orders);
    let out = Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(["run", "--until-idle", "--embedded", "ksml-runner.yaml"])
        .current_dir(&dir.path)
        .env("ITEMS_URL", &service.url)
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .output()
        .expect("weir run");
    common::assert_ok(&out, "weir run examples/api-enrichment");
    let enriched = dir.values("orders_enriched");
    let failed = dir.consume("orders.failed");
    assert_eq!(enriched.len() + failed.len(), total, "{} enriched, {} failed", enriched.len(), failed.len());
    for v in &enriched {
        let item = v["item"].as_i64().expect("item");
        assert_eq!((&v["enriched"], v["name"].as_str()), (&Json::Bool(true), Some(format!("item-{item}").as_str())), "{v}");
    }
    for d in &failed {
        assert_eq!((header(d, "weir.error.call.endpoint"), header(d, "weir.error.call.attempts")), ("items", "3"));
    }
    // 40 items: the cache answers most orders, the service saw far fewer requests than orders.
    let mut service = service;
    let requests = service.requests();
    assert!(requests < 200, "{requests} requests for {total} orders of 40 items");
}
