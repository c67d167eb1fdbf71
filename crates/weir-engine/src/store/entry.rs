//! What the typed interface hands back: stamped values, versions, iterated entries and their
//! keys (KSML's windowed-key struct included), and [`StoreIter`], which decodes entries one
//! at a time.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;

use indexmap::IndexMap;

use super::{StoreError, StoreSpec};
use crate::value::Value;

/// A value with its timestamp (Kafka Streams' `ValueAndTimestamp`). Plain stores give -1.
#[derive(Debug, Clone, PartialEq)]
pub struct Stamped {
    pub value: Value,
    pub timestamp: i64,
}

/// A version of a versioned store (Kafka Streams' `VersionedRecord`).
#[derive(Debug, Clone, PartialEq)]
pub struct VersionedRecord {
    pub value: Value,
    pub timestamp: i64,
    /// `None` for the latest version.
    pub valid_to: Option<i64>,
}

/// The key of an iterated entry.
#[derive(Debug, Clone, PartialEq)]
pub enum EntryKey {
    /// A key-value store's key.
    Key(Value),
    /// The window start, from a window store's fetch of one key.
    WindowStart(i64),
    /// A windowed key: a window store's (end = start + window size) or a session's.
    Windowed { key: Value, start: i64, end: i64 },
}

impl EntryKey {
    /// The key as KSML shows it to functions and in its output: a windowed key is the struct
    /// `{start, end, startTime, endTime, key}` with the times as ISO-8601 UTC text.
    pub fn to_value(&self) -> Value {
        match self {
            EntryKey::Key(k) => k.clone(),
            EntryKey::WindowStart(t) => Value::Long(*t),
            EntryKey::Windowed { key, start, end } => windowed_value(key.clone(), *start, *end),
        }
    }
}

/// KSML's struct for a windowed key: `{start, end, startTime, endTime, key}`.
pub fn windowed_value(key: Value, start: i64, end: i64) -> Value {
    Value::Struct(IndexMap::from([
        ("start".to_string(), Value::Long(start)),
        ("end".to_string(), Value::Long(end)),
        ("startTime".to_string(), Value::String(instant_text(start))),
        ("endTime".to_string(), Value::String(instant_text(end))),
        ("key".to_string(), key),
    ]))
}

/// The key and window of KSML's windowed-key struct: it needs `start` and `end` (longs) and
/// `key`, as KSML's flattener reads it.
pub fn windowed_from_value(value: &Value) -> Option<(Value, i64, i64)> {
    let Value::Struct(fields) = value else { return None };
    let long = |name: &str| match fields.get(name)? {
        Value::Byte(n) => Some(i64::from(*n)),
        Value::Short(n) => Some(i64::from(*n)),
        Value::Int(n) => Some(i64::from(*n)),
        Value::Long(n) => Some(*n),
        _ => None,
    };
    let key = fields.get("key").filter(|k| **k != Value::Null)?.clone();
    Some((key, long("start")?, long("end")?))
}

/// Java's `Instant.toString()` of a time in milliseconds: `2023-11-14T22:13:20Z`, with
/// `.SSS` only when there are milliseconds.
pub fn instant_text(ms: i64) -> String {
    let t = crate::time::Utc::of_millis(ms);
    let year = match t.year {
        y @ 0..=9999 => format!("{y:04}"),
        y if y > 9999 => format!("+{y}"),
        y => format!("-{:04}", -y),
    };
    let fraction = if t.milli == 0 { String::new() } else { format!(".{:03}", t.milli) };
    format!("{year}-{:02}-{:02}T{:02}:{:02}:{:02}{fraction}Z", t.month, t.day, t.hour, t.minute, t.second)
}

/// One entry of an iterator.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: EntryKey,
    pub value: Value,
    /// The value's timestamp, for timestamped stores.
    pub timestamp: Option<i64>,
}

#[derive(Debug, Clone)]
pub(super) enum RawKey {
    Key(Vec<u8>),
    WindowStart(i64),
    Windowed { key: Vec<u8>, start: i64, end: i64 },
}

#[derive(Debug, Clone)]
pub(super) struct RawEntry {
    pub(super) key: RawKey,
    pub(super) value: Vec<u8>,
    pub(super) timestamp: Option<i64>,
    /// The store's iteration order, to merge the answers of several instances.
    pub(super) order: (i64, Vec<u8>, i64),
}

/// The entries of a query, decoded one at a time. It holds what the store held when the
/// query ran (later changes to the store do not show).
pub struct StoreIter {
    pub(super) spec: Arc<StoreSpec>,
    pub(super) items: VecDeque<RawEntry>,
}

impl fmt::Debug for StoreIter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "iterator over store '{}' ({} left)", self.spec.name, self.items.len())
    }
}

impl StoreIter {
    pub fn has_next(&self) -> bool {
        !self.items.is_empty()
    }

    /// Forgets the remaining entries.
    pub fn close(&mut self) {
        self.items.clear();
    }

    /// The entries left.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

impl Iterator for StoreIter {
    type Item = Result<Entry, StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        let raw = self.items.pop_front()?;
        let spec = &self.spec;
        let decoded = (|| {
            let key = match raw.key {
                RawKey::Key(k) => EntryKey::Key(spec.decode_key(&k)?),
                RawKey::WindowStart(t) => EntryKey::WindowStart(t),
                RawKey::Windowed { key, start, end } => EntryKey::Windowed { key: spec.decode_key(&key)?, start, end },
            };
            Ok(Entry { key, value: spec.decode_value(&raw.value)?, timestamp: raw.timestamp })
        })();
        Some(decoded)
    }
}
