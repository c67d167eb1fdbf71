//! Confluent-framed Avro through a schema registry, on a real Apache Kafka broker: the bytes
//! another service's Confluent serializer writes are produced to Kafka by an external client
//! (confluent-kafka), `weir run` reads them through the registry, transforms them in Python
//! and writes Avro framed with the id it registers, and Confluent's deserializer reads that
//! back from Kafka with only the registry to go by. The registry is the fake of
//! `registry/fake_registry.py`, which answers as Confluent's does (`registry_interop.rs`).

#[path = "kafka/common.rs"]
mod common;

#[path = "registry/common.rs"]
mod registry_common;

use std::time::Duration;

use common::{App, assert_ok, bootstrap, consume, create_topic, produce, serial, unique};
use registry_common::{Fake, confluent_avro, sensor_data_schema};
use serde_json::{Value as Json, json};

const DEFINITION: &str = "streams:\n  readings:\n    topic: {IN}\n    keyType: string\n    valueType: avro:SensorData\nfunctions:\n  \
                          upper:\n    type: valueTransformer\n    code: |\n      value['city'] = (value.get('city') or 'nowhere').upper()\n    \
                          expression: value\n    resultType: avro:SensorData\npipelines:\n  p:\n    from: readings\n    via:\n      \
                          - type: mapValues\n        mapper: upper\n    to:\n      topic: {OUT}\n      keyType: string\n      \
                          valueType: avro:SensorData\n";

#[test]
fn confluent_framed_avro_goes_through_weir_on_kafka_and_back_to_confluents_deserializer() {
    let _serial = serial();
    let b = bootstrap();
    let fake = Fake::start();
    let (input, output) = (unique("sensors-avro-in"), unique("sensors-avro-out"));
    let readings: Vec<Json> = (0..20)
        .map(|i| {
            json!({"name": format!("s{i}"), "timestamp": 1_700_000_000_000i64 + i, "value": format!("{i}.5"), "type": "TEMPERATURE",
                   "unit": "C", "color": null, "city": if i % 2 == 0 { json!("utrecht") } else { Json::Null }, "owner": null})
        })
        .collect();

    // Another service's serializer: framed bytes, its schema registered under <input>-value.
    let written = confluent_avro(&fake.url, &input, "serialize", &json!({"schema": sensor_data_schema(), "records": readings}));
    let written: Vec<&str> = written.as_array().expect("a list").iter().map(|h| h.as_str().expect("hex")).collect();
    create_topic(b, &input, 2);
    let records: Vec<Json> = written
        .iter()
        .enumerate()
        .map(|(i, hex)| {
            let key: String = format!("s{i}").bytes().map(|b| format!("{b:02x}")).collect();
            json!({"key": key, "value": hex, "raw": true, "partition": i % 2})
        })
        .collect();
    produce(b, &input, &records);

    let app = App::new("registry", b, &DEFINITION.replace("{IN}", &input).replace("{OUT}", &output), "");
    std::fs::write(app.dir.join("SensorData.avsc"), sensor_data_schema()).expect("write schema");
    let config = std::fs::read_to_string(app.dir.join("ksml-runner.yaml")).expect("runner config");
    let registries = format!(
        "  schemaRegistries:\n    reg:\n      config:\n        schema.registry.url: {}\n  notations:\n    avro:\n      type: confluent_avro\n      \
         schemaRegistry: reg\n",
        fake.url
    );
    let config = config.replacen("kafka:\n", &format!("{registries}kafka:\n"), 1);
    std::fs::write(app.dir.join("ksml-runner.yaml"), config).expect("write runner config");
    let out = app.run_until_idle(&[]);
    assert_ok(&out, "weir run with confluent_avro on Kafka");

    // Weir registered the output's schema, and framed every record with its id.
    let id = fake.get(&format!("/subjects/{output}-value/versions/latest"))["id"].as_u64().expect("Weir registered the output schema");
    let got = consume(b, &output, readings.len() + 5, Duration::from_secs(5), "read_uncommitted");
    assert_eq!(got.len(), readings.len(), "each reading once: {got:?}");
    let hex: Vec<Json> = got
        .iter()
        .map(|r| {
            let hex = r["value"].as_str().and_then(|v| v.strip_prefix("hex:")).unwrap_or_else(|| panic!("not framed Avro: {r}"));
            assert_eq!(u64::from_str_radix(&hex[2..10], 16).expect("id"), id, "framed with the registered id: {r}");
            json!(hex)
        })
        .collect();
    // Confluent's deserializer reads what Weir wrote; Weir read what Confluent's serializer wrote.
    let mut decoded = confluent_avro(&fake.url, &output, "deserialize", &Json::Array(hex)).as_array().expect("a list").clone();
    decoded.sort_by_key(|r| r["name"].as_str().expect("name")[1..].parse::<u32>().expect("number"));
    let expected: Vec<Json> = readings
        .iter()
        .map(|r| {
            let mut r = r.clone();
            r["city"] = json!(r["city"].as_str().unwrap_or("nowhere").to_uppercase());
            r
        })
        .collect();
    assert_eq!(decoded, expected);
    let keys: Vec<&str> = got.iter().map(|r| r["key"].as_str().expect("key")).collect();
    assert!(keys.iter().all(|k| k.starts_with('s')), "keys kept as strings: {keys:?}");
}
