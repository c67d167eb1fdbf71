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
//! Work is shared as Kafka shares it: each stream thread joins the application's consumer
//! group ([`Broker::join_group`]) and is told which partitions of the input topics are its own
//! ([`GroupMember`]); partition *p* of every input is task *p*. Before partitions are taken
//! away, the member makes the outputs durable and commits the positions the thread reached,
//! so no record is processed by two owners past a commit. The embedded log is a group of one
//! process whose threads share the partitions out in a fixed way.
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
    /// Where the records are, for the first log line of a run: `embedded log at <dir>`,
    /// `Kafka at <bootstrap servers>`.
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
    /// As [`Broker::read`], but only what is at hand: never waits for the network. A stream
    /// thread reads its inputs so, and waits for any of them with [`Broker::wait_any`];
    /// restores, which must know where a partition ends, use [`Broker::read`]. The default is
    /// [`Broker::read`] (the embedded log and the memory broker never wait).
    fn read_ready(&self, topic: &str, partition: u32, from: u64, max_bytes: usize) -> Result<Vec<StoredRecord>> {
        self.read(topic, partition, from, max_bytes)
    }
    /// Blocks until one of `positions` (topic, partition, next offset to read) may have a
    /// record to read, or `timeout` passes (a wake-up with nothing to read is allowed). The
    /// default waits on each position in turn with [`Broker::wait_for`], in equal slices of
    /// `timeout` (at least 1 ms), and sleeps out the rest when there are none.
    fn wait_any(&self, positions: &[(&str, u32, u64)], timeout: Duration) -> Result<()> {
        let deadline = std::time::Instant::now() + timeout;
        let slice = (timeout / u32::try_from(positions.len().max(1)).unwrap_or(u32::MAX)).max(Duration::from_millis(1));
        for (topic, partition, offset) in positions {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() || self.wait_for(topic, *partition, *offset, slice.min(left))? {
                return Ok(());
            }
        }
        std::thread::sleep(deadline.saturating_duration_since(std::time::Instant::now()));
        Ok(())
    }
    /// The first offset still held.
    fn start_offset(&self, topic: &str, partition: u32) -> Result<u64>;
    /// The offset the next record will get.
    fn end_offset(&self, topic: &str, partition: u32) -> Result<u64>;
    /// Blocks until `offset` exists in the partition or `timeout` passes.
    fn wait_for(&self, topic: &str, partition: u32, offset: u64, timeout: Duration) -> Result<bool>;
    /// Says that the records of a partition below `offset` are no longer needed (a
    /// repartition topic's, consumed and committed: Kafka Streams purges them so); the broker
    /// deletes what it can of them, now or soon. The default keeps them (the memory broker).
    fn delete_before(&self, topic: &str, partition: u32, offset: u64) -> Result<()> {
        let _ = (topic, partition, offset);
        Ok(())
    }
    /// Makes everything appended so far durable (fsync; on Kafka, acknowledged).
    fn sync(&self) -> Result<()>;
    /// Commits consumer positions of `group` (the next offset to read) atomically.
    fn commit(&self, group: &str, offsets: &[(&str, u32, u64)]) -> Result<()>;
    /// The committed position of `group` in a partition, if any.
    fn committed(&self, group: &str, topic: &str, partition: u32) -> Result<Option<u64>>;
    /// Joins `group` as one member reading `topics` (a stream thread: `member` of the
    /// process's `members` threads). What the member owns arrives through
    /// [`GroupMember::poll`]. The default is a static group: thread `member` owns the
    /// partition numbers `p` with `p % members == member` of every topic, from the start,
    /// for good (the embedded log and the memory broker, where one process owns everything).
    fn join_group(&self, group: &str, topics: &[String], member: usize, members: usize) -> Result<Box<dyn GroupMember>> {
        let mut owned = Vec::new();
        for topic in topics {
            let partitions = self.ensure_topic(topic, 1)?;
            owned.extend((0..partitions).filter(|p| *p as usize % members.max(1) == member).map(|p| (topic.clone(), p)));
        }
        Ok(Box::new(StaticMember { group: group.to_string(), pending: Some(owned) }))
    }
    /// Who owns which partitions in `group` now, and the endpoint each member advertised,
    /// as the group's coordinator says: for routing queries between the processes of an
    /// application. `None` (the default) means the group is this process alone, which owns
    /// every partition (the embedded log, the memory broker).
    fn group_owners(&self, group: &str) -> Result<Option<GroupOwners>> {
        let _ = group;
        Ok(None)
    }
}

/// A consumer group's members and their partitions, as [`Broker::group_owners`] reports it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GroupOwners {
    /// Whether the group is settled: every member holds its assignment and no rebalance is
    /// under way. While it is not, the assignments below may be stale or empty.
    pub stable: bool,
    /// The group's state in the broker's words (`Stable`, `PreparingRebalance`, …), for
    /// messages.
    pub state: String,
    pub members: Vec<GroupOwner>,
    /// The partition count of each topic the members are assigned partitions of, from the
    /// cluster's metadata: a partition no member has is a partition without an owner.
    pub partitions: Vec<(String, u32)>,
}

/// One member of a group (a stream thread of some process).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GroupOwner {
    /// The member's id in the group, for messages.
    pub member: String,
    /// The endpoint its process advertised (its REST API's base URL, `http://host:port`),
    /// if it advertised one.
    pub endpoint: Option<String>,
    /// The (topic, partition)s assigned to it.
    pub partitions: Vec<(String, u32)>,
}

impl GroupOwners {
    /// The member owning `partition` of `topic`, if any.
    pub fn owner(&self, topic: &str, partition: u32) -> Option<&GroupOwner> {
        self.members.iter().find(|m| m.partitions.iter().any(|(t, p)| t == topic && *p == partition))
    }

    /// The partition count of `topic`, if the group reads it.
    pub fn partition_count(&self, topic: &str) -> Option<u32> {
        self.partitions.iter().find(|(t, _)| t == topic).map(|(_, n)| *n)
    }
}

/// How a member's partitions changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Assignment {
    /// These (topic, partition)s are now the member's: open their tasks (restoring state)
    /// and read from the committed positions.
    Assigned(Vec<(String, u32)>),
    /// These are no longer the member's. Their positions were committed (with the outputs
    /// made durable first) unless the membership was lost; close their tasks.
    Revoked(Vec<(String, u32)>),
}

/// One member of a consumer group: a stream thread's view of which partitions it owns.
pub trait GroupMember: Send {
    /// Called by the stream thread between batches, when every output of the records before
    /// `positions` (the next offset to read, per owned partition) has been appended. Returns
    /// the changes of ownership since the last call, oldest first; before returning a
    /// revocation the member has made the outputs durable and committed `positions` of the
    /// revoked partitions. Waits at most `timeout` for something to happen.
    fn poll(&mut self, positions: &[(&str, u32, u64)], timeout: Duration) -> Result<Vec<Assignment>>;
    /// Makes every output appended so far (to `broker`, the one the member joined through)
    /// durable, then commits `positions` as this member. Fails with [`ErrorKind::Fenced`]
    /// when the group has moved on without it.
    fn commit(&mut self, broker: &dyn Broker, positions: &[(&str, u32, u64)]) -> Result<()>;
    /// Where the thread appends its outputs, changelog records and dead letters, when not
    /// through the broker itself: under exactly-once, a Kafka member's transactional
    /// producer, so that they and the positions of [`GroupMember::commit`] are committed
    /// together or not at all. Asked once, when the thread starts.
    fn writer(&self) -> Option<std::sync::Arc<dyn Broker>> {
        None
    }
}

/// The static membership of [`Broker::join_group`]'s default: everything assigned at the
/// first poll, nothing ever revoked; commits go straight to the broker.
struct StaticMember {
    group: String,
    pending: Option<Vec<(String, u32)>>,
}

impl GroupMember for StaticMember {
    fn poll(&mut self, _positions: &[(&str, u32, u64)], timeout: Duration) -> Result<Vec<Assignment>> {
        match self.pending.take() {
            Some(owned) => Ok(vec![Assignment::Assigned(owned)]),
            None => {
                let _ = timeout;
                Ok(Vec::new())
            }
        }
    }

    fn commit(&mut self, broker: &dyn Broker, positions: &[(&str, u32, u64)]) -> Result<()> {
        broker.sync()?;
        if positions.is_empty() { Ok(()) } else { broker.commit(&self.group, positions) }
    }
}
