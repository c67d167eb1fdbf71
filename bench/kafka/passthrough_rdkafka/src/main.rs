//! The no-Python baseline of bench/kafka/run.sh: what a user writes to copy a topic with
//! librdkafka and no framework. A consumer in a group reads INPUT from the earliest offset;
//! every record is produced as it is (key, value, timestamp, headers; the partition is left
//! to the default partitioner, as a `to` does) to OUTPUT. The group's offsets are committed
//! every COMMIT_INTERVAL_MS (default 30000, Kafka Streams' default under at_least_once) after
//! a flush, and at the end. Stops when EXPECTED records have been consumed and all produced
//! records are acknowledged.
//!
//!   passthrough_rdkafka BOOTSTRAP INPUT OUTPUT EXPECTED [GROUP]
//!
//! Prints one line: records, seconds, records/s, records acknowledged, timed from the first
//! record consumed to the last acknowledgement (the client's start-up and the group join are
//! left out, as in plain_loop_kafka.py).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::ClientContext;

#[derive(Default)]
struct Acks {
    ok: AtomicU64,
    failed: AtomicU64,
}

impl ClientContext for Acks {}

impl ProducerContext for Acks {
    type DeliveryOpaque = ();
    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(_) => self.ok.fetch_add(1, Ordering::Relaxed),
            Err((e, _)) => {
                eprintln!("delivery failed: {e}");
                self.failed.fetch_add(1, Ordering::Relaxed)
            }
        };
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 5 {
        eprintln!("usage: passthrough_rdkafka BOOTSTRAP INPUT OUTPUT EXPECTED [GROUP]");
        std::process::exit(2);
    }
    let (bootstrap, input, output) = (&args[1], &args[2], &args[3]);
    let expected: u64 = args[4].parse().expect("EXPECTED: a number");
    let group = args.get(5).cloned().unwrap_or_else(|| format!("passthrough-rdkafka-{}", std::process::id()));
    let commit_every = Duration::from_millis(
        std::env::var("COMMIT_INTERVAL_MS").ok().and_then(|v| v.parse().ok()).unwrap_or(30_000),
    );
    // Give up after this long without a record (a missing input must not hang the benchmark).
    let idle_limit = Duration::from_secs(std::env::var("IDLE_TIMEOUT_S").ok().and_then(|v| v.parse().ok()).unwrap_or(30));

    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", &group)
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    // librdkafka's defaults otherwise (acks=all, idempotence off, linger.ms=5, no compression).
    let producer: BaseProducer<Acks> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create_with_context(Acks::default())
        .expect("producer");
    consumer.subscribe(&[input.as_str()]).expect("subscribe");

    let mut consumed: u64 = 0;
    let mut start: Option<Instant> = None;
    let mut last_commit = Instant::now();
    let mut last_record = Instant::now();
    while consumed < expected {
        match consumer.poll(Duration::from_millis(100)) {
            None => {
                producer.poll(Duration::ZERO);
                if last_record.elapsed() > idle_limit {
                    eprintln!("no record for {idle_limit:?}: stopping at {consumed} of {expected}");
                    break;
                }
            }
            Some(Err(e)) => eprintln!("consume error: {e}"),
            Some(Ok(m)) => {
                start.get_or_insert_with(Instant::now);
                last_record = Instant::now();
                consumed += 1;
                let mut record: BaseRecord<'_, [u8], [u8], ()> = BaseRecord::to(output);
                if let Some(k) = m.key() {
                    record = record.key(k);
                }
                if let Some(v) = m.payload() {
                    record = record.payload(v);
                }
                if let Some(ts) = m.timestamp().to_millis() {
                    record = record.timestamp(ts);
                }
                if let Some(h) = m.headers() {
                    record = record.headers(h.detach());
                }
                loop {
                    match producer.send(record) {
                        Ok(()) => break,
                        Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                            // The local queue is full: serve delivery reports, then retry.
                            record = r;
                            producer.poll(Duration::from_millis(10));
                        }
                        Err((e, _)) => panic!("produce: {e}"),
                    }
                }
                producer.poll(Duration::ZERO);
                if last_commit.elapsed() >= commit_every {
                    producer.flush(Duration::from_secs(60)).expect("flush");
                    consumer.commit_consumer_state(CommitMode::Async).ok();
                    last_commit = Instant::now();
                }
            }
        }
    }
    producer.flush(Duration::from_secs(60)).expect("flush");
    let took = start.map(|s| s.elapsed().as_secs_f64()).unwrap_or(0.0);
    if consumed > 0 {
        consumer.commit_consumer_state(CommitMode::Sync).expect("commit");
    }
    let ok = producer.context().ok.load(Ordering::Relaxed);
    let failed = producer.context().failed.load(Ordering::Relaxed);
    if failed > 0 {
        eprintln!("{failed} records were not delivered");
    }
    let rate = if took > 0.0 { consumed as f64 / took } else { 0.0 };
    println!("{consumed} {took:.3} {rate:.0} {ok}");
    if consumed < expected {
        std::process::exit(1);
    }
}
