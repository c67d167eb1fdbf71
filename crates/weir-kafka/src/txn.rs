//! Exactly-once (Kafka Streams' `exactly_once_v2`, KIP-447): each group member writes its
//! outputs, changelog records and dead letters through a transactional producer of its own,
//! and commits its positions inside the transaction, with the member's group metadata. So the
//! records and the positions are committed together or not at all, and a member the group has
//! moved on from (a zombie) cannot commit: the group coordinator refuses its positions (older
//! generation), which aborts its transaction.
//!
//! - The `transactional.id` is `<group>-<random>-<member>`: unique per member incarnation
//!   (member numbers repeat across processes), as Kafka Streams' `<application.id>-<process
//!   id>-<thread>`. Zombies are fenced by the group generation, not by the id.
//! - `init_transactions` when the member joins; a transaction begins at the first append after
//!   a commit; [`Transactions::commit`] sends the positions and commits. A commit with nothing
//!   appended and no position moved is skipped.
//! - A failed commit aborts the transaction (a fatal producer error, e.g. fenced, replaces the
//!   producer with a new one under a new id) and fails with [`ErrorKind::Fenced`]: the records
//!   since the last commit do not count, and the member has its tasks start again from the
//!   committed positions (module `group`).

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use rdkafka::consumer::ConsumerGroupMetadata;
use rdkafka::error::{KafkaError, KafkaResult};
use rdkafka::producer::Producer as _;
use rdkafka::{Offset, TopicPartitionList};
use weir_engine::broker::{Broker, BrokerError, ErrorKind, GroupMember, NewRecord, Result, StoredRecord, TopicSpec};

use crate::Core;
use crate::error::{describe, kind_of, offset_i64, partition_i32};
use crate::producer::Producer;

/// A member's transactional producer and the state of its transaction.
pub(crate) struct Transactions {
    group: String,
    /// "member 1 of 2", for messages.
    member: String,
    member_index: usize,
    core: Arc<Core>,
    state: Mutex<TxnState>,
}

struct TxnState {
    producer: Arc<Producer>,
    id: String,
    /// A transaction has begun (something was appended since the last commit).
    open: bool,
    /// The positions the last transaction committed.
    committed: HashMap<(String, u32), u64>,
}

/// A `transactional.id` for a new member incarnation.
fn new_id(group: &str, member: usize) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let random = std::collections::hash_map::RandomState::new().hash_one((std::process::id(), nanos, member));
    format!("{group}-{random:016x}-{}", member + 1)
}

fn retriable(e: &KafkaError) -> bool {
    matches!(e, KafkaError::Transaction(t) if t.is_retriable())
        || e.rdkafka_error_code().is_some_and(|code| kind_of(code) == ErrorKind::Unavailable)
}

/// Runs `call` again while it fails with a retriable error, until `deadline`; says so every
/// few seconds.
fn retrying<T>(what: &str, deadline: Instant, mut call: impl FnMut() -> KafkaResult<T>) -> KafkaResult<T> {
    let mut next_warning = Instant::now() + Duration::from_secs(5);
    loop {
        match call() {
            Err(e) if retriable(&e) && Instant::now() < deadline => {
                if Instant::now() >= next_warning {
                    tracing::warn!("{what}: {} (retrying)", describe(&e));
                    next_warning = Instant::now() + Duration::from_secs(5);
                }
                thread::sleep(Duration::from_millis(100));
            }
            other => return other,
        }
    }
}

/// Why a transaction is given up.
struct Failure {
    /// The producer cannot go on (fenced, or a fatal error): it must be replaced.
    fatal: bool,
    cause: String,
}

impl Failure {
    fn of(e: &KafkaError) -> Failure {
        match e {
            KafkaError::Transaction(t) => Failure { fatal: t.is_fatal(), cause: format!("{} ({})", t.code(), t.string()) },
            other => Failure { fatal: false, cause: describe(other) },
        }
    }

    fn plain(cause: &str) -> Failure {
        Failure { fatal: false, cause: cause.to_string() }
    }
}

impl Transactions {
    /// A transactional producer for member `member` of `members`, initialized (which waits
    /// for the transaction coordinator).
    pub fn start(core: Arc<Core>, group: &str, member: usize, members: usize) -> Result<Transactions> {
        let id = new_id(group, member);
        let member_name = format!("member {} of {members}", member + 1);
        let producer = Self::new_producer(&core, group, &member_name, &id)?;
        tracing::info!("consumer group '{group}': {member_name} writes in transactions (transactional.id '{id}')");
        let state = TxnState { producer: Arc::new(producer), id, open: false, committed: HashMap::new() };
        Ok(Transactions { group: group.to_string(), member: member_name, member_index: member, core, state: Mutex::new(state) })
    }

    fn new_producer(core: &Core, group: &str, member: &str, id: &str) -> Result<Producer> {
        let producer = Producer::transactional(&core.config, &core.props, id).map_err(|e| {
            BrokerError::new(
                ErrorKind::Other,
                format!("consumer group '{group}': cannot create the transactional producer of {member}: {}", describe(&e)),
            )
        })?;
        let what = format!("consumer group '{group}': initializing the transactions of {member} (transactional.id '{id}')");
        let deadline = Instant::now() + core.config.connect_timeout;
        retrying(&what, deadline, || producer.client().init_transactions(core.config.request_timeout)).map_err(|e| {
            let kind = if retriable(&e) { ErrorKind::Unavailable } else { e.rdkafka_error_code().map_or(ErrorKind::Other, kind_of) };
            BrokerError::new(kind, format!("{what}: {}", describe(&e)))
        })?;
        Ok(producer)
    }

    fn lock(&self) -> MutexGuard<'_, TxnState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Appends to the member's transaction (beginning one if none is open).
    pub fn append(&self, topic: &str, partition: u32, records: &[NewRecord]) -> Result<()> {
        let mut state = self.lock();
        if !state.open {
            if let Err(e) = state.producer.client().begin_transaction() {
                let error = self.recover(&mut state, Failure::of(&e), "begin a transaction");
                return Err(error.at(topic, Some(partition)));
            }
            state.open = true;
        }
        state.producer.append(topic, partition, records)
    }

    /// Waits until every record of the transaction is acknowledged (not committed).
    pub fn sync(&self) -> Result<()> {
        let producer = Arc::clone(&self.lock().producer);
        producer.sync()
    }

    /// Commits the transaction with `positions` (as the member `metadata` names). Nothing is
    /// done when nothing was appended and no position moved. On failure the transaction is
    /// aborted and the error is [`ErrorKind::Fenced`] (or the cause's kind when even a new
    /// producer cannot be made).
    pub fn commit(&self, metadata: Option<ConsumerGroupMetadata>, positions: &[(&str, u32, u64)]) -> Result<()> {
        let mut state = self.lock();
        let moved = positions.iter().any(|(t, p, o)| state.committed.get(&((*t).to_string(), *p)) != Some(o));
        if !state.open && !moved {
            return Ok(());
        }
        if !state.open {
            if let Err(e) = state.producer.client().begin_transaction() {
                return Err(self.recover(&mut state, Failure::of(&e), "begin a transaction"));
            }
            state.open = true;
        }
        let producer = Arc::clone(&state.producer);
        let timeout = self.core.config.request_timeout;
        let deadline = Instant::now() + timeout * 2;
        let what = |doing: &str| format!("consumer group '{}': {} cannot {doing}", self.group, self.member);
        if !positions.is_empty() {
            let Some(metadata) = metadata else {
                // Not in the group (yet, or any more): the positions cannot be committed.
                return Err(self.recover(
                    &mut state,
                    Failure::plain("the member has no group metadata (it is not in the group)"),
                    "commit its positions",
                ));
            };
            let mut tpl = TopicPartitionList::new();
            for (topic, partition, offset) in positions {
                let p = partition_i32(topic, *partition)?;
                let o = offset_i64(topic, *partition, *offset)?;
                if let Err(e) = tpl.add_partition_offset(topic, p, Offset::Offset(o)) {
                    return Err(self.recover(&mut state, Failure::of(&e), &format!("commit the position of {topic}/{partition}")));
                }
            }
            let sent = retrying(&what("send its positions to the transaction"), deadline, || {
                producer.client().send_offsets_to_transaction(&tpl, &metadata, timeout)
            });
            if let Err(e) = sent {
                let listed = positions.iter().map(|(t, p, o)| format!("{t}/{p}@{o}")).collect::<Vec<_>>().join(", ");
                return Err(self.recover(&mut state, Failure::of(&e), &format!("send its positions ({listed}) to the transaction")));
            }
        }
        let committed =
            retrying(&what("commit its transaction"), deadline, || producer.client().commit_transaction(producer.flush_timeout()));
        if let Err(e) = committed {
            return Err(self.recover(&mut state, Failure::of(&e), "commit its transaction"));
        }
        state.open = false;
        for (topic, partition, offset) in positions {
            state.committed.insert(((*topic).to_string(), *partition), *offset);
        }
        Ok(())
    }

    /// Aborts the open transaction, if any, because the member lost its partitions.
    pub fn abort(&self, why: &str) {
        let mut state = self.lock();
        if state.open {
            let error = self.recover(&mut state, Failure::plain("the member lost its partitions"), why);
            tracing::debug!("{error}");
        }
    }

    /// After `error` while doing `doing`: aborts the transaction (or, when the producer cannot
    /// go on, replaces it with a new one under a new id); the error to report.
    fn recover(&self, state: &mut TxnState, failure: Failure, doing: &str) -> BrokerError {
        let fatal = failure.fatal;
        let old_id = state.id.clone();
        let mut replaced = fatal;
        if !fatal && state.open {
            let deadline = Instant::now() + self.core.config.request_timeout;
            let producer = Arc::clone(&state.producer);
            let aborted =
                retrying(&format!("consumer group '{}': {} cannot abort its transaction", self.group, self.member), deadline, || {
                    producer.client().abort_transaction(self.core.config.request_timeout)
                });
            if let Err(e) = aborted {
                tracing::warn!(
                    "consumer group '{}': {} cannot abort its transaction ({}); replacing its producer",
                    self.group,
                    self.member,
                    describe(&e)
                );
                replaced = true;
            }
        }
        let mut outcome = String::new();
        if replaced {
            let id = new_id(&self.group, self.member_index);
            match Self::new_producer(&self.core, &self.group, &self.member, &id) {
                Ok(producer) => {
                    tracing::info!("consumer group '{}': {} writes through a new transactional.id '{id}'", self.group, self.member);
                    state.producer = Arc::new(producer);
                    state.id = id;
                }
                Err(e) => outcome = format!("; and no new producer could replace it: {e}"),
            }
        }
        // The aborted records' delivery reports (purged, refused) are not failures of what
        // comes next.
        let _ = state.producer.client().flush(Duration::from_secs(1));
        state.producer.forget_failures();
        state.open = false;
        // The broker may or may not have committed an interrupted commit: do not skip the next.
        state.committed.clear();
        let kind = if outcome.is_empty() { ErrorKind::Fenced } else { ErrorKind::Other };
        BrokerError::new(
            kind,
            format!(
                "consumer group '{}': {} cannot {doing}: {}; its transaction (transactional.id '{old_id}') is aborted: its records since \
                 the last commit do not count{outcome}",
                self.group, self.member, failure.cause
            ),
        )
    }
}

/// Where an exactly-once member's stream thread appends: the member's transaction. Anything
/// else goes to the broker's own clients.
pub(crate) struct Writer {
    pub core: Arc<Core>,
    pub txn: Arc<Transactions>,
}

impl Broker for Writer {
    fn describe(&self) -> String {
        format!("Kafka at {} (transactional.id '{}')", self.core.config.bootstrap_servers, self.txn.lock().id)
    }

    fn ensure_topic_with(&self, topic: &str, spec: &TopicSpec) -> Result<u32> {
        self.core.ensure_topic_with(topic, spec)
    }

    fn append(&self, topic: &str, partition: u32, records: &[NewRecord]) -> Result<()> {
        self.txn.append(topic, partition, records)
    }

    fn read(&self, topic: &str, partition: u32, from: u64, max_bytes: usize) -> Result<Vec<StoredRecord>> {
        self.core.read(topic, partition, from, max_bytes)
    }

    fn start_offset(&self, topic: &str, partition: u32) -> Result<u64> {
        self.core.start_offset(topic, partition)
    }

    fn end_offset(&self, topic: &str, partition: u32) -> Result<u64> {
        self.core.end_offset(topic, partition)
    }

    fn wait_for(&self, topic: &str, partition: u32, offset: u64, timeout: Duration) -> Result<bool> {
        self.core.wait_for(topic, partition, offset, timeout)
    }

    fn sync(&self) -> Result<()> {
        self.txn.sync()
    }

    fn commit(&self, group: &str, offsets: &[(&str, u32, u64)]) -> Result<()> {
        self.core.commit(group, offsets)
    }

    fn committed(&self, group: &str, topic: &str, partition: u32) -> Result<Option<u64>> {
        self.core.committed(group, topic, partition)
    }

    fn join_group(&self, group: &str, _topics: &[String], _member: usize, _members: usize) -> Result<Box<dyn GroupMember>> {
        Err(BrokerError::new(
            ErrorKind::Other,
            format!("cannot join consumer group '{group}' through a member's transactional writer (join through the broker)"),
        ))
    }
}
