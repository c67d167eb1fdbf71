//! The `jsonschema` notation (alias `apicurio_jsonschema`): JSON text checked against a JSON
//! Schema, behind a schema registry's framing (KSML's `JsonSchemaNotation` with
//! Apicurio's `JsonSchemaKafkaSerializer`).
//!
//! A type names its schema: `jsonschema:SensorData` reads `<schemaDirectory>/SensorData.json`
//! (with KSML's namespace stripping, see [`SchemaDirectory::load`](super::SchemaDirectory::load)). A bare `jsonschema` has no
//! schema to check against and is refused, as KSML refuses it outside topic definitions (and
//! KSML cannot infer it from a registry either: only Avro does that).
//!
//! Wire format, the same for Apicurio's serde as KSML pins it and for Confluent's:
//!
//! | bytes | what |
//! |---|---|
//! | `00` | magic byte |
//! | 4 bytes, big-endian | the schema id (Apicurio: the content id; Confluent: the schema id) |
//! | rest | the value as compact UTF-8 JSON text |
//!
//! Apicurio's 8-byte global ids (`apicurio.registry.id-handler: …Legacy8ByteIdHandler`) are
//! supported; ids in Kafka headers (`apicurio.registry.headers.enabled: true`) are not, and
//! are refused when the codec is built. `weir.framing: confluent` is accepted and changes
//! nothing, the two vendors' framings being the same for JSON Schema.
//!
//! Values map to JSON exactly as in the [`json`] notation (objects keep their key
//! order, integers decode as `Long`, `Bytes` encode as base64 text, …). Decoding gives the
//! JSON's natural values, not ones shaped by the schema: a `"type": "number"` field holding `3`
//! decodes as `Long(3)`. A `"format": "uuid"` string is a `String`, as KSML hands it to Python.
//!
//! Validation (`apicurio.registry.serde.validation-enabled`, default true, as in Apicurio's
//! serde and KSML's pinned config): every value written is checked against the local schema
//! and every value read against the writer's schema, fetched from the registry by the id in
//! the record (what Apicurio's deserializer does). Formats (`uuid`, `date-time`, `email`, …)
//! are checked too, as Apicurio's validator does. A failure is a [`CodecError`] naming the
//! JSON pointer of each offending part, what the schema wants and what was found, e.g.
//! `value does not match schema 'SensorData': at /timestamp: "x" is not of type "number"`.
//!
//! The schema is registered as the file's text, kind `JSON`, under the subject the
//! subject name strategy gives (`<topic>-value` by default; the record name strategies use the
//! schema's `title`, else the name written in the type).

use std::fmt;
use std::sync::Arc;

use indexmap::IndexMap;
use serde::de::DeserializeSeed;
use weir_dsl::types::{TypeKind, UserType};

use super::framing::{Framing, IdWidth};
use super::json::{self, ValueSeed};
use super::{Codec, CodecContext, CodecError};
use crate::registry::{RegistrySchema, SchemaKind};
use crate::value::Value;

const NAME: &str = "jsonschema";

/// The serde property that switches validation on or off (Apicurio's name; default true).
pub const VALIDATION_ENABLED: &str = "apicurio.registry.serde.validation-enabled";

/// A property of Weir's own: whose framing a registry notation writes (`apicurio`, the
/// default, or `confluent`).
pub const FRAMING: &str = "weir.framing";

/// How many validation failures one error message lists.
const MAX_LISTED: usize = 3;

/// Whose wire framing a registry notation writes and reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Vendor {
    Apicurio,
    Confluent,
}

/// Reads a boolean serde property.
pub(crate) fn flag(config: &IndexMap<String, String>, key: &str, default: bool) -> Result<bool, String> {
    match config.get(key).map(|v| v.trim().to_ascii_lowercase()) {
        None => Ok(default),
        Some(v) if v == "true" => Ok(true),
        Some(v) if v == "false" => Ok(false),
        Some(_) => Err(format!("'{key}' must be true or false, found '{}'", config[key])),
    }
}

/// The framing settings shared by the Apicurio registry notations: `weir.framing`, the id
/// width of `apicurio.registry.id-handler` (4 bytes unless the legacy 8-byte handler is named)
/// and the refusal of header-borne ids (`apicurio.registry.headers.enabled: true`), which a
/// codec cannot read: it sees the record's bytes only.
pub(crate) fn framing_settings(config: &IndexMap<String, String>) -> Result<(Vendor, IdWidth), String> {
    let vendor = match config.get(FRAMING).map(|v| v.trim().to_ascii_lowercase()) {
        None => Vendor::Apicurio,
        Some(v) if v == "apicurio" => Vendor::Apicurio,
        Some(v) if v == "confluent" => Vendor::Confluent,
        Some(_) => return Err(format!("'{FRAMING}' must be 'apicurio' or 'confluent', found '{}'", config[FRAMING])),
    };
    if flag(config, "apicurio.registry.headers.enabled", false)? {
        return Err("'apicurio.registry.headers.enabled: true' puts schema ids in Kafka headers, which Weir does not support; \
                    remove it to write the id in front of the payload (KSML's default)"
            .to_string());
    }
    let width = match config.get("apicurio.registry.id-handler").map(|v| v.trim()) {
        None => IdWidth::Four,
        Some(v) if vendor == Vendor::Confluent => {
            return Err(format!("'apicurio.registry.id-handler: {v}' cannot be used with 'weir.framing: confluent'"));
        }
        Some(v) if v.ends_with("Default4ByteIdHandler") => IdWidth::Four,
        Some(v) if v.ends_with("Legacy8ByteIdHandler") => IdWidth::Eight,
        Some(v) => return Err(format!("unknown 'apicurio.registry.id-handler' '{v}'; known: Default4ByteIdHandler, Legacy8ByteIdHandler")),
    };
    if let Some(v) = config.get("apicurio.registry.use-id")
        && !matches!(v.trim(), "contentId" | "globalId")
    {
        return Err(format!("'apicurio.registry.use-id' must be contentId or globalId, found '{v}'"));
    }
    Ok((vendor, width))
}

/// The schema name a registry notation's type names, or the message for a type that names
/// none.
pub(crate) fn schema_name<'t>(notation: &str, ty: &'t UserType) -> Result<&'t str, String> {
    match &ty.kind {
        TypeKind::Schema(name) => Ok(name),
        TypeKind::NotationDefault => Err(format!("notation '{notation}' requires a schema: write '{notation}:<SchemaName>'")),
        _ => Err(format!("notation '{notation}' does not allow data type '{ty}': write '{notation}:<SchemaName>'")),
    }
}

/// A compiled JSON Schema.
struct Compiled(jsonschema::Validator);

impl fmt::Debug for Compiled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Compiled(..)")
    }
}

fn compile(text: &str) -> Result<Compiled, String> {
    let schema: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("the schema is not valid JSON: {e}"))?;
    let validator = jsonschema::options()
        .should_validate_formats(true)
        // `uuid` is a format of drafts 2019-09 and later; Apicurio's validator (networknt)
        // knows it under draft-07 as well, and KSML maps it to its uuid type whatever the draft.
        .with_format("uuid", is_uuid)
        .build(&schema)
        .map_err(|e| format!("the schema is not a valid JSON Schema: {e}"))?;
    Ok(Compiled(validator))
}

/// The JSON document `value` is written as, for the validator: built from the value, which
/// is cheaper than reading back the text written. Called after the text was written, so the
/// value holds no NaN or infinity and nests no deeper than JSON allows.
fn to_document(value: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match value {
        Value::Null => J::Null,
        Value::Bool(b) => J::Bool(*b),
        Value::Byte(n) => J::from(*n),
        Value::Short(n) => J::from(*n),
        Value::Int(n) => J::from(*n),
        Value::Long(n) => J::from(*n),
        // The number the shortest text of the f32 reads as, which is what was written.
        Value::Float(x) => x.to_string().parse::<f64>().ok().and_then(serde_json::Number::from_f64).map_or(J::Null, J::Number),
        Value::Double(x) => serde_json::Number::from_f64(*x).map_or(J::Null, J::Number),
        Value::String(text) | Value::Enum(text) => J::String(text.clone()),
        Value::Bytes(bytes) => J::String(json::base64(bytes)),
        Value::List(items) | Value::Tuple(items) => J::Array(items.iter().map(to_document).collect()),
        Value::Struct(fields) => {
            let mut map = serde_json::Map::with_capacity(fields.len());
            for (k, v) in fields {
                map.insert(k.clone(), to_document(v));
            }
            J::Object(map)
        }
    }
}

/// RFC 4122's text form: 8-4-4-4-12 hex digits.
fn is_uuid(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 36
        && bytes.iter().enumerate().all(|(i, b)| if matches!(i, 8 | 13 | 18 | 23) { *b == b'-' } else { b.is_ascii_hexdigit() })
}

/// Reads and writes one JSON Schema type.
#[derive(Debug)]
pub struct JsonSchemaCodec {
    /// The type as written (`jsonschema:SensorData`), for messages.
    expected: String,
    /// The schema's name as written in the type.
    name: String,
    /// The local schema as registered.
    schema: RegistrySchema,
    /// The local schema, compiled: what written values are checked against.
    local: Compiled,
    validate: bool,
    framing: Framing<Compiled>,
}

/// The codec for `ty` (`jsonschema:<Name>`): see the module doc.
pub fn codec(ty: &UserType, cx: &CodecContext) -> Result<Arc<dyn Codec>, String> {
    Ok(Arc::new(JsonSchemaCodec::new(ty, cx)?))
}

impl JsonSchemaCodec {
    /// Loads `<Name>.json` from the schema directory, compiles it and reads the notation's
    /// serde properties.
    pub fn new(ty: &UserType, cx: &CodecContext) -> Result<JsonSchemaCodec, String> {
        let name = schema_name(cx.notation, ty)?;
        let (file, text) = cx.schemas.load(name, ".json")?;
        let local = compile(&text).map_err(|e| format!("schema file '{}': {e}", file.display()))?;
        let title = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|s| s.get("title").and_then(|t| t.as_str()).map(str::to_string))
            .unwrap_or_else(|| name.to_string());
        let (_, width) = framing_settings(cx.config)?;
        let validate = flag(cx.config, VALIDATION_ENABLED, true)?;
        let framing = Framing::new(NAME, Arc::clone(&cx.registry), cx.config, cx.target, Some(&title), width)?;
        Ok(JsonSchemaCodec {
            expected: ty.to_string(),
            name: name.to_string(),
            schema: RegistrySchema::new(SchemaKind::Json, text),
            local,
            validate,
            framing,
        })
    }

    fn decode_error(&self, found: impl Into<String>) -> CodecError {
        CodecError::decode(NAME, &self.expected, found)
    }

    fn encode_error(&self, found: impl Into<String>) -> CodecError {
        CodecError::encode(NAME, &self.expected, found)
    }

    /// The failures of `instance` against `schema`, or `None` when it is valid.
    fn failures(schema: &Compiled, instance: &serde_json::Value) -> Option<String> {
        // The yes/no check does not build errors: the common case pays for nothing else.
        if schema.0.is_valid(instance) {
            return None;
        }
        let mut errors = schema.0.iter_errors(instance);
        let first = errors.next()?;
        let mut listed = vec![describe_failure(&first)];
        let mut more = 0usize;
        for e in errors {
            if listed.len() < MAX_LISTED {
                listed.push(describe_failure(&e));
            } else {
                more += 1;
            }
        }
        let mut text = listed.join("; ");
        if more > 0 {
            text.push_str(&format!("; and {more} more"));
        }
        Some(text)
    }
}

fn describe_failure(e: &jsonschema::ValidationError) -> String {
    let path = e.instance_path().to_string();
    let at = if path.is_empty() { "/ (the whole value)".to_string() } else { path };
    format!("at {at}: {}", shorten(&e.to_string()))
}

/// Long messages (a big object that fails `required`) are cut to a readable length.
fn shorten(text: &str) -> String {
    const MAX: usize = 300;
    if text.len() <= MAX {
        return text.to_string();
    }
    let mut end = MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

impl Codec for JsonSchemaCodec {
    fn decode(&self, bytes: Option<&[u8]>) -> Result<Value, CodecError> {
        let Some(bytes) = bytes else { return Ok(Value::Null) };
        let (id, payload) = self.framing.read_header(bytes, &self.expected)?;
        let header = bytes.len() - payload.len();
        let located = |mut e: CodecError| {
            e.notation = NAME;
            e.expected.clone_from(&self.expected);
            e.found = format!("{} (in the JSON after the {header}-byte registry header)", e.found);
            e
        };
        if !self.validate {
            // Straight into a `Value`, as the json notation reads.
            return json::from_slice(payload).map_err(located);
        }
        let document: serde_json::Value = match serde_json::from_slice(payload) {
            Ok(document) => document,
            Err(_) => {
                // The JSON notation's reader says where and why, with line and column.
                return Err(match json::from_slice(payload) {
                    Err(e) => located(e),
                    Ok(_) => self.decode_error("invalid JSON after the schema id"),
                });
            }
        };
        let writer = self.framing.reader(id, &self.expected, |schema| {
            if schema.kind != SchemaKind::Json {
                return Err(format!("it is a {} schema, not a JSON Schema", schema.kind.api_name()));
            }
            compile(&schema.text)
        })?;
        if let Some(failures) = Self::failures(&writer, &document) {
            return Err(self.decode_error(format!("value does not match the writer's schema (id {id}): {failures}")));
        }
        ValueSeed.deserialize(document).map_err(|e| self.decode_error(format!("cannot read the JSON value: {e}")))
    }

    fn encode(&self, value: &Value) -> Result<Option<Vec<u8>>, CodecError> {
        if *value == Value::Null {
            return Ok(None);
        }
        let id = self.framing.writer_id(&self.schema, &self.expected)?;
        let mut out = Vec::with_capacity(256);
        self.framing.write_header(&mut out, id);
        json::to_writer(&mut out, value).map_err(|e| self.encode_error(e.found))?;
        if self.validate {
            let document = to_document(value);
            if let Some(failures) = Self::failures(&self.local, &document) {
                return Err(self.encode_error(format!("value does not match schema '{}': {failures}", self.name)));
            }
        }
        Ok(Some(out))
    }
}
