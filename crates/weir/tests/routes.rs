//! HTTP routes (`weir run --routes`, docs/http-routes.md) end to end on the embedded log:
//! `tests/run/routes/orders.yaml` keeps orders in a table (`orders_store`) and sets an
//! order's `state` when a record for it arrives on `checks`; `routes.yaml` posts orders,
//! reads them back, and waits for their validation. Real HTTP requests to a running
//! `weir run`: POST then GET, long-polls that answer as soon as the store changes (and not
//! before), several waiters on one key, the 504 text and `?timeout`, the 4xx answers, a
//! typed (Avro) ingest route, and the route table's mistakes at their lines.

#[path = "run/common.rs"]
mod common;

use std::net::TcpListener;
use std::time::{Duration, Instant};

use common::{Dir, interrupt};
use serde_json::{Value as Json, json};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

/// A runner config: the REST API (on or off) on `port`, the metrics page on `metrics`.
fn runner(port: u16, metrics: u16, rest: bool) -> String {
    format!(
        "ksml:\n  definitions:\n    o: orders.yaml\n  applicationServer:\n    enabled: {rest}\n    host: 127.0.0.1\n    port: {port}\n  \
         prometheus:\n    enabled: true\n    host: 127.0.0.1\n    port: {}\n\
         kafka:\n  application.id: routes-test\n  bootstrap.servers: unused:9092\n",
        metrics
    )
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).build().into()
}

/// An answer: status, `Location`, body.
type Answer = (u16, Option<String>, String);

fn answer(mut response: ureq::http::Response<ureq::Body>) -> Answer {
    let location = response.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_string);
    (response.status().as_u16(), location, response.body_mut().read_to_string().unwrap_or_default())
}

fn get(url: &str) -> Answer {
    answer(agent().get(url).call().unwrap_or_else(|e| panic!("GET {url}: {e}")))
}

fn send(method: &str, url: &str, content_type: &str, body: &str) -> Answer {
    let request = ureq::http::Request::builder().method(method).uri(url).header("Content-Type", content_type).body(body.to_string());
    answer(agent().run(request.expect("request")).unwrap_or_else(|e| panic!("{method} {url}: {e}")))
}

fn post(url: &str, body: &Json) -> Answer {
    post_text(url, &body.to_string())
}

fn post_text(url: &str, body: &str) -> Answer {
    send("POST", url, "application/json", body)
}

fn json_of(answer: &Answer) -> Json {
    assert_eq!(answer.0, 200, "{answer:?}");
    serde_json::from_str(&answer.2).unwrap_or_else(|e| panic!("not JSON ({e}): {answer:?}"))
}

/// Starts a GET on a thread of its own: its answer and how long it took.
fn get_later(url: String) -> std::thread::JoinHandle<(Answer, Duration)> {
    std::thread::spawn(move || {
        let began = Instant::now();
        let answer = get(&url);
        (answer, began.elapsed())
    })
}

/// A background `weir run`, killed if the test fails before stopping it.
struct Run(Option<std::process::Child>);

impl Drop for Run {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn start(dir: &Dir, port: u16, metrics: u16) -> Run {
    for fixture in ["routes/orders.yaml", "routes/routes.yaml", "routes/Order.avsc"] {
        dir.fixture(fixture);
    }
    dir.write("ksml-runner.yaml", &runner(port, metrics, true));
    let run = Run(Some(dir.spawn_run(&["--config", "ksml-runner.yaml", "--routes", "routes.yaml"])));
    let began = Instant::now();
    while get_ready(port) != Some(204) {
        assert!(began.elapsed() < Duration::from_secs(20), "not ready within 20 s\nstderr:\n{}", dir.read("run.stderr"));
        std::thread::sleep(Duration::from_millis(50));
    }
    run
}

fn get_ready(port: u16) -> Option<u16> {
    std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    Some(get(&format!("http://127.0.0.1:{port}/ready")).0)
}

#[test]
fn ingest_and_long_polling_query_routes_answer_from_the_running_application() {
    let dir = Dir::new("routes");
    let (port, metrics) = (free_port(), free_port());
    let mut run = start(&dir, port, metrics);
    let api = format!("http://127.0.0.1:{port}");

    // POST, then GET the Location: the order as posted.
    let order = json!({"id": "1", "customer": 2, "state": "CREATED", "product": "JUMPERS", "quantity": 10, "price": 100.0});
    let posted = post(&format!("{api}/v1/orders/"), &order);
    assert_eq!((posted.0, posted.1.as_deref()), (201, Some(format!("{api}/v1/orders/1").as_str())), "{posted:?}");
    assert_eq!(json_of(&get(&format!("{api}/v1/orders/1?timeout=30000"))), order);
    // The record went to `orders`, keyed by the id.
    let records = dir.consume("orders");
    assert_eq!(records.len(), 1, "{records:?}");
    // (`consume` shows a key that reads as JSON as that JSON.)
    assert_eq!((records[0]["key"].to_string().trim_matches('"'), records[0]["value"].clone()), ("1", order.clone()));

    // Not validated yet: the request waits out its ?timeout, then the 504 text.
    let began = Instant::now();
    let answer = get(&format!("{api}/v1/orders/1/validated?timeout=300"));
    assert_eq!((answer.0, answer.2.as_str()), (504, "HTTP GET timed out after 300 ms\n"));
    assert!(began.elapsed() >= Duration::from_millis(300), "{:?}", began.elapsed());

    // A long-poll answers as soon as the store changes, and not before.
    let waiting = get_later(format!("{api}/v1/orders/1/validated?timeout=30000"));
    std::thread::sleep(Duration::from_millis(700));
    assert!(!waiting.is_finished(), "the long-poll answered before the order was validated");
    dir.produce("checks", r#"{"key": "1", "value": {"ok": true}}"#);
    let (answer, took) = waiting.join().expect("waiter");
    let mut validated = order.clone();
    validated["state"] = json!("VALIDATED");
    assert_eq!(json_of(&answer), validated);
    assert!(took < Duration::from_secs(15), "answered after {took:?}");

    // Several waiters on one key, each with its own condition: a plain GET of a key not
    // there yet answers once it is; the `until` one only once the state is terminal.
    let plain = get_later(format!("{api}/v1/orders/2?timeout=30000"));
    let terminal = get_later(format!("{api}/v1/orders/2/validated?timeout=30000"));
    std::thread::sleep(Duration::from_millis(500));
    let second = json!({"id": "2", "state": "CREATED", "quantity": 1});
    assert_eq!(post(&format!("{api}/v1/orders"), &second).0, 201);
    let (answer, _) = plain.join().expect("plain waiter");
    assert_eq!(json_of(&answer), second);
    std::thread::sleep(Duration::from_millis(300));
    assert!(!terminal.is_finished(), "the /validated waiter answered a CREATED order");
    dir.produce("checks", r#"{"key": "2", "value": {"ok": false}}"#);
    let (answer, _) = terminal.join().expect("validated waiter");
    assert_eq!(json_of(&answer)["state"], json!("FAILED"));

    // A key never written: 504 after the route's default (5000 ms on /validated) unless
    // ?timeout says otherwise.
    let began = Instant::now();
    assert_eq!(get(&format!("{api}/v1/orders/none/validated")).2, "HTTP GET timed out after 5000 ms\n");
    assert!(began.elapsed() >= Duration::from_millis(5000), "{:?}", began.elapsed());
    assert_eq!(get(&format!("{api}/v1/orders/none?timeout=0")), (504, None, "HTTP GET timed out after 0 ms\n".to_string()));

    // Bad requests.
    let orders = format!("{api}/v1/orders");
    let (status, _, body) = send("POST", &orders, "text/plain", r#"{"id": "3"}"#);
    assert_eq!(status, 415, "{body}");
    assert!(body.contains("Content-Type: application/json") && body.contains("'text/plain'"), "{body}");
    let (status, _, body) = send("POST", &orders, "application/json", r#"{"id": "3""#);
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("not valid JSON") && body.contains("line 1"), "{body}");
    let (status, _, body) = post(&orders, &json!({"name": "no id"}));
    assert_eq!((status, body.as_str()), (400, "400: the body has no field 'id' (the template '{body.id}' needs it)"));
    let big = format!("{{\"id\": \"4\", \"pad\": \"{}\"}}", "x".repeat(1 << 20));
    assert_eq!(send("POST", &orders, "application/json; charset=utf-8", &big).0, 413);
    let deep = |levels: usize| format!("{{\"id\": \"5\", \"x\": {}{}}}", "[".repeat(levels - 1), "]".repeat(levels - 1));
    let (status, _, body) = post_text(&orders, &deep(65));
    assert_eq!((status, body.as_str()), (400, "400: the body nests arrays and objects deeper than 64 levels"));
    assert_eq!(get(&format!("{api}/v1/orders/1?timeout=soon")).0, 400);
    assert_eq!(get(&format!("{api}/v1/orders/1?color=red")).0, 400);
    assert_eq!(get(&format!("{api}/v1/nothing")).0, 404);
    let (status, _, body) = send("DELETE", &orders, "application/json", "{}");
    assert_eq!((status, body.contains("it takes POST")), (405, true), "{body}");
    // The REST API's own paths still answer.
    assert_eq!(json_of(&get(&format!("{api}/state/keyValue/orders_store/get/2")))["value"]["state"], json!("FAILED"));

    // A typed route: the body must fit avro:Order, and the answer names the field.
    let typed = format!("{api}/v1/typed/eu");
    let (status, _, body) = send("PUT", &typed, "application/json", r#"{"id": "7", "state": "NEW", "quantity": 3}"#);
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("field 'state'") && body.contains("\"NEW\""), "{body}");
    let (status, _, body) = send("PUT", &typed, "application/json", r#"{"id": "7", "state": "CREATED", "quantity": "x"}"#);
    assert!(status == 400 && body.contains("field 'quantity'"), "{status} {body}");
    assert_eq!(send("PUT", &typed, "application/json", r#"{"id": "7", "state": "CREATED", "quantity": 3}"#).0, 200);
    let out = dir.weir(&["topic", "consume", "typed_orders", "--from-beginning", "--format", "json", "--value-type", "avro:Order"], "");
    let records = common::parse_lines(&common::stdout(&out));
    assert_eq!(records.len(), 1, "{}", common::stderr(&out));
    assert_eq!(
        (records[0]["key"].clone(), records[0]["value"].clone()),
        (json!("eu-7"), json!({"id": "7", "state": "CREATED", "quantity": 3}))
    );

    // Per-route counters on the metrics page.
    let (status, _, page) = get(&format!("http://127.0.0.1:{metrics}/metrics"));
    assert_eq!(status, 200, "{page}");
    for series in [
        r#"weir_route_requests_total{route="POST /v1/orders",status="201"} 2"#,
        r#"weir_route_requests_total{route="GET /v1/orders/{id}/validated",status="504"} 2"#,
        r#"weir_route_requests_total{route="PUT /v1/typed/{region}",status="400"} 2"#,
    ] {
        assert!(page.contains(series), "no {series} in\n{page}");
    }

    let child = run.0.take().expect("running");
    interrupt(&child);
    let (code, _, stderr) = dir.finish(child, Duration::from_secs(20));
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("serving 4 HTTP route(s)"), "{stderr}");
}

/// Whether a diagnostic says `message`, with its location line (`--> file:line:col`) at `at`.
fn said_at(stderr: &str, at: &str, message: &str) -> bool {
    let lines: Vec<&str> = stderr.lines().collect();
    lines.windows(2).any(|w| w[0].contains(message) && w[1].contains(&format!("--> {at}")))
}

#[test]
fn route_table_mistakes_are_reported_at_their_line_by_check_and_run() {
    let dir = Dir::new("routes-errors");
    dir.fixture("routes/orders.yaml");
    dir.write("ksml-runner.yaml", &runner(free_port(), free_port(), true));
    let bad = "routes:
  - path: /v1/orders/{id}
    method: GET
    query:
      store: order_store
      key: \"{id}\"
  - path: /v1/orders/{id}/x
    method: GET
    query:
      store: orders_store
      key: \"{order}\"
  - path: /ready
    method: GET
    query: {store: orders_store, key: a}
  - path: /v1/orders
    method: POST
    produce: {topic: orders, key: \"{body.id}\"}
    respons: {status: 201}
  - path: /v1/orders/{other}
    method: GET
    query: {store: orders_store, key: \"{other}\"}
";
    dir.write("routes.yaml", bad);
    let expected = [
        ("routes.yaml:5:", "no state store named 'order_store' in the application", "did you mean 'orders_store'"),
        ("routes.yaml:11:", "'{order}' is not a parameter of the route's path", "{id}"),
        ("routes.yaml:12:", "clashes with the REST API's own path /ready", ""),
        ("routes.yaml:18:", "unknown key 'respons' in a route", "did you mean 'response'"),
        ("routes.yaml:19:", "duplicate route: GET /v1/orders/{other} is already the route at line 2", ""),
    ];
    let check = dir.weir(&["check", "--routes", "routes.yaml", "ksml-runner.yaml"], "");
    let run = dir.weir(&["run", "--embedded", "--config", "ksml-runner.yaml", "--routes", "routes.yaml"], "");
    for (what, out) in [("check", &check), ("run", &run)] {
        let stderr = common::stderr(out);
        assert_eq!(out.status.code(), Some(1), "{what}: {stderr}");
        // The file's own mistakes first; the store is checked once they are fixed.
        for (at, message, hint) in &expected[1..] {
            assert!(said_at(&stderr, at, message), "{what}: no '{message}' at '{at}' in\n{stderr}");
            assert!(stderr.contains(hint), "{what}: no hint '{hint}' in\n{stderr}");
        }
    }
    // With those fixed, the store name is checked against the application.
    let fixed = bad.lines().take(6).collect::<Vec<_>>().join("\n") + "\n";
    dir.write("routes.yaml", &fixed);
    let check = dir.weir(&["check", "--routes", "routes.yaml", "ksml-runner.yaml"], "");
    let run = dir.weir(&["run", "--embedded", "--config", "ksml-runner.yaml", "--routes", "routes.yaml"], "");
    for (what, out) in [("check", &check), ("run", &run)] {
        let stderr = common::stderr(out);
        let (at, message, hint) = expected[0];
        assert_eq!(out.status.code(), Some(1), "{what}: {stderr}");
        assert!(said_at(&stderr, at, message), "{what}: {stderr}");
        assert!(stderr.contains(hint), "{what}: {stderr}");
    }
    // Routes are served on the REST API: without it, a clear error.
    dir.write("routes.yaml", "routes:\n  - path: /v1/orders/{id}\n    method: GET\n    query: {store: orders_store, key: \"{id}\"}\n");
    dir.write("ksml-runner.yaml", &runner(free_port(), free_port(), false));
    let run = dir.weir(&["run", "--embedded", "--config", "ksml-runner.yaml", "--routes", "routes.yaml"], "");
    let stderr = common::stderr(&run);
    assert_eq!(run.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("enable 'ksml.applicationServer'"), "{stderr}");
}
