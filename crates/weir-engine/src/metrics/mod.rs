//! Metrics: the engine's counters and the user-defined metrics, read together through one
//! [`Metrics::snapshot`] (the progress line of `weir run`, `weir test`, and the Prometheus
//! endpoint of `weir run`).
//!
//! - **Engine counters** ([`EngineCounters`], [`engine`]): records in, out (by pipeline),
//!   written by producers, failed, dead-lettered, dropped by windows; commits and their
//!   time; the states of the stream threads and the producers. The runtime updates them with relaxed
//!   atomic additions; the per-pipeline counts are added once per batch. Nothing on the
//!   per-record path takes a lock.
//! - **User metrics** ([`Registry`], [`user`]): what KSML functions create through the
//!   `metrics` built-in. The registry is process-wide ([`user_metrics`]).
//! - **Function timings** ([`functions`]): calls of each user function and their time
//!   (KSML's `execution-time`), process-wide ([`function_timings`]).
//!
//! A [`Metrics`] is the handle an application holds: its own engine counters (the ones
//! handed to [`crate::runtime::run`]) and the user registry. A [`Snapshot`] is plain data.

pub mod engine;
pub mod functions;
pub mod user;

use std::sync::Arc;

pub use engine::{ComponentState, EngineCounters, EngineSnapshot, StateCell};
pub use functions::{FnTiming, FunctionTime, SAMPLE_EVERY, function_timings};
pub use user::{MetricId, MetricKind, MetricValue, Registry, user_metrics};

/// An application's metrics: its engine counters and the user metrics registry.
#[derive(Clone)]
pub struct Metrics {
    engine: Arc<EngineCounters>,
    user: &'static Registry,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// Fresh engine counters, and the process-wide user metrics.
    pub fn new() -> Metrics {
        Metrics { engine: Arc::default(), user: user_metrics() }
    }

    /// The engine counters, for the runtime to count into.
    pub fn engine(&self) -> &Arc<EngineCounters> {
        &self.engine
    }

    /// The user metrics registry.
    pub fn user(&self) -> &'static Registry {
        self.user
    }

    /// Every metric's current value.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot { engine: self.engine.snapshot(), user: self.user.snapshot(), functions: function_timings().snapshot() }
    }
}

/// The metrics at one moment, as plain data.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    pub engine: EngineSnapshot,
    /// Sorted by kind, name and tags.
    pub user: Vec<(MetricId, MetricValue)>,
    /// The user functions' calls and time (process-wide), by namespace and name.
    pub functions: Vec<FunctionTime>,
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use super::*;

    #[test]
    fn a_snapshot_reads_engine_counters_and_user_metrics() {
        let metrics = Metrics::new();
        metrics.engine().consumed.fetch_add(3, Ordering::Relaxed);
        metrics.engine().produced.fetch_add(2, Ordering::Relaxed);
        metrics.engine().producer_records.fetch_add(5, Ordering::Relaxed);
        if let Ok(mut by) = metrics.engine().out_by_pipeline.lock() {
            by.insert("ns.p".to_string(), 2);
        }
        let id = MetricId { kind: MetricKind::Counter, name: "metrics_mod_test".to_string(), tags: Default::default() };
        metrics.user().add(&id, 4);
        let snap = metrics.snapshot();
        assert_eq!(snap.engine.records_in, 3);
        assert_eq!(snap.engine.records_out, 2);
        assert_eq!(snap.engine.producer_records, 5);
        assert_eq!(snap.engine.out_by_pipeline.get("ns.p"), Some(&2));
        assert!(snap.user.contains(&(id.clone(), MetricValue::Counter { count: 4 })));
        metrics.user().remove(&id);
        // A second application's counters start from zero; the user registry is shared.
        assert_eq!(Metrics::new().snapshot().engine, EngineSnapshot::default());
    }
}
