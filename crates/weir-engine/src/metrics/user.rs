//! User-defined metrics: the counters, meters and timers KSML functions create through the
//! `metrics` built-in (`metrics.counter("name", {"tag": "v"}).increment()`), and the
//! counters, timers and gauges of Weir's Python toolkit (`import weir`:
//! docs/external-systems.md).
//!
//! A metric is identified by its kind, name and tags; asking for the same one twice gives
//! the same metric (KSML caches them too). `close()` removes it. The registry is process-wide
//! ([`user_metrics`]); readers take it through [`super::Metrics::snapshot`], and `weir run`'s
//! Prometheus endpoint publishes it under KSML's names (`user-defined-counter` with a `custom-name`
//! tag, …, see the inventory's §4.2 and §9).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MetricKind {
    Counter,
    Meter,
    Timer,
    /// A value that goes up and down (Weir's toolkit: a circuit's state).
    Gauge,
}

impl MetricKind {
    pub fn name(self) -> &'static str {
        match self {
            MetricKind::Counter => "counter",
            MetricKind::Meter => "meter",
            MetricKind::Timer => "timer",
            MetricKind::Gauge => "gauge",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MetricId {
    pub kind: MetricKind,
    pub name: String,
    pub tags: BTreeMap<String, String>,
}

/// The current state of one metric.
#[derive(Debug, Clone, PartialEq)]
pub enum MetricValue {
    Counter {
        count: u64,
    },
    /// Events marked, and the mean rate per second since the meter was created.
    Meter {
        count: u64,
        mean_rate: f64,
    },
    /// Durations recorded, in nanoseconds.
    Timer {
        count: u64,
        sum_ns: u128,
        min_ns: u64,
        max_ns: u64,
    },
    /// The last value set.
    Gauge {
        value: i64,
    },
}

#[derive(Debug)]
enum State {
    Counter(u64),
    Meter { count: u64, since: Instant },
    Timer { count: u64, sum_ns: u128, min_ns: u64, max_ns: u64 },
    Gauge(i64),
}

#[derive(Debug, Default)]
pub struct Registry {
    metrics: Mutex<HashMap<MetricId, State>>,
}

/// The process-wide registry of user metrics.
pub fn user_metrics() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(Registry::default)
}

impl Registry {
    fn with<R>(&self, f: impl FnOnce(&mut HashMap<MetricId, State>) -> R) -> R {
        let mut guard = self.metrics.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut guard)
    }

    /// The metric's state, created if new (the id is cloned only then: updates by a held id
    /// allocate nothing).
    fn entry<'m>(metrics: &'m mut HashMap<MetricId, State>, id: &MetricId) -> &'m mut State {
        if !metrics.contains_key(id) {
            let state = match id.kind {
                MetricKind::Counter => State::Counter(0),
                MetricKind::Meter => State::Meter { count: 0, since: Instant::now() },
                MetricKind::Timer => State::Timer { count: 0, sum_ns: 0, min_ns: u64::MAX, max_ns: 0 },
                MetricKind::Gauge => State::Gauge(0),
            };
            metrics.insert(id.clone(), state);
        }
        metrics.get_mut(id).expect("inserted above")
    }

    /// Creates the metric if it does not exist yet.
    pub fn register(&self, id: &MetricId) {
        self.with(|m| {
            Self::entry(m, id);
        });
    }

    /// Adds `n` to a counter, or marks `n` events on a meter.
    pub fn add(&self, id: &MetricId, n: u64) {
        self.with(|m| match Self::entry(m, id) {
            State::Counter(c) => *c = c.saturating_add(n),
            State::Meter { count, .. } => *count = count.saturating_add(n),
            State::Timer { .. } | State::Gauge(_) => {}
        });
    }

    /// Sets a gauge.
    pub fn set(&self, id: &MetricId, value: i64) {
        self.with(|m| {
            if let State::Gauge(g) = Self::entry(m, id) {
                *g = value;
            }
        });
    }

    /// Records one duration on a timer.
    pub fn record(&self, id: &MetricId, nanos: u64) {
        self.with(|m| {
            if let State::Timer { count, sum_ns, min_ns, max_ns } = Self::entry(m, id) {
                *count += 1;
                *sum_ns += u128::from(nanos);
                *min_ns = (*min_ns).min(nanos);
                *max_ns = (*max_ns).max(nanos);
            }
        });
    }

    /// Removes a metric (KSML's `close()`).
    pub fn remove(&self, id: &MetricId) {
        self.with(|m| {
            m.remove(id);
        });
    }

    /// Every metric and its value, sorted by kind, name and tags.
    pub fn snapshot(&self) -> Vec<(MetricId, MetricValue)> {
        let mut out: Vec<_> = self.with(|m| {
            m.iter()
                .map(|(id, state)| {
                    let value = match state {
                        State::Counter(c) => MetricValue::Counter { count: *c },
                        State::Meter { count, since } => {
                            let secs = since.elapsed().as_secs_f64();
                            MetricValue::Meter { count: *count, mean_rate: if secs > 0.0 { *count as f64 / secs } else { 0.0 } }
                        }
                        State::Timer { count, sum_ns, min_ns, max_ns } => MetricValue::Timer {
                            count: *count,
                            sum_ns: *sum_ns,
                            min_ns: if *count == 0 { 0 } else { *min_ns },
                            max_ns: *max_ns,
                        },
                        State::Gauge(g) => MetricValue::Gauge { value: *g },
                    };
                    (id.clone(), value)
                })
                .collect()
        });
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(kind: MetricKind, name: &str) -> MetricId {
        MetricId { kind, name: name.to_string(), tags: BTreeMap::from([("pipeline".to_string(), "p".to_string())]) }
    }

    #[test]
    fn counters_meters_timers() {
        let r = Registry::default();
        r.add(&id(MetricKind::Counter, "seen"), 1);
        r.add(&id(MetricKind::Counter, "seen"), 2);
        r.add(&id(MetricKind::Meter, "rate"), 5);
        r.record(&id(MetricKind::Timer, "t"), 10);
        r.record(&id(MetricKind::Timer, "t"), 30);
        r.set(&id(MetricKind::Gauge, "g"), 2);
        r.set(&id(MetricKind::Gauge, "g"), 1);
        let snap = r.snapshot();
        assert_eq!(snap[0].1, MetricValue::Counter { count: 3 });
        assert!(matches!(snap[1].1, MetricValue::Meter { count: 5, .. }));
        assert_eq!(snap[2].1, MetricValue::Timer { count: 2, sum_ns: 40, min_ns: 10, max_ns: 30 });
        assert_eq!(snap[3].1, MetricValue::Gauge { value: 1 });
        r.remove(&id(MetricKind::Counter, "seen"));
        assert_eq!(r.snapshot().len(), 3);
    }
}
