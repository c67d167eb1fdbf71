//! [`Outputs`]: the records sinks write, queued per topic and partition until the stream
//! thread appends them (after each batch and before every commit, so outputs are durable
//! before the offsets that produced them), and the output counts not yet published.

use std::sync::atomic::Ordering;

use super::process::Stats;
use crate::broker::{Broker, BrokerError, NewRecord};
use crate::hash::FastMap;

/// Records written by sinks, waiting to be appended, and the counts not yet published to
/// [`Stats`].
#[derive(Default)]
pub struct Outputs {
    /// Per topic, per partition.
    pending: FastMap<String, Vec<Vec<NewRecord>>>,
    partitions: FastMap<String, u32>,
    pub(super) round_robin: u32,
    produced: u64,
    by_pipeline: FastMap<String, u64>,
    /// End-to-end latencies of the records appended since the last publish (milliseconds):
    /// sum, count, largest.
    latency: (u64, u64, u64),
}

impl Outputs {
    pub(super) fn partitions(&mut self, broker: &dyn Broker, topic: &str) -> Result<u32, BrokerError> {
        if let Some(&n) = self.partitions.get(topic) {
            return Ok(n);
        }
        let n = broker.ensure_topic(topic, 1)?;
        self.partitions.insert(topic.to_string(), n);
        Ok(n)
    }

    pub(super) fn push(&mut self, topic: &str, partition: u32, record: NewRecord) {
        let per_partition = match self.pending.get_mut(topic) {
            Some(found) => found,
            None => self.pending.entry(topic.to_string()).or_default(),
        };
        let p = partition as usize;
        if per_partition.len() <= p {
            per_partition.resize_with(p + 1, Vec::new);
        }
        per_partition[p].push(record);
    }

    pub(super) fn count(&mut self, pipeline: &str) {
        self.produced += 1;
        match self.by_pipeline.get_mut(pipeline) {
            Some(n) => *n += 1,
            None => {
                self.by_pipeline.insert(pipeline.to_string(), 1);
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.pending.values().flatten().all(Vec::is_empty)
    }

    /// The earliest timestamp of the records waiting to be appended to one partition.
    pub fn earliest_pending(&self, topic: &str, partition: u32) -> Option<i64> {
        self.pending.get(topic)?.get(partition as usize)?.iter().map(|r| r.timestamp).min()
    }

    /// Appends everything pending. Returns the number of records written.
    pub fn flush(&mut self, broker: &dyn Broker) -> Result<usize, BrokerError> {
        let mut written = 0;
        let mut now = None;
        for (topic, per_partition) in self.pending.iter_mut() {
            for (partition, records) in per_partition.iter_mut().enumerate() {
                if records.is_empty() {
                    continue;
                }
                // One clock read per flush; records without a timestamp are not counted.
                let now = *now.get_or_insert_with(crate::time::now_ms);
                for r in records.iter().filter(|r| r.timestamp > 0) {
                    let ms = u64::try_from(now.saturating_sub(r.timestamp)).unwrap_or(0);
                    self.latency.0 += ms;
                    self.latency.1 += 1;
                    self.latency.2 = self.latency.2.max(ms);
                }
                broker.append(topic, partition as u32, records)?;
                written += records.len();
                records.clear();
            }
        }
        Ok(written)
    }

    /// Adds the records counted since the last call to `stats` (once per batch, not per
    /// record: the per-pipeline counts sit behind a lock).
    pub fn publish(&mut self, stats: &Stats) {
        stats.produced.fetch_add(std::mem::take(&mut self.produced), Ordering::Relaxed);
        let (sum, count, max) = std::mem::take(&mut self.latency);
        stats.add_e2e_latencies(sum, count, max);
        if self.by_pipeline.values().all(|n| *n == 0) {
            return;
        }
        if let Ok(mut by) = stats.out_by_pipeline.lock() {
            for (pipeline, n) in self.by_pipeline.iter_mut().filter(|(_, n)| **n > 0) {
                *by.entry(pipeline.clone()).or_default() += std::mem::take(n);
            }
        }
    }
}
