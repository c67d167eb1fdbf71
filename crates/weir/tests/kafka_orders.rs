//! The orders example (`examples/orders`) on a real Apache Kafka broker (`scripts/kafka.sh`;
//! see `kafka/common.rs`), as `examples/orders/run-kafka.sh` runs it: each service its own
//! `weir run` process on its runner config in `examples/orders/kafka/` (its own application
//! id), two Orders Service instances, Avro through a Confluent-API registry (the test's fake,
//! `registry/fake_registry.py`, one for the whole binary).
//!
//! - `orders_services_on_kafka`: orders of every kind go in through `order-requests`; both
//!   instances' `orders_store` must then show each order's final state, each answering for
//!   every order (the orders topic has two partitions, so each instance forwards some keys).
//! - `orders_over_http_on_two_instances_survive_the_kill_of_one`: the HTTP interface
//!   (`routes.yaml`) on both instances: the demo client across them (the original's
//!   EndToEndTest, read-your-writes at the other instance), every order from either, then a
//!   SIGKILL of one instance mid-run (orders before and after it all validated, the survivor
//!   answering and holding all), then a new instance in its place (both answer for all again).
//! - `concurrent_orders_on_kafka_never_reserve_more_than_the_stock`: 200 orders of one unit
//!   over HTTP from 16 threads against a stock of 50: 50 VALIDATED, the reservations never
//!   above the stock.

#[path = "kafka/common.rs"]
mod common;
#[path = "orders/http.rs"]
mod http;
#[path = "registry/common.rs"]
mod registry;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{bootstrap, interrupt, serial, unique, wait};
use http::{example, free_port};
use serde_json::{Value as Json, json};

/// `weir <args>` in the example's directory, with its runner configs' variables.
fn weir(env: &[(&str, String)], args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_weir"));
    c.args(args).current_dir(example()).env("NO_COLOR", "1").env_remove("RUST_LOG");
    c.envs(env.iter().map(|(k, v)| (*k, v.as_str())));
    c
}

/// The ecosystem on the broker: the seed written, then every service's process started.
struct Ecosystem {
    bootstrap: String,
    state: PathBuf,
    ports: [u16; 2],
    services: Vec<(String, Option<Child>)>,
    registry_url: String,
}

/// The registry of every test here: one for the whole test binary, since the services' groups
/// (fixed application ids) may resume behind records an earlier test wrote, whose schema ids
/// only that registry knows. (A broker kept from an earlier run of this binary can hold such
/// records too: stop it, `scripts/kafka.sh stop --dir target/kafka-tests`, if a service fails
/// to fetch a writer's schema.)
fn registry_url() -> String {
    static FAKE: std::sync::OnceLock<registry::Fake> = std::sync::OnceLock::new();
    FAKE.get_or_init(registry::Fake::start).url.clone()
}

impl Ecosystem {
    /// `routes`: the Orders Service instances serve `routes.yaml` too; `session_ms`: their
    /// `session.timeout.ms`.
    fn start(routes: bool, session_ms: Option<u64>) -> Ecosystem {
        let bootstrap = bootstrap().to_string();
        let registry_url = registry_url();
        let state = std::env::temp_dir().join(unique("weir-kafka-orders"));
        let mut e = Ecosystem { bootstrap, state, ports: [free_port(), free_port()], services: Vec::new(), registry_url };
        // orders and order-validations with two partitions (equal: the aggregator joins
        // them), as run-kafka.sh creates them; a broker that already has them (an earlier
        // run) keeps them.
        for topic in ["orders", "order-validations"] {
            let exists = e.weir("topics", &["topic", "--bootstrap-server", &e.bootstrap, "describe", topic]).output().expect("describe");
            if !exists.status.success() {
                let out = e
                    .weir("topics", &["topic", "--bootstrap-server", &e.bootstrap, "create", topic, "--partitions", "2"])
                    .output()
                    .expect("create");
                common::assert_ok(&out, &format!("weir topic create {topic}"));
            }
        }
        let seed = e.weir("seed", &["run", "--until-idle", "--no-progress", "kafka/seed.yaml"]).output().expect("weir run seed");
        common::assert_ok(&seed, "the seed run");
        for i in 0..2 {
            let mut extra = vec![("ORDERS_PORT", e.ports[i].to_string())];
            if let Some(ms) = session_ms {
                extra.push(("ORDERS_SESSION_TIMEOUT_MS", ms.to_string()));
            }
            let args: &[&str] = if routes { &["--routes", "routes.yaml"] } else { &[] };
            e.spawn(&format!("orders-service-{}", i + 1), "kafka/orders-service.yaml", &extra, args);
        }
        for service in ["order-details", "fraud", "inventory", "validations-aggregator", "email", "json-ingest"] {
            e.spawn(service, &format!("kafka/{service}.yaml"), &[], &[]);
        }
        e
    }

    /// The runner configs' variables for the service `name`.
    fn env(&self, name: &str) -> Vec<(&'static str, String)> {
        vec![
            ("KAFKA_BOOTSTRAP", self.bootstrap.clone()),
            ("SCHEMA_REGISTRY_URL", self.registry_url.clone()),
            ("WEIR_STATE", self.state.join(name).to_string_lossy().into_owned()),
        ]
    }

    fn weir(&self, name: &str, args: &[&str]) -> Command {
        weir(&self.env(name), args)
    }

    fn spawn(&mut self, name: &str, config: &str, extra: &[(&'static str, String)], args: &[&str]) {
        let mut vars = self.env(name);
        vars.extend(extra.iter().cloned());
        std::fs::create_dir_all(&self.state).expect("state dir");
        let log = std::fs::File::create(self.state.join(format!("{name}.log"))).expect("log file");
        let mut all = vec!["run", "--no-progress"];
        all.extend_from_slice(args);
        all.push(config);
        let child = weir(&vars, &all).stdin(Stdio::null()).stdout(Stdio::null()).stderr(log).spawn().expect("start weir run");
        self.services.push((name.to_string(), Some(child)));
    }

    fn base(&self, instance: usize) -> String {
        format!("http://127.0.0.1:{}", self.ports[instance])
    }

    fn logs(&self) -> String {
        self.services
            .iter()
            .map(|(name, _)| {
                format!("--- {name}\n{}\n", std::fs::read_to_string(self.state.join(format!("{name}.log"))).unwrap_or_default())
            })
            .collect()
    }

    /// SIGKILL to the service `name`.
    fn kill(&mut self, name: &str) {
        let (_, child) = self.services.iter_mut().find(|(n, _)| n == name).expect("a service of that name");
        let mut child = child.take().expect("running");
        child.kill().expect("SIGKILL");
        let _ = child.wait();
    }

    /// Stops every service still running with SIGINT: the problems (a service not exiting 0).
    fn stop(&mut self) -> Vec<String> {
        let mut problems = Vec::new();
        for (name, child) in &mut self.services {
            if let Some(child) = child.as_mut() {
                interrupt(child);
                let code = wait(child, Duration::from_secs(60), name);
                if code != Some(0) {
                    problems.push(format!("{name} exited with {code:?}"));
                }
            }
            *child = None;
        }
        problems
    }

    /// Panics with `problems` and the logs unless there are none; removes the state then.
    fn finish(&self, problems: &[String]) {
        if problems.is_empty() {
            let _ = std::fs::remove_dir_all(&self.state);
        } else {
            panic!("{}\nlogs in {}:\n{}", problems.join("\n"), self.state.display(), self.logs());
        }
    }
}

impl Drop for Ecosystem {
    fn drop(&mut self) {
        for (_, child) in &mut self.services {
            if let Some(mut c) = child.take() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }
}

#[test]
fn orders_services_on_kafka() {
    let _serial = serial();
    let mut e = Ecosystem::start(false, None);
    let (bootstrap, ports) = (e.bootstrap.clone(), e.ports);

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
    let mut produce = e
        .weir("topics", &["topic", "--bootstrap-server", &bootstrap, "produce", "order-requests"])
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
        let (status, body) = http::get(&format!("http://127.0.0.1:{port}/state/keyValue/orders_store/get/{id}"));
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
    problems.extend(e.stop());
    e.finish(&problems);
}

/// An order of the run `run` that passes every check without reserving stock (quantity 0),
/// so that runs on a broker kept from earlier ones never run out of jumpers.
fn free_order(run: &str, name: &str, i: usize) -> Json {
    http::order(&format!("{run}-{name}{i:02}"), 1 + (i % 8) as u32, "JUMPERS", 0, 1.0)
}

#[test]
fn orders_over_http_on_two_instances_survive_the_kill_of_one() {
    // The ecosystem with the HTTP interface on both Orders Service instances (a 6 s session
    // timeout, so that the survivor takes over soon after the kill).
    let _serial = serial();
    let mut e = Ecosystem::start(true, Some(6000));
    let bases = [e.base(0), e.base(1)];
    for base in &bases {
        http::wait_ready(base, false, Duration::from_secs(120), || e.logs());
    }
    // The original's EndToEndTest over HTTP: client.py posts each order to one instance and
    // reads it back, then waits for its validation at the other one (read-your-writes across
    // instances, one of them forwarding), and checks each outcome against the rules.
    let topic = format!("{} topic --bootstrap-server {}", env!("CARGO_BIN_EXE_weir"), e.bootstrap);
    let report = http::run_client(&bases.join(","), 10, Some(&topic));
    // Every order, from either instance, in its final state.
    let finals: Vec<(String, String)> = report
        .lines()
        .filter_map(|l| l.split_once("  ->  ").map(|(order, state)| (order, state.split_whitespace().next().unwrap_or_default())))
        .map(|(order, state)| (order.split_whitespace().next().unwrap_or_default().to_string(), state.to_string()))
        .collect();
    let mut problems = Vec::new();
    for (id, state) in &finals {
        for base in &bases {
            let answer = http::get(&format!("{base}/v1/orders/{id}?timeout=30000"));
            if http::json_200(&answer).is_none_or(|o| o["state"] != state.as_str()) {
                problems.push(format!("GET {base}/v1/orders/{id}: {answer:?}, expected state {state}"));
            }
        }
    }

    // Orders posted to both instances, then instance 1 killed (SIGKILL), then more orders
    // posted to instance 2: every one is validated, and instance 2 answers for all of them
    // (and for the client's) once it has taken over instance 1's partitions.
    let run = unique("k");
    let before: Vec<Json> = (0..20).map(|i| free_order(&run, "before", i)).collect();
    let statuses = http::post_concurrently(&bases, &before, 4);
    assert!(statuses.iter().all(|s| *s == 201), "POSTs before the kill: {statuses:?}");
    for (i, order) in before.iter().enumerate() {
        let (base, id) = (&bases[(i + 1) % 2], order["id"].as_str().expect("id"));
        let answer = http::get(&format!("{base}/v1/orders/{id}?timeout=30000"));
        if answer.0 != 200 {
            problems.push(format!("GET {base}/v1/orders/{id} (posted to the other): {answer:?}"));
        }
    }
    // Each instance holds a share of the orders (a partition of orders each): both answer
    // for all only because they forward to each other.
    let mut ids: Vec<String> = finals.iter().map(|(id, _)| id.clone()).collect();
    ids.extend(before.iter().map(|o| o["id"].as_str().expect("id").to_string()));
    if let Err(why) = shared(&bases, &ids) {
        problems.push(why);
    }
    e.kill("orders-service-1");
    let survivor = [bases[1].clone()];
    let after: Vec<Json> = (0..20).map(|i| free_order(&run, "after", i)).collect();
    let statuses = http::post_concurrently(&survivor, &after, 4);
    assert!(statuses.iter().all(|s| *s == 201), "POSTs after the kill: {statuses:?}");
    let new: Vec<String> = before.iter().chain(&after).map(|o| o["id"].as_str().expect("id").to_string()).collect();
    for (id, result) in new.iter().zip(http::validated(&survivor, &new, 8, 120_000)) {
        match result {
            Ok(order) if order["state"] == "VALIDATED" => {}
            other => problems.push(format!("order {id} at the survivor: {other:?}")),
        }
    }
    for (id, state) in &finals {
        let answer = http::get(&format!("{}/v1/orders/{id}?timeout=30000", survivor[0]));
        if http::json_200(&answer).is_none_or(|o| o["state"] != state.as_str()) {
            problems.push(format!("after the kill, GET {}/v1/orders/{id}: {answer:?}, expected state {state}", survivor[0]));
        }
    }
    // The survivor took instance 1's partitions over: it holds every order itself.
    let held = local_orders(&survivor[0]).unwrap_or_default();
    let missing: Vec<&String> = ids.iter().chain(&new).filter(|id| !held.contains(*id)).collect();
    if !missing.is_empty() {
        problems.push(format!("orders the survivor does not hold: {missing:?}"));
    }

    // A new instance in place of the killed one (fresh state: it restores what it takes
    // over): once it is ready, with partitions moving back to it, both answer for every
    // order, the long-polls asked meanwhile too.
    let extra = [("ORDERS_PORT", e.ports[0].to_string()), ("ORDERS_SESSION_TIMEOUT_MS", "6000".to_string())];
    e.spawn("orders-service-3", "kafka/orders-service.yaml", &extra, &["--routes", "routes.yaml"]);
    http::wait_ready(&bases[0], false, Duration::from_secs(120), || e.logs());
    let state_of = |id: &String| finals.iter().find(|(i, _)| i == id).map_or("VALIDATED", |(_, s)| s.as_str());
    // The no-stock orders stay CREATED (their GET /validated would wait out its timeout).
    let (created, all): (Vec<String>, Vec<String>) = ids.iter().chain(&new).cloned().partition(|id| state_of(id) == "CREATED");
    for (id, result) in all.iter().zip(http::validated(&bases, &all, 8, 120_000)) {
        if result.as_ref().map(|o| o["state"] == state_of(id)) != Ok(true) {
            problems.push(format!("after the restart, order {id}: {result:?}, expected {}", state_of(id)));
        }
    }
    for (id, base) in created.iter().flat_map(|id| bases.iter().map(move |b| (id, b))) {
        let answer = http::get(&format!("{base}/v1/orders/{id}?timeout=60000"));
        if http::json_200(&answer).is_none_or(|o| o["state"] != "CREATED") {
            problems.push(format!("after the restart, GET {base}/v1/orders/{id}: {answer:?}"));
        }
    }
    // The new instance took a partition back: each order is held by exactly one of them.
    let every: Vec<String> = ids.iter().chain(&new).cloned().collect();
    if let Err(why) = shared(&bases, &every) {
        problems.push(format!("after the restart: {why}"));
    }
    problems.extend(e.stop());
    e.finish(&problems);
}

/// The ids of the orders an instance holds in its own `orders_store` (the REST API's
/// `/local/all`); `None` when it does not answer 200 (e.g. while it holds no task).
fn local_orders(base: &str) -> Option<std::collections::BTreeSet<String>> {
    let entries = http::json_200(&http::get(&format!("{base}/state/keyValue/orders_store/local/all")))?;
    Some(entries.as_array()?.iter().map(|e| e["key"].as_str().map_or_else(|| e["key"].to_string(), str::to_string)).collect())
}

/// Waits (up to 60 s: tasks may be moving) until each of `ids` is held by exactly one of the
/// instances and each holds some; else why not.
fn shared(bases: &[String], ids: &[String]) -> Result<(), String> {
    let began = Instant::now();
    loop {
        let held: Vec<_> = bases.iter().map(|b| local_orders(b).unwrap_or_default()).collect();
        let doubtful: Vec<&String> = ids.iter().filter(|id| held.iter().filter(|h| h.contains(*id)).count() != 1).collect();
        if doubtful.is_empty() && held.iter().all(|h| !h.is_empty()) {
            return Ok(());
        }
        if began.elapsed() > Duration::from_secs(60) {
            return Err(format!("orders not held by exactly one instance: {doubtful:?}; held: {held:?}"));
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// A consumed record's value as a big-endian integer (4 or 8 bytes: `int` or `long`).
fn integer(record: &Json) -> i64 {
    let text = record["value"].as_str().unwrap_or_else(|| panic!("no value: {record}"));
    let bytes: Vec<u8> = match text.strip_prefix("hex:") {
        Some(h) => (0..h.len()).step_by(2).map(|i| u8::from_str_radix(&h[i..i + 2], 16).expect("hex")).collect(),
        None => text.as_bytes().to_vec(),
    };
    match bytes.len() {
        4 => i64::from(i32::from_be_bytes(bytes.try_into().expect("4 bytes"))),
        8 => i64::from_be_bytes(bytes.try_into().expect("8 bytes")),
        n => panic!("a value of {n} bytes is no int or long: {record}"),
    }
}

/// Every value written for `key` to a changelog of integers, in order.
fn written(bootstrap: &str, topic: &str, key: &str) -> Vec<i64> {
    let records = common::consume(bootstrap, topic, usize::MAX >> 1, Duration::from_secs(2), "read_uncommitted");
    records.iter().filter(|r| r["key"] == key).map(integer).collect()
}

#[test]
fn concurrent_orders_on_kafka_never_reserve_more_than_the_stock() {
    // The stock level of UNDERPANTS set to what InventoryService has reserved so far plus 50
    // (the broker may hold earlier runs' reservations), then 200 orders of one unit posted at
    // once from 16 threads to both Orders Service instances: exactly 50 are VALIDATED, the
    // others FAILED, and the reservations never exceed the level.
    let _serial = serial();
    let mut e = Ecosystem::start(true, None);
    let bases = [e.base(0), e.base(1)];
    for base in &bases {
        http::wait_ready(base, false, Duration::from_secs(120), || e.logs());
    }
    let bootstrap = e.bootstrap.clone();
    let reservations = "InventoryService-reserved_stock-changelog";
    let before = written(&bootstrap, reservations, "UNDERPANTS");
    let reserved = before.last().copied().unwrap_or(0);
    let level = reserved + 50;
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let record = json!({"key": hex(b"UNDERPANTS"), "value": hex(&i32::try_from(level).expect("an int").to_be_bytes()), "raw": true});
    common::produce(&bootstrap, "warehouse-inventory", &[record]);
    // InventoryService has the new level once its table's changelog shows it.
    let began = Instant::now();
    while written(&bootstrap, "InventoryService-warehouse_stock-changelog", "UNDERPANTS").last() != Some(&level) {
        assert!(began.elapsed() < Duration::from_secs(60), "the stock level {level} did not reach InventoryService\n{}", e.logs());
        std::thread::sleep(Duration::from_millis(500));
    }

    let run = unique("c");
    // Price 0: nothing towards any customer's fraud limit, however often the test runs.
    let orders: Vec<Json> = (0..200).map(|i| http::order(&format!("{run}-{i:03}"), 1 + i % 8, "UNDERPANTS", 1, 0.0)).collect();
    let statuses = http::post_concurrently(&bases, &orders, 16);
    assert!(statuses.iter().all(|s| *s == 201), "POST statuses: {statuses:?}");
    let ids: Vec<String> = orders.iter().map(|o| o["id"].as_str().expect("id").to_string()).collect();
    let results = http::validated(&bases, &ids, 16, 120_000);
    let mut problems: Vec<String> = results.iter().filter_map(|r| r.as_ref().err().cloned()).collect();
    let states: Vec<&str> = results.iter().map(|r| r.as_ref().ok().and_then(|o| o["state"].as_str()).unwrap_or("?")).collect();
    let count = |s: &str| states.iter().filter(|x| **x == s).count();
    if (count("VALIDATED"), count("FAILED")) != (50, 150) {
        problems.push(format!("{} VALIDATED and {} FAILED, not 50 and 150", count("VALIDATED"), count("FAILED")));
    }
    // The reservations of this run: one more per VALIDATED order, never above the level.
    let ours: Vec<i64> = written(&bootstrap, reservations, "UNDERPANTS").split_off(before.len());
    if ours != (reserved + 1..=level).collect::<Vec<i64>>() {
        problems.push(format!("reservations after {reserved}: {ours:?}, expected {} to {level}", reserved + 1));
    }
    problems.extend(e.stop());
    e.finish(&problems);
}
