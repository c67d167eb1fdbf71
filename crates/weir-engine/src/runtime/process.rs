//! Running one record through the topology: decoding it at its source, each operation
//! with KSML's semantics, and encoding it at the sinks.
//!
//! Records travel depth-first, as in Kafka Streams: a node hands its output to each child
//! in turn before the next record starts. A failure at a node is handled there (see
//! [`super::errors`]): with `continueOnFail` that node drops the record and its siblings
//! still see it; with `stopOnFail` processing stops. Sinks do not write immediately: they add
//! to [`Outputs`], which the stream thread appends in batches and before every commit.

use std::collections::HashMap;
use std::io::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use indexmap::IndexMap;
use weir_dsl::types::{TypeKind, UserType};

use super::errors::{Decision, ErrorHandlers, Failure, Origin, Phase, retry_pause};
use crate::log::{LogError, NewRecord, StoredRecord};
use crate::notation::{TextConversion, json};
use crate::partitioner::partition_for_key;
use crate::plan::{FnHandle, NodeId, NodeKind, PrintTarget, Sink, Source, Topology};
use crate::ports::{Broker, FunctionError};
use crate::value::{Value, convert};

/// A record between operations.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub key: Value,
    pub value: Value,
    pub timestamp: i64,
    pub headers: Vec<(String, Vec<u8>)>,
}

/// The application must stop: a failure whose handler said so, or a broken broker.
#[derive(Debug, Clone)]
pub struct Stop(pub String);

/// Records written by sinks, waiting to be appended.
#[derive(Default)]
pub struct Outputs {
    pending: HashMap<(String, u32), Vec<NewRecord>>,
    partitions: HashMap<String, u32>,
    round_robin: u32,
}

impl Outputs {
    fn partitions(&mut self, broker: &dyn Broker, topic: &str) -> Result<u32, LogError> {
        if let Some(&n) = self.partitions.get(topic) {
            return Ok(n);
        }
        let n = broker.ensure_topic(topic, 1)?;
        self.partitions.insert(topic.to_string(), n);
        Ok(n)
    }

    pub fn is_empty(&self) -> bool {
        self.pending.values().all(Vec::is_empty)
    }

    /// Appends everything pending. Returns the number of records written.
    pub fn flush(&mut self, broker: &dyn Broker) -> Result<usize, LogError> {
        let mut written = 0;
        for ((topic, partition), records) in self.pending.iter_mut() {
            if records.is_empty() {
                continue;
            }
            broker.append(topic, *partition, records)?;
            written += records.len();
            records.clear();
        }
        Ok(written)
    }
}

/// Counters for the progress line.
#[derive(Default)]
pub struct Stats {
    pub consumed: AtomicU64,
    pub produced: AtomicU64,
    pub errors: AtomicU64,
    /// Records written by each pipeline's sinks, by pipeline name.
    pub out_by_pipeline: std::sync::Mutex<HashMap<String, u64>>,
}

pub struct Processor<'a> {
    pub topology: &'a Topology,
    pub broker: &'a dyn Broker,
    pub handlers: &'a ErrorHandlers,
    pub outputs: &'a mut Outputs,
    pub stats: &'a Stats,
}

/// Why a node could not do its work for one record.
enum NodeError {
    Function(FunctionError),
    Other(String),
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
                Failure { phase: Phase::Process, message, function: Some(e.function), node: Some(node.to_string()) }
            }
            NodeError::Other(message) => Failure { phase: Phase::Process, message, function: None, node: Some(node.to_string()) },
        }
    }
}

impl From<FunctionError> for NodeError {
    fn from(e: FunctionError) -> Self {
        NodeError::Function(e)
    }
}

fn call(f: &FnHandle, args: &[Value]) -> Result<Value, NodeError> {
    Ok(f.functions.call(&f.name, args)?)
}

impl<'a> Processor<'a> {
    /// Decodes a stored record at its source and runs it through the topology. Returns the
    /// partition time: the highest timestamp seen so far on the partition, which Kafka Streams
    /// gives a `timestampExtractor` as `previousTimestamp`.
    pub fn source_record(&mut self, source: &Source, partition: u32, stored: &StoredRecord, previous_timestamp: i64) -> Result<i64, Stop> {
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
        let decoded = source.format.key.decode(stored.key.as_deref()).map_err(|e| format!("key: {e}")).and_then(|key| {
            source.format.value.decode(stored.value.as_deref()).map(|value| (key, value)).map_err(|e| format!("value: {e}"))
        });
        let (key, value) = match decoded {
            Ok(kv) => kv,
            Err(message) => {
                self.stats.errors.fetch_add(1, Ordering::Relaxed);
                let failure =
                    Failure { phase: Phase::Consume, message: format!("cannot decode the {message}"), function: None, node: None };
                return match self.handlers.handle(&failure, &origin, self.broker) {
                    Decision::Continue => Ok(previous_timestamp),
                    _ => Err(Stop(format!("consume error on {}/{}@{}: {}", origin.topic, partition, stored.offset, failure.message))),
                };
            }
        };
        let mut timestamp = stored.timestamp;
        if let Some(extractor) = &source.timestamp_extractor {
            let record = Value::Struct(IndexMap::from([
                ("timestamp".to_string(), Value::Long(stored.timestamp)),
                ("timestampType".to_string(), Value::String("CreateTime".to_string())),
                ("key".to_string(), key.clone()),
                ("value".to_string(), value.clone()),
                ("topic".to_string(), Value::String(source.topic.clone())),
                ("partition".to_string(), Value::Int(partition as i32)),
                ("offset".to_string(), Value::Long(stored.offset as i64)),
            ]));
            match call(extractor, &[record, Value::Long(previous_timestamp)]) {
                Ok(Value::Long(t)) => timestamp = t,
                Ok(other) => {
                    let failure = Failure {
                        phase: Phase::Process,
                        message: format!("timestampExtractor returned {} '{other}', expected a long", other.type_name()),
                        function: Some(extractor.qualified.clone()),
                        node: None,
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
        for &child in &source.children {
            self.node(child, record.clone(), &origin)?;
        }
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

    fn forward(&mut self, children: &[NodeId], record: Record, origin: &Origin) -> Result<(), Stop> {
        if let Some((last, rest)) = children.split_last() {
            for &child in rest {
                self.node(child, record.clone(), origin)?;
            }
            self.node(*last, record, origin)?;
        }
        Ok(())
    }

    /// Runs one node for one record, retrying as the process handler says.
    fn node(&mut self, id: NodeId, record: Record, origin: &Origin) -> Result<(), Stop> {
        let topology = self.topology;
        let node = &topology.nodes[id];
        let mut attempts = 0;
        let outputs = loop {
            match self.apply(id, &record) {
                Ok(outputs) => break outputs,
                Err(e) if self.handlers.should_retry(Phase::Process, attempts) => {
                    attempts += 1;
                    let failure = e.into_failure(&node.name);
                    tracing::warn!(operation = %node.name, attempt = attempts, "retrying after process error: {}", failure.message);
                    std::thread::sleep(retry_pause(attempts));
                }
                Err(e) => return self.fail(e.into_failure(&node.name), origin),
            }
        };
        for out in outputs {
            match out {
                Out::Children(r) => self.forward(&node.children, r, origin)?,
                Out::To(child, r) => self.node(child, r, origin)?,
                Out::Sink(topic, sink, r) => self.write(node.pipeline.as_str(), &topic, sink, r, origin)?,
            }
        }
        Ok(())
    }

    /// The node's own work; what it emits, without running its children.
    fn apply(&mut self, id: NodeId, r: &Record) -> Result<Vec<Out<'a>>, NodeError> {
        let topology = self.topology;
        let node = &topology.nodes[id];
        let kv = || [r.key.clone(), r.value.clone()];
        let with = |key: Value, value: Value| Record { key, value, timestamp: r.timestamp, headers: r.headers.clone() };
        Ok(match &node.kind {
            NodeKind::Filter { predicate, keep } => match call(predicate, &kv())? {
                Value::Bool(b) if b == *keep => vec![Out::Children(r.clone())],
                Value::Bool(_) => vec![],
                other => {
                    return Err(NodeError::Other(format!(
                        "expected a boolean back from {}, got {} '{other}'",
                        predicate.qualified,
                        other.type_name()
                    )));
                }
            },
            NodeKind::MapValues { mapper } => vec![Out::Children(with(r.key.clone(), call(mapper, &kv())?))],
            NodeKind::MapKey { mapper } => vec![Out::Children(with(call(mapper, &kv())?, r.value.clone()))],
            NodeKind::Map { mapper } => {
                let (k, v) = key_value(call(mapper, &kv())?, &mapper.qualified)?;
                vec![Out::Children(with(k, v))]
            }
            NodeKind::FlatMap { mapper } => match call(mapper, &kv())? {
                Value::Null => vec![],
                Value::List(items) => items
                    .into_iter()
                    .map(|item| key_value(item, &mapper.qualified).map(|(k, v)| Out::Children(with(k, v))))
                    .collect::<Result<_, _>>()?,
                other => {
                    return Err(NodeError::Other(format!(
                        "expected a list of (key, value) from {}, got {} '{other}'",
                        mapper.qualified,
                        other.type_name()
                    )));
                }
            },
            NodeKind::FlatMapValues { mapper } => match call(mapper, &kv())? {
                Value::Null => vec![],
                Value::List(items) => items.into_iter().map(|v| Out::Children(with(r.key.clone(), v))).collect(),
                other => {
                    return Err(NodeError::Other(format!(
                        "expected a list of values from {}, got {} '{other}'",
                        mapper.qualified,
                        other.type_name()
                    )));
                }
            },
            NodeKind::TransformMetadata { mapper } => {
                let metadata = Value::Struct(IndexMap::from([
                    ("timestamp".to_string(), Value::Long(r.timestamp)),
                    ("headers".to_string(), headers_value(&r.headers)),
                ]));
                let mut out = r.clone();
                match call(mapper, &[r.key.clone(), r.value.clone(), metadata])? {
                    Value::Struct(fields) => {
                        match fields.get("timestamp") {
                            Some(Value::Null) | None => {}
                            Some(t) => match convert(t.clone(), &long_type()) {
                                Ok(Value::Long(t)) => out.timestamp = t,
                                _ => return Err(NodeError::Other(format!("metadata 'timestamp' must be a long, got '{t}'"))),
                            },
                        }
                        match fields.get("headers") {
                            Some(Value::Null) | None => {}
                            Some(h) => out.headers = headers_from_value(h).map_err(NodeError::Other)?,
                        }
                    }
                    Value::Null => {}
                    other => {
                        return Err(NodeError::Other(format!(
                            "expected metadata (a dict) from {}, got {} '{other}'",
                            mapper.qualified,
                            other.type_name()
                        )));
                    }
                }
                vec![Out::Children(out)]
            }
            NodeKind::Peek { action } => {
                call(action, &kv())?;
                vec![Out::Children(r.clone())]
            }
            NodeKind::ConvertKey { from, into, text } => {
                vec![Out::Children(with(convert_value(r.key.clone(), from, into, text)?, r.value.clone()))]
            }
            NodeKind::ConvertValue { from, into, text } => {
                vec![Out::Children(with(r.key.clone(), convert_value(r.value.clone(), from, into, text)?))]
            }
            NodeKind::ConvertKeyValue { from, into, text } => match (&from.kind, &into.kind) {
                (TypeKind::Tuple(f), TypeKind::Tuple(i)) if f.len() == 2 && i.len() == 2 => {
                    let k = convert_value(r.key.clone(), &f[0], &i[0], &text.0)?;
                    let v = convert_value(r.value.clone(), &f[1], &i[1], &text.1)?;
                    vec![Out::Children(with(k, v))]
                }
                _ => return Err(NodeError::Other(format!("convertKeyValue needs a (key, value) tuple type, got '{into}'"))),
            },
            NodeKind::Forward => vec![Out::Children(r.clone())],
            NodeKind::Branch { branches } => {
                for (predicate, entry) in branches {
                    let taken = match predicate {
                        None => true,
                        Some(p) => match call(p, &kv())? {
                            Value::Bool(b) => b,
                            other => {
                                return Err(NodeError::Other(format!(
                                    "expected a boolean back from {}, got {} '{other}'",
                                    p.qualified,
                                    other.type_name()
                                )));
                            }
                        },
                    };
                    if taken {
                        return Ok(vec![Out::To(*entry, r.clone())]);
                    }
                }
                vec![]
            }
            NodeKind::ForEach { action } => {
                call(action, &kv())?;
                vec![]
            }
            NodeKind::Print { target, label, mapper } => {
                let text = match mapper {
                    Some(m) => match call(m, &kv())? {
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
                vec![]
            }
            NodeKind::To { topic, sink } => vec![Out::Sink(topic.clone(), sink, r.clone())],
            NodeKind::ToTopicNameExtractor { extractor, sink } => {
                let context = Value::Struct(IndexMap::from([
                    ("timestamp".to_string(), Value::Long(r.timestamp)),
                    ("headers".to_string(), headers_value(&r.headers)),
                ]));
                match call(extractor, &[r.key.clone(), r.value.clone(), context])? {
                    Value::String(topic) if !topic.is_empty() => vec![Out::Sink(topic, sink, r.clone())],
                    other => {
                        return Err(NodeError::Other(format!(
                            "expected a topic name back from {}, got {} '{other}'",
                            extractor.qualified,
                            other.type_name()
                        )));
                    }
                }
            }
        })
    }

    /// Encodes a record for a sink and queues it for its partition(s).
    fn write(&mut self, pipeline: &str, topic: &str, sink: &Sink, r: Record, origin: &Origin) -> Result<(), Stop> {
        let encoded = convert(r.key.clone(), &sink.format.key_type)
            .map_err(|e| format!("the key does not fit '{}': {e}", sink.format.key_type))
            .and_then(|k| sink.format.key.encode(&k).map_err(|e| e.to_string()))
            .and_then(|k| {
                convert(r.value.clone(), &sink.format.value_type)
                    .map_err(|e| format!("the value does not fit '{}': {e}", sink.format.value_type))
                    .and_then(|v| sink.format.value.encode(&v).map_err(|e| e.to_string()))
                    .map(|v| (k, v))
            });
        let (key, value) = match encoded {
            Ok(kv) => kv,
            Err(message) => {
                let failure =
                    Failure { phase: Phase::Produce, message: format!("cannot write to '{topic}': {message}"), function: None, node: None };
                return self.fail(failure, origin);
            }
        };
        let partitions = self.outputs.partitions(self.broker, topic).map_err(|e| Stop(format!("cannot write to topic '{topic}': {e}")))?;
        let targets = match &sink.partitioner {
            Some(p) => {
                let args = [Value::String(topic.to_string()), r.key.clone(), r.value.clone(), Value::Int(partitions as i32)];
                match call(p, &args) {
                    Ok(result) => match chosen_partitions(&result, partitions) {
                        Some(list) => list,
                        None => vec![self.default_partition(key.as_deref(), partitions)],
                    },
                    Err(e) => return self.fail(e.into_failure("partitioner"), origin),
                }
            }
            None => vec![self.default_partition(key.as_deref(), partitions)],
        };
        for partition in targets {
            let record = NewRecord { timestamp: r.timestamp, key: key.clone(), value: value.clone(), headers: r.headers.clone() };
            self.outputs.pending.entry((topic.to_string(), partition)).or_default().push(record);
            self.stats.produced.fetch_add(1, Ordering::Relaxed);
            if let Ok(mut by) = self.stats.out_by_pipeline.lock() {
                *by.entry(pipeline.to_string()).or_default() += 1;
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

/// What a node emits.
enum Out<'t> {
    /// To all its children.
    Children(Record),
    /// To one node (a branch's entry).
    To(NodeId, Record),
    /// To a topic.
    Sink(String, &'t Sink, Record),
}

fn long_type() -> UserType {
    UserType { notation: None, kind: TypeKind::Long }
}

/// A `(key, value)` result: a 2-tuple or a 2-element list.
fn key_value(v: Value, function: &str) -> Result<(Value, Value), NodeError> {
    match v {
        Value::Tuple(mut items) | Value::List(mut items) if items.len() == 2 => {
            let value = items.pop().unwrap_or(Value::Null);
            let key = items.pop().unwrap_or(Value::Null);
            Ok((key, value))
        }
        other => Err(NodeError::Other(format!("expected (key, value) back from {function}, got {} '{other}'", other.type_name()))),
    }
}

/// `convertKey`/`convertValue`: KSML's conversion rules, with the notations' converters
/// (rule 4) before the generic ones. `text` is the `csv`/`xml` one (text ⇄ structures, built
/// when planned); for `json`: when the target or the source type is `json`, a struct or list
/// converts to `string` as its JSON text (not the `{a: 1}` print form), and a string converts
/// to a structured type by parsing it as JSON.
fn convert_value(v: Value, from: &UserType, into: &UserType, text: &TextConversion) -> Result<Value, NodeError> {
    let v = text.apply(v).map_err(|e| NodeError::Other(format!("cannot convert to '{into}': {e}")))?;
    let v = json_text(v, from, into).map_err(|e| NodeError::Other(format!("cannot convert to '{into}': {e}")))?;
    convert(v, into).map_err(|e| NodeError::Other(format!("cannot convert to '{into}': {e}")))
}

/// The `json` notation's converter: JSON text ⇄ structures (KSML's `JsonDataObjectConverter`).
pub(crate) fn json_text(v: Value, from: &UserType, into: &UserType) -> Result<Value, String> {
    let is_json = |t: &UserType| t.notation.as_deref() == Some("json");
    if !is_json(from) && !is_json(into) {
        return Ok(v);
    }
    match (&v, &into.kind) {
        (Value::Struct(_) | Value::List(_), TypeKind::String) => {
            let text = json::to_vec(&v).map_err(|e| e.to_string())?;
            Ok(Value::String(String::from_utf8_lossy(&text).into_owned()))
        }
        (Value::String(text), kind) => {
            let structured = match kind {
                TypeKind::List(_) | TypeKind::Map(_) | TypeKind::Struct => true,
                TypeKind::NotationDefault => is_json(into),
                // A union that takes a string as it is does not parse it.
                TypeKind::Union(members) => !members.iter().any(|m| matches!(m.kind, TypeKind::String | TypeKind::Any)),
                _ => false,
            };
            if structured { json::from_slice(text.as_bytes()).map_err(|e| e.to_string()) } else { Ok(v) }
        }
        _ => Ok(v),
    }
}

/// Headers as KSML shows them to functions: a list of `{key, value}`, the value a string when
/// the bytes are UTF-8 text, else bytes.
fn headers_value(headers: &[(String, Vec<u8>)]) -> Value {
    Value::List(
        headers
            .iter()
            .map(|(k, v)| {
                let value = match std::str::from_utf8(v) {
                    Ok(s) => Value::String(s.to_string()),
                    Err(_) => Value::Bytes(v.clone()),
                };
                Value::Struct(IndexMap::from([("key".to_string(), Value::String(k.clone())), ("value".to_string(), value)]))
            })
            .collect(),
    )
}

fn headers_from_value(v: &Value) -> Result<Vec<(String, Vec<u8>)>, String> {
    let Value::List(items) = v else { return Err(format!("metadata 'headers' must be a list of {{key, value}}, got '{v}'")) };
    items
        .iter()
        .map(|item| match item {
            Value::Struct(f) => {
                let key = match f.get("key") {
                    Some(Value::String(k)) => k.clone(),
                    _ => return Err(format!("a header needs a string 'key', got '{item}'")),
                };
                let value = match f.get("value") {
                    Some(Value::Bytes(b)) => b.clone(),
                    Some(Value::String(s)) => s.clone().into_bytes(),
                    Some(Value::Null) | None => Vec::new(),
                    Some(other) => other.to_string().into_bytes(),
                };
                Ok((key, value))
            }
            other => Err(format!("a header must be a dict with 'key' and 'value', got '{other}'")),
        })
        .collect()
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
