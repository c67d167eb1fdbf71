//! KSML producers: call a generator on a schedule and write what it returns.
//!
//! Semantics (KSML's producer reference):
//! - without `interval`, `count` and `until`, a producer runs once and writes one record
//!   (and ignores `condition`, as KSML does);
//! - otherwise it runs every `interval` (none: as fast as it can), writing `batchSize`
//!   records per run (default 1), until `count` records are written or `until` holds for a
//!   record (that record is still written); with only `interval`, forever;
//! - a generator may return one `(key, value)` or a list of them; a list is queued and
//!   drained before the generator is called again;
//! - a record for which `condition` is false is skipped, and the generator is called again,
//!   up to 10 times for one record;
//! - keys and values are converted to the target topic's types, encoded, and partitioned by
//!   the topic's partitioner or Kafka's default.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::codecs::json_text;
use super::errors::{Decision, ErrorHandlers, Failure, Origin, Phase};
use super::process::Stats;
use crate::broker::Broker;
use crate::broker::NewRecord;
use crate::partitioner::partition_for_key;
use crate::plan::{FnHandle, ProducerPlan};
use crate::time::now_ms;
use crate::value::{Value, convert};
use weir_dsl::types::{TypeKind, UserType};

/// How often a generator is retried when `condition` rejects what it made.
const MAX_GENERATE_RETRIES: u32 = 10;

struct State<'a> {
    plan: &'a ProducerPlan,
    queue: VecDeque<(Value, Value)>,
    written: u64,
    next_run: Instant,
    done: bool,
    round_robin: u32,
}

impl State<'_> {
    fn once(&self) -> bool {
        self.plan.interval_ms.is_none() && self.plan.count.is_none() && self.plan.until.is_none()
    }
}

pub fn run_producers(
    plans: &[ProducerPlan],
    broker: &dyn Broker,
    handlers: &ErrorHandlers,
    shutdown: &AtomicBool,
    stats: &Stats,
) -> Result<(), super::RunError> {
    let start = Instant::now();
    let mut states: Vec<State> =
        plans.iter().map(|plan| State { plan, queue: VecDeque::new(), written: 0, next_run: start, done: false, round_robin: 0 }).collect();
    while !shutdown.load(Ordering::SeqCst) {
        let Some(state) = states.iter_mut().filter(|s| !s.done).min_by_key(|s| s.next_run) else { break };
        let now = Instant::now();
        if state.next_run > now {
            // Sleep in short steps so a shutdown is noticed quickly.
            std::thread::sleep((state.next_run - now).min(Duration::from_millis(100)));
            continue;
        }
        run_once(state, broker, handlers, stats).map_err(super::RunError)?;
        let interval = Duration::from_millis(state.plan.interval_ms.unwrap_or(0));
        // Fixed rate: the next run is due one interval after this one was due.
        state.next_run += interval;
        if state.next_run < Instant::now() && interval.is_zero() {
            state.next_run = Instant::now();
        }
    }
    broker.sync().map_err(|e| super::RunError(format!("producers: sync failed: {e}")))
}

/// One scheduled run of one producer: up to `batchSize` records.
fn run_once(state: &mut State, broker: &dyn Broker, handlers: &ErrorHandlers, stats: &Stats) -> Result<(), String> {
    let plan = state.plan;
    let batch = if state.once() { 1 } else { plan.batch_size.unwrap_or(1).max(1) };
    for _ in 0..batch {
        if plan.count.is_some_and(|c| state.written >= c.max(1)) {
            state.done = true;
            return Ok(());
        }
        let Some((key, value)) = next_record(state)? else {
            continue;
        };
        write(state, broker, handlers, stats, &key, &value)?;
        state.written += 1;
        let stop = match &plan.until {
            Some(until) => matches!(call(until, &[key, value])?, Value::Bool(true)),
            None => false,
        };
        if stop || state.once() || plan.count.is_some_and(|c| state.written >= c.max(1)) {
            state.done = true;
            return Ok(());
        }
    }
    Ok(())
}

fn call(f: &FnHandle, args: &[Value]) -> Result<Value, String> {
    let started = f.timing.start();
    let result = f.functions.call(&f.name, args);
    f.timing.finish(started);
    result.map_err(|e| e.to_string())
}

/// The next record to write: from the queue, else from the generator, checked by `condition`.
fn next_record(state: &mut State) -> Result<Option<(Value, Value)>, String> {
    let plan = state.plan;
    for _ in 0..MAX_GENERATE_RETRIES {
        if state.queue.is_empty() {
            match call(&plan.generator, &[])? {
                Value::Null => {}
                Value::Tuple(kv) | Value::List(kv) if kv.len() == 2 && !kv.iter().any(is_pair) => state.queue.push_back(pair(kv)),
                Value::List(items) => {
                    for item in items {
                        match item {
                            Value::Tuple(kv) | Value::List(kv) if kv.len() == 2 => state.queue.push_back(pair(kv)),
                            other => {
                                return Err(format!(
                                    "generator {} returned a list with {} '{other}', expected (key, value) tuples",
                                    plan.generator.qualified,
                                    other.type_name()
                                ));
                            }
                        }
                    }
                }
                other => {
                    return Err(format!(
                        "generator {} returned {} '{other}', expected (key, value) or a list of them",
                        plan.generator.qualified,
                        other.type_name()
                    ));
                }
            }
        }
        let Some((key, value)) = state.queue.pop_front() else { continue };
        let accepted = match (&plan.condition, state.once()) {
            (Some(condition), false) => matches!(call(condition, &[key.clone(), value.clone()])?, Value::Bool(true)),
            _ => true,
        };
        if accepted {
            return Ok(Some((key, value)));
        }
        tracing::warn!(producer = %plan.name, "record rejected by the producer's condition; generating another");
    }
    Ok(None)
}

fn is_pair(v: &Value) -> bool {
    matches!(v, Value::Tuple(kv) | Value::List(kv) if kv.len() == 2)
}

fn pair(mut kv: Vec<Value>) -> (Value, Value) {
    let value = kv.pop().unwrap_or(Value::Null);
    let key = kv.pop().unwrap_or(Value::Null);
    (key, value)
}

fn write(
    state: &mut State,
    broker: &dyn Broker,
    handlers: &ErrorHandlers,
    stats: &Stats,
    key: &Value,
    value: &Value,
) -> Result<(), String> {
    let plan = state.plan;
    let format = &plan.sink.format;
    // As KSML's `shapeMessage`: converted to the topic's types, with the target notation's
    // converter first (a JSON text for a `json` topic is parsed).
    let any = UserType { notation: None, kind: TypeKind::Any };
    let encoded = json_text(key.clone(), &any, &format.key_type)
        .and_then(|k| convert(k, &format.key_type).map_err(|e| e.to_string()))
        .map_err(|e| format!("the key does not fit '{}': {e}", format.key_type))
        .and_then(|k| format.key.encode(&k).map_err(|e| e.to_string()))
        .and_then(|k| {
            json_text(value.clone(), &any, &format.value_type)
                .and_then(|v| convert(v, &format.value_type).map_err(|e| e.to_string()))
                .map_err(|e| format!("the value does not fit '{}': {e}", format.value_type))
                .and_then(|v| format.value.encode(&v).map_err(|e| e.to_string()))
                .map(|v| (k, v))
        });
    let (key_bytes, value_bytes) = match encoded {
        Ok(kv) => kv,
        Err(message) => {
            stats.errors.fetch_add(1, Ordering::Relaxed);
            let failure = Failure {
                phase: Phase::Produce,
                message: format!("producer {} cannot write to '{}': {message}", plan.name, plan.topic),
                function: None,
                node: None,
                details: Vec::new(),
            };
            let origin = Origin { topic: &plan.topic, partition: 0, offset: 0, timestamp: now_ms(), key: None, value: None, headers: &[] };
            return match handlers.handle(&failure, &origin, broker) {
                Decision::Continue => Ok(()),
                _ => Err(failure.message),
            };
        }
    };
    let partitions = broker.ensure_topic(&plan.topic, 1).map_err(|e| e.to_string())?;
    let partition = match &plan.sink.partitioner {
        Some(p) => match call(p, &[Value::String(plan.topic.clone()), key.clone(), value.clone(), Value::Int(partitions as i32)])? {
            Value::Int(n) if n >= 0 && (n as u32) < partitions => n as u32,
            Value::Long(n) if n >= 0 && (n as u64) < u64::from(partitions) => n as u32,
            _ => default_partition(state, key_bytes.as_deref(), partitions),
        },
        None => default_partition(state, key_bytes.as_deref(), partitions),
    };
    let record = NewRecord { timestamp: now_ms(), key: key_bytes, value: value_bytes, headers: Vec::new() };
    broker
        .append(&plan.topic, partition, &[record])
        .map_err(|e| format!("producer {}: cannot append to '{}': {e}", plan.name, plan.topic))?;
    stats.producer_records.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

fn default_partition(state: &mut State, key: Option<&[u8]>, partitions: u32) -> u32 {
    match key {
        Some(k) => partition_for_key(k, partitions),
        None => {
            state.round_robin = state.round_robin.wrapping_add(1);
            state.round_robin % partitions.max(1)
        }
    }
}
