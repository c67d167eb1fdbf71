//! Exact bytes (Kafka's standard serializers, JSON), the registry and the error messages.

mod notation_support;

use indexmap::IndexMap;
use notation_support::ty;
use weir_engine::Value;
use weir_engine::notation::{Codec, CodecError, Direction, Notations, Target, TextPosition};

fn codec(text: &str) -> std::sync::Arc<dyn Codec> {
    Notations::builtin().codec(&ty(text), &Target::default()).unwrap_or_else(|e| panic!("codec for '{text}': {e}"))
}

fn hex(text: &str) -> Vec<u8> {
    text.split_whitespace().map(|b| u8::from_str_radix(b, 16).expect("hex")).collect()
}

fn encoded(text: &str, value: Value) -> Vec<u8> {
    codec(text).encode(&value).expect("encode").expect("not null")
}

fn decode_err(text: &str, bytes: &[u8]) -> CodecError {
    codec(text).decode(Some(bytes)).expect_err("should not decode")
}

fn encode_err(text: &str, value: Value) -> CodecError {
    codec(text).encode(&value).expect_err("should not encode")
}

#[test]
fn binary_primitives_have_kafkas_byte_layouts() {
    let cases = [
        ("int", Value::Int(1), "00 00 00 01"),
        ("int", Value::Int(-2), "ff ff ff fe"),
        ("int", Value::Int(0x0102_0304), "01 02 03 04"),
        ("long", Value::Long(-1), "ff ff ff ff ff ff ff ff"),
        ("long", Value::Long(1_700_000_000_000), "00 00 01 8b cf e5 68 00"),
        ("short", Value::Short(258), "01 02"),
        ("short", Value::Short(-1), "ff ff"),
        ("byte", Value::Byte(-128), "80"),
        ("double", Value::Double(1.0), "3f f0 00 00 00 00 00 00"),
        ("double", Value::Double(-2.5), "c0 04 00 00 00 00 00 00"),
        ("float", Value::Float(1.0), "3f 80 00 00"),
        ("float", Value::Float(-0.0), "80 00 00 00"),
        ("boolean", Value::Bool(true), "01"),
        ("boolean", Value::Bool(false), "00"),
        ("string", Value::String("hé".into()), "68 c3 a9"),
        ("string", Value::String(String::new()), ""),
        ("bytes", Value::Bytes(vec![0, 255, 7]), "00 ff 07"),
    ];
    for (text, value, bytes) in cases {
        assert_eq!(encoded(text, value.clone()), hex(bytes), "{text} {value:?}");
        assert_eq!(codec(text).decode(Some(&hex(bytes))).expect("decode"), value, "{text} {bytes}");
    }
    // Null is Kafka's null for every type, and the null type is nothing but that.
    for text in ["int", "string", "bytes", "null", "struct", "json", "any"] {
        assert_eq!(codec(text).encode(&Value::Null).expect("null"), None, "{text}");
        assert_eq!(codec(text).decode(None).expect("null"), Value::Null, "{text}");
    }
}

#[test]
fn binary_complex_types_are_json_text() {
    let s = Value::Struct(IndexMap::from([("b".to_string(), Value::Int(1)), ("a".to_string(), Value::Bytes(b"hi".to_vec()))]));
    assert_eq!(encoded("struct", s), br#"{"b":1,"a":"aGk="}"#);
    assert_eq!(encoded("(string, int)", Value::Tuple(vec![Value::String("k".into()), Value::Int(2)])), br#"["k",2]"#);
    assert_eq!(encoded("enum(A, B)", Value::Enum("A".into())), br#""A""#);
    assert_eq!(encoded("union(string, int)", Value::String("x".into())), br#""x""#);
    assert_eq!(encoded("union(string, int)", Value::Int(7)), b"7");
    assert_eq!(
        codec("[long]").decode(Some(b" [1, 2.5, -3] ")).expect("list"),
        Value::List(vec![Value::Long(1), Value::Double(2.5), Value::Long(-3)])
    );
}

#[test]
fn json_decodes_to_natural_values_and_keeps_key_order() {
    let doc = br#"{"z": 1, "a": [true, null, "s"], "big": 18446744073709551615, "neg": -9223372036854775808, "x": 1e2, "z": 2}"#;
    let value = codec("json").decode(Some(doc)).expect("json");
    let Value::Struct(fields) = value else { panic!("struct") };
    let keys: Vec<&str> = fields.keys().map(String::as_str).collect();
    assert_eq!(keys, ["z", "a", "big", "neg", "x"]);
    assert_eq!(fields["z"], Value::Long(2), "a repeated key keeps its last value");
    assert_eq!(fields["a"], Value::List(vec![Value::Bool(true), Value::Null, Value::String("s".into())]));
    assert_eq!(fields["big"], Value::Double(18446744073709551615.0));
    assert_eq!(fields["neg"], Value::Long(i64::MIN));
    assert_eq!(fields["x"], Value::Double(100.0));
    assert_eq!(codec("json").decode(Some(b"null")).expect("null document"), Value::Null);
}

#[test]
fn json_writes_compact_text() {
    let v = Value::Struct(IndexMap::from([
        ("s".to_string(), Value::String("a\"b\\\n\u{1}é😀".into())),
        ("f".to_string(), Value::Float(0.1)),
        ("d".to_string(), Value::Double(0.1)),
        ("i".to_string(), Value::Double(3.0)),
        ("t".to_string(), Value::Tuple(vec![Value::Byte(-1), Value::Enum("E".into())])),
        ("n".to_string(), Value::Null),
    ]));
    assert_eq!(
        String::from_utf8(encoded("json", v)).expect("utf-8"),
        "{\"s\":\"a\\\"b\\\\\\n\\u0001é😀\",\"f\":0.1,\"d\":0.1,\"i\":3.0,\"t\":[-1,\"E\"],\"n\":null}"
    );
}

#[test]
fn registry_picks_by_notation_case_insensitively() {
    let notations = Notations::builtin();
    for text in ["string", "binary:string", "Default:string", "JSON", "json:[string]", "json:map(long)", "BINARY"] {
        assert!(notations.codec(&ty(text), &Target::default()).is_ok(), "{text}");
    }
    for (text, message) in [
        ("json:string", "notation 'json' does not allow data type 'json:string'"),
        ("JSON:int", "notation 'json' does not allow data type 'json:int'"),
    ] {
        assert_eq!(notations.codec(&ty(text), &Target::default()).expect_err(text), message, "{text}");
    }
    let mine = weir_dsl::types::parse_user_type("myjson:[string]", &["myjson".to_string()]).expect("type");
    let e = notations.codec(&mine, &Target::default()).expect_err("unknown");
    assert_eq!(
        e,
        "unknown notation 'myjson'; known notations: binary, default, json, avro, csv, xml, jsonschema, protobuf, \
         confluent_avro, apicurio_avro, apicurio_jsonschema, apicurio_protobuf"
    );
    let mut configured = Notations::builtin();
    configured.alias("MyJson", "json").expect("alias");
    let c = configured.codec(&mine, &Target::default()).expect("aliased");
    assert_eq!(c.encode(&Value::List(vec![Value::String("a".into())])).expect("encode"), Some(br#"["a"]"#.to_vec()));
    let e = configured.alias("x", "nope").expect_err("bad alias");
    assert!(e.starts_with("unknown notation 'nope'; known notations: binary, default, json,") && e.ends_with(", myjson"), "{e}");
}

#[test]
fn binary_size_errors_name_the_type_and_the_bytes() {
    let e = decode_err("int", &[0, 0, 1]);
    assert_eq!(e.to_string(), "binary notation: cannot decode int: expected 4 bytes, found 3 (00 00 01)");
    assert_eq!((e.notation, e.direction, e.expected.as_str(), e.position), ("binary", Direction::Decode, "int", None));
    assert_eq!(decode_err("long", &[]).to_string(), "binary notation: cannot decode long: expected 8 bytes, found 0 ()");
    assert_eq!(decode_err("byte", &[1, 2]).to_string(), "binary notation: cannot decode byte: expected 1 byte, found 2 (01 02)");
    assert_eq!(decode_err("boolean", &[2]).to_string(), "binary notation: cannot decode boolean: expected byte 00 or 01, found 02");
    assert_eq!(
        decode_err("double", &[0; 20]).to_string(),
        "binary notation: cannot decode double: expected 8 bytes, found 20 (00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 …)"
    );
    assert_eq!(decode_err("null", b"x").to_string(), "binary notation: cannot decode null: expected no bytes (Kafka's null), found 1 (78)");
}

#[test]
fn binary_string_decoding_replaces_invalid_utf8_as_kafka_does() {
    assert_eq!(codec("string").decode(Some(b"a\xffb")).expect("lossy"), Value::String("a\u{fffd}b".into()));
}

#[test]
fn encode_errors_name_the_expected_type_and_the_value() {
    assert_eq!(encode_err("int", Value::Long(5)).to_string(), "binary notation: cannot encode int: found long 5");
    assert_eq!(encode_err("string", Value::Enum("A".into())).to_string(), "binary notation: cannot encode string: found enum \"A\"");
    assert_eq!(encode_err("[string]", Value::Int(1)).to_string(), "binary notation: cannot encode list(string): found int 1");
    assert_eq!(encode_err("json", Value::String("x".into())).to_string(), "json notation: cannot encode json: found string \"x\"");
    let nan = Value::Struct(IndexMap::from([("a".to_string(), Value::List(vec![Value::Int(1), Value::Double(f64::NAN)]))]));
    let e = encode_err("json", nan);
    assert_eq!(e.to_string(), "json notation: cannot encode json: found double NaN at $.a[1] (JSON has no NaN or infinity)");
    assert_eq!(e.direction, Direction::Encode);
    let inf = Value::List(vec![Value::Float(f32::NEG_INFINITY)]);
    assert_eq!(
        encode_err("struct", Value::Struct(IndexMap::from([("x".to_string(), inf)]))).to_string(),
        "binary notation: cannot encode struct: found float -inf at $.x[0] (JSON has no NaN or infinity)"
    );
}

#[test]
fn json_errors_say_where() {
    let e = decode_err("json", b"{\"a\": 1,\n \"b\" 2}");
    assert_eq!(e.to_string(), "json notation: cannot decode json: invalid JSON at byte 14 (line 2, column 6): expected ':'");
    assert_eq!(e.position, Some(TextPosition { offset: 14, line: 2, column: 6 }));
    assert_eq!(
        decode_err("json", b"").to_string(),
        "json notation: cannot decode json: invalid JSON at byte 0 (line 1, column 1): EOF while parsing a value"
    );
    assert_eq!(
        decode_err("json", b"[1] x").to_string(),
        "json notation: cannot decode json: invalid JSON at byte 4 (line 1, column 5): trailing characters"
    );
    let e = decode_err("json", b"[\"a\xff\"]");
    assert!(
        e.to_string().starts_with("json notation: cannot decode json: invalid JSON at byte 3 (line 1, column 4): invalid unicode"),
        "{e}"
    );
    // The top level must fit the type.
    assert_eq!(decode_err("json", b"42").to_string(), "json notation: cannot decode json: found a JSON number");
    assert_eq!(decode_err("json:[string]", b"{}").to_string(), "json notation: cannot decode json:list(string): found a JSON object");
    assert_eq!(decode_err("struct", b"[1]").to_string(), "binary notation: cannot decode struct: found a JSON array");
    assert_eq!(decode_err("enum(A, B)", b"1").to_string(), "binary notation: cannot decode enum(A, B): found a JSON number");
    let e = decode_err("map(string)", b"{\"a\":}");
    assert_eq!(e.to_string(), "binary notation: cannot decode map(string): invalid JSON at byte 5 (line 1, column 6): expected value");
}

#[test]
fn nesting_is_limited_both_ways_without_overflowing_the_stack() {
    let deep = "[".repeat(100_000);
    let e = decode_err("json", deep.as_bytes());
    assert!(e.to_string().contains("recursion limit exceeded"), "{e}");
    // The writer writes exactly what the reader reads: 127 levels.
    let json = codec("json");
    let mut v = Value::Long(1);
    for _ in 0..127 {
        v = Value::List(vec![v]);
    }
    let bytes = json.encode(&v).expect("127 levels").expect("bytes");
    assert_eq!(json.decode(Some(&bytes)).expect("127 levels back"), v);
    let deeper = format!("[{}]", String::from_utf8(bytes).expect("utf-8"));
    assert!(json.decode(Some(deeper.as_bytes())).is_err());
    let e = json.encode(&Value::List(vec![v])).expect_err("128 levels");
    assert_eq!(e.to_string(), "json notation: cannot encode json: found nesting deeper than 127 levels");
}
