//! The `jsonschema` notation: registry framing byte for byte, round trips of values the schema
//! accepts, validation failures that name the path, the expected and the found, hostile
//! bytes, and interop with Confluent's Python serializers (`confluent-kafka`).

mod notation_support;

use std::path::PathBuf;

use std::sync::Arc;

use indexmap::IndexMap;
use notation_support::{Rng, hex, json_normal, record, s, same, target, ty, unhex};
use weir_engine::Value;
use weir_engine::notation::{Codec, Notations, Target};
use weir_engine::registry::{MemoryRegistry, RegistrySchema, SchemaKind, SchemaRegistry};

const SENSOR: &str = r#"{
  "$schema": "http://json-schema.org/draft-07/schema#",
  "title": "SensorData",
  "type": "object",
  "properties": {
    "name": { "type": "string", "minLength": 1 },
    "timestamp": { "type": "integer" },
    "value": { "type": "number" },
    "ok": { "type": "boolean" },
    "type": { "type": "string", "enum": ["AREA", "HUMIDITY", "LENGTH", "STATE", "TEMPERATURE"] },
    "id": { "type": "string", "format": "uuid" },
    "tags": { "type": "array", "items": { "type": "string" } },
    "location": {
      "type": "object",
      "properties": { "lat": { "type": "number", "minimum": -90, "maximum": 90 }, "lon": { "type": "number" } },
      "required": ["lat", "lon"]
    },
    "owner": { "type": ["string", "null"] },
    "blob": { "type": "string" }
  },
  "required": ["name", "timestamp"]
}"#;

/// A stricter schema another producer might have written with.
const STRICT: &str =
    r#"{"title": "Strict", "type": "object", "properties": {"name": {"type": "string", "maxLength": 3}}, "required": ["name"]}"#;

struct Setup {
    dir: PathBuf,
    registry: Arc<MemoryRegistry>,
}

impl Setup {
    fn new(tag: &str) -> Setup {
        let dir = std::env::temp_dir().join(format!("weir-jsonschema-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        std::fs::write(dir.join("SensorData.json"), SENSOR).expect("write schema");
        std::fs::write(dir.join("Strict.json"), STRICT).expect("write schema");
        Setup { dir, registry: Arc::new(MemoryRegistry::new()) }
    }

    fn notations(&self, config: &[(&str, &str)]) -> Notations {
        let mut n = Notations::builtin().with_schema_directory(Some(self.dir.clone())).with_default_registry(self.registry.clone());
        let config: IndexMap<String, String> = config.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        n.configure("jsonschema", "apicurio_jsonschema", None, config).expect("configure");
        n
    }

    fn codec(&self, text: &str, topic: &str, config: &[(&str, &str)]) -> Result<Arc<dyn Codec>, String> {
        self.notations(config).codec(&ty(text), &target(topic))
    }

    fn sensor(&self) -> Arc<dyn Codec> {
        self.codec("jsonschema:SensorData", "sensors", &[]).expect("codec")
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A random record the schema accepts, with Weir values of every width (Int, Float, Bytes…).
fn sensor_value(rng: &mut Rng) -> Value {
    let mut fields = IndexMap::new();
    let name = rng.string();
    fields.insert("name".to_string(), s(&format!("s{name}")));
    fields.insert("timestamp".to_string(), if rng.chance(2) { Value::Long(rng.int()) } else { Value::Int(rng.next() as i32) });
    if rng.chance(2) {
        fields.insert("value".to_string(), if rng.chance(2) { Value::Double(rng.double(true)) } else { Value::Float(rng.float(true)) });
    }
    if rng.chance(2) {
        fields.insert("ok".to_string(), Value::Bool(rng.chance(2)));
    }
    if rng.chance(2) {
        let symbols = ["AREA", "HUMIDITY", "LENGTH", "STATE", "TEMPERATURE"];
        let symbol = symbols[rng.below(symbols.len())].to_string();
        fields.insert("type".to_string(), if rng.chance(2) { Value::Enum(symbol) } else { Value::String(symbol) });
    }
    if rng.chance(2) {
        let n = rng.next();
        let uuid =
            format!("{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}", n >> 32, n & 0xffff, rng.below(0xfff), rng.below(0xfff), rng.next() >> 16);
        fields.insert("id".to_string(), s(&uuid));
    }
    if rng.chance(2) {
        fields.insert("tags".to_string(), Value::List((0..rng.below(4)).map(|_| s(&rng.string())).collect()));
    }
    if rng.chance(2) {
        let lat = (rng.below(18000) as f64) / 100.0 - 90.0;
        fields.insert("location".to_string(), record(&[("lat", Value::Double(lat)), ("lon", Value::Double(rng.double(true)))]));
    }
    if rng.chance(2) {
        fields.insert("owner".to_string(), if rng.chance(2) { Value::Null } else { s(&rng.string()) });
    }
    if rng.chance(3) {
        fields.insert("blob".to_string(), Value::Bytes(rng.bytes(12)));
    }
    Value::Struct(fields)
}

#[test]
fn values_the_schema_accepts_round_trip() {
    let setup = Setup::new("roundtrip");
    let codec = setup.sensor();
    let mut rng = Rng::new(0x5eed_0301);
    for _ in 0..2_000 {
        let value = sensor_value(&mut rng);
        let bytes = codec.encode(&value).unwrap_or_else(|e| panic!("{value:?}: {e}")).expect("bytes");
        let back = codec.decode(Some(&bytes)).unwrap_or_else(|e| panic!("{value:?}: {e}"));
        assert!(same(&back, &json_normal(&value)), "{value:?} came back as {back:?}");
    }
    assert_eq!(codec.decode(None).expect("null"), Value::Null);
    assert_eq!(codec.encode(&Value::Null).expect("null"), None);
}

#[test]
fn framing_is_magic_byte_then_id_then_json() {
    let setup = Setup::new("framing");
    let value = record(&[("name", s("a")), ("timestamp", Value::Long(5))]);
    let bytes = setup.sensor().encode(&value).expect("encode").expect("bytes");
    assert_eq!(bytes, b"\x00\x00\x00\x00\x01{\"name\":\"a\",\"timestamp\":5}");
    // The schema is registered as the file's text, kind JSON, under <topic>-value.
    let (id, schema) = setup.registry.latest("sensors-value").expect("registered");
    assert_eq!((id, schema), (1, RegistrySchema::new(SchemaKind::Json, SENSOR)));

    // Another schema gets the next id; a key codec registers under <topic>-key.
    let strict = setup.codec("jsonschema:Strict", "other", &[]).expect("codec");
    assert_eq!(&strict.encode(&record(&[("name", s("x"))])).expect("encode").expect("bytes")[..5], [0, 0, 0, 0, 2]);
    let key = setup.notations(&[]).codec(&ty("jsonschema:SensorData"), &Target { topic: Some("k".into()), is_key: true }).expect("codec");
    key.encode(&value).expect("encode");
    assert_eq!(setup.registry.latest("k-key").expect("key subject").0, 1, "same schema, same id");

    // Apicurio's legacy 8-byte global id.
    let wide = setup.codec(
        "jsonschema:SensorData",
        "sensors",
        &[("apicurio.registry.id-handler", "io.apicurio.registry.serde.Legacy8ByteIdHandler")],
    );
    let bytes = wide.expect("codec").encode(&value).expect("encode").expect("bytes");
    assert_eq!(&bytes[..9], [0, 0, 0, 0, 0, 0, 0, 0, 1]);
    assert_eq!(&bytes[9..], b"{\"name\":\"a\",\"timestamp\":5}");

    // Record name strategy: the schema's title.
    let by_name = setup.codec(
        "jsonschema:SensorData",
        "x",
        &[("value.subject.name.strategy", "io.confluent.kafka.serializers.subject.RecordNameStrategy")],
    );
    by_name.expect("codec").encode(&value).expect("encode");
    assert_eq!(setup.registry.latest("SensorData").expect("title subject").0, 1);
}

#[test]
fn writing_refuses_values_the_schema_refuses_and_names_where() {
    let setup = Setup::new("invalid");
    let codec = setup.sensor();
    let cases: Vec<(Value, &[&str])> = vec![
        (record(&[("name", Value::Long(5)), ("timestamp", Value::Long(1))]), &["at /name", "5 is not of type \"string\""]),
        (record(&[("name", s("a"))]), &["at / (the whole value)", "\"timestamp\" is a required property"]),
        (record(&[("name", s("a")), ("timestamp", Value::Double(1.5))]), &["at /timestamp", "1.5 is not of type \"integer\""]),
        (
            record(&[
                ("name", s("a")),
                ("timestamp", Value::Long(1)),
                ("location", record(&[("lat", Value::Double(91.0)), ("lon", Value::Long(0))])),
            ]),
            &["at /location/lat", "91.0 is greater than the maximum of 90"],
        ),
        (
            record(&[("name", s("a")), ("timestamp", Value::Long(1)), ("tags", Value::List(vec![s("x"), Value::Bool(true)]))]),
            &["at /tags/1", "true is not of type \"string\""],
        ),
        (
            record(&[("name", s("a")), ("timestamp", Value::Long(1)), ("type", Value::Enum("WIND".into()))]),
            &["at /type", "\"WIND\" is not one of"],
        ),
        (
            record(&[("name", s("a")), ("timestamp", Value::Long(1)), ("id", s("not-a-uuid"))]),
            &["at /id", "\"not-a-uuid\" is not a \"uuid\""],
        ),
        (record(&[("name", s("")), ("timestamp", Value::Long(1))]), &["at /name", "shorter than 1 character"]),
        (Value::List(vec![Value::Long(1)]), &["at / (the whole value)", "is not of type \"object\""]),
    ];
    for (value, wanted) in cases {
        let e = codec.encode(&value).expect_err("invalid value");
        let text = e.to_string();
        assert!(
            text.starts_with("jsonschema notation: cannot encode jsonschema:SensorData: value does not match schema 'SensorData': "),
            "{text}"
        );
        for w in wanted {
            assert!(text.contains(w), "{value:?}: '{text}' does not say '{w}'");
        }
    }
    // Several failures are all listed, up to three.
    let e = codec
        .encode(&record(&[("name", Value::Long(1)), ("timestamp", s("x")), ("ok", Value::Long(1)), ("tags", Value::Long(1))]))
        .expect_err("four");
    assert!(e.found.contains("; and 1 more"), "{e}");
    // A value JSON cannot hold.
    let e = codec.encode(&record(&[("name", s("a")), ("timestamp", Value::Long(1)), ("value", Value::Double(f64::NAN))])).expect_err("NaN");
    assert!(e.to_string().contains("JSON has no NaN"), "{e}");
    // Validation off writes what the schema refuses.
    let lax = setup.codec("jsonschema:SensorData", "sensors", &[("apicurio.registry.serde.validation-enabled", "false")]).expect("codec");
    assert!(lax.encode(&record(&[("name", Value::Long(5))])).expect("no validation").is_some());
}

#[test]
fn reading_validates_against_the_writers_schema() {
    let setup = Setup::new("reader");
    let codec = setup.sensor();
    // Records written with the stricter schema (id 1) are checked against it, not against ours.
    let strict_id = setup.registry.register("sensors-value", &RegistrySchema::new(SchemaKind::Json, STRICT)).expect("register");
    let framed = |id: u32, json: &str| {
        let mut b = vec![0];
        b.extend_from_slice(&id.to_be_bytes());
        b.extend_from_slice(json.as_bytes());
        b
    };
    let ok = codec.decode(Some(&framed(strict_id, r#"{"name":"abc"}"#))).expect("valid for the writer");
    assert_eq!(ok, record(&[("name", s("abc"))]));
    let e = codec.decode(Some(&framed(strict_id, r#"{"name":"abcd","timestamp":1}"#))).expect_err("too long for the writer");
    assert_eq!(e.notation, "jsonschema");
    assert!(
        e.found.contains(&format!(
            "value does not match the writer's schema (id {strict_id}): at /name: \"abcd\" is longer than 3 characters"
        )),
        "{e}"
    );

    // Our own records read back; key order, numbers and nulls as the JSON has them.
    let own =
        codec.encode(&record(&[("timestamp", Value::Long(2)), ("name", s("n")), ("owner", Value::Null)])).expect("encode").expect("bytes");
    assert_eq!(
        codec.decode(Some(&own)).expect("decode"),
        record(&[("timestamp", Value::Long(2)), ("name", s("n")), ("owner", Value::Null)])
    );

    // Without validation the reader takes what the JSON holds.
    let lax = setup.codec("jsonschema:SensorData", "sensors", &[("apicurio.registry.serde.validation-enabled", "false")]).expect("codec");
    assert_eq!(lax.decode(Some(&framed(strict_id, r#"{"name":"abcd"}"#))).expect("lax"), record(&[("name", s("abcd"))]));
    let e = lax.decode(Some(&framed(strict_id, "[1,]"))).expect_err("invalid JSON");
    assert_eq!(e.notation, "jsonschema");
    assert!(
        e.found.starts_with("invalid JSON at byte 3 (line 1, column 4)")
            && e.found.ends_with("(in the JSON after the 5-byte registry header)"),
        "{e}"
    );

    // Damage is named.
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"{\"name\":\"a\"}".to_vec(), "unknown magic byte 0x7b"),
        (vec![0, 0, 1], "too short for the 4-byte schema id"),
        (
            framed(strict_id, "{\"name\" \"a\"}"),
            "invalid JSON at byte 8 (line 1, column 9): expected ':' (in the JSON after the 5-byte registry header)",
        ),
        (framed(99, "{}"), "cannot fetch the writer's schema 99"),
    ];
    for (bytes, wanted) in cases {
        let e = codec.decode(Some(&bytes)).expect_err("damaged");
        assert!(e.to_string().contains(wanted), "{bytes:?}: '{e}' does not say '{wanted}'");
    }
    let avro = setup.registry.register("x", &RegistrySchema::new(SchemaKind::Avro, "\"int\"")).expect("register");
    let e = codec.decode(Some(&framed(avro, "{}"))).expect_err("avro id");
    assert!(e.found.contains("is not usable: it is a AVRO schema, not a JSON Schema"), "{e}");
}

#[test]
fn codecs_are_refused_with_a_reason() {
    let setup = Setup::new("refused");
    std::fs::write(setup.dir.join("Broken.json"), "{\"type\": ").expect("write");
    std::fs::write(setup.dir.join("Wrong.json"), "{\"type\": 12}").expect("write");
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a str);
    let cases: Vec<Case> = vec![
        ("jsonschema", vec![], "notation 'jsonschema' requires a schema: write 'jsonschema:<SchemaName>'"),
        ("jsonschema:Missing", vec![], "schema 'Missing' not found"),
        ("jsonschema:Broken", vec![], "the schema is not valid JSON"),
        ("jsonschema:Wrong", vec![], "the schema is not a valid JSON Schema"),
        ("jsonschema:SensorData", vec![("apicurio.registry.headers.enabled", "true")], "Kafka headers"),
        ("jsonschema:SensorData", vec![("weir.framing", "kafka")], "'weir.framing' must be 'apicurio' or 'confluent'"),
        ("jsonschema:SensorData", vec![("apicurio.registry.serde.validation-enabled", "yes")], "must be true or false"),
        ("jsonschema:SensorData", vec![("apicurio.registry.id-handler", "Nope")], "unknown 'apicurio.registry.id-handler'"),
    ];
    for (text, config, wanted) in cases {
        let e = setup.codec(text, "t", &config).expect_err(text);
        assert!(e.contains(wanted), "{text}: '{e}' does not say '{wanted}'");
    }
    // Namespaced names find the file by their last segment, as KSML looks schemas up.
    assert!(setup.codec("jsonschema:io.axual.SensorData", "t", &[]).is_ok());
    assert!(setup.codec("jsonschema:SensorData", "t", &[("weir.framing", "confluent")]).is_ok());
    // Without a topic, the topic strategy cannot name a subject: encoding says why.
    let codec = setup.notations(&[]).codec(&ty("jsonschema:SensorData"), &Target::default()).expect("codec");
    let e = codec.encode(&record(&[("name", s("a")), ("timestamp", Value::Long(1))])).expect_err("no subject");
    assert!(e.found.contains("RecordNameStrategy"), "{e}");
}

#[test]
fn hostile_bytes_never_panic() {
    let setup = Setup::new("fuzz");
    let codec = setup.sensor();
    let mut rng = Rng::new(0x5eed_0302);
    let mut seeds: Vec<Vec<u8>> = (0..20).map(|_| codec.encode(&sensor_value(&mut rng)).expect("encode").expect("bytes")).collect();
    seeds.push(b"\x00\x00\x00\x00\x01[1, {\"a\": \"\\ud83d\\ude00\"}, 1e400, -0]".to_vec());
    let mut decoded = 0;
    for round in 0..20_000 {
        let bytes = match round % 3 {
            0 => rng.bytes(40),
            1 => {
                let mut b = seeds[rng.below(seeds.len())].clone();
                for _ in 0..=rng.below(4) {
                    if b.is_empty() {
                        break;
                    }
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
            _ => {
                let mut b = vec![0, 0, 0, 0, 1];
                b.extend(rng.bytes(30));
                b
            }
        };
        if let Ok(value) = codec.decode(Some(&bytes)) {
            decoded += 1;
            // What passed the writer's (our own) schema is written again.
            codec.encode(&value).unwrap_or_else(|e| panic!("decoded {value:?} from {bytes:?} but cannot encode it: {e}"));
        }
    }
    assert!(decoded > 100, "mutations of valid records decode often ({decoded})");
}

// ---------------------------------------------------------------------------------------------
// Interop with Confluent's Python serializers

fn python(code: &str, input: &[u8]) -> String {
    String::from_utf8(notation_support::run_python(&notation_support::reference_python(), code, input)).expect("utf-8")
}

const PY_PRELUDE: &str = r#"
import json, sys
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.json_schema import JSONSerializer, JSONDeserializer
from confluent_kafka.serialization import SerializationContext, MessageField
ctx = SerializationContext("sensors", MessageField.VALUE)
lines = sys.stdin.read().split("\n")
schema = json.loads(lines[0])
"#;

#[test]
fn confluents_python_deserializer_reads_what_we_write() {
    let setup = Setup::new("py-read");
    let codec = setup.sensor();
    let mut rng = Rng::new(0x5eed_0303);
    let values: Vec<Value> = (0..200).map(|_| sensor_value(&mut rng)).collect();
    let mut input = serde_json::to_string(SENSOR).expect("json").into_bytes();
    for v in &values {
        input.push(b'\n');
        input.extend(hex(&codec.encode(v).expect("encode").expect("bytes")).into_bytes());
    }
    let code = format!(
        "{PY_PRELUDE}{}",
        r#"
deserializer = JSONDeserializer(schema)
for line in lines[1:]:
    data = bytes.fromhex(line)
    assert data[:5] == b"\x00\x00\x00\x00\x01", data[:5]
    print(json.dumps(deserializer(data, ctx)))
"#
    );
    let out = python(&code, &input);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), values.len());
    let json = Notations::builtin().codec(&ty("json"), &Target::default()).expect("json codec");
    for (line, v) in lines.iter().zip(&values) {
        let back = json.decode(Some(line.as_bytes())).expect("python's json");
        assert!(same(&back, &json_normal(v)), "{v:?} came back from Python as {line}");
    }
}

#[test]
fn we_read_what_confluents_python_serializer_writes() {
    let setup = Setup::new("py-write");
    let code = format!(
        "{PY_PRELUDE}{}",
        r#"
client = SchemaRegistryClient.new_client({"url": "mock://weir"})
serializer = JSONSerializer(schema, client)
docs = [
    {"name": "caf\u00e9 \U0001F600", "timestamp": 2**62, "value": 0.1, "ok": True, "type": "STATE", "tags": ["a", "\n"]},
    {"name": "n", "timestamp": -5, "location": {"lat": -89.5, "lon": 1e300}, "owner": None, "id": "123e4567-e89b-12d3-a456-426614174000"},
    {"timestamp": 0, "name": "x", "value": 3},
]
written = [serializer(doc, ctx).hex() + " " + json.dumps(doc) for doc in docs]
registered = client.get_latest_version("sensors-value")
print(registered.schema_id)
print(json.dumps(registered.schema.schema_str))
for line in written:
    print(line)
for bad in [{"name": 5, "timestamp": 1}, {"name": "a"}, {"name": "a", "timestamp": 1, "type": "WIND"}]:
    try:
        serializer(bad, ctx)
        print("accepted " + json.dumps(bad))
    except Exception as e:
        print("refused " + json.dumps(bad))
"#
    );
    let out = python(&code, serde_json::to_string(SENSOR).expect("json").as_bytes());
    let mut lines = out.lines();
    let id: u32 = lines.next().expect("id").parse().expect("id");
    let text: String = serde_json::from_str(lines.next().expect("schema")).expect("schema text");
    // Our registry holds what Python's registry holds, under the same id.
    assert_eq!(setup.registry.register("sensors-value", &RegistrySchema::new(SchemaKind::Json, text)).expect("register"), id);
    let codec = setup.sensor();
    let json = Notations::builtin().codec(&ty("json"), &Target::default()).expect("json codec");
    let mut read = 0;
    for line in lines {
        if let Some((framed, doc)) = line.split_once(' ')
            && !framed.starts_with("accepted")
            && !framed.starts_with("refused")
        {
            let ours = codec.decode(Some(&unhex(framed))).unwrap_or_else(|e| panic!("{line}: {e}"));
            assert_eq!(ours, json.decode(Some(doc.as_bytes())).expect("doc"), "{line}");
            read += 1;
        } else if let Some(bad) = line.strip_prefix("refused ") {
            // Python's validator refuses it, and so do we.
            let value = json.decode(Some(bad.as_bytes())).expect("doc");
            assert!(codec.encode(&value).is_err(), "Python refused {bad}, we accepted it");
        } else {
            panic!("Python accepted an invalid document: {line}");
        }
    }
    assert_eq!(read, 3);
}
