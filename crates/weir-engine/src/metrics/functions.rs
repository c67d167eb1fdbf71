//! The time user functions take: per function (namespace and name), calls and their
//! duration, as KSML's `execution-time` timer. Every call is counted; one call in
//! [`SAMPLE_EVERY`] (the first, the 17th, …) is timed, and the mean, shortest and longest call
//! are those of the timed calls. Reading the clock twice around every call and updating four
//! atomics cost 5–7% of the CPU time of a two-function Python pipeline (docs/benchmarks.md);
//! sampled, the clock is read on one call in 16 and an untimed call costs one relaxed atomic
//! addition. The timings are registered when a topology is planned and live for the
//! process, like the user metrics; updates use relaxed atomics (no lock, no allocation on the
//! record path).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// One call in this many is timed (counting from the first call of each function).
pub const SAMPLE_EVERY: u64 = 16;

/// Calls of one function and the time the timed ones took.
#[derive(Debug)]
pub struct FnTiming {
    calls: AtomicU64,
    timed: AtomicU64,
    nanos: AtomicU64,
    min_nanos: AtomicU64,
    max_nanos: AtomicU64,
}

impl Default for FnTiming {
    fn default() -> Self {
        FnTiming {
            calls: AtomicU64::new(0),
            timed: AtomicU64::new(0),
            nanos: AtomicU64::new(0),
            min_nanos: AtomicU64::new(u64::MAX),
            max_nanos: AtomicU64::new(0),
        }
    }
}

impl FnTiming {
    /// Counts a call that is about to start; `Some` (its start) when it is one of the sampled
    /// calls, to be given to [`FnTiming::finish`] when it returns.
    #[inline]
    pub fn start(&self) -> Option<Instant> {
        if self.calls.fetch_add(1, Ordering::Relaxed).is_multiple_of(SAMPLE_EVERY) { Some(sample_start()) } else { None }
    }

    /// Ends a call [`FnTiming::start`] counted.
    #[inline]
    pub fn finish(&self, started: Option<Instant>) {
        if let Some(began) = started {
            self.sample_end(began);
        }
    }

    // The timed calls' work stays out of line, so that a caller inlines only the count.
    #[cold]
    #[inline(never)]
    fn sample_end(&self, began: Instant) {
        self.add_timed(began.elapsed());
    }

    /// Counts one call that took `took`, timed.
    pub fn record(&self, took: Duration) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.add_timed(took);
    }

    fn add_timed(&self, took: Duration) {
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        self.nanos.fetch_add(nanos, Ordering::Relaxed);
        // A new extreme is rare: read first, write only then.
        if nanos < self.min_nanos.load(Ordering::Relaxed) {
            self.min_nanos.fetch_min(nanos, Ordering::Relaxed);
        }
        if nanos > self.max_nanos.load(Ordering::Relaxed) {
            self.max_nanos.fetch_max(nanos, Ordering::Relaxed);
        }
        // Last, and released: a snapshot that sees this call counted sees its time, so it never
        // shows the initial minimum (u64::MAX) beside a timed call.
        self.timed.fetch_add(1, Ordering::Release);
    }
}

#[cold]
#[inline(never)]
fn sample_start() -> Instant {
    Instant::now()
}

/// One function's timing at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionTime {
    pub namespace: String,
    pub name: String,
    /// Every call.
    pub calls: u64,
    /// The timed calls (one in [`SAMPLE_EVERY`]), their time in all, and the shortest and
    /// longest of them (0 before the first).
    pub timed: u64,
    pub nanos: u64,
    pub min_nanos: u64,
    pub max_nanos: u64,
}

impl FunctionTime {
    /// The mean time of a call, in nanoseconds (of the timed calls; 0 before the first).
    pub fn mean_nanos(&self) -> f64 {
        if self.timed == 0 { 0.0 } else { self.nanos as f64 / self.timed as f64 }
    }
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
                let timed = t.timed.load(Ordering::Acquire);
                FunctionTime {
                    namespace: namespace.clone(),
                    name: name.clone(),
                    calls: t.calls.load(Ordering::Relaxed),
                    timed,
                    nanos: t.nanos.load(Ordering::Relaxed),
                    min_nanos: if timed == 0 { 0 } else { t.min_nanos.load(Ordering::Relaxed) },
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

    #[test]
    fn every_call_counted_one_in_sample_every_timed() {
        let timings = FunctionTimings::default();
        let f = timings.timing("ns", "f");
        let calls = 2 * SAMPLE_EVERY + 1;
        let mut ran = 0;
        for _ in 0..calls {
            let started = f.start();
            std::thread::sleep(Duration::from_micros(50));
            ran += 1;
            f.finish(started);
        }
        assert_eq!(ran, calls);
        let snap = &timings.snapshot()[0];
        // Calls 0, SAMPLE_EVERY and 2 * SAMPLE_EVERY were timed.
        assert_eq!((snap.calls, snap.timed), (calls, 3));
        assert!(snap.min_nanos >= 50_000 && snap.min_nanos <= snap.max_nanos, "{snap:?}");
        assert!(snap.mean_nanos() >= snap.min_nanos as f64 && snap.mean_nanos() <= snap.max_nanos as f64, "{snap:?}");
    }
}
