//! The time user functions take: per function (namespace and name), calls and their
//! duration, as KSML's `execution-time` timer. The runtime reads the clock around each call
//! and adds to the function's [`FnTiming`] with relaxed atomics (no lock, no allocation on
//! the record path); the timings are registered when a topology is planned and live for the
//! process, like the user metrics.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// Calls of one function and the time they took.
#[derive(Debug)]
pub struct FnTiming {
    calls: AtomicU64,
    nanos: AtomicU64,
    min_nanos: AtomicU64,
    max_nanos: AtomicU64,
}

impl Default for FnTiming {
    fn default() -> Self {
        FnTiming { calls: AtomicU64::new(0), nanos: AtomicU64::new(0), min_nanos: AtomicU64::new(u64::MAX), max_nanos: AtomicU64::new(0) }
    }
}

impl FnTiming {
    /// Counts one call that took `took`.
    pub fn record(&self, took: Duration) {
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.nanos.fetch_add(nanos, Ordering::Relaxed);
        self.min_nanos.fetch_min(nanos, Ordering::Relaxed);
        self.max_nanos.fetch_max(nanos, Ordering::Relaxed);
    }
}

/// One function's timing at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionTime {
    pub namespace: String,
    pub name: String,
    pub calls: u64,
    /// Time in all calls, and the shortest and longest call (0 before the first).
    pub nanos: u64,
    pub min_nanos: u64,
    pub max_nanos: u64,
}

/// The timings of every function planned in this process.
#[derive(Debug, Default)]
pub struct FunctionTimings {
    timings: Mutex<Vec<(String, String, Arc<FnTiming>)>>,
}

/// The process-wide function timings.
pub fn function_timings() -> &'static FunctionTimings {
    static TIMINGS: OnceLock<FunctionTimings> = OnceLock::new();
    TIMINGS.get_or_init(FunctionTimings::default)
}

impl FunctionTimings {
    /// The timing of function `name` of `namespace` (one per function, however many
    /// operations call it).
    pub fn timing(&self, namespace: &str, name: &str) -> Arc<FnTiming> {
        let mut timings = self.timings.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((_, _, t)) = timings.iter().find(|(ns, n, _)| ns == namespace && n == name) {
            return Arc::clone(t);
        }
        let timing = Arc::new(FnTiming::default());
        timings.push((namespace.to_string(), name.to_string(), Arc::clone(&timing)));
        timing
    }

    /// Every function's timing, sorted by namespace and name.
    pub fn snapshot(&self) -> Vec<FunctionTime> {
        let timings = self.timings.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut out: Vec<FunctionTime> = timings
            .iter()
            .map(|(namespace, name, t)| {
                let calls = t.calls.load(Ordering::Relaxed);
                FunctionTime {
                    namespace: namespace.clone(),
                    name: name.clone(),
                    calls,
                    nanos: t.nanos.load(Ordering::Relaxed),
                    min_nanos: if calls == 0 { 0 } else { t.min_nanos.load(Ordering::Relaxed) },
                    max_nanos: t.max_nanos.load(Ordering::Relaxed),
                }
            })
            .collect();
        out.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_add_up_per_function() {
        let timings = FunctionTimings::default();
        let f = timings.timing("ns", "f");
        f.record(Duration::from_nanos(30));
        timings.timing("ns", "f").record(Duration::from_nanos(10));
        timings.timing("ns", "g");
        let snap = timings.snapshot();
        assert_eq!(snap.len(), 2);
        assert_eq!((snap[0].calls, snap[0].nanos, snap[0].min_nanos, snap[0].max_nanos), (2, 40, 10, 30));
        assert_eq!((snap[1].name.as_str(), snap[1].calls, snap[1].min_nanos), ("g", 0, 0));
    }
}
