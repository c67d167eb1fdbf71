//! `weir test` against KSML's own test-runner fixtures (`../shared/ksml/test-runner`): every
//! suite there has its expected outcome here, and Weir's own suites (`tests/suites/`, KSML's
//! tutorial examples) all pass.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fixtures() -> PathBuf {
    workspace().join("../shared/ksml/test-runner")
}

fn weir_test(args: &[&Path]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_weir"))
        .arg("test")
        .args(args)
        .env("NO_COLOR", "1")
        .env("WEIR_LOG", "error")
        .output()
        .expect("run weir test")
}

/// What a fixture must give.
enum Expect {
    /// Every test passes.
    Pass,
    /// Rejected before running: one `<parse>` ERROR whose message has this
    /// `file:line:col: message` tail.
    Invalid(&'static str),
    /// Tests that run and give these counts (passed, failed, errors), with these texts in the
    /// report.
    Counts(usize, usize, usize, &'static [&'static str]),
}

const EXPECTED: &[(&str, Expect)] = &[
    (
        "assert-no-topic-no-stores.yaml",
        Expect::Invalid("assert-no-topic-no-stores.yaml:16:9: an assert block of test 'empty_assert' needs 'on'"),
    ),
    ("bare-vendor-avro.yaml", Expect::Invalid("bare-vendor-avro.yaml:11:16: 'confluent_avro' needs a schema name in a test suite")),
    ("defaults-test.yaml", Expect::Pass),
    (
        "duplicate-stream-topic.yaml",
        Expect::Invalid("duplicate-stream-topic.yaml:9:12: streams 'source_one' and 'source_two' both use topic 'ksml_sensordata_avro'"),
    ),
    ("duplicate-test-key.yaml", Expect::Invalid("duplicate-test-key.yaml:19:3: duplicate key 'same_key'")),
    (
        "empty-stores-block.yaml",
        Expect::Invalid("empty-stores-block.yaml:30:17: 'stores' of an assert block of test 'empty_stores_passes_validation' is empty"),
    ),
    (
        "generator-bad-field-type-test.yaml",
        Expect::Invalid("generator-bad-field-type-test.yaml:20:17: generator field 'name' must be a string, found a number"),
    ),
    (
        "generator-with-python-error.yaml",
        Expect::Counts(
            0,
            0,
            1,
            &[
                "ERROR Generator with a Python error › Generator references an undefined variable",
                "error while executing function test.bad_gen: ZeroDivisionError: division by zero",
                "generator-with-python-error.yaml:22)",
            ],
        ),
    ),
    ("invalid-stream-key.yaml", Expect::Invalid("invalid-stream-key.yaml:4:3: invalid stream name 'with-dash'")),
    ("invalid-test-key.yaml", Expect::Invalid("invalid-test-key.yaml:9:3: invalid test name 'test with spaces'")),
    ("missing-produce.yaml", Expect::Invalid("missing-produce.yaml:9:3: test 'no_produce' is missing required key 'produce'")),
    ("missing-tests.yaml", Expect::Invalid("missing-tests.yaml:1:1: the test suite is missing required key 'tests'")),
    (
        "partial-fail-test.yaml",
        Expect::Counts(
            4,
            1,
            0,
            &[
                "  FAIL  Filtering & transforming pipeline (with intentional failure) › Out-of-range temperature is filtered out\n        AssertionError: Intentional failure: expected records on filtered_data, got 0\n        at ",
                "partial-fail-test.yaml:85: assert len(records) != 0,",
            ],
        ),
    ),
    ("processor-filtering-transforming-complete-test.yaml", Expect::Pass),
    ("sample-filter-test-apicurio-avro.yaml", Expect::Pass),
    ("sample-filter-test-avro-python-produce.yaml", Expect::Pass),
    ("sample-filter-test-confluent-avro.yaml", Expect::Pass),
    ("sample-filter-test-module-import.yaml", Expect::Pass),
    ("sample-filter-test-python-produce.yaml", Expect::Pass),
    ("sample-filter-test-registry-only-types.yaml", Expect::Pass),
    ("sample-filter-test.yaml", Expect::Pass),
    // A key-value store written by a function and read in the assertions.
    ("sample-state-store-test.yaml", Expect::Pass),
    ("sample-timestamp-test.yaml", Expect::Pass),
    ("two-assert-blocks.yaml", Expect::Pass),
    (
        "undefined-stream-reference.yaml",
        Expect::Invalid("undefined-stream-reference.yaml:11:13: the produce block of test 'bad_reference' refers to stream 'nonexistent'"),
    ),
    ("valid-test-definition.yaml", Expect::Pass),
    ("valid-test-with-stores.yaml", Expect::Pass),
];

/// `(passed, failed, errors)` from the report's last line.
fn counts(stdout: &str) -> Option<(usize, usize, usize)> {
    let line = stdout.lines().rev().find(|l| l.ends_with(" errors"))?;
    let n: Vec<usize> = line.split([' ', ',']).filter_map(|w| w.parse().ok()).collect();
    (n.len() == 3).then(|| (n[0], n[1], n[2]))
}

#[test]
fn ksml_fixtures_give_their_expected_outcomes() {
    let mut files: Vec<String> = std::fs::read_dir(fixtures())
        .expect("KSML test-runner fixtures beside the project")
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter(|n| n.ends_with(".yaml") || n.ends_with(".yml"))
        .collect();
    files.sort();
    let listed: Vec<&str> = EXPECTED.iter().map(|(f, _)| *f).collect();
    assert_eq!(files, listed, "every KSML fixture needs an expected outcome here");

    let mut problems = Vec::new();
    for (file, expect) in EXPECTED {
        let out = weir_test(&[&fixtures().join(file)]);
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        let code = out.status.code();
        let found = counts(&stdout);
        let ok = match expect {
            Expect::Pass => code == Some(0) && found.is_some_and(|(p, f, e)| p > 0 && f == 0 && e == 0),
            Expect::Invalid(tail) => {
                let stem = file.trim_end_matches(".yaml");
                code == Some(1)
                    && found == Some((0, 0, 1))
                    && stdout.contains(&format!("  ERROR {stem} › <parse>\n        invalid test suite: "))
                    && stdout.contains(tail)
                    // The full diagnostic, with the source line, goes to stderr.
                    && stderr.contains("error: ")
                    && stderr.contains(&format!("{}:{}", file, tail.split(':').nth(1).unwrap_or_default()))
            }
            Expect::Counts(p, f, e, texts) => {
                code == Some(if *f + *e == 0 { 0 } else { 1 }) && found == Some((*p, *f, *e)) && texts.iter().all(|t| stdout.contains(t))
            }
        };
        if !ok {
            problems.push(format!("{file}: exit {code:?}\n--- stdout\n{stdout}\n--- stderr\n{stderr}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

#[test]
fn weirs_own_suites_all_pass() {
    let suites = workspace().join("tests/suites");
    let out = weir_test(&[&suites]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let (passed, failed, errors) = counts(&stdout).unwrap_or_default();
    assert!(out.status.success() && failed == 0 && errors == 0 && passed >= 10, "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let files =
        std::fs::read_dir(&suites).expect("tests/suites").flatten().filter(|e| e.path().extension().is_some_and(|x| x == "yaml")).count();
    assert!(files >= 6, "one suite per runnable tutorial folder at least");
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path =
            std::env::temp_dir().join(format!("weir-test-runner-{name}-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::SeqCst)));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("temp dir");
        TempDir(path)
    }
    fn write(&self, file: &str, text: &str) -> PathBuf {
        let path = self.0.join(file);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("dir");
        std::fs::write(&path, text).expect("write");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const UPPERCASE: &str = "streams:\n  in:\n    topic: words\n    keyType: string\n    valueType: string\n  out:\n    topic: upper\n    keyType: string\n    valueType: string\nfunctions:\n  up:\n    type: valueTransformer\n    expression: value.upper()\n    resultType: string\npipelines:\n  p:\n    from: in\n    via:\n      - type: mapValues\n        mapper: up\n    to: out\n";

#[test]
fn failing_assertions_are_reported_with_their_line_and_exit_non_zero() {
    let dir = TempDir::new("fail");
    dir.write("defs/upper.yaml", UPPERCASE);
    let suite = dir.write(
        "suite.yaml",
        "definition: defs/upper.yaml\nstreams:\n  words: {topic: words}\n  upper: {topic: upper}\ntests:\n  upper_case:\n    produce:\n      - to: words\n        messages:\n          - {key: a, value: hello}\n    assert:\n      - on: upper\n        code: |\n          assert records[0]['value'] == 'HELLO'\n  wrong:\n    produce:\n      - to: words\n        messages:\n          - {key: a, value: hello}\n    assert:\n      - on: upper\n        code: |\n          value = records[0]['value']\n          assert value == 'hello', f\"expected hello, got {value}\"\n  broken:\n    produce:\n      - to: words\n        messages:\n          - {key: a, value: hello}\n    assert:\n      - on: upper\n        code: |\n          assert record[0]\n",
    );
    let junit = dir.0.join("report.xml");
    let out = Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(["test", "--junit"])
        .arg(&junit)
        .arg(&suite)
        .env("WEIR_LOG", "error")
        .output()
        .expect("run weir test");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("  PASS  suite › upper_case\n"), "{stdout}");
    let file = suite.display().to_string();
    assert!(
        stdout.contains(&format!(
            "  FAIL  suite › wrong\n        AssertionError: expected hello, got HELLO\n        at {file}:24: assert value == 'hello', f\"expected hello, got {{value}}\"\n"
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "  ERROR suite › broken\n        NameError: name 'record' is not defined\n        at {file}:33: assert record[0]\n"
        )),
        "{stdout}"
    );
    assert!(stdout.ends_with("\n1 passed, 1 failed, 1 errors\n"), "{stdout}");
    let xml = std::fs::read_to_string(&junit).expect("JUnit report");
    assert!(xml.contains("<testsuite name=\"suite\" tests=\"3\" failures=\"1\" errors=\"1\""), "{xml}");
    assert!(xml.contains("<failure message=\"AssertionError: expected hello, got HELLO\" type=\"AssertionError\">"), "{xml}");
    assert!(xml.contains("<error message=\"NameError: name &apos;record&apos; is not defined\" type=\"NameError\">"), "{xml}");
}

#[test]
fn missing_schemas_and_stores_are_errors_not_crashes() {
    let dir = TempDir::new("avro");
    dir.write("defs/upper.yaml", UPPERCASE);
    // An Avro stream whose schema file does not exist: every test of the suite is an ERROR
    // naming the stream, the type and the file looked for.
    let avro = dir.write(
        "avro.yaml",
        "definition: defs/upper.yaml\nschemaDirectory: schemas\nstreams:\n  words: {topic: words, valueType: 'avro:Word'}\n  upper: {topic: upper}\ntests:\n  avro:\n    produce:\n      - to: words\n        messages:\n          - {key: a, value: {w: hello}}\n    assert:\n      - on: upper\n        code: assert records\n",
    );
    std::fs::create_dir_all(dir.0.join("schemas")).expect("schemas dir");
    let out = weir_test(&[&avro]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let file = dir.0.join("schemas").join("Word.avsc");
    assert!(
        stdout.contains(&format!(
            "  ERROR avro › avro\n        stream 'words' (topic 'words'): value type 'avro:Word': schema 'Word' not found: there is no file '{}'\n",
            file.display()
        )),
        "{stdout}"
    );
    assert!(stdout.ends_with("\n0 passed, 0 failed, 1 errors\n"), "{stdout}");

    let stores = dir.write(
        "stores.yaml",
        "definition: defs/upper.yaml\nstreams:\n  words: {topic: words}\n  upper: {topic: upper}\ntests:\n  stores:\n    produce: []\n    assert:\n      - stores: [counts]\n        code: assert counts.get('a') == 1\n",
    );
    let out = weir_test(&[&stores]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("assert block 1 inspects state store 'counts' (at ")
            && stdout.contains("State store 'counts' not found in topology"),
        "{stdout}"
    );
    assert!(stdout.ends_with("\n0 passed, 0 failed, 1 errors\n"), "{stdout}");
}

#[test]
fn directories_contribute_their_direct_yaml_children_only() {
    let dir = TempDir::new("dirs");
    dir.write("defs/upper.yaml", UPPERCASE);
    let suite = "definition: ../defs/upper.yaml\nstreams:\n  words: {topic: words}\n  upper: {topic: upper}\ntests:\n  t:\n    produce:\n      - to: words\n        messages: [{key: a, value: b}]\n    assert:\n      - on: upper\n        code: assert [r['value'] for r in records] == ['B']\n";
    dir.write("suites/one.yaml", suite);
    dir.write("suites/two.yml", suite);
    dir.write("suites/notes.txt", "not a suite");
    dir.write("suites/nested/three.yaml", "this: is not read");
    let out = weir_test(&[&dir.0.join("suites")]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("  PASS  one › t\n  PASS  two › t\n") && stdout.ends_with("\n2 passed, 0 failed, 0 errors\n"), "{stdout}");

    let out = weir_test(&[&dir.0.join("suites/nested/none")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("path not found"));
}
