//! The table–table foreign-key join: Kafka Streams' subscription/response algorithm.
//!
//! - **Subscribe** (left task, on each left update of key `k`): the new foreign key is
//!   `foreignKeyExtractor(value)`, the old one is the one kept for `k`. A subscription record
//!   `{instruction, hash, key: k}` goes to the subscription topic keyed by the foreign key:
//!   when the foreign key changed, the old one gets `delete` (no answer); the new one gets
//!   `propagate` (answer even without a right value, so an earlier result is replaced) when
//!   `k` had a value before or in a left join, else `propagateIfFound`; a delete of `k` sends
//!   `deleteAndPropagate` to its old foreign key (a left join sends `propagate` with a null
//!   foreign key). `hash` is a hash of `k`'s current value.
//! - **Receive** (right task, which holds the foreign key): keeps `(foreign key, k) → hash`
//!   and answers `{hash, value}` with the right value to the response topic, keyed by `k`.
//! - **Foreign** (right task, on a right update): answers every subscription to that key
//!   with the new right value (null for a delete).
//! - **Resolve** (left task): an answer whose hash differs from the hash of `k`'s current
//!   value is stale (the value changed since) and is dropped. Otherwise the result is
//!   `valueJoiner(None, value, rightValue)`, or a delete when the right value is null in an
//!   inner join (or the left value is gone).

use indexmap::IndexMap;

use super::{failed, get, instance, view};
use crate::notation::json;
use crate::plan::{FkSubscribe, TableGetter};
use crate::runtime::process::{Effect, NodeError, Record, call, call_value};
use crate::store::{EntryKey, StoreSpec};
use crate::value::{Datum, Value, convert};

const DELETE: &str = "delete";
const DELETE_AND_PROPAGATE: &str = "deleteAndPropagate";
const PROPAGATE: &str = "propagate";
const PROPAGATE_IF_FOUND: &str = "propagateIfFound";

/// A hash of a left value (hex FNV-1a over its JSON text); `Null` for no value.
fn hash(value: Option<&Value>) -> Result<Value, NodeError> {
    let Some(value) = value else { return Ok(Value::Null) };
    let bytes = json::to_vec(value).map_err(|e| NodeError::Other(format!("a foreign-key join cannot hash a value: {e}")))?;
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    Ok(Value::String(format!("{h:016x}")))
}

fn field(value: &Value, name: &str) -> Value {
    match value {
        Value::Struct(fields) => fields.get(name).cloned().unwrap_or(Value::Null),
        _ => Value::Null,
    }
}

fn object(fields: &[(&str, Value)]) -> Value {
    Value::Struct(fields.iter().map(|(k, v)| (k.to_string(), v.clone())).collect::<IndexMap<_, _>>())
}

/// The subscription store's key: the foreign key's and the left key's JSON text, so all
/// subscriptions to one foreign key sit together (JSON text never holds a NUL).
fn subscription_key(foreign: &Value, key: &Value) -> Result<(String, String), NodeError> {
    let text = |v: &Value| {
        json::to_vec(v)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .map_err(|e| NodeError::Other(format!("a foreign-key join key: {e}")))
    };
    let prefix = format!("{}\u{0}", text(foreign)?);
    Ok((prefix.clone(), format!("{prefix}{}", text(key)?)))
}

pub(super) fn subscribe(s: &FkSubscribe, r: &Record) -> Result<Effect<'static>, NodeError> {
    let key = r.key.to_value().map_err(NodeError::Other)?;
    let instances = [instance(&s.state)?];
    let state = view(&instances, &s.state)?;
    let old = state.get(&key).map_err(failed)?.map(|stamped| field(&stamped.value, "fk"));
    let new = match r.value.is_null() {
        true => None,
        false => {
            let fk = call_value(&s.extractor, &[&r.value])?;
            let fk = if fk == Value::Null {
                fk
            } else {
                convert(fk, &s.foreign_key_type).map_err(|e| {
                    NodeError::Other(format!("the foreign key from {} does not fit '{}': {e}", s.extractor.qualified, s.foreign_key_type))
                })?
            };
            Some(fk)
        }
    };
    let current = get(&s.this, &key, None)?.map(|(v, _)| v);
    let hash = hash(current.as_ref())?;
    let mut out = Vec::new();
    let mut send = |foreign: &Value, instruction: &str| {
        let value = object(&[("instruction", Value::String(instruction.to_string())), ("hash", hash.clone()), ("key", key.clone())]);
        out.push(Record {
            key: Datum::Value(foreign.clone()),
            value: Datum::Value(value),
            timestamp: r.timestamp,
            headers: r.headers.clone(),
        });
    };
    let old_fk = old.clone().filter(|fk| *fk != Value::Null);
    match (s.left, &old, &new) {
        (true, Some(_), new) => {
            let new_fk = new.clone().unwrap_or(Value::Null);
            if let Some(old_fk) = &old_fk
                && *old_fk != new_fk
            {
                send(old_fk, DELETE);
            }
            send(&new_fk, PROPAGATE);
        }
        (true, None, Some(new_fk)) => send(new_fk, PROPAGATE),
        (false, Some(_), Some(new_fk)) => match (&old_fk, new_fk) {
            (Some(old_fk), Value::Null) => send(old_fk, DELETE_AND_PROPAGATE),
            (None, Value::Null) => {}
            (Some(old_fk), new_fk) => {
                if old_fk != new_fk {
                    send(old_fk, DELETE);
                }
                send(new_fk, PROPAGATE);
            }
            (None, new_fk) => send(new_fk, PROPAGATE_IF_FOUND),
        },
        (false, Some(_), None) => {
            if let Some(old_fk) = &old_fk {
                send(old_fk, DELETE_AND_PROPAGATE);
            }
        }
        (false, None, Some(new_fk)) if *new_fk != Value::Null => send(new_fk, PROPAGATE_IF_FOUND),
        _ => {}
    }
    match new {
        Some(fk) => state.put(&key, object(&[("fk", fk)]), r.timestamp).map(drop),
        None => state.delete(&key).map(drop),
    }
    .map_err(failed)?;
    Ok(Effect::Records(out))
}

fn response(key: Value, hash: Value, value: Value, r: &Record) -> Record {
    Record {
        key: Datum::Value(key),
        value: Datum::Value(object(&[("hash", hash), ("value", value)])),
        timestamp: r.timestamp,
        headers: r.headers.clone(),
    }
}

pub(super) fn receive(right: &TableGetter, subscriptions: &StoreSpec, r: &Record) -> Result<Effect<'static>, NodeError> {
    let foreign = r.key.to_value().map_err(NodeError::Other)?;
    let sub = r.value.to_value().map_err(NodeError::Other)?;
    let (key, hash) = (field(&sub, "key"), field(&sub, "hash"));
    let instruction = match field(&sub, "instruction") {
        Value::String(s) => s,
        other => return Err(NodeError::Other(format!("a foreign-key subscription without an instruction: '{other}' (a bug in Weir)"))),
    };
    if foreign == Value::Null {
        return Ok(Effect::Records(match instruction.as_str() {
            PROPAGATE => vec![response(key, hash, Value::Null, r)],
            _ => Vec::new(),
        }));
    }
    let instances = [instance(subscriptions)?];
    let store = view(&instances, subscriptions)?;
    let (_, id) = subscription_key(&foreign, &key)?;
    let id = Value::String(id);
    let mut out = Vec::new();
    match instruction.as_str() {
        DELETE => {
            store.delete(&id).map_err(failed)?;
        }
        DELETE_AND_PROPAGATE => {
            store.delete(&id).map_err(failed)?;
            out.push(response(key, hash, Value::Null, r));
        }
        PROPAGATE | PROPAGATE_IF_FOUND => {
            store.put(&id, object(&[("hash", hash.clone()), ("key", key.clone())]), r.timestamp).map_err(failed)?;
            match get(right, &foreign, None)? {
                Some((value, _)) => out.push(response(key, hash, value, r)),
                None if instruction == PROPAGATE => out.push(response(key, hash, Value::Null, r)),
                None => {}
            }
        }
        other => return Err(NodeError::Other(format!("unknown foreign-key subscription instruction '{other}' (a bug in Weir)"))),
    }
    Ok(Effect::Records(out))
}

pub(super) fn foreign(subscriptions: &StoreSpec, r: &Record) -> Result<Effect<'static>, NodeError> {
    let foreign = r.key.to_value().map_err(NodeError::Other)?;
    let value = r.value.to_value().map_err(NodeError::Other)?;
    let instances = [instance(subscriptions)?];
    let store = view(&instances, subscriptions)?;
    let (prefix, _) = subscription_key(&foreign, &Value::Null)?;
    let end = format!("{}\u{1}", prefix.trim_end_matches('\u{0}'));
    let mut out = Vec::new();
    for entry in store.range(Some(&Value::String(prefix.clone())), Some(&Value::String(end)), false).map_err(failed)? {
        let entry = entry.map_err(failed)?;
        match &entry.key {
            EntryKey::Key(Value::String(k)) if k.starts_with(&prefix) => {}
            _ => continue,
        }
        out.push(response(field(&entry.value, "key"), field(&entry.value, "hash"), value.clone(), r));
    }
    Ok(Effect::Records(out))
}

pub(super) fn resolve(
    this: &TableGetter,
    left: bool,
    joiner: &crate::plan::FnHandle,
    store: Option<&StoreSpec>,
    r: &Record,
) -> Result<Effect<'static>, NodeError> {
    let key = r.key.to_value().map_err(NodeError::Other)?;
    let answer = r.value.to_value().map_err(NodeError::Other)?;
    let current = get(this, &key, None)?.map(|(v, _)| v);
    if hash(current.as_ref())? != field(&answer, "hash") {
        return Ok(Effect::Drop);
    }
    let foreign = field(&answer, "value");
    let result = match (&current, foreign) {
        (None, _) => Datum::Value(Value::Null),
        (Some(_), Value::Null) if !left => Datum::Value(Value::Null),
        (Some(v), foreign) => call(joiner, &[&Datum::Value(Value::Null), &Datum::Value(v.clone()), &Datum::Value(foreign)])?,
    };
    if let Some(spec) = store {
        let instances = [instance(spec)?];
        let value = result.to_value().map_err(NodeError::Other)?;
        view(&instances, spec)?.put(&key, value, r.timestamp).map_err(failed)?;
    }
    Ok(Effect::Update(result, r.timestamp))
}
