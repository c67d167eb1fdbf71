//! JSON notation throughput: decode + encode of a 20-field record (~400 bytes) 200k times,
//! against serde_json's own `serde_json::Value` doing the same in the same run (the ratio is
//! the cost of reading into and writing from Weir's `Value`).
//!
//! Run: `cargo run --release -p weir-engine --example notation_bench`. Prints figures only.

use std::error::Error;
use std::hint::black_box;
use std::time::{Duration, Instant};

use weir_dsl::types::parse_user_type;
use weir_engine::notation::{Notations, Target};

const RECORDS: usize = 200_000;

const RECORD: &str = r#"{"id":1234567,"sensor":"sensor-0042","type":"temperature","value":21.375,"unit":"celsius","ok":true,"timestamp":1700000000123,"location":{"site":"amsterdam-dc-2","rack":"r17","lat":52.3676,"lon":4.9041},"tags":["prod","eu-west","critical"],"battery":87,"firmware":"v2.14.3","seq":99817,"error":null,"min":-12.5,"max":48.25,"samples":[21.1,21.2,21.4,21.5],"owner":"team-ops","note":"caf\u00e9 \"quoted\"","rate":0.0125,"active":false}"#;

fn line(what: &str, took: Duration) -> f64 {
    let per_s = RECORDS as f64 / took.as_secs_f64();
    let mb_s = per_s * RECORD.len() as f64 / 1e6;
    println!("{what:<32} {per_s:>10.0} records/s {mb_s:>7.1} MB/s  ({:.3} s)", took.as_secs_f64());
    per_s
}

fn main() -> Result<(), Box<dyn Error>> {
    let bytes = RECORD.as_bytes();
    let fields = serde_json::from_slice::<serde_json::Value>(bytes)?.as_object().map_or(0, |o| o.len());
    println!("record: {} bytes, {fields} fields; {RECORDS} decode+encode rounds each", bytes.len());

    let codec = Notations::builtin().codec(&parse_user_type("json", &[])?, &Target::default())?;
    // Warm up both, and check they agree on the output.
    let ours = codec.encode(&codec.decode(Some(bytes))?)?.unwrap_or_default();
    let theirs = serde_json::to_vec(&serde_json::from_slice::<serde_json::Value>(bytes)?)?;
    assert_eq!(ours, theirs, "both write the same text");

    let start = Instant::now();
    for _ in 0..RECORDS {
        let value = serde_json::from_slice::<serde_json::Value>(black_box(bytes))?;
        black_box(serde_json::to_vec(&value)?);
    }
    let baseline = line("serde_json::Value (baseline)", start.elapsed());

    let start = Instant::now();
    for _ in 0..RECORDS {
        let value = codec.decode(Some(black_box(bytes)))?;
        black_box(codec.encode(&value)?);
    }
    let weir = line("weir json codec (Value)", start.elapsed());

    let start = Instant::now();
    for _ in 0..RECORDS {
        black_box(codec.decode(Some(black_box(bytes)))?);
    }
    line("  decode only", start.elapsed());
    let value = codec.decode(Some(bytes))?;
    let start = Instant::now();
    for _ in 0..RECORDS {
        black_box(codec.encode(black_box(&value))?);
    }
    line("  encode only", start.elapsed());

    println!("ratio weir / baseline: {:.2}", weir / baseline);
    Ok(())
}
