//! The Avro notations: `avro` and `confluent_avro` (Confluent's wire framing) and
//! `apicurio_avro` (Apicurio's), as KSML's notations reference describes them.
//!
//! A record is the registry framing of [`super::framing`] (magic byte `0`, the writer
//! schema's id: 4 bytes for Confluent and for Apicurio's default content id, 8 bytes with
//! Apicurio's `Legacy8ByteIdHandler`), then the value in Avro's binary encoding.
//!
//! Types:
//!
//! * `avro:Name` reads `<schemaDirectory>/Name.avsc` (namespace segments stripped as KSML does).
//!   Records are written with that schema (registered under the subject of the subject name
//!   strategy, the schema's full name being the record name), and read with the writer's
//!   schema, fetched by id, *resolved* to the local one (Avro schema evolution: fields the
//!   local schema lacks are dropped, fields only it has take their default).
//! * bare `avro` (or `avro:struct`): the schema comes from the registry, as KSML's schema
//!   inference does (§5.5): records are written with the latest schema of the subject
//!   (`<topic>-value` / `<topic>-key`), and read with whatever schema wrote them.
//! * anything else (`avro:string`, `avro:[string]`) is refused: KSML's Avro notation only
//!   has serdes for structs.
//!
//! Decoding (Avro → [`Value`]), as KSML presents Avro values to Python:
//!
//! | Avro | Value |
//! |---|---|
//! | record | `Struct`, in the (reader) schema's field order |
//! | enum | `Enum` (the symbol) |
//! | union | the value of the branch written |
//! | array | `List` |
//! | map | `Struct`, in the order written |
//! | `null`, `boolean`, `int`, `long`, `float`, `double`, `string` | `Null`, `Bool`, `Int`, `Long`, `Float`, `Double`, `String` (invalid UTF-8 becomes U+FFFD, as Java's decoder does) |
//! | `bytes`, `fixed` | `Bytes` |
//! | `uuid` | `String` |
//! | `decimal` on `bytes` | `String` of the number at the schema's scale, like `"123.45"` (on `fixed` it stays `Bytes`, as in KSML) |
//! | `date`, `time-millis` | `Int` |
//! | `time-micros`, `timestamp-*`, `local-timestamp-*` | `Long` |
//!
//! Encoding takes those forms back and brings values to the schema with KSML's conversion
//! rules (KSML converts to the schema's struct type before its Avro mapper writes):
//! integers narrow and widen with range checks, floating-point numbers truncate into
//! integer fields (in range), any number goes into `float`/`double`, strings parse into
//! numbers and booleans, numbers and booleans become text in `string` fields, a string or
//! enum into an `enum` must be one of its symbols, a `fixed` takes bytes of its exact size,
//! a `decimal` takes a string (or an integer) that fits its precision without losing
//! fraction digits, a `uuid` a canonical UUID string, `time-millis`/`time-micros` a time of
//! day in range. A union picks the branch of the value's own type first, then the first
//! branch that takes the value. A field the value lacks takes the schema's default, or null
//! when its type is a union with null; otherwise encoding fails. Fields the schema does not
//! have are ignored. Errors name the field: `field 'value': expected string, found list of
//! 2 elements`.
//!
//! Registries: see [`Framing::new`] for the keys read (`auto.register.schemas`,
//! `use.latest.version`, subject name strategies and their Apicurio names). When
//! auto-registration is off and `use.latest.version` (`apicurio.registry.find-latest`, which
//! KSML turns on for Apicurio) is on, records are written with the subject's latest schema,
//! as Confluent's and Apicurio's serializers do. Apicurio's `apicurio.registry.id-handler`
//! chooses 4-byte (`Default4ByteIdHandler`) or 8-byte (`Legacy8ByteIdHandler`) ids;
//! `apicurio.registry.use-id` may be `contentId` or `globalId` (the registry port has one id
//! per schema, so both name it). Ids in Kafka headers (`apicurio.registry.headers.enabled:
//! true`) and Apicurio 2 settings (`apicurio.registry.as-confluent`, `Legacy4ByteIdHandler`)
//! are refused with a message.
//!
//! Decoding never panics and bounds its work: nesting is limited to [`MAX_DEPTH`] levels,
//! a length is never trusted beyond the bytes left, the number of array and map items is
//! bounded by the record's size, and trailing bytes after the value are an error.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, OnceLock};

use apache_avro::Schema;
use apache_avro::schema::{DecimalSchema, RecordSchema, UnionSchema};
use indexmap::IndexMap;
use serde_json::Value as Json;
use weir_dsl::types::{TypeKind, UserType};

use super::framing::{Framing, IdWidth};
use super::{Codec, CodecContext, CodecError, describe};
use crate::registry::{RegistrySchema, SchemaKind};
use crate::value::Value;

/// Deepest nesting of records, arrays, maps and unions read or written.
pub const MAX_DEPTH: usize = 128;

/// The longest `decimal` read or written, in bytes (about 2,400 digits).
const MAX_DECIMAL_BYTES: usize = 1024;

/// Whose wire framing the codec writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vendor {
    /// `avro`, `confluent_avro`: magic byte and 4-byte schema id.
    Confluent,
    /// `apicurio_avro`: magic byte and 4-byte content id (or 8-byte id, see the module doc).
    Apicurio,
}

/// The codec for `ty` under an Avro notation (see the module doc).
pub fn codec(ty: &UserType, cx: &CodecContext, vendor: Vendor) -> Result<Arc<dyn Codec>, String> {
    let notation: &'static str = match vendor {
        Vendor::Confluent if cx.notation == "confluent_avro" => "confluent_avro",
        Vendor::Confluent => "avro",
        Vendor::Apicurio => "apicurio_avro",
    };
    let local = match &ty.kind {
        TypeKind::Schema(name) => {
            let (file, text) = cx.schemas.load(name, ".avsc")?;
            Some(Arc::new(AvroSchema::parse(&text).map_err(|e| format!("schema file '{}': {e}", file.display()))?))
        }
        TypeKind::NotationDefault | TypeKind::Struct => None,
        _ => {
            return Err(format!(
                "notation '{}' does not allow data type '{ty}': Avro values are records, written as '{}:<SchemaName>' or a bare '{}'",
                cx.notation, cx.notation, cx.notation
            ));
        }
    };
    let mut config = cx.config.clone();
    let width = match vendor {
        Vendor::Confluent => IdWidth::Four,
        Vendor::Apicurio => apicurio_settings(&mut config)?,
    };
    let flag = |keys: &[&str], default: bool| -> Result<bool, String> {
        match keys.iter().find_map(|k| config.get(*k).map(|v| (k, v))) {
            None => Ok(default),
            Some((_, v)) if v.trim().eq_ignore_ascii_case("true") => Ok(true),
            Some((_, v)) if v.trim().eq_ignore_ascii_case("false") => Ok(false),
            Some((k, v)) => Err(format!("'{k}' must be true or false, found '{v}'")),
        }
    };
    let auto_register = flag(&["auto.register.schemas", "apicurio.registry.auto-register"], true)?;
    let use_latest = flag(&["use.latest.version", "apicurio.registry.find-latest"], vendor == Vendor::Apicurio)?;
    // The serializers register first, then use the latest version, then look the schema up
    // (Confluent's and Apicurio's order); `Framing` only does the registering and looking up.
    config.shift_remove("use.latest.version");
    config.shift_remove("apicurio.registry.find-latest");
    let record_name = local.as_ref().and_then(|s| s.full_name());
    let framing = Framing::new(notation, Arc::clone(&cx.registry), &config, cx.target, record_name, width)?;
    Ok(Arc::new(AvroCodec {
        notation,
        expected: ty.to_string(),
        latest: local.is_none() || (!auto_register && use_latest),
        local,
        framing,
        writer: OnceLock::new(),
    }))
}

/// Checks Apicurio's serde settings and gives the id width; maps Apicurio's artifact resolver
/// strategy onto the subject name strategy keys.
fn apicurio_settings(config: &mut IndexMap<String, String>) -> Result<IdWidth, String> {
    if config.get("apicurio.registry.headers.enabled").is_some_and(|v| v.trim().eq_ignore_ascii_case("true")) {
        return Err("'apicurio.registry.headers.enabled: true' (schema ids in Kafka headers) is not supported by Weir: \
                    ids are written in the payload, KSML's default for apicurio_avro"
            .to_string());
    }
    if config.contains_key("apicurio.registry.as-confluent") {
        return Err("configuration key 'apicurio.registry.as-confluent' no longer exists (Apicurio 2); the payload id \
                    format follows 'apicurio.registry.id-handler' and 'apicurio.registry.use-id'"
            .to_string());
    }
    if let Some(v) = config.get("apicurio.registry.use-id")
        && !matches!(v.trim(), "contentId" | "globalId")
    {
        return Err(format!("'apicurio.registry.use-id' must be contentId or globalId, found '{v}'"));
    }
    let width = match config.get("apicurio.registry.id-handler").map(|v| v.trim()) {
        None => IdWidth::Four,
        Some(v) if v.ends_with("Default4ByteIdHandler") => IdWidth::Four,
        Some(v) if v.ends_with("Legacy8ByteIdHandler") => IdWidth::Eight,
        Some(v) if v.ends_with("Legacy4ByteIdHandler") => {
            return Err(format!(
                "'apicurio.registry.id-handler' is set to '{v}', which no longer exists (Apicurio 2); \
                 use 'io.apicurio.registry.serde.Default4ByteIdHandler'"
            ));
        }
        Some(v) => {
            return Err(format!(
                "unknown 'apicurio.registry.id-handler' '{v}'; known: io.apicurio.registry.serde.Default4ByteIdHandler (4-byte ids), \
                 io.apicurio.registry.serde.Legacy8ByteIdHandler (8-byte ids)"
            ));
        }
    };
    if let Some(strategy) = config.get("apicurio.registry.artifact-resolver-strategy").cloned() {
        for key in ["key.subject.name.strategy", "value.subject.name.strategy"] {
            config.entry(key.to_string()).or_insert_with(|| strategy.clone());
        }
    }
    Ok(width)
}

/// Reads and writes one type with an Avro notation.
#[derive(Debug)]
pub struct AvroCodec {
    notation: &'static str,
    expected: String,
    /// The schema file's schema (`avro:Name`); `None` for a bare `avro`.
    local: Option<Arc<AvroSchema>>,
    framing: Framing<AvroSchema>,
    /// Whether records are written with the subject's latest schema.
    latest: bool,
    /// The id and schema records are written with, once known.
    writer: OnceLock<(u64, Arc<AvroSchema>)>,
}

impl AvroCodec {
    fn writer(&self) -> Result<&(u64, Arc<AvroSchema>), CodecError> {
        if let Some(w) = self.writer.get() {
            return Ok(w);
        }
        let fail = |found: String| CodecError::encode(self.notation, &self.expected, found);
        let writer = match &self.local {
            Some(local) if !self.latest => (self.framing.writer_id(&local.registered, &self.expected)?, Arc::clone(local)),
            _ => {
                let subject = self.framing.subject().map_err(fail)?;
                let (id, schema) = self
                    .framing
                    .registry()
                    .latest(subject)
                    .map_err(|e| fail(format!("the schema is taken from the registry, but subject '{subject}' has none: {}", e.0)))?;
                let parsed = registry_schema(&schema)
                    .map_err(|e| fail(format!("the latest schema of subject '{subject}' (id {id}) is not usable: {e}")))?;
                (u64::from(id), Arc::new(parsed))
            }
        };
        Ok(self.writer.get_or_init(|| writer))
    }
}

impl Codec for AvroCodec {
    fn decode(&self, bytes: Option<&[u8]>) -> Result<Value, CodecError> {
        let Some(bytes) = bytes else { return Ok(Value::Null) };
        let (id, payload) = self.framing.read_header(bytes, &self.expected)?;
        let writer = self.framing.reader(id, &self.expected, registry_schema)?;
        writer.decode(payload, self.local.as_deref()).map_err(|e| {
            let name = writer.full_name().map(|n| format!(" ({n})")).unwrap_or_default();
            CodecError::decode(self.notation, &self.expected, format!("writer schema {id}{name}: {e}"))
        })
    }

    fn encode(&self, value: &Value) -> Result<Option<Vec<u8>>, CodecError> {
        if *value == Value::Null {
            return Ok(None);
        }
        let (id, schema) = self.writer()?;
        let mut out = Vec::with_capacity(64);
        self.framing.write_header(&mut out, *id);
        schema.encode(value, &mut out).map_err(|e| CodecError::encode(self.notation, &self.expected, e))?;
        Ok(Some(out))
    }

    fn register_schema(&self) -> Result<(), CodecError> {
        if self.latest { Ok(()) } else { self.writer().map(|_| ()) }
    }
}

/// A registry's schema, which must be an Avro one.
fn registry_schema(schema: &RegistrySchema) -> Result<AvroSchema, String> {
    if schema.kind != SchemaKind::Avro {
        return Err(format!("it is a {} schema, not an Avro one", schema.kind.api_name()));
    }
    AvroSchema::parse(&schema.text)
}

/// A parsed Avro schema with its named types: what reads and writes Avro binary values.
#[derive(Debug)]
pub struct AvroSchema {
    root: Schema,
    /// Every named type by full name, for references.
    names: HashMap<String, Schema>,
    /// The schema as registered: its JSON text, compact.
    registered: RegistrySchema,
    full_name: Option<String>,
}

impl AvroSchema {
    /// Parses an Avro schema (`.avsc` text or a registry's schema).
    pub fn parse(text: &str) -> Result<AvroSchema, String> {
        let json: Json = serde_json::from_str(text).map_err(|e| format!("the schema is not valid JSON: {e}"))?;
        let registered = RegistrySchema::new(SchemaKind::Avro, json.to_string());
        let mut prepared = json;
        forget_fixed_uuids(&mut prepared, 0);
        // Field defaults are kept aside and put back after parsing: apache-avro 0.21 refuses
        // some valid ones (a `decimal`'s bytes default), and they are checked when used.
        let mut defaults = Vec::new();
        take_defaults(&mut prepared, &mut defaults, 0);
        let mut root = Schema::parse(&prepared).map_err(|e| format!("the schema is not a valid Avro schema: {e}"))?;
        let mut defaults = defaults.into_iter();
        put_defaults(&mut root, &mut defaults, 0);
        if defaults.next().is_some() {
            return Err("the schema's field defaults do not line up with its fields (a bug in Weir)".to_string());
        }
        let mut names = HashMap::new();
        collect_names(&root, &mut names);
        let full_name = root.name().map(|n| n.fullname(None));
        let schema = AvroSchema { root, names, registered, full_name };
        schema.check_refs(&schema.root, 0)?;
        Ok(schema)
    }

    /// The full name of the schema's top-level named type (`io.axual.ksml.example.SensorData`).
    pub fn full_name(&self) -> Option<&str> {
        self.full_name.as_deref()
    }

    /// The schema as it is registered.
    pub fn registered(&self) -> &RegistrySchema {
        &self.registered
    }

    /// Appends `value` in Avro's binary encoding to `out`. The error names the field.
    pub fn encode(&self, value: &Value, out: &mut Vec<u8>) -> Result<(), String> {
        Writer { names: &self.names }.write(value, &self.root, out, 0).map_err(|f| f.render())
    }

    /// Reads one value written with this schema, resolved to `reader` when given (Avro's
    /// schema resolution). All bytes must be used.
    pub fn decode(&self, bytes: &[u8], reader: Option<&AvroSchema>) -> Result<Value, String> {
        let reader = reader.unwrap_or(self);
        let mut r = Reader { bytes, pos: 0, budget: bytes.len() + 4096, writer_names: &self.names, reader_names: &reader.names };
        let value = r.read(&self.root, &reader.root, 0).map_err(|f| f.render())?;
        if r.pos != bytes.len() {
            return Err(format!("{} bytes are left after the value (the record is longer than its schema says)", bytes.len() - r.pos));
        }
        Ok(value)
    }

    /// The schema's top-level record as KSML shows it to Python: its name (KSML's `@type`,
    /// the record's name without namespace) and the schema in KSML's own schema notation
    /// (KSML's `@schema`): `{type: struct, namespace, name, doc, fields: [{name, doc,
    /// required, constant, tag, type, defaultValue, order}], additionalFieldsAllowed}`, with
    /// KSML's mapping of Avro types (a union with `null` first is an optional field of the
    /// other member; `int` is `integer`; a logical type is its representation). `None` when
    /// the top level is not a record.
    pub fn ksml_schema(&self) -> Option<(String, Value)> {
        let Schema::Record(r) = &self.root else { return None };
        let mut stack = Vec::new();
        Some((r.name.name.clone(), KsmlSchema { names: &self.names, stack: &mut stack }.named(&self.root, None, 0)))
    }

    /// Every reference names a type the schema defines.
    fn check_refs(&self, schema: &Schema, depth: usize) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Err(format!("the schema nests deeper than {MAX_DEPTH} levels"));
        }
        match schema {
            Schema::Ref { name } => {
                let full = name.fullname(None);
                if self.names.contains_key(&full) { Ok(()) } else { Err(format!("the schema refers to an unknown type '{full}'")) }
            }
            Schema::Array(a) => self.check_refs(&a.items, depth + 1),
            Schema::Map(m) => self.check_refs(&m.types, depth + 1),
            Schema::Union(u) => u.variants().iter().try_for_each(|v| self.check_refs(v, depth + 1)),
            Schema::Record(r) => r.fields.iter().try_for_each(|f| self.check_refs(&f.schema, depth + 1)),
            _ => Ok(()),
        }
    }
}

/// A `uuid` on a `fixed` is read as the fixed's bytes, as KSML does (apache-avro 0.21 would
/// take it for a string).
fn forget_fixed_uuids(json: &mut Json, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    match json {
        Json::Object(map) => {
            if map.get("type").and_then(Json::as_str) == Some("fixed") && map.get("logicalType").and_then(Json::as_str) == Some("uuid") {
                map.shift_remove("logicalType");
            }
            map.values_mut().for_each(|v| forget_fixed_uuids(v, depth + 1));
        }
        Json::Array(items) => items.iter_mut().for_each(|v| forget_fixed_uuids(v, depth + 1)),
        _ => {}
    }
}

/// Removes every record field's `default`, in the order [`put_defaults`] visits fields.
fn take_defaults(json: &mut Json, out: &mut Vec<Option<Json>>, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    match json {
        Json::Object(map) => {
            let is_record = matches!(map.get("type").and_then(Json::as_str), Some("record" | "error"));
            if is_record && let Some(Json::Array(fields)) = map.get_mut("fields") {
                for field in fields {
                    if let Json::Object(f) = field {
                        out.push(f.shift_remove("default"));
                        if let Some(t) = f.get_mut("type") {
                            take_defaults(t, out, depth + 1);
                        }
                    }
                }
                return;
            }
            for key in ["type", "items", "values"] {
                if let Some(inner) = map.get_mut(key)
                    && !inner.is_string()
                {
                    take_defaults(inner, out, depth + 1);
                }
            }
        }
        Json::Array(items) => items.iter_mut().for_each(|v| take_defaults(v, out, depth + 1)),
        _ => {}
    }
}

/// Puts back the defaults [`take_defaults`] removed.
fn put_defaults(schema: &mut Schema, defaults: &mut impl Iterator<Item = Option<Json>>, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    match schema {
        Schema::Record(r) => {
            for field in &mut r.fields {
                field.default = defaults.next().flatten();
                put_defaults(&mut field.schema, defaults, depth + 1);
            }
        }
        Schema::Array(a) => put_defaults(&mut a.items, defaults, depth + 1),
        Schema::Map(m) => put_defaults(&mut m.types, defaults, depth + 1),
        Schema::Union(u) => {
            let mut variants = u.variants().to_vec();
            variants.iter_mut().for_each(|v| put_defaults(v, defaults, depth + 1));
            if let Ok(rebuilt) = UnionSchema::new(variants) {
                *u = rebuilt;
            }
        }
        _ => {}
    }
}

/// Writes Avro schemas in KSML's schema notation ([`AvroSchema::ksml_schema`]), as KSML's
/// Avro schema mapper and its native schema writer together do.
struct KsmlSchema<'a> {
    names: &'a HashMap<String, Schema>,
    /// The records being written, so a recursive reference is written as its name.
    stack: &'a mut Vec<String>,
}

impl KsmlSchema<'_> {
    /// A field's (or list item's, map value's, union member's) schema: a primitive's type
    /// name, or the schema object. With whether the field is required (not a union with
    /// `null` first).
    fn field_type(&mut self, schema: &Schema, ns: Option<&str>, depth: usize) -> (Value, bool) {
        let text = |t: &str| Value::String(t.to_string());
        if depth > MAX_DEPTH {
            return (text("any"), true);
        }
        let primitive = match wire(schema) {
            Wire::Null => return (text("null"), false),
            Wire::Boolean => Some("boolean"),
            Wire::Int => Some("integer"),
            Wire::Long => Some("long"),
            Wire::Float => Some("float"),
            Wire::Double => Some("double"),
            Wire::String => Some("string"),
            Wire::Bytes | Wire::Fixed(_) => Some("bytes"),
            Wire::Enum | Wire::Array | Wire::Map | Wire::Record | Wire::Union | Wire::Unknown => None,
        };
        let v = match schema {
            // Weir presents a decimal on bytes as its text (see the module doc).
            Schema::BigDecimal => text("string"),
            Schema::Decimal(d) if !matches!(d.inner.as_ref(), Schema::Fixed(_)) => text("string"),
            Schema::Decimal(d) => return self.field_type(&d.inner, ns, depth + 1),
            Schema::Record(_) | Schema::Enum(_) | Schema::Fixed(_) => self.named(schema, ns, depth + 1),
            Schema::Array(a) => {
                let items = self.field_type(&a.items, ns, depth + 1).0;
                Value::Struct(IndexMap::from([("type".to_string(), text("list")), ("items".to_string(), items)]))
            }
            Schema::Map(m) => {
                let values = self.field_type(&m.types, ns, depth + 1).0;
                Value::Struct(IndexMap::from([("type".to_string(), text("map")), ("values".to_string(), values)]))
            }
            Schema::Union(u) => {
                let variants = u.variants();
                let optional = variants.first().is_some_and(|v| matches!(v, Schema::Null));
                let members = if optional { &variants[1..] } else { variants };
                let v = match members {
                    [] => text("null"),
                    [one] => self.field_type(one, ns, depth + 1).0,
                    many => Value::List(
                        many.iter()
                            .map(|m| {
                                let ty = self.field_type(m, ns, depth + 1).0;
                                Value::Struct(IndexMap::from([
                                    ("name".to_string(), Value::Null),
                                    ("type".to_string(), ty),
                                    ("doc".to_string(), Value::Null),
                                    ("tag".to_string(), Value::Int(-1)),
                                ]))
                            })
                            .collect(),
                    ),
                };
                return (v, !optional);
            }
            Schema::Ref { name } => {
                let full = name.fullname(None);
                match self.names.get(&full) {
                    Some(named) if !self.stack.contains(&full) => self.named(named, ns, depth + 1),
                    _ => text(&full),
                }
            }
            _ => text(primitive.unwrap_or("any")),
        };
        (v, true)
    }

    /// A record, enum or fixed type as a schema object.
    fn named(&mut self, schema: &Schema, enclosing: Option<&str>, depth: usize) -> Value {
        let text = |t: &str| Value::String(t.to_string());
        let (kind, name, doc) = match schema {
            Schema::Record(r) => ("struct", &r.name, &r.doc),
            Schema::Enum(e) => ("enum", &e.name, &e.doc),
            Schema::Fixed(f) => ("fixed", &f.name, &f.doc),
            _ => return self.field_type(schema, enclosing, depth).0,
        };
        // A nested type without a namespace of its own is in its enclosing type's (Avro).
        let ns = name.namespace.as_deref().or(enclosing);
        let mut out = IndexMap::from([("type".to_string(), text(kind))]);
        if let Some(ns) = ns {
            out.insert("namespace".to_string(), text(ns));
        }
        out.insert("name".to_string(), text(&name.name));
        if let Some(doc) = doc.as_deref().filter(|d| !d.is_empty()) {
            out.insert("doc".to_string(), text(doc));
        }
        match schema {
            Schema::Enum(e) => {
                let symbols = e
                    .symbols
                    .iter()
                    .map(|s| Value::Struct(IndexMap::from([("name".to_string(), text(s)), ("tag".to_string(), Value::Int(-1))])))
                    .collect();
                out.insert("symbols".to_string(), Value::List(symbols));
                if let Some(d) = &e.default {
                    out.insert("defaultValue".to_string(), text(d));
                }
            }
            Schema::Fixed(f) => {
                out.insert("size".to_string(), Value::Int(i32::try_from(f.size).unwrap_or(i32::MAX)));
            }
            Schema::Record(r) => {
                let full = name.fullname(ns.map(str::to_string));
                self.stack.push(full);
                let fields = r
                    .fields
                    .iter()
                    .map(|f| {
                        let (ty, required) = self.field_type(&f.schema, ns, depth + 1);
                        let mut field = IndexMap::from([("name".to_string(), text(&f.name))]);
                        if let Some(doc) = f.doc.as_deref().filter(|d| !d.is_empty()) {
                            field.insert("doc".to_string(), text(doc));
                        }
                        field.insert("required".to_string(), Value::Bool(required));
                        field.insert("constant".to_string(), Value::Bool(false));
                        field.insert("tag".to_string(), Value::Int(-1));
                        field.insert("type".to_string(), ty);
                        if let Some(default) = &f.default {
                            field.insert("defaultValue".to_string(), json_value(default));
                        }
                        let order = match f.order {
                            apache_avro::schema::RecordFieldOrder::Ascending => "ASCENDING",
                            apache_avro::schema::RecordFieldOrder::Descending => "DESCENDING",
                            apache_avro::schema::RecordFieldOrder::Ignore => "IGNORE",
                        };
                        field.insert("order".to_string(), text(order));
                        Value::Struct(field)
                    })
                    .collect();
                self.stack.pop();
                out.insert("fields".to_string(), Value::List(fields));
                out.insert("additionalFieldsAllowed".to_string(), Value::Bool(false));
            }
            _ => {}
        }
        Value::Struct(out)
    }
}

/// A JSON default as a value: numbers as long or double, objects as structs.
fn json_value(json: &Json) -> Value {
    match json {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => n.as_i64().map(Value::Long).unwrap_or_else(|| Value::Double(n.as_f64().unwrap_or(f64::NAN))),
        Json::String(s) => Value::String(s.clone()),
        Json::Array(items) => Value::List(items.iter().map(json_value).collect()),
        Json::Object(map) => Value::Struct(map.iter().map(|(k, v)| (k.clone(), json_value(v))).collect()),
    }
}

fn collect_names(schema: &Schema, names: &mut HashMap<String, Schema>) {
    match schema {
        Schema::Record(r) => {
            names.entry(r.name.fullname(None)).or_insert_with(|| schema.clone());
            r.fields.iter().for_each(|f| collect_names(&f.schema, names));
        }
        Schema::Enum(e) => {
            names.entry(e.name.fullname(None)).or_insert_with(|| schema.clone());
        }
        Schema::Fixed(f) => {
            names.entry(f.name.fullname(None)).or_insert_with(|| schema.clone());
        }
        Schema::Decimal(d) => collect_names(&d.inner, names),
        Schema::Array(a) => collect_names(&a.items, names),
        Schema::Map(m) => collect_names(&m.types, names),
        Schema::Union(u) => u.variants().iter().for_each(|v| collect_names(v, names)),
        _ => {}
    }
}

fn deref<'s>(schema: &'s Schema, names: &'s HashMap<String, Schema>) -> &'s Schema {
    match schema {
        // `check_refs` made sure every reference resolves.
        Schema::Ref { name } => names.get(&name.fullname(None)).unwrap_or(schema),
        _ => schema,
    }
}

/// How a schema is laid out on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wire {
    Null,
    Boolean,
    Int,
    Long,
    Float,
    Double,
    Bytes,
    String,
    Fixed(usize),
    Enum,
    Array,
    Map,
    Record,
    Union,
    /// An unresolvable reference (never after `check_refs`).
    Unknown,
}

fn wire(schema: &Schema) -> Wire {
    match schema {
        Schema::Null => Wire::Null,
        Schema::Boolean => Wire::Boolean,
        Schema::Int | Schema::Date | Schema::TimeMillis => Wire::Int,
        Schema::Long
        | Schema::TimeMicros
        | Schema::TimestampMillis
        | Schema::TimestampMicros
        | Schema::TimestampNanos
        | Schema::LocalTimestampMillis
        | Schema::LocalTimestampMicros
        | Schema::LocalTimestampNanos => Wire::Long,
        Schema::Float => Wire::Float,
        Schema::Double => Wire::Double,
        Schema::Bytes | Schema::BigDecimal => Wire::Bytes,
        Schema::String | Schema::Uuid => Wire::String,
        Schema::Fixed(f) => Wire::Fixed(f.size),
        Schema::Duration => Wire::Fixed(12),
        Schema::Decimal(d) => match d.inner.as_ref() {
            Schema::Fixed(f) => Wire::Fixed(f.size),
            _ => Wire::Bytes,
        },
        Schema::Enum(_) => Wire::Enum,
        Schema::Array(_) => Wire::Array,
        Schema::Map(_) => Wire::Map,
        Schema::Record(_) => Wire::Record,
        Schema::Union(_) => Wire::Union,
        Schema::Ref { .. } => Wire::Unknown,
    }
}

/// The bytes-backed decimal's precision and scale, if the schema is one.
fn bytes_decimal(schema: &Schema) -> Option<(usize, usize)> {
    match schema {
        Schema::Decimal(DecimalSchema { precision, scale, inner }) if !matches!(inner.as_ref(), Schema::Fixed(_)) => {
            Some((*precision, *scale))
        }
        _ => None,
    }
}

/// A schema's type for messages: `string`, `enum SensorType`, `union [null, string]`.
fn type_name(schema: &Schema, names: &HashMap<String, Schema>) -> String {
    let short = |n: &apache_avro::schema::Name| n.name.clone();
    match deref(schema, names) {
        Schema::Null => "null".into(),
        Schema::Boolean => "boolean".into(),
        Schema::Int => "int".into(),
        Schema::Long => "long".into(),
        Schema::Float => "float".into(),
        Schema::Double => "double".into(),
        Schema::Bytes => "bytes".into(),
        Schema::String => "string".into(),
        Schema::Array(_) => "array".into(),
        Schema::Map(_) => "map".into(),
        Schema::Union(u) => {
            let members: Vec<String> = u.variants().iter().map(|v| type_name(v, names)).collect();
            format!("union [{}]", members.join(", "))
        }
        Schema::Record(r) => format!("record {}", short(&r.name)),
        Schema::Enum(e) => format!("enum {}", short(&e.name)),
        Schema::Fixed(f) => format!("fixed {} ({} bytes)", short(&f.name), f.size),
        Schema::Decimal(d) => format!("decimal({}, {})", d.precision, d.scale),
        Schema::BigDecimal => "big-decimal".into(),
        Schema::Uuid => "uuid".into(),
        Schema::Date => "date".into(),
        Schema::TimeMillis => "time-millis".into(),
        Schema::TimeMicros => "time-micros".into(),
        Schema::TimestampMillis => "timestamp-millis".into(),
        Schema::TimestampMicros => "timestamp-micros".into(),
        Schema::TimestampNanos => "timestamp-nanos".into(),
        Schema::LocalTimestampMillis => "local-timestamp-millis".into(),
        Schema::LocalTimestampMicros => "local-timestamp-micros".into(),
        Schema::LocalTimestampNanos => "local-timestamp-nanos".into(),
        Schema::Duration => "duration".into(),
        Schema::Ref { name } => name.fullname(None),
    }
}

/// One step into a value, for error paths.
#[derive(Debug)]
enum Step {
    Field(String),
    Index(usize),
    Key(String),
}

/// A failure and where it happened (innermost step first, pushed on the way out).
#[derive(Debug)]
struct Fail {
    path: Vec<Step>,
    message: String,
}

impl Fail {
    fn new(message: impl Into<String>) -> Fail {
        Fail { path: Vec::new(), message: message.into() }
    }

    fn at(mut self, step: Step) -> Fail {
        self.path.push(step);
        self
    }

    /// `field 'a.b[2]': message`, or the message alone at the top.
    fn render(&self) -> String {
        if self.path.is_empty() {
            return self.message.clone();
        }
        let mut path = String::new();
        for step in self.path.iter().rev() {
            match step {
                Step::Field(name) | Step::Key(name) => {
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(name);
                }
                Step::Index(i) => {
                    let _ = write!(path, "[{i}]");
                }
            }
        }
        format!("field '{path}': {}", self.message)
    }
}

fn mismatch(expected: &str, value: &Value) -> Fail {
    Fail::new(format!("expected {expected}, found {}", describe(value)))
}

// ---- writing -------------------------------------------------------------------------------

fn put_long(out: &mut Vec<u8>, n: i64) {
    let mut z = ((n << 1) ^ (n >> 63)) as u64;
    while z >= 0x80 {
        out.push((z as u8) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_long(out, bytes.len() as i64);
    out.extend_from_slice(bytes);
}

/// An integer from any number (floating-point truncated, as Java's casts do) or a numeric
/// string, within `min..=max`.
fn integer(value: &Value, min: i64, max: i64, what: &str) -> Result<i64, Fail> {
    let n = match value {
        Value::Byte(n) => i64::from(*n),
        Value::Short(n) => i64::from(*n),
        Value::Int(n) => i64::from(*n),
        Value::Long(n) => *n,
        Value::Float(_) | Value::Double(_) => {
            let x = if let Value::Float(f) = value {
                f64::from(*f)
            } else if let Value::Double(d) = value {
                *d
            } else {
                0.0
            };
            if !x.is_finite() || x < min as f64 || x >= (max as f64) + 1.0 {
                return Err(Fail::new(format!("{} is out of range for {what}", describe(value))));
            }
            x.trunc() as i64
        }
        Value::String(s) => s.parse::<i64>().map_err(|_| mismatch(what, value))?,
        other => return Err(mismatch(what, other)),
    };
    if n < min || n > max {
        return Err(Fail::new(format!("{n} is out of range for {what}")));
    }
    Ok(n)
}

fn floating(value: &Value, what: &str) -> Result<f64, Fail> {
    Ok(match value {
        Value::Byte(n) => f64::from(*n),
        Value::Short(n) => f64::from(*n),
        Value::Int(n) => f64::from(*n),
        Value::Long(n) => *n as f64,
        Value::Float(x) => f64::from(*x),
        Value::Double(x) => *x,
        Value::String(s) => s.trim().parse::<f64>().map_err(|_| mismatch(what, value))?,
        other => return Err(mismatch(what, other)),
    })
}

/// The text a scalar becomes in a `string` field (KSML converts any value to a string field's
/// type by its text; Weir does so for scalars only).
fn text(value: &Value) -> Option<String> {
    Some(match value {
        Value::String(s) | Value::Enum(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Byte(n) => n.to_string(),
        Value::Short(n) => n.to_string(),
        Value::Int(n) => n.to_string(),
        Value::Long(n) => n.to_string(),
        Value::Float(x) => format!("{x:?}"),
        Value::Double(x) => format!("{x:?}"),
        _ => return None,
    })
}

struct Writer<'a> {
    names: &'a HashMap<String, Schema>,
}

impl Writer<'_> {
    fn write(&self, value: &Value, schema: &Schema, out: &mut Vec<u8>, depth: usize) -> Result<(), Fail> {
        if depth > MAX_DEPTH {
            return Err(Fail::new(format!("the value nests deeper than {MAX_DEPTH} levels")));
        }
        let schema = deref(schema, self.names);
        if let Schema::Union(u) = schema {
            return self.write_union(value, u, out, depth);
        }
        if *value == Value::Null && !matches!(schema, Schema::Null) {
            return Err(mismatch(&type_name(schema, self.names), value));
        }
        match schema {
            Schema::Null => match value {
                Value::Null => {}
                other => return Err(mismatch("null", other)),
            },
            Schema::Boolean => match value {
                Value::Bool(b) => out.push(u8::from(*b)),
                Value::String(s) if s.eq_ignore_ascii_case("true") => out.push(1),
                Value::String(s) if s.eq_ignore_ascii_case("false") => out.push(0),
                other => return Err(mismatch("boolean", other)),
            },
            Schema::Int => put_long(out, integer(value, i32::MIN.into(), i32::MAX.into(), "int")?),
            Schema::Date => put_long(out, integer(value, i32::MIN.into(), i32::MAX.into(), "date")?),
            Schema::TimeMillis => put_long(out, integer(value, 0, 86_399_999, "time-millis (0..=86399999)")?),
            Schema::TimeMicros => put_long(out, integer(value, 0, 86_399_999_999, "time-micros (0..=86399999999)")?),
            Schema::Long
            | Schema::TimestampMillis
            | Schema::TimestampMicros
            | Schema::TimestampNanos
            | Schema::LocalTimestampMillis
            | Schema::LocalTimestampMicros
            | Schema::LocalTimestampNanos => put_long(out, integer(value, i64::MIN, i64::MAX, long_name(schema))?),
            Schema::Float => {
                let x = floating(value, "float")?;
                if x.is_finite() && x.abs() > f64::from(f32::MAX) {
                    return Err(Fail::new(format!("{x} is out of range for float")));
                }
                out.extend_from_slice(&(x as f32).to_le_bytes());
            }
            Schema::Double => out.extend_from_slice(&floating(value, "double")?.to_le_bytes()),
            Schema::Bytes | Schema::BigDecimal => match value {
                Value::Bytes(b) => put_bytes(out, b),
                other => return Err(mismatch("bytes", other)),
            },
            Schema::String => match text(value) {
                Some(s) => put_bytes(out, s.as_bytes()),
                None => return Err(mismatch("string", value)),
            },
            Schema::Uuid => match value {
                Value::String(s) if is_uuid(s) => put_bytes(out, s.as_bytes()),
                Value::String(s) => return Err(Fail::new(format!("\"{s}\" is not a valid uuid"))),
                other => return Err(mismatch("uuid (a string)", other)),
            },
            Schema::Fixed(f) => self.write_fixed(value, f.size, || type_name(schema, self.names), out)?,
            Schema::Duration => self.write_fixed(value, 12, || "duration (12 bytes)".to_string(), out)?,
            Schema::Decimal(d) => match d.inner.as_ref() {
                Schema::Fixed(f) => self.write_fixed(value, f.size, || type_name(schema, self.names), out)?,
                _ => put_bytes(out, &decimal_bytes(value, d.precision, d.scale)?),
            },
            Schema::Enum(e) => match value {
                Value::String(s) | Value::Enum(s) => match e.symbols.iter().position(|x| x == s) {
                    Some(i) => put_long(out, i as i64),
                    None => {
                        return Err(Fail::new(format!("\"{s}\" is not a symbol of enum {} ({})", e.name.name, e.symbols.join(", "))));
                    }
                },
                other => return Err(mismatch(&format!("enum {}", e.name.name), other)),
            },
            Schema::Array(a) => match value {
                Value::List(items) | Value::Tuple(items) => {
                    if !items.is_empty() {
                        put_long(out, items.len() as i64);
                        for (i, item) in items.iter().enumerate() {
                            self.write(item, &a.items, out, depth + 1).map_err(|f| f.at(Step::Index(i)))?;
                        }
                    }
                    out.push(0);
                }
                other => return Err(mismatch("array", other)),
            },
            Schema::Map(m) => match value {
                Value::Struct(entries) => {
                    if !entries.is_empty() {
                        put_long(out, entries.len() as i64);
                        for (k, v) in entries {
                            put_bytes(out, k.as_bytes());
                            self.write(v, &m.types, out, depth + 1).map_err(|f| f.at(Step::Key(k.clone())))?;
                        }
                    }
                    out.push(0);
                }
                other => return Err(mismatch("map", other)),
            },
            Schema::Record(r) => self.write_record(value, r, out, depth)?,
            Schema::Union(_) | Schema::Ref { .. } => return Err(Fail::new("unresolvable schema (a bug in Weir)")),
        }
        Ok(())
    }

    /// `what` names the type, for errors only.
    fn write_fixed(&self, value: &Value, size: usize, what: impl Fn() -> String, out: &mut Vec<u8>) -> Result<(), Fail> {
        match value {
            Value::Bytes(b) if b.len() == size => {
                out.extend_from_slice(b);
                Ok(())
            }
            Value::Bytes(b) => Err(Fail::new(format!("expected {}, found {} bytes", what(), b.len()))),
            other => Err(mismatch(&what(), other)),
        }
    }

    fn write_record(&self, value: &Value, r: &RecordSchema, out: &mut Vec<u8>, depth: usize) -> Result<(), Fail> {
        let Value::Struct(fields) = value else { return Err(mismatch(&format!("record {}", r.name.name), value)) };
        for field in &r.fields {
            let at = |f: Fail| f.at(Step::Field(field.name.clone()));
            match fields.get(&field.name) {
                Some(v) => self.write(v, &field.schema, out, depth + 1).map_err(at)?,
                None => match &field.default {
                    Some(json) => {
                        let v = default_value(json, &field.schema, self.names, depth + 1).map_err(at)?;
                        self.write(&v, &field.schema, out, depth + 1).map_err(at)?;
                    }
                    None => match deref(&field.schema, self.names) {
                        Schema::Union(u) if u.variants().iter().any(|s| matches!(s, Schema::Null)) => {
                            self.write_union(&Value::Null, u, out, depth + 1).map_err(at)?;
                        }
                        s => {
                            let t = type_name(s, self.names);
                            return Err(at(Fail::new(format!("missing, and the schema gives no default for this {t}"))));
                        }
                    },
                },
            }
        }
        Ok(())
    }

    fn write_union(&self, value: &Value, u: &UnionSchema, out: &mut Vec<u8>, depth: usize) -> Result<(), Fail> {
        let variants = u.variants();
        let chosen = |out: &mut Vec<u8>, i: usize| -> Result<(), Fail> {
            put_long(out, i as i64);
            self.write(value, &variants[i], out, depth + 1)
        };
        if *value == Value::Null {
            return match variants.iter().position(|s| matches!(s, Schema::Null)) {
                Some(i) => {
                    put_long(out, i as i64);
                    Ok(())
                }
                None => Err(mismatch(&type_name_union(u, self.names), value)),
            };
        }
        // The branch of the value's own type first (as KSML's mapper does).
        let native = |s: &Schema| {
            let s = deref(s, self.names);
            match value {
                Value::Bool(_) => wire(s) == Wire::Boolean,
                Value::Byte(_) | Value::Short(_) | Value::Int(_) => matches!(s, Schema::Int),
                Value::Long(_) => matches!(s, Schema::Long),
                Value::Float(_) => wire(s) == Wire::Float,
                Value::Double(_) => wire(s) == Wire::Double,
                Value::String(_) => matches!(s, Schema::String),
                Value::Bytes(b) => matches!(s, Schema::Bytes) || matches!(wire(s), Wire::Fixed(n) if n == b.len()),
                Value::List(_) | Value::Tuple(_) => wire(s) == Wire::Array,
                Value::Enum(sym) => matches!(s, Schema::Enum(e) if e.symbols.contains(sym)),
                Value::Struct(fields) => matches!(s, Schema::Record(r) if fields.keys().all(|k| r.lookup.contains_key(k))),
                Value::Null => false,
            }
        };
        if let Some(i) = variants.iter().position(native) {
            return chosen(out, i);
        }
        let mut first_error = None;
        for (i, s) in variants.iter().enumerate() {
            if matches!(s, Schema::Null) {
                continue;
            }
            let mut trial = Vec::new();
            match self.write(value, s, &mut trial, depth + 1) {
                Ok(()) => {
                    put_long(out, i as i64);
                    out.extend_from_slice(&trial);
                    return Ok(());
                }
                Err(f) => {
                    first_error.get_or_insert(f);
                }
            }
        }
        // With one candidate branch, its own error says most.
        let candidates = variants.iter().filter(|s| !matches!(s, Schema::Null)).count();
        match first_error {
            Some(f) if candidates == 1 => Err(f),
            _ => Err(mismatch(&type_name_union(u, self.names), value)),
        }
    }
}

/// The name of a `long`-based schema, for messages.
fn long_name(schema: &Schema) -> &'static str {
    match schema {
        Schema::TimeMicros => "time-micros",
        Schema::TimestampMillis => "timestamp-millis",
        Schema::TimestampMicros => "timestamp-micros",
        Schema::TimestampNanos => "timestamp-nanos",
        Schema::LocalTimestampMillis => "local-timestamp-millis",
        Schema::LocalTimestampMicros => "local-timestamp-micros",
        Schema::LocalTimestampNanos => "local-timestamp-nanos",
        _ => "long",
    }
}

fn type_name_union(u: &UnionSchema, names: &HashMap<String, Schema>) -> String {
    let members: Vec<String> = u.variants().iter().map(|v| type_name(v, names)).collect();
    format!("one of [{}]", members.join(", "))
}

/// The canonical text form of a UUID: 8-4-4-4-12 hexadecimal digits.
fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36 && b.iter().enumerate().all(|(i, c)| if matches!(i, 8 | 13 | 18 | 23) { *c == b'-' } else { c.is_ascii_hexdigit() })
}

/// A schema default (JSON, as the Avro spec writes defaults) as a value of `schema`.
fn default_value(json: &Json, schema: &Schema, names: &HashMap<String, Schema>, depth: usize) -> Result<Value, Fail> {
    if depth > MAX_DEPTH {
        return Err(Fail::new(format!("the default nests deeper than {MAX_DEPTH} levels")));
    }
    let schema = deref(schema, names);
    let bad = || Fail::new(format!("the schema's default {json} is not a {}", type_name(schema, names)));
    Ok(match schema {
        // A union's default is a value of its first branch.
        Schema::Union(u) => return u.variants().first().map_or_else(|| Err(bad()), |s| default_value(json, s, names, depth + 1)),
        Schema::Null => Value::Null,
        Schema::Boolean => Value::Bool(json.as_bool().ok_or_else(bad)?),
        Schema::Int | Schema::Date | Schema::TimeMillis => Value::Int(json.as_i64().and_then(|n| i32::try_from(n).ok()).ok_or_else(bad)?),
        Schema::Float => Value::Float(json.as_f64().ok_or_else(bad)? as f32),
        Schema::Double => Value::Double(json.as_f64().ok_or_else(bad)?),
        Schema::String | Schema::Uuid => Value::String(json.as_str().ok_or_else(bad)?.to_string()),
        Schema::Bytes | Schema::BigDecimal | Schema::Fixed(_) | Schema::Duration | Schema::Decimal(_) => {
            // Bytes defaults are strings of code points 0..=255.
            let s = json.as_str().ok_or_else(bad)?;
            let bytes: Vec<u8> = s.chars().map(|c| u8::try_from(u32::from(c)).map_err(|_| bad())).collect::<Result<_, _>>()?;
            match bytes_decimal(schema) {
                Some((_, scale)) => Value::String(decimal_text(&bytes, scale)?),
                None => Value::Bytes(bytes),
            }
        }
        Schema::Enum(_) => Value::Enum(json.as_str().ok_or_else(bad)?.to_string()),
        Schema::Array(a) => Value::List(
            json.as_array().ok_or_else(bad)?.iter().map(|j| default_value(j, &a.items, names, depth + 1)).collect::<Result<_, _>>()?,
        ),
        Schema::Map(m) => Value::Struct(
            json.as_object()
                .ok_or_else(bad)?
                .iter()
                .map(|(k, j)| default_value(j, &m.types, names, depth + 1).map(|v| (k.clone(), v)))
                .collect::<Result<_, _>>()?,
        ),
        Schema::Record(r) => {
            let object = json.as_object().ok_or_else(bad)?;
            let mut fields = IndexMap::with_capacity(r.fields.len());
            for f in &r.fields {
                let v = match (object.get(&f.name), &f.default) {
                    (Some(j), _) | (None, Some(j)) => default_value(j, &f.schema, names, depth + 1)?,
                    (None, None) => return Err(Fail::new(format!("the schema's default {json} lacks field '{}'", f.name))),
                };
                fields.insert(f.name.clone(), v);
            }
            Value::Struct(fields)
        }
        Schema::Long
        | Schema::TimeMicros
        | Schema::TimestampMillis
        | Schema::TimestampMicros
        | Schema::TimestampNanos
        | Schema::LocalTimestampMillis
        | Schema::LocalTimestampMicros
        | Schema::LocalTimestampNanos => Value::Long(json.as_i64().ok_or_else(bad)?),
        Schema::Ref { .. } => return Err(bad()),
    })
}

// ---- decimals ------------------------------------------------------------------------------

/// The two's-complement big-endian bytes of a decimal value (a string like `"-123.45"`, or an
/// integer) at `scale`, checked against `precision` (as KSML's `DecimalLogicalType` does:
/// trailing zeros beyond the scale are fine, other fraction digits are not).
fn decimal_bytes(value: &Value, precision: usize, scale: usize) -> Result<Vec<u8>, Fail> {
    let text = match value {
        Value::String(s) => s.clone(),
        Value::Byte(_) | Value::Short(_) | Value::Int(_) | Value::Long(_) => value.to_string(),
        other => return Err(mismatch(&format!("decimal({precision}, {scale}) as a string like \"123.45\""), other)),
    };
    let invalid = || Fail::new(format!("\"{text}\" is not a valid decimal"));
    let (negative, rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text.as_str()),
    };
    let (mantissa, exponent) = match rest.find(['e', 'E']) {
        Some(i) => (&rest[..i], rest[i + 1..].parse::<i64>().map_err(|_| invalid())?),
        None => (rest, 0),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int_part.is_empty() && frac_part.is_empty()
        || !int_part.bytes().chain(frac_part.bytes()).all(|b| b.is_ascii_digit())
        || exponent.abs() > 1_000_000
    {
        return Err(invalid());
    }
    let mut digits: Vec<u8> = int_part.bytes().chain(frac_part.bytes()).map(|b| b - b'0').collect();
    // value = digits × 10^shift before scaling; unscaled = digits × 10^(shift + scale).
    let shift = exponent - frac_part.len() as i64 + scale as i64;
    if shift < 0 {
        let cut = usize::try_from(-shift).unwrap_or(usize::MAX).min(digits.len());
        if digits[digits.len() - cut..].iter().any(|d| *d != 0) {
            return Err(Fail::new(format!("decimal \"{text}\" has more fraction digits than the schema's scale of {scale}")));
        }
        digits.truncate(digits.len() - cut);
    }
    let first = digits.iter().position(|d| *d != 0).unwrap_or(digits.len());
    let significant = (digits.len() - first) as i64 + shift.max(0);
    if significant > precision as i64 {
        return Err(Fail::new(format!(
            "decimal \"{text}\" needs {significant} digits of precision, but the schema allows only {precision}"
        )));
    }
    digits.drain(..first);
    digits.extend(std::iter::repeat_n(0, usize::try_from(shift.max(0)).unwrap_or(0)));
    // Decimal digits to base-256 magnitude, big-endian.
    let mut magnitude: Vec<u8> = Vec::new();
    for d in digits {
        let mut carry = u32::from(d);
        for byte in magnitude.iter_mut().rev() {
            let v = u32::from(*byte) * 10 + carry;
            *byte = v as u8;
            carry = v >> 8;
        }
        while carry > 0 {
            magnitude.insert(0, carry as u8);
            carry >>= 8;
        }
    }
    if magnitude.len() > MAX_DECIMAL_BYTES {
        return Err(Fail::new(format!("decimal \"{text}\" is longer than {MAX_DECIMAL_BYTES} bytes")));
    }
    Ok(twos_complement(magnitude, negative))
}

/// The shortest two's-complement big-endian form of ±magnitude (Java's `BigInteger.toByteArray`).
fn twos_complement(mut magnitude: Vec<u8>, negative: bool) -> Vec<u8> {
    if magnitude.is_empty() {
        return vec![0];
    }
    magnitude.insert(0, 0);
    if negative {
        let mut carry = true;
        for b in magnitude.iter_mut().rev() {
            *b = !*b;
            if carry {
                let (v, c) = b.overflowing_add(1);
                *b = v;
                carry = c;
            }
        }
        while magnitude.len() > 1 && magnitude[0] == 0xff && magnitude[1] & 0x80 != 0 {
            magnitude.remove(0);
        }
    } else {
        while magnitude.len() > 1 && magnitude[0] == 0 && magnitude[1] & 0x80 == 0 {
            magnitude.remove(0);
        }
    }
    magnitude
}

/// The text of a two's-complement big-endian unscaled value at `scale`: `"-123.45"`.
fn decimal_text(bytes: &[u8], scale: usize) -> Result<String, Fail> {
    if bytes.len() > MAX_DECIMAL_BYTES {
        return Err(Fail::new(format!("a decimal of {} bytes is longer than {MAX_DECIMAL_BYTES} bytes", bytes.len())));
    }
    let negative = bytes.first().is_some_and(|b| b & 0x80 != 0);
    let mut magnitude = bytes.to_vec();
    if negative {
        let mut carry = true;
        for b in magnitude.iter_mut().rev() {
            *b = !*b;
            if carry {
                let (v, c) = b.overflowing_add(1);
                *b = v;
                carry = c;
            }
        }
    }
    // Base-256 to decimal digits by repeated division by 10.
    let mut digits = Vec::new();
    let mut start = 0;
    while start < magnitude.len() {
        let mut rem = 0u32;
        for byte in &mut magnitude[start..] {
            let v = (rem << 8) | u32::from(*byte);
            *byte = (v / 10) as u8;
            rem = v % 10;
        }
        digits.push(b'0' + rem as u8);
        while start < magnitude.len() && magnitude[start] == 0 {
            start += 1;
        }
    }
    if digits.len() <= scale {
        digits.resize(scale + 1, b'0');
    }
    digits.reverse();
    let (int_part, frac_part) = digits.split_at(digits.len() - scale);
    let mut text = String::with_capacity(digits.len() + 2);
    if negative {
        text.push('-');
    }
    text.push_str(std::str::from_utf8(int_part).unwrap_or("0"));
    if scale > 0 {
        text.push('.');
        text.push_str(std::str::from_utf8(frac_part).unwrap_or("0"));
    }
    Ok(text)
}

// ---- reading -------------------------------------------------------------------------------

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    /// How many more array items and map entries may be read (bounds the work on records
    /// claiming huge counts of zero-width items).
    budget: usize,
    writer_names: &'a HashMap<String, Schema>,
    reader_names: &'a HashMap<String, Schema>,
}

impl Reader<'_> {
    fn left(&self) -> usize {
        self.bytes.len() - self.pos
    }

    fn byte(&mut self) -> Result<u8, Fail> {
        let b = *self.bytes.get(self.pos).ok_or_else(|| Fail::new("the record ends too early"))?;
        self.pos += 1;
        Ok(b)
    }

    fn take(&mut self, n: usize) -> Result<&[u8], Fail> {
        if n > self.left() {
            return Err(Fail::new(format!("the record ends too early: {n} bytes needed, {} left", self.left())));
        }
        let slice = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(slice)
    }

    fn long(&mut self) -> Result<i64, Fail> {
        let mut z = 0u64;
        for i in 0..10 {
            let b = self.byte()?;
            if i == 9 && b > 1 {
                return Err(Fail::new("a varint is longer than 64 bits"));
            }
            z |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok((z >> 1) as i64 ^ -((z & 1) as i64));
            }
        }
        Err(Fail::new("a varint is longer than 10 bytes"))
    }

    fn int(&mut self) -> Result<i32, Fail> {
        let n = self.long()?;
        i32::try_from(n).map_err(|_| Fail::new(format!("{n} is out of range for int")))
    }

    fn len(&mut self) -> Result<usize, Fail> {
        let n = self.long()?;
        match usize::try_from(n) {
            Ok(n) if n <= self.left() => Ok(n),
            Ok(n) => Err(Fail::new(format!("a length of {n} bytes, but only {} bytes are left", self.left()))),
            Err(_) => Err(Fail::new(format!("a negative length {n}"))),
        }
    }

    fn raw_bytes(&mut self) -> Result<Vec<u8>, Fail> {
        let n = self.len()?;
        Ok(self.take(n)?.to_vec())
    }

    fn string(&mut self) -> Result<String, Fail> {
        let n = self.len()?;
        let bytes = self.take(n)?;
        Ok(String::from_utf8_lossy(bytes).into_owned())
    }

    /// The item count of the next block of an array or map (0 at the end).
    fn block(&mut self) -> Result<usize, Fail> {
        let n = self.long()?;
        let count = if n < 0 {
            // A negative count is followed by the block's size in bytes.
            let _size = self.long()?;
            n.checked_neg().ok_or_else(|| Fail::new("an invalid block count"))?
        } else {
            n
        };
        let count = usize::try_from(count).map_err(|_| Fail::new("an invalid block count"))?;
        if count > self.budget {
            return Err(Fail::new(format!("a block of {count} items, more than a record of {} bytes can hold", self.bytes.len())));
        }
        self.budget -= count;
        Ok(count)
    }

    /// Reads a value written with `w`, as a value of `r`.
    fn read(&mut self, w: &Schema, r: &Schema, depth: usize) -> Result<Value, Fail> {
        if depth > MAX_DEPTH {
            return Err(Fail::new(format!("the value nests deeper than {MAX_DEPTH} levels")));
        }
        let w = deref(w, self.writer_names);
        let r = deref(r, self.reader_names);
        if let Schema::Union(u) = w {
            let i = self.long()?;
            let branch = usize::try_from(i)
                .ok()
                .and_then(|i| u.variants().get(i))
                .ok_or_else(|| Fail::new(format!("union branch {i} does not exist ({} branches)", u.variants().len())))?;
            return self.read(branch, r, depth + 1);
        }
        if let Schema::Union(u) = r {
            let branch = self.union_branch(w, u).ok_or_else(|| {
                Fail::new(format!(
                    "the writer's {} matches no branch of the reader's {}",
                    type_name(w, self.writer_names),
                    type_name(r, self.reader_names)
                ))
            })?;
            return self.read(w, branch, depth + 1);
        }
        let incompatible = || {
            Fail::new(format!(
                "the writer's {} cannot be read as the reader's {}",
                type_name(w, self.writer_names),
                type_name(r, self.reader_names)
            ))
        };
        let (ww, rw) = (wire(w), wire(r));
        Ok(match (ww, rw) {
            (Wire::Null, Wire::Null) => Value::Null,
            (Wire::Boolean, Wire::Boolean) => match self.byte()? {
                0 => Value::Bool(false),
                1 => Value::Bool(true),
                b => return Err(Fail::new(format!("a boolean byte {b:#04x} (expected 00 or 01)"))),
            },
            (Wire::Int, _) => {
                let n = self.int()?;
                match rw {
                    Wire::Int => Value::Int(n),
                    Wire::Long => Value::Long(n.into()),
                    Wire::Float => Value::Float(n as f32),
                    Wire::Double => Value::Double(n.into()),
                    _ => return Err(incompatible()),
                }
            }
            (Wire::Long, _) => {
                let n = self.long()?;
                match rw {
                    Wire::Long => Value::Long(n),
                    Wire::Float => Value::Float(n as f32),
                    Wire::Double => Value::Double(n as f64),
                    _ => return Err(incompatible()),
                }
            }
            (Wire::Float, Wire::Float | Wire::Double) => {
                let x = f32::from_le_bytes(self.take(4)?.try_into().unwrap_or_default());
                if rw == Wire::Float { Value::Float(x) } else { Value::Double(x.into()) }
            }
            (Wire::Double, Wire::Double) => Value::Double(f64::from_le_bytes(self.take(8)?.try_into().unwrap_or_default())),
            (Wire::String, Wire::String) => Value::String(self.string()?),
            (Wire::String, Wire::Bytes) => Value::Bytes(self.raw_bytes()?),
            (Wire::Bytes, Wire::String) => Value::String(self.string()?),
            (Wire::Bytes, Wire::Bytes) => {
                let bytes = self.raw_bytes()?;
                match (bytes_decimal(r), bytes_decimal(w)) {
                    (Some((_, rs)), Some((_, ws))) if rs != ws => {
                        return Err(Fail::new(format!("the writer's decimal scale {ws} differs from the reader's {rs}")));
                    }
                    (Some((_, scale)), _) => Value::String(decimal_text(&bytes, scale)?),
                    (None, _) => Value::Bytes(bytes),
                }
            }
            (Wire::Fixed(n), Wire::Fixed(m)) if n == m => Value::Bytes(self.take(n)?.to_vec()),
            (Wire::Enum, Wire::Enum) => {
                let (Schema::Enum(we), Schema::Enum(re)) = (w, r) else { return Err(incompatible()) };
                let i = self.long()?;
                let symbol = usize::try_from(i)
                    .ok()
                    .and_then(|i| we.symbols.get(i))
                    .ok_or_else(|| Fail::new(format!("enum index {i} is out of range ({} symbols)", we.symbols.len())))?;
                if re.symbols.contains(symbol) {
                    Value::Enum(symbol.clone())
                } else if let Some(default) = &re.default {
                    Value::Enum(default.clone())
                } else {
                    return Err(Fail::new(format!("the writer's symbol \"{symbol}\" is not in the reader's enum {}", re.name.name)));
                }
            }
            (Wire::Array, Wire::Array) => {
                let (Schema::Array(wa), Schema::Array(ra)) = (w, r) else { return Err(incompatible()) };
                let mut items = Vec::new();
                loop {
                    let count = self.block()?;
                    if count == 0 {
                        break;
                    }
                    items.reserve(count.min(self.left()));
                    for _ in 0..count {
                        let i = items.len();
                        items.push(self.read(&wa.items, &ra.items, depth + 1).map_err(|f| f.at(Step::Index(i)))?);
                    }
                }
                Value::List(items)
            }
            (Wire::Map, Wire::Map) => {
                let (Schema::Map(wm), Schema::Map(rm)) = (w, r) else { return Err(incompatible()) };
                let mut entries = IndexMap::new();
                loop {
                    let count = self.block()?;
                    if count == 0 {
                        break;
                    }
                    entries.reserve(count.min(self.left()));
                    for _ in 0..count {
                        let key = self.string()?;
                        let value = self.read(&wm.types, &rm.types, depth + 1).map_err(|f| f.at(Step::Key(key.clone())))?;
                        entries.insert(key, value);
                    }
                }
                Value::Struct(entries)
            }
            (Wire::Record, Wire::Record) => {
                let (Schema::Record(wr), Schema::Record(rr)) = (w, r) else { return Err(incompatible()) };
                self.read_record(wr, rr, depth)?
            }
            _ => return Err(incompatible()),
        })
    }

    fn read_record(&mut self, wr: &RecordSchema, rr: &RecordSchema, depth: usize) -> Result<Value, Fail> {
        let mut slots: Vec<Option<Value>> = vec![None; rr.fields.len()];
        for wf in &wr.fields {
            let at = |f: Fail| f.at(Step::Field(wf.name.clone()));
            let target = rr
                .lookup
                .get(&wf.name)
                .copied()
                .or_else(|| rr.fields.iter().position(|rf| rf.aliases.as_ref().is_some_and(|a| a.contains(&wf.name))));
            match target {
                Some(i) => slots[i] = Some(self.read(&wf.schema, &rr.fields[i].schema, depth + 1).map_err(at)?),
                // A field the reader does not know: read past it.
                None => {
                    let names = self.reader_names;
                    self.reader_names = self.writer_names;
                    let skipped = self.read(&wf.schema, &wf.schema, depth + 1);
                    self.reader_names = names;
                    skipped.map_err(at)?;
                }
            }
        }
        let mut fields = IndexMap::with_capacity(rr.fields.len());
        for (rf, slot) in rr.fields.iter().zip(slots) {
            let value = match (slot, &rf.default) {
                (Some(v), _) => v,
                (None, Some(json)) => {
                    default_value(json, &rf.schema, self.reader_names, depth + 1).map_err(|f| f.at(Step::Field(rf.name.clone())))?
                }
                (None, None) => {
                    return Err(Fail::new(format!(
                        "the reader's field '{}' has no default, and the writer's record {} has no such field",
                        rf.name, wr.name.name
                    )));
                }
            };
            fields.insert(rf.name.clone(), value);
        }
        Ok(Value::Struct(fields))
    }

    /// The reader's union branch that a writer's (non-union) schema resolves to: the same
    /// type (and name, for named types) first, then one it promotes to.
    fn union_branch<'u>(&self, w: &Schema, u: &'u UnionSchema) -> Option<&'u Schema> {
        let ww = wire(w);
        let w_name = w.name().map(|n| n.name.clone());
        let variants = u.variants();
        let resolved = |s: &'u Schema| deref(s, self.reader_names);
        let same = |s: &&'u Schema| {
            let s = resolved(s);
            wire(s) == ww && (w_name.is_none() || s.name().map(|n| &n.name) == w_name.as_ref())
        };
        let same_wire = |s: &&'u Schema| wire(resolved(s)) == ww;
        let promoted = |s: &&'u Schema| {
            matches!(
                (ww, wire(resolved(s))),
                (Wire::Int, Wire::Long | Wire::Float | Wire::Double)
                    | (Wire::Long, Wire::Float | Wire::Double)
                    | (Wire::Float, Wire::Double)
                    | (Wire::String, Wire::Bytes)
                    | (Wire::Bytes, Wire::String)
            )
        };
        variants.iter().find(same).or_else(|| variants.iter().find(same_wire)).or_else(|| variants.iter().find(promoted))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema(text: &str) -> AvroSchema {
        AvroSchema::parse(text).expect("schema")
    }

    /// KSML's `@type` and `@schema`: the record's name, and the schema in KSML's notation
    /// (an optional field is its member with `required: false`, `int` is `integer`, nested
    /// named types carry their enclosing namespace, other unions list their members).
    #[test]
    fn records_in_ksml_schema_notation() {
        let s = schema(
            r#"{"type": "record", "name": "Reading", "namespace": "io.x", "doc": "A reading", "fields": [
                {"name": "n", "type": "int", "doc": "count"},
                {"name": "kind", "type": {"type": "enum", "name": "Kind", "symbols": ["A", "B"]}},
                {"name": "color", "type": ["null", "string"], "default": null},
                {"name": "either", "type": ["string", "long"], "order": "descending"},
                {"name": "tags", "type": {"type": "map", "values": {"type": "array", "items": "string"}}, "default": {}}
            ]}"#,
        );
        let t = |x: &str| Value::String(x.to_string());
        let obj = |pairs: Vec<(&str, Value)>| Value::Struct(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect());
        let field = |name: &str, doc: Option<&str>, required: bool, ty: Value, default: Option<Value>, order: &str| {
            let mut f = vec![("name", t(name))];
            f.extend(doc.map(|d| ("doc", t(d))));
            f.extend([("required", Value::Bool(required)), ("constant", Value::Bool(false)), ("tag", Value::Int(-1)), ("type", ty)]);
            f.extend(default.map(|d| ("defaultValue", d)));
            f.push(("order", t(order)));
            obj(f)
        };
        let symbol = |n: &str| obj(vec![("name", t(n)), ("tag", Value::Int(-1))]);
        let member = |ty: &str| obj(vec![("name", Value::Null), ("type", t(ty)), ("doc", Value::Null), ("tag", Value::Int(-1))]);
        let expected = obj(vec![
            ("type", t("struct")),
            ("namespace", t("io.x")),
            ("name", t("Reading")),
            ("doc", t("A reading")),
            (
                "fields",
                Value::List(vec![
                    field("n", Some("count"), true, t("integer"), None, "ASCENDING"),
                    field(
                        "kind",
                        None,
                        true,
                        obj(vec![
                            ("type", t("enum")),
                            ("namespace", t("io.x")),
                            ("name", t("Kind")),
                            ("symbols", Value::List(vec![symbol("A"), symbol("B")])),
                        ]),
                        None,
                        "ASCENDING",
                    ),
                    field("color", None, false, t("string"), Some(Value::Null), "ASCENDING"),
                    field("either", None, true, Value::List(vec![member("string"), member("long")]), None, "DESCENDING"),
                    field(
                        "tags",
                        None,
                        true,
                        obj(vec![("type", t("map")), ("values", obj(vec![("type", t("list")), ("items", t("string"))]))]),
                        Some(obj(vec![])),
                        "ASCENDING",
                    ),
                ]),
            ),
            ("additionalFieldsAllowed", Value::Bool(false)),
        ]);
        assert_eq!(s.ksml_schema(), Some(("Reading".to_string(), expected)));
        assert_eq!(schema(r#"{"type": "array", "items": "string"}"#).ksml_schema(), None);
    }

    #[test]
    fn defaults_are_put_back_on_their_own_fields() {
        // Records inside unions, arrays and maps, and a decimal default apache-avro refuses.
        let s = schema(
            r#"{"type":"record","name":"R","fields":[
                {"name":"a","type":["null",{"type":"record","name":"X","fields":[{"name":"x","type":"int","default":1}]}],"default":null},
                {"name":"b","type":{"type":"array","items":{"type":"record","name":"Y","fields":[
                    {"name":"y","type":"string","default":"q"},
                    {"name":"z","type":{"type":"map","values":{"type":"record","name":"Z","fields":[{"name":"w","type":"long","default":7}]}}}]}}},
                {"name":"c","type":{"type":"bytes","logicalType":"decimal","precision":4,"scale":1},"default":"\u0001"},
                {"name":"d","type":"X","default":{"x":2}}]}"#,
        );
        let value = Value::Struct(IndexMap::from([
            ("a".to_string(), Value::Struct(IndexMap::new())),
            (
                "b".to_string(),
                Value::List(vec![Value::Struct(IndexMap::from([(
                    "z".to_string(),
                    Value::Struct(IndexMap::from([("k".to_string(), Value::Struct(IndexMap::new()))])),
                )]))]),
            ),
        ]));
        let mut out = Vec::new();
        s.encode(&value, &mut out).unwrap();
        let back = s.decode(&out, None).unwrap();
        let x = |n: i32| Value::Struct(IndexMap::from([("x".to_string(), Value::Int(n))]));
        let z = Value::Struct(IndexMap::from([("k".to_string(), Value::Struct(IndexMap::from([("w".to_string(), Value::Long(7))])))]));
        let y = Value::Struct(IndexMap::from([("y".to_string(), Value::String("q".into())), ("z".to_string(), z)]));
        assert_eq!(
            back,
            Value::Struct(IndexMap::from([
                ("a".to_string(), x(1)),
                ("b".to_string(), Value::List(vec![y])),
                ("c".to_string(), Value::String("0.1".into())),
                ("d".to_string(), x(2)),
            ]))
        );
    }

    #[test]
    fn longs_use_zigzag_varints() {
        for (n, bytes) in [(0i64, vec![0u8]), (-1, vec![1]), (1, vec![2]), (-64, vec![0x7f]), (64, vec![0x80, 1])] {
            let mut out = Vec::new();
            put_long(&mut out, n);
            assert_eq!(out, bytes, "{n}");
            let mut r = Reader { bytes: &out, pos: 0, budget: 0, writer_names: &HashMap::new(), reader_names: &HashMap::new() };
            assert_eq!(r.long().unwrap(), n);
        }
        for n in [i64::MIN, i64::MAX, i64::from(i32::MIN) - 1] {
            let mut out = Vec::new();
            put_long(&mut out, n);
            let mut r = Reader { bytes: &out, pos: 0, budget: 0, writer_names: &HashMap::new(), reader_names: &HashMap::new() };
            assert_eq!(r.long().unwrap(), n);
        }
        let too_long = [0xffu8; 11];
        let mut r = Reader { bytes: &too_long, pos: 0, budget: 0, writer_names: &HashMap::new(), reader_names: &HashMap::new() };
        assert!(r.long().unwrap_err().message.contains("longer than 64 bits"));
    }

    #[test]
    fn decimals_round_trip_as_java_writes_them() {
        // Java's BigInteger.toByteArray of the unscaled values.
        let cases: &[(&str, usize, &[u8])] = &[
            ("0", 0, &[0]),
            ("123.45", 2, &[0x30, 0x39]),
            ("-123.45", 2, &[0xcf, 0xc7]),
            ("1.28", 2, &[0x00, 0x80]),
            ("-1.28", 2, &[0x80]),
            ("-1.29", 2, &[0xff, 0x7f]),
            ("0.01", 2, &[0x01]),
            ("-0.01", 2, &[0xff]),
            ("12345678901234567890.12", 2, &[0x42, 0xed, 0x12, 0x3b, 0x0b, 0xd8, 0x20, 0x3a, 0x14]),
        ];
        for (text, scale, bytes) in cases {
            let encoded = decimal_bytes(&Value::String(text.to_string()), 38, *scale).unwrap();
            assert_eq!(encoded, *bytes, "{text}");
            assert_eq!(decimal_text(bytes, *scale).unwrap(), *text);
        }
        assert_eq!(
            decimal_bytes(&Value::String("1.5e2".into()), 10, 2).unwrap(),
            decimal_bytes(&Value::String("150".into()), 10, 2).unwrap()
        );
        assert_eq!(decimal_bytes(&Value::String("1.2300".into()), 10, 2).unwrap(), vec![123]);
        assert_eq!(decimal_bytes(&Value::Long(-7), 10, 1).unwrap(), vec![0xba]);
        assert!(decimal_bytes(&Value::String("1.234".into()), 10, 2).unwrap_err().message.contains("more fraction digits"));
        assert!(decimal_bytes(&Value::String("123456".into()), 5, 0).unwrap_err().message.contains("needs 6 digits"));
        assert!(decimal_bytes(&Value::String("12a".into()), 5, 0).unwrap_err().message.contains("not a valid decimal"));
        assert!(decimal_bytes(&Value::Double(1.5), 5, 1).unwrap_err().message.contains("as a string"));
        assert_eq!(decimal_text(&[], 2).unwrap(), "0.00");
    }

    #[test]
    fn defaults_fill_missing_fields_and_errors_name_the_path() {
        let s = schema(
            r#"{"type":"record","name":"R","fields":[
                {"name":"a","type":"int"},
                {"name":"b","type":"string","default":"x"},
                {"name":"c","type":["null","long"]},
                {"name":"inner","type":{"type":"record","name":"I","fields":[{"name":"tags","type":{"type":"array","items":"string"}}]}}]}"#,
        );
        let value = |inner: Value| Value::Struct(IndexMap::from([("a".to_string(), Value::Long(5)), ("inner".to_string(), inner)]));
        let ok = value(Value::Struct(IndexMap::from([("tags".to_string(), Value::List(vec![Value::String("t".into())]))])));
        let mut out = Vec::new();
        s.encode(&ok, &mut out).unwrap();
        let back = s.decode(&out, None).unwrap();
        let Value::Struct(fields) = back else { panic!() };
        assert_eq!(fields["a"], Value::Int(5));
        assert_eq!(fields["b"], Value::String("x".into()));
        assert_eq!(fields["c"], Value::Null);
        let bad = value(Value::Struct(IndexMap::from([("tags".to_string(), Value::List(vec![Value::List(vec![])]))])));
        assert_eq!(s.encode(&bad, &mut Vec::new()).unwrap_err(), "field 'inner.tags[0]': expected string, found list of 0 elements");
        let missing = Value::Struct(IndexMap::new());
        assert_eq!(s.encode(&missing, &mut Vec::new()).unwrap_err(), "field 'a': missing, and the schema gives no default for this int");
    }
}
