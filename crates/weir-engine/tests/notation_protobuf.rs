//! The `protobuf` notation: each framing byte for byte, how records name their message,
//! round trips of every field kind, KSML's conversions and presence rules, errors that name
//! the field, its type and the value, hostile bytes, and interop with Google's `protobuf`
//! package and Confluent's Python serializers (`confluent-kafka`).

mod notation_support;

use std::path::{Path, PathBuf};

use std::sync::Arc;

use indexmap::IndexMap;
use notation_support::{Rng, hex, record, s, same, target, ty, unhex};
use weir_engine::Value;
use weir_engine::notation::json::base64;
use weir_engine::notation::{Codec, Notations};
use weir_engine::registry::{MemoryRegistry, RegistrySchema, SchemaKind, SchemaRegistry};

/// KSML's example (examples/sensor_data.proto).
const SENSOR: &str = r#"syntax = "proto3";

package io.axual.ksml.example;

message sensor_data {
  string name = 1;
  int64 timestamp = 2;
  string value = 3;
  SensorType type = 4;
  string unit = 5;
  optional string color = 6;
  optional string city = 7;
  optional string owner = 8;

  enum SensorType {
    UNSPECIFIED = 0;
    AREA = 1;
    HUMIDITY = 2;
    LENGTH = 3;
    STATE = 4;
    TEMPERATURE = 5;
  }
}
"#;

const EVERYTHING: &str = r#"syntax = "proto3";
package weir.test;
import "google/protobuf/timestamp.proto";

message Everything {
  int32 i32 = 1;
  int64 i64 = 2;
  uint32 u32 = 3;
  uint64 u64 = 4;
  sint32 s32 = 5;
  sint64 s64 = 6;
  fixed32 fx32 = 7;
  fixed64 fx64 = 8;
  sfixed32 sf32 = 9;
  sfixed64 sf64 = 10;
  float fl = 11;
  double db = 12;
  bool b = 13;
  string s = 14;
  bytes by = 15;
  Color color = 16;
  Inner inner = 17;
  repeated string tags = 18;
  repeated Inner inners = 19;
  map<string, int64> counts = 20;
  map<int32, Inner> by_id = 21;
  oneof contact {
    string email = 22;
    int64 phone = 23;
    Inner address = 24;
  }
  optional string note = 25;
  google.protobuf.Timestamp at = 26;
  repeated double samples = 27;

  message Inner {
    string name = 1;
    repeated Leaf leaves = 2;
    message Leaf { int32 v = 1; }
  }
}

enum Color { RED = 0; GREEN = 1; BLUE = 2; }

message Second { string x = 1; }
"#;

const LEGACY: &str = r#"syntax = "proto2";
message Legacy {
  required string id = 1;
  optional int32 n = 2 [default = 7];
  optional Kind kind = 3;
  enum Kind { A = 1; B = 2; }
}
"#;

const NODE: &str = r#"syntax = "proto3";
message Node { Node child = 1; int32 v = 2; }
"#;

struct Setup {
    dir: PathBuf,
    registry: Arc<MemoryRegistry>,
}

impl Setup {
    fn new(tag: &str) -> Setup {
        let dir = std::env::temp_dir().join(format!("weir-protobuf-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        for (name, text) in [("sensor_data", SENSOR), ("Everything", EVERYTHING), ("Legacy", LEGACY), ("Node", NODE)] {
            std::fs::write(dir.join(format!("{name}.proto")), text).expect("write schema");
        }
        // `protobuf:Second`, `protobuf:weir.test.Everything.Inner` (found as Inner.proto, by
        // KSML's namespace stripping) and `….Inner.Leaf` name messages of everything.proto.
        for name in ["Second", "Inner", "Leaf"] {
            std::fs::write(dir.join(format!("{name}.proto")), EVERYTHING).expect("write schema");
        }
        Setup { dir, registry: Arc::new(MemoryRegistry::new()) }
    }

    fn notations(&self, config: &[(&str, &str)]) -> Notations {
        let mut n = Notations::builtin().with_schema_directory(Some(self.dir.clone())).with_default_registry(self.registry.clone());
        let config: IndexMap<String, String> = config.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        n.configure("protobuf", "apicurio_protobuf", None, config).expect("configure");
        n
    }

    fn codec(&self, text: &str, config: &[(&str, &str)]) -> Result<Arc<dyn Codec>, String> {
        self.notations(config).codec(&ty(text), &target("t"))
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn framed(id: u32, rest: &[u8]) -> Vec<u8> {
    let mut b = vec![0];
    b.extend_from_slice(&id.to_be_bytes());
    b.extend_from_slice(rest);
    b
}

const CONFLUENT: &[(&str, &str)] = &[("weir.framing", "confluent")];
const INDEXES: &[(&str, &str)] = &[("apicurio.registry.serde.send-type-ref", "false"), ("apicurio.registry.serde.send-indexes", "true")];

#[test]
fn sensor_data_is_written_in_apicurios_framing_by_default() {
    let setup = Setup::new("apicurio");
    let codec = setup.codec("protobuf:sensor_data", &[]).expect("codec");
    let value = record(&[("name", s("a")), ("type", Value::Enum("STATE".into()))]);
    let bytes = codec.encode(&value).expect("encode").expect("bytes");
    let mut wanted = vec![0, 0, 0, 0, 1, 0x0d, 0x0a, 0x0b];
    wanted.extend_from_slice(b"sensor_data");
    wanted.extend_from_slice(&[0x0a, 0x01, b'a', 0x20, 0x04]);
    assert_eq!(bytes, wanted);
    assert_eq!(codec.decode(Some(&bytes)).expect("decode"), value);
    // The .proto text is registered as it is, kind PROTOBUF, under <topic>-value.
    assert_eq!(setup.registry.latest("t-value").expect("registered"), (1, RegistrySchema::new(SchemaKind::Protobuf, SENSOR)));
    // KSML's producer example hands a string timestamp to the int64 field: it is parsed.
    let example = record(&[("name", s("sensor1")), ("timestamp", s("1700000000000")), ("type", s("AREA")), ("color", s("red"))]);
    let back = codec.decode(Some(&codec.encode(&example).expect("encode").expect("bytes"))).expect("decode");
    assert_eq!(
        back,
        record(&[
            ("name", s("sensor1")),
            ("timestamp", Value::Long(1_700_000_000_000)),
            ("type", Value::Enum("AREA".into())),
            ("color", s("red"))
        ])
    );
}

#[test]
fn every_framing_is_exact() {
    let setup = Setup::new("framings");
    let second = record(&[("x", s("q"))]);
    let payload = [0x0a, 0x01, b'q'];
    type Config<'a> = &'a [(&'a str, &'a str)];
    let cases: Vec<(&str, Config, Vec<u8>)> = vec![
        ("protobuf:Second", &[], [&[0x08, 0x0a, 0x06][..], b"Second"].concat()),
        ("protobuf:Second", INDEXES, vec![0x02, 0x02]),
        ("protobuf:Second", &[("apicurio.registry.serde.send-type-ref", "false")], vec![]),
        ("protobuf:Second", CONFLUENT, vec![0x02, 0x02]),
        ("protobuf:Everything", CONFLUENT, vec![0x00]),
        ("protobuf:Everything", INDEXES, vec![0x02, 0x00]),
        // A nested message: indexes [0, 0] (Confluent writes no shortcut for them).
        ("protobuf:weir.test.Everything.Inner", CONFLUENT, vec![0x04, 0x00, 0x00]),
        ("protobuf:weir.test.Everything.Inner.Leaf", CONFLUENT, vec![0x06, 0x00, 0x00, 0x00]),
    ];
    for (text, config, prefix) in cases {
        let codec = setup.codec(text, config).unwrap_or_else(|e| panic!("{text}: {e}"));
        let value = if text.ends_with("Second") { second.clone() } else { record(&[]) };
        let bytes = codec.encode(&value).expect("encode").expect("bytes");
        let id = setup.registry.latest("t-value").expect("registered").0;
        let body = if text.ends_with("Second") { &payload[..] } else { &[] };
        assert_eq!(bytes, framed(id, &[&prefix[..], body].concat()), "{text} {config:?}");
        assert_eq!(codec.decode(Some(&bytes)).expect("decode"), value, "{text} {config:?}");
    }
    // Apicurio's legacy 8-byte global ids.
    let wide = setup
        .codec("protobuf:Second", &[("apicurio.registry.id-handler", "io.apicurio.registry.serde.Legacy8ByteIdHandler")])
        .expect("codec");
    let bytes = wide.encode(&second).expect("encode").expect("bytes");
    assert_eq!(&bytes[..9], &[0, 0, 0, 0, 0, 0, 0, 0, setup.registry.latest("t-value").expect("id").0 as u8]);
    // Record name strategy: the message's full name.
    let by_name = setup.codec("protobuf:Second", &[("value.subject.name.strategy", "RecordNameStrategy")]).expect("codec");
    by_name.encode(&second).expect("encode");
    assert!(setup.registry.latest("weir.test.Second").is_ok());
}

#[test]
fn records_name_their_message_by_ref_indexes_or_the_codecs_name() {
    let setup = Setup::new("which");
    let everything = setup.codec("protobuf:Everything", &[]).expect("codec");
    let id = setup.registry.register("t-value", &RegistrySchema::new(SchemaKind::Protobuf, EVERYTHING)).expect("register");
    let x = [0x0a, 0x01, b'q'];
    // A Ref naming `Second`: read as Second, whatever the codec writes.
    let by_ref = framed(id, &[&[0x08, 0x0a, 0x06][..], b"Second", &x].concat());
    assert_eq!(everything.decode(Some(&by_ref)).expect("decode"), record(&[("x", s("q"))]));
    // An empty Ref (also Confluent's `00` for the first message): the codec's own message.
    let empty = framed(id, &[&[0x00, 0x72, 0x01][..], b"z"].concat());
    assert_eq!(everything.decode(Some(&empty)).expect("decode"), record(&[("s", s("z"))]));
    // A Ref naming what the writer's schema lacks.
    let e = everything.decode(Some(&framed(id, &[&[0x05, 0x0a, 0x03][..], b"Zed"].concat()))).expect_err("unknown");
    assert!(e.found.contains(&format!("names message type 'Zed', which the writer's schema (id {id}) does not have")), "{e}");
    // Indexes, when the reader is told to read them.
    let reader = setup.codec(
        "protobuf:Everything",
        &[("apicurio.registry.serde.read-indexes", "true"), ("apicurio.registry.serde.read-type-ref", "false")],
    );
    let reader = reader.expect("codec");
    assert_eq!(reader.decode(Some(&framed(id, &[&[0x02, 0x02][..], &x].concat()))).expect("decode"), record(&[("x", s("q"))]));
    let leaf = framed(id, &[0x06, 0x00, 0x00, 0x00, 0x08, 0x2a]);
    assert_eq!(reader.decode(Some(&leaf)).expect("decode"), record(&[("v", Value::Int(42))]));
    let e = reader.decode(Some(&framed(id, &[0x02, 0x0a]))).expect_err("no such message");
    assert!(e.found.contains("has no message at indexes [5]"), "{e}");
    let confluent = setup.codec("protobuf:Everything", CONFLUENT).expect("codec");
    assert_eq!(confluent.decode(Some(&framed(id, &[0x00, 0x72, 0x01, b'z']))).expect("decode"), record(&[("s", s("z"))]));
    // Neither: the codec's message.
    let bare = setup.codec("protobuf:Everything", &[("apicurio.registry.serde.read-type-ref", "false")]).expect("codec");
    assert_eq!(bare.decode(Some(&framed(id, &[0x72, 0x01, b'z']))).expect("decode"), record(&[("s", s("z"))]));
}

/// A random `Everything` as it decodes: fields in declaration order, implicit-presence fields
/// only when not at their default, the oneof last.
fn everything(rng: &mut Rng, depth: usize) -> Value {
    let mut f = IndexMap::new();
    let mut put = |name: &str, v: Value| {
        f.insert(name.to_string(), v);
    };
    let nonzero = |n: i64| n != 0;
    if rng.chance(2) {
        let n = rng.int() as i32;
        if nonzero(n.into()) {
            put("i32", Value::Int(n));
        }
    }
    for name in ["i64", "u64", "s64", "fx64", "sf64"] {
        let n = rng.int();
        if rng.chance(2) && n != 0 {
            put(name, Value::Long(n));
        }
        if name == "i64" {
            let u = rng.next() as u32;
            if rng.chance(2) && u != 0 {
                put("u32", Value::Long(u.into()));
            }
        }
        if name == "u64" {
            let n = rng.int() as i32;
            if rng.chance(2) && n != 0 {
                put("s32", Value::Int(n));
            }
        }
        if name == "s64" {
            let u = rng.next() as u32;
            if rng.chance(2) && u != 0 {
                put("fx32", Value::Long(u.into()));
            }
        }
        if name == "fx64" {
            let n = rng.int() as i32;
            if rng.chance(2) && n != 0 {
                put("sf32", Value::Int(n));
            }
        }
    }
    // -0.0 counts as the default (see the module doc of `protobuf`).
    let x = rng.float(false);
    if rng.chance(2) && x != 0.0 {
        put("fl", Value::Float(x));
    }
    let x = rng.double(false);
    if rng.chance(2) && x != 0.0 {
        put("db", Value::Double(x));
    }
    if rng.chance(2) {
        put("b", Value::Bool(true));
    }
    let text = rng.string();
    if rng.chance(2) && !text.is_empty() {
        put("s", Value::String(text));
    }
    let bytes = rng.bytes(8);
    if rng.chance(2) && !bytes.is_empty() {
        put("by", Value::Bytes(bytes));
    }
    match rng.below(4) {
        0 => put("color", Value::Enum("GREEN".into())),
        1 => put("color", Value::Enum("BLUE".into())),
        2 => put("color", Value::Int(7)),
        _ => {}
    }
    if rng.chance(2) {
        put("inner", inner(rng));
    }
    if rng.chance(2) {
        put("tags", Value::List((0..=rng.below(3)).map(|_| Value::String(rng.string())).collect()));
    }
    if rng.chance(3) {
        put("inners", Value::List((0..=rng.below(2)).map(|_| inner(rng)).collect()));
    }
    if rng.chance(2) {
        let mut entries: Vec<(String, Value)> = (0..=rng.below(3)).map(|_| (rng.string(), Value::Long(rng.int()))).collect();
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        entries.dedup_by(|a, b| a.0 == b.0);
        put("counts", Value::Struct(entries.into_iter().collect()));
    }
    if rng.chance(3) {
        let mut keys: Vec<i32> = (0..=rng.below(3)).map(|_| rng.int() as i32).collect();
        keys.sort();
        keys.dedup();
        put("by_id", Value::Struct(keys.into_iter().map(|k| (k.to_string(), inner(rng))).collect()));
    }
    if rng.chance(2) {
        put("note", Value::String(if rng.chance(3) { String::new() } else { rng.string() }));
    }
    if rng.chance(3) {
        let mut at = IndexMap::new();
        let secs = rng.int();
        if secs != 0 {
            at.insert("seconds".to_string(), Value::Long(secs));
        }
        let nanos = rng.below(1_000_000_000) as i32;
        if nanos != 0 {
            at.insert("nanos".to_string(), Value::Int(nanos));
        }
        put("at", Value::Struct(at));
    }
    if rng.chance(3) {
        put("samples", Value::List((0..=rng.below(4)).map(|_| Value::Double(rng.double(false))).collect()));
    }
    match rng.below(4) {
        0 => put("contact", Value::String(rng.string())),
        1 => put("contact", Value::Long(rng.int())),
        2 if depth > 0 => put("contact", inner(rng)),
        _ => {}
    }
    Value::Struct(f)
}

fn inner(rng: &mut Rng) -> Value {
    let mut f = IndexMap::new();
    let name = rng.string();
    if !name.is_empty() && rng.chance(2) {
        f.insert("name".to_string(), Value::String(name));
    }
    if rng.chance(2) {
        let leaves = (0..=rng.below(2))
            .map(|_| {
                let v = rng.int() as i32;
                if v == 0 { record(&[]) } else { record(&[("v", Value::Int(v))]) }
            })
            .collect();
        f.insert("leaves".to_string(), Value::List(leaves));
    }
    Value::Struct(f)
}

#[test]
fn every_field_kind_round_trips() {
    let setup = Setup::new("roundtrip");
    for config in [&[][..], CONFLUENT, INDEXES] {
        let codec = setup.codec("protobuf:Everything", config).expect("codec");
        let mut rng = Rng::new(0x5eed_0401);
        for _ in 0..3_000 {
            let value = everything(&mut rng, 1);
            let bytes = codec.encode(&value).unwrap_or_else(|e| panic!("{value:?}: {e}")).expect("bytes");
            let back = codec.decode(Some(&bytes)).unwrap_or_else(|e| panic!("{value:?}: {e}"));
            assert!(same(&back, &value), "{value:?}\ncame back as\n{back:?}");
        }
    }
}

#[test]
fn encoding_converts_values_as_ksml_does() {
    let setup = Setup::new("convert");
    let codec = setup.codec("protobuf:Everything", &[]).expect("codec");
    let round = |v: Value| codec.decode(Some(&codec.encode(&v).expect("encode").expect("bytes"))).expect("decode");
    let given = record(&[
        ("i32", Value::Long(-5)),
        ("i64", s(" 42 ")),
        ("u32", Value::Long(4_294_967_295)),
        ("u64", Value::Long(-1)),
        ("fl", Value::Double(0.5)),
        ("db", Value::Int(3)),
        ("b", s("TRUE")),
        ("s", Value::Long(12)),
        ("by", Value::List(vec![Value::Long(1), Value::Long(255)])),
        ("color", s("BLUE")),
        ("tags", Value::Tuple(vec![s("a"), Value::Enum("B".into())])),
        ("unknown", s("ignored, as KSML ignores it")),
        ("note", Value::Null),
        ("phone", s("31612345678")),
    ]);
    assert_eq!(
        round(given),
        record(&[
            ("i32", Value::Int(-5)),
            ("i64", Value::Long(42)),
            ("u32", Value::Long(4_294_967_295)),
            ("u64", Value::Long(-1)),
            ("fl", Value::Float(0.5)),
            ("db", Value::Double(3.0)),
            ("b", Value::Bool(true)),
            ("s", s("12")),
            ("by", Value::Bytes(vec![1, 255])),
            ("color", Value::Enum("BLUE".into())),
            ("tags", Value::List(vec![s("a"), s("B")])),
            ("contact", Value::Long(31_612_345_678)),
        ])
    );
    // Enums by number; a oneof by its own name picks the member the value's type fits.
    assert_eq!(round(record(&[("color", Value::Int(2))])), record(&[("color", Value::Enum("BLUE".into()))]));
    assert_eq!(round(record(&[("contact", s("x@y"))])), record(&[("contact", s("x@y"))]));
    assert_eq!(round(record(&[("contact", Value::Int(5))])), record(&[("contact", Value::Long(5))]));
    let address = record(&[("name", s("home"))]);
    assert_eq!(round(record(&[("contact", address.clone())])), record(&[("contact", address)]));
    // Map keys come back as text, in key order.
    let by_id = record(&[("10", record(&[])), ("-3", record(&[("name", s("n"))]))]);
    assert_eq!(
        round(record(&[("by_id", by_id)])),
        record(&[("by_id", record(&[("-3", record(&[("name", s("n"))])), ("10", record(&[]))]))])
    );
}

#[test]
fn presence_follows_protobufs_rules() {
    let setup = Setup::new("presence");
    let codec = setup.codec("protobuf:sensor_data", &[]).expect("codec");
    let round = |v: Value| codec.decode(Some(&codec.encode(&v).expect("encode").expect("bytes"))).expect("decode");
    // Implicit-presence fields at their default are not set; `optional` ones are.
    let v = record(&[("name", s("")), ("timestamp", Value::Long(0)), ("type", Value::Enum("UNSPECIFIED".into())), ("color", s(""))]);
    assert_eq!(round(v), record(&[("color", s(""))]));

    let legacy = setup.codec("protobuf:Legacy", &[]).expect("codec");
    let e = legacy.encode(&record(&[("n", Value::Int(1))])).expect_err("required");
    assert_eq!(e.found, "field 'Legacy.id' (string): the field is required but missing");
    let back = legacy.decode(Some(&legacy.encode(&record(&[("id", s("a")), ("n", Value::Int(7))])).expect("encode").expect("bytes")));
    // proto2 fields have presence: an explicit 7 (the default) is set and read back.
    assert_eq!(back.expect("decode"), record(&[("id", s("a")), ("n", Value::Int(7))]));
    let e = legacy.encode(&record(&[("id", s("a")), ("kind", Value::Int(9))])).expect_err("closed enum");
    assert!(e.found.contains("field 'Legacy.kind' (enum Kind): 9 is not a number of the closed enum Kind (A, B)"), "{e}");
}

#[test]
fn encoding_errors_name_the_field_its_type_and_the_value() {
    let setup = Setup::new("errors");
    let codec = setup.codec("protobuf:Everything", &[]).expect("codec");
    let leaves = Value::List(vec![record(&[("v", Value::Int(1))]), record(&[("v", Value::Long(1 << 40))])]);
    let cases: Vec<(Value, &str)> = vec![
        (s("x"), "expected a struct for message 'Everything', found string \"x\""),
        (record(&[("i32", s("abc"))]), "field 'Everything.i32' (int32): expected int32, found string \"abc\""),
        (record(&[("i32", Value::Long(1 << 31))]), "field 'Everything.i32' (int32): 2147483648 is out of range for int32"),
        (record(&[("u32", Value::Long(-1))]), "field 'Everything.u32' (uint32): -1 is out of range for uint32"),
        (
            record(&[("inner", record(&[("leaves", leaves)]))]),
            "field 'Everything.inner.leaves[1].v' (int32): 1099511627776 is out of range for int32",
        ),
        (
            record(&[("color", s("PINK"))]),
            "field 'Everything.color' (enum Color): expected one of the symbols RED, GREEN, BLUE, found string \"PINK\"",
        ),
        (record(&[("tags", s("a"))]), "field 'Everything.tags' (repeated string): expected a list, found string \"a\""),
        (
            record(&[("tags", Value::List(vec![s("a"), Value::Null]))]),
            "field 'Everything.tags[1]' (repeated string): a repeated field cannot hold null",
        ),
        (
            record(&[("by_id", record(&[("x", record(&[]))]))]),
            "field 'Everything.by_id[\"x\"]' (map<int32, message Inner>): the map key \"x\" is not a int32",
        ),
        (
            record(&[("counts", record(&[("k", s("many"))]))]),
            "field 'Everything.counts[\"k\"]' (map<string, int64>): expected int64, found string \"many\"",
        ),
        (
            record(&[("inner", Value::Long(1))]),
            "field 'Everything.inner' (message Inner): expected a struct for message 'Inner', found long 1",
        ),
        (record(&[("by", s("x"))]), "field 'Everything.by' (bytes): expected bytes, found string \"x\""),
        (
            record(&[("contact", Value::Bool(true))]),
            "boolean true fits no member of oneof 'contact' (string email, int64 phone, message Inner address)",
        ),
        (record(&[("email", s("a")), ("phone", Value::Long(1))]), "oneof 'contact' is given several values: 'email', 'phone'"),
        (record(&[("fl", Value::Double(1e300))]), "field 'Everything.fl' (float): expected float, found double 1000000"),
    ];
    for (value, wanted) in cases {
        let e = codec.encode(&value).expect_err("invalid");
        assert_eq!(e.notation, "protobuf");
        assert!(e.to_string().starts_with("protobuf notation: cannot encode protobuf:Everything: "), "{e}");
        assert!(e.found.contains(wanted), "{value:?}:\n  '{}'\ndoes not say\n  '{wanted}'", e.found);
    }
    // Values nested deeper than protobuf readers go are refused, not overflowed.
    let node = setup.codec("protobuf:Node", &[]).expect("codec");
    let mut deep = record(&[]);
    for _ in 0..1_000 {
        deep = record(&[("child", deep)]);
    }
    let e = node.encode(&deep).expect_err("deep");
    assert!(e.found.contains("messages nest deeper than 128 levels"), "{e}");
}

#[test]
fn records_are_read_with_the_writers_schema() {
    let setup = Setup::new("writer");
    let codec = setup.codec("protobuf:sensor_data", &[]).expect("codec");
    // A later version of the schema added a field: the reader sees it, read by the writer's schema.
    let evolved = SENSOR.replace("optional string owner = 8;", "optional string owner = 8;\n  double level = 9;");
    let id = setup.registry.register("t-value", &RegistrySchema::new(SchemaKind::Protobuf, evolved)).expect("register");
    let payload = [&[0x0d, 0x0a, 0x0b][..], b"sensor_data", &[0x0a, 0x01, b'a', 0x49], &1.5f64.to_le_bytes()].concat();
    assert_eq!(codec.decode(Some(&framed(id, &payload))).expect("decode"), record(&[("name", s("a")), ("level", Value::Double(1.5))]));

    // The registry may hold a base64 FileDescriptorProto (what Confluent's Python client registers).
    let mut compiler = protox::Compiler::new([&setup.dir]).expect("compiler");
    compiler.open_file("sensor_data.proto").expect("compile");
    let fds = compiler.file_descriptor_set();
    let file = prost_reflect::prost::Message::encode_to_vec(&fds.file[0]);
    let id = setup.registry.register("u-value", &RegistrySchema::new(SchemaKind::Protobuf, base64(&file))).expect("register");
    let payload = [&[0x0d, 0x0a, 0x0b][..], b"sensor_data", &[0x0a, 0x01, b'b']].concat();
    assert_eq!(codec.decode(Some(&framed(id, &payload))).expect("decode"), record(&[("name", s("b"))]));

    // Damage is named.
    let bad_text = setup.registry.register("v-value", &RegistrySchema::new(SchemaKind::Protobuf, "message {")).expect("register");
    let json = setup.registry.register("w-value", &RegistrySchema::new(SchemaKind::Json, "{}")).expect("register");
    let cases: Vec<(Vec<u8>, String)> = vec![
        (b"\x01\x00".to_vec(), "unknown magic byte 0x01".into()),
        (framed(77, &[]), "cannot fetch the writer's schema 77".into()),
        (framed(bad_text, &[0]), format!("the writer's schema {bad_text} is not usable")),
        (framed(json, &[0]), "it is a JSON schema, not a Protobuf schema".into()),
        // What does not parse as a Ref is read as the message: here it does not parse either.
        (framed(1, &[0x0d, 0x0a]), "the payload is not a valid 'io.axual.ksml.example.sensor_data' message".into()),
        (framed(1, &[0x00, 0x0a, 0x05]), "the payload is not a valid 'io.axual.ksml.example.sensor_data' message".into()),
    ];
    for (bytes, wanted) in cases {
        let e = codec.decode(Some(&bytes)).expect_err("damaged");
        assert!(e.to_string().contains(&wanted), "{bytes:?}: '{e}' does not say '{wanted}'");
    }
}

#[test]
fn codecs_are_refused_with_a_reason() {
    let setup = Setup::new("refused");
    std::fs::write(setup.dir.join("Broken.proto"), "syntax = \"proto3\";\nmessage Broken {\n  string a = 1\n}\n").expect("write");
    std::fs::write(setup.dir.join("Imports.proto"), "syntax = \"proto3\";\nimport \"other.proto\";\nmessage Imports {}\n").expect("write");
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a str);
    let cases: Vec<Case> = vec![
        ("protobuf", vec![], "notation 'protobuf' requires a schema: write 'protobuf:<SchemaName>'"),
        ("protobuf:Missing", vec![], "schema 'Missing' not found"),
        ("protobuf:Broken", vec![], "Broken.proto:4:1: expected ';'"),
        ("protobuf:Imports", vec![], "it imports 'other.proto'; only Google's well-known types"),
        ("protobuf:sensor_data", vec![("apicurio.registry.headers.enabled", "true")], "Kafka headers"),
        ("protobuf:sensor_data", vec![("apicurio.registry.serde.send-indexes", "true")], "are both true"),
        (
            "protobuf:sensor_data",
            vec![("weir.framing", "confluent"), ("apicurio.registry.serde.read-type-ref", "true")],
            "is an Apicurio setting",
        ),
        ("protobuf:sensor_data", vec![("apicurio.registry.serde.send-type-ref", "maybe")], "must be true or false"),
    ];
    for (text, config, wanted) in cases {
        let e = setup.codec(text, &config).expect_err(text);
        assert!(e.contains(wanted), "{text}: '{e}' does not say '{wanted}'");
    }
    std::fs::write(setup.dir.join("Other.proto"), SENSOR).expect("write");
    let e = setup.codec("protobuf:Other", &[]).expect_err("no such message");
    assert!(e.contains("has no message 'Other'; its messages: sensor_data"), "{e}");
    // A namespaced name finds the file by its last segment and the message by its full name.
    assert!(setup.codec("protobuf:io.axual.ksml.example.sensor_data", &[]).is_ok());
}

#[test]
fn hostile_bytes_never_panic() {
    let setup = Setup::new("fuzz");
    let configs: [&[(&str, &str)]; 3] = [&[], CONFLUENT, INDEXES];
    let mut rng = Rng::new(0x5eed_0402);
    let mut decoded = 0;
    for config in configs {
        let codec = setup.codec("protobuf:Everything", config).expect("codec");
        let node = setup.codec("protobuf:Node", config).expect("codec");
        let seeds: Vec<Vec<u8>> = (0..20).map(|_| codec.encode(&everything(&mut rng, 1)).expect("encode").expect("bytes")).collect();
        for round in 0..15_000 {
            let bytes = match round % 3 {
                0 => framed(1, &rng.bytes(40)),
                1 => rng.bytes(40),
                _ => {
                    let mut b = seeds[rng.below(seeds.len())].clone();
                    for _ in 0..=rng.below(4) {
                        let i = rng.below(b.len());
                        match rng.below(3) {
                            0 => b[i] = rng.next() as u8,
                            1 => {
                                b.remove(i);
                            }
                            _ => b.insert(i, rng.next() as u8),
                        }
                    }
                    b
                }
            };
            for c in [&codec, &node] {
                if let Ok(value) = c.decode(Some(&bytes)) {
                    decoded += 1;
                    c.encode(&value).unwrap_or_else(|e| panic!("decoded {value:?} from {bytes:?} but cannot encode it: {e}"));
                }
            }
        }
        // Nesting as deep as a payload can make it (prost stops at its recursion limit).
        let mut deep = Vec::new();
        for _ in 0..5_000 {
            let mut outer = vec![0x0a];
            let mut len = deep.len();
            while len >= 0x80 {
                outer.push((len as u8) | 0x80);
                len >>= 7;
            }
            outer.push(len as u8);
            outer.extend_from_slice(&deep);
            deep = outer;
        }
        let own = node.encode(&record(&[("v", Value::Int(1))])).expect("encode").expect("bytes");
        let prefix_len = own.len() - 2;
        let e = node.decode(Some(&[&own[..prefix_len], &deep].concat())).expect_err("too deep");
        assert!(e.found.contains("recursion limit"), "{e}");
    }
    assert!(decoded > 1_000, "mutated records decode often ({decoded})");
}

// ---------------------------------------------------------------------------------------------
// Interop with Google's protobuf package and Confluent's Python serializers

fn python(code: &str, input: &str) -> String {
    String::from_utf8(notation_support::run_python(&notation_support::reference_python(), code, input.as_bytes())).expect("utf-8")
}

/// The serialized `FileDescriptorSet` of everything.proto and its imports, and of Apicurio's
/// `Ref` message: what Python builds its message classes from (no protoc needed).
fn descriptor_sets(dir: &Path) -> (String, String) {
    let set = |file: &str| {
        let mut compiler = protox::Compiler::new([dir]).expect("compiler");
        compiler.include_imports(true);
        compiler.open_file(file).expect("compile");
        hex(&compiler.encode_file_descriptor_set())
    };
    std::fs::write(
        dir.join("ref.proto"),
        "syntax = \"proto3\";\npackage io.apicurio.registry.serde.protobuf.ref;\nmessage Ref { string name = 1; }\n",
    )
    .expect("write ref.proto");
    (set("Everything.proto"), set("ref.proto"))
}

const PY_PRELUDE: &str = r#"
import sys
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.internal.decoder import _DecodeVarint
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.protobuf import ProtobufSerializer, ProtobufDeserializer
from confluent_kafka.serialization import SerializationContext, MessageField
lines = sys.stdin.read().split("\n")
pool = descriptor_pool.DescriptorPool()
for set_hex in lines[:2]:
    for f in descriptor_pb2.FileDescriptorSet.FromString(bytes.fromhex(set_hex)).file:
        try:
            pool.Add(f)
        except Exception:
            pass  # google/protobuf/timestamp.proto may be there already
Everything = message_factory.GetMessageClass(pool.FindMessageTypeByName("weir.test.Everything"))
Ref = message_factory.GetMessageClass(pool.FindMessageTypeByName("io.apicurio.registry.serde.protobuf.ref.Ref"))
ctx = SerializationContext("t", MessageField.VALUE)
conf = {"use.deprecated.format": False}
"#;

/// Weir writes, in Confluent's and in Apicurio's framing; Python parses with Confluent's
/// deserializer (and Apicurio's `Ref` by hand), and writes each message back without framing,
/// which Weir reads as the value it wrote.
#[test]
fn python_reads_what_we_write() {
    let setup = Setup::new("py-read");
    let (everything_set, ref_set) = descriptor_sets(&setup.dir);
    let confluent = setup.codec("protobuf:Everything", CONFLUENT).expect("codec");
    let apicurio = setup.codec("protobuf:Everything", &[]).expect("codec");
    let mut rng = Rng::new(0x5eed_0403);
    let values: Vec<Value> = (0..150).map(|_| everything(&mut rng, 1)).collect();
    let mut input = format!("{everything_set}\n{ref_set}");
    for v in &values {
        let c = confluent.encode(v).expect("encode").expect("bytes");
        let a = apicurio.encode(v).expect("encode").expect("bytes");
        input.push_str(&format!("\n{} {}", hex(&c), hex(&a)));
    }
    let code = format!(
        "{PY_PRELUDE}{}",
        r#"
deserializer = ProtobufDeserializer(Everything, conf)
for line in lines[2:]:
    c, a = (bytes.fromhex(x) for x in line.split(" "))
    m = deserializer(c, ctx)
    # Apicurio: magic byte, 4-byte id, a length-delimited Ref, the message.
    assert a[0] == 0 and a[1:5] == c[1:5], a[:5]
    n, pos = _DecodeVarint(a, 5)
    ref = Ref.FromString(a[pos:pos + n])
    assert ref.name == "Everything", ref
    m2 = Everything.FromString(a[pos + n:])
    assert m == m2, (m, m2)
    print(m.SerializeToString(deterministic=True).hex() + " " + str(len(m.ListFields())))
"#
    );
    let out = python(&code, &input);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), values.len());
    let reader = setup.codec("protobuf:Everything", &[("apicurio.registry.serde.read-type-ref", "false")]).expect("codec");
    for (line, v) in lines.iter().zip(&values) {
        let (payload, count) = line.split_once(' ').expect("two columns");
        let back = reader.decode(Some(&framed(1, &unhex(payload)))).unwrap_or_else(|e| panic!("{line}: {e}"));
        assert!(same(&back, v), "{v:?} came back from Python as {back:?}");
        let Value::Struct(fields) = v else { panic!("struct") };
        assert_eq!(count.parse::<usize>().expect("count"), fields.len(), "Python sees the fields we set in {v:?}");
    }
}

/// Confluent's Python serializer writes (registering a base64 `FileDescriptorProto`); Weir
/// reads each record and writes it again, and Python finds the two messages equal.
#[test]
fn we_read_what_confluents_python_serializer_writes() {
    let setup = Setup::new("py-write");
    let (everything_set, ref_set) = descriptor_sets(&setup.dir);
    let code = format!(
        "{PY_PRELUDE}{}",
        r#"
import random
from google.protobuf import timestamp_pb2
client = SchemaRegistryClient.new_client({"url": "mock://weir"})
serializer = ProtobufSerializer(Everything, client, conf)
rng = random.Random(7)
messages = [Everything(s="caf\u00e9 \U0001F600", i64=-2**63, u64=2**64 - 1, u32=2**32 - 1, color=2, email="a@b", note="")]
for i in range(100):
    m = Everything()
    m.i32 = rng.randint(-2**31, 2**31 - 1)
    m.sf64 = rng.randint(-2**63, 2**63 - 1)
    m.fx32 = rng.randint(0, 2**32 - 1)
    m.db = rng.uniform(-1e10, 1e10)
    m.fl = rng.uniform(-1, 1)
    m.b = rng.random() < 0.5
    m.by = bytes(rng.randrange(256) for _ in range(rng.randrange(5)))
    m.color = rng.randrange(3)
    m.inner.name = "n%d" % i
    m.inner.leaves.add(v=rng.randint(-5, 5))
    m.tags.extend(["t%d" % j for j in range(rng.randrange(3))])
    for j in range(rng.randrange(3)):
        m.counts["k%d" % j] = rng.randint(-10, 10)
        m.by_id[rng.randint(-100, 100)].name = "id%d" % j
    if rng.random() < 0.3:
        m.phone = rng.randint(0, 10**10)
    elif rng.random() < 0.5:
        m.address.name = "home"
    m.at.seconds = rng.randint(0, 2**40)
    m.samples.extend([rng.random() for _ in range(rng.randrange(4))])
    messages.append(m)
written = [serializer(m, ctx) for m in messages]
registered = client.get_latest_version("t-value")
print(registered.schema_id)
print(registered.schema.schema_str)
for w in written:
    print(w.hex())
"#
    );
    let out = python(&code, &format!("{everything_set}\n{ref_set}"));
    let mut lines = out.lines();
    let id: u32 = lines.next().expect("id").parse().expect("id");
    let text = lines.next().expect("schema text");
    // Our registry holds what Python's holds, under the same id.
    assert_eq!(setup.registry.register("t-value", &RegistrySchema::new(SchemaKind::Protobuf, text)).expect("register"), id);
    let codec = setup.codec("protobuf:Everything", CONFLUENT).expect("codec");
    let written: Vec<Vec<u8>> = lines.map(unhex).collect();
    assert_eq!(written.len(), 101);
    let first = codec.decode(Some(&written[0])).expect("decode");
    assert_eq!(
        first,
        record(&[
            ("i64", Value::Long(i64::MIN)),
            ("u32", Value::Long(4_294_967_295)),
            ("u64", Value::Long(-1)),
            ("s", s("café 😀")),
            ("color", Value::Enum("BLUE".into())),
            ("note", s("")),
            ("contact", s("a@b")),
        ])
    );
    let mut input = format!("{everything_set}\n{ref_set}");
    for w in &written {
        let value = codec.decode(Some(w)).unwrap_or_else(|e| panic!("{}: {e}", hex(w)));
        let again = codec.encode(&value).expect("encode").expect("bytes");
        input.push_str(&format!("\n{} {}", hex(w), hex(&again)));
    }
    let check = format!(
        "{PY_PRELUDE}{}",
        r#"
deserializer = ProtobufDeserializer(Everything, conf)
same = 0
for line in lines[2:]:
    theirs, ours = (deserializer(bytes.fromhex(x), ctx) for x in line.split(" "))
    assert theirs == ours, (theirs, ours)
    same += 1
print(same)
"#
    );
    assert_eq!(python(&check, &input).trim(), "101");
}
