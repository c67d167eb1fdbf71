//! KSML's own tutorial and reference examples (`../shared/ksml/docs-examples`), run unchanged
//! by `weir run`, with their output checked against what each example documents.
//!
//! How: the example's files are copied into a fresh directory; the producer definition and
//! the processor definition run in one `weir run`. Producers with only an `interval` run
//! forever, so those runs are stopped with SIGINT after a moment (and must exit with 0);
//! producers with a `count` or `until` run with `--until-idle`. The one change made to the
//! files: intervals of a second or more become 50 ms, so a short run sees tens of records
//! (timing only; nothing else in the files is touched). Where KSML's Java tests
//! (`JT/`, its test sources) pin inputs and outputs, those inputs are fed with
//! `weir topic produce` and their asserted outputs are checked.
//!
//! Covered (stateless, json/avro/string/primitive types):
//! - basics-tutorial; quick-start (with a small producer of ours: it has none);
//! - beginner-tutorial/filtering-transforming (all seven processors),
//!   beginner-tutorial/logging-and-monitoring (all three processors);
//! - intermediate-tutorial/branching (both, with the Java tests' inputs and with the
//!   producers);
//! - producer-tutorial (all seven);
//! - reference/operations: filternot, flatmap, merge-example, print, topicnameextractor;
//! - reference/functions: generic, keytransformer, keyvalueprinter, keyvaluetokeyvaluelisttransformer,
//!   keyvaluetovaluelisttransformer, metadatatransformer, streampartitioner-example,
//!   timestampextractor, topicnameextractor, generator-batch-producer;
//! - reference/data-types: any, auto-conversion, enum, explicit-conversion, list-tuple,
//!   list-tuple-simple, map, multi-conversion, struct, union.
//!
//! - beginner-tutorial/different-data-formats: json, converting (Avro → JSON), multiple-formats
//!   (Avro and JSON into one topic), the Avro ones with KSML's SensorData schema and a
//!   `continueOnFail` produce handler (their producers generate an enum symbol the schema
//!   lacks, which KSML cannot write either).
//!
//! Examples with state (stores used from Python functions, tables, aggregations, windows,
//! `suppress`, joins: intermediate-tutorial/{aggregations, windowing, state-stores, joins},
//! advanced-tutorial/{custom-state-stores, complex-event-processing,
//! performance-optimization, external-integration}, use-cases/* (those KSML runs too),
//! reference/data-types' windowed types, reference/functions' foreignkeyextractor and
//! merger-example) run, and are tested by `weir test` suites in `tests/suites/` (their
//! outputs and store contents; the table in docs/test.md maps examples to suites), not
//! here. Not covered by either:
//! intermediate-tutorial/error-handling other than try-catch.
//!
//! Weir's own orders example (`examples/orders`, Confluent's orders microservices) is tested
//! at the end: its `weir test` suites (one per service), `weir check` of its runner configs,
//! and the whole ecosystem on the embedded log (orders of every kind fed as JSON, the states
//! written back, the validations, the reservations' changelog, emails, level topics, and a
//! restart that processes nothing again).
//!
//! Not runnable in KSML either: reference/operations/selectkey (its inline keyTransformer
//! has no `resultType`, which KSML requires; `weir run` reports it like `weir check`).
//! introduction/* are fragments (no runnable pipeline of their own).

#[path = "run/common.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::Dir;
use serde_json::{Value as Json, json};

/// How long a run with forever-producers lasts before SIGINT.
const RUN_FOR: Duration = Duration::from_millis(1500);
/// The fewest records a forever-producer must have written in that time (tens, normally;
/// a loaded machine starts Python slowly). Checks compare all records, whatever their number.
const MIN_RECORDS: usize = 3;

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/ksml/docs-examples")
}

/// Intervals of a second or more become 50 ms; shorter ones stay.
fn speed_up(text: &str) -> String {
    text.lines()
        .map(|line| {
            let trimmed = line.trim_start();
            let Some(rest) = trimmed.strip_prefix("interval:") else { return line.to_string() };
            let value = rest.split('#').next().unwrap_or("").trim();
            let ms = if let Some(n) = value.strip_suffix("ms") {
                n.trim().parse::<u64>().ok()
            } else if let Some(n) = value.strip_suffix('s') {
                n.trim().parse::<u64>().ok().map(|s| s * 1000)
            } else {
                value.parse::<u64>().ok()
            };
            match ms {
                Some(ms) if ms >= 1000 => format!("{}interval: 50ms", &line[..line.len() - trimmed.len()]),
                _ => line.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A directory holding the given example files (paths under docs-examples); returns it and
/// the copied file names.
fn example(name: &str, files: &[&str]) -> (Dir, Vec<String>) {
    let dir = Dir::new(name);
    let names = files
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(examples().join(f)).unwrap_or_else(|e| panic!("example {f}: {e}"));
            let file = Path::new(f).file_name().and_then(|n| n.to_str()).expect("file name").to_string();
            dir.write(&file, &speed_up(&text));
            file
        })
        .collect();
    (dir, names)
}

/// Runs example files until SIGINT after [`RUN_FOR`], then drains: the processors (files
/// not named `producer…`) run again with `--until-idle`, so every record the producers wrote
/// before the SIGINT is processed (the SIGINT may land between a producer's write and the
/// processor's read). Returns the directory and stdout.
fn run_for(name: &str, files: &[&str]) -> (Dir, String) {
    let (dir, names) = example(name, files);
    let all: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut stdout = dir.run_for(&all, RUN_FOR);
    let processors: Vec<&str> =
        all.iter().copied().filter(|f| !Path::new(f).file_name().is_some_and(|n| n.to_string_lossy().contains("producer"))).collect();
    if !processors.is_empty() && processors.len() < all.len() {
        stdout.push_str(&dir.run_ok(&processors));
    }
    (dir, stdout)
}

/// Runs example files with `--until-idle`.
fn run_until_idle(name: &str, files: &[&str]) -> (Dir, String) {
    let (dir, names) = example(name, files);
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let stdout = dir.run_ok(&names);
    (dir, stdout)
}

fn kv(records: &[Json]) -> Vec<(Json, Json)> {
    records.iter().map(|r| (r["key"].clone(), r["value"].clone())).collect()
}

/// Asserts the output records are exactly the input records the predicate keeps, in order.
fn assert_filtered(dir: &Dir, input: &str, output: &str, keep: impl Fn(&Json) -> bool) {
    let input = dir.consume(input);
    assert!(input.len() >= MIN_RECORDS, "the producer should have produced several records, got {}", input.len());
    let expected: Vec<(Json, Json)> = kv(&input).into_iter().filter(|(_, v)| keep(v)).collect();
    assert_eq!(kv(&dir.consume(output)), expected, "'{output}' should hold exactly the kept records of '{input:?}'");
}

fn f64_of(v: &Json) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

// ---- basics and quick start ---------------------------------------------------------------

#[test]
fn basics_tutorial() {
    let (dir, _) = run_for("basics", &["basics-tutorial/producer.yaml", "basics-tutorial/tutorial.yaml"]);
    // Keeps temperatures above 70 and adds Celsius.
    let input = dir.consume("temperature_data");
    let kept: Vec<&Json> = input.iter().filter(|r| f64_of(&r["value"]["temperature"]) > 70.0).collect();
    let out = dir.consume("temperature_data_converted");
    assert_eq!(out.len(), kept.len(), "{out:?}");
    for (o, i) in out.iter().zip(kept) {
        let f = f64_of(&i["value"]["temperature"]);
        assert_eq!(o["key"], i["key"]);
        assert_eq!(o["value"]["sensor"], i["key"]);
        assert_eq!(f64_of(&o["value"]["temp_fahrenheit"]), f);
        assert!((f64_of(&o["value"]["temp_celsius"]) - (f - 32.0) * 5.0 / 9.0).abs() < 1e-9, "{o}");
    }
}

#[test]
fn quick_start() {
    // quick-start has no producer (its docs produce by hand) and reads with
    // `offsetResetPolicy: latest`, so ours runs in the same `weir run`.
    let (dir, _) = example("quick-start", &["quick-start/processor.yaml"]);
    dir.write("producer.yaml", &std::fs::read_to_string(common::fixture_path("examples/quick_start_producer.yaml")).expect("fixture"));
    dir.run_ok(&["producer.yaml", "processor.yaml"]);
    dir.expect_topic(
        "device_health_alerts",
        r#"
        {"key": "dev1", "value": {"device_id": "dev1", "battery_percent": 80, "signal_strength": 90, "error_count": 0, "health_status": "healthy", "issue_reason": "ok"}}
        {"key": "dev3", "value": {"device_id": "dev3", "battery_percent": 10, "signal_strength": 90, "error_count": 0, "health_status": "needs_attention", "issue_reason": "low_battery"}}
        {"key": "dev4", "value": {"device_id": "dev4", "battery_percent": 50, "signal_strength": 30, "error_count": 0, "health_status": "needs_attention", "issue_reason": "poor_signal"}}
        {"key": "dev5", "value": {"device_id": "dev5", "battery_percent": 50, "signal_strength": 90, "error_count": 9, "health_status": "needs_attention", "issue_reason": "high_errors"}}
        "#,
    );
}

// ---- beginner-tutorial/filtering-transforming ----------------------------------------------

const FT: &str = "beginner-tutorial/filtering-transforming";

fn ft(name: &str, producer: &str, processor: &str) -> Dir {
    run_for(name, &[&format!("{FT}/{producer}.yaml"), &format!("{FT}/{processor}.yaml")]).0
}

fn sensor<'a>(v: &'a Json, field: &str) -> &'a Json {
    &v["sensors"][field]
}

#[test]
fn filtering_transforming_custom_filter() {
    let dir = ft("ft-custom", "producer-filtering-transforming", "processor-filtering-transforming-custom-filter");
    assert_filtered(&dir, "tutorial_input", "alerts_stream", |v| {
        let t = f64_of(sensor(v, "temperature"));
        match sensor(v, "location").as_str() {
            Some("server_room") => t > 20.0,
            Some("data_center") => t > 30.0,
            _ => false,
        }
    });
}

#[test]
fn filtering_transforming_multiple_filters() {
    let dir = ft("ft-multiple-filters", "producer-filtering-transforming", "processor-complex-filtering-multiple-filters");
    assert_filtered(&dir, "tutorial_input", "filtered_data", |v| {
        f64_of(sensor(v, "temperature")) > 20.0 && f64_of(sensor(v, "humidity")) < 80.0 && sensor(v, "location") == "warehouse"
    });
}

#[test]
fn filtering_transforming_error_handling() {
    let dir = ft("ft-error-handling", "producer-filtering-transforming", "processor-filtering-transforming-error-handling");
    assert_filtered(&dir, "tutorial_input", "alerts_stream", |v| {
        f64_of(sensor(v, "temperature")) > 70.0 && f64_of(sensor(v, "humidity")) < 50.0
    });
}

/// The advanced producer's records, transformed: every input comes out, keyed the same.
fn assert_one_out_per_in(dir: &Dir, input: &str, output: &str) -> Vec<(Json, Json)> {
    let input = dir.consume(input);
    assert!(input.len() >= MIN_RECORDS, "{input:?}");
    let out = kv(&dir.consume(output));
    let in_keys: Vec<&Json> = input.iter().map(|r| &r["key"]).collect();
    let out_keys: Vec<&Json> = out.iter().map(|(k, _)| k).collect();
    assert_eq!(out_keys, in_keys);
    out
}

#[test]
fn filtering_transforming_complete_with_the_producer() {
    let dir = ft("ft-complete", "producer-filtering-transforming-advanced", "processor-filtering-transforming-complete");
    // The advanced producer makes valid readings only: all pass, none is an error.
    for (key, value) in assert_one_out_per_in(&dir, "tutorial_input", "filtered_data") {
        assert_eq!(value["sensor_id"], key);
        let f = f64_of(&value["readings"]["temperature"]["fahrenheit"]);
        assert!((f64_of(&value["readings"]["temperature"]["celsius"]) - (f - 32.0) * 5.0 / 9.0).abs() < 0.01, "{value}");
    }
    assert!(dir.consume("alerts_stream").is_empty());
}

#[test]
fn filtering_transforming_complete_with_the_java_test_inputs() {
    // KSML's FilteringTransformingCompleteTest.
    let (dir, _) = example("ft-complete-jt", &[&format!("{FT}/processor-filtering-transforming-complete.yaml")]);
    dir.produce(
        "tutorial_input",
        r#"
        {"key": "sensor0", "value": {"sensors": {"temperature": {"value": 80, "unit": "F"}, "humidity": {"value": 88}, "location": {"value": "data_center"}}, "metadata": {"timestamp": 1700000000000}}}
        {"key": "sensor1", "value": {"sensors": {"temperature": {"value": 250, "unit": "F"}, "humidity": {"value": 50}, "location": {"value": "x"}}, "metadata": {"timestamp": 1700000000000}}}
        {"key": "sensor2", "value": {"sensors": {"humidity": {"value": 50}}, "metadata": {"timestamp": 1700000000000}}}
        {"key": "sensor3", "value": {"sensors": {"temperature": {"value": 70}}, "metadata": {"timestamp": 1700000000000}}}
        {"key": "sensor4", "value": {"invalid_field": "malformed"}}
        "#,
    );
    dir.run_ok(&["processor-filtering-transforming-complete.yaml"]);
    let out = dir.consume("filtered_data");
    assert_eq!(out.len(), 1, "{out:?}");
    let v = &out[0]["value"];
    assert_eq!((&out[0]["key"], &v["sensor_id"], &v["location"]), (&json!("sensor0"), &json!("sensor0"), &json!("data_center")));
    assert_eq!(v["readings"]["temperature"]["fahrenheit"], 80);
    assert!((f64_of(&v["readings"]["temperature"]["celsius"]) - 26.67).abs() < 0.01, "{v}");
    assert_eq!(v["readings"]["humidity"], 88);
    for field in ["timestamp", "processed_at"] {
        assert!(v.get(field).is_some(), "missing {field}: {v}");
    }
    assert!(v["readings"].get("heat_index").is_some(), "{v}");
    assert!(dir.consume("alerts_stream").is_empty());
}

#[test]
fn filtering_transforming_nested() {
    let dir = ft("ft-nested", "producer-filtering-transforming-advanced", "processor-filtering-transforming-nested");
    assert_one_out_per_in(&dir, "tutorial_input", "filtered_data");
}

#[test]
fn filtering_transforming_multiple_transform() {
    let dir =
        ft("ft-multiple-transform", "producer-filtering-transforming-advanced", "processor-filtering-transforming-multiple-transform");
    assert_one_out_per_in(&dir, "tutorial_input", "filtered_data");
}

#[test]
fn filtering_transforming_error_handling2() {
    let dir = ft("ft-error-handling2", "producer-filtering-transforming-advanced", "processor-filtering-transforming-error-handling2");
    assert_one_out_per_in(&dir, "tutorial_input", "filtered_data");
}

// ---- beginner-tutorial/logging-and-monitoring -----------------------------------------------

const LM: &str = "beginner-tutorial/logging-and-monitoring";

#[test]
fn logging_processor() {
    let (dir, _) = run_for("lm-logging", &[&format!("{LM}/logging-producer.yaml"), &format!("{LM}/logging-processor.yaml")]);
    // Logs each message and passes it on unchanged.
    let input = kv(&dir.consume("ksml_logging_input"));
    assert!(input.len() >= MIN_RECORDS);
    assert_eq!(kv(&dir.consume("ksml_logging_output")), input);
    let log = dir.read("run.stderr");
    assert!(log.contains("logging-processor.function.log_message"), "{log}");
}

#[test]
fn monitoring_simple_processor() {
    let (dir, _) = run_for("lm-monitoring", &[&format!("{LM}/logging-producer.yaml"), &format!("{LM}/monitoring-simple-processor.yaml")]);
    let input = kv(&dir.consume("ksml_logging_input"));
    assert!(input.len() >= MIN_RECORDS);
    assert_eq!(kv(&dir.consume("ksml_monitoring_output")), input);
}

#[test]
fn error_handling_processor() {
    let (dir, _) = run_for("lm-errors", &[&format!("{LM}/logging-producer.yaml"), &format!("{LM}/error-handling-processor.yaml")]);
    let input = dir.consume("ksml_logging_input");
    assert!(input.len() >= MIN_RECORDS);
    assert_eq!(dir.consume("ksml_error_handled_output").len(), input.len());
}

// ---- beginner-tutorial/different-data-formats ----------------------------------------------

const DF: &str = "beginner-tutorial/different-data-formats";

#[test]
fn different_data_formats_json() {
    let (dir, _) = run_for("df-json", &[&format!("{DF}/producer-json.yaml"), &format!("{DF}/processor-json.yaml")]);
    let input = dir.consume("sensor_data_json_raw");
    let output = dir.consume("sensor_data_json_processed");
    assert!(input.len() >= MIN_RECORDS, "{}", input.len());
    assert_eq!(output.len(), input.len(), "one processed record per input");
    for (o, i) in output.iter().zip(&input) {
        assert_eq!(o["key"], json!(format!("processed_{}", i["key"].as_str().expect("key"))));
        let mut expected = i["value"].clone();
        expected["processed"] = json!(true);
        expected["processed_at"] = o["value"]["processed_at"].clone();
        assert_eq!(o["value"], expected);
        assert!(o["value"]["processed_at"].as_str().is_some_and(|t| t.parse::<u64>().is_ok()), "{o}");
    }
}

/// The Avro tutorials, with KSML's SensorData schema beside them (the docs have users create
/// it) and a runner config whose `produce` handler is `continueOnFail`: the producers pick
/// the sensor type "PRESSURE", which SensorData's enum lacks. KSML fails to serialize those
/// too, and by default stops; here they are skipped, and logged.
fn avro_tutorial(name: &str, producer: &str, processor: &str) -> (Dir, String) {
    let (dir, _) = example(name, &[&format!("{DF}/{producer}.yaml"), &format!("{DF}/{processor}.yaml")]);
    dir.write("SensorData.avsc", &std::fs::read_to_string(examples().join("../schemas/SensorData.avsc")).expect("SensorData.avsc"));
    let runner = |definitions: &[&str]| {
        let defs: String = definitions.iter().map(|d| format!("    {d}: {d}.yaml\n")).collect();
        format!(
            "ksml:\n  definitions:\n{defs}  errorHandling:\n    produce:\n      handler: continueOnFail\nkafka:\n  application.id: {name}\n  bootstrap.servers: unused:9092\n"
        )
    };
    dir.write("ksml-runner.yaml", &runner(&[producer, processor]));
    dir.write("processor-only.yaml", &runner(&[processor]));
    dir.run_for(&["ksml-runner.yaml"], RUN_FOR);
    // Drain: everything the producer wrote before the SIGINT is processed.
    dir.run_ok(&["processor-only.yaml"]);
    let stderr = dir.read("run.stderr");
    (dir, stderr)
}

/// A SensorData record as the tutorials' JSON output shows it: the generator's string
/// timestamp became the schema's long, and the type is one of the enum's symbols.
fn assert_sensor_data(value: &Json) {
    let fields: Vec<&str> = value.as_object().expect("an object").keys().map(String::as_str).collect();
    for f in ["name", "timestamp", "value", "type", "unit", "color", "city", "owner"] {
        assert!(fields.contains(&f), "{f} missing in {value}");
    }
    assert!(value["timestamp"].as_i64().is_some_and(|t| t > 1_600_000_000_000), "{value}");
    assert!(["TEMPERATURE", "HUMIDITY"].contains(&value["type"].as_str().expect("type")), "{value}");
    assert!(value["value"].as_str().is_some_and(|v| v.parse::<u32>().is_ok_and(|n| n < 100)), "{value}");
}

#[test]
fn different_data_formats_converting_avro_to_json() {
    let (dir, stderr) = avro_tutorial("df-converting", "producer-converting", "processor-converting");
    // The Avro topic holds registry-framed records (schema id 1), and nulls.
    let input = dir.consume("sensor_data_avro");
    assert!(input.len() >= MIN_RECORDS, "{}", input.len());
    for r in &input {
        assert!(r["valueHex"].is_null() || r["valueHex"].as_str().is_some_and(|h| h.starts_with("0000000001")), "{r}");
    }
    // Avro → JSON → string → JSON: one JSON record per Avro record, same key.
    let output = dir.consume("sensor_data_converted_formats");
    assert_eq!(output.len(), input.len(), "{output:?}");
    for (o, i) in output.iter().zip(&input) {
        assert_eq!(o["key"], i["key"]);
        // Kafka's nulls have no `valueHex`.
        if i["valueHex"].is_null() {
            assert!(i["value"].is_null() && o["value"].is_null(), "{i} {o}");
        } else {
            assert_sensor_data(&o["value"]);
            assert_eq!(o["value"]["name"], o["key"]);
        }
    }
    assert!(
        stderr.lines().filter(|l| l.contains("ERROR")).all(|l| l.contains("\"PRESSURE\" is not a symbol of enum SensorType")),
        "{stderr}"
    );
}

#[test]
fn different_data_formats_multiple_formats() {
    let (dir, stderr) = avro_tutorial("df-multiple", "producer-multiple-formats", "processor-multiple-formats");
    let readings = dir.consume("sensor_readings");
    let configs = dir.consume("device_config");
    assert!(readings.len() >= MIN_RECORDS && configs.len() >= MIN_RECORDS, "{} {}", readings.len(), configs.len());
    let combined = dir.consume("combined_sensor_data");
    let from_avro: Vec<&Json> = combined.iter().filter(|r| r["value"]["source_format"] == "Avro").collect();
    let from_json: Vec<&Json> = combined.iter().filter(|r| r["value"]["source_format"] == "JSON").collect();
    assert_eq!(from_avro.len() + from_json.len(), combined.len(), "{combined:?}");
    assert_eq!(from_avro.len(), readings.len());
    assert_eq!(from_json.len(), configs.len());
    for (o, i) in from_avro.iter().zip(&readings) {
        assert_eq!(o["key"], i["key"]);
        assert_sensor_data(&o["value"]);
    }
    for (o, i) in from_json.iter().zip(&configs) {
        let c = &i["value"];
        assert_eq!(
            o["value"],
            json!({"name": i["key"], "type": "CONFIG", "threshold": c["threshold"], "alert_level": c["alert_level"], "source_format": "JSON"})
        );
    }
    assert!(
        stderr.lines().filter(|l| l.contains("ERROR")).all(|l| l.contains("\"PRESSURE\" is not a symbol of enum SensorType")),
        "{stderr}"
    );
}

// ---- intermediate-tutorial/branching --------------------------------------------------------

const BR: &str = "intermediate-tutorial/branching";

#[test]
fn branching_location_routing_with_the_java_test_inputs() {
    // KSML's LocationRoutingTest.
    let (dir, _) = example("br-location-jt", &[&format!("{BR}/processor-location-routing.yaml")]);
    dir.produce(
        "sensor_input",
        r#"
        {"key": "k1", "value": {"sensor_id": "s1", "location": "data_center"}}
        {"key": "k2", "value": {"sensor_id": "s2", "location": "warehouse"}}
        {"key": "k3", "value": {"sensor_id": "s3", "location": "office"}}
        {"key": "k4", "value": {"sensor_id": "s4", "location": "unknown"}}
        {"key": "k5", "value": {"sensor_id": "s5"}}
        "#,
    );
    dir.run_ok(&["processor-location-routing.yaml"]);
    dir.expect_topic("datacenter_sensors", r#"{"key": "k1"}"#);
    dir.expect_topic("warehouse_sensors", r#"{"key": "k2"}"#);
    dir.expect_topic("office_sensors", r#"{"key": "k3"}"#);
    dir.expect_topic("unknown_sensors", r#"{"key": "k4"} {"key": "k5", "value": {"sensor_id": "s5"}}"#);
}

#[test]
fn branching_order_processing_with_the_java_test_inputs() {
    // KSML's OrderProcessingTest.
    let (dir, _) = example("br-orders-jt", &[&format!("{BR}/processor-order-processing.yaml")]);
    dir.produce(
        "order_input",
        r#"
        {"key": "o1", "value": {"order_id": "o1", "customer_type": "premium", "region": "US", "total_amount": 1500}}
        {"key": "o2", "value": {"order_id": "o2", "customer_type": "standard", "region": "EU", "total_amount": 500}}
        {"key": "o3", "value": {"order_id": "o3", "customer_type": "basic", "region": "APAC", "total_amount": 300}}
        {"key": "o4", "value": {"order_id": "o4", "customer_type": "premium", "region": "US", "total_amount": 1000.00}}
        {"key": "o5", "value": {"order_id": "o5", "customer_type": "premium", "region": "US", "total_amount": 1000.01}}
        "#,
    );
    dir.run_ok(&["processor-order-processing.yaml"]);
    let priority = dir.consume("priority_orders");
    assert_eq!(priority.iter().map(|r| &r["key"]).collect::<Vec<_>>(), [&json!("o1"), &json!("o5")]);
    let v = &priority[0]["value"];
    assert_eq!((&v["processing_tier"], &v["sla_hours"]), (&json!("priority"), &json!(4)));
    assert!(v.get("processed_at").is_some(), "{v}");
    dir.expect_topic("regional_orders", r#"{"key": "o2"} {"key": "o4"}"#);
    dir.expect_topic("international_orders", r#"{"key": "o3"}"#);
    assert_eq!(dir.consume("regional_orders")[0]["value"]["sla_hours"], 24);
    assert_eq!(dir.consume("international_orders")[0]["value"]["processing_tier"], "international");
}

#[test]
fn branching_with_the_producers() {
    let (dir, _) = run_for(
        "br-producers",
        &[
            &format!("{BR}/producer-sensor-locations.yaml"),
            &format!("{BR}/processor-location-routing.yaml"),
            &format!("{BR}/producer-order-events.yaml"),
            &format!("{BR}/processor-order-processing.yaml"),
        ],
    );
    // Every sensor lands in exactly one topic, chosen by its location.
    let sensors = dir.consume("sensor_input");
    let routed: usize =
        ["datacenter_sensors", "warehouse_sensors", "office_sensors", "unknown_sensors"].iter().map(|t| dir.consume(t).len()).sum();
    assert_eq!(routed, sensors.len());
    for r in dir.consume("warehouse_sensors") {
        assert_eq!(r["value"]["location"], "warehouse");
    }
    let orders = dir.consume("order_input");
    let routed: usize = ["priority_orders", "regional_orders", "international_orders"].iter().map(|t| dir.consume(t).len()).sum();
    assert_eq!(routed, orders.len());
    for r in dir.consume("priority_orders") {
        assert!(r["value"]["customer_type"] == "premium" && f64_of(&r["value"]["total_amount"]) > 1000.0, "{r}");
    }
}

// ---- producer-tutorial ----------------------------------------------------------------------

fn produced(name: &str, file: &str, forever: bool) -> Vec<(Json, Json)> {
    let files = [format!("producer-tutorial/{file}.yaml")];
    let files: Vec<&str> = files.iter().map(String::as_str).collect();
    let (dir, _) = if forever { run_for(name, &files) } else { run_until_idle(name, &files) };
    kv(&dir.consume("my_topic"))
}

#[test]
fn producer_tutorial_simplest() {
    assert_eq!(produced("pt-simplest", "simplest-producer", false), [(json!("key1"), json!({"message": "Hello, Kafka!"}))]);
}

#[test]
fn producer_tutorial_count() {
    assert_eq!(produced("pt-count", "count-example", false), vec![(json!("key1"), json!({"message": "Hello"})); 10]);
}

#[test]
fn producer_tutorial_until() {
    let expected: Vec<(Json, Json)> = (1..=10).map(|n| (json!(format!("key{n}")), json!({"count": n}))).collect();
    assert_eq!(produced("pt-until", "until-example", false), expected);
}

#[test]
fn producer_tutorial_until_global_state() {
    let expected: Vec<(Json, Json)> = (1..=10).map(|n| (json!(format!("key{n}")), json!({"count": n}))).collect();
    assert_eq!(produced("pt-until-global", "until-global-state-example", false), expected);
}

#[test]
fn producer_tutorial_condition() {
    let records = produced("pt-condition", "condition-example", true);
    assert!(records.len() >= MIN_RECORDS, "{records:?}");
    assert!(records.iter().all(|(_, v)| f64_of(&v["value"]) > 50.0), "{records:?}");
}

#[test]
fn producer_tutorial_batch() {
    let records = produced("pt-batch", "batch-example", true);
    // Batches of 10, ids counting up without gaps.
    assert!(records.len() >= 10 && records.len().is_multiple_of(10), "{}", records.len());
    for (i, (k, v)) in records.iter().enumerate() {
        assert_eq!((k, v), (&json!(format!("sensor{i}")), &json!({"id": i, "reading": i * 10})));
    }
}

#[test]
fn producer_tutorial_intervals() {
    let records = produced("pt-intervals", "interval-examples", true);
    // rapid_producer's 100, plus one from slow_producer per interval.
    assert!(records.len() > 100, "{}", records.len());
    assert!(records.iter().all(|r| r == &(json!("key1"), json!({"message": "Hello"}))));
}

// ---- reference/operations -------------------------------------------------------------------

fn reference(name: &str, kind: &str, producer: &str, processor: &str) -> (Dir, String) {
    run_for(name, &[&format!("reference/{kind}/{producer}.yaml"), &format!("reference/{kind}/{processor}.yaml")])
}

#[test]
fn operations_filter_not() {
    let (dir, _) = reference("op-filternot", "operations", "filternot-producer", "filternot-processor");
    assert_filtered(&dir, "product_stream", "active_products", |v| v["status"] != "inactive");
}

#[test]
fn operations_flat_map() {
    let (dir, _) = reference("op-flatmap", "operations", "flatmap-producer", "flatmap-processor");
    // The producer returns JSON text for a json topic: KSML parses it into an object.
    let batches = dir.consume("order_batches");
    assert!(batches.iter().all(|b| b["value"].is_object()), "{batches:?}");
    let expected: Vec<(Json, Json)> = batches
        .iter()
        .flat_map(|b| {
            let order = &b["value"];
            order["items"].as_array().expect("items").iter().map(move |i| {
                let id = order["order_id"].as_str().expect("id");
                let key = json!(format!("{id}_{}", i["item_id"].as_str().expect("item")));
                let total = f64_of(&i["quantity"]) * f64_of(&i["price"]);
                (key, json!({"order_id": id, "customer_id": order["customer_id"], "item_id": i["item_id"], "quantity": i["quantity"], "total": total}))
            })
        })
        .collect();
    assert_eq!(kv(&dir.consume("individual_items")), expected);
}

#[test]
fn operations_merge() {
    let (dir, _) = reference("op-merge", "operations", "merge-example-producer", "merge-example-processor");
    let mut input = kv(&dir.consume("stream_a"));
    input.extend(kv(&dir.consume("stream_b")));
    let mut merged = kv(&dir.consume("merged_stream"));
    assert!(input.len() >= MIN_RECORDS);
    let order = |v: &mut Vec<(Json, Json)>| v.sort_by_key(|(k, v)| format!("{k}{v}"));
    order(&mut input);
    order(&mut merged);
    assert_eq!(merged, input);
}

#[test]
fn operations_print() {
    let (dir, stdout) = reference("op-print", "operations", "print-producer", "print-processor");
    let lines = stdout.lines().filter(|l| l.starts_with('[')).count();
    assert_eq!(lines, dir.consume("debug_messages").len(), "one printed line per record:\n{stdout}");
}

#[test]
fn operations_topic_name_extractor() {
    let (dir, _) = reference("op-tne", "operations", "topicnameextractor-producer", "topicnameextractor-processor");
    let events = dir.consume("system_events");
    assert!(events.len() >= MIN_RECORDS);
    for (topic, severity) in [("critical_alerts", "CRITICAL"), ("error_logs", "ERROR"), ("warning_logs", "WARNING")] {
        let expected: Vec<(Json, Json)> = kv(&events).into_iter().filter(|(_, v)| v["severity"] == severity).collect();
        assert_eq!(kv(&dir.consume(topic)), expected, "{topic}");
    }
    let info: Vec<(Json, Json)> = kv(&events)
        .into_iter()
        .filter(|(_, v)| !["CRITICAL", "ERROR", "WARNING"].contains(&v["severity"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(kv(&dir.consume("info_logs")), info);
}

// ---- reference/functions --------------------------------------------------------------------

/// A reference example whose processor writes one output per input.
fn one_to_one(name: &str, kind: &str, example: &str, input: &str, output: &str) -> Dir {
    let (dir, _) = reference(name, kind, &format!("{example}-producer"), &format!("{example}-processor"));
    let n = dir.consume(input).len();
    assert!(n >= MIN_RECORDS, "{n}");
    assert_eq!(dir.consume(output).len(), n, "one '{output}' record per '{input}' record");
    dir
}

#[test]
fn functions_generic() {
    one_to_one("fn-generic", "functions", "generic", "raw_products", "enriched_products");
}

#[test]
fn functions_key_transformer() {
    // Re-keys each transaction by its region.
    let dir = one_to_one("fn-keytransformer", "functions", "keytransformer", "transaction_events", "transactions_by_region");
    for r in dir.consume("transactions_by_region") {
        assert_eq!(r["key"], r["value"]["region"], "{r}");
    }
}

#[test]
fn functions_key_value_printer() {
    let (dir, stdout) = reference("fn-kvprinter", "functions", "keyvalueprinter-producer", "keyvalueprinter-processor");
    let lines = stdout.lines().filter(|l| l.starts_with('[')).count();
    assert_eq!(lines, dir.consume("sales_data").len(), "{stdout}");
}

#[test]
fn functions_key_value_to_key_value_list() {
    let (dir, _) =
        reference("fn-kvlist", "functions", "keyvaluetokeyvaluelisttransformer-producer", "keyvaluetokeyvaluelisttransformer-processor");
    assert!(dir.consume("individual_orders").len() > dir.consume("batch_orders").len());
}

#[test]
fn functions_key_value_to_value_list() {
    let (dir, _) =
        reference("fn-vlist", "functions", "keyvaluetovaluelisttransformer-producer", "keyvaluetovaluelisttransformer-processor");
    let orders = dir.consume("customer_orders");
    let items = dir.consume("individual_items");
    assert!(items.len() > orders.len());
    // flatMapValues keeps the key.
    let keys: std::collections::HashSet<String> = orders.iter().map(|r| r["key"].to_string()).collect();
    assert!(items.iter().all(|r| keys.contains(&r["key"].to_string())));
}

#[test]
fn functions_metadata_transformer() {
    let (dir, stdout) = reference("fn-metadata", "functions", "metadatatransformer-producer", "metadatatransformer-processor");
    let lines: Vec<&str> = stdout.lines().filter(|l| l.contains("ENRICHED EVENT")).collect();
    assert_eq!(lines.len(), dir.consume("api_events").len(), "{stdout}");
    // Printed without a label: Kafka Streams labels the line with the processor name.
    assert!(lines.iter().all(|l| l.starts_with("[metadatatransformer-processor_pipelines_enrich_api_events_print]: ")), "{stdout}");
}

#[test]
fn functions_stream_partitioner() {
    one_to_one("fn-partitioner", "functions", "streampartitioner-example", "order_events", "partitioned_orders");
}

#[test]
fn functions_timestamp_extractor() {
    one_to_one("fn-timestamp", "functions", "timestampextractor", "timestamped_events", "time_ordered_events");
}

#[test]
fn functions_topic_name_extractor() {
    let (dir, _) = reference("fn-tne", "functions", "topicnameextractor-producer", "topicnameextractor-processor");
    let n = dir.consume("mixed_sensor_data").len();
    let routed: usize = ["temperature_sensors", "humidity_sensors", "pressure_sensors", "critical_sensor_alerts"]
        .iter()
        .map(|t| dir.consume(t).len())
        .sum();
    assert!(n >= MIN_RECORDS && routed == n, "{routed} of {n}");
}

#[test]
fn functions_generator_batch_producer() {
    let (dir, _) = run_for("fn-batch", &["reference/functions/generator-batch-producer.yaml"]);
    assert!(dir.consume("sensor_data").len() >= MIN_RECORDS);
}

// ---- reference/data-types -------------------------------------------------------------------

#[test]
fn data_types_any() {
    one_to_one("dt-any", "data-types", "any", "any_data", "processed_any_data");
}

#[test]
fn data_types_auto_conversion() {
    one_to_one("dt-auto", "data-types", "auto-conversion", "sensor_data", "converted_data");
}

#[test]
fn data_types_enum() {
    let (dir, _) = reference("dt-enum", "data-types", "enum-producer", "enum-processor");
    assert_eq!(dir.consume("order_statuses").len(), dir.consume("order_events").len());
}

#[test]
fn data_types_explicit_conversion() {
    // convertValue json → string writes the JSON text, so the string topic holds the same
    // JSON documents.
    let dir = one_to_one("dt-explicit", "data-types", "explicit-conversion", "json_messages", "string_messages");
    assert_eq!(kv(&dir.consume("string_messages")), kv(&dir.consume("json_messages")));
}

#[test]
fn data_types_list_tuple() {
    let dir = one_to_one("dt-list-tuple", "data-types", "list-tuple", "student_records", "processed_grades");
    assert_eq!(dir.consume("processed_locations").len(), dir.consume("student_records").len());
}

#[test]
fn data_types_list_tuple_simple() {
    one_to_one("dt-list-tuple-simple", "data-types", "list-tuple-simple", "student_grades", "enhanced_grades");
}

#[test]
fn data_types_map() {
    let dir = one_to_one("dt-map", "data-types", "map", "user_preferences", "processed_preferences");
    assert_eq!(dir.consume("processed_scores").len(), dir.consume("user_scores").len());
}

#[test]
fn data_types_multi_conversion() {
    // json → string → json → transform → string: the string → json step parses the text.
    let dir = one_to_one("dt-multi", "data-types", "multi-conversion", "multi_format_data", "final_output");
    for (input, output) in dir.consume("multi_format_data").iter().zip(dir.consume("final_output")) {
        let (i, o) = (&input["value"], &output["value"]);
        assert_eq!(o["product_id"], json!(format!("PRD-{:04}", i["id"].as_i64().expect("id"))));
        assert!((f64_of(&o["total_value"]) - f64_of(&i["price"]) * f64_of(&i["quantity"])).abs() < 1e-6, "{o}");
        assert_eq!(o["in_stock"], i["available"]);
    }
}

#[test]
fn data_types_struct() {
    one_to_one("dt-struct", "data-types", "struct", "user_profiles", "enriched_profiles");
}

#[test]
fn data_types_union() {
    one_to_one("dt-union", "data-types", "union", "optional_messages", "processed_messages");
}

// ---- Weir's orders example (examples/orders) ------------------------------------------------

fn orders_example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/orders")
}

/// `weir <args>` in `dir`, with the orders example's runner config variables pointing into it;
/// panics unless it succeeds.
fn orders_weir(dir: &Dir, port: u16, args: &[&str], stdin: &str) -> std::process::Output {
    let state = dir.path.join("state").to_string_lossy().into_owned();
    let port = port.to_string();
    let out = dir.weir_env(args, stdin, &[("WEIR_STATE", &state), ("ORDERS_PORT", &port)]);
    common::assert_ok(&out, &format!("weir {args:?}"));
    out
}

#[test]
fn orders_suites_pass() {
    // The per-service suites (examples/orders/tests): the original's service tests and more.
    let suites = orders_example().join("tests");
    let out = Dir::new("orders-suites").weir(&["test", &suites.to_string_lossy()], "");
    let stdout = common::stdout(&out);
    assert!(out.status.success(), "{stdout}\n{}", common::stderr(&out));
    let summary = stdout.lines().last().unwrap_or_default();
    let passed: usize = summary.split(" passed").next().and_then(|n| n.trim().parse().ok()).unwrap_or(0);
    let tests = std::fs::read_dir(&suites)
        .expect("examples/orders/tests")
        .flatten()
        .map(|e| std::fs::read_to_string(e.path()).expect("suite"))
        .map(|text| text.lines().filter(|l| l.starts_with("    description:")).count())
        .sum::<usize>();
    assert!(tests >= 16 && passed == tests, "{tests} tests in the suites, {summary}");
}

#[test]
fn orders_runner_configs_check() {
    let dir = Dir::new("orders-check");
    let mut configs = vec![orders_example().join("ksml-runner.yaml")];
    let kafka = std::fs::read_dir(orders_example().join("kafka")).expect("examples/orders/kafka");
    configs.extend(kafka.flatten().map(|e| e.path()));
    assert!(configs.len() >= 8, "{configs:?}");
    for config in configs {
        let out = orders_weir(&dir, 18894, &["check", &config.to_string_lossy()], "");
        assert!(common::stderr(&out).contains("0 errors, 0 warnings"), "{config:?}: {}", common::stderr(&out));
    }
}

#[test]
fn orders_ecosystem_on_the_embedded_log() {
    // The all-in-one runner config: a first run writes the seed data, orders fed as JSON
    // (order-requests, through the JSON ingest) are validated or failed by the second.
    let dir = Dir::new("orders-e2e");
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let config = orders_example().join("ksml-runner.yaml").to_string_lossy().into_owned();
    let run = ["run", "--until-idle", "--embedded", "--no-progress", config.as_str()];
    orders_weir(&dir, port, &run, "");
    let order = |id: u32, customer: u32, product: &str, quantity: i32, price: f64| {
        json!({"key": id.to_string(), "value": {"id": id.to_string(), "customerId": customer, "state": "CREATED",
               "product": product, "quantity": quantity, "price": price}})
    };
    let orders = [
        order(1, 1, "JUMPERS", 1, 1.0),       // passes every check
        order(2, 2, "UNDERPANTS", -1, 1.0),   // details: negative quantity
        order(3, 9, "JUMPERS", 1, 2500.0),    // fraud: 2500 >= 2000
        order(4, 4, "UNDERPANTS", 5000, 0.0), // inventory: 2000 in stock
        order(5, 5, "STOCKINGS", 1, 1.0),     // no stock row: never validated
        order(6, 6, "UNDERPANTS", 2, 10.0),   // passes every check
    ];
    let lines: String = orders.iter().map(|o| format!("{o}\n")).collect();
    let storage = dir.path.join("state").to_string_lossy().into_owned();
    orders_weir(&dir, port, &["topic", "--storage", &storage, "produce", "order-requests"], &lines);
    let payment = json!({"key": "Payment:1", "value": {"id": "Payment:1", "orderId": "1", "ccy": "CZK", "amount": 1000.0}});
    orders_weir(&dir, port, &["topic", "--storage", &storage, "produce", "payment-requests"], &format!("{payment}\n"));
    orders_weir(&dir, port, &run, "");

    let consume = |topic: &str, value_type: &str| -> Vec<Json> {
        let args = [
            "topic",
            "--storage",
            &storage,
            "consume",
            topic,
            "--from-beginning",
            "--format",
            "json",
            "--value-type",
            value_type,
            "--config",
            &config,
        ];
        let out = orders_weir(&dir, port, &args, "");
        common::stdout(&out).lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect()
    };
    let written = consume("orders", "avro:Order");
    let states: Vec<(String, String)> = written[orders.len()..]
        .iter()
        .map(|r| (r["value"]["id"].as_str().expect("id").to_string(), r["value"]["state"].as_str().expect("state").to_string()))
        .collect();
    let mut sorted = states.clone();
    sorted.sort();
    let expected: Vec<(String, String)> = [("1", "VALIDATED"), ("2", "FAILED"), ("3", "FAILED"), ("4", "FAILED"), ("6", "VALIDATED")]
        .iter()
        .map(|(i, s)| (i.to_string(), s.to_string()))
        .collect();
    assert_eq!(sorted, expected, "the states written back to orders, in order: {states:?}");
    // Each order's final record equals its CREATED one but for the state.
    for r in &written[orders.len()..] {
        let id: usize = r["value"]["id"].as_str().and_then(|i| i.parse().ok()).expect("id");
        let mut created = orders[id - 1]["value"].clone();
        created["state"] = r["value"]["state"].clone();
        assert_eq!(r["value"], created);
    }
    // Reserved: order 1's jumper and order 6's two underpants (order 4 did not fit).
    let validations = consume("order-validations", "avro:OrderValidation");
    let inventory: Vec<(String, String)> = validations
        .iter()
        .filter(|r| r["value"]["checkType"] == "INVENTORY_CHECK")
        .map(|r| (r["key"].to_string(), r["value"]["validationResult"].as_str().unwrap_or_default().to_string()))
        .collect();
    assert_eq!(inventory.len(), 5, "no inventory check for STOCKINGS: {inventory:?}");
    // The reservations' changelog: one write per PASS (order 2's quantity of -1 passes and
    // reserves -1, as in the original), none for order 4's FAIL.
    let passes = inventory.iter().filter(|(_, result)| result == "PASS").count();
    let changelog = consume("orders-ecosystem-reserved_stock-changelog", "long");
    let reserved: Vec<(&str, i64)> =
        changelog.iter().map(|r| (r["key"].as_str().unwrap_or_default(), r["value"].as_i64().unwrap_or(i64::MIN))).collect();
    assert_eq!(passes, 4, "{inventory:?}");
    assert_eq!(reserved, [("JUMPERS", 1), ("UNDERPANTS", -1), ("JUMPERS", 2), ("UNDERPANTS", 1)], "{changelog:?}");
    assert_eq!(validations.len(), 6 + 6 + 5, "{validations:?}");
    // One email per record of order 1 (CREATED, VALIDATED) near its payment, as the original.
    let emails = consume("emails", "json");
    assert_eq!(emails.len(), 2, "{emails:?}");
    assert!(emails.iter().all(|e| e["value"]["customer"]["id"] == 1 && e["value"]["payment"]["id"] == "Payment:1"), "{emails:?}");
    // Every order record goes to its customer's level topic (customers 1..9 are seeded).
    let platinum = consume("platinum", "avro:OrderEnriched");
    let ids: Vec<&str> = platinum.iter().filter_map(|r| r["value"]["id"].as_str()).collect();
    assert_eq!(ids.iter().filter(|i| **i == "1").count(), 2, "{platinum:?}");
    assert!(platinum.iter().all(|r| r["value"]["customerLevel"] == "platinum"), "{platinum:?}");

    // Restarted with no new order, nothing is processed again (the original's
    // OrderDetailsServiceTest.shouldCorrectlyProgressOffset, for every service).
    orders_weir(&dir, port, &run, "");
    assert_eq!(consume("orders", "avro:Order").len(), written.len());
    assert_eq!(consume("order-validations", "avro:OrderValidation").len(), validations.len());
    assert_eq!(consume("emails", "json").len(), emails.len());
}
