//! The embedded log as the engine's [`Broker`]: the port's calls map one to one onto the
//! log's, its topic specs onto [`TopicConfig`] (with the log's own segment size), and
//! [`LogError`]s onto [`BrokerError`]s that keep the topic, partition and message.

use std::time::Duration;

use weir_engine::broker::{Broker, BrokerError, ErrorKind, NewRecord, Result, StoredRecord, TopicSpec};

use crate::{Log, LogError, TopicConfig};

impl From<LogError> for BrokerError {
    fn from(e: LogError) -> BrokerError {
        let message = e.to_string();
        let (kind, topic, partition) = match e {
            LogError::UnknownTopic { topic } => (ErrorKind::UnknownTopic, Some(topic), None),
            LogError::TopicExists { topic } => (ErrorKind::TopicExists, Some(topic), None),
            LogError::InvalidTopicName { topic, .. } | LogError::InvalidConfig { topic, .. } => {
                (ErrorKind::InvalidTopic, Some(topic), None)
            }
            LogError::PartitionOutOfRange { topic, partition, .. } => (ErrorKind::PartitionOutOfRange, Some(topic), Some(partition)),
            LogError::RecordTooLarge { topic, partition, .. } | LogError::NullKeyInCompactedTopic { topic, partition } => {
                (ErrorKind::InvalidRecord, Some(topic), Some(partition))
            }
            LogError::Poisoned { topic, partition } => (ErrorKind::Other, Some(topic), Some(partition)),
            LogError::Io { .. } | LogError::Corrupt { .. } | LogError::Locked { .. } => (ErrorKind::Storage, None, None),
        };
        BrokerError { kind, topic, partition, message }
    }
}

/// The log's config for a topic the port asks for: the spec, with the log's defaults for
/// what only the log has (segment size, tombstone retention).
pub fn topic_config(spec: &TopicSpec) -> TopicConfig {
    TopicConfig {
        partitions: spec.partitions.max(1),
        cleanup_policy: spec.cleanup,
        retention_ms: spec.retention_ms,
        ..TopicConfig::default()
    }
}

impl Broker for Log {
    fn describe(&self) -> String {
        format!("the embedded log at {}", self.dir().display())
    }

    fn ensure_topic_with(&self, topic: &str, spec: &TopicSpec) -> Result<u32> {
        if let Some(existing) = self.topic(topic) {
            return Ok(existing.partitions);
        }
        let config = topic_config(spec);
        match self.create_topic(topic, config.clone()) {
            Ok(()) => Ok(config.partitions),
            // Created concurrently by another thread: use what is there.
            Err(LogError::TopicExists { .. }) => {
                self.topic(topic).map(|c| c.partitions).ok_or_else(|| LogError::UnknownTopic { topic: topic.to_string() }.into())
            }
            Err(e) => Err(e.into()),
        }
    }

    fn append(&self, topic: &str, partition: u32, records: &[NewRecord]) -> Result<()> {
        Log::append(self, topic, partition, records).map(|_| ()).map_err(Into::into)
    }

    fn read(&self, topic: &str, partition: u32, from: u64, max_bytes: usize) -> Result<Vec<StoredRecord>> {
        Ok(Log::read(self, topic, partition, from, max_bytes)?)
    }

    fn start_offset(&self, topic: &str, partition: u32) -> Result<u64> {
        Ok(Log::start_offset(self, topic, partition)?)
    }

    fn end_offset(&self, topic: &str, partition: u32) -> Result<u64> {
        Ok(Log::end_offset(self, topic, partition)?)
    }

    fn wait_for(&self, topic: &str, partition: u32, offset: u64, timeout: Duration) -> Result<bool> {
        Ok(Log::wait_for(self, topic, partition, offset, timeout)?)
    }

    /// Whole closed segments below `offset` go at once (a segment also holding later
    /// records stays until they are consumed too).
    fn delete_before(&self, topic: &str, partition: u32, offset: u64) -> Result<()> {
        Log::delete_before(self, topic, partition, offset)?;
        Ok(())
    }

    fn sync(&self) -> Result<()> {
        Ok(Log::sync(self)?)
    }

    fn commit(&self, group: &str, offsets: &[(&str, u32, u64)]) -> Result<()> {
        Ok(Log::commit(self, group, offsets)?)
    }

    fn committed(&self, group: &str, topic: &str, partition: u32) -> Result<Option<u64>> {
        Ok(Log::committed(self, group, topic, partition))
    }
}
