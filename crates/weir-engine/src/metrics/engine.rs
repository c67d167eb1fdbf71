//! The engine's counters: what the runtime counts as records go through.
//!
//! The stream threads and the producer thread add to them with relaxed atomics (a record
//! costs one `fetch_add` for "in"); a sink's records are counted in the thread's
//! `Outputs` and added here once per batch, which is when the per-pipeline map (behind a
//! lock) is touched. Readers take an [`EngineSnapshot`].
//!
//! Beside the counters, the state of the two components of a run (the stream threads and the
//! producers, [`ComponentState`]) is kept here, as KSML's runner reports them to its health
//! probes; the runtime sets them as it starts, runs and stops.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

/// The state of a component of a run (the stream threads, or the producers): KSML's
/// `ComponentState`, to which it maps Kafka Streams' states (`REBALANCING` is `Starting`,
/// `RUNNING` is `Started`, `PENDING_SHUTDOWN` is `Stopping`, `ERROR` is `Failed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ComponentState {
    /// The run has no such component (no pipelines, or no producers).
    NotApplicable,
    /// Not started yet.
    #[default]
    Created,
    /// Starting: joining the group, restoring state stores, (re)balancing.
    Starting,
    /// Running: every stream thread holds its partitions, with its stores restored.
    Started,
    /// Asked to stop, finishing the records at hand.
    Stopping,
    Stopped,
    /// Stopped by a failure.
    Failed,
}

impl ComponentState {
    const ALL: [ComponentState; 7] = [
        ComponentState::NotApplicable,
        ComponentState::Created,
        ComponentState::Starting,
        ComponentState::Started,
        ComponentState::Stopping,
        ComponentState::Stopped,
        ComponentState::Failed,
    ];

    /// KSML's name of the state.
    pub fn name(self) -> &'static str {
        match self {
            ComponentState::NotApplicable => "NOT_APPLICABLE",
            ComponentState::Created => "CREATED",
            ComponentState::Starting => "STARTING",
            ComponentState::Started => "STARTED",
            ComponentState::Stopping => "STOPPING",
            ComponentState::Stopped => "STOPPED",
            ComponentState::Failed => "FAILED",
        }
    }
}

/// A [`ComponentState`] that threads set and read.
#[derive(Debug)]
pub struct StateCell(AtomicU8);

impl Default for StateCell {
    fn default() -> Self {
        StateCell(AtomicU8::new(ComponentState::Created as u8))
    }
}

impl StateCell {
    pub fn get(&self) -> ComponentState {
        let n = self.0.load(Ordering::SeqCst);
        ComponentState::ALL.get(usize::from(n)).copied().unwrap_or(ComponentState::Failed)
    }

    pub fn set(&self, state: ComponentState) {
        self.0.store(state as u8, Ordering::SeqCst);
    }

    /// Sets `state` unless the component failed (a failure stays until the next start).
    pub fn advance(&self, state: ComponentState) {
        let _ = self.0.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| (n != ComponentState::Failed as u8).then_some(state as u8));
    }
}

/// An input partition and the next offset to process in it: (topic, partition, offset).
pub type Position = (String, u32, u64);

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
    /// Failed records written to a dead-letter topic.
    pub dead_lettered: AtomicU64,
    /// Commits of the stream threads' positions, and the time they took (nanoseconds).
    pub commits: AtomicU64,
    pub commit_nanos: AtomicU64,
    /// Records written by each pipeline's sinks, by pipeline name.
    pub out_by_pipeline: Mutex<HashMap<String, u64>>,
    /// End-to-end latency of the records the sinks wrote (Kafka Streams' record e2e latency:
    /// the wall clock when the stream thread appended them minus their timestamps), in
    /// milliseconds: the sum and count since the start, and the largest since it was last
    /// taken ([`EngineCounters::take_e2e_max`]).
    pub e2e_latency_ms_sum: AtomicU64,
    pub e2e_latency_count: AtomicU64,
    pub e2e_latency_ms_max: AtomicU64,
    /// Each stream thread's inputs and positions (next offset to process), by thread
    /// number, replaced by the thread about once a second: the consumer lag's one side.
    pub positions: Mutex<BTreeMap<usize, Vec<Position>>>,
    /// The state of the stream threads.
    pub streams: StateCell,
    /// The state of the producers.
    pub producers: StateCell,
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
    /// Failed records written to a dead-letter topic.
    pub dead_lettered: u64,
    /// Commits of the stream threads, and the time they took in all (nanoseconds).
    pub commits: u64,
    pub commit_nanos: u64,
    /// Records written by each pipeline's sinks, by pipeline name.
    pub out_by_pipeline: BTreeMap<String, u64>,
    /// End-to-end latency of the records written by the sinks: sum and count (milliseconds).
    pub e2e_latency_ms_sum: u64,
    pub e2e_latency_count: u64,
    /// Every stream thread's (topic, partition, next offset to process), sorted.
    pub positions: Vec<Position>,
    pub streams: ComponentState,
    pub producers: ComponentState,
}

impl EngineCounters {
    pub fn snapshot(&self) -> EngineSnapshot {
        EngineSnapshot {
            records_in: self.consumed.load(Ordering::Relaxed),
            records_out: self.produced.load(Ordering::Relaxed),
            producer_records: self.producer_records.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            dead_lettered: self.dead_lettered.load(Ordering::Relaxed),
            commits: self.commits.load(Ordering::Relaxed),
            commit_nanos: self.commit_nanos.load(Ordering::Relaxed),
            streams: self.streams.get(),
            producers: self.producers.get(),
            out_by_pipeline: self.out_by_pipeline.lock().map(|m| m.iter().map(|(k, n)| (k.clone(), *n)).collect()).unwrap_or_default(),
            e2e_latency_ms_sum: self.e2e_latency_ms_sum.load(Ordering::Relaxed),
            e2e_latency_count: self.e2e_latency_count.load(Ordering::Relaxed),
            positions: {
                let mut all: Vec<Position> = self.positions.lock().map(|m| m.values().flatten().cloned().collect()).unwrap_or_default();
                all.sort();
                all
            },
        }
    }

    /// The largest end-to-end latency (milliseconds) since the last call, and resets it.
    pub fn take_e2e_max(&self) -> u64 {
        self.e2e_latency_ms_max.swap(0, Ordering::Relaxed)
    }

    /// Adds the end-to-end latencies of a batch of records appended at `now_ms`.
    pub fn add_e2e_latencies(&self, sum_ms: u64, count: u64, max_ms: u64) {
        if count == 0 {
            return;
        }
        self.e2e_latency_ms_sum.fetch_add(sum_ms, Ordering::Relaxed);
        self.e2e_latency_count.fetch_add(count, Ordering::Relaxed);
        self.e2e_latency_ms_max.fetch_max(max_ms, Ordering::Relaxed);
    }

    /// Replaces stream thread `thread`'s positions.
    pub fn set_positions(&self, thread: usize, positions: Vec<Position>) {
        if let Ok(mut all) = self.positions.lock() {
            all.insert(thread, positions);
        }
    }
}
