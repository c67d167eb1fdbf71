//! Async request/response over topics (`examples/async-request-response`), end to end with
//! the built `weir`: requests fan out to several systems under one correlation id, pending
//! requests are held in a persistent store, responses are matched to them, the combined result
//! goes out once every system answered, and a request unanswered by its deadline goes out as
//! a timeout, exactly once, also across a `weir run` stopped with SIGTERM and started again.
//!
//! The example's responders (KSML pipelines in `responders.yaml`) stand in for the systems:
//! inventory always answers; payment answers amounts up to 1000 and never larger ones.

#[path = "run/common.rs"]
mod common;
#[path = "external/common.rs"]
mod external;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::Dir;
use external::{example, spawn, terminate, wait_for};
use serde_json::{Value as Json, json};

/// The records of `topic` by key: key -> values, in order.
fn by_key(dir: &Dir, topic: &str) -> BTreeMap<String, Vec<Json>> {
    let mut out: BTreeMap<String, Vec<Json>> = BTreeMap::new();
    for r in external::consume(dir, topic) {
        let key = r["key"].as_str().map(str::to_string).unwrap_or_else(|| r["key"].to_string());
        let value = match &r["value"] {
            Json::String(s) => serde_json::from_str(s).unwrap_or(Json::String(s.clone())),
            v => v.clone(),
        };
        out.entry(key).or_default().push(value);
    }
    out
}

fn keys(map: &BTreeMap<String, Vec<Json>>) -> Vec<&str> {
    map.keys().map(String::as_str).collect()
}

fn order(systems: &[&str], amount: u64, timeout_ms: u64) -> Json {
    json!({"systems": systems, "amount": amount, "sku": "sku-1", "timeoutMs": timeout_ms})
}

#[test]
fn timeouts_fire_once_per_unanswered_request_across_a_restart_and_fan_out_combines() {
    let dir = Dir::new("async-rr");
    example(&dir, "async-request-response", &[]);

    let run = spawn(&dir, &[]);
    let orders = [
        // Both systems answer: one combined result.
        json!({"key": "o1", "value": order(&["inventory", "payment"], 10, 20_000)}),
        // Payment never answers: a timeout before the restart, with inventory's answer.
        json!({"key": "o2", "value": order(&["inventory", "payment"], 5000, 1000)}),
        // Still pending when the run stops; its deadline passes while no run is up.
        json!({"key": "o3", "value": order(&["payment"], 7000, 6000)}),
        // One system: plain request/response.
        json!({"key": "o4", "value": order(&["inventory"], 1, 20_000)}),
    ];
    dir.produce("orders", &orders.iter().map(Json::to_string).collect::<Vec<_>>().join("\n"));
    wait_for(&dir, "o2's timeout and the results of o1 and o4", Duration::from_secs(30), || {
        let timeouts = by_key(&dir, "order_timeouts");
        let results = by_key(&dir, "order_results");
        (timeouts.contains_key("o2") && results.len() == 2).then_some(())
    });
    // A response to a request that timed out already is kept apart, not matched.
    dir.produce("responses", r#"{"key": "o2", "value": {"system": "payment", "charged": 5000}}"#);
    wait_for(&dir, "the late response", Duration::from_secs(15), || by_key(&dir, "late_responses").contains_key("o2").then_some(()));
    let before_restart = by_key(&dir, "order_timeouts");
    assert_eq!(keys(&before_restart), ["o2"], "only o2 is past its deadline before the restart: {before_restart:?}");
    terminate(&dir, run);

    // o3 is pending in the store; the restarted run finds it and times it out, once.
    std::thread::sleep(Duration::from_secs(1));
    let run = spawn(&dir, &[]);
    wait_for(&dir, "o3's timeout after the restart", Duration::from_secs(30), || {
        by_key(&dir, "order_timeouts").contains_key("o3").then_some(())
    });
    // Several more ticks: a second timeout of anything would show now.
    std::thread::sleep(Duration::from_millis(2000));
    terminate(&dir, run);

    let timeouts = by_key(&dir, "order_timeouts");
    assert_eq!(keys(&timeouts), ["o2", "o3"], "timeouts: {timeouts:?}");
    for (key, values) in &timeouts {
        assert_eq!(values.len(), 1, "{key} timed out {} times: {values:?}", values.len());
    }
    let o2 = &timeouts["o2"][0];
    assert_eq!(o2["outcome"], "timeout");
    assert_eq!(o2["missing"], json!(["payment"]), "o2: {o2}");
    assert_eq!(o2["responses"]["inventory"]["reserved"], true, "o2 keeps the answer that came: {o2}");
    assert_eq!(o2["request"], orders[1]["value"]);
    let o3 = &timeouts["o3"][0];
    assert_eq!(o3["missing"], json!(["payment"]), "o3: {o3}");
    assert_eq!(o3["responses"], json!({}), "o3: {o3}");

    let results = by_key(&dir, "order_results");
    assert_eq!(keys(&results), ["o1", "o4"], "results: {results:?}");
    let o1 = &results["o1"];
    assert_eq!(o1.len(), 1, "o1 completed once: {o1:?}");
    assert_eq!(o1[0]["outcome"], "completed");
    assert_eq!(o1[0]["responses"]["payment"]["charged"], 10, "{o1:?}");
    assert_eq!(o1[0]["responses"]["inventory"]["reserved"], true, "{o1:?}");
    assert_eq!(results["o4"].len(), 1);
    assert_eq!(results["o4"][0]["responses"].as_object().map(|m| m.len()), Some(1), "o4 asked inventory alone: {:?}", results["o4"]);

    // Each system got exactly the requests of the orders that named it, under their ids.
    assert_eq!(keys(&by_key(&dir, "inventory_requests")), ["o1", "o2", "o4"]);
    assert_eq!(keys(&by_key(&dir, "payment_requests")), ["o1", "o2", "o3"]);
    let late = by_key(&dir, "late_responses");
    assert_eq!(keys(&late), ["o2"]);
    assert_eq!(late["o2"][0]["outcome"], "late");
}

/// With the topics in two partitions, each task holds its own pending requests: the clock
/// writes a tick to every partition (`partitions` and `batchSize` set to 2, the partitioner
/// sending tick `p` to partition `p`), so the unanswered requests of both tasks time out, once.
#[test]
fn ticks_reach_every_partition() {
    let dir = Dir::new("async-rr-partitions");
    example(
        &dir,
        "async-request-response",
        &[("pipeline.yaml", "        defaultValue: 1\n", "        defaultValue: 2\n"), ("pipeline.yaml", "batchSize: 1 ", "batchSize: 2 ")],
    );
    for topic in ["orders", "responses", "correlation_ticks", "inventory_requests", "payment_requests"] {
        let out = dir.weir(&["topic", "create", topic, "--partitions", "2"], "");
        common::assert_ok(&out, &format!("weir topic create {topic}"));
    }
    let run = spawn(&dir, &[]);
    // Payment never answers amounts over 1000: every odd order times out, the even ones complete.
    let n = 12;
    let orders: Vec<String> = (0..n)
        .map(|i| json!({"key": format!("k{i}"), "value": order(&["payment"], if i % 2 == 1 { 5000 } else { 5 }, 1000)}).to_string())
        .collect();
    dir.produce("orders", &orders.join("\n"));
    wait_for(&dir, "every order's outcome", Duration::from_secs(30), || {
        (by_key(&dir, "order_timeouts").len() + by_key(&dir, "order_results").len() == n).then_some(())
    });
    std::thread::sleep(Duration::from_millis(1500));
    terminate(&dir, run);

    let partitions: BTreeSet<u64> = external::consume(&dir, "orders").iter().filter_map(|r| r["partition"].as_u64()).collect();
    assert_eq!(partitions.len(), 2, "the orders went to both partitions: {partitions:?}");
    let timeouts = by_key(&dir, "order_timeouts");
    let expected: BTreeSet<String> = (0..n).filter(|i| i % 2 == 1).map(|i| format!("k{i}")).collect();
    assert_eq!(timeouts.keys().cloned().collect::<BTreeSet<_>>(), expected, "timeouts: {timeouts:?}");
    assert!(timeouts.values().all(|v| v.len() == 1), "a request timed out twice: {timeouts:?}");
    assert_eq!(by_key(&dir, "order_results").len(), n / 2);
}
