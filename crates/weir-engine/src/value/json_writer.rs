//! JSON text as the engine writes it, shared by the data model and the JSON notation:
//! [`JsonWriter`], with which a function runtime writes its own objects
//! ([`super::ForeignValue::write_json`]) byte for byte as the JSON notation writes the
//! equivalent [`Value`](super::Value); the base64 text of bytes; the string scan both the
//! writer and the JSON reader use; the nesting limit.

use serde::Serialize;

/// Deepest nesting of arrays and objects written: the deepest serde_json reads (its
/// recursion limit of 128 counts the top level too).
pub(crate) const MAX_DEPTH: usize = 127;

/// Writes compact JSON from a walk driven by the caller (a function runtime walking its own
/// objects): the same bytes as [`to_vec`](crate::notation::json::to_vec) writes for the equivalent [`Value`](super::Value) (a string for
/// `String`/`Enum`, base64 text for `Bytes`, the shortest round-tripping text for a double).
/// Refuses what [`to_vec`](crate::notation::json::to_vec) refuses: a non-finite double, nesting deeper than 127 levels.
/// Commas and colons are placed by the writer; the walk only has to open and close in order.
#[derive(Debug)]
pub struct JsonWriter {
    out: Vec<u8>,
    /// Open arrays and objects.
    depth: usize,
    /// Whether the next value or key follows another one at its level (needs a comma).
    comma: bool,
}

/// How many bytes at the start of `bytes` are plain string content: up to the first `"`,
/// `\\` or control character (below 0x20), the bytes that end a JSON string or that
/// serde_json escapes. Eight bytes at a time: in each word, a byte that matches sets its high
/// bit (the classic "has zero byte" arithmetic; a borrow can only mark bytes above a true
/// match, so the lowest marked byte is the first match).
pub(crate) fn string_length(bytes: &[u8]) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let zero_bytes = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    let mut chunks = bytes.chunks_exact(8);
    let mut length = 0;
    for chunk in &mut chunks {
        let Ok(word) = <[u8; 8]>::try_from(chunk).map(u64::from_le_bytes) else { break };
        let marked = (word.wrapping_sub(ONES * 0x20) & !word & HIGHS)
            | zero_bytes(word ^ (ONES * u64::from(b'"')))
            | zero_bytes(word ^ (ONES * u64::from(b'\\')));
        if marked != 0 {
            return length + (marked.trailing_zeros() / 8) as usize;
        }
        length += 8;
    }
    length + chunks.remainder().iter().position(|&b| b < 0x20 || b == b'"' || b == b'\\').unwrap_or(chunks.remainder().len())
}

/// Whether a string has a byte serde_json escapes.
pub(crate) fn needs_escape(bytes: &[u8]) -> bool {
    string_length(bytes) < bytes.len()
}

/// An object key as JSON text with its colon, made once by [`JsonWriter::render_key`] and
/// written any number of times by [`JsonWriter::rendered_key`] (for a walk that meets the
/// same keys record after record).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedKey(Box<[u8]>);

/// A value [`JsonWriter`] cannot write (the caller's canonical path then reports why).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unwritable;

impl Default for JsonWriter {
    fn default() -> Self {
        JsonWriter::new()
    }
}

impl JsonWriter {
    /// An empty writer.
    pub fn new() -> JsonWriter {
        JsonWriter { out: Vec::with_capacity(256), depth: 0, comma: false }
    }

    /// The JSON written so far.
    pub fn into_bytes(self) -> Vec<u8> {
        self.out
    }

    /// Before any value: the comma, and the depth check `to_vec` makes for every value.
    fn value(&mut self) -> Result<(), Unwritable> {
        if self.depth > MAX_DEPTH {
            return Err(Unwritable);
        }
        if self.comma {
            self.out.push(b',');
        }
        self.comma = true;
        Ok(())
    }

    /// `null`.
    pub fn null(&mut self) -> Result<(), Unwritable> {
        self.value()?;
        self.out.extend_from_slice(b"null");
        Ok(())
    }

    /// `true` or `false`.
    pub fn boolean(&mut self, v: bool) -> Result<(), Unwritable> {
        self.value()?;
        self.out.extend_from_slice(if v { b"true" } else { b"false" });
        Ok(())
    }

    /// An integer.
    pub fn long(&mut self, v: i64) -> Result<(), Unwritable> {
        self.value()?;
        self.serde(&v)
    }

    /// A `double` (the shortest text that reads back as the same value); NaN and ±infinity
    /// are [`Unwritable`].
    pub fn double(&mut self, v: f64) -> Result<(), Unwritable> {
        if !v.is_finite() {
            return Err(Unwritable);
        }
        self.value()?;
        self.serde(&v)
    }

    /// A `float` (written with the shortest text that reads back as the same `f32`).
    pub fn float(&mut self, v: f32) -> Result<(), Unwritable> {
        if !v.is_finite() {
            return Err(Unwritable);
        }
        self.value()?;
        self.serde(&v)
    }

    /// A string, escaped as serde_json escapes it.
    pub fn string(&mut self, v: &str) -> Result<(), Unwritable> {
        self.value()?;
        self.text(v)
    }

    /// Bytes, as base64 text (as [`to_vec`](crate::notation::json::to_vec) writes `Value::Bytes`).
    pub fn bytes(&mut self, v: &[u8]) -> Result<(), Unwritable> {
        self.string(&base64(v))
    }

    /// Opens an array; its items follow, then [`JsonWriter::end_array`].
    pub fn begin_array(&mut self) -> Result<(), Unwritable> {
        self.value()?;
        self.out.push(b'[');
        self.depth += 1;
        self.comma = false;
        Ok(())
    }

    /// Closes the innermost array.
    pub fn end_array(&mut self) {
        self.out.push(b']');
        self.depth = self.depth.saturating_sub(1);
        self.comma = true;
    }

    /// Opens an object; [`JsonWriter::key`] and a value for each entry follow, then
    /// [`JsonWriter::end_object`].
    pub fn begin_object(&mut self) -> Result<(), Unwritable> {
        self.value()?;
        self.out.push(b'{');
        self.depth += 1;
        self.comma = false;
        Ok(())
    }

    /// An object's next key; its value follows.
    pub fn key(&mut self, key: &str) -> Result<(), Unwritable> {
        if self.comma {
            self.out.push(b',');
        }
        self.text(key)?;
        self.out.push(b':');
        self.comma = false;
        Ok(())
    }

    /// `key` as [`JsonWriter::key`] writes it, for [`JsonWriter::rendered_key`].
    pub fn render_key(key: &str) -> Result<RenderedKey, Unwritable> {
        let mut w = JsonWriter { out: Vec::with_capacity(key.len() + 3), depth: 0, comma: false };
        w.key(key)?;
        Ok(RenderedKey(w.out.into_boxed_slice()))
    }

    /// An object's next key, rendered before: the same bytes as [`JsonWriter::key`].
    pub fn rendered_key(&mut self, key: &RenderedKey) {
        if self.comma {
            self.out.push(b',');
        }
        self.out.extend_from_slice(&key.0);
        self.comma = false;
    }

    /// Closes the innermost object.
    pub fn end_object(&mut self) {
        self.out.push(b'}');
        self.depth = self.depth.saturating_sub(1);
        self.comma = true;
    }

    /// A string: as is between quotes when nothing in it needs escaping (serde_json escapes
    /// only `"`, `\\` and control characters), else through serde_json's own escaping.
    fn text(&mut self, v: &str) -> Result<(), Unwritable> {
        if !needs_escape(v.as_bytes()) {
            self.out.reserve(v.len() + 2);
            self.out.push(b'"');
            self.out.extend_from_slice(v.as_bytes());
            self.out.push(b'"');
            Ok(())
        } else {
            self.serde(v)
        }
    }

    /// A scalar through serde_json's own writer: the same escaping and number text as [`to_vec`](crate::notation::json::to_vec).
    fn serde<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Unwritable> {
        serde_json::to_writer(&mut self.out, v).map_err(|_| Unwritable)
    }
}

/// Standard base64 (RFC 4648 §4) with padding.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}
