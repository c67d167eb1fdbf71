//! `weir run` end to end, one test per stateless operation, sink and producer feature: a
//! definition from `tests/run/`, input records fed with `weir topic produce`, one
//! `weir run --until-idle`, and the exact records read back with `weir topic consume`.
//!
//! Expectations follow KSML's documented semantics (its operations, functions and producers references).
//! Expected lines name only the fields they check (see `common::Dir::expect_topic`).

#[path = "run/common.rs"]
mod common;

use std::time::{Duration, Instant};

use common::{Dir, stdout};

/// One case: a definition, what goes into which topic, what must come out of which topic.
struct Case {
    def: &'static str,
    input: &'static [(&'static str, &'static str)],
    expect: &'static [(&'static str, &'static str)],
}

/// Runs a case in a fresh directory; returns the directory (for further checks) and stdout.
fn check(name: &str, case: Case) -> (Dir, String) {
    let dir = Dir::new(name);
    let def = dir.fixture(case.def);
    for (topic, lines) in case.input {
        dir.produce(topic, lines);
    }
    let stdout = dir.run_ok(&[&def]);
    for (topic, expected) in case.expect {
        dir.expect_topic(topic, expected);
    }
    (dir, stdout)
}

const NUMBERS: &str = r#"
{"key": "a", "value": {"n": 1}, "timestamp": 1000, "headers": {"h": "1"}}
{"key": "b", "value": {"n": 2}, "timestamp": 2000}
{"key": "c", "value": {"n": 3}, "timestamp": 3000}
"#;

#[test]
fn filter_and_filter_not() {
    check(
        "filter",
        Case {
            def: "ops/filter.yaml",
            input: &[("numbers", NUMBERS)],
            expect: &[
                (
                    "big",
                    r#"
                    {"key": "b", "value": {"n": 2}, "timestamp": 2000, "headers": {}}
                    {"key": "c", "value": {"n": 3}, "timestamp": 3000}
                    "#,
                ),
                ("small", r#"{"key": "a", "value": {"n": 1}, "timestamp": 1000, "headers": {"h": "1"}}"#),
            ],
        },
    );
}

#[test]
fn transform_value_and_its_aliases() {
    check(
        "transform-value",
        Case {
            def: "ops/transform_value.yaml",
            input: &[(
                "numbers",
                r#"
                {"key": "a", "value": {"n": 1}, "timestamp": 1000, "headers": {"h": "1"}}
                {"key": "z", "value": {"n": 0}, "timestamp": 2000}
                "#,
            )],
            expect: &[
                (
                    "out_transform_value",
                    r#"
                    {"key": "a", "value": {"key": "a", "double": 2}, "timestamp": 1000, "headers": {"h": "1"}}
                    {"key": "z", "value": null, "timestamp": 2000}
                    "#,
                ),
                ("out_map_value", r#"{"key": "a", "value": "1"} {"key": "z", "value": "0"}"#),
                ("out_map_values", r#"{"key": "a", "value": 101} {"key": "z", "value": 100}"#),
            ],
        },
    );
}

const USERS: &str = r#"
{"key": "alice", "value": {"id": "u1"}, "timestamp": 1000, "headers": {"h": "1"}}
{"key": "bob", "value": {"id": "u2"}, "timestamp": 2000}
"#;

#[test]
fn transform_key_and_its_aliases() {
    check(
        "transform-key",
        Case {
            def: "ops/transform_key.yaml",
            input: &[("users", USERS)],
            expect: &[
                (
                    "out_transform_key",
                    r#"
                    {"key": "u1", "value": {"id": "u1"}, "timestamp": 1000, "headers": {"h": "1"}}
                    {"key": "u2", "value": {"id": "u2"}, "timestamp": 2000}
                    "#,
                ),
                ("out_map_key", r#"{"key": "ALICE", "value": {"id": "u1"}} {"key": "BOB", "value": {"id": "u2"}}"#),
                ("out_select_key", r#"{"key": {"user": "u1"}, "value": {"id": "u1"}} {"key": {"user": "u2"}, "value": {"id": "u2"}}"#),
            ],
        },
    );
}

#[test]
fn transform_key_value_with_tuple_and_list_results() {
    const EXPECTED: &str = r#"
        {"key": "u1", "value": {"old_key": "alice"}, "timestamp": 1000, "headers": {"h": "1"}}
        {"key": "u2", "value": {"old_key": "bob"}, "timestamp": 2000}
    "#;
    check(
        "transform-key-value",
        Case {
            def: "ops/transform_key_value.yaml",
            input: &[("users", USERS)],
            expect: &[("out_tuple", EXPECTED), ("out_list", EXPECTED)],
        },
    );
}

#[test]
fn flat_map_and_flat_map_values() {
    check(
        "flat-map",
        Case {
            def: "ops/flat_map.yaml",
            input: &[(
                "orders",
                r#"
                {"key": "o1", "value": {"items": ["x", "y"]}, "timestamp": 1000}
                {"key": "o2", "value": {"items": []}, "timestamp": 2000}
                {"key": "o3", "value": {"items": ["z"]}, "timestamp": 3000}
                "#,
            )],
            expect: &[
                (
                    "out_flat_map",
                    r#"
                    {"key": "o1-x", "value": {"item": "x"}, "timestamp": 1000}
                    {"key": "o1-y", "value": {"item": "y"}, "timestamp": 1000}
                    {"key": "o3-z", "value": {"item": "z"}, "timestamp": 3000}
                    "#,
                ),
                (
                    "out_flat_map_values",
                    r#"
                    {"key": "o1", "value": "x", "timestamp": 1000}
                    {"key": "o1", "value": "y", "timestamp": 1000}
                    {"key": "o3", "value": "z", "timestamp": 3000}
                    "#,
                ),
            ],
        },
    );
}

#[test]
fn transform_metadata_replaces_timestamp_and_headers() {
    check(
        "transform-metadata",
        Case {
            def: "ops/transform_metadata.yaml",
            input: &[("events", r#"{"key": "e1", "value": {"at": 5}, "timestamp": 1000, "headers": {"keep": "yes", "drop": "no"}}"#)],
            expect: &[
                ("out_both", r#"{"key": "e1", "value": {"at": 5}, "timestamp": 2000, "headers": {"keep": "yes", "seen": "e1"}}"#),
                ("out_timestamp", r#"{"key": "e1", "value": {"at": 5}, "timestamp": 5, "headers": {"keep": "yes", "drop": "no"}}"#),
            ],
        },
    );
}

#[test]
fn peek_sees_each_record_and_passes_it_on() {
    check(
        "peek",
        Case {
            def: "ops/peek.yaml",
            input: &[("numbers", NUMBERS)],
            expect: &[(
                "out",
                r#"
                {"key": "a", "value": {"n": 1, "seen": 1}, "timestamp": 1000, "headers": {"h": "1"}}
                {"key": "b", "value": {"n": 2, "seen": 2}, "timestamp": 2000}
                {"key": "c", "value": {"n": 3, "seen": 3}, "timestamp": 3000}
                "#,
            )],
        },
    );
}

#[test]
fn convert_key_value_and_key_value() {
    check(
        "convert",
        Case {
            def: "ops/convert.yaml",
            input: &[
                // A binary `long` key is 8 bytes, big-endian.
                ("docs", r#"{"keyHex": "0000000000000007", "value": {"n": 2, "s": "x", "l": [1, true]}}"#),
                ("texts", r#"{"key": "t1", "value": "{\"a\": 41}"} {"key": "t2", "value": "21"}"#),
            ],
            expect: &[
                // json → string is the JSON text (compact), not KSML's `{n: 2}` print form.
                ("out_text", r#"{"key": "7", "value": "str {\"n\":2,\"s\":\"x\",\"l\":[1,true]}"}"#),
                ("out_key_value", r#"{"key": "str 7", "value": "str {\"n\":2,\"s\":\"x\",\"l\":[1,true]}"}"#),
                ("out_json", r#"{"key": "t1", "value": {"parsed": "dict", "a_plus_one": 42}}"#),
                ("out_number", r#"{"key": "t2", "value": {"type": "int", "times_two": 42}}"#),
            ],
        },
    );
}

#[test]
fn merge_interleaves_both_streams_in_timestamp_order() {
    check(
        "merge",
        Case {
            def: "ops/merge.yaml",
            input: &[
                ("left", r#"{"key": "l1", "value": {"t": 1}, "timestamp": 1000} {"key": "l3", "value": {"t": 3}, "timestamp": 3000}"#),
                ("right", r#"{"key": "r2", "value": {"t": 2}, "timestamp": 2000} {"key": "r4", "value": {"t": 4}, "timestamp": 4000}"#),
            ],
            expect: &[(
                "merged",
                r#"
                {"key": "l1", "timestamp": 1000}
                {"key": "r2", "timestamp": 2000}
                {"key": "l3", "timestamp": 3000}
                {"key": "r4", "timestamp": 4000}
                "#,
            )],
        },
    );
}

const ORDERS: &str = r#"
{"key": "o1", "value": {"total": 500, "country": "NL"}}
{"key": "o2", "value": {"total": 50, "country": "NL"}}
{"key": "o3", "value": {"total": 5, "country": "DE"}}
{"key": "o4", "value": {"total": 200, "country": "DE"}}
"#;

#[test]
fn branch_first_match_wins_with_catch_all() {
    check(
        "branch",
        Case {
            def: "ops/branch.yaml",
            input: &[("orders", ORDERS)],
            expect: &[
                ("big", r#"{"key": "o1"} {"key": "o4"}"#),
                ("medium", r#"{"key": "o2", "value": {"total": 50, "tier": "medium"}}"#),
                ("small", r#"{"key": "o3"}"#),
                // No catch-all: records no branch takes are dropped.
                ("only_big", r#"{"key": "o1"} {"key": "o4"}"#),
            ],
        },
    );
}

#[test]
fn nested_branch() {
    check(
        "branch-nested",
        Case {
            def: "ops/branch_nested.yaml",
            input: &[("orders", ORDERS)],
            expect: &[("nl_big", r#"{"key": "o1"}"#), ("nl_other", r#"{"key": "o2"}"#), ("elsewhere", r#"{"key": "o3"} {"key": "o4"}"#)],
        },
    );
}

#[test]
fn for_each_sees_every_record() {
    let dir = Dir::new("for-each");
    let def = dir.fixture("ops/for_each.yaml");
    dir.produce("numbers", NUMBERS);
    let out = dir.run(&[&def]);
    common::assert_ok(&out, "weir run");
    let log = common::stderr(&out);
    for line in ["forEach saw a=1", "forEach saw b=2", "forEach saw c=3"] {
        assert!(log.contains(line), "missing {line:?} in:\n{log}");
    }
}

#[test]
fn print_to_stdout_and_to_a_file() {
    let (dir, stdout) = check(
        "print",
        Case {
            def: "ops/print.yaml",
            input: &[("words", r#"{"key": "k1", "value": "hello"} {"key": "k2", "value": "world"}"#)],
            expect: &[],
        },
    );
    let lines: Vec<&str> = stdout.lines().collect();
    // Pipelines run in file order for each record.
    assert_eq!(lines, ["[words]: k1, hello", "[mapped]: k1 says hello", "[words]: k2, world", "[mapped]: k2 says world"], "{stdout}");
    assert_eq!(dir.read("printed.txt"), "[file]: HELLO\n[file]: WORLD\n");
}

#[test]
fn to_named_and_inline_topics_with_partitioners() {
    let dir = Dir::new("to");
    let def = dir.fixture("ops/to.yaml");
    for topic in ["partitioned_out", "copied_out"] {
        let out = dir.weir(&["topic", "create", topic, "--partitions", "3"], "");
        common::assert_ok(&out, "weir topic create");
    }
    dir.produce("numbers", NUMBERS);
    dir.run_ok(&[&def]);
    let all = r#"{"key": "a", "value": {"n": 1}} {"key": "b", "value": {"n": 2}} {"key": "c", "value": {"n": 3}}"#;
    dir.expect_topic("named_out", all);
    dir.expect_topic("inline_out", all);
    // n % 3: partition 1, 2, 0 (consume lists partition by partition).
    dir.expect_topic("partitioned_out", r#"{"key": "c", "partition": 0} {"key": "a", "partition": 1} {"key": "b", "partition": 2}"#);
    // [0, 2]: every record in both partitions.
    dir.expect_topic(
        "copied_out",
        r#"
        {"key": "a", "partition": 0} {"key": "b", "partition": 0} {"key": "c", "partition": 0}
        {"key": "a", "partition": 2} {"key": "b", "partition": 2} {"key": "c", "partition": 2}
        "#,
    );
}

#[test]
fn to_topic_name_extractor_routes_per_record() {
    check(
        "topic-name-extractor",
        Case {
            def: "ops/topic_name_extractor.yaml",
            input: &[(
                "events",
                r#"{"key": "1", "value": {"kind": "click"}} {"key": "2", "value": {"kind": "view"}} {"key": "3", "value": {"kind": "click"}}"#,
            )],
            expect: &[("events_click", r#"{"key": "1"} {"key": "3"}"#), ("events_view", r#"{"key": "2"}"#)],
        },
    );
}

#[test]
fn as_chaining_and_implicit_as() {
    check(
        "as",
        Case {
            def: "ops/as_chaining.yaml",
            input: &[("numbers", NUMBERS)],
            expect: &[
                ("out_doubled", r#"{"key": "a", "value": {"n": 2}} {"key": "b", "value": {"n": 4}} {"key": "c", "value": {"n": 6}}"#),
                ("out_plus_one", r#"{"key": "a", "value": {"n": 3}} {"key": "b", "value": {"n": 5}} {"key": "c", "value": {"n": 7}}"#),
            ],
        },
    );
}

#[test]
fn timestamp_extractor_sets_record_timestamps() {
    check(
        "timestamp-extractor",
        Case {
            def: "ops/timestamp_extractor.yaml",
            input: &[(
                "events",
                r#"
                {"key": "a", "value": {"at": 5000}, "timestamp": 1}
                {"key": "b", "value": {"at": 3000}, "timestamp": 2}
                {"key": "c", "value": {}, "timestamp": 3}
                "#,
            )],
            // previousTimestamp is the partition time: the highest timestamp extracted so far.
            expect: &[("out", r#"{"key": "a", "timestamp": 5000} {"key": "b", "timestamp": 3000} {"key": "c", "timestamp": 5001}"#)],
        },
    );
}

// ---- producers ----------------------------------------------------------------------------

/// Runs a producer definition until it is done; returns the directory.
fn produce_with(name: &str, def: &str, expected: &str) -> Dir {
    let dir = Dir::new(name);
    let def = dir.fixture(def);
    dir.run_ok(&[&def]);
    dir.expect_topic("out", expected);
    dir
}

#[test]
fn producer_once_writes_one_record() {
    produce_with("producer-once", "producers/once.yaml", r#"{"key": "k", "value": {"n": 1}}"#);
}

#[test]
fn producer_count() {
    produce_with(
        "producer-count",
        "producers/count.yaml",
        r#"{"key": "k1", "value": {"n": 1}} {"key": "k2", "value": {"n": 2}} {"key": "k3", "value": {"n": 3}}"#,
    );
}

#[test]
fn producer_batch_size_writes_a_batch_per_run() {
    let start = Instant::now();
    produce_with(
        "producer-batch",
        "producers/batch_size.yaml",
        r#"{"value": {"n": 1}} {"value": {"n": 2}} {"value": {"n": 3}} {"value": {"n": 4}}"#,
    );
    assert!(start.elapsed() < Duration::from_secs(30), "one run of the producer should write the whole batch");
}

#[test]
fn producer_condition_skips_rejected_records() {
    produce_with("producer-condition", "producers/condition.yaml", r#"{"value": {"n": 2}} {"value": {"n": 4}} {"value": {"n": 6}}"#);
}

#[test]
fn producer_until_still_writes_the_last_record() {
    produce_with("producer-until", "producers/until.yaml", r#"{"value": {"n": 1}} {"value": {"n": 2}} {"value": {"n": 3}}"#);
}

#[test]
fn producer_generator_returning_a_list() {
    produce_with(
        "producer-list",
        "producers/list.yaml",
        r#"
        {"key": "a", "value": {"call": 1}} {"key": "b", "value": {"call": 1}}
        {"key": "a", "value": {"call": 2}} {"key": "b", "value": {"call": 2}}
        "#,
    );
}

#[test]
fn producer_interval_spaces_the_records() {
    let dir =
        produce_with("producer-interval", "producers/interval.yaml", r#"{"value": {"n": 1}} {"value": {"n": 2}} {"value": {"n": 3}}"#);
    let times: Vec<i64> = dir.consume("out").iter().map(|r| r["timestamp"].as_i64().expect("timestamp")).collect();
    for pair in times.windows(2) {
        assert!(pair[1] - pair[0] >= 150, "records should be ~200 ms apart: {times:?}");
    }
}

#[test]
fn producer_partitioner() {
    let dir = Dir::new("producer-partitioner");
    let out = dir.weir(&["topic", "create", "out", "--partitions", "2"], "");
    common::assert_ok(&out, "weir topic create");
    let def = dir.fixture("producers/partitioner.yaml");
    dir.run_ok(&[&def]);
    dir.expect_topic(
        "out",
        r#"
        {"value": {"n": 2}, "partition": 0} {"value": {"n": 4}, "partition": 0}
        {"value": {"n": 1}, "partition": 1} {"value": {"n": 3}, "partition": 1}
        "#,
    );
}

// ---- runner config and offsets ------------------------------------------------------------

fn runner(pipelines: bool, producers: bool) -> String {
    format!(
        "ksml:\n  definitions:\n    producer: producer.yaml\n    processor: processor.yaml\n  enablePipelines: {pipelines}\n  \
         enableProducers: {producers}\nkafka:\n  application.id: app\n  bootstrap.servers: unused:9092\n"
    )
}

const PASS_THROUGH: &str = "
streams:
  in:
    topic: in
    keyType: string
    valueType: json
pipelines:
  copy:
    from: in
    to:
      topic: out
      keyType: string
      valueType: json
";

const ONE_RECORD_PRODUCER: &str = r#"
producers:
  one:
    generator:
      expression: '("produced", {"n": 0})'
      resultType: (string, json)
    to:
      topic: in
      keyType: string
      valueType: json
"#;

#[test]
fn enable_pipelines_false_runs_only_the_producers() {
    let dir = Dir::new("no-pipelines");
    dir.write("producer.yaml", ONE_RECORD_PRODUCER).write("processor.yaml", PASS_THROUGH).write("ksml-runner.yaml", &runner(false, true));
    dir.run_ok(&["ksml-runner.yaml"]);
    dir.expect_topic("in", r#"{"key": "produced"}"#);
    dir.expect_topic("out", "");
}

#[test]
fn enable_producers_false_runs_only_the_pipelines() {
    let dir = Dir::new("no-producers");
    dir.write("producer.yaml", ONE_RECORD_PRODUCER).write("processor.yaml", PASS_THROUGH).write("ksml-runner.yaml", &runner(true, false));
    dir.produce("in", r#"{"key": "fed", "value": {"n": 1}}"#);
    dir.run_ok(&["ksml-runner.yaml"]);
    dir.expect_topic("in", r#"{"key": "fed"}"#);
    dir.expect_topic("out", r#"{"key": "fed"}"#);
}

#[test]
fn producer_and_pipeline_in_one_run() {
    let dir = Dir::new("both");
    dir.write("producer.yaml", ONE_RECORD_PRODUCER).write("processor.yaml", PASS_THROUGH).write("ksml-runner.yaml", &runner(true, true));
    dir.run_ok(&["ksml-runner.yaml"]);
    dir.expect_topic("out", r#"{"key": "produced", "value": {"n": 0}}"#);
}

#[test]
fn a_second_run_resumes_from_the_committed_offsets() {
    let dir = Dir::new("resume");
    dir.write("def.yaml", PASS_THROUGH);
    dir.produce("in", r#"{"key": "a", "value": {"n": 1}} {"key": "b", "value": {"n": 2}}"#);
    dir.run_ok(&["def.yaml"]);
    dir.expect_topic("out", r#"{"key": "a"} {"key": "b"}"#);
    // Nothing new: nothing reprocessed.
    dir.run_ok(&["def.yaml"]);
    dir.expect_topic("out", r#"{"key": "a"} {"key": "b"}"#);
    dir.produce("in", r#"{"key": "c", "value": {"n": 3}}"#);
    dir.run_ok(&["def.yaml"]);
    dir.expect_topic("out", r#"{"key": "a"} {"key": "b"} {"key": "c"}"#);
}

#[test]
fn offset_reset_latest_skips_what_was_there_before_the_first_run() {
    let dir = Dir::new("latest");
    dir.write("def.yaml", &PASS_THROUGH.replace("valueType: json\npipelines", "valueType: json\n    offsetResetPolicy: latest\npipelines"));
    assert!(dir.read("def.yaml").contains("offsetResetPolicy: latest"));
    dir.produce("in", r#"{"key": "old", "value": {"n": 1}}"#);
    dir.run_ok(&["def.yaml"]);
    dir.expect_topic("out", "");
    // The first run committed the end; what comes after is processed.
    dir.produce("in", r#"{"key": "new", "value": {"n": 2}}"#);
    dir.run_ok(&["def.yaml"]);
    dir.expect_topic("out", r#"{"key": "new"}"#);
}

#[test]
fn repartition_goes_through_an_internal_topic() {
    let dir = Dir::new("repartition");
    let def = dir.fixture("ops/repartition.yaml");
    dir.produce("numbers", NUMBERS);
    dir.run_ok(&[&def]);
    // n % 3: partitions 1, 2, 0 of the internal topic (consume lists partition by partition).
    dir.expect_topic("weir-by_n-repartition", r#"{"key": "c", "partition": 0} {"key": "a", "partition": 1} {"key": "b", "partition": 2}"#);
    // Downstream of the repartition, each partition is its own task: the output holds every
    // record once, transformed.
    let out = dir.consume("spread_out");
    let mut got: Vec<String> = out.iter().map(|r| r["value"].to_string()).collect();
    got.sort();
    assert_eq!(got, [r#"{"n":1,"doubled":2}"#, r#"{"n":2,"doubled":4}"#, r#"{"n":3,"doubled":6}"#]);
}

#[test]
fn a_key_change_repartitions_before_grouping_and_to_table() {
    let dir = Dir::new("rekeyed");
    common::assert_ok(&dir.weir(&["topic", "create", "clicks", "--partitions", "2"], ""), "weir topic create");
    let def = dir.fixture("ops/rekeyed.yaml");
    // Read keys that land in both partitions, with the same user and page across them.
    dir.produce(
        "clicks",
        r#"
        {"key": "k1", "value": {"user": "u1", "page": "home"}, "timestamp": 1000}
        {"key": "k2", "value": {"user": "u1", "page": "cart"}, "timestamp": 2000}
        {"key": "k3", "value": {"user": "u2", "page": "home"}, "timestamp": 3000}
        {"key": "k4", "value": {"user": "u1", "page": "home"}, "timestamp": 4000}
        {"key": "k5", "value": {"user": "u1", "page": "cart"}, "timestamp": 5000}
        "#,
    );
    let read: std::collections::BTreeSet<i64> = dir.consume("clicks").iter().filter_map(|r| r["partition"].as_i64()).collect();
    assert_eq!(read.len(), 2, "the input keys must span both partitions");
    dir.run_ok(&[&def]);
    assert_eq!(dir.consume("weir-group_users-repartition").len(), 5);
    // Every user's records were counted in one task: 1..=4 for u1, whatever the partition.
    let mut counts: Vec<(String, i64)> = longs(&dir, "user_counts").into_iter().map(|(k, v, _)| (k, v)).collect();
    counts.sort();
    assert_eq!(counts, [("u1".into(), 1), ("u1".into(), 2), ("u1".into(), 3), ("u1".into(), 4), ("u2".into(), 1)]);
    // toTable after `map`: through its own repartition topic, values (of unknown type) intact.
    assert_eq!(dir.consume("weir-pages-repartition").len(), 5);
    let mut pages: Vec<(String, String)> = dir
        .consume("page_updates")
        .iter()
        .map(|r| (r["key"].as_str().unwrap_or_default().to_string(), r["value"]["user"].to_string()))
        .collect();
    pages.sort();
    assert_eq!(pages.len(), 5, "{pages:?}");
    assert_eq!(pages[0], ("cart".to_string(), "\"u1\"".to_string()));
}

#[test]
fn stores_with_changelogs_survive_a_restart() {
    let dir = Dir::new("store-restart");
    let def = dir.fixture("stores/counts.yaml");
    dir.produce("words", r#"{"key": "a", "value": {"n": 1}} {"key": "b", "value": {"n": 2}} {"key": "a", "value": {"n": 3}}"#);
    dir.run_ok(&[&def]);
    dir.expect_topic(
        "counts",
        r#"
        {"key": "a", "value": {"logged": 1, "persisted": 1, "memory": 1}}
        {"key": "b", "value": {"logged": 1, "persisted": 1, "memory": 1}}
        {"key": "a", "value": {"logged": 2, "persisted": 2, "memory": 2}}
        "#,
    );
    // The changelogs: compacted, one record per change, under the application id (`weir`).
    let topics = stdout(&dir.weir(&["topic", "list"], ""));
    let line = |topic: &str| topics.lines().find(|l| l.split_whitespace().next() == Some(topic)).map(str::to_string);
    for topic in ["weir-logged-changelog", "weir-persisted-changelog"] {
        let found = line(topic).unwrap_or_else(|| panic!("no {topic} in:\n{topics}"));
        assert!(found.contains("compact"), "{found}");
        assert_eq!(dir.consume(topic).len(), 3, "{topic}");
    }
    assert!(line("weir-memory-changelog").is_none(), "an in-memory store without logging has no changelog:\n{topics}");

    // A new process: the logged and persistent counts come back from their changelogs.
    dir.produce("words", r#"{"key": "a", "value": {"n": 4}} {"key": "b", "value": {"n": 5}}"#);
    dir.run_ok(&[&def]);
    dir.expect_topic(
        "counts",
        r#"
        {"key": "a", "value": {"logged": 1, "persisted": 1, "memory": 1}}
        {"key": "b", "value": {"logged": 1, "persisted": 1, "memory": 1}}
        {"key": "a", "value": {"logged": 2, "persisted": 2, "memory": 2}}
        {"key": "a", "value": {"logged": 3, "persisted": 3, "memory": 1}}
        {"key": "b", "value": {"logged": 2, "persisted": 2, "memory": 1}}
        "#,
    );
}

const SALES: &str = r#"
{"key": "a", "value": {"region": "north", "amount": 5}, "timestamp": 1000}
{"key": "b", "value": {"region": "south", "amount": 7}, "timestamp": 2000}
{"key": "a", "value": {"region": "south", "amount": 1}, "timestamp": 1500}
{"key": "a", "value": null, "timestamp": 4000}
{"key": "b", "value": {"region": "north", "amount": 2}, "timestamp": 5000}
"#;

/// The `(key, value, timestamp)` of a topic of longs (`weir topic consume` prints a long's
/// 8 big-endian bytes as text).
fn longs(dir: &Dir, topic: &str) -> Vec<(String, i64, i64)> {
    dir.consume(topic)
        .iter()
        .map(|r| {
            let text = r["value"].as_str().unwrap_or_else(|| panic!("{topic}: {r}"));
            let bytes: Vec<u8> = text.chars().map(|c| c as u32 as u8).collect();
            let value = i64::from_be_bytes(bytes.try_into().unwrap_or_else(|_| panic!("{topic}: not 8 bytes: {r}")));
            (r["key"].as_str().unwrap_or_default().to_string(), value, r["timestamp"].as_i64().unwrap_or(-1))
        })
        .collect()
}

fn updates(list: &[(&str, i64, i64)]) -> Vec<(String, i64, i64)> {
    list.iter().map(|(k, v, t)| (k.to_string(), *v, *t)).collect()
}

#[test]
fn count_reduce_and_aggregate_emit_every_update() {
    let dir = Dir::new("aggregate");
    let def = dir.fixture("ops/aggregate.yaml");
    dir.produce("sales", SALES);
    dir.run_ok(&[&def]);
    // The update's timestamp is the larger of the record's and the aggregate's (a's second
    // record is older than its first); the null value is skipped.
    assert_eq!(longs(&dir, "counts"), updates(&[("a", 1, 1000), ("b", 1, 2000), ("a", 2, 1500), ("b", 2, 5000)]));
    assert_eq!(longs(&dir, "sums"), updates(&[("a", 5, 1000), ("b", 7, 2000), ("a", 6, 1500), ("b", 9, 5000)]));
    // groupBy: by the new key, through `<application.id>-<name>-repartition`, without the
    // record whose new key is null.
    assert_eq!(dir.consume("weir-by_region-repartition").len(), 4);
    dir.expect_topic(
        "region_totals",
        r#"
        {"key": "north", "value": {"n": 1, "total": 5}, "timestamp": 1000}
        {"key": "south", "value": {"n": 1, "total": 7}, "timestamp": 2000}
        {"key": "south", "value": {"n": 2, "total": 8}, "timestamp": 2000}
        {"key": "north", "value": {"n": 2, "total": 7}, "timestamp": 5000}
        "#,
    );
    let topics = stdout(&dir.weir(&["topic", "list"], ""));
    // `count` without a store: an internal store named after the operation, with a changelog;
    // the inline store `sums` without `logging` has none; `region_totals` logs.
    assert!(topics.contains("weir-sales_count-changelog"), "{topics}");
    assert!(topics.contains("weir-region_totals-changelog"), "{topics}");
    assert!(!topics.contains("weir-sums-changelog"), "{topics}");
}

#[test]
fn counts_continue_from_the_changelog_after_a_restart() {
    let dir = Dir::new("aggregate-restart");
    let def = dir.fixture("ops/aggregate.yaml");
    dir.produce("sales", SALES);
    dir.run_ok(&[&def]);
    dir.produce("sales", r#"{"key": "a", "value": {"region": "north", "amount": 10}, "timestamp": 6000}"#);
    dir.run_ok(&[&def]);
    let counts = longs(&dir, "counts");
    assert_eq!(counts.len(), 5);
    assert_eq!(counts[4], ("a".to_string(), 3, 6000), "the count of 'a' restored from its changelog");
    let totals = dir.consume("region_totals");
    assert_eq!(totals[4]["value"].to_string(), r#"{"n":3,"total":17}"#);
    // `sums` has no changelog: in memory only, it starts again.
    let sums = longs(&dir, "sums");
    assert_eq!(sums[4], ("a".to_string(), 10, 6000));
}

#[test]
fn what_aggregations_do_not_run_yet_is_refused_at_the_operation() {
    let dir = Dir::new("aggregate-refused");
    let def = |via: &str| {
        format!(
            "streams:\n  in:\n    topic: in\n    keyType: string\n    valueType: json\npipelines:\n  p:\n    from: in\n    via:\n{via}    to:\n      topic: out\n      keyType: string\n      valueType: long\n"
        )
    };
    let cases = [(
        "      - type: groupByKey\n      - type: count\n      - type: filter\n        if:\n          expression: value > 1\n        store:\n          type: keyValue\n          name: big\n      - type: toStream\n",
        "operation 'filter' on a table is not supported by 'weir run' yet",
    )];
    for (via, expected) in cases {
        dir.write("def.yaml", &def(via));
        let out = dir.run(&["def.yaml"]);
        let err = common::stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(err.contains(expected), "expected {expected:?} in:\n{err}");
    }
}

#[test]
fn tables_filter_map_values_and_to_stream() {
    let dir = Dir::new("table");
    let def = dir.fixture("ops/table.yaml");
    let updates = r#"
    {"key": "apple", "value": {"price": 5}, "timestamp": 1000}
    {"key": "pear", "value": {"price": 20}, "timestamp": 2000}
    {"key": "apple", "value": {"price": 15}, "timestamp": 3000}
    {"key": "pear", "value": null, "timestamp": 4000}
    {"key": null, "value": {"price": 1}, "timestamp": 5000}
    "#;
    dir.produce("prices", updates);
    dir.produce("price_updates", updates);
    dir.run_ok(&[&def]);
    // A rejected update is a delete; a delete passes without calling the functions.
    dir.expect_topic(
        "cheap_prices",
        r#"
        {"key": "apple", "value": {"price": 5, "cheap": true}, "timestamp": 1000}
        {"key": "pear", "value": null, "timestamp": 2000}
        {"key": "apple", "value": null, "timestamp": 3000}
        {"key": "pear", "value": null, "timestamp": 4000}
        "#,
    );
    dir.expect_topic(
        "dear_prices",
        r#"
        {"key": "apple", "value": null}
        {"key": "pear", "value": {"price": 20}}
        {"key": "apple", "value": {"price": 15}}
        {"key": "pear", "value": null}
        "#,
    );
    dir.expect_topic(
        "latest_prices",
        r#"
        {"key": "apple", "value": {"price": 5}}
        {"key": "pear", "value": {"price": 20}}
        {"key": "apple", "value": {"price": 15}}
        {"key": "pear", "value": null}
        "#,
    );
    // The toTable store logs every change, the delete as a null value; the table's own store
    // (named after the topic) has no changelog.
    let changelog = dir.consume("weir-latest_prices-changelog");
    assert_eq!(changelog.len(), 4);
    assert_eq!(changelog[3]["value"], serde_json::Value::Null);
    let topics = stdout(&dir.weir(&["topic", "list"], ""));
    assert!(!topics.contains("weir-prices-changelog"), "{topics}");
}
