//! The orders example (`examples/orders`) on a real Apache Kafka broker (`scripts/kafka.sh`;
//! see `kafka/common.rs`), as `examples/orders/run-kafka.sh` runs it: each service its own
//! `weir run` process on its runner config in `examples/orders/kafka/` (its own application
//! id), two Orders Service instances, Avro through a Confluent-API registry (the test's fake,
//! `registry/fake_registry.py`). Orders of every kind go in through `order-requests`; both
//! instances' `orders_store` must then show each order's final state, each answering for
//! every order (the orders topic has two partitions, so each instance forwards some keys).
//! The HTTP routes themselves are not used here.

#[path = "kafka/common.rs"]
mod common;
#[path = "registry/common.rs"]
mod registry;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{bootstrap, interrupt, serial, unique, wait};
use serde_json::{Value as Json, json};

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/orders").canonicalize().expect("examples/orders")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

/// `weir <args>` in the example's directory, with its runner configs' variables.
fn weir(env: &[(&str, String)], args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_weir"));
    c.args(args).current_dir(example()).env("NO_COLOR", "1").env_remove("RUST_LOG");
    c.envs(env.iter().map(|(k, v)| (*k, v.as_str())));
    c
}

fn get(url: &str) -> (u16, String) {
    let agent: ureq::Agent =
        ureq::Agent::config_builder().http_status_as_error(false).timeout_global(Some(Duration::from_secs(20))).build().into();
    match agent.get(url).call() {
        Ok(mut r) => (r.status().as_u16(), r.body_mut().read_to_string().unwrap_or_default()),
        Err(e) => (0, e.to_string()),
    }
}

#[test]
fn orders_services_on_kafka() {
    let _serial = serial();
    let bootstrap = bootstrap().to_string();
    let fake = registry::Fake::start();
    let state = std::env::temp_dir().join(unique("weir-kafka-orders"));
    let env = |name: &str| -> Vec<(&str, String)> {
        vec![
            ("KAFKA_BOOTSTRAP", bootstrap.clone()),
            ("SCHEMA_REGISTRY_URL", fake.url.clone()),
            ("WEIR_STATE", state.join(name).to_string_lossy().into_owned()),
        ]
    };
    // orders and order-validations with two partitions (equal: the aggregator joins them), as
    // run-kafka.sh creates them; a broker that already has them (an earlier run) keeps them.
    for topic in ["orders", "order-validations"] {
        let exists =
            weir(&env("topics"), &["topic", "--bootstrap-server", &bootstrap, "describe", topic]).output().expect("weir topic describe");
        if !exists.status.success() {
            let out = weir(&env("topics"), &["topic", "--bootstrap-server", &bootstrap, "create", topic, "--partitions", "2"])
                .output()
                .expect("create");
            common::assert_ok(&out, &format!("weir topic create {topic}"));
        }
    }
    let seed = weir(&env("seed"), &["run", "--until-idle", "--no-progress", "kafka/seed.yaml"]).output().expect("weir run seed");
    common::assert_ok(&seed, "the seed run");

    let ports = [free_port(), free_port()];
    let mut services: Vec<(String, Child)> = Vec::new();
    let mut start = |name: &str, config: &str, port: Option<u16>| {
        let mut vars = env(name);
        if let Some(port) = port {
            vars.push(("ORDERS_PORT", port.to_string()));
        }
        std::fs::create_dir_all(&state).expect("state dir");
        let log = std::fs::File::create(state.join(format!("{name}.log"))).expect("log file");
        let child = weir(&vars, &["run", "--no-progress", config])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start weir run");
        services.push((name.to_string(), child));
    };
    start("orders-service-1", "kafka/orders-service.yaml", Some(ports[0]));
    start("orders-service-2", "kafka/orders-service.yaml", Some(ports[1]));
    for service in ["order-details", "fraud", "inventory", "validations-aggregator", "email", "json-ingest"] {
        start(service, &format!("kafka/{service}.yaml"), None);
    }

    // Orders of every kind, with ids of this run (the broker may hold earlier runs' orders).
    let run = unique("o");
    let kinds = [
        ("pass", 1, "JUMPERS", 1, 1.0, "VALIDATED"),
        ("details", 2, "UNDERPANTS", 1, -1.0, "FAILED"),
        ("fraud", 9, "JUMPERS", 1, 2500.0, "FAILED"),
        ("inventory", 4, "UNDERPANTS", 1_000_000, 0.0, "FAILED"),
        ("nostock", 5, "STOCKINGS", 1, 1.0, "CREATED"),
        ("pass2", 6, "UNDERPANTS", 2, 10.0, "VALIDATED"),
    ];
    let orders: Vec<(String, Json, &str)> = kinds
        .iter()
        .map(|(kind, customer, product, quantity, price, expected)| {
            let id = format!("{run}-{kind}");
            let order =
                json!({"id": id, "customerId": customer, "state": "CREATED", "product": product, "quantity": quantity, "price": price});
            (id, order, *expected)
        })
        .collect();
    let lines: String = orders.iter().map(|(id, order, _)| format!("{}\n", json!({"key": id, "value": order}))).collect();
    let mut produce = weir(&env("topics"), &["topic", "--bootstrap-server", &bootstrap, "produce", "order-requests"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("weir topic produce");
    std::io::Write::write_all(&mut produce.stdin.take().expect("stdin"), lines.as_bytes()).expect("write orders");
    common::assert_ok(&produce.wait_with_output().expect("produce"), "weir topic produce order-requests");

    // Both instances answer for every order; each reaches its final state.
    let deadline = Instant::now() + Duration::from_secs(120);
    let state_of = |port: u16, id: &str| -> Option<Json> {
        let (status, body) = get(&format!("http://127.0.0.1:{port}/state/keyValue/orders_store/get/{id}"));
        if status != 200 {
            return None;
        }
        serde_json::from_str::<Json>(&body).ok().map(|j| j["value"].clone()).filter(|v| !v.is_null())
    };
    let last = loop {
        let last = orders
            .iter()
            .flat_map(|(id, _, _)| ports.iter().map(move |p| (*p, id.clone())))
            .map(|(port, id)| (port, id.clone(), state_of(port, &id)))
            .collect::<Vec<_>>();
        let done = last.iter().all(|(_, id, value)| {
            let (_, order, expected) = orders.iter().find(|(i, _, _)| i == id).expect("order");
            value.as_ref().is_some_and(|v| {
                v["state"] == *expected && {
                    let mut o = order.clone();
                    o["state"] = v["state"].clone();
                    o == *v
                }
            })
        });
        if done || Instant::now() > deadline {
            break last;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    let mut problems = Vec::new();
    for (port, id, value) in &last {
        let expected = orders.iter().find(|(i, _, _)| i == id).map(|(_, _, e)| *e).unwrap_or_default();
        if value.as_ref().map(|v| &v["state"]) != Some(&json!(expected)) {
            problems.push(format!("instance :{port}, order {id}: {value:?}, expected {expected}"));
        }
    }

    for (name, child) in &mut services {
        interrupt(child);
        let code = wait(child, Duration::from_secs(60), name);
        if code != Some(0) {
            problems.push(format!("{name} exited with {code:?}"));
        }
    }
    if problems.is_empty() {
        let _ = std::fs::remove_dir_all(&state);
    } else {
        let logs: String = services
            .iter()
            .map(|(name, _)| format!("--- {name}\n{}\n", std::fs::read_to_string(state.join(format!("{name}.log"))).unwrap_or_default()))
            .collect();
        panic!("{}\nlogs in {}:\n{logs}", problems.join("\n"), state.display());
    }
}
