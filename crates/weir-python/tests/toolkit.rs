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

/// A `CallFailed` gives the function's error its `call.*` details (the dead letter's
/// headers), also when the function wraps it in its own exception.
#[test]
fn call_failures_give_their_details_along_the_chain() {
    let yaml = "functions:\n  direct:\n    type: valueTransformer\n    globalCode: |\n      import weir\n      def refuse():\n          raise ConnectionRefusedError('no')\n      db = weir.guard('orders-db')(refuse)\n    code: |\n      db()\n    resultType: string\n  wrapped:\n    type: valueTransformer\n    code: |\n      try:\n          db()\n      except weir.CallFailed as e:\n          raise ValueError('lookup failed') from e\n    resultType: string\n  plain:\n    type: valueTransformer\n    code: |\n      raise ValueError('no call')\n    resultType: string\n";
    let (def, diags) = weir_dsl::parse_definition("chain.yaml", "ns", yaml, &[]);
    assert!(diags.iter().all(|d| !d.is_error()), "{diags:?}");
    let functions = weir_python::PythonFunctions::load(&def.expect("definition")).expect("load");
    let details = |name: &str| {
        use weir_python::Functions as _;
        let e = functions.call(name, &[weir_engine::Value::Null, weir_engine::Value::Null]).expect_err("fails");
        e.details.to_vec()
    };
    let expected = vec![
        ("call.attempts".to_string(), "1".to_string()),
        ("call.cause".to_string(), "ConnectionRefusedError: no".to_string()),
        ("call.endpoint".to_string(), "orders-db".to_string()),
    ];
    assert_eq!(details("direct"), expected);
    assert_eq!(details("wrapped"), expected);
    assert!(details("plain").is_empty());
}
