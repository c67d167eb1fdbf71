//! The toolkit's policies at the Python level (`toolkit_test.py`, run as a KSML function's
//! code with a fake clock): backoff and jitter, the cache's TTL and size bound, the
//! breaker's states, guard's failures and headers; then the metrics it recorded, read from
//! the user metrics registry as the Prometheus endpoint reads them.

use std::collections::BTreeMap;

#[path = "common/python_code.rs"]
mod python_code;

use weir_engine::metrics::{MetricKind, MetricValue, user_metrics};

#[test]
fn policies_behave_and_are_measured() {
    python_code::run_ok("toolkit_test.yaml", include_str!("toolkit_test.py"));

    let snapshot = user_metrics().snapshot();
    let find = |kind: MetricKind, name: &str, tags: &[(&str, &str)]| {
        let tags: BTreeMap<String, String> = tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        snapshot
            .iter()
            .find(|(id, _)| id.kind == kind && id.name == name && id.tags == tags)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("no {name} {tags:?} in {snapshot:?}"))
    };
    let counter = |name: &str, tags: &[(&str, &str)]| match find(MetricKind::Counter, name, tags) {
        MetricValue::Counter { count } => count,
        other => panic!("{other:?}"),
    };
    // metered: 5 (miss, call), 5 (hit), 6 (miss, call).
    assert_eq!(counter("weir_calls", &[("endpoint", "metered"), ("outcome", "success")]), 2);
    assert_eq!(counter("weir_cache", &[("endpoint", "metered"), ("result", "hit")]), 1);
    assert_eq!(counter("weir_cache", &[("endpoint", "metered"), ("result", "miss")]), 2);
    assert!(matches!(find(MetricKind::Timer, "weir_call_latency", &[("endpoint", "metered")]), MetricValue::Timer { count: 2, .. }));
    // flaky: one call that worked on the third attempt, one that failed after three, two at once.
    assert_eq!(counter("weir_call_retries", &[("endpoint", "flaky")]), 4);
    assert_eq!(counter("weir_calls", &[("endpoint", "flaky"), ("outcome", "success")]), 1);
    assert_eq!(counter("weir_calls", &[("endpoint", "flaky"), ("outcome", "failure")]), 3);
    // svc: opened twice (the failed probe reopened it), one rejection, closed at the end.
    assert_eq!(counter("weir_circuit_opened", &[("endpoint", "svc")]), 2);
    assert_eq!(counter("weir_calls", &[("endpoint", "svc"), ("outcome", "rejected")]), 1);
    assert_eq!(find(MetricKind::Gauge, "weir_circuit_state", &[("endpoint", "svc")]), MetricValue::Gauge { value: 0 });
    assert_eq!(find(MetricKind::Gauge, "weir_circuit_state", &[("endpoint", "rb")]), MetricValue::Gauge { value: 2 });
}
