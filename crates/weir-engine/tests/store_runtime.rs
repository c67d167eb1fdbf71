//! State stores in the plan and the runtime, without Python: the plan turns top-level
//! `stores` into specs (refusing what Kafka Streams refuses), every task gets its own
//! instances, functions reach the current task's instance, changes reach the changelog
//! (partition = task) and a new run restores them.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use weir_engine::Value;
use weir_engine::broker::memory::MemoryBroker;
use weir_engine::broker::{Broker, NewRecord, TopicSpec};
use weir_engine::metrics::EngineCounters;
use weir_engine::notation::Notations;
use weir_engine::plan::{PlanInput, PlanOptions, Topology, plan};
use weir_engine::ports::{FunctionError, Functions};
use weir_engine::runtime::{RunOptions, run};
use weir_engine::store::{self, StateStores, StoreView};

/// `count`: counts the records of each key in the current task's store `counts`.
struct Counter;

impl Functions for Counter {
    fn call(&self, name: &str, args: &[Value]) -> Result<Value, FunctionError> {
        let fail = |message: String| FunctionError {
            function: format!("ns.{name}"),
            message,
            traceback: None,
            location: None,
            details: Box::default(),
        };
        let instance = store::current("counts").map_err(|e| fail(e.message))?;
        let view = StoreView::new(std::slice::from_ref(&instance)).ok_or_else(|| fail("no view".into()))?;
        let n = match view.get(&args[0]).map_err(|e| fail(e.message))? {
            Some(s) => match s.value {
                Value::Long(n) => n + 1,
                other => return Err(fail(format!("unexpected {other}"))),
            },
            None => 1,
        };
        view.put(&args[0], Value::Long(n), -1).map_err(|e| fail(e.message))?;
        Ok(Value::Long(n))
    }
}

const DEF: &str = "streams:\n  words:\n    topic: words\n    keyType: string\n    valueType: string\nstores:\n  counts:\n    type: keyValue\n    keyType: string\n    valueType: long\n    logging: true\nfunctions:\n  count:\n    type: valueTransformer\n    stores: [counts]\n    expression: 0\n    resultType: long\npipelines:\n  p:\n    from: words\n    via:\n      - type: transformValue\n        mapper: count\n    to:\n      topic: out\n      keyType: string\n      valueType: long\n";

fn definition(yaml: &str) -> weir_dsl::model::Definition {
    let (def, diags) = weir_dsl::parse_definition("t.yaml", "ns", yaml, &[]);
    assert!(diags.iter().all(|d| !d.is_error()), "{diags:?}");
    def.expect("definition")
}

fn planned(defs: &[&weir_dsl::model::Definition]) -> Result<Topology, Vec<weir_dsl::Diagnostic>> {
    let inputs: Vec<PlanInput> =
        defs.iter().map(|d| PlanInput { definition: d, functions: Arc::new(Counter) as Arc<dyn Functions> }).collect();
    plan(&inputs, &Notations::builtin(), &PlanOptions { producers: false, ..PlanOptions::new("app") })
}

fn record(key: &str) -> NewRecord {
    NewRecord { timestamp: 1000, key: Some(key.as_bytes().to_vec()), value: Some(b"x".to_vec()), headers: Vec::new() }
}

fn run_once(topology: &Arc<Topology>, log: &Arc<MemoryBroker>, stores: &Arc<StateStores>) {
    let mut options = RunOptions::new("app");
    options.until_idle = true;
    options.commit_interval = std::time::Duration::ZERO;
    options.stores = Arc::clone(stores);
    let broker: Arc<dyn Broker> = Arc::clone(log) as Arc<dyn Broker>;
    run(Arc::clone(topology), broker, options, Arc::new(AtomicBool::new(false)), Arc::new(EngineCounters::default())).expect("run");
}

/// The keys and long values written to `out`.
fn outputs(log: &MemoryBroker) -> Vec<(String, i64)> {
    log.read("out", 0, 0, 1 << 20)
        .expect("read out")
        .into_iter()
        .map(|r| {
            let key = String::from_utf8(r.key.expect("key")).expect("utf8");
            let value = i64::from_be_bytes(r.value.expect("value").try_into().expect("8 bytes"));
            (key, value)
        })
        .collect()
}

#[test]
fn each_task_has_its_own_store_and_a_restart_restores_it() {
    let log = Arc::new(MemoryBroker::new());
    log.ensure_topic_with("words", &TopicSpec::with_partitions(2)).expect("topic");
    log.ensure_topic_with("out", &TopicSpec::with_partitions(1)).expect("topic");
    // The same key in both partitions: each task counts its own.
    log.append("words", 0, &[record("a"), record("b"), record("a")]).expect("append");
    log.append("words", 1, &[record("a")]).expect("append");
    let def = definition(DEF);
    let topology = Arc::new(planned(&[&def]).expect("plan"));
    assert_eq!(topology.stores.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["counts"]);
    assert_eq!(topology.stores[0].changelog.as_deref(), Some("app-counts-changelog"));

    let stores = Arc::new(StateStores::new());
    run_once(&topology, &log, &stores);
    let instances = stores.instances("counts");
    assert_eq!(instances.iter().map(|i| i.partition()).collect::<Vec<_>>(), [0, 1]);
    let count = |i: usize, key: &str| {
        StoreView::new(&instances[i..=i]).expect("view").get(&Value::String(key.into())).expect("get").map(|s| s.value)
    };
    assert_eq!(
        (count(0, "a"), count(0, "b"), count(1, "a"), count(1, "b")),
        (Some(Value::Long(2)), Some(Value::Long(1)), Some(Value::Long(1)), None)
    );
    // Changes went to the changelog partition of their task, before the run committed.
    assert_eq!(log.end_offset("app-counts-changelog", 0).expect("end"), 3);
    assert_eq!(log.end_offset("app-counts-changelog", 1).expect("end"), 1);
    // Inspection over both tasks: keys merged in order, point lookups find the first.
    let both = StoreView::new(&instances).expect("view");
    assert_eq!(both.approximate_num_entries(), Ok(3));

    // A new process (fresh stores): counts continue from the changelogs.
    log.append("words", 0, &[record("a")]).expect("append");
    log.append("words", 1, &[record("a")]).expect("append");
    run_once(&topology, &log, &Arc::new(StateStores::new()));
    // One stream thread: task 0's batch, then task 1's, in each run.
    let expected = [("a", 1), ("b", 1), ("a", 2), ("a", 1), ("a", 3), ("a", 2)];
    assert_eq!(outputs(&log), expected.map(|(k, n)| (k.to_string(), n)));
}

#[test]
fn the_plan_refuses_what_kafka_streams_refuses() {
    // Settings Kafka Streams refuses when it builds a store: the front end reports them (so
    // `weir check` does), and a store spec made from such a definition anyway is refused too.
    let yaml = "stores:\n  v:\n    type: keyValue\n    keyType: string\n    valueType: string\n    persistent: true\n    versioned: true\n  w:\n    type: window\n    keyType: string\n    valueType: string\n    windowSize: 1h\n    retention: 1m\n";
    let (bad, diags) = weir_dsl::parse_definition("t.yaml", "ns", yaml, &[]);
    let messages: Vec<String> = diags.iter().filter(|d| d.is_error()).map(|d| format!("{} {}", d.path, d.message)).collect();
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert!(
        messages[0].starts_with("stores.v.segmentInterval versioned store 'v' needs a 'segmentInterval' greater than zero"),
        "{messages:?}"
    );
    assert!(
        messages[1].starts_with("stores.w.retention the retention of window store 'w' must be at least its window size"),
        "{messages:?}"
    );
    let diags = planned(&[&bad.expect("definition")]).expect_err("refused");
    let messages: Vec<String> = diags.iter().map(|d| format!("{} {}", d.path, d.message)).collect();
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert!(messages[0].starts_with("stores.v versioned store 'v' needs a 'segmentInterval' greater than zero"), "{messages:?}");
    assert!(messages[1].starts_with("stores.w the retention of window store 'w' must be at least its window size"), "{messages:?}");

    // Store names are the application's: two definitions cannot both define one.
    let a = definition(DEF);
    let (b, _) = weir_dsl::parse_definition("other.yaml", "other", "stores:\n  counts:\n    type: keyValue\n", &[]);
    let diags = planned(&[&a, &b.expect("definition")]).expect_err("refused");
    assert_eq!(diags.len(), 1);
    assert_eq!(diags[0].file, "other.yaml");
    assert_eq!(diags[0].message, "state store 'counts' is also defined in 't.yaml': store names are shared by the whole application");
}

/// The runtime reports the stream threads' state as KSML's probes read it (created, started
/// once the partitions are open, stopped), and the read-only queries see the stores: an
/// unknown one, one not open yet, then its entries, with keys given as text.
#[test]
fn component_states_and_store_queries_follow_the_run() {
    use std::sync::atomic::Ordering;
    use std::time::{Duration, Instant};
    use weir_engine::metrics::ComponentState;
    use weir_engine::store::{QueryError, StoreQueries};

    let log = Arc::new(MemoryBroker::new());
    log.ensure_topic_with("words", &TopicSpec::with_partitions(1)).expect("topic");
    log.append("words", 0, &[record("a"), record("b"), record("a")]).expect("append");
    let def = definition(DEF);
    let topology = Arc::new(planned(&[&def]).expect("plan"));
    let stores = Arc::new(StateStores::new());
    let queries = StoreQueries::new(topology.stores.clone(), Arc::clone(&stores));
    assert_eq!(queries.store("nope").err(), Some(QueryError::Unknown("nope".into())));
    assert_eq!(queries.store("counts").err(), Some(QueryError::NotReady("counts".into())));

    let counters = Arc::new(EngineCounters::default());
    assert_eq!(counters.streams.get(), ComponentState::Created);
    let shutdown = Arc::new(AtomicBool::new(false));
    let mut options = RunOptions::new("app");
    options.commit_interval = Duration::ZERO;
    options.stores = Arc::clone(&stores);
    let running = {
        let (topology, counters, shutdown) = (Arc::clone(&topology), Arc::clone(&counters), Arc::clone(&shutdown));
        let broker: Arc<dyn Broker> = Arc::clone(&log) as Arc<dyn Broker>;
        std::thread::spawn(move || run(topology, broker, options, shutdown, counters))
    };
    let began = Instant::now();
    while counters.consumed.load(Ordering::Relaxed) < 3 && began.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(counters.streams.get(), ComponentState::Started);
    assert_eq!(counters.producers.get(), ComponentState::NotApplicable);
    let store = queries.store("counts").expect("open");
    assert_eq!(store.entry_count(), Ok(2));
    let a = store.key_from_text("a").expect("a string key");
    assert_eq!(store.get(&a).expect("get").map(|s| s.value), Some(Value::Long(2)));
    let keys: Vec<Value> = store.range(None, None, None).expect("range").map(|e| e.expect("entry").value).collect();
    assert_eq!(keys, [Value::Long(2), Value::Long(1)]);
    // Only a versioned store answers as of a time.
    assert!(store.range(None, None, Some(5)).is_err());

    shutdown.store(true, Ordering::SeqCst);
    running.join().expect("join").expect("run");
    assert_eq!(counters.streams.get(), ComponentState::Stopped);
    assert!(counters.commits.load(Ordering::Relaxed) >= 1);
}
