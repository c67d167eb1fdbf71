//! Notations: how values are written to and read from Kafka record bytes (KSML's notations).
//!
//! A KSML user type names a notation (`json:…`, `avro:…`; none means `binary`, KSML's
//! default) and a data type. [`Notations::codec`] picks the [`Codec`] for a type once, when
//! the topology is planned; the codec then turns each record's key or value bytes into a
//! [`Value`] and back.
//!
//! Invariants every codec keeps:
//!
//! * Kafka's null (no bytes) is [`Value::Null`] and [`Value::Null`] is written as Kafka's null,
//!   for every type (KSML's typed nulls are all null on the wire).
//! * Decoding never panics, whatever the bytes: hostile input is a [`CodecError`] that names
//!   the notation, the expected type and what was found (for JSON, where: byte offset, line
//!   and column).
//! * Decoding gives the *natural* value of the bytes (a JSON number is a `Long` or `Double`,
//!   whatever the declared type); callers that need the declared type apply
//!   [`crate::value::convert`]. Encoding is strict: a binary `int` codec writes a
//!   [`Value::Int`] and refuses a [`Value::Long`] (KSML's serializers check the type too).
//!
//! One module per notation: `binary` (alias `default`) in [`binary`], `json` in [`json`],
//! `avro`/`confluent_avro`/`apicurio_avro` in [`avro`], `jsonschema` in [`jsonschema`],
//! `protobuf` in [`protobuf`], `csv` in [`csv`], `xml` in [`xml`]. The registry notations share
//! the wire framing and registry handling of [`framing`]; schema files come from the
//! [`SchemaDirectory`], registries through the [`crate::registry`] port.

pub mod avro;
pub mod base64;
pub mod binary;
pub mod csv;
pub mod framing;
pub mod json;
pub mod jsonschema;
pub mod protobuf;
pub mod xml;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use indexmap::IndexMap;
use weir_dsl::types::{BUILTIN_NOTATIONS, TypeKind, UserType};

use crate::registry::{MemoryRegistry, SchemaRegistry};
use crate::value::Value;

pub use framing::Target;

pub use binary::BinaryCodec;
pub use json::JsonCodec;

/// Turns record bytes into values and back, for one user type. Built once per topic and
/// type, shared between tasks.
pub trait Codec: Send + Sync + fmt::Debug {
    /// `None` is Kafka's null and decodes to [`Value::Null`].
    fn decode(&self, bytes: Option<&[u8]>) -> Result<Value, CodecError>;
    /// [`Value::Null`] encodes to `None` (Kafka's null).
    fn encode(&self, value: &Value) -> Result<Option<Vec<u8>>, CodecError>;
    /// The codec as a [`JsonCodec`], when it is one: the runtime then decodes and encodes a
    /// function runtime's own objects directly (see [`json::decode_into`]).
    fn as_json(&self) -> Option<&JsonCodec> {
        None
    }
    /// Makes sure the schema this codec writes with is registered in its registry, as KSML's
    /// test runner registers the schemas of a suite's streams before a test runs. Nothing to
    /// do for notations without a registry, or a codec whose schema comes from the registry.
    fn register_schema(&self) -> Result<(), CodecError> {
        Ok(())
    }
}

/// Whether a [`CodecError`] happened reading or writing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Decode,
    Encode,
}

/// Where in a text (JSON) document a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextPosition {
    /// 0-based byte offset into the record's bytes.
    pub offset: usize,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in bytes.
    pub column: usize,
}

/// A record's bytes could not be decoded, or a value could not be encoded.
///
/// Rendered as `<notation> notation: cannot <decode|encode> <expected>: <found>` with the
/// position appended for text notations, e.g.
/// `binary notation: cannot decode int: expected 4 bytes, found 3 (00 00 01)` or
/// `json notation: cannot decode json: invalid JSON at byte 5 (line 1, column 6): expected ':'`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct CodecError {
    /// The notation's name (`binary`, `json`).
    pub notation: &'static str,
    pub direction: Direction,
    /// The type the codec reads or writes, as written in KSML (`int`, `json`, `[string]`).
    pub expected: String,
    /// What was found instead.
    pub found: String,
    /// For text notations: where in the bytes the problem is.
    pub position: Option<TextPosition>,
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = match self.direction {
            Direction::Decode => "decode",
            Direction::Encode => "encode",
        };
        write!(f, "{} notation: cannot {op} {}: {}", self.notation, self.expected, self.found)
    }
}

impl CodecError {
    pub(crate) fn decode(notation: &'static str, expected: &str, found: impl Into<String>) -> Self {
        CodecError { notation, direction: Direction::Decode, expected: expected.to_string(), found: found.into(), position: None }
    }

    pub(crate) fn encode(notation: &'static str, expected: &str, found: impl Into<String>) -> Self {
        CodecError { notation, direction: Direction::Encode, expected: expected.to_string(), found: found.into(), position: None }
    }
}

/// A short description of a value for error messages: its type and, for small values, the
/// value itself (`long 5`, `string "abc"`, `struct with 3 fields`).
pub(crate) fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_string(),
        Value::String(s) | Value::Enum(s) => {
            let shown: String = s.chars().take(40).collect();
            let more = if shown.len() < s.len() { "…" } else { "" };
            format!("{} {shown:?}{more}", value.type_name())
        }
        Value::Bytes(b) => format!("bytes ({} bytes)", b.len()),
        Value::List(items) => format!("list of {} elements", items.len()),
        Value::Tuple(items) => format!("tuple of {} elements", items.len()),
        Value::Struct(fields) => format!("struct with {} fields", fields.len()),
        other => format!("{} {other}", other.type_name()),
    }
}

/// The first bytes of a record in hex, for error messages: `00 01 02` (at most 16 bytes).
pub(crate) fn hex_preview(bytes: &[u8]) -> String {
    let mut out: Vec<String> = bytes.iter().take(16).map(|b| format!("{b:02x}")).collect();
    if bytes.len() > 16 {
        out.push("…".to_string());
    }
    out.join(" ")
}

/// What a notation name stands for: the implementation behind it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Binary,
    Json,
    /// Avro in Confluent's framing (`avro`, `confluent_avro`).
    ConfluentAvro,
    /// Avro in Apicurio's framing (`apicurio_avro`).
    ApicurioAvro,
    /// JSON Schema in Apicurio's framing (`jsonschema`, `apicurio_jsonschema`).
    JsonSchema,
    /// Protobuf in Apicurio's framing (`protobuf`, `apicurio_protobuf`).
    Protobuf,
    Csv,
    Xml,
}

impl Kind {
    /// The implementation a runner config's notation `type` names (`confluent_avro`, `csv`…),
    /// or a built-in notation name.
    pub fn from_name(name: &str) -> Option<Kind> {
        Some(match name.trim().to_ascii_lowercase().as_str() {
            "binary" | "default" => Kind::Binary,
            "json" => Kind::Json,
            "avro" | "confluent_avro" => Kind::ConfluentAvro,
            "apicurio_avro" => Kind::ApicurioAvro,
            "jsonschema" | "apicurio_jsonschema" => Kind::JsonSchema,
            "protobuf" | "apicurio_protobuf" => Kind::Protobuf,
            "csv" => Kind::Csv,
            "xml" => Kind::Xml,
            _ => return None,
        })
    }

    /// Whether records of this notation carry a registry schema id.
    pub fn uses_registry(self) -> bool {
        matches!(self, Kind::ConfluentAvro | Kind::ApicurioAvro | Kind::JsonSchema | Kind::Protobuf)
    }
}

/// How one notation name is set up: its implementation, its registry (when it has its own)
/// and its serde properties (a runner config's `kafka` section, the registry's `config`, the
/// notation's `config`).
#[derive(Debug, Clone)]
struct Setup {
    kind: Kind,
    registry: Option<Arc<dyn SchemaRegistry>>,
    config: IndexMap<String, String>,
}

/// The directory schema files are read from (a runner config's or a test suite's
/// `schemaDirectory`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SchemaDirectory(pub Option<PathBuf>);

impl SchemaDirectory {
    /// The text of the schema `name` with extension `ext` (`.avsc`): the file
    /// `<dir>/<name><ext>`, or, when `name` has dots and that file does not exist, the name
    /// with its leading namespace segments stripped one at a time (`a.b.C` → `b.C` → `C`), as
    /// KSML looks schemas up. Returns the file read and its text.
    pub fn load(&self, name: &str, ext: &str) -> Result<(PathBuf, String), String> {
        let Some(dir) = &self.0 else {
            return Err(format!("schema '{name}' needs a schema file '{name}{ext}', but no schemaDirectory is configured"));
        };
        let mut candidate = name;
        loop {
            let file = dir.join(format!("{candidate}{ext}"));
            match std::fs::read_to_string(&file) {
                Ok(text) => return Ok((file, text)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(format!("cannot read schema file '{}': {e}", file.display())),
            }
            match candidate.split_once('.') {
                Some((_, rest)) if !rest.is_empty() => candidate = rest,
                _ => return Err(format!("schema '{name}' not found: there is no file '{}'", dir.join(format!("{name}{ext}")).display())),
            }
        }
    }
}

/// What a notation module gets to build a codec for one type.
#[derive(Debug)]
pub struct CodecContext<'a> {
    /// The notation name as the type wrote it, lowercased (`avro`), for messages.
    pub notation: &'a str,
    pub target: &'a Target,
    pub schemas: &'a SchemaDirectory,
    /// The notation's registry, or the default registry.
    pub registry: Arc<dyn SchemaRegistry>,
    /// The notation's serde properties.
    pub config: &'a IndexMap<String, String>,
}

/// The notations known by name, and the codec for each user type.
#[derive(Debug, Clone)]
pub struct Notations {
    /// (lowercase name, setup), in registration order (for messages).
    entries: Vec<(String, Setup)>,
    schemas: SchemaDirectory,
    /// The registry of registry notations that have none of their own.
    default_registry: Arc<dyn SchemaRegistry>,
}

impl Notations {
    /// KSML's built-in notation names ([`BUILTIN_NOTATIONS`]) with no schema directory and
    /// a fresh in-memory registry as the default registry.
    pub fn builtin() -> Self {
        let entries = BUILTIN_NOTATIONS
            .iter()
            .filter_map(|name| {
                let kind = Kind::from_name(name)?;
                Some((name.to_string(), Setup { kind, registry: None, config: IndexMap::new() }))
            })
            .collect();
        Notations { entries, schemas: SchemaDirectory::default(), default_registry: Arc::new(MemoryRegistry::new()) }
    }

    /// Reads schema files from `dir`.
    pub fn with_schema_directory(mut self, dir: Option<PathBuf>) -> Self {
        self.schemas = SchemaDirectory(dir);
        self
    }

    /// Uses `registry` for every registry notation that has no registry of its own.
    pub fn with_default_registry(mut self, registry: Arc<dyn SchemaRegistry>) -> Self {
        self.default_registry = registry;
        self
    }

    /// Registers `name` for the implementation `type_name` (a runner config's
    /// `notations: {<name>: {type: <type_name>, …}}`), with its own registry if it names one,
    /// and its serde properties. Names are case-insensitive.
    pub fn configure(
        &mut self,
        name: &str,
        type_name: &str,
        registry: Option<Arc<dyn SchemaRegistry>>,
        config: IndexMap<String, String>,
    ) -> Result<(), String> {
        let kind = match Kind::from_name(type_name) {
            Some(kind) => kind,
            None => self.setup(type_name)?.kind,
        };
        let name = name.trim().to_ascii_lowercase();
        let setup = Setup { kind, registry, config };
        match self.entries.iter_mut().find(|(n, _)| *n == name) {
            Some(entry) => entry.1 = setup,
            None => self.entries.push((name, setup)),
        }
        Ok(())
    }

    /// Registers `name` as another name for the notation `of`.
    pub fn alias(&mut self, name: &str, of: &str) -> Result<(), String> {
        let setup = self.setup(of)?.clone();
        self.configure(name, of, setup.registry, setup.config)
    }

    /// The names known, in registration order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(n, _)| n.as_str())
    }

    /// The implementation behind a notation name.
    pub fn kind(&self, name: &str) -> Result<Kind, String> {
        self.setup(name).map(|s| s.kind)
    }

    /// The schema file that schema `name` of notation `notation` is read from (the same
    /// lookup as when its codec is made), or why it cannot be; `Ok(None)` for a notation
    /// without schema files.
    pub fn schema_file(&self, notation: &str, name: &str) -> Result<Option<PathBuf>, String> {
        let ext = match self.kind(notation)? {
            Kind::ConfluentAvro | Kind::ApicurioAvro => ".avsc",
            Kind::JsonSchema => ".json",
            Kind::Protobuf => ".proto",
            Kind::Csv => ".csv",
            Kind::Xml => ".xsd",
            Kind::Binary | Kind::Json => return Ok(None),
        };
        self.schemas.load(name, ext).map(|(file, _)| Some(file))
    }

    fn setup(&self, name: &str) -> Result<&Setup, String> {
        let lower = name.trim().to_ascii_lowercase();
        self.entries.iter().find(|(n, _)| *n == lower).map(|(_, s)| s).ok_or_else(|| {
            let known: Vec<&str> = self.names().collect();
            format!("unknown notation '{name}'; known notations: {}", known.join(", "))
        })
    }

    /// KSML's `@type` and `@schema` for a struct type whose schema Weir reads itself
    /// (`avro:Name`, from the schema directory): the record's name and its schema in KSML's
    /// schema notation ([`avro::AvroSchema::ksml_schema`]). `None` for every other type (a
    /// schema that cannot be read is reported where the type's codec is made).
    pub fn ksml_schema(&self, ty: &UserType) -> Option<(String, Value)> {
        let TypeKind::Schema(name) = &ty.kind else { return None };
        let setup = self.setup(ty.notation.as_deref()?).ok()?;
        match setup.kind {
            Kind::ConfluentAvro | Kind::ApicurioAvro => {
                let (_, text) = self.schemas.load(name, ".avsc").ok()?;
                avro::AvroSchema::parse(&text).ok()?.ksml_schema()
            }
            _ => None,
        }
    }

    /// The codec for values of type `ty` written to or read from `target`: its notation is
    /// the one written in front of the type (`json:[string]`), or `binary` (KSML's `default`)
    /// when none is written.
    pub fn codec(&self, ty: &UserType, target: &Target) -> Result<Arc<dyn Codec>, String> {
        let name = ty.notation.as_deref().unwrap_or("binary").trim().to_ascii_lowercase();
        let setup = self.setup(&name)?;
        let cx = CodecContext {
            notation: &name,
            target,
            schemas: &self.schemas,
            registry: setup.registry.clone().unwrap_or_else(|| Arc::clone(&self.default_registry)),
            config: &setup.config,
        };
        match setup.kind {
            Kind::Binary => Ok(Arc::new(BinaryCodec::for_type(ty)?)),
            Kind::Json => Ok(Arc::new(JsonCodec::for_type(ty)?)),
            Kind::ConfluentAvro => avro::codec(ty, &cx, avro::Vendor::Confluent),
            Kind::ApicurioAvro => avro::codec(ty, &cx, avro::Vendor::Apicurio),
            Kind::JsonSchema => jsonschema::codec(ty, &cx),
            Kind::Protobuf => protobuf::codec(ty, &cx),
            Kind::Csv => csv::codec(ty, &cx),
            Kind::Xml => xml::codec(ty, &cx),
        }
    }
}

/// The text notations' converter for one `convertKey`/`convertValue` step (KSML's rule 4 of
/// the conversions, for `csv` and `xml`): a string converted into a `csv` or `xml` type is read
/// as that notation's text, and a struct (or, for `csv`, a list) of a `csv` or `xml` type
/// converted into `string` is written as its text. Built by [`Notations::text_conversion`] when
/// the topology is planned; does nothing when neither side is a text notation.
#[derive(Debug, Clone, Default)]
pub struct TextConversion {
    /// Reads text into the `into` type.
    read: Option<TextForm>,
    /// Writes the `from` type's structures as text.
    write: Option<TextForm>,
}

#[derive(Debug, Clone)]
enum TextForm {
    Csv(Arc<csv::CsvCodec>),
    Xml(Arc<xml::XmlCodec>),
}

impl TextConversion {
    /// Whether the conversion can change a value.
    pub fn is_active(&self) -> bool {
        self.read.is_some() || self.write.is_some()
    }

    /// Applies the conversion: text read into a structure, a structure written as text, any
    /// other value unchanged.
    pub fn apply(&self, value: Value) -> Result<Value, CodecError> {
        match (&value, &self.read, &self.write) {
            (Value::String(text), Some(TextForm::Csv(c)), _) => c.from_text(text),
            (Value::String(text), Some(TextForm::Xml(c)), _) => c.from_text(text),
            (Value::Struct(_) | Value::List(_) | Value::Tuple(_), _, Some(TextForm::Csv(c))) => c.to_text(&value).map(Value::String),
            (Value::Struct(_), _, Some(TextForm::Xml(c))) => c.to_text(&value).map(Value::String),
            _ => Ok(value),
        }
    }
}

impl Notations {
    /// The text notations' converter for converting values of type `from` into `into`
    /// ([`TextConversion`]); fails when a schema it needs cannot be read.
    pub fn text_conversion(&self, from: &UserType, into: &UserType) -> Result<TextConversion, String> {
        let kind_of = |t: &UserType| t.notation.as_deref().and_then(|n| self.kind(n).ok());
        let context = |t: &'_ UserType| t.notation.as_deref().unwrap_or_default().trim().to_ascii_lowercase();
        let target = Target::default();
        let build = |t: &UserType, kind: Kind| -> Result<Option<TextForm>, String> {
            let name = context(t);
            let setup = self.setup(&name)?;
            let cx = CodecContext {
                notation: &name,
                target: &target,
                schemas: &self.schemas,
                registry: Arc::clone(&self.default_registry),
                config: &setup.config,
            };
            Ok(match kind {
                Kind::Csv => Some(TextForm::Csv(Arc::new(csv::CsvCodec::for_type(t, &cx)?))),
                Kind::Xml => Some(TextForm::Xml(Arc::new(xml::XmlCodec::for_type(t, &cx)?))),
                _ => None,
            })
        };
        // The target notation reads text (KSML tries the target's converter first).
        let read = match (kind_of(into), &into.kind) {
            (Some(Kind::Csv), TypeKind::Schema(_) | TypeKind::Struct | TypeKind::List(_) | TypeKind::Union(_)) => build(into, Kind::Csv)?,
            (Some(Kind::Xml), TypeKind::Schema(_) | TypeKind::Struct | TypeKind::NotationDefault) => build(into, Kind::Xml)?,
            _ => None,
        };
        // The source notation writes its structures as text.
        let write = match (kind_of(from), &from.kind, &into.kind) {
            (Some(Kind::Csv), TypeKind::Schema(_) | TypeKind::Struct | TypeKind::List(_) | TypeKind::Union(_), TypeKind::String) => {
                build(from, Kind::Csv)?
            }
            (Some(Kind::Xml), TypeKind::Schema(_) | TypeKind::Struct | TypeKind::NotationDefault | TypeKind::Map(_), TypeKind::String) => {
                build(from, Kind::Xml)?
            }
            _ => None,
        };
        Ok(TextConversion { read, write })
    }
}

/// The message for a schema name under a notation without schemas (`json:Foo`).
pub(crate) fn no_schemas(notation: &str, kind: &TypeKind) -> Option<String> {
    match kind {
        TypeKind::Schema(name) => Some(format!("notation '{notation}' does not use schemas, so schema name '{name}' is not allowed")),
        _ => None,
    }
}
