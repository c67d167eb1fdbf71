//! The log's error type and its recovery report.
//!
//! Every error names what it is about: the topic and partition, or the file (and for damage,
//! the byte position). [`RecoveryEvent`]s are what `Log::open` repaired on its own; the
//! caller logs them.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// Result with [`LogError`].
pub type Result<T, E = LogError> = std::result::Result<T, E>;

/// What can go wrong with the embedded log.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// No topic of that name.
    #[error("unknown topic '{topic}'")]
    UnknownTopic { topic: String },
    /// `create_topic` on an existing name.
    #[error("topic '{topic}' already exists")]
    TopicExists { topic: String },
    /// A name Kafka would refuse too.
    #[error("invalid topic name '{topic}': {reason}")]
    InvalidTopicName { topic: String, reason: &'static str },
    /// A config that cannot work.
    #[error("invalid config for topic '{topic}': {reason}")]
    InvalidConfig { topic: String, reason: String },
    /// Partition not in `0..partitions`.
    #[error("partition {partition} out of range for topic '{topic}' (it has {partitions} partitions)")]
    PartitionOutOfRange { topic: String, partition: u32, partitions: u32 },
    /// A record bigger than [`MAX_RECORD_BYTES`](super::MAX_RECORD_BYTES).
    #[error("record of {size} bytes is too large for topic '{topic}' partition {partition} (max {max})")]
    RecordTooLarge { topic: String, partition: u32, size: usize, max: usize },
    /// Compaction needs a key, as in Kafka.
    #[error("record without key appended to compacted topic '{topic}' partition {partition}")]
    NullKeyInCompactedTopic { topic: String, partition: u32 },
    /// A system call failed on `path`.
    #[error("cannot {op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// Damaged data that recovery may not repair on its own (it would lose records that
    /// follow the damage).
    #[error("corrupt data in {path} at byte {position}: {reason}")]
    Corrupt { path: PathBuf, position: u64, reason: String },
    /// Another `Log` (in this process or another) has the directory open.
    #[error("the embedded log in '{dir}' is already open{holder}: one process at a time; stop that one or use another directory")]
    Locked { dir: PathBuf, holder: String },
    /// A thread panicked while changing this partition; its in-memory state is not trusted.
    #[error("internal error (a bug): a thread panicked while writing topic '{topic}' partition {partition}; reopen the log")]
    Poisoned { topic: String, partition: u32 },
}

/// Maps an `io::Error` to [`LogError::Io`] for `op` on `path`.
pub(crate) fn io_err(op: &'static str, path: &Path) -> impl FnOnce(io::Error) -> LogError {
    move |source| LogError::Io { op, path: path.to_path_buf(), source }
}

/// Something `Log::open` found and repaired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecoveryEvent {
    /// The last segment ended in a partly written or damaged record with nothing valid after
    /// it (a crash during a write); it was cut back to its last good record.
    TruncatedTornTail { file: PathBuf, valid_bytes: u64, discarded_bytes: u64 },
    /// A compaction had not finished writing its output; the output was removed and the
    /// original segments kept.
    RemovedIncompleteCompaction { file: PathBuf },
    /// A compaction had written its output but not finished replacing the originals; the
    /// replacement was completed.
    CompletedCompaction { file: PathBuf, replaced_segments: usize },
    /// A leftover temporary file of an atomic write was removed.
    RemovedTempFile { file: PathBuf },
    /// A topic directory without metadata (a crash during `create_topic`) was removed.
    RemovedIncompleteTopic { dir: PathBuf },
    /// A partition had no segment file; an empty one was created.
    CreatedMissingSegment { file: PathBuf },
}

impl fmt::Display for RecoveryEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecoveryEvent::TruncatedTornTail { file, valid_bytes, discarded_bytes } => write!(
                f,
                "{}: truncated a torn tail of {discarded_bytes} bytes after the last good record (at byte {valid_bytes})",
                file.display()
            ),
            RecoveryEvent::RemovedIncompleteCompaction { file } => {
                write!(f, "{}: removed the output of an unfinished compaction", file.display())
            }
            RecoveryEvent::CompletedCompaction { file, replaced_segments } => {
                write!(f, "{}: completed an interrupted compaction of {replaced_segments} segments", file.display())
            }
            RecoveryEvent::RemovedTempFile { file } => write!(f, "{}: removed a leftover temporary file", file.display()),
            RecoveryEvent::RemovedIncompleteTopic { dir } => {
                write!(f, "{}: removed a topic directory left by an interrupted create_topic", dir.display())
            }
            RecoveryEvent::CreatedMissingSegment { file } => write!(f, "{}: created a missing empty segment", file.display()),
        }
    }
}
