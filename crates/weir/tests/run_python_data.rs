//! `weir run` end to end on the data path across the Python boundary (ARCHITECTURE.md,
//! "Python functions"): JSON records are decoded straight into Python objects, the same
//! object goes from one Python operation to the next, and a JSON sink writes it straight to
//! bytes. These tests pin the results that must not depend on that path:
//!
//! - a record going to several pipelines gives each its own copy (a change in one is not
//!   seen by the other);
//! - results are converted to the declared `resultType` (a dict declared `string` is text);
//! - KSML's `@type`/`@schema` keys are dropped, objects with no KSML type are process errors
//!   naming the function, with the original bytes in the dead letter;
//! - JSON the fast reader leaves to serde_json (escapes, big numbers) reads the same;
//! - a non-JSON sink after Python operations gets the converted value.

#[path = "run/common.rs"]
mod common;

use common::Dir;
use serde_json::json;

/// A runner config for the definition `def.yaml` with a process `errorHandling` of
/// `continueOnFail` and dead-letter topic `dlq`.
const RUNNER: &str = "ksml:\n  definitions:\n    main: def.yaml\n  errorHandling:\n    process:\n      handler: continueOnFail\n      \
                      deadLetterTopic: dlq\nkafka:\n  application.id: data-test\n  bootstrap.servers: unused:9092\n";

fn setup(name: &str, definition: &str, input: &str) -> Dir {
    let dir = Dir::new(name);
    dir.write("def.yaml", definition);
    dir.write("ksml-runner.yaml", RUNNER);
    dir.produce("orders", input);
    dir
}

#[test]
fn pipelines_reading_one_topic_do_not_see_each_others_changes() {
    let dir = setup(
        "fan-out",
        r#"
streams:
  orders: {topic: orders, keyType: string, valueType: json}
functions:
  mark:
    type: forEach
    code: |
      value["marked"] = True
      value["items"].append(99)
  same:
    type: valueTransformer
    expression: value
    resultType: json
pipelines:
  first:
    from: orders
    via:
      - type: peek
        forEach: mark
    to: {topic: first, keyType: string, valueType: json}
  second:
    from: orders
    via:
      - type: mapValues
        mapper: same
    to: {topic: second, keyType: string, valueType: json}
"#,
        r#"{"key": "a", "value": {"n": 1, "items": [1]}}"#,
    );
    dir.run_ok(&["ksml-runner.yaml"]);
    // The peek changed its own copy in place; KSML passes each function a fresh value, and
    // the other pipeline still gets the record as it was read.
    assert_eq!(dir.values("second"), vec![json!({"n": 1, "items": [1]})]);
    assert_eq!(dir.values("first").len(), 1);
}

#[test]
fn results_are_converted_to_their_result_type() {
    let dir = setup(
        "result-types",
        r#"
streams:
  orders: {topic: orders, keyType: string, valueType: json}
functions:
  as_text:
    type: valueTransformer
    expression: '{"n": value["n"]}'
    resultType: string
  as_json:
    type: valueTransformer
    expression: '{"n": value["n"], "@type": "Order", "@schema": {}, "t": (1, "x")}'
    resultType: json
  as_struct_from_list:
    type: valueTransformer
    expression: '[value["n"]]'
    resultType: struct
pipelines:
  text:
    from: orders
    via:
      - type: mapValues
        mapper: as_text
    to: {topic: text, keyType: string, valueType: string}
  json:
    from: orders
    via:
      - type: mapValues
        mapper: as_json
    to: {topic: json, keyType: string, valueType: json}
  wrong:
    from: orders
    via:
      - type: mapValues
        mapper: as_struct_from_list
    to: {topic: wrong, keyType: string, valueType: json}
"#,
        r#"{"key": "a", "value": {"n": 7}}"#,
    );
    dir.run_ok(&["ksml-runner.yaml"]);
    // A dict declared `string` is its text form, as KSML's conversion writes it.
    assert_eq!(dir.values("text"), vec![json!("{n: 7}")]);
    // `@type` and `@schema` are dropped; a tuple is written as an array.
    assert_eq!(dir.values("json"), vec![json!({"n": 7, "t": [1, "x"]})]);
    // A list is not a struct: a process error naming the function.
    assert!(dir.values("wrong").is_empty());
    let dlq = dir.consume("dlq");
    assert_eq!(dlq.len(), 1, "{dlq:?}");
    let message = dlq[0]["headers"]["weir.error.message"].as_str().expect("message");
    assert!(message.contains("does not fit the resultType 'struct'"), "{message}");
    assert_eq!(dlq[0]["headers"]["weir.error.function"], "main.as_struct_from_list");
}

#[test]
fn objects_with_no_ksml_type_are_process_errors_with_the_original_bytes() {
    let dir = setup(
        "no-ksml-type",
        r#"
streams:
  orders: {topic: orders, keyType: string, valueType: json}
functions:
  stamp:
    type: valueTransformer
    globalCode: import datetime
    code: |
      if value["n"] == 2:
          return {"n": value["n"], "when": datetime.date(2024, 1, 1)}
      return {"n": value["n"], "ok": True}
    resultType: json
pipelines:
  stamped:
    from: orders
    via:
      - type: filter
        if:
          expression: value["n"] > 0
      - type: mapValues
        mapper: stamp
    to: {topic: out, keyType: string, valueType: json}
"#,
        r#"
        {"key": "a", "value": {"n": 1}}
        {"key": "b", "value": {"n": 2}, "headers": {"trace": "t-9"}}
        {"key": "c", "value": {"n": 3}}
        "#,
    );
    dir.run_ok(&["ksml-runner.yaml"]);
    assert_eq!(dir.values("out"), vec![json!({"n": 1, "ok": true}), json!({"n": 3, "ok": true})]);
    let dlq = dir.consume("dlq");
    assert_eq!(dlq.len(), 1, "{dlq:?}");
    assert_eq!((&dlq[0]["key"], &dlq[0]["value"]), (&json!("b"), &json!({"n": 2})));
    let h = &dlq[0]["headers"];
    assert_eq!(h["trace"], "t-9");
    assert_eq!(h["weir.error.phase"], "process");
    assert_eq!(h["weir.error.function"], "main.stamp");
    let message = h["weir.error.message"].as_str().expect("message");
    assert!(message.contains("a Python 'date' has no KSML type") && message.contains("$.when"), "{message}");
}

#[test]
fn unusual_json_reads_the_same() {
    let dir = Dir::new("unusual-json");
    dir.write(
        "def.yaml",
        r#"
streams:
  orders: {topic: orders, keyType: string, valueType: json}
functions:
  keep:
    type: predicate
    expression: value["s"] is not None
  copy:
    type: valueTransformer
    expression: '{"s": value["s"], "big": value["big"], "neg": value["neg"], "tiny": value["tiny"], "types": [type(v).__name__ for v in value.values()]}'
    resultType: json
pipelines:
  copied:
    from: orders
    via:
      - type: filter
        if: keep
      - type: mapValues
        mapper: copy
    to: {topic: out, keyType: string, valueType: json}
"#,
    );
    dir.write("ksml-runner.yaml", RUNNER);
    let raw = "{\"s\":\"tab\\there \\u00e9 \\\"q\\\" \\ud83d\\ude00\",\"big\":18446744073709551615,\"neg\":-0,\"tiny\":1e-400}\n";
    dir.write("in.jsonl", raw);
    let out = dir.weir(&["topic", "produce", "orders", "--raw", "--file", "in.jsonl"], "");
    common::assert_ok(&out, "weir topic produce --raw");
    dir.run_ok(&["ksml-runner.yaml"]);
    assert_eq!(
        dir.values("out"),
        vec![json!({
            "s": "tab\there é \"q\" 😀",
            "big": 18446744073709551615.0,
            "neg": -0.0,
            "tiny": 0.0,
            "types": ["str", "float", "float", "float"],
        })]
    );
}

#[test]
fn a_binary_sink_after_python_gets_the_converted_value() {
    let dir = setup(
        "binary-sink",
        r#"
streams:
  orders: {topic: orders, keyType: string, valueType: json}
functions:
  pair:
    type: valueTransformer
    expression: '[value["n"], value["n"] * 2]'
    resultType: '[int]'
pipelines:
  pairs:
    from: orders
    via:
      - type: mapValues
        mapper: pair
    to: {topic: out, keyType: string, valueType: '[int]'}
"#,
        r#"{"key": "a", "value": {"n": 21}}"#,
    );
    dir.run_ok(&["ksml-runner.yaml"]);
    assert_eq!(dir.values("out"), vec![json!([21, 42])]);
}

#[test]
fn several_stream_threads_share_the_functions() {
    let dir = Dir::new("threads");
    dir.write(
        "def.yaml",
        r#"
streams:
  orders: {topic: orders, keyType: string, valueType: json}
functions:
  big:
    type: predicate
    expression: value["n"] % 2 == 0
  tag:
    type: valueTransformer
    expression: '{"n": value["n"], "tags": [t.upper() for t in value["tags"]]}'
    resultType: json
pipelines:
  tagged:
    from: orders
    via:
      - type: filter
        if: big
      - type: mapValues
        mapper: tag
    to: {topic: out, keyType: string, valueType: json}
"#,
    );
    dir.write(
        "ksml-runner.yaml",
        "ksml:\n  definitions:\n    main: def.yaml\nkafka:\n  application.id: threads-test\n  bootstrap.servers: unused:9092\n  \
         num.stream.threads: 4\n",
    );
    let out = dir.weir(&["topic", "create", "orders", "--partitions", "4"], "");
    common::assert_ok(&out, "weir topic create");
    let input: String =
        (0..2000).map(|n| format!("{{\"key\": \"k{n}\", \"value\": {{\"n\": {n}, \"tags\": [\"a\", \"b{}\"]}}}}\n", n % 7)).collect();
    dir.produce("orders", &input);
    dir.run_ok(&["ksml-runner.yaml"]);
    let mut values: Vec<i64> = dir.values("out").iter().map(|v| v["n"].as_i64().expect("n")).collect();
    values.sort_unstable();
    assert_eq!(values, (0..2000).filter(|n| n % 2 == 0).collect::<Vec<_>>());
    assert!(dir.values("out").iter().all(|v| v["tags"][0] == "A" && v["tags"][1].as_str().is_some_and(|t| t.starts_with('B'))));
}
