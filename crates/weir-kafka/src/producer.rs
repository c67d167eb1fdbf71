//! The adapter's producer: one librdkafka producer (idempotent, `acks=all`) shared by every
//! thread, sending asynchronously. Each record carries the id of the thread that appended it,
//! so a failed delivery is reported to that thread: by its next `append` or `sync`. A thread's
//! `sync` flushes everything (all threads' records) and then reports its own failures, so one
//! thread never takes another's failure and commits past a lost record.
//!
//! When librdkafka's local queue is full, `append` waits for deliveries (the producer's
//! polling thread signals each one) and tries again, rather than failing.
//!
//! Under exactly-once, each group member has a producer of its own, made by
//! [`Producer::transactional`] (module `txn` drives its transactions).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use rdkafka::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, Message, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, NoCustomPartitioner, Producer as _, ProducerContext, ThreadedProducer};
use weir_engine::broker::{BrokerError, ErrorKind, NewRecord};

use crate::config::{Client, ClientProperties, KafkaConfig};
use crate::context::{client_config, log_error, log_line};
use crate::error::{broker_error, describe, kind_of, partition_i32};

/// The thread id records are tagged with.
fn thread_tag() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(1);
    thread_local! { static TAG: usize = NEXT.fetch_add(1, Ordering::Relaxed); }
    TAG.with(|t| *t)
}

#[derive(Default)]
struct Deliveries {
    /// Failed deliveries per appending thread, oldest first.
    failed: HashMap<usize, Vec<BrokerError>>,
    /// Count of deliveries (failed or not), for waiters on a full queue.
    done: u64,
    /// Records sent and not yet delivered (or failed), per appending thread.
    pending: HashMap<usize, u64>,
}

pub(crate) struct DeliveryContext {
    deliveries: Mutex<Deliveries>,
    delivered: Condvar,
}

impl DeliveryContext {
    fn lock(&self) -> MutexGuard<'_, Deliveries> {
        self.deliveries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl ClientContext for DeliveryContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        log_line("producer", level, fac, message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        log_error("producer", &error, reason);
    }
}

impl ProducerContext for DeliveryContext {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, tag: usize) {
        let mut deliveries = self.lock();
        deliveries.done += 1;
        if let Some(n) = deliveries.pending.get_mut(&tag) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                deliveries.pending.remove(&tag);
            }
        }
        if let Err((error, message)) = result {
            let (topic, partition) = (message.topic().to_string(), u32::try_from(message.partition()).ok());
            let e = broker_error(error, "cannot append to", Some(&topic), partition);
            tracing::debug!("{e}");
            deliveries.failed.entry(tag).or_default().push(e);
        }
        drop(deliveries);
        self.delivered.notify_all();
    }
}

pub(crate) struct Producer {
    inner: ThreadedProducer<DeliveryContext, NoCustomPartitioner>,
    flush_timeout: Duration,
}

impl Producer {
    pub fn new(config: &KafkaConfig, props: &ClientProperties) -> Result<Producer, KafkaError> {
        Producer::create(config, props, None)
    }

    /// A transactional producer (`transactional.id` = `id`), not initialized yet. Its
    /// `transaction.timeout.ms` defaults to Kafka Streams' 10 s under exactly-once (how long
    /// the records of a process that died mid-transaction hold back `read_committed` readers).
    pub fn transactional(config: &KafkaConfig, props: &ClientProperties, id: &str) -> Result<Producer, KafkaError> {
        Producer::create(config, props, Some(id))
    }

    fn create(config: &KafkaConfig, props: &ClientProperties, transactional_id: Option<&str>) -> Result<Producer, KafkaError> {
        let mut defaults = vec![("linger.ms", "5"), ("compression.type", "none")];
        // Records are never lost nor duplicated by retries, and stay in order per partition.
        let mut fixed = vec![("acks", "all"), ("enable.idempotence", "true")];
        match transactional_id {
            // librdkafka refuses a message timeout above the transaction timeout, and uses the
            // transaction timeout when none is given.
            Some(id) => {
                defaults.push(("transaction.timeout.ms", "10000"));
                fixed.push(("transactional.id", id));
            }
            None => defaults.push(("message.timeout.ms", "120000")),
        }
        let client = client_config(config, props, Client::Producer, &defaults, &fixed);
        let message_timeout = client
            .get("message.timeout.ms")
            .or_else(|| client.get("transaction.timeout.ms"))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(120_000);
        let context = DeliveryContext { deliveries: Mutex::new(Deliveries::default()), delivered: Condvar::new() };
        let inner = client.create_with_context(context)?;
        Ok(Producer { inner, flush_timeout: Duration::from_millis(message_timeout) + config.request_timeout })
    }

    /// The librdkafka producer, for its transactions.
    pub fn client(&self) -> &ThreadedProducer<DeliveryContext, NoCustomPartitioner> {
        &self.inner
    }

    /// How long a flush may take (the message timeout and a request's).
    pub fn flush_timeout(&self) -> Duration {
        self.flush_timeout
    }

    /// Forgets the delivery failures of every thread: after an aborted transaction, whose
    /// records (purged or refused) no longer count.
    pub fn forget_failures(&self) {
        self.inner.context().lock().failed.clear();
    }

    /// The oldest delivery failure of this thread's records, if any (taken: reported once).
    fn take_failure(&self) -> Option<BrokerError> {
        let mut deliveries = self.inner.context().lock();
        let failed = deliveries.failed.remove(&thread_tag())?;
        let count = failed.len();
        let mut first = failed.into_iter().next()?;
        if count > 1 {
            first.message.push_str(&format!(" (and {} more failed deliveries)", count - 1));
        }
        Some(first)
    }

    pub fn append(&self, topic: &str, partition: u32, records: &[NewRecord]) -> Result<(), BrokerError> {
        if let Some(failure) = self.take_failure() {
            return Err(failure);
        }
        let p = partition_i32(topic, partition)?;
        let tag = thread_tag();
        for record in records {
            let mut base = BaseRecord::<[u8], [u8], usize>::with_opaque_to(topic, tag).partition(p);
            if record.timestamp > 0 {
                base = base.timestamp(record.timestamp);
            }
            if let Some(key) = &record.key {
                base = base.key(key.as_slice());
            }
            if let Some(value) = &record.value {
                base = base.payload(value.as_slice());
            }
            if !record.headers.is_empty() {
                let mut headers = OwnedHeaders::new_with_capacity(record.headers.len());
                for (key, value) in &record.headers {
                    headers = headers.insert(Header { key, value: Some(value.as_slice()) });
                }
                base = base.headers(headers);
            }
            // Counted before it is sent: its delivery may come before `send` returns.
            *self.inner.context().lock().pending.entry(tag).or_default() += 1;
            if let Err(e) = self.send(base, topic, partition) {
                let mut deliveries = self.inner.context().lock();
                if let Some(n) = deliveries.pending.get_mut(&tag) {
                    *n = n.saturating_sub(1);
                    if *n == 0 {
                        deliveries.pending.remove(&tag);
                    }
                }
                return Err(e);
            }
        }
        Ok(())
    }

    /// Sends one record, waiting for deliveries while librdkafka's queue is full.
    fn send<'a>(&self, mut record: BaseRecord<'a, [u8], [u8], usize>, topic: &str, partition: u32) -> Result<(), BrokerError> {
        let started = Instant::now();
        loop {
            match self.inner.send(record) {
                Ok(()) => return Ok(()),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    if started.elapsed() > self.flush_timeout {
                        return Err(BrokerError::new(
                            ErrorKind::Unavailable,
                            format!(
                                "cannot append to {topic}/{partition}: the producer's queue stayed full for {:?} (is the broker reachable?)",
                                self.flush_timeout
                            ),
                        )
                        .at(topic, Some(partition)));
                    }
                    record = back;
                    let context = self.inner.context();
                    let deliveries = context.lock();
                    let seen = deliveries.done;
                    let (deliveries, _) = context
                        .delivered
                        .wait_timeout_while(deliveries, Duration::from_millis(100), |d| d.done == seen)
                        .unwrap_or_else(PoisonError::into_inner);
                    drop(deliveries);
                }
                Err((error, _)) => return Err(broker_error(&error, "cannot append to", Some(topic), Some(partition))),
            }
        }
    }

    /// Waits until every record this thread sent is acknowledged (or failed), then reports
    /// this thread's failures. A thread that sent nothing waits for every record sent so far.
    ///
    /// Per thread, because a flush of the whole producer waits until nothing at all is in
    /// flight: with other threads sending all the time (a stream thread's outputs, the
    /// concurrent POSTs of an HTTP route) that moment may not come for many seconds.
    pub fn sync(&self) -> Result<(), BrokerError> {
        let deadline = Instant::now() + self.flush_timeout;
        let context = self.inner.context();
        let tag = thread_tag();
        let deliveries = context.lock();
        let waiting = if deliveries.pending.contains_key(&tag) {
            let (deliveries, _) = context
                .delivered
                .wait_timeout_while(deliveries, self.flush_timeout, |d| d.pending.contains_key(&tag) && Instant::now() < deadline)
                .unwrap_or_else(PoisonError::into_inner);
            deliveries.pending.get(&tag).copied().unwrap_or(0)
        } else {
            drop(deliveries);
            // rust-rdkafka's `flush` waits in whole 100 ms polls once its first check finds
            // records in flight; asking again every millisecond takes what the broker takes.
            loop {
                match self.inner.flush(Duration::ZERO) {
                    Err(e) if e.rdkafka_error_code() == Some(RDKafkaErrorCode::OperationTimedOut) && Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    Ok(()) => break 0,
                    Err(e) if e.rdkafka_error_code() == Some(RDKafkaErrorCode::OperationTimedOut) => {
                        break u64::try_from(self.inner.in_flight_count()).unwrap_or(0).max(1);
                    }
                    Err(e) => return Err(BrokerError::new(e.rdkafka_error_code().map_or(ErrorKind::Unavailable, kind_of), describe(&e))),
                }
            }
        };
        if waiting > 0 {
            return Err(BrokerError::new(
                ErrorKind::Unavailable,
                format!("cannot make appended records durable: {waiting} still unacknowledged after {:?}", self.flush_timeout),
            ));
        }
        match self.take_failure() {
            Some(failure) => Err(failure),
            None => Ok(()),
        }
    }
}
