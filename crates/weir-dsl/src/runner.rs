//! Runner configuration (`ksml-runner.yaml`): YAML text → a validated [`RunnerConfig`].
//!
//! The file has two root keys, both required and nothing else allowed: `ksml` (where the
//! definitions and schemas are, notations, schema registries, error handling, the REST and
//! Prometheus endpoints, the Python sandbox) and `kafka` (Kafka client / Streams properties).
//!
//! Strictness follows KSML's runner, which — unlike its definition parser — rejects unknown
//! keys at startup: every mapping under `ksml` is checked against its [`Shape`] (unknown keys
//! with a did-you-mean, missing required keys), duplicate keys are errors at any depth, enum
//! values (`handler`, notation `type`) are checked with the allowed values in the hint, ports
//! must be in `1..=65535`, `definitions` must name at least one definition and
//! `kafka.application.id` / `kafka.bootstrap.servers` must be present and non-blank. A
//! notation naming a schema registry that is not defined is a warning, as in KSML.
//!
//! Deliberate differences from KSML, all additive:
//! - `${VAR}` and `${VAR:-default}` are substituted from the environment in every string
//!   value (see [`expand_env`]). KSML documents this syntax but never implemented it; Weir
//!   implements what the documentation promises. Kafka's own config-provider references
//!   (`${env:VAR}`, `${file:/path:key}`, …) are not environment references and pass through
//!   untouched, so they keep working where Kafka resolves them.
//! - Relative paths resolve against the directory of the runner file, where KSML uses the
//!   working directory (see [`RunnerConfig::config_directory`]). In KSML's Docker image the
//!   two are the same directory (`/ksml`), so configs written for it behave the same.
//! - The misnamed key `pythonModulePath` (used by KSML's own docs; KSML rejects it) gets an
//!   explicit hint pointing at `pythonContext.modulePath`.
//!
//! No keys are invented under `ksml`: Weir-only settings (such as the backend) are command-line
//! flags, so a Weir runner config is always a valid KSML runner config and vice versa.

use std::path::{Path, PathBuf};

use indexmap::IndexMap;

use crate::diag::{Diagnostic, Span, did_you_mean};
use crate::model::{Definition, Spanned};
use crate::read::{Cx, Obj, join_path};
use crate::shape::{Kind, Shape, opt, req};
use crate::yaml::{self, Node, Style, Value};

// ---- model ----------------------------------------------------------------------------------

/// A parsed `ksml-runner.yaml`.
#[derive(Debug, Clone, PartialEq)]
pub struct RunnerConfig {
    /// The file name used in diagnostics.
    pub file: String,
    pub ksml: KsmlConfig,
    /// Kafka client / Streams properties, in file order. Every value is text: YAML numbers
    /// keep their written form, YAML booleans become `true` / `false`.
    pub kafka: IndexMap<String, String>,
}

/// The `ksml` section.
#[derive(Debug, Clone, PartialEq)]
pub struct KsmlConfig {
    /// Where definition files are; default: the runner file's directory.
    pub config_directory: Option<Spanned<String>>,
    /// Where schema files (`.avsc`, `.csv`, `.xsd`, `.json`, `.proto`) are; default: the
    /// runner file's directory.
    pub schema_directory: Option<Spanned<String>>,
    /// Where state stores live; default: [`DEFAULT_STORAGE_DIRECTORY`] in the runner file's
    /// directory.
    pub storage_directory: Option<Spanned<String>>,
    /// Create the storage directory when it does not exist (default false).
    pub create_storage_directory: bool,
    /// Run the producers of the definitions (default true).
    pub enable_producers: bool,
    /// Run the pipelines of the definitions (default true).
    pub enable_pipelines: bool,
    /// Namespace → definition, in file order. Never empty in a config without errors.
    pub definitions: IndexMap<String, DefinitionSource>,
    pub application_server: ApplicationServer,
    pub prometheus: Prometheus,
    pub error_handling: ErrorHandling,
    /// Registry name → its client configuration.
    pub schema_registries: IndexMap<String, IndexMap<String, String>>,
    /// Notation name (as used in type strings, e.g. `avro`) → its configuration.
    pub notations: IndexMap<String, NotationConfig>,
    pub python_context: PythonContext,
}

impl Default for KsmlConfig {
    fn default() -> Self {
        KsmlConfig {
            config_directory: None,
            schema_directory: None,
            storage_directory: None,
            create_storage_directory: false,
            enable_producers: true,
            enable_pipelines: true,
            definitions: IndexMap::new(),
            application_server: ApplicationServer::default(),
            prometheus: Prometheus::default(),
            error_handling: ErrorHandling::default(),
            schema_registries: IndexMap::new(),
            notations: IndexMap::new(),
            python_context: PythonContext::default(),
        }
    }
}

/// One entry of `ksml.definitions`.
#[derive(Debug, Clone, PartialEq)]
pub enum DefinitionSource {
    /// A definition file, relative to the config directory (see [`RunnerConfig::definition_path`]).
    File(Spanned<String>),
    /// A definition written inline in the runner config: its YAML node, spans in the runner
    /// file. Parse it with [`parse_inline_definition`].
    Inline(Node),
}

/// `ksml.applicationServer`: the REST API for state-store queries and health checks.
#[derive(Debug, Clone, PartialEq)]
pub struct ApplicationServer {
    pub enabled: bool,
    pub host: String,
    pub port: u16,
}

impl Default for ApplicationServer {
    fn default() -> Self {
        ApplicationServer { enabled: false, host: "0.0.0.0".into(), port: 8080 }
    }
}

/// `ksml.prometheus`: the metrics endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct Prometheus {
    pub enabled: bool,
    pub host: String,
    pub port: u16,
    /// JMX-exporter style rules file; `None`: the built-in rules.
    pub config_file: Option<Spanned<String>>,
}

impl Default for Prometheus {
    fn default() -> Self {
        Prometheus { enabled: false, host: "0.0.0.0".into(), port: 9999, config_file: None }
    }
}

/// `ksml.errorHandling`.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorHandling {
    /// Deserialization errors.
    pub consume: ErrorTypeHandling,
    /// Errors in pipeline functions.
    pub process: ErrorTypeHandling,
    /// Serialization and send errors.
    pub produce: ErrorTypeHandling,
}

impl Default for ErrorHandling {
    fn default() -> Self {
        ErrorHandling {
            consume: ErrorTypeHandling::new("ConsumeError"),
            process: ErrorTypeHandling::new("ProcessError"),
            produce: ErrorTypeHandling::new("ProduceError"),
        }
    }
}

/// How one kind of error is handled.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorTypeHandling {
    /// Log the error (default true).
    pub log: bool,
    /// Include the offending payload in the log (default false; masked otherwise).
    pub log_payload: bool,
    pub logger_name: String,
    pub handler: Handler,
    /// Weir's addition: a topic that receives each failing record (its original bytes, with
    /// the error in headers), whatever the handler decides next.
    pub dead_letter_topic: Option<String>,
}

impl ErrorTypeHandling {
    /// The defaults, with the given logger name.
    pub fn new(logger_name: &str) -> Self {
        ErrorTypeHandling {
            log: true,
            log_payload: false,
            logger_name: logger_name.into(),
            handler: Handler::StopOnFail,
            dead_letter_topic: None,
        }
    }
}

/// What happens after an error has been logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Handler {
    /// Stop the application (the default).
    #[default]
    StopOnFail,
    /// Skip the record and go on.
    ContinueOnFail,
    /// Try again; KSML supports this only for produce errors.
    RetryOnFail,
}

impl Handler {
    pub const ALL: [Handler; 3] = [Handler::StopOnFail, Handler::ContinueOnFail, Handler::RetryOnFail];

    /// The name as written in the config.
    pub fn name(self) -> &'static str {
        match self {
            Handler::StopOnFail => "stopOnFail",
            Handler::ContinueOnFail => "continueOnFail",
            Handler::RetryOnFail => "retryOnFail",
        }
    }

    pub fn from_name(name: &str) -> Option<Handler> {
        Handler::ALL.into_iter().find(|h| h.name() == name)
    }
}

/// Names of [`Handler`] values, for the shape tables.
pub const HANDLER_NAMES: &[&str] = &["stopOnFail", "continueOnFail", "retryOnFail"];

/// `ksml.notations.<name>`: registers a notation under `<name>`.
#[derive(Debug, Clone, PartialEq)]
pub struct NotationConfig {
    pub type_: NotationType,
    /// Name of an entry in `ksml.schemaRegistries`.
    pub schema_registry: Option<String>,
    /// Serde properties, on top of the Kafka properties and the registry's.
    pub config: IndexMap<String, String>,
}

/// The notation implementations a runner config can configure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotationType {
    ApicurioAvro,
    ConfluentAvro,
    ApicurioJsonSchema,
    ApicurioProtobuf,
    Csv,
    Xml,
    Json,
    Binary,
}

impl NotationType {
    pub const ALL: [NotationType; 8] = [
        NotationType::ApicurioAvro,
        NotationType::ConfluentAvro,
        NotationType::ApicurioJsonSchema,
        NotationType::ApicurioProtobuf,
        NotationType::Csv,
        NotationType::Xml,
        NotationType::Json,
        NotationType::Binary,
    ];

    /// The name as written in the config.
    pub fn name(self) -> &'static str {
        match self {
            NotationType::ApicurioAvro => "apicurio_avro",
            NotationType::ConfluentAvro => "confluent_avro",
            NotationType::ApicurioJsonSchema => "apicurio_jsonschema",
            NotationType::ApicurioProtobuf => "apicurio_protobuf",
            NotationType::Csv => "csv",
            NotationType::Xml => "xml",
            NotationType::Json => "json",
            NotationType::Binary => "binary",
        }
    }

    pub fn from_name(name: &str) -> Option<NotationType> {
        NotationType::ALL.into_iter().find(|t| t.name() == name)
    }
}

/// Names of [`NotationType`] values, for the shape tables.
pub const NOTATION_TYPE_NAMES: &[&str] =
    &["apicurio_avro", "confluent_avro", "apicurio_jsonschema", "apicurio_protobuf", "csv", "xml", "json", "binary"];

/// `ksml.pythonContext`: what Python code may do. Everything is off by default.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PythonContext {
    pub allow_host_file_access: bool,
    pub allow_host_socket_access: bool,
    pub allow_native_access: bool,
    pub allow_create_process: bool,
    pub allow_create_thread: bool,
    pub inherit_environment_variables: bool,
    /// Directory of user Python modules, put first on `sys.path`.
    pub module_path: Option<Spanned<String>>,
}

/// The state directory used when `storageDirectory` is not set, relative to the runner
/// file's directory. KSML uses the working directory itself, which scatters Kafka Streams
/// state next to the user's files; a dedicated, hidden subdirectory is easier to find,
/// ignore and delete.
pub const DEFAULT_STORAGE_DIRECTORY: &str = ".weir-state";

/// The directory relative paths of a runner file resolve against: the file's directory.
pub fn base_dir_of(runner_file: &Path) -> PathBuf {
    match runner_file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn resolve(base: &Path, path: Option<&Spanned<String>>) -> Option<PathBuf> {
    path.map(|p| base.join(&p.value))
}

impl RunnerConfig {
    /// The directory definition files are read from: `configDirectory` resolved against
    /// `base_dir` (the runner file's directory, see [`base_dir_of`]), or `base_dir` itself.
    ///
    /// KSML's default is the process's working directory; Weir uses the runner file's
    /// directory so that `weir run path/to/ksml-runner.yaml` works from anywhere. In KSML's
    /// Docker usage (`/ksml` is both the working directory and where the runner file is
    /// mounted) the two coincide.
    pub fn config_directory(&self, base_dir: &Path) -> PathBuf {
        resolve(base_dir, self.ksml.config_directory.as_ref()).unwrap_or_else(|| base_dir.to_path_buf())
    }

    /// The directory schema files are read from: `schemaDirectory` resolved against
    /// `base_dir`, or `base_dir` itself (KSML: the working directory).
    pub fn schema_directory(&self, base_dir: &Path) -> PathBuf {
        resolve(base_dir, self.ksml.schema_directory.as_ref()).unwrap_or_else(|| base_dir.to_path_buf())
    }

    /// The state directory: `storageDirectory` resolved against `base_dir`, or
    /// `base_dir/`[`DEFAULT_STORAGE_DIRECTORY`].
    pub fn storage_directory(&self, base_dir: &Path) -> PathBuf {
        resolve(base_dir, self.ksml.storage_directory.as_ref()).unwrap_or_else(|| base_dir.join(DEFAULT_STORAGE_DIRECTORY))
    }

    /// The file of the definition registered under `namespace`, resolved against the config
    /// directory (absolute paths stay as they are). `None` for an inline definition or an
    /// unknown namespace.
    pub fn definition_path(&self, base_dir: &Path, namespace: &str) -> Option<PathBuf> {
        match self.ksml.definitions.get(namespace)? {
            DefinitionSource::File(file) => Some(self.config_directory(base_dir).join(&file.value)),
            DefinitionSource::Inline(_) => None,
        }
    }

    /// `pythonContext.modulePath` resolved against `base_dir`.
    pub fn module_path(&self, base_dir: &Path) -> Option<PathBuf> {
        resolve(base_dir, self.ksml.python_context.module_path.as_ref())
    }

    /// `prometheus.configFile` resolved against `base_dir`.
    pub fn prometheus_config_file(&self, base_dir: &Path) -> Option<PathBuf> {
        resolve(base_dir, self.ksml.prometheus.config_file.as_ref())
    }

    /// The configured notation names, for [`crate::parse_definition`]'s `notations`.
    pub fn notation_names(&self) -> Vec<String> {
        self.ksml.notations.keys().cloned().collect()
    }

    /// The serde properties of a configured notation (name compared case-insensitively, as
    /// KSML does): the `kafka` properties, overridden by the referenced schema registry's
    /// `config`, overridden by the notation's own `config`.
    pub fn notation_serde_config(&self, notation: &str) -> Option<IndexMap<String, String>> {
        let (_, n) = self.ksml.notations.iter().find(|(name, _)| name.eq_ignore_ascii_case(notation))?;
        let mut out = self.kafka.clone();
        if let Some(registry) = n.schema_registry.as_ref().and_then(|r| self.ksml.schema_registries.get(r)) {
            out.extend(registry.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        out.extend(n.config.iter().map(|(k, v)| (k.clone(), v.clone())));
        Some(out)
    }
}

// ---- shapes ---------------------------------------------------------------------------------

/// The root of a runner config: exactly `ksml` and `kafka`.
pub static RUNNER: Shape = Shape {
    name: "runnerConfig",
    doc: "A KSML runner configuration (ksml-runner.yaml)",
    fields: &[
        req("ksml", Kind::Obj(&KSML), "Which definitions to run and how"),
        req("kafka", Kind::ScalarMap, "Kafka client and Kafka Streams properties; 'application.id' and 'bootstrap.servers' are required"),
    ],
};

/// The well-known keys of the `kafka` section. The section is open: any other Kafka
/// property is allowed too, so it is read as a [`Kind::ScalarMap`] and these two keys are
/// checked separately.
pub static KAFKA: Shape = Shape {
    name: "kafkaConfig",
    doc: "Kafka client and Kafka Streams properties (any Kafka property is allowed)",
    fields: &[
        req("application.id", Kind::Scalar, "Kafka Streams application id: consumer group, changelog topic prefix, client id prefix"),
        req("bootstrap.servers", Kind::Scalar, "Brokers to connect to first, as 'host1:port1,host2:port2'"),
    ],
};

/// The `ksml` section.
pub static KSML: Shape = Shape {
    name: "ksmlConfig",
    doc: "Where the KSML definitions and schemas are, and how they are run",
    fields: &[
        opt("configDirectory", Kind::Str, "Directory of the definition files (default: the runner file's directory)"),
        opt("schemaDirectory", Kind::Str, "Directory of the schema files (default: the runner file's directory)"),
        opt("storageDirectory", Kind::Str, "Directory of the state stores (default: '.weir-state' next to the runner file)"),
        opt("createStorageDirectory", Kind::Bool, "Create the storage directory if it does not exist (default false)"),
        opt("enableProducers", Kind::Bool, "Run the producers of the definitions (default true)"),
        opt("enablePipelines", Kind::Bool, "Run the pipelines of the definitions (default true)"),
        req("definitions", Kind::Definitions, "Namespace → definition file (relative to configDirectory) or inline definition"),
        opt("applicationServer", Kind::Obj(&APPLICATION_SERVER), "REST API for state-store queries and health checks"),
        opt("prometheus", Kind::Obj(&PROMETHEUS), "Prometheus metrics endpoint"),
        opt("errorHandling", Kind::Obj(&ERROR_HANDLING), "How consume, process and produce errors are handled"),
        opt("schemaRegistries", Kind::MapOf(&SCHEMA_REGISTRY), "Named schema registry connections, used by notations"),
        opt("notations", Kind::MapOf(&NOTATION), "Named notations (data formats), usable in type strings"),
        opt("pythonContext", Kind::Obj(&PYTHON_CONTEXT), "What Python code may do"),
    ],
};

/// `ksml.applicationServer`. KSML's generated schema marks `enabled` as required, but its
/// runner does not enforce it (default false); neither does Weir.
pub static APPLICATION_SERVER: Shape = Shape {
    name: "applicationServer",
    doc: "REST API for state-store queries and health checks",
    fields: &[
        opt("enabled", Kind::Bool, "Start the REST API (default false)"),
        opt("host", Kind::Str, "Address to listen on (default '0.0.0.0')"),
        opt("port", Kind::Int, "Port to listen on, 1..65535 (default 8080)"),
    ],
};

/// `ksml.prometheus`. As for [`APPLICATION_SERVER`], `enabled` is optional.
pub static PROMETHEUS: Shape = Shape {
    name: "prometheus",
    doc: "Prometheus metrics endpoint",
    fields: &[
        opt("enabled", Kind::Bool, "Start the metrics endpoint (default false)"),
        opt("host", Kind::Str, "Address to listen on (default '0.0.0.0')"),
        opt("port", Kind::Int, "Port to listen on, 1..65535 (default 9999)"),
        opt("configFile", Kind::Str, "Prometheus JMX-exporter rules file (default: built-in rules)"),
    ],
};

/// `ksml.errorHandling`.
pub static ERROR_HANDLING: Shape = Shape {
    name: "errorHandling",
    doc: "How consume, process and produce errors are handled",
    fields: &[
        opt("consume", Kind::Obj(&ERROR_TYPE_HANDLING), "Deserialization errors (default logger name 'ConsumeError')"),
        opt("process", Kind::Obj(&ERROR_TYPE_HANDLING), "Errors in pipeline functions (default logger name 'ProcessError')"),
        opt("produce", Kind::Obj(&ERROR_TYPE_HANDLING), "Serialization and send errors (default logger name 'ProduceError')"),
    ],
};

/// `ksml.errorHandling.{consume,process,produce}`.
pub static ERROR_TYPE_HANDLING: Shape = Shape {
    name: "errorTypeHandling",
    doc: "How one kind of error is handled",
    fields: &[
        opt("log", Kind::Bool, "Log the error (default true)"),
        opt("logPayload", Kind::Bool, "Include the offending payload in the log (default false)"),
        opt("loggerName", Kind::Str, "Logger the error is logged to"),
        opt("handler", Kind::Enum(HANDLER_NAMES), "What happens next: stopOnFail (default), continueOnFail or retryOnFail"),
        opt("deadLetterTopic", Kind::Str, "(Weir) Topic receiving each failing record, with the error in its headers"),
    ],
};

/// `ksml.schemaRegistries.<name>`.
pub static SCHEMA_REGISTRY: Shape = Shape {
    name: "schemaRegistry",
    doc: "A schema registry connection",
    fields: &[opt("config", Kind::ScalarMap, "Registry client properties: URL, TLS, authentication")],
};

/// `ksml.notations.<name>`.
pub static NOTATION: Shape = Shape {
    name: "notation",
    doc: "A notation (data format) registered under the map key",
    fields: &[
        req("type", Kind::Enum(NOTATION_TYPE_NAMES), "The implementation"),
        opt("schemaRegistry", Kind::Str, "Name of the schema registry (in schemaRegistries) to use"),
        opt("config", Kind::ScalarMap, "Serde properties, on top of the Kafka and registry properties"),
    ],
};

/// `ksml.pythonContext`.
pub static PYTHON_CONTEXT: Shape = Shape {
    name: "pythonContext",
    doc: "What Python code may do (everything is off by default)",
    fields: &[
        opt("allowHostFileAccess", Kind::Bool, "Access the host file system (default false)"),
        opt("allowHostSocketAccess", Kind::Bool, "Open network sockets (default false)"),
        opt("allowNativeAccess", Kind::Bool, "Use native code (default false)"),
        opt("allowCreateProcess", Kind::Bool, "Start processes (default false)"),
        opt("allowCreateThread", Kind::Bool, "Start threads (default false)"),
        opt("inheritEnvironmentVariables", Kind::Bool, "See the process's environment variables (default false)"),
        opt("modulePath", Kind::Str, "Directory of user Python modules, first on sys.path"),
    ],
};

/// Keys users are known to write by mistake, with a hint better than edit distance finds.
/// (shape name, wrong key, hint)
const MISNAMED_KEYS: &[(&str, &str, &str)] = &[
    (
        "pythonContext",
        "pythonModulePath",
        "did you mean 'modulePath'? (KSML's documentation says 'pythonModulePath', but the key is 'modulePath')",
    ),
    (
        "ksmlConfig",
        "pythonModulePath",
        "did you mean 'modulePath' under 'pythonContext'? (KSML's documentation says 'pythonModulePath', but the key is 'pythonContext.modulePath')",
    ),
    ("ksmlConfig", "modulePath", "'modulePath' belongs under 'pythonContext'"),
];

// ---- parsing --------------------------------------------------------------------------------

/// `true` when `root` looks like a runner config (it has a top-level `ksml` key) rather than
/// a KSML definition.
pub fn is_runner_config(root: &Node) -> bool {
    root.get("ksml").is_some()
}

/// Parses and validates a runner config, substituting `${VAR}` from the process environment.
///
/// `file` is the name used in diagnostics. Returns the config when the file is a YAML
/// mapping (missing or bad parts take their defaults), and every problem found, sorted by
/// position; the config is only fit to run when no diagnostic is an error.
pub fn parse_runner_config(file: &str, text: &str) -> (Option<RunnerConfig>, Vec<Diagnostic>) {
    parse_runner_config_with_env(file, text, &|name| std::env::var(name).ok())
}

/// [`parse_runner_config`] with an explicit environment: `env(name)` returns the value of
/// variable `name`, or `None` when it is not set.
pub fn parse_runner_config_with_env(
    file: &str,
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> (Option<RunnerConfig>, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let Some(mut root) = yaml::parse(file, text, &mut diags) else {
        return (None, diags);
    };
    let mut subst = Subst { file, source: text, env, diags: Vec::new() };
    subst.node(&mut root, "");
    diags.append(&mut subst.diags);
    let mut cx = Cx::new(file, &[]);
    let config = runner_config(&mut cx, &root);
    diags.append(&mut cx.diags);
    diags.sort_by_key(|d| d.span.map(|s| (s.line, s.col)));
    (config, diags)
}

/// Parses an inline definition (a [`DefinitionSource::Inline`] node) like
/// [`crate::parse_definition`] parses a file. `file` is the runner file's name (the node's
/// spans point into it); diagnostic paths are prefixed with `ksml.definitions.<namespace>`.
pub fn parse_inline_definition(file: &str, namespace: &str, node: &Node, notations: &[String]) -> (Definition, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let def = crate::definition_from_node(file, namespace, node, notations, &mut diags);
    let prefix = format!("ksml.definitions.{namespace}");
    for d in &mut diags {
        d.path = join_path(&prefix, &d.path);
    }
    (def, diags)
}

fn warning(file: &str, span: Span, path: &str, message: impl Into<String>, hint: Option<String>) -> Diagnostic {
    let mut d = Diagnostic::warning(file, Some(span), path, message);
    d.hint = hint;
    d
}

fn runner_config(cx: &mut Cx, root: &Node) -> Option<RunnerConfig> {
    let obj = checked(cx, root, "", &RUNNER, "the runner config")?;
    let ksml = obj.get("ksml").map(|n| ksml_config(cx, n, "ksml")).unwrap_or_default();
    let kafka = obj.get("kafka").map(|n| kafka_config(cx, n, "kafka")).unwrap_or_default();
    Some(RunnerConfig { file: cx.file.to_string(), ksml, kafka })
}

/// [`Cx::obj`], with better hints for known mistakes: keys from KSML's docs that KSML
/// rejects, and keys put at the wrong level of the file.
fn checked<'n, 'p>(cx: &mut Cx, node: &'n Node, path: &'p str, shape: &'static Shape, what: &str) -> Option<Obj<'n, 'p>> {
    let first = cx.diags.len();
    let obj = cx.obj(node, path, shape, what)?;
    for (key, _) in node.as_map().unwrap_or_default() {
        if shape.field(&key.text).is_some() {
            continue;
        }
        let known = MISNAMED_KEYS.iter().find(|(s, k, _)| *s == shape.name && *k == key.text).map(|(_, _, h)| h.to_string());
        let hint = known.or_else(|| misplaced_hint(shape, &key.text));
        if let Some(hint) = hint
            && let Some(d) = cx.diags[first..].iter_mut().find(|d| d.span == Some(key.span))
        {
            d.hint = Some(hint);
        }
    }
    Some(obj)
}

/// A hint for a key that belongs elsewhere: `ksml` keys or Kafka properties at the root,
/// Kafka properties under `ksml`.
fn misplaced_hint(shape: &Shape, key: &str) -> Option<String> {
    if shape.name == RUNNER.name && KSML.field(key).is_some() {
        return Some(format!("'{key}' belongs under 'ksml'"));
    }
    if (shape.name == RUNNER.name || shape.name == KSML.name) && key.contains('.') && !key.starts_with('.') {
        return Some(format!("'{key}' looks like a Kafka property; Kafka properties belong under 'kafka'"));
    }
    None
}

/// An optional section: absent or null (`prometheus:` with nothing under it) means defaults.
fn section<'n, 'p>(cx: &mut Cx, parent: &Obj<'n, '_>, key: &str, path: &'p str, shape: &'static Shape) -> Option<Obj<'n, 'p>> {
    let node = parent.get(key)?;
    if node.is_null() {
        return None;
    }
    checked(cx, node, path, shape, &format!("'{key}'"))
}

fn ksml_config(cx: &mut Cx, node: &Node, path: &str) -> KsmlConfig {
    let mut k = KsmlConfig::default();
    let Some(obj) = checked(cx, node, path, &KSML, "'ksml'") else { return k };
    k.config_directory = non_blank(cx, &obj, "configDirectory");
    k.schema_directory = non_blank(cx, &obj, "schemaDirectory");
    k.storage_directory = non_blank(cx, &obj, "storageDirectory");
    k.create_storage_directory = cx.bool(&obj, "createStorageDirectory").unwrap_or(false);
    k.enable_producers = cx.bool(&obj, "enableProducers").unwrap_or(true);
    k.enable_pipelines = cx.bool(&obj, "enablePipelines").unwrap_or(true);
    k.definitions = definitions(cx, &obj);

    let p = obj.path_of("applicationServer");
    if let Some(o) = section(cx, &obj, "applicationServer", &p, &APPLICATION_SERVER) {
        let a = &mut k.application_server;
        a.enabled = cx.bool(&o, "enabled").unwrap_or(a.enabled);
        if let Some(h) = non_blank(cx, &o, "host") {
            a.host = h.value;
        }
        a.port = port(cx, &o, "port").unwrap_or(a.port);
    }
    let p = obj.path_of("prometheus");
    if let Some(o) = section(cx, &obj, "prometheus", &p, &PROMETHEUS) {
        let m = &mut k.prometheus;
        m.enabled = cx.bool(&o, "enabled").unwrap_or(m.enabled);
        if let Some(h) = non_blank(cx, &o, "host") {
            m.host = h.value;
        }
        m.port = port(cx, &o, "port").unwrap_or(m.port);
        m.config_file = non_blank(cx, &o, "configFile");
    }
    let p = obj.path_of("errorHandling");
    if let Some(o) = section(cx, &obj, "errorHandling", &p, &ERROR_HANDLING) {
        let e = &mut k.error_handling;
        for (key, slot) in [("consume", &mut e.consume), ("process", &mut e.process), ("produce", &mut e.produce)] {
            error_type_handling(cx, &o, key, slot);
        }
    }
    if let Some(node) = obj.get("schemaRegistries") {
        let p = obj.path_of("schemaRegistries");
        for (name, node) in cx.entries(node, &p, "'schemaRegistries'") {
            let p = join_path(&p, &name.value);
            let what = format!("schema registry '{}'", name.value);
            let checked = if node.is_null() { None } else { checked(cx, node, &p, &SCHEMA_REGISTRY, &what) };
            let config = checked.and_then(|o| o.get("config").map(|c| scalar_map(cx, c, &o.path_of("config")))).unwrap_or_default();
            k.schema_registries.insert(name.value, config);
        }
    }
    if let Some(node) = obj.get("notations") {
        let p = obj.path_of("notations");
        for (name, node) in cx.entries(node, &p, "'notations'") {
            let p = join_path(&p, &name.value);
            if let Some(n) = notation(cx, &name.value, node, &p, &k.schema_registries) {
                k.notations.insert(name.value, n);
            }
        }
    }
    let p = obj.path_of("pythonContext");
    if let Some(o) = section(cx, &obj, "pythonContext", &p, &PYTHON_CONTEXT) {
        let py = &mut k.python_context;
        py.allow_host_file_access = cx.bool(&o, "allowHostFileAccess").unwrap_or(false);
        py.allow_host_socket_access = cx.bool(&o, "allowHostSocketAccess").unwrap_or(false);
        py.allow_native_access = cx.bool(&o, "allowNativeAccess").unwrap_or(false);
        py.allow_create_process = cx.bool(&o, "allowCreateProcess").unwrap_or(false);
        py.allow_create_thread = cx.bool(&o, "allowCreateThread").unwrap_or(false);
        py.inherit_environment_variables = cx.bool(&o, "inheritEnvironmentVariables").unwrap_or(false);
        py.module_path = non_blank(cx, &o, "modulePath");
    }
    k
}

/// A string that must not be blank.
fn non_blank(cx: &mut Cx, obj: &Obj, key: &str) -> Option<Spanned<String>> {
    let s = cx.string(obj, key)?;
    if s.value.trim().is_empty() {
        cx.error(s.span, &obj.path_of(key), format!("'{key}' must not be empty"));
        return None;
    }
    Some(s)
}

fn port(cx: &mut Cx, obj: &Obj, key: &str) -> Option<u16> {
    let node = obj.get(key)?;
    let path = obj.path_of(key);
    let text = node.scalar().filter(|_| !node.is_null() && !matches!(node.value, Value::Scalar(_, Style::Block)));
    match text.and_then(|t| t.trim().parse::<i64>().ok()) {
        Some(n) if (1..=65535).contains(&n) => u16::try_from(n).ok(),
        Some(n) => {
            cx.error(node.span, &path, format!("'{key}' must be between 1 and 65535, found {n}"));
            None
        }
        None => {
            let found = text.map_or_else(|| node.describe().to_string(), |t| format!("'{t}'"));
            cx.error(node.span, &path, format!("'{key}' must be a port number between 1 and 65535, found {found}"));
            None
        }
    }
}

/// Reads an enum value; an unknown one is an error whose hint lists the allowed values.
fn enum_value<T: Copy>(
    cx: &mut Cx,
    obj: &Obj,
    key: &str,
    what: &str,
    names: &[&'static str],
    from_name: fn(&str) -> Option<T>,
    extra_hint: fn(&str) -> Option<String>,
) -> Option<Spanned<T>> {
    let node = obj.get(key)?;
    let path = obj.path_of(key);
    let text = cx.string_node(node, &path)?;
    if let Some(v) = from_name(&text.value) {
        return Some(Spanned::new(v, text.span));
    }
    let allowed = format!("{what} is one of: {}", names.join(", "));
    let hint = match extra_hint(&text.value).or_else(|| did_you_mean(&text.value, names.iter().copied())) {
        Some(h) => format!("{h} ({allowed})"),
        None => allowed,
    };
    cx.error_hint(text.span, &path, format!("unknown {what} '{}'", text.value), Some(hint));
    None
}

fn no_hint(_: &str) -> Option<String> {
    None
}

/// Hints for notation types: a bare notation name (`avro`) lists the implementations of it,
/// and Confluent JSON Schema / Protobuf (present in KSML's code but not loadable) point to
/// the Apicurio ones.
fn notation_type_hint(value: &str) -> Option<String> {
    if let Some(rest) = value.strip_prefix("confluent_")
        && matches!(rest, "jsonschema" | "protobuf")
    {
        return Some(format!("KSML cannot load '{value}'; use 'apicurio_{rest}'"));
    }
    let suffix = format!("_{}", value.to_lowercase());
    let matches: Vec<String> = NOTATION_TYPE_NAMES.iter().filter(|n| n.ends_with(&suffix)).map(|n| format!("'{n}'")).collect();
    match matches.len() {
        0 => None,
        _ => Some(format!("did you mean {}?", matches.join(" or "))),
    }
}

fn error_type_handling(cx: &mut Cx, parent: &Obj, key: &str, slot: &mut ErrorTypeHandling) {
    let path = parent.path_of(key);
    let Some(o) = section(cx, parent, key, &path, &ERROR_TYPE_HANDLING) else { return };
    slot.log = cx.bool(&o, "log").unwrap_or(slot.log);
    slot.log_payload = cx.bool(&o, "logPayload").unwrap_or(slot.log_payload);
    if let Some(name) = non_blank(cx, &o, "loggerName") {
        slot.logger_name = name.value;
    }
    if let Some(h) = enum_value(cx, &o, "handler", "error handler", HANDLER_NAMES, Handler::from_name, no_hint) {
        slot.handler = h.value;
        if h.value == Handler::RetryOnFail && key == "consume" {
            cx.diags.push(warning(
                cx.file,
                h.span,
                &o.path_of("handler"),
                "'retryOnFail' cannot help a record that does not decode: it is handled as 'stopOnFail'",
                Some("use 'continueOnFail' (with a 'deadLetterTopic') to skip such records".into()),
            ));
        }
    }
    slot.dead_letter_topic = non_blank(cx, &o, "deadLetterTopic").map(|t| t.value);
}

fn notation(
    cx: &mut Cx,
    name: &str,
    node: &Node,
    path: &str,
    registries: &IndexMap<String, IndexMap<String, String>>,
) -> Option<NotationConfig> {
    let o = checked(cx, node, path, &NOTATION, &format!("notation '{name}'"))?;
    let type_ = enum_value(cx, &o, "type", "notation type", NOTATION_TYPE_NAMES, NotationType::from_name, notation_type_hint);
    let schema_registry = non_blank(cx, &o, "schemaRegistry");
    if let Some(r) = &schema_registry
        && !registries.contains_key(&r.value)
    {
        let hint = did_you_mean(&r.value, registries.keys().map(String::as_str))
            .unwrap_or_else(|| "define it under 'ksml.schemaRegistries'".to_string());
        cx.diags.push(warning(
            cx.file,
            r.span,
            &o.path_of("schemaRegistry"),
            format!("notation '{name}' uses schema registry '{}', which is not defined in 'schemaRegistries'", r.value),
            Some(hint),
        ));
    }
    let config = o.get("config").map(|c| scalar_map(cx, c, &o.path_of("config"))).unwrap_or_default();
    Some(NotationConfig { type_: type_?.value, schema_registry: schema_registry.map(|r| r.value), config })
}

fn definitions(cx: &mut Cx, obj: &Obj) -> IndexMap<String, DefinitionSource> {
    let mut out = IndexMap::new();
    let Some(node) = obj.get("definitions") else { return out };
    let path = obj.path_of("definitions");
    let example = "list them as '<namespace>: <file>', e.g. 'my_app: my-app.yaml'";
    let entries = match node.as_map() {
        Some(entries) => entries,
        None if node.is_null() => &[],
        None => {
            cx.error_hint(
                node.span,
                &path,
                format!("'definitions' must be a mapping of namespaces to definitions, found {}", node.describe()),
                Some(example.into()),
            );
            return out;
        }
    };
    if entries.is_empty() {
        // Point at the key: an empty or null value has no useful position of its own.
        let key_span = obj.node.as_map().unwrap_or_default().iter().find(|(k, _)| k.text == "definitions").map(|(k, _)| k.span);
        cx.error_hint(key_span.unwrap_or(node.span), &path, "'definitions' is empty: there is nothing to run", Some(example.into()));
    }
    for (key, value) in entries {
        let p = join_path(&path, &key.text);
        if key.text.trim().is_empty() {
            cx.error(key.span, &p, "a definition's namespace must not be empty");
            continue;
        }
        let source = match &value.value {
            Value::Map(_) => DefinitionSource::Inline(value.clone()),
            Value::Scalar(text, _) if !value.is_null() => {
                if text.trim().is_empty() {
                    cx.error(value.span, &p, format!("the definition file of namespace '{}' is empty", key.text));
                    continue;
                }
                DefinitionSource::File(Spanned::new(text.clone(), value.span))
            }
            _ => {
                cx.error_hint(
                    value.span,
                    &p,
                    format!(
                        "namespace '{}' must name a definition file or hold an inline definition, found {}",
                        key.text,
                        value.describe()
                    ),
                    Some(example.into()),
                );
                continue;
            }
        };
        out.insert(key.text.clone(), source);
    }
    out
}

/// A map of property names to scalars; every value becomes text.
fn scalar_map(cx: &mut Cx, node: &Node, path: &str) -> IndexMap<String, String> {
    let mut out = IndexMap::new();
    if node.is_null() {
        return out;
    }
    let Some(entries) = node.as_map() else {
        cx.error(node.span, path, format!("'{path}' must be a mapping of property names to values, found {}", node.describe()));
        return out;
    };
    for (key, value) in entries {
        let p = join_path(path, &key.text);
        match &value.value {
            Value::Scalar(..) if value.is_null() => {
                cx.error_hint(value.span, &p, format!("property '{}' has no value", key.text), Some("write an empty value as \"\"".into()))
            }
            Value::Scalar(text, _) => {
                let text = match value.as_bool() {
                    Some(b) => b.to_string(),
                    None => text.clone(),
                };
                out.insert(key.text.clone(), text);
            }
            Value::Map(_) => cx.error_hint(
                value.span,
                &p,
                format!("property '{}' must be a string, number or boolean, found a mapping", key.text),
                Some(format!("write property names flat, with dots: '{}.<name>: <value>'", key.text)),
            ),
            Value::Seq(_) => cx.error_hint(
                value.span,
                &p,
                format!("property '{}' must be a string, number or boolean, found a list", key.text),
                Some("write list values as one comma-separated string: 'a,b,c'".into()),
            ),
        }
    }
    out
}

fn kafka_config(cx: &mut Cx, node: &Node, path: &str) -> IndexMap<String, String> {
    let map = scalar_map(cx, node, path);
    if node.as_map().is_none() && !node.is_null() {
        return map;
    }
    for field in KAFKA.fields.iter().filter(|f| f.required) {
        let key = field.key;
        match node.get(key) {
            None => {
                let keys = node.as_map().unwrap_or_default().iter().map(|(k, _)| k.text.as_str());
                let hint = crate::diag::closest(key, keys)
                    .map(|k| format!("found '{k}'; Kafka property names are written with dots: '{key}'"))
                    .unwrap_or_else(|| format!("add '{key}: …' under 'kafka'"));
                cx.error_hint(node.span, path, format!("'kafka' is missing required key '{key}'"), Some(hint));
            }
            Some(value) if map.get(key).is_some_and(|v| v.trim().is_empty()) => {
                cx.error(value.span, &join_path(path, key), format!("'{key}' must not be empty"));
            }
            Some(_) => {}
        }
    }
    map
}

// ---- environment substitution ---------------------------------------------------------------

/// An environment reference that could not be resolved: where it is in the text (in
/// characters), its length, and the variable's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsetVar {
    pub offset: usize,
    pub len: usize,
    pub name: String,
}

/// Substitutes environment variables in `text`:
///
/// - `${NAME}` → the value of `NAME` (empty if set to the empty string); unset → an
///   [`UnsetVar`];
/// - `${NAME:-default}` → the value of `NAME`, or `default` when `NAME` is unset or empty
///   (as in POSIX shells); the default runs to the first `}`;
/// - `$${` → a literal `${` (an escape, as in Docker Compose);
/// - anything else, in particular Kafka config-provider references such as `${env:NAME}` or
///   `${file:/path:key}` (whose name is not a plain `[A-Za-z_][A-Za-z0-9_]*` identifier),
///   stays as written.
///
/// Values are inserted as text after YAML parsing, so a variable can never change the
/// structure of the file. KSML documents this syntax but does not implement it; this is a
/// deliberate Weir extension.
pub fn expand_env(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, Vec<UnsetVar>> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut unset = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i..].starts_with(&['$', '$', '{']) {
            out.push_str("${");
            i += 3;
            continue;
        }
        if chars[i..].starts_with(&['$', '{'])
            && let Some(close) = chars[i + 2..].iter().position(|c| *c == '}').map(|p| i + 2 + p)
        {
            let inner: String = chars[i + 2..close].iter().collect();
            let (name, default) = match inner.find(":-") {
                Some(p) => (&inner[..p], Some(&inner[p + 2..])),
                None => (inner.as_str(), None),
            };
            if is_env_name(name) {
                match (env(name), default) {
                    (Some(v), Some(d)) if v.is_empty() => out.push_str(d),
                    (Some(v), _) => out.push_str(&v),
                    (None, Some(d)) => out.push_str(d),
                    (None, None) => unset.push(UnsetVar { offset: i, len: close + 1 - i, name: name.to_string() }),
                }
                i = close + 1;
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    if unset.is_empty() { Ok(out) } else { Err(unset) }
}

fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic()) && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// Walks the tree substituting environment variables in scalar values (never in keys, and
/// not inside inline definitions, whose values are KSML code and types, not configuration).
struct Subst<'a> {
    file: &'a str,
    source: &'a str,
    env: &'a dyn Fn(&str) -> Option<String>,
    diags: Vec<Diagnostic>,
}

impl Subst<'_> {
    fn node(&mut self, node: &mut Node, path: &str) {
        let span = node.span;
        match &mut node.value {
            Value::Scalar(text, style) => {
                if !text.contains("${") {
                    return;
                }
                match expand_env(text, self.env) {
                    Ok(new) => *text = new,
                    Err(unset) => {
                        for var in unset {
                            let span = self.var_span(span, text, *style, &var);
                            self.diags.push(
                                Diagnostic::error(self.file, Some(span), path, format!("environment variable '{}' is not set", var.name))
                                    .with_hint(format!("set it, or give a default: '${{{}:-<default>}}'", var.name)),
                            );
                        }
                    }
                }
            }
            Value::Seq(items) => {
                for (i, item) in items.iter_mut().enumerate() {
                    self.node(item, &format!("{path}[{i}]"));
                }
            }
            Value::Map(entries) => {
                for (key, value) in entries.iter_mut() {
                    if path == "ksml.definitions" && value.as_map().is_some() {
                        continue;
                    }
                    self.node(value, &join_path(path, &key.text));
                }
            }
        }
    }

    /// The span of `${…}` inside a scalar, when the scalar's text appears as written in the
    /// source (plain or quoted without escapes, on one line); the scalar's span otherwise.
    fn var_span(&self, span: Span, text: &str, style: Style, var: &UnsetVar) -> Span {
        let start = match style {
            Style::Plain => span.col,
            Style::Quoted => span.col + 1,
            Style::Block => return span,
        };
        let exact = self
            .source
            .lines()
            .nth(span.line.saturating_sub(1) as usize)
            .and_then(|line| line.chars().skip(start.saturating_sub(1) as usize).collect::<String>().starts_with(text).then_some(()))
            .is_some();
        if exact { Span::new(span.line, start + var.offset as u32, var.len as u32) } else { span }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "HOST" => Some("kafka".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn expands_variables() {
        assert_eq!(expand_env("${HOST}:9092", &env), Ok("kafka:9092".into()));
        assert_eq!(expand_env("${NOPE:-localhost:9092}", &env), Ok("localhost:9092".into()));
        assert_eq!(expand_env("${EMPTY:-x}|${EMPTY}", &env), Ok("x|".into()));
        assert_eq!(expand_env("${env:HOST} ${file:/a:b} $${HOST} ${HOST", &env), Ok("${env:HOST} ${file:/a:b} ${HOST} ${HOST".into()));
        assert_eq!(expand_env("é${NOPE}", &env), Err(vec![UnsetVar { offset: 1, len: 7, name: "NOPE".into() }]));
    }

    #[test]
    fn enum_names_match_tables() {
        for h in Handler::ALL {
            assert_eq!(Handler::from_name(h.name()), Some(h));
        }
        assert_eq!(Handler::ALL.map(Handler::name).as_slice(), HANDLER_NAMES);
        assert_eq!(NotationType::ALL.map(NotationType::name).as_slice(), NOTATION_TYPE_NAMES);
    }
}
