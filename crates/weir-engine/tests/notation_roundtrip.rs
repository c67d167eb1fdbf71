//! Property tests: what a codec writes, it reads back. Fixed-seed PRNG, so failures repeat.

mod notation_support;

use notation_support::{Rng, json_normal, same, ty};
use weir_engine::Value;
use weir_engine::notation::{Codec, Notations, Target};

const CASES: usize = 3000;

fn codec(text: &str) -> std::sync::Arc<dyn Codec> {
    Notations::builtin().codec(&ty(text), &Target::default()).unwrap_or_else(|e| panic!("codec for '{text}': {e}"))
}

fn round_trip(codec: &dyn Codec, value: &Value) -> Value {
    let bytes = codec.encode(value).unwrap_or_else(|e| panic!("encode {value:?}: {e}"));
    codec.decode(bytes.as_deref()).unwrap_or_else(|e| panic!("decode of {value:?} ({bytes:?}): {e}"))
}

#[test]
fn binary_primitives_round_trip_exactly() {
    let mut rng = Rng::new(0x5eed_0001);
    type Generator = Box<dyn Fn(&mut Rng) -> Value>;
    let generators: Vec<(&str, Generator)> = vec![
        ("boolean", Box::new(|r| Value::Bool(r.chance(2)))),
        ("byte", Box::new(|r| Value::Byte(r.next() as i8))),
        ("short", Box::new(|r| Value::Short(r.next() as i16))),
        ("int", Box::new(|r| Value::Int(r.int() as i32))),
        ("long", Box::new(|r| Value::Long(r.int()))),
        ("float", Box::new(|r| Value::Float(r.float(false)))),
        ("double", Box::new(|r| Value::Double(r.double(false)))),
        ("string", Box::new(|r| Value::String(r.string()))),
        ("bytes", Box::new(|r| Value::Bytes(r.bytes(40)))),
    ];
    for (text, generate) in &generators {
        for spelling in [text.to_string(), format!("binary:{text}"), format!("DEFAULT:{text}")] {
            let codec = codec(&spelling);
            assert_eq!(codec.encode(&Value::Null).expect("null"), None, "{spelling}");
            assert_eq!(codec.decode(None).expect("null"), Value::Null, "{spelling}");
            for _ in 0..CASES {
                let value = generate(&mut rng);
                let back = round_trip(codec.as_ref(), &value);
                assert!(same(&back, &value), "{spelling}: {value:?} came back as {back:?}");
            }
        }
    }
}

#[test]
fn binary_complex_types_round_trip_through_json() {
    let mut rng = Rng::new(0x5eed_0002);
    for _ in 0..CASES {
        let fields = rng.structure(3, |r, d| r.value(d, true));
        let list = Value::List((0..rng.below(6)).map(|_| rng.value(2, true)).collect());
        let tuple = Value::Tuple(vec![Value::String(rng.string()), Value::Int(rng.int() as i32)]);
        let cases = [
            ("struct", fields.clone()),
            ("map(long)", fields.clone()),
            ("windowed(string)", fields.clone()),
            ("[string]", list.clone()),
            ("list(struct)", list.clone()),
            ("(string, int)", tuple.clone()),
            ("union(string, [long])", rng.value(3, true)),
            ("enum(A, B)", Value::Enum(if rng.chance(2) { "A" } else { "B" }.to_string())),
        ];
        for (text, value) in cases {
            let back = round_trip(codec(text).as_ref(), &value);
            assert_eq!(back, json_normal(&value), "{text}: {value:?}");
        }
    }
}

#[test]
fn binary_any_keeps_bytes_and_writes_each_value_with_its_own_layout() {
    let mut rng = Rng::new(0x5eed_0003);
    let any = codec("any");
    for _ in 0..CASES {
        let bytes = rng.bytes(30);
        assert_eq!(any.decode(Some(&bytes)).expect("any bytes"), Value::Bytes(bytes.clone()));
        assert_eq!(any.encode(&Value::Bytes(bytes.clone())).expect("encode"), Some(bytes));

        let value = rng.value(2, true);
        let written = any.encode(&value).expect("any value");
        let own_type = match &value {
            Value::Null => continue,
            Value::List(_) | Value::Tuple(_) | Value::Struct(_) | Value::Enum(_) => "union(struct, [string], string)".to_string(),
            other => other.type_name().to_string(),
        };
        assert_eq!(written, codec(&own_type).encode(&value).expect("typed"), "{value:?} as {own_type}");
    }
    assert_eq!(codec("?").decode(Some(b"x")).expect("?"), Value::Bytes(b"x".to_vec()));
    assert_eq!(codec("binary").decode(Some(b"x")).expect("bare binary"), Value::Bytes(b"x".to_vec()));
}

#[test]
fn json_round_trips_values_as_the_mapping_table_says() {
    let mut rng = Rng::new(0x5eed_0004);
    let json = codec("json:union(struct, [string], string, long, double, boolean)");
    for _ in 0..CASES * 3 {
        let value = rng.value(5, true);
        let back = round_trip(json.as_ref(), &value);
        assert_eq!(back, json_normal(&value), "{value:?}");
        // Once decoded, the bytes are stable (a Float's text may differ from the same
        // number's text as a Double, so compare from the decoded value on).
        let once = json.encode(&back).expect("encode");
        assert_eq!(json.encode(&round_trip(json.as_ref(), &back)).expect("encode again"), once, "stable bytes for {value:?}");
    }
}

#[test]
fn json_round_trips_its_own_values_exactly() {
    let mut rng = Rng::new(0x5eed_0005);
    let json = codec("json");
    for _ in 0..CASES * 3 {
        let value = match rng.json_value(6) {
            v @ (Value::Struct(_) | Value::List(_)) => v,
            leaf => Value::List(vec![leaf]),
        };
        let back = round_trip(json.as_ref(), &value);
        assert!(same(&back, &value), "{value:?} came back as {back:?}");
    }
}
