//! The state store queries: `/state/{keyValue|windowed|session}/{store}/…`.
//!
//! KSML's shapes: a key-value entry is `{"key": …, "value": …}`; a windowed one adds
//! `"window": {"start", "end", "startTime", "endTime"}` (times in ms and ISO-8601 UTC). Keys
//! and values are written as JSON whatever the store's notation. Beyond KSML:
//!
//! - timestamped and versioned key-value stores add `"timestamp"` to each entry (and
//!   `"validTo"` to a versioned `get` with `?at=`); a versioned store is read through
//!   `keyValue` paths, its latest versions, or those valid at `?at=<epoch ms>`;
//! - session stores: `/state/session/{store}/all` and `/get/{key}` (every session of the key);
//! - `/all` takes `from`, `to` (inclusive key bounds), `after` (an exclusive lower bound,
//!   for paging), `prefix` (string keys) and `limit`.
//!
//! The non-`local` forms ask [`Owners`](super::owners::Owners) where a key lives and which
//! other processes hold the store's tasks; on the embedded log everything is local. A `get`
//! of a key another process holds is forwarded to that process's `/local/` form of the same
//! query ([`forward`]); `/all` adds every other process's `/local/all` to this one's, checks
//! that every task answered (each `/local/` answer lists its tasks in a `Weir-Tasks`
//! header), and sorts the whole into the store's order. While tasks are moving the answer
//! is 503 with `Retry-After`, never a partial one.

use serde_json::{Map, Value as Json, json};
use weir_engine::store::{Entry, QueryError, ReadOnlyStore, StoreError, StoreErrorKind, StoreFlavor, instant_text, split_windowed};
use weir_engine::value::{Value, convert};

use super::Rest;
use super::forward;
use super::http::{self, Params, Reply};
use super::owners::{Owner, RouteError};

/// The kind of store a path asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    KeyValue,
    Windowed,
    Session,
}

impl Kind {
    fn path(self) -> &'static str {
        match self {
            Kind::KeyValue => "keyValue",
            Kind::Windowed => "windowed",
            Kind::Session => "session",
        }
    }

    fn of(flavor: StoreFlavor) -> Kind {
        match flavor {
            StoreFlavor::KeyValue | StoreFlavor::TimestampedKeyValue | StoreFlavor::VersionedKeyValue { .. } => Kind::KeyValue,
            StoreFlavor::Window { .. } => Kind::Windowed,
            StoreFlavor::Session { .. } => Kind::Session,
        }
    }
}

/// A failure, as its reply.
struct Failed(Reply);

impl From<StoreError> for Failed {
    fn from(e: StoreError) -> Failed {
        let status = match e.kind {
            StoreErrorKind::Argument | StoreErrorKind::WrongKind => 400,
            StoreErrorKind::Closed | StoreErrorKind::Unavailable => return Failed(Reply::retry_later(&e.message)),
            StoreErrorKind::Data => 500,
        };
        Failed(Reply::text(status, &e.message))
    }
}

fn bad(message: String) -> Failed {
    Failed(Reply::text(400, &message))
}

const ALL_PARAMS: &[&str] = &["from", "to", "after", "prefix", "limit", "at"];

pub(super) fn handle(rest: &Rest, kind: &str, name: &str, op: &[&str], params: &Params, query: &str) -> Reply {
    match answer(rest, kind, name, op, params, query) {
        Ok(reply) => reply,
        Err(Failed(reply)) => reply,
    }
}

/// The header listing the tasks a `/local/` answer comes from (`0,2`): how a process
/// merging other processes' `/local/all` checks that it got every task.
pub(super) const TASKS_HEADER: &str = "Weir-Tasks";

fn answer(rest: &Rest, kind: &str, name: &str, op: &[&str], params: &Params, query: &str) -> Result<Reply, Failed> {
    let kind = match kind {
        "keyValue" => Kind::KeyValue,
        "windowed" => Kind::Windowed,
        "session" => Kind::Session,
        other => return Err(Failed(Reply::text(404, &format!("no store type '{other}': use keyValue, windowed or session")))),
    };
    let store = rest.queries.held(name).map_err(|e| match e {
        QueryError::Unknown(_) => Failed(Reply::text(404, &format!("Could not find store {name} of type {}", kind.path()))),
        QueryError::NotReady(_) => Failed(Reply::retry_later(&e.to_string())),
    })?;
    let actual = Kind::of(store.flavor());
    if actual != kind {
        return Err(Failed(Reply::text(
            404,
            &format!(
                "Could not find store {name} of type {}: it is a {} store, queried at /state/{}/{name}/",
                kind.path(),
                store.flavor().noun(),
                actual.path()
            ),
        )));
    }
    let (local, op) = match op {
        ["local", rest @ ..] => (true, rest),
        _ => (false, op),
    };
    if let Some(unknown) = params.names().find(|n| !ALL_PARAMS.contains(n)) {
        return Err(bad(format!("unknown parameter '{unknown}' (known: {})", ALL_PARAMS.join(", "))));
    }
    let held = store.tasks();
    if local {
        // A `/local/` query answers from this process whatever it holds, as KSML's does
        // (and is what a forwarded query asks: it never goes further).
        if held.is_empty() {
            return Err(not_ready(name));
        }
        let tasks = held.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
        return Ok(read_here(&store, kind, op, params)?.with_header(TASKS_HEADER, tasks));
    }
    match op {
        ["all"] => match rest.owners.placement(&store).map_err(route_failed)? {
            None if held.is_empty() => Err(not_ready(name)),
            None => read_here(&store, kind, op, params),
            Some(placement) => {
                if let Some(missing) = placement.local.iter().find(|t| !held.contains(t)) {
                    return Err(not_open(name, *missing));
                }
                let mut entries = if placement.local.is_empty() { Vec::new() } else { json_list(read_here(&store, kind, op, params)?)? };
                for (endpoint, tasks) in &placement.remote {
                    let path = format!("/state/{}/{}/local/all", kind.path(), http::percent_encode(name));
                    let reply = forward::get(endpoint, &path, query).map_err(Failed)?;
                    if reply.status != 200 {
                        return Err(Failed(reply));
                    }
                    let answered: Vec<u32> =
                        reply.header(TASKS_HEADER).unwrap_or_default().split(',').filter_map(|t| t.trim().parse().ok()).collect();
                    if let Some(missing) = tasks.iter().find(|t| !answered.contains(t)) {
                        return Err(Failed(Reply::retry_later(&format!(
                            "task {missing} of store '{name}' is assigned to {endpoint}, which has not opened it yet (it answered for tasks {answered:?})"
                        ))));
                    }
                    entries.extend(json_list(reply)?);
                }
                merge(&store, kind, &mut entries)?;
                if let Some(limit) = limit_of(params)? {
                    entries.truncate(limit);
                }
                Ok(Reply::json(&Json::Array(entries)))
            }
        },
        ["get", key, ..] => {
            let value = store.key_from_text(key)?;
            match rest.owners.owner_of(&store, &value).map_err(route_failed)? {
                Owner::Local { task: None } if held.is_empty() => Err(not_ready(name)),
                Owner::Local { task: Some(task) } if !held.contains(&task) => Err(not_open(name, task)),
                Owner::Local { .. } => read_here(&store, kind, op, params),
                Owner::Remote { endpoint, .. } => {
                    let rest_of: Vec<String> = op.iter().map(|s| http::percent_encode(s)).collect();
                    let path = format!("/state/{}/{}/local/{}", kind.path(), http::percent_encode(name), rest_of.join("/"));
                    forward::get(&endpoint, &path, query).map_err(Failed)
                }
            }
        }
        _ => read_here(&store, kind, op, params),
    }
}

/// No instance of the store is open here yet.
fn not_ready(name: &str) -> Failed {
    Failed(Reply::retry_later(&QueryError::NotReady(name.to_string()).to_string()))
}

/// The task is this process's, but not open yet.
fn not_open(name: &str, task: u32) -> Failed {
    Failed(Reply::retry_later(&format!(
        "task {task} of store '{name}' is assigned to this process and not open yet (its state is being restored)"
    )))
}

fn route_failed(e: RouteError) -> Failed {
    match e {
        RouteError::Moving(message) => Failed(Reply::retry_later(&message)),
        RouteError::BadKey(message) => bad(message),
    }
}

/// A JSON array reply's entries.
fn json_list(reply: Reply) -> Result<Vec<Json>, Failed> {
    match serde_json::from_slice(&reply.body) {
        Ok(Json::Array(entries)) => Ok(entries),
        _ => Err(Failed(Reply::text(500, "a process answered /local/all with something other than a JSON array"))),
    }
}

/// Sorts entries gathered from several processes into the order one store would give:
/// by serialized key (key-value), window start then key (windowed), end then key (session).
fn merge(store: &ReadOnlyStore, kind: Kind, entries: &mut [Json]) -> Result<(), Failed> {
    let spec = store.spec();
    let mut keyed = Vec::with_capacity(entries.len());
    for entry in entries.iter() {
        let key = weir_engine::notation::json::from_slice(entry["key"].to_string().as_bytes())
            .map_err(|e| e.to_string())
            .and_then(|v| convert(v, &spec.key_type).map_err(|e| e.to_string()))
            .and_then(|v| spec.key.encode(&v).map_err(|e| e.to_string()))
            .map_err(|e| Failed(Reply::text(500, &format!("cannot order the entries of store '{}': {e}", spec.name))))?
            .unwrap_or_default();
        let time = |field: &str| entry["window"][field].as_i64().unwrap_or(i64::MIN);
        let (first, last) = match kind {
            Kind::KeyValue => (0, 0),
            Kind::Windowed => (time("start"), time("end")),
            Kind::Session => (time("end"), time("start")),
        };
        keyed.push((first, key, last));
    }
    let mut order: Vec<usize> = (0..entries.len()).collect();
    order.sort_by(|a, b| keyed[*a].cmp(&keyed[*b]));
    let sorted: Vec<Json> = order.iter().map(|i| entries[*i].take()).collect();
    for (slot, entry) in entries.iter_mut().zip(sorted) {
        *slot = entry;
    }
    Ok(())
}

/// Answers `op` from the instances this process holds.
fn read_here(store: &ReadOnlyStore, kind: Kind, op: &[&str], params: &Params) -> Result<Reply, Failed> {
    let name = &store.spec().name;
    match (kind, op) {
        (Kind::KeyValue, ["all"]) => key_value_all(store, params),
        (Kind::KeyValue, ["get", key]) => {
            let key = store.key_from_text(key)?;
            key_value_get(store, key, params)
        }
        (Kind::Windowed, ["all"]) => {
            let entries = store.windows(None, None, i64::MIN, i64::MAX)?;
            Ok(Reply::json(&Json::Array(limited(entries, params, windowed_json)?)))
        }
        (Kind::Windowed, ["get", key, timestamp]) => {
            let time: i64 = timestamp.parse().map_err(|_| bad(format!("the timestamp must be epoch milliseconds, found '{timestamp}'")))?;
            let key = store.key_from_text(key)?;
            // KSML: `fetch(key, key, t, t)`, the last window found; none is an empty answer.
            match store.windows(Some(&key), Some(&key), time, time)?.last() {
                Some(entry) => Ok(Reply::json(&windowed_json(entry?)?)),
                None => Ok(Reply::empty(204)),
            }
        }
        (Kind::Session, ["all"]) => {
            let entries = store.sessions(None, None, i64::MIN, i64::MAX)?;
            Ok(Reply::json(&Json::Array(limited(entries, params, windowed_json)?)))
        }
        (Kind::Session, ["get", key]) => {
            let key = store.key_from_text(key)?;
            let entries = store.sessions(Some(&key), Some(&key), i64::MIN, i64::MAX)?;
            Ok(Reply::json(&Json::Array(limited(entries, params, windowed_json)?)))
        }
        _ => {
            let paths = match kind {
                Kind::KeyValue => "all, get/{key}",
                Kind::Windowed => "all, get/{key}/{timestamp}",
                Kind::Session => "all, get/{key}",
            };
            Err(Failed(Reply::text(404, &format!("no such query on {} store '{name}': use {paths} (or local/…)", kind.path()))))
        }
    }
}

fn key_value_all(store: &ReadOnlyStore, params: &Params) -> Result<Reply, Failed> {
    let bound = |p: &str| params.get(p).map(|text| store.key_from_text(text)).transpose();
    let (from, to, after) = (bound("from")?, bound("to")?, bound("after")?);
    let prefix = params.get("prefix");
    if prefix.is_some() && store.spec().key_type.to_string() != "string" {
        return Err(bad(format!("'prefix' needs string keys; store '{}' has keys of type '{}'", store.spec().name, store.spec().key_type)));
    }
    let at = params.number("at").map_err(bad)?;
    let lower = after.as_ref().or(from.as_ref());
    let entries = store.range(lower, to.as_ref(), at)?.filter(|e| match e {
        Ok(e) => {
            let (key, _) = split_windowed(e);
            after.as_ref().is_none_or(|a| key != *a) && prefix.is_none_or(|p| matches!(&key, Value::String(s) if s.starts_with(p)))
        }
        Err(_) => true,
    });
    Ok(Reply::json(&Json::Array(limited(entries, params, key_value_json)?)))
}

fn key_value_get(store: &ReadOnlyStore, key: Value, params: &Params) -> Result<Reply, Failed> {
    let at = params.number("at").map_err(bad)?;
    let mut fields = Map::new();
    fields.insert("key".to_string(), json_of(&key)?);
    match store.flavor() {
        StoreFlavor::VersionedKeyValue { .. } => {
            let found = store.get_versioned(&key, at)?;
            fields.insert("value".to_string(), found.as_ref().map_or(Ok(Json::Null), |r| json_of(&r.value))?);
            if let Some(r) = found {
                fields.insert("timestamp".to_string(), json!(r.timestamp));
                fields.insert("validTo".to_string(), json!(r.valid_to));
            }
        }
        flavor => {
            if at.is_some() {
                return Err(bad(format!("'at' needs a versioned store; '{}' is a {} store", store.spec().name, flavor.noun())));
            }
            let found = store.get(&key)?;
            fields.insert("value".to_string(), found.as_ref().map_or(Ok(Json::Null), |s| json_of(&s.value))?);
            if let Some(s) = found.filter(|_| flavor == StoreFlavor::TimestampedKeyValue) {
                fields.insert("timestamp".to_string(), json!(s.timestamp));
            }
        }
    }
    Ok(Reply::json(&Json::Object(fields)))
}

/// Up to `limit` entries (all without one) as JSON.
fn limited(
    entries: impl Iterator<Item = Result<Entry, StoreError>>,
    params: &Params,
    to_json: fn(Entry) -> Result<Json, Failed>,
) -> Result<Vec<Json>, Failed> {
    let limit = limit_of(params)?.unwrap_or(usize::MAX);
    entries.take(limit).map(|e| to_json(e?)).collect()
}

/// The `limit` parameter.
fn limit_of(params: &Params) -> Result<Option<usize>, Failed> {
    match params.number("limit").map_err(bad)? {
        Some(n) if n < 0 => Err(bad(format!("'limit' must not be negative, found {n}"))),
        Some(n) => Ok(Some(usize::try_from(n).unwrap_or(usize::MAX))),
        None => Ok(None),
    }
}

fn key_value_json(entry: Entry) -> Result<Json, Failed> {
    let (key, _) = split_windowed(&entry);
    let mut fields = Map::new();
    fields.insert("key".to_string(), json_of(&key)?);
    fields.insert("value".to_string(), json_of(&entry.value)?);
    if let Some(t) = entry.timestamp {
        fields.insert("timestamp".to_string(), json!(t));
    }
    Ok(Json::Object(fields))
}

fn windowed_json(entry: Entry) -> Result<Json, Failed> {
    let (key, window) = split_windowed(&entry);
    let mut fields = Map::new();
    fields.insert("key".to_string(), json_of(&key)?);
    fields.insert("value".to_string(), json_of(&entry.value)?);
    if let Some((start, end)) = window {
        fields.insert(
            "window".to_string(),
            json!({"start": start, "end": end, "startTime": instant_text(start), "endTime": instant_text(end)}),
        );
    }
    Ok(Json::Object(fields))
}

/// A store's key or value as JSON (what the JSON notation would write).
fn json_of(value: &Value) -> Result<Json, Failed> {
    json_value(value).map_err(|e| Failed(Reply::text(500, &e)))
}

/// A store's key or value as JSON (what the JSON notation would write), or why it cannot be.
pub(super) fn json_value(value: &Value) -> Result<Json, String> {
    weir_engine::notation::json::to_vec(value)
        .map_err(|e| e.to_string())
        .and_then(|bytes| serde_json::from_slice(&bytes).map_err(|e| e.to_string()))
        .map_err(|e| format!("cannot write a stored value as JSON: {e}"))
}
