//! Planning joins and global tables ([`NodeKind::Join`], [`GlobalTable`]), with Kafka Streams'
//! topology for each kind of join as KSML builds it:
//!
//! - **stream–table** (`join`/`leftJoin` with `table:`): one node on the stream side that
//!   looks the record's key up in the table ([`TableGetter`]); the table's own updates produce
//!   nothing. With a `foreignKeyExtractor`, the lookup key is the extracted one (KSML ignores
//!   it; see docs/ksml-differences.md).
//! - **stream–globalTable**: the same node, looking up `mapper(key, value)` in the global
//!   table's one shared store ([`GlobalTable`]), which the runtime keeps up to date.
//! - **stream–stream**: one node per side ([`StreamJoinSide`]), each keeping its records in its
//!   window store and looking in the other's; both feed a junction node that is the result.
//!   Left and outer joins park records without a partner in an internal window store until
//!   the join window closes.
//! - **table–table**: one node per side, each looking the key up in the other table.
//!
//! A stream whose key was changed since it was read (`transformKey`, `map`, …) goes through a
//! repartition topic before a stream–table or stream–stream join, as Kafka Streams does, so
//! each key meets its partner in one task. The topics feeding a join must have the same
//! number of partitions; [`Topology::copartitioned`] lists them for the runtime to check.
//!
//! A stream–table join with `grace` needs a versioned table (as in Kafka Streams): its stream
//! records wait in a buffer store ([`JoinBuffer`]) and join with the table as of their time.
//!
//! - **table–table foreign key** (`foreignKeyExtractor`): Kafka Streams' subscription and
//!   response algorithm through two internal topics ([`JoinNode::FkSubscribe`] and the
//!   nodes after it), so the left key and the foreign key may live in different partitions.

use std::sync::Arc;

use weir_dsl::diag::Span;
use weir_dsl::model::{Join, JoinKind, JoinTarget, Operation, StoreDef, StoreKind, StoreRef, TopicDef, TopicKind, TopicRef};
use weir_dsl::types::{TypeKind, UserType};

use super::{Attach, DefPlanner, Flow, FnHandle, NodeKind, Tail, TopicFormat, Topology, any_type, parents};
use crate::store::{StoreFlavor, StoreSpec};

/// How a join reads the current value of a key of a table (Kafka Streams' value getters).
#[derive(Debug, Clone)]
pub enum TableGetter {
    /// The table's store: the current task's instance (a global table's shared instance).
    Store(Arc<StoreSpec>),
    /// A table's `filter`/`filterNot`: the parent's value when the predicate keeps it.
    Filter { parent: Box<TableGetter>, predicate: FnHandle, keep: bool },
    /// A table's `mapValues`: the parent's value through the mapper.
    MapValues { parent: Box<TableGetter>, mapper: FnHandle },
}

/// What key a stream record looks up in a table.
#[derive(Debug, Clone)]
pub enum LookupKey {
    /// The record's key.
    RecordKey,
    /// A globalTable join's `mapper(key, value)`.
    Mapper(FnHandle),
    /// A `foreignKeyExtractor(value)`.
    ForeignKey(FnHandle),
}

/// One side of a stream–stream join.
#[derive(Debug, Clone)]
pub struct StreamJoinSide {
    /// This node is the left side (the pipeline's stream); the joiner always gets the left
    /// value as `value1`.
    pub left: bool,
    /// This side's records without a partner are emitted (joined with null) once their window
    /// closes: the left side of a `leftJoin`, either side of an `outerJoin`.
    pub outer: bool,
    pub this_store: Arc<StoreSpec>,
    pub other_store: Arc<StoreSpec>,
    /// Records waiting for their window to close without a partner (left and outer joins;
    /// shared by both sides): keyed by the record key at the record's time, the value a
    /// struct `{left, value}`.
    pub pending: Option<Arc<StoreSpec>>,
    pub time_difference: i64,
    pub grace: i64,
    pub joiner: FnHandle,
}

/// A stream-table join's `grace`: stream records wait in `store` (a key-value store ordered
/// by time) until stream time has passed their time by `grace`, and then join with the
/// (versioned) table as of their time.
#[derive(Debug, Clone)]
pub struct JoinBuffer {
    pub store: Arc<StoreSpec>,
    pub grace: i64,
}

/// The work of a join node ([`NodeKind::Join`]).
#[derive(Debug, Clone)]
pub enum JoinNode {
    /// A stream record looks its partner up in a table or a global table.
    StreamTable {
        table: TableGetter,
        lookup: LookupKey,
        left: bool,
        joiner: FnHandle,
        buffer: Option<JoinBuffer>,
    },
    StreamStream(StreamJoinSide),
    /// A foreign-key join's left side: each update of the left table (re)subscribes its key
    /// to the right-table key its value refers to, through the subscription topic.
    FkSubscribe(FkSubscribe),
    /// A foreign-key join at the right table's task: keeps the subscriptions (subscription
    /// topic records) and answers each with the right value, through the response topic.
    FkReceive {
        right: TableGetter,
        subscriptions: Arc<StoreSpec>,
    },
    /// A foreign-key join at the right table's task: a right-table update answers every
    /// subscription to its key.
    FkForeign {
        subscriptions: Arc<StoreSpec>,
    },
    /// A foreign-key join back at the left table's task: a response whose hash still matches
    /// the left value joins; a stale one is dropped.
    FkResolve {
        this: TableGetter,
        left: bool,
        joiner: FnHandle,
        store: Option<Arc<StoreSpec>>,
    },
    /// One side of a table–table join: an update of this side looks the key up in the other.
    TableTable {
        other: TableGetter,
        this_is_left: bool,
        kind: JoinKind,
        joiner: FnHandle,
        store: Option<Arc<StoreSpec>>,
    },
}

/// The left side of a foreign-key join ([`JoinNode::FkSubscribe`]).
#[derive(Debug, Clone)]
pub struct FkSubscribe {
    pub extractor: FnHandle,
    /// A left join (else an inner join).
    pub left: bool,
    /// The left table, whose current value is hashed (responses to older values are stale).
    pub this: TableGetter,
    /// Each left key's current foreign key (Kafka Streams reads it from the old value).
    pub state: Arc<StoreSpec>,
    /// The right table's key type, which foreign keys are brought to.
    pub foreign_key_type: UserType,
}

/// A `globalTables:` entry that a join reads: every task sees all of its topic's partitions
/// through one shared store instance, loaded before the tasks start and caught up before
/// each batch.
#[derive(Debug, Clone)]
pub struct GlobalTable {
    pub topic: String,
    pub format: TopicFormat,
    pub store: Arc<StoreSpec>,
}

/// Topics whose partitions must line up: those feeding one join, by the join's name.
#[derive(Debug, Clone)]
pub struct Copartitioned {
    pub join: String,
    pub topics: Vec<String>,
    /// The topics must have one partition (a table looked up by a foreign key).
    pub one_partition: bool,
}

/// The topics whose records reach `at`.
pub(super) fn source_topics(topology: &Topology, at: Attach, out: &mut Vec<String>) {
    let mut todo = vec![at];
    let mut seen = std::collections::HashSet::new();
    while let Some(at) = todo.pop() {
        match at {
            Attach::Source(i) => {
                if let Some(s) = topology.sources.get(i)
                    && !out.contains(&s.topic)
                {
                    out.push(s.topic.clone());
                }
            }
            Attach::Node(n) => {
                if seen.insert(n) {
                    todo.extend(parents(topology, n));
                }
            }
        }
    }
}

impl DefPlanner<'_, '_> {
    /// Plans a join of `tail` (the pipeline's stream or table).
    pub(super) fn join(&mut self, op: &Operation, j: &Join, tail: Tail, pipeline: &str, name: String) -> Option<Tail> {
        let path = op.path.as_str();
        let joiner = self.handle(&j.value_joiner);
        let tail_types = (tail.key_type.clone(), tail.value_type.clone());
        let value_type = self.result_type(&j.value_joiner).unwrap_or_else(any_type);
        match (&j.target, &tail.flow) {
            (JoinTarget::Table(target), Flow::Stream) => {
                let table = self.stream(target, &format!("{path}.table"))?;
                if table.flow != Flow::Table {
                    self.error(op.span, &format!("{path}.table"), "'table:' must name a table");
                    return None;
                }
                let lookup = match &j.foreign_key_extractor {
                    Some(f) => LookupKey::ForeignKey(self.handle(f)),
                    None => {
                        self.same_key_types(&tail, &table, op)?;
                        LookupKey::RecordKey
                    }
                };
                let getter = self.getter(table.at, op)?;
                let buffer = match j.grace_ms.filter(|g| *g > 0) {
                    Some(grace) => Some(self.join_buffer(&getter, grace, &name, op)?),
                    None => None,
                };
                let stream = match lookup {
                    LookupKey::RecordKey => {
                        let stream = self.copartition(tail, pipeline, &name, op, "")?;
                        self.copartitioned(&name, &[stream.at, table.at], false);
                        stream
                    }
                    _ => {
                        self.copartitioned(&name, &[table.at], true);
                        tail
                    }
                };
                let joiner = self.with_schemas(joiner, &[&tail_types.0, &tail_types.1, &table.value_type]);
                let kind = JoinNode::StreamTable { table: getter, lookup, left: j.kind == JoinKind::Left, joiner, buffer };
                let k = stream.key_type.clone();
                Some(self.add(&stream, pipeline, name, NodeKind::Join(Box::new(kind)), k, value_type))
            }
            (JoinTarget::GlobalTable(target), Flow::Stream) => {
                let Some(mapper) = &j.mapper else {
                    self.error(op.span, path, "a join with a globalTable needs 'mapper'");
                    return None;
                };
                let global = self.global_table(target, &format!("{path}.globalTable"))?;
                if let Some(t) = self.result_type(mapper)
                    && known(&t)
                    && known(&global.format.key_type)
                    && t != global.format.key_type
                {
                    self.error(
                        op.span,
                        &format!("{path}.mapper"),
                        format!(
                            "the mapper gives keys of type '{t}', but globalTable '{}' has keys of type '{}'",
                            global.topic, global.format.key_type
                        ),
                    );
                    return None;
                }
                let joiner = self.with_schemas(joiner, &[&tail.key_type, &tail.value_type, &global.format.value_type]);
                let kind = JoinNode::StreamTable {
                    table: TableGetter::Store(Arc::clone(&global.store)),
                    lookup: LookupKey::Mapper(self.typed(mapper, &[&tail.key_type, &tail.value_type])),
                    left: j.kind == JoinKind::Left,
                    joiner,
                    buffer: None,
                };
                let k = tail.key_type.clone();
                Some(self.add(&tail, pipeline, name, NodeKind::Join(Box::new(kind)), k, value_type))
            }
            (JoinTarget::Stream(target), Flow::Stream) => self.stream_stream(op, j, tail, pipeline, name, target, joiner, value_type),
            (JoinTarget::Table(target), Flow::Table) => {
                let other = self.stream(target, &format!("{path}.table"))?;
                if other.flow != Flow::Table {
                    self.error(op.span, &format!("{path}.table"), "'table:' must name a table");
                    return None;
                }
                if let Some(extractor) = &j.foreign_key_extractor {
                    return self.foreign_key_join(op, j, tail, other, extractor, pipeline, name, joiner, value_type);
                }
                self.same_key_types(&tail, &other, op)?;
                let this_getter = self.getter(tail.at, op)?;
                let other_getter = self.getter(other.at, op)?;
                let k = tail.key_type.clone();
                let store = match &j.store {
                    Some(s) => Some(self.table_store(Some(s), &name, false, &k, &value_type, op.span, &format!("{path}.store"))?),
                    None => None,
                };
                self.copartitioned(&name, &[tail.at, other.at], false);
                let side = |other, this_is_left| JoinNode::TableTable {
                    other,
                    this_is_left,
                    kind: j.kind,
                    joiner: joiner.clone(),
                    store: store.clone(),
                };
                let left = self.add(
                    &tail,
                    pipeline,
                    name.clone(),
                    NodeKind::Join(Box::new(side(other_getter, true))),
                    k.clone(),
                    value_type.clone(),
                );
                let right = self.add(
                    &other,
                    pipeline,
                    name.clone(),
                    NodeKind::Join(Box::new(side(this_getter, false))),
                    k.clone(),
                    value_type.clone(),
                );
                let merged = self.add(&left, pipeline, name, NodeKind::Forward, k, value_type);
                if let Attach::Node(id) = merged.at {
                    self.attach(right.at, id);
                }
                Some(Tail { flow: Flow::Table, ..merged })
            }
            (_, flow) => {
                let what = match flow {
                    Flow::Table => "a table",
                    Flow::Stream => "a stream",
                    _ => "a grouped or windowed stream",
                };
                self.error(op.span, path, format!("'{}' of {what} with this target is not possible", op.type_name));
                None
            }
        }
    }

    /// A table-table foreign-key join, Kafka Streams' way: the left side subscribes each left
    /// key to its foreign key through `<app>-<name>-subscription-registration-topic`
    /// (partitioned like the right table, so the subscription lands in the task holding the
    /// foreign key); that task keeps the subscriptions and answers them, now and on every
    /// right-table update, through `<app>-<name>-subscription-response-topic` (partitioned
    /// like the left table); the left task joins the answers that still match its value.
    #[allow(clippy::too_many_arguments)]
    fn foreign_key_join(
        &mut self,
        op: &Operation,
        j: &Join,
        tail: Tail,
        other: Tail,
        extractor: &weir_dsl::model::FnRef,
        pipeline: &str,
        name: String,
        joiner: FnHandle,
        value_type: UserType,
    ) -> Option<Tail> {
        let path = op.path.as_str();
        let (k, fk) = (tail.key_type.clone(), other.key_type.clone());
        for (t, side) in [(&k, "left"), (&fk, "right")] {
            if !known(t) {
                self.error(op.span, path, format!("a foreign-key join needs the {side} table's key type to write its internal topics"));
                return None;
            }
        }
        let this_getter = self.getter(tail.at, op)?;
        let other_getter = self.getter(other.at, op)?;
        let json = weir_dsl::types::parse_user_type("json", &[]).ok()?;
        let string = weir_dsl::types::parse_user_type("string", &[]).ok()?;
        let kv = |store: &str, key: &UserType| {
            internal_store(format!("{name}-{store}"), StoreKind::KeyValue, Some(key.clone()), Some(json.clone()), true, op.span)
        };
        let state = self.register_store(&kv("fk-state", &k), op.span, path)?;
        let subscriptions = self.register_store(&kv("subscription-store", &string), op.span, path)?;
        let store = match &j.store {
            Some(s) => Some(self.table_store(Some(s), &name, false, &k, &value_type, op.span, &format!("{path}.store"))?),
            None => None,
        };
        let app = self.p.application_id.to_string();
        let (sub_topic, resp_topic) =
            (format!("{app}-{name}-subscription-registration-topic"), format!("{app}-{name}-subscription-response-topic"));
        let sub_format = self.format(Some(&sub_topic), Some(&fk), Some(&json), op.span, path)?;
        let resp_format = self.format(Some(&resp_topic), Some(&k), Some(&json), op.span, path)?;
        // The left side: subscribe, to the subscription topic.
        let subscribe = JoinNode::FkSubscribe(FkSubscribe {
            extractor: self.handle(extractor),
            left: j.kind == JoinKind::Left,
            this: this_getter.clone(),
            state,
            foreign_key_type: fk.clone(),
        });
        let sent = self.add(&tail, pipeline, format!("{name}-subscribe"), NodeKind::Join(Box::new(subscribe)), fk.clone(), json.clone());
        let partitioner = |this: &Self, f: &Option<weir_dsl::model::FnRef>| f.as_ref().map(|f| this.handle(f));
        let sink = super::Sink { format: sub_format.clone(), partitioner: partitioner(self, &j.other_partitioner) };
        self.add(&sent, pipeline, format!("{name}-subscribe"), NodeKind::To { topic: sub_topic.clone(), sink }, fk.clone(), json.clone());
        // The right side: keep the subscriptions and answer them, now and on right updates.
        let sub_source = self.internal_source(&sub_topic, sub_format, None);
        let receive = JoinNode::FkReceive { right: other_getter, subscriptions: Arc::clone(&subscriptions) };
        let received =
            self.add(&sub_source, pipeline, format!("{name}-receive"), NodeKind::Join(Box::new(receive)), k.clone(), json.clone());
        let sink = super::Sink { format: resp_format.clone(), partitioner: partitioner(self, &j.partitioner) };
        let respond = self.add(
            &received,
            pipeline,
            format!("{name}-respond"),
            NodeKind::To { topic: resp_topic.clone(), sink },
            k.clone(),
            json.clone(),
        );
        let foreign = JoinNode::FkForeign { subscriptions };
        let updated = self.add(&other, pipeline, format!("{name}-foreign"), NodeKind::Join(Box::new(foreign)), k.clone(), json.clone());
        if let Attach::Node(id) = respond.at {
            self.attach(updated.at, id);
        }
        // Back on the left side: resolve the answers.
        let resp_source = self.internal_source(&resp_topic, resp_format, None);
        let resolve = JoinNode::FkResolve { this: this_getter, left: j.kind == JoinKind::Left, joiner, store };
        let resolved = self.add(&resp_source, pipeline, name.clone(), NodeKind::Join(Box::new(resolve)), k, value_type);
        for (internal, table) in [(&sub_source, &other), (&resp_source, &tail)] {
            let mut topics = Vec::new();
            source_topics(&self.p.topology, internal.at, &mut topics);
            source_topics(&self.p.topology, table.at, &mut topics);
            self.p.topology.copartitioned.push(Copartitioned { join: name.clone(), topics, one_partition: false });
        }
        Some(Tail { flow: Flow::Table, ..resolved })
    }

    /// A source for an internal topic the application writes itself; `partitions: None`: as
    /// many as the topics it is co-partitioned with, else as the widest source topic.
    pub(super) fn internal_source(&mut self, topic: &str, format: TopicFormat, partitions: Option<u32>) -> Tail {
        let at = self.p.topology.sources.len();
        let tail =
            Tail { at: Attach::Source(at), key_type: format.key_type.clone(), value_type: format.value_type.clone(), flow: Flow::Stream };
        self.p.source_of_topic.insert(topic.to_string(), at);
        self.p.topology.sources.push(super::Source {
            topic: topic.to_string(),
            format,
            offset_reset: None,
            timestamp_extractor: None,
            children: Vec::new(),
            partitions,
            internal: true,
        });
        tail
    }

    #[allow(clippy::too_many_arguments)]
    fn stream_stream(
        &mut self,
        op: &Operation,
        j: &Join,
        tail: Tail,
        pipeline: &str,
        name: String,
        target: &TopicRef,
        joiner: FnHandle,
        value_type: UserType,
    ) -> Option<Tail> {
        let path = op.path.as_str();
        let other = self.stream(target, &format!("{path}.stream"))?;
        if other.flow != Flow::Stream {
            self.error(op.span, &format!("{path}.stream"), "'stream:' must name a stream");
            return None;
        }
        self.same_key_types(&tail, &other, op)?;
        let Some(td) = j.time_difference_ms else {
            self.error(op.span, path, "a join with a stream needs 'timeDifference'");
            return None;
        };
        let grace = j.grace_ms.unwrap_or(0);
        let mut stores = Vec::new();
        for (store, key, t) in [(&j.this_store, "thisStore", &tail), (&j.other_store, "otherStore", &other)] {
            let spec = self.join_window_store(store.as_ref(), key, td, grace, t, op)?;
            stores.push(spec);
        }
        let (this_store, other_store) = (Arc::clone(&stores[0]), Arc::clone(&stores[1]));
        let k = tail.key_type.clone();
        let pending = match j.kind {
            JoinKind::Inner => None,
            _ => {
                // The value is a struct `{left, value}`: JSON keeps it whatever the sides' types.
                let json = weir_dsl::types::parse_user_type("json", &[]).ok();
                let logged = this_store.logging || this_store.persistent;
                let def = StoreDef {
                    timestamped: true,
                    retention_ms: Some(2 * td + grace),
                    window_size_ms: Some(2 * td),
                    ..internal_store(format!("{name}-outer-shared-join-store"), StoreKind::Window, Some(k.clone()), json, logged, op.span)
                };
                Some(self.register_store(&def, op.span, path)?)
            }
        };
        let left_tail = self.copartition(tail, pipeline, &name, op, "-left")?;
        let right_tail = self.copartition(other, pipeline, &name, op, "-right")?;
        self.copartitioned(&name, &[left_tail.at, right_tail.at], false);
        let td = i64::try_from(td).unwrap_or(i64::MAX);
        let grace = i64::try_from(grace).unwrap_or(i64::MAX);
        let side = |left: bool, this: &Arc<StoreSpec>, that: &Arc<StoreSpec>| {
            NodeKind::Join(Box::new(JoinNode::StreamStream(StreamJoinSide {
                left,
                outer: match j.kind {
                    JoinKind::Inner => false,
                    JoinKind::Left => left,
                    JoinKind::Outer => true,
                },
                this_store: Arc::clone(this),
                other_store: Arc::clone(that),
                pending: pending.clone(),
                time_difference: td,
                grace,
                joiner: joiner.clone(),
            })))
        };
        let l =
            self.add(&left_tail, pipeline, format!("{name}-this"), side(true, &this_store, &other_store), k.clone(), value_type.clone());
        let r =
            self.add(&right_tail, pipeline, format!("{name}-other"), side(false, &other_store, &this_store), k.clone(), value_type.clone());
        let merged = self.add(&l, pipeline, name, NodeKind::Forward, k, value_type);
        if let Attach::Node(id) = merged.at {
            self.attach(r.at, id);
        }
        Some(merged)
    }

    /// The buffer of a stream-table join with `grace`, which needs a versioned table (as in
    /// Kafka Streams) whose history covers the grace period.
    fn join_buffer(&mut self, getter: &TableGetter, grace: u64, name: &str, op: &Operation) -> Option<JoinBuffer> {
        let path = format!("{}.grace", op.path);
        let history = match getter {
            TableGetter::Store(spec) => match spec.flavor {
                StoreFlavor::VersionedKeyValue { history_retention_ms } => Some(history_retention_ms),
                _ => None,
            },
            _ => None,
        };
        let Some(history) = history else {
            self.error(
                op.span,
                &path,
                "a stream-table join with a 'grace' needs a versioned table: give the table a keyValue 'store' with 'versioned: true', 'persistent: true', a 'historyRetention' and a 'segmentInterval'",
            );
            return None;
        };
        if grace > history {
            self.error(
                op.span,
                &path,
                format!("the 'grace' of a stream-table join ({grace} ms) must not exceed the table's 'historyRetention' ({history} ms)"),
            );
            return None;
        }
        let string = weir_dsl::types::parse_user_type("string", &[]).ok();
        let json = weir_dsl::types::parse_user_type("json", &[]).ok();
        let def = internal_store(format!("{name}-buffer"), StoreKind::KeyValue, string, json, true, op.span);
        let store = self.register_store(&def, op.span, &path)?;
        Some(JoinBuffer { store, grace: i64::try_from(grace).unwrap_or(i64::MAX) })
    }

    /// A stream-stream join's window store, validated as KSML does: `retainDuplicates`,
    /// `windowSize` = 2 × `timeDifference`, `retention` = 2 × `timeDifference` + `grace`.
    fn join_window_store(
        &mut self,
        store: Option<&StoreRef>,
        key: &str,
        td: u64,
        grace: u64,
        side: &Tail,
        op: &Operation,
    ) -> Option<Arc<StoreSpec>> {
        let path = format!("{}.{key}", op.path);
        let Some(store) = store else {
            self.error(op.span, &op.path, format!("a join with a stream needs '{key}'"));
            return None;
        };
        let (spec, span) = match store {
            StoreRef::Named(n) => match self.p.topology.stores.iter().find(|s| s.name == n.value) {
                Some(spec) => (Arc::clone(spec), n.span),
                None => {
                    self.error(n.span, &path, format!("unknown state store '{}'", n.value));
                    return None;
                }
            },
            StoreRef::Inline(def) => {
                let def = StoreDef {
                    key_type: def.key_type.clone().or(Some(weir_dsl::model::Spanned { value: side.key_type.clone(), span: def.span })),
                    value_type: def
                        .value_type
                        .clone()
                        .or(Some(weir_dsl::model::Spanned { value: side.value_type.clone(), span: def.span })),
                    ..(**def).clone()
                };
                (self.register_store(&def, def.span, &path)?, def.span)
            }
        };
        let StoreFlavor::Window { retention_ms, window_size_ms, retain_duplicates, .. } = spec.flavor else {
            self.error(span, &path, format!("state store '{}' of a stream-stream join must be a window store", spec.name));
            return None;
        };
        let mut problems = Vec::new();
        if !retain_duplicates {
            problems.push("'retainDuplicates: true'".to_string());
        }
        if window_size_ms != 2 * td {
            problems.push(format!("'windowSize' {} ms (2 × timeDifference), not {window_size_ms} ms", 2 * td));
        }
        if retention_ms != 2 * td + grace {
            problems.push(format!("'retention' {} ms (2 × timeDifference + grace), not {retention_ms} ms", 2 * td + grace));
        }
        if !problems.is_empty() {
            self.error(span, &path, format!("state store '{}' of a stream-stream join needs {}", spec.name, problems.join(", ")));
            return None;
        }
        Some(spec)
    }

    /// Adds a store the join defines itself to the application's stores.
    pub(super) fn register_store(&mut self, def: &StoreDef, span: Span, path: &str) -> Option<Arc<StoreSpec>> {
        self.add_store(def, span, path, |spec| spec)
    }

    /// Both sides of a join must have the same key type (KSML's check), when both are known.
    fn same_key_types(&mut self, this: &Tail, other: &Tail, op: &Operation) -> Option<()> {
        if known(&this.key_type) && known(&other.key_type) && this.key_type != other.key_type {
            self.error(
                op.span,
                &op.path,
                format!(
                    "cannot '{}' with keys of type '{}' and '{}': both sides need the same key type",
                    op.type_name, this.key_type, other.key_type
                ),
            );
            return None;
        }
        Some(())
    }

    /// A stream whose key may have changed goes through a repartition topic first.
    fn copartition(&mut self, tail: Tail, pipeline: &str, name: &str, op: &Operation, suffix: &str) -> Option<Tail> {
        self.repartition_if_rekeyed(&tail, pipeline, &format!("{name}{suffix}"), op)
    }

    fn copartitioned(&mut self, join: &str, inputs: &[Attach], one_partition: bool) {
        let mut topics = Vec::new();
        for at in inputs {
            source_topics(&self.p.topology, *at, &mut topics);
        }
        self.p.topology.copartitioned.push(Copartitioned { join: join.to_string(), topics, one_partition });
    }

    /// How a join reads the table whose node is at `at`. A `toTable` without a store gets an
    /// internal one, as Kafka Streams materializes a table a join reads.
    fn getter(&mut self, at: Attach, op: &Operation) -> Option<TableGetter> {
        let Attach::Node(id) = at else {
            self.error(op.span, &op.path, "the table of this join has no node (a bug in Weir)");
            return None;
        };
        let node = self.p.topology.nodes[id].clone();
        let parent = |this: &mut Self| -> Option<TableGetter> {
            match parents(&this.p.topology, id).as_slice() {
                [one] => this.getter(*one, op),
                _ => {
                    this.error(op.span, &op.path, format!("the table of this join ('{}') has no single parent (a bug in Weir)", node.name));
                    None
                }
            }
        };
        match &node.kind {
            NodeKind::TableSource { store: Some(s) } | NodeKind::Aggregate { store: s, .. } => Some(TableGetter::Store(Arc::clone(s))),
            NodeKind::GroupedTable(g) if matches!(&**g, super::GroupedTableNode::Aggregate { .. }) => match &**g {
                super::GroupedTableNode::Aggregate { store, .. } => Some(TableGetter::Store(Arc::clone(store))),
                _ => None,
            },
            NodeKind::Join(j)
                if matches!(&**j, JoinNode::TableTable { store: Some(_), .. } | JoinNode::FkResolve { store: Some(_), .. }) =>
            {
                match &**j {
                    JoinNode::TableTable { store: Some(s), .. } | JoinNode::FkResolve { store: Some(s), .. } => {
                        Some(TableGetter::Store(Arc::clone(s)))
                    }
                    _ => None,
                }
            }
            NodeKind::TableSource { store: None } => {
                let spec =
                    self.table_store(None, &format!("{}-store", node.name), true, &node.key_type, &node.value_type, op.span, &op.path)?;
                self.p.topology.nodes[id].kind = NodeKind::TableSource { store: Some(Arc::clone(&spec)) };
                Some(TableGetter::Store(spec))
            }
            NodeKind::TableFilter { predicate, keep } => {
                Some(TableGetter::Filter { parent: Box::new(parent(self)?), predicate: predicate.clone(), keep: *keep })
            }
            NodeKind::TableMapValues { mapper } => Some(TableGetter::MapValues { parent: Box::new(parent(self)?), mapper: mapper.clone() }),
            NodeKind::Forward => parent(self),
            _ => {
                self.error(
                    op.span,
                    &op.path,
                    format!(
                        "a join cannot read the table made by '{}': give the table a 'store' (toTable, or the join that makes it)",
                        node.name
                    ),
                );
                None
            }
        }
    }

    /// The global table a join reads (one per topic), with its store: the table's inline
    /// `store`, else a key-value store named after the topic (KSML's materialization).
    fn global_table(&mut self, target: &TopicRef, path: &str) -> Option<GlobalTable> {
        let t: TopicDef = match target {
            TopicRef::Inline(t) => (**t).clone(),
            TopicRef::Named(n) => match self.def.topics.get(&n.value) {
                Some(t) => t.clone(),
                None => {
                    self.error(n.span, path, format!("unknown globalTable '{}'", n.value));
                    return None;
                }
            },
        };
        if t.kind != TopicKind::GlobalTable {
            self.error(t.span, path, format!("'{}' is not a globalTable", t.name));
            return None;
        }
        if let Some(g) = self.p.topology.global_tables.iter().find(|g| g.topic == t.topic.value) {
            return Some(g.clone());
        }
        let format = self.format(
            Some(&t.topic.value),
            t.key_type.as_ref().map(|k| &k.value),
            t.value_type.as_ref().map(|v| &v.value),
            t.span,
            path,
        )?;
        let spanned = |u: &UserType| Some(weir_dsl::model::Spanned { value: u.clone(), span: t.span });
        let def = match &t.store {
            Some(StoreRef::Inline(def)) => StoreDef {
                key_type: spanned(&format.key_type),
                value_type: spanned(&format.value_type),
                logging: false,
                persistent: false,
                ..(**def).clone()
            },
            Some(StoreRef::Named(n)) => {
                self.error(
                    n.span,
                    path,
                    "a globalTable's 'store' must be an inline keyValue store (it is the table's own copy of the topic)",
                );
                return None;
            }
            None => StoreDef {
                timestamped: true,
                ..internal_store(
                    t.topic.value.clone(),
                    StoreKind::KeyValue,
                    Some(format.key_type.clone()),
                    Some(format.value_type.clone()),
                    false,
                    t.span,
                )
            },
        };
        if def.kind != StoreKind::KeyValue {
            self.error(def.span, path, format!("the store of globalTable '{}' must be a keyValue store", t.name));
            return None;
        }
        if self.p.topology.stores.iter().any(|s| s.name == def.name)
            || self.p.topology.global_tables.iter().any(|g| g.store.name == def.name)
        {
            self.error(
                def.span,
                path,
                format!("state store '{}' is already defined: store names are shared by the whole application", def.name),
            );
            return None;
        }
        let store = match StoreSpec::new(&def, self.p.application_id, self.p.notations) {
            Ok(spec) => Arc::new(spec),
            Err(message) => {
                self.error(def.span, path, message);
                return None;
            }
        };
        let global = GlobalTable { topic: t.topic.value.clone(), format, store };
        self.p.topology.global_tables.push(global.clone());
        Some(global)
    }
}

/// A store a join defines for itself: in memory, with a changelog when `logging`, without
/// the window and version settings (set them with struct update syntax where needed).
pub(super) fn internal_store(
    name: String,
    kind: StoreKind,
    key: Option<UserType>,
    value: Option<UserType>,
    logging: bool,
    span: Span,
) -> StoreDef {
    let spanned = |t: Option<UserType>| t.map(|value| weir_dsl::model::Spanned { value, span });
    StoreDef {
        name,
        kind,
        key_type: spanned(key),
        value_type: spanned(value),
        persistent: false,
        timestamped: false,
        versioned: false,
        history_retention_ms: None,
        segment_interval_ms: None,
        retention_ms: None,
        window_size_ms: None,
        retain_duplicates: false,
        caching: false,
        logging,
        span,
    }
}

fn known(t: &UserType) -> bool {
    t.kind != TypeKind::Any
}
