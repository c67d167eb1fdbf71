//! State stores: the engine's store port and its in-memory implementations, with Kafka
//! Streams' semantics.
//!
//! **Kinds.** A KSML store definition (`type: keyValue | window | session` and its flags)
//! becomes one [`StoreFlavor`], following KSML's mapping onto Kafka Streams' builders (its
//! `StoreUtil`):
//!
//! | definition | flavor |
//! |---|---|
//! | `keyValue` with `versioned: true` and `persistent: true` | versioned key-value (`historyRetention`) |
//! | `keyValue` with `timestamped: true` (and not the above) | timestamped key-value |
//! | other `keyValue` (so `versioned` without `persistent` too) | key-value |
//! | `window` (`timestamped` too: KSML builds it with a plain window builder) | window (`retention`, `windowSize`, `retainDuplicates`) |
//! | `session` | session (`retention`) |
//!
//! The timestamped window flavor is what a windowed aggregation keeps its windows in.
//!
//! **Bytes, as in Kafka Streams.** Keys and values are stored serialized with the store's
//! `keyType`/`valueType` codecs ([`StoreSpec`]), as Kafka Streams' stores hold bytes: a key
//! or value is brought to the declared type ([`crate::value::convert`]) and encoded when put
//! (so what does not fit the type fails there), and decoded when read. Keys are ordered by
//! their serialized bytes (unsigned, byte-wise, Kafka's `Bytes` order), so iteration order
//! is the order Kafka Streams would give. The byte-level stores ([`keyvalue`],
//! [`versioned`], [`window`], [`session`]) carry the semantics: point lookups, ranges,
//! retention and stream time, versions.
//!
//! **Tasks.** There is one instance of every store per task (partition number), as in Kafka
//! Streams. [`StateStores`] holds an application's instances; the runtime opens a task's
//! instances when it creates the task and runs each batch of the task's records inside
//! [`in_task`], so code called during the batch (Python store proxies) reaches *that
//! task's* instance with [`current`]. [`StoreView`] is the typed interface over one instance
//! or, for inspection after a run (`weir test`), over all of a store's instances.
//!
//! **Changelogs and persistence.** A store with `logging: true` writes every change to its
//! changelog topic `<application.id>-<store>-changelog` (partition = task), which is
//! compacted for key-value stores and compacted with a retention of the store's retention
//! plus one day for window and session stores (Kafka Streams' settings). Changes are kept
//! with the instance and appended by the stream thread after each batch, with the batch's
//! output records, so they are durable before the commit that covers them (at least once).
//! When a task starts, its instances are restored from the changelog. Weir's stores are
//! in memory: a `persistent: true` store is an in-memory store restored from its changelog
//! at start, so `persistent: true` writes the changelog whether or not `logging` is set.
//! The versioned store's changelog is not compacted (compaction keeps the last record
//! written per key, which for out-of-order versions is not the latest version): it keeps
//! every change. Changelog records of key-value, window and session stores carry the wall
//! clock time; those of timestamped and versioned stores carry the value's timestamp.
//!
//! Changelog layouts (Kafka Streams' own): key-value stores log the serialized key and
//! value (a null value for a delete); window stores log `key ‖ windowStart (8 bytes,
//! big-endian) ‖ sequence number (4 bytes)`; session stores `key ‖ end ‖ start` (8 bytes
//! each).
//!
//! `caching` is accepted and has no effect: every change is visible (and logged) at once,
//! as with caching off.

pub mod keyvalue;
pub mod session;
pub mod untyped;
pub mod versioned;
pub mod window;

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use indexmap::IndexMap;
use weir_dsl::model::{StoreDef, StoreKind};
use weir_dsl::types::{TypeKind, UserType};

use crate::broker::Broker;
use crate::broker::{BrokerError, CleanupPolicy, NewRecord, StoredRecord, TopicSpec};
use crate::notation::{Codec, Notations, Target};
use crate::partitioner::partition_for_key;
use crate::value::{Value, convert};
use keyvalue::{KeyValueBytes, StampedBytes};
use session::SessionBytes;
use versioned::VersionedBytes;
use window::WindowBytes;

pub use versioned::{PUT_NOT_PUT, PUT_VALID_TO_UNDEFINED};

/// What kind of store a definition gives (see the module documentation for the mapping).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreFlavor {
    KeyValue,
    TimestampedKeyValue,
    VersionedKeyValue { history_retention_ms: u64 },
    Window { retention_ms: u64, window_size_ms: u64, retain_duplicates: bool, timestamped: bool },
    Session { retention_ms: u64 },
}

impl StoreFlavor {
    /// The flavor KSML builds for a store definition.
    pub fn of(def: &StoreDef) -> StoreFlavor {
        match def.kind {
            StoreKind::KeyValue if def.versioned && def.persistent => {
                StoreFlavor::VersionedKeyValue { history_retention_ms: def.history_retention_ms.unwrap_or(0) }
            }
            StoreKind::KeyValue if def.timestamped => StoreFlavor::TimestampedKeyValue,
            StoreKind::KeyValue => StoreFlavor::KeyValue,
            StoreKind::Window => StoreFlavor::Window {
                retention_ms: def.retention_ms.unwrap_or(0),
                window_size_ms: def.window_size_ms.unwrap_or(0),
                retain_duplicates: def.retain_duplicates,
                timestamped: false,
            },
            StoreKind::Session => StoreFlavor::Session { retention_ms: def.retention_ms.unwrap_or(0) },
        }
    }

    /// For messages: `key-value`, `timestamped key-value`, `versioned key-value`, `window`,
    /// `timestamped window`, `session`.
    pub fn noun(self) -> &'static str {
        match self {
            StoreFlavor::KeyValue => "key-value",
            StoreFlavor::TimestampedKeyValue => "timestamped key-value",
            StoreFlavor::VersionedKeyValue { .. } => "versioned key-value",
            StoreFlavor::Window { timestamped: false, .. } => "window",
            StoreFlavor::Window { timestamped: true, .. } => "timestamped window",
            StoreFlavor::Session { .. } => "session",
        }
    }

    /// How the changelog topic is cleaned up, as Kafka Streams configures it (except the
    /// versioned store's: see the module documentation).
    fn changelog_config(self, partitions: u32) -> TopicSpec {
        let windowed = |retention_ms: u64| TopicSpec {
            partitions,
            cleanup: CleanupPolicy::CompactDelete,
            retention_ms: Some(retention_ms.saturating_add(24 * 3600 * 1000)),
            min_compaction_lag_ms: None,
        };
        match self {
            StoreFlavor::KeyValue | StoreFlavor::TimestampedKeyValue => {
                TopicSpec { partitions, cleanup: CleanupPolicy::Compact, retention_ms: None, min_compaction_lag_ms: None }
            }
            StoreFlavor::VersionedKeyValue { .. } => {
                TopicSpec { partitions, cleanup: CleanupPolicy::Delete, retention_ms: None, min_compaction_lag_ms: None }
            }
            StoreFlavor::Window { retention_ms, .. } | StoreFlavor::Session { retention_ms } => windowed(retention_ms),
        }
    }
}

/// A store as planned: its flavor, types and codecs, and its changelog.
pub struct StoreSpec {
    pub name: String,
    pub flavor: StoreFlavor,
    pub key_type: UserType,
    pub value_type: UserType,
    pub key: Arc<dyn Codec>,
    pub value: Arc<dyn Codec>,
    pub persistent: bool,
    /// `logging` as declared.
    pub logging: bool,
    /// The changelog topic, when the store has one (`logging` or `persistent`).
    pub changelog: Option<String>,
}

impl fmt::Debug for StoreSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} store '{}' ({}/{})", self.flavor.noun(), self.name, self.key_type, self.value_type)
    }
}

/// Kafka Streams' changelog topic name of a store.
pub fn changelog_topic(application_id: &str, store: &str) -> String {
    format!("{application_id}-{store}-changelog")
}

impl StoreSpec {
    /// Plans a store definition for an application: the checks Kafka Streams makes when it
    /// builds the store (a versioned store needs a positive `segmentInterval`; a window store's
    /// `retention` must be at least its `windowSize`), and the codecs of its key and value
    /// types, for the changelog topic (which is also the topic Kafka Streams serializes a
    /// store's data for, changelog or not). Missing types are `any`, kept in self-describing
    /// bytes ([`untyped`]) so a value comes back as it was put.
    pub fn new(def: &StoreDef, application_id: &str, notations: &Notations) -> Result<StoreSpec, String> {
        let flavor = StoreFlavor::of(def);
        if let StoreFlavor::VersionedKeyValue { .. } = flavor
            && def.segment_interval_ms.unwrap_or(0) == 0
        {
            return Err(format!(
                "versioned store '{}' needs a 'segmentInterval' greater than zero (Kafka Streams refuses a versioned store without one)",
                def.name
            ));
        }
        if let StoreFlavor::Window { retention_ms, window_size_ms, .. } = flavor
            && window_size_ms > retention_ms
        {
            return Err(format!(
                "the retention of window store '{}' must be at least its window size, got windowSize {window_size_ms} ms and retention {retention_ms} ms",
                def.name
            ));
        }
        let any = || UserType { notation: None, kind: TypeKind::Any };
        let key_type = def.key_type.as_ref().map_or_else(any, |t| t.value.clone());
        let value_type = def.value_type.as_ref().map_or_else(any, |t| t.value.clone());
        let topic = changelog_topic(application_id, &def.name);
        let codec = |t: &UserType, is_key: bool| {
            if t.kind == TypeKind::Any && t.notation.is_none() {
                return Ok(Arc::new(untyped::UntypedCodec) as Arc<dyn Codec>);
            }
            notations.codec(t, &Target { topic: Some(topic.clone()), is_key }).map_err(|e| {
                format!("state store '{}' cannot read or write its {} type '{t}': {e}", def.name, if is_key { "key" } else { "value" })
            })
        };
        let key = codec(&key_type, true)?;
        let value = codec(&value_type, false)?;
        Ok(StoreSpec {
            name: def.name.clone(),
            flavor,
            key_type,
            value_type,
            key,
            value,
            persistent: def.persistent,
            logging: def.logging,
            changelog: (def.logging || def.persistent).then_some(topic),
        })
    }

    fn encode_key(&self, key: &Value) -> Result<Vec<u8>, StoreError> {
        if *key == Value::Null {
            return Err(StoreError::argument(format!("state store '{}': the key cannot be null", self.name)));
        }
        let converted = convert(key.clone(), &self.key_type)
            .map_err(|e| StoreError::argument(format!("state store '{}': the key does not fit '{}': {e}", self.name, self.key_type)))?;
        match self.key.encode(&converted) {
            Ok(Some(bytes)) => Ok(bytes),
            Ok(None) => Err(StoreError::argument(format!("state store '{}': the key cannot be null", self.name))),
            Err(e) => Err(StoreError::argument(format!("state store '{}': cannot encode the key: {e}", self.name))),
        }
    }

    /// A key bound of a range query: `None` (null) is unbounded.
    fn encode_bound(&self, key: Option<&Value>) -> Result<Option<Vec<u8>>, StoreError> {
        match key {
            None | Some(Value::Null) => Ok(None),
            Some(k) => self.encode_key(k).map(Some),
        }
    }

    fn encode_value(&self, value: Value) -> Result<Option<Vec<u8>>, StoreError> {
        let converted = convert(value, &self.value_type)
            .map_err(|e| StoreError::argument(format!("state store '{}': the value does not fit '{}': {e}", self.name, self.value_type)))?;
        self.value
            .encode(&converted)
            .map_err(|e| StoreError::argument(format!("state store '{}': cannot encode the value: {e}", self.name)))
    }

    fn decode_key(&self, bytes: &[u8]) -> Result<Value, StoreError> {
        let v =
            self.key.decode(Some(bytes)).map_err(|e| StoreError::data(format!("state store '{}': cannot decode a key: {e}", self.name)))?;
        convert(v, &self.key_type)
            .map_err(|e| StoreError::data(format!("state store '{}': a stored key does not fit '{}': {e}", self.name, self.key_type)))
    }

    fn decode_value(&self, bytes: &[u8]) -> Result<Value, StoreError> {
        let v = self
            .value
            .decode(Some(bytes))
            .map_err(|e| StoreError::data(format!("state store '{}': cannot decode a value: {e}", self.name)))?;
        convert(v, &self.value_type)
            .map_err(|e| StoreError::data(format!("state store '{}': a stored value does not fit '{}': {e}", self.name, self.value_type)))
    }
}

/// What went wrong with a store operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreErrorKind {
    /// A key or value that does not fit the store's types, a null key, an invalid window.
    Argument,
    /// Stored bytes that do not decode (a changelog written with other types).
    Data,
    /// The store was closed.
    Closed,
    /// No such store in the current task, or no task (a call outside a stream task).
    Unavailable,
    /// The operation belongs to another kind of store.
    WrongKind,
}

/// A failed store operation; the message names the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError {
    pub kind: StoreErrorKind,
    pub message: String,
}

impl StoreError {
    fn argument(message: String) -> StoreError {
        StoreError { kind: StoreErrorKind::Argument, message }
    }
    fn data(message: String) -> StoreError {
        StoreError { kind: StoreErrorKind::Data, message }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for StoreError {}

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
    /// The key as KSML shows it (inventory §4.4/§5.4): a windowed key is the struct
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
enum RawKey {
    Key(Vec<u8>),
    WindowStart(i64),
    Windowed { key: Vec<u8>, start: i64, end: i64 },
}

#[derive(Debug, Clone)]
struct RawEntry {
    key: RawKey,
    value: Vec<u8>,
    timestamp: Option<i64>,
    /// The store's iteration order, to merge the answers of several instances.
    order: (i64, Vec<u8>, i64),
}

/// The entries of a query, decoded one at a time. It holds what the store held when the
/// query ran (later changes to the store do not show).
pub struct StoreIter {
    spec: Arc<StoreSpec>,
    items: VecDeque<RawEntry>,
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

#[derive(Debug)]
enum Data {
    KeyValue(KeyValueBytes),
    Versioned(VersionedBytes),
    Window(WindowBytes),
    Session(SessionBytes),
}

#[derive(Debug)]
struct State {
    open: bool,
    data: Data,
    /// Changes not appended to the changelog yet.
    changelog: Vec<NewRecord>,
}

/// One task's instance of a store.
pub struct StoreInstance {
    spec: Arc<StoreSpec>,
    partition: u32,
    state: Mutex<State>,
    /// The observed stream time of the operation that owns the store (a windowed aggregation,
    /// a `suppress`), per task; restored with the store (the latest timestamp of its changes).
    stream_time: AtomicI64,
}

impl fmt::Debug for StoreInstance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} of task {}", self.spec, self.partition)
    }
}

const WINDOW_SUFFIX: usize = 12;
const SESSION_SUFFIX: usize = 16;

impl StoreInstance {
    /// An empty, open instance for the task `partition`.
    pub fn new(spec: Arc<StoreSpec>, partition: u32) -> StoreInstance {
        let data = match spec.flavor {
            StoreFlavor::KeyValue | StoreFlavor::TimestampedKeyValue => Data::KeyValue(KeyValueBytes::default()),
            StoreFlavor::VersionedKeyValue { history_retention_ms } => Data::Versioned(VersionedBytes::new(history_retention_ms)),
            StoreFlavor::Window { retention_ms, window_size_ms, retain_duplicates, .. } => {
                Data::Window(WindowBytes::new(retention_ms, window_size_ms, retain_duplicates))
            }
            StoreFlavor::Session { retention_ms } => Data::Session(SessionBytes::new(retention_ms)),
        };
        StoreInstance {
            spec,
            partition,
            state: Mutex::new(State { open: true, data, changelog: Vec::new() }),
            stream_time: AtomicI64::new(-1),
        }
    }

    /// Advances the owning operation's observed stream time to `timestamp` if it is later;
    /// returns the stream time.
    pub fn observe_stream_time(&self, timestamp: i64) -> i64 {
        self.stream_time.fetch_max(timestamp, Ordering::Relaxed).max(timestamp)
    }

    pub fn spec(&self) -> &Arc<StoreSpec> {
        &self.spec
    }

    pub fn partition(&self) -> u32 {
        self.partition
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the maps inconsistent in a way later
        // operations would trip over, so a poisoned lock is used as it is.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The state, checked to be open.
    fn open_state(&self) -> Result<MutexGuard<'_, State>, StoreError> {
        let state = self.lock();
        if state.open {
            Ok(state)
        } else {
            Err(StoreError { kind: StoreErrorKind::Closed, message: format!("state store '{}' is closed", self.spec.name) })
        }
    }

    pub fn is_open(&self) -> bool {
        self.lock().open
    }

    /// Closes the instance: later operations fail, as on a closed Kafka Streams store.
    pub fn close(&self) {
        self.lock().open = false;
    }

    /// The changes made since the last call, for the changelog topic.
    pub fn take_changelog(&self) -> Vec<NewRecord> {
        std::mem::take(&mut self.lock().changelog)
    }

    /// Applies one changelog record (restoring the instance).
    fn restore(&self, record: &StoredRecord) -> Result<(), String> {
        let Some(key) = &record.key else { return Err(format!("offset {}: a changelog record without key", record.offset)) };
        let mut state = self.lock();
        let value = record.value.clone();
        let stamped = |value: Option<Vec<u8>>| value.map(|value| StampedBytes { value, timestamp: record.timestamp });
        // The owning operation's stream time: the latest timestamp its changes carry (a
        // timestamped store's changelog records carry the value's timestamp, a session's key its end).
        if matches!(self.spec.flavor, StoreFlavor::TimestampedKeyValue | StoreFlavor::Window { timestamped: true, .. }) {
            self.stream_time.fetch_max(record.timestamp, Ordering::Relaxed);
        }
        match &mut state.data {
            Data::KeyValue(kv) => {
                kv.put(key.clone(), stamped(value));
            }
            Data::Versioned(v) => {
                v.put(key, value, record.timestamp);
            }
            Data::Window(w) => {
                let Some(split) = key.len().checked_sub(WINDOW_SUFFIX) else {
                    return Err(format!("offset {}: a window changelog key shorter than {WINDOW_SUFFIX} bytes", record.offset));
                };
                let start = be_i64(&key[split..split + 8]);
                let seq = u32::from_be_bytes([key[split + 8], key[split + 9], key[split + 10], key[split + 11]]);
                w.restore(&key[..split], stamped(value), start, seq);
            }
            Data::Session(s) => {
                let Some(split) = key.len().checked_sub(SESSION_SUFFIX) else {
                    return Err(format!("offset {}: a session changelog key shorter than {SESSION_SUFFIX} bytes", record.offset));
                };
                let end = be_i64(&key[split..split + 8]);
                let start = be_i64(&key[split + 8..]);
                self.stream_time.fetch_max(end, Ordering::Relaxed);
                s.put(&key[..split], start, end, value);
            }
        }
        Ok(())
    }
}

fn be_i64(bytes: &[u8]) -> i64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&bytes[..8]);
    i64::from_be_bytes(b)
}

impl State {
    fn log(&mut self, spec: &StoreSpec, key: Vec<u8>, value: Option<Vec<u8>>, timestamp: i64) {
        if spec.changelog.is_some() {
            self.changelog.push(NewRecord { timestamp, key: Some(key), value, headers: Vec::new() });
        }
    }
}

/// The typed operations of a store, over one instance (a task's, during processing) or all
/// of a store's instances (inspection): reads look in every instance (point lookups take the
/// first answer, ranges are merged in the store's order), writes go to the instance that
/// holds the key, else to the one the key's bytes partition to (Kafka's default partitioner).
///
/// Each operation belongs to a flavor and fails with [`StoreErrorKind::WrongKind`] on others.
#[derive(Clone, Copy)]
pub struct StoreView<'a> {
    spec: &'a Arc<StoreSpec>,
    instances: &'a [Arc<StoreInstance>],
}

impl fmt::Debug for StoreView<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} ({} instance(s))", self.spec, self.instances.len())
    }
}

impl<'a> StoreView<'a> {
    /// A view over instances of one store (`None` when there are none).
    pub fn new(instances: &'a [Arc<StoreInstance>]) -> Option<StoreView<'a>> {
        let spec = instances.first()?.spec();
        Some(StoreView { spec, instances })
    }

    pub fn spec(&self) -> &Arc<StoreSpec> {
        self.spec
    }

    pub fn name(&self) -> &str {
        &self.spec.name
    }

    pub fn persistent(&self) -> bool {
        self.spec.persistent
    }

    pub fn is_open(&self) -> bool {
        self.instances.iter().all(|i| i.is_open())
    }

    /// Nothing to do: changes are visible at once and logged with the batch.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.instances.iter().try_for_each(|i| i.open_state().map(drop))
    }

    pub fn close(&self) {
        self.instances.iter().for_each(|i| i.close());
    }

    fn wrong(&self, operation: &str) -> StoreError {
        StoreError {
            kind: StoreErrorKind::WrongKind,
            message: format!("state store '{}' is a {} store, which has no '{operation}'", self.spec.name, self.spec.flavor.noun()),
        }
    }

    fn is_key_value(&self) -> bool {
        matches!(self.spec.flavor, StoreFlavor::KeyValue | StoreFlavor::TimestampedKeyValue)
    }

    fn timestamped(&self) -> bool {
        matches!(self.spec.flavor, StoreFlavor::TimestampedKeyValue | StoreFlavor::Window { timestamped: true, .. })
    }

    /// The instance a write of `key` goes to: the one holding it, else by partitioning.
    fn home(&self, key: &[u8], holds: impl Fn(&Data) -> bool) -> &'a Arc<StoreInstance> {
        let instances = self.instances;
        if instances.len() > 1 {
            if let Some(found) = instances.iter().find(|i| holds(&i.lock().data)) {
                return found;
            }
            let p = partition_for_key(key, instances.len() as u32);
            if let Some(found) = instances.iter().find(|i| i.partition == p) {
                return found;
            }
        }
        &instances[0]
    }

    fn stamped(&self, raw: &StampedBytes) -> Result<Stamped, StoreError> {
        let timestamp = if self.timestamped() { raw.timestamp } else { -1 };
        Ok(Stamped { value: self.spec.decode_value(&raw.value)?, timestamp })
    }

    fn iter(&self, mut items: Vec<RawEntry>, backward: bool) -> StoreIter {
        if self.instances.len() > 1 {
            items.sort_by(|a, b| if backward { b.order.cmp(&a.order) } else { a.order.cmp(&b.order) });
        }
        StoreIter { spec: Arc::clone(self.spec), items: items.into() }
    }

    // ---- key-value and timestamped key-value ----------------------------------------------

    /// The value of `key` (with its timestamp in a timestamped store).
    pub fn get(&self, key: &Value) -> Result<Option<Stamped>, StoreError> {
        if !self.is_key_value() {
            return Err(self.wrong("get"));
        }
        let k = self.spec.encode_key(key)?;
        for instance in self.instances {
            let state = instance.open_state()?;
            if let Data::KeyValue(kv) = &state.data
                && let Some(raw) = kv.get(&k)
            {
                return self.stamped(raw).map(Some);
            }
        }
        Ok(None)
    }

    /// Puts `value` (null deletes) with `timestamp` (kept by a timestamped store). Returns the
    /// previous value.
    pub fn put(&self, key: &Value, value: Value, timestamp: i64) -> Result<Option<Stamped>, StoreError> {
        if !self.is_key_value() {
            return Err(self.wrong("put"));
        }
        let k = self.spec.encode_key(key)?;
        let v = self.spec.encode_value(value)?;
        let home = self.home(&k, |d| matches!(d, Data::KeyValue(kv) if kv.get(&k).is_some()));
        let mut state = home.open_state()?;
        let log_time = match self.spec.changelog {
            Some(_) if !self.timestamped() => crate::time::now_ms(),
            _ => timestamp,
        };
        let Data::KeyValue(kv) = &mut state.data else { return Err(self.wrong("put")) };
        let old = match self.spec.changelog {
            Some(_) => {
                let old = kv.put(k.clone(), v.clone().map(|value| StampedBytes { value, timestamp }));
                state.log(self.spec, k, v, log_time);
                old
            }
            None => kv.put(k, v.map(|value| StampedBytes { value, timestamp })),
        };
        drop(state);
        old.as_ref().map(|raw| self.stamped(raw)).transpose()
    }

    /// Puts `value` unless the key has one; returns the value it has (nothing when it put).
    pub fn put_if_absent(&self, key: &Value, value: Value, timestamp: i64) -> Result<Option<Stamped>, StoreError> {
        if let Some(existing) = self.get(key)? {
            return Ok(Some(existing));
        }
        self.put(key, value, timestamp).map(|_| None)
    }

    /// Deletes the key; returns the value it had.
    pub fn delete(&self, key: &Value) -> Result<Option<Stamped>, StoreError> {
        if !self.is_key_value() {
            return Err(self.wrong("delete"));
        }
        let k = self.spec.encode_key(key)?;
        for instance in self.instances {
            let mut state = instance.open_state()?;
            let Data::KeyValue(kv) = &mut state.data else { return Err(self.wrong("delete")) };
            if let Some(old) = kv.put(k.clone(), None) {
                state.log(self.spec, k, None, crate::time::now_ms());
                drop(state);
                return self.stamped(&old).map(Some);
            }
        }
        Ok(None)
    }

    /// The entries with keys in `[from, to]` (null: unbounded), in key order or reversed.
    pub fn range(&self, from: Option<&Value>, to: Option<&Value>, backward: bool) -> Result<StoreIter, StoreError> {
        if !self.is_key_value() {
            return Err(self.wrong("range"));
        }
        let (from, to) = (self.spec.encode_bound(from)?, self.spec.encode_bound(to)?);
        let timestamped = self.timestamped();
        let mut items = Vec::new();
        for instance in self.instances {
            let state = instance.open_state()?;
            let Data::KeyValue(kv) = &state.data else { return Err(self.wrong("range")) };
            items.extend(kv.range(from.as_deref(), to.as_deref(), backward).into_iter().map(|(k, v)| RawEntry {
                order: (0, k.clone(), 0),
                key: RawKey::Key(k),
                value: v.value,
                timestamp: timestamped.then_some(v.timestamp),
            }));
        }
        Ok(self.iter(items, backward))
    }

    /// Every entry, in key order.
    pub fn all(&self) -> Result<StoreIter, StoreError> {
        self.range(None, None, false)
    }

    /// The number of keys (exact, for these in-memory stores).
    pub fn approximate_num_entries(&self) -> Result<u64, StoreError> {
        let mut n = 0;
        for instance in self.instances {
            let state = instance.open_state()?;
            n += match &state.data {
                Data::KeyValue(kv) => kv.len(),
                Data::Versioned(v) => v.len(),
                _ => return Err(self.wrong("approximateNumEntries")),
            } as u64;
        }
        Ok(n)
    }

    // ---- versioned key-value --------------------------------------------------------------

    fn versioned_record(&self, raw: versioned::VersionedBytesRecord) -> Result<VersionedRecord, StoreError> {
        Ok(VersionedRecord { value: self.spec.decode_value(&raw.value)?, timestamp: raw.timestamp, valid_to: raw.valid_to })
    }

    /// The latest version (`as_of: None`) or the one valid at `as_of`.
    pub fn versioned_get(&self, key: &Value, as_of: Option<i64>) -> Result<Option<VersionedRecord>, StoreError> {
        if !matches!(self.spec.flavor, StoreFlavor::VersionedKeyValue { .. }) {
            return Err(self.wrong("get(key, asOfTimestamp)"));
        }
        let k = self.spec.encode_key(key)?;
        for instance in self.instances {
            let state = instance.open_state()?;
            let Data::Versioned(v) = &state.data else { return Err(self.wrong("get")) };
            let found = match as_of {
                None => v.get(&k),
                Some(t) => v.get_as_of(&k, t),
            };
            if let Some(raw) = found {
                drop(state);
                return self.versioned_record(raw).map(Some);
            }
        }
        Ok(None)
    }

    /// Puts a version (null: a tombstone); returns its `validTo`, [`PUT_VALID_TO_UNDEFINED`]
    /// when it is the latest, or [`PUT_NOT_PUT`] when it is older than the history retention.
    pub fn versioned_put(&self, key: &Value, value: Value, timestamp: i64) -> Result<i64, StoreError> {
        if !matches!(self.spec.flavor, StoreFlavor::VersionedKeyValue { .. }) {
            return Err(self.wrong("put(key, value, timestamp)"));
        }
        let k = self.spec.encode_key(key)?;
        let v = self.spec.encode_value(value)?;
        let home = self.home(&k, |d| matches!(d, Data::Versioned(s) if s.get(&k).is_some()));
        let mut state = home.open_state()?;
        let Data::Versioned(store) = &mut state.data else { return Err(self.wrong("put")) };
        let logged = self.spec.changelog.as_ref().map(|_| v.clone());
        let result = store.put(&k, v, timestamp);
        if let Some(v) = logged
            && result != PUT_NOT_PUT
        {
            state.log(self.spec, k, v, timestamp);
        }
        Ok(result)
    }

    /// Deletes at `timestamp` (a tombstone version); returns the version valid then.
    pub fn versioned_delete(&self, key: &Value, timestamp: i64) -> Result<Option<VersionedRecord>, StoreError> {
        if !matches!(self.spec.flavor, StoreFlavor::VersionedKeyValue { .. }) {
            return Err(self.wrong("delete(key, timestamp)"));
        }
        let k = self.spec.encode_key(key)?;
        let home = self.home(&k, |d| matches!(d, Data::Versioned(s) if s.get(&k).is_some()));
        let mut state = home.open_state()?;
        let Data::Versioned(store) = &mut state.data else { return Err(self.wrong("delete")) };
        let (found, done) = store.delete(&k, timestamp);
        if done {
            state.log(self.spec, k, None, timestamp);
        }
        drop(state);
        found.map(|raw| self.versioned_record(raw)).transpose()
    }

    // ---- window ---------------------------------------------------------------------------

    fn is_window(&self) -> bool {
        matches!(self.spec.flavor, StoreFlavor::Window { .. })
    }

    /// Puts `value` (null deletes) into the window starting at `window_start`; `timestamp` is
    /// kept by a timestamped window store.
    pub fn window_put(&self, key: &Value, value: Value, window_start: i64, timestamp: i64) -> Result<(), StoreError> {
        if !self.is_window() {
            return Err(self.wrong("put(key, value, windowStartTimestamp)"));
        }
        let k = self.spec.encode_key(key)?;
        let v = self.spec.encode_value(value)?;
        let home = self.home(&k, |_| false);
        let mut state = home.open_state()?;
        let Data::Window(w) = &mut state.data else { return Err(self.wrong("put")) };
        let logged = self.spec.changelog.as_ref().map(|_| v.clone());
        if let Some(seq) = w.put(&k, v.map(|value| StampedBytes { value, timestamp }), window_start)
            && let Some(v) = logged
        {
            let mut log_key = k;
            log_key.extend_from_slice(&window_start.to_be_bytes());
            log_key.extend_from_slice(&seq.to_be_bytes());
            let log_time = if self.timestamped() { timestamp } else { crate::time::now_ms() };
            state.log(self.spec, log_key, v, log_time);
        }
        Ok(())
    }

    /// The highest window start put so far (-1 before the first): Kafka Streams' observed
    /// stream time of a window store, the highest over all instances.
    pub fn window_stream_time(&self) -> Result<i64, StoreError> {
        if !self.is_window() {
            return Err(self.wrong("observedStreamTime"));
        }
        let mut time = -1;
        for instance in self.instances {
            let state = instance.open_state()?;
            if let Data::Window(w) = &state.data {
                time = time.max(w.observed_stream_time());
            }
        }
        Ok(time)
    }

    /// The value of `key` in the window starting exactly at `window_start`.
    pub fn window_fetch(&self, key: &Value, window_start: i64) -> Result<Option<Stamped>, StoreError> {
        if !self.is_window() {
            return Err(self.wrong("fetch(key, time)"));
        }
        let k = self.spec.encode_key(key)?;
        for instance in self.instances {
            let mut state = instance.open_state()?;
            let Data::Window(w) = &mut state.data else { return Err(self.wrong("fetch")) };
            if let Some(raw) = w.fetch(&k, window_start) {
                drop(state);
                return self.stamped(&raw).map(Some);
            }
        }
        Ok(None)
    }

    /// The windows of one key starting in `[time_from, time_to]`: entries keyed by window
    /// start.
    pub fn window_fetch_key(&self, key: &Value, time_from: i64, time_to: i64, backward: bool) -> Result<StoreIter, StoreError> {
        if !self.is_window() {
            return Err(self.wrong("fetch(key, timeFrom, timeTo)"));
        }
        let k = self.spec.encode_key(key)?;
        self.window_entries(Some(&k), Some(&k), time_from, time_to, backward, true)
    }

    /// The windows of keys in `[key_from, key_to]` (null: unbounded) starting in
    /// `[time_from, time_to]`: entries keyed by windowed key, in window start then key order.
    pub fn window_fetch_range(
        &self,
        key_from: Option<&Value>,
        key_to: Option<&Value>,
        time_from: i64,
        time_to: i64,
        backward: bool,
    ) -> Result<StoreIter, StoreError> {
        if !self.is_window() {
            return Err(self.wrong("fetch(keyFrom, keyTo, timeFrom, timeTo)"));
        }
        let (from, to) = (self.spec.encode_bound(key_from)?, self.spec.encode_bound(key_to)?);
        self.window_entries(from.as_deref(), to.as_deref(), time_from, time_to, backward, false)
    }

    fn window_entries(
        &self,
        from: Option<&[u8]>,
        to: Option<&[u8]>,
        time_from: i64,
        time_to: i64,
        backward: bool,
        by_start: bool,
    ) -> Result<StoreIter, StoreError> {
        let timestamped = self.timestamped();
        let mut items = Vec::new();
        for instance in self.instances {
            let mut state = instance.open_state()?;
            let Data::Window(w) = &mut state.data else { return Err(self.wrong("fetch")) };
            let size = w.window_size();
            items.extend(w.range(from, to, time_from, time_to, backward).into_iter().map(|e| RawEntry {
                order: (e.start, e.key.clone(), i64::from(e.seq)),
                key: if by_start {
                    RawKey::WindowStart(e.start)
                } else {
                    RawKey::Windowed { start: e.start, end: e.start.saturating_add(size), key: e.key }
                },
                value: e.value.value,
                timestamp: timestamped.then_some(e.value.timestamp),
            }));
        }
        Ok(self.iter(items, backward))
    }

    // ---- session --------------------------------------------------------------------------

    fn is_session(&self) -> bool {
        matches!(self.spec.flavor, StoreFlavor::Session { .. })
    }

    fn check_session(&self, start: i64, end: i64) -> Result<(), StoreError> {
        if start > end {
            return Err(StoreError::argument(format!(
                "state store '{}': invalid session window: start {start} is after end {end}",
                self.spec.name
            )));
        }
        Ok(())
    }

    fn session_log_key(mut k: Vec<u8>, start: i64, end: i64) -> Vec<u8> {
        k.extend_from_slice(&end.to_be_bytes());
        k.extend_from_slice(&start.to_be_bytes());
        k
    }

    /// Puts a session's value (null removes the session).
    pub fn session_put(&self, key: &Value, start: i64, end: i64, value: Value) -> Result<(), StoreError> {
        if !self.is_session() {
            return Err(self.wrong("put(sessionKey, aggregate)"));
        }
        self.check_session(start, end)?;
        let k = self.spec.encode_key(key)?;
        let v = self.spec.encode_value(value)?;
        let home = self.home(&k, |_| false);
        let mut state = home.open_state()?;
        let Data::Session(s) = &mut state.data else { return Err(self.wrong("put")) };
        let logged = self.spec.changelog.as_ref().map(|_| v.clone());
        if s.put(&k, start, end, v)
            && let Some(v) = logged
        {
            state.log(self.spec, Self::session_log_key(k, start, end), v, crate::time::now_ms());
        }
        Ok(())
    }

    /// Removes a session.
    pub fn session_remove(&self, key: &Value, start: i64, end: i64) -> Result<(), StoreError> {
        if !self.is_session() {
            return Err(self.wrong("remove(sessionKey)"));
        }
        self.check_session(start, end)?;
        let k = self.spec.encode_key(key)?;
        for instance in self.instances {
            let mut state = instance.open_state()?;
            let Data::Session(s) = &mut state.data else { return Err(self.wrong("remove")) };
            if s.remove(&k, start, end) {
                state.log(self.spec, Self::session_log_key(k.clone(), start, end), None, crate::time::now_ms());
            }
        }
        Ok(())
    }

    /// The value of the session of `key` with exactly this window.
    pub fn session_fetch(&self, key: &Value, start: i64, end: i64) -> Result<Option<Value>, StoreError> {
        if !self.is_session() {
            return Err(self.wrong("fetchSession"));
        }
        let k = self.spec.encode_key(key)?;
        for instance in self.instances {
            let mut state = instance.open_state()?;
            let Data::Session(s) = &mut state.data else { return Err(self.wrong("fetchSession")) };
            if let Some(raw) = s.fetch_session(&k, start, end) {
                drop(state);
                return self.spec.decode_value(&raw).map(Some);
            }
        }
        Ok(None)
    }

    /// The sessions of keys in `[key_from, key_to]` (null: unbounded) that end at or after
    /// `earliest_end` and start at or before `latest_start`.
    pub fn session_find(
        &self,
        key_from: Option<&Value>,
        key_to: Option<&Value>,
        earliest_end: i64,
        latest_start: i64,
        backward: bool,
    ) -> Result<StoreIter, StoreError> {
        if !self.is_session() {
            return Err(self.wrong("findSessions"));
        }
        let (from, to) = (self.spec.encode_bound(key_from)?, self.spec.encode_bound(key_to)?);
        let mut items = Vec::new();
        for instance in self.instances {
            let mut state = instance.open_state()?;
            let Data::Session(s) = &mut state.data else { return Err(self.wrong("findSessions")) };
            items.extend(s.find(from.as_deref(), to.as_deref(), earliest_end, latest_start, backward).into_iter().map(|e| RawEntry {
                order: (e.end, e.key.clone(), e.start),
                key: RawKey::Windowed { key: e.key, start: e.start, end: e.end },
                value: e.value,
                timestamp: None,
            }));
        }
        Ok(self.iter(items, backward))
    }

    /// The sessions of one key (null bounds: all keys) over all time.
    pub fn session_fetch_all_time(
        &self,
        key_from: Option<&Value>,
        key_to: Option<&Value>,
        backward: bool,
    ) -> Result<StoreIter, StoreError> {
        self.session_find(key_from, key_to, 0, i64::MAX, backward)
    }
}

/// A task's instances of every store of the application.
#[derive(Debug, Default)]
pub struct TaskStores {
    stores: Vec<Arc<StoreInstance>>,
}

impl TaskStores {
    /// A task's stores from instances (the runtime opens them with [`StateStores::open_task`]).
    pub fn new(stores: Vec<Arc<StoreInstance>>) -> TaskStores {
        TaskStores { stores }
    }

    pub fn get(&self, name: &str) -> Option<&Arc<StoreInstance>> {
        self.stores.iter().find(|s| s.spec.name == name)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<StoreInstance>> {
        self.stores.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.stores.is_empty()
    }

    /// Appends the changes of every instance to its changelog (partition = the instance's
    /// task). Returns the number of records written.
    pub fn flush_changelogs(&self, broker: &dyn Broker) -> Result<usize, BrokerError> {
        let mut written = 0;
        for store in &self.stores {
            let Some(topic) = &store.spec.changelog else { continue };
            let records = store.take_changelog();
            if !records.is_empty() {
                broker.append(topic, store.partition, &records)?;
                written += records.len();
            }
        }
        Ok(written)
    }
}

/// The store instances of an application, by store and task. They outlive a run, so a
/// caller can look at them afterwards (`weir test`), and a second run in the same process
/// reuses them rather than restoring.
#[derive(Debug, Default)]
pub struct StateStores {
    instances: Mutex<Vec<Arc<StoreInstance>>>,
}

impl StateStores {
    pub fn new() -> StateStores {
        StateStores::default()
    }

    /// The instances of `specs` for task `partition`: the existing ones, or new ones restored
    /// from their changelogs (created with `partitions` partitions if they do not exist).
    pub fn open_task(&self, specs: &[Arc<StoreSpec>], partition: u32, partitions: u32, broker: &dyn Broker) -> Result<TaskStores, String> {
        let mut stores = Vec::new();
        for spec in specs {
            let existing = self.lock().iter().find(|i| i.spec.name == spec.name && i.partition == partition).cloned();
            let instance = match existing {
                Some(i) => i,
                None => {
                    let instance = Arc::new(StoreInstance::new(Arc::clone(spec), partition));
                    if let Some(topic) = &spec.changelog {
                        let restored = restore(&instance, topic, partitions, broker)?;
                        if restored > 0 {
                            tracing::info!("state store '{}' of task {partition}: restored {restored} changes from '{topic}'", spec.name);
                        }
                    }
                    self.lock().push(Arc::clone(&instance));
                    instance
                }
            };
            stores.push(instance);
        }
        Ok(TaskStores { stores })
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Arc<StoreInstance>>> {
        self.instances.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Every instance of the store `name`, by task.
    pub fn instances(&self, name: &str) -> Vec<Arc<StoreInstance>> {
        let mut found: Vec<_> = self.lock().iter().filter(|i| i.spec.name == name).cloned().collect();
        found.sort_by_key(|i| i.partition);
        found
    }
}

/// Creates the changelog topic if needed and replays its partition into the instance.
fn restore(instance: &StoreInstance, topic: &str, partitions: u32, broker: &dyn Broker) -> Result<usize, String> {
    let partition = instance.partition;
    let config = instance.spec.flavor.changelog_config(partitions);
    let have = broker.ensure_topic_with(topic, &config).map_err(|e| format!("cannot create changelog topic '{topic}': {e}"))?;
    if partition >= have {
        return Err(format!("changelog topic '{topic}' has {have} partition(s), but the application has a task {partition}"));
    }
    let fail = |e: BrokerError| format!("cannot restore state store '{}' from '{topic}': {e}", instance.spec.name);
    let end = broker.end_offset(topic, partition).map_err(fail)?;
    let mut at = broker.start_offset(topic, partition).map_err(fail)?;
    let mut restored = 0;
    while at < end {
        let batch = broker.read(topic, partition, at, 1 << 20).map_err(fail)?;
        let Some(last) = batch.last().map(|r| r.offset) else { break };
        for record in batch.iter().filter(|r| r.offset >= at && r.offset < end) {
            instance.restore(record).map_err(|e| format!("changelog topic '{topic}' partition {partition}: {e}"))?;
            restored += 1;
        }
        at = last + 1;
    }
    Ok(restored)
}

thread_local! {
    static CURRENT: RefCell<Option<Arc<TaskStores>>> = const { RefCell::new(None) };
}

/// Restores the previous task context when dropped (also when the body panics).
struct Entered(Option<Arc<TaskStores>>);

impl Drop for Entered {
    fn drop(&mut self) {
        let previous = self.0.take();
        CURRENT.with(|c| *c.borrow_mut() = previous);
    }
}

/// Runs `body` with `stores` as the current task's stores (see [`current`]).
pub fn in_task<R>(stores: &Arc<TaskStores>, body: impl FnOnce() -> R) -> R {
    let previous = CURRENT.with(|c| c.borrow_mut().replace(Arc::clone(stores)));
    let _restore = Entered(previous);
    body()
}

/// The current task's instance of the store `name` (inside [`in_task`]).
pub fn current(name: &str) -> Result<Arc<StoreInstance>, StoreError> {
    CURRENT.with(|c| match c.borrow().as_ref() {
        Some(task) => task.get(name).cloned().ok_or_else(|| StoreError {
            kind: StoreErrorKind::Unavailable,
            message: format!("state store '{name}' does not exist in this application"),
        }),
        None => Err(StoreError {
            kind: StoreErrorKind::Unavailable,
            message: format!("state store '{name}' is only available while a stream task processes a record"),
        }),
    })
}

#[cfg(test)]
mod tests;
