//! Notations: how values are written to and read from Kafka record bytes (inventory §5.2).
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
//! Notations built so far: `binary` (alias `default`) in [`binary`] and `json` in [`json`].
//! The other KSML notations (Avro, JSON Schema, Protobuf, CSV, XML) are known by name and
//! refused with "not supported yet" until they are built.

pub mod binary;
pub mod json;

use std::fmt;
use std::sync::Arc;

use weir_dsl::types::{BUILTIN_NOTATIONS, TypeKind, UserType};

use crate::value::Value;

pub use binary::BinaryCodec;
pub use json::JsonCodec;

/// Turns record bytes into values and back, for one user type. Built once per topic and
/// type, shared between tasks.
pub trait Codec: Send + Sync + fmt::Debug {
    /// `None` is Kafka's null and decodes to [`Value::Null`].
    fn decode(&self, bytes: Option<&[u8]>) -> Result<Value, CodecError>;
    /// [`Value::Null`] encodes to `None` (Kafka's null).
    fn encode(&self, value: &Value) -> Result<Option<Vec<u8>>, CodecError>;
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

/// What a registered notation name stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Binary,
    Json,
    /// A KSML notation Weir does not implement yet.
    NotYet,
}

/// The notations known by name, and the codec for each user type.
#[derive(Debug, Clone)]
pub struct Notations {
    /// (lowercase name, what it is), in registration order (for messages).
    entries: Vec<(String, Kind)>,
}

impl Notations {
    /// KSML's built-in notation names ([`BUILTIN_NOTATIONS`]): `binary` and `default` (the
    /// binary notation), `json`; the Avro, JSON Schema, Protobuf, CSV and XML names are known
    /// but not supported yet.
    pub fn builtin() -> Self {
        let entries = BUILTIN_NOTATIONS
            .iter()
            .map(|name| {
                let kind = match *name {
                    "binary" | "default" => Kind::Binary,
                    "json" => Kind::Json,
                    _ => Kind::NotYet,
                };
                (name.to_string(), kind)
            })
            .collect();
        Notations { entries }
    }

    /// Registers `name` as another name for the notation `of`, as a runner config's
    /// `notations: {<name>: {type: <of>}}` does. Both names are case-insensitive.
    pub fn alias(&mut self, name: &str, of: &str) -> Result<(), String> {
        let kind = self.kind(of)?;
        let name = name.trim().to_ascii_lowercase();
        match self.entries.iter_mut().find(|(n, _)| *n == name) {
            Some(entry) => entry.1 = kind,
            None => self.entries.push((name, kind)),
        }
        Ok(())
    }

    /// The names known, in registration order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(n, _)| n.as_str())
    }

    fn kind(&self, name: &str) -> Result<Kind, String> {
        let lower = name.trim().to_ascii_lowercase();
        self.entries.iter().find(|(n, _)| *n == lower).map(|(_, k)| *k).ok_or_else(|| {
            let known: Vec<&str> = self.names().collect();
            format!("unknown notation '{name}'; known notations: {}", known.join(", "))
        })
    }

    /// The codec for values of type `ty`: its notation is the one written in front of the
    /// type (`json:[string]`), or `binary` (KSML's `default`) when none is written.
    pub fn codec(&self, ty: &UserType) -> Result<Arc<dyn Codec>, String> {
        let name = ty.notation.as_deref().unwrap_or("binary");
        match self.kind(name)? {
            Kind::Binary => Ok(Arc::new(BinaryCodec::for_type(ty)?)),
            Kind::Json => Ok(Arc::new(JsonCodec::for_type(ty)?)),
            Kind::NotYet => Err(format!("notation '{}' is not supported yet", name.to_ascii_lowercase())),
        }
    }
}

/// The message for a schema name under a notation without schemas (`json:Foo`).
pub(crate) fn no_schemas(notation: &str, kind: &TypeKind) -> Option<String> {
    match kind {
        TypeKind::Schema(name) => Some(format!("notation '{notation}' does not use schemas, so schema name '{name}' is not allowed")),
        _ => None,
    }
}
