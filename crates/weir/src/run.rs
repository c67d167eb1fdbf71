//! `weir run`: Weir's main job. Reads a runner config (or definition files), checks them,
//! loads the Python functions, plans the topology, opens the embedded log in the storage
//! directory and runs until SIGINT/SIGTERM, printing a progress line periodically.
//!
//! Without a runner config the application id is `weir` and the storage directory is
//! `.weir-state` in the current directory.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use weir_dsl::Diagnostic;
use weir_dsl::model::Definition;
use weir_dsl::runner::{DefinitionSource, PythonContext, RunnerConfig, base_dir_of, parse_inline_definition, parse_runner_config};
use weir_engine::broker::Broker;
use weir_engine::plan::{PlanInput, PlanOptions, plan};
use weir_engine::ports::Functions;
use weir_engine::runtime::process::Stats;
use weir_engine::runtime::{RunOptions, run as run_topology};
use weir_log::{Log, RecoveryEvent};
use weir_python::PythonFunctions;

/// How often the progress line is printed.
const PROGRESS_EVERY: Duration = Duration::from_secs(10);
/// How often retention and compaction run on the embedded log.
const CLEAN_EVERY: Duration = Duration::from_secs(60);

struct App {
    definitions: Vec<Definition>,
    /// Source text per file, for rendering diagnostics.
    sources: Vec<(String, String)>,
    options: RunOptions,
    storage: PathBuf,
    python: PythonContext,
    module_path: Option<String>,
    with_pipelines: bool,
    with_producers: bool,
    /// The runner config, when the run has one (its notations and schema registries).
    config: Option<RunnerConfig>,
    /// Where schema files are read from: the config's `schemaDirectory`, else the directory
    /// of the runner config (or of the first definition file).
    schema_directory: PathBuf,
}

pub fn run(paths: &[PathBuf], until_idle: bool) -> anyhow::Result<bool> {
    let mut app = match load(paths)? {
        Ok(app) => app,
        Err((diags, sources)) => return Ok(report(&diags, &sources)),
    };
    app.options.until_idle = until_idle;
    app.options.thread_scope = Some(weir_python::thread_scope());
    weir_python::context::install(&app.python, app.module_path.as_deref()).map_err(anyhow::Error::msg)?;
    let mut inputs = Vec::new();
    let mut failed = Vec::new();
    for def in &app.definitions {
        match PythonFunctions::load(def) {
            Ok(f) => inputs.push(PlanInput { definition: def, functions: Arc::new(f) as Arc<dyn Functions> }),
            Err(diags) => failed.extend(diags),
        }
    }
    if !failed.is_empty() {
        return Ok(report(&failed, &app.sources));
    }
    std::fs::create_dir_all(&app.storage).with_context(|| format!("cannot create the storage directory '{}'", app.storage.display()))?;
    let notations = crate::notations::for_run(app.config.as_ref(), app.schema_directory.clone(), &app.storage)?;
    let plan_options =
        PlanOptions { application_id: app.options.application_id.clone(), pipelines: app.with_pipelines, producers: app.with_producers };
    let topology = match plan(&inputs, &notations, &plan_options) {
        Ok(t) => t,
        Err(diags) => return Ok(report(&diags, &app.sources)),
    };
    let (log, recovered) =
        Log::open(&app.storage).with_context(|| format!("cannot open the embedded log in '{}'", app.storage.display()))?;
    for event in recovered {
        log_recovery(&event);
    }
    tracing::info!(
        application = %app.options.application_id,
        storage = %app.storage.display(),
        "starting {} pipeline(s) and {} producer(s) on the embedded log",
        topology.pipelines.len(),
        topology.producers.len()
    );
    for source in &topology.sources {
        tracing::info!("consuming topic '{}' ({}/{})", source.topic, source.format.key_type, source.format.value_type);
    }
    let shutdown = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&shutdown);
    ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            // A second Ctrl-C: stop now.
            std::process::exit(130);
        }
        tracing::info!("stopping: finishing the records at hand and committing (Ctrl-C again to stop at once)");
    })
    .context("cannot install the signal handler")?;
    let stats = Arc::new(Stats::default());
    let progress = spawn_progress(Arc::clone(&stats), Arc::clone(&shutdown));
    let log = Arc::new(log);
    match crate::serve::start(Arc::clone(&log), &app.storage, notations.clone()) {
        Ok(path) => tracing::info!("`weir topic` commands reach this process through {}", path.display()),
        Err(e) => tracing::warn!("no control socket, so `weir topic` cannot reach this process: {e:#}"),
    }
    let cleaner = spawn_cleaner(Arc::clone(&log), Arc::clone(&shutdown));
    let broker: Arc<dyn Broker> = log;
    let result = run_topology(Arc::new(topology), broker, app.options, Arc::clone(&shutdown), Arc::clone(&stats));
    shutdown.store(true, Ordering::SeqCst);
    let _ = std::fs::remove_file(app.storage.join(crate::serve::SOCKET));
    // Wake them from their pause rather than waiting it out.
    progress.thread().unpark();
    cleaner.thread().unpark();
    let _ = progress.join();
    let _ = cleaner.join();
    print_progress(&stats);
    match result {
        Ok(()) => {
            tracing::info!("stopped");
            Ok(true)
        }
        Err(e) => bail!("{e}"),
    }
}

fn log_recovery(event: &RecoveryEvent) {
    tracing::warn!("embedded log recovery: {event:?}");
}

fn spawn_progress(stats: Arc<Stats>, shutdown: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut waited = Duration::ZERO;
        while !shutdown.load(Ordering::SeqCst) {
            std::thread::park_timeout(Duration::from_millis(200));
            waited += Duration::from_millis(200);
            if waited >= PROGRESS_EVERY {
                waited = Duration::ZERO;
                print_progress(&stats);
            }
        }
    })
}

/// Applies retention and compaction to the log at start and every [`CLEAN_EVERY`].
fn spawn_cleaner(log: Arc<Log>, shutdown: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut since = CLEAN_EVERY;
        while !shutdown.load(Ordering::SeqCst) {
            if since >= CLEAN_EVERY {
                since = Duration::ZERO;
                match log.clean(weir_engine::runtime::now_ms()) {
                    Ok(s) if s.records_removed > 0 || s.segments_deleted > 0 => tracing::info!(
                        "log cleanup: {} records and {} segment files removed, {} bytes freed",
                        s.records_removed,
                        s.segments_deleted,
                        s.bytes_freed
                    ),
                    Ok(_) => {}
                    Err(e) => tracing::warn!("log cleanup failed (will retry): {e}"),
                }
            }
            std::thread::park_timeout(Duration::from_millis(200));
            since += Duration::from_millis(200);
        }
    })
}

fn print_progress(stats: &Stats) {
    let consumed = stats.consumed.load(Ordering::Relaxed);
    let produced = stats.produced.load(Ordering::Relaxed);
    let errors = stats.errors.load(Ordering::Relaxed);
    let dropped = match stats.dropped.load(Ordering::Relaxed) {
        0 => String::new(),
        n => format!(", dropped by windows (late or without a key) {n}"),
    };
    let per_pipeline = stats
        .out_by_pipeline
        .lock()
        .map(|m| {
            let mut v: Vec<_> = m.iter().map(|(k, n)| format!("{k}={n}")).collect();
            v.sort();
            v.join(" ")
        })
        .unwrap_or_default();
    tracing::info!(
        "progress: records in {consumed}, out {produced}, errors {errors}{dropped}{}{per_pipeline}",
        if per_pipeline.is_empty() { "" } else { "; out by pipeline: " }
    );
}

type Failed = (Vec<Diagnostic>, Vec<(String, String)>);

/// Reads the runner config or the definitions; `Err` carries diagnostics to print.
fn load(paths: &[PathBuf]) -> anyhow::Result<Result<App, Failed>> {
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
                    let text = read(&path)?;
                    let def_name = path.display().to_string();
                    let (def, found) = weir_dsl::parse_definition(&def_name, namespace, &text, &notations);
                    diags.extend(found);
                    sources.push((def_name, text));
                    definitions.extend(def);
                }
            }
        }
        app_from_config(&config, &base, definitions, sources.clone())?
    } else {
        for (i, path) in paths.iter().enumerate() {
            let text = if i == 0 { first_text.clone() } else { read(path)? };
            let name = path.display().to_string();
            let namespace = path.file_stem().and_then(|s| s.to_str()).unwrap_or("default").to_string();
            let (def, found) = weir_dsl::parse_definition(&name, &namespace, &text, &[]);
            diags.extend(found);
            sources.push((name, text));
            definitions.extend(def);
        }
        App {
            definitions,
            sources: sources.clone(),
            options: RunOptions::new("weir"),
            storage: PathBuf::from(weir_dsl::runner::DEFAULT_STORAGE_DIRECTORY),
            python: PythonContext::default(),
            module_path: None,
            with_pipelines: true,
            with_producers: true,
            config: None,
            schema_directory: base_dir_of(&paths[0]),
        }
    };
    for def in &app.definitions {
        diags.extend(weir_python::check_definition(def));
    }
    if diags.iter().any(Diagnostic::is_error) {
        return Ok(Err((diags, sources)));
    }
    for d in &diags {
        eprintln!("{}", d.render(source_of(&sources, &d.file)));
    }
    Ok(Ok(app))
}

fn app_from_config(
    config: &RunnerConfig,
    base: &Path,
    definitions: Vec<Definition>,
    sources: Vec<(String, String)>,
) -> anyhow::Result<App> {
    let kafka = &config.kafka;
    let application_id = kafka.get("application.id").cloned().unwrap_or_else(|| "weir".to_string());
    let mut options = RunOptions::new(&application_id);
    if let Some(threads) = kafka.get("num.stream.threads") {
        options.threads =
            threads.trim().parse().with_context(|| format!("kafka 'num.stream.threads' must be a number, found '{threads}'"))?;
    }
    if let Some(ms) = kafka.get("commit.interval.ms") {
        options.commit_interval =
            Duration::from_millis(ms.trim().parse().with_context(|| format!("kafka 'commit.interval.ms' must be a number, found '{ms}'"))?);
    }
    options.errors = config.ksml.error_handling.clone();
    let storage = config.storage_directory(base);
    if !storage.exists() && config.ksml.storage_directory.is_some() && !config.ksml.create_storage_directory {
        bail!("the storage directory '{}' does not exist (set 'createStorageDirectory: true' to create it)", storage.display());
    }
    Ok(App {
        definitions,
        sources,
        options,
        storage,
        python: config.ksml.python_context.clone(),
        module_path: config.module_path(base).map(|p| p.display().to_string()),
        with_pipelines: config.ksml.enable_pipelines,
        with_producers: config.ksml.enable_producers,
        config: Some(config.clone()),
        schema_directory: config.schema_directory(base),
    })
}

fn source_of<'a>(sources: &'a [(String, String)], file: &str) -> Option<&'a str> {
    sources.iter().find(|(f, _)| f == file).map(|(_, t)| t.as_str())
}

/// Prints diagnostics; returns `false` (the run did not happen).
fn report(diags: &[Diagnostic], sources: &[(String, String)]) -> bool {
    for d in diags {
        eprintln!("{}", d.render(source_of(sources, &d.file)));
    }
    let errors = diags.iter().filter(|d| d.is_error()).count();
    eprintln!("not started: {errors} error{}", if errors == 1 { "" } else { "s" });
    false
}
