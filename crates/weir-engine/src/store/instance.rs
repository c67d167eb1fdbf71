//! One task's instance of a store ([`StoreInstance`]): the byte-level store of its flavor,
//! its open/closed state, the changes not yet appended to the changelog, the owning
//! operation's stream time, and the replay of changelog records (restoring).

use std::fmt;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use super::keyvalue::{KeyValueBytes, StampedBytes};
use super::session::SessionBytes;
use super::versioned::VersionedBytes;
use super::window::WindowBytes;
use super::{StoreError, StoreErrorKind, StoreFlavor, StoreSpec};
use crate::broker::{NewRecord, StoredRecord};

#[derive(Debug)]
pub(super) enum Data {
    KeyValue(KeyValueBytes),
    Versioned(VersionedBytes),
    Window(WindowBytes),
    Session(SessionBytes),
}

#[derive(Debug)]
pub(super) struct State {
    open: bool,
    pub(super) data: Data,
    /// Changes not appended to the changelog yet.
    changelog: Vec<NewRecord>,
}

/// One task's instance of a store.
pub struct StoreInstance {
    pub(super) spec: Arc<StoreSpec>,
    pub(super) partition: u32,
    state: Mutex<State>,
    /// The observed stream time of the operation that owns the store (a windowed aggregation,
    /// a `suppress`), per task; restored with the store (the latest timestamp of its changes).
    pub(super) stream_time: AtomicI64,
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

    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the maps inconsistent in a way later
        // operations would trip over, so a poisoned lock is used as it is.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The state, checked to be open.
    pub(super) fn open_state(&self) -> Result<MutexGuard<'_, State>, StoreError> {
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
    pub(super) fn restore(&self, record: &StoredRecord) -> Result<(), String> {
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
    pub(super) fn log(&mut self, spec: &StoreSpec, key: Vec<u8>, value: Option<Vec<u8>>, timestamp: i64) {
        if spec.changelog.is_some() {
            self.changelog.push(NewRecord { timestamp, key: Some(key), value, headers: Vec::new() });
        }
    }
}
