//! The runtime: Kafka Streams' execution model over a [`Broker`].
//!
//! - A **task** per partition number: task *p* reads partition *p* of every source topic
//!   (co-partitioned inputs meet in one task). Within a task, records are processed in
//!   timestamp order across its partitions (the smallest buffered timestamp first).
//! - Tasks run on `num.stream.threads` **stream threads**; each thread polls its tasks,
//!   processes a batch, appends the outputs, and every `commit.interval.ms` makes the
//!   outputs durable (`sync`) and then commits the consumed offsets under the
//!   application id. Outputs are always durable before the offsets that produced them are
//!   committed: after a crash, processing resumes from the last commit (at least once).
//! - A task's batch of records is processed inside the thread scope's
//!   [`batch`](crate::ports::ThreadScope::batch): with Python, the GIL is taken once per
//!   batch rather than once per call. Reading the log, appending, committing and idling
//!   happen outside it.
//! - **State stores**: each task has an instance of every store of the topology, opened (and
//!   restored from its changelog) when the task is created. A batch of a task's records runs
//!   inside [`store::in_task`], so functions reach that task's instances; the stores'
//!   changelog records are appended with the batch's outputs, before the commit that covers
//!   them.
//! - **Joins and global tables**: join nodes run in `join`; a task ends its batch before a
//!   record whose timestamp is later than one waiting to be appended to an internal topic
//!   that feeds a join in the same task, so those records meet in timestamp order. Global
//!   tables (`global`) have one store instance for the application, added to every task's
//!   stores, loaded before the threads start and caught up after each task's records are read.
//!   Internal topics that feed a join get the partitions of the topics they are
//!   co-partitioned with, and the topics feeding each join must have the same number of
//!   partitions, checked at start.
//! - **Producers** run on their own thread ([`producer`]).
//! - **Shutdown**: when the shared flag is set (SIGINT/SIGTERM in `weir run`), every thread
//!   finishes the record at hand, appends, syncs and commits what it processed, and stops.
//!   A failure whose handler says `stopOnFail` stops the whole application the same way,
//!   and [`run`] returns the error.

pub mod codecs;
pub mod errors;
mod global;
mod grouped_table;
mod join;
pub mod outputs;
pub mod process;
pub mod producer;
mod suppress;
mod window;

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use weir_dsl::duration::OffsetResetPolicy;
use weir_dsl::runner::ErrorHandling;

use crate::broker::Broker;
use crate::broker::{BrokerError, StoredRecord};
use crate::plan::Topology;
use crate::ports::ScopeHandle;
use crate::store::{self, StateStores, TaskStores};
use codecs::SourceDecoding;
use errors::ErrorHandlers;
use outputs::Outputs;
use process::{Processor, Stats, Stop};

/// How the application runs (from the runner config's `kafka` section, with Kafka Streams'
/// defaults).
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// `application.id`: the consumer group and the prefix of internal topics.
    pub application_id: String,
    /// `num.stream.threads` (default 1).
    pub threads: usize,
    /// `commit.interval.ms` (default 30 s, as Kafka Streams with at-least-once).
    pub commit_interval: Duration,
    pub errors: ErrorHandling,
    /// Stop once the producers are done and no stream thread finds anything to process
    /// (`weir run --until-idle`, and tests).
    pub until_idle: bool,
    /// What every worker thread runs inside (e.g. attached to the Python interpreter).
    pub thread_scope: Option<ScopeHandle>,
    /// The state store instances: opened for the tasks when the run starts (reused when
    /// already open), and left for the caller to inspect afterwards.
    pub stores: Arc<StateStores>,
}

impl RunOptions {
    pub fn new(application_id: &str) -> Self {
        RunOptions {
            application_id: application_id.to_string(),
            threads: 1,
            commit_interval: Duration::from_secs(30),
            errors: ErrorHandling::default(),
            until_idle: false,
            thread_scope: None,
            stores: Arc::new(StateStores::new()),
        }
    }
}

/// Why the application stopped before it was asked to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunError(pub String);

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RunError {}

/// The wall clock; kept here under its old path for callers outside the engine.
pub use crate::time::now_ms;

/// One input partition of a task.
pub(crate) struct Input {
    source: usize,
    partition: u32,
    /// The next offset to read; committed as the task's position.
    next: u64,
    buffer: VecDeque<StoredRecord>,
    previous_timestamp: i64,
}

struct Task {
    id: u32,
    inputs: Vec<Input>,
    /// The task's state store instances.
    stores: Arc<TaskStores>,
}

/// Maximum bytes read from one partition at a time.
const FETCH_BYTES: usize = 1 << 20;
/// Records processed per task before the thread moves on (fairness between tasks).
const BATCH: usize = 1000;

/// Runs the topology until `shutdown` is set (returns `Ok`) or a failure stops it
/// (returns the error). `stats` counts records for progress reports.
pub fn run(
    topology: Arc<Topology>,
    broker: Arc<dyn Broker>,
    options: RunOptions,
    shutdown: Arc<AtomicBool>,
    stats: Arc<Stats>,
) -> Result<(), RunError> {
    let handlers = Arc::new(ErrorHandlers::new(options.errors.clone()));
    let mut tasks = create_tasks(&topology, broker.as_ref(), &options.application_id, &options.stores)
        .map_err(|e| RunError(format!("cannot start: {e}")))?;
    join::check_copartitioned(&topology, broker.as_ref()).map_err(|e| RunError(format!("cannot start: {e}")))?;
    // Global tables are loaded to the end of their topics before any stream record.
    let globals = Arc::new(
        global::GlobalStores::open(&topology, broker.as_ref(), &options.stores).map_err(|e| RunError(format!("cannot start: {e}")))?,
    );
    globals.catch_up(broker.as_ref(), &handlers).map_err(|Stop(e)| RunError(format!("cannot load the global tables: {e}")))?;
    for task in &mut tasks {
        task.stores = Arc::new(globals.with_task(&task.stores));
    }
    let threads = options.threads.max(1);
    let mut per_thread: Vec<Vec<Task>> = (0..threads).map(|_| Vec::new()).collect();
    for (i, task) in tasks.into_iter().enumerate() {
        per_thread[i % threads].push(task);
    }
    let producers_running = Arc::new(AtomicBool::new(!topology.producers.is_empty()));
    let mut handles = Vec::new();
    for (n, tasks) in per_thread.into_iter().enumerate().filter(|(_, t)| !t.is_empty()) {
        let (topology, broker, handlers, shutdown, stats, options, producing, globals) = (
            Arc::clone(&topology),
            Arc::clone(&broker),
            Arc::clone(&handlers),
            Arc::clone(&shutdown),
            Arc::clone(&stats),
            options.clone(),
            Arc::clone(&producers_running),
            Arc::clone(&globals),
        );
        let handle = std::thread::Builder::new()
            .name(format!("{}-stream-{}", options.application_id, n + 1))
            .spawn(move || {
                let thread = StreamThread {
                    topology: &topology,
                    broker: broker.as_ref(),
                    handlers: &handlers,
                    options: &options,
                    shutdown: &shutdown,
                    stats: &stats,
                    producing: &producing,
                    globals: &globals,
                };
                let result = within(options.thread_scope.as_ref(), || thread.run(tasks));
                if result.is_err() {
                    shutdown.store(true, Ordering::SeqCst);
                }
                result
            })
            .map_err(|e| RunError(format!("cannot start a stream thread: {e}")))?;
        handles.push(handle);
    }
    if !topology.producers.is_empty() {
        let (topology, broker, handlers, shutdown, stats, producing) = (
            Arc::clone(&topology),
            Arc::clone(&broker),
            Arc::clone(&handlers),
            Arc::clone(&shutdown),
            Arc::clone(&stats),
            Arc::clone(&producers_running),
        );
        // With producers only, the application ends when they are done (as KSML's runner does).
        let stop_when_done = handles.is_empty();
        let scope = options.thread_scope.clone();
        let handle = std::thread::Builder::new()
            .name("producers".to_string())
            .spawn(move || {
                let result =
                    within(scope.as_ref(), || producer::run_producers(&topology.producers, broker.as_ref(), &handlers, &shutdown, &stats));
                producing.store(false, Ordering::SeqCst);
                if result.is_err() || stop_when_done {
                    shutdown.store(true, Ordering::SeqCst);
                }
                result
            })
            .map_err(|e| RunError(format!("cannot start the producer thread: {e}")))?;
        handles.push(handle);
    }
    let mut first_error = None;
    for handle in handles {
        let result = handle.join().unwrap_or_else(|_| Err(RunError("a thread panicked (a bug in Weir)".to_string())));
        if let Err(e) = result
            && first_error.is_none()
        {
            first_error = Some(e);
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// Runs a thread's `body` inside the thread scope, if there is one.
fn within(scope: Option<&ScopeHandle>, body: impl FnOnce() -> Result<(), RunError> + Send) -> Result<(), RunError> {
    let Some(scope) = scope else { return body() };
    let mut body = Some(body);
    let mut result = None;
    scope.0.run(&mut || {
        if let Some(body) = body.take() {
            result = Some(body());
        }
    });
    result.unwrap_or_else(|| Err(RunError("the thread scope did not run its body (a bug in Weir)".to_string())))
}

fn create_tasks(topology: &Topology, broker: &dyn Broker, group: &str, stores: &StateStores) -> Result<Vec<Task>, String> {
    let mut tasks: Vec<Task> = Vec::new();
    let mut widest = 1;
    for source in topology.sources.iter().filter(|s| !s.internal) {
        widest = widest.max(broker.ensure_topic(&source.topic, 1).map_err(|e| e.to_string())?);
    }
    for (i, source) in topology.sources.iter().enumerate() {
        let wanted = source.partitions.or_else(|| join::internal_partitions(topology, &source.topic, broker)).unwrap_or(widest);
        let partitions = broker.ensure_topic(&source.topic, wanted).map_err(|e| e.to_string())?;
        for partition in 0..partitions {
            let next = start_position(broker, group, &source.topic, partition, source.offset_reset.as_ref())?;
            let input = Input { source: i, partition, next, buffer: VecDeque::new(), previous_timestamp: -1 };
            match tasks.iter_mut().find(|t| t.id == partition) {
                Some(task) => task.inputs.push(input),
                None => tasks.push(Task { id: partition, inputs: vec![input], stores: Arc::default() }),
            }
        }
    }
    tasks.sort_by_key(|t| t.id);
    let partitions = tasks.last().map_or(0, |t| t.id + 1);
    for task in &mut tasks {
        task.stores = Arc::new(stores.open_task(&topology.stores, task.id, partitions, broker)?);
    }
    Ok(tasks)
}

/// Where to start reading a partition: the committed position, else the reset policy
/// (Kafka Streams' default is `earliest`).
fn start_position(
    broker: &dyn Broker,
    group: &str,
    topic: &str,
    partition: u32,
    policy: Option<&OffsetResetPolicy>,
) -> Result<u64, String> {
    let start = broker.start_offset(topic, partition).map_err(|e| e.to_string())?;
    if let Some(committed) = broker.committed(group, topic, partition).map_err(|e| e.to_string())? {
        return Ok(committed.max(start));
    }
    match policy {
        None | Some(OffsetResetPolicy::Earliest) => Ok(start),
        Some(OffsetResetPolicy::Latest) => broker.end_offset(topic, partition).map_err(|e| e.to_string()),
        Some(OffsetResetPolicy::None) => Err(format!("no committed offset for {topic}/{partition} and the offset reset policy is 'none'")),
        Some(OffsetResetPolicy::ByDuration(ms)) => {
            let cutoff = now_ms() - *ms as i64;
            let end = broker.end_offset(topic, partition).map_err(|e| e.to_string())?;
            let mut at = start;
            while at < end {
                let batch = broker.read(topic, partition, at, FETCH_BYTES).map_err(|e| e.to_string())?;
                let Some(last) = batch.last() else { break };
                if let Some(found) = batch.iter().find(|r| r.timestamp >= cutoff) {
                    return Ok(found.offset);
                }
                at = last.offset + 1;
            }
            Ok(end)
        }
    }
}

struct StreamThread<'a> {
    topology: &'a Topology,
    broker: &'a dyn Broker,
    handlers: &'a ErrorHandlers,
    options: &'a RunOptions,
    shutdown: &'a AtomicBool,
    stats: &'a Stats,
    /// Whether the producer thread is still at work (for `until_idle`).
    producing: &'a AtomicBool,
    globals: &'a global::GlobalStores,
}

impl StreamThread<'_> {
    fn run(&self, mut tasks: Vec<Task>) -> Result<(), RunError> {
        let (topology, broker) = (self.topology, self.broker);
        let mut outputs = Outputs::default();
        let decoding = SourceDecoding::plan(topology);
        let scope = self.options.thread_scope.as_ref();
        let mut last_commit = Instant::now();
        let mut failure = None;
        while !self.shutdown.load(Ordering::SeqCst) {
            let mut processed = 0;
            for task in &mut tasks {
                let mut processor = Processor {
                    topology,
                    broker,
                    handlers: self.handlers,
                    outputs: &mut outputs,
                    stats: self.stats,
                    decoding: &decoding,
                    scope,
                };
                let task_stores = Arc::clone(&task.stores);
                // The global tables catch up after the task's records were read, so a record
                // written to a global topic before a stream record is visible to its join.
                let done = fill(task, broker, topology).and_then(|()| self.globals.catch_up(broker, self.handlers)).and_then(|global| {
                    store::in_task(&task_stores, || in_batch(scope, || process_task(task, &mut processor))).map(|n| n + global)
                });
                match done {
                    Ok(n) => processed += n,
                    Err(e) => {
                        failure = Some(e);
                        break;
                    }
                }
            }
            if failure.is_some() {
                break;
            }
            let flushed = outputs.flush(broker);
            outputs.publish(self.stats);
            if let Err(e) = flushed {
                failure = Some(Stop(format!("cannot append output records: {e}")));
                break;
            }
            if let Err(e) = flush_changelogs(&tasks, broker) {
                failure = Some(Stop(e));
                break;
            }
            if last_commit.elapsed() >= self.options.commit_interval {
                commit(broker, &self.options.application_id, &tasks, topology).map_err(|e| RunError(format!("commit failed: {e}")))?;
                last_commit = Instant::now();
            }
            if processed == 0 {
                if self.options.until_idle && !self.producing.load(Ordering::SeqCst) {
                    break;
                }
                idle(broker, topology, &tasks);
            }
        }
        // Whatever stopped the thread, what was processed is appended, synced and committed,
        // so a restart does not redo it. (A record that failed with `stopOnFail` is not
        // committed: its input offset was not advanced.)
        let flushed = outputs.flush(broker);
        outputs.publish(self.stats);
        flushed.map_err(|e| RunError(format!("cannot append output records at shutdown: {e}")))?;
        flush_changelogs(&tasks, broker).map_err(|e| RunError(format!("at shutdown: {e}")))?;
        commit(broker, &self.options.application_id, &tasks, topology).map_err(|e| RunError(format!("commit at shutdown failed: {e}")))?;
        match failure {
            Some(Stop(message)) => Err(RunError(message)),
            None => Ok(()),
        }
    }
}

/// Appends the state stores' changes to their changelogs (before the next commit).
fn flush_changelogs(tasks: &[Task], broker: &dyn Broker) -> Result<(), String> {
    for task in tasks {
        task.stores.flush_changelogs(broker).map_err(|e| format!("cannot append to a state store changelog of task {}: {e}", task.id))?;
    }
    Ok(())
}

/// Reads more records into the task's empty buffers.
fn fill(task: &mut Task, broker: &dyn Broker, topology: &Topology) -> Result<(), Stop> {
    for input in &mut task.inputs {
        if input.buffer.is_empty() {
            let topic = &topology.sources[input.source].topic;
            let records = broker
                .read(topic, input.partition, input.next, FETCH_BYTES)
                .map_err(|e| Stop(format!("cannot read {topic}/{}: {e}", input.partition)))?;
            input.buffer.extend(records.into_iter().filter(|r| r.offset >= input.next));
        }
    }
    Ok(())
}

/// Runs a batch inside the thread scope's [`batch`](crate::ports::ThreadScope::batch), if
/// there is a scope.
fn in_batch(scope: Option<&ScopeHandle>, body: impl FnOnce() -> Result<usize, Stop>) -> Result<usize, Stop> {
    let Some(scope) = scope else { return body() };
    let mut body = Some(body);
    let mut result = None;
    scope.0.batch(&mut || {
        if let Some(body) = body.take() {
            result = Some(body());
        }
    });
    result.unwrap_or_else(|| Err(Stop("the thread scope did not run the batch (a bug in Weir)".to_string())))
}

/// Processes up to [`BATCH`] buffered records of a task in timestamp order.
fn process_task(task: &mut Task, processor: &mut Processor) -> Result<usize, Stop> {
    let mut done = 0;
    while done < BATCH {
        let Some(next) = task
            .inputs
            .iter()
            .enumerate()
            .filter_map(|(n, i)| i.buffer.front().map(|r| (n, r.timestamp)))
            .min_by_key(|(_, timestamp)| *timestamp)
        else {
            break;
        };
        if join::must_wait(processor, &task.inputs, next.0, next.1) {
            break;
        }
        let input = &mut task.inputs[next.0];
        let Some(record) = input.buffer.pop_front() else { break };
        input.previous_timestamp = processor.source_record(input.source, input.partition, &record, input.previous_timestamp)?;
        input.next = record.offset + 1;
        done += 1;
    }
    Ok(done)
}

fn commit(broker: &dyn Broker, group: &str, tasks: &[Task], topology: &Topology) -> Result<(), BrokerError> {
    broker.sync()?;
    let offsets: Vec<(&str, u32, u64)> =
        tasks.iter().flat_map(|t| t.inputs.iter()).map(|i| (topology.sources[i.source].topic.as_str(), i.partition, i.next)).collect();
    if offsets.is_empty() { Ok(()) } else { broker.commit(group, &offsets) }
}

/// Waits a little for new records when there was nothing to do: up to 50 ms in all, in
/// equal slices (at least 1 ms) over every input of the thread's tasks, returning as soon
/// as the input being waited on gets a record (the others are read on the next round).
fn idle(broker: &dyn Broker, topology: &Topology, tasks: &[Task]) {
    let wait = Duration::from_millis(50);
    let deadline = Instant::now() + wait;
    let inputs: Vec<&Input> = tasks.iter().flat_map(|t| &t.inputs).collect();
    let slice = (wait / u32::try_from(inputs.len().max(1)).unwrap_or(u32::MAX)).max(Duration::from_millis(1));
    for input in inputs {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        if let Ok(true) = broker.wait_for(&topology.sources[input.source].topic, input.partition, input.next, slice.min(left)) {
            return;
        }
    }
    // No inputs, or a broker that answered at once: sleep out the rest.
    std::thread::sleep(deadline.saturating_duration_since(Instant::now()));
}
