//! `suppress`: holding back a table's updates, with Kafka Streams' semantics (its
//! `KTableSuppressProcessor` over a time-ordered buffer).
//!
//! Each update replaces the key's entry in the buffer, which keeps the time the key was
//! first buffered at: for `untilWindowCloses` the window's end (from the windowed key), for
//! `untilTimeLimit` the first held update's timestamp. The operation tracks the observed
//! stream time (the highest update timestamp it has seen, per task); after each update, the
//! entries whose time is at or before `streamTime - wait` (the window's grace, plus the gap
//! for sessions; or the time limit) are emitted in (time, key) order, each as the key's
//! latest update with that update's timestamp and headers. Emission is driven only by stream
//! time, never the wall clock. `untilWindowCloses` drops deletes (null values) instead of
//! emitting them, as Kafka Streams does for final results.
//!
//! When the buffer holds more than `maxRecords` entries or `maxBytes` bytes (the key's and
//! the held update's JSON text), an `untilTimeLimit` buffer emits the oldest entries until it
//! fits (unless `shutdownWhenFull`), and an `untilWindowCloses` one (whose results must be
//! final) stops the application with an error naming the operation.
//!
//! Each update reads the whole buffer (it is small in the cases `suppress` is for: one entry
//! per open window and key); an index by time would avoid that for large buffers.
//!
//! The buffer is a timestamped key-value store (`<operation>-buffer`, logged, so it is
//! restored after a restart like any store, and the stream time with it): key = the record
//! key's JSON text, value = the JSON text of `{time, timestamp, value, headers}`.

use indexmap::IndexMap;

use super::process::{NodeError, Record};
use crate::notation::json;
use crate::plan::{SuppressUntil, Suppression};
use crate::store::{self, EntryKey, StoreError, StoreSpec, StoreView, windowed_from_value};
use crate::value::{Datum, Value};

fn failed(e: StoreError) -> NodeError {
    NodeError::Other(e.to_string())
}

fn json_text(v: &Value, what: &str) -> Result<String, NodeError> {
    let bytes = json::to_vec(v).map_err(|e| NodeError::Other(format!("suppress cannot hold the {what}: {e}")))?;
    String::from_utf8(bytes).map_err(|e| NodeError::Other(format!("suppress cannot hold the {what}: {e}")))
}

/// One held update.
struct Held {
    key_text: String,
    time: i64,
    record: Record,
    size: u64,
}

fn held_from(key_text: String, text: &str, spec: &StoreSpec) -> Result<Held, NodeError> {
    let bad = || NodeError::Other(format!("state store '{}' holds an entry that is not a suppressed update: {text}", spec.name));
    let Value::Struct(mut fields) = json::from_slice(text.as_bytes()).map_err(|_| bad())? else { return Err(bad()) };
    let long = |v: Option<&Value>| match v {
        Some(Value::Long(n)) => Some(*n),
        Some(Value::Int(n)) => Some(i64::from(*n)),
        _ => None,
    };
    let time = long(fields.get("time")).ok_or_else(bad)?;
    let timestamp = long(fields.get("timestamp")).ok_or_else(bad)?;
    let mut headers = Vec::new();
    if let Some(Value::List(items)) = fields.get("headers") {
        for item in items {
            let Value::List(pair) = item else { return Err(bad()) };
            let (Some(Value::String(k)), Some(Value::String(v))) = (pair.first(), pair.get(1)) else { return Err(bad()) };
            headers.push((k.clone(), v.clone().into_bytes()));
        }
    }
    let value = fields.shift_remove("value").unwrap_or(Value::Null);
    let key = json::from_slice(key_text.as_bytes()).map_err(|_| bad())?;
    let size = (key_text.len() + text.len()) as u64;
    Ok(Held { key_text, time, record: Record { key: Datum::Value(key), value: Datum::Value(value), timestamp, headers }, size })
}

/// One table update through a `suppress`: the updates it emits now, in order.
pub(super) fn suppress(spec: &StoreSpec, s: &Suppression, r: &Record, node: &str) -> Result<Vec<Record>, NodeError> {
    let instance = store::current(&spec.name).map_err(failed)?;
    let stream_time = instance.observe_stream_time(r.timestamp);
    let instances = [instance];
    let view = StoreView::new(&instances).ok_or_else(|| NodeError::Other(format!("state store '{}' has no instance", spec.name)))?;
    let key = r.key.to_value().map_err(NodeError::Other)?;
    let key_text = json_text(&key, "key")?;
    let key_value = Value::String(key_text.clone());
    // An update of a held key keeps the time it was first held at.
    let time = match view.get(&key_value).map_err(failed)? {
        Some(existing) => match existing.value {
            Value::String(text) => held_from(key_text.clone(), &text, spec)?.time,
            other => return Err(NodeError::Other(format!("state store '{}' holds a non-text entry: {other}", spec.name))),
        },
        None => match s.until {
            SuppressUntil::WindowCloses { .. } => match windowed_from_value(&key) {
                Some((_, _, end)) => end,
                None => {
                    return Err(NodeError::Other(format!(
                        "'{node}' suppresses until windows close, but the key '{key}' is not a windowed key"
                    )));
                }
            },
            SuppressUntil::TimeLimit { .. } => r.timestamp,
        },
    };
    let headers =
        r.headers.iter().map(|(k, v)| Value::List(vec![Value::String(k.clone()), Value::String(String::from_utf8_lossy(v).into())]));
    let entry = Value::Struct(IndexMap::from([
        ("time".to_string(), Value::Long(time)),
        ("timestamp".to_string(), Value::Long(r.timestamp)),
        ("value".to_string(), r.value.to_value().map_err(NodeError::Other)?),
        ("headers".to_string(), Value::List(headers.collect())),
    ]));
    view.put(&key_value, Value::String(json_text(&entry, "value")?), r.timestamp).map_err(failed)?;

    let wait = match s.until {
        SuppressUntil::WindowCloses { close_after } => close_after,
        SuppressUntil::TimeLimit { limit } => limit,
    };
    let expiry = stream_time.saturating_sub(wait);
    let mut held = Vec::new();
    for entry in view.all().map_err(failed)? {
        let entry = entry.map_err(failed)?;
        let (EntryKey::Key(Value::String(k)), Value::String(text)) = (entry.key, entry.value) else { continue };
        held.push(held_from(k, &text, spec)?);
    }
    // Kafka Streams' buffer order: time, then the serialized key.
    held.sort_by(|a, b| (a.time, a.key_text.as_bytes()).cmp(&(b.time, b.key_text.as_bytes())));
    let mut records = held.len() as u64;
    let mut bytes: u64 = held.iter().map(|h| h.size).sum();
    let over = |records: u64, bytes: u64| s.max_records.is_some_and(|m| records > m) || s.max_bytes.is_some_and(|m| bytes > m);
    let mut out = Vec::new();
    for h in held {
        let due = h.time <= expiry;
        if !due && !over(records, bytes) {
            break;
        }
        if !due && !s.emit_early_when_full {
            return Err(NodeError::Fatal(format!(
                "the suppress buffer exceeded its capacity ({} records, {} bytes; maxRecords {}, maxBytes {}): a full buffer stops the application ('shutdownWhenFull'{})",
                records,
                bytes,
                s.max_records.map_or("none".to_string(), |m| m.to_string()),
                s.max_bytes.map_or("none".to_string(), |m| m.to_string()),
                if matches!(s.until, SuppressUntil::WindowCloses { .. }) { ", as every 'untilWindowCloses' buffer does" } else { "" },
            )));
        }
        // A put of null deletes, logged with the stream's time (not the wall clock's).
        view.put(&Value::String(h.key_text.clone()), Value::Null, r.timestamp).map_err(failed)?;
        records -= 1;
        bytes = bytes.saturating_sub(h.size);
        let tombstone = h.record.value.is_null();
        if !(tombstone && matches!(s.until, SuppressUntil::WindowCloses { .. })) {
            out.push(h.record);
        }
    }
    Ok(out)
}
