//! The `xml` notation: XML text ⇄ [`Value`] (KSML's `XmlNotation`,
//! `XmlDataObjectMapper`, `XmlSchemaMapper`).
//!
//! `xml` (KSML's default type `struct`), `xml:struct` and `xml:map(…)` read and write XML
//! without a schema; `xml:SensorData` reads the XML Schema `SensorData.xsd` from the schema
//! directory and types the values as it declares. A record is one document whose root
//! element holds the struct.
//!
//! Reading follows what KSML's reader does (Jackson's XML tree reader, namespace aware):
//!
//! | XML | decodes to |
//! |---|---|
//! | the root element | `Struct` (its name is not checked); a root holding only text is an error |
//! | a child element holding only text (or nothing) | `String` under the element's local name (`""` when empty) |
//! | a child element with child elements or attributes | `Struct` |
//! | an attribute | `String` under its local name, before the child elements (`xmlns` declarations are not data) |
//! | text next to child elements or attributes | `String` under the key `""` (whitespace-only text there is ignored) |
//! | an element name repeated in one parent | `List` of the values, at the place of the first |
//! | `xsi:nil="true"` | `Null` |
//! | `<![CDATA[…]]>`, `&lt;`, `&#xE9;` | their text |
//! | comments, processing instructions, the XML declaration | nothing |
//!
//! Without a schema every leaf is a `String` (XML does not say `42` is a number). With a
//! schema, the XSD's types apply: see the mapping below. Refused on reading: bytes that are
//! not UTF-8, XML that is not well formed, a `<!DOCTYPE …>` (so no entity can be defined, and
//! no entity expansion "bomb" can be built), references to undefined entities, more than one
//! root element, text outside the root, nesting deeper than 128 elements.
//!
//! Writing follows what KSML's writer does (Jackson's `XmlMapper` with `WRITE_XML_1_1`):
//! `<?xml version='1.1' encoding='UTF-8'?>` then the root element on the same line, no
//! indentation. The root is named after the schema's element (`<SensorData>`), or `Struct`
//! for schemaless types (the name KSML gives a struct without a schema).
//!
//! | Value | written as |
//! |---|---|
//! | `Struct` | an element per field, in the struct's order (with a schema: in the schema's order) |
//! | `List`, `Tuple` | the element repeated once per item (nothing for an empty list); a list in a list is an error |
//! | `Null` | an empty element `<name/>` |
//! | `String`, `Enum` | text, escaped as Woodstox (KSML's writer) does: `&amp;`, `&lt;`, and `&gt;` where a `>` could end `]]>`; control characters other than tab and line feed as character references (allowed in XML 1.1); NUL, U+FFFE and U+FFFF are an error |
//! | `Bool`, numbers | their text; NaN and infinities as Java writes them (`NaN`, `Infinity`, `-Infinity`) |
//! | `Bytes` | base64 text (what Jackson writes for a `byte[]`) |
//! | the key `""` | the element's text |
//!
//! A field name that is not an XML name (`1st`, `a b`, `x:y`) is an error: XML cannot hold it.
//!
//! # XML Schema
//!
//! The subset of XSD that KSML's schemas use, read with quick-xml: the top-level
//! `xs:element` named like the schema (`SensorData` for `xml:SensorData`; for a dotted name
//! the last segment also matches) with a `xs:complexType`; complex types, inline or named,
//! with `xs:sequence` (or `xs:all`) of `xs:element`s, `xs:attribute`s, `mixed="true"`, or
//! `xs:simpleContent` extending a simple type with attributes; `xs:simpleType` restrictions
//! (`xs:enumeration`s make an enum; other facets are not checked); `minOccurs="0"` (the field
//! is optional), `maxOccurs` above 1 or `unbounded` (the field is a list); element `ref`s;
//! `xs:annotation`s. Anything else (`xs:choice`, `xs:group`, `xs:any`, `xs:complexContent`,
//! `xs:list`, `xs:union`, `xs:import`, recursive types, …) is refused with an error naming the
//! construct, as are XSD types outside this table:
//!
//! | XSD type | Value |
//! |---|---|
//! | `xs:string`, `xs:normalizedString`, `xs:token`, `xs:anyURI` | `String` (the text as it is) |
//! | `xs:boolean` (`true`, `false`, `1`, `0`) | `Bool` |
//! | `xs:byte`, `xs:short`, `xs:int`, `xs:long` | `Byte`, `Short`, `Int`, `Long` |
//! | `xs:integer` | `Int`, as KSML reads it |
//! | `xs:unsignedByte`, `xs:unsignedShort`, `xs:unsignedInt` | `Short`, `Int`, `Long` (range checked) |
//! | `xs:float`, `xs:double` (also `INF`, `-INF`, `NaN`, `Infinity`) | `Float`, `Double` |
//! | `xs:base64Binary` | `Bytes` |
//! | `xs:anyType`, `xs:anySimpleType`, an element without a type | the value as read without a schema |
//! | a restriction with `xs:enumeration`s | `Enum` |
//! | a complex type | `Struct` |
//!
//! Typed text is trimmed before it is parsed (XSD's whitespace rule for these types); an empty
//! element of a type other than a string or base64 reads as `Null`. Elements and attributes the schema
//! does not declare are kept, untyped (as KSML keeps them). A value that does not fit its type
//! is an error naming the element (`SensorData/timestamp`), the XSD type and the text found.
//!
//! Writing with a schema: the schema's fields in its order, each value converted to the
//! declared type with KSML's conversion rules (a Python `int` for an `xs:int`, a numeric
//! string for an `xs:long`); a required field the struct lacks (or holds null) is written
//! empty (`<color/>`), an optional one is left out; fields the schema does not declare are
//! left out (KSML writes only the schema's fields); declared attributes are written as
//! attributes.
//!
//! # Conversions
//!
//! [`XmlCodec::to_text`] and [`XmlCodec::from_text`] are the notation's converter (KSML's
//! rule 4 of the conversions: a struct ⇄ its XML text for `convertValue`); `to_text` writes
//! indented XML, as KSML's converter does (two spaces per level, the declaration on its own
//! line).

use std::collections::HashMap;
use std::sync::Arc;

use indexmap::IndexMap;
use quick_xml::XmlVersion;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::{Namespace, ResolveResult};
use quick_xml::reader::{NsReader, Reader};
use weir_dsl::types::{TypeKind, UserType};

use super::{Codec, CodecContext, CodecError, TextPosition, describe};
use crate::value::{Value, convert};

/// Deepest nesting of elements read or written (the root is level 1).
const MAX_DEPTH: usize = 128;
const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";
const XSD: &str = "http://www.w3.org/2001/XMLSchema";
/// The root element of schemaless values: the name KSML gives a struct type without a schema.
const DEFAULT_ROOT: &str = "Struct";
/// What KSML's writer puts in front of every document.
const DECLARATION: &str = "<?xml version='1.1' encoding='UTF-8'?>";

/// The codec for an `xml` type (`xml`, `xml:struct`, `xml:SensorData`), reading schemas from
/// `cx.schemas`.
pub fn codec(ty: &UserType, cx: &CodecContext) -> Result<Arc<dyn Codec>, String> {
    Ok(Arc::new(XmlCodec::for_type(ty, cx)?))
}

/// Reads and writes XML documents for one type.
#[derive(Debug, Clone)]
pub struct XmlCodec {
    expected: String,
    /// The root element's name when writing.
    root: String,
    schema: Option<Arc<Complex>>,
}

impl XmlCodec {
    /// The codec for `ty`, reading an XSD from `cx.schemas` when the type names a schema.
    pub fn for_type(ty: &UserType, cx: &CodecContext) -> Result<XmlCodec, String> {
        match &ty.kind {
            TypeKind::NotationDefault | TypeKind::Struct | TypeKind::Map(_) => {
                Ok(XmlCodec { expected: ty.to_string(), root: DEFAULT_ROOT.to_string(), schema: None })
            }
            TypeKind::Schema(name) => {
                let (file, text) = cx.schemas.load(name, ".xsd")?;
                let (root, schema) = load_schema(name, &text).map_err(|e| format!("XML schema file '{}': {e}", file.display()))?;
                Ok(XmlCodec { expected: ty.to_string(), root, schema: Some(schema) })
            }
            _ => Err(format!(
                "notation '{}' does not allow data type '{ty}': XML values are structs ('{0}', '{0}:struct', '{0}:<SchemaName>')",
                cx.notation
            )),
        }
    }

    /// A codec for the schema `name` given as XSD text (for tests and tools); `expected` names
    /// the type in messages.
    pub fn with_schema(expected: &str, name: &str, xsd: &str) -> Result<XmlCodec, String> {
        let (root, schema) = load_schema(name, xsd)?;
        Ok(XmlCodec { expected: expected.to_string(), root, schema: Some(schema) })
    }

    /// The root element written.
    pub fn root(&self) -> &str {
        &self.root
    }

    /// Reads an XML document into a struct, as [`Codec::decode`] does: KSML's converter from
    /// a string into an XML type.
    pub fn from_text(&self, text: &str) -> Result<Value, CodecError> {
        let value = parse_document(text).map_err(|(found, position)| {
            let mut e = CodecError::decode("xml", &self.expected, found);
            e.position = position;
            e
        })?;
        match &self.schema {
            None => Ok(value),
            Some(schema) => typed_struct(schema, value, &self.root, 1).map_err(|found| CodecError::decode("xml", &self.expected, found)),
        }
    }

    /// Writes a struct as an indented XML document: KSML's converter from an XML type to
    /// `string`.
    pub fn to_text(&self, value: &Value) -> Result<String, CodecError> {
        self.write(value, true)
    }

    fn write(&self, value: &Value, pretty: bool) -> Result<String, CodecError> {
        let Value::Struct(fields) = value else {
            return Err(CodecError::encode("xml", &self.expected, format!("expected a struct, found {}", describe(value))));
        };
        let mut w = Writer { out: String::with_capacity(256), pretty };
        w.out.push_str(DECLARATION);
        if pretty {
            w.out.push('\n');
        }
        w.element(&self.root, fields, self.schema.as_deref(), &self.root, 0)
            .map_err(|found| CodecError::encode("xml", &self.expected, found))?;
        Ok(w.out)
    }
}

impl Codec for XmlCodec {
    fn decode(&self, bytes: Option<&[u8]>) -> Result<Value, CodecError> {
        let Some(bytes) = bytes else { return Ok(Value::Null) };
        let text = super::csv::utf8("xml", &self.expected, bytes)?;
        self.from_text(text)
    }

    fn encode(&self, value: &Value) -> Result<Option<Vec<u8>>, CodecError> {
        if *value == Value::Null {
            return Ok(None);
        }
        self.write(value, false).map(|t| Some(t.into_bytes()))
    }
}

// ---------------------------------------------------------------------------------------------
// Reading documents
// ---------------------------------------------------------------------------------------------

/// An element being read.
struct Open {
    name: String,
    fields: IndexMap<String, Value>,
    text: String,
    /// Has child elements (attributes are in `fields` already).
    children: bool,
    nil: bool,
}

impl Open {
    fn finish(mut self) -> Value {
        if self.nil {
            return Value::Null;
        }
        if !self.children && self.fields.is_empty() {
            return Value::String(self.text);
        }
        if !self.text.chars().all(is_xml_space) {
            self.fields.insert(String::new(), Value::String(self.text));
        }
        Value::Struct(self.fields)
    }
}

/// Adds a child's value to its parent's fields; a repeated name gathers its values in a list.
fn add_field(fields: &mut IndexMap<String, Value>, name: String, value: Value) {
    match fields.get_mut(&name) {
        None => {
            fields.insert(name, value);
        }
        // Elements and attributes read as strings, structs or null, never lists: a list here
        // was made by an earlier repetition.
        Some(Value::List(items)) => items.push(value),
        Some(existing) => {
            let first = std::mem::replace(existing, Value::Null);
            *existing = Value::List(vec![first, value]);
        }
    }
}

fn is_xml_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

type ParseError = (String, Option<TextPosition>);

fn position(text: &str, offset: u64) -> TextPosition {
    let offset = usize::try_from(offset).unwrap_or(usize::MAX).min(text.len());
    let before = &text.as_bytes()[..offset];
    let line = before.iter().filter(|b| **b == b'\n').count() + 1;
    let column = offset - before.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1) + 1;
    TextPosition { offset, line, column }
}

fn at(text: &str, offset: u64, message: impl std::fmt::Display) -> ParseError {
    let p = position(text, offset);
    (format!("{message} at byte {} (line {}, column {})", p.offset, p.line, p.column), Some(p))
}

/// Reads a document into the value of its root element (a struct).
fn parse_document(text: &str) -> Result<Value, ParseError> {
    let body = text.strip_prefix('\u{feff}').unwrap_or(text);
    let skipped = (text.len() - body.len()) as u64;
    let mut reader = NsReader::from_str(body);
    let mut version = XmlVersion::Implicit1_0;
    let mut stack: Vec<Open> = Vec::new();
    let mut root: Option<Value> = None;
    loop {
        // Where the event starts (the reader reports whitespace as its own text events).
        let here = skipped + reader.buffer_position();
        let event = reader.read_event().map_err(|e| at(text, skipped + reader.error_position(), format!("invalid XML: {e}")))?;
        match event {
            Event::Decl(decl) => {
                if let Ok(v) = decl.xml_version() {
                    version = v;
                }
            }
            Event::Start(start) | Event::Empty(start) if root.is_some() => {
                let name = start.local_name().as_ref().to_string();
                return Err(at(text, here, format!("found a second root element <{name}>")));
            }
            Event::Start(start) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(at(text, here, format!("found nesting deeper than {MAX_DEPTH} elements")));
                }
                let open = open_element(&reader, &start, version).map_err(|m| at(text, here, m))?;
                stack.push(open);
            }
            Event::Empty(start) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(at(text, here, format!("found nesting deeper than {MAX_DEPTH} elements")));
                }
                let open = open_element(&reader, &start, version).map_err(|m| at(text, here, m))?;
                close(&mut stack, &mut root, open);
            }
            Event::End(_) => {
                // quick-xml checks that end tags match their start tags.
                if let Some(open) = stack.pop() {
                    close(&mut stack, &mut root, open);
                }
            }
            Event::Text(t) => {
                let content = t.xml_content(version);
                match stack.last_mut() {
                    Some(open) => open.text.push_str(&content),
                    None if content.chars().all(is_xml_space) => {}
                    None => return Err(at(text, here, "found text outside the root element")),
                }
            }
            Event::CData(t) => match stack.last_mut() {
                Some(open) => open.text.push_str(&t.xml_content(version)),
                None => return Err(at(text, here, "found CDATA outside the root element")),
            },
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    Ok(None) => match resolve_predefined_entity(&r) {
                        Some(s) => s.to_string(),
                        None => return Err(at(text, here, format!("found a reference to the undefined entity '&{};'", &*r))),
                    },
                    Err(e) => return Err(at(text, here, format!("invalid character reference '&{};': {e}", &*r))),
                };
                match stack.last_mut() {
                    Some(open) => open.text.push_str(&resolved),
                    None => return Err(at(text, here, "found a reference outside the root element")),
                }
            }
            Event::DocType(_) => {
                return Err(at(
                    text,
                    here,
                    "found a document type declaration (<!DOCTYPE …>): DTDs are refused, so no entities can be defined",
                ));
            }
            Event::Comment(_) | Event::PI(_) => {}
            Event::Eof => break,
        }
    }
    if let Some(open) = stack.last() {
        return Err(at(text, text.len() as u64, format!("element <{}> is not closed", open.name)));
    }
    match root {
        Some(v @ (Value::Struct(_) | Value::Null)) => Ok(v),
        Some(Value::String(s)) if s.chars().all(is_xml_space) => Ok(Value::Struct(IndexMap::new())),
        Some(Value::String(s)) => {
            let shown: String = s.chars().take(40).collect();
            Err((format!("the root element holds only text ({shown:?}), not the elements of a struct"), None))
        }
        Some(_) | None => Err(at(text, text.len() as u64, "found no root element")),
    }
}

fn close(stack: &mut [Open], root: &mut Option<Value>, mut open: Open) {
    let name = std::mem::take(&mut open.name);
    let value = open.finish();
    match stack.last_mut() {
        Some(parent) => {
            parent.children = true;
            add_field(&mut parent.fields, name, value);
        }
        None => *root = Some(value),
    }
}

/// A start tag read: its local name and attributes (local names; `xmlns` declarations left
/// out; `xsi:nil="true"` marks the element null).
fn open_element(reader: &NsReader<&[u8]>, start: &BytesStart, version: XmlVersion) -> Result<Open, String> {
    let name = start.local_name().as_ref().to_string();
    let mut open = Open { name, fields: IndexMap::new(), text: String::new(), children: false, nil: false };
    for attr in start.attributes() {
        let attr = attr.map_err(|e| format!("invalid attribute in <{}>: {e}", open.name))?;
        let key = attr.key;
        if key.as_ref() == "xmlns" || key.prefix().is_some_and(|p| p.as_ref() == "xmlns") {
            continue;
        }
        let value =
            attr.normalized_value(version).map_err(|e| format!("invalid value of attribute '{}' in <{}>: {e}", key.as_ref(), open.name))?;
        let (ns, local) = reader.resolver().resolve_attribute(key);
        if local.as_ref() == "nil" && ns == ResolveResult::Bound(Namespace(XSI)) {
            open.nil = matches!(value.trim(), "true" | "1");
            continue;
        }
        add_field(&mut open.fields, local.as_ref().to_string(), Value::String(value.into_owned()));
    }
    Ok(open)
}

// ---------------------------------------------------------------------------------------------
// Typing with a schema
// ---------------------------------------------------------------------------------------------

/// Types a struct read from XML with its complex type. `path` names the element.
fn typed_struct(ty: &Complex, value: Value, path: &str, depth: usize) -> Result<Value, String> {
    if depth > MAX_DEPTH {
        return Err(format!("found nesting deeper than {MAX_DEPTH} elements at {path}"));
    }
    let fields = match value {
        Value::Null => return Ok(Value::Null),
        Value::Struct(fields) => fields,
        Value::String(s) if s.chars().all(is_xml_space) => IndexMap::new(),
        Value::String(s) => match &ty.text {
            // Text without attributes for a simple content type: the text alone.
            Some(_) => IndexMap::from([(String::new(), Value::String(s))]),
            None => return Err(format!("element {path} holds the text {}, expected the elements of {}", quoted(&s), ty.describe())),
        },
        other => return Err(format!("element {path} holds {}, expected the elements of {}", describe(&other), ty.describe())),
    };
    let mut out = IndexMap::with_capacity(fields.len());
    for (key, value) in fields {
        let typed = if key.is_empty() {
            match &ty.text {
                Some(t) => typed_value(t, value, &format!("{path} (text)"), depth)?,
                None => value,
            }
        } else if let Some(field) = ty.fields.iter().find(|f| f.name == key) {
            typed_field(field, value, &format!("{path}/{key}"), depth)?
        } else if let Some(field) = ty.attributes.iter().find(|f| f.name == key) {
            typed_field(field, value, &format!("{path}/@{key}"), depth)?
        } else {
            value
        };
        out.insert(key, typed);
    }
    Ok(Value::Struct(out))
}

fn typed_field(field: &Field, value: Value, path: &str, depth: usize) -> Result<Value, String> {
    if field.repeated {
        let items = match value {
            Value::List(items) => items,
            single => vec![single],
        };
        return items.into_iter().map(|v| typed_value(&field.ty, v, path, depth)).collect::<Result<_, _>>().map(Value::List);
    }
    match value {
        Value::List(items) => Err(format!(
            "element {path} appears {} times, but the schema allows it once (maxOccurs=\"1\"); expected {}",
            items.len(),
            field.ty.describe()
        )),
        single => typed_value(&field.ty, single, path, depth),
    }
}

fn typed_value(ty: &XType, value: Value, path: &str, depth: usize) -> Result<Value, String> {
    match (ty, value) {
        (_, Value::Null) => Ok(Value::Null),
        (XType::Complex(c), v) => typed_struct(c, v, path, depth + 1),
        (XType::Simple(Simple::Any, _), v) => Ok(v),
        (XType::Simple(s, name), Value::String(text)) => parse_simple(*s, &text).map_err(|why| {
            let why = why.map(|w| format!(" ({w})")).unwrap_or_default();
            format!("element {path} holds {}, expected xs:{name}{why}", quoted(&text))
        }),
        (XType::Enum(symbols), Value::String(text)) => {
            let t = text.trim();
            if t.is_empty() {
                Ok(Value::Null)
            } else if symbols.iter().any(|s| s == t) {
                Ok(Value::Enum(t.to_string()))
            } else {
                Err(format!("element {path} holds {}, expected one of the enumeration values {}", quoted(&text), symbols.join(", ")))
            }
        }
        (ty, other) => Err(format!("element {path} holds {}, expected {}", found_element(&other), ty.describe())),
    }
}

fn found_element(value: &Value) -> String {
    match value {
        Value::Struct(_) => "child elements or attributes".to_string(),
        other => describe(other),
    }
}

fn quoted(text: &str) -> String {
    let shown: String = text.chars().take(40).collect();
    let more = if shown.len() < text.len() { "…" } else { "" };
    format!("{shown:?}{more}")
}

/// Parses the text of a simple type. `Err(Some(why))` adds a reason to the message.
fn parse_simple(ty: Simple, text: &str) -> Result<Value, Option<String>> {
    if matches!(ty, Simple::String | Simple::Any) {
        return Ok(Value::String(text.to_string()));
    }
    let t = text.trim_matches(is_xml_space);
    if t.is_empty() {
        // Empty is no value, except for base64 where it is zero bytes.
        return Ok(if ty == Simple::Base64 { Value::Bytes(Vec::new()) } else { Value::Null });
    }
    let integer = |min: i64, max: i64| -> Result<i64, Option<String>> {
        let n = t.parse::<i64>().map_err(|_| None)?;
        if n < min || n > max { Err(Some(format!("out of range {min}..={max}"))) } else { Ok(n) }
    };
    Ok(match ty {
        Simple::Boolean => match t {
            "true" | "1" => Value::Bool(true),
            "false" | "0" => Value::Bool(false),
            _ => return Err(None),
        },
        Simple::Byte => Value::Byte(integer(i8::MIN.into(), i8::MAX.into())? as i8),
        Simple::Short => Value::Short(integer(i16::MIN.into(), i16::MAX.into())? as i16),
        Simple::Int => Value::Int(integer(i32::MIN.into(), i32::MAX.into())? as i32),
        Simple::Long => Value::Long(integer(i64::MIN, i64::MAX)?),
        Simple::UnsignedByte => Value::Short(integer(0, u8::MAX.into())? as i16),
        Simple::UnsignedShort => Value::Int(integer(0, u16::MAX.into())? as i32),
        Simple::UnsignedInt => Value::Long(integer(0, u32::MAX.into())?),
        Simple::Float => Value::Float(t.parse::<f32>().map_err(|_| None)?),
        Simple::Double => Value::Double(t.parse::<f64>().map_err(|_| None)?),
        Simple::Base64 => Value::Bytes(base64_decode(t).ok_or_else(|| Some("not base64".to_string()))?),
        Simple::String | Simple::Any => Value::String(text.to_string()),
    })
}

/// Standard base64, padding optional, XML whitespace ignored.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let digits: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    super::base64::decode(&digits)
}

// ---------------------------------------------------------------------------------------------
// Writing documents
// ---------------------------------------------------------------------------------------------

struct Writer {
    out: String,
    pretty: bool,
}

impl Writer {
    fn indent(&mut self, level: usize) {
        if self.pretty {
            self.out.push('\n');
            for _ in 0..level {
                self.out.push_str("  ");
            }
        }
    }

    /// Writes an element holding a struct, typed by `schema` when there is one.
    fn element(
        &mut self,
        name: &str,
        fields: &IndexMap<String, Value>,
        schema: Option<&Complex>,
        path: &str,
        level: usize,
    ) -> Result<(), String> {
        if level >= MAX_DEPTH {
            return Err(format!("found nesting deeper than {MAX_DEPTH} levels at {path}"));
        }
        self.out.push('<');
        self.out.push_str(name);
        if let Some(schema) = schema {
            for attr in &schema.attributes {
                match fields.get(&attr.name) {
                    None | Some(Value::Null) => {}
                    Some(v) => {
                        let text = simple_text(&attr.ty, v, &format!("{path}/@{}", attr.name))?;
                        self.out.push(' ');
                        self.out.push_str(&attr.name);
                        self.out.push_str("=\"");
                        escape_into(&mut self.out, &text, true).map_err(|c| bad_char(c, &format!("{path}/@{}", attr.name)))?;
                        self.out.push('"');
                    }
                }
            }
        }
        let has_content = match schema {
            Some(s) => {
                !s.fields.is_empty() && (s.fields.iter().any(|f| f.required || fields.get(&f.name).is_some())) || fields.contains_key("")
            }
            None => !fields.is_empty(),
        };
        if !has_content {
            self.out.push_str("/>");
            return Ok(());
        }
        self.out.push('>');
        // Text and indentation do not mix: an element with text is written compactly.
        let pretty = self.pretty;
        if fields.get("").is_some_and(|v| *v != Value::Null) {
            self.pretty = false;
        }
        let result = self.content(fields, schema, path, level);
        self.pretty = pretty;
        result?;
        if !fields.get("").is_some_and(|v| *v != Value::Null) {
            self.indent(level);
        }
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
        Ok(())
    }

    fn content(&mut self, fields: &IndexMap<String, Value>, schema: Option<&Complex>, path: &str, level: usize) -> Result<(), String> {
        match schema {
            None => {
                for (key, value) in fields {
                    if key.is_empty() {
                        self.text(value, path)?;
                    } else {
                        check_name(key, path)?;
                        self.field(key, value, None, &format!("{path}/{key}"), level + 1)?;
                    }
                }
            }
            Some(schema) => {
                if let Some(text) = fields.get("") {
                    match &schema.text {
                        Some(t) if *text != Value::Null => {
                            let s = simple_text(t, text, &format!("{path} (text)"))?;
                            escape_into(&mut self.out, &s, false).map_err(|c| bad_char(c, path))?;
                        }
                        _ => self.text(text, path)?,
                    }
                }
                for field in &schema.fields {
                    let p = format!("{path}/{}", field.name);
                    match fields.get(&field.name) {
                        None if !field.required => {}
                        None => self.field(&field.name, &Value::Null, Some(&field.ty), &p, level + 1)?,
                        Some(v) if field.repeated => match v {
                            Value::List(items) | Value::Tuple(items) => {
                                for item in items {
                                    self.field(&field.name, item, Some(&field.ty), &p, level + 1)?;
                                }
                            }
                            single => self.field(&field.name, single, Some(&field.ty), &p, level + 1)?,
                        },
                        Some(v) => self.field(&field.name, v, Some(&field.ty), &p, level + 1)?,
                    }
                }
            }
        }
        Ok(())
    }

    fn text(&mut self, value: &Value, path: &str) -> Result<(), String> {
        match value {
            Value::Struct(_) | Value::List(_) | Value::Tuple(_) => {
                Err(format!("the text of {path} (key \"\") is {}, expected a simple value", describe(value)))
            }
            other => escape_into(&mut self.out, &leaf_text(other), false).map_err(|c| bad_char(c, path)),
        }
    }

    /// Writes one field: an element, or one per item of a list.
    fn field(&mut self, name: &str, value: &Value, ty: Option<&XType>, path: &str, level: usize) -> Result<(), String> {
        match (value, ty) {
            (Value::List(items) | Value::Tuple(items), None | Some(XType::Simple(Simple::Any, _))) => {
                for item in items {
                    if matches!(item, Value::List(_) | Value::Tuple(_)) {
                        return Err(format!("{path} holds a list inside a list, which XML cannot hold"));
                    }
                    self.field(name, item, ty, path, level)?;
                }
                Ok(())
            }
            (Value::Null, _) => {
                self.indent(level);
                self.out.push('<');
                self.out.push_str(name);
                self.out.push_str("/>");
                Ok(())
            }
            (Value::Struct(fields), None | Some(XType::Simple(Simple::Any, _))) => {
                self.indent(level);
                self.element(name, fields, None, path, level)
            }
            (Value::Struct(fields), Some(XType::Complex(c))) => {
                self.indent(level);
                self.element(name, fields, Some(c), path, level)
            }
            (other, Some(XType::Complex(c))) => Err(format!("{path} is {}, expected a struct for {}", describe(other), c.describe())),
            (other, ty) => {
                let text = match ty {
                    Some(t) => simple_text(t, other, path)?,
                    None => leaf_text(other),
                };
                self.indent(level);
                self.out.push('<');
                self.out.push_str(name);
                self.out.push('>');
                escape_into(&mut self.out, &text, false).map_err(|c| bad_char(c, path))?;
                self.out.push_str("</");
                self.out.push_str(name);
                self.out.push('>');
                Ok(())
            }
        }
    }
}

fn bad_char(c: char, path: &str) -> String {
    format!("{path} holds the character U+{:04X}, which XML cannot hold", u32::from(c))
}

/// The text of a leaf value written without a schema.
fn leaf_text(value: &Value) -> String {
    match value {
        Value::String(s) | Value::Enum(s) => s.clone(),
        Value::Null => String::new(),
        Value::Float(x) => java_float(f64::from(*x), &x.to_string()),
        Value::Double(x) => java_float(*x, &x.to_string()),
        Value::Bytes(b) => super::json::base64(b),
        other => other.to_string(),
    }
}

/// NaN and the infinities as Java prints them (what KSML writes); finite numbers as given.
fn java_float(x: f64, finite: &str) -> String {
    if x.is_nan() {
        "NaN".to_string()
    } else if x.is_infinite() {
        if x > 0.0 { "Infinity" } else { "-Infinity" }.to_string()
    } else {
        finite.to_string()
    }
}

/// The text of a value for a simple XSD type: the value brought to the type by KSML's
/// conversion rules, then written.
fn simple_text(ty: &XType, value: &Value, path: &str) -> Result<String, String> {
    let (simple, name) = match ty {
        XType::Simple(s, name) => (*s, *name),
        XType::Enum(symbols) => {
            return match value {
                Value::String(s) | Value::Enum(s) if symbols.contains(s) => Ok(s.clone()),
                other => Err(format!("{path} is {}, expected one of the enumeration values {}", describe(other), symbols.join(", "))),
            };
        }
        XType::Complex(c) => return Err(format!("{path} is {}, expected a struct for {}", describe(value), c.describe())),
    };
    let kind = match simple {
        Simple::String | Simple::Any => return Ok(leaf_text(value)),
        Simple::Boolean => TypeKind::Boolean,
        Simple::Byte => TypeKind::Byte,
        Simple::Short | Simple::UnsignedByte => TypeKind::Short,
        Simple::Int | Simple::UnsignedShort => TypeKind::Int,
        Simple::Long | Simple::UnsignedInt => TypeKind::Long,
        Simple::Float => TypeKind::Float,
        Simple::Double => TypeKind::Double,
        Simple::Base64 => TypeKind::Bytes,
    };
    let fail = |why: String| format!("{path} is {}, expected xs:{name} ({why})", describe(value));
    let converted = convert(value.clone(), &UserType { notation: None, kind }).map_err(|e| fail(e.message))?;
    let range = |n: i64, max: i64| if (0..=max).contains(&n) { Ok(n.to_string()) } else { Err(fail(format!("out of range 0..={max}"))) };
    match (simple, &converted) {
        (Simple::UnsignedByte, Value::Short(n)) => range((*n).into(), u8::MAX.into()),
        (Simple::UnsignedShort, Value::Int(n)) => range((*n).into(), u16::MAX.into()),
        (Simple::UnsignedInt, Value::Long(n)) => range(*n, u32::MAX.into()),
        _ => Ok(leaf_text(&converted)),
    }
}

/// Appends `text` escaped for element content (or, with `attribute`, for a double-quoted
/// attribute value), as Woodstox (KSML's writer) escapes: `&` and `<` always, `>` at the start
/// or after `]` (where it could end `]]>`), character references in lowercase hex. Returns the
/// character XML cannot hold, if any.
fn escape_into(out: &mut String, text: &str, attribute: bool) -> Result<(), char> {
    let mut previous = None;
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' if attribute || matches!(previous, None | Some(']')) => out.push_str("&gt;"),
            '"' if attribute => out.push_str("&quot;"),
            '\t' | '\n' if attribute => out.push_str(&format!("&#x{:x};", u32::from(c))),
            '\0' | '\u{FFFE}' | '\u{FFFF}' => return Err(c),
            // CR (which readers turn into a line feed), the other C0 controls, DEL and the C1
            // controls, and the XML 1.1 line separators (which XML 1.1 readers turn into line
            // feeds): as character references.
            '\u{1}'..='\u{8}' | '\u{B}'..='\u{1F}' | '\u{7F}'..='\u{9F}' | '\u{2028}' => out.push_str(&format!("&#x{:x};", u32::from(c))),
            c => out.push(c),
        }
        previous = Some(c);
    }
    Ok(())
}

/// Refuses a field name XML cannot hold as an element name (XML 1.0 names without `:`).
fn check_name(name: &str, path: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let valid = chars.next().is_some_and(name_start) && chars.all(|c| name_start(c) || name_char(c));
    if valid { Ok(()) } else { Err(format!("field {} of {path} is not an XML element name", quoted(name))) }
}

fn name_start(c: char) -> bool {
    matches!(c, 'A'..='Z' | '_' | 'a'..='z' | '\u{C0}'..='\u{D6}' | '\u{D8}'..='\u{F6}' | '\u{F8}'..='\u{2FF}' | '\u{370}'..='\u{37D}'
        | '\u{37F}'..='\u{1FFF}' | '\u{200C}'..='\u{200D}' | '\u{2070}'..='\u{218F}' | '\u{2C00}'..='\u{2FEF}' | '\u{3001}'..='\u{D7FF}'
        | '\u{F900}'..='\u{FDCF}' | '\u{FDF0}'..='\u{FFFD}' | '\u{10000}'..='\u{EFFFF}')
}

fn name_char(c: char) -> bool {
    matches!(c, '-' | '.' | '0'..='9' | '\u{B7}' | '\u{300}'..='\u{36F}' | '\u{203F}'..='\u{2040}')
}

// ---------------------------------------------------------------------------------------------
// XML Schema
// ---------------------------------------------------------------------------------------------

/// A simple XSD type as read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Simple {
    String,
    Boolean,
    Byte,
    Short,
    Int,
    Long,
    UnsignedByte,
    UnsignedShort,
    UnsignedInt,
    Float,
    Double,
    Base64,
    Any,
}

/// The built-in XSD types read, by local name.
const BUILTINS: &[(&str, Simple)] = &[
    ("string", Simple::String),
    ("normalizedString", Simple::String),
    ("token", Simple::String),
    ("anyURI", Simple::String),
    ("boolean", Simple::Boolean),
    ("byte", Simple::Byte),
    ("short", Simple::Short),
    ("int", Simple::Int),
    ("integer", Simple::Int),
    ("long", Simple::Long),
    ("unsignedByte", Simple::UnsignedByte),
    ("unsignedShort", Simple::UnsignedShort),
    ("unsignedInt", Simple::UnsignedInt),
    ("float", Simple::Float),
    ("double", Simple::Double),
    ("base64Binary", Simple::Base64),
    ("anyType", Simple::Any),
    ("anySimpleType", Simple::Any),
];

/// The type of an element, attribute or text.
#[derive(Debug, Clone)]
enum XType {
    /// A built-in type and its XSD name (for messages).
    Simple(Simple, &'static str),
    /// A restriction with enumerations: the symbols.
    Enum(Vec<String>),
    Complex(Arc<Complex>),
}

impl XType {
    fn describe(&self) -> String {
        match self {
            XType::Simple(_, name) => format!("xs:{name}"),
            XType::Enum(symbols) => format!("one of the enumeration values {}", symbols.join(", ")),
            XType::Complex(c) => c.describe(),
        }
    }
}

/// A complex type: its elements (in order), attributes and text.
#[derive(Debug)]
struct Complex {
    /// The type's or its element's name, for messages.
    name: String,
    fields: Vec<Field>,
    attributes: Vec<Field>,
    /// The text's type, for `xs:simpleContent` and `mixed="true"` types.
    text: Option<XType>,
}

impl Complex {
    fn describe(&self) -> String {
        format!("complex type '{}'", self.name)
    }
}

/// An element or attribute of a complex type.
#[derive(Debug, Clone)]
struct Field {
    name: String,
    ty: XType,
    /// `minOccurs` above 0, `use="required"`.
    required: bool,
    /// `maxOccurs` above 1 or `unbounded`.
    repeated: bool,
}

/// An element of the XSD document.
#[derive(Debug)]
struct Node {
    prefix: Option<String>,
    local: String,
    attributes: Vec<(String, String)>,
    children: Vec<Node>,
}

impl Node {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attributes.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    fn display(&self) -> String {
        match &self.prefix {
            Some(p) => format!("<{p}:{}>", self.local),
            None => format!("<{}>", self.local),
        }
    }

    fn named(&self) -> String {
        match self.attr("name") {
            Some(n) => format!("{} '{n}'", self.display()),
            None => self.display(),
        }
    }
}

/// Namespace declarations: (prefix, or none for the default namespace; URI).
type Namespaces = Vec<(Option<String>, String)>;

/// Reads an XSD document into a tree of its elements (text and comments dropped) and the
/// namespace declarations it makes.
fn read_xsd(text: &str) -> Result<(Node, Namespaces), String> {
    let body = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = Reader::from_str(body);
    let mut stack: Vec<Node> = Vec::new();
    let mut namespaces: Namespaces = Vec::new();
    let mut root = None;
    let at = |reader: &Reader<&[u8]>, m: String| {
        let p = position(body, reader.buffer_position());
        format!("{m} (line {}, column {})", p.line, p.column)
    };
    loop {
        let event = reader.read_event().map_err(|e| {
            let p = position(body, reader.error_position());
            format!("invalid XML at line {}, column {}: {e}", p.line, p.column)
        })?;
        match event {
            Event::Start(start) | Event::Empty(start) if root.is_some() => {
                return Err(at(&reader, format!("found a second root element <{}>", start.name().as_ref())));
            }
            Event::Start(ref start) | Event::Empty(ref start) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(at(&reader, format!("found nesting deeper than {MAX_DEPTH} elements")));
                }
                let name = start.name();
                let mut node = Node {
                    prefix: name.prefix().map(|p| p.as_ref().to_string()),
                    local: name.local_name().as_ref().to_string(),
                    attributes: Vec::new(),
                    children: Vec::new(),
                };
                for attr in start.attributes() {
                    let attr = attr.map_err(|e| at(&reader, format!("invalid attribute in {}: {e}", node.display())))?;
                    let key = attr.key.as_ref().to_string();
                    let value = attr
                        .normalized_value(XmlVersion::Implicit1_0)
                        .map_err(|e| at(&reader, format!("invalid value of attribute '{key}' in {}: {e}", node.display())))?
                        .into_owned();
                    if key == "xmlns" {
                        namespaces.push((None, value));
                    } else if let Some(p) = key.strip_prefix("xmlns:") {
                        namespaces.push((Some(p.to_string()), value));
                    } else {
                        node.attributes.push((key, value));
                    }
                }
                if matches!(event, Event::Empty(_)) {
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(node),
                        None => root = Some(node),
                    }
                } else {
                    stack.push(node);
                }
            }
            Event::End(_) => {
                if let Some(node) = stack.pop() {
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(node),
                        None => root = Some(node),
                    }
                }
            }
            Event::DocType(_) => return Err(at(&reader, "found a document type declaration (<!DOCTYPE …>): DTDs are refused".to_string())),
            Event::Eof => break,
            _ => {}
        }
    }
    if let Some(open) = stack.last() {
        return Err(format!("element {} is not closed", open.display()));
    }
    let root = root.ok_or("found no root element")?;
    Ok((root, namespaces))
}

/// Reads the XSD `text` and returns the root element's name and complex type for the
/// schema `name`.
fn load_schema(name: &str, text: &str) -> Result<(String, Arc<Complex>), String> {
    let (root, namespaces) = read_xsd(text)?;
    let xsd_prefixes: Vec<Option<String>> = namespaces.iter().filter(|(_, uri)| uri == XSD).map(|(p, _)| p.clone()).collect();
    if root.local != "schema" || !xsd_prefixes.contains(&root.prefix) {
        return Err(format!("the root element is {}, expected <xs:schema> in the namespace {XSD}", root.display()));
    }
    let mut s = Schema { root: &root, xsd_prefixes, resolving: Vec::new(), complex: HashMap::new() };
    for child in &root.children {
        s.check_xsd(child)?;
        match child.local.as_str() {
            "element" | "complexType" | "simpleType" | "annotation" => {}
            other => {
                return Err(format!(
                    "{} is not supported (top-level {other}); supported: xs:element, xs:complexType, xs:simpleType",
                    child.named()
                ));
            }
        }
    }
    let last = name.rsplit('.').next().unwrap_or(name);
    let element = s.top("element", name).or_else(|| s.top("element", last)).ok_or_else(|| {
        let declared: Vec<&str> = root.children.iter().filter(|c| c.local == "element").filter_map(|c| c.attr("name")).collect();
        format!(
            "there is no top-level <xs:element name=\"{last}\">; the schema declares: {}",
            if declared.is_empty() { "no elements".to_string() } else { declared.join(", ") }
        )
    })?;
    let field = s.element(element)?;
    match field.ty {
        XType::Complex(c) => Ok((field.name, c)),
        other => Err(format!(
            "element '{}' has the simple type {}; the root of an XML value must have a complex type (its fields)",
            field.name,
            other.describe()
        )),
    }
}

struct Schema<'a> {
    root: &'a Node,
    xsd_prefixes: Vec<Option<String>>,
    /// Named types and elements being resolved (to refuse recursion).
    resolving: Vec<String>,
    complex: HashMap<String, Arc<Complex>>,
}

fn occurs(node: &Node, attr: &str) -> Result<Option<u64>, String> {
    match node.attr(attr) {
        None => Ok(Some(1)),
        Some("unbounded") if attr == "maxOccurs" => Ok(None),
        Some(v) => v.trim().parse::<u64>().map(Some).map_err(|_| {
            format!("{} has {attr}=\"{v}\", expected a number{}", node.named(), if attr == "maxOccurs" { " or 'unbounded'" } else { "" })
        }),
    }
}

impl<'a> Schema<'a> {
    fn check_xsd(&self, node: &Node) -> Result<(), String> {
        if self.xsd_prefixes.contains(&node.prefix) {
            Ok(())
        } else {
            Err(format!("{} is not an XML Schema element (namespace {XSD})", node.display()))
        }
    }

    fn top(&self, kind: &str, name: &str) -> Option<&'a Node> {
        self.root.children.iter().find(|c| c.local == kind && c.attr("name") == Some(name))
    }

    /// Only annotations besides what a construct allows.
    fn children(&self, node: &'a Node, allowed: &[&str]) -> Result<Vec<&'a Node>, String> {
        let mut out = Vec::new();
        for child in &node.children {
            self.check_xsd(child)?;
            if child.local == "annotation" {
                continue;
            }
            if !allowed.contains(&child.local.as_str()) {
                let inside = node.named();
                return Err(format!(
                    "xs:{} inside {inside} is not supported{}",
                    child.local,
                    if allowed.is_empty() { String::new() } else { format!(" (supported there: xs:{})", allowed.join(", xs:")) }
                ));
            }
            out.push(child);
        }
        Ok(out)
    }

    fn element(&mut self, node: &'a Node) -> Result<Field, String> {
        for refused in ["substitutionGroup", "abstract"] {
            if node.attr(refused).is_some() {
                return Err(format!("{} has {refused}=…, which is not supported", node.named()));
            }
        }
        let min = occurs(node, "minOccurs")?.unwrap_or(1);
        let max = occurs(node, "maxOccurs")?;
        if let Some(target) = node.attr("ref") {
            let local = target.rsplit(':').next().unwrap_or(target);
            let referenced = self
                .top("element", local)
                .ok_or_else(|| format!("{} refers to the element '{target}', which the schema does not declare", node.display()))?;
            let key = format!("element {local}");
            if self.resolving.contains(&key) {
                return Err(format!("element '{local}' contains itself; recursive types are not supported"));
            }
            self.resolving.push(key);
            let field = self.element(referenced);
            self.resolving.pop();
            let field = field?;
            return Ok(Field { required: min > 0, repeated: max.is_none_or(|m| m > 1), ..field });
        }
        let name = node.attr("name").ok_or_else(|| format!("{} has neither a name nor a ref", node.display()))?.to_string();
        let inline = self.children(node, &["complexType", "simpleType", "unique", "key", "keyref"])?;
        let inline: Vec<&Node> = inline.into_iter().filter(|c| c.local == "complexType" || c.local == "simpleType").collect();
        let ty = match (node.attr("type"), inline.as_slice()) {
            (Some(_), [_, ..]) => return Err(format!("element '{name}' has both a type attribute and an inline type")),
            (Some(t), []) => self.type_ref(t, &format!("element '{name}'"))?,
            (None, [one]) if one.local == "complexType" => XType::Complex(self.complex(one, &name)?),
            (None, [one]) => self.simple(one, &format!("element '{name}'"))?,
            (None, []) => XType::Simple(Simple::Any, "anyType"),
            (None, _) => return Err(format!("element '{name}' has more than one inline type")),
        };
        Ok(Field { name, ty, required: min > 0, repeated: max.is_none_or(|m| m > 1) })
    }

    /// A type named by a `type` or `base` attribute.
    fn type_ref(&mut self, qname: &str, of: &str) -> Result<XType, String> {
        let (prefix, local) = match qname.split_once(':') {
            Some((p, l)) => (Some(p.to_string()), l),
            None => (None, qname),
        };
        let user = self.top("complexType", local).or_else(|| self.top("simpleType", local));
        if self.xsd_prefixes.contains(&prefix) && (prefix.is_some() || user.is_none()) {
            return match BUILTINS.iter().find(|(n, _)| *n == local) {
                Some((n, s)) => Ok(XType::Simple(*s, n)),
                None => Err(format!(
                    "{of} has the type xs:{local}, which is not supported (supported: {}); use xs:string and convert the text in a function",
                    BUILTINS.iter().map(|(n, _)| format!("xs:{n}")).collect::<Vec<_>>().join(", ")
                )),
            };
        }
        let Some(node) = user else {
            return Err(format!("{of} has the type '{qname}', which the schema does not define"));
        };
        if node.local == "simpleType" {
            return self.simple(node, of);
        }
        if let Some(done) = self.complex.get(local) {
            return Ok(XType::Complex(Arc::clone(done)));
        }
        let key = format!("type {local}");
        if self.resolving.contains(&key) {
            return Err(format!("complex type '{local}' contains itself; recursive types are not supported"));
        }
        self.resolving.push(key);
        let c = self.complex(node, local);
        self.resolving.pop();
        let c = c?;
        self.complex.insert(local.to_string(), Arc::clone(&c));
        Ok(XType::Complex(c))
    }

    fn complex(&mut self, node: &'a Node, name: &str) -> Result<Arc<Complex>, String> {
        if node.attr("abstract").is_some_and(|v| v == "true") {
            return Err(format!("{} is abstract, which is not supported", node.named()));
        }
        let mixed = node.attr("mixed").is_some_and(|v| v == "true" || v == "1");
        let mut c = Complex { name: name.to_string(), fields: Vec::new(), attributes: Vec::new(), text: None };
        let parts = self.children(node, &["sequence", "all", "attribute", "anyAttribute", "simpleContent"])?;
        let mut has_particle = false;
        for part in parts {
            match part.local.as_str() {
                "sequence" | "all" => {
                    if std::mem::replace(&mut has_particle, true) {
                        return Err(format!("complex type '{name}' has more than one xs:sequence or xs:all"));
                    }
                    self.sequence(part, &mut c.fields, true)?;
                }
                "attribute" => {
                    if let Some(a) = self.attribute(part)? {
                        c.attributes.push(a);
                    }
                }
                "simpleContent" => {
                    let ext = self.children(part, &["extension"])?;
                    let [ext] = ext.as_slice() else {
                        return Err(format!("xs:simpleContent of '{name}' needs one xs:extension"));
                    };
                    let base = ext.attr("base").ok_or_else(|| format!("xs:extension in '{name}' has no base"))?;
                    let base = self.type_ref(base, &format!("the text of '{name}'"))?;
                    if let XType::Complex(_) = base {
                        return Err(format!("xs:simpleContent of '{name}' extends a complex type, which is not supported"));
                    }
                    c.text = Some(base);
                    for attr in self.children(ext, &["attribute", "anyAttribute"])? {
                        if attr.local == "attribute"
                            && let Some(a) = self.attribute(attr)?
                        {
                            c.attributes.push(a);
                        }
                    }
                }
                // Any attribute allowed: they read untyped, as undeclared ones do.
                _ => {}
            }
        }
        if mixed && c.text.is_none() {
            c.text = Some(XType::Simple(Simple::String, "string"));
        }
        Ok(Arc::new(c))
    }

    fn sequence(&mut self, node: &'a Node, fields: &mut Vec<Field>, required: bool) -> Result<(), String> {
        if occurs(node, "maxOccurs")? != Some(1) {
            return Err(format!("{} with maxOccurs other than 1 is not supported (a repeated group has no struct form)", node.display()));
        }
        let required = required && occurs(node, "minOccurs")?.unwrap_or(1) > 0;
        let allowed: &[&str] = if node.local == "all" { &["element"] } else { &["element", "sequence"] };
        for child in self.children(node, allowed)? {
            if child.local == "sequence" {
                self.sequence(child, fields, required)?;
                continue;
            }
            let mut field = self.element(child)?;
            field.required &= required;
            if fields.iter().any(|f| f.name == field.name) {
                return Err(format!("element '{}' is declared twice in one sequence", field.name));
            }
            fields.push(field);
        }
        Ok(())
    }

    fn attribute(&mut self, node: &'a Node) -> Result<Option<Field>, String> {
        if node.attr("ref").is_some() {
            return Err(format!("{} with ref=… is not supported", node.display()));
        }
        let name = node.attr("name").ok_or_else(|| format!("{} has no name", node.display()))?.to_string();
        let what = format!("attribute '{name}'");
        let inline = self.children(node, &["simpleType"])?;
        let ty = match (node.attr("type"), inline.as_slice()) {
            (Some(t), []) => self.type_ref(t, &what)?,
            (None, [one]) => self.simple(one, &what)?,
            (None, []) => XType::Simple(Simple::String, "string"),
            _ => return Err(format!("{what} has both a type attribute and an inline type")),
        };
        if let XType::Complex(_) = ty {
            return Err(format!("{what} has a complex type; attributes hold simple types"));
        }
        match node.attr("use") {
            Some("prohibited") => Ok(None),
            use_ => Ok(Some(Field { name, ty, required: use_ == Some("required"), repeated: false })),
        }
    }

    fn simple(&mut self, node: &'a Node, of: &str) -> Result<XType, String> {
        let parts = self.children(node, &["restriction"])?;
        let [restriction] = parts.as_slice() else {
            return Err(format!("the simple type of {of} needs one xs:restriction (xs:list and xs:union are not supported)"));
        };
        const FACETS: &[&str] = &[
            "enumeration",
            "length",
            "minLength",
            "maxLength",
            "pattern",
            "whiteSpace",
            "minInclusive",
            "maxInclusive",
            "minExclusive",
            "maxExclusive",
            "totalDigits",
            "fractionDigits",
            "simpleType",
        ];
        let facets = self.children(restriction, FACETS)?;
        let symbols: Vec<String> =
            facets.iter().filter(|f| f.local == "enumeration").filter_map(|f| f.attr("value")).map(str::to_string).collect();
        if !symbols.is_empty() {
            return Ok(XType::Enum(symbols));
        }
        // Only a named type can be reached again (inline ones cannot be referred to).
        let key = node.attr("name").map(|n| format!("simple type {n}"));
        if let Some(key) = &key {
            if self.resolving.contains(key) {
                return Err(format!("{key} restricts itself; recursive types are not supported"));
            }
            self.resolving.push(key.clone());
        }
        let base = match (restriction.attr("base"), facets.iter().find(|f| f.local == "simpleType")) {
            (Some(base), _) => self.type_ref(base, of),
            (None, Some(inline)) => self.simple(inline, of),
            (None, None) => Err(format!("the xs:restriction of {of} has no base")),
        };
        if key.is_some() {
            self.resolving.pop();
        }
        base
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_reads_what_json_writes() {
        for bytes in [&b""[..], b"f", b"fo", b"foo", b"foob", b"\xff\xfe\xfd\x00"] {
            let text = super::super::json::base64(bytes);
            assert_eq!(base64_decode(&text).as_deref(), Some(bytes), "{text}");
        }
        assert_eq!(base64_decode("Zm9v\n YmFy"), Some(b"foobar".to_vec()));
        assert_eq!(base64_decode("Zm9v!"), None);
        assert_eq!(base64_decode("Z"), None);
    }

    #[test]
    fn names_follow_xml_rules() {
        for ok in ["a", "_x", "café", "a-b.c1", "日本"] {
            assert!(check_name(ok, "$").is_ok(), "{ok}");
        }
        for bad in ["", "1a", "a b", "x:y", "-a", "a/b"] {
            assert!(check_name(bad, "$").is_err(), "{bad}");
        }
    }

    #[test]
    fn escaping_keeps_what_readers_would_change() {
        let mut out = String::new();
        escape_into(&mut out, ">a<b>&\r\n\t\u{1}\u{85}\u{2028}é]]>", false).expect("escapable");
        assert_eq!(out, "&gt;a&lt;b>&amp;&#xd;\n\t&#x1;&#x85;&#x2028;é]]&gt;");
        let mut out = String::new();
        escape_into(&mut out, "\"\t\n>", true).expect("escapable");
        assert_eq!(out, "&quot;&#x9;&#xa;&gt;");
        assert_eq!(escape_into(&mut String::new(), "a\0", false), Err('\0'));
    }
}
