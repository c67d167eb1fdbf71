//! A record's key and value between bytes and [`Datum`]s, and between types: decoding at a
//! source (straight into a function runtime's objects when the first operation is one of
//! its functions, [`SourceDecoding`]), encoding at a sink (a foreign value straight to JSON
//! when the type would not change it), `convertKey`/`convertValue`, and headers as KSML
//! shows them to functions.

use std::sync::Arc;

use indexmap::IndexMap;
use weir_dsl::types::{TypeKind, UserType};

use super::process::NodeError;
use crate::notation::json::{self, JsonKind, JsonWriter};
use crate::notation::{Codec, CodecError, TextConversion};
use crate::plan::{FnHandle, NodeKind, Topology};
use crate::ports::Functions;
use crate::value::{Datum, ForeignKind, Value, convert, converts_unchanged};

/// How one source decodes its records' keys and values: straight into a function runtime's
/// objects (JSON only) when the source's first operation hands the record to a function of
/// that runtime, else into [`Value`]s. Only a matter of speed: either form gives the same
/// results.
#[derive(Default, Clone)]
pub struct SourceDecoding {
    pub(super) into: Option<Arc<dyn Functions>>,
}

impl SourceDecoding {
    /// The decoding of every source of `topology`, by source index.
    pub fn plan(topology: &Topology) -> Vec<SourceDecoding> {
        topology
            .sources
            .iter()
            .map(|source| {
                // A timestamp extractor gets the record as a struct of Values.
                let into = match source.timestamp_extractor {
                    Some(_) => None,
                    None => source.children.iter().find_map(|&child| first_function(&topology.nodes[child].kind)),
                };
                SourceDecoding { into: into.map(|f| Arc::clone(&f.functions)) }
            })
            .collect()
    }
}

/// The function a node first hands its record to, if it starts with one.
fn first_function(kind: &NodeKind) -> Option<&FnHandle> {
    match kind {
        NodeKind::Filter { predicate: f, .. }
        | NodeKind::MapValues { mapper: f }
        | NodeKind::MapKey { mapper: f }
        | NodeKind::Map { mapper: f }
        | NodeKind::FlatMap { mapper: f }
        | NodeKind::FlatMapValues { mapper: f }
        | NodeKind::TransformMetadata { mapper: f }
        | NodeKind::Peek { action: f }
        | NodeKind::ForEach { action: f }
        | NodeKind::ToTopicNameExtractor { extractor: f, .. } => Some(f),
        NodeKind::Print { mapper, .. } => mapper.as_ref(),
        NodeKind::Branch { branches } => branches.first().and_then(|(p, _)| p.as_ref()),
        _ => None,
    }
}

/// Decodes a key or value: through `into`'s runtime when it can take JSON, else (and for
/// anything that runtime declines, errors included) with the codec.
pub(super) fn decode(codec: &dyn Codec, bytes: Option<&[u8]>, into: Option<&Arc<dyn Functions>>) -> Result<Datum, CodecError> {
    if let (Some(bytes), Some(functions), Some(json)) = (bytes, into, codec.as_json())
        && let Some(foreign) = functions.decode_json(bytes)
        && json.accepts_decoded(match foreign.kind() {
            ForeignKind::Struct => JsonKind::Object,
            ForeignKind::List | ForeignKind::Tuple => JsonKind::Array,
        })
    {
        return Ok(Datum::Foreign(foreign));
    }
    codec.decode(bytes).map(Datum::Value)
}

/// Encodes a key or value for a sink of type `ty`: a foreign value straight to JSON when
/// the type would not change it; otherwise materialized, converted to `ty`, and encoded.
pub(super) fn encode(codec: &dyn Codec, ty: &UserType, datum: Datum, what: &str) -> Result<Option<Vec<u8>>, String> {
    if let Datum::Foreign(foreign) = &datum
        && let Some(json) = codec.as_json()
        && converts_unchanged(&ty.kind, foreign.kind())
        && json.accepts_written(foreign.kind())
    {
        let mut writer = JsonWriter::new();
        if foreign.write_json(&mut writer).is_ok() {
            return Ok(Some(writer.into_bytes()));
        }
    }
    let value = datum.into_value().map_err(|e| format!("the {what} cannot be converted: {e}"))?;
    let value = convert(value, ty).map_err(|e| format!("the {what} does not fit '{ty}': {e}"))?;
    codec.encode(&value).map_err(|e| e.to_string())
}

/// `convertKey`/`convertValue`: KSML's conversion rules, with the notations' converters
/// (rule 4) before the generic ones. `text` is the `csv`/`xml` one (text ⇄ structures, built
/// when planned); for `json`: when the target or the source type is `json`, a struct or list
/// converts to `string` as its JSON text (not the `{a: 1}` print form), and a string converts
/// to a structured type by parsing it as JSON.
pub(super) fn convert_value(v: Value, from: &UserType, into: &UserType, text: &TextConversion) -> Result<Value, NodeError> {
    let v = text.apply(v).map_err(|e| NodeError::Other(format!("cannot convert to '{into}': {e}")))?;
    let v = json_text(v, from, into).map_err(|e| NodeError::Other(format!("cannot convert to '{into}': {e}")))?;
    convert(v, into).map_err(|e| NodeError::Other(format!("cannot convert to '{into}': {e}")))
}

/// The `json` notation's converter: JSON text ⇄ structures (KSML's `JsonDataObjectConverter`).
pub(crate) fn json_text(v: Value, from: &UserType, into: &UserType) -> Result<Value, String> {
    let is_json = |t: &UserType| t.notation.as_deref() == Some("json");
    if !is_json(from) && !is_json(into) {
        return Ok(v);
    }
    match (&v, &into.kind) {
        (Value::Struct(_) | Value::List(_), TypeKind::String) => {
            let text = json::to_vec(&v).map_err(|e| e.to_string())?;
            Ok(Value::String(String::from_utf8_lossy(&text).into_owned()))
        }
        (Value::String(text), kind) => {
            let structured = match kind {
                TypeKind::List(_) | TypeKind::Map(_) | TypeKind::Struct => true,
                TypeKind::NotationDefault => is_json(into),
                // A union that takes a string as it is does not parse it.
                TypeKind::Union(members) => !members.iter().any(|m| matches!(m.kind, TypeKind::String | TypeKind::Any)),
                _ => false,
            };
            if structured { json::from_slice(text.as_bytes()).map_err(|e| e.to_string()) } else { Ok(v) }
        }
        _ => Ok(v),
    }
}

/// Headers as KSML shows them to functions: a list of `{key, value}`, the value a string when
/// the bytes are UTF-8 text, else bytes.
pub(super) fn headers_value(headers: &[(String, Vec<u8>)]) -> Value {
    Value::List(
        headers
            .iter()
            .map(|(k, v)| {
                let value = match std::str::from_utf8(v) {
                    Ok(s) => Value::String(s.to_string()),
                    Err(_) => Value::Bytes(v.clone()),
                };
                Value::Struct(IndexMap::from([("key".to_string(), Value::String(k.clone())), ("value".to_string(), value)]))
            })
            .collect(),
    )
}

pub(super) fn headers_from_value(v: &Value) -> Result<Vec<(String, Vec<u8>)>, String> {
    let Value::List(items) = v else { return Err(format!("metadata 'headers' must be a list of {{key, value}}, got '{v}'")) };
    items
        .iter()
        .map(|item| match item {
            Value::Struct(f) => {
                let key = match f.get("key") {
                    Some(Value::String(k)) => k.clone(),
                    _ => return Err(format!("a header needs a string 'key', got '{item}'")),
                };
                let value = match f.get("value") {
                    Some(Value::Bytes(b)) => b.clone(),
                    Some(Value::String(s)) => s.clone().into_bytes(),
                    Some(Value::Null) | None => Vec::new(),
                    Some(other) => other.to_string().into_bytes(),
                };
                Ok((key, value))
            }
            other => Err(format!("a header must be a dict with 'key' and 'value', got '{other}'")),
        })
        .collect()
}
