//! Runner config (`ksml-runner.yaml`) parsing: real KSML configs, every key, each error.

use std::path::{Path, PathBuf};

use weir_dsl::runner::{
    DefinitionSource, Handler, NotationType, RunnerConfig, is_runner_config, parse_inline_definition, parse_runner_config,
    parse_runner_config_with_env,
};
use weir_dsl::{Diagnostic, Severity};

fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/runner").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn no_env(_: &str) -> Option<String> {
    None
}

/// Parses a fixture with an empty environment.
fn parse(name: &str) -> (Option<RunnerConfig>, Vec<Diagnostic>) {
    parse_runner_config_with_env(name, &fixture(name), &no_env)
}

fn parse_ok(name: &str) -> RunnerConfig {
    let (config, diags) = parse(name);
    assert!(diags.is_empty(), "{name}: {diags:#?}");
    config.expect("a config")
}

/// The single diagnostic of a fixture, checked for severity, message, line and column.
fn only(name: &str, severity: Severity, message: &str, line: u32, col: u32) -> Diagnostic {
    let (_, diags) = parse(name);
    assert_eq!(diags.len(), 1, "{name}: {diags:#?}");
    let d = diags.into_iter().next().expect("one diagnostic");
    assert_eq!(d.severity, severity, "{d}");
    assert_eq!(d.message, message);
    let span = d.span.expect("a span");
    assert_eq!((span.line, span.col), (line, col), "{d}");
    d
}

fn hint(d: &Diagnostic) -> &str {
    d.hint.as_deref().unwrap_or_default()
}

#[test]
fn real_ksml_runner_configs_parse() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/ksml/docs-examples/use-cases");
    for case in ["data-transformation", "iot-data-processing", "real-time-analytics"] {
        let path = root.join(case).join("ksml-runner.yaml");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let (config, diags) = parse_runner_config(&path.display().to_string(), &text);
        assert!(diags.is_empty(), "{case}: {diags:#?}");
        let config = config.expect("a config");
        assert!(!config.ksml.definitions.is_empty());
        assert_eq!(config.kafka["bootstrap.servers"], "broker:9093");
        for source in config.ksml.definitions.values() {
            assert!(matches!(source, DefinitionSource::File(f) if f.value.ends_with(".yaml")));
        }
    }
    let iot = std::fs::read_to_string(root.join("iot-data-processing/ksml-runner.yaml")).expect("readable");
    let (config, _) = parse_runner_config("iot", &iot);
    let config = config.expect("a config");
    assert_eq!(config.ksml.definitions.keys().collect::<Vec<_>>(), ["iot-edge-processing", "iot-cloud-processing", "test_producer"]);
    assert!(config.ksml.create_storage_directory);
    assert_eq!(config.storage_directory(Path::new("/ksml")), PathBuf::from("/ksml/state"));
    assert_eq!(config.kafka["acks"], "all");
}

#[test]
fn minimal_config_takes_the_defaults() {
    let c = parse_ok("minimal.yaml");
    let k = &c.ksml;
    assert!(k.enable_producers && k.enable_pipelines && !k.create_storage_directory);
    assert!(!k.application_server.enabled);
    assert_eq!((k.application_server.host.as_str(), k.application_server.port), ("0.0.0.0", 8080));
    assert!(!k.prometheus.enabled);
    assert_eq!((k.prometheus.host.as_str(), k.prometheus.port), ("0.0.0.0", 9999));
    assert_eq!(k.prometheus.config_file, None);
    let e = &k.error_handling;
    for (h, logger) in [(&e.consume, "ConsumeError"), (&e.process, "ProcessError"), (&e.produce, "ProduceError")] {
        assert!(h.log && !h.log_payload);
        assert_eq!(h.logger_name, logger);
        assert_eq!(h.handler, Handler::StopOnFail);
    }
    assert_eq!(k.python_context, Default::default());
    assert!(k.notations.is_empty() && k.schema_registries.is_empty());

    let base = Path::new("/srv/app");
    assert_eq!(c.config_directory(base), base);
    assert_eq!(c.schema_directory(base), base);
    assert_eq!(c.storage_directory(base), base.join(".weir-state"));
    assert_eq!(c.definition_path(base, "app"), Some(base.join("app.yaml")));
    assert_eq!(c.definition_path(base, "other"), None);
    assert_eq!(c.module_path(base), None);
    assert_eq!(weir_dsl::runner::base_dir_of(Path::new("ksml-runner.yaml")), PathBuf::from("."));
    assert_eq!(weir_dsl::runner::base_dir_of(Path::new("/srv/app/ksml-runner.yaml")), base);
}

#[test]
fn full_config_reads_every_key() {
    let c = parse_ok("full.yaml");
    let k = &c.ksml;
    assert_eq!(k.config_directory.as_ref().map(|s| s.value.as_str()), Some("definitions"));
    assert!(k.create_storage_directory && !k.enable_producers && k.enable_pipelines);
    assert_eq!(k.definitions.len(), 2);
    assert!(matches!(&k.definitions["orders"], DefinitionSource::File(f) if f.value == "orders.yaml" && f.span.line == 10));
    let DefinitionSource::Inline(inline) = &k.definitions["inline_ns"] else { panic!("inline definition expected") };
    let (def, diags) = parse_inline_definition("full.yaml", "inline_ns", inline, &c.notation_names());
    assert!(diags.is_empty(), "{diags:#?}");
    assert_eq!(def.namespace, "inline_ns");
    assert!(def.topics.contains_key("input") && def.pipelines.contains_key("copy"));

    assert!(k.application_server.enabled);
    assert_eq!((k.application_server.host.as_str(), k.application_server.port), ("127.0.0.1", 8081));
    assert!(k.prometheus.enabled);
    assert_eq!((k.prometheus.host.as_str(), k.prometheus.port), ("localhost", 9100));

    let e = &k.error_handling;
    assert!(!e.consume.log && e.consume.log_payload);
    assert_eq!(e.consume.logger_name, "MyConsume");
    assert_eq!(e.consume.handler, Handler::ContinueOnFail);
    assert_eq!(e.process.handler, Handler::StopOnFail);
    assert_eq!(e.process.logger_name, "ProcessError");
    assert_eq!(e.produce.handler, Handler::RetryOnFail);

    assert_eq!(k.schema_registries["confluent"]["schema.registry.url"], "http://registry:8081");
    assert_eq!(k.schema_registries["confluent"]["schema.registry.ssl.enabled"], "false");
    assert_eq!(k.notations.keys().collect::<Vec<_>>(), ["avro", "protobuf", "csv"]);
    assert_eq!(k.notations["avro"].type_, NotationType::ConfluentAvro);
    assert_eq!(k.notations["avro"].schema_registry.as_deref(), Some("confluent"));
    assert_eq!(k.notations["protobuf"].type_, NotationType::ApicurioProtobuf);
    assert_eq!(k.notations["csv"].type_, NotationType::Csv);
    assert_eq!(k.notations["csv"].schema_registry, None);

    let py = &k.python_context;
    assert!(py.allow_host_file_access && py.allow_host_socket_access && py.allow_native_access);
    assert!(py.allow_create_process && py.allow_create_thread && py.inherit_environment_variables);

    // Kafka values are text; booleans are normalised; config-provider references are kept.
    assert_eq!(c.kafka["num.stream.threads"], "4");
    assert_eq!(c.kafka["enable.idempotence"], "true");
    assert_eq!(c.kafka["group.instance.id"], "${env:GROUP_INSTANCE_ID}");

    // Paths: relative to the runner file's directory; definitions relative to configDirectory.
    let base = Path::new("/srv/app");
    assert_eq!(c.config_directory(base), base.join("definitions"));
    assert_eq!(c.definition_path(base, "orders"), Some(base.join("definitions/orders.yaml")));
    assert_eq!(c.definition_path(base, "inline_ns"), None);
    assert_eq!(c.schema_directory(base), PathBuf::from("/schemas"));
    assert_eq!(c.storage_directory(base), base.join("state"));
    assert_eq!(c.module_path(base), Some(base.join("python")));
    assert_eq!(c.prometheus_config_file(base), Some(base.join("prometheus.yaml")));

    // Serde config: kafka < registry < notation.
    let serde = c.notation_serde_config("AVRO").expect("avro is configured");
    assert_eq!(serde["bootstrap.servers"], "broker:9093");
    assert_eq!(serde["schema.registry.url"], "http://registry:8081");
    assert_eq!(serde["auto.register.schemas"], "false");
    assert!(c.notation_serde_config("xml").is_none());
}

#[test]
fn tells_runner_configs_from_definitions() {
    let mut diags = Vec::new();
    let runner = weir_dsl::yaml::parse("r", &fixture("minimal.yaml"), &mut diags).expect("yaml");
    let definition = weir_dsl::yaml::parse("d", "streams:\n  s:\n    topic: t\n", &mut diags).expect("yaml");
    assert!(is_runner_config(&runner));
    assert!(!is_runner_config(&definition));
}

#[test]
fn unknown_key_has_a_suggestion() {
    let d = only("unknown_key.yaml", Severity::Error, "unknown key 'enablePipeline' in 'ksml'", 4, 3);
    assert_eq!(hint(&d), "did you mean 'enablePipelines'?");
    assert_eq!(d.path, "ksml.enablePipeline");
}

#[test]
fn python_module_path_points_to_module_path() {
    let d = only("python_module_path.yaml", Severity::Error, "unknown key 'pythonModulePath' in 'pythonContext'", 6, 5);
    assert!(hint(&d).starts_with("did you mean 'modulePath'?"), "{d}");

    // Directly under `ksml`, too.
    let text = "ksml:\n  definitions: {a: a.yaml}\n  pythonModulePath: py\nkafka: {application.id: a, bootstrap.servers: b}\n";
    let (_, diags) = parse_runner_config_with_env("f", text, &no_env);
    assert_eq!(diags.len(), 1, "{diags:#?}");
    assert_eq!(diags[0].message, "unknown key 'pythonModulePath' in 'ksml'");
    assert!(hint(&diags[0]).contains("'modulePath' under 'pythonContext'"), "{}", diags[0]);
}

#[test]
fn missing_kafka_section() {
    only("missing_kafka.yaml", Severity::Error, "the runner config is missing required key 'kafka'", 1, 1);
}

#[test]
fn missing_application_id() {
    let d = only("missing_application_id.yaml", Severity::Error, "'kafka' is missing required key 'application.id'", 5, 3);
    assert!(hint(&d).contains("found 'applicationId'"), "{d}");

    let text = "ksml:\n  definitions: {a: a.yaml}\nkafka:\n  application.id: '  '\n  bootstrap.servers: b\n";
    let (_, diags) = parse_runner_config_with_env("f", text, &no_env);
    assert_eq!(diags.len(), 1, "{diags:#?}");
    assert_eq!(diags[0].message, "'application.id' must not be empty");
    assert_eq!(diags[0].span.map(|s| (s.line, s.col)), Some((4, 19)));
}

#[test]
fn bad_handler_lists_the_allowed_values() {
    let d = only("bad_handler.yaml", Severity::Error, "unknown error handler 'continueOnFailure'", 6, 16);
    assert_eq!(hint(&d), "did you mean 'continueOnFail'? (error handler is one of: stopOnFail, continueOnFail, retryOnFail)");
}

#[test]
fn retry_on_fail_for_consume_errors_is_a_warning() {
    let text = "ksml:\n  definitions: {a: a.yaml}\n  errorHandling:\n    consume:\n      handler: retryOnFail\nkafka: {application.id: a, bootstrap.servers: b}\n";
    let (config, diags) = parse_runner_config_with_env("f", text, &no_env);
    assert_eq!(diags.len(), 1, "{diags:#?}");
    assert_eq!(diags[0].severity, Severity::Warning);
    assert_eq!(diags[0].message, "'retryOnFail' cannot help a record that does not decode: it is handled as 'stopOnFail'");
    assert_eq!(config.expect("config").ksml.error_handling.consume.handler, Handler::RetryOnFail);
}

#[test]
fn process_errors_may_be_retried_and_dead_lettered() {
    let text = "ksml:\n  definitions: {a: a.yaml}\n  errorHandling:\n    process:\n      handler: retryOnFail\n      deadLetterTopic: failed\nkafka: {application.id: a, bootstrap.servers: b}\n";
    let (config, diags) = parse_runner_config_with_env("f", text, &no_env);
    assert!(diags.is_empty(), "{diags:#?}");
    let process = config.expect("config").ksml.error_handling.process;
    assert_eq!(process.handler, Handler::RetryOnFail);
    assert_eq!(process.dead_letter_topic.as_deref(), Some("failed"));
}

#[test]
fn bad_port() {
    only("bad_port.yaml", Severity::Error, "'port' must be between 1 and 65535, found 70000", 6, 11);
    let text = "ksml:\n  definitions: {a: a.yaml}\n  prometheus:\n    port: http\nkafka: {application.id: a, bootstrap.servers: b}\n";
    let (_, diags) = parse_runner_config_with_env("f", text, &no_env);
    assert_eq!(diags.len(), 1, "{diags:#?}");
    assert_eq!(diags[0].message, "'port' must be a port number between 1 and 65535, found 'http'");
}

#[test]
fn bad_notation_type() {
    let d = only("bad_notation_type.yaml", Severity::Error, "unknown notation type 'avro'", 10, 13);
    assert!(hint(&d).starts_with("did you mean 'apicurio_avro' or 'confluent_avro'?"), "{d}");
    assert!(hint(&d).contains("apicurio_jsonschema, apicurio_protobuf, csv, xml, json, binary"), "{d}");
}

#[test]
fn undefined_schema_registry_is_a_warning() {
    let d = only(
        "unknown_registry.yaml",
        Severity::Warning,
        "notation 'avro' uses schema registry 'confluentt', which is not defined in 'schemaRegistries'",
        9,
        23,
    );
    assert_eq!(hint(&d), "did you mean 'confluent'?");
}

#[test]
fn duplicate_key() {
    let d = only("duplicate_key.yaml", Severity::Error, "duplicate key 'application.id'", 7, 3);
    assert_eq!(hint(&d), "'application.id' is already defined at line 5");
}

#[test]
fn definitions_must_not_be_empty() {
    let text = "ksml:\n  definitions: {}\nkafka: {application.id: a, bootstrap.servers: b}\n";
    let (_, diags) = parse_runner_config_with_env("f", text, &no_env);
    assert_eq!(diags.len(), 1, "{diags:#?}");
    assert_eq!(diags[0].message, "'definitions' is empty: there is nothing to run");
    assert_eq!(diags[0].span.map(|s| (s.line, s.col)), Some((2, 3)));

    let text = "ksml:\n  definitions:\nkafka: {application.id: a, bootstrap.servers: b}\n";
    let (_, diags) = parse_runner_config_with_env("f", text, &no_env);
    assert_eq!(diags.len(), 1, "{diags:#?}");
    assert_eq!(diags[0].message, "'definitions' is empty: there is nothing to run");

    let text = "ksml:\n  enableProducers: true\nkafka: {application.id: a, bootstrap.servers: b}\n";
    let (_, diags) = parse_runner_config_with_env("f", text, &no_env);
    assert_eq!(diags.len(), 1, "{diags:#?}");
    assert_eq!(diags[0].message, "'ksml' is missing required key 'definitions'");
}

#[test]
fn misplaced_root_keys_get_a_hint() {
    let text = "ksml:\n  definitions: {a: a.yaml}\nkafka: {application.id: a, bootstrap.servers: b}\nprometheus: {enabled: true}\nacks: all\nsecurity.protocol: SSL\n";
    let (_, diags) = parse_runner_config_with_env("f", text, &no_env);
    let hints: Vec<_> = diags.iter().map(|d| (d.message.as_str(), hint(d))).collect();
    assert_eq!(
        hints,
        [
            ("unknown key 'prometheus' in the runner config", "'prometheus' belongs under 'ksml'"),
            ("unknown key 'acks' in the runner config", "the runner config takes: ksml, kafka"),
            (
                "unknown key 'security.protocol' in the runner config",
                "'security.protocol' looks like a Kafka property; Kafka properties belong under 'kafka'"
            ),
        ]
    );
}

#[test]
fn unset_env_var_is_an_error_naming_it() {
    let d = only("unset_env.yaml", Severity::Error, "environment variable 'KAFKA_HOST' is not set", 6, 22);
    assert_eq!(d.span.map(|s| s.len), Some(13));
    assert_eq!(d.path, "kafka.bootstrap.servers");
    assert!(hint(&d).contains("${KAFKA_HOST:-"), "{d}");
}

#[test]
fn env_substitution_with_and_without_defaults() {
    let text = fixture("env.yaml");

    // Only the variable without a default is required.
    let (_, diags) = parse_runner_config_with_env("env.yaml", &text, &no_env);
    assert_eq!(diags.len(), 1, "{diags:#?}");
    assert_eq!(diags[0].message, "environment variable 'APP_ID' is not set");
    assert_eq!(diags[0].span.map(|s| (s.line, s.col)), Some((9, 19)));

    // Defaults.
    let env = |name: &str| (name == "APP_ID").then(|| "my-app".to_string());
    let (config, diags) = parse_runner_config_with_env("env.yaml", &text, &env);
    assert!(diags.is_empty(), "{diags:#?}");
    let c = config.expect("config");
    assert!(matches!(&c.ksml.definitions["app"], DefinitionSource::File(f) if f.value == "app.yaml"));
    assert_eq!(c.ksml.storage_directory.as_ref().map(|s| s.value.as_str()), Some("/tmp/state"));
    assert!(!c.ksml.application_server.enabled);
    assert_eq!(c.ksml.application_server.port, 8080);
    assert_eq!(c.kafka["application.id"], "my-app");
    assert_eq!(c.kafka["bootstrap.servers"], "localhost:9092");
    // Kafka's config providers and escaped references pass through.
    assert_eq!(c.kafka["sasl.jaas.config"], "${env:JAAS_CONFIG}");
    assert_eq!(c.kafka["literal"], "${NOT_A_VAR}");

    // Values from the environment, typed like the YAML they replace.
    let env = |name: &str| {
        let value = match name {
            "APP_ID" => "my-app",
            "APP_FILE" => "other.yaml",
            "REST_ENABLED" => "true",
            "REST_PORT" => "9000",
            "KAFKA_HOST" => "kafka",
            "JAAS_CONFIG" => "secret",
            _ => return None,
        };
        Some(value.to_string())
    };
    let (config, diags) = parse_runner_config_with_env("env.yaml", &text, &env);
    assert!(diags.is_empty(), "{diags:#?}");
    let c = config.expect("config");
    assert!(matches!(&c.ksml.definitions["app"], DefinitionSource::File(f) if f.value == "other.yaml"));
    assert!(c.ksml.application_server.enabled);
    assert_eq!(c.ksml.application_server.port, 9000);
    assert_eq!(c.kafka["bootstrap.servers"], "kafka:9092");
    assert_eq!(c.kafka["sasl.jaas.config"], "${env:JAAS_CONFIG}");

    // A substituted value is still validated.
    let env = |name: &str| match name {
        "APP_ID" => Some("a".to_string()),
        "REST_PORT" => Some("0".to_string()),
        _ => None,
    };
    let (_, diags) = parse_runner_config_with_env("env.yaml", &text, &env);
    assert_eq!(diags.len(), 1, "{diags:#?}");
    assert_eq!(diags[0].message, "'port' must be between 1 and 65535, found 0");
}

#[test]
fn inline_definitions_are_not_substituted() {
    let text = "ksml:\n  definitions:\n    a:\n      functions:\n        f:\n          code: x = '${NOT_SET}'\nkafka: {application.id: a, bootstrap.servers: b}\n";
    let (config, diags) = parse_runner_config_with_env("f", text, &no_env);
    assert!(diags.is_empty(), "{diags:#?}");
    let c = config.expect("config");
    let DefinitionSource::Inline(node) = &c.ksml.definitions["a"] else { panic!("inline expected") };
    let code = node.get("functions").and_then(|f| f.get("f")).and_then(|f| f.get("code")).and_then(|c| c.scalar());
    assert_eq!(code, Some("x = '${NOT_SET}'"));
}

#[test]
fn syntax_errors_give_no_config() {
    let (config, diags) = parse_runner_config_with_env("f", "ksml:\n  a: 1\n b: 2\n", &no_env);
    assert!(config.is_none());
    assert_eq!(diags.len(), 1);
}
