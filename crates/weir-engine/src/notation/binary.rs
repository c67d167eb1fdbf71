//! The `binary` notation (alias `default`, KSML's notation when a type names none):
//! Kafka's standard serializers' byte layouts for primitives, JSON for everything else
//! (KSML's `BinaryNotation`).
//!
//! | Type | Bytes | Decoding refuses |
//! |---|---|---|
//! | `string` | UTF-8 | nothing: invalid UTF-8 becomes U+FFFD, as Kafka's `StringDeserializer` (Java's `new String(bytes, UTF_8)`) does |
//! | `boolean` | 1 byte, `00` false, `01` true (`BooleanSerializer`) | another length or byte |
//! | `byte` | 1 byte, two's complement (KSML's own byte serde) | another length |
//! | `short`, `int`, `long` | 2, 4, 8 bytes, big-endian two's complement | another length |
//! | `float`, `double` | 4, 8 bytes, IEEE-754 big-endian bits | another length |
//! | `bytes` | the bytes as they are | nothing |
//! | `null` | always Kafka's null (`VoidSerializer`) | any bytes, as `VoidDeserializer` does |
//! | struct, map, list, tuple, union, enum, windowed | JSON ([`super::json`]), e.g. an enum is `"A"` with the quotes | what the JSON codec refuses |
//! | `any`/`?`, bare `binary` | see below | nothing |
//!
//! `any` (`?`, the binary notation's default type, and the key/value type of a table that
//! declares none, §1.2): KSML's docs say `any` has no serde on topics (§5.1), so it gives no
//! rule to follow. Weir decodes the bytes as [`Value::Bytes`], unchanged: the bytes say
//! nothing about their type, and keeping them lets a record pass through (or be
//! `convertValue`d) without loss. It encodes by the value's own type with the layouts above
//! (a `Long` as 8 bytes, a struct as JSON), so a value written from a typed stream has the
//! bytes that type would give.
//!
//! Encoding is strict: the `int` codec writes [`Value::Int`] only (KSML's serializers check
//! the type as well); [`crate::value::convert`] brings values to the type first.

use weir_dsl::types::{TypeKind, UserType};

use super::json::{JsonCodec, Shape};
use super::{Codec, CodecError, describe, hex_preview, no_schemas};
use crate::value::Value;

const NAME: &str = "binary";

#[derive(Debug, Clone)]
enum Layout {
    Any,
    Null,
    Boolean,
    Byte,
    Short,
    Int,
    Long,
    Float,
    Double,
    String,
    Bytes,
    Json(JsonCodec),
}

/// Reads and writes one type with the binary notation.
#[derive(Debug, Clone)]
pub struct BinaryCodec {
    layout: Layout,
    /// The type as written, for messages.
    expected: String,
}

impl BinaryCodec {
    /// The codec for a type whose notation is `binary`/`default` (written or implied).
    /// Schema names are refused: the binary notation has no schemas.
    pub fn for_type(ty: &UserType) -> Result<BinaryCodec, String> {
        if let Some(message) = no_schemas(ty.notation.as_deref().unwrap_or(NAME), &ty.kind) {
            return Err(message);
        }
        let expected = ty.to_string();
        let layout = match &ty.kind {
            TypeKind::Any | TypeKind::NotationDefault => Layout::Any,
            TypeKind::Null => Layout::Null,
            TypeKind::Boolean => Layout::Boolean,
            TypeKind::Byte => Layout::Byte,
            TypeKind::Short => Layout::Short,
            TypeKind::Int => Layout::Int,
            TypeKind::Long => Layout::Long,
            TypeKind::Float => Layout::Float,
            TypeKind::Double => Layout::Double,
            TypeKind::String => Layout::String,
            TypeKind::Bytes => Layout::Bytes,
            kind => {
                let shape = Shape::of(kind).ok_or_else(|| format!("the binary notation cannot write type '{ty}'"))?;
                Layout::Json(JsonCodec::with_shape(NAME, expected.clone(), shape))
            }
        };
        Ok(BinaryCodec { layout, expected })
    }

    fn size_error(&self, want: usize, bytes: &[u8]) -> CodecError {
        let s = if want == 1 { "" } else { "s" };
        CodecError::decode(NAME, &self.expected, format!("expected {want} byte{s}, found {} ({})", bytes.len(), hex_preview(bytes)))
    }

    fn fixed<const N: usize>(&self, bytes: &[u8]) -> Result<[u8; N], CodecError> {
        bytes.try_into().map_err(|_| self.size_error(N, bytes))
    }
}

impl Codec for BinaryCodec {
    fn decode(&self, bytes: Option<&[u8]>) -> Result<Value, CodecError> {
        let Some(bytes) = bytes else { return Ok(Value::Null) };
        Ok(match &self.layout {
            Layout::Any | Layout::Bytes => Value::Bytes(bytes.to_vec()),
            Layout::Null => {
                return Err(CodecError::decode(
                    NAME,
                    &self.expected,
                    format!("expected no bytes (Kafka's null), found {} ({})", bytes.len(), hex_preview(bytes)),
                ));
            }
            Layout::Boolean => match bytes {
                [0] => Value::Bool(false),
                [1] => Value::Bool(true),
                [b] => return Err(CodecError::decode(NAME, &self.expected, format!("expected byte 00 or 01, found {b:02x}"))),
                _ => return Err(self.size_error(1, bytes)),
            },
            Layout::Byte => Value::Byte(i8::from_be_bytes(self.fixed(bytes)?)),
            Layout::Short => Value::Short(i16::from_be_bytes(self.fixed(bytes)?)),
            Layout::Int => Value::Int(i32::from_be_bytes(self.fixed(bytes)?)),
            Layout::Long => Value::Long(i64::from_be_bytes(self.fixed(bytes)?)),
            Layout::Float => Value::Float(f32::from_be_bytes(self.fixed(bytes)?)),
            Layout::Double => Value::Double(f64::from_be_bytes(self.fixed(bytes)?)),
            Layout::String => {
                Value::String(String::from_utf8(bytes.to_vec()).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
            }
            Layout::Json(json) => return json.decode(Some(bytes)),
        })
    }

    fn encode(&self, value: &Value) -> Result<Option<Vec<u8>>, CodecError> {
        let bytes = match (&self.layout, value) {
            (_, Value::Null) => return Ok(None),
            (Layout::Json(json), _) => return json.encode(value),
            (Layout::Any, _) => return encode_any(value),
            (Layout::Boolean, Value::Bool(b)) => vec![u8::from(*b)],
            (Layout::Byte, Value::Byte(n)) => n.to_be_bytes().to_vec(),
            (Layout::Short, Value::Short(n)) => n.to_be_bytes().to_vec(),
            (Layout::Int, Value::Int(n)) => n.to_be_bytes().to_vec(),
            (Layout::Long, Value::Long(n)) => n.to_be_bytes().to_vec(),
            (Layout::Float, Value::Float(x)) => x.to_be_bytes().to_vec(),
            (Layout::Double, Value::Double(x)) => x.to_be_bytes().to_vec(),
            (Layout::String, Value::String(s)) => s.as_bytes().to_vec(),
            (Layout::Bytes, Value::Bytes(b)) => b.clone(),
            (_, other) => return Err(CodecError::encode(NAME, &self.expected, format!("found {}", describe(other)))),
        };
        Ok(Some(bytes))
    }
}

/// `any`: each value with the layout of its own type.
fn encode_any(value: &Value) -> Result<Option<Vec<u8>>, CodecError> {
    Ok(Some(match value {
        Value::Null => return Ok(None),
        Value::Bool(b) => vec![u8::from(*b)],
        Value::Byte(n) => n.to_be_bytes().to_vec(),
        Value::Short(n) => n.to_be_bytes().to_vec(),
        Value::Int(n) => n.to_be_bytes().to_vec(),
        Value::Long(n) => n.to_be_bytes().to_vec(),
        Value::Float(x) => x.to_be_bytes().to_vec(),
        Value::Double(x) => x.to_be_bytes().to_vec(),
        Value::String(s) => s.as_bytes().to_vec(),
        Value::Bytes(b) => b.clone(),
        Value::List(_) | Value::Tuple(_) | Value::Struct(_) | Value::Enum(_) => {
            return JsonCodec::with_shape(NAME, "any".to_string(), Shape::Any).encode(value);
        }
    }))
}
