//! Test suites (KSML's test-runner format): KSML's own fixtures parse, and each malformed
//! one is rejected at the right line and column with a clear message.

use std::path::{Path, PathBuf};

use weir_dsl::suite::{ProduceData, parse_suite};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/ksml/test-runner")
}

/// The diagnostics of a fixture as `line:col message`.
fn diagnostics(name: &str) -> Vec<String> {
    let path = fixtures().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let (_, diags) = parse_suite(name, &text);
    diags
        .iter()
        .filter(|d| d.is_error())
        .map(|d| format!("{}:{} {}", d.span.map_or(0, |s| s.line), d.span.map_or(0, |s| s.col), d.message))
        .collect()
}

#[test]
fn malformed_ksml_fixtures_are_rejected_where_the_problem_is() {
    let cases: &[(&str, &str)] = &[
        ("missing-tests.yaml", "1:1 the test suite is missing required key 'tests'"),
        ("missing-produce.yaml", "9:3 test 'no_produce' is missing required key 'produce'"),
        (
            "assert-no-topic-no-stores.yaml",
            "16:9 an assert block of test 'empty_assert' needs 'on' (a stream whose records to check) or 'stores' (state stores to inspect)",
        ),
        ("invalid-test-key.yaml", "9:3 invalid test name 'test with spaces': it must match ^[a-zA-Z][a-zA-Z0-9_]*$"),
        ("invalid-stream-key.yaml", "4:3 invalid stream name 'with-dash': it must match ^[a-zA-Z][a-zA-Z0-9_]*$"),
        ("duplicate-test-key.yaml", "19:3 duplicate key 'same_key'"),
        ("duplicate-stream-topic.yaml", "9:12 streams 'source_one' and 'source_two' both use topic 'ksml_sensordata_avro'"),
        (
            "undefined-stream-reference.yaml",
            "11:13 the produce block of test 'bad_reference' refers to stream 'nonexistent', which is not declared in 'streams'",
        ),
        ("bare-vendor-avro.yaml", "11:16 'confluent_avro' needs a schema name in a test suite"),
        ("generator-bad-field-type-test.yaml", "20:17 generator field 'name' must be a string, found a number"),
        (
            "empty-stores-block.yaml",
            "30:17 'stores' of an assert block of test 'empty_stores_passes_validation' is empty, and there is no 'on'",
        ),
    ];
    let mut problems = Vec::new();
    for (file, expected) in cases {
        let found = diagnostics(file);
        if found.len() != 1 || !found[0].starts_with(expected) {
            problems.push(format!("{file}: expected one error starting with\n    {expected}\n  found\n    {}", found.join("\n    ")));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn valid_ksml_fixtures_parse_without_errors() {
    let broken = [
        "missing-tests.yaml",
        "missing-produce.yaml",
        "assert-no-topic-no-stores.yaml",
        "invalid-test-key.yaml",
        "invalid-stream-key.yaml",
        "duplicate-test-key.yaml",
        "duplicate-stream-topic.yaml",
        "undefined-stream-reference.yaml",
        "bare-vendor-avro.yaml",
        "generator-bad-field-type-test.yaml",
        "empty-stores-block.yaml",
    ];
    let mut files: Vec<String> = std::fs::read_dir(fixtures())
        .expect("KSML test-runner fixtures")
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter(|n| n.ends_with(".yaml") && !broken.contains(&n.as_str()))
        .collect();
    files.sort();
    assert!(files.len() >= 15, "{files:?}");
    for file in files {
        let found = diagnostics(&file);
        assert!(found.is_empty(), "{file}: {found:?}");
    }
}

#[test]
fn defaults_follow_ksml() {
    let text = std::fs::read_to_string(fixtures().join("defaults-test.yaml")).expect("fixture");
    let (suite, diags) = parse_suite("x/defaults-test.yaml", &text);
    assert!(diags.is_empty(), "{diags:?}");
    let suite = suite.expect("suite");
    assert_eq!(suite.name, "Defaults test - keyType and valueType default to string");
    assert_eq!(suite.streams["input"].key_type.value.to_string(), "string");
    assert_eq!(suite.streams["output"].value_type.value.to_string(), "string");

    let (suite, _) = parse_suite(
        "dir/my-suite.yaml",
        "definition: d.yaml\nstreams:\n  s:\n    topic: t\ntests:\n  t1:\n    produce:\n      - to: s\n        generator:\n          code: result = [('k', 'v')]\n    assert:\n      - on: s\n        code: assert records\n",
    );
    let suite = suite.expect("suite");
    assert_eq!(suite.name, "my-suite");
    let ProduceData::Generator { generator, count } = &suite.tests["t1"].produce[0].data else { panic!("generator") };
    assert_eq!((generator.name.as_str(), generator.expression.text.as_str(), *count), ("test_generator", "result", 1));
    assert_eq!(suite.tests["t1"].label(), "t1");
}

#[test]
fn unknown_keys_are_errors_with_suggestions() {
    let (_, diags) = parse_suite(
        "s.yaml",
        "definition: d.yaml\nstreams:\n  s:\n    topic: t\n    valuType: json\ntests:\n  t1:\n    definition: x\n    produce:\n      - to: s\n        messages:\n          - {key: a, value: b, timestmp: 5}\n        count: 2\n    asert: []\n",
    );
    let found: Vec<String> = diags
        .iter()
        .map(|d| {
            format!(
                "{}:{} {} ({})",
                d.span.map_or(0, |s| s.line),
                d.span.map_or(0, |s| s.col),
                d.message,
                d.hint.clone().unwrap_or_default()
            )
        })
        .collect();
    let expect = [
        "5:5 unknown key 'valuType' in stream 's' (did you mean 'valueType'?)",
        "7:3 test 't1' is missing required key 'assert'",
        "8:5 'definition' is a suite-level key and cannot appear under test 't1'",
        "12:32 unknown key 'timestmp' in a message (did you mean 'timestamp'?)",
        "13:9 'count' only applies to a 'generator'",
        "14:5 unknown key 'asert' in test 't1' (did you mean 'assert'?)",
    ];
    for (i, e) in expect.iter().enumerate() {
        assert!(found.get(i).is_some_and(|f| f.starts_with(e)), "expected {e}\nfound:\n{}", found.join("\n"));
    }
    assert_eq!(found.len(), expect.len(), "{}", found.join("\n"));
}

#[test]
fn messages_keep_yaml_types_and_timestamps() {
    let (suite, diags) = parse_suite(
        "s.yaml",
        "definition: d.yaml\nstreams:\n  s: {topic: t, valueType: json}\ntests:\n  t1:\n    produce:\n      - to: s\n        messages:\n          - key: k\n            value: {a: 1, b: '2', c: [x, 1.5]}\n            timestamp: 1709200000000\n          - {key: 7, value: ~, timestamp: -1}\n    assert:\n      - {on: s, code: assert True}\n",
    );
    let found: Vec<String> =
        diags.iter().map(|d| format!("{}:{} {}", d.span.map_or(0, |s| s.line), d.span.map_or(0, |s| s.col), d.message)).collect();
    assert_eq!(found, ["12:43 'timestamp' must be a whole number of milliseconds since the epoch, found '-1'"]);
    let suite = suite.expect("suite");
    let ProduceData::Messages(messages) = &suite.tests["t1"].produce[0].data else { panic!("messages") };
    assert_eq!(messages[0].value, serde_json::json!({"a": 1, "b": "2", "c": ["x", 1.5]}));
    assert_eq!(messages[0].timestamp, Some(1_709_200_000_000));
    assert_eq!(suite.tests["t1"].asserts[0].code.line, 14);
}
