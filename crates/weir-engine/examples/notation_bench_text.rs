//! CSV and XML notation throughput: decode + encode of a 20-field record 200k times each,
//! for `csv:<Schema>` (20 columns), `xml` without a schema, and `xml:<Schema>` with an XSD
//! typing the fields (strings, longs, doubles, booleans).
//!
//! Run: `cargo run --release -p weir-engine --example notation_bench_text [rounds]`. Prints
//! figures only.

use std::error::Error;
use std::hint::black_box;
use std::time::{Duration, Instant};

use weir_dsl::types::parse_user_type;
use weir_engine::notation::csv::CsvCodec;
use weir_engine::notation::xml::XmlCodec;
use weir_engine::notation::{Codec, Notations, Target};

/// Rounds per measurement, unless given on the command line.
const RECORDS: usize = 200_000;

/// The 20 fields: name, XSD type, value.
const FIELDS: &[(&str, &str, &str)] = &[
    ("id", "long", "1234567"),
    ("sensor", "string", "sensor-0042"),
    ("type", "string", "temperature"),
    ("value", "double", "21.375"),
    ("unit", "string", "celsius"),
    ("ok", "boolean", "true"),
    ("timestamp", "long", "1700000000123"),
    ("site", "string", "amsterdam-dc-2"),
    ("rack", "string", "r17"),
    ("lat", "double", "52.3676"),
    ("lon", "double", "4.9041"),
    ("battery", "int", "87"),
    ("firmware", "string", "v2.14.3"),
    ("seq", "long", "99817"),
    ("min", "double", "-12.5"),
    ("max", "double", "48.25"),
    ("owner", "string", "team-ops"),
    ("note", "string", "café \"quoted\", & <escaped>"),
    ("rate", "double", "0.0125"),
    ("active", "boolean", "false"),
];

fn line(what: &str, rounds: usize, bytes: usize, took: Duration) {
    let per_s = rounds as f64 / took.as_secs_f64();
    let mb_s = per_s * bytes as f64 / 1e6;
    println!("{what:<34} {per_s:>10.0} records/s {mb_s:>7.1} MB/s  ({:.3} s)", took.as_secs_f64());
}

fn bench(what: &str, rounds: usize, codec: &dyn Codec, bytes: &[u8]) -> Result<(), Box<dyn Error>> {
    // Warm up, and check that what is written reads back the same.
    let value = codec.decode(Some(bytes))?;
    let written = codec.encode(&value)?.unwrap_or_default();
    assert_eq!(codec.decode(Some(&written))?, value, "{what}: round trip");
    println!("{what}: {} bytes in, {} bytes out", bytes.len(), written.len());

    let start = Instant::now();
    for _ in 0..rounds {
        let value = codec.decode(Some(black_box(bytes)))?;
        black_box(codec.encode(&value)?);
    }
    line("  decode + encode", rounds, bytes.len(), start.elapsed());
    let start = Instant::now();
    for _ in 0..rounds {
        black_box(codec.decode(Some(black_box(bytes)))?);
    }
    line("  decode only", rounds, bytes.len(), start.elapsed());
    let start = Instant::now();
    for _ in 0..rounds {
        black_box(codec.encode(black_box(&value))?);
    }
    line("  encode only", rounds, written.len(), start.elapsed());
    Ok(())
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

fn main() -> Result<(), Box<dyn Error>> {
    let rounds = match std::env::args().nth(1) {
        Some(n) => n.parse()?,
        None => RECORDS,
    };
    println!("{} fields; {rounds} rounds each", FIELDS.len());

    let csv = CsvCodec::with_columns("csv:Reading", FIELDS.iter().map(|(n, _, _)| n.to_string()).collect());
    let line_text: Vec<String> = FIELDS.iter().map(|(_, _, v)| format!("\"{}\"", v.replace('"', "\"\""))).collect();
    bench("csv:Reading", rounds, &csv, line_text.join(",").as_bytes())?;

    let body: String = FIELDS.iter().map(|(n, _, v)| format!("<{n}>{}</{n}>", escape(v))).collect();
    let document = format!("<?xml version='1.1' encoding='UTF-8'?><Reading>{body}</Reading>");
    let elements: String = FIELDS.iter().map(|(n, t, _)| format!(r#"<xs:element name="{n}" type="xs:{t}"/>"#)).collect();
    let xsd = format!(
        r#"<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"><xs:element name="Reading"><xs:complexType><xs:sequence>{elements}</xs:sequence></xs:complexType></xs:element></xs:schema>"#
    );
    let typed = XmlCodec::with_schema("xml:Reading", "Reading", &xsd)?;
    let plain = Notations::builtin().codec(&parse_user_type("xml", &[])?, &Target::default())?;
    bench("xml (no schema)", rounds, &*plain, document.as_bytes())?;
    bench("xml:Reading (XSD-typed)", rounds, &typed, document.as_bytes())?;
    Ok(())
}
