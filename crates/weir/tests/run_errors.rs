//! `weir run` error handling end to end, configured by a runner config's `errorHandling`
//! (KSML's error handling reference, with Weir's additions: the process handler is wired, and each
//! phase may have a dead-letter topic).
//!
//! - consume errors (a record that does not decode) with `continueOnFail`: skipped, the rest
//!   processed, the dead letter holds the original bytes and headers plus `weir.error.*`;
//! - process errors (a Python exception) with `continueOnFail`: the same, naming the function;
//! - `stopOnFail` (the default): `weir run` exits non-zero naming the function and the YAML
//!   line, and the failed record is not committed, so the next run processes it;
//! - `retryOnFail` on process errors: a function that fails twice succeeds on the third try
//!   and its output appears once;
//! - produce errors (a value the target topic cannot hold) with `continueOnFail`.

#[path = "run/common.rs"]
mod common;

use common::Dir;
use serde_json::{Value as Json, json};

/// A runner config for `definition` with `error_handling` (YAML, indented under
/// `errorHandling:`).
fn runner(definition: &str, error_handling: &str) -> String {
    format!(
        "ksml:\n  definitions:\n    main: {definition}\n  errorHandling:\n{error_handling}\nkafka:\n  application.id: errors-test\n  \
         bootstrap.servers: unused:9092\n"
    )
}

/// Sets up a directory with the fixture, a runner config and input records.
fn setup(name: &str, fixture: &str, error_handling: &str, input: &str) -> Dir {
    let dir = Dir::new(name);
    let def = dir.fixture(fixture);
    dir.write("ksml-runner.yaml", &runner(&def, error_handling));
    dir.produce("orders", input);
    dir
}

/// The headers of a consumed record.
fn headers(record: &Json) -> &serde_json::Map<String, Json> {
    record["headers"].as_object().expect("headers object")
}

#[test]
fn consume_error_with_continue_on_fail_goes_to_the_dead_letter_topic() {
    let dir = setup(
        "consume-continue",
        "errors/pipeline.yaml",
        "    consume:\n      handler: continueOnFail\n      deadLetterTopic: dlq",
        r#"
        {"key": "a", "value": {"n": 1}}
        {"key": "bad", "value": "not json {", "timestamp": 1234, "headers": {"trace": "t-1"}}
        {"key": "c", "value": {"n": 4}}
        "#,
    );
    dir.run_ok(&["ksml-runner.yaml"]);
    dir.expect_topic("out", r#"{"key": "a", "value": {"n": 1, "share": 100}} {"key": "c", "value": {"n": 4, "share": 25}}"#);
    let dlq = dir.consume("dlq");
    assert_eq!(dlq.len(), 1, "{dlq:?}");
    let dead = &dlq[0];
    // The original bytes, timestamp and headers.
    assert_eq!((&dead["key"], &dead["value"], &dead["timestamp"]), (&json!("bad"), &json!("not json {"), &json!(1234)));
    let h = headers(dead);
    assert_eq!(h["trace"], "t-1");
    assert_eq!(h["weir.error.phase"], "consume");
    assert_eq!((&h["weir.error.topic"], &h["weir.error.partition"], &h["weir.error.offset"]), (&json!("orders"), &json!("0"), &json!("1")));
    let message = h["weir.error.message"].as_str().expect("message");
    assert!(message.contains("json") && message.contains("value"), "{message}");
    assert!(!h.contains_key("weir.error.function"), "{h:?}");
}

#[test]
fn with_log_false_skipped_records_leave_one_line_for_the_first() {
    let dir = setup(
        "process-unlogged",
        "errors/pipeline.yaml",
        "    process:\n      handler: continueOnFail\n      log: false",
        r#"
        {"key": "zero", "value": {"n": 0}}
        {"key": "b", "value": {"n": 2}}
        {"key": "zero-again", "value": {"n": 0}}
        "#,
    );
    let out = dir.run(&["ksml-runner.yaml"]);
    common::assert_ok(&out, "weir run");
    dir.expect_topic("out", r#"{"key": "b", "value": {"n": 2, "share": 50}}"#);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| l.contains("errors are not logged")).collect();
    assert_eq!(lines.len(), 1, "one line for both skipped records:\n{stderr}");
    assert!(lines[0].contains("process errors are not logged ('log: false' in ksml.errorHandling.process)"), "{}", lines[0]);
    assert!(lines[0].contains("orders/0@0") && lines[0].contains("record skipped"), "{}", lines[0]);
    assert!(!stderr.contains("ZeroDivisionError"), "no error lines: {stderr}");
    assert!(stderr.contains("errors 2"), "the progress line counts both: {stderr}");
}

#[test]
fn consume_error_stops_by_default() {
    let dir = setup("consume-stop", "errors/pipeline.yaml", "    process:\n      handler: stopOnFail", r#"{"key": "bad", "value": "{"}"#);
    let out = dir.run(&["ksml-runner.yaml"]);
    assert_ne!(out.status.code(), Some(0));
    let err = common::stderr(&out);
    assert!(err.contains("consume error on orders/0@0"), "{err}");
}

#[test]
fn process_error_with_continue_on_fail_goes_to_the_dead_letter_topic() {
    let dir = setup(
        "process-continue",
        "errors/pipeline.yaml",
        "    process:\n      handler: continueOnFail\n      deadLetterTopic: dlq",
        r#"
        {"key": "a", "value": {"n": 1}}
        {"key": "zero", "value": {"n": 0}, "timestamp": 99, "headers": {"trace": "t-2"}}
        {"key": "c", "value": {"n": 4}}
        "#,
    );
    dir.run_ok(&["ksml-runner.yaml"]);
    dir.expect_topic("out", r#"{"key": "a", "value": {"n": 1, "share": 100}} {"key": "c", "value": {"n": 4, "share": 25}}"#);
    let dlq = dir.consume("dlq");
    assert_eq!(dlq.len(), 1, "{dlq:?}");
    let dead = &dlq[0];
    assert_eq!((&dead["key"], &dead["value"], &dead["timestamp"]), (&json!("zero"), &json!({"n": 0}), &json!(99)));
    let h = headers(dead);
    assert_eq!(h["trace"], "t-2");
    assert_eq!(h["weir.error.phase"], "process");
    assert_eq!(h["weir.error.function"], "main.per_unit");
    assert_eq!((&h["weir.error.topic"], &h["weir.error.partition"], &h["weir.error.offset"]), (&json!("orders"), &json!("0"), &json!("1")));
    let message = h["weir.error.message"].as_str().expect("message");
    assert!(message.contains("ZeroDivisionError"), "{message}");
    assert!(message.contains("pipeline.yaml:15"), "the message should name the YAML line: {message}");
    // The logged traceback shows the YAML line's code, although functions may not read host
    // files (the text is Weir's, not read by Python).
    let out = setup(
        "process-traceback",
        "errors/pipeline.yaml",
        "    process:\n      handler: continueOnFail",
        r#"{"key": "zero", "value": {"n": 0}}"#,
    )
    .run(&["ksml-runner.yaml"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("share = 100 // n"), "the traceback shows the failing line:\n{stderr}");
}

#[test]
fn stop_on_fail_stops_and_a_restart_reprocesses_the_failed_record() {
    // No errorHandling for process: stopOnFail is the default.
    let dir = setup(
        "process-stop",
        "errors/pipeline.yaml",
        "    consume:\n      handler: stopOnFail",
        r#"
        {"key": "a", "value": {"n": 1}}
        {"key": "zero", "value": {"n": 0}}
        {"key": "c", "value": {"n": 4}}
        "#,
    );
    let out = dir.run(&["ksml-runner.yaml"]);
    assert_ne!(out.status.code(), Some(0), "weir run should fail");
    let err = common::stderr(&out);
    assert!(err.contains("main.per_unit"), "the error should name the function:\n{err}");
    assert!(err.contains("pipeline.yaml:15"), "the error should name the YAML line:\n{err}");
    assert!(err.contains("ZeroDivisionError"), "{err}");
    // What came before the failure was written (and committed).
    dir.expect_topic("out", r#"{"key": "a"}"#);

    // Running again fails on the same record: it was not committed.
    let out = dir.run(&["ksml-runner.yaml"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(common::stderr(&out).contains("orders/0@1"), "{}", common::stderr(&out));
    dir.expect_topic("out", r#"{"key": "a"}"#);

    // With the bug fixed, the restart processes the failed record and what follows it, and
    // does not redo the record before it.
    let fixed = dir.read("pipeline.yaml").replace("share = 100 // n", "share = 100 // n if n else None");
    dir.write("pipeline.yaml", &fixed);
    dir.run_ok(&["ksml-runner.yaml"]);
    dir.expect_topic(
        "out",
        r#"{"key": "a", "value": {"n": 1, "share": 100}} {"key": "zero", "value": {"n": 0, "share": null}} {"key": "c", "value": {"n": 4, "share": 25}}"#,
    );
}

#[test]
fn stop_on_fail_writes_a_records_dead_letter_once_across_restarts() {
    let dir = setup(
        "process-stop-dlq",
        "errors/pipeline.yaml",
        "    process:\n      handler: stopOnFail\n      deadLetterTopic: dlq",
        r#"
        {"key": "a", "value": {"n": 1}}
        {"key": "zero", "value": {"n": 0}}
        "#,
    );
    for run in 1..=3 {
        let out = dir.run(&["ksml-runner.yaml"]);
        assert_ne!(out.status.code(), Some(0), "run {run} stops on the record");
        if run > 1 {
            assert!(common::stderr(&out).contains("orders/0@1 is already in dead-letter topic 'dlq'"), "{}", common::stderr(&out));
        }
    }
    let dlq = dir.consume("dlq");
    assert_eq!(dlq.len(), 1, "one dead letter for the record, not one per run: {dlq:?}");
    assert_eq!(dlq[0]["key"], json!("zero"));
}

#[test]
fn retry_on_fail_retries_a_failing_function() {
    let dir = setup("process-retry", "errors/flaky.yaml", "    process:\n      handler: retryOnFail", r#"{"key": "a", "value": {"n": 1}}"#);
    dir.run_ok(&["ksml-runner.yaml"]);
    // Two failed calls, the third succeeds; the output appears once.
    dir.expect_topic("out", r#"{"key": "a", "value": {"n": 1, "calls": 3}}"#);
}

#[test]
fn retry_on_fail_gives_up_and_stops() {
    let dir = setup(
        "process-retry-gives-up",
        "errors/pipeline.yaml",
        "    process:\n      handler: retryOnFail",
        r#"{"key": "zero", "value": {"n": 0}}"#,
    );
    let out = dir.run(&["ksml-runner.yaml"]);
    assert_ne!(out.status.code(), Some(0));
    let err = common::stderr(&out);
    assert!(err.contains("retrying"), "{err}");
    assert!(err.contains("main.per_unit"), "{err}");
    dir.expect_topic("out", "");
}

#[test]
fn produce_error_with_continue_on_fail_goes_to_the_dead_letter_topic() {
    let dir = setup(
        "produce-continue",
        "errors/produce_error.yaml",
        "    produce:\n      handler: continueOnFail\n      deadLetterTopic: dlq",
        r#"{"key": "a", "value": {"n": 1}} {"key": "zero", "value": {"n": 0}} {"key": "c", "value": {"n": 2}}"#,
    );
    dir.run_ok(&["ksml-runner.yaml"]);
    dir.expect_topic("out", r#"{"key": "a", "value": {"n": 1}} {"key": "c", "value": {"n": 2}}"#);
    let dlq = dir.consume("dlq");
    assert_eq!(dlq.len(), 1, "{dlq:?}");
    assert_eq!((&dlq[0]["key"], &dlq[0]["value"]), (&json!("zero"), &json!({"n": 0})));
    let h = headers(&dlq[0]);
    assert_eq!(h["weir.error.phase"], "produce");
    assert!(h["weir.error.message"].as_str().expect("message").contains("'out'"), "{h:?}");
}
