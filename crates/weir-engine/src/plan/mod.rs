//! Definitions → [`Topology`]: the graph the runtime executes. This module is the planner;
//! the graph's types are in `topology.rs`.
//!
//! Pipelines are wired in file order, as KSML builds them: each topic is consumed once (one
//! [`Source`] per topic, shared by every pipeline that reads it), a pipeline reading another
//! one's `as` result attaches to that pipeline's last node, `merge` joins two streams into
//! one node. Every node knows the key and value types of the records it emits, so sinks can
//! pick their codecs; functions are bound to the definition's [`Functions`].
//!
//! A definition's top-level `stores` become [`StoreSpec`]s (one instance per task at run
//! time), which functions declaring them reach through [`crate::store::current`].
//!
//! Aggregations: `groupByKey` marks the stream grouped (no node); `groupBy` is a key mapper
//! and a repartition topic; `count`, `reduce` and `aggregate` become a [`NodeKind::Aggregate`]
//! with the store that holds the table (the operation's `store`, else an internal one named
//! after the operation, with a changelog), and emit the table's updates; `toStream` of that
//! table passes them on. A `tables:` source (one per topic) and `toTable` are a
//! [`NodeKind::TableSource`] that keeps the updates in the table's store; a table's `filter`
//! and `mapValues` have their own table nodes. Windows, windowed aggregations, `cogroup` and
//! `suppress` are planned in `plan/windows.rs`; joins and global tables in `plan/join.rs` (see
//! [`JoinNode`]); grouped tables in `plan/grouped_table.rs` (see [`GroupedTableNode`]). An
//! operation goes to the first planner that claims it: joins, then `windowed_op`,
//! `grouped_table_op` and `stateful_op` (each answers a `Planned`: planned, refused with a
//! diagnostic, or not its operation), then the stream operations in `op`. What
//! the runtime cannot run yet is refused here with a diagnostic at the operation, never
//! accepted and ignored.

use std::collections::HashMap;
use std::sync::Arc;

use weir_dsl::Diagnostic;
use weir_dsl::diag::Span;
use weir_dsl::model::*;
use weir_dsl::types::{TypeKind, UserType};

use crate::notation::{Notations, Target, TextConversion};
use crate::ports::{ArgSchema, Functions};
use crate::store::StoreSpec;
use crate::store::untyped::UntypedCodec;

mod describe;
mod topology;
mod windows;
pub use describe::{Description, NodeRole, describe};
pub use topology::{
    Aggregation, FnHandle, Node, NodeId, NodeKind, PerTopicSinks, PrintTarget, ProducerPlan, Sink, Source, TopicFormat, Topology,
};
use topology::{Attach, parents, rekeyed};
pub use windows::{SuppressUntil, Suppression, Windowing};
mod grouped_table;
mod join;
pub use grouped_table::{GroupedTableNode, TableAggregation};
pub use join::{Copartitioned, FkSubscribe, GlobalTable, JoinBuffer, JoinNode, LookupKey, StreamJoinSide, TableGetter};

/// One definition with its loaded functions.
pub struct PlanInput<'a> {
    pub definition: &'a Definition,
    pub functions: Arc<dyn Functions>,
}

/// What to plan, and the name internal topics get.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanOptions {
    /// `application.id`: names internal topics (repartition topics, changelogs), as Kafka
    /// Streams does.
    pub application_id: String,
    /// Plan the pipelines (the runner config's `enablePipelines`).
    pub pipelines: bool,
    /// Plan the producers (the runner config's `enableProducers`).
    pub producers: bool,
}

impl PlanOptions {
    /// Pipelines and producers, under `application_id`.
    pub fn new(application_id: &str) -> PlanOptions {
        PlanOptions { application_id: application_id.to_string(), pipelines: true, producers: true }
    }
}

/// The topic a topic name extractor's codecs are checked with at planning when they depend on
/// the topic (their subjects are named per record at run time).
const TOPIC_CHECKED: &str = "<topic of the record>";

/// Builds the topology of all definitions of an application.
pub fn plan(inputs: &[PlanInput], notations: &Notations, options: &PlanOptions) -> Result<Topology, Vec<Diagnostic>> {
    let PlanOptions { application_id, pipelines: with_pipelines, producers: with_producers } = options;
    let (application_id, with_pipelines, with_producers) = (application_id.as_str(), *with_pipelines, *with_producers);
    let mut p = Planner {
        topology: Topology::default(),
        diags: Vec::new(),
        notations,
        source_of_topic: HashMap::new(),
        tables: HashMap::new(),
        application_id,
        arg_schemas: HashMap::new(),
    };
    let mut store_files: HashMap<String, String> = HashMap::new();
    for input in inputs {
        let def = input.definition;
        if with_pipelines {
            for store in def.stores.values() {
                if let Some(other) = store_files.get(&store.name) {
                    p.diags.push(Diagnostic::error(
                        &def.file,
                        Some(store.span),
                        &format!("stores.{}", store.name),
                        format!(
                            "state store '{}' is also defined in '{other}': store names are shared by the whole application",
                            store.name
                        ),
                    ));
                    continue;
                }
                store_files.insert(store.name.clone(), def.file.clone());
                match StoreSpec::new(store, application_id, notations) {
                    Ok(spec) => p.topology.stores.push(Arc::new(spec)),
                    Err(message) => {
                        p.diags.push(Diagnostic::error(&def.file, Some(store.span), &format!("stores.{}", store.name), message))
                    }
                }
            }
        }
        let mut d = DefPlanner { p: &mut p, def, functions: &input.functions, registered: HashMap::new() };
        if with_pipelines {
            for pipeline in input.definition.pipelines.values() {
                d.pipeline(pipeline);
            }
        }
        if with_producers {
            for producer in input.definition.producers.values() {
                d.producer(producer);
            }
        }
    }
    if p.diags.is_empty() { Ok(p.topology) } else { Err(p.diags) }
}

struct Planner<'n> {
    topology: Topology,
    diags: Vec<Diagnostic>,
    notations: &'n Notations,
    source_of_topic: HashMap<String, usize>,
    /// The table node of each topic read as a table.
    tables: HashMap<String, Tail>,
    application_id: &'n str,
    /// KSML's `@type`/`@schema` of each struct type with a schema met so far, by type text.
    arg_schemas: HashMap<String, Option<Arc<ArgSchema>>>,
}

impl Planner<'_> {
    /// The schema of `ty` as functions see it, when it is a struct type with a schema.
    fn arg_schema(&mut self, ty: &UserType) -> Option<Arc<ArgSchema>> {
        if !matches!(ty.kind, TypeKind::Schema(_)) {
            return None;
        }
        let notations = self.notations;
        self.arg_schemas
            .entry(ty.to_string())
            .or_insert_with(|| notations.ksml_schema(ty).map(|(name, schema)| Arc::new(ArgSchema::new(name, schema))))
            .clone()
    }
}

/// Where the next node of a stream attaches, and the types of its records.
#[derive(Debug, Clone)]
struct Tail {
    at: Attach,
    key_type: UserType,
    value_type: UserType,
    flow: Flow,
}

/// What a planner of one family of operations ([`DefPlanner::stateful_op`] and the ones it
/// asks first, `windowed_op` and `grouped_table_op`) did with an operation: planned it,
/// refused it, or left it to the next planner. `op` asks them in turn, then plans the
/// stream operations itself.
enum Planned {
    /// Planned: the stream goes on from this tail.
    Next(Tail),
    /// The family's operation, refused with a diagnostic already reported: the pipeline stops.
    Refused,
    /// Not an operation of this family (or not on this kind of stream): the next planner's.
    NotMine,
}

impl From<Option<Tail>> for Planned {
    /// A planning step's result: a tail, or `None` once it has reported why not.
    fn from(tail: Option<Tail>) -> Planned {
        tail.map_or(Planned::Refused, Planned::Next)
    }
}

/// What kind of stream a tail is (KSML's wrapper kinds that Weir runs).
#[derive(Debug, Clone, PartialEq)]
enum Flow {
    Stream,
    /// After `groupByKey`/`groupBy`: only an aggregation can follow.
    Grouped,
    /// An aggregation's result: its records are the table's updates.
    Table,
    /// After `windowByTime`/`windowBySession` (see `windows.rs`).
    Windowed(Windowing),
    /// After `cogroup` (and perhaps a window).
    Cogrouped(Box<windows::Cogroup>),
    /// After a table's `groupBy`: its records are the changes of the groups (`grouped_table.rs`).
    GroupedTable,
}

struct DefPlanner<'a, 'n> {
    p: &'a mut Planner<'n>,
    def: &'a Definition,
    functions: &'a Arc<dyn Functions>,
    /// `as` results of earlier pipelines.
    registered: HashMap<String, Tail>,
}

fn any_type() -> UserType {
    UserType { notation: None, kind: TypeKind::Any }
}

impl DefPlanner<'_, '_> {
    fn error(&mut self, span: Span, path: &str, message: impl Into<String>) {
        self.p.diags.push(Diagnostic::error(&self.def.file, Some(span), path, message));
    }

    fn handle(&self, f: &FnRef) -> FnHandle {
        let name = match f {
            FnRef::Named(n) => n.value.clone(),
            FnRef::Inline(d) => d.name.clone(),
        };
        let timing = crate::metrics::function_timings().timing(&self.def.namespace, &name);
        let stores = self.fn_def(f).map(|d| d.stores.iter().map(|s| s.value.clone()).collect()).unwrap_or_default();
        FnHandle {
            functions: Arc::clone(self.functions),
            qualified: format!("{}.{name}", self.def.namespace),
            name,
            timing,
            stores,
            schemas: None,
        }
    }

    /// [`DefPlanner::handle`], with the schemas of its arguments' declared types (`args`, in
    /// the function's parameter order) for the ones that have a schema.
    fn typed(&mut self, f: &FnRef, args: &[&UserType]) -> FnHandle {
        let handle = self.handle(f);
        self.with_schemas(handle, args)
    }

    /// `handle` with the schemas of `args` (KSML's `@type` and `@schema`), resolved once
    /// here for the whole run; unchanged when none has a schema.
    fn with_schemas(&mut self, handle: FnHandle, args: &[&UserType]) -> FnHandle {
        let schemas: Vec<Option<Arc<ArgSchema>>> = args.iter().map(|t| self.p.arg_schema(t)).collect();
        if schemas.iter().all(Option::is_none) {
            return handle;
        }
        FnHandle { schemas: Some(Arc::new(schemas)), ..handle }
    }

    fn fn_def<'d>(&'d self, f: &'d FnRef) -> Option<&'d FunctionDef> {
        match f {
            FnRef::Named(n) => self.def.functions.get(&n.value),
            FnRef::Inline(d) => Some(d),
        }
    }

    /// The declared result type of a function, if any.
    fn result_type(&self, f: &FnRef) -> Option<UserType> {
        self.fn_def(f).and_then(|d| d.result_type.as_ref()).map(|t| t.value.clone())
    }

    /// The types and codecs of a topic's keys and values; `topic` is `None` for a topic name
    /// extractor's records.
    fn format(
        &mut self,
        topic: Option<&str>,
        key: Option<&UserType>,
        value: Option<&UserType>,
        span: Span,
        path: &str,
    ) -> Option<TopicFormat> {
        let key_type = key.cloned().unwrap_or_else(any_type);
        let value_type = value.cloned().unwrap_or_else(any_type);
        let codec = |this: &mut Self, t: &UserType, what: &str| match this
            .p
            .notations
            .codec(t, &Target { topic: topic.map(str::to_string), is_key: what.contains("key") })
        {
            Ok(c) => Some(c),
            Err(e) => {
                this.error(span, path, format!("cannot {what} type '{t}': {e}"));
                None
            }
        };
        let key = codec(self, &key_type, "read or write the key")?;
        let value = codec(self, &value_type, "read or write the value")?;
        Some(TopicFormat { key_type, value_type, key, value })
    }

    /// The source node of a topic (one per topic across the application).
    fn source(&mut self, t: &TopicDef, path: &str) -> Option<Tail> {
        let key_type = t.key_type.as_ref().map(|t| t.value.clone());
        let value_type = t.value_type.as_ref().map(|t| t.value.clone());
        if let Some(&i) = self.p.source_of_topic.get(&t.topic.value) {
            let s = &self.p.topology.sources[i];
            return Some(Tail {
                at: Attach::Source(i),
                key_type: s.format.key_type.clone(),
                value_type: s.format.value_type.clone(),
                flow: Flow::Stream,
            });
        }
        let format = self.format(Some(&t.topic.value), key_type.as_ref(), value_type.as_ref(), t.span, path)?;
        let tail = Tail {
            at: Attach::Source(self.p.topology.sources.len()),
            key_type: format.key_type.clone(),
            value_type: format.value_type.clone(),
            flow: Flow::Stream,
        };
        let timestamp_extractor = t.timestamp_extractor.as_ref().map(|f| self.handle(f));
        self.p.source_of_topic.insert(t.topic.value.clone(), self.p.topology.sources.len());
        self.p.topology.sources.push(Source {
            topic: t.topic.value.clone(),
            format,
            offset_reset: t.offset_reset.clone(),
            timestamp_extractor,
            children: Vec::new(),
            partitions: None,
            internal: false,
        });
        Some(tail)
    }

    /// What a pipeline's `from` (or a merge's `stream`) refers to.
    fn stream(&mut self, from: &TopicRef, path: &str) -> Option<Tail> {
        let topic = match from {
            TopicRef::Inline(t) => t.as_ref(),
            TopicRef::Named(name) => {
                if let Some(tail) = self.registered.get(&name.value) {
                    return Some(tail.clone());
                }
                match self.def.topics.get(&name.value) {
                    Some(t) => t,
                    None => {
                        self.error(name.span, path, format!("unknown stream '{}'", name.value));
                        return None;
                    }
                }
            }
        };
        match topic.kind {
            TopicKind::Stream => self.source(topic, path),
            TopicKind::Table => self.table(topic, path),
            TopicKind::GlobalTable => {
                self.error(topic.span, path, "a globalTable can only be joined with ('globalTable:' of a join), not read as a stream");
                None
            }
        }
    }

    /// A `tables:` source: the topic's records are the table's updates, kept in its store (the
    /// table's `store`, else a key-value store named after the topic without a changelog, as
    /// KSML materializes a table). One table node per topic, shared by the pipelines reading it.
    fn table(&mut self, topic: &TopicDef, path: &str) -> Option<Tail> {
        if let Some(tail) = self.p.tables.get(&topic.topic.value) {
            return Some(tail.clone());
        }
        let source = self.source(topic, path)?;
        let (k, v) = (source.key_type.clone(), source.value_type.clone());
        let store = self.table_store(topic.store.as_ref(), &topic.topic.value, false, &k, &v, topic.span, path)?;
        let name = format!("{}_tables_{}", self.def.namespace, topic.name);
        let added = self.add(&source, &name, name.clone(), NodeKind::TableSource { store: Some(store) }, k, v);
        let tail = Tail { flow: Flow::Table, ..added };
        self.p.tables.insert(topic.topic.value.clone(), tail.clone());
        Some(tail)
    }

    fn attach(&mut self, at: Attach, node: NodeId) {
        match at {
            Attach::Source(i) => self.p.topology.sources[i].children.push(node),
            Attach::Node(n) => self.p.topology.nodes[n].children.push(node),
        }
    }

    fn add(&mut self, tail: &Tail, pipeline: &str, name: String, kind: NodeKind, key_type: UserType, value_type: UserType) -> Tail {
        let id = self.p.topology.nodes.len();
        self.p.topology.nodes.push(Node {
            name,
            pipeline: pipeline.to_string(),
            kind,
            children: Vec::new(),
            key_type: key_type.clone(),
            value_type: value_type.clone(),
        });
        self.attach(tail.at, id);
        Tail { at: Attach::Node(id), key_type, value_type, flow: Flow::Stream }
    }

    fn pipeline(&mut self, p: &Pipeline) {
        let path = format!("pipelines.{}", p.name);
        let qualified = format!("{}.{}", self.def.namespace, p.name);
        self.p.topology.pipelines.push(qualified.clone());
        let Some(tail) = self.stream(&p.from, &format!("{path}.from")) else { return };
        let Some(tail) = self.ops(&p.via, tail, &qualified) else { return };
        match &p.sink {
            Some(sink) => self.sink(sink, tail, &qualified, &path),
            None => {
                self.registered.insert(p.name.clone(), tail);
            }
        }
    }

    fn ops(&mut self, via: &[Operation], mut tail: Tail, pipeline: &str) -> Option<Tail> {
        for op in via {
            tail = self.op(op, tail, pipeline)?;
        }
        Some(tail)
    }

    fn node_name(&self, op: &Operation) -> String {
        op.name.clone().unwrap_or_else(|| format!("{}_{}", self.def.namespace, op.path.replace(['.', '[', ']'], "_").trim_end_matches('_')))
    }

    /// The `csv`/`xml` converter of a conversion step (a diagnostic when its schema cannot be
    /// read).
    fn text_conversion(&mut self, from: &UserType, into: &UserType, op: &Operation) -> Option<TextConversion> {
        match self.p.notations.text_conversion(from, into) {
            Ok(text) => Some(text),
            Err(e) => {
                self.error(op.span, &op.path, format!("cannot convert '{from}' into '{into}': {e}"));
                None
            }
        }
    }

    fn op(&mut self, op: &Operation, tail: Tail, pipeline: &str) -> Option<Tail> {
        let name = self.node_name(op);
        if let Op::Join(j) = &op.op {
            return self.join(op, j, tail, pipeline, name);
        }
        match self.stateful_op(op, &tail, pipeline, &name) {
            Planned::Next(tail) => return Some(tail),
            Planned::Refused => return None,
            Planned::NotMine => {}
        }
        let (k, v) = (tail.key_type.clone(), tail.value_type.clone());
        let result = |this: &Self, f: &FnRef| this.result_type(f).unwrap_or_else(any_type);
        let (kind, key_type, value_type) = match &op.op {
            Op::Filter { predicate, .. } => (NodeKind::Filter { predicate: self.typed(predicate, &[&k, &v]), keep: true }, k, v),
            Op::FilterNot { predicate, .. } => (NodeKind::Filter { predicate: self.typed(predicate, &[&k, &v]), keep: false }, k, v),
            Op::TransformValue { mapper, .. } => (NodeKind::MapValues { mapper: self.typed(mapper, &[&k, &v]) }, k, result(self, mapper)),
            Op::TransformKey { mapper } => (NodeKind::MapKey { mapper: self.typed(mapper, &[&k, &v]) }, result(self, mapper), v),
            Op::TransformKeyValue { mapper } => {
                let (rk, rv) = pair_types(&result(self, mapper));
                (NodeKind::Map { mapper: self.typed(mapper, &[&k, &v]) }, rk, rv)
            }
            Op::TransformKeyValueToKeyValueList { mapper } => {
                let item = match result(self, mapper).kind {
                    TypeKind::List(item) => *item,
                    _ => any_type(),
                };
                let (rk, rv) = pair_types(&item);
                (NodeKind::FlatMap { mapper: self.typed(mapper, &[&k, &v]) }, rk, rv)
            }
            Op::TransformKeyValueToValueList { mapper } => {
                let item = match result(self, mapper).kind {
                    TypeKind::List(item) => *item,
                    _ => any_type(),
                };
                (NodeKind::FlatMapValues { mapper: self.typed(mapper, &[&k, &v]) }, k, item)
            }
            Op::TransformMetadata { mapper } => (NodeKind::TransformMetadata { mapper: self.typed(mapper, &[&k, &v]) }, k, v),
            Op::Peek { for_each } => (NodeKind::Peek { action: self.typed(for_each, &[&k, &v]) }, k, v),
            Op::ConvertKey { into } => {
                let text = self.text_conversion(&k, &into.value, op)?;
                (NodeKind::ConvertKey { from: k, into: into.value.clone(), text }, into.value.clone(), v)
            }
            Op::ConvertValue { into } => {
                let text = self.text_conversion(&v, &into.value, op)?;
                (NodeKind::ConvertValue { from: v, into: into.value.clone(), text }, k, into.value.clone())
            }
            Op::ConvertKeyValue { into } => {
                let (rk, rv) = pair_types(&into.value);
                let text = (self.text_conversion(&k, &rk, op)?, self.text_conversion(&v, &rv, op)?);
                let from = UserType { notation: None, kind: TypeKind::Tuple(vec![k, v]) };
                (NodeKind::ConvertKeyValue { from, into: into.value.clone(), text }, rk, rv)
            }
            Op::Merge { stream } => {
                let other = self.stream(stream, &format!("{}.stream", op.path))?;
                let junction = self.add(&tail, pipeline, name, NodeKind::Forward, k, v);
                if let Attach::Node(id) = junction.at {
                    self.attach(other.at, id);
                }
                return Some(junction);
            }
            Op::Repartition { number_of_partitions, partitioner } => {
                return self.repartition(&tail, pipeline, name, op, *number_of_partitions, partitioner.as_ref());
            }
            _ => {
                self.error(
                    op.span,
                    &op.path,
                    format!(
                        "operation '{}' is not supported by 'weir run' yet: aggregations, windows, tables, joins and state stores used from functions are",
                        op.type_name
                    ),
                );
                return None;
            }
        };
        Some(self.add(&tail, pipeline, name, kind, key_type, value_type))
    }

    /// Writes the stream to an internal topic, `<application.id>-<name>-repartition`, read back
    /// by a new source: the records are spread over `partitions` by the partitioner (or
    /// Kafka's default, by key).
    fn repartition(
        &mut self,
        tail: &Tail,
        pipeline: &str,
        name: String,
        op: &Operation,
        partitions: Option<u32>,
        partitioner: Option<&FnRef>,
    ) -> Option<Tail> {
        let (k, v) = (tail.key_type.clone(), tail.value_type.clone());
        let topic = format!("{}-{}-repartition", self.p.application_id, name);
        let mut format = self.format(Some(&topic), Some(&k), Some(&v), op.span, &op.path)?;
        // Only Weir reads its internal topics: a side whose type is not known is written in
        // self-describing bytes, so what goes in comes out.
        if k.kind == TypeKind::Any && k.notation.is_none() {
            format.key = Arc::new(UntypedCodec);
        }
        if v.kind == TypeKind::Any && v.notation.is_none() {
            format.value = Arc::new(UntypedCodec);
        }
        let sink = Sink { format: format.clone(), partitioner: partitioner.map(|f| self.handle(f)) };
        self.add(tail, pipeline, name, NodeKind::To { topic: topic.clone(), sink }, k.clone(), v.clone());
        Some(self.internal_source(&topic, format, partitions))
    }

    /// `tail` as it is, or, when its records' keys may have changed since they were read
    /// (`selectKey`, `map`, `flatMap`, `convertKey`, ...), through a repartition topic
    /// `<application.id>-<name>-repartition`, so each key's records meet in one task: Kafka
    /// Streams' rule before grouping, `toTable` and joins.
    pub(super) fn repartition_if_rekeyed(&mut self, tail: &Tail, pipeline: &str, name: &str, op: &Operation) -> Option<Tail> {
        if !rekeyed(&self.p.topology, tail.at) {
            return Some(tail.clone());
        }
        let flow = tail.flow.clone();
        self.repartition(tail, pipeline, name.to_string(), op, None, None).map(|t| Tail { flow, ..t })
    }

    /// Plans a store an operation defines itself (inline or internal), `adjusted` as the
    /// operation needs, and adds it to the application's stores; a name already taken is an
    /// error at the operation.
    pub(super) fn add_store(
        &mut self,
        def: &StoreDef,
        span: Span,
        path: &str,
        adjusted: impl FnOnce(StoreSpec) -> StoreSpec,
    ) -> Option<Arc<StoreSpec>> {
        if self.p.topology.stores.iter().any(|s| s.name == def.name) {
            self.error(
                span,
                path,
                format!("state store '{}' is already defined: store names are shared by the whole application", def.name),
            );
            return None;
        }
        match StoreSpec::new(def, self.p.application_id, self.p.notations) {
            Ok(spec) => {
                let spec = Arc::new(adjusted(spec));
                self.p.topology.stores.push(Arc::clone(&spec));
                Some(spec)
            }
            Err(message) => {
                self.error(span, path, message);
                None
            }
        }
    }

    /// The store an aggregation materializes its table in: the operation's `store` (a
    /// top-level store by name, or an inline one, whose types are the stream's key type and
    /// the aggregate's type), else an internal one named after the operation, with a
    /// changelog (Kafka Streams' default materialization). Inline and internal stores are
    /// timestamped key-value stores, as Kafka Streams builds an aggregation's store.
    fn aggregation_store(
        &mut self,
        store: Option<&StoreRef>,
        name: &str,
        k: &UserType,
        v: &UserType,
        op: &Operation,
    ) -> Option<Arc<StoreSpec>> {
        self.table_store(store, name, true, k, v, op.span, &op.path)
    }

    /// A table's store: `store` as [`Self::aggregation_store`] says, else an internal one
    /// named `name`, logged when `logged`.
    #[allow(clippy::too_many_arguments)]
    fn table_store(
        &mut self,
        store: Option<&StoreRef>,
        name: &str,
        logged: bool,
        k: &UserType,
        v: &UserType,
        span: Span,
        path: &str,
    ) -> Option<Arc<StoreSpec>> {
        let spanned = |t: &UserType| Some(Spanned { value: t.clone(), span });
        let def = match store {
            Some(StoreRef::Named(n)) => {
                return match self.p.topology.stores.iter().find(|s| s.name == n.value) {
                    Some(spec) => Some(Arc::clone(spec)),
                    None => {
                        self.error(n.span, path, format!("unknown state store '{}'", n.value));
                        None
                    }
                };
            }
            Some(StoreRef::Inline(def)) => StoreDef {
                key_type: def.key_type.clone().or_else(|| spanned(k)),
                value_type: def.value_type.clone().or_else(|| spanned(v)),
                timestamped: true,
                ..(**def).clone()
            },
            None => StoreDef { logging: logged, ..windows::internal_store(name, StoreKind::KeyValue, k, v, span) },
        };
        self.register(&def, span, path)
    }

    /// The operations on grouped streams and tables (asking the windowed and grouped-table
    /// planners first); [`Planned::NotMine`] when `op` is a stream's.
    fn stateful_op(&mut self, op: &Operation, tail: &Tail, pipeline: &str, name: &str) -> Planned {
        match self.windowed_op(op, tail, pipeline, name) {
            Planned::NotMine => {}
            done => return done,
        }
        match self.grouped_table_op(op, tail, pipeline, name) {
            Planned::NotMine => {}
            done => return done,
        }
        let (k, v) = (tail.key_type.clone(), tail.value_type.clone());
        let result = |this: &Self, f: &FnRef| this.result_type(f).unwrap_or_else(any_type);
        let (how, store, value_type) = match (&tail.flow, &op.op) {
            (Flow::Stream, Op::GroupByKey { .. }) => {
                // After a key change, through a repartition topic first, as Kafka Streams does.
                let Some(grouped) = self.repartition_if_rekeyed(tail, pipeline, name, op) else { return Planned::Refused };
                return Planned::Next(Tail { flow: Flow::Grouped, ..grouped });
            }
            (Flow::Stream, Op::GroupBy { mapper, .. }) => {
                // The new key, then through a repartition topic so each key's records meet in one task.
                let key_type = result(self, mapper);
                let mapper = self.typed(mapper, &[&k, &v]);
                let keyed = self.add(tail, pipeline, name.to_string(), NodeKind::MapKey { mapper }, key_type, v);
                let keyed =
                    self.add(&keyed, pipeline, name.to_string(), NodeKind::SkipNullKeys, keyed.key_type.clone(), keyed.value_type.clone());
                let grouped = self.repartition(&keyed, pipeline, name.to_string(), op, None, None);
                return grouped.map(|t| Tail { flow: Flow::Grouped, ..t }).into();
            }
            (Flow::Grouped, Op::Count { store }) => (Aggregation::Count, store, long_type()),
            (Flow::Grouped, Op::Reduce { reducer: Some(reducer), store, .. }) => {
                let value_type = self.result_type(reducer).filter(|t| t.kind != TypeKind::Any).unwrap_or(v);
                (Aggregation::Reduce { reducer: self.typed(reducer, &[&value_type, &value_type]) }, store, value_type)
            }
            (Flow::Grouped, Op::Aggregate { initializer, aggregator: Some(aggregator), store, .. }) => {
                let value_type = self.result_type(aggregator).or_else(|| self.result_type(initializer)).unwrap_or_else(any_type);
                let aggregator = self.typed(aggregator, &[&k, &v, &value_type]);
                (Aggregation::Aggregate { initializer: self.handle(initializer), aggregator }, store, value_type)
            }
            (Flow::Stream, Op::ToTable { store }) => {
                let store = match store {
                    Some(store) => match self.table_store(Some(store), name, false, &k, &v, op.span, &op.path) {
                        Some(spec) => Some(spec),
                        None => return Planned::Refused,
                    },
                    None => None,
                };
                let Some(keyed) = self.repartition_if_rekeyed(tail, pipeline, name, op) else { return Planned::Refused };
                let added = self.add(&keyed, pipeline, name.to_string(), NodeKind::TableSource { store }, k, v);
                return Planned::Next(Tail { flow: Flow::Table, ..added });
            }
            (Flow::Table, Op::Filter { predicate, store } | Op::FilterNot { predicate, store }) if store.is_none() => {
                let keep = matches!(op.op, Op::Filter { .. });
                let predicate = self.typed(predicate, &[&k, &v]);
                let added = self.add(tail, pipeline, name.to_string(), NodeKind::TableFilter { predicate, keep }, k, v);
                return Planned::Next(Tail { flow: Flow::Table, ..added });
            }
            (Flow::Table, Op::TransformValue { mapper, store }) if store.is_none() => {
                let value_type = result(self, mapper);
                let mapper = self.typed(mapper, &[&k, &v]);
                let added = self.add(tail, pipeline, name.to_string(), NodeKind::TableMapValues { mapper }, k, value_type);
                return Planned::Next(Tail { flow: Flow::Table, ..added });
            }
            (Flow::Table, Op::ToStream { mapper }) => {
                let kind = match mapper {
                    Some(m) => NodeKind::MapKey { mapper: self.handle(m) },
                    None => NodeKind::Forward,
                };
                let key_type = mapper.as_ref().map_or(k.clone(), |m| result(self, m));
                return Planned::Next(self.add(tail, pipeline, name.to_string(), kind, key_type, v));
            }
            (Flow::Grouped | Flow::Table, _) => {
                let what = if tail.flow == Flow::Grouped { "a grouped stream" } else { "a table" };
                self.error(
                    op.span,
                    &op.path,
                    format!(
                        "operation '{}' on {what} is not supported by 'weir run' yet: 'count', 'reduce' and 'aggregate' of a grouped stream, and a table's 'filter', 'filterNot', 'mapValues' (without a 'store'), joins, 'groupBy' and 'toStream' are",
                        op.type_name
                    ),
                );
                return Planned::Refused;
            }
            _ => return Planned::NotMine,
        };
        let Some(store) = self.aggregation_store(store.as_ref(), name, &k, &value_type, op) else { return Planned::Refused };
        let added = self.add(tail, pipeline, name.to_string(), NodeKind::Aggregate { store, how }, k, value_type);
        Planned::Next(Tail { flow: Flow::Table, ..added })
    }

    /// The format of a target topic: its declared types, or the stream's where it declares none.
    fn target(&mut self, to: &TopicRef, tail: &Tail, path: &str) -> Option<(String, Sink)> {
        let t = match to {
            TopicRef::Inline(t) => t.as_ref(),
            TopicRef::Named(name) => match self.def.topics.get(&name.value) {
                Some(t) => t,
                None => {
                    self.error(name.span, path, format!("unknown topic definition '{}'", name.value));
                    return None;
                }
            },
        };
        let key = t.key_type.as_ref().map(|t| t.value.clone()).unwrap_or_else(|| tail.key_type.clone());
        let value = t.value_type.as_ref().map(|t| t.value.clone()).unwrap_or_else(|| tail.value_type.clone());
        let format = self.format(Some(&t.topic.value), Some(&key), Some(&value), t.span, path)?;
        let partitioner = t.partitioner.as_ref().map(|f| self.handle(f));
        Some((t.topic.value.clone(), Sink { format, partitioner }))
    }

    fn sink(&mut self, sink: &weir_dsl::model::Sink, tail: Tail, pipeline: &str, path: &str) {
        use weir_dsl::model::Sink as S;
        let name = format!("{}_{}_{}", self.def.namespace, path.replace('.', "_"), sink.key());
        let (k, v) = (tail.key_type.clone(), tail.value_type.clone());
        if matches!(tail.flow, Flow::Grouped | Flow::Windowed(_) | Flow::Cogrouped(_)) && !matches!(sink, S::As(_)) {
            self.error(
                Span::default(),
                path,
                format!("a grouped stream cannot go to '{}': aggregate it first ('count', 'reduce', 'aggregate')", sink.key()),
            );
            return;
        }
        let kind = match sink {
            S::As(name) => {
                self.registered.insert(name.value.clone(), tail);
                return;
            }
            S::ForEach(f) => NodeKind::ForEach { action: self.typed(f, &[&k, &v]) },
            S::Print(p) => NodeKind::Print {
                target: p.filename.clone().map_or(PrintTarget::Stdout, PrintTarget::File),
                label: p.label.clone(),
                mapper: p.mapper.as_ref().map(|f| self.handle(f)),
            },
            S::To(to) => {
                let Some((topic, sink)) = self.target(to, &tail, &format!("{path}.to")) else { return };
                NodeKind::To { topic, sink }
            }
            S::ToTopicNameExtractor { extractor, partitioner } => {
                // A registry notation names its subject after the topic, known per record:
                // then the codecs are made per topic (checked here with a stand-in topic).
                let per_record = [&k, &v]
                    .iter()
                    .any(|t| t.notation.as_deref().and_then(|n| self.p.notations.kind(n).ok()).is_some_and(|kind| kind.uses_registry()));
                let topic = per_record.then_some(TOPIC_CHECKED);
                let Some(format) = self.format(topic, Some(&k), Some(&v), Span::default(), path) else { return };
                let sink = Sink { format, partitioner: partitioner.as_ref().map(|f| self.handle(f)) };
                let per_topic = per_record.then(|| Arc::new(PerTopicSinks::new(self.p.notations.clone(), sink.clone())));
                NodeKind::ToTopicNameExtractor { extractor: self.handle(extractor), sink, per_topic }
            }
            S::Branch(branches) => {
                let junction = self.add(&tail, pipeline, name, NodeKind::Branch { branches: Vec::new() }, k.clone(), v.clone());
                let Attach::Node(branch_id) = junction.at else { return };
                let mut planned = Vec::new();
                for (i, b) in branches.iter().enumerate() {
                    let start = Tail { at: Attach::Node(branch_id), key_type: k.clone(), value_type: v.clone(), flow: Flow::Stream };
                    // Each branch starts at its own pass-through node, so the branch node can
                    // forward to exactly one of them.
                    let entry_id = self.p.topology.nodes.len();
                    self.p.topology.nodes.push(Node {
                        name: format!("{}_branch{}", self.p.topology.nodes[branch_id].name, i + 1),
                        pipeline: pipeline.to_string(),
                        kind: NodeKind::Forward,
                        children: Vec::new(),
                        key_type: k.clone(),
                        value_type: v.clone(),
                    });
                    let entry = Tail { at: Attach::Node(entry_id), ..start };
                    planned.push((b.predicate.as_ref().map(|f| self.typed(f, &[&k, &v])), entry_id));
                    if let Some(end) = self.ops(&b.via, entry, pipeline)
                        && let Some(s) = &b.sink
                    {
                        self.sink(s, end, pipeline, &b.path);
                    }
                }
                if let NodeKind::Branch { branches } = &mut self.p.topology.nodes[branch_id].kind {
                    *branches = planned;
                }
                return;
            }
        };
        self.add(&tail, pipeline, name, kind, k, v);
    }

    fn producer(&mut self, p: &Producer) {
        let path = format!("producers.{}", p.name);
        let generated = self.result_type(&p.generator);
        let (gk, gv) = match generated.as_ref().map(|t| &t.kind) {
            Some(TypeKind::Tuple(_)) => generated.as_ref().map(pair_types).unwrap_or((any_type(), any_type())),
            Some(TypeKind::List(item)) => pair_types(item),
            _ => (any_type(), any_type()),
        };
        let tail = Tail { at: Attach::Source(usize::MAX), key_type: gk, value_type: gv, flow: Flow::Stream };
        let Some((topic, sink)) = self.target(&p.to, &tail, &format!("{path}.to")) else { return };
        self.p.topology.producers.push(ProducerPlan {
            name: format!("{}.{}", self.def.namespace, p.name),
            generator: self.handle(&p.generator),
            condition: p.condition.as_ref().map(|f| self.handle(f)),
            until: p.until.as_ref().map(|f| self.handle(f)),
            topic,
            sink,
            interval_ms: p.interval_ms,
            count: p.count,
            batch_size: p.batch_size,
        });
    }
}

fn long_type() -> UserType {
    UserType { notation: None, kind: TypeKind::Long }
}

/// The key and value types of a `(K, V)` tuple type; unknown otherwise.
fn pair_types(t: &UserType) -> (UserType, UserType) {
    match &t.kind {
        TypeKind::Tuple(items) if items.len() == 2 => (items[0].clone(), items[1].clone()),
        _ => (any_type(), any_type()),
    }
}
