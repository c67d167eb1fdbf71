//! The broker port: topics, records and consumer positions, in the engine's own terms.
//!
//! The runtime, the state stores and the producers reach topics only through [`Broker`].
//! Two adapters implement it, as siblings that the engine never names: the embedded log
//! (`weir-log`, a directory on local disk) and Apache Kafka (`weir-kafka`). The types here
//! say nothing about how either stores records:
//!
//! - [`NewRecord`] is a record to produce (the broker assigns its offset), [`StoredRecord`]
//!   one read back at its offset;
//! - [`TopicSpec`] is what a topic is created with (partitions, cleanup, retention), as
//!   Kafka's topic configs say it;
//! - [`BrokerError`] names the topic and partition a failure is about and its
//!   [`ErrorKind`], so the runtime can tell a missing topic from a broker that went away.
//!
//! [`memory::MemoryBroker`] is a broker held in memory, for the engine's own tests.

pub mod memory;

use std::fmt;
use std::time::Duration;

/// A record to produce. Offsets are assigned by the broker.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NewRecord {
    /// Milliseconds since the Unix epoch (the record's event time).
    pub timestamp: i64,
    /// `None` for a record without key.
    pub key: Option<Vec<u8>>,
    /// `None` is a tombstone (a delete, for compacted topics).
    pub value: Option<Vec<u8>>,
    /// Headers in order; keys may repeat, as in Kafka.
    pub headers: Vec<(String, Vec<u8>)>,
}

impl NewRecord {
    /// A record with a key and a value and no headers.
    pub fn new(timestamp: i64, key: Option<&[u8]>, value: Option<&[u8]>) -> NewRecord {
        NewRecord { timestamp, key: key.map(<[u8]>::to_vec), value: value.map(<[u8]>::to_vec), headers: Vec::new() }
    }

    /// The record as it reads back at `offset`.
    pub fn at_offset(&self, offset: u64) -> StoredRecord {
        StoredRecord { offset, timestamp: self.timestamp, key: self.key.clone(), value: self.value.clone(), headers: self.headers.clone() }
    }
}

/// A record read from a topic partition.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StoredRecord {
    /// Position in its partition; increasing, with gaps where compaction removed records
    /// (and, on Kafka, where transaction markers sit).
    pub offset: u64,
    /// Milliseconds since the Unix epoch.
    pub timestamp: i64,
    /// `None` for a record without key.
    pub key: Option<Vec<u8>>,
    /// `None` is a tombstone.
    pub value: Option<Vec<u8>>,
    /// Headers in order.
    pub headers: Vec<(String, Vec<u8>)>,
}

/// What happens to a topic's old records, as Kafka's `cleanup.policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CleanupPolicy {
    /// Delete old records past `retention.ms` / `retention.bytes`.
    #[default]
    Delete,
    /// Keep the latest record per key; no retention.
    Compact,
    /// Both (`compact,delete`), e.g. for windowed changelogs.
    CompactDelete,
}

impl CleanupPolicy {
    /// Kafka's spelling: `delete`, `compact`, `compact,delete`.
    pub fn as_str(self) -> &'static str {
        match self {
            CleanupPolicy::Delete => "delete",
            CleanupPolicy::Compact => "compact",
            CleanupPolicy::CompactDelete => "compact,delete",
        }
    }

    /// Reads Kafka's spelling (also `delete,compact`).
    pub fn parse(s: &str) -> Option<CleanupPolicy> {
        match s.trim() {
            "delete" => Some(CleanupPolicy::Delete),
            "compact" => Some(CleanupPolicy::Compact),
            "compact,delete" | "delete,compact" => Some(CleanupPolicy::CompactDelete),
            _ => None,
        }
    }

    /// Whether compaction rewrites this topic (and records need keys).
    pub fn compacts(self) -> bool {
        matches!(self, CleanupPolicy::Compact | CleanupPolicy::CompactDelete)
    }

    /// Whether retention deletes old records.
    pub fn deletes(self) -> bool {
        matches!(self, CleanupPolicy::Delete | CleanupPolicy::CompactDelete)
    }
}

/// What a topic is created with. Storage details (segment sizes, files) are the adapter's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicSpec {
    /// Number of partitions (at least 1).
    pub partitions: u32,
    /// `cleanup.policy`.
    pub cleanup: CleanupPolicy,
    /// `retention.ms`; `None` keeps records forever (Kafka's `-1`); `Some` of the default
    /// is what a topic gets when nothing is said (7 days, as Kafka).
    pub retention_ms: Option<u64>,
    /// `min.compaction.lag.ms`, for compacted topics that must keep recent history
    /// (versioned stores' changelogs).
    pub min_compaction_lag_ms: Option<u64>,
}

/// Kafka's default `retention.ms`: 7 days.
pub const DEFAULT_RETENTION_MS: u64 = 7 * 24 * 3600 * 1000;

impl Default for TopicSpec {
    fn default() -> TopicSpec {
        TopicSpec { partitions: 1, cleanup: CleanupPolicy::Delete, retention_ms: Some(DEFAULT_RETENTION_MS), min_compaction_lag_ms: None }
    }
}

impl TopicSpec {
    /// The default spec with `partitions` partitions.
    pub fn with_partitions(partitions: u32) -> TopicSpec {
        TopicSpec { partitions, ..TopicSpec::default() }
    }
}

/// What kind of failure a [`BrokerError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// No topic of that name.
    UnknownTopic,
    /// Creating a topic that exists.
    TopicExists,
    /// A topic name or config the broker refuses.
    InvalidTopic,
    /// A partition outside the topic's partitions.
    PartitionOutOfRange,
    /// A record the broker refuses (too large, no key for a compacted topic).
    InvalidRecord,
    /// The broker cannot be reached or is not ready; the same call may work later.
    Unavailable,
    /// Another instance took over this work (a fenced transactional producer, a lost
    /// group membership): what this one did since its last commit does not count.
    Fenced,
    /// Local storage failed or holds damaged data (the embedded log's files).
    Storage,
    /// Anything else the broker reported.
    Other,
}

/// A broker failure: what it is about (topic, partition), its kind, and the broker's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerError {
    pub kind: ErrorKind,
    pub topic: Option<String>,
    pub partition: Option<u32>,
    pub message: String,
}

impl BrokerError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> BrokerError {
        BrokerError { kind, topic: None, partition: None, message: message.into() }
    }

    /// The same error, about `topic` (and `partition`).
    pub fn at(mut self, topic: &str, partition: Option<u32>) -> BrokerError {
        self.topic = Some(topic.to_string());
        self.partition = partition;
        self
    }

    /// Whether retrying the same call later may succeed.
    pub fn is_transient(&self) -> bool {
        self.kind == ErrorKind::Unavailable
    }
}

impl fmt::Display for BrokerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The message already names the topic when the adapter put it there; say it only
        // when it does not.
        match (&self.topic, self.partition) {
            (Some(topic), Some(p)) if !self.message.contains(topic.as_str()) => write!(f, "{topic}/{p}: {}", self.message),
            (Some(topic), None) if !self.message.contains(topic.as_str()) => write!(f, "topic '{topic}': {}", self.message),
            _ => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for BrokerError {}

/// Result with [`BrokerError`].
pub type Result<T, E = BrokerError> = std::result::Result<T, E>;

/// Topics, records and consumer positions, as the runtime uses them.
pub trait Broker: Send + Sync {
    /// Where the records are, for the first log line of a run: "embedded log at <dir>",
    /// "Kafka at <bootstrap servers>".
    fn describe(&self) -> String;
    /// The number of partitions of a topic, creating it with `partitions_if_new` partitions
    /// and the default spec when it does not exist (Kafka's auto-creation).
    fn ensure_topic(&self, topic: &str, partitions_if_new: u32) -> Result<u32> {
        self.ensure_topic_with(topic, &TopicSpec::with_partitions(partitions_if_new.max(1)))
    }
    /// As [`Broker::ensure_topic`], creating the topic with `spec` when it does not exist:
    /// for internal topics such as state store changelogs. An existing topic is left as it is.
    fn ensure_topic_with(&self, topic: &str, spec: &TopicSpec) -> Result<u32>;
    /// Appends records to a partition, in order.
    fn append(&self, topic: &str, partition: u32, records: &[NewRecord]) -> Result<()>;
    /// Records from offset `from` on, up to about `max_bytes` of keys and values (at least
    /// one record when there is one). Reading below the start reads from the start.
    fn read(&self, topic: &str, partition: u32, from: u64, max_bytes: usize) -> Result<Vec<StoredRecord>>;
    /// The first offset still held.
    fn start_offset(&self, topic: &str, partition: u32) -> Result<u64>;
    /// The offset the next record will get.
    fn end_offset(&self, topic: &str, partition: u32) -> Result<u64>;
    /// Blocks until `offset` exists in the partition or `timeout` passes.
    fn wait_for(&self, topic: &str, partition: u32, offset: u64, timeout: Duration) -> Result<bool>;
    /// Makes everything appended so far durable (fsync; on Kafka, acknowledged).
    fn sync(&self) -> Result<()>;
    /// Commits consumer positions of `group` (the next offset to read) atomically.
    fn commit(&self, group: &str, offsets: &[(&str, u32, u64)]) -> Result<()>;
    /// The committed position of `group` in a partition, if any.
    fn committed(&self, group: &str, topic: &str, partition: u32) -> Result<Option<u64>>;
}
