//! What the Kafka tests share: a real broker and unique names.
//!
//! The broker is `WEIR_KAFKA_BOOTSTRAP` when set. Otherwise the first test of a test binary
//! starts one with `scripts/kafka.sh start --dir target/kafka-test` (the script serialises
//! concurrent starts on one dir and reuses a broker already running there), and it is LEFT
//! RUNNING at exit, so every test binary and the next `cargo test` share it. Stop it with
//! `scripts/kafka.sh stop --dir target/kafka-test` (the script stops it by its PID file).
//! Every test uses topics and groups of its own (see [`unique`]), so tests run in parallel
//! and on a broker that earlier runs left topics in.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use weir_kafka::{KafkaBroker, KafkaConfig};

fn workspace_root() -> PathBuf {
    // crates/weir-kafka → the workspace root.
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The test broker's bootstrap address (starting it if needed).
pub fn bootstrap() -> String {
    static BOOTSTRAP: OnceLock<String> = OnceLock::new();
    BOOTSTRAP
        .get_or_init(|| {
            if let Ok(address) = std::env::var("WEIR_KAFKA_BOOTSTRAP")
                && !address.trim().is_empty()
            {
                return address.trim().to_string();
            }
            let root = workspace_root();
            let script = root.join("scripts/kafka.sh");
            assert!(script.exists(), "no Kafka broker for the tests: set WEIR_KAFKA_BOOTSTRAP=host:port or provide {}", script.display());
            let target = std::env::var("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|_| root.join("target"));
            let dir = target.join("kafka-test");
            let output = Command::new("bash")
                .arg(&script)
                .args(["start", "--dir"])
                .arg(&dir)
                .output()
                .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
            assert!(output.status.success(), "{} start failed: {}", script.display(), String::from_utf8_lossy(&output.stderr));
            let address = String::from_utf8_lossy(&output.stdout).trim().to_string();
            assert!(!address.is_empty(), "kafka.sh printed no address: {}", String::from_utf8_lossy(&output.stderr));
            address
        })
        .clone()
}

pub fn config() -> KafkaConfig {
    let mut config = KafkaConfig::new(bootstrap());
    config.connect_timeout = Duration::from_secs(30);
    config
}

pub fn broker() -> KafkaBroker {
    KafkaBroker::connect(config()).unwrap_or_else(|e| panic!("cannot connect to the test broker: {e}"))
}

/// A topic or group name no other test (of this run or an earlier one) uses.
pub fn unique(name: &str) -> String {
    static COUNT: AtomicUsize = AtomicUsize::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or_default();
    format!("{name}-{}-{nanos}-{}", std::process::id(), COUNT.fetch_add(1, Ordering::Relaxed))
}

/// Milliseconds since the epoch, for record timestamps.
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or_default()
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    use std::sync::Arc;
    use std::task::{Context, Poll, Wake, Waker};
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let mut future = std::pin::pin!(future);
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        assert!(std::time::Instant::now() < deadline, "an admin request took over a minute");
        std::thread::park_timeout(Duration::from_millis(50));
    }
}

fn admin() -> rdkafka::admin::AdminClient<rdkafka::client::DefaultClientContext> {
    rdkafka::ClientConfig::new().set("bootstrap.servers", bootstrap()).create().expect("admin client")
}

/// Deletes the records of a partition below `before` (Kafka's DeleteRecords).
pub fn delete_records(topic: &str, partition: i32, before: i64) {
    use rdkafka::admin::AdminOptions;
    let mut tpl = rdkafka::TopicPartitionList::new();
    tpl.add_partition_offset(topic, partition, rdkafka::Offset::Offset(before)).expect("tpl");
    let result = block_on(admin().delete_records(&tpl, &AdminOptions::new())).expect("delete records");
    for elem in result.elements() {
        elem.error().expect("deleted");
    }
}

/// Sets one config of a topic.
pub fn set_topic_config(topic: &str, key: &str, value: &str) {
    use rdkafka::admin::{AdminOptions, AlterConfig, ResourceSpecifier};
    let alter = AlterConfig::new(ResourceSpecifier::Topic(topic)).set(key, value);
    let results = block_on(admin().alter_configs([&alter], &AdminOptions::new())).expect("alter configs");
    for r in results {
        r.expect("altered");
    }
    // The broker applies it at once for new appends; the producer learns nothing in between.
    std::thread::sleep(Duration::from_millis(200));
}

/// Writes transactions to partition 0 of `topic`: each `(records, commit?)` is one
/// transaction of that many records, committed or aborted.
pub fn write_transactions(topic: &str, transactions: &[(usize, bool)]) {
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
    let producer: BaseProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", bootstrap())
        .set("transactional.id", unique("tx"))
        .create()
        .expect("transactional producer");
    producer.init_transactions(Duration::from_secs(30)).expect("init transactions");
    for (n, (count, commit)) in transactions.iter().enumerate() {
        producer.begin_transaction().expect("begin");
        for i in 0..*count {
            let key = format!("t{n}-{i}");
            producer.send(BaseRecord::<str, str>::to(topic).partition(0).key(&key).payload("v")).map_err(|(e, _)| e).expect("send");
        }
        // The records reach the log before the marker, aborted or not.
        producer.flush(Duration::from_secs(30)).expect("flush");
        if *commit {
            producer.commit_transaction(Duration::from_secs(30)).expect("commit");
        } else {
            producer.abort_transaction(Duration::from_secs(30)).expect("abort");
        }
    }
}
