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
//! other processes hold the store; on the embedded log everything is local.

use serde_json::{Map, Value as Json, json};
use weir_engine::store::{Entry, QueryError, ReadOnlyStore, StoreError, StoreErrorKind, StoreFlavor, instant_text, split_windowed};
use weir_engine::value::Value;

use super::Rest;
use super::http::{Params, Reply};
use super::owners::Owner;

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
            StoreErrorKind::Closed | StoreErrorKind::Unavailable => 503,
            StoreErrorKind::Data => 500,
        };
        Failed(Reply::text(status, &e.message))
    }
}

fn bad(message: String) -> Failed {
    Failed(Reply::text(400, &message))
}

const ALL_PARAMS: &[&str] = &["from", "to", "after", "prefix", "limit", "at"];

pub(super) fn handle(rest: &Rest, kind: &str, name: &str, op: &[&str], params: &Params) -> Reply {
    match answer(rest, kind, name, op, params) {
        Ok(reply) => reply,
        Err(Failed(reply)) => reply,
    }
}

fn answer(rest: &Rest, kind: &str, name: &str, op: &[&str], params: &Params) -> Result<Reply, Failed> {
    let kind = match kind {
        "keyValue" => Kind::KeyValue,
        "windowed" => Kind::Windowed,
        "session" => Kind::Session,
        other => return Err(Failed(Reply::text(404, &format!("no store type '{other}': use keyValue, windowed or session")))),
    };
    let store = rest.queries.store(name).map_err(|e| match e {
        QueryError::Unknown(_) => Failed(Reply::text(404, &format!("Could not find store {name} of type {}", kind.path()))),
        QueryError::NotReady(_) => Failed(Reply::text(503, &e.to_string())),
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
    if !local && let Some(other) = rest.owners.others(&store).first() {
        return Err(not_routed(name, other));
    }
    match (kind, op) {
        (Kind::KeyValue, ["all"]) => key_value_all(&store, params),
        (Kind::KeyValue, ["get", key]) => {
            let key = store.key_from_text(key)?;
            check_local(rest, &store, &key, local, name)?;
            key_value_get(&store, key, params)
        }
        (Kind::Windowed, ["all"]) => {
            let entries = store.windows(None, None, i64::MIN, i64::MAX)?;
            Ok(Reply::json(&Json::Array(limited(entries, params, windowed_json)?)))
        }
        (Kind::Windowed, ["get", key, timestamp]) => {
            let time: i64 = timestamp.parse().map_err(|_| bad(format!("the timestamp must be epoch milliseconds, found '{timestamp}'")))?;
            let key = store.key_from_text(key)?;
            check_local(rest, &store, &key, local, name)?;
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
            check_local(rest, &store, &key, local, name)?;
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

fn not_routed(name: &str, other: &str) -> Failed {
    Failed(Reply::text(
        500,
        &format!(
            "part of store '{name}' is held by {other}: forwarding queries to other processes is not built yet; ask its /local/ paths"
        ),
    ))
}

/// Fails unless this process holds `key`.
fn check_local(rest: &Rest, store: &ReadOnlyStore, key: &Value, local: bool, name: &str) -> Result<(), Failed> {
    match rest.owners.owner_of(store, key) {
        Owner::Local => Ok(()),
        // A `/local/` query answers from this process whatever it holds, as KSML's does.
        Owner::Remote(_) if local => Ok(()),
        Owner::Remote(other) => Err(not_routed(name, &other)),
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
    let limit = match params.number("limit").map_err(bad)? {
        Some(n) if n < 0 => return Err(bad(format!("'limit' must not be negative, found {n}"))),
        Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
        None => usize::MAX,
    };
    entries.take(limit).map(|e| to_json(e?)).collect()
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
    weir_engine::notation::json::to_vec(value)
        .map_err(|e| e.to_string())
        .and_then(|bytes| serde_json::from_slice(&bytes).map_err(|e| e.to_string()))
        .map_err(|e| Failed(Reply::text(500, &format!("cannot write a stored value as JSON: {e}"))))
}
