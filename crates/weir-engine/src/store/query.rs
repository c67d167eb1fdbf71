//! [`StoreQueries`]: read-only access to a running application's state stores from outside
//! the runtime (the REST API of `weir run`). It knows every store the topology plans (so it
//! can tell a store that does not exist from one whose instances are not open yet) and hands
//! out [`ReadOnlyStore`]s: the read operations of [`StoreView`] over the instances this
//! process holds, nothing that writes. Keys given as text are brought to the store's key
//! type here ([`ReadOnlyStore::key_from_text`]).
//!
//! What a query sees is what this process holds: on the embedded log that is every task; on
//! Kafka, the tasks of the partitions the group gave this process.

use std::sync::Arc;

use super::VersionedRecord;
use super::{Entry, Stamped, StateStores, StoreError, StoreErrorKind, StoreFlavor, StoreInstance, StoreIter, StoreSpec, StoreView};
use crate::value::{Value, convert};

/// Why a store cannot be queried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryError {
    /// No store of that name in the application.
    Unknown(String),
    /// The store exists, but no instance of it is open in this process (yet).
    NotReady(String),
}

impl std::fmt::Display for QueryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            QueryError::Unknown(name) => write!(f, "no state store named '{name}'"),
            QueryError::NotReady(name) => write!(f, "state store '{name}' has no open instance in this process yet"),
        }
    }
}

/// The stores of an application, for queries.
#[derive(Debug, Clone)]
pub struct StoreQueries {
    specs: Vec<Arc<StoreSpec>>,
    stores: Arc<StateStores>,
}

impl StoreQueries {
    /// Queries over `stores`, which hold instances of the stores `specs` (a topology's
    /// stores and its global tables' stores).
    pub fn new(specs: Vec<Arc<StoreSpec>>, stores: Arc<StateStores>) -> StoreQueries {
        StoreQueries { specs, stores }
    }

    /// Every store the application has, in plan order.
    pub fn specs(&self) -> &[Arc<StoreSpec>] {
        &self.specs
    }

    /// The store `name`, over the instances this process holds now.
    pub fn store(&self, name: &str) -> Result<ReadOnlyStore, QueryError> {
        let Some(spec) = self.specs.iter().find(|s| s.name == name) else { return Err(QueryError::Unknown(name.to_string())) };
        let instances = self.stores.instances(name);
        if instances.is_empty() {
            return Err(QueryError::NotReady(name.to_string()));
        }
        Ok(ReadOnlyStore { spec: Arc::clone(spec), instances })
    }

    /// The store `name` over the instances this process holds now, which may be none (its
    /// tasks are elsewhere, or not open yet): for a caller that asks other processes too.
    pub fn held(&self, name: &str) -> Result<ReadOnlyStore, QueryError> {
        let Some(spec) = self.specs.iter().find(|s| s.name == name) else { return Err(QueryError::Unknown(name.to_string())) };
        Ok(ReadOnlyStore { spec: Arc::clone(spec), instances: self.stores.instances(name) })
    }
}

/// The read operations of one store over the instances this process holds.
#[derive(Debug)]
pub struct ReadOnlyStore {
    spec: Arc<StoreSpec>,
    instances: Vec<Arc<StoreInstance>>,
}

impl ReadOnlyStore {
    fn view(&self) -> StoreView<'_> {
        StoreView::from_parts(&self.spec, &self.instances)
    }

    pub fn spec(&self) -> &StoreSpec {
        &self.spec
    }

    pub fn flavor(&self) -> StoreFlavor {
        self.spec.flavor
    }

    /// The tasks (partition numbers) whose instances this process holds, open and restored,
    /// in order.
    pub fn tasks(&self) -> Vec<u32> {
        self.instances.iter().filter(|i| i.is_open()).map(|i| i.partition()).collect()
    }

    /// A key given as text, as the store's key type: the text itself when the type takes it
    /// (strings, numbers, booleans and enums convert from text), else the text read as
    /// JSON (a struct, a list). A key that fits neither way is an argument error naming the
    /// key type.
    pub fn key_from_text(&self, text: &str) -> Result<Value, StoreError> {
        let ty = &self.spec.key_type;
        if let Ok(key) = convert(Value::String(text.to_string()), ty) {
            return Ok(key);
        }
        let parsed = crate::notation::json::from_slice(text.as_bytes());
        match parsed.map(|v| convert(v, ty)) {
            Ok(Ok(key)) if key != Value::Null => Ok(key),
            Ok(Err(e)) => Err(StoreError::argument(format!(
                "state store '{}': the key '{text}' does not fit its key type '{ty}': {e}",
                self.spec.name
            ))),
            _ => Err(StoreError::argument(format!(
                "state store '{}': the key '{text}' does not fit its key type '{ty}' (give the key as text, or as JSON for structured keys)",
                self.spec.name
            ))),
        }
    }

    /// A key-value store's value of `key` (with its timestamp in a timestamped store), or a
    /// versioned store's latest version.
    pub fn get(&self, key: &Value) -> Result<Option<Stamped>, StoreError> {
        match self.spec.flavor {
            StoreFlavor::VersionedKeyValue { .. } => {
                Ok(self.view().versioned_get(key, None)?.map(|r| Stamped { value: r.value, timestamp: r.timestamp }))
            }
            _ => self.view().get(key),
        }
    }

    /// A versioned store's version of `key` valid at `as_of` (the latest with `None`).
    pub fn get_versioned(&self, key: &Value, as_of: Option<i64>) -> Result<Option<VersionedRecord>, StoreError> {
        self.view().versioned_get(key, as_of)
    }

    /// The entries of a key-value store with keys in `[from, to]` (null: unbounded), in the
    /// store's key order; for a versioned store, the versions valid at `as_of` (the latest
    /// with `None`).
    pub fn range(&self, from: Option<&Value>, to: Option<&Value>, as_of: Option<i64>) -> Result<StoreIter, StoreError> {
        match self.spec.flavor {
            StoreFlavor::VersionedKeyValue { .. } => self.view().versioned_range(from, to, as_of),
            _ if as_of.is_some() => Err(StoreError {
                kind: StoreErrorKind::WrongKind,
                message: format!("state store '{}' is a {} store, which has no versions", self.spec.name, self.spec.flavor.noun()),
            }),
            _ => self.view().range(from, to, false),
        }
    }

    /// The windows of a window store for keys in `[from, to]` (null: unbounded) starting in
    /// `[time_from, time_to]`, in window start then key order.
    pub fn windows(&self, from: Option<&Value>, to: Option<&Value>, time_from: i64, time_to: i64) -> Result<StoreIter, StoreError> {
        self.view().window_fetch_range(from, to, time_from, time_to, false)
    }

    /// The sessions of a session store for keys in `[from, to]` (null: unbounded) that end
    /// at or after `earliest_end` and start at or before `latest_start`.
    pub fn sessions(
        &self,
        from: Option<&Value>,
        to: Option<&Value>,
        earliest_end: i64,
        latest_start: i64,
    ) -> Result<StoreIter, StoreError> {
        self.view().session_find(from, to, earliest_end, latest_start, false)
    }

    /// The number of entries (keys, windows or sessions).
    pub fn entry_count(&self) -> Result<u64, StoreError> {
        self.view().entry_count()
    }
}

/// An iterated entry's key as a plain value and its window (start, end), if it has one.
pub fn split_windowed(entry: &Entry) -> (Value, Option<(i64, i64)>) {
    match &entry.key {
        super::EntryKey::Key(k) => (k.clone(), None),
        super::EntryKey::WindowStart(t) => (Value::Long(*t), None),
        super::EntryKey::Windowed { key, start, end } => (key.clone(), Some((*start, *end))),
    }
}
