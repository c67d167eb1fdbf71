//! Group membership: [`Broker::join_group`](weir_engine::broker::Broker::join_group) as a
//! real member of a Kafka consumer group that never delivers records.
//!
//! The member is a `BaseConsumer` with `group.id` = the group, subscribed to the topics, with
//! the classic protocol's `range` assignor: every member subscribes to the same topics, so a
//! member gets the same partition numbers of every topic of equal partition count (the
//! co-partitioned inputs of a task). Records are read through the broker's read path, by
//! offset, not by this consumer: on assignment the partitions are assigned at their end and
//! paused at once, and anything fetched before the pause is dropped.
//!
//! The rebalance callback runs inside [`GroupMember::poll`] (librdkafka serves it from the
//! polling thread, the stream thread). On a revocation it makes the outputs durable (flushes
//! the producer) and commits the positions passed at the latest `poll` for the revoked
//! partitions, as this member, before letting the rebalance go on: the next owner starts
//! where this one stopped. A lost assignment (session or poll interval expired) is revoked
//! without committing: the group has already moved on.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::types::RDKafkaRespErr;
use rdkafka::{ClientContext, Message, Offset, TopicPartitionList};
use weir_engine::broker::{Assignment, Broker, BrokerError, ErrorKind, GroupMember, Result};

use crate::context::{log_error, log_line};
use crate::error::{describe, kind_of, offset_i64, partition_i32};
use crate::producer::Producer;
use crate::txn::Transactions;

#[derive(Default)]
struct MemberState {
    /// The positions of the latest `poll` (next offset to read per owned partition).
    positions: Vec<(String, u32, u64)>,
    /// Ownership changes not yet returned by `poll`.
    events: Vec<Assignment>,
    /// A failure met inside a callback, returned by the next `poll`.
    failure: Option<BrokerError>,
    /// What the member owns now.
    owned: Vec<(String, u32)>,
    /// Under exactly-once, a transaction was aborted: the next `poll` revokes and assigns
    /// again everything the member owns, so the tasks start over from the committed positions.
    restart: bool,
}

pub(crate) struct MemberContext {
    group: String,
    producer: Arc<Producer>,
    /// Under exactly-once, the member's transactional producer.
    txn: Option<Arc<Transactions>>,
    state: Mutex<MemberState>,
}

impl MemberContext {
    fn lock(&self) -> MutexGuard<'_, MemberState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn fail(&self, error: BrokerError) {
        tracing::warn!("consumer group '{}': {error}", self.group);
        let mut state = self.lock();
        if state.failure.is_none() {
            state.failure = Some(error);
        }
    }

    /// Before `revoked` go: outputs durable, then their positions committed as this member.
    fn hand_over(&self, consumer: &BaseConsumer<MemberContext>, revoked: &[(String, u32)]) -> Result<()> {
        let positions: Vec<(String, u32, u64)> = {
            let state = self.lock();
            state.positions.iter().filter(|(t, p, _)| revoked.iter().any(|(rt, rp)| rt == t && rp == p)).cloned().collect()
        };
        if let Some(txn) = &self.txn {
            // The transaction holds the outputs of exactly these positions (those of the
            // latest poll): committed together.
            let borrowed: Vec<(&str, u32, u64)> = positions.iter().map(|(t, p, o)| (t.as_str(), *p, *o)).collect();
            txn.commit(consumer.group_metadata(), &borrowed)?;
            tracing::debug!("consumer group '{}': committed the transaction with {positions:?} before revocation", self.group);
            return Ok(());
        }
        self.producer.sync()?;
        if positions.is_empty() {
            return Ok(());
        }
        let borrowed: Vec<(&str, u32, u64)> = positions.iter().map(|(t, p, o)| (t.as_str(), *p, *o)).collect();
        commit_as_member(consumer, &self.group, &borrowed)?;
        tracing::debug!("consumer group '{}': committed {positions:?} before revocation", self.group);
        Ok(())
    }
}

impl ClientContext for MemberContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        log_line("group member", level, fac, message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        log_error("group member", &error, reason);
    }
}

fn partitions_of(tpl: &TopicPartitionList) -> Vec<(String, u32)> {
    tpl.elements().iter().filter_map(|e| u32::try_from(e.partition()).ok().map(|p| (e.topic().to_string(), p))).collect()
}

impl ConsumerContext for MemberContext {
    fn rebalance(&self, consumer: &BaseConsumer<Self>, err: RDKafkaRespErr, tpl: &mut TopicPartitionList) {
        let partitions = partitions_of(tpl);
        match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                // Assigned at their end and paused: the member fetches nothing; records are
                // read by offset through the broker.
                let mut at_end = TopicPartitionList::new();
                for (topic, partition) in &partitions {
                    if let Ok(p) = i32::try_from(*partition)
                        && let Err(e) = at_end.add_partition_offset(topic, p, Offset::End)
                    {
                        tracing::debug!("consumer group '{}': {e}", self.group);
                    }
                }
                if let Err(e) = consumer.assign(&at_end) {
                    self.fail(BrokerError::new(
                        kind_of_error(&e),
                        format!("consumer group '{}': cannot take the assignment: {}", self.group, describe(&e)),
                    ));
                    return;
                }
                if let Err(e) = consumer.pause(&at_end) {
                    tracing::warn!("consumer group '{}': cannot pause the assigned partitions: {e}", self.group);
                }
                tracing::info!("consumer group '{}': assigned {}", self.group, list(&partitions));
                let mut state = self.lock();
                state.owned = partitions.clone();
                state.events.push(Assignment::Assigned(partitions));
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                if consumer.assignment_lost() {
                    tracing::warn!(
                        "consumer group '{}': lost {} (the member was out of the group too long); not committing",
                        self.group,
                        list(&partitions)
                    );
                    if let Some(txn) = &self.txn {
                        txn.abort(&format!("keep its transaction after losing {}", list(&partitions)));
                    }
                } else if let Err(e) = self.hand_over(consumer, &partitions) {
                    if self.txn.is_some() {
                        // The transaction was aborted: the next owner starts from the last
                        // commit, and this member's records since do not count.
                        tracing::warn!("consumer group '{}': before giving up {}: {e}", self.group, list(&partitions));
                    } else {
                        self.fail(BrokerError {
                            message: format!("consumer group '{}': before giving up {}: {e}", self.group, list(&partitions)),
                            ..e
                        });
                    }
                }
                if self.txn.is_some() {
                    // The positions of the latest poll are committed or void: none is
                    // committed again (closing the member revokes once more).
                    self.lock().positions.clear();
                }
                if let Err(e) = consumer.unassign() {
                    tracing::warn!("consumer group '{}': cannot unassign: {e}", self.group);
                }
                tracing::info!("consumer group '{}': revoked {}", self.group, list(&partitions));
                let mut state = self.lock();
                state.owned.clear();
                state.events.push(Assignment::Revoked(partitions));
            }
            other => {
                let code: RDKafkaErrorCode = other.into();
                tracing::warn!("consumer group '{}': rebalance failed: {code}", self.group);
                if let Err(e) = consumer.unassign() {
                    tracing::warn!("consumer group '{}': cannot unassign: {e}", self.group);
                }
                let mut state = self.lock();
                let owned = std::mem::take(&mut state.owned);
                if !owned.is_empty() {
                    state.events.push(Assignment::Revoked(owned));
                }
            }
        }
    }
}

fn kind_of_error(e: &KafkaError) -> ErrorKind {
    e.rdkafka_error_code().map_or(ErrorKind::Other, kind_of)
}

fn list(partitions: &[(String, u32)]) -> String {
    if partitions.is_empty() {
        return "no partitions".to_string();
    }
    partitions.iter().map(|(t, p)| format!("{t}/{p}")).collect::<Vec<_>>().join(", ")
}

/// Commits `positions` through `consumer` (as the member it is, or as no member), naming what
/// failed and, for a membership the group no longer has, saying so.
pub(crate) fn commit_as_member<C: ConsumerContext>(consumer: &BaseConsumer<C>, group: &str, positions: &[(&str, u32, u64)]) -> Result<()> {
    let mut tpl = TopicPartitionList::new();
    for (topic, partition, offset) in positions {
        let p = partition_i32(topic, *partition)?;
        let o = offset_i64(topic, *partition, *offset)?;
        tpl.add_partition_offset(topic, p, Offset::Offset(o)).map_err(|e| {
            BrokerError::new(ErrorKind::Other, format!("cannot commit {topic}/{partition}: {}", describe(&e))).at(topic, Some(*partition))
        })?;
    }
    consumer.commit(&tpl, CommitMode::Sync).map_err(|e| {
        let what = positions.iter().map(|(t, p, o)| format!("{t}/{p}@{o}")).collect::<Vec<_>>().join(", ");
        let kind = kind_of_error(&e);
        let cause = match e.rdkafka_error_code() {
            Some(RDKafkaErrorCode::RebalanceInProgress) => " (a rebalance is in progress: the member must poll to rejoin)".to_string(),
            Some(RDKafkaErrorCode::IllegalGeneration | RDKafkaErrorCode::UnknownMemberId | RDKafkaErrorCode::FencedInstanceId) => {
                " (this member is no longer in the group, or the group has members and the commit came from outside it: \
                 the partitions may have another owner)"
                    .to_string()
            }
            _ => String::new(),
        };
        let mut error = BrokerError::new(kind, format!("cannot commit the positions of group '{group}' ({what}): {}{cause}", describe(&e)));
        if let [(topic, partition, _)] = positions {
            error = error.at(topic, Some(*partition));
        }
        error
    })
}

/// See the [module](self) doc.
pub(crate) struct KafkaMember {
    consumer: BaseConsumer<MemberContext>,
    group: String,
    /// Under exactly-once, the member's transaction as a broker (see `txn`).
    writer: Option<Arc<dyn Broker>>,
}

impl KafkaMember {
    pub fn new(consumer: BaseConsumer<MemberContext>, group: &str, writer: Option<Arc<dyn Broker>>) -> KafkaMember {
        KafkaMember { consumer, group: group.to_string(), writer }
    }

    pub fn context(group: &str, producer: Arc<Producer>, txn: Option<Arc<Transactions>>) -> MemberContext {
        MemberContext { group: group.to_string(), producer, txn, state: Mutex::new(MemberState::default()) }
    }
}

impl GroupMember for KafkaMember {
    fn poll(&mut self, positions: &[(&str, u32, u64)], timeout: Duration) -> Result<Vec<Assignment>> {
        let context = self.consumer.context();
        {
            let mut state = context.lock();
            if std::mem::take(&mut state.restart) {
                // The thread's positions are past an aborted transaction: not to be committed.
                // Its tasks close (dropping their state) and open again from the committed
                // positions and changelogs.
                state.positions.clear();
                let owned = state.owned.clone();
                if !owned.is_empty() {
                    tracing::info!(
                        "consumer group '{}': tasks of {} start again from the last commit (their transaction was aborted)",
                        self.group,
                        list(&owned)
                    );
                    return Ok(vec![Assignment::Revoked(owned.clone()), Assignment::Assigned(owned)]);
                }
            }
            state.positions = positions.iter().map(|(t, p, o)| ((*t).to_string(), *p, *o)).collect();
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.consumer.poll(left) {
                Some(Ok(message)) => {
                    let (topic, partition) = (message.topic(), message.partition());
                    tracing::trace!("consumer group '{}': dropped a record of {topic}/{partition} fetched before the pause", self.group);
                }
                Some(Err(e)) => {
                    let kind = kind_of_error(&e);
                    if matches!(e, KafkaError::MessageConsumptionFatal(_)) || kind == ErrorKind::Fenced {
                        return Err(BrokerError::new(
                            ErrorKind::Fenced,
                            format!("consumer group '{}': the member failed: {}", self.group, describe(&e)),
                        ));
                    }
                    tracing::debug!("consumer group '{}': {e}", self.group);
                }
                None => {}
            }
            let mut state = context.lock();
            if let Some(failure) = state.failure.take() {
                return Err(failure);
            }
            if !state.events.is_empty() {
                return Ok(std::mem::take(&mut state.events));
            }
            drop(state);
            if Instant::now() >= deadline {
                return Ok(Vec::new());
            }
        }
    }

    fn commit(&mut self, broker: &dyn Broker, positions: &[(&str, u32, u64)]) -> Result<()> {
        let context = self.consumer.context();
        if context.txn.is_none() {
            broker.sync()?;
        }
        // Only what the member owns: a position of a partition revoked since (and committed
        // then) must not overwrite its new owner's.
        let owned = context.lock().owned.clone();
        let mine: Vec<(&str, u32, u64)> =
            positions.iter().filter(|(t, p, _)| owned.iter().any(|(ot, op)| ot == t && op == p)).copied().collect();
        if mine.len() < positions.len() {
            tracing::debug!("consumer group '{}': not committing positions of partitions the member does not own", self.group);
        }
        if let Some(txn) = &context.txn {
            if let Err(e) = txn.commit(self.consumer.group_metadata(), &mine) {
                let mut state = context.lock();
                state.positions.clear();
                state.restart = true;
                return Err(e);
            }
        } else {
            if mine.is_empty() {
                return Ok(());
            }
            commit_as_member(&self.consumer, &self.group, &mine)?;
        }
        // These are now the positions a revocation (or closing the member) commits: never an
        // older poll's, which would move the group's position back.
        let mut state = context.lock();
        for (topic, partition, offset) in mine {
            match state.positions.iter_mut().find(|(t, p, _)| t == topic && *p == partition) {
                Some(entry) => entry.2 = offset,
                None => state.positions.push((topic.to_string(), partition, offset)),
            }
        }
        Ok(())
    }

    fn writer(&self) -> Option<Arc<dyn Broker>> {
        self.writer.clone()
    }
}
