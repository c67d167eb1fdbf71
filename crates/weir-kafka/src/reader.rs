//! The read path: [`Broker::read`](weir_engine::broker::Broker::read) by explicit offset.
//!
//! Each calling thread gets its own assign-mode consumer (no group), kept by the broker: the
//! partitions a thread reads are assigned to its consumer as it first reads them, each with
//! its own partition queue, so librdkafka keeps fetching ahead for all of them while the
//! thread works. A read at the offset where the previous read of that partition ended (the
//! usual case: a stream thread reads on from its last record, a restore reads a changelog
//! through) takes what is already fetched; any other offset seeks first.
//!
//! The end of a partition is known from librdkafka's end-of-partition event
//! (`enable.partition.eof`): it comes after the last record that can be fetched, also when
//! the offsets past that record are only transaction markers, aborted records
//! (`read_committed`) or were compacted away. librdkafka does not say at which offset an event
//! was, so an event is trusted only when it came after the reader seeked to its cursor with no
//! record since (or when the cursor is at the high watermark); an event queued before later
//! appends is confirmed by seeking to the cursor again and waiting for the next one. The high
//! watermark at a trusted event is kept: while it has not moved, a read at the end returns
//! nothing at once; when it has moved, the read waits for the new records (or the next event,
//! when they are only markers). So a changelog restore that reads `while at < end` ends even
//! when `end` counts markers, and a record appended and synced before a read is returned by it.
//!
//! Stream threads read with [`Reader::read_ready`], which takes only what is already fetched
//! and never waits, and when none of their partitions had anything they wait once for all of
//! them ([`Reader::wait`]: every partition queue signals when it gets an event). So a thread
//! with many partitions, some idle, is never held up by one of them; only restores and
//! global tables wait in [`Reader::read`], which must know where a partition ends.
//!
//! A partition a thread has not read for [`IDLE_PARTITION`] is unassigned (its prefetched
//! records freed), and a thread's consumer unused for [`IDLE_READER`] is closed (threads
//! that ended, a restore that finished).

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rdkafka::Offset;
use rdkafka::TopicPartitionList;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Headers, Message};
use weir_engine::broker::{BrokerError, ErrorKind, StoredRecord};

use crate::context::LogContext;
use crate::error::{broker_error, offset_i64, partition_i32};

/// A partition not read for this long is unassigned from its reader.
pub(crate) const IDLE_PARTITION: Duration = Duration::from_secs(30);
/// A reader not used for this long is closed.
pub(crate) const IDLE_READER: Duration = Duration::from_secs(60);

pub(crate) type ReaderConsumer = BaseConsumer<LogContext>;

/// What a reader knows about the end of a partition at its cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// Nothing: records may be on their way.
    Unknown,
    /// An end-of-partition event came, but it may predate records appended since (it was
    /// queued before this read): confirmed by seeking to the cursor and waiting again.
    Unconfirmed,
    /// Nothing to read from the cursor below this high watermark (an end event came after a
    /// seek to the cursor, with no record since; or the cursor is at the watermark).
    Confirmed(i64),
}

struct Part {
    queue: rdkafka::consumer::base_consumer::PartitionQueue<LogContext>,
    /// The offset the next record from `queue` follows on from: a read at this offset takes
    /// what is queued.
    cursor: u64,
    end: End,
    /// Whether no record came since the reader last seeked to `cursor` (so an end event now is
    /// about the cursor).
    fresh: bool,
    last_read: Instant,
}

/// Set by librdkafka's threads when one of a reader's partition queues gets an event (a
/// record, an end of partition, an error) while it was empty; waited on by the reader's
/// thread in [`Reader::wait`].
#[derive(Default)]
struct Signal {
    set: Mutex<bool>,
    changed: Condvar,
}

impl Signal {
    fn notify(&self) {
        *self.set.lock().unwrap_or_else(PoisonError::into_inner) = true;
        self.changed.notify_all();
    }

    /// Waits until set (then clears it) or `timeout` passes.
    fn wait(&self, timeout: Duration) {
        let set = self.set.lock().unwrap_or_else(PoisonError::into_inner);
        let (mut set, _) = self.changed.wait_timeout_while(set, timeout, |set| !*set).unwrap_or_else(PoisonError::into_inner);
        *set = false;
    }
}

/// One thread's consumer and its partitions.
pub(crate) struct Reader {
    consumer: Arc<ReaderConsumer>,
    parts: HashMap<(String, u32), Part>,
    signal: Arc<Signal>,
    pub last_used: Instant,
    last_sweep: Instant,
    /// How long to wait for a fetch before reporting the broker unavailable.
    timeout: Duration,
}

impl Reader {
    pub fn new(consumer: ReaderConsumer, timeout: Duration) -> Reader {
        let now = Instant::now();
        Reader { consumer: Arc::new(consumer), parts: HashMap::new(), signal: Arc::default(), last_used: now, last_sweep: now, timeout }
    }

    fn watermarks(&self, topic: &str, partition: u32) -> Result<(i64, i64), BrokerError> {
        let p = partition_i32(topic, partition)?;
        watermarks_of(&self.consumer, topic, p, self.timeout).map_err(|e| watermark_error(&e, topic, partition))
    }

    /// The prologue of both reads: serves the main queue, unassigns idle partitions now and
    /// then, and makes the partition's queue read on from `from` (assigning or seeking it when
    /// it is not there already: below the start reads from the start). At or past the end, a
    /// read that `waits_at_end` is positioned at the end; otherwise nothing is positioned and
    /// the answer is `false` (there is nothing to read).
    fn ready_at(&mut self, topic: &str, partition: u32, from: u64, waits_at_end: bool) -> Result<bool, BrokerError> {
        let now = Instant::now();
        self.last_used = now;
        self.serve_main_queue();
        if now.duration_since(self.last_sweep) > Duration::from_secs(5) {
            self.last_sweep = now;
            self.unassign_idle(now);
        }
        let key = (topic.to_string(), partition);
        if self.parts.get(&key).is_some_and(|part| part.cursor == from) {
            return Ok(true);
        }
        // A new position: where the partition's records are decides where to start, or
        // whether there is anything to read at all.
        let (low, high) = self.watermarks(topic, partition)?;
        let from = offset_i64(topic, partition, from)?;
        if from >= high && !waits_at_end {
            return Ok(false);
        }
        let start = from.clamp(low, high.max(low));
        self.position(topic, partition, start)?;
        if let Some(part) = self.parts.get_mut(&key) {
            // Below the start reads from the start: the caller's offset stands for it.
            part.cursor = u64::try_from(start).unwrap_or_default();
        }
        Ok(true)
    }

    /// The partition's state, marked as read now, and what is already fetched of it.
    fn fetched(&mut self, topic: &str, partition: u32, max_bytes: usize) -> Result<(&mut Part, Vec<StoredRecord>, usize), BrokerError> {
        let (timeout, consumer) = (self.timeout, Arc::clone(&self.consumer));
        let Some(part) = self.parts.get_mut(&(topic.to_string(), partition)) else {
            return Err(BrokerError::new(ErrorKind::Other, format!("{topic}/{partition}: not assigned to the reader (a bug in Weir)")));
        };
        part.last_read = Instant::now();
        let mut out = Vec::new();
        let mut bytes = 0;
        drain(&consumer, part, Duration::ZERO, &mut out, &mut bytes, max_bytes, topic, partition, timeout)?;
        Ok((part, out, bytes))
    }

    pub fn read(&mut self, topic: &str, partition: u32, from: u64, max_bytes: usize) -> Result<Vec<StoredRecord>, BrokerError> {
        if !self.ready_at(topic, partition, from, false)? {
            return Ok(Vec::new());
        }
        let (timeout, consumer) = (self.timeout, Arc::clone(&self.consumer));
        let (part, mut out, mut bytes) = self.fetched(topic, partition, max_bytes)?;
        if !out.is_empty() {
            return Ok(out);
        }
        let deadline = Instant::now() + timeout;
        let (mut waited, mut asked) = (false, false);
        loop {
            match part.end {
                End::Confirmed(seen) => {
                    let high = high_of(&consumer, topic, partition, timeout)?;
                    if high <= seen || i64::try_from(part.cursor).is_ok_and(|c| c >= high) {
                        return Ok(out);
                    }
                    // Appended since: wait for it (records, or another end event when it is
                    // only transaction markers).
                    part.end = End::Unknown;
                }
                End::Unconfirmed => {
                    let high = high_of(&consumer, topic, partition, timeout)?;
                    if i64::try_from(part.cursor).is_ok_and(|c| c >= high) {
                        part.end = End::Confirmed(high);
                        return Ok(out);
                    }
                    // Below the watermark: the event may predate records appended since, or
                    // the rest may be markers. Start over at the cursor and wait again.
                    seek(&consumer, topic, partition, part.cursor, timeout)?;
                    part.fresh = true;
                    part.end = End::Unknown;
                }
                End::Unknown if waited && !asked => {
                    // Nothing came in a short wait: at the end already?
                    asked = true;
                    let high = high_of(&consumer, topic, partition, timeout)?;
                    if i64::try_from(part.cursor).is_ok_and(|c| c >= high) {
                        part.end = End::Confirmed(high);
                        return Ok(out);
                    }
                }
                End::Unknown => {}
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(BrokerError::new(
                    ErrorKind::Unavailable,
                    format!("cannot read {topic}/{partition} at offset {from}: no records and no end of partition within {timeout:?}"),
                )
                .at(topic, Some(partition)));
            }
            // A short first wait: mid-partition, the next fetch is usually on its way, and asking
            // for the watermark would cost as much.
            let wait = if waited { Duration::from_millis(200) } else { Duration::from_millis(20) };
            waited = true;
            drain(&consumer, part, left.min(wait), &mut out, &mut bytes, max_bytes, topic, partition, timeout)?;
            if !out.is_empty() {
                return Ok(out);
            }
        }
    }

    /// What of the partition from `from` on is already fetched, without waiting: see
    /// [`Broker::read_ready`](weir_engine::broker::Broker::read_ready). A partition read for
    /// the first time, or at another offset, is positioned there (its fetch starts in the
    /// background) and nothing is returned yet.
    pub fn read_ready(&mut self, topic: &str, partition: u32, from: u64, max_bytes: usize) -> Result<Vec<StoredRecord>, BrokerError> {
        self.ready_at(topic, partition, from, true)?;
        Ok(self.fetched(topic, partition, max_bytes)?.1)
    }

    /// Waits until one of the reader's partitions gets an event (see [`Signal`]) or `timeout`
    /// passes.
    pub fn wait(&self, timeout: Duration) {
        self.signal.wait(timeout);
    }

    /// Makes the next record of the partition's queue the one at `offset` (assigning the
    /// partition to this reader if it is new).
    fn position(&mut self, topic: &str, partition: u32, offset: i64) -> Result<(), BrokerError> {
        let p = partition_i32(topic, partition)?;
        let key = (topic.to_string(), partition);
        if let Some(part) = self.parts.get_mut(&key) {
            let at = u64::try_from(offset).unwrap_or_default();
            seek(&self.consumer, topic, partition, at, self.timeout)?;
            part.end = End::Unknown;
            part.fresh = true;
            return Ok(());
        }
        let mut queue = self.consumer.split_partition_queue(topic, p).ok_or_else(|| {
            BrokerError::new(ErrorKind::InvalidTopic, format!("cannot read {topic}/{partition}: not a valid topic name"))
                .at(topic, Some(partition))
        })?;
        let signal = Arc::clone(&self.signal);
        queue.set_nonempty_callback(move || signal.notify());
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(topic, p, Offset::Offset(offset))
            .map_err(|e| broker_error(&e, "cannot read", Some(topic), Some(partition)))?;
        self.consumer.incremental_assign(&tpl).map_err(|e| broker_error(&e, "cannot read", Some(topic), Some(partition)))?;
        let cursor = u64::try_from(offset).unwrap_or_default();
        self.parts.insert(key, Part { queue, cursor, end: End::Unknown, fresh: true, last_read: Instant::now() });
        Ok(())
    }

    /// The main queue carries errors and logs (no records: each partition has its queue).
    fn serve_main_queue(&self) {
        while let Some(event) = self.consumer.poll(Duration::ZERO) {
            match event {
                Ok(message) => {
                    tracing::debug!("reader: a record of {}/{} on the main queue, dropped", message.topic(), message.partition())
                }
                Err(e) => tracing::debug!("reader: {e}"),
            }
        }
    }

    fn unassign_idle(&mut self, now: Instant) {
        let idle: Vec<(String, u32)> =
            self.parts.iter().filter(|(_, part)| now.duration_since(part.last_read) > IDLE_PARTITION).map(|(k, _)| k.clone()).collect();
        if idle.is_empty() {
            return;
        }
        let mut tpl = TopicPartitionList::new();
        for (topic, partition) in &idle {
            if let Ok(p) = i32::try_from(*partition) {
                tpl.add_partition(topic, p);
            }
        }
        match self.consumer.incremental_unassign(&tpl) {
            Ok(()) => {
                for key in idle {
                    self.parts.remove(&key);
                }
            }
            Err(e) => tracing::debug!("reader: cannot unassign idle partitions: {e}"),
        }
    }
}

fn high_of(consumer: &ReaderConsumer, topic: &str, partition: u32, timeout: Duration) -> Result<i64, BrokerError> {
    let p = partition_i32(topic, partition)?;
    watermarks_of(consumer, topic, p, timeout).map(|(_, high)| high).map_err(|e| watermark_error(&e, topic, partition))
}

/// How long a watermark request is retried while the partition has no leader (a topic just
/// created, a leader moving): a moment the cluster needs, not a failure.
const LEADER_WAIT: Duration = Duration::from_secs(10);

/// A partition's low and high watermarks, asked again (every 100 ms, for at most
/// [`LEADER_WAIT`]) while the cluster answers that the partition has no leader yet.
pub(crate) fn watermarks_of(consumer: &ReaderConsumer, topic: &str, p: i32, timeout: Duration) -> Result<(i64, i64), KafkaError> {
    let started = Instant::now();
    loop {
        match consumer.fetch_watermarks(topic, p, timeout) {
            Err(e)
                if matches!(
                    e.rdkafka_error_code(),
                    Some(
                        rdkafka::types::RDKafkaErrorCode::NotLeaderForPartition
                            | rdkafka::types::RDKafkaErrorCode::LeaderNotAvailable
                            | rdkafka::types::RDKafkaErrorCode::FencedLeaderEpoch
                            | rdkafka::types::RDKafkaErrorCode::UnknownLeaderEpoch
                    )
                ) && started.elapsed() < LEADER_WAIT =>
            {
                std::thread::sleep(Duration::from_millis(100));
            }
            other => return other,
        }
    }
}

/// Seeks the reader's consumer to `offset` of the partition (what was queued is dropped).
fn seek(consumer: &ReaderConsumer, topic: &str, partition: u32, offset: u64, timeout: Duration) -> Result<(), BrokerError> {
    let p = partition_i32(topic, partition)?;
    let o = offset_i64(topic, partition, offset)?;
    consumer
        .seek(topic, p, Offset::Offset(o), timeout)
        .map_err(|e| broker_error(&e, &format!("cannot seek to offset {offset} in"), Some(topic), Some(partition)))
}

/// Moves queued records into `out` (waiting at most `wait` for the first) until `max_bytes`,
/// or until an end-of-partition event, which updates `part.end`.
#[allow(clippy::too_many_arguments)]
fn drain(
    consumer: &ReaderConsumer,
    part: &mut Part,
    wait: Duration,
    out: &mut Vec<StoredRecord>,
    bytes: &mut usize,
    max_bytes: usize,
    topic: &str,
    partition: u32,
    timeout: Duration,
) -> Result<(), BrokerError> {
    let mut wait = wait;
    while out.is_empty() || *bytes < max_bytes {
        let Some(event) = part.queue.poll(wait) else { return Ok(()) };
        wait = Duration::ZERO;
        match event {
            Ok(message) => {
                let record = stored(&message);
                if record.offset < part.cursor {
                    continue;
                }
                part.cursor = record.offset + 1;
                part.end = End::Unknown;
                part.fresh = false;
                *bytes += record.key.as_ref().map_or(0, Vec::len) + record.value.as_ref().map_or(0, Vec::len);
                out.push(record);
            }
            Err(KafkaError::PartitionEOF(_)) => {
                part.end = if part.fresh { End::Confirmed(high_of(consumer, topic, partition, timeout)?) } else { End::Unconfirmed };
                return Ok(());
            }
            Err(e) => {
                let error = broker_error(&e, "cannot read", Some(topic), Some(partition));
                if error.kind == ErrorKind::Unavailable {
                    // librdkafka retries fetches by itself; the deadline of the read bounds it.
                    tracing::debug!("{error}");
                    continue;
                }
                return Err(error);
            }
        }
    }
    Ok(())
}

fn stored(message: &BorrowedMessage<'_>) -> StoredRecord {
    let headers = message
        .headers()
        .map(|h| h.iter().map(|h| (h.key.to_string(), h.value.map(<[u8]>::to_vec).unwrap_or_default())).collect())
        .unwrap_or_default();
    StoredRecord {
        offset: u64::try_from(message.offset()).unwrap_or_default(),
        timestamp: message.timestamp().to_millis().unwrap_or(-1),
        key: message.key().map(<[u8]>::to_vec),
        value: message.payload().map(<[u8]>::to_vec),
        headers,
    }
}

/// A failure to get a partition's watermarks while reading it. librdkafka answers "unknown
/// partition" from its own metadata cache when the cluster cannot be reached (the cache is
/// empty after a broker restart): while reading a partition the application already reads,
/// that is the cluster being away, so it is reported as [`ErrorKind::Unavailable`] and the
/// runtime retries.
fn watermark_error(e: &KafkaError, topic: &str, partition: u32) -> BrokerError {
    let mut error = broker_error(e, "cannot get the offsets of", Some(topic), Some(partition));
    if e.rdkafka_error_code() == Some(rdkafka::types::RDKafkaErrorCode::UnknownPartition) {
        error.kind = ErrorKind::Unavailable;
    }
    error
}
