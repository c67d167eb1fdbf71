//! `weir run` reaches the HTTP registry clients: a runner config's `schemaRegistries` entry
//! named by a notation, and the `kafka` section's `schema.registry.url`, are turned into
//! clients at startup (settings problems stop the run, naming the notation, the registry and
//! the setting), and a run with a reachable registry proceeds.
//!
//! Records written through a registry notation (Avro) are not covered here: the Avro codec is
//! not on this branch yet. The clients themselves are covered by `registry_http.rs`.

#[path = "run/common.rs"]
mod common;

#[path = "registry/common.rs"]
mod registry_common;

use common::Dir;
use registry_common::Fake;

const PIPELINE: &str = "streams:\n  orders:\n    topic: orders\n    keyType: string\n    valueType: json\npipelines:\n  copy:\n    from: orders\n    \
                        to:\n      topic: out\n      keyType: string\n      valueType: json\n";

/// A runner config with `registries` (YAML under `schemaRegistries:`), `notations` (under
/// `notations:`) and extra `kafka` lines.
fn runner(registries: &str, notations: &str, kafka: &str) -> String {
    format!(
        "ksml:\n  definitions:\n    main: pipeline.yaml\n  schemaRegistries:\n{registries}\n  notations:\n{notations}\nkafka:\n  \
         application.id: registry-run\n  bootstrap.servers: unused:9092\n{kafka}\n"
    )
}

fn setup(name: &str, config: &str) -> Dir {
    let dir = Dir::new(name);
    dir.write("pipeline.yaml", PIPELINE);
    dir.write("ksml-runner.yaml", config);
    dir.produce("orders", r#"{"key": "a", "value": {"n": 1}}"#);
    dir
}

#[test]
fn a_run_with_registries_configured_starts_and_processes() {
    let fake = Fake::start();
    let config = runner(
        &format!("    sr:\n      config:\n        schema.registry.url: {}\n        normalize.schemas: true", fake.url),
        "    avro:\n      type: confluent_avro\n      schemaRegistry: sr\n      config:\n        auto.register.schemas: true",
        &format!("  schema.registry.url: {}/apis/ccompat/v7", fake.url),
    );
    let dir = setup("registry-ok", &config);
    dir.run_ok(&["ksml-runner.yaml"]);
    dir.expect_topic("out", r#"{"key": "a", "value": {"n": 1}}"#);
}

#[test]
fn a_notations_registry_settings_are_checked_at_startup() {
    let config = runner(
        "    sr:\n      config:\n        apicurio.registry.url: http://127.0.0.1:1/apis/registry/v3",
        "    avro:\n      type: apicurio_avro\n      schemaRegistry: sr\n      config:\n        apicurio.auth.username: someone",
        "",
    );
    let dir = setup("registry-refused", &config);
    let out = dir.run(&["ksml-runner.yaml"]);
    assert_ne!(out.status.code(), Some(0));
    let err = common::stderr(&out);
    // The notation's `config` reaches the client too (merged over the registry's).
    assert!(
        err.contains("notation 'avro': schema registry 'sr': 'apicurio.auth.username' was renamed in Apicurio Registry 3; use 'apicurio.registry.auth.username'"),
        "{err}"
    );
}

#[test]
fn the_kafka_sections_registry_url_is_checked_at_startup() {
    let config =
        runner("    unused:\n      config:\n        schema.registry.url: mock://unused", "    {}", "  schema.registry.url: localhost:8081");
    let dir = setup("registry-kafka", &config);
    let out = dir.run(&["ksml-runner.yaml"]);
    assert_ne!(out.status.code(), Some(0));
    let err = common::stderr(&out);
    assert!(err.contains("schema registry 'kafka': 'schema.registry.url' has an invalid URL 'localhost:8081'"), "{err}");
}
