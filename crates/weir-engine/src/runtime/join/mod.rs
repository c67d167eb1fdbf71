//! Running joins ([`JoinNode`]) with Kafka Streams' semantics (3.7 and later), and checking
//! that the topics feeding a join are co-partitioned.
//!
//! - **Stream–table and stream–globalTable**: a stream record with a null value is dropped;
//!   its lookup key (the record key, `mapper(key, value)` or `foreignKeyExtractor(value)`) is
//!   looked up in the table at that moment (a versioned table as of the record's time). An
//!   inner join emits `valueJoiner(key, value, tableValue)` when the key is found, and drops
//!   the record otherwise (also when the lookup key is null); a left join always emits, with
//!   `None` for a missing table value. The output keeps the stream record's key, time and
//!   headers. Table updates emit nothing.
//! - **Stream–stream**: each side puts its record into its window store (at the record's
//!   time) and joins it with every record of the other side's store with the same key within
//!   `timeDifference`; each pair is emitted at once, with the later of the two times. The
//!   stream time is the highest time either side has seen. In left and outer joins, a record
//!   that found no partner waits in the pending store and is emitted joined with `None` once
//!   its window has closed (stream time > its time + `timeDifference` + `grace`), when a
//!   later record advances the stream time; a record that finds a partner removes the
//!   partner from the pending store, so no non-joined result is emitted for it. A record
//!   whose window already ended when it arrived is emitted non-joined at once. A null value
//!   is dropped; a null key is dropped in an inner join and emitted non-joined at once by
//!   the side that emits non-joined records (Kafka Streams' KIP-962).
//! - **Table–table**: an update of one side looks the key up in the other side's table.
//!   Inner: nothing when the other side has no value, else the joined value (a delete when
//!   this side's update is a delete). Left: the left side also emits with `None` for a
//!   missing right value; the right side emits only when the left has a value. Outer: both
//!   sides emit whenever either has a value. The result's time is the later of the two; with
//!   a `store`, the result is kept there (a delete removes the key).

mod fk;

use std::sync::Arc;

use indexmap::IndexMap;
use weir_dsl::model::JoinKind;

use super::Input;
use super::process::{Effect, NodeError, Processor, Record, call, call_value};
use crate::broker::Broker;
use crate::plan::{JoinNode, LookupKey, StreamJoinSide, TableGetter, Topology};
use crate::store::{self, EntryKey, StoreError, StoreFlavor, StoreInstance, StoreSpec, StoreView};
use crate::value::{Datum, Value};

/// A join node's work for one record.
pub(super) fn apply(node: &JoinNode, r: &Record) -> Result<Effect<'static>, NodeError> {
    match node {
        JoinNode::StreamTable { table, lookup, left, joiner, buffer } => {
            if r.value.is_null() {
                return Ok(Effect::Drop);
            }
            let join = StreamTable { table, lookup, left: *left, joiner };
            match buffer {
                None => Ok(match join.join(&r.key, &r.value, r.timestamp)? {
                    Some(v) => Effect::Value(v),
                    None => Effect::Drop,
                }),
                Some(buffer) => buffered(&join, buffer, r),
            }
        }
        JoinNode::StreamStream(side) => stream_join(side, r),
        JoinNode::FkSubscribe(s) => fk::subscribe(s, r),
        JoinNode::FkReceive { right, subscriptions } => fk::receive(right, subscriptions, r),
        JoinNode::FkForeign { subscriptions } => fk::foreign(subscriptions, r),
        JoinNode::FkResolve { this, left, joiner, store } => fk::resolve(this, *left, joiner, store.as_deref(), r),
        JoinNode::TableTable { other, this_is_left, kind, joiner, store } => {
            let key = r.key.to_value().map_err(NodeError::Other)?;
            let this_new = (!r.value.is_null()).then_some(&r.value);
            let null = Datum::Value(Value::Null);
            // KSML gives a table join's valueJoiner no key (Kafka Streams' ValueJoiner).
            let join = |this: &Datum, that: &Datum| {
                if *this_is_left { call(joiner, &[&null, this, that]) } else { call(joiner, &[&null, that, this]) }
            };
            let this_outer = match kind {
                JoinKind::Inner => false,
                JoinKind::Left => *this_is_left,
                JoinKind::Outer => true,
            };
            let (result, timestamp) = match get(other, &key, None)? {
                None => match this_new {
                    Some(this) if this_outer => (join(this, &null)?, r.timestamp),
                    _ => return Ok(Effect::Drop),
                },
                Some((that, that_time)) => {
                    let that = Datum::Value(that);
                    // Left join, right side: the left value joins even a deleted right one.
                    let always = *kind == JoinKind::Outer || (*kind == JoinKind::Left && !*this_is_left);
                    let result = match this_new {
                        Some(this) => join(this, &that)?,
                        None if always => join(&null, &that)?,
                        None => null.clone(),
                    };
                    (result, r.timestamp.max(that_time))
                }
            };
            if let Some(spec) = store {
                let instances = [instance(spec)?];
                let view = view(&instances, spec)?;
                let value = result.to_value().map_err(NodeError::Other)?;
                view.put(&key, value, timestamp).map_err(failed)?;
            }
            Ok(Effect::Update(result, timestamp))
        }
    }
}

/// A stream-table (or stream-globalTable) join's lookup.
struct StreamTable<'j> {
    table: &'j TableGetter,
    lookup: &'j LookupKey,
    left: bool,
    joiner: &'j crate::plan::FnHandle,
}

impl StreamTable<'_> {
    /// The joined value of a stream record at `at`, or `None` when an inner join finds nothing.
    fn join(&self, key: &Datum, value: &Datum, at: i64) -> Result<Option<Datum>, NodeError> {
        let lookup = match self.lookup {
            LookupKey::RecordKey => key.to_value().map_err(NodeError::Other)?,
            LookupKey::Mapper(f) => call_value(f, &[key, value])?,
            LookupKey::ForeignKey(f) => call_value(f, &[value])?,
        };
        let found = if lookup == Value::Null { None } else { get(self.table, &lookup, Some(at))? };
        match found {
            Some((v, _)) => Ok(Some(call(self.joiner, &[key, value, &Datum::Value(v)])?)),
            None if self.left => Ok(Some(call(self.joiner, &[key, value, &Datum::Value(Value::Null)])?)),
            None => Ok(None),
        }
    }
}

/// The buffer's key of its stream time.
const STREAM_TIME: &str = "~stream-time";
/// The buffer's key of its last sequence number.
const SEQUENCE: &str = "~sequence";

/// A buffer key: time, then arrival order (text that sorts as the numbers do).
fn buffer_key(time: i64, seq: i64) -> Value {
    Value::String(format!("{time:020}{seq:020}"))
}

/// A stream-table join with `grace`: the record waits in the buffer until stream time has
/// passed its time by `grace` (a record later than that joins at once), then joins with the
/// table as of its time. Records leave the buffer in time order, then arrival order.
fn buffered(join: &StreamTable, buffer: &crate::plan::JoinBuffer, r: &Record) -> Result<Effect<'static>, NodeError> {
    let instances = [instance(&buffer.store)?];
    let view = view(&instances, &buffer.store)?;
    let long = |key: &str| -> Result<Option<i64>, NodeError> {
        Ok(match view.get(&Value::String(key.to_string())).map_err(failed)?.map(|s| s.value) {
            Some(Value::Struct(f)) => match f.get("n") {
                Some(Value::Long(n)) => Some(*n),
                Some(Value::Int(n)) => Some(i64::from(*n)),
                _ => None,
            },
            _ => None,
        })
    };
    let put_long = |key: &str, n: i64| {
        view.put(&Value::String(key.to_string()), Value::Struct(IndexMap::from([("n".to_string(), Value::Long(n))])), n).map_err(failed)
    };
    let ts = r.timestamp;
    let stream_time = long(STREAM_TIME)?.map_or(ts, |t| t.max(ts));
    put_long(STREAM_TIME, stream_time)?;
    let limit = stream_time.saturating_sub(buffer.grace);
    let mut out = Vec::new();
    if ts < limit || ts < 0 {
        if let Some(v) = join.join(&r.key, &r.value, ts)? {
            out.push(Record { key: r.key.clone(), value: v, timestamp: ts, headers: r.headers.clone() });
        }
    } else {
        let seq = long(SEQUENCE)?.unwrap_or(0) + 1;
        put_long(SEQUENCE, seq)?;
        let waiting = Value::Struct(IndexMap::from([
            ("key".to_string(), r.key.to_value().map_err(NodeError::Other)?),
            ("value".to_string(), r.value.to_value().map_err(NodeError::Other)?),
            (
                "headers".to_string(),
                Value::List(r.headers.iter().map(|(k, v)| Value::List(vec![Value::String(k.clone()), Value::String(hex(v))])).collect()),
            ),
        ]));
        view.put(&buffer_key(ts, seq), waiting, ts).map_err(failed)?;
    }
    if limit >= 0 {
        let mut done = Vec::new();
        for entry in view.range(None, Some(&buffer_key(limit, i64::MAX)), false).map_err(failed)? {
            let entry = entry.map_err(failed)?;
            let (EntryKey::Key(Value::String(k)), Value::Struct(mut fields)) = (entry.key, entry.value) else { continue };
            let time = k.get(..20).and_then(|t| t.parse::<i64>().ok()).unwrap_or(ts);
            let key = Datum::Value(fields.shift_remove("key").unwrap_or(Value::Null));
            let value = Datum::Value(fields.shift_remove("value").unwrap_or(Value::Null));
            let headers = match fields.shift_remove("headers") {
                Some(Value::List(items)) => items
                    .into_iter()
                    .filter_map(|h| match h {
                        Value::List(kv) => match kv.as_slice() {
                            [Value::String(k), Value::String(v)] => Some((k.clone(), unhex(v))),
                            _ => None,
                        },
                        _ => None,
                    })
                    .collect(),
                _ => Vec::new(),
            };
            if let Some(v) = join.join(&key, &value, time)? {
                out.push(Record { key, value: v, timestamp: time, headers });
            }
            done.push(k);
        }
        for k in done {
            view.delete(&Value::String(k)).map_err(failed)?;
        }
    }
    Ok(Effect::Records(out))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len() / 2).filter_map(|i| text.get(2 * i..2 * i + 2).and_then(|b| u8::from_str_radix(b, 16).ok())).collect()
}

fn failed(e: StoreError) -> NodeError {
    NodeError::Other(e.to_string())
}

fn instance(spec: &StoreSpec) -> Result<Arc<StoreInstance>, NodeError> {
    store::current(&spec.name).map_err(failed)
}

fn view<'a>(instances: &'a [Arc<StoreInstance>], spec: &StoreSpec) -> Result<StoreView<'a>, NodeError> {
    StoreView::new(instances).ok_or_else(|| NodeError::Other(format!("state store '{}' has no instance", spec.name)))
}

/// Keeps a table update in the table's store (a null value deletes the key); a versioned
/// store keeps it as the key's version at `timestamp`.
pub(super) fn table_put(spec: &StoreSpec, key: &Value, value: Value, timestamp: i64) -> Result<(), NodeError> {
    let instances = [instance(spec)?];
    let view = view(&instances, spec)?;
    table_write(&view, key, value, timestamp).map_err(failed)
}

/// An update of a table's store: a put, or for a null value a delete (a versioned store keeps
/// both as versions at `timestamp`).
pub(super) fn table_write(view: &StoreView, key: &Value, value: Value, timestamp: i64) -> Result<(), StoreError> {
    match view.spec().flavor {
        StoreFlavor::VersionedKeyValue { .. } if value == Value::Null => view.versioned_delete(key, timestamp).map(drop),
        StoreFlavor::VersionedKeyValue { .. } => view.versioned_put(key, value, timestamp).map(drop),
        _ => view.put(key, value, timestamp).map(drop),
    }
}

/// The value of `key` in a table, with its time; a versioned table's as of `at` when given.
fn get(getter: &TableGetter, key: &Value, at: Option<i64>) -> Result<Option<(Value, i64)>, NodeError> {
    match getter {
        TableGetter::Store(spec) => {
            let instances = [instance(spec)?];
            let view = view(&instances, spec)?;
            if let StoreFlavor::VersionedKeyValue { .. } = spec.flavor {
                Ok(view.versioned_get(key, at).map_err(failed)?.map(|v| (v.value, v.timestamp)))
            } else {
                Ok(view.get(key).map_err(failed)?.map(|s| (s.value, s.timestamp)))
            }
        }
        TableGetter::Filter { parent, predicate, keep } => match get(parent, key, at)? {
            Some((v, t)) => match call_value(predicate, &[&Datum::Value(key.clone()), &Datum::Value(v.clone())])? {
                Value::Bool(b) if b == *keep => Ok(Some((v, t))),
                Value::Bool(_) => Ok(None),
                other => Err(NodeError::Other(format!(
                    "expected a boolean back from {}, got {} '{other}'",
                    predicate.qualified,
                    other.type_name()
                ))),
            },
            None => Ok(None),
        },
        TableGetter::MapValues { parent, mapper } => match get(parent, key, at)? {
            Some((v, t)) => match call_value(mapper, &[&Datum::Value(key.clone()), &Datum::Value(v)])? {
                Value::Null => Ok(None),
                mapped => Ok(Some((mapped, t))),
            },
            None => Ok(None),
        },
    }
}

/// One side of a stream-stream join for one record (see the module documentation).
fn stream_join(side: &StreamJoinSide, r: &Record) -> Result<Effect<'static>, NodeError> {
    let null = Datum::Value(Value::Null);
    let joined = |key: &Datum, this: &Datum, that: &Datum| {
        if side.left { call(&side.joiner, &[key, this, that]) } else { call(&side.joiner, &[key, that, this]) }
    };
    if r.value.is_null() || (r.key.is_null() && !side.outer) {
        return Ok(Effect::Drop);
    }
    if r.key.is_null() {
        return Ok(Effect::Value(joined(&r.key, &r.value, &null)?));
    }
    let key = r.key.to_value().map_err(NodeError::Other)?;
    let value = r.value.to_value().map_err(NodeError::Other)?;
    let ts = r.timestamp;
    let (this_i, other_i) = ([instance(&side.this_store)?], [instance(&side.other_store)?]);
    let (this, other) = (view(&this_i, &side.this_store)?, view(&other_i, &side.other_store)?);
    this.window_put(&key, value, ts, ts).map_err(failed)?;
    let stream_time = this.window_stream_time().map_err(failed)?.max(other.window_stream_time().map_err(failed)?);
    let pending_i = match &side.pending {
        Some(spec) => Some([instance(spec)?]),
        None => None,
    };
    let pending = match (&pending_i, &side.pending) {
        (Some(i), Some(spec)) => Some(view(i, spec)?),
        _ => None,
    };
    let mut out = Vec::new();
    let record = |key: Datum, value: Datum, timestamp: i64| Record { key, value, timestamp, headers: r.headers.clone() };
    if let Some(pending) = &pending
        && ts == stream_time
    {
        emit_closed(side, pending, stream_time, &mut out, &record)?;
    }
    let partners =
        other.window_fetch_key(&key, ts.saturating_sub(side.time_difference).max(0), ts.saturating_add(side.time_difference).max(0), false);
    let mut matched = false;
    for entry in partners.map_err(failed)? {
        let entry = entry.map_err(failed)?;
        let EntryKey::WindowStart(that_ts) = entry.key else { continue };
        matched = true;
        out.push(record(r.key.clone(), joined(&r.key, &r.value, &Datum::Value(entry.value))?, ts.max(that_ts)));
        if let Some(pending) = &pending
            && let Some(waiting) = pending.window_fetch(&key, that_ts).map_err(failed)?
            && pending_side(&waiting.value) == Some(!side.left)
        {
            pending.window_put(&key, Value::Null, that_ts, that_ts).map_err(failed)?;
        }
    }
    if !matched && side.outer {
        match &pending {
            Some(pending) if ts.saturating_add(side.time_difference) >= stream_time => {
                let waiting = Value::Struct(IndexMap::from([
                    ("left".to_string(), Value::Bool(side.left)),
                    ("value".to_string(), r.value.to_value().map_err(NodeError::Other)?),
                ]));
                pending.window_put(&key, waiting, ts, ts).map_err(failed)?;
            }
            _ => out.push(record(r.key.clone(), joined(&r.key, &r.value, &null)?, ts)),
        }
    }
    Ok(Effect::Records(out))
}

/// Which side a pending record came from (`true`: left).
fn pending_side(waiting: &Value) -> Option<bool> {
    match waiting {
        Value::Struct(fields) => match fields.get("left") {
            Some(Value::Bool(b)) => Some(*b),
            _ => None,
        },
        _ => None,
    }
}

/// Emits (and removes) the pending records whose window has closed, oldest first.
fn emit_closed(
    side: &StreamJoinSide,
    pending: &StoreView,
    stream_time: i64,
    out: &mut Vec<Record>,
    record: &dyn Fn(Datum, Datum, i64) -> Record,
) -> Result<(), NodeError> {
    let closed = stream_time.saturating_sub(side.time_difference).saturating_sub(side.grace);
    let mut done = Vec::new();
    for entry in pending.window_fetch_range(None, None, 0, closed.saturating_sub(1), false).map_err(failed)? {
        let entry = entry.map_err(failed)?;
        let EntryKey::Windowed { key, start, .. } = entry.key else { continue };
        if start.saturating_add(side.time_difference).saturating_add(side.grace) >= stream_time {
            break;
        }
        let Value::Struct(mut fields) = entry.value else {
            return Err(NodeError::Other(format!("state store '{}' holds a pending record that is not a struct", pending.name())));
        };
        let is_left = pending_side(&Value::Struct(fields.clone()))
            .ok_or_else(|| NodeError::Other(format!("state store '{}' holds a pending record without its side", pending.name())))?;
        let value = Datum::Value(fields.shift_remove("value").unwrap_or(Value::Null));
        let k = Datum::Value(key.clone());
        let null = Datum::Value(Value::Null);
        let joined = if is_left { call(&side.joiner, &[&k, &value, &null])? } else { call(&side.joiner, &[&k, &null, &value])? };
        out.push(record(k, joined, start));
        done.push((key, start));
    }
    for (key, start) in done {
        pending.window_put(&key, Value::Null, start, start).map_err(failed)?;
    }
    Ok(())
}

/// Checks, when the application starts, that the topics feeding each join have the same
/// number of partitions (Kafka Streams refuses to start otherwise), and that a table looked
/// up by a foreign key has one partition.
pub(super) fn check_copartitioned(topology: &Topology, broker: &dyn Broker) -> Result<(), String> {
    for group in &topology.copartitioned {
        let mut counts = Vec::new();
        for topic in &group.topics {
            let n = broker.ensure_topic(topic, 1).map_err(|e| format!("cannot read topic '{topic}': {e}"))?;
            if group.one_partition && n != 1 {
                return Err(format!(
                    "join '{}' looks records up in table topic '{topic}' by a foreign key, which needs the table on one partition, but it has {n}",
                    group.join
                ));
            }
            counts.push((topic, n));
        }
        if counts.windows(2).any(|w| w[0].1 != w[1].1) {
            let listed: Vec<String> = counts.iter().map(|(t, n)| format!("'{t}' has {n}")).collect();
            return Err(format!(
                "join '{}' needs its input topics co-partitioned (the same number of partitions), but {}",
                group.join,
                listed.join(", ")
            ));
        }
    }
    Ok(())
}

/// Whether a task must end its batch before the record at `ts` from its input `next`:
/// when records with earlier timestamps are waiting to be appended to a repartition topic
/// that feeds a join in this task, they go first (so a stream record re-keyed before a join
/// meets the table as it was at its time, as with Kafka's test driver).
pub(super) fn must_wait(processor: &Processor, inputs: &[Input], next: usize, ts: i64) -> bool {
    let topology = processor.topology;
    if topology.copartitioned.is_empty() {
        return false;
    }
    inputs.iter().enumerate().any(|(n, i)| {
        let s = &topology.sources[i.source];
        n != next
            && s.internal
            && topology.copartitioned.iter().any(|g| g.topics.contains(&s.topic))
            && processor.outputs.earliest_pending(&s.topic, i.partition).is_some_and(|t| t <= ts)
    })
}

/// The partitions of an internal topic that feeds a join: those of the user topics it is
/// co-partitioned with (Kafka Streams' rule), when there are any.
pub(super) fn internal_partitions(topology: &Topology, topic: &str, broker: &dyn Broker) -> Option<u32> {
    let internal = |t: &str| topology.sources.iter().any(|s| s.topic == t && s.internal);
    let group = topology.copartitioned.iter().find(|g| g.topics.iter().any(|t| t == topic))?;
    let user = group.topics.iter().find(|t| !internal(t))?;
    broker.ensure_topic(user, 1).ok()
}
