//! The ports: what the engine needs from the outside, as traits that adapters implement.
//!
//! - [`Functions`]: calling a definition's user functions (implemented by `weir-python`),
//!   with [`ForeignValue`] for values the function runtime keeps in its own objects.
//! - [`ThreadScope`]: what worker threads run inside (attached to the interpreter), and how a
//!   batch of records takes the interpreter's lock once.
//! - [`Broker`]: topics, records and consumer positions (implemented here for the embedded
//!   [`Log`], and by `weir-kafka` for Apache Kafka), so the runtime cannot tell them apart.

use std::any::Any;
use std::fmt;
use std::time::Duration;

use crate::Value;
use crate::log::{Log, LogError, NewRecord, StoredRecord, TopicConfig};
use crate::notation::json::{JsonWriter, Unwritable};
use crate::value::{Datum, ForeignKind};

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

    /// [`Functions::call`] with arguments and result as [`Datum`]s: a runtime that keeps
    /// values in its own objects takes its [`ForeignValue`]s as they are and may return one,
    /// when the result's declared type would not change it
    /// ([`crate::value::converts_unchanged`]) and materializing it gives the same value.
    /// The default materializes the arguments and calls [`Functions::call`].
    fn call_datum(&self, name: &str, args: &[&Datum]) -> Result<Datum, FunctionError> {
        let values = args.iter().map(|d| d.to_value()).collect::<Result<Vec<_>, _>>().map_err(|message| FunctionError {
            function: name.to_string(),
            message: format!("cannot pass the arguments: {message}"),
            traceback: None,
            location: None,
        })?;
        self.call(name, &values).map(Datum::Value)
    }

    /// Reads a JSON document straight into the runtime's own objects, giving exactly what
    /// decoding it into a [`Value`] and passing that to a function would give. `None` when
    /// the runtime cannot, or the top level is not an object or array (a scalar is as cheap
    /// as a [`Value`]), or the bytes are not JSON: the caller then decodes the usual way,
    /// which reports the error.
    fn decode_json(&self, bytes: &[u8]) -> Option<Box<dyn ForeignValue>> {
        let _ = bytes;
        None
    }
}

/// A value held by a function runtime in its own representation: for Python, the dict or
/// list a JSON record was decoded into, or that a function returned. Consecutive functions
/// pass it along without converting it; [`ForeignValue::to_value`] materializes it when an
/// operation, a conversion or a codec other than JSON needs a [`Value`].
pub trait ForeignValue: Send + fmt::Debug {
    /// Struct, list or tuple.
    fn kind(&self) -> ForeignKind;
    /// The value as the engine's model: what the runtime's conversion of its result gives.
    fn to_value(&self) -> Result<Value, String>;
    /// Writes it as JSON, exactly as [`crate::notation::json::to_vec`] writes
    /// [`ForeignValue::to_value`]'s result. [`Unwritable`] sends the caller down the
    /// canonical path (materialize, convert, encode), which reports any error.
    fn write_json(&self, out: &mut JsonWriter) -> Result<(), Unwritable>;
    /// An independent copy (a record going to several operations gives each its own).
    fn fork(&self) -> Box<dyn ForeignValue>;
    /// For the runtime that made it, to get its object back.
    fn as_any(&self) -> &dyn Any;
}

/// What a worker thread (stream thread, producer thread) runs inside for its whole life.
/// The Python runtime uses it to keep the thread attached to the interpreter: attaching
/// for every call instead costs a thread state set up and torn down each time.
pub trait ThreadScope: Send + Sync {
    fn run(&self, body: &mut (dyn FnMut() + Send));

    /// Runs a batch of records' processing with the runtime's lock held (Python's GIL), so
    /// the function calls inside do not each take it. Called inside [`ThreadScope::run`].
    /// The default just runs `body`.
    fn batch(&self, body: &mut dyn FnMut()) {
        body()
    }

    /// Runs `body` (a pause, a wait) with the lock of a surrounding [`ThreadScope::batch`]
    /// released, so other threads can call functions meanwhile. The default just runs `body`.
    fn outside(&self, body: &mut (dyn FnMut() + Send)) {
        body()
    }
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
    /// As [`Broker::ensure_topic`], creating the topic with `config` (partitions, cleanup
    /// policy, retention) when it does not exist: for internal topics such as state store
    /// changelogs. The default ignores all but the partitions.
    fn ensure_topic_with(&self, topic: &str, config: &TopicConfig) -> Result<u32, LogError> {
        self.ensure_topic(topic, config.partitions)
    }
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
    fn ensure_topic_with(&self, topic: &str, config: &TopicConfig) -> Result<u32, LogError> {
        if let Some(existing) = self.topic(topic) {
            return Ok(existing.partitions);
        }
        let config = TopicConfig { partitions: config.partitions.max(1), ..config.clone() };
        match self.create_topic(topic, config.clone()) {
            Ok(()) => Ok(config.partitions),
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
