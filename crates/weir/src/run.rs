//! `weir run`: Weir's main job. Reads a runner config (or definition files) and checks them,
//! then assembles the application ([`crate::app::App`]: Python functions, notations, plan,
//! the embedded log in the storage directory) and runs it until SIGINT/SIGTERM, printing a
//! progress line periodically from its metrics. While it runs, the embedded log is served to
//! `weir topic` ([`crate::serve`]) and cleaned (retention, compaction). When the runner
//! config enables them, the REST API ([`crate::rest`]) and the Prometheus endpoint
//! ([`crate::prometheus`]) listen from before the start until the run ends.
//!
//! The backend: a runner config runs on the Kafka cluster its `kafka` section names
//! (`bootstrap.servers`), unless `--embedded` says to run on the embedded log in the storage
//! directory; definition files without a runner config run on the embedded log. The first
//! log line names the backend and where it is.
//!
//! Without a runner config the application id is `weir` and the storage directory is
//! `.weir-state` in the current directory.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use weir_dsl::Diagnostic;
use weir_dsl::model::Definition;
use weir_dsl::runner::{
    ApplicationServer, DefinitionSource, Prometheus, RunnerConfig, base_dir_of, parse_inline_definition, parse_runner_config,
};
use weir_engine::metrics::Metrics;
use weir_engine::runtime::RunOptions;
use weir_kafka::KafkaConfig;
use weir_log::Log;

use crate::app::{App, AppOptions, Backend, NotationSetup, PythonSetup, StartError, StopHandle, progress_line};
use crate::rest::Rest;
use crate::rest::http::{self, Server};
use crate::rest::owners::{Owners, Routed, ThisProcess};
use crate::status::{self, Display};

/// How often the progress line is logged (when the live line is not shown).
const PROGRESS_EVERY: Duration = Duration::from_secs(10);
/// How often retention and compaction run on the embedded log.
const CLEAN_EVERY: Duration = Duration::from_secs(60);

/// A run, read and checked: the application's options and the source text per file (for
/// rendering diagnostics).
pub(crate) struct Loaded {
    pub options: AppOptions,
    pub sources: Vec<(String, String)>,
    pub storage: PathBuf,
    /// The REST API and Prometheus sections of the runner config (off without one), with
    /// (`prometheus.configFile` is warned about with the other settings Weir does not use:
    /// `settings::ignored_settings`).
    pub endpoints: Option<(ApplicationServer, Prometheus)>,
}

/// Which backend `weir run` was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendChoice {
    /// A runner config's Kafka cluster; the embedded log for definition files.
    Default,
    /// `--embedded`.
    Embedded,
    /// `--kafka`.
    Kafka,
    /// No run (`weir describe`): nothing is opened, so the choice does not matter.
    PlanOnly,
}

/// The streams-level keys of a runner config's `kafka` section that Weir itself reads (the
/// Kafka client is not given them).
pub(crate) const WEIR_KEYS: &[&str] = &[
    "application.id",
    "application.server",
    "num.stream.threads",
    "commit.interval.ms",
    "processing.guarantee",
    "repartition.purge.interval.ms",
];

pub fn run(paths: &[PathBuf], routes: Option<&Path>, until_idle: bool, choice: BackendChoice, display: Display) -> anyhow::Result<bool> {
    let Loaded { mut options, mut sources, storage, endpoints } = match load(paths, choice)? {
        Ok(loaded) => loaded,
        Err((diags, sources)) => return Ok(report(&diags, &sources)),
    };
    let table = match routes {
        Some(path) => {
            if !endpoints.as_ref().is_some_and(|(rest, _)| rest.enabled) {
                bail!(
                    "--routes '{}': the routes are served on the REST API, which is off: enable 'ksml.applicationServer' in the runner config",
                    path.display()
                );
            }
            let (table, diags, source) = read_routes(path)?;
            sources.push(source);
            if diags.iter().any(Diagnostic::is_error) {
                return Ok(report(&diags, &sources));
            }
            table
        }
        None => None,
    };
    let definitions = if table.is_some() { options.definitions.clone() } else { Vec::new() };
    options.run.until_idle = until_idle;
    // On Kafka, queries are routed between the processes (by the endpoint each advertises).
    let routing = match &options.backend {
        Backend::Kafka(config) => Some(config.endpoint.clone()),
        Backend::Embedded { .. } => None,
    };
    let mut app = match App::build(options) {
        Ok(app) => app,
        Err(StartError::Functions(diags) | StartError::Plan(diags)) => return Ok(report(&diags, &sources)),
        Err(StartError::Other(e)) => return Err(e),
    };
    let routes = match table {
        Some(table) => {
            let bound = crate::rest::routes::bind(
                table,
                app.topology(),
                &definitions,
                app.notations(),
                Arc::clone(app.broker()),
                Arc::clone(app.stores()),
            );
            match bound {
                Ok(routes) => Some(routes),
                Err(diags) => return Ok(report(&diags, &sources)),
            }
        }
        None => None,
    };
    // Listening before the run starts, so the probes answer (500) while it starts.
    let _servers = match &endpoints {
        Some((rest, prometheus)) => start_endpoints(&app, rest, prometheus, routing, routes)?,
        None => Vec::new(),
    };
    let stop = app.stop_handle();
    let flag = stop.clone();
    ctrlc::set_handler(move || {
        if flag.stop() {
            // A second Ctrl-C: stop now.
            std::process::exit(130);
        }
        tracing::info!("stopping: finishing the records at hand and committing (Ctrl-C again to stop at once)");
    })
    .context("cannot install the signal handler")?;
    let lag = Some(position_lag(app.metrics_handle(), Arc::clone(app.broker())));
    let progress = spawn_progress(app.metrics_handle(), stop.clone(), display, lag);
    let cleaner = match app.embedded_log() {
        Some(log) => {
            match crate::serve::start(Arc::clone(log), &storage, app.notations().clone()) {
                Ok(path) => tracing::info!("`weir topic` commands reach this process through {}", path.display()),
                Err(e) => tracing::warn!("no control socket, so `weir topic` cannot reach this process: {e:#}"),
            }
            let inputs: Vec<String> = app.topology().sources.iter().filter(|s| !s.internal).map(|s| s.topic.clone()).collect();
            Some(spawn_cleaner(Arc::clone(log), stop.clone(), app.application_id().to_string(), inputs))
        }
        None => None,
    };
    app.start()?;
    let result = app.wait();
    app.stop();
    if app.embedded_log().is_some() {
        let _ = std::fs::remove_file(storage.join(crate::serve::SOCKET));
    }
    // Wake them from their pause rather than waiting it out.
    progress.thread().unpark();
    let _ = progress.join();
    if let Some(cleaner) = cleaner {
        cleaner.thread().unpark();
        let _ = cleaner.join();
    }
    print_progress(&app.metrics_handle());
    match result {
        Ok(()) => {
            tracing::info!("stopped");
            Ok(true)
        }
        Err(e) => bail!("{e}"),
    }
}

/// Starts the REST API and the Prometheus endpoint, those the runner config enables. A port
/// that cannot be bound stops the start. `routing` is `Some(endpoint advertised)` on Kafka,
/// where store queries are routed between the application's processes.
fn start_endpoints(
    app: &App,
    rest: &ApplicationServer,
    prometheus: &Prometheus,
    routing: Option<Option<String>>,
    routes: Option<crate::rest::routes::Routes>,
) -> anyhow::Result<Vec<Server>> {
    let mut servers = Vec::new();
    let mut route_counters = None;
    if rest.enabled {
        let owners: Box<dyn Owners> = match routing {
            Some(me) => Box::new(Routed::new(Arc::clone(app.broker()), app.application_id(), me, app.topology())),
            None => Box::new(ThisProcess),
        };
        let count = routes.as_ref().map(|r| r.len());
        route_counters = routes.as_ref().map(|r| r.counters());
        let api = Arc::new(Rest { metrics: app.metrics_handle(), queries: app.queries(), owners, routes });
        let server =
            http::serve_requests("REST API", &rest.host, rest.port, "ksml.applicationServer", move |request| api.handle_request(request))?;
        tracing::info!("REST API listening on http://{}", server.address);
        if let Some(count) = count {
            tracing::info!("serving {count} HTTP route(s) of --routes on the REST API");
        }
        servers.push(server);
    }
    if prometheus.enabled {
        let exporter = crate::prometheus::Exporter {
            metrics: app.metrics_handle(),
            queries: app.queries(),
            application_id: app.application_id().to_string(),
            broker: Arc::clone(app.broker()),
            routes: route_counters,
        };
        let registry = crate::prometheus::registry(exporter);
        let server = http::serve("Prometheus metrics", &prometheus.host, prometheus.port, "ksml.prometheus", move |method, url| {
            crate::prometheus::handle(&registry, method, url)
        })?;
        tracing::info!("Prometheus metrics at http://{}/metrics", server.address);
        servers.push(server);
    }
    Ok(servers)
}

/// The lag of a run's inputs, where the backend knows it.
type Lag = Box<dyn Fn() -> Option<u64> + Send>;

/// The records of the run's input partitions past the positions its stream threads
/// published (at most a second old), on either backend. Unknown until a thread holds a
/// partition.
fn position_lag(metrics: Metrics, broker: Arc<dyn weir_engine::broker::Broker>) -> Lag {
    Box::new(move || {
        let positions = metrics.engine().snapshot().positions;
        (!positions.is_empty()).then(|| crate::prometheus::input_lags(broker.as_ref(), &positions).iter().map(|(_, _, lag)| lag).sum())
    })
}

/// Shows the run's progress until it stops: the live line, or a log line every
/// [`PROGRESS_EVERY`] (see [`crate::status`]).
fn spawn_progress(metrics: Metrics, stop: StopHandle, display: Display, lag: Option<Lag>) -> std::thread::JoinHandle<()> {
    const TICK: Duration = Duration::from_millis(200);
    /// The live line's rates are over this much of the run.
    const WINDOW: usize = 5;
    std::thread::spawn(move || {
        let started = Instant::now();
        let mut samples = std::collections::VecDeque::from([status::Sample::default()]);
        let mut waited = Duration::ZERO;
        while !stop.is_stopped() {
            std::thread::park_timeout(TICK);
            waited += TICK;
            match display {
                Display::LogLines if waited >= PROGRESS_EVERY => {
                    waited = Duration::ZERO;
                    print_progress(&metrics);
                }
                Display::Live if waited >= status::REFRESH && !stop.is_stopped() => {
                    waited = Duration::ZERO;
                    let now = status::Sample::of(&metrics.snapshot().engine, started.elapsed());
                    let oldest = samples.front().copied().unwrap_or(now);
                    status::show(&status::status_line(&oldest, &now, lag.as_ref().and_then(|lag| lag())));
                    if samples.len() == WINDOW {
                        samples.pop_front();
                    }
                    samples.push_back(now);
                }
                _ => {}
            }
        }
        status::clear();
    })
}

/// Applies retention and compaction to the log at start and every [`CLEAN_EVERY`]. Records
/// of the application's `inputs` that retention deletes before the application (group
/// `group`) read them are a WARN naming the topic and the count.
fn spawn_cleaner(log: Arc<Log>, stop: StopHandle, group: String, inputs: Vec<String>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut since = CLEAN_EVERY;
        while !stop.is_stopped() {
            if since >= CLEAN_EVERY {
                since = Duration::ZERO;
                let before = unread_starts(&log, &group, &inputs);
                match log.clean(weir_engine::time::now_ms()) {
                    Ok(s) if s.records_removed > 0 || s.segments_deleted > 0 => {
                        tracing::info!(
                            "log cleanup: {} records and {} segment files removed, {} bytes freed",
                            s.records_removed,
                            s.segments_deleted,
                            s.bytes_freed
                        );
                        warn_unread_deleted(&log, &before);
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!("log cleanup failed (will retry): {e}"),
                }
            }
            std::thread::park_timeout(Duration::from_millis(200));
            since += Duration::from_millis(200);
        }
    })
}

/// For each partition of `inputs`: where the application's unread records start (its
/// committed position, or the partition's start when it has none or is past it).
fn unread_starts(log: &Log, group: &str, inputs: &[String]) -> Vec<(String, u32, u64)> {
    let mut out = Vec::new();
    for topic in inputs {
        let Some(config) = log.topic(topic) else { continue };
        for partition in 0..config.partitions {
            let Ok(start) = log.start_offset(topic, partition) else { continue };
            let unread = log.committed(group, topic, partition).map_or(start, |c| c.max(start));
            out.push((topic.clone(), partition, unread));
        }
    }
    out
}

/// The records retention deleted, per topic, from where the application's unread records
/// started (`before`, from [`unread_starts`]).
fn unread_deleted(log: &Log, before: &[(String, u32, u64)]) -> std::collections::BTreeMap<String, u64> {
    let mut lost = std::collections::BTreeMap::new();
    for (topic, partition, unread) in before {
        if let Ok(start) = log.start_offset(topic, *partition)
            && start > *unread
        {
            *lost.entry(topic.clone()).or_default() += start - unread;
        }
    }
    lost
}

/// Warns, per topic, of the records retention deleted before the application read them.
fn warn_unread_deleted(log: &Log, before: &[(String, u32, u64)]) {
    for (topic, n) in unread_deleted(log, before) {
        let retention = log.topic(&topic).and_then(|c| c.retention_ms).map_or_else(|| "none".to_string(), |ms| format!("{ms} ms"));
        tracing::warn!(
            "retention deleted {n} records of input topic '{topic}' before this application read them: their timestamps \
             are older than the topic's retention.ms ({retention}); to keep such records, create the topic with a longer \
             retention ('weir topic create {topic} --retention forever') before producing to it"
        );
    }
}

fn print_progress(metrics: &Metrics) {
    tracing::info!("progress: {}", progress_line(&metrics.snapshot().engine));
}

pub(crate) type Failed = (Vec<Diagnostic>, Vec<(String, String)>);

/// A routes file read: its table (none when the YAML does not parse), its diagnostics, and
/// (name, text) for rendering them.
pub(crate) type ReadRoutes = (Option<weir_dsl::routes::RouteTable>, Vec<Diagnostic>, (String, String));

/// Reads and parses a routes file (`--routes`): the table, its diagnostics, and its text for
/// rendering them.
pub(crate) fn read_routes(path: &Path) -> anyhow::Result<ReadRoutes> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).with_context(|| format!("cannot read the routes file '{name}'"))?;
    let text = weir_dsl::source_text(&name, bytes).map_err(|d| anyhow::anyhow!("{d}"))?;
    let (table, diags) = weir_dsl::routes::parse_routes(&name, &text);
    Ok((table, diags, (name, text)))
}

/// Reads the runner config or the definitions; `Err` carries diagnostics to print.
pub(crate) fn load(paths: &[PathBuf], choice: BackendChoice) -> anyhow::Result<Result<Loaded, Failed>> {
    load_with(paths, choice, true)
}

/// [`load`], printing the warnings or not (`weir check` printed them already).
pub(crate) fn load_with(paths: &[PathBuf], choice: BackendChoice, print_warnings: bool) -> anyhow::Result<Result<Loaded, Failed>> {
    let mut diags = Vec::new();
    let mut sources = Vec::new();
    let read = |path: &Path| -> anyhow::Result<String> {
        let bytes = std::fs::read(path).with_context(|| format!("cannot read '{}'", path.display()))?;
        weir_dsl::source_text(&path.display().to_string(), bytes).map_err(|d| anyhow::anyhow!("{d}"))
    };
    let first_text = read(&paths[0])?;
    let is_runner = {
        let mut ignored = Vec::new();
        weir_dsl::yaml::parse("", &first_text, &mut ignored).is_some_and(|root| weir_dsl::runner::is_runner_config(&root))
    };
    let mut definitions = Vec::new();
    let app = if is_runner {
        if paths.len() > 1 {
            bail!("give either one runner config or definition files, not both");
        }
        let name = paths[0].display().to_string();
        let (config, found) = parse_runner_config(&name, &first_text);
        diags.extend(found);
        sources.push((name.clone(), first_text.clone()));
        let Some(config) = config else { return Ok(Err((diags, sources))) };
        diags.extend(crate::settings::ignored_settings(&config, &first_text));
        let base = base_dir_of(&paths[0]);
        let notations = config.notation_names();
        for (namespace, source) in &config.ksml.definitions {
            match source {
                DefinitionSource::Inline(node) => {
                    let (def, found) = parse_inline_definition(&name, namespace, node, &notations);
                    diags.extend(found);
                    definitions.push(def);
                }
                DefinitionSource::File(file) => {
                    let path = config.config_directory(&base).join(&file.value);
                    let def_name = path.display().to_string();
                    let text = match std::fs::read(&path)
                        .map_err(|e| e.to_string())
                        .and_then(|b| weir_dsl::source_text(&def_name, b).map_err(|d| d.message))
                    {
                        Ok(text) => text,
                        Err(e) => {
                            diags.push(crate::settings::unreadable_definition(&name, namespace, file, &path, &e));
                            continue;
                        }
                    };
                    let (def, found) = weir_dsl::parse_definition(&def_name, namespace, &text, &notations);
                    diags.extend(found);
                    sources.push((def_name, text));
                    definitions.extend(def);
                }
            }
        }
        app_from_config(&config, &base, definitions, sources.clone(), choice)?
    } else {
        if choice == BackendChoice::Kafka {
            bail!("--kafka needs a runner config: its 'kafka' section names the cluster ('bootstrap.servers') and the application id");
        }
        for (i, path) in paths.iter().enumerate() {
            let text = if i == 0 { first_text.clone() } else { read(path)? };
            let name = path.display().to_string();
            let namespace = path.file_stem().and_then(|s| s.to_str()).unwrap_or("default").to_string();
            let (def, found) = weir_dsl::parse_definition(&name, &namespace, &text, &[]);
            diags.extend(found);
            sources.push((name, text));
            definitions.extend(def);
        }
        let storage = PathBuf::from(weir_dsl::runner::DEFAULT_STORAGE_DIRECTORY);
        let mut options = AppOptions::new(definitions, "weir", Backend::Embedded { dir: storage.clone() });
        options.python = Some(PythonSetup { context: Default::default(), module_path: None });
        options.notations = NotationSetup::ForRun { config: None, schema_directory: base_dir_of(&paths[0]), storage: storage.clone() };
        Loaded { options, sources: sources.clone(), storage, endpoints: None }
    };
    for def in &app.options.definitions {
        diags.extend(weir_python::check_definition(def));
    }
    if diags.iter().any(Diagnostic::is_error) {
        return Ok(Err((diags, sources)));
    }
    for d in diags.iter().filter(|_| print_warnings) {
        eprintln!("{}", d.render(source_of(&sources, &d.file)));
    }
    Ok(Ok(app))
}

fn app_from_config(
    config: &RunnerConfig,
    base: &Path,
    definitions: Vec<Definition>,
    sources: Vec<(String, String)>,
    choice: BackendChoice,
) -> anyhow::Result<Loaded> {
    let kafka = &config.kafka;
    let application_id = kafka.get("application.id").cloned().unwrap_or_else(|| "weir".to_string());
    let mut run = RunOptions::new(&application_id);
    let exactly_once = exactly_once(config)?;
    if let Some(threads) = kafka.get("num.stream.threads") {
        run.threads = threads.trim().parse().with_context(|| format!("kafka 'num.stream.threads' must be a number, found '{threads}'"))?;
    }
    if let Some(ms) = kafka.get("commit.interval.ms") {
        run.commit_interval =
            Duration::from_millis(ms.trim().parse().with_context(|| format!("kafka 'commit.interval.ms' must be a number, found '{ms}'"))?);
    } else if exactly_once {
        // Kafka Streams' default under exactly-once: outputs become visible to read_committed
        // readers at each commit.
        run.commit_interval = Duration::from_millis(100);
    }
    if let Some(ms) = kafka.get("repartition.purge.interval.ms") {
        run.purge_interval = Duration::from_millis(
            ms.trim().parse().with_context(|| format!("kafka 'repartition.purge.interval.ms' must be a number, found '{ms}'"))?,
        );
    }
    run.errors = config.ksml.error_handling.clone();
    let storage = config.storage_directory(base);
    if !storage.exists() && config.ksml.storage_directory.is_some() && !config.ksml.create_storage_directory {
        bail!("the storage directory '{}' does not exist (set 'createStorageDirectory: true' to create it)", storage.display());
    }
    let options = AppOptions {
        definitions,
        run,
        pipelines: config.ksml.enable_pipelines,
        producers: config.ksml.enable_producers,
        python: Some(PythonSetup {
            context: config.ksml.python_context.clone(),
            module_path: config.module_path(base).map(|p| p.display().to_string()),
        }),
        notations: NotationSetup::ForRun {
            config: Some(Box::new(config.clone())),
            schema_directory: config.schema_directory(base),
            storage: storage.clone(),
        },
        backend: backend(config, &storage, choice, exactly_once)?,
    };
    let endpoints = Some((config.ksml.application_server.clone(), config.ksml.prometheus.clone()));
    Ok(Loaded { options, sources, storage, endpoints })
}

/// The backend of a runner config: its Kafka cluster, or with `--embedded` the embedded log.
fn backend(config: &RunnerConfig, storage: &Path, choice: BackendChoice, exactly_once: bool) -> anyhow::Result<Backend> {
    let kafka = &config.kafka;
    let bootstrap = kafka.get("bootstrap.servers").map(|s| s.trim()).filter(|s| !s.is_empty());
    match (choice, bootstrap) {
        (BackendChoice::PlanOnly, _) => Ok(Backend::Embedded { dir: storage.to_path_buf() }),
        (BackendChoice::Embedded, Some(servers)) => {
            tracing::info!("--embedded: running on the embedded log; the runner config's Kafka cluster ({servers}) is not used");
            embedded_guarantee(exactly_once);
            Ok(Backend::Embedded { dir: storage.to_path_buf() })
        }
        (BackendChoice::Embedded, None) => {
            embedded_guarantee(exactly_once);
            Ok(Backend::Embedded { dir: storage.to_path_buf() })
        }
        (_, None) => bail!(
            "the runner config's 'kafka' section names no 'bootstrap.servers'; give the Kafka cluster, or run on the embedded log with --embedded"
        ),
        (_, Some(_)) => {
            let properties = kafka.iter().filter(|(k, _)| !WEIR_KEYS.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone()));
            let mut kafka_config = KafkaConfig::from_properties(properties).map_err(|e| anyhow::anyhow!("kafka: {e}"))?;
            if exactly_once {
                tracing::info!(
                    "exactly once (processing.guarantee): outputs, changelogs and input positions are committed in Kafka transactions; reads are read_committed"
                );
                kafka_config = kafka_config.exactly_once();
            }
            if let Some(endpoint) = advertised_endpoint(config)? {
                tracing::info!("advertising the REST API at {endpoint} to the other processes of the application (consumer group)");
                kafka_config = kafka_config.advertising(endpoint);
            }
            for dropped in kafka_config.dropped_properties() {
                tracing::info!("kafka property '{}' is not given to the Kafka client: {}", dropped.key, dropped.reason);
            }
            Ok(Backend::Kafka(Box::new(kafka_config)))
        }
    }
}

/// The REST endpoint this process advertises to the others of its application on Kafka, so
/// they can forward store queries to it (Kafka Streams' `application.server`): the `kafka`
/// section's `application.server` (`host:port`, or a URL), else `http://<host>:<port>` of
/// `ksml.applicationServer`. Nothing without the REST API.
fn advertised_endpoint(config: &RunnerConfig) -> anyhow::Result<Option<String>> {
    let server = &config.ksml.application_server;
    let given = config.kafka.get("application.server").map(|s| s.trim()).filter(|s| !s.is_empty());
    if !server.enabled {
        if let Some(given) = given {
            tracing::warn!(
                "kafka 'application.server' is '{given}' but the REST API is off ('ksml.applicationServer.enabled'): nothing is advertised"
            );
        }
        return Ok(None);
    }
    if let Some(given) = given {
        let url = if given.contains("://") { given.to_string() } else { format!("http://{given}") };
        let authority = url.split_once("://").map_or("", |(_, rest)| rest).trim_end_matches('/');
        let port_ok = authority.rsplit_once(':').is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
        if !(url.starts_with("http://") || url.starts_with("https://")) || !port_ok || authority.contains('/') {
            bail!("kafka 'application.server' must be 'host:port' (or 'http://host:port'), found '{given}'");
        }
        return Ok(Some(format!("{}://{authority}", url.split_once("://").map_or("http", |(s, _)| s))));
    }
    if server.port == 0 {
        tracing::warn!(
            "the REST API listens on a port chosen at start ('ksml.applicationServer.port: 0'), which cannot be advertised:              set 'application.server' under 'kafka' so the other processes can forward queries to this one"
        );
        return Ok(None);
    }
    let host = match server.host.trim() {
        "" | "0.0.0.0" | "::" | "[::]" => {
            tracing::warn!(
                "the REST API listens on all interfaces ({}): advertising 127.0.0.1 to the other processes of the application,                  which only works on one machine; set 'application.server' under 'kafka' to the address they reach this one at",
                server.host
            );
            "127.0.0.1".to_string()
        }
        h if h.contains(':') && !h.starts_with('[') => format!("[{h}]"),
        h => h.to_string(),
    };
    Ok(Some(format!("http://{host}:{}", server.port)))
}

/// Whether the runner config asks for exactly-once (`processing.guarantee`): `exactly_once_v2`,
/// or the deprecated `exactly_once` / `exactly_once_beta`, which Kafka Streams 3+ runs as v2.
fn exactly_once(config: &RunnerConfig) -> anyhow::Result<bool> {
    match config.kafka.get("processing.guarantee").map(|s| s.trim()) {
        None | Some("at_least_once") => Ok(false),
        Some("exactly_once_v2") => Ok(true),
        Some(old @ ("exactly_once" | "exactly_once_beta")) => {
            tracing::info!("kafka 'processing.guarantee' is '{old}' (deprecated in Kafka Streams): running it as 'exactly_once_v2'");
            Ok(true)
        }
        Some(other) => bail!("kafka 'processing.guarantee' is '{other}': expected 'at_least_once' or 'exactly_once_v2'"),
    }
}

/// The embedded log has no transactions: one process owns every partition and a crash redoes
/// what followed the last commit.
fn embedded_guarantee(exactly_once: bool) {
    if exactly_once {
        tracing::warn!(
            "kafka 'processing.guarantee' asks for exactly once, but the embedded log runs at least once (no transactions): after a crash, records since the last commit are processed again"
        );
    }
}

fn source_of<'a>(sources: &'a [(String, String)], file: &str) -> Option<&'a str> {
    sources.iter().find(|(f, _)| f == file).map(|(_, t)| t.as_str())
}

/// Prints diagnostics; returns `false` (the run did not happen).
pub(crate) fn report(diags: &[Diagnostic], sources: &[(String, String)]) -> bool {
    for d in diags {
        eprintln!("{}", d.render(source_of(sources, &d.file)));
    }
    let errors = diags.iter().filter(|d| d.is_error()).count();
    eprintln!("not started: {errors} error{}", if errors == 1 { "" } else { "s" });
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use weir_log::{NewRecord, TopicConfig};

    #[test]
    fn records_retention_deletes_before_the_application_read_them_are_counted() {
        let dir = std::env::temp_dir().join(format!("weir-run-unread-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (log, _) = Log::open(&dir).expect("open log");
        // Segments of one record each (so retention can delete all but the last), 1 s retention.
        let config = TopicConfig { segment_bytes: 1, retention_ms: Some(1000), ..TopicConfig::default() };
        log.create_topic("in", config.clone()).expect("create");
        log.create_topic("read", config).expect("create");
        for topic in ["in", "read"] {
            for t in 0..5 {
                log.append(topic, 0, &[NewRecord::new(t, Some(b"k"), Some(b"v"))]).expect("append");
            }
        }
        // 'read' was read up to offset 3, 'in' never.
        log.commit("app", &[("read", 0, 3)]).expect("commit");
        let inputs = vec!["in".to_string(), "read".to_string()];
        let before = unread_starts(&log, "app", &inputs);
        log.clean(1_000_000).expect("clean");
        assert_eq!(log.start_offset("in", 0).expect("start"), 4, "all but the active segment went");
        let lost = unread_deleted(&log, &before);
        // 'in': offsets 0..4 unread and deleted; 'read': 0..3 had been read, 3 had not.
        assert_eq!(lost, [("in".to_string(), 4), ("read".to_string(), 1)].into_iter().collect());
        drop(log);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
