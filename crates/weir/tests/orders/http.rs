//! Helpers for the tests of the orders example's HTTP interface (`examples/orders/routes.yaml`
//! served by `weir run --routes`): requests to an Orders Service instance, waiting for it to
//! be ready and seeded, the demo client (`examples/orders/client.py`), and many orders posted
//! at once.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value as Json, json};

pub fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/orders").canonicalize().expect("examples/orders")
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).timeout_global(Some(Duration::from_secs(180))).build().into()
}

/// Status and body; status 0 when no answer came (the text says why).
pub fn get(url: &str) -> (u16, String) {
    match agent().get(url).call() {
        Ok(mut r) => (r.status().as_u16(), r.body_mut().read_to_string().unwrap_or_default()),
        Err(e) => (0, e.to_string()),
    }
}

/// POST a JSON body: status, `Location`, body; status 0 when no answer came.
pub fn post(url: &str, body: &Json) -> (u16, Option<String>, String) {
    let request = ureq::http::Request::builder()
        .method("POST")
        .uri(url)
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .expect("request");
    match agent().run(request) {
        Ok(mut r) => {
            let location = r.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_string);
            (r.status().as_u16(), location, r.body_mut().read_to_string().unwrap_or_default())
        }
        Err(e) => (0, None, e.to_string()),
    }
}

/// The JSON of a 200 answer, else `None`.
pub fn json_200(answer: &(u16, String)) -> Option<Json> {
    (answer.0 == 200).then(|| serde_json::from_str(&answer.1).ok()).flatten()
}

/// Waits until the instance at `base` is ready (`/ready` 204) and holds the seed's stock
/// levels (its `warehouse_stock`, through the REST API), or panics after `within` with `log()`.
pub fn wait_ready(base: &str, stock: bool, within: Duration, log: impl Fn() -> String) {
    let began = Instant::now();
    loop {
        let ready = get(&format!("{base}/ready")).0 == 204;
        let seeded = !stock
            || ["JUMPERS", "UNDERPANTS"]
                .iter()
                .all(|p| json_200(&get(&format!("{base}/state/keyValue/warehouse_stock/get/{p}"))).is_some_and(|j| !j["value"].is_null()));
        if ready && seeded {
            return;
        }
        assert!(began.elapsed() < within, "{base} not ready (and seeded) within {within:?}\n{}", log());
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Runs the demo client against `urls` (comma-separated) for `n` orders; asserts it found
/// every order as the rules say, and returns its output.
pub fn run_client(urls: &str, n: usize, weir_topic: Option<&str>) -> String {
    let mut c = Command::new("python3");
    c.arg(example().join("client.py")).args(["--url", urls, "-n", &n.to_string(), "--timeout", "60000"]);
    if let Some(topic) = weir_topic {
        c.args(["--weir-topic", topic]);
    }
    let out = c.output().expect("run python3 client.py");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        out.status.success() && lines.last() == Some(&format!("{n} of {n} orders as the rules say").as_str()),
        "client.py: {:?}\n{stdout}\n{stderr}",
        out.status.code()
    );
    // One line per order, with the state its kind must reach (client.py checks it too).
    let expected = [("pass", "VALIDATED"), ("details", "FAILED"), ("fraud", "FAILED"), ("inventory", "FAILED"), ("no-stock", "CREATED")];
    let orders: Vec<&&str> = lines.iter().filter(|l| l.contains("  ->  ")).collect();
    assert_eq!(orders.len(), n, "{stdout}");
    for (i, line) in orders.iter().enumerate() {
        let (kind, state) = expected[i % expected.len()];
        let words: Vec<&str> = line.split_whitespace().collect();
        assert!(words.get(1) == Some(&kind) && line.contains(&format!("->  {state} ")), "order {i} should be {kind} -> {state}: {line}");
    }
    stdout
}

/// An order of one unit of `product` at `price` for customer `customer`.
pub fn order(id: &str, customer: u32, product: &str, quantity: i64, price: f64) -> Json {
    json!({"id": id, "customerId": customer, "state": "CREATED", "product": product, "quantity": quantity, "price": price})
}

/// Posts `orders` from `threads` threads at once, to the instances `bases` in turn; the
/// statuses of the POSTs, by order.
pub fn post_concurrently(bases: &[String], orders: &[Json], threads: usize) -> Vec<u16> {
    let orders = Arc::new(orders.to_vec());
    let bases = Arc::new(bases.to_vec());
    let next = Arc::new(AtomicUsize::new(0));
    let statuses = Arc::new(std::sync::Mutex::new(vec![0u16; orders.len()]));
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (orders, bases, next, statuses) = (orders.clone(), bases.clone(), next.clone(), statuses.clone());
            std::thread::spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(order) = orders.get(i) else { break };
                    // 30 s for the write's acknowledgement (the route's default is the
                    // original's 10 s): on the shared 2-core CI machine, two ecosystems' worth of
                    // processes and a broker, one instance's acknowledgements once took longer.
                    let (status, _, _) = post(&format!("{}/v1/orders?timeout=30000", bases[i % bases.len()]), order);
                    statuses.lock().expect("statuses")[i] = status;
                }
            })
        })
        .collect();
    for w in workers {
        w.join().expect("poster");
    }
    statuses.lock().expect("statuses").clone()
}

/// Each order's final state, read with the blocking `GET /v1/orders/{id}/validated` (from
/// `threads` threads, each order at the instance after the one [`post_concurrently`] posted it
/// to, each waiting up to `timeout_ms`):
/// `Ok(order as read)` or `Err(status and body)`.
pub fn validated(bases: &[String], ids: &[String], threads: usize, timeout_ms: u64) -> Vec<Result<Json, String>> {
    let ids = Arc::new(ids.to_vec());
    let bases = Arc::new(bases.to_vec());
    let next = Arc::new(AtomicUsize::new(0));
    let results = Arc::new(std::sync::Mutex::new(vec![Err(String::new()); ids.len()]));
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (ids, bases, next, results) = (ids.clone(), bases.clone(), next.clone(), results.clone());
            std::thread::spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(id) = ids.get(i) else { break };
                    let base = &bases[(i + 1) % bases.len()];
                    let answer = get(&format!("{base}/v1/orders/{id}/validated?timeout={timeout_ms}"));
                    let result = json_200(&answer).ok_or_else(|| format!("GET {base}/v1/orders/{id}/validated: {answer:?}"));
                    results.lock().expect("results")[i] = result;
                }
            })
        })
        .collect();
    for w in workers {
        w.join().expect("reader");
    }
    results.lock().expect("results").clone()
}
