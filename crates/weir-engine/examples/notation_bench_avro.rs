//! Avro notation throughput: decode + encode of the 20-field record the other notation
//! benchmarks use, 100k times, with the reference implementation measured in the same run:
//! apache-avro reading and writing the same Avro binary into its own `Value` (the ratio is
//! Weir's codec, framing and registry cache included, against the reference library's datum
//! path).
//!
//! Run: `cargo run --release -p weir-engine --example notation_bench_avro`. Prints figures only.

use std::error::Error;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use weir_dsl::types::parse_user_type;
use weir_engine::notation::{Notations, Target};
use weir_engine::registry::MemoryRegistry;

const RECORDS: usize = 100_000;

const RECORD: &str = r#"{"id":1234567,"sensor":"sensor-0042","type":"temperature","value":21.375,"unit":"celsius","ok":true,"timestamp":1700000000123,"location":{"site":"amsterdam-dc-2","rack":"r17","lat":52.3676,"lon":4.9041},"tags":["prod","eu-west","critical"],"battery":87,"firmware":"v2.14.3","seq":99817,"error":null,"min":-12.5,"max":48.25,"samples":[21.1,21.2,21.4,21.5],"owner":"team-ops","note":"caf\u00e9 \"quoted\"","rate":0.0125,"active":false}"#;

const SCHEMA: &str = r#"{"type": "record", "name": "Reading", "namespace": "bench", "fields": [
  {"name": "id", "type": "long"}, {"name": "sensor", "type": "string"},
  {"name": "type", "type": {"type": "enum", "name": "Kind", "symbols": ["temperature", "humidity"]}},
  {"name": "value", "type": "double"}, {"name": "unit", "type": "string"}, {"name": "ok", "type": "boolean"},
  {"name": "timestamp", "type": {"type": "long", "logicalType": "timestamp-millis"}},
  {"name": "location", "type": {"type": "record", "name": "Location", "fields": [
    {"name": "site", "type": "string"}, {"name": "rack", "type": "string"}, {"name": "lat", "type": "double"}, {"name": "lon", "type": "double"}]}},
  {"name": "tags", "type": {"type": "array", "items": "string"}}, {"name": "battery", "type": "int"},
  {"name": "firmware", "type": "string"}, {"name": "seq", "type": "long"}, {"name": "error", "type": ["null", "string"], "default": null},
  {"name": "min", "type": "double"}, {"name": "max", "type": "double"}, {"name": "samples", "type": {"type": "array", "items": "double"}},
  {"name": "owner", "type": "string"}, {"name": "note", "type": "string"}, {"name": "rate", "type": "double"}, {"name": "active", "type": "boolean"}
]}"#;

fn line(what: &str, took: Duration, bytes: usize) -> f64 {
    let per_s = RECORDS as f64 / took.as_secs_f64();
    let mb_s = per_s * bytes as f64 / 1e6;
    println!("{what:<40} {per_s:>10.0} records/s {mb_s:>7.1} MB/s  ({:.3} s)", took.as_secs_f64());
    per_s
}

fn main() -> Result<(), Box<dyn Error>> {
    let dir = std::env::temp_dir().join(format!("weir-bench-avro-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("Reading.avsc"), SCHEMA)?;
    let target = Target { topic: Some("readings".into()), is_key: false };
    let notations = Notations::builtin().with_schema_directory(Some(dir.clone())).with_default_registry(Arc::new(MemoryRegistry::new()));

    let json = notations.codec(&parse_user_type("json", &[])?, &Target::default())?;
    let value = json.decode(Some(RECORD.as_bytes()))?;
    let avro = notations.codec(&parse_user_type("avro:Reading", &[])?, &target)?;
    let framed = avro.encode(&value)?.ok_or("no bytes")?;
    let with_value = avro.decode(Some(&framed))?;
    assert_eq!(avro.encode(&with_value)?.ok_or("no bytes")?, framed, "the record reads back and writes the same bytes");
    let payload = &framed[5..];
    println!("record: {} bytes of Avro (+5 header), 20 fields; {RECORDS} decode+encode rounds each", payload.len());

    let schema = apache_avro::Schema::parse_str(SCHEMA)?;
    let start = Instant::now();
    for _ in 0..RECORDS {
        let v = apache_avro::from_avro_datum(&schema, &mut black_box(payload), None)?;
        black_box(apache_avro::to_avro_datum(&schema, v)?);
    }
    let baseline = line("apache-avro datum (baseline)", start.elapsed(), payload.len());
    let start = Instant::now();
    for _ in 0..RECORDS {
        let v = avro.decode(Some(black_box(&framed)))?;
        black_box(avro.encode(&v)?);
    }
    let weir = line("avro notation (Value, framed)", start.elapsed(), framed.len());
    let start = Instant::now();
    for _ in 0..RECORDS {
        black_box(avro.decode(Some(black_box(&framed)))?);
    }
    line("  decode only", start.elapsed(), framed.len());
    let start = Instant::now();
    for _ in 0..RECORDS {
        black_box(avro.encode(black_box(&with_value))?);
    }
    line("  encode only", start.elapsed(), framed.len());
    println!("ratio avro notation / apache-avro: {:.2}", weir / baseline);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
