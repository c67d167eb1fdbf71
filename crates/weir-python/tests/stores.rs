//! The state store proxies from Python: every method of every proxy class, the shapes of
//! what they return, their errors, and how a function reaches the current task's store.
//!
//! Each test makes store instances from a definition's `stores`, binds proxies to them and
//! runs Python that asserts on what it gets; the Rust side then checks the stores themselves.

use std::ffi::CString;
use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::PyDict;
use weir_engine::Value;
use weir_engine::notation::{Notations, Target};
use weir_engine::ports::Functions;
use weir_engine::store::{self, Stamped, StoreFlavor, StoreInstance, StoreSpec, StoreView, TaskStores};
use weir_python::PythonFunctions;
use weir_python::stores::{inspection_proxy, instance_proxy};

/// The instance (task 0) of each store defined in `yaml`, by name.
fn instances(yaml: &str) -> Vec<Arc<StoreInstance>> {
    let (def, diags) = weir_dsl::parse_definition("t.yaml", "ns", yaml, &[]);
    assert!(diags.iter().all(|d| !d.is_error()), "{diags:?}");
    let def = def.expect("definition");
    let notations = Notations::builtin();
    def.stores.values().map(|s| Arc::new(StoreInstance::new(Arc::new(StoreSpec::new(s, "app", &notations).expect("spec")), 0))).collect()
}

/// Runs `code` with `store` bound to a proxy over `instance`; a failing Python `assert`
/// fails the test with Python's message.
fn run_with(instance: &Arc<StoreInstance>, code: &str) {
    Python::attach(|py| {
        let proxy = instance_proxy(py, vec![Arc::clone(instance)]).expect("proxy").expect("an instance");
        run(py, &[("store", proxy)], code);
    });
}

fn run(py: Python<'_>, bound: &[(&str, Py<PyAny>)], code: &str) {
    let globals = PyDict::new(py);
    for (name, value) in bound {
        globals.set_item(name, value).expect("bind");
    }
    let code = CString::new(code).expect("code");
    if let Err(e) = py.run(&code, Some(&globals), None) {
        let tb = e.traceback(py).and_then(|t| t.format().ok()).unwrap_or_default();
        panic!("{tb}{e}");
    }
}

fn s(text: &str) -> Value {
    Value::String(text.to_string())
}

fn view(instance: &Arc<StoreInstance>) -> StoreView<'_> {
    StoreView::new(std::slice::from_ref(instance)).expect("view")
}

#[test]
fn key_value_store_methods() {
    let store = instances("stores:\n  counts:\n    type: keyValue\n    keyType: string\n    valueType: long\n").remove(0);
    run_with(
        &store,
        r#"
assert type(store).__name__ == "KeyValueStore"
assert repr(store) == 'KeyValueStoreProxy [name="counts"]'
assert store.name() == "counts" and store.persistent() is False and store.isOpen() is True
assert store.get("a") is None
store.put("b", 2)
store.put("a", "1")          # converted to the store's value type (long)
assert store.get("a") == 1 and type(store.get("a")) is int
assert store.putIfAbsent("a", 100) == 1
assert store.putIfAbsent("c", 3) is None and store.get("c") == 3
assert store.approximateNumEntries() == 3
assert store.delete("c") == 3 and store.delete("c") is None
store.put("b", None)          # a null value deletes
assert store.get("b") is None
store.put("b", 2)

it = store.all()
assert type(it).__name__ == "KeyValueIterator"
seen = []
while it.hasNext():
    seen.append(it.next())
assert seen == [{"key": "a", "value": 1}, {"key": "b", "value": 2}], seen
assert it.next() is None and not it.hasNext()
it.close()
assert [e["key"] for e in store.all()] == ["a", "b"]
with store.all() as it:
    assert next(it) == {"key": "a", "value": 1}
assert not it.hasNext(), "closed by the with block"

for bad, kind in [(lambda: store.put("x", "not a number"), ValueError), (lambda: store.get(None), ValueError),
                  (lambda: store.put("x", object()), TypeError)]:
    try:
        bad()
    except kind as e:
        assert "state store 'counts'" in str(e), str(e)
    else:
        raise AssertionError("no error")
store.flush()
"#,
    );
    assert_eq!(view(&store).get(&s("a")), Ok(Some(Stamped { value: Value::Long(1), timestamp: -1 })));
    run_with(
        &store,
        r#"
store.close()
assert store.isOpen() is False
try:
    store.get("a")
except RuntimeError as e:
    assert str(e) == "state store 'counts' is closed", str(e)
else:
    raise AssertionError("a closed store answered")
"#,
    );
}

#[test]
fn timestamped_key_value_store_methods() {
    let store =
        instances("stores:\n  last:\n    type: keyValue\n    keyType: string\n    valueType: json\n    timestamped: true\n").remove(0);
    run_with(
        &store,
        r#"
assert type(store).__name__ == "TimestampedKeyValueStore"
store.put("k", {"color": "blue"}, 1000)
assert store.get("k") == {"timestamp": 1000, "value": {"color": "blue"}}
assert list(store.get("k")) == ["timestamp", "value"], "KSML's key order"
assert store.putIfAbsent("k", {"color": "red"}, 2000) == {"timestamp": 1000, "value": {"color": "blue"}}
assert store.putIfAbsent("j", [1, 2], 3000) is None
assert store.approximateNumEntries() == 2
assert store.delete("j") == {"timestamp": 3000, "value": [1, 2]}
assert store.get("j") is None
try:
    store.put("k", 1, "soon")
except TypeError as e:
    assert "the timestamp must be an int" in str(e), str(e)
else:
    raise AssertionError("a string timestamp was taken")
assert not hasattr(store, "all"), "KSML's timestamped proxy has no all()"
"#,
    );
    // Assert blocks see a timestamped store through the plain proxy, as Kafka's test driver
    // shows it to KSML's runner.
    Python::attach(|py| {
        let proxy = inspection_proxy(py, vec![Arc::clone(&store)]).expect("proxy").expect("instance");
        run(
            py,
            &[("store", proxy)],
            r#"
assert type(store).__name__ == "KeyValueStore"
assert store.get("k") == {"color": "blue"}
assert [e["key"] for e in store.all()] == ["k"]
"#,
        );
    });
}

#[test]
fn versioned_key_value_store_methods() {
    let store = instances(
        "stores:\n  v:\n    type: keyValue\n    keyType: string\n    valueType: string\n    persistent: true\n    versioned: true\n    historyRetention: 1h\n    segmentInterval: 1m\n",
    )
    .remove(0);
    run_with(
        &store,
        r#"
assert type(store).__name__ == "VersionedKeyValueStore"
assert store.persistent() is True
assert store.put("k", "a", 1000) == -1
assert store.put("k", "c", 3000) == -1
assert store.put("k", "b", 2000) == 3000, "valid until the next version"
assert store.get("k") == {"timestamp": 3000, "value": "c"}
assert store.get("k", 2500) == {"timestamp": 2000, "validTo": 3000, "value": "b"}
assert list(store.get("k", 2500)) == ["timestamp", "validTo", "value"]
assert store.get("k", 999) is None
assert store.delete("k", 4000) == {"timestamp": 3000, "value": "c"}
assert store.get("k") is None and store.get("k", 3500) == {"timestamp": 3000, "validTo": 4000, "value": "c"}
# Older than the history retention (1h before stream time 4000 + 2h): not put.
assert store.put("k", "late", 4000) == -1
assert store.put("j", "x", 2 * 3600 * 1000 + 4000) == -1
assert store.put("k", "too old", 1000) == -2**63
for call in (lambda: store.get(), lambda: store.get("k", 1, 2)):
    try:
        call()
    except TypeError as e:
        assert "get() takes (key) or (key, asOfTimestamp)" in str(e), str(e)
    else:
        raise AssertionError("wrong arity taken")
"#,
    );
}

const WINDOW: &str = "stores:\n  w:\n    type: window\n    keyType: string\n    valueType: string\n    windowSize: 1m\n    retention: 1h\n";

#[test]
fn window_store_methods() {
    let store = instances(WINDOW).remove(0);
    run_with(
        &store,
        r#"
assert type(store).__name__ == "WindowStore"
store.put("b", "b0", 0)
store.put("a", "a0", 0)
store.put("a", "a1", 60000)
store.put("c", "c2", 120000)
assert store.fetch("a", 60000) == "a1" and store.fetch("a", 30000) is None
# One key: entries keyed by window start.
assert [(e["key"], e["value"]) for e in store.fetch("a", 0, 60000)] == [(0, "a0"), (60000, "a1")]
assert [e["key"] for e in store.backwardFetch("a", 0, 60000)] == [60000, 0]
# Key ranges: windowed keys, by window start then key.
first = store.fetch("a", "b", 0, 60000).next()
assert first == {"key": {"start": 0, "end": 60000, "startTime": "1970-01-01T00:00:00Z",
                         "endTime": "1970-01-01T00:01:00Z", "key": "a"}, "value": "a0"}, first
keys = lambda it: [(e["key"]["key"], e["key"]["start"]) for e in it]
assert keys(store.fetch("a", "b", 0, 60000)) == [("a", 0), ("b", 0), ("a", 60000)]
assert keys(store.fetch(None, "a", 0, 10**12)) == [("a", 0), ("a", 60000)], "None is an open end"
assert keys(store.backwardFetch("a", "c", 0, 10**12)) == [("c", 120000), ("a", 60000), ("b", 0), ("a", 0)]
assert keys(store.fetchAll(60000, 120000)) == [("a", 60000), ("c", 120000)]
assert keys(store.backwardFetchAll(0, 60000)) == [("a", 60000), ("b", 0), ("a", 0)]
assert keys(store.all()) == [("a", 0), ("b", 0), ("a", 60000), ("c", 120000)]
assert keys(store.backwardAll())[0] == ("c", 120000)
store.put("a", None, 0)
assert store.fetch("a", 0) is None
for call, text in [(lambda: store.fetch("a"), "fetch() takes (key, time), (key, timeFrom, timeTo)"),
                   (lambda: store.backwardFetch("a", 1), "backwardFetch() takes (key, timeFrom, timeTo)")]:
    try:
        call()
    except TypeError as e:
        assert text in str(e), str(e)
    else:
        raise AssertionError("wrong arity taken")
"#,
    );
}

#[test]
fn timestamped_window_store_methods() {
    // KSML builds user window stores plain (even with `timestamped: true`); the timestamped
    // flavor is the one windowed aggregations will use, so this test builds it directly.
    let notations = Notations::builtin();
    let string = weir_dsl::types::parse_user_type("string", &[]).expect("type");
    let codec = |is_key| notations.codec(&string, &Target { topic: Some("app-tw-changelog".into()), is_key }).expect("codec");
    let spec = StoreSpec {
        name: "tw".to_string(),
        flavor: StoreFlavor::Window { retention_ms: 3_600_000, window_size_ms: 60_000, retain_duplicates: false, timestamped: true },
        key_type: string.clone(),
        value_type: string.clone(),
        key: codec(true),
        value: codec(false),
        persistent: false,
        logging: false,
        changelog: None,
    };
    let store = Arc::new(StoreInstance::new(Arc::new(spec), 0));
    run_with(
        &store,
        r#"
assert type(store).__name__ == "TimestampedWindowStore"
store.put("k", "v", 60000, 61234)
assert store.fetch("k", 60000) == {"timestamp": 61234, "value": "v"}
store.put("k", {"value": "w", "timestamp": 70000}, 60000)
assert store.fetch("k", 60000) == {"timestamp": 70000, "value": "w"}
try:
    store.put("k", "no timestamp", 60000)
except TypeError as e:
    assert "takes the value as a dict with 'value' and 'timestamp'" in str(e), str(e)
else:
    raise AssertionError("a bare value was taken")
"#,
    );
}

#[test]
fn session_store_methods() {
    let store = instances("stores:\n  s:\n    type: session\n    keyType: string\n    valueType: long\n    retention: 1h\n").remove(0);
    run_with(
        &store,
        r#"
assert type(store).__name__ == "SessionStore"
store.put({"start": 0, "end": 100, "key": "a"}, 1)
store.put({"start": 300, "end": 400, "key": "a"}, 2)
store.put({"start": 50, "end": 100, "key": "b"}, 3)
store.put({"start": 500, "end": 500, "key": "b"}, 4)   # a session of one record
spans = lambda it: [(e["key"]["key"], e["key"]["start"], e["key"]["end"], e["value"]) for e in it]
assert spans(store.fetch("a")) == [("a", 0, 100, 1), ("a", 300, 400, 2)]
assert spans(store.backwardFetch("a")) == [("a", 300, 400, 2), ("a", 0, 100, 1)]
assert spans(store.fetch("a", "b")) == [("a", 0, 100, 1), ("b", 50, 100, 3), ("a", 300, 400, 2), ("b", 500, 500, 4)]
assert spans(store.backwardFetch(None, None))[0] == ("b", 500, 500, 4)
# Sessions ending at or after 100 and starting at or before 299 (what merging a record at 200
# with a 100 ms gap looks for).
assert spans(store.findSessions("a", 100, 299)) == [("a", 0, 100, 1)]
assert spans(store.findSessions("a", "b", 100, 400)) == [("a", 0, 100, 1), ("b", 50, 100, 3), ("a", 300, 400, 2)]
assert spans(store.backwardFindSessions("a", 0, 10**12)) == [("a", 300, 400, 2), ("a", 0, 100, 1)]
assert spans(store.backwardFindSessions("a", "b", 101, 10**12)) == [("b", 500, 500, 4), ("a", 300, 400, 2)]
entry = store.fetch("b").next()
assert entry["key"] == {"start": 50, "end": 100, "startTime": "1970-01-01T00:00:00.050Z",
                        "endTime": "1970-01-01T00:00:00.100Z", "key": "b"}, entry
assert store.fetchSession("a", 300, 400) == 2 and store.fetchSession("a", 300, 401) is None
store.remove(entry["key"])                        # a key as the store gave it
assert store.fetchSession("b", 50, 100) is None
for bad, text in [(lambda: store.put({"start": 0, "key": "a"}, 1), "a session key is a dict with 'start' and 'end'"),
                  (lambda: store.put({"start": 9, "end": 1, "key": "a"}, 1), "start 9 is after end 1")]:
    try:
        bad()
    except ValueError as e:
        assert text in str(e), str(e)
    else:
        raise AssertionError("a bad session key was taken")
"#,
    );
    let left: Vec<_> = view(&store).session_fetch_all_time(None, None, false).expect("fetch").map(|e| e.expect("entry").value).collect();
    assert_eq!(left, [Value::Long(1), Value::Long(2), Value::Long(4)]);
}

#[test]
fn assert_block_proxies_see_every_task_instance() {
    let (def, _) =
        weir_dsl::parse_definition("t.yaml", "ns", "stores:\n  s:\n    type: keyValue\n    keyType: string\n    valueType: string\n", &[]);
    let def = def.expect("definition");
    let spec = Arc::new(StoreSpec::new(&def.stores["s"], "app", &Notations::builtin()).expect("spec"));
    let tasks: Vec<Arc<StoreInstance>> = (0..2).map(|p| Arc::new(StoreInstance::new(Arc::clone(&spec), p))).collect();
    view(&tasks[0]).put(&s("b"), s("from task 0"), -1).expect("put");
    view(&tasks[1]).put(&s("a"), s("from task 1"), -1).expect("put");
    Python::attach(|py| {
        let proxy = inspection_proxy(py, tasks.clone()).expect("proxy").expect("instances");
        run(
            py,
            &[("s", proxy)],
            r#"
assert s.get("a") == "from task 1" and s.get("b") == "from task 0"
assert [e["key"] for e in s.all()] == ["a", "b"]
assert s.approximateNumEntries() == 2
"#,
        );
    });
}

#[test]
fn functions_reach_the_current_task_store() {
    let yaml = "stores:\n  seen:\n    type: keyValue\n    keyType: string\n    valueType: long\n  win:\n    type: window\n    keyType: string\n    valueType: string\n    windowSize: 1m\n    retention: 1h\nfunctions:\n  count:\n    type: forEach\n    stores: [seen, win]\n    code: |\n      assert type(win).__name__ == 'WindowStore'\n      assert stores['seen'] is seen\n      n = seen.get(key)\n      seen.put(key, (n or 0) + 1)\n  peek_other:\n    type: predicate\n    stores: [seen]\n    expression: helper(key)\n    globalCode: |\n      def helper(k):\n          return stores['seen'].get(k) is not None\n";
    let (def, diags) = weir_dsl::parse_definition("defs/t.yaml", "ns", yaml, &[]);
    assert!(diags.iter().all(|d| !d.is_error()), "{diags:?}");
    let def = def.expect("definition");
    let functions = PythonFunctions::load(&def).expect("load");
    let notations = Notations::builtin();
    let spec = |name: &str| Arc::new(StoreSpec::new(&def.stores[name], "app", &notations).expect("spec"));
    let (seen, win) = (spec("seen"), spec("win"));
    let task = |p| {
        Arc::new(TaskStores::new(vec![
            Arc::new(StoreInstance::new(Arc::clone(&seen), p)),
            Arc::new(StoreInstance::new(Arc::clone(&win), p)),
        ]))
    };
    let (t0, t1) = (task(0), task(1));
    let call = |f: &str, key: &str| functions.call(f, &[s(key), Value::Null]);
    store::in_task(&t0, || {
        call("count", "a").expect("call");
        call("count", "a").expect("call");
        assert_eq!(call("peek_other", "a"), Ok(Value::Bool(true)), "globalCode helpers see the module's `stores`");
    });
    store::in_task(&t1, || {
        call("count", "a").expect("call");
        assert_eq!(call("peek_other", "b"), Ok(Value::Bool(false)));
    });
    let count = |t: &TaskStores| view(t.get("seen").expect("instance")).get(&s("a")).expect("get").map(|v| v.value);
    assert_eq!(count(&t0), Some(Value::Long(2)), "each task has its own instance");
    assert_eq!(count(&t1), Some(Value::Long(1)));
    let e = call("count", "a").expect_err("no task");
    assert!(e.message.contains("RuntimeError: state store 'seen' is only available while a stream task processes a record"), "{e}");
}

/// KSML's `ksml.py` typing helper looks its classes up with GraalPy's `java.type(...)` at run
/// time; Weir's `java` module gives the matching proxy classes and refuses anything else.
#[test]
fn java_type_gives_the_proxy_classes_ksml_py_names() {
    let yaml = "stores:\n  seen:\n    type: keyValue\n    keyType: string\n    valueType: long\nfunctions:\n  check:\n    type: predicate\n    stores: [seen]\n    globalCode: |\n      import java\n      KeyValueStore = java.type('io.axual.ksml.proxy.store.KeyValueStoreProxy')\n      SessionStore = java.type('io.axual.ksml.proxy.store.SessionStoreProxy')\n      PythonLogger = java.type('io.axual.ksml.proxy.log.LoggerBridge$PythonLogger')\n      MetricsBridge = java.type('io.axual.ksml.proxy.metric.MetricsBridge')\n      try:\n        java.type('java.lang.System')\n        refused = None\n      except ImportError as e:\n        refused = str(e)\n    code: |\n      assert isinstance(seen, KeyValueStore) and not isinstance(seen, SessionStore)\n      assert isinstance(log, PythonLogger) and isinstance(metrics, MetricsBridge)\n      assert refused.startswith(\"java.type('java.lang.System'): Weir runs Python on CPython\"), refused\n      assert 'io.axual.ksml.proxy.store.WindowStoreProxy' in refused, refused\n    expression: True\n";
    let (def, diags) = weir_dsl::parse_definition("defs/t.yaml", "ns", yaml, &[]);
    assert!(diags.iter().all(|d| !d.is_error()), "{diags:?}");
    let def = def.expect("definition");
    let functions = PythonFunctions::load(&def).expect("load");
    let notations = Notations::builtin();
    let seen = Arc::new(StoreSpec::new(&def.stores["seen"], "app", &notations).expect("spec"));
    let task = Arc::new(TaskStores::new(vec![Arc::new(StoreInstance::new(seen, 0))]));
    store::in_task(&task, || {
        assert_eq!(functions.call("check", &[s("k"), Value::Null]), Ok(Value::Bool(true)));
    });
}
