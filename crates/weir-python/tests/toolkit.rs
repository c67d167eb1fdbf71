//! The toolkit's policies at the Python level (`toolkit_test.py`, run as a KSML function's
//! code with a fake clock): backoff and jitter, the cache's TTL and size bound, the
//! breaker's states, guard's failures and headers; then the metrics it recorded, read from
//! the user metrics registry as the Prometheus endpoint reads them.

use std::collections::BTreeMap;

use weir_engine::Value;
use weir_engine::metrics::{MetricKind, MetricValue, user_metrics};
use weir_python::{Functions, PythonFunctions};

#[test]
fn policies_behave_and_are_measured() {
    let code = include_str!("toolkit_test.py");
    let yaml = format!(
        "functions:\n  toolkit:\n    type: valueTransformer\n    code: |\n{}\n      return 'ok'\n    resultType: string\n",
        code.lines().map(|l| if l.is_empty() { String::new() } else { format!("      {l}") }).collect::<Vec<_>>().join("\n")
    );
    let (def, diags) = weir_dsl::parse_definition("toolkit_test.yaml", "ns", &yaml, &[]);
    assert!(diags.iter().all(|d| !d.is_error()), "{diags:?}");
    let functions = PythonFunctions::load(&def.expect("definition")).expect("load");
    let result = functions.call("toolkit", &[Value::Null, Value::Null]);
    assert_eq!(result, Ok(Value::String("ok".into())), "{}", result.as_ref().err().map(ToString::to_string).unwrap_or_default());

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
