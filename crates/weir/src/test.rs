//! `weir test`: runs KSML test suites (the format of KSML's `ksml-test-runner`) without a
//! broker.
//!
//! Each suite file names a definition, declares streams (topics with key and value types)
//! and tests. Each test runs on its own application ([`crate::app::App`]): a fresh embedded
//! log in a temporary directory, the definition's Python functions loaded afresh (a namespace
//! of their own), its pipelines planned (producers do not run, as in KSML's runner) and
//! started. Then the produce blocks write their records in order, the topology runs until
//! everything is processed, and the assert blocks run in order; the first one that does not
//! pass decides the test's outcome: `AssertionError` → FAIL, anything else (a Python
//! exception, a pipeline stopping on an error, an unsupported notation, a store not in the
//! topology) → ERROR.
//!
//! An assert block's `stores` are proxies over the test's state stores after the run (every
//! task's instance of each), as KSML's runner gives its test driver's stores.
//!
//! Messages without `timestamp` get the previous message's timestamp plus 1 ms (the first
//! one: [`FIRST_TIMESTAMP`]), so runs are reproducible and time never goes backwards.
//!
//! The report is KSML's (`=== KSML Test Results ===`, a `PASS`/`FAIL`/`ERROR` line per test,
//! `N passed, N failed, N errors`); `--junit <file>` also writes JUnit XML. The exit status
//! is 0 only when every test passes.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use weir_dsl::Diagnostic;
use weir_dsl::model::Definition;
use weir_dsl::suite::{ProduceData, Suite, SuiteStream, TestCase, parse_suite};
use weir_engine::Value;
use weir_engine::broker::{Broker, BrokerError, ErrorKind, NewRecord, TopicSpec};
use weir_engine::notation::{Codec, Notations, Target};
use weir_python::assertions::{Assertions, Outcome, OutputRecord, TestGenerator, check_assertion, check_generator};

use crate::app::{App, AppOptions, Backend, NotationSetup, StartError, progress_line};

/// The timestamp of a test's first message when it has none (2023-11-14T22:13:20Z).
pub const FIRST_TIMESTAMP: i64 = 1_700_000_000_000;

/// What KSML's runner calls a suite-level problem in its report.
const PARSE_LABEL: &str = "<parse>";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Pass,
    Fail,
    Error,
}

/// The outcome of one test (or of a suite that could not be read).
#[derive(Debug, Clone)]
struct TestResult {
    suite: String,
    label: String,
    file: String,
    status: Status,
    /// Why it did not pass: the first line is the message, the others the location.
    message: String,
    /// The Python traceback, when there is one (for JUnit).
    detail: Option<String>,
    time: Duration,
}

impl TestResult {
    fn error(suite: &str, label: &str, file: &str, message: String) -> Self {
        TestResult {
            suite: suite.into(),
            label: label.into(),
            file: file.into(),
            status: Status::Error,
            message,
            detail: None,
            time: Duration::ZERO,
        }
    }
}

pub fn run(paths: &[PathBuf], junit: Option<&Path>) -> anyhow::Result<bool> {
    let files = match collect(paths) {
        Ok(files) if files.is_empty() => {
            eprintln!(
                "error: no test files (*.yaml, *.yml) found in: {}",
                paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
            );
            return Ok(false);
        }
        Ok(files) => files,
        Err(message) => {
            eprintln!("error: {message}");
            return Ok(false);
        }
    };
    let mut results = Vec::new();
    for file in &files {
        results.extend(run_suite(file));
    }
    print!("{}", report(&results));
    if let Some(path) = junit {
        std::fs::write(path, junit_xml(&results)).with_context(|| format!("cannot write the JUnit report '{}'", path.display()))?;
    }
    Ok(results.iter().all(|r| r.status == Status::Pass))
}

/// Suite files: files as given, and the `*.yaml` / `*.yml` files directly in directories
/// (not in subdirectories, as KSML's runner), sorted.
fn collect(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let entries = std::fs::read_dir(path).map_err(|e| format!("cannot read the directory '{}': {e}", path.display()))?;
            for entry in entries.flatten() {
                let p = entry.path();
                let yaml =
                    p.extension().and_then(|e| e.to_str()).is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"));
                if yaml && p.is_file() {
                    files.push(p);
                }
            }
        } else if path.is_file() {
            files.push(path.clone());
        } else {
            return Err(format!("path not found: {}", path.display()));
        }
    }
    files.sort();
    files.dedup();
    Ok(files)
}

fn render(diags: &[Diagnostic], sources: &[(String, String)]) {
    for d in diags {
        let source = sources.iter().find(|(f, _)| *f == d.file).map(|(_, t)| t.as_str());
        eprintln!("{}", d.render(source));
    }
}

/// A suite-level problem: one ERROR result, as KSML's `<parse>`; the diagnostics are
/// printed in full to stderr.
fn parse_error(stem: &str, file: &str, diags: &[Diagnostic], sources: &[(String, String)]) -> Vec<TestResult> {
    render(diags, sources);
    let errors: Vec<&Diagnostic> = diags.iter().filter(|d| d.is_error()).collect();
    let mut message = format!("invalid test suite: {}", errors.first().map(|d| d.to_string()).unwrap_or_default());
    if errors.len() > 1 {
        let _ = write!(message, "\n(and {} more problem{}, see above)", errors.len() - 1, if errors.len() == 2 { "" } else { "s" });
    }
    vec![TestResult::error(stem, PARSE_LABEL, file, message)]
}

/// Where a path written in the suite points: relative to the suite's directory, else as
/// written (absolute, or relative to the working directory).
fn resolve(base: &Path, written: &str, is_dir: bool) -> Option<PathBuf> {
    let exists = |p: &Path| if is_dir { p.is_dir() } else { p.is_file() };
    let relative = base.join(written);
    if exists(&relative) {
        return Some(relative);
    }
    let direct = PathBuf::from(written);
    exists(&direct).then_some(direct)
}

/// Everything a suite's tests share.
struct Loaded {
    suite: Suite,
    definition: Definition,
    /// Errors in the definition: every test reports them.
    definition_error: Option<String>,
    module_directory: Option<String>,
    /// The suite's `schemaDirectory`, resolved.
    schema_directory: Option<PathBuf>,
}

fn run_suite(path: &Path) -> Vec<TestResult> {
    let file = path.display().to_string();
    let stem = weir_dsl::suite::file_stem(&file);
    let text = match std::fs::read(path).map_err(|e| e.to_string()).and_then(|b| weir_dsl::source_text(&file, b).map_err(|d| d.to_string()))
    {
        Ok(text) => text,
        Err(e) => return vec![TestResult::error(&stem, PARSE_LABEL, &file, format!("cannot read the test suite: {e}"))],
    };
    let mut sources = vec![(file.clone(), text.clone())];
    let loaded = match load_suite(path, &file, &text, &mut sources) {
        Ok(loaded) => loaded,
        Err(diags) => return parse_error(&stem, &file, &diags, &sources),
    };
    loaded.suite.tests.values().map(|test| timed(|| run_test(&loaded, test), &loaded.suite, test)).collect()
}

fn timed(f: impl FnOnce() -> Result<(), Failure>, suite: &Suite, test: &TestCase) -> TestResult {
    let started = Instant::now();
    let outcome = f();
    let (status, message, detail) = match outcome {
        Ok(()) => (Status::Pass, String::new(), None),
        Err(Failure { status, message, detail }) => (status, message, detail),
    };
    TestResult {
        suite: suite.name.clone(),
        label: test.label().to_string(),
        file: suite.file.clone(),
        status,
        message,
        detail,
        time: started.elapsed(),
    }
}

/// Reads the suite and its definition; `Err`: suite-level problems.
fn load_suite(path: &Path, file: &str, text: &str, sources: &mut Vec<(String, String)>) -> Result<Loaded, Vec<Diagnostic>> {
    let (suite, mut diags) = parse_suite(file, text);
    let Some(suite) = suite.filter(|_| !diags.iter().any(Diagnostic::is_error)) else { return Err(diags) };
    // Python syntax in assert blocks and generators, before anything runs.
    for (key, test) in &suite.tests {
        for (i, block) in test.produce.iter().enumerate() {
            if let ProduceData::Generator { generator, .. } = &block.data {
                diags.extend(check_generator(file, generator, &format!("tests.{key}.produce[{i}].generator")));
            }
        }
        for (i, block) in test.asserts.iter().enumerate() {
            diags.extend(check_assertion(file, &block.code, &format!("tests.{key}.assert[{i}]")));
        }
    }
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let definition_path = resolve(&base, &suite.definition.value, false);
    if definition_path.is_none() {
        diags.push(
            Diagnostic::error(
                file,
                Some(suite.definition.span),
                "definition",
                format!("definition file '{}' not found", suite.definition.value),
            )
            .with_hint(format!("the path is relative to the suite's directory '{}'", base.display())),
        );
    }
    let mut directory = |written: &Option<weir_dsl::model::Spanned<String>>, key: &str| {
        let written = written.as_ref()?;
        let found = resolve(&base, &written.value, true);
        if found.is_none() {
            diags.push(
                Diagnostic::error(file, Some(written.span), key, format!("{key} '{}' is not a directory", written.value))
                    .with_hint(format!("the path is relative to the suite's directory '{}'", base.display())),
            );
        }
        found
    };
    let schemas = directory(&suite.schema_directory, "schemaDirectory");
    let modules = directory(&suite.module_directory, "moduleDirectory");
    if diags.iter().any(Diagnostic::is_error) {
        return Err(diags);
    }
    if !diags.is_empty() {
        render(&diags, sources);
    }
    let Some(definition_path) = definition_path else { return Err(diags) };
    let def_file = definition_path.display().to_string();
    let def_text = match std::fs::read(&definition_path) {
        Ok(bytes) => weir_dsl::source_text(&def_file, bytes).map_err(|d| vec![d])?,
        Err(e) => {
            return Err(vec![Diagnostic::error(
                file,
                Some(suite.definition.span),
                "definition",
                format!("cannot read the definition '{}': {e}", definition_path.display()),
            )]);
        }
    };
    let namespace = weir_dsl::suite::file_stem(&def_file);
    let (definition, mut def_diags) = weir_dsl::parse_definition(&def_file, &namespace, &def_text, &[]);
    sources.push((def_file.clone(), def_text));
    let Some(definition) = definition else {
        // Not even YAML: a suite-level problem.
        return Err(def_diags);
    };
    if !def_diags.iter().any(Diagnostic::is_error) {
        def_diags.extend(weir_python::check_definition(&definition));
    }
    let errors: Vec<&Diagnostic> = def_diags.iter().filter(|d| d.is_error()).collect();
    let definition_error = errors.first().map(|first| {
        let more = match errors.len() {
            1 => String::new(),
            n => format!(" (and {} more, see above)", n - 1),
        };
        format!("the definition has errors: {first}{more}")
    });
    if !def_diags.is_empty() {
        render(&def_diags, sources);
    }
    Ok(Loaded {
        suite,
        definition,
        definition_error,
        module_directory: modules.map(|m| m.display().to_string()),
        schema_directory: schemas,
    })
}

/// Why a test did not pass.
struct Failure {
    status: Status,
    message: String,
    detail: Option<String>,
}

fn error(message: impl Into<String>) -> Failure {
    Failure { status: Status::Error, message: message.into(), detail: None }
}

/// A fresh directory for one test's embedded log, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Result<TempDir, Failure> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let path = std::env::temp_dir().join(format!("weir-test-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).map_err(|e| error(format!("cannot create a temporary directory '{}': {e}", path.display())))?;
        Ok(TempDir(path))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Puts the suite's module directory on Python's path for one test, and takes it (and the
/// modules imported from it) off again.
struct ModulePath(Option<String>);

impl ModulePath {
    fn add(dir: Option<&String>) -> Result<ModulePath, Failure> {
        if let Some(dir) = dir {
            weir_python::assertions::add_module_path(dir).map_err(error)?;
        }
        Ok(ModulePath(dir.cloned()))
    }
}

impl Drop for ModulePath {
    fn drop(&mut self) {
        if let Some(dir) = &self.0
            && let Err(e) = weir_python::assertions::remove_module_path(dir)
        {
            tracing::warn!("{e}");
        }
    }
}

/// KSML's topology name for a test, used as the definition's namespace.
fn namespace(suite: &str, test: &str) -> String {
    format!("{suite}_{test}").chars().map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '_' }).collect()
}

/// The key and value codecs of a suite stream.
struct StreamCodecs {
    key: Arc<dyn Codec>,
    value: Arc<dyn Codec>,
}

fn codecs<'a>(
    cache: &'a mut HashMap<String, StreamCodecs>,
    notations: &Notations,
    stream: &SuiteStream,
) -> Result<&'a StreamCodecs, Failure> {
    if !cache.contains_key(&stream.name.value) {
        let codec = |ty: &weir_dsl::types::UserType, what: &str| {
            notations
                .codec(ty, &Target { topic: Some(stream.topic.value.clone()), is_key: what == "key" })
                .map_err(|e| error(format!("stream '{}' (topic '{}'): {what} type '{ty}': {e}", stream.name.value, stream.topic.value)))
        };
        let key = codec(&stream.key_type.value, "key")?;
        let value = codec(&stream.value_type.value, "value")?;
        cache.insert(stream.name.value.clone(), StreamCodecs { key, value });
    }
    cache.get(&stream.name.value).ok_or_else(|| error("internal error: codec cache (a bug in Weir)"))
}

fn run_test(loaded: &Loaded, test: &TestCase) -> Result<(), Failure> {
    let suite = &loaded.suite;
    if let Some(e) = &loaded.definition_error {
        return Err(error(e.clone()));
    }
    let dir = TempDir::new()?;
    let _modules = ModulePath::add(loaded.module_directory.as_ref())?;

    let mut definition = loaded.definition.clone();
    definition.namespace = namespace(&suite.name, &test.key.value);
    // Each test has a fresh in-memory schema registry, as KSML's test runner has a mock one.
    let notations = Notations::builtin().with_schema_directory(loaded.schema_directory.clone());
    // As in KSML's test runner, the schemas of the suite's streams are registered under their
    // topics' subjects before anything runs (a bare `avro` output takes its schema from there).
    let mut codec_cache = HashMap::new();
    for stream in suite.streams.values() {
        let codecs = codecs(&mut codec_cache, &notations, stream)?;
        for (codec, what) in [(&codecs.key, "key"), (&codecs.value, "value")] {
            codec.register_schema().map_err(|e| {
                error(format!("stream '{}' (topic '{}'): cannot register the {what} schema: {e}", stream.name.value, stream.topic.value))
            })?;
        }
    }
    // Pipelines only: producers do not run, as in KSML's test runner.
    let mut options = AppOptions::new(vec![definition], "weir-test", Backend::Embedded { dir: dir.0.clone() });
    options.producers = false;
    options.run.until_idle = true;
    options.notations = NotationSetup::Given(notations.clone());
    let first = |diags: &[Diagnostic]| diags.first().map(|d| d.to_string()).unwrap_or_default();
    let mut app = App::build(options).map_err(|e| match e {
        StartError::Functions(diags) => error(format!("cannot load the definition's functions: {}", first(&diags))),
        StartError::Plan(diags) => error(format!("the definition cannot run: {}", first(&diags))),
        StartError::Other(e) => error(format!("{e:#}")),
    })?;
    let broker = Arc::clone(app.broker());

    // The application starts before the records arrive, as with Kafka's test driver: a first
    // run positions every source (committing where each reads from, whatever its
    // `offsetResetPolicy`), the second processes what the produce blocks wrote.
    let run = |app: &mut App| {
        app.start().map_err(|e| error(format!("the pipeline stopped: {e:#}")))?;
        app.wait().map_err(|e| error(format!("the pipeline stopped: {e}")))
    };
    run(&mut app)?;
    produce(broker.as_ref(), suite, test, &notations, &mut codec_cache)?;
    run(&mut app)?;
    tracing::debug!("{}: {}", test.label(), progress_line(&app.metrics().engine));
    let stores = app.stores();

    let assertions = Assertions::new(&suite.file).map_err(error)?;
    let mut records: HashMap<String, Vec<OutputRecord>> = HashMap::new();
    for (i, block) in test.asserts.iter().enumerate() {
        for store in &block.stores {
            assertions.set_store(&store.value, stores.instances(&store.value)).map_err(|e| {
                error(format!("assert block {} inspects state store '{}' (at {}:{}): {e}", i + 1, store.value, suite.file, store.span))
            })?;
        }
        let current = match &block.on {
            Some(on) => {
                let stream =
                    suite.streams.get(&on.value).ok_or_else(|| error(format!("undeclared stream '{}' (a bug in Weir)", on.value)))?;
                if !records.contains_key(&stream.topic.value) {
                    let codecs = codecs(&mut codec_cache, &notations, stream)?;
                    let read = read_records(broker.as_ref(), stream, codecs)?;
                    records.insert(stream.topic.value.clone(), read);
                }
                records.get(&stream.topic.value).map(Vec::as_slice)
            }
            None => None,
        };
        let (status, problem) = match assertions.run(&block.code, current) {
            Outcome::Pass => continue,
            Outcome::Fail(p) => (Status::Fail, p),
            Outcome::Error(p) => (Status::Error, p),
        };
        let mut message = problem.message;
        if let Some(line) = problem.line {
            let source = loaded_line(&suite.file, line);
            let _ = write!(message, "\nat {}:{line}{}", suite.file, source.map(|s| format!(": {}", s.trim())).unwrap_or_default());
        }
        return Err(Failure { status, message, detail: problem.traceback });
    }
    Ok(())
}

/// A line of the suite file, for showing the failing statement.
fn loaded_line(file: &str, line: u32) -> Option<String> {
    let text = std::fs::read_to_string(file).ok()?;
    text.lines().nth(line.checked_sub(1)? as usize).map(str::to_string)
}

/// A clock for messages without timestamp: the previous message's plus 1 ms.
struct Clock(Option<i64>);

impl Clock {
    fn next(&mut self, explicit: Option<i64>) -> i64 {
        let t = explicit.unwrap_or_else(|| self.0.map_or(FIRST_TIMESTAMP, |t| t + 1));
        self.0 = Some(t);
        t
    }
}

fn produce(
    broker: &dyn Broker,
    suite: &Suite,
    test: &TestCase,
    notations: &Notations,
    cache: &mut HashMap<String, StreamCodecs>,
) -> Result<(), Failure> {
    let mut clock = Clock(None);
    for (i, block) in test.produce.iter().enumerate() {
        let n = i + 1;
        let stream =
            suite.streams.get(&block.to.value).ok_or_else(|| error(format!("undeclared stream '{}' (a bug in Weir)", block.to.value)))?;
        let codecs = codecs(cache, notations, stream)?;
        let mut records = Vec::new();
        match &block.data {
            ProduceData::Messages(messages) => {
                for (j, m) in messages.iter().enumerate() {
                    let at = format!("produce block {n}, message {} (line {})", j + 1, m.span.line);
                    let key = encode(stream, &codecs.key, &stream.key_type.value, json_value(&m.key), "key", &at)?;
                    let value = encode(stream, &codecs.value, &stream.value_type.value, json_value(&m.value), "value", &at)?;
                    records.push(NewRecord { timestamp: clock.next(m.timestamp), key, value, headers: Vec::new() });
                }
            }
            ProduceData::Generator { generator, count } => {
                let loaded = TestGenerator::load(&suite.file, generator).map_err(|diags| {
                    error(format!(
                        "the generator of produce block {n} cannot load: {}",
                        diags.first().map(|d| d.to_string()).unwrap_or_default()
                    ))
                })?;
                for call in 0..*count {
                    let pairs = loaded.call().map_err(|e| Failure {
                        status: Status::Error,
                        message: format!("the generator of produce block {n} failed: {}", e.to_string().lines().next().unwrap_or_default()),
                        detail: e.traceback.clone(),
                    })?;
                    for (j, (k, v)) in pairs.into_iter().enumerate() {
                        let at = format!("produce block {n}, call {}, pair {}", call + 1, j + 1);
                        let key = encode(stream, &codecs.key, &stream.key_type.value, k, "key", &at)?;
                        let value = encode(stream, &codecs.value, &stream.value_type.value, v, "value", &at)?;
                        records.push(NewRecord { timestamp: clock.next(None), key, value, headers: Vec::new() });
                    }
                }
            }
        }
        append(broker, &stream.topic.value, &records)?;
    }
    Ok(())
}

/// YAML data (as JSON) → a value: objects become structs, numbers longs or doubles.
fn json_value(json: &serde_json::Value) -> Value {
    match json {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => n.as_i64().map(Value::Long).unwrap_or_else(|| Value::Double(n.as_f64().unwrap_or(f64::NAN))),
        serde_json::Value::String(s) => Value::String(s.clone()),
        serde_json::Value::Array(items) => Value::List(items.iter().map(json_value).collect()),
        serde_json::Value::Object(fields) => Value::Struct(fields.iter().map(|(k, v)| (k.clone(), json_value(v))).collect()),
    }
}

fn encode(
    stream: &SuiteStream,
    codec: &Arc<dyn Codec>,
    ty: &weir_dsl::types::UserType,
    value: Value,
    what: &str,
    at: &str,
) -> Result<Option<Vec<u8>>, Failure> {
    let value = weir_engine::value::convert(value, ty)
        .map_err(|e| error(format!("{at}: the {what} does not fit stream '{}' ({what} type '{ty}'): {e}", stream.name.value)))?;
    codec.encode(&value).map_err(|e| error(format!("{at}: cannot encode the {what} for stream '{}': {e}", stream.name.value)))
}

fn append(broker: &dyn Broker, topic: &str, records: &[NewRecord]) -> Result<(), Failure> {
    if records.is_empty() {
        return Ok(());
    }
    let fail = |e: BrokerError| error(format!("cannot write to topic '{topic}': {e}"));
    // A topic the application did not create gets one partition and keeps its records.
    let partitions =
        broker.ensure_topic_with(topic, &TopicSpec { partitions: 1, retention_ms: None, ..TopicSpec::default() }).map_err(fail)?;
    let mut by_partition: HashMap<u32, Vec<NewRecord>> = HashMap::new();
    for r in records {
        let p = match &r.key {
            Some(key) if partitions > 1 => weir_engine::partitioner::partition_for_key(key, partitions),
            _ => 0,
        };
        by_partition.entry(p).or_default().push(r.clone());
    }
    for (p, batch) in by_partition {
        broker.append(topic, p, &batch).map_err(fail)?;
    }
    Ok(())
}

/// Every record of a stream's topic, decoded with its types (none when the topic was never
/// written).
fn read_records(broker: &dyn Broker, stream: &SuiteStream, codecs: &StreamCodecs) -> Result<Vec<OutputRecord>, Failure> {
    let topic = &stream.topic.value;
    let fail = |e: BrokerError| error(format!("cannot read topic '{topic}': {e}"));
    match broker.end_offset(topic, 0) {
        Err(e) if e.kind == ErrorKind::UnknownTopic => return Ok(Vec::new()),
        Err(e) => return Err(fail(e)),
        Ok(_) => {}
    }
    let partitions = broker.ensure_topic(topic, 1).map_err(fail)?;
    let mut out = Vec::new();
    for p in 0..partitions {
        let end = broker.end_offset(topic, p).map_err(fail)?;
        let mut at = broker.start_offset(topic, p).map_err(fail)?;
        while at < end {
            let batch = broker.read(topic, p, at, 1 << 20).map_err(fail)?;
            let Some(last) = batch.last().map(|r| r.offset) else { break };
            for r in batch {
                let decode = |codec: &Arc<dyn Codec>, bytes: Option<&[u8]>, what: &str| {
                    codec.decode(bytes).map_err(|e| {
                        error(format!(
                            "record {} of topic '{topic}' (partition {p}) cannot be read as stream '{}' declares its {what}: {e}",
                            r.offset, stream.name.value
                        ))
                    })
                };
                let key = decode(&codecs.key, r.key.as_deref(), "key")?;
                let value = decode(&codecs.value, r.value.as_deref(), "value")?;
                out.push(OutputRecord { key, value, timestamp: r.timestamp });
            }
            at = last + 1;
        }
    }
    Ok(out)
}

// ---- reports --------------------------------------------------------------------------------

fn qualified(r: &TestResult) -> String {
    format!("{} › {}", r.suite, r.label)
}

/// KSML's report.
fn report(results: &[TestResult]) -> String {
    let mut out = String::from("\n=== KSML Test Results ===\n\n");
    let count = |s: Status| results.iter().filter(|r| r.status == s).count();
    for r in results {
        let tag = match r.status {
            Status::Pass => "PASS ",
            Status::Fail => "FAIL ",
            Status::Error => "ERROR",
        };
        let _ = writeln!(out, "  {tag} {}", qualified(r));
        if r.status != Status::Pass {
            for line in r.message.lines() {
                let _ = writeln!(out, "        {line}");
            }
        }
    }
    let _ = writeln!(out, "\n{} passed, {} failed, {} errors", count(Status::Pass), count(Status::Fail), count(Status::Error));
    out
}

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\r' | '\t') => {}
            c => out.push(c),
        }
    }
    out
}

/// JUnit XML: a `<testsuite>` per suite file, a `<testcase>` per test.
fn junit_xml(results: &[TestResult]) -> String {
    let mut suites: Vec<(&str, &str, Vec<&TestResult>)> = Vec::new();
    for r in results {
        match suites.iter_mut().find(|(file, _, _)| *file == r.file) {
            Some((_, _, list)) => list.push(r),
            None => suites.push((&r.file, &r.suite, vec![r])),
        }
    }
    let count = |list: &[&TestResult], s: Status| list.iter().filter(|r| r.status == s).count();
    let secs = |list: &[&TestResult]| list.iter().map(|r| r.time.as_secs_f64()).sum::<f64>();
    let all: Vec<&TestResult> = results.iter().collect();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"weir test\" tests=\"{}\" failures=\"{}\" errors=\"{}\" time=\"{:.3}\">",
        all.len(),
        count(&all, Status::Fail),
        count(&all, Status::Error),
        secs(&all)
    );
    for (file, name, list) in &suites {
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" time=\"{:.3}\" file=\"{}\">",
            xml_escape(name),
            list.len(),
            count(list, Status::Fail),
            count(list, Status::Error),
            secs(list),
            xml_escape(file)
        );
        for r in list {
            let _ = write!(
                out,
                "    <testcase name=\"{}\" classname=\"{}\" time=\"{:.3}\"",
                xml_escape(&r.label),
                xml_escape(name),
                r.time.as_secs_f64()
            );
            let tag = match r.status {
                Status::Pass => {
                    out.push_str("/>\n");
                    continue;
                }
                Status::Fail => "failure",
                Status::Error => "error",
            };
            let first = r.message.lines().next().unwrap_or_default();
            let kind = first.split(':').next().filter(|k| !k.contains(' ')).unwrap_or(tag);
            let mut body = r.message.clone();
            if let Some(detail) = &r.detail {
                body.push_str("\n\n");
                body.push_str(detail);
            }
            let _ = writeln!(
                out,
                ">\n      <{tag} message=\"{}\" type=\"{}\">{}</{tag}>\n    </testcase>",
                xml_escape(first),
                xml_escape(kind),
                xml_escape(&body)
            );
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(status: Status, message: &str) -> TestResult {
        TestResult {
            suite: "S <1>".into(),
            label: "t & u".into(),
            file: "s.yaml".into(),
            status,
            message: message.into(),
            detail: None,
            time: Duration::from_millis(5),
        }
    }

    #[test]
    fn reports_like_ksml() {
        let text = report(&[result(Status::Pass, ""), result(Status::Fail, "AssertionError: x\nat s.yaml:3: assert x")]);
        assert_eq!(
            text,
            "\n=== KSML Test Results ===\n\n  PASS  S <1> › t & u\n  FAIL  S <1> › t & u\n        AssertionError: x\n        at s.yaml:3: assert x\n\n1 passed, 1 failed, 0 errors\n"
        );
    }

    #[test]
    fn junit_is_escaped_xml() {
        let xml = junit_xml(&[result(Status::Pass, ""), result(Status::Error, "NameError: name 'x' is not defined")]);
        assert!(xml.contains("<testsuite name=\"S &lt;1&gt;\" tests=\"2\" failures=\"0\" errors=\"1\""), "{xml}");
        assert!(xml.contains("<testcase name=\"t &amp; u\" classname=\"S &lt;1&gt;\" time=\"0.005\"/>"), "{xml}");
        assert!(xml.contains("<error message=\"NameError: name &apos;x&apos; is not defined\" type=\"NameError\">"), "{xml}");
    }

    #[test]
    fn clock_advances_one_millisecond_per_message() {
        let mut clock = Clock(None);
        assert_eq!(clock.next(None), FIRST_TIMESTAMP);
        assert_eq!(clock.next(None), FIRST_TIMESTAMP + 1);
        assert_eq!(clock.next(Some(5)), 5);
        assert_eq!(clock.next(None), 6);
    }

    #[test]
    fn namespaces_are_sanitized() {
        assert_eq!(namespace("Filter & co", "t-1"), "Filter___co_t-1");
    }
}
