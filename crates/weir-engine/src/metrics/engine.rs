//! The engine's counters: what the runtime counts as records go through.
//!
//! The stream threads and the producer thread add to them with relaxed atomics (a record
//! costs one `fetch_add` for "in"); a sink's records are counted in the thread's
//! `Outputs` and added here once per batch, which is when the per-pipeline map (behind a
//! lock) is touched. Readers take an [`EngineSnapshot`].

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counters of one running application.
#[derive(Debug, Default)]
pub struct EngineCounters {
    /// Records read from the source topics.
    pub consumed: AtomicU64,
    /// Records the pipelines' sinks wrote (not the producers').
    pub produced: AtomicU64,
    /// Records the producers wrote.
    pub producer_records: AtomicU64,
    /// Failures handled by the error handlers (whatever they decided).
    pub errors: AtomicU64,
    /// Records a windowed aggregation did not add to a window because it had closed (late
    /// records; Kafka Streams' dropped-records metric), or because they had no key.
    pub dropped: AtomicU64,
    /// Records written by each pipeline's sinks, by pipeline name.
    pub out_by_pipeline: Mutex<HashMap<String, u64>>,
}

/// The engine counters at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EngineSnapshot {
    /// Records read from the source topics.
    pub records_in: u64,
    /// Records the pipelines' sinks wrote.
    pub records_out: u64,
    /// Records the producers wrote.
    pub producer_records: u64,
    pub errors: u64,
    /// Records windowed aggregations dropped (late, or without a key).
    pub dropped: u64,
    /// Records written by each pipeline's sinks, by pipeline name.
    pub out_by_pipeline: BTreeMap<String, u64>,
}

impl EngineCounters {
    pub fn snapshot(&self) -> EngineSnapshot {
        EngineSnapshot {
            records_in: self.consumed.load(Ordering::Relaxed),
            records_out: self.produced.load(Ordering::Relaxed),
            producer_records: self.producer_records.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            out_by_pipeline: self.out_by_pipeline.lock().map(|m| m.iter().map(|(k, n)| (k.clone(), *n)).collect()).unwrap_or_default(),
        }
    }
}
