//! `jsonschema` and `protobuf` notation throughput: decode + encode of a 20-field record
//! (the one `notation_bench` uses) 100k times each, with baselines measured in the same run:
//! the `json` notation for JSON Schema (the ratio is the cost of the registry header and of
//! validating both ways), and prost-reflect's `DynamicMessage` alone for Protobuf (the ratio is
//! the cost of the `Value` mapping and the framing).
//!
//! Run: `cargo run --release -p weir-engine --example notation_bench_schema`. Prints figures only.

use std::error::Error;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use indexmap::IndexMap;
use prost_reflect::DynamicMessage;
use prost_reflect::prost::Message as _;
use weir_dsl::types::parse_user_type;
use weir_engine::notation::{Notations, Target};
use weir_engine::registry::MemoryRegistry;

const RECORDS: usize = 100_000;

const RECORD: &str = r#"{"id":1234567,"sensor":"sensor-0042","type":"temperature","value":21.375,"unit":"celsius","ok":true,"timestamp":1700000000123,"location":{"site":"amsterdam-dc-2","rack":"r17","lat":52.3676,"lon":4.9041},"tags":["prod","eu-west","critical"],"battery":87,"firmware":"v2.14.3","seq":99817,"error":null,"min":-12.5,"max":48.25,"samples":[21.1,21.2,21.4,21.5],"owner":"team-ops","note":"caf\u00e9 \"quoted\"","rate":0.0125,"active":false}"#;

const SCHEMA: &str = r#"{
  "$schema": "http://json-schema.org/draft-07/schema#",
  "title": "Reading",
  "type": "object",
  "properties": {
    "id": {"type": "integer"}, "sensor": {"type": "string"}, "type": {"type": "string", "enum": ["temperature", "humidity"]},
    "value": {"type": "number"}, "unit": {"type": "string"}, "ok": {"type": "boolean"}, "timestamp": {"type": "integer"},
    "location": {"type": "object", "properties": {"site": {"type": "string"}, "rack": {"type": "string"},
      "lat": {"type": "number", "minimum": -90, "maximum": 90}, "lon": {"type": "number"}}, "required": ["site"]},
    "tags": {"type": "array", "items": {"type": "string"}}, "battery": {"type": "integer", "minimum": 0, "maximum": 100},
    "firmware": {"type": "string"}, "seq": {"type": "integer"}, "error": {"type": ["string", "null"]},
    "min": {"type": "number"}, "max": {"type": "number"}, "samples": {"type": "array", "items": {"type": "number"}},
    "owner": {"type": "string"}, "note": {"type": "string"}, "rate": {"type": "number"}, "active": {"type": "boolean"}
  },
  "required": ["id", "sensor", "timestamp"]
}"#;

const PROTO: &str = r#"syntax = "proto3";
package bench;
message Reading {
  int64 id = 1; string sensor = 2; string type = 3; double value = 4; string unit = 5; bool ok = 6;
  int64 timestamp = 7; Location location = 8; repeated string tags = 9; int32 battery = 10;
  string firmware = 11; int64 seq = 12; optional string error = 13; double min = 14; double max = 15;
  repeated double samples = 16; string owner = 17; string note = 18; double rate = 19; bool active = 20;
  message Location { string site = 1; string rack = 2; double lat = 3; double lon = 4; }
}
"#;

fn line(what: &str, took: Duration, bytes: usize) -> f64 {
    let per_s = RECORDS as f64 / took.as_secs_f64();
    let mb_s = per_s * bytes as f64 / 1e6;
    println!("{what:<40} {per_s:>10.0} records/s {mb_s:>7.1} MB/s  ({:.3} s)", took.as_secs_f64());
    per_s
}

fn notations(dir: &std::path::Path, validate: bool) -> Result<Notations, Box<dyn Error>> {
    let mut n = Notations::builtin().with_schema_directory(Some(dir.to_path_buf())).with_default_registry(Arc::new(MemoryRegistry::new()));
    let config: IndexMap<String, String> =
        [("apicurio.registry.serde.validation-enabled".to_string(), validate.to_string())].into_iter().collect();
    n.configure("jsonschema", "apicurio_jsonschema", None, config)?;
    Ok(n)
}

fn main() -> Result<(), Box<dyn Error>> {
    let dir = std::env::temp_dir().join(format!("weir-bench-schema-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("Reading.json"), SCHEMA)?;
    std::fs::write(dir.join("Reading.proto"), PROTO)?;
    let target = Target { topic: Some("readings".into()), is_key: false };

    // JSON Schema against plain JSON.
    let json = Notations::builtin().codec(&parse_user_type("json", &[])?, &Target::default())?;
    let value = json.decode(Some(RECORD.as_bytes()))?;
    let ty = parse_user_type("jsonschema:Reading", &[])?;
    let checked = notations(&dir, true)?.codec(&ty, &target)?;
    let unchecked = notations(&dir, false)?.codec(&ty, &target)?;
    let framed = checked.encode(&value)?.ok_or("no bytes")?;
    assert_eq!(&framed[5..], RECORD.replace("\\u00e9", "é").as_bytes(), "the same JSON text after the header");
    println!("record: {} bytes of JSON (+5 header), 20 fields; {RECORDS} decode+encode rounds each", RECORD.len());

    let start = Instant::now();
    for _ in 0..RECORDS {
        let v = json.decode(Some(black_box(RECORD.as_bytes())))?;
        black_box(json.encode(&v)?);
    }
    let baseline = line("json notation (baseline)", start.elapsed(), RECORD.len());
    let start = Instant::now();
    for _ in 0..RECORDS {
        let v = unchecked.decode(Some(black_box(&framed)))?;
        black_box(unchecked.encode(&v)?);
    }
    line("jsonschema, validation off", start.elapsed(), framed.len());
    let start = Instant::now();
    for _ in 0..RECORDS {
        let v = checked.decode(Some(black_box(&framed)))?;
        black_box(checked.encode(&v)?);
    }
    let schema = line("jsonschema, validating both ways", start.elapsed(), framed.len());
    println!("ratio jsonschema (validating) / json: {:.2}", schema / baseline);

    // Protobuf against DynamicMessage alone.
    let proto = notations(&dir, true)?.codec(&parse_user_type("protobuf:Reading", &[])?, &target)?;
    // The JSON record's values, converted to the fields' types (a null leaves `error` unset).
    let bytes = proto.encode(&value)?.ok_or("no bytes")?;
    let with_value = proto.decode(Some(&bytes))?;
    assert_eq!(proto.encode(&with_value)?.ok_or("no bytes")?, bytes, "the record reads back and writes the same bytes");
    let pool = protox::Compiler::new([&dir])?.open_file("Reading.proto")?.descriptor_pool();
    let desc = pool.get_message_by_name("bench.Reading").ok_or("no message")?;
    let prefix = 5 + 1 + 1 + 1 + "Reading".len();
    let payload = &bytes[prefix..];
    println!("\nrecord: {} bytes of protobuf (+{prefix} header and Ref)", payload.len());
    let start = Instant::now();
    for _ in 0..RECORDS {
        let m = DynamicMessage::decode(desc.clone(), black_box(payload))?;
        black_box(m.encode_to_vec());
    }
    let baseline = line("DynamicMessage alone (baseline)", start.elapsed(), payload.len());
    let start = Instant::now();
    for _ in 0..RECORDS {
        let v = proto.decode(Some(black_box(&bytes)))?;
        black_box(proto.encode(&v)?);
    }
    let weir = line("protobuf notation (Value)", start.elapsed(), bytes.len());
    let start = Instant::now();
    for _ in 0..RECORDS {
        black_box(proto.decode(Some(black_box(&bytes)))?);
    }
    line("  decode only", start.elapsed(), bytes.len());
    let start = Instant::now();
    for _ in 0..RECORDS {
        black_box(proto.encode(black_box(&with_value))?);
    }
    line("  encode only", start.elapsed(), bytes.len());
    println!("ratio protobuf / DynamicMessage: {:.2}", weir / baseline);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
