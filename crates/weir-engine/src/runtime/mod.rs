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
mod table_source;
mod window;

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use weir_dsl::duration::OffsetResetPolicy;
use weir_dsl::runner::ErrorHandling;

use crate::broker::StoredRecord;
use crate::broker::{Assignment, Broker, DEFAULT_RETENTION_MS, ErrorKind, GroupMember, TopicSpec};
use crate::metrics::ComponentState;
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
    /// How often a stream thread deletes what it consumed and committed of its repartition
    /// topics (`repartition.purge.interval.ms`; 30 s, as Kafka Streams).
    pub purge_interval: Duration,
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
            purge_interval: Duration::from_secs(30),
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

/// How long the producers wait for the stream threads' first partitions (on Kafka, joining
/// the group can take a few seconds; past this, they start anyway).
const STARTUP_WAIT: Duration = Duration::from_secs(30);

/// The number of stream threads that have opened their first tasks (or stopped).
#[derive(Default)]
struct Started {
    count: std::sync::Mutex<usize>,
    changed: std::sync::Condvar,
}

impl Started {
    /// Counts one more thread; returns how many have started.
    fn one_more(&self) -> usize {
        let mut count = self.count.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *count += 1;
        self.changed.notify_all();
        *count
    }

    fn wait(&self, threads: usize, timeout: Duration) {
        let guard = self.count.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let _ = self.changed.wait_timeout_while(guard, timeout, |n| *n < threads);
    }
}

/// How long a stream thread pauses when the broker cannot be reached, before it tries again.
const UNAVAILABLE_PAUSE: Duration = Duration::from_millis(500);
/// How often a stream thread says that the broker cannot be reached.
const UNAVAILABLE_WARNING_EVERY: Duration = Duration::from_secs(5);
/// How often a stream thread publishes its input positions (for the consumer lag metric).
const POSITIONS_EVERY: Duration = Duration::from_secs(1);

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
    let handlers = Arc::new(ErrorHandlers::new(options.errors.clone(), Arc::clone(&stats)));
    stats.streams.set(ComponentState::Starting);
    stats.producers.set(if topology.producers.is_empty() { ComponentState::NotApplicable } else { ComponentState::Starting });
    let result = run_components(topology, broker, options, shutdown, &stats, handlers);
    let end = if result.is_ok() { ComponentState::Stopped } else { ComponentState::Failed };
    for cell in [&stats.streams, &stats.producers] {
        if cell.get() != ComponentState::NotApplicable {
            cell.advance(end);
        }
    }
    result
}

/// [`run`]'s body: starts the stream threads and the producer thread and waits for them.
fn run_components(
    topology: Arc<Topology>,
    broker: Arc<dyn Broker>,
    options: RunOptions,
    shutdown: Arc<AtomicBool>,
    stats: &Arc<Stats>,
    handlers: Arc<ErrorHandlers>,
) -> Result<(), RunError> {
    let layout = Arc::new(TaskLayout::create(&topology, broker.as_ref()).map_err(|e| RunError(format!("cannot start: {e}")))?);
    join::check_copartitioned(&topology, broker.as_ref()).map_err(|e| RunError(format!("cannot start: {e}")))?;
    // Global tables are loaded to the end of their topics before any stream record.
    let globals = Arc::new(
        global::GlobalStores::open(&topology, broker.as_ref(), &options.stores).map_err(|e| RunError(format!("cannot start: {e}")))?,
    );
    globals.catch_up(broker.as_ref(), &handlers).map_err(|Stop(e)| RunError(format!("cannot load the global tables: {e}")))?;
    // Each stream thread is a member of the application's group; with no input topic there
    // is no stream thread.
    let threads = if layout.topics.is_empty() { 0 } else { options.threads.max(1) };
    if threads == 0 {
        stats.streams.set(ComponentState::NotApplicable);
    }
    let producers_running = Arc::new(AtomicBool::new(!topology.producers.is_empty()));
    let started = Arc::new(Started::default());
    let mut handles = Vec::new();
    for n in 0..threads {
        let (topology, broker, handlers, shutdown, stats, options, producing, globals, layout) = (
            Arc::clone(&topology),
            Arc::clone(&broker),
            Arc::clone(&handlers),
            Arc::clone(&shutdown),
            Arc::clone(stats),
            options.clone(),
            Arc::clone(&producers_running),
            Arc::clone(&globals),
            Arc::clone(&layout),
        );
        let started = Arc::clone(&started);
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
                    layout: &layout,
                    started: &started,
                };
                let result = within(options.thread_scope.as_ref(), || thread.run(n, threads));
                if result.is_err() {
                    stats.streams.set(ComponentState::Failed);
                    shutdown.store(true, Ordering::SeqCst);
                    // Don't keep the producers waiting for this thread's first tasks.
                    started.one_more();
                }
                result
            })
            .map_err(|e| RunError(format!("cannot start a stream thread: {e}")))?;
        handles.push(handle);
    }
    // Producers start once the stream threads hold their first partitions, so a source
    // reading from the latest offset sees what the producers write from the start.
    started.wait(threads, STARTUP_WAIT);
    if !topology.producers.is_empty() {
        let (topology, broker, handlers, shutdown, stats, producing) = (
            Arc::clone(&topology),
            Arc::clone(&broker),
            Arc::clone(&handlers),
            Arc::clone(&shutdown),
            Arc::clone(stats),
            Arc::clone(&producers_running),
        );
        // With producers only, the application ends when they are done (as KSML's runner does).
        let stop_when_done = handles.is_empty();
        let scope = options.thread_scope.clone();
        let handle = std::thread::Builder::new()
            .name("producers".to_string())
            .spawn(move || {
                stats.producers.advance(ComponentState::Started);
                let result =
                    within(scope.as_ref(), || producer::run_producers(&topology.producers, broker.as_ref(), &handlers, &shutdown, &stats));
                stats.producers.advance(if result.is_ok() { ComponentState::Stopped } else { ComponentState::Failed });
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

/// The input topics and how many tasks there are: fixed when the application starts.
struct TaskLayout {
    /// The topic of every source (user and internal), by source index.
    topics: Vec<String>,
    /// The number of tasks: the most partitions of any input topic (a changelog has a
    /// partition per task).
    tasks: u32,
}

impl TaskLayout {
    /// Creates the input topics that do not exist (internal topics with the partitions of the
    /// topics they are co-partitioned with, else of the widest user topic).
    fn create(topology: &Topology, broker: &dyn Broker) -> Result<TaskLayout, String> {
        let mut widest = 1;
        for source in topology.sources.iter().filter(|s| !s.internal) {
            widest = widest.max(broker.ensure_topic(&source.topic, 1).map_err(|e| e.to_string())?);
        }
        let mut tasks = 0;
        let mut topics = Vec::new();
        for source in &topology.sources {
            let wanted = source.partitions.or_else(|| join::internal_partitions(topology, &source.topic, broker)).unwrap_or(widest);
            // Internal topics as Kafka Streams makes them: records kept until consumed (no
            // time-based retention), so a slow task never loses its input.
            let spec = TopicSpec {
                partitions: wanted,
                retention_ms: if source.internal { None } else { Some(DEFAULT_RETENTION_MS) },
                ..TopicSpec::default()
            };
            tasks = tasks.max(broker.ensure_topic_with(&source.topic, &spec).map_err(|e| e.to_string())?);
            topics.push(source.topic.clone());
        }
        Ok(TaskLayout { topics, tasks })
    }

    /// The distinct input topics, for joining the group.
    fn distinct_topics(&self) -> Vec<String> {
        let mut topics = self.topics.clone();
        topics.sort();
        topics.dedup();
        topics
    }
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
            let cutoff = crate::time::now_ms() - *ms as i64;
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
    layout: &'a TaskLayout,
    /// Told once the thread has opened its first tasks.
    started: &'a Started,
}

impl StreamThread<'_> {
    /// The thread's life: join the group as member `member` of `members`, then loop: take
    /// the group's changes (open and close tasks), process a batch of every task, append the
    /// outputs and changelog records, commit every `commit.interval.ms`.
    fn run(&self, member: usize, members: usize) -> Result<(), RunError> {
        let (topology, broker) = (self.topology, self.broker);
        let group = &self.options.application_id;
        let mut membership = broker
            .join_group(group, &self.layout.distinct_topics(), member, members)
            .map_err(|e| RunError(format!("cannot join the group '{group}': {e}")))?;
        // Outputs, changelog records and dead letters go through the member's writer when it
        // has one (a transaction), else straight to the broker.
        let writer = membership.writer();
        let out: &dyn Broker = writer.as_deref().unwrap_or(broker);
        let mut tasks: Vec<Task> = Vec::new();
        let mut assigned_once = false;
        let mut told_started = false;
        let mut outputs = Outputs::default();
        let decoding = SourceDecoding::plan(topology);
        let scope = self.options.thread_scope.as_ref();
        let mut last_commit = Instant::now();
        let mut last_purge = Instant::now();
        let mut last_positions: Option<Instant> = None;
        let mut last_unavailable_warning = None;
        let mut failure = None;
        while !self.shutdown.load(Ordering::SeqCst) {
            // Every output of what was processed is appended at this point, so the member may
            // commit these positions if the group takes partitions away.
            let changes = {
                let positions = positions(&tasks, topology);
                membership.poll(&positions, Duration::ZERO)
            };
            match changes {
                Ok(changes) => {
                    for change in changes {
                        assigned_once |= matches!(change, Assignment::Assigned(_));
                        // A rebalance: Kafka Streams' REBALANCING, until the new partitions are open.
                        let assigned = matches!(change, Assignment::Assigned(_));
                        if told_started && !assigned {
                            self.stats.streams.advance(ComponentState::Starting);
                        }
                        if let Err(e) = self.apply(change, &mut tasks) {
                            failure = Some(Stop(e));
                            break;
                        }
                        if told_started && assigned {
                            self.stats.streams.advance(ComponentState::Started);
                        }
                    }
                }
                Err(e) if e.is_transient() => {
                    if last_unavailable_warning.is_none_or(|t: Instant| t.elapsed() >= UNAVAILABLE_WARNING_EVERY) {
                        tracing::warn!("the group '{group}' cannot be reached, retrying: {e}");
                        last_unavailable_warning = Some(Instant::now());
                    }
                    std::thread::sleep(UNAVAILABLE_PAUSE);
                    continue;
                }
                Err(e) => failure = Some(Stop(format!("the group '{group}' failed: {e}"))),
            }
            if failure.is_some() {
                break;
            }
            if assigned_once && !told_started {
                told_started = true;
                if self.started.one_more() >= members {
                    self.stats.streams.advance(ComponentState::Started);
                }
            }
            let mut processed = 0;
            let mut unavailable = None;
            for task in &mut tasks {
                let mut processor = Processor {
                    topology,
                    broker: out,
                    handlers: self.handlers,
                    outputs: &mut outputs,
                    stats: self.stats,
                    decoding: &decoding,
                    scope,
                };
                let task_stores = Arc::clone(&task.stores);
                // The global tables catch up after the task's records were read, so a record
                // written to a global topic before a stream record is visible to its join.
                let done = fill(task, broker, topology, &mut unavailable)
                    .and_then(|()| self.globals.catch_up(broker, self.handlers))
                    .and_then(|global| {
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
            let flushed = outputs.flush(out);
            outputs.publish(self.stats);
            if let Err(e) = flushed {
                failure = Some(Stop(format!("cannot append output records: {e}")));
                break;
            }
            if let Err(e) = flush_changelogs(&tasks, out) {
                failure = Some(Stop(e));
                break;
            }
            if processed > 0 {
                // Readers waiting for a store's contents (the REST API's long-polls) look again.
                self.options.stores.changed();
            }
            if last_positions.is_none_or(|t| t.elapsed() >= POSITIONS_EVERY) {
                let owned = positions(&tasks, topology).into_iter().map(|(t, p, o)| (t.to_string(), p, o)).collect();
                self.stats.set_positions(member, owned);
                last_positions = Some(Instant::now());
            }
            if last_commit.elapsed() >= self.options.commit_interval {
                let committed = self.commit(membership.as_mut(), &tasks)?;
                last_commit = Instant::now();
                if committed && last_purge.elapsed() >= self.options.purge_interval {
                    purge(broker, topology, &tasks);
                    last_purge = Instant::now();
                }
            }
            if let Some(why) = unavailable {
                // Said at most every few seconds; the thread keeps its tasks and retries.
                if last_unavailable_warning.is_none_or(|t: Instant| t.elapsed() >= UNAVAILABLE_WARNING_EVERY) {
                    tracing::warn!("the broker is not reachable, retrying: {why}");
                    last_unavailable_warning = Some(Instant::now());
                }
                std::thread::sleep(UNAVAILABLE_PAUSE);
                continue;
            }
            if processed == 0 {
                if self.options.until_idle && assigned_once && !self.producing.load(Ordering::SeqCst) {
                    // Committed first: under exactly-once, what this thread appended (to a
                    // repartition topic it also reads) is visible only once its transaction is.
                    self.commit(membership.as_mut(), &tasks)?;
                    last_commit = Instant::now();
                    if caught_up(out, broker, topology, &mut tasks) {
                        break;
                    }
                }
                idle(broker, topology, &tasks);
            }
        }
        if !told_started {
            self.started.one_more();
        }
        if failure.is_none() {
            self.stats.streams.advance(ComponentState::Stopping);
        }
        self.stats.set_positions(member, Vec::new());
        // Whatever stopped the thread, what was processed is appended, synced and committed,
        // so a restart does not redo it. (A record that failed with `stopOnFail` is not
        // committed: its input offset was not advanced.)
        let flushed = outputs.flush(out);
        outputs.publish(self.stats);
        flushed.map_err(|e| RunError(format!("cannot append output records at shutdown: {e}")))?;
        flush_changelogs(&tasks, out).map_err(|e| RunError(format!("at shutdown: {e}")))?;
        // The stores stay open for the caller to inspect (`RunOptions::stores`).
        self.commit(membership.as_mut(), &tasks)?;
        match failure {
            Some(Stop(message)) => Err(RunError(message)),
            None => Ok(()),
        }
    }

    /// Opens the tasks of newly assigned partitions (restoring their stores) and closes those
    /// whose partitions were taken away.
    fn apply(&self, change: Assignment, tasks: &mut Vec<Task>) -> Result<(), String> {
        let (topology, broker) = (self.topology, self.broker);
        match change {
            Assignment::Assigned(partitions) => {
                for (topic, partition) in partitions {
                    let Some(source) = self.layout.topics.iter().position(|t| *t == topic) else {
                        tracing::warn!("the group assigned {topic}/{partition}, which this application does not read; ignored");
                        continue;
                    };
                    let s = &topology.sources[source];
                    let next = start_position(broker, &self.options.application_id, &topic, partition, s.offset_reset.as_ref())?;
                    let input = Input { source, partition, next, buffer: VecDeque::new(), previous_timestamp: -1 };
                    let task = match tasks.iter().position(|t| t.id == partition) {
                        Some(i) => &mut tasks[i],
                        None => {
                            let stores = self.options.stores.open_task(&topology.stores, partition, self.layout.tasks, broker)?;
                            let stores = Arc::new(self.globals.with_task(&stores));
                            tracing::info!("task {partition} opened (partition {partition} of the input topics)");
                            tasks.push(Task { id: partition, inputs: Vec::new(), stores });
                            tasks.last_mut().expect("just pushed")
                        }
                    };
                    if !task.inputs.iter().any(|i| i.source == source) {
                        // A table without changelog gets back what it held from its own topic.
                        if let Some(spec) = table_source::rebuilt_from(topology, s) {
                            let rebuilt = table_source::rebuild(&spec, s, partition, next, &task.stores, broker)?;
                            if rebuilt > 0 {
                                tracing::info!(
                                    "table store '{}' of task {partition}: rebuilt from {rebuilt} records of '{topic}'",
                                    spec.name
                                );
                            }
                        }
                        task.inputs.push(input);
                    }
                }
                tasks.sort_by_key(|t| t.id);
            }
            Assignment::Revoked(partitions) => {
                for (topic, partition) in partitions {
                    let Some(task) = tasks.iter_mut().find(|t| t.id == partition) else { continue };
                    task.inputs.retain(|i| topology.sources[i.source].topic != topic);
                }
                // A task with no input left is closed: its stores go, and a later owner
                // (this thread again, or another process) restores them from the changelogs.
                tasks.retain(|t| {
                    let keep = !t.inputs.is_empty();
                    if !keep {
                        self.options.stores.close_task(t.id);
                        tracing::info!("task {} closed: its partitions went to another member of the group", t.id);
                    }
                    keep
                });
            }
        }
        Ok(())
    }

    /// Commits the positions of every task as this member. A commit the group refuses
    /// because it moved on is not a failure of the application: the tasks are revoked at the
    /// next poll and their records processed again by their new owner (at least once).
    /// Whether the positions were committed.
    fn commit(&self, membership: &mut dyn GroupMember, tasks: &[Task]) -> Result<bool, RunError> {
        let positions = positions(tasks, self.topology);
        let began = Instant::now();
        match membership.commit(self.broker, &positions) {
            Ok(()) => {
                self.stats.commits.fetch_add(1, Ordering::Relaxed);
                let nanos = u64::try_from(began.elapsed().as_nanos()).unwrap_or(u64::MAX);
                self.stats.commit_nanos.fetch_add(nanos, Ordering::Relaxed);
                Ok(true)
            }
            Err(e) if matches!(e.kind, ErrorKind::Fenced | ErrorKind::Unavailable) => {
                tracing::warn!("commit not done ({e}); the records since the last commit will be processed again");
                Ok(false)
            }
            Err(e) => Err(RunError(format!("commit failed: {e}"))),
        }
    }
}

/// Whether every input of `tasks` has been processed to the end of its partition, after
/// making this thread's own appends visible (on Kafka they travel asynchronously, and may be
/// the input of one of its tasks: a repartition topic; the caller committed them first). The end is what [`Broker::read`]
/// finds (which knows that offsets holding only transaction markers have nothing to read);
/// records it finds go to the input's buffer.
fn caught_up(out: &dyn Broker, broker: &dyn Broker, topology: &Topology, tasks: &mut [Task]) -> bool {
    if out.sync().is_err() {
        return false;
    }
    for input in tasks.iter_mut().flat_map(|t| t.inputs.iter_mut()) {
        if !input.buffer.is_empty() {
            return false;
        }
        match broker.read(&topology.sources[input.source].topic, input.partition, input.next, FETCH_BYTES) {
            Ok(records) if records.iter().all(|r| r.offset < input.next) => {}
            Ok(records) => {
                input.buffer.extend(records.into_iter().filter(|r| r.offset >= input.next));
                return false;
            }
            Err(_) => return false,
        }
    }
    true
}

/// Deletes what `tasks` consumed of their repartition topics (internal sources), up to the
/// positions just committed: no owner will read those records again. A failure only delays
/// it (the next purge deletes as much), so it is logged, not fatal.
fn purge(broker: &dyn Broker, topology: &Topology, tasks: &[Task]) {
    for input in tasks.iter().flat_map(|t| &t.inputs).filter(|i| topology.sources[i.source].internal) {
        let topic = &topology.sources[input.source].topic;
        if let Err(e) = broker.delete_before(topic, input.partition, input.next) {
            tracing::debug!("cannot purge {topic}/{} below {}: {e}", input.partition, input.next);
        }
    }
}

/// The position (next offset to process) of every input of `tasks`.
fn positions<'t>(tasks: &[Task], topology: &'t Topology) -> Vec<(&'t str, u32, u64)> {
    tasks.iter().flat_map(|t| t.inputs.iter()).map(|i| (topology.sources[i.source].topic.as_str(), i.partition, i.next)).collect()
}

/// Appends the state stores' changes to their changelogs (before the next commit).
fn flush_changelogs(tasks: &[Task], broker: &dyn Broker) -> Result<(), String> {
    for task in tasks {
        task.stores.flush_changelogs(broker).map_err(|e| format!("cannot append to a state store changelog of task {}: {e}", task.id))?;
    }
    Ok(())
}

/// Reads more records into the task's empty buffers.
///
/// A broker that cannot be reached (a transient error) is not a failure of the application:
/// the input is left for the next round, `unavailable` is set (the thread pauses and says so),
/// and reading resumes where it was when the broker is back.
fn fill(task: &mut Task, broker: &dyn Broker, topology: &Topology, unavailable: &mut Option<String>) -> Result<(), Stop> {
    for input in &mut task.inputs {
        if input.buffer.is_empty() {
            let topic = &topology.sources[input.source].topic;
            match broker.read_ready(topic, input.partition, input.next, FETCH_BYTES) {
                Ok(records) => input.buffer.extend(records.into_iter().filter(|r| r.offset >= input.next)),
                Err(e) if e.is_transient() => *unavailable = Some(format!("cannot read {topic}/{}: {e}", input.partition)),
                Err(e) => return Err(Stop(format!("cannot read {topic}/{}: {e}", input.partition))),
            }
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

/// Waits a little (up to 50 ms) for new records when there was nothing to do, returning as
/// soon as one of the thread's inputs may have some.
fn idle(broker: &dyn Broker, topology: &Topology, tasks: &[Task]) {
    let positions: Vec<(&str, u32, u64)> =
        tasks.iter().flat_map(|t| &t.inputs).map(|i| (topology.sources[i.source].topic.as_str(), i.partition, i.next)).collect();
    if let Err(e) = broker.wait_any(&positions, Duration::from_millis(50)) {
        // The next read says what is wrong, and where.
        tracing::debug!("waiting for records: {e}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
