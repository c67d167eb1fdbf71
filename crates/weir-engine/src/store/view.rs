//! [`StoreView`]: the typed operations of a store (KSML's store methods, per flavor) over
//! one task's instance or over all of a store's instances. Keys and values are encoded with
//! the store's codecs here; changes are logged on the instance that takes them.

use std::fmt;
use std::sync::Arc;

use super::entry::{RawEntry, RawKey};
use super::instance::Data;
use super::keyvalue::StampedBytes;
use super::versioned::{self, PUT_NOT_PUT};
use super::{Stamped, StoreError, StoreErrorKind, StoreFlavor, StoreInstance, StoreIter, StoreSpec, VersionedRecord};
use crate::partitioner::partition_for_key;
use crate::value::Value;

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

    /// A view over `instances` (at least one) of the store `spec`.
    pub(super) fn from_parts(spec: &'a Arc<StoreSpec>, instances: &'a [Arc<StoreInstance>]) -> StoreView<'a> {
        StoreView { spec, instances }
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
        let timestamped = self.timestamped();
        self.key_entries("range", from, to, backward, |data, from, to| match data {
            Data::KeyValue(kv) => {
                Some(kv.range(from, to, backward).into_iter().map(|(k, v)| (k, v.value, timestamped.then_some(v.timestamp))).collect())
            }
            _ => None,
        })
    }

    /// The entries of keys in `[from, to]` (null: unbounded) that `read` finds in each
    /// instance's data (key, value, timestamp; `None`: not this flavor), merged in key order.
    fn key_entries(
        &self,
        operation: &str,
        from: Option<&Value>,
        to: Option<&Value>,
        backward: bool,
        read: impl Fn(&Data, Option<&[u8]>, Option<&[u8]>) -> Option<Vec<(Vec<u8>, Vec<u8>, Option<i64>)>>,
    ) -> Result<StoreIter, StoreError> {
        let (from, to) = (self.spec.encode_bound(from)?, self.spec.encode_bound(to)?);
        let mut items = Vec::new();
        for instance in self.instances {
            let state = instance.open_state()?;
            let found = read(&state.data, from.as_deref(), to.as_deref()).ok_or_else(|| self.wrong(operation))?;
            items.extend(found.into_iter().map(|(k, value, timestamp)| RawEntry {
                order: (0, k.clone(), 0),
                key: RawKey::Key(k),
                value,
                timestamp,
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
        if !matches!(self.spec.flavor, StoreFlavor::KeyValue | StoreFlavor::TimestampedKeyValue | StoreFlavor::VersionedKeyValue { .. }) {
            return Err(self.wrong("approximateNumEntries"));
        }
        self.entry_count()
    }

    /// The number of entries of any kind of store: keys (key-value, versioned), windows of
    /// keys (window), sessions (session).
    pub fn entry_count(&self) -> Result<u64, StoreError> {
        let mut n = 0;
        for instance in self.instances {
            let state = instance.open_state()?;
            n += match &state.data {
                Data::KeyValue(kv) => kv.len(),
                Data::Versioned(v) => v.len(),
                Data::Window(w) => w.len(),
                Data::Session(s) => s.len(),
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

    /// The latest version (`as_of: None`) or the one valid at `as_of` of every key in
    /// `[from, to]` (null: unbounded), in key order; entries carry the version's timestamp.
    pub fn versioned_range(&self, from: Option<&Value>, to: Option<&Value>, as_of: Option<i64>) -> Result<StoreIter, StoreError> {
        if !matches!(self.spec.flavor, StoreFlavor::VersionedKeyValue { .. }) {
            return Err(self.wrong("range"));
        }
        self.key_entries("range", from, to, false, |data, from, to| match data {
            Data::Versioned(v) => Some(v.range(from, to, as_of).into_iter().map(|(k, r)| (k, r.value, Some(r.timestamp))).collect()),
            _ => None,
        })
    }

    /// Puts a version (null: a tombstone); returns its `validTo`, [`PUT_VALID_TO_UNDEFINED`](super::PUT_VALID_TO_UNDEFINED)
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
