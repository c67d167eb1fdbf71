//! The `weir` binary end to end: exit codes and what it prints.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn weir(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_weir")).args(args).current_dir(root()).output().expect("run weir")
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn check_passes_on_the_example_application() {
    let out = weir(&["check", "examples/hello"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("checked 2 definition files and 1 runner config: 0 errors, 0 warnings"), "{}", stderr(&out));
}

#[test]
fn check_fails_with_located_diagnostics() {
    let out = weir(&["check", "crates/weir-dsl/tests/golden/key-typos.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("error: unknown key 'valuType' in stream 'sensors'"), "{err}");
    assert!(err.contains("crates/weir-dsl/tests/golden/key-typos.yaml:5:5 (at streams.sensors.valuType)"), "{err}");
    assert!(err.contains("= help: did you mean 'valueType'?"), "{err}");
    assert!(err.contains("checked 1 definition file: 7 errors, 0 warnings"), "{err}");
}

#[test]
fn check_reports_a_binary_file() {
    let out = weir(&["check", "crates/weir-dsl/tests/golden/binary-junk.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("binary-junk.yaml:3:14"), "{}", stderr(&out));
}

#[test]
fn check_of_a_missing_path_fails() {
    let out = weir(&["check", "no/such/file.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no/such/file.yaml"), "{}", stderr(&out));
}

#[test]
fn check_follows_a_runner_config_to_its_definitions() {
    let dir = std::env::temp_dir().join(format!("weir-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(
        dir.join("ksml-runner.yaml"),
        "ksml:\n  definitions:\n    main: main.yaml\nkafka:\n  application.id: a\n  bootstrap.servers: b:9092\n",
    )
    .expect("write");
    std::fs::write(dir.join("main.yaml"), "streams:\n  s:\n    topic: t\n    keyType: string\n    valueType: jsn\n").expect("write");
    let out = weir(&["check", dir.to_str().expect("utf-8 path")]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("main.yaml:5:16"), "{err}");
    assert!(err.contains("invalid type 'jsn'"), "{err}");
    assert!(err.contains("checked 1 definition file and 1 runner config: 1 error"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn schema_prints_json() {
    for args in [&["schema"][..], &["schema", "--runner"][..]] {
        let out = weir(args);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let value: serde_json::Value = serde_json::from_slice(&out.stdout).expect("schema is JSON");
        assert!(value.get("$defs").is_some() || value.get("properties").is_some(), "{value}");
    }
}

#[test]
fn check_reports_python_syntax_errors_at_the_yaml_line() {
    let dir = std::env::temp_dir().join(format!("weir-cli-py-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("bad.yaml");
    std::fs::write(&file, "functions:\n  f:\n    type: predicate\n    code: |\n      x = 1\n      if value >\n        pass\n")
        .expect("write");
    let out = weir(&["check", file.to_str().expect("utf-8 path")]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("error: Python syntax error in function 'f': invalid syntax"), "{err}");
    // The column is where CPython places the error, which varies between 3.11 releases.
    assert!(err.contains("bad.yaml:6:") && err.contains("(at functions.f.code)"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A schema a type names must have its file, as `weir run` requires: in the runner config's
/// schemaDirectory, or beside a definition checked on its own (then with a hint).
#[test]
fn check_reports_a_schema_file_that_is_not_there_as_run_would() {
    let dir = std::env::temp_dir().join(format!("weir-check-schemas-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("schemas")).expect("dir");
    let def = "streams:\n  s:\n    topic: in\n    keyType: string\n    valueType: avro:Reading\npipelines:\n  p:\n    from: s\n    to:\n      topic: out\n      valueType: avro:Missing\n";
    std::fs::write(dir.join("app.yaml"), def).expect("write");
    std::fs::write(dir.join("schemas/Reading.avsc"), r#"{"type":"record","name":"Reading","fields":[{"name":"v","type":"long"}]}"#)
        .expect("write");
    let runner = "ksml:\n  definitions:\n    app: app.yaml\n  schemaDirectory: schemas\nkafka:\n  bootstrap.servers: localhost:9092\n  application.id: x\n";
    std::fs::write(dir.join("ksml-runner.yaml"), runner).expect("write");
    let check = |args: &[&str]| Command::new(env!("CARGO_BIN_EXE_weir")).args(args).current_dir(&dir).output().expect("weir check");

    // Through the runner config: Reading is found in schemas/, Missing is not.
    let out = check(&["check", "ksml-runner.yaml"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("error: type 'avro:Missing': schema 'Missing' not found: there is no file './schemas/Missing.avsc'"), "{err}");
    assert!(err.contains("app.yaml:11:18 (at pipelines.p.to.valueType)"), "{err}");
    assert!(!err.contains("'avro:Reading'"), "{err}");
    assert!(err.contains(": 1 error,"), "{err}");
    // `weir run` refuses the same type.
    let run = check(&["run", "--embedded", "--until-idle", "ksml-runner.yaml"]);
    assert_ne!(run.status.code(), Some(0));
    assert!(stderr(&run).contains("schema 'Missing' not found"), "{}", stderr(&run));

    // On its own, the definition's schemas are looked for beside it: both are missing there.
    let out = check(&["check", "app.yaml"]);
    let err = stderr(&out);
    assert!(err.contains("type 'avro:Reading': schema 'Reading' not found"), "{err}");
    assert!(err.contains("check the runner config that names it"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
