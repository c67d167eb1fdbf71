//! Running one record through the topology: decoding it at its source, each operation
//! with KSML's semantics, and encoding it at the sinks.
//!
//! Records travel depth-first, as in Kafka Streams: a node hands its output to each child
//! in turn before the next record starts. A failure at a node is handled there (see
//! [`super::errors`]): with `continueOnFail` that node drops the record and its siblings
//! still see it; with `stopOnFail` processing stops. Sinks do not write immediately: they add
//! to [`Outputs`], which the stream thread appends in batches and before every commit.
//!
//! A record's key and value are [`Datum`]s: a [`Value`], or a function runtime's own object
//! ([`crate::ports::ForeignValue`], e.g. a Python dict). The data path converts each record
//! at most once in and once out:
//!
//! - a source whose first operation hands the record to a function decodes JSON straight
//!   into that runtime's objects ([`SourceDecoding`]);
//! - functions take and return foreign values as they are, so consecutive Python operations
//!   pass the same object along;
//! - a JSON sink writes a foreign value straight to bytes when the topic's type would not
//!   change it; everything else (other codecs, conversions, operations that look inside a
//!   value) materializes a [`Value`] first, which gives exactly what the [`Value`] path gives.
//!
//! Each node works in two steps: `Processor::apply` does the node's work from a borrowed
//! record (and can be retried), then `Processor::emit` moves the record on; nothing is
//! cloned except for a second child (a record going to several operations gives each its
//! own copy).

use std::borrow::Cow;
use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use indexmap::IndexMap;
use weir_dsl::types::{TypeKind, UserType};

use super::codecs::{SourceDecoding, convert_value, decode, encode, headers_from_value, headers_value};
use super::errors::{Decision, ErrorHandlers, Failure, Origin, Phase, retry_pause};
use super::outputs::Outputs;
use crate::broker::Broker;
use crate::broker::{NewRecord, StoredRecord};
use crate::partitioner::partition_for_key;
use crate::plan::{Aggregation, FnHandle, NodeId, NodeKind, PrintTarget, Sink, Topology};
use crate::ports::{FunctionError, ScopeHandle};
use crate::store::{self, StoreError, StoreSpec, StoreView};
use crate::value::{Datum, Value, convert};

/// A record between operations.
#[derive(Debug, Clone)]
pub struct Record {
    pub key: Datum,
    pub value: Datum,
    pub timestamp: i64,
    pub headers: Vec<(String, Vec<u8>)>,
}

/// The application must stop: a failure whose handler said so, or a broken broker.
#[derive(Debug, Clone)]
pub struct Stop(pub String);

/// The engine counters live in [`crate::metrics`]; the runtime calls them `Stats`.
pub use crate::metrics::EngineCounters as Stats;

pub struct Processor<'a> {
    pub topology: &'a Topology,
    pub broker: &'a dyn Broker,
    pub handlers: &'a ErrorHandlers,
    pub outputs: &'a mut Outputs,
    pub stats: &'a Stats,
    /// By source index ([`SourceDecoding::plan`]).
    pub decoding: &'a [SourceDecoding],
    /// The thread's scope, to release the function runtime's lock during retry pauses.
    pub scope: Option<&'a ScopeHandle>,
}

/// Why a node could not do its work for one record.
pub(super) enum NodeError {
    Function(FunctionError),
    Other(String),
    /// The application must stop, whatever the error handlers say (a full `suppress` buffer
    /// with `shutdownWhenFull`).
    Fatal(String),
}

impl NodeError {
    fn into_failure(self, node: &str) -> Failure {
        match self {
            NodeError::Function(e) => {
                let mut message = e.message.clone();
                if let Some((file, line)) = &e.location {
                    message.push_str(&format!(" (at {file}:{line})"));
                }
                if let Some(tb) = &e.traceback {
                    message.push('\n');
                    message.push_str(tb.trim_end());
                }
                Failure {
                    phase: Phase::Process,
                    message,
                    function: Some(e.function),
                    node: Some(node.to_string()),
                    details: e.details.into_vec(),
                }
            }
            NodeError::Other(message) | NodeError::Fatal(message) => {
                Failure { phase: Phase::Process, message, function: None, node: Some(node.to_string()), details: Vec::new() }
            }
        }
    }
}

impl From<FunctionError> for NodeError {
    fn from(e: FunctionError) -> Self {
        NodeError::Function(e)
    }
}

// Inlined into its callers (the record path): not inlined, returning the result through
// memory cost ~70 instructions a call (callgrind).
#[inline(always)]
pub(super) fn call(f: &FnHandle, args: &[&Datum]) -> Result<Datum, NodeError> {
    let started = f.timing.start();
    let result = f.functions.call_datum(&f.name, args, f.schemas.as_deref().map(Vec::as_slice));
    f.timing.finish(started);
    Ok(result?)
}

/// A function's result as a [`Value`], for the operations that look inside it.
pub(super) fn call_value(f: &FnHandle, args: &[&Datum]) -> Result<Value, NodeError> {
    call(f, args)?.into_value().map_err(|e| NodeError::Other(format!("the result of {} cannot be converted: {e}", f.qualified)))
}

/// The error for a result of the wrong type: `expected a boolean back from ns.f, got long '5'`.
fn unexpected(expected: &str, f: &FnHandle, got: &Value) -> NodeError {
    NodeError::Other(format!("expected {expected} from {}, got {} '{got}'", f.qualified, got.type_name()))
}

/// What a node's work decided for one record ([`Processor::apply`]); [`Processor::emit`]
/// carries it out.
pub(super) enum Effect<'t> {
    /// The record goes on unchanged to the node's children.
    Pass,
    /// Nothing goes on.
    Drop,
    /// The record goes on with a new key, value, or both.
    /// A table update: the key's new aggregate, with the update's timestamp.
    Update(Datum, i64),
    Key(Datum),
    Value(Datum),
    KeyValue(Datum, Datum),
    /// Several records go on, each with its key (`None`: the record's key) and value.
    Many(Vec<(Option<Datum>, Datum)>),
    /// The record goes on with a new timestamp and headers.
    Metadata(i64, Vec<(String, Vec<u8>)>),
    /// The record goes on to one node (a branch's entry).
    To(NodeId),
    /// Records that replace the record (a join's results, a windowed aggregation's updates,
    /// a `suppress`'s emissions), each going on to the node's children, in order.
    Records(Vec<Record>),
    /// The record is written to a topic.
    Sink(Cow<'t, str>, &'t Sink),
    /// The record is written to a topic with the sink made for it (a topic name extractor's
    /// whose codecs depend on the topic).
    TopicSink(String, Arc<Sink>),
}

impl<'a> Processor<'a> {
    /// Decodes a stored record at its source (by index) and runs it through the topology.
    /// Returns the partition time: the highest timestamp seen so far on the partition, which
    /// Kafka Streams gives a `timestampExtractor` as `previousTimestamp`.
    pub fn source_record(&mut self, source: usize, partition: u32, stored: &StoredRecord, previous_timestamp: i64) -> Result<i64, Stop> {
        let topology = self.topology;
        let into = self.decoding.get(source).and_then(|d| d.into.as_ref());
        let source = &topology.sources[source];
        self.stats.consumed.fetch_add(1, Ordering::Relaxed);
        let origin = Origin {
            topic: &source.topic,
            partition,
            offset: stored.offset,
            timestamp: stored.timestamp,
            key: stored.key.as_deref(),
            value: stored.value.as_deref(),
            headers: &stored.headers,
        };
        let decoded = decode(source.format.key.as_ref(), stored.key.as_deref(), into).map_err(|e| format!("key: {e}")).and_then(|key| {
            decode(source.format.value.as_ref(), stored.value.as_deref(), into).map(|value| (key, value)).map_err(|e| format!("value: {e}"))
        });
        let (key, value) = match decoded {
            Ok(kv) => kv,
            Err(message) => {
                self.stats.errors.fetch_add(1, Ordering::Relaxed);
                let failure = Failure {
                    phase: Phase::Consume,
                    message: format!("cannot decode the {message}"),
                    function: None,
                    node: None,
                    details: Vec::new(),
                };
                return match self.handlers.handle(&failure, &origin, self.broker) {
                    Decision::Continue => Ok(previous_timestamp),
                    _ => Err(Stop(format!("consume error on {}/{}@{}: {}", origin.topic, partition, stored.offset, failure.message))),
                };
            }
        };
        let mut timestamp = stored.timestamp;
        if let Some(extractor) = &source.timestamp_extractor {
            let (Ok(k), Ok(v)) = (key.to_value(), value.to_value()) else {
                return Err(Stop("a timestamp extractor's source decoded into foreign values (a bug in Weir)".to_string()));
            };
            let record = Datum::Value(Value::Struct(IndexMap::from([
                ("timestamp".to_string(), Value::Long(stored.timestamp)),
                ("timestampType".to_string(), Value::String("CreateTime".to_string())),
                ("key".to_string(), k),
                ("value".to_string(), v),
                ("topic".to_string(), Value::String(source.topic.clone())),
                ("partition".to_string(), Value::Int(partition as i32)),
                ("offset".to_string(), Value::Long(stored.offset as i64)),
            ])));
            match call_value(extractor, &[&record, &Datum::Value(Value::Long(previous_timestamp))]) {
                Ok(Value::Long(t)) => timestamp = t,
                Ok(other) => {
                    let failure = Failure {
                        phase: Phase::Process,
                        message: format!("timestampExtractor returned {} '{other}', expected a long", other.type_name()),
                        function: Some(extractor.qualified.clone()),
                        node: None,
                        details: Vec::new(),
                    };
                    self.fail(failure, &origin)?;
                    return Ok(previous_timestamp);
                }
                Err(e) => {
                    self.fail(e.into_failure("timestampExtractor"), &origin)?;
                    return Ok(previous_timestamp);
                }
            }
        }
        let record = Record { key, value, timestamp, headers: stored.headers.clone() };
        self.forward(&source.children, record, &origin)?;
        Ok(timestamp.max(previous_timestamp))
    }

    fn fail(&mut self, failure: Failure, origin: &Origin) -> Result<(), Stop> {
        self.stats.errors.fetch_add(1, Ordering::Relaxed);
        match self.handlers.handle(&failure, origin, self.broker) {
            Decision::Continue | Decision::Retry => Ok(()),
            Decision::Stop => Err(Stop(format!(
                "{} error on {}/{}@{}{}: {}",
                failure.phase.name(),
                origin.topic,
                origin.partition,
                origin.offset,
                failure.function.as_deref().map(|f| format!(" in function {f}")).unwrap_or_default(),
                failure.message
            ))),
        }
    }

    /// Hands the record to each child in turn: a copy to all but the last, which gets it.
    fn forward(&mut self, children: &[NodeId], record: Record, origin: &Origin) -> Result<(), Stop> {
        if let Some((last, rest)) = children.split_last() {
            for &child in rest {
                self.node(child, record.clone(), origin)?;
            }
            self.node(*last, record, origin)?;
        }
        Ok(())
    }

    /// Sleeps before a retry, without holding the function runtime's lock.
    fn pause(&self, duration: Duration) {
        match self.scope {
            Some(scope) => scope.0.outside(&mut || std::thread::sleep(duration)),
            None => std::thread::sleep(duration),
        }
    }

    /// Runs one node for one record, retrying as the process handler says.
    fn node(&mut self, id: NodeId, record: Record, origin: &Origin) -> Result<(), Stop> {
        let topology = self.topology;
        let node = &topology.nodes[id];
        let mut attempts = 0;
        let effect = loop {
            match self.apply(id, &record) {
                Ok(effect) => break effect,
                Err(NodeError::Fatal(message)) => {
                    self.stats.errors.fetch_add(1, Ordering::Relaxed);
                    return Err(Stop(format!(
                        "process error on {}/{}@{} in operation '{}': {message}",
                        origin.topic, origin.partition, origin.offset, node.name
                    )));
                }
                Err(e) if self.handlers.should_retry(Phase::Process, attempts) => {
                    attempts += 1;
                    let failure = e.into_failure(&node.name);
                    tracing::warn!(operation = %node.name, attempt = attempts, "retrying after process error: {}", failure.message);
                    self.pause(retry_pause(attempts));
                }
                Err(e) => return self.fail(e.into_failure(&node.name), origin),
            }
        };
        self.emit(id, effect, record, origin)
    }

    /// Carries out a node's [`Effect`], moving the record on.
    fn emit(&mut self, id: NodeId, effect: Effect<'a>, mut r: Record, origin: &Origin) -> Result<(), Stop> {
        let node = &self.topology.nodes[id];
        match effect {
            Effect::Pass => {}
            Effect::Drop => return Ok(()),
            Effect::Key(k) => r.key = k,
            Effect::Value(v) => r.value = v,
            Effect::KeyValue(k, v) => (r.key, r.value) = (k, v),
            Effect::Metadata(timestamp, headers) => (r.timestamp, r.headers) = (timestamp, headers),
            Effect::Update(value, timestamp) => (r.value, r.timestamp) = (value, timestamp),
            Effect::Many(items) => {
                for (k, v) in items {
                    let key = k.unwrap_or_else(|| r.key.clone());
                    let record = Record { key, value: v, timestamp: r.timestamp, headers: r.headers.clone() };
                    self.forward(&node.children, record, origin)?;
                }
                return Ok(());
            }
            Effect::To(child) => return self.node(child, r, origin),
            Effect::Records(records) => {
                for record in records {
                    self.forward(&node.children, record, origin)?;
                }
                return Ok(());
            }
            Effect::Sink(topic, sink) => return self.write(node.pipeline.as_str(), &topic, sink, r, origin),
            Effect::TopicSink(topic, sink) => return self.write(node.pipeline.as_str(), &topic, &sink, r, origin),
        }
        self.forward(&node.children, r, origin)
    }

    /// The node's own work for a record, without moving it or running its children.
    fn apply(&mut self, id: NodeId, r: &Record) -> Result<Effect<'a>, NodeError> {
        let topology = self.topology;
        let node = &topology.nodes[id];
        let kv = [&r.key, &r.value];
        let materialized = |d: &Datum| d.to_value().map_err(NodeError::Other);
        Ok(match &node.kind {
            NodeKind::Filter { predicate, keep } => match call_value(predicate, &kv)? {
                Value::Bool(b) if b == *keep => Effect::Pass,
                Value::Bool(_) => Effect::Drop,
                other => return Err(unexpected("a boolean back", predicate, &other)),
            },
            NodeKind::MapValues { mapper } => Effect::Value(call(mapper, &kv)?),
            NodeKind::MapKey { mapper } => Effect::Key(call(mapper, &kv)?),
            NodeKind::Map { mapper } => {
                let (k, v) = key_value(call_value(mapper, &kv)?, &mapper.qualified)?;
                Effect::KeyValue(k.into(), v.into())
            }
            NodeKind::FlatMap { mapper } => match call_value(mapper, &kv)? {
                Value::Null => Effect::Drop,
                Value::List(items) => Effect::Many(
                    items
                        .into_iter()
                        .map(|item| key_value(item, &mapper.qualified).map(|(k, v)| (Some(k.into()), v.into())))
                        .collect::<Result<_, _>>()?,
                ),
                other => return Err(unexpected("a list of (key, value)", mapper, &other)),
            },
            NodeKind::FlatMapValues { mapper } => match call_value(mapper, &kv)? {
                Value::Null => Effect::Drop,
                Value::List(items) => Effect::Many(items.into_iter().map(|v| (None, v.into())).collect()),
                other => return Err(unexpected("a list of values", mapper, &other)),
            },
            NodeKind::TransformMetadata { mapper } => {
                let metadata = Datum::Value(Value::Struct(IndexMap::from([
                    ("timestamp".to_string(), Value::Long(r.timestamp)),
                    ("headers".to_string(), headers_value(&r.headers)),
                ])));
                let (mut timestamp, mut headers) = (r.timestamp, None);
                match call_value(mapper, &[&r.key, &r.value, &metadata])? {
                    Value::Struct(fields) => {
                        match fields.get("timestamp") {
                            Some(Value::Null) | None => {}
                            Some(t) => match convert(t.clone(), &long_type()) {
                                Ok(Value::Long(t)) => timestamp = t,
                                _ => return Err(NodeError::Other(format!("metadata 'timestamp' must be a long, got '{t}'"))),
                            },
                        }
                        match fields.get("headers") {
                            Some(Value::Null) | None => {}
                            Some(h) => headers = Some(headers_from_value(h).map_err(NodeError::Other)?),
                        }
                    }
                    Value::Null => {}
                    other => return Err(unexpected("metadata (a dict)", mapper, &other)),
                }
                Effect::Metadata(timestamp, headers.unwrap_or_else(|| r.headers.clone()))
            }
            NodeKind::Peek { action } => {
                call(action, &kv)?;
                Effect::Pass
            }
            NodeKind::ConvertKey { from, into, text } => Effect::Key(convert_value(materialized(&r.key)?, from, into, text)?.into()),
            NodeKind::ConvertValue { from, into, text } => Effect::Value(convert_value(materialized(&r.value)?, from, into, text)?.into()),
            NodeKind::ConvertKeyValue { from, into, text } => match (&from.kind, &into.kind) {
                (TypeKind::Tuple(f), TypeKind::Tuple(i)) if f.len() == 2 && i.len() == 2 => {
                    let k = convert_value(materialized(&r.key)?, &f[0], &i[0], &text.0)?;
                    let v = convert_value(materialized(&r.value)?, &f[1], &i[1], &text.1)?;
                    Effect::KeyValue(k.into(), v.into())
                }
                _ => return Err(NodeError::Other(format!("convertKeyValue needs a (key, value) tuple type, got '{into}'"))),
            },
            NodeKind::Forward => Effect::Pass,
            NodeKind::SkipNullKeys if r.key.is_null() => Effect::Drop,
            NodeKind::SkipNullKeys => Effect::Pass,
            NodeKind::Branch { branches } => {
                for (predicate, entry) in branches {
                    let taken = match predicate {
                        None => true,
                        Some(p) => match call_value(p, &kv)? {
                            Value::Bool(b) => b,
                            other => return Err(unexpected("a boolean back", p, &other)),
                        },
                    };
                    if taken {
                        return Ok(Effect::To(*entry));
                    }
                }
                Effect::Drop
            }
            NodeKind::ForEach { action } => {
                call(action, &kv)?;
                Effect::Drop
            }
            NodeKind::Print { target, label, mapper } => {
                let text = match mapper {
                    Some(m) => match call_value(m, &kv)? {
                        Value::String(s) => s,
                        other => other.to_string(),
                    },
                    None => format!("{}, {}", r.key, r.value),
                };
                let line = format!("[{}]: {text}\n", label.as_deref().unwrap_or(&node.name));
                let written = match target {
                    PrintTarget::Stdout => std::io::stdout().lock().write_all(line.as_bytes()),
                    PrintTarget::File(path) => {
                        std::fs::OpenOptions::new().create(true).append(true).open(path).and_then(|mut f| f.write_all(line.as_bytes()))
                    }
                };
                written.map_err(|e| NodeError::Other(format!("print failed: {e}")))?;
                Effect::Drop
            }
            NodeKind::To { topic, sink } => Effect::Sink(Cow::Borrowed(topic), sink),
            NodeKind::Aggregate { store, how } => aggregate(store, how, r)?,
            NodeKind::WindowAggregate { store, how, window, merger } => {
                let updates = super::window::aggregate(store, how, *window, merger.as_ref(), r, &node.name)?;
                if updates.dropped > 0 {
                    self.stats.dropped.fetch_add(updates.dropped, Ordering::Relaxed);
                }
                Effect::Records(updates.records)
            }
            NodeKind::Suppress { buffer, suppression } => Effect::Records(super::suppress::suppress(buffer, suppression, r, &node.name)?),
            NodeKind::Join(join) => super::join::apply(join, r)?,
            NodeKind::GroupedTable(node) => super::grouped_table::apply(node, r)?,
            NodeKind::TableSource { store } => {
                if r.key.is_null() {
                    Effect::Drop
                } else {
                    if let Some(spec) = store {
                        super::join::table_put(spec, &materialized(&r.key)?, materialized(&r.value)?, r.timestamp)?;
                    }
                    Effect::Pass
                }
            }
            NodeKind::TableFilter { predicate, keep } => {
                if r.value.is_null() {
                    Effect::Pass
                } else {
                    match call_value(predicate, &kv)? {
                        Value::Bool(b) if b == *keep => Effect::Pass,
                        Value::Bool(_) => Effect::Value(Datum::Value(Value::Null)),
                        other => return Err(unexpected("a boolean back", predicate, &other)),
                    }
                }
            }
            NodeKind::TableMapValues { mapper } => {
                if r.value.is_null() {
                    Effect::Pass
                } else {
                    Effect::Value(call(mapper, &kv)?)
                }
            }
            NodeKind::ToTopicNameExtractor { extractor, sink, per_topic } => {
                let context = Datum::Value(Value::Struct(IndexMap::from([
                    ("timestamp".to_string(), Value::Long(r.timestamp)),
                    ("headers".to_string(), headers_value(&r.headers)),
                ])));
                match call_value(extractor, &[&r.key, &r.value, &context])? {
                    Value::String(topic) if !topic.is_empty() => match per_topic {
                        None => Effect::Sink(Cow::Owned(topic), sink),
                        Some(sinks) => match sinks.sink(&topic) {
                            Ok(sink) => Effect::TopicSink(topic, sink),
                            Err(e) => return Err(NodeError::Other(format!("cannot write to '{topic}': {e}"))),
                        },
                    },
                    other => return Err(unexpected("a topic name back", extractor, &other)),
                }
            }
        })
    }

    /// Encodes a record for a sink and queues it for its partition(s).
    fn write(&mut self, pipeline: &str, topic: &str, sink: &Sink, r: Record, origin: &Origin) -> Result<(), Stop> {
        let Record { key, value, timestamp, headers } = r;
        // A partitioner sees the key and value after they were encoded.
        let kept = sink.partitioner.as_ref().map(|_| (key.clone(), value.clone()));
        let encoded = encode(sink.format.key.as_ref(), &sink.format.key_type, key, "key")
            .and_then(|k| encode(sink.format.value.as_ref(), &sink.format.value_type, value, "value").map(|v| (k, v)));
        let (key, value) = match encoded {
            Ok(kv) => kv,
            Err(message) => {
                let failure = Failure {
                    phase: Phase::Produce,
                    message: format!("cannot write to '{topic}': {message}"),
                    function: None,
                    node: None,
                    details: Vec::new(),
                };
                return self.fail(failure, origin);
            }
        };
        let partitions = self.outputs.partitions(self.broker, topic).map_err(|e| Stop(format!("cannot write to topic '{topic}': {e}")))?;
        let chosen = match (&sink.partitioner, &kept) {
            (Some(p), Some((k, v))) => {
                let args = [&Datum::Value(Value::String(topic.to_string())), k, v, &Datum::Value(Value::Int(partitions as i32))];
                match call_value(p, &args) {
                    Ok(result) => chosen_partitions(&result, partitions),
                    Err(e) => return self.fail(e.into_failure("partitioner"), origin),
                }
            }
            _ => None,
        };
        let default;
        let targets = match &chosen {
            Some(list) => list.as_slice(),
            None => {
                default = [self.default_partition(key.as_deref(), partitions)];
                &default[..]
            }
        };
        let mut record = Some(NewRecord { timestamp, key, value, headers });
        for (i, &partition) in targets.iter().enumerate() {
            let next = if i + 1 == targets.len() { record.take() } else { record.clone() };
            if let Some(next) = next {
                self.outputs.push(topic, partition, next);
                self.outputs.count(pipeline);
            }
        }
        Ok(())
    }

    fn default_partition(&mut self, key: Option<&[u8]>, partitions: u32) -> u32 {
        match key {
            Some(k) => partition_for_key(k, partitions),
            None => {
                self.outputs.round_robin = self.outputs.round_robin.wrapping_add(1);
                self.outputs.round_robin % partitions.max(1)
            }
        }
    }
}

/// An aggregation's update for one record, with Kafka Streams' semantics: a record with a
/// null key or value is skipped; the key's aggregate is read from the task's store instance,
/// combined with the record, brought to the store's value type and put back, with the larger
/// of the record's timestamp and the aggregate's as the update's timestamp.
fn aggregate<'t>(spec: &StoreSpec, how: &Aggregation, r: &Record) -> Result<Effect<'t>, NodeError> {
    if r.key.is_null() || r.value.is_null() {
        return Ok(Effect::Drop);
    }
    let failed = |e: StoreError| NodeError::Other(e.to_string());
    let instances = [store::current(&spec.name).map_err(failed)?];
    let view = StoreView::new(&instances).ok_or_else(|| NodeError::Other(format!("state store '{}' has no instance", spec.name)))?;
    let key = r.key.to_value().map_err(NodeError::Other)?;
    let old = view.get(&key).map_err(failed)?;
    let timestamp = old.as_ref().map_or(r.timestamp, |o| o.timestamp.max(r.timestamp));
    let updated = match (how, old) {
        (Aggregation::Count, None) => Value::Long(1),
        (Aggregation::Count, Some(old)) => Value::Long(stored_count(&spec.name, old.value)?.saturating_add(1)),
        (Aggregation::Reduce { .. }, None) => r.value.to_value().map_err(NodeError::Other)?,
        (Aggregation::Reduce { reducer }, Some(old)) => call_value(reducer, &[&Datum::Value(old.value), &r.value])?,
        (Aggregation::Aggregate { initializer, aggregator }, old) => {
            let current = match old {
                Some(old) => old.value,
                None => call_value(initializer, &[])?,
            };
            call_value(aggregator, &[&r.key, &r.value, &Datum::Value(current)])?
        }
    };
    let updated = convert(updated, &spec.value_type)
        .map_err(|e| NodeError::Other(format!("the aggregate does not fit state store '{}' ({}): {e}", spec.name, spec.value_type)))?;
    view.put(&key, updated.clone(), timestamp).map_err(failed)?;
    Ok(Effect::Update(updated.into(), timestamp))
}

/// A count kept in `store`, as a long; anything else (a store written by something else) is
/// an error naming the store and what it holds.
pub(super) fn stored_count(store: &str, value: Value) -> Result<i64, NodeError> {
    let not_a_long =
        |found: &dyn std::fmt::Display| NodeError::Other(format!("state store '{store}' holds a count that is not a long: {found}"));
    match convert(value, &long_type()) {
        Ok(Value::Long(n)) => Ok(n),
        Ok(other) => Err(not_a_long(&other)),
        Err(e) => Err(not_a_long(&e)),
    }
}

fn long_type() -> UserType {
    UserType { notation: None, kind: TypeKind::Long }
}

/// A `(key, value)` result: a 2-tuple or a 2-element list.
pub(super) fn key_value(v: Value, function: &str) -> Result<(Value, Value), NodeError> {
    match v {
        Value::Tuple(mut items) | Value::List(mut items) if items.len() == 2 => {
            let value = items.pop().unwrap_or(Value::Null);
            let key = items.pop().unwrap_or(Value::Null);
            Ok((key, value))
        }
        other => Err(NodeError::Other(format!("expected (key, value) back from {function}, got {} '{other}'", other.type_name()))),
    }
}

/// A partitioner's answer: one partition, or a list of them; anything else means "default".
fn chosen_partitions(v: &Value, partitions: u32) -> Option<Vec<u32>> {
    let one = |v: &Value| {
        match v {
            Value::Int(n) => u32::try_from(*n).ok(),
            Value::Long(n) => u32::try_from(*n).ok(),
            _ => None,
        }
        .filter(|p| *p < partitions)
    };
    match v {
        Value::List(items) => items.iter().map(one).collect(),
        other => one(other).map(|p| vec![p]),
    }
}
