//! `weir run` with schema registries, end to end.
//!
//! Startup: a runner config's `schemaRegistries` entry named by a notation, and the `kafka`
//! section's `schema.registry.url`, are turned into clients at startup (settings problems stop
//! the run, naming the notation, the registry and the setting), and a run with a reachable
//! registry proceeds.
//!
//! Records through an HTTP registry (the fake, `registry/fake_registry.py`): a run writing
//! `avro:SensorData` registers the schema under `<topic>-value` and frames every record with
//! its id, and confluent-kafka's `AvroDeserializer` (Python, `registry/confluent_avro.py`)
//! reads the records back through the same registry; the reverse, records written by
//! confluent-kafka's `AvroSerializer` and produced as bytes, are read by a run through the
//! registry.
//!
//! The embedded registry (no registry configured): schemas kept in
//! `<storage>/schemas.json`, so ids stay the same across runs and records written by an
//! earlier run still decode.
//!
//! The clients themselves are covered by `registry_http.rs`.

#[path = "run/common.rs"]
mod common;

#[path = "registry/common.rs"]
mod registry_common;

use std::path::PathBuf;

use common::Dir;
use registry_common::{Fake, confluent_avro, sensor_data_schema};
use serde_json::{Value as Json, json};

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

// ---- records through an HTTP registry ---------------------------------------------------

/// A runner config whose `avro` notation is `confluent_avro` on the registry at `url`.
fn http_registry_runner(url: &str) -> String {
    format!(
        "ksml:\n  definitions:\n    main: pipeline.yaml\n  schemaRegistries:\n    reg:\n      config:\n        schema.registry.url: {url}\n  \
         notations:\n    avro:\n      type: confluent_avro\n      schemaRegistry: reg\nkafka:\n  application.id: registry-e2e\n  \
         bootstrap.servers: unused:9092\n"
    )
}

/// A definition copying `from` (of `from_type`) to `to` (of `to_type`), keys as strings.
fn copy_definition(from: &str, from_type: &str, to: &str, to_type: &str) -> String {
    format!(
        "streams:\n  input:\n    topic: {from}\n    keyType: string\n    valueType: {from_type}\npipelines:\n  copy:\n    from: input\n    \
         to:\n      topic: {to}\n      keyType: string\n      valueType: {to_type}\n"
    )
}

/// `weir topic consume <topic> --from-beginning --format json <extra>`: the records printed.
fn consume_decoded(dir: &Dir, topic: &str, extra: &[&str]) -> Vec<Json> {
    let mut args = vec!["topic", "consume", topic, "--from-beginning", "--format", "json"];
    args.extend_from_slice(extra);
    let out = dir.weir(&args, "");
    common::assert_ok(&out, &format!("weir {args:?}"));
    common::stdout(&out).lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad line {l:?}: {e}"))).collect()
}

fn values_of(records: &[Json]) -> Vec<Json> {
    records.iter().map(|r| r["value"].clone()).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    assert!(text.len().is_multiple_of(2), "odd hex {text:?}");
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex")).collect()
}

/// The schema id a registry-framed value carries (magic byte 0, 4-byte big-endian id).
fn framed_id(value: &[u8]) -> u32 {
    assert!(value.len() > 5, "too short for a framed record: {value:?}");
    assert_eq!(value[0], 0, "the magic byte");
    u32::from_be_bytes([value[1], value[2], value[3], value[4]])
}

/// The value bytes of every record of `topic` (registry-framed values are not UTF-8, so
/// `consume --format json` gives them as `valueHex`).
fn value_bytes(dir: &Dir, topic: &str) -> Vec<Vec<u8>> {
    dir.consume(topic)
        .iter()
        .map(|r| unhex(r["valueHex"].as_str().unwrap_or_else(|| panic!("no valueHex in {r}: a framed Avro value is not UTF-8"))))
        .collect()
}

/// Sensor readings as JSON input: all fields, optional fields left out, and a timestamp as
/// text (KSML's conversion turns it into the schema's `long`).
const READINGS_IN: &str = r#"
{"key": "s1", "value": {"name": "s1", "timestamp": 1700000000000, "value": "21.5", "type": "TEMPERATURE", "unit": "C", "color": "red", "city": "Utrecht", "owner": "Alice"}}
{"key": "s2", "value": {"name": "s2", "timestamp": 1700000001000, "value": "60", "type": "HUMIDITY", "unit": "%"}}
{"key": "s3", "value": {"name": "s3", "timestamp": "1700000002000", "value": "3", "type": "LENGTH", "unit": "m", "owner": "Bob"}}
"#;

/// The records of READINGS_IN as an Avro reader gives them: every field, absent optional
/// fields null, the timestamp a number.
fn readings_out() -> Vec<Json> {
    vec![
        json!({"name": "s1", "timestamp": 1700000000000i64, "value": "21.5", "type": "TEMPERATURE", "unit": "C", "color": "red", "city": "Utrecht", "owner": "Alice"}),
        json!({"name": "s2", "timestamp": 1700000001000i64, "value": "60", "type": "HUMIDITY", "unit": "%", "color": null, "city": null, "owner": null}),
        json!({"name": "s3", "timestamp": 1700000002000i64, "value": "3", "type": "LENGTH", "unit": "m", "color": null, "city": null, "owner": "Bob"}),
    ]
}

#[test]
fn a_run_registers_its_schema_over_http_and_confluents_deserializer_reads_the_records() {
    let fake = Fake::start();
    let dir = Dir::new("registry-http-write");
    dir.write("SensorData.avsc", &sensor_data_schema());
    dir.write("pipeline.yaml", &copy_definition("sensors_json", "json", "sensors_avro", "avro:SensorData"));
    dir.write("ksml-runner.yaml", &http_registry_runner(&fake.url));
    dir.produce("sensors_json", READINGS_IN);
    dir.run_ok(&["ksml-runner.yaml"]);

    // The subject of the output topic's values, with the schema file's schema.
    assert_eq!(fake.get("/subjects"), json!(["sensors_avro-value"]));
    let latest = fake.get("/subjects/sensors_avro-value/versions/latest");
    let id = latest["id"].as_u64().unwrap_or_else(|| panic!("no id in {latest}")) as u32;
    let registered: Json = serde_json::from_str(latest["schema"].as_str().expect("schema text")).expect("schema JSON");
    let file: Json = serde_json::from_str(&sensor_data_schema()).expect("SensorData.avsc");
    assert_eq!(registered, file, "the schema registered is the schema file's");
    // Registered once (then the id is cached), not once per record.
    assert_eq!(fake.count("POST", "/subjects/sensors_avro-value/versions"), 1, "{:#?}", fake.requests());

    let values = value_bytes(&dir, "sensors_avro");
    assert_eq!(values.len(), 3);
    for v in &values {
        assert_eq!(framed_id(v), id, "every record carries the registered id");
    }
    let keys: Vec<Json> = dir.consume("sensors_avro").iter().map(|r| r["key"].clone()).collect();
    assert_eq!(keys, [json!("s1"), json!("s2"), json!("s3")]);

    // Confluent's deserializer, with only the registry to go by, reads what Weir wrote.
    let hex: Vec<Json> = values.iter().map(|v| json!(v.iter().map(|b| format!("{b:02x}")).collect::<String>())).collect();
    let read = confluent_avro(&fake.url, "sensors_avro", "deserialize", &Json::Array(hex));
    assert_eq!(read, Json::Array(readings_out()));

    // `weir topic consume` decodes them with the runner config's notations: with the schema
    // file, or (bare `avro`) with the writer's schema from the registry alone.
    let before = fake.count("GET", &format!("/schemas/ids/{id}"));
    let records = consume_decoded(&dir, "sensors_avro", &["--value-type", "avro:SensorData", "--config", "ksml-runner.yaml"]);
    assert_eq!(values_of(&records), readings_out());
    assert_eq!(records[0]["key"], "s1", "keys are shown as bytes, as without a type");
    assert!(records[0].get("valueHex").is_none());
    let records = consume_decoded(&dir, "sensors_avro", &["--value-type", "avro", "--config", "ksml-runner.yaml"]);
    assert_eq!(values_of(&records), readings_out());
    assert_eq!(fake.count("GET", &format!("/schemas/ids/{id}")), before + 2, "one fetch per consume");
    let out = dir.weir(
        &["topic", "consume", "sensors_avro", "--from-beginning", "--max", "1", "--value-type", "avro", "--config", "ksml-runner.yaml"],
        "",
    );
    common::assert_ok(&out, "consume --format text");
    assert_eq!(
        common::stdout(&out).split_once(' ').map(|(_, rest)| rest.split_once(' ').map(|(_, r)| r.to_string())),
        Some(Some(
            "key=s1 value={\"name\":\"s1\",\"timestamp\":1700000000000,\"value\":\"21.5\",\"type\":\"TEMPERATURE\",\"unit\":\"C\",\"color\":\"red\",\"city\":\"Utrecht\",\"owner\":\"Alice\"} headers={}\n"
                .to_string()
        ))
    );
}

#[test]
fn a_run_reads_through_the_http_registry_what_confluents_serializer_wrote() {
    let fake = Fake::start();
    let records = readings_out();
    let written = confluent_avro(&fake.url, "sensors_in", "serialize", &json!({"schema": sensor_data_schema(), "records": records}));
    let written: Vec<String> = written.as_array().expect("a list").iter().map(|h| h.as_str().expect("hex").to_string()).collect();
    let id = fake.get("/subjects/sensors_in-value/versions/latest")["id"].as_u64().expect("the serializer registered the schema") as u32;
    for hex in &written {
        assert_eq!(framed_id(&unhex(hex)), id);
    }

    let dir = Dir::new("registry-http-read");
    dir.write("SensorData.avsc", &sensor_data_schema());
    dir.write("pipeline.yaml", &copy_definition("sensors_in", "avro:SensorData", "sensors_out", "json"));
    dir.write("ksml-runner.yaml", &http_registry_runner(&fake.url));
    let lines: String =
        written.iter().enumerate().map(|(i, hex)| format!("{{\"key\": \"s{}\", \"valueHex\": \"{hex}\"}}\n", i + 1)).collect();
    dir.produce("sensors_in", &lines);
    dir.run_ok(&["ksml-runner.yaml"]);

    assert_eq!(dir.values("sensors_out"), records, "the run decoded the serializer's records");
    // The writer's schema was fetched by id, once.
    assert_eq!(fake.count("GET", &format!("/schemas/ids/{id}")), 1, "{:#?}", fake.requests());
}

// ---- the embedded registry ----------------------------------------------------------------

/// The embedded registry's file: subject → ids.
fn embedded_subjects(dir: &Dir) -> Json {
    let file: Json = serde_json::from_str(&dir.read(".weir-state/schemas.json")).expect("schemas.json is JSON");
    file["subjects"].clone()
}

#[test]
fn the_embedded_registry_keeps_ids_across_runs_and_old_records_still_decode() {
    let dir = Dir::new("registry-embedded");
    dir.write("SensorData.avsc", &sensor_data_schema());
    let no_color =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/ksml/schemas/SensorDataNoColor.avsc"))
            .expect("SensorDataNoColor.avsc");
    dir.write("SensorDataNoColor.avsc", &no_color);
    // Definition files without a runner config: no registry configured, so the embedded one.
    dir.write("writer.yaml", &copy_definition("sensors_json", "json", "sensors_avro", "avro:SensorData"));
    dir.write("other.yaml", &copy_definition("other_json", "json", "other_avro", "avro:SensorDataNoColor"));
    dir.write("reader.yaml", &copy_definition("sensors_avro", "avro:SensorData", "sensors_back", "json"));
    let inputs: Vec<String> = READINGS_IN.lines().filter(|l| !l.trim().is_empty()).map(str::to_string).collect();

    // Run 1 registers SensorData.
    dir.produce("sensors_json", &inputs[..2].join("\n"));
    dir.run_ok(&["writer.yaml"]);
    let subjects = embedded_subjects(&dir);
    let id = subjects["sensors_avro-value"][0].as_u64().unwrap_or_else(|| panic!("sensors_avro-value in {subjects}")) as u32;

    // Run 2, a new process, registers another schema: it gets the next id, not the first
    // one again (the registry was read back from the file).
    dir.produce("other_json", &inputs[2]);
    dir.run_ok(&["other.yaml"]);
    let subjects = embedded_subjects(&dir);
    let other_id = subjects["other_avro-value"][0].as_u64().unwrap_or_else(|| panic!("other_avro-value in {subjects}")) as u32;
    assert_ne!(other_id, id, "ids are not reused across runs: {subjects}");
    assert_eq!(subjects["sensors_avro-value"], json!([id]));
    assert_eq!(framed_id(&value_bytes(&dir, "other_avro")[0]), other_id);

    // Run 3 reads run 1's records: their id is resolved from the kept registry.
    dir.run_ok(&["reader.yaml"]);
    assert_eq!(dir.values("sensors_back"), readings_out()[..2]);

    // Run 4 writes SensorData again: the same id as run 1's records.
    dir.produce("sensors_json", &inputs[2]);
    dir.run_ok(&["writer.yaml"]);
    let ids: Vec<u32> = value_bytes(&dir, "sensors_avro").iter().map(|v| framed_id(v)).collect();
    assert_eq!(ids, [id, id, id]);
    assert_eq!(embedded_subjects(&dir)["sensors_avro-value"], json!([id]), "no new version");
    dir.run_ok(&["reader.yaml"]);
    assert_eq!(dir.values("sensors_back"), readings_out());

    // `weir topic consume` with no runner config: built-in notations, the schema file in the
    // current directory, the embedded registry.
    assert_eq!(values_of(&consume_decoded(&dir, "sensors_avro", &["--value-type", "avro:SensorData"])), readings_out());
    assert_eq!(values_of(&consume_decoded(&dir, "other_avro", &["--value-type", "avro"]))[0]["name"], "s3");
}

#[test]
fn consume_decodes_through_a_running_weir_runs_notations() {
    let dir = Dir::new("registry-consume-live");
    dir.write("SensorData.avsc", &sensor_data_schema());
    dir.write("writer.yaml", &copy_definition("sensors_json", "json", "sensors_avro", "avro:SensorData"));
    let inputs: Vec<&str> = READINGS_IN.lines().filter(|l| !l.trim().is_empty()).collect();
    dir.produce("sensors_json", inputs[0]);
    let run = dir.spawn_run(&["writer.yaml"]);
    let socket = dir.path.join(".weir-state/weir.sock");
    let started = std::time::Instant::now();
    while !socket.exists() {
        assert!(started.elapsed() < std::time::Duration::from_secs(20), "weir run did not open its control socket");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // Fed while it runs; the run registers the schema in its embedded registry as it writes, and
    // the consume (run inside it) decodes with that same registry.
    dir.produce("sensors_json", &inputs[1..].join("\n"));
    let records =
        consume_decoded(&dir, "sensors_avro", &["--follow", "--max", "3", "--value-type", "avro:SensorData", "--config", "nowhere.yaml"]);
    assert_eq!(values_of(&records), readings_out());
    let out =
        dir.weir(&["topic", "consume", "sensors_avro", "--from-beginning", "--max", "1", "--value-type", "avro", "--config", "x.yaml"], "");
    common::assert_ok(&out, "consume through the socket");
    assert!(
        common::stderr(&out).contains("the running `weir run` decodes with its own notations; --config is not read"),
        "{}",
        common::stderr(&out)
    );
    common::interrupt(&run);
    let (code, _, err) = dir.finish(run, std::time::Duration::from_secs(20));
    assert_eq!(code, Some(0), "{err}");
}

#[test]
fn consume_with_a_type_reports_what_does_not_decode() {
    let dir = Dir::new("registry-consume-errors");
    dir.write("SensorData.avsc", &sensor_data_schema());
    dir.produce("sensors_json", READINGS_IN);
    let fails = |args: &[&str], expected: &str| {
        let mut all = vec!["topic", "consume", "sensors_json", "--from-beginning"];
        all.extend_from_slice(args);
        let out = dir.weir(&all, "");
        assert_eq!(out.status.code(), Some(2), "{all:?}: {}", common::stderr(&out));
        assert!(common::stderr(&out).contains(expected), "{all:?}: expected {expected:?} in:\n{}", common::stderr(&out));
        out
    };
    // JSON text is not a registry-framed record: the first record stops the command.
    let out = fails(
        &["--value-type", "avro:SensorData"],
        "error: p0@0 value: avro notation: cannot decode avro:SensorData: unknown magic byte 0x7b",
    );
    assert_eq!(common::stdout(&out), "");
    fails(&["--key-type", "avro:Nope"], "--key-type 'avro:Nope': ");
    fails(&["--value-type", "avro:[string]"], "--value-type 'avro:[string]': ");
    fails(&["--value-type", "list(", "--format", "json"], "--value-type 'list(': ");
    fails(&["--config", "ksml-runner.yaml"], "--config gives the notations for --key-type and --value-type");
    fails(&["--value-type", "json", "--config", "missing.yaml"], "cannot read 'missing.yaml'");
    // A type that fits decodes; the key as `string`.
    let records = consume_decoded(&dir, "sensors_json", &["--key-type", "string", "--value-type", "json"]);
    assert_eq!(records.len(), 3);
    assert_eq!(records[2]["key"], "s3");
    assert_eq!(records[2]["value"]["timestamp"], "1700000002000", "JSON as written, not converted");
}

/// Schema evolution (`examples/schema-evolution`) on the embedded log and its registry: a
/// producer writes orders with schema v1, then v2 (a field added with a default, one removed);
/// an incompatible v3 (a field added without a default) is refused by the registry's BACKWARD
/// rule with the reason, writing nothing; a pipeline reading with v2 reads both versions (v1's
/// records with the default quantity).
#[test]
fn a_pipeline_reads_both_versions_and_an_incompatible_one_is_refused() {
    let dir = Dir::new("schema-evolution");
    let example = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/schema-evolution");
    for file in [
        "ksml-runner.yaml",
        "pipeline.yaml",
        "producer-v1.yaml",
        "producer-v2.yaml",
        "producer-v3.yaml",
        "orders-v1.yaml",
        "orders-v2.yaml",
        "orders-v3.yaml",
        "schemas/v1/Order.avsc",
        "schemas/v2/Order.avsc",
        "schemas/v3/Order.avsc",
    ] {
        dir.write(file, &std::fs::read_to_string(example.join(file)).unwrap_or_else(|e| panic!("{file}: {e}")));
    }
    dir.run_ok(&["producer-v1.yaml"]);
    dir.run_ok(&["producer-v2.yaml"]);
    let refused = dir.run(&["producer-v3.yaml"]);
    let stderr = common::stderr(&refused);
    assert!(!refused.status.success(), "{stderr}");
    assert!(stderr.contains("incompatible with the latest version of subject 'orders-value'") && stderr.contains("'price'"), "{stderr}");
    assert_eq!(dir.consume("orders").len(), 6, "v3 wrote nothing");
    dir.run_ok(&["ksml-runner.yaml"]);
    // apple: v1-1 and v1-3 (quantity 1 each, v1 has none) + v2-1 (10) + v2-3 (30); pear: 1 + 20.
    let out = dir.weir(&["topic", "consume", "product_quantities", "--from-beginning", "--value-type", "long", "--format", "json"], "");
    common::assert_ok(&out, "consume product_quantities");
    let latest: std::collections::BTreeMap<String, i64> = common::stdout(&out)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("JSON"))
        .map(|r| (r["key"].as_str().expect("key").to_string(), r["value"].as_i64().expect("value")))
        .collect();
    assert_eq!(latest, [("apple".to_string(), 42), ("pear".to_string(), 21)].into());
}

/// A topic name extractor writing Avro through the registry: each record's topic names its
/// subject (`<topic>-value`, Confluent's default strategy), so the sink's codecs are made per
/// topic; before, every record failed ("the topic is only known per record here").
#[test]
fn a_topic_name_extractor_writes_registry_avro_under_each_topics_subject() {
    let dir = Dir::new("extractor-avro");
    let schemas = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/schema-evolution/schemas/v2/Order.avsc");
    dir.write("Order.avsc", &std::fs::read_to_string(schemas).expect("Order.avsc"));
    dir.write(
        "def.yaml",
        "streams:\n  orders_in: {topic: orders_in, keyType: string, valueType: json}\n\
         functions:\n  by_product:\n    type: topicNameExtractor\n    expression: '\"orders_\" + value[\"product\"]'\n\
         pipelines:\n  route:\n    from: orders_in\n    via:\n      - type: mapValues\n        mapper:\n          \
         expression: '{\"id\": key, \"product\": value[\"product\"], \"quantity\": value[\"q\"]}'\n          resultType: avro:Order\n    \
         toTopicNameExtractor:\n      topicNameExtractor: by_product\n",
    );
    dir.write(
        "ksml-runner.yaml",
        "ksml:\n  definitions:\n    r: def.yaml\n  schemaDirectory: .\n  notations:\n    avro:\n      type: confluent_avro\n\
         kafka:\n  application.id: tne\n  bootstrap.servers: unused:9092\n",
    );
    dir.produce(
        "orders_in",
        r#"{"key": "a", "value": {"product": "apple", "q": 1}} {"key": "b", "value": {"product": "pear", "q": 2}} {"key": "c", "value": {"product": "apple", "q": 3}}"#,
    );
    dir.run_ok(&["ksml-runner.yaml"]);
    let read = |topic: &str| {
        let out = dir.weir(
            &[
                "topic",
                "consume",
                topic,
                "--from-beginning",
                "--config",
                "ksml-runner.yaml",
                "--value-type",
                "avro:Order",
                "--format",
                "json",
            ],
            "",
        );
        common::assert_ok(&out, topic);
        common::stdout(&out)
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("JSON")["value"]["quantity"].clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(read("orders_apple"), [serde_json::json!(1), serde_json::json!(3)]);
    assert_eq!(read("orders_pear"), [serde_json::json!(2)]);
    let registry: serde_json::Value = serde_json::from_str(&dir.read(".weir-state/schemas.json")).expect("registry");
    let mut subjects: Vec<&String> = registry["subjects"].as_object().expect("subjects").keys().collect();
    subjects.sort();
    assert_eq!(subjects, ["orders_apple-value", "orders_pear-value"]);
}
