//! The ports: what the engine needs from the outside, as traits that adapters implement.
//!
//! - [`Functions`]: calling a definition's user functions (implemented by `weir-python`).
//! - [`Broker`]: topics, records and consumer positions (implemented here for the embedded
//!   [`Log`], and by `weir-kafka` for Apache Kafka), so the runtime cannot tell them apart.

use std::fmt;
use std::time::Duration;

use crate::Value;
use crate::log::{Log, LogError, NewRecord, StoredRecord, TopicConfig};

/// A failure while running a user function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionError {
    /// `<namespace>.<function>`.
    pub function: String,
    pub message: String,
    /// The language's traceback, when the function raised.
    pub traceback: Option<String>,
    /// The YAML file and line of the innermost frame in the definition, if any.
    pub location: Option<(String, u32)>,
}

impl fmt::Display for FunctionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error while executing function {}: {}", self.function, self.message)?;
        if let Some((file, line)) = &self.location {
            write!(f, " (at {file}:{line})")?;
        }
        if let Some(tb) = &self.traceback {
            write!(f, "\n{}", tb.trim_end())?;
        }
        Ok(())
    }
}

impl std::error::Error for FunctionError {}

/// The user functions of one definition, called by name with their fixed parameters in
/// KSML's order (e.g. `key, value`); the result is already converted to the function's
/// result type.
pub trait Functions: Send + Sync {
    fn call(&self, name: &str, args: &[Value]) -> Result<Value, FunctionError>;
}

/// What a worker thread (stream thread, producer thread) runs inside for its whole life.
/// The Python runtime uses it to keep the thread attached to the interpreter: attaching
/// for every call instead costs a thread state set up and torn down each time.
pub trait ThreadScope: Send + Sync {
    fn run(&self, body: &mut (dyn FnMut() + Send));
}

/// A shared [`ThreadScope`] (a handle that `RunOptions` can carry and print).
#[derive(Clone)]
pub struct ScopeHandle(pub std::sync::Arc<dyn ThreadScope>);

impl fmt::Debug for ScopeHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ThreadScope")
    }
}

/// Topics, records and consumer positions, as the runtime uses them.
pub trait Broker: Send + Sync {
    /// The number of partitions of a topic, creating it with `partitions_if_new` partitions
    /// when it does not exist (Kafka's auto-creation).
    fn ensure_topic(&self, topic: &str, partitions_if_new: u32) -> Result<u32, LogError>;
    fn append(&self, topic: &str, partition: u32, records: &[NewRecord]) -> Result<u64, LogError>;
    fn read(&self, topic: &str, partition: u32, from: u64, max_bytes: usize) -> Result<Vec<StoredRecord>, LogError>;
    fn start_offset(&self, topic: &str, partition: u32) -> Result<u64, LogError>;
    fn end_offset(&self, topic: &str, partition: u32) -> Result<u64, LogError>;
    /// Blocks until `offset` exists in the partition or `timeout` passes.
    fn wait_for(&self, topic: &str, partition: u32, offset: u64, timeout: Duration) -> Result<bool, LogError>;
    /// Makes everything appended so far durable.
    fn sync(&self) -> Result<(), LogError>;
    fn commit(&self, group: &str, offsets: &[(&str, u32, u64)]) -> Result<(), LogError>;
    fn committed(&self, group: &str, topic: &str, partition: u32) -> Option<u64>;
}

impl Broker for Log {
    fn ensure_topic(&self, topic: &str, partitions_if_new: u32) -> Result<u32, LogError> {
        if let Some(config) = self.topic(topic) {
            return Ok(config.partitions);
        }
        match self.create_topic(topic, TopicConfig { partitions: partitions_if_new.max(1), ..TopicConfig::default() }) {
            Ok(()) => Ok(partitions_if_new.max(1)),
            // Created concurrently by another thread: use what is there.
            Err(LogError::TopicExists { .. }) => {
                self.topic(topic).map(|c| c.partitions).ok_or(LogError::UnknownTopic { topic: topic.to_string() })
            }
            Err(e) => Err(e),
        }
    }
    fn append(&self, topic: &str, partition: u32, records: &[NewRecord]) -> Result<u64, LogError> {
        Log::append(self, topic, partition, records)
    }
    fn read(&self, topic: &str, partition: u32, from: u64, max_bytes: usize) -> Result<Vec<StoredRecord>, LogError> {
        Log::read(self, topic, partition, from, max_bytes)
    }
    fn start_offset(&self, topic: &str, partition: u32) -> Result<u64, LogError> {
        Log::start_offset(self, topic, partition)
    }
    fn end_offset(&self, topic: &str, partition: u32) -> Result<u64, LogError> {
        Log::end_offset(self, topic, partition)
    }
    fn wait_for(&self, topic: &str, partition: u32, offset: u64, timeout: Duration) -> Result<bool, LogError> {
        Log::wait_for(self, topic, partition, offset, timeout)
    }
    fn sync(&self) -> Result<(), LogError> {
        Log::sync(self)
    }
    fn commit(&self, group: &str, offsets: &[(&str, u32, u64)]) -> Result<(), LogError> {
        Log::commit(self, group, offsets)
    }
    fn committed(&self, group: &str, topic: &str, partition: u32) -> Option<u64> {
        Log::committed(self, group, topic, partition)
    }
}
