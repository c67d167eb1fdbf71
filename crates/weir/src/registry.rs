//! Schema registry clients over HTTP, behind the engine's [`SchemaRegistry`] port.
//!
//! [`connect`] reads a registry's settings (a runner config's `schemaRegistries.<name>.config`
//! merged with the notation's `config`, or the `kafka` section) and returns a client for one
//! of three APIs:
//!
//! | settings | API | port method → request |
//! |---|---|---|
//! | `schema.registry.url` (also Apicurio's `…/apis/ccompat/v7`) | Confluent REST | `register`: `POST /subjects/{s}/versions`; `lookup`: `POST /subjects/{s}` (404 → none); `latest`: `GET /subjects/{s}/versions/latest`; `by_id`: `GET /schemas/ids/{id}` |
//! | `apicurio.registry.url` ending in `/apis/registry/v3` (the default) | Apicurio Core v3 | `register`: `POST /groups/{g}/artifacts?ifExists=FIND_OR_CREATE_VERSION`; `lookup`: `POST /search/versions` with the content; `latest`: `GET /groups/{g}/artifacts/{s}/versions/branch=latest`; `by_id`: `GET /ids/contentIds/{id}` (+ its references, + `GET /search/versions?contentId=` for its type) |
//! | `apicurio.registry.url` containing `/apis/registry/v2`, or `apicurio.registry.url.version: 2` | Apicurio Core v2 | `register`: `POST /groups/{g}/artifacts?ifExists=RETURN_OR_UPDATE`; `lookup`: `POST /groups/{g}/artifacts/{s}/meta`; `latest`: `GET /groups/{g}/artifacts/{s}/meta`; `by_id`: as v3, with `GET /search/artifacts?contentId=` |
//!
//! Apicurio's artifact id is the subject and its group is `apicurio.registry.artifact.group-id`
//! (default `default`). The id is the content id (KSML pins Apicurio's serdes to a 4-byte content
//! id in the payload), or the global id with `apicurio.registry.use-id: globalId`.
//!
//! Like Confluent's `CachedSchemaRegistryClient`, a client caches what never changes: schemas
//! by id, and the id of each (subject, schema) it registered or looked up. `latest` always
//! asks the registry. Requests are retried on connection failures and on 408, 429, 500, 502,
//! 503 and 504 (`max.retries`, with exponential backoff from `retries.wait.ms` up to
//! `retries.max.wait.ms`), then the next URL of a comma-separated `schema.registry.url` is
//! tried; the URL that answered is used first from then on.
//!
//! Settings are honoured or refused, never ignored: a client setting Weir cannot apply (a JKS
//! trust store, OAuth, a proxy setting) is an error at startup that says what to use instead.
//! The full list is in `docs/registries.md`. `schema.registry.url: mock://<scope>` is an
//! in-process registry shared by everything naming the same scope, as Confluent's serdes do.

use std::collections::HashMap;
use std::fmt;
use std::io::Read as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use indexmap::IndexMap;
use serde_json::{Value as Json, json};
use ureq::tls::{Certificate, ClientCert, PemItem, PrivateKey, RootCerts, TlsConfig, TlsProvider};
use weir_engine::registry::{MemoryRegistry, RegistryError, RegistrySchema, SchemaKind, SchemaReference, SchemaRegistry};

/// Default time to establish a connection (`http.connect.timeout.ms`).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default time to wait for a response (`http.read.timeout.ms`).
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Confluent's media type for requests and responses.
const CONFLUENT_JSON: &str = "application/vnd.schemaregistry.v1+json";
const CONFLUENT_ACCEPT: &str = "application/vnd.schemaregistry.v1+json, application/vnd.schemaregistry+json, application/json";
/// HTTP statuses worth retrying, as Confluent's client retries them.
const RETRIABLE: [u16; 6] = [408, 429, 500, 502, 503, 504];

/// A client for the registry described by `settings` (a runner config's
/// `schemaRegistries.<name>` entry, or the `kafka` section's `schema.registry.url`). No request
/// is made yet; problems with the settings are reported here.
pub fn connect(name: &str, settings: &IndexMap<String, String>) -> Result<Arc<dyn SchemaRegistry>, String> {
    build(name, settings).map_err(|e| format!("schema registry '{name}': {e}"))
}

fn build(name: &str, settings: &IndexMap<String, String>) -> Result<Arc<dyn SchemaRegistry>, String> {
    let s = Settings(settings);
    s.refuse_unsupported()?;
    let confluent_url = s.get("schema.registry.url");
    let apicurio_url = s.get("apicurio.registry.url");
    let (namespace, raw) = match (confluent_url, apicurio_url) {
        (Some(_), Some(_)) => {
            return Err("both 'schema.registry.url' and 'apicurio.registry.url' are set; a registry entry talks to one registry, \
                        so set only one"
                .to_string());
        }
        (Some(url), None) => (Namespace::Confluent, url),
        (None, Some(url)) => (Namespace::Apicurio, url),
        (None, None) => return Err("no registry URL: set 'schema.registry.url' (Confluent's API) or 'apicurio.registry.url'".to_string()),
    };
    if let Some(scope) = raw.trim().strip_prefix("mock://") {
        return Ok(mock(scope.trim_end_matches('/')));
    }
    s.refuse_other_namespace(namespace)?;
    let key = namespace.url_key();
    let endpoints: Vec<Endpoint> = match namespace {
        Namespace::Confluent => raw.split(',').map(|u| Endpoint::parse(key, u)).collect::<Result<_, _>>()?,
        Namespace::Apicurio if raw.contains(',') => {
            return Err(format!("'{key}' takes one URL (Apicurio's client has no failover list), found '{raw}'"));
        }
        Namespace::Apicurio => vec![Endpoint::parse(key, raw)?],
    };
    let api = select_api(&s, namespace, &endpoints[0])?;
    let endpoints = match api {
        Api::Confluent => {
            for e in &endpoints {
                if e.path.contains("/apis/registry/") {
                    return Err(format!(
                        "'{key}' points at Apicurio's own API ({}); Confluent's API is Apicurio's '/apis/ccompat/v7', or set \
                         'apicurio.registry.url' to use Apicurio's API",
                        e.shown
                    ));
                }
            }
            endpoints
        }
        // A bare Apicurio URL gets the API's path (KSML 1's Apicurio client added it too).
        Api::ApicurioV2 | Api::ApicurioV3 => endpoints
            .into_iter()
            .map(|e| {
                if e.path.is_empty() {
                    e.with_path(if api == Api::ApicurioV2 { "/apis/registry/v2" } else { "/apis/registry/v3" })
                } else {
                    e
                }
            })
            .collect(),
    };
    let http = Http::new(name, &s, namespace, endpoints)?;
    let registry: Arc<dyn SchemaRegistry> = match api {
        Api::Confluent => Arc::new(HttpRegistry::new(Confluent { http, normalize: s.flag("normalize.schemas", false)? })),
        Api::ApicurioV2 | Api::ApicurioV3 => Arc::new(HttpRegistry::new(Apicurio::new(http, &s, api == Api::ApicurioV2)?)),
    };
    Ok(registry)
}

/// Confluent's `mock://` registries: one in-process registry per scope name.
fn mock(scope: &str) -> Arc<dyn SchemaRegistry> {
    static SCOPES: OnceLock<Mutex<HashMap<String, Arc<MemoryRegistry>>>> = OnceLock::new();
    let mut scopes = SCOPES.get_or_init(Default::default).lock().unwrap_or_else(|p| p.into_inner());
    let registry = scopes.entry(scope.to_string()).or_insert_with(|| Arc::new(MemoryRegistry::new()));
    Arc::clone(registry) as Arc<dyn SchemaRegistry>
}

/// Which client's settings apply: the one whose URL key is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Namespace {
    Confluent,
    Apicurio,
}

impl Namespace {
    fn url_key(self) -> &'static str {
        match self {
            Namespace::Confluent => "schema.registry.url",
            Namespace::Apicurio => "apicurio.registry.url",
        }
    }
}

/// The API a client speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Api {
    Confluent,
    ApicurioV2,
    ApicurioV3,
}

impl Api {
    fn name(self) -> &'static str {
        match self {
            Api::Confluent => "Confluent REST API",
            Api::ApicurioV2 => "Apicurio Registry API v2",
            Api::ApicurioV3 => "Apicurio Registry API v3",
        }
    }
}

/// Apicurio's rule (`apicurio.registry.url.version`, else `/apis/registry/v2` in the URL means
/// v2, anything else v3), plus: Apicurio's Confluent-compatible path speaks Confluent's API.
fn select_api(s: &Settings, namespace: Namespace, first: &Endpoint) -> Result<Api, String> {
    if namespace == Namespace::Confluent || first.path.contains("/apis/ccompat/") {
        return Ok(Api::Confluent);
    }
    match s.get("apicurio.registry.url.version").map(|v| v.trim().trim_start_matches(['v', 'V'])) {
        None | Some("") => Ok(if first.path.contains("/apis/registry/v2") { Api::ApicurioV2 } else { Api::ApicurioV3 }),
        Some(v) if v.starts_with('2') => Ok(Api::ApicurioV2),
        Some(v) if v.starts_with('3') => Ok(Api::ApicurioV3),
        Some(_) => {
            Err(format!("'apicurio.registry.url.version' must be 2 or 3, found '{}'", s.get("apicurio.registry.url.version").unwrap_or("")))
        }
    }
}

// ---- settings -------------------------------------------------------------------------------

/// A registry's settings, read key by key.
struct Settings<'a>(&'a IndexMap<String, String>);

/// Keys in the registry clients' namespaces that Weir cannot apply, with what to do instead.
/// Checked before anything else, whichever API the registry uses.
fn refusal(key: &str, value: &str) -> Option<String> {
    let convert = "Weir reads PEM files only: convert the store (keytool -exportcert -rfc, or openssl pkcs12 -nodes) and set the PEM settings listed in docs/registries.md";
    let reason = match key {
        "apicurio.auth.username" | "apicurio.auth.password" => {
            format!("was renamed in Apicurio Registry 3; use '{}' (KSML 2 refuses the old key too)", key.replace("apicurio.auth.", "apicurio.registry.auth."))
        }
        k if k.starts_with("apicurio.registry.request.ssl.") => {
            "is an Apicurio 2 client setting; use 'apicurio.registry.tls.truststore.type: PEM' with 'apicurio.registry.tls.truststore.location', \
             or 'apicurio.registry.tls.certificates'"
                .to_string()
        }
        "apicurio.registry.auth.service.token.endpoint"
        | "apicurio.registry.auth.client.id"
        | "apicurio.registry.auth.client.secret"
        | "apicurio.registry.auth.client.scope" => {
            "is OAuth, which Weir's registry client does not support; use 'apicurio.registry.auth.username' and '…password'".to_string()
        }
        k if k.starts_with("apicurio.registry.proxy.") || k == "proxy.host" || k == "proxy.port" => {
            "is not supported; Weir's registry client uses the HTTPS_PROXY / HTTP_PROXY / NO_PROXY environment variables".to_string()
        }
        "apicurio.registry.auto-register.if-exists" if value.trim().eq_ignore_ascii_case("RETURN") => {
            "'RETURN' is not a value of Apicurio Registry 3; use FIND_OR_CREATE_VERSION (KSML 2 refuses it too)".to_string()
        }
        "apicurio.registry.tls.truststore.type" | "apicurio.registry.tls.keystore.type" | "schema.registry.ssl.truststore.type" | "schema.registry.ssl.keystore.type"
            if !value.trim().eq_ignore_ascii_case("PEM") =>
        {
            format!("'{value}' stores cannot be read: {convert}")
        }
        "apicurio.registry.tls.truststore.password"
        | "apicurio.registry.tls.keystore.password"
        | "schema.registry.ssl.truststore.password"
        | "schema.registry.ssl.keystore.password"
        | "schema.registry.ssl.key.password" => {
            format!("is for JKS/PKCS12 stores or encrypted keys, which Weir cannot read: {convert} (with an unencrypted PKCS#8 key)")
        }
        "apicurio.registry.tls.verify-host" if !value.trim().eq_ignore_ascii_case("true") => {
            "cannot be turned off alone; 'apicurio.registry.tls.trust-all: true' turns off all verification (insecure)".to_string()
        }
        "schema.registry.ssl.endpoint.identification.algorithm" if !value.trim().eq_ignore_ascii_case("https") => {
            "host name verification cannot be turned off".to_string()
        }
        k if k.starts_with("schema.registry.ssl.") && !CONFLUENT_SSL_KEYS.contains(&k) => {
            format!("is not supported; the TLS settings Weir honours are {}", CONFLUENT_SSL_KEYS.join(", "))
        }
        k if k.starts_with("apicurio.registry.tls.") && !APICURIO_TLS_KEYS.contains(&k) => {
            format!("is not supported; the TLS settings Weir honours are {}", APICURIO_TLS_KEYS.join(", "))
        }
        "basic.auth.credentials.source" if !matches!(value.trim().to_ascii_uppercase().as_str(), "URL" | "USER_INFO") => {
            format!("'{value}' is not supported; use USER_INFO (with 'basic.auth.user.info: user:password') or URL")
        }
        "bearer.auth.credentials.source" if !value.trim().eq_ignore_ascii_case("STATIC_TOKEN") => {
            format!("'{value}' is not supported; use STATIC_TOKEN with 'bearer.auth.token'")
        }
        k if k.starts_with("bearer.auth.") && !BEARER_KEYS.contains(&k) => {
            "is not supported (OAuth token retrieval); use 'bearer.auth.credentials.source: STATIC_TOKEN' with 'bearer.auth.token'".to_string()
        }
        _ => return None,
    };
    Some(reason)
}

/// The `schema.registry.ssl.*` keys Weir honours (Kafka's names with a PEM store, plus
/// librdkafka's `ca.location` / `certificate.location` / `key.location`).
const CONFLUENT_SSL_KEYS: &[&str] = &[
    "schema.registry.ssl.truststore.type",
    "schema.registry.ssl.truststore.location",
    "schema.registry.ssl.truststore.certificates",
    "schema.registry.ssl.keystore.type",
    "schema.registry.ssl.keystore.location",
    "schema.registry.ssl.keystore.certificate.chain",
    "schema.registry.ssl.keystore.key",
    "schema.registry.ssl.ca.location",
    "schema.registry.ssl.certificate.location",
    "schema.registry.ssl.key.location",
    "schema.registry.ssl.protocol",
    "schema.registry.ssl.endpoint.identification.algorithm",
];

/// The `apicurio.registry.tls.*` keys Weir honours.
const APICURIO_TLS_KEYS: &[&str] = &[
    "apicurio.registry.tls.truststore.type",
    "apicurio.registry.tls.truststore.location",
    "apicurio.registry.tls.certificates",
    "apicurio.registry.tls.keystore.type",
    "apicurio.registry.tls.keystore.location",
    "apicurio.registry.tls.client-certificate",
    "apicurio.registry.tls.client-key",
    "apicurio.registry.tls.trust-all",
    "apicurio.registry.tls.verify-host",
];

const BEARER_KEYS: &[&str] =
    &["bearer.auth.credentials.source", "bearer.auth.token", "bearer.auth.logical.cluster", "bearer.auth.identity.pool.id"];

/// Keys of Confluent's client that only apply with `schema.registry.url`.
const CONFLUENT_CLIENT_PREFIXES: &[&str] = &["schema.registry.ssl.", "basic.auth.", "schema.registry.basic.auth.", "bearer.auth."];
/// Keys of Apicurio's client that only apply with `apicurio.registry.url`.
const APICURIO_CLIENT_PREFIXES: &[&str] = &["apicurio.registry.tls.", "apicurio.registry.auth."];

impl Settings<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    fn refuse_unsupported(&self) -> Result<(), String> {
        for (key, value) in self.0 {
            if let Some(reason) = refusal(key, value) {
                return Err(format!("'{key}' {reason}"));
            }
        }
        Ok(())
    }

    /// A client setting of the other API's client would be ignored: refused.
    fn refuse_other_namespace(&self, namespace: Namespace) -> Result<(), String> {
        let (other, hint) = match namespace {
            Namespace::Confluent => (APICURIO_CLIENT_PREFIXES, "basic.auth.* / schema.registry.ssl.*"),
            Namespace::Apicurio => (CONFLUENT_CLIENT_PREFIXES, "apicurio.registry.auth.* / apicurio.registry.tls.*"),
        };
        match self.0.keys().find(|k| other.iter().any(|p| k.starts_with(p))) {
            Some(key) => Err(format!(
                "'{key}' belongs to the other registry client and would be ignored with '{}'; use the {hint} settings",
                namespace.url_key()
            )),
            None => Ok(()),
        }
    }

    fn flag(&self, key: &str, default: bool) -> Result<bool, String> {
        match self.get(key).map(|v| v.trim().to_ascii_lowercase()) {
            None => Ok(default),
            Some(v) if v == "true" => Ok(true),
            Some(v) if v == "false" => Ok(false),
            Some(_) => Err(format!("'{key}' must be true or false, found '{}'", self.get(key).unwrap_or(""))),
        }
    }

    fn number(&self, key: &str, default: u64) -> Result<u64, String> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v.trim().parse().map_err(|_| format!("'{key}' must be a whole number, found '{v}'")),
        }
    }

    fn millis(&self, key: &str, default: Duration) -> Result<Duration, String> {
        let ms = self.number(key, default.as_millis() as u64)?;
        Ok(Duration::from_millis(ms))
    }

    /// The first of `keys` that is set.
    fn first<'k>(&self, keys: &[&'k str]) -> Option<(&'k str, &str)> {
        keys.iter().find_map(|k| self.get(k).map(|v| (*k, v)))
    }
}

// ---- URLs -----------------------------------------------------------------------------------

/// One registry URL, split for requests.
#[derive(Debug, Clone)]
struct Endpoint {
    /// `scheme://host[:port]`, without credentials.
    origin: String,
    /// The path, without a trailing slash (`""` for the root).
    path: String,
    /// Credentials written in the URL (`http://user:pass@host`), decoded.
    user_info: Option<String>,
    /// The URL as messages show it (no credentials).
    shown: String,
}

impl Endpoint {
    fn parse(key: &str, raw: &str) -> Result<Endpoint, String> {
        let raw = raw.trim();
        let bad = |why: &str| format!("'{key}' has an invalid URL '{}': {why}", redact(raw));
        let (scheme, rest) = raw.split_once("://").ok_or_else(|| bad("expected http://host:port or https://host:port"))?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return Err(bad("only http and https are supported"));
        }
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(end);
        if path.contains(['?', '#']) {
            return Err(bad("a registry URL has no query or fragment"));
        }
        let (user_info, host) = match authority.rsplit_once('@') {
            Some((user, host)) => (Some(percent_decode(user)), host),
            None => (None, authority),
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let origin = format!("{scheme}://{host}");
        let path = path.trim_end_matches('/').to_string();
        ureq::http::Uri::try_from(format!("{origin}{path}/")).map_err(|e| bad(&e.to_string()))?;
        Ok(Endpoint { shown: format!("{origin}{path}"), origin, path, user_info })
    }

    fn with_path(self, path: &str) -> Endpoint {
        Endpoint { shown: format!("{}{path}", self.origin), path: path.to_string(), ..self }
    }
}

/// A URL with any credentials replaced by `***`, for messages.
fn redact(raw: &str) -> String {
    match (raw.find("://"), raw.rfind('@')) {
        (Some(s), Some(at)) if at > s && !raw[s + 3..at].contains('/') => format!("{}***@{}", &raw[..s + 3], &raw[at + 1..]),
        _ => raw.to_string(),
    }
}

/// `%XX` escapes decoded (credentials in URLs); invalid escapes are kept as written.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(v) = s.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A path segment or query value, percent-encoded (everything but RFC 3986's unreserved
/// characters), as Confluent's clients encode subjects.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Standard base64 with padding (HTTP basic authentication).
fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

// ---- HTTP -----------------------------------------------------------------------------------

/// One request: method, path below the registry URL (with its query), body and headers.
struct Req {
    method: &'static str,
    path: String,
    body: Option<(String, Vec<u8>)>,
    headers: Vec<(&'static str, String)>,
}

impl Req {
    fn get(path: String) -> Req {
        Req { method: "GET", path, body: None, headers: Vec::new() }
    }

    fn post(path: String, content_type: &str, body: impl Into<Vec<u8>>) -> Req {
        Req { method: "POST", path, body: Some((content_type.to_string(), body.into())), headers: Vec::new() }
    }

    fn header(mut self, name: &'static str, value: impl Into<String>) -> Req {
        self.headers.push((name, value.into()));
        self
    }

    /// `GET /schemas/ids/7`, for messages (the query left out).
    fn describe(&self) -> String {
        format!("{} {}", self.method, self.path.split('?').next().unwrap_or(""))
    }
}

/// A successful response.
struct Reply {
    body: String,
    content_type: Option<String>,
    /// Apicurio's `X-Registry-ArtifactType` header.
    artifact_type: Option<String>,
}

/// A failed request; `message` is the complete [`RegistryError`] text.
#[derive(Debug)]
struct Failure {
    /// The HTTP status, when the registry answered.
    status: Option<u16>,
    message: String,
}

impl From<Failure> for RegistryError {
    fn from(f: Failure) -> RegistryError {
        RegistryError(f.message)
    }
}

/// Retry policy (Confluent's `max.retries`, `retries.wait.ms`, `retries.max.wait.ms`).
#[derive(Debug, Clone, Copy)]
struct Retry {
    max: u32,
    wait: Duration,
    max_wait: Duration,
}

impl Retry {
    fn backoff(&self, attempt: u32) -> Duration {
        self.wait.saturating_mul(1u32 << attempt.min(16)).min(self.max_wait)
    }
}

/// The HTTP side shared by the API clients: an agent, the registry URLs (the one that last
/// answered first), authentication, retries and failover.
struct Http {
    name: String,
    agent: ureq::Agent,
    endpoints: Vec<Endpoint>,
    current: AtomicUsize,
    /// Headers sent with every request (authentication).
    headers: Vec<(&'static str, String)>,
    retry: Retry,
    connect_timeout: Duration,
    read_timeout: Duration,
}

impl fmt::Debug for Http {
    // Credentials stay out of debug output.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let urls: Vec<&str> = self.endpoints.iter().map(|e| e.shown.as_str()).collect();
        f.debug_struct("Http").field("name", &self.name).field("urls", &urls).field("retry", &self.retry).finish()
    }
}

impl Http {
    fn new(name: &str, s: &Settings, namespace: Namespace, endpoints: Vec<Endpoint>) -> Result<Http, String> {
        let headers = match namespace {
            Namespace::Confluent => confluent_auth(s, &endpoints)?,
            Namespace::Apicurio => apicurio_auth(s, &endpoints)?,
        };
        let tls = match namespace {
            Namespace::Confluent => confluent_tls(s)?,
            Namespace::Apicurio => apicurio_tls(s)?,
        };
        let retry = match namespace {
            Namespace::Confluent => Retry {
                max: s.number("max.retries", 3)? as u32,
                wait: s.millis("retries.wait.ms", Duration::from_millis(1000))?,
                max_wait: s.millis("retries.max.wait.ms", Duration::from_millis(20_000))?,
            },
            Namespace::Apicurio => Retry {
                max: s.number("apicurio.registry.retry-count", 3)? as u32,
                wait: s.millis("apicurio.registry.retry-backoff-ms", Duration::from_millis(300))?,
                max_wait: Duration::from_millis(20_000),
            },
        };
        let connect = s.millis("http.connect.timeout.ms", DEFAULT_CONNECT_TIMEOUT)?;
        let read = s.millis("http.read.timeout.ms", DEFAULT_READ_TIMEOUT)?;
        for (key, d) in [("http.connect.timeout.ms", connect), ("http.read.timeout.ms", read)] {
            if d.is_zero() {
                return Err(format!("'{key}' must be more than 0"));
            }
        }
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .tls_config(tls)
            .timeout_resolve(Some(connect))
            .timeout_connect(Some(connect))
            .timeout_send_request(Some(read))
            .timeout_send_body(Some(read))
            .timeout_recv_response(Some(read))
            .timeout_recv_body(Some(read))
            .user_agent(format!("weir/{}", env!("CARGO_PKG_VERSION")))
            .build()
            .new_agent();
        let start = if s.flag("url.randomize", false)? { std::process::id() as usize % endpoints.len() } else { 0 };
        Ok(Http {
            name: name.to_string(),
            agent,
            endpoints,
            current: AtomicUsize::new(start),
            headers,
            retry,
            connect_timeout: connect,
            read_timeout: read,
        })
    }

    /// Sends `req`, retrying and failing over; `Ok` for a 2xx response only.
    fn send(&self, req: &Req) -> Result<Reply, Failure> {
        let n = self.endpoints.len();
        let start = self.current.load(Ordering::Relaxed) % n;
        let mut failures: Vec<(usize, String)> = Vec::new();
        let mut status = None;
        for i in 0..n {
            let index = (start + i) % n;
            let endpoint = &self.endpoints[index];
            let mut attempt = 0;
            loop {
                let outcome = self.once(endpoint, req);
                let retriable = match &outcome {
                    Ok(Ok(_)) => false,
                    Ok(Err((code, _))) => RETRIABLE.contains(code),
                    Err(_) => true,
                };
                if retriable && attempt < self.retry.max {
                    std::thread::sleep(self.retry.backoff(attempt));
                    attempt += 1;
                    continue;
                }
                match outcome {
                    Ok(Ok(reply)) => {
                        self.current.store(index, Ordering::Relaxed);
                        return Ok(reply);
                    }
                    Ok(Err((code, what))) => {
                        status = Some(code);
                        failures.push((index, what));
                        if !retriable {
                            return Err(self.failure(req, status, &failures));
                        }
                    }
                    Err(what) => {
                        status = None;
                        failures.push((index, what));
                    }
                }
                break;
            }
        }
        Err(self.failure(req, status, &failures))
    }

    fn failure(&self, req: &Req, status: Option<u16>, failures: &[(usize, String)]) -> Failure {
        let message = match failures {
            [(index, what)] => format!("schema registry '{}' at {}: {}: {what}", self.name, self.endpoints[*index].shown, req.describe()),
            _ => {
                let urls: Vec<&str> = self.endpoints.iter().map(|e| e.shown.as_str()).collect();
                let each: Vec<String> = failures.iter().map(|(i, what)| format!("{}: {what}", self.endpoints[*i].shown)).collect();
                format!("schema registry '{}' at {}: {}: every URL failed: {}", self.name, urls.join(", "), req.describe(), each.join("; "))
            }
        };
        Failure { status, message }
    }

    /// One attempt against one URL: the reply, or the HTTP status and the registry's message,
    /// or why there was no answer.
    #[allow(clippy::type_complexity)]
    fn once(&self, endpoint: &Endpoint, req: &Req) -> Result<Result<Reply, (u16, String)>, String> {
        let url = format!("{}{}{}", endpoint.origin, endpoint.path, req.path);
        let mut builder = ureq::http::Request::builder().method(req.method).uri(&url).header("Accept", CONFLUENT_ACCEPT);
        for (name, value) in self.headers.iter().chain(&req.headers) {
            builder = builder.header(*name, value);
        }
        let response = match &req.body {
            Some((content_type, body)) => {
                let request = builder.header("Content-Type", content_type).body(body.clone()).map_err(|e| e.to_string())?;
                self.agent.run(request)
            }
            None => {
                let request = builder.body(()).map_err(|e| e.to_string())?;
                self.agent.run(request)
            }
        };
        let mut response = response.map_err(|e| transport_error(&e, self.connect_timeout, self.read_timeout))?;
        let status = response.status();
        let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
        let content_type = header("content-type");
        let artifact_type = header("x-registry-artifacttype");
        let mut body = String::new();
        response.body_mut().as_reader().take(16 << 20).read_to_string(&mut body).map_err(|e| format!("cannot read the response: {e}"))?;
        if status.is_success() {
            Ok(Ok(Reply { body, content_type, artifact_type }))
        } else {
            let reason = status.canonical_reason().map(|r| format!(" {r}")).unwrap_or_default();
            Ok(Err((status.as_u16(), format!("{}{reason}{}", status.as_u16(), error_detail(&body)))))
        }
    }
}

/// What a registry's error body says: Confluent's and Apicurio 2's `{"error_code", "message"}`,
/// Apicurio 3's problem details (`detail`, `title`), or the text itself.
fn error_detail(body: &str) -> String {
    let body = body.trim();
    if body.is_empty() {
        return String::new();
    }
    if let Ok(Json::Object(o)) = serde_json::from_str::<Json>(body) {
        let text = ["message", "detail", "title"].iter().find_map(|k| o.get(*k).and_then(Json::as_str).filter(|s| !s.is_empty()));
        let code = o.get("error_code").and_then(Json::as_i64);
        return match (text, code) {
            (Some(t), Some(c)) => format!(": {t} (error code {c})"),
            (Some(t), None) => format!(": {t}"),
            (None, Some(c)) => format!(": error code {c}"),
            (None, None) => format!(": {}", preview(body)),
        };
    }
    format!(": {}", preview(body))
}

/// The start of a long text, for messages.
fn preview(text: &str) -> String {
    let text = text.trim();
    match text.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

/// Why a request got no answer, in words (the connection, a timeout, TLS).
fn transport_error(e: &ureq::Error, connect: Duration, read: Duration) -> String {
    match e {
        ureq::Error::Timeout(t) => {
            let limit = match t {
                ureq::Timeout::Connect | ureq::Timeout::Resolve => connect,
                _ => read,
            };
            format!("timed out after {} ms ({t})", limit.as_millis())
        }
        ureq::Error::HostNotFound => "host not found".to_string(),
        ureq::Error::Io(io) => format!("cannot connect: {io}"),
        ureq::Error::ConnectionFailed => "cannot connect".to_string(),
        other => other.to_string(),
    }
}

/// Authentication for Confluent's client: `basic.auth.credentials.source` (`URL`, the
/// default, or `USER_INFO` with `basic.auth.user.info` / `schema.registry.basic.auth.user.info`),
/// or `bearer.auth.credentials.source: STATIC_TOKEN` with `bearer.auth.token`.
fn confluent_auth(s: &Settings, endpoints: &[Endpoint]) -> Result<Vec<(&'static str, String)>, String> {
    let source = s.get("basic.auth.credentials.source").map(|v| v.trim().to_ascii_uppercase());
    let info = s.first(&["basic.auth.user.info", "schema.registry.basic.auth.user.info"]);
    let in_url = endpoints.iter().find_map(|e| e.user_info.clone());
    let basic = match (source.as_deref(), info) {
        (Some("USER_INFO"), Some((key, info))) => {
            if !info.contains(':') {
                return Err(format!("'{key}' must be user:password"));
            }
            Some(info.to_string())
        }
        (Some("USER_INFO"), None) => {
            return Err("'basic.auth.credentials.source' is USER_INFO but 'basic.auth.user.info' is not set".to_string());
        }
        (_, Some((key, _))) => {
            return Err(format!(
                "'{key}' is set but 'basic.auth.credentials.source' is not USER_INFO, so Confluent's client would not send it; \
                 set 'basic.auth.credentials.source: USER_INFO'"
            ));
        }
        (_, None) => in_url,
    };
    if source.as_deref() == Some("USER_INFO") && endpoints.iter().any(|e| e.user_info.is_some()) {
        return Err("credentials are in the URL and in 'basic.auth.user.info'; keep one".to_string());
    }
    let mut headers = Vec::new();
    if let Some(source) = s.get("bearer.auth.credentials.source") {
        if basic.is_some() {
            return Err("both basic and bearer authentication are configured; keep one".to_string());
        }
        let token = s
            .get("bearer.auth.token")
            .ok_or_else(|| format!("'bearer.auth.credentials.source' is {source} but 'bearer.auth.token' is not set"))?;
        headers.push(("Authorization", format!("Bearer {}", token.trim())));
        if let Some(cluster) = s.get("bearer.auth.logical.cluster") {
            headers.push(("target-sr-cluster", cluster.trim().to_string()));
        }
        if let Some(pool) = s.get("bearer.auth.identity.pool.id") {
            headers.push(("Confluent-Identity-Pool-Id", pool.trim().to_string()));
        }
    } else if let Some((key, _)) = s.first(&["bearer.auth.token", "bearer.auth.logical.cluster", "bearer.auth.identity.pool.id"]) {
        return Err(format!("'{key}' is set but 'bearer.auth.credentials.source' is not; set it to STATIC_TOKEN"));
    }
    if let Some(user_info) = basic {
        headers.push(("Authorization", format!("Basic {}", base64(user_info.as_bytes()))));
    }
    Ok(headers)
}

/// Authentication for Apicurio's client: `apicurio.registry.auth.username` / `…password`, or
/// credentials in the URL.
fn apicurio_auth(s: &Settings, endpoints: &[Endpoint]) -> Result<Vec<(&'static str, String)>, String> {
    let user = s.get("apicurio.registry.auth.username");
    let password = s.get("apicurio.registry.auth.password");
    let user_info = match (user, password) {
        (Some(u), Some(p)) => Some(format!("{u}:{p}")),
        (Some(_), None) => return Err("'apicurio.registry.auth.username' is set without 'apicurio.registry.auth.password'".to_string()),
        (None, Some(_)) => return Err("'apicurio.registry.auth.password' is set without 'apicurio.registry.auth.username'".to_string()),
        (None, None) => endpoints.iter().find_map(|e| e.user_info.clone()),
    };
    Ok(user_info.map(|u| ("Authorization", format!("Basic {}", base64(u.as_bytes())))).into_iter().collect())
}

/// A PEM setting's text: the file it names, or the PEM itself when it holds one.
fn pem_text(key: &str, value: &str) -> Result<Vec<u8>, String> {
    if value.contains("-----BEGIN") {
        return Ok(value.as_bytes().to_vec());
    }
    std::fs::read(value.trim()).map_err(|e| format!("'{key}': cannot read '{}': {e}", value.trim()))
}

/// The certificates and private keys in a PEM text.
fn pem_items(key: &str, pem: &[u8]) -> Result<(Vec<Certificate<'static>>, Vec<PrivateKey<'static>>), String> {
    let mut certs = Vec::new();
    let mut keys = Vec::new();
    for item in ureq::tls::parse_pem(pem) {
        match item.map_err(|e| format!("'{key}': not valid PEM: {e}"))? {
            PemItem::Certificate(c) => certs.push(c),
            PemItem::PrivateKey(k) => keys.push(k),
            _ => {}
        }
    }
    Ok((certs, keys))
}

/// Trusted certificates from the PEM settings `values` (each a file or PEM text).
fn roots(values: &[(&str, &str)]) -> Result<Option<Vec<Certificate<'static>>>, String> {
    let mut all = Vec::new();
    for (key, value) in values {
        let (certs, _) = pem_items(key, &pem_text(key, value)?)?;
        if certs.is_empty() {
            return Err(format!("'{key}': no certificate (-----BEGIN CERTIFICATE-----) in '{}'", preview(value)));
        }
        all.extend(certs);
    }
    Ok((!all.is_empty()).then_some(all))
}

/// A client certificate from a PEM certificate chain and a PEM key (possibly the same text).
fn client_cert(cert: (&str, &str), key: (&str, &str)) -> Result<ClientCert, String> {
    let (chain, _) = pem_items(cert.0, &pem_text(cert.0, cert.1)?)?;
    if chain.is_empty() {
        return Err(format!("'{}': no certificate (-----BEGIN CERTIFICATE-----)", cert.0));
    }
    let key_pem = pem_text(key.0, key.1)?;
    // OpenSSL (native-tls) takes unencrypted PKCS#8 keys only: refuse the other PEM labels
    // here, with the way out, rather than fail the first TLS handshake.
    let text = String::from_utf8_lossy(&key_pem);
    if ["RSA PRIVATE KEY", "EC PRIVATE KEY", "ENCRYPTED PRIVATE KEY"].iter().any(|l| text.contains(&format!("-----BEGIN {l}-----"))) {
        return Err(format!(
            "'{}': the key must be unencrypted PKCS#8 (-----BEGIN PRIVATE KEY-----); convert it with: openssl pkcs8 -topk8 -nocrypt",
            key.0
        ));
    }
    let (_, keys) = pem_items(key.0, &key_pem)?;
    let private = keys.into_iter().next().ok_or_else(|| format!("'{}': no private key (-----BEGIN PRIVATE KEY-----)", key.0))?;
    Ok(ClientCert::new_with_certs(&chain, private))
}

fn tls_config(roots: Option<Vec<Certificate<'static>>>, client: Option<ClientCert>, trust_all: bool) -> TlsConfig {
    TlsConfig::builder()
        .provider(TlsProvider::NativeTls)
        // The system's trust store (OpenSSL's), unless the settings name the trusted certificates.
        .root_certs(roots.map_or(RootCerts::PlatformVerifier, |c| RootCerts::new_with_certs(&c)))
        .client_cert(client)
        .disable_verification(trust_all)
        .build()
}

/// TLS for Confluent's client: trusted certificates from `schema.registry.ssl.ca.location` or a
/// PEM trust store; a client certificate from `…certificate.location` + `…key.location` or a PEM
/// key store.
fn confluent_tls(s: &Settings) -> Result<TlsConfig, String> {
    let p = "schema.registry.ssl.";
    let get = |k: &str| s.get(&format!("{p}{k}"));
    let pem_type = |k: &str| get(k).is_some_and(|t| t.trim().eq_ignore_ascii_case("PEM"));
    let mut trusted = Vec::new();
    if let Some(v) = get("ca.location") {
        trusted.push(("schema.registry.ssl.ca.location", v));
    }
    if let Some(v) = get("truststore.certificates") {
        trusted.push(("schema.registry.ssl.truststore.certificates", v));
    }
    if let Some(v) = get("truststore.location") {
        if !pem_type("truststore.type") {
            return Err("'schema.registry.ssl.truststore.location' is a JKS store unless 'schema.registry.ssl.truststore.type' is PEM; \
                        Weir reads PEM files only (or use 'schema.registry.ssl.ca.location')"
                .to_string());
        }
        trusted.push(("schema.registry.ssl.truststore.location", v));
    }
    let client = match (
        get("certificate.location"),
        get("key.location"),
        get("keystore.location"),
        get("keystore.certificate.chain"),
        get("keystore.key"),
    ) {
        (None, None, None, None, None) => None,
        (Some(c), Some(k), None, None, None) => {
            Some(client_cert(("schema.registry.ssl.certificate.location", c), ("schema.registry.ssl.key.location", k))?)
        }
        (None, None, Some(store), None, None) => {
            if !pem_type("keystore.type") {
                return Err("'schema.registry.ssl.keystore.location' is a JKS store unless 'schema.registry.ssl.keystore.type' is PEM; \
                            Weir reads PEM files only (or use '…certificate.location' and '…key.location')"
                    .to_string());
            }
            let k = "schema.registry.ssl.keystore.location";
            Some(client_cert((k, store), (k, store))?)
        }
        (None, None, None, Some(c), Some(k)) => {
            Some(client_cert(("schema.registry.ssl.keystore.certificate.chain", c), ("schema.registry.ssl.keystore.key", k))?)
        }
        _ => {
            return Err("a client certificate needs exactly one of: 'schema.registry.ssl.certificate.location' with '…key.location'; \
                        '…keystore.location' (PEM); '…keystore.certificate.chain' with '…keystore.key'"
                .to_string());
        }
    };
    Ok(tls_config(roots(&trusted)?, client, false))
}

/// TLS for Apicurio's client: `apicurio.registry.tls.certificates` (files, comma-separated, or
/// PEM text) or a PEM trust store; a client certificate from `…client-certificate` +
/// `…client-key` or a PEM key store; `…trust-all`.
fn apicurio_tls(s: &Settings) -> Result<TlsConfig, String> {
    let p = "apicurio.registry.tls.";
    let get = |k: &str| s.get(&format!("{p}{k}"));
    let pem_type = |k: &str| get(k).is_some_and(|t| t.trim().eq_ignore_ascii_case("PEM"));
    let mut trusted = Vec::new();
    if let Some(v) = get("certificates") {
        if v.contains("-----BEGIN") {
            trusted.push(("apicurio.registry.tls.certificates", v));
        } else {
            trusted.extend(v.split(',').map(str::trim).filter(|f| !f.is_empty()).map(|f| ("apicurio.registry.tls.certificates", f)));
        }
    }
    if let Some(v) = get("truststore.location") {
        if !pem_type("truststore.type") {
            return Err(
                "'apicurio.registry.tls.truststore.location' is a JKS store unless 'apicurio.registry.tls.truststore.type' is PEM; \
                        Weir reads PEM files only (or use 'apicurio.registry.tls.certificates')"
                    .to_string(),
            );
        }
        trusted.push(("apicurio.registry.tls.truststore.location", v));
    }
    let client = match (get("keystore.location"), get("client-certificate"), get("client-key")) {
        (None, None, None) => None,
        (Some(store), None, None) => {
            if !pem_type("keystore.type") {
                return Err(
                    "'apicurio.registry.tls.keystore.location' is a JKS store unless 'apicurio.registry.tls.keystore.type' is PEM; \
                            Weir reads PEM files only (or use '…client-certificate' and '…client-key')"
                        .to_string(),
                );
            }
            let k = "apicurio.registry.tls.keystore.location";
            Some(client_cert((k, store), (k, store))?)
        }
        (None, Some(c), Some(k)) => {
            Some(client_cert(("apicurio.registry.tls.client-certificate", c), ("apicurio.registry.tls.client-key", k))?)
        }
        _ => {
            return Err("a client certificate needs either 'apicurio.registry.tls.client-certificate' with '…client-key', \
                        or '…keystore.location' (PEM)"
                .to_string());
        }
    };
    let trust_all = s.flag("apicurio.registry.tls.trust-all", false)?;
    Ok(tls_config(roots(&trusted)?, client, trust_all))
}

// ---- caching --------------------------------------------------------------------------------

/// One registry API without caching.
trait Protocol: Send + Sync + fmt::Debug {
    fn api(&self) -> Api;
    fn register(&self, subject: &str, schema: &RegistrySchema) -> Result<u32, RegistryError>;
    fn lookup(&self, subject: &str, schema: &RegistrySchema) -> Result<Option<u32>, RegistryError>;
    fn latest(&self, subject: &str) -> Result<(u32, RegistrySchema), RegistryError>;
    fn by_id(&self, id: u32) -> Result<RegistrySchema, RegistryError>;
}

/// A registry client: a [`Protocol`] with Confluent's client caches.
struct HttpRegistry<P> {
    protocol: P,
    /// Schemas by id, as the registry returned them.
    schemas: Mutex<HashMap<u32, RegistrySchema>>,
    /// Subject → schema → id, for schemas registered or looked up.
    ids: Mutex<HashMap<String, HashMap<RegistrySchema, u32>>>,
}

impl<P: Protocol> fmt::Debug for HttpRegistry<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpRegistry").field("api", &self.protocol.api().name()).field("protocol", &self.protocol).finish()
    }
}

impl<P> HttpRegistry<P> {
    fn new(protocol: P) -> Self {
        HttpRegistry { protocol, schemas: Mutex::new(HashMap::new()), ids: Mutex::new(HashMap::new()) }
    }

    // A panic while a cache is locked cannot leave it half-changed (single inserts), so a
    // poisoned lock is still consistent.
    fn cached_id(&self, subject: &str, schema: &RegistrySchema) -> Option<u32> {
        self.ids.lock().unwrap_or_else(|p| p.into_inner()).get(subject).and_then(|m| m.get(schema)).copied()
    }

    fn remember_id(&self, subject: &str, schema: &RegistrySchema, id: u32) {
        self.ids.lock().unwrap_or_else(|p| p.into_inner()).entry(subject.to_string()).or_default().insert(schema.clone(), id);
    }

    fn remember_schema(&self, id: u32, schema: &RegistrySchema) {
        self.schemas.lock().unwrap_or_else(|p| p.into_inner()).insert(id, schema.clone());
    }
}

impl<P: Protocol> SchemaRegistry for HttpRegistry<P> {
    fn register(&self, subject: &str, schema: &RegistrySchema) -> Result<u32, RegistryError> {
        if let Some(id) = self.cached_id(subject, schema) {
            return Ok(id);
        }
        let id = self.protocol.register(subject, schema)?;
        self.remember_id(subject, schema, id);
        Ok(id)
    }

    fn lookup(&self, subject: &str, schema: &RegistrySchema) -> Result<Option<u32>, RegistryError> {
        if let Some(id) = self.cached_id(subject, schema) {
            return Ok(Some(id));
        }
        let id = self.protocol.lookup(subject, schema)?;
        if let Some(id) = id {
            self.remember_id(subject, schema, id);
        }
        Ok(id)
    }

    fn latest(&self, subject: &str) -> Result<(u32, RegistrySchema), RegistryError> {
        let (id, schema) = self.protocol.latest(subject)?;
        self.remember_schema(id, &schema);
        Ok((id, schema))
    }

    fn by_id(&self, id: u32) -> Result<RegistrySchema, RegistryError> {
        if let Some(schema) = self.schemas.lock().unwrap_or_else(|p| p.into_inner()).get(&id) {
            return Ok(schema.clone());
        }
        let schema = self.protocol.by_id(id)?;
        self.remember_schema(id, &schema);
        Ok(schema)
    }
}

// ---- responses ------------------------------------------------------------------------------

/// A response body as JSON, or an error naming the request.
fn json_body(http: &Http, req: &Req, reply: &Reply) -> Result<Json, RegistryError> {
    serde_json::from_str(&reply.body)
        .map_err(|e| unexpected(http, req, &format!("the response is not JSON ({e}): {}", preview(&reply.body))))
}

fn unexpected(http: &Http, req: &Req, what: &str) -> RegistryError {
    let urls: Vec<&str> = http.endpoints.iter().map(|e| e.shown.as_str()).collect();
    RegistryError(format!("schema registry '{}' at {}: {}: {what}", http.name, urls.join(", "), req.describe()))
}

/// A numeric id field of a response, as the port's `u32`.
fn id_field(http: &Http, req: &Req, body: &Json, field: &str) -> Result<u32, RegistryError> {
    let value = body
        .get(field)
        .and_then(Json::as_i64)
        .ok_or_else(|| unexpected(http, req, &format!("no '{field}' in the response: {}", preview(&body.to_string()))))?;
    u32::try_from(value).map_err(|_| unexpected(http, req, &format!("'{field}' {value} is out of range (0 to {})", u32::MAX)))
}

/// A schema type name (`AVRO`, `JSON`, `PROTOBUF`) as a [`SchemaKind`].
fn kind_of(name: &str) -> Option<SchemaKind> {
    match name.trim().to_ascii_uppercase().as_str() {
        "AVRO" => Some(SchemaKind::Avro),
        "JSON" => Some(SchemaKind::Json),
        "PROTOBUF" => Some(SchemaKind::Protobuf),
        _ => None,
    }
}

// ---- Confluent ------------------------------------------------------------------------------

/// Confluent's REST API (also Apicurio's `/apis/ccompat/v7`).
#[derive(Debug)]
struct Confluent {
    http: Http,
    /// `normalize.schemas`: ask the registry to normalize schemas when registering and looking up.
    normalize: bool,
}

impl Confluent {
    fn body(schema: &RegistrySchema) -> Vec<u8> {
        let mut body = json!({ "schema": schema.text });
        if schema.kind != SchemaKind::Avro {
            body["schemaType"] = json!(schema.kind.api_name());
        }
        if !schema.references.is_empty() {
            body["references"] = json!(schema.references);
        }
        body.to_string().into_bytes()
    }

    fn query(&self) -> &'static str {
        if self.normalize { "?normalize=true" } else { "" }
    }

    /// A schema as Confluent's responses carry it: `schema`, `schemaType` (absent for Avro),
    /// `references`.
    fn schema(&self, req: &Req, body: &Json) -> Result<RegistrySchema, RegistryError> {
        let text = body
            .get("schema")
            .and_then(Json::as_str)
            .ok_or_else(|| unexpected(&self.http, req, &format!("no 'schema' in the response: {}", preview(&body.to_string()))))?;
        let kind = match body.get("schemaType").and_then(Json::as_str) {
            None => SchemaKind::Avro,
            Some(t) => kind_of(t).ok_or_else(|| unexpected(&self.http, req, &format!("unknown schemaType '{t}'")))?,
        };
        let references = match body.get("references") {
            None | Some(Json::Null) => Vec::new(),
            Some(r) => {
                serde_json::from_value(r.clone()).map_err(|e| unexpected(&self.http, req, &format!("bad 'references' ({e}): {r}")))?
            }
        };
        Ok(RegistrySchema { kind, text: text.to_string(), references })
    }
}

impl Protocol for Confluent {
    fn api(&self) -> Api {
        Api::Confluent
    }

    fn register(&self, subject: &str, schema: &RegistrySchema) -> Result<u32, RegistryError> {
        let req = Req::post(format!("/subjects/{}/versions{}", encode(subject), self.query()), CONFLUENT_JSON, Self::body(schema));
        let reply = self.http.send(&req)?;
        id_field(&self.http, &req, &json_body(&self.http, &req, &reply)?, "id")
    }

    fn lookup(&self, subject: &str, schema: &RegistrySchema) -> Result<Option<u32>, RegistryError> {
        let req = Req::post(format!("/subjects/{}{}", encode(subject), self.query()), CONFLUENT_JSON, Self::body(schema));
        match self.http.send(&req) {
            Ok(reply) => Ok(Some(id_field(&self.http, &req, &json_body(&self.http, &req, &reply)?, "id")?)),
            // 40401 (no such subject) and 40403 (the subject has no such schema).
            Err(f) if f.status == Some(404) => Ok(None),
            Err(f) => Err(f.into()),
        }
    }

    fn latest(&self, subject: &str) -> Result<(u32, RegistrySchema), RegistryError> {
        let req = Req::get(format!("/subjects/{}/versions/latest", encode(subject)));
        let reply = self.http.send(&req)?;
        let body = json_body(&self.http, &req, &reply)?;
        Ok((id_field(&self.http, &req, &body, "id")?, self.schema(&req, &body)?))
    }

    fn by_id(&self, id: u32) -> Result<RegistrySchema, RegistryError> {
        let req = Req::get(format!("/schemas/ids/{id}"));
        let reply = self.http.send(&req)?;
        self.schema(&req, &json_body(&self.http, &req, &reply)?)
    }
}

// ---- Apicurio -------------------------------------------------------------------------------

/// Which Apicurio id the port's ids are (`apicurio.registry.use-id`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum UseId {
    ContentId,
    GlobalId,
}

impl UseId {
    fn field(self) -> &'static str {
        match self {
            UseId::ContentId => "contentId",
            UseId::GlobalId => "globalId",
        }
    }

    fn path(self) -> &'static str {
        match self {
            UseId::ContentId => "contentIds",
            UseId::GlobalId => "globalIds",
        }
    }
}

/// Apicurio Registry's Core API, v3 or v2.
#[derive(Debug)]
struct Apicurio {
    http: Http,
    v2: bool,
    /// `apicurio.registry.artifact.group-id`.
    group: String,
    use_id: UseId,
    /// `apicurio.registry.auto-register.if-exists`, in v3's words.
    if_exists: &'static str,
    /// `apicurio.registry.canonicalize`.
    canonical: bool,
}

impl Apicurio {
    fn new(http: Http, s: &Settings, v2: bool) -> Result<Apicurio, String> {
        let group = s.get("apicurio.registry.artifact.group-id").map(str::trim).filter(|g| !g.is_empty()).unwrap_or("default").to_string();
        let use_id = match s.get("apicurio.registry.use-id").map(str::trim) {
            None => UseId::ContentId,
            Some(v) if v.eq_ignore_ascii_case("contentId") => UseId::ContentId,
            Some(v) if v.eq_ignore_ascii_case("globalId") => UseId::GlobalId,
            Some(v) => return Err(format!("'apicurio.registry.use-id' must be contentId or globalId, found '{v}'")),
        };
        let if_exists = match s.get("apicurio.registry.auto-register.if-exists").map(|v| v.trim().to_ascii_uppercase()) {
            None => "FIND_OR_CREATE_VERSION",
            Some(v) if v == "FIND_OR_CREATE_VERSION" => "FIND_OR_CREATE_VERSION",
            Some(v) if v == "CREATE_VERSION" => "CREATE_VERSION",
            Some(v) if v == "FAIL" => "FAIL",
            Some(v) => {
                return Err(format!(
                    "'apicurio.registry.auto-register.if-exists' must be FAIL, CREATE_VERSION or FIND_OR_CREATE_VERSION, found '{v}'"
                ));
            }
        };
        let canonical = s.flag("apicurio.registry.canonicalize", false)?;
        Ok(Apicurio { http, v2, group, use_id, if_exists, canonical })
    }

    fn content_type(kind: SchemaKind) -> &'static str {
        match kind {
            SchemaKind::Protobuf => "application/x-protobuf",
            SchemaKind::Avro | SchemaKind::Json => "application/json",
        }
    }

    /// The port's references as Apicurio's: the subject is the artifact id in our group.
    fn references(&self, schema: &RegistrySchema) -> Json {
        Json::Array(
            schema
                .references
                .iter()
                .map(|r| json!({ "groupId": self.group, "artifactId": r.subject, "version": r.version.to_string(), "name": r.name }))
                .collect(),
        )
    }

    fn artifact_path(&self, subject: &str) -> String {
        format!("/groups/{}/artifacts/{}", encode(&self.group), encode(subject))
    }

    /// The id a version's metadata carries, per `use-id`.
    fn version_id(&self, req: &Req, meta: &Json) -> Result<u32, RegistryError> {
        id_field(&self.http, req, meta, self.use_id.field())
    }

    /// The schema with this id: its content, its references, and its type (from a search by
    /// id, or guessed from the content when no version has it any more). `kind` is used when
    /// the caller knows it.
    fn fetch(&self, id: u32, kind: Option<SchemaKind>) -> Result<RegistrySchema, RegistryError> {
        let ids = self.use_id.path();
        let req = Req::get(format!("/ids/{ids}/{id}"));
        let reply = self.http.send(&req).map_err(|f| match f.status {
            Some(404) => RegistryError(format!("{} (no schema with {} {id})", f.message, self.use_id.field())),
            _ => f.into(),
        })?;
        let text = reply.body.clone();
        let refs_req = Req::get(format!("/ids/{ids}/{id}/references"));
        let refs = json_body(&self.http, &refs_req, &self.http.send(&refs_req)?)?;
        let mut references = Vec::new();
        for r in refs.as_array().map(Vec::as_slice).unwrap_or_default() {
            let field = |name: &str| r.get(name).and_then(Json::as_str);
            let (Some(name), Some(artifact)) = (field("name"), field("artifactId")) else {
                return Err(unexpected(&self.http, &refs_req, &format!("a reference without name or artifactId: {r}")));
            };
            let version = field("version").and_then(|v| v.parse::<u32>().ok()).ok_or_else(|| {
                unexpected(
                    &self.http,
                    &refs_req,
                    &match field("version") {
                        Some(v) => format!("reference '{name}' has version '{v}'; Weir needs numbered versions"),
                        None => format!("reference '{name}' has no version; Weir needs numbered versions"),
                    },
                )
            })?;
            references.push(SchemaReference { name: name.to_string(), subject: artifact.to_string(), version });
        }
        let kind = match kind.or_else(|| reply.artifact_type.as_deref().and_then(kind_of)) {
            Some(kind) => kind,
            None => self.search_kind(id)?.unwrap_or_else(|| guess_kind(reply.content_type.as_deref(), &text)),
        };
        Ok(RegistrySchema { kind, text, references })
    }

    /// The artifact type of a version with this id, from a search.
    fn search_kind(&self, id: u32) -> Result<Option<SchemaKind>, RegistryError> {
        let field = self.use_id.field();
        let (req, list, type_field) = if self.v2 {
            (Req::get(format!("/search/artifacts?{field}={id}&limit=1")), "artifacts", "type")
        } else {
            (Req::get(format!("/search/versions?{field}={id}&limit=1")), "versions", "artifactType")
        };
        let body = json_body(&self.http, &req, &self.http.send(&req)?)?;
        let found = body.get(list).and_then(Json::as_array).and_then(|v| v.first()).and_then(|v| v.get(type_field)).and_then(Json::as_str);
        match found {
            None => Ok(None),
            Some(t) => kind_of(t)
                .map(Some)
                .ok_or_else(|| unexpected(&self.http, &req, &format!("schema {id} is a {t} artifact, not Avro, JSON Schema or Protobuf"))),
        }
    }
}

/// A schema's kind from its content, when the registry does not say it.
fn guess_kind(content_type: Option<&str>, text: &str) -> SchemaKind {
    if content_type.is_some_and(|c| c.contains("protobuf")) {
        return SchemaKind::Protobuf;
    }
    match serde_json::from_str::<Json>(text) {
        Ok(Json::Object(o))
            if o.contains_key("$schema") || o.contains_key("properties") || o.get("type").and_then(Json::as_str) == Some("object") =>
        {
            SchemaKind::Json
        }
        Ok(_) => SchemaKind::Avro,
        Err(_) => SchemaKind::Protobuf,
    }
}

impl Protocol for Apicurio {
    fn api(&self) -> Api {
        if self.v2 { Api::ApicurioV2 } else { Api::ApicurioV3 }
    }

    fn register(&self, subject: &str, schema: &RegistrySchema) -> Result<u32, RegistryError> {
        let canonical = self.canonical;
        let req = if self.v2 {
            let if_exists = match self.if_exists {
                "FIND_OR_CREATE_VERSION" => "RETURN_OR_UPDATE",
                "CREATE_VERSION" => "UPDATE",
                _ => "FAIL",
            };
            let path = format!("/groups/{}/artifacts?ifExists={if_exists}&canonical={canonical}", encode(&self.group));
            let req = if schema.references.is_empty() {
                Req::post(path, Self::content_type(schema.kind), schema.text.clone())
            } else {
                let body = json!({ "content": schema.text, "references": self.references(schema) });
                Req::post(path, "application/create.extended+json", body.to_string())
            };
            req.header("X-Registry-ArtifactId", subject).header("X-Registry-ArtifactType", schema.kind.api_name())
        } else {
            let body = json!({
                "artifactId": subject,
                "artifactType": schema.kind.api_name(),
                "firstVersion": { "content": {
                    "content": schema.text,
                    "contentType": Self::content_type(schema.kind),
                    "references": self.references(schema),
                }},
            });
            let path = format!("/groups/{}/artifacts?ifExists={}&canonical={canonical}", encode(&self.group), self.if_exists);
            Req::post(path, "application/json", body.to_string())
        };
        let body = json_body(&self.http, &req, &self.http.send(&req)?)?;
        // v3 answers {artifact, version}; v2 the artifact's metadata, ids included.
        let meta = if self.v2 { &body } else { body.get("version").unwrap_or(&Json::Null) };
        self.version_id(&req, meta)
    }

    fn lookup(&self, subject: &str, schema: &RegistrySchema) -> Result<Option<u32>, RegistryError> {
        let canonical = self.canonical;
        if self.v2 {
            let path = format!("{}/meta?canonical={canonical}", self.artifact_path(subject));
            let req = if schema.references.is_empty() {
                Req::post(path, Self::content_type(schema.kind), schema.text.clone())
            } else {
                let body = json!({ "content": schema.text, "references": self.references(schema) });
                Req::post(path, "application/get.extended+json", body.to_string())
            };
            return match self.http.send(&req) {
                Ok(reply) => Ok(Some(self.version_id(&req, &json_body(&self.http, &req, &reply)?)?)),
                Err(f) if f.status == Some(404) => Ok(None),
                Err(f) => Err(f.into()),
            };
        }
        let path = format!(
            "/search/versions?groupId={}&artifactId={}&canonical={canonical}&artifactType={}&orderby=globalId&order=desc&limit=100",
            encode(&self.group),
            encode(subject),
            schema.kind.api_name()
        );
        let req = Req::post(path, Self::content_type(schema.kind), schema.text.clone());
        let body = json_body(&self.http, &req, &self.http.send(&req)?)?;
        let versions = body.get("versions").and_then(Json::as_array).map(Vec::as_slice).unwrap_or_default();
        match versions.iter().find(|v| v.get("state").and_then(Json::as_str) != Some("DISABLED")) {
            Some(v) => Ok(Some(self.version_id(&req, v)?)),
            None => Ok(None),
        }
    }

    fn latest(&self, subject: &str) -> Result<(u32, RegistrySchema), RegistryError> {
        let (req, type_field) = if self.v2 {
            (Req::get(format!("{}/meta", self.artifact_path(subject))), "type")
        } else {
            (Req::get(format!("{}/versions/branch=latest", self.artifact_path(subject))), "artifactType")
        };
        let meta = json_body(&self.http, &req, &self.http.send(&req)?)?;
        let id = self.version_id(&req, &meta)?;
        let kind = meta.get(type_field).and_then(Json::as_str).and_then(kind_of);
        Ok((id, self.fetch(id, kind)?))
    }

    fn by_id(&self, id: u32) -> Result<RegistrySchema, RegistryError> {
        self.fetch(id, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> IndexMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        let vectors =
            [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="), ("foobar", "Zm9vYmFy")];
        for (plain, encoded) in vectors {
            assert_eq!(base64(plain.as_bytes()), encoded, "{plain}");
        }
    }

    #[test]
    fn subjects_are_percent_encoded_and_credentials_decoded() {
        assert_eq!(encode("orders-value"), "orders-value");
        assert_eq!(encode("a/b c?é"), "a%2Fb%20c%3F%C3%A9");
        assert_eq!(percent_decode("us%40er:p%3Ass%zz"), "us@er:p:ss%zz");
        assert_eq!(redact("http://u:p@host:8081/x"), "http://***@host:8081/x");
        assert_eq!(redact("http://host:8081/a@b"), "http://host:8081/a@b");
    }

    #[test]
    fn urls_are_split_and_checked() {
        let e = Endpoint::parse("k", " https://u:p%21@reg.example:8081/apis/ccompat/v7/ ").unwrap();
        assert_eq!(
            (e.origin.as_str(), e.path.as_str(), e.user_info.as_deref()),
            ("https://reg.example:8081", "/apis/ccompat/v7", Some("u:p!"))
        );
        assert_eq!(e.shown, "https://reg.example:8081/apis/ccompat/v7");
        for bad in ["localhost:8081", "ftp://x", "http://", "http://h/x?y=1"] {
            let err = Endpoint::parse("schema.registry.url", bad).unwrap_err();
            assert!(err.contains("'schema.registry.url' has an invalid URL"), "{bad}: {err}");
        }
    }

    #[test]
    fn the_api_follows_the_url_key_and_path() {
        let api = |pairs: &[(&str, &str)]| {
            let map = settings(pairs);
            let s = Settings(&map);
            let ns = if map.contains_key("schema.registry.url") { Namespace::Confluent } else { Namespace::Apicurio };
            let url = map.get(ns.url_key()).unwrap();
            select_api(&s, ns, &Endpoint::parse("k", url).unwrap())
        };
        assert_eq!(api(&[("schema.registry.url", "http://h:8081")]), Ok(Api::Confluent));
        assert_eq!(api(&[("apicurio.registry.url", "http://h/apis/registry/v3")]), Ok(Api::ApicurioV3));
        assert_eq!(api(&[("apicurio.registry.url", "http://h/apis/registry/v2")]), Ok(Api::ApicurioV2));
        assert_eq!(api(&[("apicurio.registry.url", "http://h/apis/ccompat/v7")]), Ok(Api::Confluent));
        assert_eq!(api(&[("apicurio.registry.url", "http://h/custom"), ("apicurio.registry.url.version", "2")]), Ok(Api::ApicurioV2));
        assert!(api(&[("apicurio.registry.url", "http://h"), ("apicurio.registry.url.version", "4")]).unwrap_err().contains("2 or 3"));
    }

    #[test]
    fn error_bodies_of_each_api_are_read() {
        assert_eq!(error_detail(r#"{"error_code":40403,"message":"Schema not found"}"#), ": Schema not found (error code 40403)");
        assert_eq!(error_detail(r#"{"status":404,"title":"Not found","detail":"No content with id 9"}"#), ": No content with id 9");
        assert_eq!(error_detail("<html>bad gateway</html>"), ": <html>bad gateway</html>");
        assert_eq!(error_detail(""), "");
    }

    #[test]
    fn kinds_are_guessed_from_content_when_the_registry_does_not_say() {
        assert_eq!(guess_kind(Some("application/x-protobuf"), "syntax = \"proto3\";"), SchemaKind::Protobuf);
        assert_eq!(guess_kind(Some("application/json"), r#"{"type":"record","name":"R","fields":[]}"#), SchemaKind::Avro);
        assert_eq!(guess_kind(Some("application/json"), r#""string""#), SchemaKind::Avro);
        assert_eq!(guess_kind(Some("application/json"), r#"{"$schema":"x","type":"object"}"#), SchemaKind::Json);
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let r = Retry { max: 5, wait: Duration::from_millis(100), max_wait: Duration::from_millis(350) };
        let waits: Vec<u128> = (0..4).map(|a| r.backoff(a).as_millis()).collect();
        assert_eq!(waits, [100, 200, 350, 350]);
    }
}
