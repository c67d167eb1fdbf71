//! The `json` notation: UTF-8 JSON text ⇄ [`Value`] (KSML's `JsonNotation`).
//!
//! Also the writer of the `binary` notation's complex types (structs, lists, tuples, unions,
//! enums, windowed keys), which KSML writes as JSON.
//!
//! Decoding goes straight from bytes to [`Value`] through serde (a [`DeserializeSeed`] and
//! [`Visitor`]), and encoding straight from [`Value`] to bytes (a [`Serialize`] wrapper), with
//! no intermediate `serde_json::Value`. Mapping:
//!
//! | JSON | decodes to |
//! |---|---|
//! | object | `Struct`, key order kept; a repeated key keeps its first place and its last value (as Python's `json` does) |
//! | array | `List` |
//! | integer that fits `i64` | `Long` |
//! | other number (fraction, exponent, beyond `i64`) | `Double` |
//! | string, `true`/`false`, `null` | `String`, `Bool`, `Null` |
//!
//! | Value | encodes to |
//! |---|---|
//! | `Struct` | object, in the struct's key order |
//! | `List`, `Tuple` | array |
//! | `Byte`, `Short`, `Int`, `Long` | integer |
//! | `Float`, `Double` | number, the shortest text that reads back the same; NaN and ±infinity are an error (JSON has neither) |
//! | `String`, `Enum` | string |
//! | `Bytes` | string, standard base64 with padding: what Jackson (KSML's JSON library) writes for a `byte[]` by default |
//! | `Bool`, `Null` | `true`/`false`, `null` |
//!
//! Base64 strings decode as strings: JSON does not say they were bytes. Doubles read back
//! exactly (serde_json's `float_roundtrip`). Nesting is limited to 127 levels of arrays and objects
//! both ways (serde_json's reader limit; the writer checks the same).
//!
//! A type can constrain the top-level JSON value: KSML's `json` is `union(struct, list)`, so
//! `valueType: json` refuses a bare `42`; `json:[string]` wants an array; a `binary` union
//! accepts any JSON value. Only the top level is checked; element types are [`convert`]'s job.
//!
//! Two more entry points serve a function runtime that keeps values in its own objects
//! (Python dicts and lists, see [`crate::ports::ForeignValue`]), so a record converts once in
//! and once out: [`decode_into`] reads JSON into any [`JsonBuilder`] with the mapping above
//! (the same serde reader, the same number rules), and [`JsonWriter`] writes JSON, byte for
//! byte as [`to_vec`] would write the equivalent [`Value`], from a walk the runtime drives.
//! [`JsonCodec::accepts_decoded`] and [`JsonCodec::accepts_written`] apply the codec's
//! top-level check to such values.
//!
//! [`convert`]: crate::value::convert

use std::fmt;

use indexmap::IndexMap;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{self, Serialize, SerializeMap, SerializeSeq, Serializer};
use weir_dsl::types::{TypeKind, UserType};

use super::{Codec, CodecError, TextPosition, describe, no_schemas};
use crate::value::{ForeignKind, Value};

pub use crate::value::json_writer::{JsonWriter, RenderedKey, Unwritable, base64};
use crate::value::json_writer::{MAX_DEPTH, string_length};

/// Which JSON values a type allows at the top level of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Any JSON value (unions and `any` under `binary`).
    Any,
    /// An object or an array: `json`'s default type `union(struct, list)`.
    Container,
    /// An object: struct, map, windowed key.
    Object,
    /// An array: list, tuple.
    Array,
    /// A string: an enum written by `binary`.
    String,
}

impl Shape {
    fn allows_json(self, value: &Value) -> bool {
        match self {
            Shape::Any => true,
            Shape::Container => matches!(value, Value::Struct(_) | Value::List(_)),
            Shape::Object => matches!(value, Value::Struct(_)),
            Shape::Array => matches!(value, Value::List(_)),
            Shape::String => matches!(value, Value::String(_)),
        }
    }

    fn allows_value(self, value: &Value) -> bool {
        match self {
            Shape::Any => true,
            Shape::Container => matches!(value, Value::Struct(_) | Value::List(_) | Value::Tuple(_)),
            Shape::Object => matches!(value, Value::Struct(_)),
            Shape::Array => matches!(value, Value::List(_) | Value::Tuple(_)),
            Shape::String => matches!(value, Value::String(_) | Value::Enum(_)),
        }
    }

    /// The shape a type has when its values are written as JSON.
    pub(crate) fn of(kind: &TypeKind) -> Option<Shape> {
        Some(match kind {
            TypeKind::NotationDefault => Shape::Container,
            TypeKind::Struct | TypeKind::Map(_) | TypeKind::Windowed(_) => Shape::Object,
            TypeKind::List(_) | TypeKind::Tuple(_) => Shape::Array,
            TypeKind::Union(_) | TypeKind::Any => Shape::Any,
            TypeKind::Enum(_) => Shape::String,
            _ => return None,
        })
    }
}

/// What a JSON value is, for messages: `a JSON number`.
fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "JSON null",
        Value::Bool(_) => "a JSON boolean",
        Value::Long(_) | Value::Double(_) => "a JSON number",
        Value::String(_) => "a JSON string",
        Value::List(_) => "a JSON array",
        _ => "a JSON object",
    }
}

/// Reads and writes JSON for one type. `notation` is the notation named in messages: `json`,
/// or `binary` when it writes the binary notation's complex types.
#[derive(Debug, Clone)]
pub struct JsonCodec {
    notation: &'static str,
    expected: String,
    shape: Shape,
}

impl JsonCodec {
    /// The codec for a type written with the `json` notation. Primitive types are refused,
    /// as KSML does (`json:string`: "Notation json does not allow for data type string").
    pub fn for_type(ty: &UserType) -> Result<JsonCodec, String> {
        if let Some(message) = no_schemas("json", &ty.kind) {
            return Err(message);
        }
        let shape = Shape::of(&ty.kind).ok_or_else(|| format!("notation 'json' does not allow data type '{ty}'"))?;
        Ok(JsonCodec { notation: "json", expected: ty.to_string(), shape })
    }

    /// A codec for `shape`, naming `notation` and `expected` in its messages.
    pub(crate) fn with_shape(notation: &'static str, expected: String, shape: Shape) -> JsonCodec {
        JsonCodec { notation, expected, shape }
    }
}

impl JsonCodec {
    /// Whether the codec's top-level check accepts a decoded JSON value of this kind.
    pub fn accepts_decoded(&self, kind: JsonKind) -> bool {
        match kind {
            JsonKind::Null => true,
            JsonKind::Object => matches!(self.shape, Shape::Any | Shape::Container | Shape::Object),
            JsonKind::Array => matches!(self.shape, Shape::Any | Shape::Container | Shape::Array),
            JsonKind::String => matches!(self.shape, Shape::Any | Shape::String),
            JsonKind::Bool | JsonKind::Number => self.shape == Shape::Any,
        }
    }

    /// Whether [`Codec::encode`] accepts a value with this top level: a `Struct` for
    /// [`ForeignKind::Struct`], a `List` or `Tuple` for the others.
    pub fn accepts_written(&self, kind: ForeignKind) -> bool {
        match kind {
            ForeignKind::Struct => matches!(self.shape, Shape::Any | Shape::Container | Shape::Object),
            ForeignKind::List | ForeignKind::Tuple => matches!(self.shape, Shape::Any | Shape::Container | Shape::Array),
        }
    }
}

impl Codec for JsonCodec {
    fn as_json(&self) -> Option<&JsonCodec> {
        Some(self)
    }

    fn decode(&self, bytes: Option<&[u8]>) -> Result<Value, CodecError> {
        let Some(bytes) = bytes else { return Ok(Value::Null) };
        let value = from_slice(bytes).map_err(|mut e| {
            e.notation = self.notation;
            e.expected.clone_from(&self.expected);
            e
        })?;
        if value != Value::Null && !self.shape.allows_json(&value) {
            return Err(CodecError::decode(self.notation, &self.expected, format!("found {}", json_kind(&value))));
        }
        Ok(value)
    }

    fn encode(&self, value: &Value) -> Result<Option<Vec<u8>>, CodecError> {
        if *value == Value::Null {
            return Ok(None);
        }
        if !self.shape.allows_value(value) {
            return Err(CodecError::encode(self.notation, &self.expected, format!("found {}", describe(value))));
        }
        to_vec(value).map(Some).map_err(|mut e| {
            e.notation = self.notation;
            e.expected.clone_from(&self.expected);
            e
        })
    }
}

/// Reads one JSON document (any top-level value; surrounding whitespace allowed) into a
/// [`Value`].
pub fn from_slice(bytes: &[u8]) -> Result<Value, CodecError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = ValueSeed.deserialize(&mut de).and_then(|v| de.end().map(|()| v)).map_err(|e| parse_error(bytes, &e))?;
    Ok(value)
}

/// Writes a value as compact JSON.
pub fn to_vec(value: &Value) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::with_capacity(256);
    to_writer(&mut out, value)?;
    Ok(out)
}

/// Appends a value as compact JSON to `out` (left unspecified on error).
pub fn to_writer(out: &mut Vec<u8>, value: &Value) -> Result<(), CodecError> {
    let mut ser = serde_json::Serializer::new(out);
    Json { value, depth: 0 }.serialize(&mut ser).map_err(|_| {
        let found = unwritable(value, "$", 0).unwrap_or_else(|| "a value JSON cannot hold".to_string());
        CodecError::encode("json", "json", found)
    })
}

fn parse_error(bytes: &[u8], e: &serde_json::Error) -> CodecError {
    let (line, column) = (e.line(), e.column());
    let line_start = if line <= 1 {
        0
    } else {
        bytes.iter().enumerate().filter(|(_, b)| **b == b'\n').nth(line - 2).map_or(bytes.len(), |(i, _)| i + 1)
    };
    // serde_json reports column 0 after a newline: that is the newline itself.
    let offset = if column == 0 { line_start.saturating_sub(1) } else { (line_start + column - 1).min(bytes.len()) };
    let text = e.to_string();
    let message = text.strip_suffix(&format!(" at line {line} column {column}")).unwrap_or(&text);
    let before = &bytes[..offset];
    let line = before.iter().filter(|b| **b == b'\n').count() + 1;
    let column = offset - before.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1) + 1;
    let mut error = CodecError::decode(
        "json",
        "json",
        format!("invalid JSON at byte {offset} (line {line}, column {column}): {}", message.replace('`', "'")),
    );
    error.position = Some(TextPosition { offset, line, column });
    error
}

/// Where and why a value cannot be written as JSON (the slow path, after an error).
fn unwritable(value: &Value, path: &str, depth: usize) -> Option<String> {
    if depth > MAX_DEPTH {
        return Some(format!("found nesting deeper than {MAX_DEPTH} levels"));
    }
    match value {
        Value::Float(x) if !x.is_finite() => Some(format!("found float {x} at {path} (JSON has no NaN or infinity)")),
        Value::Double(x) if !x.is_finite() => Some(format!("found double {x} at {path} (JSON has no NaN or infinity)")),
        Value::List(items) | Value::Tuple(items) => {
            items.iter().enumerate().find_map(|(i, v)| unwritable(v, &format!("{path}[{i}]"), depth + 1))
        }
        Value::Struct(fields) => fields.iter().find_map(|(k, v)| unwritable(v, &format!("{path}.{k}"), depth + 1)),
        _ => None,
    }
}

/// Reads a [`Value`] from any self-describing serde format.
#[derive(Debug, Clone, Copy)]
pub struct ValueSeed;

impl<'de> DeserializeSeed<'de> for ValueSeed {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Long(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(i64::try_from(v).map_or(Value::Double(v as f64), Value::Long))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Double(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(item) = seq.next_element_seed(ValueSeed)? {
            items.push(item);
        }
        Ok(Value::List(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        // Gathered first so the map's table is built once at its final size (JSON gives no
        // length up front, and growing the hash table showed in profiles).
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0).min(4096));
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(ValueSeed)?;
            entries.push((key, value));
        }
        Ok(Value::Struct(IndexMap::from_iter(entries)))
    }
}

/// The kind of a JSON value's top level, as [`decode_into`] found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonKind {
    /// `null`.
    Null,
    Bool,
    Number,
    String,
    Array,
    Object,
}

/// Builds a tree in its own representation while [`decode_into`] reads JSON: the same
/// mapping as into [`Value`] (integers that fit `i64` as longs, other numbers as doubles;
/// a repeated object key keeps its first place and its last value, which is what inserting
/// into a Python dict or an `IndexMap` does).
pub trait JsonBuilder {
    /// A finished value.
    type Node;
    /// An object key, made once per key (so a builder can intern them).
    type Key;
    /// An object being filled.
    type Object;
    /// An array being filled.
    type Array;
    /// What stops the reading (the builder's own failure, e.g. a Python exception).
    type Error;
    /// `null`.
    fn null(&mut self) -> Result<Self::Node, Self::Error>;
    /// `true` or `false`.
    fn boolean(&mut self, v: bool) -> Result<Self::Node, Self::Error>;
    /// An integer that fits `i64`.
    fn long(&mut self, v: i64) -> Result<Self::Node, Self::Error>;
    /// Any other number.
    fn double(&mut self, v: f64) -> Result<Self::Node, Self::Error>;
    /// A string, unescaped.
    fn string(&mut self, v: &str) -> Result<Self::Node, Self::Error>;
    /// An array starts; `size_hint` may be 0 when unknown.
    fn begin_array(&mut self, size_hint: usize) -> Result<Self::Array, Self::Error>;
    /// The array's next item.
    fn push(&mut self, array: &mut Self::Array, item: Self::Node) -> Result<(), Self::Error>;
    /// The array is complete.
    fn end_array(&mut self, array: Self::Array) -> Result<Self::Node, Self::Error>;
    /// An object starts.
    fn begin_object(&mut self) -> Result<Self::Object, Self::Error>;
    /// An object key, unescaped (its value is read next).
    fn key(&mut self, key: &str) -> Result<Self::Key, Self::Error>;
    /// The object's next entry, in document order (a repeated key comes again).
    fn insert(&mut self, object: &mut Self::Object, key: Self::Key, value: Self::Node) -> Result<(), Self::Error>;
    /// The object is complete.
    fn end_object(&mut self, object: Self::Object) -> Result<Self::Node, Self::Error>;
    /// Forgets a document read in part: [`decode_into`] reads it again from the start.
    fn restart(&mut self) {}
}

/// Why [`decode_into`] failed.
#[derive(Debug)]
pub enum BuildError<E> {
    /// The bytes are not one JSON document (the error [`from_slice`] gives for the same bytes).
    Json(CodecError),
    /// The builder failed.
    Builder(E),
}

/// Reads one JSON document (as [`from_slice`] does) into `builder`'s representation.
pub fn decode_into<B: JsonBuilder>(bytes: &[u8], builder: &mut B) -> Result<(B::Node, JsonKind), BuildError<B::Error>> {
    // JSON text is UTF-8 throughout: checked once here, rather than string by string by
    // the reader. (Bytes that are not UTF-8 are not JSON; `from_slice` says where.)
    let Ok(text) = std::str::from_utf8(bytes) else { return Err(BuildError::Json(from_slice(bytes).err().unwrap_or_else(not_utf8))) };
    match Scanner::new(text, builder).document() {
        Ok(done) => return Ok(done),
        Err(Declined::Builder(e)) => return Err(BuildError::Builder(e)),
        Err(Declined::Unusual) => builder.restart(),
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let mut failed = None;
    let result = BuilderSeed { builder, failed: &mut failed }.deserialize(&mut de).and_then(|v| de.end().map(|()| v));
    match (result, failed) {
        (_, Some(e)) => Err(BuildError::Builder(e)),
        (Ok(node), None) => Ok(node),
        (Err(e), None) => Err(BuildError::Json(parse_error(bytes, &e))),
    }
}

/// Why the [`Scanner`] stopped.
enum Declined<E> {
    /// Something it leaves to serde_json: an escape in a string, a number it cannot convert
    /// exactly, deep nesting, or anything that is not JSON (serde_json reports it).
    Unusual,
    Builder(E),
}

/// 10^0 ..= 10^22, all exact doubles.
const POWERS_OF_TEN: [f64; 23] =
    [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22];

/// Deepest nesting the [`Scanner`] reads itself (serde_json allows 127).
const SCAN_DEPTH: usize = 100;

/// A reader for the JSON most records are made of, several times quicker than serde's
/// visitor machinery: strings without escapes, integers of up to 18 digits, decimals of up
/// to 15 significant digits and small exponents, at most [`SCAN_DEPTH`] levels. Anything
/// else is [`Declined::Unusual`], and serde_json reads the document instead, so what the
/// scanner accepts it reads exactly as serde_json does (the tests compare the two), and it
/// never has to report an error itself. The text is valid UTF-8 (checked before).
struct Scanner<'t, 'b, B: JsonBuilder> {
    text: &'t str,
    at: usize,
    depth: usize,
    builder: &'b mut B,
}

impl<'t, 'b, B: JsonBuilder> Scanner<'t, 'b, B> {
    fn new(text: &'t str, builder: &'b mut B) -> Self {
        Scanner { text, at: 0, depth: 0, builder }
    }

    fn built<T>(r: Result<T, B::Error>) -> Result<T, Declined<B::Error>> {
        r.map_err(Declined::Builder)
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    /// JSON's whitespace: space, tab, line feed, carriage return.
    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.at += 1;
        }
    }

    /// Consumes `byte` (after whitespace), or declines.
    fn expect(&mut self, byte: u8) -> Result<(), Declined<B::Error>> {
        self.skip_whitespace();
        if self.peek() != Some(byte) {
            return Err(Declined::Unusual);
        }
        self.at += 1;
        Ok(())
    }

    fn document(mut self) -> Result<(B::Node, JsonKind), Declined<B::Error>> {
        let found = self.value()?;
        self.skip_whitespace();
        if self.at != self.text.len() {
            return Err(Declined::Unusual);
        }
        Ok(found)
    }

    fn value(&mut self) -> Result<(B::Node, JsonKind), Declined<B::Error>> {
        self.skip_whitespace();
        match self.peek() {
            Some(b'{') => self.object().map(|n| (n, JsonKind::Object)),
            Some(b'[') => self.array().map(|n| (n, JsonKind::Array)),
            Some(b'"') => {
                let s = self.string()?;
                Self::built(self.builder.string(s)).map(|n| (n, JsonKind::String))
            }
            Some(b't') => self.word("true", JsonKind::Bool, |b| b.boolean(true)),
            Some(b'f') => self.word("false", JsonKind::Bool, |b| b.boolean(false)),
            Some(b'n') => self.word("null", JsonKind::Null, |b| b.null()),
            Some(b'-' | b'0'..=b'9') => self.number().map(|n| (n, JsonKind::Number)),
            _ => Err(Declined::Unusual),
        }
    }

    fn word(
        &mut self,
        word: &str,
        kind: JsonKind,
        make: impl FnOnce(&mut B) -> Result<B::Node, B::Error>,
    ) -> Result<(B::Node, JsonKind), Declined<B::Error>> {
        if !self.text[self.at..].starts_with(word) {
            return Err(Declined::Unusual);
        }
        self.at += word.len();
        Self::built(make(self.builder)).map(|n| (n, kind))
    }

    /// A string without escapes or control characters, starting at its opening quote.
    fn string(&mut self) -> Result<&'t str, Declined<B::Error>> {
        let start = self.at + 1;
        let bytes = self.text.as_bytes();
        let end = start + bytes.get(start..).map_or(0, string_length);
        if bytes.get(end) != Some(&b'"') {
            return Err(Declined::Unusual);
        }
        self.at = end + 1;
        // Both ends are ASCII quotes, so the slice is on character boundaries.
        self.text.get(start..end).ok_or(Declined::Unusual)
    }

    fn number(&mut self) -> Result<B::Node, Declined<B::Error>> {
        let bytes = self.text.as_bytes();
        let start = self.at;
        let negative = bytes[start] == b'-';
        let mut at = start + usize::from(negative);
        let digits_from = at;
        let mut value: u64 = 0;
        while let Some(&d @ b'0'..=b'9') = bytes.get(at) {
            value = value.wrapping_mul(10).wrapping_add(u64::from(d - b'0'));
            at += 1;
        }
        let int_digits = at - digits_from;
        // JSON: no empty integer part, no leading zero.
        if int_digits == 0 || (int_digits > 1 && bytes[digits_from] == b'0') {
            return Err(Declined::Unusual);
        }
        let mut frac_digits = 0;
        if bytes.get(at) == Some(&b'.') {
            at += 1;
            // The fraction's digits continue the mantissa (only a decimal uses them).
            while let Some(&d @ b'0'..=b'9') = bytes.get(at) {
                value = value.wrapping_mul(10).wrapping_add(u64::from(d - b'0'));
                at += 1;
                frac_digits += 1;
            }
            if frac_digits == 0 {
                return Err(Declined::Unusual);
            }
        }
        let mut exponent: i64 = 0;
        let mut has_exponent = false;
        if let Some(b'e' | b'E') = bytes.get(at) {
            has_exponent = true;
            at += 1;
            let negative_exponent = match bytes.get(at) {
                Some(b'-') => {
                    at += 1;
                    true
                }
                Some(b'+') => {
                    at += 1;
                    false
                }
                _ => false,
            };
            let exp_from = at;
            while let Some(&d @ b'0'..=b'9') = bytes.get(at) {
                exponent = exponent.saturating_mul(10).saturating_add(i64::from(d - b'0'));
                at += 1;
            }
            if at == exp_from {
                return Err(Declined::Unusual);
            }
            if negative_exponent {
                exponent = -exponent;
            }
        }
        // What follows a number must end it.
        if !matches!(bytes.get(at), None | Some(b',' | b']' | b'}' | b' ' | b'\t' | b'\n' | b'\r')) {
            return Err(Declined::Unusual);
        }
        self.at = at;
        if frac_digits == 0 && !has_exponent {
            // serde_json reads `-0` as the double -0.0; longer integers may not fit.
            if int_digits > 18 || (negative && value == 0) {
                return Err(Declined::Unusual);
            }
            let n = value as i64;
            return Self::built(self.builder.long(if negative { -n } else { n }));
        }
        // m × 10^e with m below 2^53 and |e| ≤ 22 is exact in one correctly rounded step
        // (m and 10^|e| are exact doubles, and one multiplication or division rounds
        // correctly), so every correct reader, serde_json's included, gives the same double.
        let scale = exponent.saturating_sub(frac_digits as i64);
        if int_digits + frac_digits > 15 || !(-22..=22).contains(&scale) {
            return Err(Declined::Unusual);
        }
        let power = POWERS_OF_TEN[scale.unsigned_abs() as usize];
        let magnitude = if scale >= 0 { value as f64 * power } else { value as f64 / power };
        Self::built(self.builder.double(if negative { -magnitude } else { magnitude }))
    }

    fn array(&mut self) -> Result<B::Node, Declined<B::Error>> {
        self.at += 1;
        self.depth += 1;
        if self.depth > SCAN_DEPTH {
            return Err(Declined::Unusual);
        }
        let mut array = Self::built(self.builder.begin_array(0))?;
        self.skip_whitespace();
        if self.peek() == Some(b']') {
            self.at += 1;
        } else {
            loop {
                let (item, _) = self.value()?;
                Self::built(self.builder.push(&mut array, item))?;
                self.skip_whitespace();
                match self.peek() {
                    Some(b',') => self.at += 1,
                    Some(b']') => {
                        self.at += 1;
                        break;
                    }
                    _ => return Err(Declined::Unusual),
                }
            }
        }
        self.depth -= 1;
        Self::built(self.builder.end_array(array))
    }

    fn object(&mut self) -> Result<B::Node, Declined<B::Error>> {
        self.at += 1;
        self.depth += 1;
        if self.depth > SCAN_DEPTH {
            return Err(Declined::Unusual);
        }
        let mut object = Self::built(self.builder.begin_object())?;
        self.skip_whitespace();
        if self.peek() == Some(b'}') {
            self.at += 1;
        } else {
            loop {
                self.skip_whitespace();
                if self.peek() != Some(b'"') {
                    return Err(Declined::Unusual);
                }
                let text = self.string()?;
                let key = Self::built(self.builder.key(text))?;
                self.expect(b':')?;
                let (value, _) = self.value()?;
                Self::built(self.builder.insert(&mut object, key, value))?;
                self.skip_whitespace();
                match self.peek() {
                    Some(b',') => self.at += 1,
                    Some(b'}') => {
                        self.at += 1;
                        break;
                    }
                    _ => return Err(Declined::Unusual),
                }
            }
        }
        self.depth -= 1;
        Self::built(self.builder.end_object(object))
    }
}

/// The error for bytes that are not UTF-8 but that `from_slice` read anyway (it cannot
/// happen: a JSON document is UTF-8 text).
fn not_utf8() -> CodecError {
    CodecError::decode("json", "json", "the bytes are not UTF-8 text")
}

/// The serde side of [`decode_into`]. A builder error is parked in `failed` and surfaces as
/// a serde error, which stops the reader.
struct BuilderSeed<'b, B: JsonBuilder> {
    builder: &'b mut B,
    failed: &'b mut Option<B::Error>,
}

impl<B: JsonBuilder> BuilderSeed<'_, B> {
    fn check<T, E: de::Error>(&mut self, r: Result<T, B::Error>) -> Result<T, E> {
        r.map_err(|e| {
            *self.failed = Some(e);
            E::custom("the builder failed")
        })
    }

    fn leaf<E: de::Error>(
        mut self,
        kind: JsonKind,
        make: impl FnOnce(&mut B) -> Result<B::Node, B::Error>,
    ) -> Result<(B::Node, JsonKind), E> {
        let r = make(self.builder);
        self.check(r).map(|n| (n, kind))
    }
}

impl<'de, B: JsonBuilder> DeserializeSeed<'de> for BuilderSeed<'_, B> {
    type Value = (B::Node, JsonKind);

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de, B: JsonBuilder> Visitor<'de> for BuilderSeed<'_, B> {
    type Value = (B::Node, JsonKind);

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        self.leaf(JsonKind::Bool, |b| b.boolean(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        self.leaf(JsonKind::Number, |b| b.long(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        self.leaf(JsonKind::Number, |b| match i64::try_from(v) {
            Ok(n) => b.long(n),
            Err(_) => b.double(v as f64),
        })
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        self.leaf(JsonKind::Number, |b| b.double(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        self.leaf(JsonKind::String, |b| b.string(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        self.leaf(JsonKind::Null, |b| b.null())
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        self.leaf(JsonKind::Null, |b| b.null())
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<Self::Value, A::Error> {
        let r = self.builder.begin_array(seq.size_hint().unwrap_or(0).min(4096));
        let mut array = self.check(r)?;
        while let Some((item, _)) = seq.next_element_seed(BuilderSeed { builder: &mut *self.builder, failed: &mut *self.failed })? {
            let r = self.builder.push(&mut array, item);
            self.check(r)?;
        }
        let r = self.builder.end_array(array);
        self.check(r).map(|n| (n, JsonKind::Array))
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<Self::Value, A::Error> {
        let r = self.builder.begin_object();
        let mut object = self.check(r)?;
        while let Some(key) = map.next_key_seed(KeySeed { builder: &mut *self.builder, failed: &mut *self.failed })? {
            let (value, _) = map.next_value_seed(BuilderSeed { builder: &mut *self.builder, failed: &mut *self.failed })?;
            let r = self.builder.insert(&mut object, key, value);
            self.check(r)?;
        }
        let r = self.builder.end_object(object);
        self.check(r).map(|n| (n, JsonKind::Object))
    }
}

/// An object key for a [`JsonBuilder`], made from the text serde_json hands over (borrowed
/// from the input when it has no escapes), without an owned `String` in between.
struct KeySeed<'b, B: JsonBuilder> {
    builder: &'b mut B,
    failed: &'b mut Option<B::Error>,
}

impl<'de, B: JsonBuilder> DeserializeSeed<'de> for KeySeed<'_, B> {
    type Value = B::Key;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<B::Key, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de, B: JsonBuilder> Visitor<'de> for KeySeed<'_, B> {
    type Value = B::Key;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<B::Key, E> {
        self.builder.key(v).map_err(|e| {
            *self.failed = Some(e);
            E::custom("the builder failed")
        })
    }
}

/// Writes a [`Value`] with any serde format, as the table in the module doc says.
struct Json<'a> {
    value: &'a Value,
    depth: usize,
}

impl Serialize for Json<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.depth > MAX_DEPTH {
            return Err(ser::Error::custom("nesting too deep"));
        }
        let depth = self.depth + 1;
        match self.value {
            Value::Null => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Byte(n) => s.serialize_i8(*n),
            Value::Short(n) => s.serialize_i16(*n),
            Value::Int(n) => s.serialize_i32(*n),
            Value::Long(n) => s.serialize_i64(*n),
            Value::Float(x) if x.is_finite() => s.serialize_f32(*x),
            Value::Double(x) if x.is_finite() => s.serialize_f64(*x),
            Value::Float(_) | Value::Double(_) => Err(ser::Error::custom("not finite")),
            Value::String(text) | Value::Enum(text) => s.serialize_str(text),
            Value::Bytes(bytes) => s.serialize_str(&base64(bytes)),
            Value::List(items) | Value::Tuple(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for value in items {
                    seq.serialize_element(&Json { value, depth })?;
                }
                seq.end()
            }
            Value::Struct(fields) => {
                let mut map = s.serialize_map(Some(fields.len()))?;
                for (key, value) in fields {
                    map.serialize_entry(key, &Json { value, depth })?;
                }
                map.end()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::json_writer::needs_escape;

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        let cases =
            [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="), ("foobar", "Zm9vYmFy")];
        for (plain, encoded) in cases {
            assert_eq!(base64(plain.as_bytes()), encoded);
        }
        assert_eq!(base64(&[0xff, 0xfe, 0xfd]), "//79");
    }

    /// A [`JsonBuilder`] making [`Value`]s, to compare [`decode_into`] with [`from_slice`].
    struct Values;

    impl JsonBuilder for Values {
        type Node = Value;
        type Key = String;
        type Object = Vec<(String, Value)>;
        type Array = Vec<Value>;
        type Error = ();
        fn null(&mut self) -> Result<Value, ()> {
            Ok(Value::Null)
        }
        fn boolean(&mut self, v: bool) -> Result<Value, ()> {
            Ok(Value::Bool(v))
        }
        fn long(&mut self, v: i64) -> Result<Value, ()> {
            Ok(Value::Long(v))
        }
        fn double(&mut self, v: f64) -> Result<Value, ()> {
            Ok(Value::Double(v))
        }
        fn string(&mut self, v: &str) -> Result<Value, ()> {
            Ok(Value::String(v.to_string()))
        }
        fn begin_array(&mut self, _: usize) -> Result<Vec<Value>, ()> {
            Ok(Vec::new())
        }
        fn push(&mut self, array: &mut Vec<Value>, item: Value) -> Result<(), ()> {
            array.push(item);
            Ok(())
        }
        fn end_array(&mut self, array: Vec<Value>) -> Result<Value, ()> {
            Ok(Value::List(array))
        }
        fn begin_object(&mut self) -> Result<Vec<(String, Value)>, ()> {
            Ok(Vec::new())
        }
        fn key(&mut self, key: &str) -> Result<String, ()> {
            Ok(key.to_string())
        }
        fn insert(&mut self, object: &mut Vec<(String, Value)>, key: String, value: Value) -> Result<(), ()> {
            object.push((key, value));
            Ok(())
        }
        fn end_object(&mut self, object: Vec<(String, Value)>) -> Result<Value, ()> {
            Ok(Value::Struct(IndexMap::from_iter(object)))
        }
    }

    /// Writes a [`Value`] through [`JsonWriter`], as a function runtime walks its objects.
    fn walk(value: &Value, w: &mut JsonWriter) -> Result<(), Unwritable> {
        match value {
            Value::Null => w.null(),
            Value::Bool(b) => w.boolean(*b),
            Value::Byte(n) => w.long((*n).into()),
            Value::Short(n) => w.long((*n).into()),
            Value::Int(n) => w.long((*n).into()),
            Value::Long(n) => w.long(*n),
            Value::Float(x) => w.float(*x),
            Value::Double(x) => w.double(*x),
            Value::String(s) | Value::Enum(s) => w.string(s),
            Value::Bytes(b) => w.bytes(b),
            Value::List(items) | Value::Tuple(items) => {
                w.begin_array()?;
                items.iter().try_for_each(|v| walk(v, w))?;
                w.end_array();
                Ok(())
            }
            Value::Struct(fields) => {
                w.begin_object()?;
                for (k, v) in fields {
                    w.key(k)?;
                    walk(v, w)?;
                }
                w.end_object();
                Ok(())
            }
        }
    }

    fn texts() -> Vec<String> {
        let mut texts: Vec<String> = [
            r#"{"a":1,"a":2,"b":[true,false,null],"c":{"d":-0.0,"e":1e300,"f":18446744073709551615}}"#,
            "[\"esc \\\" \\\\ \\n \\t \\u0001 \\u001f \\u007f é \\ud83d\\ude00\", \"\"]",
            " 42 ",
            "\"text\"",
            "null",
            "-12.5e-3",
            "9223372036854775808",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        texts.push(deep(127));
        texts.push(deep(128));
        texts.push(deep(129));
        for bad in ["{\"a\" 1}", "[1,]", "\"\u{1}\"", "01", "[1] x", "", "\"\\ud800\""] {
            texts.push(bad.to_string());
        }
        // Numbers in every form the scanner reads or declines, and near its limits.
        for n in [
            "0",
            "-0",
            "-0.0",
            "0.0",
            "1",
            "-1",
            "12",
            "999999999999999999",
            "-999999999999999999",
            "1000000000000000000",
            "9223372036854775807",
            "-9223372036854775808",
            "-9223372036854775809",
            "18446744073709551616",
            "1.5",
            "-2.25",
            "466.95",
            "0.1",
            "0.000123",
            "123456789012345",
            "1234567890.12345",
            "1234567890.123456",
            "1e5",
            "1E+2",
            "1e-2",
            "2.5e-22",
            "2.5e-23",
            "1e22",
            "1e23",
            "1.7976931348623157e308",
            "1e400",
            "-1e400",
            "5e-324",
            "1e-400",
            "00",
            "-",
            "1.",
            ".5",
            "1e",
            "1e+",
            "+1",
            "0x10",
            "1.0e0",
            "3.141592653589793",
            "0.30000000000000004",
            "1.5x",
        ] {
            texts.push(n.to_string());
            texts.push(format!("[{n}]"));
            texts.push(format!("{{\"n\": {n} }}"));
        }
        // Pseudo-random decimals, integers and exponents.
        let mut seed = 0x853c_49e6_748f_ea9b_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..3000 {
            let int = next() % 10u64.pow((next() % 19) as u32 + 1);
            let frac = next() % 10u64.pow((next() % 10) as u32 + 1);
            let sign = if next() % 3 == 0 { "-" } else { "" };
            texts.push(format!("[{sign}{int}]"));
            texts.push(format!("[{sign}{int}.{frac:0width$}]", width = (next() % 8 + 1) as usize));
            texts.push(format!("[{sign}{int}.{frac}e{}{}]", if next() % 2 == 0 { "-" } else { "+" }, next() % 40));
        }
        texts
    }

    #[test]
    fn decode_into_reads_what_from_slice_reads() {
        for text in texts() {
            let ours = decode_into(text.as_bytes(), &mut Values);
            match (from_slice(text.as_bytes()), ours) {
                (Ok(v), Ok((w, kind))) => {
                    // Debug output tells -0.0 from 0.0, which `==` does not.
                    assert_eq!(format!("{v:?}"), format!("{w:?}"), "{text}");
                    let expected = match v {
                        Value::Null => JsonKind::Null,
                        Value::Bool(_) => JsonKind::Bool,
                        Value::Long(_) | Value::Double(_) => JsonKind::Number,
                        Value::String(_) => JsonKind::String,
                        Value::List(_) => JsonKind::Array,
                        _ => JsonKind::Object,
                    };
                    assert_eq!(kind, expected, "{text}");
                }
                (Err(e), Err(BuildError::Json(f))) => assert_eq!(e, f, "{text}"),
                (a, b) => panic!("{text}: from_slice {a:?}, decode_into {b:?}"),
            }
        }
        // Mutated records (bytes flipped, dropped, duplicated): never a panic, and the same
        // answer as from_slice.
        let record = br#"{"id":"o1","amount":466.95,"n":-3,"ok":true,"tags":["web",{"x":null}],"e":1e-3}"#;
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..20_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let mut bytes = record.to_vec();
            for k in 0..(seed % 3 + 1) {
                let at = ((seed >> (8 * k)) as usize) % bytes.len();
                match (seed >> (20 + k)) % 4 {
                    0 => bytes[at] = (seed >> 32) as u8,
                    1 => bytes[at] = b"{}[]\",:.-0e\\ "[((seed >> 40) % 13) as usize],
                    2 => drop(bytes.remove(at)),
                    _ => bytes.insert(at, bytes[at]),
                }
            }
            match (from_slice(&bytes), decode_into(&bytes, &mut Values)) {
                (Ok(v), Ok((w, _))) => assert_eq!(format!("{v:?}"), format!("{w:?}"), "{:?}", String::from_utf8_lossy(&bytes)),
                (Err(e), Err(BuildError::Json(f))) => assert_eq!(e, f),
                (a, b) => panic!("{:?}: from_slice {a:?}, decode_into {b:?}", String::from_utf8_lossy(&bytes)),
            }
        }
        let invalid_utf8 = b"[\"\xff\"]";
        assert!(matches!(decode_into(invalid_utf8, &mut Values), Err(BuildError::Json(_))));
        assert!(from_slice(invalid_utf8).is_err());
    }

    /// Whatever the scanner reads, it reads as serde_json does; and it reads the usual forms.
    #[test]
    fn the_scanner_reads_what_serde_reads_or_declines() {
        let mut accepted = 0;
        for text in texts() {
            let Ok(scanned) = Scanner::new(&text, &mut Values).document() else { continue };
            accepted += 1;
            let expected = from_slice(text.as_bytes()).unwrap_or_else(|e| panic!("{text}: the scanner read what serde refuses: {e}"));
            assert_eq!(format!("{expected:?}"), format!("{:?}", scanned.0), "{text}");
        }
        assert!(accepted > 5000, "the scanner read only {accepted} documents");
        for usual in [
            r#"{"id":"o0000000001","customer":"cust-83810","amount":466.95,"currency":"GBP","quantity":3,"status":"paid","region":"eu-west-1","ts":1700000000037,"tags":["web","gift"]}"#,
            " [ 1 , -2 , 0.5 , true , false , null , \"\" , { } , [ ] ] ",
            "{\"a\":{\"b\":[{\"c\":1e3}]}}",
        ] {
            assert!(Scanner::new(usual, &mut Values).document().is_ok(), "declined {usual}");
        }
        for unusual in ["[\"esc\\n\"]", "[1e400]", "[-0]", "[12345678901234567890]", "[0.1234567890123456]"] {
            assert!(Scanner::new(unusual, &mut Values).document().is_err(), "read {unusual}");
        }
    }

    #[test]
    fn needs_escape_finds_every_byte_serde_escapes() {
        for b in 0..=255u8 {
            let escaped = b < 0x20 || b == b'"' || b == b'\\';
            for len in [1, 7, 8, 9, 16, 23] {
                for at in 0..len {
                    let mut bytes = vec![b'a'; len];
                    bytes[at] = b;
                    assert_eq!(needs_escape(&bytes), escaped, "byte {b:#x} at {at} of {len}");
                }
            }
        }
        assert!(!needs_escape("é and 😀 and ~\u{7f}".as_bytes()));
        // The first match is found even with others after it.
        for len in 1..20 {
            for at in 0..len {
                for second in at..len {
                    let mut bytes = vec![0xe9; len];
                    bytes[at] = b'"';
                    bytes[second] = 0x01;
                    assert_eq!(string_length(&bytes), at, "{at} {second} {len}");
                }
            }
        }
    }

    #[test]
    fn the_writer_writes_what_to_vec_writes() {
        let mut values: Vec<Value> = texts().iter().filter_map(|t| from_slice(t.as_bytes()).ok()).collect();
        values.extend([
            Value::Struct(IndexMap::from([
                ("k\"ey\n".to_string(), Value::Bytes(vec![0, 1, 255])),
                ("i".to_string(), Value::Int(-7)),
                ("f".to_string(), Value::Float(0.1)),
                ("t".to_string(), Value::Tuple(vec![Value::Enum("A".into()), Value::Short(3), Value::Byte(-1)])),
                ("ctl".to_string(), Value::String("\u{0}\u{1f}\u{7f}\u{80}".into())),
            ])),
            Value::Double(f64::NAN),
            Value::List(vec![Value::Float(f32::INFINITY)]),
        ]);
        let mut deep = Value::Null;
        for _ in 0..130 {
            deep = Value::List(vec![deep]);
        }
        values.push(deep);
        for value in values {
            let mut w = JsonWriter::new();
            match (to_vec(&value), walk(&value, &mut w)) {
                (Ok(expected), Ok(())) => assert_eq!(String::from_utf8(w.into_bytes()), String::from_utf8(expected), "{value:?}"),
                (Err(_), Err(Unwritable)) => {}
                (a, b) => panic!("{value:?}: to_vec {a:?}, writer {b:?}"),
            }
        }
    }

    /// A rendered key writes what `key` writes, first in an object or after another entry.
    #[test]
    fn rendered_keys_write_what_key_writes() {
        for key in ["id", "", "k\"ey\n", "é", "\u{0}\u{1f}", "a much longer key than most"] {
            let rendered = JsonWriter::render_key(key).expect("renders");
            let (mut a, mut b) = (JsonWriter::new(), JsonWriter::new());
            for w in [&mut a, &mut b] {
                w.begin_object().expect("open");
            }
            for _ in 0..2 {
                a.key(key).expect("key");
                b.rendered_key(&rendered);
                a.long(1).expect("value");
                b.long(1).expect("value");
            }
            a.end_object();
            b.end_object();
            assert_eq!(String::from_utf8(a.into_bytes()), String::from_utf8(b.into_bytes()), "{key:?}");
        }
    }

    #[test]
    fn parse_errors_carry_offset_line_and_column() {
        let e = from_slice(b"{\"a\" 1}").expect_err("missing colon");
        assert_eq!(e.position, Some(TextPosition { offset: 5, line: 1, column: 6 }));
        let e = from_slice(b"{\n  \"a\": 1,\n  \"b\": tru\n}").expect_err("bad literal");
        let p = e.position.expect("position");
        assert_eq!((p.line, p.column), (3, 11));
        assert_eq!(&b"{\n  \"a\": 1,\n  \"b\": tru\n}"[p.offset..p.offset + 1], b"\n");
    }
}
