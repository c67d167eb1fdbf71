//! `weir run` end to end for windowed aggregations, `cogroup` and `suppress`: definitions
//! from `tests/run/windows/`, input fed with `weir topic produce`, one `weir run
//! --until-idle`, and the exact records read back. Expectations are Kafka Streams' results
//! for the same input (its window assignment, sliding-window and session-merge algorithms,
//! grace, and `suppress` emission by stream time), worked out by hand in the comments.

#[path = "run/common.rs"]
mod common;

use common::{Dir, stderr, stdout};

fn windows() -> (Dir, String) {
    let dir = Dir::new("windows");
    let def = dir.fixture("windows/windows.yaml");
    (dir, def)
}

#[test]
fn sliding_windows_follow_kafka_streams_left_and_right_windows() {
    let (dir, def) = windows();
    dir.produce(
        "sliding_in",
        r#"
        {"key": "e", "value": {}, "timestamp": 2000}
        {"key": "e", "value": {}, "timestamp": 5000}
        {"key": "e", "value": {}, "timestamp": 1000}
        {"key": "a", "value": {}, "timestamp": 20000}
        {"key": "a", "value": {}, "timestamp": 25000}
        {"key": "a", "value": {}, "timestamp": 40000}
        {"key": "a", "value": {}, "timestamp": 32000}
        "#,
    );
    let out = dir.run(&[&def]);
    common::assert_ok(&out, "weir run");
    // Records earlier than the time difference share [0, 10000]: e@5000 also makes e@2000's
    // right window [2001, 12001]; e@1000 (out of order) makes its right window [1001, 11001]
    // with the two later records, then joins [0, 10000].
    // 20000: its left window [10000, 20000]. 25000: the previous record's right window
    // [20001, 30001] (holding only 25000), then its left window [15000, 25000] (both records).
    // 40000: its left window [30000, 40000] alone (25000 is more than 10 s before).
    // 32000 (late by 8 s, no grace): [30000, 40000] takes it; the previous record's right
    // window [25001, 35001] and its own left window [22000, 32000] have closed (end before
    // stream time 40000): dropped; its right window [32001, 42001] holds 40000 only.
    dir.expect_topic(
        "sliding_counts",
        r#"
        {"key": "e@0-10000", "value": "1", "timestamp": 2000}
        {"key": "e@2001-12001", "value": "1", "timestamp": 5000}
        {"key": "e@0-10000", "value": "2", "timestamp": 5000}
        {"key": "e@1001-11001", "value": "2", "timestamp": 5000}
        {"key": "e@0-10000", "value": "3", "timestamp": 5000}
        {"key": "a@10000-20000", "value": "1", "timestamp": 20000}
        {"key": "a@20001-30001", "value": "1", "timestamp": 25000}
        {"key": "a@15000-25000", "value": "2", "timestamp": 25000}
        {"key": "a@30000-40000", "value": "1", "timestamp": 40000}
        {"key": "a@30000-40000", "value": "2", "timestamp": 40000}
        {"key": "a@32001-42001", "value": "1", "timestamp": 40000}
        "#,
    );
    // Each dropped window update is logged with the operation, the window and the stream time.
    let err = stderr(&out);
    let warnings: Vec<&str> = err.lines().filter(|l| l.contains("skipping a record for an expired window")).collect();
    assert_eq!(warnings.len(), 2, "{err}");
    assert!(
        warnings[0].contains("sliding_count") && warnings[0].contains("[25001,35001]") && warnings[0].contains("stream_time=40000"),
        "{err}"
    );
}

#[test]
fn tumbling_windows_drop_late_records_and_restore_after_a_restart() {
    let (dir, def) = windows();
    dir.produce(
        "tumbling_in",
        r#"
        {"key": "a", "value": {}, "timestamp": 1000}
        {"key": "a", "value": {}, "timestamp": 9000}
        {"key": "b", "value": {}, "timestamp": 12500}
        {"key": "a", "value": {}, "timestamp": 9999}
        {"key": "a", "value": {}, "timestamp": 10000}
        "#,
    );
    dir.run_ok(&[&def]);
    // 9999 arrives at stream time 12500: [0, 10000) closed at 10000 + 2 s grace.
    let first = r#"
        {"key": "a@0-10000", "value": "1", "timestamp": 1000}
        {"key": "a@0-10000", "value": "2", "timestamp": 9000}
        {"key": "b@10000-20000", "value": "1", "timestamp": 12500}
        {"key": "a@10000-20000", "value": "1", "timestamp": 10000}
    "#;
    dir.expect_topic("tumbling_counts", first);
    // The internal store is named after the operation and logs its changes.
    let topics = stdout(&dir.weir(&["topic", "list"], ""));
    assert!(topics.contains("weir-tumbling_count-changelog"), "{topics}");

    // A second run restores the windows and the stream time from the changelog: the count of
    // [10000, 20000) goes on, and a record for the closed window is still late.
    dir.produce(
        "tumbling_in",
        r#"
        {"key": "a", "value": {}, "timestamp": 5000}
        {"key": "a", "value": {}, "timestamp": 15000}
        "#,
    );
    dir.run_ok(&[&def]);
    dir.expect_topic("tumbling_counts", &format!("{first}\n{}", r#"{"key": "a@10000-20000", "value": "2", "timestamp": 15000}"#));
}

#[test]
fn sessions_merge_and_delete_the_sessions_they_replace() {
    let (dir, def) = windows();
    dir.produce(
        "session_in",
        r#"
        {"key": "a", "value": {"n": 1}, "timestamp": 1000}
        {"key": "a", "value": {"n": 2}, "timestamp": 4000}
        {"key": "b", "value": {"n": 4}, "timestamp": 5000}
        {"key": "a", "value": {"n": 8}, "timestamp": 20000}
        {"key": "a", "value": {"n": 16}, "timestamp": 3000}
        "#,
    );
    dir.run_ok(&[&def]);
    // 4000 is within 5 s of the session [1000, 1000]: it is deleted (a null value at its end)
    // and the merged session [1000, 4000] holds the sum. 3000 would join [1000, 4000], which
    // closed at 4000 + 5 s gap (no grace) before stream time 20000: dropped.
    dir.expect_topic(
        "session_sums",
        r#"
        {"key": "a@1000-1000", "value": "1", "timestamp": 1000}
        {"key": "a@1000-1000", "value": null, "timestamp": 1000}
        {"key": "a@1000-4000", "value": "3", "timestamp": 4000}
        {"key": "b@5000-5000", "value": "4", "timestamp": 5000}
        {"key": "a@20000-20000", "value": "8", "timestamp": 20000}
        "#,
    );
    // A second run restores the sessions and the stream time (the latest session end): 3500
    // is still late, 21000 extends [20000, 20000].
    dir.produce(
        "session_in",
        r#"
        {"key": "a", "value": {"n": 32}, "timestamp": 3500}
        {"key": "a", "value": {"n": 64}, "timestamp": 21000}
        "#,
    );
    dir.run_ok(&[&def]);
    let sums = dir.consume("session_sums");
    let last: Vec<String> = sums[5..].iter().map(|r| format!("{} {} {}", r["key"], r["value"], r["timestamp"])).collect();
    assert_eq!(last, ["\"a@20000-20000\" null 20000", "\"a@20000-21000\" 72 21000"], "{sums:?}");
    let topics = stdout(&dir.weir(&["topic", "list"], ""));
    assert!(topics.contains("weir-session_sum-changelog"), "{topics}");
}

#[test]
fn cogrouped_hopping_windows_aggregate_with_the_cogroups_aggregator() {
    let (dir, def) = windows();
    dir.produce(
        "cogroup_in",
        r#"
        {"key": "a", "value": {"n": 1}, "timestamp": 3000}
        {"key": "a", "value": {"n": 2}, "timestamp": 7000}
        {"key": "a", "value": {"n": 4}, "timestamp": 12000}
        "#,
    );
    dir.run_ok(&[&def]);
    // 10 s windows every 5 s: 3000 is in [0, 10000) only, 7000 also in [5000, 15000), 12000
    // in [5000, 15000) and [10000, 20000).
    dir.expect_topic(
        "cogroup_sums",
        r#"
        {"key": "a@0-10000", "value": "1", "timestamp": 3000}
        {"key": "a@0-10000", "value": "3", "timestamp": 7000}
        {"key": "a@5000-15000", "value": "2", "timestamp": 7000}
        {"key": "a@5000-15000", "value": "6", "timestamp": 12000}
        {"key": "a@10000-20000", "value": "4", "timestamp": 12000}
        "#,
    );
    // Session-windowed: the merger combines the sessions a record joins, starting from the
    // initializer's value (merger(0, 1) = 10), then the cogroup's aggregator adds the record.
    dir.produce(
        "cogroup_session_in",
        r#"
        {"key": "a", "value": {"n": 1}, "timestamp": 1000}
        {"key": "a", "value": {"n": 2}, "timestamp": 3000}
        "#,
    );
    dir.run_ok(&[&def]);
    dir.expect_topic(
        "cogroup_session_sums",
        r#"
        {"key": "a@1000-1000", "value": "1", "timestamp": 1000}
        {"key": "a@1000-1000", "value": null, "timestamp": 1000}
        {"key": "a@1000-3000", "value": "12", "timestamp": 3000}
        "#,
    );
}

#[test]
fn window_stores_too_short_for_the_window_are_refused() {
    let dir = Dir::new("windows-refused");
    let def = |window: &str, store: &str| {
        format!(
            "streams:\n  in:\n    topic: in\n    keyType: string\n    valueType: json\npipelines:\n  p:\n    from: in\n    via:\n      - type: groupByKey\n{window}      - type: count\n        store:\n{store}      - type: toStream\n    to:\n      topic: out\n      keyType: json\n      valueType: long\n"
        )
    };
    let cases = [
        (
            "      - type: windowByTime\n        windowType: tumbling\n        duration: 1m\n        grace: 10s\n",
            "          type: window\n          retention: 1m\n",
            "the retention of window store 'pipelines_p_via_step3' must be no smaller than its window size plus the grace period (Kafka Streams refuses it): got 60000 ms, needs at least 70000 ms",
        ),
        (
            "      - type: windowBySession\n        inactivityGap: 1m\n",
            "          type: session\n          retention: 30s\n",
            "the retention of session store 'pipelines_p_via_step3' must be no smaller than the inactivity gap plus the grace period",
        ),
        (
            "      - type: windowByTime\n        windowType: sliding\n        timeDifference: 1m\n",
            "          type: window\n          retention: 1m\n",
            "twice the time difference plus the grace period",
        ),
    ];
    for (window, store, expected) in cases {
        dir.write("def.yaml", &def(window, store));
        let out = dir.run(&["def.yaml"]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(err.contains(expected), "expected {expected:?} in:\n{err}");
    }
    // A top-level store whose declared types cannot hold the stream's key or the aggregate.
    dir.write(
        "def.yaml",
        "streams:\n  in:\n    topic: in\n    keyType: string\n    valueType: json\nstores:\n  counts:\n    type: window\n    retention: 1m\n    keyType: string\n    valueType: string\npipelines:\n  p:\n    from: in\n    via:\n      - type: groupByKey\n      - type: windowByTime\n        windowType: tumbling\n        duration: 1m\n      - type: count\n        store: counts\n      - type: toStream\n    to:\n      topic: out\n      keyType: json\n      valueType: long\n",
    );
    let out = dir.run(&["def.yaml"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("incompatible value types for state store 'counts': 'string' and 'long'"), "{err}");
}

#[test]
fn suppress_until_window_closes_emits_final_results_and_keeps_its_buffer_over_a_restart() {
    let (dir, def) = windows();
    dir.produce(
        "suppress_in",
        r#"
        {"key": "a", "value": {}, "timestamp": 1000}
        {"key": "a", "value": {}, "timestamp": 5000}
        {"key": "b", "value": {}, "timestamp": 9000}
        {"key": "a", "value": {}, "timestamp": 11000}
        {"key": "b", "value": {}, "timestamp": 12000}
        {"key": "a", "value": {}, "timestamp": 25000}
        "#,
    );
    dir.run_ok(&[&def]);
    // [0, 10000) closes at stream time 12000 (end + 2 s grace): both keys' final counts, with
    // the timestamps of their last updates, in key order. [10000, 20000) closes at 22000, so
    // 25000 emits it; a's [20000, 30000) is still open.
    let first = r#"
        {"key": "a@0-10000", "value": "2", "timestamp": 5000}
        {"key": "b@0-10000", "value": "1", "timestamp": 9000}
        {"key": "a@10000-20000", "value": "1", "timestamp": 11000}
        {"key": "b@10000-20000", "value": "1", "timestamp": 12000}
    "#;
    dir.expect_topic("final_counts", first);
    // The buffer is restored from its changelog: a later record closes [20000, 30000).
    dir.produce("suppress_in", r#"{"key": "b", "value": {}, "timestamp": 40000}"#);
    dir.run_ok(&[&def]);
    dir.expect_topic("final_counts", &format!("{first}\n{}", r#"{"key": "a@20000-30000", "value": "1", "timestamp": 25000}"#));
}

#[test]
fn suppress_until_time_limit_and_emit_early_when_full() {
    let (dir, def) = windows();
    dir.produce(
        "limit_in",
        r#"
        {"key": "a", "value": {}, "timestamp": 1000}
        {"key": "a", "value": {}, "timestamp": 2000}
        {"key": "b", "value": {}, "timestamp": 3000}
        {"key": "a", "value": {}, "timestamp": 6000}
        {"key": "b", "value": {}, "timestamp": 8000}
        "#,
    );
    dir.produce(
        "early_in",
        r#"
        {"key": "a", "value": {}, "timestamp": 1000}
        {"key": "b", "value": {}, "timestamp": 2000}
        {"key": "a", "value": {}, "timestamp": 3000}
        "#,
    );
    dir.run_ok(&[&def]);
    // A key is held from its first update for 5 s of stream time, then its latest update goes.
    dir.expect_topic(
        "limited_counts",
        r#"
        {"key": "a", "value": "3", "timestamp": 6000}
        {"key": "b", "value": "2", "timestamp": 8000}
        "#,
    );
    // One record at most: a second key pushes the oldest out early.
    dir.expect_topic(
        "early_counts",
        r#"
        {"key": "a", "value": "1", "timestamp": 1000}
        {"key": "b", "value": "1", "timestamp": 2000}
        "#,
    );
}

#[test]
fn a_full_suppress_buffer_stops_the_application_with_shutdown_when_full() {
    let dir = Dir::new("suppress-full");
    dir.write(
        "def.yaml",
        "streams:\n  in:\n    topic: in\n    keyType: string\n    valueType: json\npipelines:\n  p:\n    from: in\n    via:\n      - type: groupByKey\n      - type: count\n      - type: suppress\n        until: timeLimit\n        duration: 1h\n        maxRecords: 1\n        bufferFullStrategy: shutdownWhenFull\n      - type: toStream\n    to:\n      topic: out\n      keyType: string\n      valueType: string\n",
    );
    dir.produce("in", r#"{"key": "a", "value": {}, "timestamp": 1000} {"key": "b", "value": {}, "timestamp": 2000}"#);
    let out = dir.run(&["def.yaml"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("process error on in/0@1 in operation 'def_pipelines_p_via_2': the suppress buffer")
            && err.contains("the suppress buffer exceeded its capacity (2 records")
            && err.contains("a full buffer stops the application ('shutdownWhenFull')"),
        "{err}"
    );
    assert!(dir.consume("out").is_empty());

    // A final result is never emitted early: `emitEarlyWhenFull` on `untilWindowCloses` is
    // warned about, and a full buffer stops the application.
    let dir = Dir::new("suppress-full-windows");
    dir.write(
        "def.yaml",
        "streams:\n  in:\n    topic: in\n    keyType: string\n    valueType: json\npipelines:\n  p:\n    from: in\n    via:\n      - type: groupByKey\n      - type: windowByTime\n        windowType: tumbling\n        duration: 10s\n      - type: count\n      - type: suppress\n        until: windowCloses\n        maxRecords: 1\n        bufferFullStrategy: emitEarlyWhenFull\n      - type: toStream\n    to:\n      topic: out\n      keyType: json\n      valueType: string\n",
    );
    dir.produce("in", r#"{"key": "a", "value": {}, "timestamp": 1000} {"key": "b", "value": {}, "timestamp": 2000}"#);
    let out = dir.run(&["def.yaml"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("a window's final result is never emitted early"), "{err}");
    assert!(
        err.contains("process error on in/0@1 in operation 'def_pipelines_p_via_3': the suppress buffer exceeded its capacity"),
        "{err}"
    );
    assert!(dir.consume("out").is_empty());
}
