//! The Avro notations (`avro`, `confluent_avro`, `apicurio_avro`): round trips of every Avro
//! type, schema evolution, both vendors' framing, subject strategies and registry settings,
//! KSML's conversions and error messages, hostile bytes, apache-avro as an oracle for the
//! binary encoding, and interop with the reference Python implementations (fastavro and
//! confluent-kafka's serdes, installed by `scripts/python-deps.sh`).

mod notation_support;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use apache_avro::Schema;
use indexmap::IndexMap;
use notation_support::{Rng, s, target, ty};
use serde_json::{Value as Json, json};
use weir_dsl::types::{UserType, parse_user_type};
use weir_engine::Value;
use weir_engine::notation::avro::AvroSchema;
use weir_engine::notation::{Codec, Notations, Target};
use weir_engine::registry::{MemoryRegistry, RegistrySchema, SchemaKind, SchemaRegistry};

fn ksml() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/ksml")
}

/// A schema directory of its own for a test, removed when dropped.
struct Schemas(PathBuf);

impl Schemas {
    fn new(files: &[(&str, &str)]) -> Schemas {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!("weir-avro-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::SeqCst)));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        for (name, text) in files {
            std::fs::write(dir.join(name), text).expect("write schema");
        }
        Schemas(dir)
    }
}

impl Drop for Schemas {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Every Avro type, nested, and every logical type KSML maps.
const ALL_TYPES: &str = r#"{"type": "record", "name": "AllTypes", "namespace": "io.weir.test", "fields": [
  {"name": "n", "type": "null"},
  {"name": "b", "type": "boolean"},
  {"name": "i", "type": "int"},
  {"name": "l", "type": "long"},
  {"name": "f", "type": "float"},
  {"name": "d", "type": "double"},
  {"name": "by", "type": "bytes"},
  {"name": "s", "type": "string"},
  {"name": "fx", "type": {"type": "fixed", "name": "Hash", "size": 4}},
  {"name": "e", "type": {"type": "enum", "name": "Color", "symbols": ["RED", "GREEN", "BLUE"]}},
  {"name": "arr", "type": {"type": "array", "items": "long"}},
  {"name": "m", "type": {"type": "map", "values": "string"}},
  {"name": "rec", "type": {"type": "record", "name": "Inner", "fields": [
    {"name": "x", "type": "int"},
    {"name": "tags", "type": {"type": "array", "items": "string"}}]}},
  {"name": "opt", "type": ["null", "string"], "default": null},
  {"name": "u", "type": ["null", "long", "string", "Inner"]},
  {"name": "uuid", "type": {"type": "string", "logicalType": "uuid"}},
  {"name": "dec", "type": {"type": "bytes", "logicalType": "decimal", "precision": 12, "scale": 3}},
  {"name": "date", "type": {"type": "int", "logicalType": "date"}},
  {"name": "time_ms", "type": {"type": "int", "logicalType": "time-millis"}},
  {"name": "time_us", "type": {"type": "long", "logicalType": "time-micros"}},
  {"name": "ts_ms", "type": {"type": "long", "logicalType": "timestamp-millis"}},
  {"name": "ts_us", "type": {"type": "long", "logicalType": "timestamp-micros"}},
  {"name": "lts_ms", "type": {"type": "long", "logicalType": "local-timestamp-millis"}},
  {"name": "lts_us", "type": {"type": "long", "logicalType": "local-timestamp-micros"}},
  {"name": "nested", "type": {"type": "array", "items": {"type": "map", "values": ["null", "Inner"]}}}
]}"#;

/// Types only Weir's own tests cover (fastavro reads a fixed decimal as a number, KSML as bytes).
const MORE_TYPES: &str = r#"{"type": "record", "name": "MoreTypes", "fields": [
  {"name": "fdec", "type": {"type": "fixed", "name": "Money", "size": 8, "logicalType": "decimal", "precision": 10, "scale": 2}},
  {"name": "fuuid", "type": {"type": "fixed", "name": "Id16", "size": 16, "logicalType": "uuid"}},
  {"name": "neg", "type": {"type": "bytes", "logicalType": "decimal", "precision": 4, "scale": 0}},
  {"name": "list", "type": {"type": "record", "name": "Node", "fields": [
    {"name": "v", "type": "int"}, {"name": "next", "type": ["null", "Node"], "default": null}]}}
]}"#;

fn st(fields: Vec<(&str, Value)>) -> Value {
    Value::Struct(fields.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

fn all_types_value() -> Value {
    let inner = |x: i32, tags: &[&str]| st(vec![("x", Value::Int(x)), ("tags", Value::List(tags.iter().map(|t| s(t)).collect()))]);
    st(vec![
        ("n", Value::Null),
        ("b", Value::Bool(true)),
        ("i", Value::Int(-42)),
        ("l", Value::Long(1 << 40)),
        ("f", Value::Float(1.5)),
        ("d", Value::Double(-0.1)),
        ("by", Value::Bytes(vec![0, 1, 254, 255])),
        ("s", s("héllo ✓")),
        ("fx", Value::Bytes(vec![9, 8, 7, 6])),
        ("e", Value::Enum("GREEN".into())),
        ("arr", Value::List(vec![Value::Long(1), Value::Long(-2), Value::Long(i64::MAX)])),
        ("m", st(vec![("z", s("last")), ("a", s("first"))])),
        ("rec", inner(7, &["a", "b"])),
        ("opt", s("present")),
        ("u", inner(1, &[])),
        ("uuid", s("123e4567-e89b-12d3-a456-426614174000")),
        ("dec", s("-123456789.125")),
        ("date", Value::Int(19_000)),
        ("time_ms", Value::Int(86_399_999)),
        ("time_us", Value::Long(3_600_000_000)),
        ("ts_ms", Value::Long(1_700_000_000_123)),
        ("ts_us", Value::Long(1_700_000_000_123_456)),
        ("lts_ms", Value::Long(-1)),
        ("lts_us", Value::Long(0)),
        ("nested", Value::List(vec![st(vec![("k", Value::Null), ("j", inner(2, &["t"]))]), st(vec![])])),
    ])
}

struct Setup {
    registry: Arc<MemoryRegistry>,
    notations: Notations,
    _schemas: Schemas,
}

fn setup(files: &[(&str, &str)]) -> Setup {
    let schemas = Schemas::new(files);
    let registry = Arc::new(MemoryRegistry::new());
    let notations = Notations::builtin()
        .with_schema_directory(Some(schemas.0.clone()))
        .with_default_registry(Arc::clone(&registry) as Arc<dyn SchemaRegistry>);
    Setup { registry, notations, _schemas: schemas }
}

impl Setup {
    fn ty(&self, text: &str) -> UserType {
        let names: Vec<String> = self.notations.names().map(str::to_string).collect();
        parse_user_type(text, &names).unwrap_or_else(|e| panic!("type '{text}': {e}"))
    }

    fn codec(&self, ty_text: &str, topic: &str) -> Arc<dyn Codec> {
        self.notations.codec(&self.ty(ty_text), &target(topic)).unwrap_or_else(|e| panic!("{ty_text}: {e}"))
    }

    fn configured(&mut self, name: &str, kind: &str, config: &[(&str, &str)]) {
        let config = config.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        self.notations.configure(name, kind, None, config).expect("configure");
    }
}

fn encode(codec: &dyn Codec, value: &Value) -> Vec<u8> {
    codec.encode(value).unwrap_or_else(|e| panic!("encode {value:?}: {e}")).expect("bytes")
}

fn field<'v>(value: &'v Value, name: &str) -> &'v Value {
    match value {
        Value::Struct(fields) => fields.get(name).unwrap_or_else(|| panic!("no field '{name}' in {value:?}")),
        other => panic!("not a struct: {other:?}"),
    }
}

// ---- round trips ---------------------------------------------------------------------------

#[test]
fn every_avro_type_round_trips_with_ksmls_python_forms() {
    let setup = setup(&[("AllTypes.avsc", ALL_TYPES)]);
    let codec = setup.codec("avro:AllTypes", "all");
    let value = all_types_value();
    let bytes = encode(codec.as_ref(), &value);
    assert_eq!(&bytes[..5], &[0, 0, 0, 0, 1], "magic byte and schema id 1");
    assert_eq!(codec.decode(Some(&bytes)).expect("decode"), value);
    assert_eq!(codec.decode(None).expect("null"), Value::Null);
    assert_eq!(codec.encode(&Value::Null).expect("null"), None);
    // The schema was registered under the topic's subject, in compact JSON.
    let (id, registered) = setup.registry.latest("all-value").expect("registered");
    assert_eq!(id, 1);
    assert_eq!(registered.kind, SchemaKind::Avro);
    assert!(!registered.text.contains('\n') && registered.text.starts_with(r#"{"type":"record","name":"AllTypes""#), "{}", registered.text);
}

#[test]
fn fixed_decimals_fixed_uuids_and_recursive_records_round_trip() {
    let setup = setup(&[("MoreTypes.avsc", MORE_TYPES)]);
    let codec = setup.codec("avro:MoreTypes", "more");
    let list = st(vec![("v", Value::Int(1)), ("next", st(vec![("v", Value::Int(2)), ("next", Value::Null)]))]);
    let value = st(vec![
        ("fdec", Value::Bytes(vec![0, 0, 0, 0, 0, 0, 0x30, 0x39])),
        ("fuuid", Value::Bytes((0..16).collect())),
        ("neg", s("-1")),
        ("list", list),
    ]);
    let bytes = encode(codec.as_ref(), &value);
    assert_eq!(codec.decode(Some(&bytes)).expect("decode"), value);
    // A missing `next` takes its default (null).
    let short = st(vec![
        ("fdec", Value::Bytes(vec![0; 8])),
        ("fuuid", Value::Bytes(vec![0; 16])),
        ("neg", Value::Long(9999)),
        ("list", st(vec![("v", Value::Long(3))])),
    ]);
    let back = codec.decode(Some(&encode(codec.as_ref(), &short))).expect("decode");
    assert_eq!(field(&back, "list"), &st(vec![("v", Value::Int(3)), ("next", Value::Null)]));
    assert_eq!(field(&back, "neg"), &s("9999"));
}

#[test]
fn ksmls_schemas_load_and_sensor_data_round_trips() {
    let mut files = Vec::new();
    for dir in [ksml().join("schemas"), ksml().join("examples"), ksml().join("test-runner/schemas")] {
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())).flatten() {
            if entry.path().extension().is_some_and(|x| x == "avsc") {
                files.push(entry.path());
            }
        }
    }
    assert!(files.len() >= 6, "{files:?}");
    for file in &files {
        let text = std::fs::read_to_string(file).expect("read");
        let schema = AvroSchema::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert!(schema.full_name().is_some_and(|n| n.starts_with("io.axual.ksml.")), "{}: {:?}", file.display(), schema.full_name());
    }
    let text = std::fs::read_to_string(ksml().join("schemas/SensorData.avsc")).expect("SensorData");
    let setup = setup(&[("SensorData.avsc", &text)]);
    // KSML's own name lookup: the namespace is stripped to find the file.
    let codec = setup.codec("avro:io.axual.ksml.example.SensorData", "sensors");
    let value = st(vec![
        ("name", s("sensor1")),
        ("timestamp", Value::Long(1000)),
        ("value", s("25.0")),
        ("type", s("TEMPERATURE")),
        ("unit", s("C")),
        ("color", s("blue")),
    ]);
    let back = codec.decode(Some(&encode(codec.as_ref(), &value))).expect("decode");
    assert_eq!(
        back,
        st(vec![
            ("name", s("sensor1")),
            ("timestamp", Value::Long(1000)),
            ("value", s("25.0")),
            ("type", Value::Enum("TEMPERATURE".into())),
            ("unit", s("C")),
            ("color", s("blue")),
            ("city", Value::Null),
            ("owner", Value::Null),
        ])
    );
    assert_eq!(setup.registry.latest("sensors-value").expect("subject").0, 1);
}

// ---- apache-avro as an oracle --------------------------------------------------------------

/// A random value of `schema`, in the forms Weir reads and writes.
fn random_value(rng: &mut Rng, schema: &Schema, names: &IndexMap<String, Schema>, depth: usize) -> Value {
    let schema = match schema {
        Schema::Ref { name } => names.get(&name.fullname(None)).expect("named type"),
        other => other,
    };
    match schema {
        Schema::Null => Value::Null,
        Schema::Boolean => Value::Bool(rng.chance(2)),
        Schema::Int => Value::Int(rng.int() as i32),
        Schema::Long => Value::Long(rng.int()),
        Schema::Float => Value::Float(rng.float(true)),
        Schema::Double => Value::Double(rng.double(true)),
        Schema::Bytes => Value::Bytes(rng.bytes(12)),
        Schema::String => Value::String(rng.string()),
        Schema::Fixed(f) => Value::Bytes((0..f.size).map(|_| rng.next() as u8).collect()),
        Schema::Enum(e) => Value::Enum(e.symbols[rng.below(e.symbols.len())].clone()),
        Schema::Array(a) => {
            let n = if depth > 3 { 0 } else { rng.below(4) };
            Value::List((0..n).map(|_| random_value(rng, &a.items, names, depth + 1)).collect())
        }
        Schema::Map(m) => {
            let n = if depth > 3 { 0 } else { rng.below(4) };
            Value::Struct((0..n).map(|i| (format!("k{i}-{}", rng.string()), random_value(rng, &m.types, names, depth + 1))).collect())
        }
        Schema::Record(r) => {
            Value::Struct(r.fields.iter().map(|f| (f.name.clone(), random_value(rng, &f.schema, names, depth + 1))).collect())
        }
        Schema::Union(u) => {
            let variants = u.variants();
            // Deep down, the first branch (null in the recursive schemas) ends the recursion.
            let branch = if depth > 3 { &variants[0] } else { &variants[rng.below(variants.len())] };
            random_value(rng, branch, names, depth + 1)
        }
        Schema::Uuid => {
            let h: String = (0..32).map(|_| char::from(b"0123456789abcdef"[rng.below(16)])).collect();
            Value::String(format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..]))
        }
        Schema::Decimal(d) => match d.inner.as_ref() {
            Schema::Fixed(f) => Value::Bytes((0..f.size).map(|_| rng.next() as u8).collect()),
            _ => {
                let unscaled = rng.int().rem_euclid(10i64.pow(d.precision.min(18) as u32)) * if rng.chance(2) { -1 } else { 1 };
                Value::String(decimal(unscaled, d.scale))
            }
        },
        Schema::Date => Value::Int(rng.below(40_000) as i32 - 10_000),
        Schema::TimeMillis => Value::Int(rng.below(86_400_000) as i32),
        Schema::TimeMicros => Value::Long(rng.below(86_400_000) as i64 * 1000 + rng.below(1000) as i64),
        Schema::TimestampMillis | Schema::LocalTimestampMillis => {
            Value::Long(rng.below(4_000_000_000) as i64 * 1000 + rng.below(1000) as i64)
        }
        Schema::TimestampMicros | Schema::LocalTimestampMicros => Value::Long(rng.below(4_000_000_000) as i64 * 1_000_000),
        other => panic!("no generator for {other:?}"),
    }
}

/// The text of `unscaled` × 10^-scale.
fn decimal(unscaled: i64, scale: usize) -> String {
    let digits = format!("{:0>width$}", unscaled.unsigned_abs(), width = scale + 1);
    let (int, frac) = digits.split_at(digits.len() - scale);
    let sign = if unscaled < 0 { "-" } else { "" };
    if scale == 0 { format!("{sign}{int}") } else { format!("{sign}{int}.{frac}") }
}

fn names_of(schema: &Schema, names: &mut IndexMap<String, Schema>) {
    match schema {
        Schema::Record(r) => {
            names.insert(r.name.fullname(None), schema.clone());
            r.fields.iter().for_each(|f| names_of(&f.schema, names));
        }
        Schema::Enum(e) => {
            names.insert(e.name.fullname(None), schema.clone());
        }
        Schema::Fixed(f) => {
            names.insert(f.name.fullname(None), schema.clone());
        }
        Schema::Array(a) => names_of(&a.items, names),
        Schema::Map(m) => names_of(&m.types, names),
        Schema::Union(u) => u.variants().iter().for_each(|v| names_of(v, names)),
        _ => {}
    }
}

/// Random values of ALL_TYPES: apache-avro reads Weir's bytes, and writes exactly the same
/// bytes back from what it read (maps hold one entry at most there: apache-avro's maps do not
/// keep their order).
#[test]
fn apache_avro_reads_and_rewrites_weirs_bytes_exactly() {
    let apache = Schema::parse_str(ALL_TYPES).expect("apache-avro parses");
    let weir = AvroSchema::parse(ALL_TYPES).expect("weir parses");
    let mut names = IndexMap::new();
    names_of(&apache, &mut names);
    let mut rng = Rng::new(0xa7_0001);
    for round in 0..500 {
        let mut value = random_value(&mut rng, &apache, &names, 0);
        one_entry_maps(&mut value);
        let mut bytes = Vec::new();
        weir.encode(&value, &mut bytes).unwrap_or_else(|e| panic!("round {round}: {e}: {value:?}"));
        let read = apache_avro::from_avro_datum(&apache, &mut bytes.as_slice(), None)
            .unwrap_or_else(|e| panic!("round {round}: apache-avro: {e}"));
        let again = apache_avro::to_avro_datum(&apache, read).unwrap_or_else(|e| panic!("round {round}: apache-avro writes: {e}"));
        assert_eq!(again, bytes, "round {round}: {value:?}");
        assert_eq!(weir.decode(&bytes, None).expect("weir reads"), value, "round {round}");
    }
}

fn one_entry_maps(value: &mut Value) {
    match value {
        Value::Struct(fields) => {
            for v in fields.values_mut() {
                one_entry_maps(v);
            }
            if fields.keys().any(|k| k.starts_with("k0-")) {
                fields.truncate(1);
            }
        }
        Value::List(items) => items.iter_mut().for_each(one_entry_maps),
        _ => {}
    }
}

// ---- schema evolution ----------------------------------------------------------------------

const V1: &str = r#"{"type": "record", "name": "Reading", "namespace": "io.weir.test", "fields": [
  {"name": "id", "type": "string"},
  {"name": "count", "type": "int"},
  {"name": "legacy", "type": "string"},
  {"name": "level", "type": {"type": "enum", "name": "Level", "symbols": ["LOW", "HIGH", "EXTREME"]}},
  {"name": "score", "type": "float"}
]}"#;

/// V1 evolved: `legacy` removed, `unit` added with a default, `count` widened to long,
/// `EXTREME` dropped with a default symbol, `score` promoted to double inside a union.
const V2: &str = r#"{"type": "record", "name": "Reading", "namespace": "io.weir.test", "fields": [
  {"name": "id", "type": "string"},
  {"name": "unit", "type": "string", "default": "celsius"},
  {"name": "count", "type": "long"},
  {"name": "level", "type": {"type": "enum", "name": "Level", "symbols": ["LOW", "HIGH"], "default": "HIGH"}},
  {"name": "score", "type": ["null", "double"]},
  {"name": "tags", "type": {"type": "array", "items": "string"}, "default": ["new"]}
]}"#;

#[test]
fn records_written_with_an_older_schema_are_resolved_to_the_local_one() {
    let setup = setup(&[("ReadingV1.avsc", V1), ("ReadingV2.avsc", V2)]);
    let old = setup.codec("avro:ReadingV1", "readings");
    let new = setup.codec("avro:ReadingV2", "readings");
    let written = encode(
        old.as_ref(),
        &st(vec![("id", s("r1")), ("count", Value::Int(3)), ("legacy", s("x")), ("level", s("EXTREME")), ("score", Value::Float(0.5))]),
    );
    assert_eq!(
        new.decode(Some(&written)).expect("resolved"),
        st(vec![
            ("id", s("r1")),
            ("unit", s("celsius")),
            ("count", Value::Long(3)),
            ("level", Value::Enum("HIGH".into())),
            ("score", Value::Double(0.5)),
            ("tags", Value::List(vec![s("new")])),
        ])
    );
    // The new schema's records are read by the old codec only as far as Avro allows: a long
    // does not narrow to an int, and V1's `legacy` has no default.
    let newer = encode(new.as_ref(), &st(vec![("id", s("r2")), ("count", Value::Long(1)), ("level", s("LOW")), ("score", Value::Null)]));
    let e = old.decode(Some(&newer)).expect_err("count is a long now");
    assert!(
        e.to_string().starts_with(
            "avro notation: cannot decode avro:ReadingV1: writer schema 2 (io.weir.test.Reading): field 'count': the writer's long cannot be read as the reader's int"
        ),
        "{e}"
    );
    let v1_no_count = V1.replace(r#"{"name": "count", "type": "int"},"#, "").replace(
        r#",
  {"name": "score", "type": "float"}"#,
        "",
    );
    let old = AvroSchema::parse(&v1_no_count).expect("V1 without count and score");
    let v2 = AvroSchema::parse(V2).expect("V2");
    let e = v2.decode(&newer[5..], Some(&old)).expect_err("legacy has no default");
    assert_eq!(e, "the reader's field 'legacy' has no default, and the writer's record Reading has no such field");
    // Both versions are registered under the one subject.
    assert_eq!(setup.registry.latest("readings-value").expect("subject").0, 2);
}

#[test]
fn bare_avro_reads_any_writer_schema_and_writes_with_the_subjects_latest() {
    let mut setup = setup(&[("ReadingV1.avsc", V1)]);
    let bare = setup.codec("avro", "readings");
    let e = bare.encode(&st(vec![("id", s("r"))])).expect_err("no schema yet");
    assert!(e.to_string().contains("subject 'readings-value' has none"), "{e}");

    let v1 = setup.codec("avro:ReadingV1", "readings");
    let record = st(vec![("id", s("r1")), ("count", Value::Int(3)), ("legacy", s("x")), ("level", s("LOW")), ("score", Value::Float(2.0))]);
    let bytes = encode(v1.as_ref(), &record);
    let mut expected = record.clone();
    if let Value::Struct(f) = &mut expected {
        f.insert("level".into(), Value::Enum("LOW".into()));
    }
    assert_eq!(bare.decode(Some(&bytes)).expect("any writer schema"), expected);
    // Writing takes the latest schema of the subject now, with its id; Python's ints fit.
    let again = encode(
        bare.as_ref(),
        &st(vec![("id", s("r1")), ("count", Value::Long(3)), ("legacy", s("x")), ("level", s("LOW")), ("score", Value::Long(2))]),
    );
    assert_eq!(again, bytes);
    // `confluent_avro` and a configured name behave the same.
    setup.configured("myavro", "confluent_avro", &[]);
    assert_eq!(encode(setup.codec("myavro", "readings").as_ref(), &record), bytes);
    assert_eq!(encode(setup.codec("confluent_avro", "readings").as_ref(), &record), bytes);
}

// ---- framing, subjects and registry settings ----------------------------------------------

const SIMPLE: &str = r#"{"type": "record", "name": "Simple", "namespace": "io.weir.test", "fields": [{"name": "a", "type": "long"}]}"#;

fn simple() -> Value {
    st(vec![("a", Value::Long(-1))])
}

#[test]
fn confluent_and_apicurio_framing() {
    let mut setup = setup(&[("Simple.avsc", SIMPLE)]);
    let confluent = setup.codec("confluent_avro:Simple", "t");
    let apicurio = setup.codec("apicurio_avro:Simple", "t");
    let c = encode(confluent.as_ref(), &simple());
    let a = encode(apicurio.as_ref(), &simple());
    assert_eq!(c, vec![0, 0, 0, 0, 1, 1]);
    // Apicurio 3's default: the 4-byte content id in the payload, as KSML pins it.
    assert_eq!(a, c);
    setup.configured("apicurio8", "apicurio_avro", &[("apicurio.registry.id-handler", "io.apicurio.registry.serde.Legacy8ByteIdHandler")]);
    let wide = setup.codec("apicurio8:Simple", "t");
    let w = encode(wide.as_ref(), &simple());
    assert_eq!(w, vec![0, 0, 0, 0, 0, 0, 0, 0, 1, 1]);
    assert_eq!(wide.decode(Some(&w)).expect("8-byte id"), simple());
    // A 4-byte record read as 8-byte ids is too short: an error, not a guess.
    assert!(wide.decode(Some(&c)).expect_err("4-byte id").to_string().contains("too short"));
    setup.configured("apicurio_global", "apicurio_avro", &[("apicurio.registry.use-id", "globalId")]);
    assert_eq!(encode(setup.codec("apicurio_global:Simple", "t").as_ref(), &simple()), c);

    let refused = |config: &[(&str, &str)], message: &str| {
        let mut s = Notations::builtin();
        let config = config.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        s.configure("x", "apicurio_avro", None, config).expect("configure");
        let e = s.codec(&parse_user_type("x", &["x".to_string()]).expect("type"), &target("t")).expect_err("refused");
        assert!(e.contains(message), "{e}");
    };
    refused(&[("apicurio.registry.headers.enabled", "true")], "schema ids in Kafka headers) is not supported");
    refused(&[("apicurio.registry.as-confluent", "true")], "'apicurio.registry.as-confluent' no longer exists");
    refused(
        &[("apicurio.registry.id-handler", "io.apicurio.registry.serde.Legacy4ByteIdHandler")],
        "use 'io.apicurio.registry.serde.Default4ByteIdHandler'",
    );
    refused(&[("apicurio.registry.id-handler", "Nope")], "unknown 'apicurio.registry.id-handler'");
    refused(&[("apicurio.registry.use-id", "artifactId")], "must be contentId or globalId");
    // Headers explicitly off is KSML's default and fine.
    let mut fine = Notations::builtin();
    fine.configure("x", "apicurio_avro", None, [("apicurio.registry.headers.enabled".to_string(), "false".to_string())].into())
        .expect("configure");
    fine.codec(&parse_user_type("x", &["x".to_string()]).expect("type"), &target("t")).expect("headers off");
}

#[test]
fn subject_name_strategies() {
    let mut setup = setup(&[("Simple.avsc", SIMPLE)]);
    let key = setup.notations.codec(&ty("avro:Simple"), &Target { topic: Some("t".into()), is_key: true }).expect("key codec");
    encode(key.as_ref(), &simple());
    assert_eq!(setup.registry.latest("t-key").expect("key subject").0, 1);
    let strategy = "io.confluent.kafka.serializers.subject.RecordNameStrategy";
    setup.configured("rn", "confluent_avro", &[("value.subject.name.strategy", strategy)]);
    encode(setup.codec("rn:Simple", "t").as_ref(), &simple());
    assert!(setup.registry.latest("io.weir.test.Simple").is_ok());
    setup.configured("trn", "confluent_avro", &[("value.subject.name.strategy", "TopicRecordNameStrategy")]);
    encode(setup.codec("trn:Simple", "t").as_ref(), &simple());
    assert!(setup.registry.latest("t-io.weir.test.Simple").is_ok());
    setup.configured(
        "arn",
        "apicurio_avro",
        &[("apicurio.registry.artifact-resolver-strategy", "io.apicurio.registry.serde.strategy.RecordIdStrategy")],
    );
    encode(setup.codec("arn:Simple", "other").as_ref(), &simple());
    assert!(setup.registry.latest("other-value").is_err(), "the record strategy does not use the topic");
    // Without a topic (a topic name extractor), the topic strategy cannot name a subject.
    let no_topic = setup.notations.codec(&ty("avro:Simple"), &Target::default()).expect("codec");
    assert!(no_topic.encode(&simple()).expect_err("no subject").to_string().contains("RecordNameStrategy"));
}

#[test]
fn auto_registration_off_and_latest_version() {
    let mut setup = setup(&[("Simple.avsc", SIMPLE), ("ReadingV1.avsc", V1)]);
    setup.configured("strict", "confluent_avro", &[("auto.register.schemas", "false")]);
    let strict = setup.codec("strict:Simple", "t");
    let e = strict.encode(&simple()).expect_err("not registered");
    assert!(e.to_string().contains("not registered under subject 't-value' and auto-registration is off"), "{e}");
    assert!(strict.register_schema().is_err());
    // Registered by someone else (here: the default avro codec), it is found by content.
    encode(setup.codec("avro:Simple", "t").as_ref(), &simple());
    assert_eq!(encode(strict.as_ref(), &simple()), vec![0, 0, 0, 0, 1, 1]);

    // use.latest.version with auto-registration off: the subject's latest schema writes.
    let v1 = setup.registry.register("u-value", &AvroSchema::parse(V1).expect("v1").registered().clone()).expect("register");
    setup.configured("latest", "confluent_avro", &[("auto.register.schemas", "false"), ("use.latest.version", "true")]);
    let latest = setup.codec("latest:Simple", "u");
    let e = latest.encode(&simple()).expect_err("V1 needs its own fields");
    assert!(e.to_string().contains("field 'id': missing"), "{e}");
    let bytes = encode(
        latest.as_ref(),
        &st(vec![("id", s("i")), ("count", Value::Int(1)), ("legacy", s("l")), ("level", s("LOW")), ("score", Value::Float(1.0))]),
    );
    assert_eq!(bytes[..5], [0, 0, 0, 0, v1 as u8]);
    // Apicurio's find-latest is on by default (KSML), auto-registration off makes it count.
    setup.configured("apl", "apicurio_avro", &[("apicurio.registry.auto-register", "false")]);
    let apl = setup.codec("apl:Simple", "u");
    assert!(apl.encode(&simple()).expect_err("latest is V1").to_string().contains("field 'id'"));
}

// ---- conversions and errors ----------------------------------------------------------------

const KINDS: &str = r#"{"type": "record", "name": "Kinds", "fields": [
  {"name": "i", "type": "int", "default": 0},
  {"name": "l", "type": "long", "default": 0},
  {"name": "f", "type": "float", "default": 0},
  {"name": "d", "type": "double", "default": 0},
  {"name": "s", "type": "string", "default": ""},
  {"name": "b", "type": "boolean", "default": false},
  {"name": "e", "type": {"type": "enum", "name": "E", "symbols": ["A", "B"]}, "default": "A"},
  {"name": "fx", "type": {"type": "fixed", "name": "F2", "size": 2}, "default": "\u0000\u0000"},
  {"name": "dec", "type": {"type": "bytes", "logicalType": "decimal", "precision": 5, "scale": 2}, "default": "\u0000"},
  {"name": "id", "type": {"type": "string", "logicalType": "uuid"}, "default": "00000000-0000-0000-0000-000000000000"},
  {"name": "t", "type": {"type": "int", "logicalType": "time-millis"}, "default": 0},
  {"name": "u", "type": ["null", "int", "string"], "default": null},
  {"name": "m", "type": {"type": "map", "values": {"type": "array", "items": "int"}}, "default": {}}
]}"#;

fn kinds_with(name: &str, value: Value) -> (Arc<dyn Codec>, Result<Value, String>, Schemas) {
    let s = setup(&[("Kinds.avsc", KINDS)]);
    let codec = s.codec("avro:Kinds", "k");
    let result = codec.encode(&st(vec![(name, value)])).map_err(|e| e.to_string()).map(|bytes| {
        let decoded = codec.decode(bytes.as_deref()).expect("decode");
        field(&decoded, name).clone()
    });
    (codec, result, s._schemas)
}

fn converts(name: &str, value: Value, expected: Value) {
    let (_, result, _) = kinds_with(name, value.clone());
    assert_eq!(result, Ok(expected), "{name} <- {value:?}");
}

fn refuses(name: &str, value: Value, message: &str) {
    let (_, result, _) = kinds_with(name, value.clone());
    let e = result.expect_err("refused");
    assert!(e.starts_with("avro notation: cannot encode avro:Kinds: "), "{e}");
    assert!(e.ends_with(message), "{name} <- {value:?}: {e}\nexpected it to end with: {message}");
}

#[test]
fn values_are_brought_to_the_schema_as_ksml_converts_them() {
    converts("i", Value::Long(5), Value::Int(5));
    converts("i", Value::Double(7.9), Value::Int(7));
    converts("i", s("12"), Value::Int(12));
    converts("l", Value::Int(-3), Value::Long(-3));
    converts("l", s("1709200000000"), Value::Long(1_709_200_000_000));
    converts("f", Value::Long(2), Value::Float(2.0));
    converts("d", Value::Float(0.5), Value::Double(0.5));
    converts("d", s("2.5"), Value::Double(2.5));
    converts("s", Value::Long(5), s("5"));
    converts("s", Value::Bool(true), s("true"));
    converts("s", Value::Double(25.0), s("25.0"));
    converts("b", s("TRUE"), Value::Bool(true));
    converts("e", s("B"), Value::Enum("B".into()));
    converts("dec", s("1.5"), s("1.50"));
    converts("dec", Value::Long(-7), s("-7.00"));
    converts("u", Value::Long(3), Value::Int(3));
    converts("u", s("x"), s("x"));
    converts("u", Value::Bool(false), s("false"));
    converts("m", st(vec![("a", Value::List(vec![Value::Long(1)]))]), st(vec![("a", Value::List(vec![Value::Int(1)]))]));
    // Missing fields take their defaults.
    let (codec, _, _schemas) = kinds_with("i", Value::Int(0));
    let defaults = codec.decode(Some(&encode(codec.as_ref(), &st(vec![])))).expect("defaults");
    assert_eq!(field(&defaults, "fx"), &Value::Bytes(vec![0, 0]));
    assert_eq!(field(&defaults, "dec"), &s("0.00"));
    assert_eq!(field(&defaults, "e"), &Value::Enum("A".into()));
    assert_eq!(field(&defaults, "m"), &st(vec![]));
}

#[test]
fn wrong_values_are_errors_naming_the_field() {
    refuses("i", Value::Long(1 << 40), "field 'i': 1099511627776 is out of range for int");
    refuses("i", s("x"), "field 'i': expected int, found string \"x\"");
    refuses("s", Value::List(vec![Value::Long(1), Value::Long(2)]), "field 's': expected string, found list of 2 elements");
    refuses("s", Value::Null, "field 's': expected string, found null");
    refuses("e", s("C"), "field 'e': \"C\" is not a symbol of enum E (A, B)");
    refuses("fx", Value::Bytes(vec![1, 2, 3]), "field 'fx': expected fixed F2 (2 bytes), found 3 bytes");
    refuses("dec", s("1.234"), "field 'dec': decimal \"1.234\" has more fraction digits than the schema's scale of 2");
    refuses("dec", s("1234.5"), "field 'dec': decimal \"1234.5\" needs 6 digits of precision, but the schema allows only 5");
    refuses("id", s("not-a-uuid"), "field 'id': \"not-a-uuid\" is not a valid uuid");
    refuses("t", Value::Long(86_400_000), "field 't': 86400000 is out of range for time-millis (0..=86399999)");
    refuses("u", Value::Bytes(vec![1]), "field 'u': expected one of [null, int, string], found bytes (1 bytes)");
    refuses("m", st(vec![("a", Value::List(vec![s("x")]))]), "field 'm.a[0]': expected int, found string \"x\"");
    refuses("b", Value::Long(1), "field 'b': expected boolean, found long 1");
    let s = setup(&[("Kinds.avsc", KINDS)]);
    let e = s.codec("avro:Kinds", "k").encode(&Value::List(vec![])).expect_err("not a record");
    assert_eq!(e.to_string(), "avro notation: cannot encode avro:Kinds: expected record Kinds, found list of 0 elements");
}

#[test]
fn types_other_than_records_and_missing_schemas_are_refused() {
    let setup =
        setup(&[("Simple.avsc", SIMPLE), ("Broken.avsc", r#"{"type": "record", "name": "B", "fields": [{"name": "x", "type": "nope"}]}"#)]);
    for t in ["avro:string", "avro:[string]", "avro:map(long)", "confluent_avro:int", "apicurio_avro:(string, int)"] {
        let e = setup.notations.codec(&ty(t), &target("t")).expect_err(t);
        assert!(e.contains("does not allow data type") && e.contains("Avro values are records"), "{t}: {e}");
    }
    let e = setup.notations.codec(&ty("avro:Missing"), &target("t")).expect_err("missing");
    assert!(e.contains("schema 'Missing' not found"), "{e}");
    let e = setup.notations.codec(&ty("avro:Broken"), &target("t")).expect_err("broken");
    assert!(e.contains("Broken.avsc") && e.contains("not a valid Avro schema"), "{e}");
    // avro:struct is the bare notation's type.
    setup.notations.codec(&ty("avro:struct"), &target("t")).expect("avro:struct");
}

#[test]
fn decode_errors_name_the_schema_and_the_problem() {
    let setup = setup(&[("Kinds.avsc", KINDS), ("Simple.avsc", SIMPLE)]);
    let codec = setup.codec("avro:Kinds", "k");
    let good = encode(codec.as_ref(), &st(vec![]));
    let e = codec.decode(Some(&good[..good.len() - 1])).expect_err("truncated");
    assert!(
        e.to_string().starts_with("avro notation: cannot decode avro:Kinds: writer schema 1 (Kinds): field 'm': the record ends too early"),
        "{e}"
    );
    let mut longer = good.clone();
    longer.push(0);
    assert!(
        codec
            .decode(Some(&longer))
            .expect_err("longer")
            .to_string()
            .ends_with("1 bytes are left after the value (the record is longer than its schema says)")
    );
    let e = codec.decode(Some(&[0, 0, 0, 0, 9, 0])).expect_err("unknown id");
    assert!(e.to_string().contains("cannot fetch the writer's schema 9"), "{e}");
    let e = codec.decode(Some(b"{\"a\": 1}")).expect_err("json");
    assert!(e.to_string().contains("unknown magic byte 0x7b"), "{e}");
    // A record of another schema cannot be read as Kinds' enum.
    setup
        .registry
        .register(
            "x",
            &RegistrySchema::new(SchemaKind::Avro, r#"{"type":"record","name":"Kinds","fields":[{"name":"e","type":"string"}]}"#),
        )
        .expect("register");
    let e = codec.decode(Some(&[0, 0, 0, 0, 2, 2, b'A'])).expect_err("string as enum");
    assert!(e.to_string().contains("field 'e': the writer's string cannot be read as the reader's enum E"), "{e}");
    setup.registry.register("x", &RegistrySchema::new(SchemaKind::Json, "{}")).expect("register");
    let e = codec.decode(Some(&[0, 0, 0, 0, 3, 0])).expect_err("json schema");
    assert!(e.to_string().contains("it is a JSON schema, not an Avro one"), "{e}");
}

// ---- hostile bytes -------------------------------------------------------------------------

#[test]
fn random_and_mutated_bytes_never_panic() {
    let setup = setup(&[("AllTypes.avsc", ALL_TYPES), ("MoreTypes.avsc", MORE_TYPES), ("Kinds.avsc", KINDS)]);
    let apache = Schema::parse_str(ALL_TYPES).expect("parse");
    let mut names = IndexMap::new();
    names_of(&apache, &mut names);
    let codecs =
        [setup.codec("avro:AllTypes", "a"), setup.codec("avro:MoreTypes", "m"), setup.codec("avro:Kinds", "k"), setup.codec("avro", "a")];
    let mut rng = Rng::new(0xa7_0002);
    let mut seeds: Vec<Vec<u8>> = vec![encode(codecs[0].as_ref(), &all_types_value()), encode(codecs[2].as_ref(), &st(vec![]))];
    for _ in 0..20 {
        seeds.push(encode(codecs[0].as_ref(), &random_value(&mut rng, &apache, &names, 0)));
    }
    let more = st(vec![
        ("fdec", Value::Bytes(vec![0; 8])),
        ("fuuid", Value::Bytes(vec![0; 16])),
        ("neg", s("1")),
        ("list", st(vec![("v", Value::Int(1))])),
    ]);
    seeds.push(encode(codecs[1].as_ref(), &more));
    let mut decoded = 0;
    for round in 0..30_000 {
        let bytes = if round % 3 == 0 {
            let mut b = vec![0, 0, 0, 0, 1 + rng.below(3) as u8];
            let max = if rng.chance(4) { 200 } else { 16 };
            b.extend(rng.bytes(max));
            b
        } else {
            let mut b = seeds[rng.below(seeds.len())].clone();
            for _ in 0..=rng.below(4) {
                let at = rng.below(b.len() + 1);
                match rng.below(5) {
                    0 if at < b.len() => b[at] = rng.next() as u8,
                    1 if at < b.len() => b[at] ^= 1 << rng.below(8),
                    2 if at < b.len() => {
                        b.remove(at);
                    }
                    3 => b.insert(at, [0x00, 0x01, 0x02, 0x7f, 0x80, 0xff][rng.below(6)]),
                    _ => b.truncate(at.max(5)),
                }
            }
            b
        };
        for codec in &codecs {
            if let Ok(value) = codec.decode(Some(&bytes)) {
                decoded += 1;
                // Encoding what was decoded does not panic either (it may fail: a mutated
                // record can hold a time of day out of range, which is refused on write).
                let _ = codec.encode(&value);
            }
        }
    }
    assert!(decoded > 1000, "mutations should often still decode: {decoded}");
    // Any value at all: written or refused, never a panic.
    for _ in 0..5_000 {
        let value = match rng.below(3) {
            0 => rng.value(4, false),
            1 => st(vec![("rec", rng.value(3, false)), ("u", rng.value(2, false)), ("nested", rng.value(3, false))]),
            _ => st(vec![("i", rng.value(1, false)), ("dec", rng.value(1, false)), ("e", rng.value(1, false)), ("m", rng.value(3, false))]),
        };
        for codec in &codecs[..3] {
            let _ = codec.encode(&value);
        }
    }
}

/// A recursive schema and bytes that claim a list nested a million deep, or a block of 2^62
/// nulls: errors, not a stack overflow or a hang.
#[test]
fn deep_nesting_and_huge_counts_are_bounded() {
    let list = r#"{"type": "record", "name": "L", "fields": [{"name": "next", "type": ["null", "L"]}]}"#;
    let nulls = r#"{"type": "record", "name": "N", "fields": [{"name": "xs", "type": {"type": "array", "items": "null"}}]}"#;
    let setup = setup(&[("L.avsc", list), ("N.avsc", nulls)]);
    let l = setup.codec("avro:L", "l");
    let n = setup.codec("avro:N", "n");
    let mut deep = vec![0, 0, 0, 0, 1];
    encode(l.as_ref(), &st(vec![("next", Value::Null)]));
    deep.extend(std::iter::repeat_n(2u8, 1_000_000));
    deep.push(0);
    let e = l.decode(Some(&deep)).expect_err("too deep");
    assert!(e.to_string().contains("nests deeper than 128 levels"), "{e}");
    encode(n.as_ref(), &st(vec![("xs", Value::List(vec![]))]));
    let mut huge = vec![0, 0, 0, 0, 2];
    huge.extend([0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0]);
    let e = n.decode(Some(&huge)).expect_err("huge count");
    assert!(e.to_string().contains("more than a record of 10 bytes can hold"), "{e}");
    let mut value = Value::Null;
    for _ in 0..200 {
        value = st(vec![("next", value)]);
    }
    assert!(l.encode(&value).expect_err("too deep").to_string().contains("nests deeper than 128 levels"));
}

// ---- interop with the reference Python implementations --------------------------------------

fn run_python(python: &Path, code: &str, input: &Json) -> Json {
    let mut child = Command::new(python)
        .args(["-W", "ignore", "-c", code])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python runs");
    // A Python that fails early stops reading: its stderr says why, below.
    let _ = child.stdin.take().expect("stdin").write_all(input.to_string().as_bytes());
    let out = child.wait_with_output().expect("python finishes");
    assert!(out.status.success(), "python failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex")).collect()
}

/// A value as JSON for Python (bytes as `{"$bytes": hex}`); `micros` lists the fields whose
/// millisecond or day values Python reads as datetimes, normalized to microseconds.
fn py_json(value: &Value) -> Json {
    match value {
        Value::Null => Json::Null,
        Value::Bool(b) => json!(b),
        Value::Byte(n) => json!(n),
        Value::Short(n) => json!(n),
        Value::Int(n) => json!(n),
        Value::Long(n) => json!(n),
        Value::Float(x) => json!(f64::from(*x)),
        Value::Double(x) => json!(x),
        Value::String(t) | Value::Enum(t) => json!(t),
        Value::Bytes(b) => json!({"$bytes": hex(b)}),
        Value::List(items) | Value::Tuple(items) => Json::Array(items.iter().map(py_json).collect()),
        Value::Struct(fields) => Json::Object(fields.iter().map(|(k, v)| (k.clone(), py_json(v))).collect()),
    }
}

/// What Python's readers give for a record of ALL_TYPES, normalized by the script: times and
/// timestamps in microseconds.
fn as_python_reads(value: &Value) -> Json {
    let mut j = py_json(value);
    for (name, factor) in [("time_ms", 1000), ("ts_ms", 1000), ("lts_ms", 1000)] {
        let n = j[name].as_i64().expect("a number");
        j[name] = json!(n * factor);
    }
    j
}

const INTEROP: &str = r#"
import io, json, sys, decimal, uuid, datetime
import fastavro
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import SerializationContext, MessageField

job = json.load(sys.stdin)
client = SchemaRegistryClient.new_client({"url": "mock://weir"})  # the in-memory mock
# Registered in Weir's order, so that an id means the same schema on both sides.
for subject, text, expected_id in job["schemas"]:
    got = client.register_schema(subject, Schema(text, "AVRO"))
    assert got == expected_id, (subject, got, expected_id)
ctx = SerializationContext(job["topic"], MessageField.VALUE)
schema_text = job["schemas"][0][1]
parsed = fastavro.parse_schema(json.loads(schema_text))
deserializer = AvroDeserializer(client)
serializer = AvroSerializer(client, schema_text, conf={"auto.register.schemas": False, "use.latest.version": False})
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
MICRO = datetime.timedelta(microseconds=1)

def norm(v):
    if isinstance(v, dict):
        return {k: norm(x) for k, x in v.items()}
    if isinstance(v, list):
        return [norm(x) for x in v]
    if isinstance(v, bytes):
        return {"$bytes": v.hex()}
    if isinstance(v, decimal.Decimal):
        return format(v, "f")
    if isinstance(v, uuid.UUID):
        return str(v)
    if isinstance(v, datetime.datetime):
        if v.tzinfo is None:
            v = v.replace(tzinfo=datetime.timezone.utc)
        return (v - EPOCH) // MICRO
    if isinstance(v, datetime.date):
        return (v - datetime.date(1970, 1, 1)).days
    if isinstance(v, datetime.time):
        return ((v.hour * 60 + v.minute) * 60 + v.second) * 1000000 + v.microsecond
    return v

def denorm(v, key=None):
    if isinstance(v, dict) and list(v) == ["$bytes"]:
        return bytes.fromhex(v["$bytes"])
    if isinstance(v, dict):
        return {k: denorm(x, k) for k, x in v.items()}
    if isinstance(v, list):
        return [denorm(x) for x in v]
    if key == "dec":
        return decimal.Decimal(v)
    return v

out = {"fastavro": [], "confluent": [], "fastavro_bytes": [], "confluent_bytes": [], "native": []}
for record in job["records"]:
    data = bytes.fromhex(record)
    assert data[0] == 0 and int.from_bytes(data[1:5], "big") == job["schemas"][0][2]
    out["fastavro"].append(norm(fastavro.schemaless_reader(io.BytesIO(data[5:]), parsed, None)))
    out["confluent"].append(norm(deserializer(data, ctx)))
for value in job["values"]:
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, parsed, denorm(value))
    out["fastavro_bytes"].append((b"\x00" + job["schemas"][0][2].to_bytes(4, "big") + buf.getvalue()).hex())
    out["confluent_bytes"].append(serializer(denorm(value), ctx).hex())
# Python's own objects: datetimes, dates, times, Decimal, UUID.
inner = {"x": 5, "tags": ["p"]}
native = {
    "n": None, "b": False, "i": 2**31 - 1, "l": -2**63, "f": 0.25, "d": 1e300, "by": b"\x00\xff", "s": "py ✓",
    "fx": b"abcd", "e": "BLUE", "arr": [], "m": {"k": "v"}, "rec": inner, "opt": None, "u": "text",
    "uuid": uuid.UUID("00112233-4455-6677-8899-aabbccddeeff"), "dec": decimal.Decimal("-0.001"),
    "date": datetime.date(2024, 2, 29), "time_ms": datetime.time(23, 59, 59, 999000), "time_us": datetime.time(0, 0, 0, 1),
    "ts_ms": datetime.datetime(2024, 1, 1, 12, 0, 0, 123000, tzinfo=datetime.timezone.utc),
    "ts_us": datetime.datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=datetime.timezone.utc),
    "lts_ms": datetime.datetime(2000, 1, 1), "lts_us": datetime.datetime(2000, 1, 1, 0, 0, 0, 1),
    "nested": [{"a": None, "b": inner}],
}
out["native"].append(serializer(native, ctx).hex())
# Schema evolution across implementations: Python writes with the old schema.
old = job["schemas"][1]
old_serializer = AvroSerializer(client, old[1], conf={"auto.register.schemas": False, "use.latest.version": False})
out["old"] = old_serializer({"id": "py", "count": 7, "legacy": "gone", "level": "EXTREME", "score": 1.5}, SerializationContext(job["topic2"], MessageField.VALUE)).hex()
json.dump(out, sys.stdout)
"#;

#[test]
fn fastavro_and_confluent_kafka_read_what_weir_writes_and_the_reverse() {
    let python = notation_support::reference_python();
    let setup = setup(&[("AllTypes.avsc", ALL_TYPES), ("ReadingV1.avsc", V1), ("ReadingV2.avsc", V2)]);
    let codec = setup.codec("avro:AllTypes", "interop");
    let apache = Schema::parse_str(ALL_TYPES).expect("parse");
    let mut names = IndexMap::new();
    names_of(&apache, &mut names);
    let mut rng = Rng::new(0xa7_0003);
    let mut values = vec![all_types_value()];
    values.extend((0..60).map(|_| random_value(&mut rng, &apache, &names, 0)));
    let records: Vec<Vec<u8>> = values.iter().map(|v| encode(codec.as_ref(), v)).collect();
    // The old schema of another topic, registered second on both sides.
    let old = setup.codec("avro:ReadingV1", "readings");
    old.register_schema().expect("register V1");
    let new = setup.codec("avro:ReadingV2", "readings");
    let text = |id: u32| setup.registry.by_id(id).expect("schema").text;
    let job = json!({
        "topic": "interop",
        "topic2": "readings",
        "schemas": [["interop-value", text(1), 1], ["readings-value", text(2), 2]],
        "records": records.iter().map(|r| hex(r)).collect::<Vec<_>>(),
        "values": values.iter().map(py_json).collect::<Vec<_>>(),
    });
    let out = run_python(&python, INTEROP, &job);

    for (i, value) in values.iter().enumerate() {
        let expected = as_python_reads(value);
        assert_eq!(out["fastavro"][i], expected, "fastavro reads record {i}");
        assert_eq!(out["confluent"][i], expected, "confluent-kafka's AvroDeserializer reads record {i}");
        // The same values written by Python are the same bytes, header included.
        assert_eq!(out["fastavro_bytes"][i], json!(hex(&records[i])), "fastavro writes record {i} as Weir does");
        assert_eq!(out["confluent_bytes"][i], json!(hex(&records[i])), "AvroSerializer writes record {i} as Weir does");
    }
    let native = codec.decode(Some(&unhex(out["native"][0].as_str().expect("hex")))).expect("Weir reads Python's record");
    let inner = st(vec![("x", Value::Int(5)), ("tags", Value::List(vec![s("p")]))]);
    assert_eq!(
        native,
        st(vec![
            ("n", Value::Null),
            ("b", Value::Bool(false)),
            ("i", Value::Int(i32::MAX)),
            ("l", Value::Long(i64::MIN)),
            ("f", Value::Float(0.25)),
            ("d", Value::Double(1e300)),
            ("by", Value::Bytes(vec![0, 255])),
            ("s", s("py ✓")),
            ("fx", Value::Bytes(b"abcd".to_vec())),
            ("e", Value::Enum("BLUE".into())),
            ("arr", Value::List(vec![])),
            ("m", st(vec![("k", s("v"))])),
            ("rec", inner.clone()),
            ("opt", Value::Null),
            ("u", s("text")),
            ("uuid", s("00112233-4455-6677-8899-aabbccddeeff")),
            ("dec", s("-0.001")),
            ("date", Value::Int(19_782)),
            ("time_ms", Value::Int(86_399_999)),
            ("time_us", Value::Long(1)),
            ("ts_ms", Value::Long(1_704_110_400_123)),
            ("ts_us", Value::Long(-1)),
            ("lts_ms", Value::Long(946_684_800_000)),
            ("lts_us", Value::Long(946_684_800_000_001)),
            ("nested", Value::List(vec![st(vec![("a", Value::Null), ("b", inner)])])),
        ])
    );
    let evolved = new.decode(Some(&unhex(out["old"].as_str().expect("hex")))).expect("Weir resolves Python's old record");
    assert_eq!(
        evolved,
        st(vec![
            ("id", s("py")),
            ("unit", s("celsius")),
            ("count", Value::Long(7)),
            ("level", Value::Enum("HIGH".into())),
            ("score", Value::Double(1.5)),
            ("tags", Value::List(vec![s("new")])),
        ])
    );
}
