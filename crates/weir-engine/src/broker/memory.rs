//! A broker held in memory: topics as vectors of records, positions in a map. Nothing is
//! durable and nothing is ever deleted (no retention, no compaction). The engine's tests run
//! the runtime and the stores on it; applications use the embedded log or Kafka.

use std::collections::HashMap;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::{Broker, BrokerError, ErrorKind, NewRecord, Result, StoredRecord, TopicSpec};

#[derive(Default)]
struct State {
    topics: HashMap<String, (TopicSpec, Vec<Vec<StoredRecord>>)>,
    committed: HashMap<(String, String, u32), u64>,
}

/// See the [module](self) doc.
#[derive(Default)]
pub struct MemoryBroker {
    state: Mutex<State>,
    appended: Condvar,
}

impl MemoryBroker {
    pub fn new() -> MemoryBroker {
        MemoryBroker::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The spec a topic was created with.
    pub fn topic(&self, topic: &str) -> Option<TopicSpec> {
        self.lock().topics.get(topic).map(|(spec, _)| spec.clone())
    }

    /// Every record of a partition.
    pub fn records(&self, topic: &str, partition: u32) -> Vec<StoredRecord> {
        self.lock().topics.get(topic).and_then(|(_, parts)| parts.get(partition as usize).cloned()).unwrap_or_default()
    }
}

fn partition_of<'a>(state: &'a State, topic: &str, partition: u32) -> Result<&'a Vec<StoredRecord>> {
    let (_, parts) = state
        .topics
        .get(topic)
        .ok_or_else(|| BrokerError::new(ErrorKind::UnknownTopic, format!("unknown topic '{topic}'")).at(topic, None))?;
    parts.get(partition as usize).ok_or_else(|| {
        BrokerError::new(ErrorKind::PartitionOutOfRange, format!("topic '{topic}' has no partition {partition}")).at(topic, Some(partition))
    })
}

impl Broker for MemoryBroker {
    fn describe(&self) -> String {
        "a broker in memory".to_string()
    }

    fn ensure_topic_with(&self, topic: &str, spec: &TopicSpec) -> Result<u32> {
        let mut state = self.lock();
        let (spec, parts) = state
            .topics
            .entry(topic.to_string())
            .or_insert_with(|| (spec.clone(), (0..spec.partitions.max(1)).map(|_| Vec::new()).collect()));
        let _ = spec;
        Ok(parts.len() as u32)
    }

    fn append(&self, topic: &str, partition: u32, records: &[NewRecord]) -> Result<()> {
        let mut state = self.lock();
        partition_of(&state, topic, partition)?;
        let Some((_, parts)) = state.topics.get_mut(topic) else { return Ok(()) };
        let part = &mut parts[partition as usize];
        for record in records {
            let offset = part.len() as u64;
            part.push(record.at_offset(offset));
        }
        drop(state);
        self.appended.notify_all();
        Ok(())
    }

    fn read(&self, topic: &str, partition: u32, from: u64, max_bytes: usize) -> Result<Vec<StoredRecord>> {
        let state = self.lock();
        let part = partition_of(&state, topic, partition)?;
        let mut out = Vec::new();
        let mut bytes = 0;
        for record in part.iter().skip(from as usize) {
            if !out.is_empty() && bytes >= max_bytes {
                break;
            }
            bytes += record.key.as_ref().map_or(0, Vec::len) + record.value.as_ref().map_or(0, Vec::len);
            out.push(record.clone());
        }
        Ok(out)
    }

    fn start_offset(&self, topic: &str, partition: u32) -> Result<u64> {
        partition_of(&self.lock(), topic, partition).map(|_| 0)
    }

    fn end_offset(&self, topic: &str, partition: u32) -> Result<u64> {
        partition_of(&self.lock(), topic, partition).map(|p| p.len() as u64)
    }

    fn wait_for(&self, topic: &str, partition: u32, offset: u64, timeout: Duration) -> Result<bool> {
        let deadline = Instant::now() + timeout;
        let mut state = self.lock();
        loop {
            if partition_of(&state, topic, partition)?.len() as u64 > offset {
                return Ok(true);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(false);
            }
            state = self.appended.wait_timeout(state, left).unwrap_or_else(std::sync::PoisonError::into_inner).0;
        }
    }

    fn sync(&self) -> Result<()> {
        Ok(())
    }

    fn commit(&self, group: &str, offsets: &[(&str, u32, u64)]) -> Result<()> {
        let mut state = self.lock();
        for (topic, partition, offset) in offsets {
            state.committed.insert((group.to_string(), (*topic).to_string(), *partition), *offset);
        }
        Ok(())
    }

    fn committed(&self, group: &str, topic: &str, partition: u32) -> Result<Option<u64>> {
        Ok(self.lock().committed.get(&(group.to_string(), topic.to_string(), partition)).copied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_reads_and_positions() {
        let broker = MemoryBroker::new();
        assert_eq!(broker.ensure_topic("t", 2).expect("create"), 2);
        assert_eq!(broker.ensure_topic("t", 5).expect("existing"), 2);
        broker.append("t", 1, &[NewRecord::new(1, Some(b"k"), Some(b"a")), NewRecord::new(2, None, None)]).expect("append");
        let read = broker.read("t", 1, 1, 1 << 20).expect("read");
        assert_eq!(read, vec![StoredRecord { offset: 1, timestamp: 2, ..StoredRecord::default() }]);
        assert_eq!(broker.end_offset("t", 1).expect("end"), 2);
        assert!(broker.wait_for("t", 1, 1, Duration::ZERO).expect("wait"));
        assert!(!broker.wait_for("t", 1, 2, Duration::from_millis(1)).expect("wait"));
        broker.commit("g", &[("t", 1, 2)]).expect("commit");
        assert_eq!(broker.committed("g", "t", 1).expect("committed"), Some(2));
        let missing = broker.read("nope", 0, 0, 1).expect_err("unknown topic");
        assert_eq!((missing.kind, missing.topic.as_deref()), (ErrorKind::UnknownTopic, Some("nope")));
        assert_eq!(broker.append("t", 7, &[]).expect_err("range").kind, ErrorKind::PartitionOutOfRange);
    }
}
