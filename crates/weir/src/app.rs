//! The application handle: the one way the binary assembles and runs definitions, used by
//! `weir run` and `weir test`, read by the REST API and the metrics endpoint.
//!
//! [`App::build`] takes [`AppOptions`] and does, in order: install the Python context (if
//! asked), load each definition's functions, build the notations, plan the topology, and
//! open the backend (logging what it recovered). It then logs the first line of a run,
//! naming the backend as the broker describes itself ([`Broker::describe`]). [`App::start`]
//! runs the topology on a thread of its own; [`App::stop`] asks it to stop (each thread
//! finishes the record at hand, appends, commits) and [`App::wait`] returns how the run
//! ended. A run that ended can be started again on the same topology, broker and state
//! stores (`weir test` starts its application before the produce blocks write, and again
//! after). While it runs, [`App::metrics`] reads the counters, [`App::stores`] the state
//! store instances and [`App::broker`] the topics.
//!
//! A backend is a [`Backend`] variant: opening one gives the [`Broker`] the runtime uses.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use anyhow::Context as _;
use weir_dsl::Diagnostic;
use weir_dsl::model::Definition;
use weir_dsl::runner::{PythonContext, RunnerConfig};
use weir_engine::broker::Broker;
use weir_engine::metrics::{EngineSnapshot, Metrics, Snapshot};
use weir_engine::notation::Notations;
use weir_engine::plan::{PlanInput, PlanOptions, Topology, plan};
use weir_engine::ports::Functions;
use weir_engine::runtime::{RunError, RunOptions, run as run_topology};
use weir_engine::store::{StateStores, StoreQueries};
use weir_kafka::{KafkaBroker, KafkaConfig};
use weir_log::Log;
use weir_python::PythonFunctions;

/// Where the records are.
#[derive(Debug, Clone)]
pub enum Backend {
    /// The embedded log in a directory (Weir's local stand-in for a Kafka cluster).
    Embedded { dir: PathBuf },
    /// An Apache Kafka cluster: processes of one application id share its partitions.
    Kafka(Box<KafkaConfig>),
}

/// An opened backend: the broker, and the embedded log itself when that is the backend
/// (for its control socket and its cleanup).
struct Opened {
    broker: Arc<dyn Broker>,
    log: Option<Arc<Log>>,
}

impl Backend {
    fn open(&self) -> anyhow::Result<Opened> {
        match self {
            Backend::Embedded { dir } => {
                // A `weir topic` holding the log is asked to hand it over (`handover.rs`).
                let (log, recovered) = crate::handover::open_for_run(dir)?;
                for event in recovered {
                    tracing::warn!("embedded log recovery: {event}");
                }
                let log = Arc::new(log);
                Ok(Opened { broker: Arc::clone(&log) as Arc<dyn Broker>, log: Some(log) })
            }
            Backend::Kafka(config) => {
                let broker = KafkaBroker::connect((**config).clone())
                    .with_context(|| format!("cannot connect to Kafka at {}", config.bootstrap_servers))?;
                Ok(Opened { broker: Arc::new(broker), log: None })
            }
        }
    }
}

/// Where the notations come from.
pub enum NotationSetup {
    /// A run's: KSML's built-in notations plus the runner config's, with their schema
    /// registries; schema files from `schema_directory`; the embedded schema registry kept in
    /// `storage` (created if missing). See [`crate::notations::for_run`].
    ForRun { config: Option<Box<RunnerConfig>>, schema_directory: PathBuf, storage: PathBuf },
    /// These, as they are (`weir test`: built-in, a fresh in-memory registry, the suite's
    /// schemas registered).
    Given(Notations),
}

/// The Python context a run installs (the runner config's `pythonContext` and module path).
pub struct PythonSetup {
    pub context: PythonContext,
    pub module_path: Option<String>,
}

/// Everything an application is assembled from.
pub struct AppOptions {
    /// The definitions (checked), one namespace of functions each.
    pub definitions: Vec<Definition>,
    /// Application id, threads, commit interval, error handling, `until_idle`, the state
    /// stores. The thread scope is the App's (Python's).
    pub run: RunOptions,
    /// Run the pipelines (`enablePipelines`).
    pub pipelines: bool,
    /// Run the producers (`enableProducers`).
    pub producers: bool,
    /// The Python context to install first; `None` leaves the interpreter as it is.
    pub python: Option<PythonSetup>,
    pub notations: NotationSetup,
    pub backend: Backend,
}

impl AppOptions {
    /// `definitions` under `application_id`, pipelines and producers, on `backend`, with
    /// KSML's built-in notations and no Python context to install.
    pub fn new(definitions: Vec<Definition>, application_id: &str, backend: Backend) -> AppOptions {
        AppOptions {
            definitions,
            run: RunOptions::new(application_id),
            pipelines: true,
            producers: true,
            python: None,
            notations: NotationSetup::Given(Notations::builtin()),
            backend,
        }
    }
}

/// Why an application could not be built.
#[derive(Debug)]
pub enum StartError {
    /// The definitions' functions do not load.
    Functions(Vec<Diagnostic>),
    /// The definitions cannot be planned.
    Plan(Vec<Diagnostic>),
    /// Anything else: the Python context, the notations, the backend.
    Other(anyhow::Error),
}

impl From<anyhow::Error> for StartError {
    fn from(e: anyhow::Error) -> Self {
        StartError::Other(e)
    }
}

/// A topology planned from definitions, and the notations it was planned with.
pub struct Planned {
    pub topology: Topology,
    pub notations: Notations,
}

/// What [`App::build`] does before it opens the backend, and all `weir describe` needs:
/// install the Python context, load each definition's functions, build the notations, plan.
pub fn plan_definitions(
    definitions: &[Definition],
    application_id: &str,
    pipelines: bool,
    producers: bool,
    python: Option<PythonSetup>,
    notations: NotationSetup,
) -> Result<Planned, StartError> {
    if let Some(python) = &python {
        weir_python::context::install(&python.context, python.module_path.as_deref()).map_err(anyhow::Error::msg)?;
    }
    let mut inputs = Vec::new();
    let mut failed = Vec::new();
    for def in definitions {
        match PythonFunctions::load(def) {
            Ok(f) => inputs.push(PlanInput { definition: def, functions: Arc::new(f) as Arc<dyn Functions> }),
            Err(diags) => failed.extend(diags),
        }
    }
    if !failed.is_empty() {
        return Err(StartError::Functions(failed));
    }
    let notations = match notations {
        NotationSetup::ForRun { config, schema_directory, storage } => {
            std::fs::create_dir_all(&storage).with_context(|| format!("cannot create the storage directory '{}'", storage.display()))?;
            crate::notations::for_run(config.as_deref(), schema_directory, &storage)?
        }
        NotationSetup::Given(notations) => notations,
    };
    let plan_options = PlanOptions { application_id: application_id.to_string(), pipelines, producers };
    let topology = plan(&inputs, &notations, &plan_options).map_err(StartError::Plan)?;
    Ok(Planned { topology, notations })
}

/// Asks a running application to stop; can be handed to a signal handler.
#[derive(Clone)]
pub struct StopHandle(Arc<AtomicBool>);

impl StopHandle {
    /// Asks the run to stop. Returns whether that had already been asked.
    pub fn stop(&self) -> bool {
        self.0.swap(true, Ordering::SeqCst)
    }

    pub fn is_stopped(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// An assembled application: planned, its backend open; started and stopped at will.
pub struct App {
    topology: Arc<Topology>,
    broker: Arc<dyn Broker>,
    log: Option<Arc<Log>>,
    notations: Notations,
    options: RunOptions,
    metrics: Metrics,
    shutdown: Arc<AtomicBool>,
    running: Option<JoinHandle<Result<(), RunError>>>,
    /// Runs started so far.
    runs: usize,
}

impl App {
    /// Assembles the application (see the module doc); nothing runs yet.
    pub fn build(options: AppOptions) -> Result<App, StartError> {
        let AppOptions { definitions, run: mut run_options, pipelines, producers, python, notations, backend } = options;
        let Planned { topology, notations } =
            plan_definitions(&definitions, &run_options.application_id, pipelines, producers, python, notations)?;
        let Opened { broker, log } = backend.open()?;
        tracing::info!(
            application = %run_options.application_id,
            "starting {} pipeline(s) and {} producer(s) on {}",
            topology.pipelines.len(),
            topology.producers.len(),
            broker.describe()
        );
        for source in &topology.sources {
            tracing::info!("consuming topic '{}' ({}/{})", source.topic, source.format.key_type, source.format.value_type);
        }
        run_options.thread_scope = Some(weir_python::thread_scope());
        Ok(App {
            topology: Arc::new(topology),
            broker,
            log,
            notations,
            options: run_options,
            metrics: Metrics::new(),
            shutdown: Arc::new(AtomicBool::new(false)),
            running: None,
            runs: 0,
        })
    }

    /// Starts running the topology on a thread of its own. A stop asked before the first
    /// start is kept (the run stops at once); a later start begins a fresh run.
    pub fn start(&mut self) -> anyhow::Result<()> {
        if self.running.is_some() {
            anyhow::bail!("the application is already running (a bug in Weir)");
        }
        if self.runs > 0 {
            self.shutdown.store(false, Ordering::SeqCst);
        }
        self.runs += 1;
        let (topology, broker, options, shutdown, counters) = (
            Arc::clone(&self.topology),
            Arc::clone(&self.broker),
            self.options.clone(),
            Arc::clone(&self.shutdown),
            Arc::clone(self.metrics.engine()),
        );
        let handle = std::thread::Builder::new()
            .name(format!("{}-runtime", self.options.application_id))
            .spawn(move || run_topology(topology, broker, options, shutdown, counters))
            .context("cannot start the runtime thread")?;
        self.running = Some(handle);
        Ok(())
    }

    /// Asks the run to stop: every thread finishes the record at hand, appends, syncs and
    /// commits what it processed.
    pub fn stop(&self) {
        self.shutdown.store(true, Ordering::SeqCst);
    }

    /// A handle that stops the run, for signal handlers and helper threads.
    pub fn stop_handle(&self) -> StopHandle {
        StopHandle(Arc::clone(&self.shutdown))
    }

    /// Waits for the run to end: `Ok` when it was asked to stop (or, with `until_idle`, ran
    /// out of work), the failure that stopped it otherwise. `Ok` if it is not running.
    pub fn wait(&mut self) -> Result<(), RunError> {
        let Some(handle) = self.running.take() else { return Ok(()) };
        handle.join().unwrap_or_else(|_| Err(RunError("the runtime thread panicked (a bug in Weir)".to_string())))
    }

    /// The metrics now: the engine's counters of this application and the user metrics.
    pub fn metrics(&self) -> Snapshot {
        self.metrics.snapshot()
    }

    /// The metrics handle, for a thread that reads them periodically.
    pub fn metrics_handle(&self) -> Metrics {
        self.metrics.clone()
    }

    /// The state store instances (every task's), for inspection.
    pub fn stores(&self) -> &Arc<StateStores> {
        &self.options.stores
    }

    /// Read-only queries over the state stores (the topology's and its global tables'), for
    /// the REST API and the metrics.
    pub fn queries(&self) -> StoreQueries {
        let mut specs = self.topology.stores.clone();
        specs.extend(self.topology.global_tables.iter().map(|g| Arc::clone(&g.store)));
        StoreQueries::new(specs, Arc::clone(&self.options.stores))
    }

    /// The planned topology.
    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    /// The application id.
    pub fn application_id(&self) -> &str {
        &self.options.application_id
    }

    /// The broker the application runs on.
    pub fn broker(&self) -> &Arc<dyn Broker> {
        &self.broker
    }

    /// The embedded log, when that is the backend.
    pub fn embedded_log(&self) -> Option<&Arc<Log>> {
        self.log.as_ref()
    }

    /// The notations the topology was planned with.
    pub fn notations(&self) -> &Notations {
        &self.notations
    }
}

impl Drop for App {
    /// An application dropped while running is stopped and waited for.
    fn drop(&mut self) {
        if self.running.is_some() {
            self.stop();
            let _ = self.wait();
        }
    }
}

/// The progress line of `weir run` (without its `progress: ` prefix): records in and out,
/// the producers' records, errors, dropped records, and out by pipeline.
pub fn progress_line(engine: &EngineSnapshot) -> String {
    let mut line = format!("records in {}, out {}", engine.records_in, engine.records_out);
    if engine.producer_records > 0 {
        line.push_str(&format!(", from producers {}", engine.producer_records));
    }
    line.push_str(&format!(", errors {}", engine.errors));
    if engine.dropped > 0 {
        line.push_str(&format!(", dropped by windows (late or without a key) {}", engine.dropped));
    }
    if !engine.out_by_pipeline.is_empty() {
        let per_pipeline: Vec<String> = engine.out_by_pipeline.iter().map(|(k, n)| format!("{k}={n}")).collect();
        line.push_str("; out by pipeline: ");
        line.push_str(&per_pipeline.join(" "));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_progress_line_counts_producers_apart() {
        let mut engine = EngineSnapshot { records_in: 10, records_out: 8, errors: 1, ..EngineSnapshot::default() };
        assert_eq!(progress_line(&engine), "records in 10, out 8, errors 1");
        engine.producer_records = 5;
        engine.dropped = 2;
        engine.out_by_pipeline.insert("ns.b".to_string(), 3);
        engine.out_by_pipeline.insert("ns.a".to_string(), 5);
        assert_eq!(
            progress_line(&engine),
            "records in 10, out 8, from producers 5, errors 1, dropped by windows (late or without a key) 2; out by pipeline: ns.a=5 ns.b=3"
        );
    }
}
