//! The `csv` notation: one CSV line (RFC 4180) ⇄ [`Value`] (KSML's
//! `CsvNotation` and `CsvDataObjectMapper`).
//!
//! A CSV type names a schema: `csv:SensorData` reads the file `SensorData.csv` from the
//! schema directory, whose first line holds the column names (`name,timestamp,value`). Every
//! column is a string: KSML's CSV schemas have no column types, so a column that holds a
//! number reads as its text and a function converts it. Bare `csv` is refused, as KSML
//! refuses it ("a schema is required"). `csv:list(…)` (or `csv:[…]`) reads lines without a
//! schema, and `csv:struct` writes a struct's values in field order.
//!
//! Reading, as KSML's reader does (Jackson CSV with `SKIP_EMPTY_LINES` and `ALLOW_COMMENTS`):
//!
//! | CSV | decodes to |
//! |---|---|
//! | the first line that is neither empty nor a comment (`#…`) | the record; further lines are ignored |
//! | a line, type `csv:<Schema>` | `Struct` with one `String` per column, in the schema's order |
//! | a line shorter than the schema | the missing columns are `""` (KSML tolerates short rows) |
//! | a line longer than the schema | the extra fields are ignored |
//! | an empty field (`,,` or `""`) | `""` |
//! | a line, type `csv:list(…)` | `List` of `String`s |
//! | no line at all (empty record, only comments) | an empty `List` for list types; an error for schema types |
//!
//! Fields may be quoted (`"a,b"`, `"say ""hi"""`, a quoted field may hold line breaks); the
//! reader is lenient with stray quotes, as Jackson's is. The bytes must be UTF-8.
//!
//! Writing, as KSML's writer does (Jackson CSV with `ALWAYS_QUOTE_STRINGS`, no line feed
//! after the record): every field is quoted, `"` is doubled, fields are separated by `,`:
//! `"sensor1","1700000000000","23.5"`. A field's text:
//!
//! | Value | field text |
//! |---|---|
//! | `String`, `Enum` | the string |
//! | `Null`, a column the struct does not have | empty (`""`) |
//! | anything else | KSML's text form of the value ([`Value`]'s `Display`: `42`, `true`, `[1, 2]`) |
//!
//! A schema type writes a `Struct`'s fields in the schema's column order (fields the schema
//! does not name are left out, as KSML does); `csv:struct` writes its fields in their order; a
//! list type writes a `List`'s (or `Tuple`'s) elements. A list given for a schema type, or a
//! struct for a list type, is an error.
//!
//! The same reader and writer convert between text and structures for `convertValue`
//! (KSML's notation converter, rule 4 of the conversions): see [`CsvCodec::to_text`] and
//! [`CsvCodec::from_text`].

use std::cell::RefCell;
use std::io;
use std::sync::Arc;

use weir_dsl::types::{TypeKind, UserType};

use super::{Codec, CodecContext, CodecError, TextPosition, describe};
use crate::value::Value;

/// What a CSV type reads and writes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Shape {
    /// `csv:<Schema>`: a struct with these columns.
    Columns(Arc<[String]>),
    /// `csv:struct`: a struct written in field order (it cannot be read: a line without a
    /// schema has no column names).
    Struct,
    /// `csv:list(…)`: a list of fields.
    List,
    /// `csv:union(struct, list)`, KSML's default type of the notation: a list is read, a
    /// struct or a list is written.
    Either,
}

/// Reads and writes one CSV line for one type.
#[derive(Debug, Clone)]
pub struct CsvCodec {
    expected: String,
    shape: Shape,
}

/// The codec for a `csv` type (`csv:SensorData`, `csv:list(string)`), reading schemas from
/// `cx.schemas`.
pub fn codec(ty: &UserType, cx: &CodecContext) -> Result<Arc<dyn Codec>, String> {
    Ok(Arc::new(CsvCodec::for_type(ty, cx)?))
}

impl CsvCodec {
    /// The codec for `ty`, reading a schema's header line from `cx.schemas`.
    pub fn for_type(ty: &UserType, cx: &CodecContext) -> Result<CsvCodec, String> {
        let notation = cx.notation;
        let shape = match &ty.kind {
            TypeKind::Schema(name) => {
                let (file, text) = cx.schemas.load(name, ".csv")?;
                let columns = header(&text).map_err(|e| format!("CSV schema file '{}': {e}", file.display()))?;
                Shape::Columns(columns.into())
            }
            TypeKind::NotationDefault => {
                return Err(format!(
                    "notation '{notation}' requires a schema: write '{notation}:<SchemaName>' (a file <SchemaName>.csv holding the column names)"
                ));
            }
            TypeKind::Struct => Shape::Struct,
            TypeKind::List(_) => Shape::List,
            TypeKind::Union(members)
                if members.len() == 2
                    && members.iter().any(|m| m.kind == TypeKind::Struct)
                    && members.iter().any(|m| matches!(m.kind, TypeKind::List(_))) =>
            {
                Shape::Either
            }
            _ => {
                return Err(format!(
                    "notation '{notation}' does not allow data type '{ty}': CSV values are structs with a schema ('{notation}:<SchemaName>') or lists"
                ));
            }
        };
        Ok(CsvCodec { expected: ty.to_string(), shape })
    }

    /// A codec for the columns of a schema (`name,timestamp,value`), for tests and tools.
    pub fn with_columns(expected: &str, columns: Vec<String>) -> CsvCodec {
        CsvCodec { expected: expected.to_string(), shape: Shape::Columns(columns.into()) }
    }

    /// The schema's column names, when the type names a schema.
    pub fn columns(&self) -> Option<&[String]> {
        match &self.shape {
            Shape::Columns(c) => Some(c),
            _ => None,
        }
    }

    /// Reads a CSV line (the text of a record) into a struct or list, as [`Codec::decode`]
    /// does: KSML's converter from a string into a CSV type.
    pub fn from_text(&self, text: &str) -> Result<Value, CodecError> {
        let fields = first_record(text.as_bytes());
        let value = match (&self.shape, fields) {
            (Shape::Columns(columns), Some(fields)) => Value::Struct(
                columns.iter().enumerate().map(|(i, c)| (c.clone(), Value::String(fields.get(i).unwrap_or("").to_string()))).collect(),
            ),
            (Shape::Columns(columns), None) => {
                return Err(self.decode_error(format!(
                    "found no CSV line (the record is empty or holds only comments), expected one with the columns {}",
                    columns.join(",")
                )));
            }
            (Shape::Struct, Some(fields)) => {
                return Err(self.decode_error(format!(
                    "found a CSV line of {} fields but a struct needs column names: write 'csv:<SchemaName>' for a schema file <SchemaName>.csv",
                    fields.len()
                )));
            }
            (Shape::Struct, None) => return Err(self.decode_error("found no CSV line (the record is empty or holds only comments)")),
            (Shape::List | Shape::Either, Some(fields)) => Value::List(fields.iter().map(|f| Value::String(f.to_string())).collect()),
            (Shape::List | Shape::Either, None) => Value::List(Vec::new()),
        };
        Ok(value)
    }

    /// Writes a struct or list as one CSV line, as [`Codec::encode`] does: KSML's converter
    /// from a CSV type to `string`.
    pub fn to_text(&self, value: &Value) -> Result<String, CodecError> {
        let fields: Vec<String> = match (&self.shape, value) {
            (Shape::Columns(columns), Value::Struct(fields)) => {
                columns.iter().map(|c| fields.get(c).map_or_else(String::new, text)).collect()
            }
            (Shape::Struct | Shape::Either, Value::Struct(fields)) => fields.values().map(text).collect(),
            (Shape::List | Shape::Either, Value::List(items) | Value::Tuple(items)) => items.iter().map(text).collect(),
            (Shape::Columns(_) | Shape::Struct, other) => {
                return Err(CodecError::encode("csv", &self.expected, format!("expected a struct, found {}", describe(other))));
            }
            (Shape::List, other) => {
                return Err(CodecError::encode("csv", &self.expected, format!("expected a list, found {}", describe(other))));
            }
            (Shape::Either, other) => {
                return Err(CodecError::encode("csv", &self.expected, format!("expected a struct or a list, found {}", describe(other))));
            }
        };
        Ok(write_line(&fields))
    }

    fn decode_error(&self, found: impl Into<String>) -> CodecError {
        CodecError::decode("csv", &self.expected, found)
    }
}

impl Codec for CsvCodec {
    fn decode(&self, bytes: Option<&[u8]>) -> Result<Value, CodecError> {
        let Some(bytes) = bytes else { return Ok(Value::Null) };
        let text = utf8("csv", &self.expected, bytes)?;
        self.from_text(text)
    }

    fn encode(&self, value: &Value) -> Result<Option<Vec<u8>>, CodecError> {
        if *value == Value::Null {
            return Ok(None);
        }
        self.to_text(value).map(|t| Some(t.into_bytes()))
    }
}

/// A field's text: strings as they are, null as empty, the rest in KSML's text form.
fn text(value: &Value) -> String {
    match value {
        Value::String(s) | Value::Enum(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The record's bytes as UTF-8, or an error at the first invalid byte.
pub(crate) fn utf8<'a>(notation: &'static str, expected: &str, bytes: &'a [u8]) -> Result<&'a str, CodecError> {
    std::str::from_utf8(bytes).map_err(|e| {
        let offset = e.valid_up_to();
        let before = &bytes[..offset];
        let line = before.iter().filter(|b| **b == b'\n').count() + 1;
        let column = offset - before.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1) + 1;
        let shown = super::hex_preview(&bytes[offset..bytes.len().min(offset + 4)]);
        let mut error = CodecError::decode(
            notation,
            expected,
            format!("invalid UTF-8 at byte {offset} (line {line}, column {column}): found bytes {shown}"),
        );
        error.position = Some(TextPosition { offset, line, column });
        error
    })
}

thread_local! {
    /// A reader per thread, fed each record in turn: building a reader builds its parser's
    /// state machine, which costs more than reading a short line.
    static READER: RefCell<csv::Reader<io::Cursor<Vec<u8>>>> = RefCell::new(reader(Vec::new()));
}

fn reader(bytes: Vec<u8>) -> csv::Reader<io::Cursor<Vec<u8>>> {
    csv::ReaderBuilder::new().has_headers(false).flexible(true).comment(Some(b'#')).from_reader(io::Cursor::new(bytes))
}

/// The first record of a CSV text whose line is neither blank (empty or only whitespace) nor
/// a comment.
fn first_record(bytes: &[u8]) -> Option<csv::StringRecord> {
    READER.with(|cell| match cell.try_borrow_mut() {
        Ok(mut reader) => {
            let input = reader.get_mut().get_mut();
            input.clear();
            input.extend_from_slice(bytes);
            let found = reader.seek_raw(io::SeekFrom::Start(0), csv::Position::new()).ok().and_then(|()| read_first(&mut reader, bytes));
            // Do not keep a large record's buffer around.
            if reader.get_ref().get_ref().capacity() > 1 << 20 {
                *reader = self::reader(Vec::new());
            }
            found
        }
        Err(_) => read_first(&mut reader(bytes.to_vec()), bytes),
    })
}

fn read_first(reader: &mut csv::Reader<io::Cursor<Vec<u8>>>, bytes: &[u8]) -> Option<csv::StringRecord> {
    let mut record = csv::StringRecord::new();
    // The text is UTF-8 already and reading from memory does no I/O, so the reader has
    // nothing to fail on; a failure would read as no record.
    while let Ok(true) = reader.read_record(&mut record) {
        let start = record.position().map_or(0, |p| p.byte() as usize);
        let end = (reader.position().byte() as usize).min(bytes.len());
        if !bytes.get(start..end).unwrap_or_default().iter().all(u8::is_ascii_whitespace) {
            return Some(record);
        }
    }
    None
}

/// One CSV line, every field quoted, no line terminator.
fn write_line(fields: &[String]) -> String {
    let mut out = String::with_capacity(fields.iter().map(|f| f.len() + 3).sum());
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('"');
        for c in field.chars() {
            if c == '"' {
                out.push('"');
            }
            out.push(c);
        }
        out.push('"');
    }
    out
}

/// The column names of a CSV schema file: its first line that is neither empty nor a comment.
fn header(text: &str) -> Result<Vec<String>, String> {
    let Some(record) = first_record(text.as_bytes()) else {
        return Err("found no header line (the file is empty or holds only comments); write the column names on one line, e.g. 'name,timestamp,value'".to_string());
    };
    let mut columns: Vec<String> = Vec::with_capacity(record.len());
    for (i, name) in record.iter().enumerate() {
        if name.is_empty() {
            return Err(format!("column {} of the header line has no name", i + 1));
        }
        if columns.iter().any(|c| c == name) {
            return Err(format!("the header line names column '{name}' twice"));
        }
        columns.push(name.to_string());
    }
    Ok(columns)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_lines_skip_blank_and_comment_lines_and_refuse_duplicates() {
        assert_eq!(header("\n# columns\nname,\"a,b\", c\n"), Ok(vec!["name".to_string(), "a,b".to_string(), " c".to_string()]));
        assert_eq!(header("a,b,a").expect_err("duplicate"), "the header line names column 'a' twice");
        assert_eq!(header("a,,b").expect_err("empty"), "column 2 of the header line has no name");
        assert!(header("\n\n# only a comment\n").expect_err("none").starts_with("found no header line"));
    }

    #[test]
    fn lines_are_quoted_with_doubled_quotes() {
        let fields = ["say \"hi\"".to_string(), "line1\nline2".to_string(), String::new()];
        assert_eq!(write_line(&fields), "\"say \"\"hi\"\"\",\"line1\nline2\",\"\"");
        assert_eq!(write_line(&[]), "");
    }
}
