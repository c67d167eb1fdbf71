//! Hostile bytes: every codec, fed random and mutated bytes, returns a value or an error and
//! never panics; what it does decode, it can encode again.

mod notation_support;

use notation_support::{Rng, ty};
use weir_engine::notation::{Codec, Notations, Target};

const TYPES: &[&str] = &[
    "boolean",
    "byte",
    "short",
    "int",
    "long",
    "float",
    "double",
    "string",
    "bytes",
    "null",
    "any",
    "binary",
    "struct",
    "map(long)",
    "[string]",
    "(string, int)",
    "union(string, int)",
    "enum(A, B)",
    "windowed(string)",
    "json",
    "json:[string]",
    "json:struct",
    "json:union(struct, string)",
];

const SEEDS: &[&[u8]] = &[
    br#"{"a": [1, 2.5e-3, "x\u00e9\ud83d\ude00", true, null, {"b": -0}], "c": "\n"}"#,
    br#"[18446744073709551616, -9223372036854775809, 1e400, "\\\""]"#,
    b"\"A\"",
    b"42",
    b"\x00\x00\x00\x01",
];

fn check(codec: &dyn Codec, text: &str, bytes: &[u8]) {
    if let Ok(value) = codec.decode(Some(bytes)) {
        // A decoded value is writable again, except a JSON number too large for a double
        // ("1e400" reads as infinity), which JSON cannot write.
        if let Err(e) = codec.encode(&value) {
            assert!(e.to_string().contains("infinity"), "{text}: decoded {value:?} from {bytes:?} but cannot encode it: {e}");
        }
    }
}

#[test]
fn random_and_mutated_bytes_never_panic() {
    let notations = Notations::builtin();
    let codecs: Vec<(&str, std::sync::Arc<dyn Codec>)> =
        TYPES.iter().map(|t| (*t, notations.codec(&ty(t), &Target::default()).unwrap_or_else(|e| panic!("{t}: {e}")))).collect();
    let mut rng = Rng::new(0x5eed_0200);
    for round in 0..20_000 {
        let bytes = if round % 2 == 0 {
            let max = if rng.chance(4) { 64 } else { 9 };
            rng.bytes(max)
        } else {
            let mut b = SEEDS[rng.below(SEEDS.len())].to_vec();
            for _ in 0..=rng.below(4) {
                let at = rng.below(b.len() + 1);
                match rng.below(4) {
                    0 if at < b.len() => b[at] = rng.next() as u8,
                    1 if at < b.len() => {
                        b.remove(at);
                    }
                    2 => b.insert(at, b"{}[]\",:\\0-.eE"[rng.below(13)]),
                    _ => b.truncate(at),
                }
            }
            b
        };
        for (text, codec) in &codecs {
            check(codec.as_ref(), text, &bytes);
        }
    }
}
