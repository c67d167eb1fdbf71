//! Every notation's decoder on arbitrary record bytes. The first byte picks the type; the rest
//! is the record. For the registry notations (Avro, JSON Schema, Protobuf) the schema is
//! registered first and the bytes go behind a valid header (magic byte, schema id) half of the
//! time, so the fuzzer reaches the payload decoder and not only the framing check. A decoded
//! value is encoded again with the same codec: neither direction may panic.
#![no_main]

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use weir_engine::notation::{Codec, Notations, Target};

const TYPES: &[&str] = &[
    "json",
    "string",
    "long",
    "int",
    "double",
    "boolean",
    "bytes",
    "[string]",
    "(string, long)",
    "union(null, long, string)",
    "enum(A, B)",
    "csv:Order",
    "csv:list(string)",
    "xml",
    "xml:Order",
    "avro:Order",
    "confluent_avro:Order",
    "avro",
    "jsonschema:Order",
    "protobuf:order",
    "binary",
];

struct Codecs {
    all: Vec<(Arc<dyn Codec>, bool)>,
}

fn codecs() -> &'static Codecs {
    static CODECS: OnceLock<Codecs> = OnceLock::new();
    CODECS.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("schemas");
        let notations = Notations::builtin().with_schema_directory(Some(dir));
        let target = Target { topic: Some("fuzz".into()), is_key: false };
        let all = TYPES
            .iter()
            .map(|t| {
                let ty = weir_dsl::types::parse_user_type(t, &[]).unwrap_or_else(|e| panic!("type {t}: {}", e.message));
                let codec = notations.codec(&ty, &target).unwrap_or_else(|e| panic!("codec {t}: {e}"));
                let framed = t.contains("avro:") || t.starts_with("jsonschema") || t.starts_with("protobuf");
                if framed {
                    codec.register_schema().unwrap_or_else(|e| panic!("register {t}: {e}"));
                }
                (codec, framed)
            })
            .collect();
        Codecs { all }
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else { return };
    let codecs = codecs();
    let (codec, framed) = &codecs.all[pick as usize % codecs.all.len()];
    let mut bytes = Vec::with_capacity(rest.len() + 5);
    if *framed && pick >= 128 {
        // Schema ids are given in registration order, from 1; try them all.
        bytes.push(0);
        bytes.extend_from_slice(&u32::from(pick % 8 + 1).to_be_bytes());
    }
    bytes.extend_from_slice(rest);
    if let Ok(value) = codec.decode(Some(&bytes)) {
        let _ = codec.encode(&value);
    }
});
