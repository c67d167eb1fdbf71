//! Apache Kafka as the engine's [`Broker`]: topics, records, consumer positions and group
//! membership through librdkafka (the only crate of Weir that names it). docs/kafka.md says
//! what maps to what.
//!
//! - Records are produced by one idempotent producer (`acks=all`), asynchronously;
//!   [`Broker::sync`] waits for every acknowledgement (module `producer`).
//! - Records are read by offset through one assign-mode consumer per calling thread
//!   (module `reader`); offsets and watermarks through a consumer without group.
//! - Topics are created with the admin API, never by auto-creation (module `topics`).
//! - Consumer positions are committed by a client of the group that is not a member (Kafka
//!   accepts that only while the group has no members) or, during a run, by the group member
//!   (module `group`), which is a real member of the consumer group that never fetches records.
//! - Under exactly-once ([`KafkaConfig::exactly_once()`]) each group member writes through a
//!   transactional producer of its own and commits its positions in the transaction (module
//!   `txn`); every read is `read_committed`.

mod config;
mod context;
mod error;
mod group;
mod owners;
mod producer;
mod reader;
mod topics;
mod txn;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};

use rdkafka::admin::AdminClient;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use weir_engine::broker::{Broker, BrokerError, ErrorKind, GroupMember, GroupOwners, NewRecord, Result, StoredRecord, TopicSpec};

use crate::config::{Client, ClientProperties};
pub use crate::config::{DroppedProperty, KafkaConfig, is_streams_setting};
use crate::context::{LogContext, client_config};
use crate::error::{broker_error, describe, partition_i32};
use crate::group::{KafkaMember, commit_as_member};
use crate::producer::Producer;
use crate::reader::{IDLE_READER, Reader};

/// See the [crate](self) doc.
pub struct KafkaBroker {
    core: Arc<Core>,
}

/// The broker's clients, shared with the writers of exactly-once group members
/// ([`GroupMember::writer`]), which append through their own producer and do the rest here.
pub(crate) struct Core {
    config: KafkaConfig,
    props: ClientProperties,
    producer: Arc<Producer>,
    admin: AdminClient<LogContext>,
    /// Watermarks, without group.
    meta: BaseConsumer<LogContext>,
    /// One reader per calling thread.
    readers: Mutex<HashMap<ThreadId, Arc<Mutex<Reader>>>>,
    last_reader_sweep: Mutex<Instant>,
    /// A client of each group positions were committed or asked for (not a member).
    groups: Mutex<HashMap<String, Arc<BaseConsumer<LogContext>>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl KafkaBroker {
    /// Connects to the cluster: creates the clients and waits until the cluster answers, at
    /// most [`KafkaConfig::connect_timeout`], saying every few seconds (a WARN line naming
    /// the address) that it is still trying.
    pub fn connect(config: KafkaConfig) -> Result<KafkaBroker> {
        let props = config.client_properties();
        for dropped in &props.dropped {
            tracing::debug!("Kafka property '{}' not given to the client: {}", dropped.key, dropped.reason);
        }
        let creating = |what: &str, e: rdkafka::error::KafkaError| {
            BrokerError::new(ErrorKind::Other, format!("cannot create the Kafka {what} for {}: {}", config.bootstrap_servers, describe(&e)))
        };
        let producer = Arc::new(Producer::new(&config, &props).map_err(|e| creating("producer", e))?);
        let admin: AdminClient<LogContext> = client_config(&config, &props, Client::Admin, &[], &[])
            .create_with_context(LogContext { client: "admin" })
            .map_err(|e| creating("admin client", e))?;
        let meta: BaseConsumer<LogContext> = client_config(&config, &props, Client::Consumer, &[], &Core::reader_fixed(&config))
            .create_with_context(LogContext { client: "consumer" })
            .map_err(|e| creating("consumer", e))?;
        let broker = Core {
            config,
            props,
            producer,
            admin,
            meta,
            readers: Mutex::new(HashMap::new()),
            last_reader_sweep: Mutex::new(Instant::now()),
            groups: Mutex::new(HashMap::new()),
        };
        broker.wait_until_reachable()?;
        tracing::info!("connected to Kafka at {}", broker.config.bootstrap_servers);
        Ok(KafkaBroker { core: Arc::new(broker) })
    }

    /// The client properties that were not given to any client, and why.
    pub fn dropped_properties(&self) -> &[DroppedProperty] {
        &self.core.props.dropped
    }

    /// A topic's configs as the cluster reports them (`cleanup.policy`, `retention.ms`, …).
    pub fn topic_configs(&self, topic: &str) -> Result<Vec<(String, String)>> {
        topics::describe_topic(&self.core.admin, topic, self.core.config.request_timeout)
    }

    /// The cluster's topics and their partition counts, by name, without Kafka's internal
    /// topics (`__consumer_offsets`, …).
    pub fn topics(&self) -> Result<Vec<(String, u32)>> {
        topics::list_topics(&self.core.admin, self.core.config.request_timeout)
    }

    /// The names of the cluster's consumer groups, sorted.
    pub fn groups(&self) -> Result<Vec<String>> {
        let list = self
            .core
            .meta
            .fetch_group_list(None, self.core.config.request_timeout)
            .map_err(|e| broker_error(&e, "cannot list the consumer groups", None, None))?;
        let mut names: Vec<String> = list.groups().iter().map(|g| g.name().to_string()).collect();
        names.sort();
        Ok(names)
    }

    /// The config the broker was connected with.
    pub fn config(&self) -> &KafkaConfig {
        &self.core.config
    }
}

impl Core {
    fn wait_until_reachable(&self) -> Result<()> {
        let started = Instant::now();
        let deadline = started + self.config.connect_timeout;
        let mut next_warning = started + Duration::from_secs(3);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let attempt = self.admin.inner().fetch_metadata(None, left.min(Duration::from_secs(2)).max(Duration::from_millis(100)));
            let error = match attempt {
                Ok(metadata) if !metadata.brokers().is_empty() => return Ok(()),
                Ok(_) => "the cluster lists no brokers".to_string(),
                Err(e) => describe(&e),
            };
            let now = Instant::now();
            if now >= deadline {
                return Err(BrokerError::new(
                    ErrorKind::Unavailable,
                    format!("cannot reach Kafka at {} within {:?}: {error}", self.config.bootstrap_servers, self.config.connect_timeout),
                ));
            }
            if now >= next_warning {
                tracing::warn!(
                    "cannot reach Kafka at {} yet ({error}); trying again for {} s more",
                    self.config.bootstrap_servers,
                    deadline.saturating_duration_since(now).as_secs_f64().round()
                );
                next_warning = now + Duration::from_secs(3);
            }
            thread::sleep(Duration::from_millis(200).min(deadline.saturating_duration_since(Instant::now())));
        }
    }

    /// What every consumer that reads by offset needs.
    fn reader_fixed(config: &KafkaConfig) -> [(&'static str, &'static str); 5] {
        [
            ("enable.auto.commit", "false"),
            ("enable.auto.offset.store", "false"),
            ("enable.partition.eof", "true"),
            ("auto.offset.reset", "earliest"),
            ("isolation.level", if config.reads_committed() { "read_committed" } else { "read_uncommitted" }),
        ]
    }

    fn new_reader(&self) -> Result<Reader> {
        // Short fetch waits: a read at the end learns it is at the end quickly.
        let defaults = [("fetch.wait.max.ms", "100"), ("queued.max.messages.kbytes", "8192"), ("fetch.queue.backoff.ms", "10")];
        let mut client = client_config(&self.config, &self.props, Client::Consumer, &defaults, &Self::reader_fixed(&self.config));
        // librdkafka's incremental assignment needs a group id; the reader never subscribes
        // nor commits, so it never joins that group.
        client.set("group.id", "weir-reader");
        let consumer: BaseConsumer<LogContext> = client
            .create_with_context(LogContext { client: "reader" })
            .map_err(|e| BrokerError::new(ErrorKind::Other, format!("cannot create a Kafka consumer: {}", describe(&e))))?;
        Ok(Reader::new(consumer, self.config.request_timeout))
    }

    /// This thread's reader (made on first use); closes readers unused for long.
    fn reader(&self) -> Result<Arc<Mutex<Reader>>> {
        let id = thread::current().id();
        let mut readers = lock(&self.readers);
        {
            let mut last = lock(&self.last_reader_sweep);
            if last.elapsed() > Duration::from_secs(10) {
                *last = Instant::now();
                readers.retain(|owner, reader| *owner == id || reader.try_lock().map_or(true, |r| r.last_used.elapsed() < IDLE_READER));
            }
        }
        if let Some(reader) = readers.get(&id) {
            return Ok(Arc::clone(reader));
        }
        let reader = Arc::new(Mutex::new(self.new_reader()?));
        readers.insert(id, Arc::clone(&reader));
        Ok(reader)
    }

    /// A client of `group` that is not a member, for commits outside a membership.
    fn group_client(&self, group: &str) -> Result<Arc<BaseConsumer<LogContext>>> {
        let mut groups = lock(&self.groups);
        if let Some(client) = groups.get(group) {
            return Ok(Arc::clone(client));
        }
        // `read_committed` makes the position requests wait for the transactions that hold
        // positions (KIP-447's require_stable).
        let isolation = if self.config.reads_committed() { "read_committed" } else { "read_uncommitted" };
        let fixed =
            [("group.id", group), ("enable.auto.commit", "false"), ("enable.auto.offset.store", "false"), ("isolation.level", isolation)];
        let client: BaseConsumer<LogContext> = client_config(&self.config, &self.props, Client::Consumer, &[], &fixed)
            .create_with_context(LogContext { client: "group client" })
            .map_err(|e| BrokerError::new(ErrorKind::Other, format!("cannot create a client of group '{group}': {}", describe(&e))))?;
        let client = Arc::new(client);
        groups.insert(group.to_string(), Arc::clone(&client));
        Ok(client)
    }

    fn watermarks(&self, topic: &str, partition: u32) -> Result<(u64, u64)> {
        let p = partition_i32(topic, partition)?;
        let (low, high) = reader::watermarks_of(&self.meta, topic, p, self.config.request_timeout)
            .map_err(|e| broker_error(&e, "cannot get the offsets of", Some(topic), Some(partition)))?;
        Ok((u64::try_from(low).unwrap_or_default(), u64::try_from(high).unwrap_or_default()))
    }
}

impl Core {
    pub(crate) fn ensure_topic_with(&self, topic: &str, spec: &TopicSpec) -> Result<u32> {
        topics::ensure_topic(&self.admin, topic, spec, self.config.replication_factor, self.config.request_timeout)
    }

    pub(crate) fn append(&self, topic: &str, partition: u32, records: &[NewRecord]) -> Result<()> {
        self.producer.append(topic, partition, records)
    }

    pub(crate) fn read(&self, topic: &str, partition: u32, from: u64, max_bytes: usize) -> Result<Vec<StoredRecord>> {
        let reader = self.reader()?;
        let mut reader = lock(&reader);
        reader.read(topic, partition, from, max_bytes)
    }

    pub(crate) fn read_ready(&self, topic: &str, partition: u32, from: u64, max_bytes: usize) -> Result<Vec<StoredRecord>> {
        let reader = self.reader()?;
        let mut reader = lock(&reader);
        reader.read_ready(topic, partition, from, max_bytes)
    }

    /// Waits for an event on the calling thread's reader: every partition a stream thread
    /// reads is assigned to it (the positions were read with [`Core::read_ready`] before).
    pub(crate) fn wait_any(&self, timeout: Duration) -> Result<()> {
        let reader = self.reader()?;
        let reader = lock(&reader);
        reader.wait(timeout);
        Ok(())
    }

    pub(crate) fn start_offset(&self, topic: &str, partition: u32) -> Result<u64> {
        self.watermarks(topic, partition).map(|(low, _)| low)
    }

    pub(crate) fn end_offset(&self, topic: &str, partition: u32) -> Result<u64> {
        self.watermarks(topic, partition).map(|(_, high)| high)
    }

    pub(crate) fn wait_for(&self, topic: &str, partition: u32, offset: u64, timeout: Duration) -> Result<bool> {
        let deadline = Instant::now() + timeout;
        let mut pause = Duration::from_millis(5);
        loop {
            if self.watermarks(topic, partition)?.1 > offset {
                return Ok(true);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(false);
            }
            thread::sleep(pause.min(left));
            pause = (pause * 2).min(Duration::from_millis(50));
        }
    }

    pub(crate) fn sync(&self) -> Result<()> {
        self.producer.sync()
    }

    /// Commits as a client of `group` that is not a member. Kafka accepts such a commit only
    /// while the group has no members (a running application's members commit through their
    /// [`GroupMember`]); otherwise this fails with [`ErrorKind::Fenced`].
    pub(crate) fn commit(&self, group: &str, offsets: &[(&str, u32, u64)]) -> Result<()> {
        if offsets.is_empty() {
            return Ok(());
        }
        let client = self.group_client(group)?;
        commit_as_member(client.as_ref(), group, offsets)
    }

    pub(crate) fn committed(&self, group: &str, topic: &str, partition: u32) -> Result<Option<u64>> {
        let client = self.group_client(group)?;
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition(topic, partition_i32(topic, partition)?);
        let answer = client.committed_offsets(tpl, self.config.request_timeout).map_err(|e| {
            broker_error(&e, &format!("cannot get the committed position of group '{group}' in"), Some(topic), Some(partition))
        })?;
        let p = partition_i32(topic, partition)?;
        let Some(elem) = answer.find_partition(topic, p) else { return Ok(None) };
        if let Err(e) = elem.error() {
            return Err(broker_error(
                &e,
                &format!("cannot get the committed position of group '{group}' in"),
                Some(topic),
                Some(partition),
            ));
        }
        match elem.offset() {
            Offset::Offset(o) => Ok(u64::try_from(o).ok()),
            _ => Ok(None),
        }
    }
}

impl Broker for KafkaBroker {
    fn describe(&self) -> String {
        format!("Kafka at {}", self.core.config.bootstrap_servers)
    }

    fn ensure_topic_with(&self, topic: &str, spec: &TopicSpec) -> Result<u32> {
        self.core.ensure_topic_with(topic, spec)
    }

    fn append(&self, topic: &str, partition: u32, records: &[NewRecord]) -> Result<()> {
        self.core.append(topic, partition, records)
    }

    fn read(&self, topic: &str, partition: u32, from: u64, max_bytes: usize) -> Result<Vec<StoredRecord>> {
        self.core.read(topic, partition, from, max_bytes)
    }

    fn read_ready(&self, topic: &str, partition: u32, from: u64, max_bytes: usize) -> Result<Vec<StoredRecord>> {
        self.core.read_ready(topic, partition, from, max_bytes)
    }

    /// Waits on the calling thread's reader, where the positions' partitions are assigned
    /// (a thread waits for what it reads), for librdkafka to queue anything for one of them.
    fn wait_any(&self, _positions: &[(&str, u32, u64)], timeout: Duration) -> Result<()> {
        self.core.wait_any(timeout)
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

    /// Kafka's DeleteRecords (as Kafka Streams purges its repartition topics).
    fn delete_before(&self, topic: &str, partition: u32, offset: u64) -> Result<()> {
        topics::delete_before(&self.core.admin, topic, partition, offset, self.core.config.request_timeout)
    }

    fn sync(&self) -> Result<()> {
        self.core.sync()
    }

    /// Commits as a client of `group` that is not a member. Kafka accepts such a commit only
    /// while the group has no members (a running application's members commit through their
    /// [`GroupMember`]); otherwise this fails with [`ErrorKind::Fenced`].
    fn commit(&self, group: &str, offsets: &[(&str, u32, u64)]) -> Result<()> {
        self.core.commit(group, offsets)
    }

    fn committed(&self, group: &str, topic: &str, partition: u32) -> Result<Option<u64>> {
        self.core.committed(group, topic, partition)
    }

    /// A real member of the consumer group `group` (see docs/kafka.md, "Group membership").
    fn join_group(&self, group: &str, topics: &[String], member: usize, members: usize) -> Result<Box<dyn GroupMember>> {
        for topic in topics {
            // Subscribing to a missing topic would wait for it: make sure it exists.
            self.ensure_topic(topic, 1)?;
        }
        let defaults = [("session.timeout.ms", "45000"), ("heartbeat.interval.ms", "3000")];
        let fixed = [
            ("group.id", group),
            ("partition.assignment.strategy", "range"),
            ("group.protocol", "classic"),
            ("enable.auto.commit", "false"),
            ("enable.auto.offset.store", "false"),
            ("auto.offset.reset", "earliest"),
            // The member fetches nothing worth keeping (its partitions are paused at once).
            ("queued.max.messages.kbytes", "64"),
            ("fetch.message.max.bytes", "1024"),
        ];
        let core = &self.core;
        let mut client = client_config(&core.config, &core.props, Client::Consumer, &defaults, &fixed);
        let client_id =
            owners::member_client_id(client.get("client.id").unwrap_or("weir"), member, members, core.config.endpoint.as_deref());
        client.set("client.id", client_id);
        // Under exactly-once the member writes in transactions of its own (module `txn`).
        let txn = if core.config.exactly_once {
            Some(Arc::new(txn::Transactions::start(Arc::clone(core), group, member, members)?))
        } else {
            None
        };
        let writer: Option<Arc<dyn Broker>> =
            txn.as_ref().map(|txn| Arc::new(txn::Writer { core: Arc::clone(core), txn: Arc::clone(txn) }) as Arc<dyn Broker>);
        let context = KafkaMember::context(group, Arc::clone(&core.producer), txn);
        let consumer: BaseConsumer<group::MemberContext> = client.create_with_context(context).map_err(|e| {
            BrokerError::new(ErrorKind::Other, format!("cannot create a member of consumer group '{group}': {}", describe(&e)))
        })?;
        let names: Vec<&str> = topics.iter().map(String::as_str).collect();
        consumer.subscribe(&names).map_err(|e| {
            BrokerError::new(ErrorKind::Other, format!("consumer group '{group}': cannot subscribe to {names:?}: {}", describe(&e)))
        })?;
        Ok(Box::new(KafkaMember::new(consumer, group, writer)))
    }

    /// The group's members as its coordinator describes them (DescribeGroups): each one's
    /// assignment and the endpoint its `client.id` advertises (module `owners`).
    fn group_owners(&self, group: &str) -> Result<Option<GroupOwners>> {
        // Asked while answering an HTTP request: not the full request timeout.
        owners::group_owners(&self.core.meta, &self.core.admin, group, self.core.config.request_timeout.min(Duration::from_secs(5)))
            .map(Some)
    }
}
