//! The typed store layer: conversion and encoding on put, ordering by serialized keys,
//! the flavors' query shapes, views over several instances, changelogs and restoring, and
//! the current task's stores.

use std::sync::Arc;

use indexmap::IndexMap;

use super::*;
use crate::broker::CleanupPolicy;
use crate::broker::memory::MemoryBroker;
use crate::notation::Notations;
use crate::partitioner::partition_for_key;
use crate::value::Value;

fn specs(yaml: &str) -> Vec<Arc<StoreSpec>> {
    let (def, diags) = weir_dsl::parse_definition("t.yaml", "ns", yaml, &[]);
    assert!(diags.iter().all(|d| !d.is_error()), "{diags:?}");
    let def = def.expect("definition");
    let notations = Notations::builtin();
    def.stores.values().map(|s| Arc::new(StoreSpec::new(s, "app", &notations).expect("store spec"))).collect()
}

fn one(yaml: &str) -> Arc<StoreInstance> {
    let spec = specs(yaml).remove(0);
    Arc::new(StoreInstance::new(spec, 0))
}

fn s(text: &str) -> Value {
    Value::String(text.to_string())
}

fn v(instance: &Arc<StoreInstance>) -> Option<StoreView<'_>> {
    StoreView::new(std::slice::from_ref(instance))
}

fn keys(iter: StoreIter) -> Vec<Value> {
    iter.map(|e| e.expect("entry").key.to_value()).collect()
}

const KV: &str = "stores:\n  s:\n    type: keyValue\n    keyType: int\n    valueType: long\n";

#[test]
fn keys_iterate_in_serialized_byte_order() {
    let store = one(KV);
    let view = StoreView::new(std::slice::from_ref(&store)).expect("view");
    for k in [2, -1, 256, 1] {
        view.put(&Value::Long(k), Value::Long(k * 10), -1).expect("put");
    }
    // Big-endian ints: negative numbers (0xff…) sort after the positive ones, as in Kafka Streams.
    assert_eq!(keys(view.all().expect("all")), [Value::Int(1), Value::Int(2), Value::Int(256), Value::Int(-1)]);
    let back: Vec<Value> = keys(view.range(None, None, true).expect("range"));
    assert_eq!(back.first(), Some(&Value::Int(-1)));
    assert_eq!(keys(view.range(Some(&Value::Int(2)), Some(&Value::Int(256)), false).expect("range")), [Value::Int(2), Value::Int(256)]);
    assert_eq!(view.approximate_num_entries(), Ok(4));
}

#[test]
fn puts_convert_to_the_store_types_and_gets_decode() {
    let store = one(KV);
    let view = StoreView::new(std::slice::from_ref(&store)).expect("view");
    view.put(&s("7"), s("42"), -1).expect("strings convert to int and long");
    assert_eq!(view.get(&Value::Long(7)), Ok(Some(Stamped { value: Value::Long(42), timestamp: -1 })));
    let e = view.put(&Value::Long(1), s("abc"), -1).expect_err("abc is no long");
    assert_eq!(e.kind, StoreErrorKind::Argument);
    assert!(e.message.starts_with("state store 's': the value does not fit 'long'"), "{e}");
    let e = view.get(&Value::Null).expect_err("null key");
    assert_eq!(e.message, "state store 's': the key cannot be null");
    let e = view.put(&Value::Long(1 << 40), Value::Long(1), -1).expect_err("out of range");
    assert!(e.message.contains("the key does not fit 'int'"), "{e}");
    // A null value deletes; put_if_absent keeps what is there.
    assert_eq!(view.put_if_absent(&Value::Int(7), Value::Long(1), -1), Ok(Some(Stamped { value: Value::Long(42), timestamp: -1 })));
    assert_eq!(view.put_if_absent(&Value::Int(8), Value::Long(1), -1), Ok(None));
    view.put(&Value::Int(8), Value::Null, -1).expect("delete by null");
    assert_eq!(view.get(&Value::Int(8)), Ok(None));
    assert_eq!(view.delete(&Value::Int(7)), Ok(Some(Stamped { value: Value::Long(42), timestamp: -1 })));
    assert_eq!(view.delete(&Value::Int(7)), Ok(None));
}

#[test]
fn json_values_round_trip_and_operations_check_the_flavor() {
    let store = one("stores:\n  j:\n    type: keyValue\n    keyType: string\n    valueType: json\n    timestamped: true\n");
    let view = StoreView::new(std::slice::from_ref(&store)).expect("view");
    let doc = Value::Struct(IndexMap::from([("a".to_string(), Value::Long(1)), ("b".to_string(), Value::List(vec![s("x")]))]));
    view.put(&s("k"), doc.clone(), 1234).expect("put");
    assert_eq!(view.get(&s("k")), Ok(Some(Stamped { value: doc, timestamp: 1234 })));
    let e = view.window_fetch(&s("k"), 0).expect_err("not a window store");
    assert_eq!(e.kind, StoreErrorKind::WrongKind);
    assert_eq!(e.message, "state store 'j' is a timestamped key-value store, which has no 'fetch(key, time)'");
}

#[test]
fn versioned_stores_answer_as_of_a_time() {
    let store = one(
        "stores:\n  v:\n    type: keyValue\n    keyType: string\n    valueType: string\n    persistent: true\n    versioned: true\n    historyRetention: 1h\n    segmentInterval: 1m\n",
    );
    assert!(matches!(store.spec().flavor, StoreFlavor::VersionedKeyValue { history_retention_ms: 3_600_000 }));
    let view = StoreView::new(std::slice::from_ref(&store)).expect("view");
    assert_eq!(view.versioned_put(&s("k"), s("a"), 1000), Ok(PUT_VALID_TO_UNDEFINED));
    assert_eq!(view.versioned_put(&s("k"), s("b"), 2000), Ok(PUT_VALID_TO_UNDEFINED));
    assert_eq!(view.versioned_get(&s("k"), None), Ok(Some(VersionedRecord { value: s("b"), timestamp: 2000, valid_to: None })));
    assert_eq!(view.versioned_get(&s("k"), Some(1500)), Ok(Some(VersionedRecord { value: s("a"), timestamp: 1000, valid_to: Some(2000) })));
    assert_eq!(view.versioned_delete(&s("k"), 3000), Ok(Some(VersionedRecord { value: s("b"), timestamp: 2000, valid_to: None })));
    assert_eq!(view.versioned_get(&s("k"), None), Ok(None));
    // Not persistent: KSML builds a plain key-value store.
    let plain = specs("stores:\n  p:\n    type: keyValue\n    versioned: true\n").remove(0);
    assert_eq!(plain.flavor, StoreFlavor::KeyValue);
}

#[test]
fn window_stores_give_windowed_keys() {
    let store = one("stores:\n  w:\n    type: window\n    keyType: string\n    valueType: string\n    windowSize: 1m\n    retention: 1h\n");
    let view = StoreView::new(std::slice::from_ref(&store)).expect("view");
    view.window_put(&s("b"), s("b0"), 0, 0).expect("put");
    view.window_put(&s("a"), s("a0"), 0, 0).expect("put");
    view.window_put(&s("a"), s("a1"), 60_000, 0).expect("put");
    assert_eq!(view.window_fetch(&s("a"), 60_000), Ok(Some(Stamped { value: s("a1"), timestamp: -1 })));
    let by_start: Vec<Entry> = view.window_fetch_key(&s("a"), 0, 60_000, false).expect("fetch").map(|e| e.expect("entry")).collect();
    assert_eq!(by_start.iter().map(|e| e.key.clone()).collect::<Vec<_>>(), [EntryKey::WindowStart(0), EntryKey::WindowStart(60_000)]);
    let all: Vec<Value> = keys(view.window_fetch_range(None, None, 0, i64::MAX, false).expect("all"));
    assert_eq!(all.len(), 3);
    assert_eq!(
        all[0],
        Value::Struct(IndexMap::from([
            ("start".to_string(), Value::Long(0)),
            ("end".to_string(), Value::Long(60_000)),
            ("startTime".to_string(), s("1970-01-01T00:00:00Z")),
            ("endTime".to_string(), s("1970-01-01T00:01:00Z")),
            ("key".to_string(), s("a")),
        ]))
    );
    let back = keys(view.window_fetch_range(Some(&s("a")), Some(&s("a")), 0, i64::MAX, true).expect("backward"));
    assert_eq!(back.iter().map(|k| windowed_from_value(k).map(|w| w.1)).collect::<Vec<_>>(), [Some(60_000), Some(0)]);
}

#[test]
fn session_stores_find_sessions() {
    let store = one("stores:\n  s:\n    type: session\n    keyType: string\n    valueType: long\n    retention: 1h\n");
    let view = StoreView::new(std::slice::from_ref(&store)).expect("view");
    view.session_put(&s("k"), 0, 100, Value::Long(1)).expect("put");
    view.session_put(&s("k"), 500, 500, Value::Long(2)).expect("a session of one record");
    let e = view.session_put(&s("k"), 10, 5, Value::Long(3)).expect_err("start after end");
    assert!(e.message.contains("invalid session window: start 10 is after end 5"), "{e}");
    let found: Vec<Entry> =
        view.session_find(Some(&s("k")), Some(&s("k")), 100, 400, false).expect("find").map(|e| e.expect("entry")).collect();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].key, EntryKey::Windowed { key: s("k"), start: 0, end: 100 });
    assert_eq!(found[0].value, Value::Long(1));
    assert_eq!(view.session_fetch(&s("k"), 500, 500), Ok(Some(Value::Long(2))));
    view.session_remove(&s("k"), 500, 500).expect("remove");
    assert_eq!(keys(view.session_fetch_all_time(Some(&s("k")), Some(&s("k")), false).expect("fetch")).len(), 1);
}

#[test]
fn specs_refuse_what_kafka_streams_refuses() {
    let (def, _) = weir_dsl::parse_definition(
        "t.yaml",
        "ns",
        "stores:\n  v:\n    type: keyValue\n    persistent: true\n    versioned: true\n  w:\n    type: window\n    keyType: string\n    valueType: string\n    windowSize: 2m\n    retention: 1m\n",
        &[],
    );
    let def = def.expect("definition");
    let notations = Notations::builtin();
    let e = StoreSpec::new(&def.stores["v"], "app", &notations).expect_err("no segmentInterval");
    assert!(e.contains("needs a 'segmentInterval' greater than zero"), "{e}");
    let e = StoreSpec::new(&def.stores["w"], "app", &notations).expect_err("window larger than retention");
    assert!(e.contains("must be at least its window size, got windowSize 120000 ms and retention 60000 ms"), "{e}");
}

#[test]
fn views_over_several_instances_merge_and_route_writes() {
    let spec = specs("stores:\n  s:\n    type: keyValue\n    keyType: string\n    valueType: string\n").remove(0);
    let instances: Vec<Arc<StoreInstance>> = (0..3).map(|p| Arc::new(StoreInstance::new(Arc::clone(&spec), p))).collect();
    // What a task wrote: each instance holds its own keys.
    for (p, key) in [(0usize, "c"), (1, "a"), (2, "b")] {
        StoreView::new(&instances[p..=p]).expect("view").put(&s(key), s(key), -1).expect("put");
    }
    let view = StoreView::new(&instances).expect("view");
    assert_eq!(keys(view.all().expect("all")), [s("a"), s("b"), s("c")]);
    assert_eq!(view.get(&s("b")), Ok(Some(Stamped { value: s("b"), timestamp: -1 })));
    // An update goes where the key is; a new key where Kafka's partitioner puts it.
    view.put(&s("a"), s("A"), -1).expect("update");
    assert_eq!(StoreView::new(&instances[1..=1]).expect("view").get(&s("a")).expect("get").map(|v| v.value), Some(s("A")));
    view.put(&s("new"), s("n"), -1).expect("insert");
    let p = partition_for_key(b"new", 3) as usize;
    assert!(StoreView::new(&instances[p..=p]).expect("view").get(&s("new")).expect("get").is_some());
    assert_eq!(view.approximate_num_entries(), Ok(4));
}

#[test]
fn closed_stores_refuse_operations() {
    let store = one(KV);
    let view = StoreView::new(std::slice::from_ref(&store)).expect("view");
    assert!(view.is_open());
    view.close();
    assert!(!view.is_open());
    let e = view.get(&Value::Int(1)).expect_err("closed");
    assert_eq!((e.kind, e.message.as_str()), (StoreErrorKind::Closed, "state store 's' is closed"));
}

#[test]
fn the_current_task_stores_are_reachable_only_inside_the_task() {
    let e = current("s").expect_err("no task");
    assert_eq!(e.kind, StoreErrorKind::Unavailable);
    let task = Arc::new(TaskStores { stores: vec![one(KV)] });
    let other = Arc::new(TaskStores::default());
    in_task(&task, || {
        assert_eq!(current("s").expect("store").partition(), 0);
        assert!(current("nope").expect_err("unknown").message.contains("does not exist"));
        in_task(&other, || assert!(current("s").is_err()));
        assert!(current("s").is_ok(), "the outer task is back");
    });
    assert!(current("s").is_err());
}

#[test]
fn changelogs_restore_every_flavor() {
    let log = MemoryBroker::new();
    let yaml = "stores:\n  kv:\n    type: keyValue\n    keyType: string\n    valueType: long\n    logging: true\n  ts:\n    type: keyValue\n    keyType: string\n    valueType: string\n    timestamped: true\n    persistent: true\n  ver:\n    type: keyValue\n    keyType: string\n    valueType: string\n    persistent: true\n    versioned: true\n    historyRetention: 1h\n    segmentInterval: 1m\n  win:\n    type: window\n    keyType: string\n    valueType: string\n    windowSize: 10s\n    retention: 1h\n    retainDuplicates: true\n    logging: true\n  ses:\n    type: session\n    keyType: string\n    valueType: string\n    retention: 1h\n    logging: true\n  quiet:\n    type: keyValue\n    keyType: string\n    valueType: string\n";
    let specs = specs(yaml);
    let stores = StateStores::new();
    let task = stores.open_task(&specs, 1, 2, &log).expect("open");
    let view = |name: &str| task.get(name).cloned().expect("instance");
    let (kv, ts, ver, win, ses, quiet) = (view("kv"), view("ts"), view("ver"), view("win"), view("ses"), view("quiet"));
    {
        let kv = v(&kv).expect("view");
        kv.put(&s("a"), Value::Long(1), -1).expect("put");
        kv.put(&s("b"), Value::Long(2), -1).expect("put");
        kv.delete(&s("a")).expect("delete");
        v(&ts).expect("view").put(&s("t"), s("x"), 4242).expect("put");
        let ver = v(&ver).expect("view");
        ver.versioned_put(&s("k"), s("2"), 2000).expect("put");
        ver.versioned_put(&s("k"), s("1"), 1000).expect("out of order");
        let win = v(&win).expect("view");
        win.window_put(&s("w"), s("first"), 10_000, 0).expect("put");
        win.window_put(&s("w"), s("second"), 10_000, 0).expect("duplicate");
        let ses = v(&ses).expect("view");
        ses.session_put(&s("u"), 0, 50, s("gone")).expect("put");
        ses.session_put(&s("u"), 100, 200, s("kept")).expect("put");
        ses.session_remove(&s("u"), 0, 50).expect("remove");
        v(&quiet).expect("view").put(&s("q"), s("q"), -1).expect("put");
    }
    assert_eq!(task.flush_changelogs(&log).expect("flush"), 11);
    assert_eq!(task.flush_changelogs(&log).expect("flush"), 0, "each change once");
    assert!(log.topic("app-quiet-changelog").is_none(), "no changelog without logging or persistence");
    let config = log.topic("app-kv-changelog").expect("kv changelog");
    assert_eq!((config.partitions, config.cleanup), (2, CleanupPolicy::Compact));
    assert_eq!(log.topic("app-win-changelog").map(|c| (c.cleanup, c.retention_ms)), Some((CleanupPolicy::CompactDelete, Some(90_000_000))));
    assert_eq!(log.topic("app-ver-changelog").map(|c| (c.cleanup, c.retention_ms)), Some((CleanupPolicy::Delete, None)));

    // A new process: everything comes back from the changelogs, nothing from elsewhere.
    let again = StateStores::new().open_task(&specs, 1, 2, &log).expect("reopen");
    let get = |name: &str| again.get(name).cloned().expect("instance");
    let (kv, ts, ver, win, ses, quiet) = (get("kv"), get("ts"), get("ver"), get("win"), get("ses"), get("quiet"));
    let kv = v(&kv).expect("view");
    assert_eq!(keys(kv.all().expect("all")), [s("b")]);
    assert_eq!(v(&ts).expect("view").get(&s("t")), Ok(Some(Stamped { value: s("x"), timestamp: 4242 })));
    let ver = v(&ver).expect("view");
    assert_eq!(ver.versioned_get(&s("k"), Some(1500)), Ok(Some(VersionedRecord { value: s("1"), timestamp: 1000, valid_to: Some(2000) })));
    assert_eq!(ver.versioned_get(&s("k"), None).map(|r| r.map(|r| r.value)), Ok(Some(s("2"))));
    let values: Vec<Value> =
        v(&win).expect("view").window_fetch_key(&s("w"), 0, 20_000, false).expect("fetch").map(|e| e.expect("entry").value).collect();
    assert_eq!(values, [s("first"), s("second")]);
    let sessions: Vec<Entry> =
        v(&ses).expect("view").session_fetch_all_time(None, None, false).expect("fetch").map(|e| e.expect("entry")).collect();
    assert_eq!(
        sessions.iter().map(|e| (e.key.clone(), e.value.clone())).collect::<Vec<_>>(),
        [(EntryKey::Windowed { key: s("u"), start: 100, end: 200 }, s("kept"))]
    );
    assert_eq!(v(&quiet).expect("view").get(&s("q")), Ok(None));
    // The other task's partition is empty.
    let other = StateStores::new().open_task(&specs, 0, 2, &log).expect("task 0");
    assert_eq!(v(other.get("kv").expect("kv")).expect("view").approximate_num_entries(), Ok(0));
}

#[test]
fn an_open_store_is_reused_not_restored_again() {
    let log = MemoryBroker::new();
    let specs = specs("stores:\n  kv:\n    type: keyValue\n    keyType: string\n    valueType: string\n    logging: true\n");
    let stores = StateStores::new();
    let first = stores.open_task(&specs, 0, 1, &log).expect("open");
    StoreView::new(std::slice::from_ref(first.get("kv").expect("kv"))).expect("view").put(&s("k"), s("v"), -1).expect("put");
    first.flush_changelogs(&log).expect("flush");
    let second = stores.open_task(&specs, 0, 1, &log).expect("reopen");
    assert!(Arc::ptr_eq(first.get("kv").expect("kv"), second.get("kv").expect("kv")));
    assert_eq!(stores.instances("kv").len(), 1);
}

#[test]
fn instants_print_as_java_does() {
    assert_eq!(instant_text(0), "1970-01-01T00:00:00Z");
    assert_eq!(instant_text(1_700_000_000_000), "2023-11-14T22:13:20Z");
    assert_eq!(instant_text(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
    assert_eq!(instant_text(-1), "1969-12-31T23:59:59.999Z");
    assert_eq!(instant_text(253_402_300_800_000), "+10000-01-01T00:00:00Z");
}

#[test]
fn waiting_for_a_change_returns_on_the_change_not_before() {
    use std::time::{Duration, Instant};
    let stores = Arc::new(StateStores::new());
    let seen = stores.version();
    // Nothing changes: the wait lasts its timeout.
    let began = Instant::now();
    assert_eq!(stores.wait_change(seen, Duration::from_millis(50)), seen);
    assert!(began.elapsed() >= Duration::from_millis(50));
    // A change from another thread ends a long wait at once.
    let other = Arc::clone(&stores);
    let changer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(30));
        other.changed();
    });
    let began = Instant::now();
    assert_eq!(stores.wait_change(seen, Duration::from_secs(20)), seen + 1);
    assert!(began.elapsed() < Duration::from_secs(10));
    changer.join().expect("changer");
    // A change made before the wait (after the version was noted) is not missed.
    stores.changed();
    assert_eq!(stores.wait_change(seen + 1, Duration::from_secs(20)), seen + 2);
}
