//! The embedded log: Kafka's model (topics, partitions, offsets, consumer positions,
//! retention, compaction) in a local directory, for running without a broker. It implements
//! the engine's broker port ([`weir_engine::broker::Broker`], in `broker/mod.rs`) for a group of
//! one process, and its records are the port's ([`NewRecord`], [`StoredRecord`]).
//!
//! # API
//!
//! - [`Log::open`]`(dir)` → `(Log, Vec<RecoveryEvent>)`: takes the directory's lock, recovers
//!   torn tails and interrupted compactions (each repair is a [`RecoveryEvent`] for the caller
//!   to log) and fails with [`LogError::Corrupt`] on damage it may not repair silently.
//! - Topics: [`Log::create_topic`], [`Log::topic`] (its [`TopicConfig`]), [`Log::topics`].
//! - Records: [`Log::append`] (a batch; returns the first offset), [`Log::read`] (from an
//!   offset, up to `max_bytes`), [`Log::start_offset`], [`Log::end_offset`] (the next offset to
//!   be written), [`Log::wait_for`] (block until an offset exists or a timeout passes),
//!   [`Log::segments`].
//! - Consumer positions: [`Log::commit`] (atomic per call), [`Log::committed`],
//!   [`Log::committed_all`].
//! - Durability and cleanup: [`Log::sync`] (fsync; call it at commit), [`Log::enforce_retention`]
//!   and [`Log::compact`], both given `now_ms` so that tests and the runtime control the clock.
//!
//! `Log` is `Send + Sync`; share it in an `Arc`. Each partition has its own locks (see
//! `partition.rs`): appends to different partitions and reads run in parallel.
//!
//! # Semantics
//!
//! - Offsets are per partition, dense from 0. `start_offset` rises when retention deletes
//!   segments; compaction leaves gaps, which reads skip. Reading below the start offset reads
//!   from it (compare with [`Log::start_offset`] to apply an offset reset policy); reading at or
//!   past the end returns nothing.
//! - `max_bytes` counts [`StoredRecord::size_bytes`] (a record's size on disk); the first record
//!   is returned whatever its size, so a read never stalls on a big record.
//! - `append` hands the bytes to the OS (they survive a crash of the process, not of the
//!   machine); [`Log::sync`] makes everything appended so far durable. A closed segment is
//!   fsynced when the next one starts. Each 4 MiB appended to a partition are also handed
//!   to a background thread that starts writing them to disk (`writeback.rs`), so a sync
//!   finds little left to write; that changes no guarantee, and a failure of that writeback
//!   fails the partition's next sync. An append that fails part way may have appended a
//!   prefix of its batch.
//! - Retention ([`CleanupPolicy::Delete`] and `CompactDelete`): the oldest closed segments go
//!   while their newest timestamp is older than `retention.ms` before `now`, then while the
//!   partition without them still holds at least `retention.bytes` (Kafka's rule). The active
//!   segment is never deleted.
//! - Compaction ([`CleanupPolicy::Compact`] and `CompactDelete`) looks at the closed segments
//!   only: a keyed record stays if it is the latest of its key among them, except a tombstone
//!   (null value) whose timestamp is more than `delete.retention.ms` (default 1 day) before
//!   `now`: it has done its job and goes too. Offsets are kept; neighbouring segments whose
//!   survivors fit in `segment.bytes` are merged into one file named by the first one's base,
//!   so the start offset does not move. Compacted topics refuse records without key. Each call
//!   rereads all closed segments (no dirty-ratio bookkeeping yet).
//! - One process at a time: `<dir>/.lock` is locked with `File::try_lock` (released by the OS
//!   when the process dies, so a crash leaves no stale lock). A second `Log::open` of the same
//!   directory, in this process or another, fails with [`LogError::Locked`].
//!
//! # On disk
//!
//! ```text
//! <dir>/.lock                                 lock file (holds the pid of the holder)
//! <dir>/topics/<topic>/topic.properties        partitions, cleanup.policy, retention.ms, …
//! <dir>/topics/<topic>/<partition>/<base>.log  segments; <base> = first offset, 20 digits
//! <dir>/groups/<group>.offsets                 committed positions of a consumer group
//! ```
//!
//! A segment is a sequence of frames, all integers little-endian:
//!
//! | bytes | field |
//! |---|---|
//! | 4 | `len`: body length in bytes (29 ..= 64 MiB) |
//! | 4 | CRC32 (IEEE, as `crc32fast`) of the body |
//! | 1 | body: format version, 1 |
//! | 8 | offset, `u64` |
//! | 8 | timestamp, `i64` milliseconds since the epoch |
//! | 4 + n | key: `i32` length (−1 = null) and bytes |
//! | 4 + n | value: `i32` length (−1 = null, a tombstone) and bytes |
//! | 4 | header count, `u32` |
//! | per header | `u32` key length, UTF-8 key, `u32` value length, value bytes |
//!
//! Small files (`topic.properties`, `*.offsets`) are text, replaced atomically (temp file,
//! fsync, rename, fsync of the directory). Compaction's temporary files are
//! `<base>-<end>.cleaned` and `<base>-<end>.swap` (see `partition.rs`).
//!
//! # Recovery
//!
//! On open every segment is read and every frame's CRC checked, which also rebuilds the sparse
//! in-memory index (one entry per 4 KiB). In the last segment of a partition, a bad frame
//! (cut short, or a CRC mismatch) with no valid frame after it is a torn write: the file is
//! cut back to the last good record and a [`RecoveryEvent::TruncatedTornTail`] reported. A
//! bad frame with valid frames after it, or any bad frame in a closed segment, is
//! [`LogError::Corrupt`] naming the file and byte position: truncating would silently drop
//! records that may have been acknowledged. Reads check CRCs again and report damage the
//! same way.

mod broker;
mod error;
mod fsutil;
mod offsets;
mod partition;
mod record;
mod segment;
mod topic;
mod writeback;

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

pub use error::{LogError, RecoveryEvent, Result};
pub use partition::CleanupStats;
pub use record::{FrameSize, MAX_RECORD_BYTES, NewRecord, StoredRecord};
pub use segment::SegmentInfo;
pub use topic::{CleanupPolicy, MAX_PARTITIONS, TopicConfig};

use error::io_err;
use offsets::Offsets;
use partition::Partition;
use topic::{PROPERTIES, Topic};

/// The embedded log in one directory. See the [crate documentation](crate).
pub struct Log {
    dir: PathBuf,
    _lock: File,
    topics: RwLock<BTreeMap<String, Arc<Topic>>>,
    offsets: Mutex<Offsets>,
}

impl std::fmt::Debug for Log {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Log").field("dir", &self.dir).finish_non_exhaustive()
    }
}

fn lock_dir(dir: &Path) -> Result<File> {
    let path = dir.join(".lock");
    let mut file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path).map_err(io_err("open", &path))?;
    match file.try_lock() {
        Ok(()) => {
            let pid = std::process::id().to_string();
            file.set_len(0).and_then(|()| file.write_all(pid.as_bytes())).map_err(io_err("write", &path))?;
            Ok(file)
        }
        Err(TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.rewind().and_then(|()| file.read_to_string(&mut holder));
            let holder = match holder.trim() {
                "" => String::new(),
                pid => format!(" (process {pid})"),
            };
            Err(LogError::Locked { dir: dir.to_path_buf(), holder })
        }
        Err(TryLockError::Error(e)) => Err(LogError::Io { op: "lock", path, source: e }),
    }
}

/// Whether `dir` holds any file (a segment or anything else) below it.
fn has_files(dir: &Path) -> Result<bool> {
    for entry in fs::read_dir(dir).map_err(io_err("list", dir))? {
        let entry = entry.map_err(io_err("list", dir))?;
        let path = entry.path();
        if !path.is_dir() || has_files(&path)? {
            return Ok(true);
        }
    }
    Ok(false)
}

impl Log {
    /// Opens (creating if needed) the log in `dir`; see the module doc for what recovery does.
    pub fn open(dir: impl AsRef<Path>) -> Result<(Log, Vec<RecoveryEvent>)> {
        let dir = dir.as_ref().to_path_buf();
        fs::create_dir_all(&dir).map_err(io_err("create directory", &dir))?;
        let lock = lock_dir(&dir)?;
        let mut events = Vec::new();
        let topics_dir = dir.join("topics");
        fs::create_dir_all(&topics_dir).map_err(io_err("create directory", &topics_dir))?;
        let mut topics = BTreeMap::new();
        for entry in fs::read_dir(&topics_dir).map_err(io_err("list", &topics_dir))? {
            let entry = entry.map_err(io_err("list", &topics_dir))?;
            let path = entry.path();
            let Some(name) = entry.file_name().to_str().map(str::to_string) else { continue };
            if !path.is_dir() || topic::validate_name(&name).is_err() {
                continue;
            }
            let props = path.join(PROPERTIES);
            let tmp = fsutil::temp_path(&props);
            if tmp.exists() {
                fs::remove_file(&tmp).map_err(io_err("remove", &tmp))?;
                events.push(RecoveryEvent::RemovedTempFile { file: tmp });
            }
            if !props.exists() {
                if has_files(&path)? {
                    return Err(LogError::Corrupt {
                        path: props,
                        position: 0,
                        reason: "topic metadata is missing but the topic has files".into(),
                    });
                }
                fs::remove_dir_all(&path).map_err(io_err("remove", &path))?;
                events.push(RecoveryEvent::RemovedIncompleteTopic { dir: path });
                continue;
            }
            let topic = Topic::open(&name, &path, &mut events)?;
            topics.insert(name, Arc::new(topic));
        }
        let offsets = Offsets::open(dir.join("groups"), &mut events)?;
        Ok((Log { dir, _lock: lock, topics: RwLock::new(topics), offsets: Mutex::new(offsets) }, events))
    }

    /// The directory this log lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn poisoned(what: &str) -> LogError {
        LogError::Poisoned { topic: what.to_string(), partition: 0 }
    }

    fn get(&self, topic: &str) -> Result<Arc<Topic>> {
        let topics = self.topics.read().map_err(|_| Log::poisoned("<topic list>"))?;
        topics.get(topic).cloned().ok_or_else(|| LogError::UnknownTopic { topic: topic.to_string() })
    }

    fn with_partition<R>(&self, topic: &str, partition: u32, f: impl FnOnce(&Topic, &Partition) -> Result<R>) -> Result<R> {
        let t = self.get(topic)?;
        let p = t.partitions.get(partition as usize).ok_or_else(|| LogError::PartitionOutOfRange {
            topic: topic.to_string(),
            partition,
            partitions: t.config.partitions,
        })?;
        f(&t, p)
    }

    /// Creates a topic; fails if it exists or the name or config is invalid.
    pub fn create_topic(&self, name: &str, config: TopicConfig) -> Result<()> {
        topic::validate_name(name)?;
        config.validate(name)?;
        let mut topics = self.topics.write().map_err(|_| Log::poisoned("<topic list>"))?;
        if topics.contains_key(name) {
            return Err(LogError::TopicExists { topic: name.to_string() });
        }
        let topic = Topic::create(name, &self.dir.join("topics").join(name), config)?;
        topics.insert(name.to_string(), Arc::new(topic));
        Ok(())
    }

    /// A topic's config, if it exists.
    pub fn topic(&self, name: &str) -> Option<TopicConfig> {
        self.get(name).ok().map(|t| t.config.clone())
    }

    /// All topic names, sorted.
    pub fn topics(&self) -> Vec<String> {
        self.topics.read().map(|t| t.keys().cloned().collect()).unwrap_or_default()
    }

    /// Appends a batch to one partition; returns the offset of its first record (the end
    /// offset when the batch is empty).
    pub fn append(&self, topic: &str, partition: u32, records: &[NewRecord]) -> Result<u64> {
        self.with_partition(topic, partition, |t, p| p.append(&t.config, records))
    }

    /// Records with offsets `>= from`, as many as fit in `max_bytes` (at least one if any).
    pub fn read(&self, topic: &str, partition: u32, from: u64, max_bytes: usize) -> Result<Vec<StoredRecord>> {
        self.with_partition(topic, partition, |_, p| p.read(from, max_bytes))
    }

    /// The first offset still held (rises with retention).
    pub fn start_offset(&self, topic: &str, partition: u32) -> Result<u64> {
        self.with_partition(topic, partition, |_, p| p.start_offset())
    }

    /// The offset the next appended record will get.
    pub fn end_offset(&self, topic: &str, partition: u32) -> Result<u64> {
        self.with_partition(topic, partition, |_, p| p.end_offset())
    }

    /// Deletes the partition's leading closed segments that hold only offsets below `offset`
    /// (records a consumer no longer needs). Never the active segment: a segment that also
    /// holds `offset` or later stays whole.
    pub fn delete_before(&self, topic: &str, partition: u32, offset: u64) -> Result<CleanupStats> {
        self.with_partition(topic, partition, |_, p| p.delete_before(offset))
    }

    /// The partition's segments, oldest first (the last is the active one).
    pub fn segments(&self, topic: &str, partition: u32) -> Result<Vec<SegmentInfo>> {
        self.with_partition(topic, partition, |_, p| p.segments())
    }

    /// Blocks until a record at `offset` or later exists (the end offset is past it), or
    /// `timeout` passes; returns whether it exists.
    pub fn wait_for(&self, topic: &str, partition: u32, offset: u64, timeout: Duration) -> Result<bool> {
        self.with_partition(topic, partition, |_, p| p.wait_for(offset, timeout))
    }

    /// Stores `group`'s next offsets for the given `(topic, partition, next_offset)`s,
    /// atomically: after a crash either all of them or none are stored.
    pub fn commit(&self, group: &str, offsets: &[(&str, u32, u64)]) -> Result<()> {
        for &(topic, partition, _) in offsets {
            self.with_partition(topic, partition, |_, _| Ok(()))?;
        }
        self.offsets.lock().map_err(|_| Log::poisoned("<offsets>"))?.commit(group, offsets)
    }

    /// `group`'s committed next offset for a partition.
    pub fn committed(&self, group: &str, topic: &str, partition: u32) -> Option<u64> {
        self.offsets.lock().ok()?.committed(group, topic, partition)
    }

    /// All of `group`'s committed positions, sorted by topic and partition.
    pub fn committed_all(&self, group: &str) -> Vec<(String, u32, u64)> {
        self.offsets.lock().map(|o| o.all(group)).unwrap_or_default()
    }

    /// Fsyncs everything appended so far (and new files' directory entries).
    pub fn sync(&self) -> Result<()> {
        let topics: Vec<Arc<Topic>> = self.topics.read().map_err(|_| Log::poisoned("<topic list>"))?.values().cloned().collect();
        for t in topics {
            for p in &t.partitions {
                p.sync()?;
            }
        }
        Ok(())
    }

    /// Applies retention to every topic whose policy deletes, as of `now_ms`.
    pub fn enforce_retention(&self, now_ms: i64) -> Result<CleanupStats> {
        let topics: Vec<Arc<Topic>> = self.topics.read().map_err(|_| Log::poisoned("<topic list>"))?.values().cloned().collect();
        let mut stats = CleanupStats::default();
        for t in topics.iter().filter(|t| t.config.cleanup_policy.deletes()) {
            for p in &t.partitions {
                stats += p.enforce_retention(&t.config, now_ms)?;
            }
        }
        Ok(stats)
    }

    /// Compacts the closed segments of every partition of `topic`, as of `now_ms` (which
    /// decides which tombstones have expired). Does nothing for a topic that does not compact.
    pub fn compact(&self, topic: &str, now_ms: i64) -> Result<CleanupStats> {
        let t = self.get(topic)?;
        let mut stats = CleanupStats::default();
        if t.config.cleanup_policy.compacts() {
            for p in &t.partitions {
                stats += p.compact(&t.config, now_ms)?;
            }
        }
        Ok(stats)
    }

    /// Retention for every topic that deletes, then compaction for every topic that
    /// compacts: what a running application calls periodically.
    pub fn clean(&self, now_ms: i64) -> Result<CleanupStats> {
        let mut stats = self.enforce_retention(now_ms)?;
        for topic in self.topics() {
            stats += self.compact(&topic, now_ms)?;
        }
        Ok(stats)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn log_is_send_and_sync() {
        assert_send_sync::<Log>();
    }
}
