//! A store as planned ([`StoreSpec`]): its flavor ([`StoreFlavor`], KSML's mapping of a
//! store definition onto Kafka Streams' builders), its types and codecs (keys and values are
//! converted to the declared types, then encoded), and its changelog topic.

use std::fmt;
use std::sync::Arc;

use weir_dsl::model::{StoreDef, StoreKind};
use weir_dsl::types::{TypeKind, UserType};

use super::{StoreError, untyped};
use crate::broker::{CleanupPolicy, TopicSpec};
use crate::notation::{Codec, Notations, Target};
use crate::value::{Value, convert};

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
    pub(super) fn changelog_config(self, partitions: u32) -> TopicSpec {
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

    pub(super) fn encode_key(&self, key: &Value) -> Result<Vec<u8>, StoreError> {
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
    pub(super) fn encode_bound(&self, key: Option<&Value>) -> Result<Option<Vec<u8>>, StoreError> {
        match key {
            None | Some(Value::Null) => Ok(None),
            Some(k) => self.encode_key(k).map(Some),
        }
    }

    pub(super) fn encode_value(&self, value: Value) -> Result<Option<Vec<u8>>, StoreError> {
        let converted = convert(value, &self.value_type)
            .map_err(|e| StoreError::argument(format!("state store '{}': the value does not fit '{}': {e}", self.name, self.value_type)))?;
        self.value
            .encode(&converted)
            .map_err(|e| StoreError::argument(format!("state store '{}': cannot encode the value: {e}", self.name)))
    }

    pub(super) fn decode_key(&self, bytes: &[u8]) -> Result<Value, StoreError> {
        let v =
            self.key.decode(Some(bytes)).map_err(|e| StoreError::data(format!("state store '{}': cannot decode a key: {e}", self.name)))?;
        convert(v, &self.key_type)
            .map_err(|e| StoreError::data(format!("state store '{}': a stored key does not fit '{}': {e}", self.name, self.key_type)))
    }

    pub(super) fn decode_value(&self, bytes: &[u8]) -> Result<Value, StoreError> {
        let v = self
            .value
            .decode(Some(bytes))
            .map_err(|e| StoreError::data(format!("state store '{}': cannot decode a value: {e}", self.name)))?;
        convert(v, &self.value_type)
            .map_err(|e| StoreError::data(format!("state store '{}': a stored value does not fit '{}': {e}", self.name, self.value_type)))
    }
}
