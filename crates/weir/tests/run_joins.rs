//! `weir run` end to end for joins and global tables: definitions from `tests/run/joins/`,
//! input records fed with `weir topic produce`, `weir run --until-idle`, and the exact records
//! read back. Expectations follow Kafka Streams' join semantics as KSML uses them (KSML's
//! join operations reference; docs/joins.md). The joins tutorial's examples have suites in
//! `tests/suites/joins-*.yaml`.

#[path = "run/common.rs"]
mod common;

use common::{Dir, stderr};

#[test]
fn table_table_inner_left_and_outer_joins() {
    let dir = Dir::new("join-table-table");
    let def = dir.fixture("joins/table_table.yaml");
    dir.produce("lt", r#"{"key": "a", "value": "1", "timestamp": 1000} {"key": "b", "value": "2", "timestamp": 4000} {"key": "a", "value": null, "timestamp": 5000}"#);
    dir.produce("rt", r#"{"key": "a", "value": "10", "timestamp": 2000} {"key": "b", "value": "20", "timestamp": 3000} {"key": "b", "value": null, "timestamp": 6000}"#);
    dir.run_ok(&[&def]);
    // Inner: only when both sides have a value; a delete on either side deletes the result.
    dir.expect_topic(
        "inner_out",
        r#"
        {"key": "a", "value": {"l": "1", "r": "10"}, "timestamp": 2000}
        {"key": "b", "value": {"l": "2", "r": "20"}, "timestamp": 4000}
        {"key": "a", "value": null, "timestamp": 5000}
        {"key": "b", "value": null, "timestamp": 6000}
        "#,
    );
    // Left: every left update; a right update only when the left has a value (a right delete
    // joins with None).
    dir.expect_topic(
        "left_out",
        r#"
        {"key": "a", "value": {"l": "1", "r": null}, "timestamp": 1000}
        {"key": "a", "value": {"l": "1", "r": "10"}, "timestamp": 2000}
        {"key": "b", "value": {"l": "2", "r": "20"}, "timestamp": 4000}
        {"key": "a", "value": null, "timestamp": 5000}
        {"key": "b", "value": {"l": "2", "r": null}, "timestamp": 6000}
        "#,
    );
    // Outer: every update while either side has a value. The joiner's key is None.
    dir.expect_topic(
        "outer_out",
        r#"
        {"key": "a", "value": {"l": "1", "r": null, "key": null}, "timestamp": 1000}
        {"key": "a", "value": {"l": "1", "r": "10", "key": null}, "timestamp": 2000}
        {"key": "b", "value": {"l": null, "r": "20", "key": null}, "timestamp": 3000}
        {"key": "b", "value": {"l": "2", "r": "20", "key": null}, "timestamp": 4000}
        {"key": "a", "value": {"l": null, "r": "10", "key": null}, "timestamp": 5000}
        {"key": "b", "value": {"l": "2", "r": null, "key": null}, "timestamp": 6000}
        "#,
    );
}

#[test]
fn stream_stream_left_join_emits_unmatched_records_when_their_window_closes_also_after_a_restart() {
    let dir = Dir::new("join-stream-stream-left");
    let def = dir.fixture("joins/stream_stream_left.yaml");
    // f arrives out of order (19 s after stream time reached 20 s): within its window, so it waits.
    dir.produce(
        "lefts",
        r#"{"key": "a", "value": "a1", "timestamp": 1000} {"key": "b", "value": "b1", "timestamp": 4000}
           {"key": "c", "value": "c1", "timestamp": 20000} {"key": "f", "value": "f1", "timestamp": 19000}"#,
    );
    dir.produce("rights", r#"{"key": "a", "value": "a2", "timestamp": 3000}"#);
    dir.run_ok(&[&def]);
    // a joins at once; b comes out alone once stream time (20 s) passes 4 s + 5 s + 1 s; c and
    // f are still within their windows.
    const FIRST: &str = r#"
        {"key": "a", "value": {"l": "a1", "r": "a2"}, "timestamp": 3000}
        {"key": "b", "value": {"l": "b1", "r": null}, "timestamp": 4000}
    "#;
    dir.expect_topic("joined", FIRST);

    // A new process: the window stores and the pending records come back from their
    // changelogs. f finds its partner (so it never comes out alone); d moves stream time to
    // 40 s, which closes c's window.
    dir.produce("rights", r#"{"key": "f", "value": "f2", "timestamp": 19500}"#);
    dir.produce("lefts", r#"{"key": "d", "value": "d1", "timestamp": 40000}"#);
    dir.run_ok(&[&def]);
    dir.expect_topic(
        "joined",
        &format!(
            r#"{FIRST}
            {{"key": "f", "value": {{"l": "f1", "r": "f2"}}, "timestamp": 19500}}
            {{"key": "c", "value": {{"l": "c1", "r": null}}, "timestamp": 20000}}
            "#
        ),
    );
}

#[test]
fn stream_stream_join_stores_are_validated() {
    let dir = Dir::new("join-bad-window-store");
    let def = dir.fixture("joins/bad_window_store.yaml");
    let out = dir.run(&[&def]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("state store 'lefts_store' of a stream-stream join needs 'retainDuplicates: true', 'windowSize' 10000 ms (2 × timeDifference), not 5000 ms"),
        "{err}"
    );
    assert!(!err.contains("'rights_store' of a stream-stream join"), "{err}");
}

#[test]
fn a_join_refuses_inputs_that_are_not_co_partitioned() {
    let dir = Dir::new("join-copartition");
    let def = dir.fixture("joins/copartition.yaml");
    assert!(dir.weir(&["topic", "create", "--partitions", "2", "orders"], "").status.success());
    assert!(dir.weir(&["topic", "create", "--partitions", "3", "customers"], "").status.success());
    let out = dir.run(&[&def]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("needs its input topics co-partitioned (the same number of partitions), but 'orders' has 2, 'customers' has 3"),
        "{err}"
    );
}

#[test]
fn stream_table_join_on_two_partitions_meets_each_key_in_its_task() {
    let dir = Dir::new("join-two-partitions");
    let def = dir.fixture("joins/copartition.yaml");
    assert!(dir.weir(&["topic", "create", "--partitions", "2", "orders"], "").status.success());
    assert!(dir.weir(&["topic", "create", "--partitions", "2", "customers"], "").status.success());
    dir.produce("customers", r#"{"key": "c1", "value": {"n": "one"}, "timestamp": 1} {"key": "c2", "value": {"n": "two"}, "timestamp": 2} {"key": "c3", "value": {"n": "three"}, "timestamp": 3}"#);
    dir.produce("orders", r#"{"key": "c1", "value": "o1", "timestamp": 10} {"key": "c2", "value": "o2", "timestamp": 11} {"key": "c3", "value": "o3", "timestamp": 12} {"key": "c4", "value": "o4", "timestamp": 13}"#);
    dir.run_ok(&[&def]);
    let mut got: Vec<String> = dir.consume("enriched").iter().map(|r| format!("{} {}", r["key"], r["value"])).collect();
    got.sort();
    assert_eq!(
        got,
        [
            r#""c1" {"order":"o1","customer":{"n":"one"}}"#,
            r#""c2" {"order":"o2","customer":{"n":"two"}}"#,
            r#""c3" {"order":"o3","customer":{"n":"three"}}"#
        ]
    );
}

#[test]
fn global_table_sees_all_partitions_and_follows_its_topic_while_running() {
    let dir = Dir::new("join-global-live");
    let def = dir.fixture("joins/global.yaml");
    assert!(dir.weir(&["topic", "create", "--partitions", "3", "products"], "").status.success());
    dir.produce(
        "products",
        r#"{"key": "p1", "value": {"name": "pen"}} {"key": "p2", "value": {"name": "pad"}} {"key": "p3", "value": {"name": "ink"}}"#,
    );
    let run = dir.spawn_run(&[&def]);
    let socket = dir.path.join(".weir-state/weir.sock");
    let started = std::time::Instant::now();
    while !socket.exists() {
        assert!(started.elapsed() < std::time::Duration::from_secs(20), "weir run did not open its control socket");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // Loaded at start: every partition of the global topic, in the one task of 'orders'.
    dir.produce(
        "orders",
        r#"{"key": "o1", "value": {"product": "p1"}} {"key": "o2", "value": {"product": "p2"}} {"key": "o3", "value": {"product": "p3"}}"#,
    );
    // Written while running: an update and a delete reach the join of the orders that follow.
    dir.produce("products", r#"{"key": "p1", "value": {"name": "pencil"}} {"key": "p2", "value": null}"#);
    dir.produce(
        "orders",
        r#"{"key": "o4", "value": {"product": "p1"}} {"key": "o5", "value": {"product": "p2"}} {"key": "o6", "value": {"product": null}}"#,
    );
    let out = dir.weir(&["topic", "consume", "enriched", "--from-beginning", "--follow", "--max", "6", "--format", "json"], "");
    common::interrupt(&run);
    let (code, _, err) = dir.finish(run, std::time::Duration::from_secs(20));
    assert_eq!(code, Some(0), "{err}");
    let got: Vec<String> = common::parse_lines(&common::stdout(&out)).iter().map(|r| r["value"].to_string()).collect();
    assert_eq!(
        got,
        [
            r#"{"order":"o1","product":"pen"}"#,
            r#"{"order":"o2","product":"pad"}"#,
            r#"{"order":"o3","product":"ink"}"#,
            r#"{"order":"o4","product":"pencil"}"#,
            r#"{"order":"o5","product":null}"#,
            r#"{"order":"o6","product":null}"#,
        ]
    );
}

#[test]
fn stream_table_join_with_grace_joins_with_the_version_valid_at_the_records_time() {
    let dir = Dir::new("join-stream-table-grace");
    let def = dir.fixture("joins/stream_table_grace.yaml");
    // The price of 2.5 s arrives after the one of 4 s (an older version, out of order).
    dir.produce(
        "prices",
        r#"{"key": "p", "value": "10", "timestamp": 1000} {"key": "p", "value": "30", "timestamp": 4000} {"key": "p", "value": "20", "timestamp": 2500}"#,
    );
    dir.produce(
        "orders",
        r#"{"key": "p", "value": "o1", "timestamp": 3000, "headers": {"h": "1"}} {"key": "q", "value": "o2", "timestamp": 3500}
           {"key": "p", "value": "o3", "timestamp": 20000}"#,
    );
    dir.run_ok(&[&def]);
    // o1 waited until stream time reached 20 s, then met the version valid at 3 s; o2 has no
    // price (an inner join); o3 is still within its grace period.
    dir.expect_topic("priced", r#"{"key": "p", "value": {"order": "o1", "price": "20"}, "timestamp": 3000, "headers": {"h": "1"}}"#);
    // After a restart the buffer comes back from its changelog: o3 leaves it when stream time
    // passes 30 s.
    dir.produce("orders", r#"{"key": "q", "value": "o4", "timestamp": 31000}"#);
    dir.run_ok(&[&def]);
    dir.expect_topic(
        "priced",
        r#"{"key": "p", "value": {"order": "o1", "price": "20"}, "timestamp": 3000}
           {"key": "p", "value": {"order": "o3", "price": "30"}, "timestamp": 20000}"#,
    );
}

#[test]
fn stream_table_join_with_grace_needs_a_versioned_table_with_enough_history() {
    let dir = Dir::new("join-refusals");
    let def = std::fs::read_to_string(common::fixture_path("joins/copartition.yaml")).expect("fixture");
    dir.write("grace.yaml", &def.replace("        table: customers\n", "        table: customers\n        grace: 5s\n"));
    let out = dir.run(&["grace.yaml"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("a stream-table join with a 'grace' needs a versioned table"), "{}", stderr(&out));

    let def = std::fs::read_to_string(common::fixture_path("joins/stream_table_grace.yaml")).expect("fixture");
    dir.write("history.yaml", &def.replace("grace: 10s", "grace: 2h"));
    let out = dir.run(&["history.yaml"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out)
            .contains("the 'grace' of a stream-table join (7200000 ms) must not exceed the table's 'historyRetention' (3600000 ms)"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn foreign_key_table_joins_across_partitions() {
    let dir = Dir::new("join-foreign-key");
    let def = dir.fixture("joins/foreign_key.yaml");
    assert!(dir.weir(&["topic", "create", "--partitions", "2", "orders"], "").status.success());
    assert!(dir.weir(&["topic", "create", "--partitions", "3", "customers"], "").status.success());
    dir.produce(
        "customers",
        r#"{"key": "c1", "value": {"name": "Ann"}, "timestamp": 1000} {"key": "c2", "value": {"name": "Bob"}, "timestamp": 1001}
           {"key": "c1", "value": {"name": "Anna"}, "timestamp": 3000}"#,
    );
    dir.produce(
        "orders",
        r#"{"key": "o1", "value": {"cust": "c1"}, "timestamp": 2000} {"key": "o2", "value": {"cust": "c9"}, "timestamp": 2001}
           {"key": "o3", "value": {"cust": "c2"}, "timestamp": 2002}"#,
    );
    dir.run_ok(&[&def]);
    // A second process (the subscriptions and foreign keys come back from their changelogs).
    // Each update here waits for the previous round trip: a response to an order's older
    // value would be stale and dropped, as in Kafka Streams.
    dir.produce("orders", r#"{"key": "o3", "value": {"cust": "c1"}, "timestamp": 4000}"#);
    dir.run_ok(&[&def]);
    dir.produce("customers", r#"{"key": "c2", "value": {"name": "Bobby"}, "timestamp": 5000}"#);
    dir.produce("orders", r#"{"key": "o1", "value": null, "timestamp": 6000}"#);
    dir.produce("customers", r#"{"key": "c9", "value": {"name": "Nine"}, "timestamp": 7000}"#);
    dir.run_ok(&[&def]);
    // Per key, in time order (keys live in different partitions).
    let sorted = |topic: &str| {
        let mut got: Vec<(i64, String, String)> = dir
            .consume(topic)
            .iter()
            .map(|r| (r["timestamp"].as_i64().unwrap_or(-1), r["key"].to_string(), r["value"].to_string()))
            .collect();
        got.sort();
        got.into_iter().map(|(t, k, v)| format!("{t} {k} {v}")).collect::<Vec<_>>()
    };
    // Inner: o2 only once its customer exists; o3 follows its new customer and no longer
    // hears from c2; o1's delete deletes its result.
    assert_eq!(
        sorted("inner_out"),
        [
            r#"2000 "o1" {"cust":"c1","name":"Ann"}"#,
            r#"2002 "o3" {"cust":"c2","name":"Bob"}"#,
            r#"3000 "o1" {"cust":"c1","name":"Anna"}"#,
            r#"4000 "o3" {"cust":"c1","name":"Anna"}"#,
            r#"6000 "o1" null"#,
            r#"7000 "o2" {"cust":"c9","name":"Nine"}"#,
        ]
    );
    // Left: o2 at once, without a name.
    assert_eq!(
        sorted("left_out"),
        [
            r#"2000 "o1" {"cust":"c1","name":"Ann"}"#,
            r#"2001 "o2" {"cust":"c9","name":null}"#,
            r#"2002 "o3" {"cust":"c2","name":"Bob"}"#,
            r#"3000 "o1" {"cust":"c1","name":"Anna"}"#,
            r#"4000 "o3" {"cust":"c1","name":"Anna"}"#,
            r#"6000 "o1" null"#,
            r#"7000 "o2" {"cust":"c9","name":"Nine"}"#,
        ]
    );
    // The internal topics follow the partitions of the tables they are co-partitioned with.
    let topics = common::stdout(&dir.weir(&["topic", "list"], ""));
    let partitions = |name: &str| {
        topics.lines().find(|l| l.starts_with(name)).and_then(|l| l.split_whitespace().nth(1).map(str::to_string)).unwrap_or_default()
    };
    assert_eq!(partitions("weir-foreign_key_pipelines_inner_via_0-subscription-registration-topic"), "3", "{topics}");
    assert_eq!(partitions("weir-foreign_key_pipelines_inner_via_0-subscription-response-topic"), "2", "{topics}");
}

#[test]
fn null_keys_and_values_in_stream_joins() {
    let dir = Dir::new("join-null-keys");
    let def = std::fs::read_to_string(common::fixture_path("joins/copartition.yaml")).expect("fixture");
    dir.write("inner.yaml", &def);
    dir.write("left.yaml", &def.replace("type: join", "type: leftJoin").replace("topic: enriched", "topic: enriched_left"));
    dir.produce("customers", r#"{"key": "c1", "value": {"n": "one"}, "timestamp": 1}"#);
    dir.produce(
        "orders",
        r#"{"key": null, "value": "o1", "timestamp": 10} {"key": "c1", "value": null, "timestamp": 11} {"key": "c1", "value": "o3", "timestamp": 12}"#,
    );
    dir.run_ok(&["inner.yaml", "left.yaml"]);
    // A null value is dropped by both; a null key is dropped by the inner join and joined with
    // None by the left join (Kafka Streams 3.7+).
    dir.expect_topic("enriched", r#"{"key": "c1", "value": {"order": "o3", "customer": {"n": "one"}}, "timestamp": 12}"#);
    dir.expect_topic(
        "enriched_left",
        r#"{"key": null, "value": {"order": "o1", "customer": null}, "timestamp": 10}
           {"key": "c1", "value": {"order": "o3", "customer": {"n": "one"}}, "timestamp": 12}"#,
    );
}

/// A table with KSML's default store (no changelog) is rebuilt from its own topic when its
/// task opens, up to the committed position, as Kafka Streams restores a source table from
/// its topic: after a restart, stream records still find the keys written before it, a key
/// deleted before the restart stays deleted, and the table's later updates apply on top.
#[test]
fn a_table_without_changelog_keeps_its_contents_across_a_restart() {
    let dir = Dir::new("join-table-restart");
    let def = dir.fixture("joins/table_restart.yaml");
    for topic in ["orders", "prices"] {
        let out = dir.weir(&["topic", "create", topic, "--partitions", "2"], "");
        common::assert_ok(&out, "topic create");
    }
    dir.produce(
        "prices",
        r#"{"key": "apple", "value": {"price": 2}, "partition": 0} {"key": "pear", "value": {"price": 3}, "partition": 1}
           {"key": "plum", "value": {"price": 5}, "partition": 1} {"key": "plum", "value": null, "partition": 1}"#,
    );
    dir.produce("orders", r#"{"key": "apple", "value": {"qty": 1}, "partition": 0}"#);
    dir.run_ok(&[&def]);
    // The restart: new orders only, and one price changed after it.
    dir.produce(
        "orders",
        r#"{"key": "apple", "value": {"qty": 10}, "partition": 0} {"key": "pear", "value": {"qty": 10}, "partition": 1}
           {"key": "plum", "value": {"qty": 10}, "partition": 1}"#,
    );
    dir.produce("prices", r#"{"key": "apple", "value": {"price": 4}, "partition": 0}"#);
    let out = dir.run(&[&def]);
    let log = common::stderr(&out);
    assert!(out.status.success(), "{log}");
    assert!(log.contains("table store 'prices' of task 1: rebuilt from 3 records of 'prices'"), "{log}");
    let mut totals: Vec<(String, i64)> = dir
        .consume("priced_orders")
        .iter()
        .map(|r| (r["key"].as_str().unwrap().to_string(), r["value"]["total"].as_i64().unwrap()))
        .collect();
    totals.sort();
    // apple: 1 × 2 before the restart, then 10 × 2 or 10 × 4 (the order and the new price are
    // on different topics of task 0: which comes first is the timestamps' choice, both "now"),
    // but never missing; pear 10 × 3 from the rebuilt table; plum was deleted before the
    // restart: no join.
    assert!(totals.contains(&("apple".to_string(), 2)) && totals.contains(&("pear".to_string(), 30)), "{totals:?}");
    assert!(totals.contains(&("apple".to_string(), 20)) || totals.contains(&("apple".to_string(), 40)), "{totals:?}");
    assert!(!totals.iter().any(|(k, _)| k == "plum"), "{totals:?}");
    assert_eq!(totals.len(), 3, "{totals:?}");
}
