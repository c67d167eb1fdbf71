//! The REST API and the Prometheus endpoint of `weir run`, end to end: a run on the embedded
//! log with both enabled on free ports (`tests/run/stores/queries.yaml`: a key-value count,
//! a tumbling-window count, session sums, a count over integer keys, a versioned table),
//! records fed with `weir topic produce` before and while it runs, then real HTTP requests:
//! the probes, queries of every kind of store against the contents the input makes, the
//! error answers, and the metrics page read with Prometheus' own Python OpenMetrics parser
//! (`prometheus_client`, installed by `scripts/python-deps.sh`), whose counters must equal the
//! records fed.

#[path = "run/common.rs"]
mod common;

#[path = "registry/common.rs"]
mod reference;

use std::io::Write as _;
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Dir, interrupt};
use serde_json::{Value as Json, json};

/// A port nothing listens on now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

fn runner(rest_port: u16, metrics_port: u16) -> String {
    format!(
        "ksml:\n  definitions:\n    q: queries.yaml\n  applicationServer:\n    enabled: true\n    host: 127.0.0.1\n    port: {rest_port}\n  \
         prometheus:\n    enabled: true\n    host: 127.0.0.1\n    port: {metrics_port}\n    configFile: prometheus-rules.yaml\n\
         kafka:\n  application.id: rest-test\n  bootstrap.servers: unused:9092\n"
    )
}

/// `GET url`: the status and the body (an HTTP error status is an answer too).
fn get(url: &str) -> (u16, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let mut response = agent.get(url).call().unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = response.status().as_u16();
    (status, response.body_mut().read_to_string().unwrap_or_default())
}

fn get_json(url: &str) -> Json {
    let (status, body) = get(url);
    assert_eq!(status, 200, "GET {url}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {url}: not JSON ({e}): {body}"))
}

/// Retries `check` until it holds, for up to 20 s.
fn eventually(what: &str, dir: &Dir, mut check: impl FnMut() -> bool) {
    let began = Instant::now();
    while !check() {
        assert!(began.elapsed() < Duration::from_secs(20), "{what} did not happen within 20 s\nstderr:\n{}", dir.read("run.stderr"));
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The samples of a metrics page as Prometheus' Python client parses it (its OpenMetrics
/// parser, the format the page declares; stricter than the classic one: it needs the
/// `# EOF`): `(name, labels, value)`, after checking every family has a help text and a type.
fn scrape(url: &str) -> Vec<(String, Json, f64)> {
    const PARSE: &str = r#"
import json, sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
out = []
for family in text_string_to_metric_families(sys.stdin.read()):
    assert family.documentation, f"no HELP for {family.name}"
    assert family.type in ("counter", "gauge"), f"{family.name} is a {family.type}"
    for s in family.samples:
        out.append([s.name, s.labels, s.value])
print(json.dumps(out))
"#;
    let (status, page) = get(url);
    assert_eq!(status, 200, "GET {url}: {page}");
    let mut child = Command::new(reference::reference_python())
        .args(["-c", PARSE])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start python");
    child.stdin.take().expect("stdin").write_all(page.as_bytes()).expect("write page");
    let out = child.wait_with_output().expect("python");
    assert!(out.status.success(), "prometheus_client cannot parse the page:\n{}\n{page}", String::from_utf8_lossy(&out.stderr));
    let samples: Vec<(String, Json, f64)> = serde_json::from_slice(&out.stdout).expect("samples");
    samples
}

fn sample(samples: &[(String, Json, f64)], name: &str, labels: Json) -> Option<f64> {
    samples
        .iter()
        .find(|(n, l, _)| n == name && labels.as_object().is_none_or(|want| want.iter().all(|(k, v)| l.get(k) == Some(v))))
        .map(|s| s.2)
}

#[test]
fn the_rest_api_and_the_metrics_page_answer_from_the_running_application() {
    let dir = Dir::new("rest");
    dir.fixture("stores/queries.yaml");
    let (rest_port, metrics_port) = (free_port(), free_port());
    dir.write("ksml-runner.yaml", &runner(rest_port, metrics_port));
    // Recent times, aligned to the 10 s windows: all clicks fall in the window at `base`.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_millis() as i64;
    let base = (now / 10_000 - 6) * 10_000;
    let click = |key: &str, n: i64, at: i64| json!({"key": key, "value": {"n": n}, "timestamp": base + at}).to_string();
    dir.produce("clicks", &[click("a", 1, 1000), click("b", 2, 2000), click("a", 3, 3000)].join("\n"));
    dir.produce("scores", &json!({"key": "7", "value": {}, "timestamp": base + 1000}).to_string());
    dir.produce(
        "prices",
        &[
            json!({"key": "x", "value": "10", "timestamp": base + 1000}).to_string(),
            json!({"key": "x", "value": "20", "timestamp": base + 5000}).to_string(),
        ]
        .join("\n"),
    );

    let child = dir.spawn_run(&["ksml-runner.yaml"]);
    let api = format!("http://127.0.0.1:{rest_port}");
    let metrics = format!("http://127.0.0.1:{metrics_port}/metrics");
    eventually("the REST API answering /ready with 204", &dir, || {
        std::net::TcpStream::connect(("127.0.0.1", rest_port)).is_ok() && get(&format!("{api}/ready")).0 == 204
    });
    assert_eq!(get(&format!("{api}/startup")).0, 204);
    assert_eq!(get(&format!("{api}/live")).0, 204);
    // One more click while it runs, through the running process.
    dir.produce("clicks", &click("a", 4, 4000));
    // clicks 4, scores 1 (and its repartitioned copy), prices 2.
    eventually("8 records in", &dir, || sample(&scrape(&metrics), "weir_records_in_total", json!({})) == Some(8.0));

    // Key-value: KSML's {key, value} (and Weir's timestamp of a timestamped store).
    let all = get_json(&format!("{api}/state/keyValue/click_count/all"));
    assert_eq!(all, json!([{"key": "a", "value": 3, "timestamp": base + 4000}, {"key": "b", "value": 1, "timestamp": base + 2000}]));
    assert_eq!(get_json(&format!("{api}/state/keyValue/click_count/local/all")), all);
    assert_eq!(get_json(&format!("{api}/state/keyValue/click_count/get/b"))["value"], json!(1));
    assert_eq!(get_json(&format!("{api}/state/keyValue/click_count/local/get/a"))["value"], json!(3));
    assert_eq!(get_json(&format!("{api}/state/keyValue/click_count/get/zzz")), json!({"key": "zzz", "value": null}));
    // Paging and prefixes.
    assert_eq!(get_json(&format!("{api}/state/keyValue/click_count/all?limit=1")).as_array().map(Vec::len), Some(1));
    assert_eq!(get_json(&format!("{api}/state/keyValue/click_count/all?after=a"))[0]["key"], json!("b"));
    assert_eq!(get_json(&format!("{api}/state/keyValue/click_count/all?prefix=b")).as_array().map(Vec::len), Some(1));
    // Keys as text become the store's key type.
    assert_eq!(get_json(&format!("{api}/state/keyValue/score_count/get/7")), json!({"key": 7, "value": 1, "timestamp": base + 1000}));
    let (status, body) = get(&format!("{api}/state/keyValue/score_count/get/seven"));
    assert_eq!((status, body.contains("'seven'") && body.contains("'int'")), (400, true), "{body}");

    // Windows: KSML's {key, value, window: {start, end, startTime, endTime}}.
    let window = |start: i64, end: i64| {
        let iso = |t: i64| weir_engine::store::instant_text(t);
        json!({"start": start, "end": end, "startTime": iso(start), "endTime": iso(end)})
    };
    assert_eq!(
        get_json(&format!("{api}/state/windowed/click_window_count/all")),
        json!([
            {"key": "a", "value": 3, "window": window(base, base + 10_000)},
            {"key": "b", "value": 1, "window": window(base, base + 10_000)},
        ])
    );
    assert_eq!(
        get_json(&format!("{api}/state/windowed/click_window_count/get/a/{base}")),
        json!({"key": "a", "value": 3, "window": window(base, base + 10_000)})
    );
    // No window starts then: KSML answers with no content.
    assert_eq!(get(&format!("{api}/state/windowed/click_window_count/local/get/a/{}", base + 1)).0, 204);

    // Sessions (Weir's): a's clicks within the 5 s gap make one session.
    assert_eq!(
        get_json(&format!("{api}/state/session/click_session_sum/get/a")),
        json!([{"key": "a", "value": 8, "window": window(base + 1000, base + 4000)}])
    );
    assert_eq!(get_json(&format!("{api}/state/session/click_session_sum/all")).as_array().map(Vec::len), Some(2));

    // A versioned table: the latest version, or the one valid at a time.
    assert_eq!(
        get_json(&format!("{api}/state/keyValue/price_history/get/x")),
        json!({"key": "x", "value": "20", "timestamp": base + 5000, "validTo": null})
    );
    assert_eq!(
        get_json(&format!("{api}/state/keyValue/price_history/get/x?at={}", base + 2000)),
        json!({"key": "x", "value": "10", "timestamp": base + 1000, "validTo": base + 5000})
    );
    assert_eq!(
        get_json(&format!("{api}/state/keyValue/price_history/all?at={}", base + 2000)),
        json!([{"key": "x", "value": "10", "timestamp": base + 1000}])
    );

    // Errors.
    assert_eq!(get(&format!("{api}/state/keyValue/nothing/all")), (404, "404: Could not find store nothing of type keyValue".to_string()));
    let (status, body) = get(&format!("{api}/state/windowed/click_count/all"));
    assert_eq!((status, body.contains("/state/keyValue/click_count/")), (404, true), "{body}");
    assert_eq!(get(&format!("{api}/state/keyValue/click_count/all?limit=many")).0, 400);
    assert_eq!(get(&format!("{api}/state/keyValue/click_count/get/a?at=5")).0, 400);
    assert_eq!(get(&format!("{api}/state/keyValue/click_count/all?color=red")).0, 400);

    // The metrics page: counters equal to the records fed, KSML's user metrics, store sizes.
    let samples = scrape(&metrics);
    assert_eq!(sample(&samples, "weir_pipeline_records_out_total", json!({"pipeline": "q.click_counts"})), Some(4.0));
    assert_eq!(sample(&samples, "weir_pipeline_records_out_total", json!({"pipeline": "q.price_updates"})), Some(2.0));
    assert_eq!(sample(&samples, "weir_records_failed_total", json!({})), Some(0.0));
    assert_eq!(sample(&samples, "ksml_user_defined_counter_count", json!({"custom_name": "clicks_seen", "page": "a"})), Some(3.0));
    assert_eq!(sample(&samples, "ksml_user_defined_counter_count", json!({"custom_name": "clicks_seen", "page": "b"})), Some(1.0));
    assert_eq!(sample(&samples, "ksml_user_defined_timer_count", json!({"custom_name": "click_timer"})), Some(4.0));
    assert_eq!(sample(&samples, "ksml_user_defined_timer_max", json!({"custom_name": "click_timer"})), Some(4.0));
    assert_eq!(sample(&samples, "ksml_app", json!({"app_id": "rest-test"})), Some(1.0));
    // Every click went through `amount` and `click_metrics` once.
    for function in ["amount", "click_metrics"] {
        let labels = json!({"namespace": "q", "function_name": function});
        assert_eq!(sample(&samples, "ksml_execution_time_count", labels.clone()), Some(4.0), "{function}");
        let (min, max) = (sample(&samples, "ksml_execution_time_min", labels.clone()), sample(&samples, "ksml_execution_time_max", labels));
        assert!(min.zip(max).is_some_and(|(min, max)| 0.0 < min && min <= max), "{function}: {min:?} {max:?}");
    }
    assert_eq!(sample(&samples, "weir_store_entries", json!({"store": "click_count"})), Some(2.0));
    assert_eq!(sample(&samples, "weir_store_entries", json!({"store": "price_history"})), Some(1.0));
    assert_eq!(sample(&samples, "weir_component_state", json!({"component": "streams", "state": "STARTED"})), Some(1.0));
    assert_eq!(get(&format!("http://127.0.0.1:{metrics_port}/other")).0, 404);
    // Records stamped 45 to 70 s ago reached the sinks as soon as they were fed: the mean
    // end-to-end latency says so.
    let mean = sample(&samples, "weir_record_e2e_latency_mean_seconds", json!({})).expect("e2e latency");
    assert!((40.0..600.0).contains(&mean), "mean e2e latency {mean} s");
    // The largest since the previous scrape: another click, stamped 40+ s ago, shows in one.
    dir.produce("clicks", &click("c", 1, 5000));
    eventually("a scrape with the new click's e2e latency as the largest", &dir, || {
        sample(&scrape(&metrics), "weir_record_e2e_latency_max_seconds", json!({})).is_some_and(|max| (40.0..600.0).contains(&max))
    });
    // Every input partition has a lag series; all reach 0 (positions are published every
    // second).
    let started = std::time::Instant::now();
    let lags = loop {
        let samples = scrape(&metrics);
        let lags: Vec<(String, f64)> = samples
            .iter()
            .filter(|(n, _, _)| n == "weir_consumer_lag")
            .map(|(_, l, v)| (format!("{}/{}", l["topic"].as_str().unwrap_or("?"), l["partition"].as_str().unwrap_or("?")), *v))
            .collect();
        if lags.iter().all(|(_, v)| *v == 0.0) || started.elapsed() > Duration::from_secs(10) {
            break lags;
        }
        std::thread::sleep(Duration::from_millis(300));
    };
    for topic in ["clicks/0", "scores/0", "prices/0"] {
        assert!(lags.iter().any(|(t, _)| t == topic), "a lag series for {topic}: {lags:?}");
    }
    assert!(lags.iter().all(|(_, v)| *v == 0.0), "every input read to its end: {lags:?}");

    interrupt(&child);
    let (code, _, stderr) = dir.finish(child, Duration::from_secs(20));
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains(&format!("REST API listening on http://127.0.0.1:{rest_port}")), "{stderr}");
    // A setting Weir does not use is said, not ignored.
    assert!(stderr.contains("warning: 'prometheus.configFile' ('prometheus-rules.yaml') is not read"), "{stderr}");
}

#[test]
fn a_port_that_cannot_be_bound_stops_the_start_naming_it() {
    let dir = Dir::new("rest-port");
    dir.fixture("stores/queries.yaml");
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    dir.write("ksml-runner.yaml", &runner(port, free_port()));
    let out = dir.run(&["ksml-runner.yaml"]);
    let stderr = common::stderr(&out);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains(&format!("cannot listen on 127.0.0.1:{port} for the REST API")), "{stderr}");
    assert!(stderr.contains("ksml.applicationServer.port"), "{stderr}");
    drop(taken);
}

/// CQRS (`examples/cqrs-read-model`): the two read models of an order event log, queried over
/// the REST API while the application runs, equal to folding the log in plain Python
/// (`order_events.py`'s `read_models`); a later event changes the answer.
#[test]
fn cqrs_read_models_are_queried_over_the_rest_api() {
    let dir = Dir::new("rest-cqrs");
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/cqrs-read-model");
    let rest_port = free_port();
    dir.write(
        "ksml-runner.yaml",
        &format!(
            "ksml:\n  definitions:\n    orders: {}\n  applicationServer:\n    enabled: true\n    host: 127.0.0.1\n    port: {rest_port}\n\
             kafka:\n  application.id: cqrs-test\n  bootstrap.servers: unused:9092\n",
            example.join("pipeline.yaml").display()
        ),
    );
    let fold = |code: &str| -> Json {
        let out = Command::new(reference::reference_python())
            .args(["-c", &format!("import json, order_events as o\n{code}")])
            .current_dir(&example)
            .output()
            .expect("python");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).expect("JSON")
    };
    let events = fold("print(json.dumps([{'key': k, 'value': v} for k, v in o.event_log()]))");
    let lines: Vec<String> = events.as_array().expect("events").iter().map(Json::to_string).collect();
    dir.produce("order_events", &lines.join("\n"));
    let [orders, customers] = [0, 1].map(|i| fold(&format!("print(json.dumps(o.read_models(o.event_log())[{i}]))")));

    let child = dir.spawn_run(&["ksml-runner.yaml"]);
    let api = format!("http://127.0.0.1:{rest_port}/state/keyValue");
    eventually("the REST API listening", &dir, || std::net::TcpStream::connect(("127.0.0.1", rest_port)).is_ok());
    let value = |store: &str, key: &str| -> Json {
        let (status, body) = get(&format!("{api}/{store}/get/{key}"));
        if status != 200 {
            return Json::Null;
        }
        serde_json::from_str::<Json>(&body).map(|j| j["value"].clone()).unwrap_or(Json::Null)
    };
    eventually("customer c-2's summary as the fold gives it", &dir, || value("customer_orders", "c-2") == customers["c-2"]);
    for (id, order) in orders.as_object().expect("orders") {
        assert_eq!(&value("order_status", id), order, "order {id}");
    }
    let all: Vec<(Json, Json)> = get_json(&format!("{api}/customer_orders/all"))
        .as_array()
        .expect("all")
        .iter()
        .map(|e| (e["key"].clone(), e["value"].clone()))
        .collect();
    let want: Vec<(Json, Json)> = customers.as_object().expect("customers").iter().map(|(k, v)| (json!(k), v.clone())).collect();
    assert_eq!(all, want);
    // The write side ships o-3: the read models follow.
    dir.produce("order_events", &json!({"key": "o-3", "value": {"type": "shipped"}}).to_string());
    eventually("o-3 shipped in c-2's summary", &dir, || value("customer_orders", "c-2")["shipped"] == json!(1));
    assert_eq!(value("customer_orders", "c-2"), json!({"placed": 1, "shipped": 1, "cancelled": 0, "open_total": 99}));
    assert_eq!(value("order_status", "o-3")["status"], json!("shipped"));

    interrupt(&child);
    let (code, _, stderr) = dir.finish(child, Duration::from_secs(20));
    assert_eq!(code, Some(0), "{stderr}");
}
