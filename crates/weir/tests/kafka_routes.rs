//! HTTP routes (`weir run --routes`, docs/http-routes.md) of an application scaled out on a
//! real Apache Kafka broker (`scripts/kafka.sh`; see `kafka/common.rs`): two `weir run`
//! processes of one application share `tests/run/routes/orders.yaml`'s order table over
//! 4-partition topics, each holding the keys of its partitions. Orders are posted to the
//! first; every one is read, and waited for until validated, through the second, whichever
//! process holds it (the second forwards to the first what the first holds).

#[path = "kafka/common.rs"]
mod common;

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use common::{App, bootstrap, create_topic, interrupt, produce, serial, unique, wait};
use serde_json::{Value as Json, json};
use weir_engine::partitioner::partition_for_key;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).timeout_global(Some(Duration::from_secs(60))).build().into()
}

/// Status and body of a GET.
fn get(url: &str) -> (u16, String) {
    match agent().get(url).call() {
        Ok(mut r) => (r.status().as_u16(), r.body_mut().read_to_string().unwrap_or_default()),
        Err(e) => (0, e.to_string()),
    }
}

fn post(url: &str, body: &Json) -> (u16, String) {
    match agent().post(url).header("Content-Type", "application/json").send(body.to_string()) {
        Ok(mut r) => (r.status().as_u16(), r.body_mut().read_to_string().unwrap_or_default()),
        Err(e) => (0, e.to_string()),
    }
}

fn json_of(what: &str, (status, body): &(u16, String)) -> Json {
    assert_eq!(*status, 200, "{what}: {body}");
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {body}"))
}

/// The background `weir run`s, killed if the test fails before stopping them.
struct Runs(Vec<std::process::Child>);

impl Drop for Runs {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[test]
fn either_process_answers_a_route_for_every_key_waiting_at_the_owner() {
    let _serial = serial();
    let b = bootstrap();
    let (orders, checks, seen) = (unique("routes-orders"), unique("routes-checks"), unique("routes-seen"));
    for topic in [&orders, &checks, &seen] {
        create_topic(b, topic, 4);
    }
    let fixture = std::fs::read_to_string(common::root().join("crates/weir/tests/run/routes/orders.yaml")).expect("fixture");
    let definition = fixture
        .replace("topic: orders_seen", &format!("topic: {seen}"))
        .replace("topic: orders\n", &format!("topic: {orders}\n"))
        .replace("topic: checks\n", &format!("topic: {checks}\n"));
    assert_eq!(definition.matches(&orders).count(), 1, "{definition}");
    let app = App::new("routes", b, &definition, "");
    let routes = format!(
        "routes:\n  - path: /v1/orders\n    method: POST\n    produce: {{topic: {orders}, key: \"{{body.id}}\"}}\n\
         \x20 - path: /v1/orders/{{id}}\n    method: GET\n    query: {{store: orders_store, key: \"{{id}}\", timeout: 30000}}\n\
         \x20 - path: /v1/orders/{{id}}/validated\n    method: GET\n    query:\n      store: orders_store\n      key: \"{{id}}\"\n      \
         timeout: 60000\n      until: {{field: state, in: [VALIDATED, FAILED]}}\n"
    );
    std::fs::write(app.dir.join("routes.yaml"), routes).expect("routes");
    let config = std::fs::read_to_string(app.dir.join("ksml-runner.yaml")).expect("config");
    let ports = [free_port(), free_port()];
    let mut children = Runs(Vec::new());
    for (name, port) in ["first", "second"].iter().zip(ports) {
        let with_rest = config.replacen(
            "ksml:\n",
            &format!("ksml:\n  applicationServer:\n    enabled: true\n    host: 127.0.0.1\n    port: {port}\n"),
            1,
        );
        let file = format!("{name}.yaml");
        std::fs::write(app.dir.join(&file), with_rest).expect("config");
        children.0.push(app.spawn_args(name, &["run", "--routes", "routes.yaml", &file]));
    }
    let urls: Vec<String> = ports.iter().map(|p| format!("http://127.0.0.1:{p}")).collect();
    let logs = || format!("first:\n{}\nsecond:\n{}", app.stderr_of("first"), app.stderr_of("second"));
    for url in &urls {
        let start = Instant::now();
        while get(&format!("{url}/ready")).0 != 204 {
            for child in &mut children.0 {
                assert!(child.try_wait().ok().flatten().is_none(), "a process ended\n{}", logs());
            }
            assert!(start.elapsed() < Duration::from_secs(60), "{url} never ready\n{}", logs());
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    // 12 orders over every partition, posted to the first process.
    let ids: Vec<String> = (0..12).map(|n| format!("order-{n}")).collect();
    assert_eq!(ids.iter().map(|k| partition_for_key(k.as_bytes(), 4)).collect::<std::collections::BTreeSet<_>>().len(), 4);
    let order = |id: &str, state: &str| json!({"id": id, "state": state, "quantity": 1});
    for id in &ids {
        let (status, body) = post(&format!("{}/v1/orders", urls[0]), &order(id, "CREATED"));
        assert_eq!(status, 201, "POST {id}: {body}\n{}", logs());
    }
    // Read back through the second process (long-polls: it may not have been processed yet),
    // and through the first.
    for url in urls.iter().rev() {
        for id in &ids {
            let got = json_of(&format!("GET {id} from {url}"), &get(&format!("{url}/v1/orders/{id}")));
            assert_eq!(got, order(id, "CREATED"), "{url} {id}");
        }
    }
    // Each process holds part of the table: the second answered for keys it holds and for
    // keys it forwarded to the first.
    let held: Vec<usize> = urls
        .iter()
        .map(|u| json_of("local/all", &get(&format!("{u}/state/keyValue/orders_store/local/all"))).as_array().map_or(0, Vec::len))
        .collect();
    assert!(held.iter().all(|n| *n > 0) && held.iter().sum::<usize>() == ids.len(), "keys held: {held:?}\n{}", logs());

    // Waiters on the second process for every order, then the checks: each answers VALIDATED
    // (even ids) or FAILED (odd ones).
    let waiters: Vec<_> = ids
        .iter()
        .map(|id| {
            let url = format!("{}/v1/orders/{id}/validated", urls[1]);
            std::thread::spawn(move || get(&url))
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let records: Vec<Json> = ids
        .iter()
        .enumerate()
        .map(|(n, id)| {
            let value = json!({"ok": n % 2 == 0}).to_string();
            json!({"key": id, "value": value, "partition": partition_for_key(id.as_bytes(), 4)})
        })
        .collect();
    produce(b, &checks, &records);
    let mut states = BTreeMap::new();
    for (id, waiter) in ids.iter().zip(waiters) {
        let answer = waiter.join().expect("waiter");
        states.insert(id.clone(), json_of(&format!("GET {id}/validated"), &answer)["state"].clone());
    }
    for (n, id) in ids.iter().enumerate() {
        assert_eq!(states[id], json!(if n % 2 == 0 { "VALIDATED" } else { "FAILED" }), "{id}: {states:?}");
    }

    for (name, child) in ["first", "second"].iter().zip(&mut children.0) {
        interrupt(child);
        assert_eq!(wait(child, Duration::from_secs(60), name), Some(0), "{}", logs());
    }
}
