//! HTTP routes (`weir run --routes`, docs/http-routes.md): a routes file's table
//! ([`weir_dsl::routes`]) bound to the running application and served on the REST API.
//!
//! **Binding** ([`bind`]) checks the table against the planned topology, at the routes
//! file's lines: a query's store must be a key-value store of the application; a produce
//! route's types (given, or those a definition declares for the topic, else `string` keys
//! and `json` values) must have codecs.
//!
//! **Serving.** A query whose key is here and ready is answered at once on the server's
//! thread, as the REST API's own queries are; any other route request (one that waits,
//! forwards or writes) is answered on a thread of its own, at most [`MAX_IN_FLIGHT`] at a
//! time (503 beyond):
//!
//! - *produce*: `Content-Type: application/json` (else 415), a body of at most
//!   [`MAX_BODY`] (else 413), JSON that converts to the value type as a KSML producer's
//!   value would (else 400 naming the cause); the key from its template (a missing body
//!   field is a 400). The record goes through the application's broker (`append`, then
//!   `sync`: on the embedded log written and fsynced, on Kafka acknowledged) and the answer
//!   is the route's status (201) with `Location` only then; no acknowledgement within the
//!   timeout is a 504 `HTTP POST timed out after {timeout} ms`, a broker error a 500.
//! - *query*: the key's process is asked of [`Owners`](super::owners::Owners). Here: the
//!   value is read; present (and `until` holds) it is the answer (200, the value as JSON);
//!   otherwise the request waits for the stores' change signal
//!   ([`StateStores::wait_change`]: after every batch the runtime processed, and when tasks
//!   open or close) and reads again, until its deadline: 504 `HTTP GET timed out after
//!   {timeout} ms`. The version is noted before each read, so no update slips between the
//!   read and the wait. Elsewhere: the request is forwarded to the owner (same path, the
//!   time left as `?timeout=`, marked with [`FORWARDED`] so the owner answers it itself, or
//!   answers 503 at once when it knows the key is elsewhere now);
//!   while tasks move, or when the owner cannot answer, the request waits and asks again,
//!   and answers 504 at its own deadline.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value as Json;
use weir_dsl::Diagnostic;
use weir_dsl::diag::did_you_mean;
use weir_dsl::model::Definition;
use weir_dsl::routes::{Action, Part, Produce, Query, Route, RouteTable, Template};
use weir_dsl::types::{TypeKind, UserType};
use weir_engine::broker::{Broker, NewRecord};
use weir_engine::notation::{Codec, Notations, Target};
use weir_engine::partitioner::partition_for_key;
use weir_engine::plan::Topology;
use weir_engine::store::{StateStores, StoreErrorKind, StoreFlavor, StoreSpec};
use weir_engine::value::{Value, convert};

use super::Rest;
use super::http::{BodyError, Params, Reply, Request};
use super::owners::{Owner, RouteError};

/// The largest request body a produce route takes.
pub const MAX_BODY: usize = 1 << 20;
/// Route requests being answered at once (waiting, forwarding, writing); more get a 503.
pub const MAX_IN_FLIGHT: usize = 1024;
/// The deepest nesting of arrays and objects a produce route's body may have.
pub const MAX_DEPTH: usize = 64;
/// The longest `?timeout=` a request may ask for (an hour).
const MAX_TIMEOUT_MS: u64 = 3_600_000;
/// The stack of a route request's thread: room for converting and encoding a body of
/// [`MAX_DEPTH`] levels (memory is only reserved, and taken as used).
const ROUTE_STACK: usize = 4 << 20;
/// The header that marks a query forwarded by another process: answered here, never again
/// forwarded (so two processes that disagree during a rebalance cannot bounce it).
pub const FORWARDED: &str = "Weir-Forwarded";
/// How long a request waits before asking again where a key is, while tasks move or the
/// owner cannot answer.
const REROUTE_PAUSE: Duration = Duration::from_millis(200);

/// A routes table bound to an application, with what its requests need.
pub struct Routes {
    table: RouteTable,
    /// Per route, in table order.
    bound: Vec<Bound>,
    broker: Arc<dyn Broker>,
    stores: Arc<StateStores>,
    in_flight: AtomicUsize,
    /// At most this many in flight ([`MAX_IN_FLIGHT`]).
    limit: usize,
    round_robin: AtomicU32,
    served: Arc<Counters>,
}

/// Per route and status: requests answered and their total time (for the metrics page).
#[derive(Debug, Default)]
pub struct Counters(Mutex<BTreeMap<(String, u16), (u64, f64)>>);

/// What a route was bound to.
enum Bound {
    Produce { key_type: UserType, value_type: UserType, key: Arc<dyn Codec>, value: Arc<dyn Codec> },
    Query,
}

/// The counters of one route and status, for the metrics page.
#[derive(Debug, Clone, PartialEq)]
pub struct Served {
    /// `METHOD /path/{param}`.
    pub route: String,
    pub status: u16,
    pub requests: u64,
    pub seconds: f64,
}

/// Checks `table` against the application and binds it: diagnostics at the routes file's
/// lines when a store or type does not fit.
pub fn bind(
    table: RouteTable,
    topology: &Topology,
    definitions: &[Definition],
    notations: &Notations,
    broker: Arc<dyn Broker>,
    stores: Arc<StateStores>,
) -> Result<Routes, Vec<Diagnostic>> {
    let bound = check(&table, topology, definitions, notations)?;
    Ok(Routes {
        table,
        bound,
        broker,
        stores,
        in_flight: AtomicUsize::new(0),
        limit: MAX_IN_FLIGHT,
        round_robin: AtomicU32::new(0),
        served: Arc::new(Counters::default()),
    })
}

/// The checks of [`bind`] (also `weir check --routes`).
fn check(
    table: &RouteTable,
    topology: &Topology,
    definitions: &[Definition],
    notations: &Notations,
) -> Result<Vec<Bound>, Vec<Diagnostic>> {
    let specs: Vec<&Arc<StoreSpec>> = topology.stores.iter().chain(topology.global_tables.iter().map(|g| &g.store)).collect();
    let mut diags = Vec::new();
    let mut bound = Vec::new();
    for route in &table.routes {
        let path = |key: &str| weir_dsl::routes::route_path(route.index, key);
        match &route.action {
            Action::Query(q) => {
                let name = &q.store.value;
                match specs.iter().find(|s| &s.name == name) {
                    None => {
                        let kv = specs.iter().filter(|s| is_key_value(s.flavor)).map(|s| s.name.as_str());
                        let hint = did_you_mean(name, kv.clone()).or_else(|| {
                            let names: Vec<&str> = kv.collect();
                            Some(if names.is_empty() {
                                "the application has no key-value store (a table's materialization is one)".to_string()
                            } else {
                                format!("its key-value stores: {}", names.join(", "))
                            })
                        });
                        let d = Diagnostic::error(
                            &table.file,
                            Some(q.store.span),
                            &path("query.store"),
                            format!("no state store named '{name}' in the application"),
                        );
                        diags.push(Diagnostic { hint, ..d });
                    }
                    Some(spec) if !is_key_value(spec.flavor) => diags.push(Diagnostic::error(
                        &table.file,
                        Some(q.store.span),
                        &path("query.store"),
                        format!("store '{name}' is a {} store; a query route reads a key-value store", spec.flavor.noun()),
                    )),
                    Some(_) => bound.push(Bound::Query),
                }
            }
            Action::Produce(p) => match produce_types(p, definitions, notations) {
                Ok(b) => bound.push(b),
                Err((span, message)) => diags.push(Diagnostic::error(&table.file, Some(span), &path("produce"), message)),
            },
        }
    }
    if diags.is_empty() { Ok(bound) } else { Err(diags) }
}

fn is_key_value(flavor: StoreFlavor) -> bool {
    matches!(flavor, StoreFlavor::KeyValue | StoreFlavor::TimestampedKeyValue | StoreFlavor::VersionedKeyValue { .. })
}

/// A produce route's types and codecs: given, else a definition's for the topic, else
/// `string` keys and `json` values.
fn produce_types(p: &Produce, definitions: &[Definition], notations: &Notations) -> Result<Bound, (weir_dsl::Span, String)> {
    let declared = definitions.iter().flat_map(|d| d.topics.values()).filter(|t| t.topic.value == p.topic.value);
    let declared_key = declared.clone().find_map(|t| t.key_type.as_ref().map(|t| t.value.clone()));
    let declared_value = declared.clone().find_map(|t| t.value_type.as_ref().map(|t| t.value.clone()));
    let plain = |kind: TypeKind, notation: Option<&str>| UserType { notation: notation.map(str::to_string), kind };
    let key_type = p.key_type.as_ref().map(|t| t.value.clone()).or(declared_key).unwrap_or_else(|| plain(TypeKind::String, None));
    let value_type =
        p.value_type.as_ref().map(|t| t.value.clone()).or(declared_value).unwrap_or_else(|| plain(TypeKind::NotationDefault, Some("json")));
    let codec = |ty: &UserType, is_key: bool, span| {
        notations.codec(ty, &Target { topic: Some(p.topic.value.clone()), is_key }).map_err(|e| {
            (span, format!("cannot write {} of type '{ty}' to topic '{}': {e}", if is_key { "keys" } else { "values" }, p.topic.value))
        })
    };
    let key = codec(&key_type, true, p.key_type.as_ref().map_or(p.topic.span, |t| t.span))?;
    let value = codec(&value_type, false, p.value_type.as_ref().map_or(p.topic.span, |t| t.span))?;
    Ok(Bound::Produce { key_type, value_type, key, value })
}

/// Checks a routes table against the application (`weir check --routes`).
pub fn check_table(table: &RouteTable, topology: &Topology, definitions: &[Definition], notations: &Notations) -> Vec<Diagnostic> {
    check(table, topology, definitions, notations).err().unwrap_or_default()
}

/// One slot of [`MAX_IN_FLIGHT`], given back when dropped.
struct Slot(Arc<Rest>);

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(routes) = &self.0.routes {
            routes.in_flight.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// What [`Rest::handle_request`] does with a request: a route's, or the REST API's own.
pub(super) fn dispatch(rest: &Arc<Rest>, request: Request) -> Option<Request> {
    let Some(routes) = &rest.routes else { return Some(request) };
    let (path, _) = request.url().split_once('?').unwrap_or((request.url(), ""));
    let Ok(segments) = path.split('/').filter(|s| !s.is_empty()).map(super::http::percent_decode).collect::<Result<Vec<_>, _>>() else {
        return Some(request);
    };
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let index = match routes.table.find(request.method(), &segments) {
        Ok((route, _)) => routes.table.routes.iter().position(|r| std::ptr::eq(r, route)).unwrap_or_default(),
        Err(methods) if methods.is_empty() => return Some(request),
        Err(methods) => {
            let allowed = methods.join(", ");
            let reply = Reply::text(405, &format!("method {} not allowed on {path}: it takes {allowed}", request.method()));
            request.respond(reply.with_header("Allow", allowed));
            return None;
        }
    };
    // A query whose key is here and ready is answered at once, as the REST API's own queries
    // are; the others (waiting, forwarding, writing) get a thread of their own.
    let began = Instant::now();
    if let Some(reply) = query_now(rest, routes, index, &request) {
        routes.count(&routes.table.routes[index], reply.status, began.elapsed());
        request.respond(reply);
        return None;
    }
    if routes.in_flight.fetch_add(1, Ordering::SeqCst) >= routes.limit {
        routes.in_flight.fetch_sub(1, Ordering::SeqCst);
        request.respond(Reply::retry_later(&format!(
            "{} route requests are being answered already (waiting or writing): try again shortly",
            routes.limit
        )));
        return None;
    }
    let slot = Slot(Arc::clone(rest));
    let spawned = std::thread::Builder::new().name("weir-route".to_string()).stack_size(ROUTE_STACK).spawn(move || {
        let began = Instant::now();
        let rest = Arc::clone(&slot.0);
        let Some(routes) = &rest.routes else { return };
        let route = &routes.table.routes[index];
        let mut request = request;
        let reply = answer(&slot, routes, index, &mut request);
        routes.count(route, reply.status, began.elapsed());
        // The slot is free before the client hears the answer (it may ask again at once).
        drop(slot);
        request.respond(reply);
    });
    if let Err(e) = spawned {
        tracing::warn!("cannot start a thread for a route request: {e}");
    }
    None
}

fn answer(slot: &Slot, routes: &Routes, index: usize, request: &mut Request) -> Reply {
    let route = &routes.table.routes[index];
    let url = request.url().to_string();
    let (path, query) = url.split_once('?').unwrap_or((&url, ""));
    let segments: Vec<String> = path.split('/').filter(|s| !s.is_empty()).filter_map(|s| super::http::percent_decode(s).ok()).collect();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let params = route.matches(&segments).unwrap_or_default();
    let timeout = match timeout_of(query, route) {
        Ok(t) => t,
        Err(message) => return Reply::text(400, &message),
    };
    match (&route.action, &routes.bound[index]) {
        (Action::Produce(p), Bound::Produce { key_type, value_type, key, value }) => {
            let codecs = Codecs { key_type, value_type, key, value };
            produce(slot, routes, p, &codecs, &params, timeout, request)
        }
        (Action::Query(q), _) => {
            let forwarded = request.header(FORWARDED).is_some();
            query_store(&slot.0, routes, q, &params, path, timeout, forwarded)
        }
        _ => Reply::text(500, "a route bound to the wrong action (a bug in Weir)"),
    }
}

/// The request's `?timeout=` (ms), else the route's default; no other parameter is taken.
fn timeout_of(query: &str, route: &Route) -> Result<u64, String> {
    let params = Params::parse(query)?;
    if let Some(unknown) = params.names().find(|n| *n != "timeout") {
        return Err(format!("unknown parameter '{unknown}': a route takes 'timeout' (milliseconds) only"));
    }
    let default = match &route.action {
        Action::Query(q) => q.timeout_ms,
        Action::Produce(_) => weir_dsl::routes::DEFAULT_TIMEOUT_MS,
    };
    match params.number("timeout")? {
        None => Ok(default),
        Some(ms) if ms < 0 => Err(format!("'timeout' must not be negative, found {ms}")),
        Some(ms) if ms as u64 > MAX_TIMEOUT_MS => Err(format!("'timeout' is at most {MAX_TIMEOUT_MS} ms (an hour), found {ms}")),
        Some(ms) => Ok(ms as u64),
    }
}

/// A 504 with the text of the Kafka Streams orders service.
fn timed_out(method: &str, timeout: u64) -> Reply {
    Reply {
        status: 504,
        content_type: "text/plain; charset=utf-8",
        headers: Vec::new(),
        body: format!("HTTP {method} timed out after {timeout} ms\n").into_bytes(),
    }
}

struct Codecs<'a> {
    key_type: &'a UserType,
    value_type: &'a UserType,
    key: &'a Arc<dyn Codec>,
    value: &'a Arc<dyn Codec>,
}

fn produce(
    slot: &Slot,
    routes: &Routes,
    p: &Produce,
    codecs: &Codecs,
    params: &[(&str, &str)],
    timeout: u64,
    request: &mut Request,
) -> Reply {
    let content_type = request.header("Content-Type").unwrap_or("").to_string();
    let media = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if media != "application/json" {
        let found = if content_type.is_empty() { "none".to_string() } else { format!("'{content_type}'") };
        return Reply::text(415, &format!("the body must be JSON: send 'Content-Type: application/json' (found {found})"));
    }
    let body = match request.body(MAX_BODY) {
        Ok(b) => b,
        Err(BodyError::TooLarge(limit)) => return Reply::text(413, &format!("the body is larger than {limit} bytes")),
        Err(BodyError::Unreadable(e)) => return Reply::text(400, &e),
    };
    let json: Json = match serde_json::from_slice(&body) {
        Ok(j) => j,
        Err(e) => return Reply::text(400, &format!("the body is not valid JSON: {e}")),
    };
    if depth(&json) > MAX_DEPTH {
        return Reply::text(400, &format!("the body nests arrays and objects deeper than {MAX_DEPTH} levels"));
    }
    let key_text = match p.key.as_ref().map(|t| render(t, params, Some(&json), None)).transpose() {
        Ok(k) => k,
        Err(e) => return Reply::text(400, &e),
    };
    let encoded = encode(p, codecs, key_text.as_deref(), &body);
    let (key_bytes, value_bytes) = match encoded {
        Ok(kv) => kv,
        Err(e) => return Reply::text(400, &e),
    };
    let broker = Arc::clone(&routes.broker);
    let partitions = match broker.ensure_topic(&p.topic.value, 1) {
        Ok(n) => n.max(1),
        Err(e) => return Reply::text(500, &format!("cannot write to topic '{}': {e}", p.topic.value)),
    };
    let partition = match &key_bytes {
        Some(k) => partition_for_key(k, partitions),
        None => routes.round_robin.fetch_add(1, Ordering::Relaxed) % partitions,
    };
    let record = NewRecord { timestamp: weir_engine::time::now_ms(), key: key_bytes, value: value_bytes, headers: Vec::new() };
    // Written on a thread of its own, so the answer can be a 504 when the broker takes too
    // long; the slot is held until the write ends.
    let (done, result) = std::sync::mpsc::channel();
    let topic = p.topic.value.clone();
    routes.in_flight.fetch_add(1, Ordering::SeqCst);
    let writer_slot = Slot(Arc::clone(&slot.0));
    let spawned = std::thread::Builder::new().name("weir-route-write".to_string()).stack_size(ROUTE_STACK).spawn(move || {
        let written = broker.append(&topic, partition, &[record]).and_then(|()| broker.sync());
        drop(writer_slot);
        let _ = done.send(written);
    });
    if let Err(e) = spawned {
        return Reply::text(500, &format!("cannot start writing the record: {e}"));
    }
    match result.recv_timeout(Duration::from_millis(timeout)) {
        Ok(Ok(())) => {
            let mut reply = Reply::empty(p.status);
            if let Some(location) = &p.location {
                match render(location, params, Some(&json), key_text.as_deref()) {
                    Ok(at) => {
                        let absolute = match request.header("Host") {
                            Some(host) if at.starts_with('/') => format!("http://{host}{at}"),
                            _ => at,
                        };
                        reply = reply.with_header("Location", absolute);
                    }
                    Err(e) => tracing::warn!("route {}: no Location header: {e}", p.topic.value),
                }
            }
            reply
        }
        Ok(Err(e)) => Reply::text(500, &format!("cannot write to topic '{}': {e}", p.topic.value)),
        Err(_) => timed_out("POST", timeout),
    }
}

/// The record's key and value bytes: the key text and the JSON body brought to the route's
/// types, as a KSML producer's would be, and encoded (a schema's checks apply there).
#[allow(clippy::type_complexity)]
fn encode(p: &Produce, codecs: &Codecs, key_text: Option<&str>, body: &[u8]) -> Result<(Option<Vec<u8>>, Option<Vec<u8>>), String> {
    let key = match key_text {
        None => None,
        Some(text) => {
            let from_text = convert(Value::String(text.to_string()), codecs.key_type);
            let key = match from_text {
                Ok(k) => k,
                // A structured key type: the text is JSON.
                Err(e) => weir_engine::notation::json::from_slice(text.as_bytes())
                    .ok()
                    .and_then(|v| convert(v, codecs.key_type).ok())
                    .ok_or_else(|| format!("the key '{text}' does not fit the key type '{}': {e}", codecs.key_type))?,
            };
            codecs.key.encode(&key).map_err(|e| format!("the key '{text}' cannot be written as '{}': {e}", codecs.key_type))?
        }
    };
    let value = weir_engine::notation::json::from_slice(body).map_err(|e| format!("the body is not valid JSON: {e}"))?;
    let value = if matches!(codecs.value_type.kind, TypeKind::String) {
        // A string value takes the body's text when it is not a JSON string.
        match value {
            Value::String(s) => Value::String(s),
            _ => Value::String(String::from_utf8_lossy(body).into_owned()),
        }
    } else {
        value
    };
    let value = convert(value, codecs.value_type).map_err(|e| format!("the body does not fit the type '{}': {e}", codecs.value_type))?;
    let value = codecs
        .value
        .encode(&value)
        .map_err(|e| format!("the body cannot be written as '{}' to topic '{}': {e}", codecs.value_type, p.topic.value))?;
    Ok((key, value))
}

/// A template's text: path parameters, body fields (text as they are, other JSON as JSON
/// text), the record's key.
fn render(template: &Template, params: &[(&str, &str)], body: Option<&Json>, key: Option<&str>) -> Result<String, String> {
    let mut out = String::new();
    for part in &template.parts {
        match part {
            Part::Literal(text) => out.push_str(text),
            Part::Param(name) => out.push_str(params.iter().find(|(n, _)| n == name).map_or("", |(_, v)| v)),
            Part::Key => out.push_str(key.ok_or_else(|| format!("template '{}': the record has no key", template.text.value))?),
            Part::Body(fields) => {
                let found = body.and_then(|b| field(b, fields)).filter(|v| !v.is_null());
                match found {
                    Some(Json::String(s)) => out.push_str(s),
                    Some(other) => out.push_str(&other.to_string()),
                    None => {
                        return Err(format!(
                            "the body has no field '{}' (the template '{}' needs it)",
                            fields.join("."),
                            template.text.value
                        ));
                    }
                }
            }
        }
    }
    Ok(out)
}

/// How deep arrays and objects nest in `json` (a scalar is 0). serde_json refuses more than
/// 128 levels, so this recursion is bounded.
fn depth(json: &Json) -> usize {
    match json {
        Json::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Json::Object(fields) => 1 + fields.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

fn field<'j>(json: &'j Json, path: &[String]) -> Option<&'j Json> {
    path.iter().try_fold(json, |at, name| at.get(name))
}

/// A query route's key, as the store's key type.
fn query_key(rest: &Rest, q: &Query, params: &[(&str, &str)]) -> Result<Value, Reply> {
    let key_text = render(&q.key, params, None, None).map_err(|e| Reply::text(400, &e))?;
    rest.queries
        .held(&q.store.value)
        .map_err(|e| e.to_string())
        .and_then(|s| s.key_from_text(&key_text).map_err(|e| e.message))
        .map_err(|e| Reply::text(400, &e))
}

/// What a query does next.
enum Step {
    Answer(Reply),
    /// Ask the process at this endpoint.
    Forward(String),
    /// Wait for a change past this version, at most this long.
    Wait(u64, Duration),
}

/// One look at a query's key: here, where it is, or why to wait.
fn step(rest: &Rest, routes: &Routes, q: &Query, key: &Value, forwarded: bool) -> Step {
    let seen = routes.stores.version();
    let name = &q.store.value;
    let store = match rest.queries.held(name) {
        Ok(s) => s,
        Err(e) => return Step::Answer(Reply::text(500, &e.to_string())),
    };
    let owner = match rest.owners.owner_of(&store, key) {
        // A forwarded query is answered here and never forwarded again (two processes that
        // disagree during a rebalance cannot bounce it), but when this process knows the key
        // is elsewhere now (its task moved away, maybe while the query waited) it says so at
        // once: the forwarder asks again, instead of this process waiting out the timeout
        // on a store it no longer updates.
        Ok(Owner::Remote { endpoint, .. }) if forwarded => {
            return Step::Answer(Reply::retry_later(&format!("the key of store '{name}' is not held here but at {endpoint}")));
        }
        Err(RouteError::Moving(_)) if forwarded => Ok(Owner::Local { task: None }),
        owner => owner,
    };
    match owner {
        Err(RouteError::BadKey(message)) => Step::Answer(Reply::text(400, &message)),
        Err(RouteError::Moving(why)) => {
            tracing::debug!("a query of store '{name}' waits: {why}");
            Step::Wait(seen, REROUTE_PAUSE)
        }
        Ok(Owner::Remote { endpoint, .. }) => Step::Forward(endpoint),
        Ok(Owner::Local { .. }) => match read(&store, key, q) {
            Ok(Some(json)) => Step::Answer(Reply::json(&json)),
            Ok(None) => Step::Wait(seen, Duration::MAX),
            Err(reply) => Step::Answer(reply),
        },
    }
}

/// A query answered at once, on the server's thread, when its key is here and ready (or the
/// request is wrong); `None` when it must wait or ask another process.
fn query_now(rest: &Rest, routes: &Routes, index: usize, request: &Request) -> Option<Reply> {
    let route = &routes.table.routes[index];
    let Action::Query(q) = &route.action else { return None };
    let url = request.url();
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let segments: Vec<String> = path.split('/').filter(|s| !s.is_empty()).filter_map(|s| super::http::percent_decode(s).ok()).collect();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let params = route.matches(&segments).unwrap_or_default();
    if let Err(message) = timeout_of(query, route) {
        return Some(Reply::text(400, &message));
    }
    let key = match query_key(rest, q, &params) {
        Ok(k) => k,
        Err(reply) => return Some(reply),
    };
    match step(rest, routes, q, &key, request.header(FORWARDED).is_some()) {
        Step::Answer(reply) => Some(reply),
        Step::Forward(_) | Step::Wait(..) => None,
    }
}

/// A query route: the value of the key, here or at its owner, waiting for it (see the module
/// doc).
fn query_store(rest: &Rest, routes: &Routes, q: &Query, params: &[(&str, &str)], path: &str, timeout: u64, forwarded: bool) -> Reply {
    let deadline = Instant::now() + Duration::from_millis(timeout);
    let key = match query_key(rest, q, params) {
        Ok(k) => k,
        Err(reply) => return reply,
    };
    let name = &q.store.value;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match step(rest, routes, q, &key, forwarded) {
            Step::Answer(reply) => return reply,
            Step::Wait(seen, at_most) => {
                routes.stores.wait_change(seen, left.min(at_most));
            }
            Step::Forward(endpoint) => {
                if left.is_zero() {
                    return timed_out("GET", timeout);
                }
                match super::forward::get_waiting(&endpoint, path, left) {
                    Ok(reply) if reply.status == 200 || (400..500).contains(&reply.status) && reply.status != 429 => return reply,
                    Ok(reply) => {
                        tracing::debug!("the owner of a key of store '{name}' at {endpoint} answered {}: asking again", reply.status)
                    }
                    Err(e) => tracing::debug!("cannot ask the owner of a key of store '{name}': {e}"),
                }
                let left = deadline.saturating_duration_since(Instant::now());
                std::thread::sleep(left.min(REROUTE_PAUSE));
            }
        }
        if Instant::now() >= deadline {
            return timed_out("GET", timeout);
        }
    }
}

/// The key's value as JSON when it is there and satisfies `until`; `Err` for a failure that
/// waiting does not mend.
fn read(store: &weir_engine::store::ReadOnlyStore, key: &Value, q: &Query) -> Result<Option<Json>, Reply> {
    let found = match store.get(key) {
        Ok(found) => found,
        // Not open here (yet): the change signal says when tasks open.
        Err(e) if matches!(e.kind, StoreErrorKind::Closed | StoreErrorKind::Unavailable) => None,
        Err(e) if e.kind == StoreErrorKind::Data => return Err(Reply::text(500, &e.message)),
        Err(e) => return Err(Reply::text(400, &e.message)),
    };
    let Some(found) = found else { return Ok(None) };
    let json = super::state::json_value(&found.value).map_err(|e| Reply::text(500, &e))?;
    let holds = q.until.as_ref().is_none_or(|until| {
        field(&json, &until.field.value).is_some_and(|v| {
            let text = match v {
                Json::String(s) => s.clone(),
                other => other.to_string(),
            };
            until.any_of.contains(&text)
        })
    });
    Ok(holds.then_some(json))
}

impl Routes {
    /// The number of routes.
    pub fn len(&self) -> usize {
        self.table.routes.len()
    }

    /// The counters of the requests answered, for the metrics page.
    pub fn counters(&self) -> Arc<Counters> {
        Arc::clone(&self.served)
    }

    fn count(&self, route: &Route, status: u16, took: Duration) {
        let mut served = self.served.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let entry = served.entry((format!("{} {}", route.method, route.path.value), status)).or_default();
        entry.0 += 1;
        entry.1 += took.as_secs_f64();
    }
}

impl Counters {
    /// Requests answered so far, by route and status.
    pub fn served(&self) -> Vec<Served> {
        let served = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        served
            .iter()
            .map(|((route, status), (requests, seconds))| Served {
                route: route.clone(),
                status: *status,
                requests: *requests,
                seconds: *seconds,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use weir_engine::broker::GroupOwners;
    use weir_engine::metrics::Metrics;

    use super::*;
    use crate::app::{NotationSetup, Planned, plan_definitions};
    use crate::rest::owners::ThisProcess;
    use crate::rest::test_broker::{Sync, TestBroker};

    /// Words counted by key (`counts`, key-value) and per minute (`per_minute`, window).
    const DEFINITION: &str = "streams:
  words: {topic: words, keyType: string, valueType: string}
pipelines:
  p:
    from: words
    via:
      - type: groupByKey
      - type: count
        name: counts
      - type: toStream
    to: {topic: totals, keyType: string, valueType: long}
  w:
    from: words
    via:
      - type: groupByKey
      - type: windowByTime
        windowType: tumbling
        duration: 1m
      - type: count
        name: per_minute
      - type: toStream
    to: {topic: minutes, keyType: windowed(string), valueType: long}
";

    fn planned() -> (Vec<Definition>, Planned) {
        let (def, diags) = weir_dsl::parse_definition("w.yaml", "ns", DEFINITION, &[]);
        assert!(diags.iter().all(|d| !d.is_error()), "{diags:?}");
        let definitions = vec![def.expect("definition")];
        let planned = plan_definitions(&definitions, "app", true, true, None, NotationSetup::Given(Notations::builtin()))
            .unwrap_or_else(|_| panic!("the definition plans"));
        (definitions, planned)
    }

    fn table(text: &str) -> RouteTable {
        let (table, diags) = weir_dsl::routes::parse_routes("r.yaml", text);
        assert!(diags.iter().all(|d| !d.is_error()), "{diags:?}");
        table.expect("table")
    }

    #[test]
    fn routes_are_checked_against_the_application_at_their_lines() {
        let (definitions, planned) = planned();
        let text = "routes:
  - path: /v1/counts/{w}
    method: GET
    query: {store: count, key: \"{w}\"}
  - path: /v1/minutes/{w}
    method: GET
    query: {store: per_minute, key: \"{w}\"}
  - path: /v1/words
    method: POST
    produce: {topic: words, valueType: \"avro:NoSuchSchema\"}
  - path: /v1/totals/{w}
    method: GET
    query: {store: counts, key: \"{w}\"}
";
        let diags = check_table(&table(text), &planned.topology, &definitions, &planned.notations);
        let found: Vec<(u32, String)> = diags
            .iter()
            .map(|d| (d.span.map_or(0, |s| s.line), format!("{} | {}", d.message, d.hint.clone().unwrap_or_default())))
            .collect();
        assert_eq!(found.len(), 3, "{found:?}");
        assert!(
            found[0].0 == 4 && found[0].1.contains("no state store named 'count'") && found[0].1.contains("did you mean 'counts'"),
            "{found:?}"
        );
        assert!(
            found[1].0 == 7
                && found[1].1.contains("store 'per_minute' is a timestamped window store; a query route reads a key-value store"),
            "{found:?}"
        );
        assert!(found[2].0 == 10 && found[2].1.contains("cannot write values of type 'avro:NoSuchSchema' to topic 'words'"), "{found:?}");
    }

    /// A REST API with the routes of `text` over the definition, on `broker`, listening on a
    /// port of its own.
    fn serve(text: &str, broker: &Arc<TestBroker>) -> super::super::http::Server {
        serve_with(text, broker, None, MAX_IN_FLIGHT)
    }

    /// [`serve`], routed over `broker`'s group as process `me` when given, with `limit`
    /// requests in flight.
    fn serve_with(text: &str, broker: &Arc<TestBroker>, me: Option<&str>, limit: usize) -> super::super::http::Server {
        let (definitions, planned) = planned();
        let stores = Arc::new(StateStores::new());
        let as_broker = Arc::clone(broker) as Arc<dyn Broker>;
        let mut routes =
            bind(table(text), &planned.topology, &definitions, &planned.notations, Arc::clone(&as_broker), Arc::clone(&stores))
                .unwrap_or_else(|d| panic!("{d:?}"));
        routes.limit = limit;
        let owners: Box<dyn super::super::owners::Owners> = match me {
            Some(me) => Box::new(super::super::owners::Routed::new(as_broker, "app", Some(me.to_string()), &planned.topology)),
            None => Box::new(ThisProcess),
        };
        let queries = weir_engine::store::StoreQueries::new(planned.topology.stores.clone(), stores);
        let rest = Arc::new(Rest { metrics: Metrics::new(), queries, owners, routes: Some(routes) });
        super::super::http::serve_requests("test", "127.0.0.1", 0, "test", move |request| rest.handle_request(request)).expect("serve")
    }

    fn post(url: &str, body: &str) -> (u16, String) {
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        let mut response = agent.post(url).header("Content-Type", "application/json").send(body).expect("answer");
        (response.status().as_u16(), response.body_mut().read_to_string().unwrap_or_default())
    }

    #[test]
    fn a_write_answers_once_durable_504_when_not_in_time_and_500_when_it_fails() {
        let broker = Arc::new(TestBroker::new(GroupOwners::default()));
        let server = serve("routes:\n  - path: /v1/words/{w}\n    method: POST\n    produce: {topic: words, key: \"{w}\"}\n", &broker);
        let url = format!("http://{}/v1/words/hello", server.address);
        // The definition's types: string keys and values; a JSON string body is its text.
        assert_eq!(post(&url, "\"hi\""), (201, String::new()));
        let written = broker.records.read("words", partition_for_key(b"hello", 1), 0, 1 << 20).expect("read");
        assert_eq!(
            written.iter().map(|r| (r.key.clone(), r.value.clone())).collect::<Vec<_>>(),
            vec![(Some(b"hello".to_vec()), Some(b"hi".to_vec()))]
        );
        // Not acknowledged within ?timeout: 504 with the text, without waiting for the broker.
        *broker.sync.lock().expect("sync") = Sync::Slow(Duration::from_secs(3));
        let began = Instant::now();
        assert_eq!(post(&format!("{url}?timeout=100"), "\"slow\""), (504, "HTTP POST timed out after 100 ms\n".to_string()));
        assert!(began.elapsed() < Duration::from_secs(2), "{:?}", began.elapsed());
        // The broker fails: 500 with its cause.
        *broker.sync.lock().expect("sync") = Sync::Fails("the disk is full".to_string());
        let (status, body) = post(&url, "\"lost\"");
        assert_eq!(status, 500, "{body}");
        assert!(body.contains("cannot write to topic 'words'") && body.contains("the disk is full"), "{body}");
        // A GET of a produce route's path is not allowed; other paths are the REST API's.
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        let response = agent.get(&url).call().expect("answer");
        assert_eq!((response.status().as_u16(), response.headers().get("allow").and_then(|v| v.to_str().ok())), (405, Some("POST")));
    }

    #[test]
    fn a_query_waits_out_its_timeout_while_the_owner_cannot_answer_or_tasks_move() {
        use weir_engine::broker::GroupOwner;
        let member = |endpoint: &str, partitions: &[u32]| GroupOwner {
            member: endpoint.to_string(),
            endpoint: Some(endpoint.to_string()),
            partitions: partitions.iter().map(|p| ("words".to_string(), *p)).collect(),
        };
        let me = "http://10.0.0.1:8080";
        // Nothing listens on port 9 of this address: forwarding fails.
        let group = GroupOwners {
            stable: true,
            state: "Stable".to_string(),
            members: vec![member(me, &[]), member("http://127.0.0.1:9", &[0, 1, 2, 3])],
            partitions: vec![("words".to_string(), 4)],
        };
        let broker = Arc::new(TestBroker::new(group));
        let text = "routes:\n  - path: /v1/counts/{w}\n    method: GET\n    query: {store: counts, key: \"{w}\"}\n";
        let server = serve_with(text, &broker, Some(me), 1);
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        let get = |url: &str| {
            let mut response = agent.get(url).call().expect("answer");
            (response.status().as_u16(), response.body_mut().read_to_string().unwrap_or_default())
        };
        let url = format!("http://{}/v1/counts/hello?timeout=600", server.address);
        let began = Instant::now();
        assert_eq!(get(&url), (504, "HTTP GET timed out after 600 ms\n".to_string()));
        assert!(began.elapsed() >= Duration::from_millis(600), "{:?}", began.elapsed());
        // A rebalance: the same, never a 503.
        broker.group.lock().expect("group").stable = false;
        let began = Instant::now();
        assert_eq!(get(&url), (504, "HTTP GET timed out after 600 ms\n".to_string()));
        assert!(began.elapsed() >= Duration::from_millis(600), "{:?}", began.elapsed());
        // One request in flight at most here: a second one meanwhile is a 503.
        let waiting = {
            let url = format!("http://{}/v1/counts/hello?timeout=1500", server.address);
            std::thread::spawn(move || {
                let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
                agent.get(&url).call().map(|r| r.status().as_u16()).unwrap_or_default()
            })
        };
        std::thread::sleep(Duration::from_millis(300));
        let (status, body) = get(&url);
        assert_eq!(status, 503, "{body}");
        assert!(body.contains("1 route requests are being answered already"), "{body}");
        assert_eq!(waiting.join().expect("waiter"), 504);
    }

    #[test]
    fn a_forwarded_query_for_a_key_held_elsewhere_now_is_answered_at_once_not_waited_out() {
        use weir_engine::broker::GroupOwner;
        // This process holds no partition of the store any more (another does): a query
        // forwarded here (by a process that still thinks otherwise) gets a 503 at once, so
        // that its forwarder asks again, rather than a 504 at the end of its timeout.
        let me = "http://10.0.0.1:8080";
        let owner = |endpoint: &str, partitions: &[u32]| GroupOwner {
            member: endpoint.to_string(),
            endpoint: Some(endpoint.to_string()),
            partitions: partitions.iter().map(|p| ("words".to_string(), *p)).collect(),
        };
        let group = GroupOwners {
            stable: true,
            state: "Stable".to_string(),
            members: vec![owner(me, &[]), owner("http://10.0.0.2:8080", &[0, 1, 2, 3])],
            partitions: vec![("words".to_string(), 4)],
        };
        let broker = Arc::new(TestBroker::new(group));
        let text = "routes:\n  - path: /v1/counts/{w}\n    method: GET\n    query: {store: counts, key: \"{w}\"}\n";
        let server = serve_with(text, &broker, Some(me), MAX_IN_FLIGHT);
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        let url = format!("http://{}/v1/counts/hello?timeout=5000", server.address);
        let began = Instant::now();
        let mut response = agent.get(&url).header(FORWARDED, "1").call().expect("answer");
        let body = response.body_mut().read_to_string().unwrap_or_default();
        assert_eq!(response.status().as_u16(), 503, "{body}");
        assert!(body.contains("not held here but at http://10.0.0.2:8080"), "{body}");
        assert!(began.elapsed() < Duration::from_secs(3), "{:?}", began.elapsed());
    }
}
