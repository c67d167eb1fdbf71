//! The `protobuf` notation (alias `apicurio_protobuf`): Protocol Buffers messages behind a
//! schema registry's framing (KSML's `ProtobufNotation` with Apicurio's
//! `ProtobufKafkaSerializer`; the mapping follows KSML's `ProtobufDataObjectMapper` and
//! `ProtobufFileElementSchemaMapper`).
//!
//! A type names its message: `protobuf:sensor_data` reads `<schemaDirectory>/sensor_data.proto`
//! (with KSML's namespace stripping, see [`SchemaDirectory::load`](super::SchemaDirectory::load)) and uses the message named
//! `sensor_data` in it: a message with that full name (`io.axual.ksml.example.sensor_data`), else
//! the top-level message with that simple name (KSML's lookup), else, for a dotted name, the
//! top-level message named by its last segment. The file is compiled in-process ([`protox`]); it
//! may import Google's well-known types (`google/protobuf/timestamp.proto`, …) but no other
//! files, as KSML's parser sees one file only. A bare `protobuf` is refused: KSML cannot infer
//! a Protobuf schema from a registry (only Avro does that).
//!
//! # Wire format
//!
//! Every record is `00`, the schema id (4 bytes big-endian; Apicurio's legacy 8-byte global id
//! with `apicurio.registry.id-handler: …Legacy8ByteIdHandler`), a prefix naming the message,
//! then the message's protobuf encoding. The prefix depends on the framing:
//!
//! | framing | prefix written | example for the first top-level message `sensor_data` |
//! |---|---|---|
//! | Apicurio (default; what KSML's `apicurio_protobuf` writes) | Apicurio's `Ref` message with the message's simple name, length-delimited: varint length, `0a`, varint name length, name | `0d 0a 0b` `sensor_data` |
//! | Apicurio with `apicurio.registry.serde.send-type-ref: false`, `…send-indexes: true` | message indexes, Apicurio's encoding: zigzag varint count, then each index as a zigzag varint | `02 00` |
//! | Apicurio with both `false` | nothing | |
//! | Confluent (`weir.framing: confluent`) | message indexes, Confluent's encoding: as Apicurio's, but `[0]` (the first top-level message) is the single byte `00` | `00` |
//!
//! Message indexes are the path to the message through the file's nested message
//! declarations (`[1, 0]`: the first message nested in the second top-level one); map entry
//! types do not count, as in the `.proto` source. Setting both `send-type-ref` and
//! `send-indexes` is refused: Apicurio 3's serializer then writes the `Ref` before the indexes
//! and its deserializer reads them the other way round, so no reader could read the records.
//!
//! Reading follows Apicurio's deserializer settings (`apicurio.registry.serde.read-indexes`,
//! then `…read-type-ref`), or reads Confluent's indexes under `weir.framing: confluent`. As one
//! notation config serves both directions, each read setting defaults to its write setting
//! (`read-indexes` to `send-indexes`, `read-type-ref` to `send-type-ref`), so a codec reads what
//! it writes; with neither set these are Apicurio's defaults (false, true). The message read is the one the `Ref` names (a top-level message
//! of the writer's schema), else the one the indexes name, else the codec's own message name in
//! the writer's schema, else the writer's first message. An empty `Ref` falls through to the
//! codec's message, so Apicurio's default reader also reads Confluent records of a file's first
//! message (Confluent's `00` reads as an empty `Ref`). Bytes that do not parse as a `Ref` are
//! read as the message itself, from where the `Ref` was expected, as Apicurio's deserializer
//! does; records written without a `Ref` are then read as well (unless their first bytes happen
//! to parse as one, which is why the reader's settings should match the writer's).
//!
//! Records are decoded with the writer's schema, fetched by id from the registry and compiled
//! once per id. A registry's schema text is `.proto` source, or base64 of a serialized
//! `FileDescriptorProto` (what Confluent's Python and Go clients register). Written records
//! register the `.proto` file's text as it is (kind `PROTOBUF`) under the subject the subject
//! name strategy gives (`<topic>-value` by default; the record name strategies use the
//! message's full name).
//!
//! # Mapping
//!
//! | Protobuf | decodes to | encodes from |
//! |---|---|---|
//! | message | `Struct` of the fields that are set | `Struct`; keys that name no field are ignored, as KSML ignores them |
//! | `repeated T` | `List` | `List` or `Tuple` |
//! | `map<K, V>` | `Struct` with the keys as text, sorted | `Struct`; keys parsed back to `K` |
//! | `oneof o { … }` | one field `o` holding the set member's value (KSML's union field) | the value under `o`, written to the first member whose type it has (KSML's first assignable member; no conversion); a member's own name is accepted too, with conversion |
//! | enum | `Enum` with the symbol; a number the enum does not define (proto3 enums are open) decodes as `Int` | `Enum` or `String` naming a symbol, or an integer |
//! | `int32`, `sint32`, `sfixed32` | `Int` | any integer in range |
//! | `int64`, `sint64`, `sfixed64` | `Long` | any integer |
//! | `uint32`, `fixed32` | `Long` (KSML gives a Java `int`, negative above 2³¹−1; Weir keeps the value) | any integer in 0..=4294967295 |
//! | `uint64`, `fixed64` | `Long`, two's complement above 2⁶³−1 (as Java's `long`) | any integer; a negative `Long` is written as its two's-complement bits |
//! | `float`, `double` | `Float`, `Double` | any number in range |
//! | `bool`, `string`, `bytes` | `Bool`, `String`, `Bytes` | the same |
//!
//! Encoding converts field values with KSML's conversion rules ([`convert`]): a string
//! `"1700000000000"` for an `int64` field is parsed, a `Long` for an `int32` is range-checked,
//! anything converts to a `string` field by its text. Null, or a missing key, leaves a field
//! unset; a proto2 `required` field must be given. Errors name the field's path, its
//! protobuf type and what was found: `field 'sensor_data.type' (enum SensorType): expected one
//! of the symbols UNSPECIFIED, AREA, …, found string "WIND"`.
//!
//! A field is in the decoded struct when it is *set*, protobuf's presence rules deciding (as
//! KSML's `getAllFields`): a proto3 field without `optional` holding its default (`0`, `""`,
//! the first enum symbol) is not set, so it is absent, not a zero. Fields come in declaration
//! order, oneofs after the other fields (KSML's order). Unknown fields are dropped. Google's
//! well-known types are ordinary messages (a `Timestamp` is `{seconds, nanos}`), as in KSML.
//! Map entries are written in no particular order (protobuf defines none). A proto3 `float` or
//! `double` field without `optional` holding `-0.0` is not written (it equals the default `0`
//! here; Java and Python compare bits and write it), so it reads back absent.
//!
//! [`convert`]: crate::value::convert

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use indexmap::IndexMap;
use prost_reflect::prost::Message as _;
use prost_reflect::{
    Cardinality, DynamicMessage, EnumDescriptor, FieldDescriptor, FileDescriptor, Kind, MapKey, MessageDescriptor, ReflectMessage, Syntax,
};
use protox::file::{ChainFileResolver, File, FileResolver, GoogleFileResolver};
use weir_dsl::types::{TypeKind, UserType};

use super::framing::Framing;
use super::jsonschema::{FRAMING, Vendor, flag, framing_settings, schema_name};
use super::{Codec, CodecContext, CodecError, describe};
use crate::registry::{RegistrySchema, SchemaKind};
use crate::value::{Value, convert};

const NAME: &str = "protobuf";

/// Apicurio's serializer property: write the `Ref` naming the message (default true).
pub const SEND_TYPE_REF: &str = "apicurio.registry.serde.send-type-ref";
/// Apicurio's serializer property: write message indexes (default false).
pub const SEND_INDEXES: &str = "apicurio.registry.serde.send-indexes";
/// Apicurio's deserializer property: read a `Ref` (default true).
pub const READ_TYPE_REF: &str = "apicurio.registry.serde.read-type-ref";
/// Apicurio's deserializer property: read message indexes (default false).
pub const READ_INDEXES: &str = "apicurio.registry.serde.read-indexes";

/// How deep messages may nest in a value written: deeper than protobuf's decoders read (they
/// stop at 100), so whatever decodes can be written again, and shallow enough for the stack.
const MAX_DEPTH: usize = 128;

/// What a reader expects between the schema id and the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ReadPrefix {
    indexes: bool,
    type_ref: bool,
}

/// A writer's schema, compiled: its file and the message this codec reads by default.
#[derive(Debug)]
struct Writer {
    file: FileDescriptor,
    /// The codec's message name in this schema, or its first message.
    default: Option<MessageDescriptor>,
}

/// Reads and writes one Protobuf message type.
#[derive(Debug)]
pub struct ProtobufCodec {
    /// The type as written (`protobuf:sensor_data`), for messages.
    expected: String,
    /// The message name as written in the type.
    name: String,
    message: MessageDescriptor,
    /// The local schema as registered.
    schema: RegistrySchema,
    /// The bytes written between the schema id and the message.
    prefix: Vec<u8>,
    read: ReadPrefix,
    framing: Framing<Writer>,
}

/// The codec for `ty` (`protobuf:<Message>`): see the module doc.
pub fn codec(ty: &UserType, cx: &CodecContext) -> Result<Arc<dyn Codec>, String> {
    Ok(Arc::new(ProtobufCodec::new(ty, cx)?))
}

impl ProtobufCodec {
    /// Loads and compiles `<Name>.proto` from the schema directory, finds the message and reads
    /// the notation's serde properties.
    pub fn new(ty: &UserType, cx: &CodecContext) -> Result<ProtobufCodec, String> {
        let name = schema_name(cx.notation, ty)?;
        let (path, text) = cx.schemas.load(name, ".proto")?;
        let file_name = path.file_name().map_or_else(|| format!("{name}.proto"), |f| f.to_string_lossy().into_owned());
        let file = compile_source(&file_name, &text).map_err(|e| format!("schema file '{}': {e}", path.display()))?;
        let message = find_message(&file, name).ok_or_else(|| {
            let names: Vec<String> = file.messages().map(|m| m.name().to_string()).collect();
            format!("schema file '{}' has no message '{name}'; its messages: {}", path.display(), names.join(", "))
        })?;
        let (vendor, width) = framing_settings(cx.config)?;
        let (prefix, read) = match vendor {
            Vendor::Confluent => {
                if let Some(key) =
                    [SEND_TYPE_REF, SEND_INDEXES, READ_TYPE_REF, READ_INDEXES].into_iter().find(|k| cx.config.contains_key(*k))
                {
                    return Err(format!("'{key}' is an Apicurio setting and cannot be used with '{FRAMING}: confluent'"));
                }
                let mut prefix = Vec::new();
                write_indexes(&mut prefix, &indexes_of(&message), true);
                (prefix, ReadPrefix { indexes: true, type_ref: false })
            }
            Vendor::Apicurio => {
                let send_ref = flag(cx.config, SEND_TYPE_REF, true)?;
                let send_indexes = flag(cx.config, SEND_INDEXES, false)?;
                if send_ref && send_indexes {
                    return Err(format!(
                        "'{SEND_TYPE_REF}' and '{SEND_INDEXES}' are both true: Apicurio's serializer would write the type reference \
                         before the message indexes while its deserializer reads them the other way round; set one of them to false"
                    ));
                }
                let mut prefix = Vec::new();
                if send_ref {
                    write_ref(&mut prefix, message.name());
                } else if send_indexes {
                    write_indexes(&mut prefix, &indexes_of(&message), false);
                }
                // One config serves both directions, so the reader reads what the writer writes
                // unless told otherwise (Apicurio's own defaults are true and false).
                let read = ReadPrefix {
                    indexes: flag(cx.config, READ_INDEXES, send_indexes)?,
                    type_ref: flag(cx.config, READ_TYPE_REF, send_ref)?,
                };
                (prefix, read)
            }
        };
        let framing = Framing::new(NAME, Arc::clone(&cx.registry), cx.config, cx.target, Some(message.full_name()), width)?;
        Ok(ProtobufCodec {
            expected: ty.to_string(),
            name: name.to_string(),
            message,
            schema: RegistrySchema::new(SchemaKind::Protobuf, text),
            prefix,
            read,
            framing,
        })
    }

    /// The descriptor of the message this codec writes.
    pub fn message(&self) -> &MessageDescriptor {
        &self.message
    }

    fn decode_error(&self, found: impl Into<String>) -> CodecError {
        CodecError::decode(NAME, &self.expected, found)
    }

    /// The message a record names, in its writer's schema.
    fn message_to_read(&self, writer: &Writer, id: u64, payload: &mut &[u8]) -> Result<MessageDescriptor, CodecError> {
        let indexes = if self.read.indexes { Some(read_indexes(payload).map_err(|e| self.decode_error(e))?) } else { None };
        // A `Ref` that does not parse is no `Ref`: the record is read from where the `Ref` was
        // expected, as the codec's message (Apicurio's deserializer falls back the same way).
        let type_ref = if self.read.type_ref {
            let mut rest = *payload;
            read_ref(&mut rest).ok().inspect(|_| *payload = rest)
        } else {
            None
        };
        if let Some(name) = type_ref.filter(|n| !n.is_empty()) {
            if let Some(m) = writer.default.as_ref().filter(|m| m.name() == name) {
                return Ok(m.clone());
            }
            return writer.file.messages().find(|m| m.name() == name).ok_or_else(|| {
                self.decode_error(format!("the record names message type '{name}', which the writer's schema (id {id}) does not have"))
            });
        }
        if let Some(indexes) = indexes {
            return by_indexes(&writer.file, &indexes)
                .ok_or_else(|| self.decode_error(format!("the writer's schema (id {id}) has no message at indexes {indexes:?}")));
        }
        writer.default.clone().ok_or_else(|| self.decode_error(format!("the writer's schema (id {id}) declares no message")))
    }
}

impl Codec for ProtobufCodec {
    fn decode(&self, bytes: Option<&[u8]>) -> Result<Value, CodecError> {
        let Some(bytes) = bytes else { return Ok(Value::Null) };
        let (id, mut payload) = self.framing.read_header(bytes, &self.expected)?;
        let writer = self.framing.reader(id, &self.expected, |schema| {
            if schema.kind != SchemaKind::Protobuf {
                return Err(format!("it is a {} schema, not a Protobuf schema", schema.kind.api_name()));
            }
            let file = compile_registry_text(&schema.text)?;
            let default = find_message(&file, &self.name).or_else(|| file.messages().next());
            Ok(Writer { file, default })
        })?;
        let message = self.message_to_read(&writer, id, &mut payload)?;
        let decoded = DynamicMessage::decode(message.clone(), payload)
            .map_err(|e| self.decode_error(format!("the payload is not a valid '{}' message: {e}", message.full_name())))?;
        Ok(from_message(decoded))
    }

    fn encode(&self, value: &Value) -> Result<Option<Vec<u8>>, CodecError> {
        if *value == Value::Null {
            return Ok(None);
        }
        let message = to_message(&self.message, value, 0).map_err(|e| {
            let path = e.path.iter().rev().fold(self.message.name().to_string(), |mut p, s| {
                if !s.starts_with('[') {
                    p.push('.');
                }
                p.push_str(s);
                p
            });
            let found = match &e.field {
                Some(ty) => format!("field '{path}' ({ty}): {}", e.message),
                None if e.path.is_empty() => e.message,
                None => format!("at '{path}': {}", e.message),
            };
            CodecError::encode(NAME, &self.expected, found)
        })?;
        let id = self.framing.writer_id(&self.schema, &self.expected)?;
        let mut out = Vec::with_capacity(9 + self.prefix.len() + message.encoded_len());
        self.framing.write_header(&mut out, id);
        out.extend_from_slice(&self.prefix);
        message.encode_raw(&mut out);
        Ok(Some(out))
    }
}

// ---------------------------------------------------------------------------------------------
// Schemas

/// Resolves one in-memory file by name.
struct Memory(File);

impl FileResolver for Memory {
    fn open_file(&self, name: &str) -> Result<File, protox::Error> {
        if name == self.0.name() { Ok(self.0.clone()) } else { Err(protox::Error::file_not_found(name)) }
    }
}

fn compile(file: File) -> Result<FileDescriptor, String> {
    let name = file.name().to_string();
    let imports: Vec<String> =
        file.file_descriptor_proto().dependency.iter().filter(|d| !d.starts_with("google/protobuf/")).cloned().collect();
    if let Some(import) = imports.first() {
        return Err(format!("it imports '{import}'; only Google's well-known types (google/protobuf/…) can be imported"));
    }
    let mut resolver = ChainFileResolver::new();
    resolver.add(Memory(file));
    resolver.add(GoogleFileResolver::new());
    let mut compiler = protox::Compiler::with_file_resolver(resolver);
    compiler.open_file(&name).map_err(|e| format!("{e:?}"))?;
    compiler.descriptor_pool().get_file_by_name(&name).ok_or_else(|| format!("'{name}' did not compile"))
}

/// Compiles `.proto` source text.
fn compile_source(name: &str, text: &str) -> Result<FileDescriptor, String> {
    let file = File::from_source(name, text).map_err(|e| format!("{e:?}"))?;
    compile(file)
}

/// Compiles a registry's schema text: `.proto` source, or base64 of a `FileDescriptorProto`.
fn compile_registry_text(text: &str) -> Result<FileDescriptor, String> {
    match compile_source("schema.proto", text) {
        Ok(file) => Ok(file),
        Err(source_error) => {
            let Some(bytes) = base64_decode(text.trim()) else { return Err(source_error) };
            let file = File::decode_file_descriptor_proto(bytes.as_slice())
                .map_err(|e| format!("{source_error} (nor is it a base64 FileDescriptorProto: {e})"))?;
            compile(file)
        }
    }
}

/// The message a type names (see the module doc).
fn find_message(file: &FileDescriptor, name: &str) -> Option<MessageDescriptor> {
    let top = |n: &str| file.messages().find(|m| m.name() == n);
    file.parent_pool()
        .get_message_by_name(name)
        .filter(|m| m.parent_file() == *file)
        .or_else(|| top(name))
        .or_else(|| name.rsplit_once('.').and_then(|(_, last)| top(last)))
}

/// Standard base64 with optional padding; `None` when `text` is empty or not base64.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    if text.trim_end_matches('=').is_empty() {
        return None;
    }
    super::base64::decode(text)
}

// ---------------------------------------------------------------------------------------------
// Prefixes: Apicurio's `Ref`, message indexes

fn write_varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn read_varint(bytes: &mut &[u8]) -> Option<u64> {
    let mut n = 0u64;
    for shift in (0..64).step_by(7) {
        let (&b, rest) = bytes.split_first()?;
        *bytes = rest;
        n |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(n);
        }
    }
    None
}

/// Apicurio's `Ref { string name = 1; }`, length-delimited.
fn write_ref(out: &mut Vec<u8>, name: &str) {
    let mut message = vec![0x0a];
    write_varint(&mut message, name.len() as u64);
    message.extend_from_slice(name.as_bytes());
    write_varint(out, message.len() as u64);
    out.extend_from_slice(&message);
}

/// Reads a length-delimited `Ref`: the name it holds, `""` when it names nothing.
fn read_ref(bytes: &mut &[u8]) -> Result<String, String> {
    let bad = |what: &str| format!("the type reference in front of the message is damaged: {what}");
    let len = read_varint(bytes).ok_or_else(|| bad("its length is cut off"))?;
    let len = usize::try_from(len).ok().filter(|l| *l <= bytes.len()).ok_or_else(|| bad(&format!("its length {len} is past the end")))?;
    let (mut message, rest) = bytes.split_at(len);
    *bytes = rest;
    let mut name = String::new();
    while !message.is_empty() {
        let tag = read_varint(&mut message).ok_or_else(|| bad("a field tag is cut off"))?;
        let skip = match tag & 7 {
            0 => {
                read_varint(&mut message).ok_or_else(|| bad("a varint is cut off"))?;
                0
            }
            1 => 8,
            2 => {
                let n = read_varint(&mut message).ok_or_else(|| bad("a length is cut off"))?;
                let n = usize::try_from(n).ok().filter(|n| *n <= message.len()).ok_or_else(|| bad("a field's length is past the end"))?;
                if tag >> 3 == 1 {
                    name = std::str::from_utf8(&message[..n]).map_err(|_| bad("the message name is not UTF-8"))?.to_string();
                }
                n
            }
            5 => 4,
            w => return Err(bad(&format!("unknown wire type {w}"))),
        };
        if skip > message.len() {
            return Err(bad("a field is cut off"));
        }
        message = &message[skip..];
    }
    Ok(name)
}

fn zigzag(n: i64) -> u64 {
    ((n << 1) ^ (n >> 63)) as u64
}

fn unzigzag(n: u64) -> i64 {
    ((n >> 1) as i64) ^ -((n & 1) as i64)
}

/// Confluent's and Apicurio's message indexes; `shortcut` writes `[0]` as the single byte `00`
/// (Confluent).
fn write_indexes(out: &mut Vec<u8>, indexes: &[usize], shortcut: bool) {
    if shortcut && indexes == [0] {
        out.push(0);
        return;
    }
    write_varint(out, zigzag(indexes.len() as i64));
    for i in indexes {
        write_varint(out, zigzag(*i as i64));
    }
}

fn read_indexes(bytes: &mut &[u8]) -> Result<Vec<usize>, String> {
    let bad = |what: &str| format!("the message indexes in front of the message are damaged: {what}");
    let count = unzigzag(read_varint(bytes).ok_or_else(|| bad("the count is cut off"))?);
    if count == 0 {
        return Ok(vec![0]);
    }
    // Each index takes at least a byte: a count beyond what is left is damage, not a reason
    // to allocate.
    let count = usize::try_from(count).ok().filter(|c| *c <= bytes.len()).ok_or_else(|| bad(&format!("a count of {count}")))?;
    (0..count)
        .map(|_| {
            let i = unzigzag(read_varint(bytes).ok_or_else(|| bad("an index is cut off"))?);
            usize::try_from(i).map_err(|_| bad(&format!("a negative index {i}")))
        })
        .collect()
}

/// Nested message declarations, without map entries (which the `.proto` source does not
/// declare).
fn declared(messages: impl Iterator<Item = MessageDescriptor>) -> impl Iterator<Item = MessageDescriptor> {
    messages.filter(|m| !m.is_map_entry())
}

/// The message indexes of `message` in its file.
fn indexes_of(message: &MessageDescriptor) -> Vec<usize> {
    let mut path = Vec::new();
    let mut current = message.clone();
    loop {
        let parent = current.parent_message();
        let position = match &parent {
            Some(p) => declared(p.child_messages()).position(|m| m == current),
            None => declared(current.parent_file().messages()).position(|m| m == current),
        };
        path.push(position.unwrap_or(0));
        match parent {
            Some(p) => current = p,
            None => break,
        }
    }
    path.reverse();
    path
}

fn by_indexes(file: &FileDescriptor, indexes: &[usize]) -> Option<MessageDescriptor> {
    let (first, rest) = indexes.split_first()?;
    let mut message = declared(file.messages()).nth(*first)?;
    for i in rest {
        let next = declared(message.child_messages()).nth(*i)?;
        message = next;
    }
    Some(message)
}

// ---------------------------------------------------------------------------------------------
// Decoding: DynamicMessage → Value

/// The decoded message as a struct; its values are moved out, not copied.
fn from_message(mut message: DynamicMessage) -> Value {
    let desc = message.descriptor();
    let mut out = IndexMap::with_capacity(desc.fields().len());
    for field in desc.fields() {
        if field.containing_oneof().is_some_and(|o| !o.is_synthetic()) {
            continue;
        }
        if let Some(value) = message.take_field(&field) {
            out.insert(field.name().to_string(), from_field(&field, value));
        }
    }
    for oneof in desc.oneofs().filter(|o| !o.is_synthetic()) {
        if let Some((field, value)) = oneof.fields().find_map(|f| message.take_field(&f).map(|v| (f, v))) {
            out.insert(oneof.name().to_string(), from_field(&field, value));
        }
    }
    Value::Struct(out)
}

fn from_field(field: &FieldDescriptor, value: prost_reflect::Value) -> Value {
    let kind = field.kind();
    match (value, &kind) {
        (prost_reflect::Value::Map(entries), Kind::Message(entry)) => from_map(entries, &entry.map_entry_value_field().kind()),
        (value, kind) => from_value(kind, value),
    }
}

/// A map as a struct, its keys as text in key order.
fn from_map(entries: HashMap<MapKey, prost_reflect::Value>, kind: &Kind) -> Value {
    let mut sorted: Vec<(MapKey, prost_reflect::Value)> = entries.into_iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    Value::Struct(sorted.into_iter().map(|(k, v)| (map_key_text(k), from_value(kind, v))).collect())
}

fn map_key_text(key: MapKey) -> String {
    match key {
        MapKey::Bool(b) => b.to_string(),
        MapKey::I32(n) => n.to_string(),
        MapKey::I64(n) => n.to_string(),
        MapKey::U32(n) => n.to_string(),
        MapKey::U64(n) => n.to_string(),
        MapKey::String(s) => s,
    }
}

fn from_value(kind: &Kind, value: prost_reflect::Value) -> Value {
    use prost_reflect::Value as P;
    match value {
        P::Bool(b) => Value::Bool(b),
        P::I32(n) => Value::Int(n),
        P::I64(n) => Value::Long(n),
        P::U32(n) => Value::Long(i64::from(n)),
        P::U64(n) => Value::Long(n as i64),
        P::F32(x) => Value::Float(x),
        P::F64(x) => Value::Double(x),
        P::String(s) => Value::String(s),
        P::Bytes(b) => Value::Bytes(Vec::from(b)),
        P::EnumNumber(n) => match kind {
            Kind::Enum(e) => e.get_value(n).map_or(Value::Int(n), |v| Value::Enum(v.name().to_string())),
            _ => Value::Int(n),
        },
        P::Message(m) => from_message(m),
        P::List(items) => Value::List(items.into_iter().map(|v| from_value(kind, v)).collect()),
        P::Map(entries) => from_map(entries, kind),
    }
}

// ---------------------------------------------------------------------------------------------
// Encoding: Value → DynamicMessage

/// Why a value cannot be written: where (path segments, innermost first), the protobuf type
/// of the field there, and what is wrong.
#[derive(Debug)]
struct EncodeError {
    path: Vec<String>,
    field: Option<String>,
    message: String,
}

impl EncodeError {
    fn new(message: impl Into<String>) -> Self {
        EncodeError { path: Vec::new(), field: None, message: message.into() }
    }

    /// Adds the segment of an enclosing field (`name` or `[i]`) and, the first time, its type.
    fn at(mut self, segment: String, field: &FieldDescriptor) -> Self {
        self.path.push(segment);
        if self.field.is_none() {
            self.field = Some(type_name(field));
        }
        self
    }
}

/// A field's protobuf type for messages: `int64`, `repeated string`, `enum SensorType`,
/// `map<string, int32>`, `message Location`.
fn type_name(field: &FieldDescriptor) -> String {
    if field.is_map()
        && let Kind::Message(entry) = field.kind()
    {
        return format!("map<{}, {}>", kind_name(&entry.map_entry_key_field().kind()), kind_name(&entry.map_entry_value_field().kind()));
    }
    let base = kind_name(&field.kind());
    if field.is_list() { format!("repeated {base}") } else { base.into_owned() }
}

fn kind_name(kind: &Kind) -> Cow<'static, str> {
    Cow::Borrowed(match kind {
        Kind::Double => "double",
        Kind::Float => "float",
        Kind::Int32 => "int32",
        Kind::Int64 => "int64",
        Kind::Uint32 => "uint32",
        Kind::Uint64 => "uint64",
        Kind::Sint32 => "sint32",
        Kind::Sint64 => "sint64",
        Kind::Fixed32 => "fixed32",
        Kind::Fixed64 => "fixed64",
        Kind::Sfixed32 => "sfixed32",
        Kind::Sfixed64 => "sfixed64",
        Kind::Bool => "bool",
        Kind::String => "string",
        Kind::Bytes => "bytes",
        Kind::Message(m) => return Cow::Owned(format!("message {}", m.name())),
        Kind::Enum(e) => return Cow::Owned(format!("enum {}", e.name())),
    })
}

fn to_message(desc: &MessageDescriptor, value: &Value, depth: usize) -> Result<DynamicMessage, EncodeError> {
    let Value::Struct(fields) = value else {
        return Err(EncodeError::new(format!("expected a struct for message '{}', found {}", desc.name(), describe(value))));
    };
    if depth >= MAX_DEPTH {
        return Err(EncodeError::new(format!("messages nest deeper than {MAX_DEPTH} levels")));
    }
    let mut message = DynamicMessage::new(desc.clone());
    for field in desc.fields() {
        if field.containing_oneof().is_some_and(|o| !o.is_synthetic()) {
            continue;
        }
        match fields.get(field.name()) {
            None | Some(Value::Null) => {
                if field.cardinality() == Cardinality::Required {
                    return Err(EncodeError::new("the field is required but missing").at(field.name().to_string(), &field));
                }
            }
            Some(v) => {
                let converted = field_value(&field, v, depth).map_err(|e| e.at(field.name().to_string(), &field))?;
                set(&mut message, &field, converted)?;
            }
        }
    }
    for oneof in desc.oneofs().filter(|o| !o.is_synthetic()) {
        let by_oneof = fields.get(oneof.name()).filter(|v| **v != Value::Null);
        let by_member: Vec<FieldDescriptor> = oneof.fields().filter(|f| fields.get(f.name()).is_some_and(|v| *v != Value::Null)).collect();
        let given = usize::from(by_oneof.is_some()) + by_member.len();
        if given > 1 {
            let mut names: Vec<String> = by_member.iter().map(|f| format!("'{}'", f.name())).collect();
            if by_oneof.is_some() {
                names.insert(0, format!("'{}'", oneof.name()));
            }
            return Err(EncodeError::new(format!("oneof '{}' is given several values: {}", oneof.name(), names.join(", "))));
        }
        if let Some(v) = by_oneof {
            let (field, converted) = oneof_member(&oneof, v, depth)?;
            set(&mut message, &field, converted)?;
        } else if let Some(field) = by_member.first() {
            let v = &fields[field.name()];
            let converted = field_value(field, v, depth).map_err(|e| e.at(field.name().to_string(), field))?;
            set(&mut message, field, converted)?;
        }
    }
    Ok(message)
}

fn set(message: &mut DynamicMessage, field: &FieldDescriptor, value: prost_reflect::Value) -> Result<(), EncodeError> {
    message
        .try_set_field(field, value)
        .map_err(|e| EncodeError::new(format!("the value does not fit the field: {e}")).at(field.name().to_string(), field))
}

/// The member of `oneof` a value is written to: the first whose type the value has (a number
/// for a number member in range, a struct for a message member it fits), as KSML assigns a
/// union field to the first member the value is assignable to. No conversion is tried: a
/// string is not parsed to fit a number member.
fn oneof_member(
    oneof: &prost_reflect::OneofDescriptor,
    value: &Value,
    depth: usize,
) -> Result<(FieldDescriptor, prost_reflect::Value), EncodeError> {
    let members: Vec<FieldDescriptor> = oneof.fields().collect();
    for field in members.iter().filter(|f| same_family(&f.kind(), value)) {
        if let Ok(v) = field_value(field, value, depth) {
            return Ok((field.clone(), v));
        }
    }
    let listed: Vec<String> = members.iter().map(|f| format!("{} {}", type_name(f), f.name())).collect();
    Err(EncodeError::new(format!("{} fits no member of oneof '{}' ({})", describe(value), oneof.name(), listed.join(", "))))
}

fn same_family(kind: &Kind, value: &Value) -> bool {
    match value {
        Value::Bool(_) => matches!(kind, Kind::Bool),
        Value::Byte(_) | Value::Short(_) | Value::Int(_) | Value::Long(_) => matches!(
            kind,
            Kind::Int32
                | Kind::Int64
                | Kind::Uint32
                | Kind::Uint64
                | Kind::Sint32
                | Kind::Sint64
                | Kind::Fixed32
                | Kind::Fixed64
                | Kind::Sfixed32
                | Kind::Sfixed64
        ),
        Value::Float(_) | Value::Double(_) => matches!(kind, Kind::Float | Kind::Double),
        Value::String(_) => matches!(kind, Kind::String | Kind::Enum(_)),
        Value::Enum(_) => matches!(kind, Kind::Enum(_)),
        Value::Bytes(_) => matches!(kind, Kind::Bytes),
        Value::Struct(_) => matches!(kind, Kind::Message(_)),
        _ => false,
    }
}

fn field_value(field: &FieldDescriptor, value: &Value, depth: usize) -> Result<prost_reflect::Value, EncodeError> {
    let kind = field.kind();
    if field.is_map() {
        let Kind::Message(entry) = &kind else { return Err(EncodeError::new("a map field without an entry type")) };
        let Value::Struct(entries) = value else {
            return Err(EncodeError::new(format!("expected a struct (a map), found {}", describe(value))));
        };
        let (key_kind, value_kind) = (entry.map_entry_key_field().kind(), entry.map_entry_value_field().kind());
        let mut map = HashMap::with_capacity(entries.len());
        for (k, v) in entries {
            let key = map_key(&key_kind, k).map_err(|m| EncodeError { path: vec![format!("[{k:?}]")], field: None, message: m })?;
            if *v == Value::Null {
                return Err(EncodeError { path: vec![format!("[{k:?}]")], field: None, message: "a map value cannot be null".into() });
            }
            let v = single(&value_kind, v, depth).map_err(|mut e| {
                e.path.push(format!("[{k:?}]"));
                e
            })?;
            map.insert(key, v);
        }
        return Ok(prost_reflect::Value::Map(map));
    }
    if field.is_list() {
        let (Value::List(items) | Value::Tuple(items)) = value else {
            return Err(EncodeError::new(format!("expected a list, found {}", describe(value))));
        };
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            if *item == Value::Null {
                return Err(EncodeError { path: vec![format!("[{i}]")], field: None, message: "a repeated field cannot hold null".into() });
            }
            out.push(single(&kind, item, depth).map_err(|mut e| {
                e.path.push(format!("[{i}]"));
                e
            })?);
        }
        return Ok(prost_reflect::Value::List(out));
    }
    single(&kind, value, depth)
}

fn map_key(kind: &Kind, key: &str) -> Result<MapKey, String> {
    let bad = || format!("the map key {key:?} is not a {}", kind_name(kind));
    Ok(match kind {
        Kind::String => MapKey::String(key.to_string()),
        Kind::Bool => match key {
            "true" => MapKey::Bool(true),
            "false" => MapKey::Bool(false),
            _ => return Err(bad()),
        },
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => MapKey::I32(key.trim().parse().map_err(|_| bad())?),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => MapKey::I64(key.trim().parse().map_err(|_| bad())?),
        Kind::Uint32 | Kind::Fixed32 => MapKey::U32(key.trim().parse().map_err(|_| bad())?),
        Kind::Uint64 | Kind::Fixed64 => MapKey::U64(key.trim().parse().map_err(|_| bad())?),
        _ => return Err(format!("{} cannot be a map key", kind_name(kind))),
    })
}

fn expected(kind: &Kind, value: &Value) -> EncodeError {
    EncodeError::new(format!("expected {}, found {}", kind_name(kind), describe(value)))
}

/// `value` converted to `to` with KSML's conversion rules, for a field of `kind`.
fn converted(value: &Value, to: TypeKind, kind: &Kind) -> Result<Value, EncodeError> {
    convert(value.clone(), &UserType { notation: None, kind: to }).map_err(|_| expected(kind, value))
}

/// An integer for a field of `kind`, in `min..=max`.
fn integer(value: &Value, min: i64, max: i64, kind: &Kind) -> Result<i64, EncodeError> {
    let n = match *value {
        Value::Byte(n) => i64::from(n),
        Value::Short(n) => i64::from(n),
        Value::Int(n) => i64::from(n),
        Value::Long(n) => n,
        _ => match converted(value, TypeKind::Long, kind)? {
            Value::Long(n) => n,
            _ => return Err(expected(kind, value)),
        },
    };
    if n < min || n > max {
        return Err(EncodeError::new(format!("{n} is out of range for {}", kind_name(kind))));
    }
    Ok(n)
}

/// One value (not a list or map) for a field of `kind`.
fn single(kind: &Kind, value: &Value, depth: usize) -> Result<prost_reflect::Value, EncodeError> {
    use prost_reflect::Value as P;
    Ok(match (kind, value) {
        (Kind::Message(m), _) => P::Message(to_message(m, value, depth + 1)?),
        (Kind::Enum(e), _) => P::EnumNumber(enum_number(e, value)?),
        (Kind::Int32 | Kind::Sint32 | Kind::Sfixed32, _) => P::I32(integer(value, i32::MIN.into(), i32::MAX.into(), kind)? as i32),
        (Kind::Int64 | Kind::Sint64 | Kind::Sfixed64, _) => P::I64(integer(value, i64::MIN, i64::MAX, kind)?),
        (Kind::Uint32 | Kind::Fixed32, _) => P::U32(integer(value, 0, u32::MAX.into(), kind)? as u32),
        (Kind::Uint64 | Kind::Fixed64, _) => P::U64(integer(value, i64::MIN, i64::MAX, kind)? as u64),
        (Kind::Float, Value::Float(x)) => P::F32(*x),
        (Kind::Float, _) => match converted(value, TypeKind::Float, kind)? {
            Value::Float(x) => P::F32(x),
            _ => return Err(expected(kind, value)),
        },
        (Kind::Double, Value::Double(x)) => P::F64(*x),
        (Kind::Double, Value::Float(x)) => P::F64(f64::from(*x)),
        (Kind::Double, _) => match converted(value, TypeKind::Double, kind)? {
            Value::Double(x) => P::F64(x),
            _ => return Err(expected(kind, value)),
        },
        (Kind::Bool, Value::Bool(b)) => P::Bool(*b),
        (Kind::Bool, _) => match converted(value, TypeKind::Boolean, kind)? {
            Value::Bool(b) => P::Bool(b),
            _ => return Err(expected(kind, value)),
        },
        (Kind::String, Value::String(s) | Value::Enum(s)) => P::String(s.clone()),
        (Kind::String, _) => match converted(value, TypeKind::String, kind)? {
            Value::String(s) => P::String(s),
            _ => return Err(expected(kind, value)),
        },
        (Kind::Bytes, Value::Bytes(b)) => P::Bytes(b.clone().into()),
        (Kind::Bytes, _) => match converted(value, TypeKind::Bytes, kind)? {
            Value::Bytes(b) => P::Bytes(b.into()),
            _ => return Err(expected(kind, value)),
        },
    })
}

fn enum_number(e: &EnumDescriptor, value: &Value) -> Result<i32, EncodeError> {
    let symbols = || {
        let all: Vec<String> = e.values().map(|v| v.name().to_string()).collect();
        if all.len() > 8 { format!("{}, …", all[..8].join(", ")) } else { all.join(", ") }
    };
    match value {
        Value::Enum(s) | Value::String(s) => e
            .get_value_by_name(s)
            .map(|v| v.number())
            .ok_or_else(|| EncodeError::new(format!("expected one of the symbols {}, found {}", symbols(), describe(value)))),
        Value::Byte(_) | Value::Short(_) | Value::Int(_) | Value::Long(_) => {
            let n = integer(value, i32::MIN.into(), i32::MAX.into(), &Kind::Enum(e.clone()))? as i32;
            let closed = e.parent_file().syntax() == Syntax::Proto2;
            if closed && e.get_value(n).is_none() {
                return Err(EncodeError::new(format!("{n} is not a number of the closed enum {} ({})", e.name(), symbols())));
            }
            Ok(n)
        }
        _ => Err(EncodeError::new(format!("expected one of the symbols {}, found {}", symbols(), describe(value)))),
    }
}
