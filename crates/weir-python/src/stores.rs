//! State store proxies: the Python objects KSML functions (and `weir test` assert blocks) use
//! to reach state stores, with KSML's class shapes and method names (its
//! `io.axual.ksml.proxy.store` classes).
//!
//! | class | methods |
//! |---|---|
//! | `KeyValueStore` | `get(k)`, `put(k, v)`, `putIfAbsent(k, v)`, `delete(k)`, `all()`, `approximateNumEntries()` |
//! | `TimestampedKeyValueStore` | `get(k)`, `put(k, v, ts)`, `putIfAbsent(k, v, ts)`, `delete(k)`, `approximateNumEntries()`; values come back as `{timestamp, value}` |
//! | `VersionedKeyValueStore` | `get(k)`, `get(k, asOf)`, `put(k, v, ts)` (→ `validTo`, -1 or `-2**63`), `delete(k, ts)`; records come back as `{timestamp, validTo?, value}` |
//! | `WindowStore` | `put(k, v, windowStart)`, `fetch(k, time)`, `fetch(k, from, to)`, `fetch(kFrom, kTo, from, to)`, `fetchAll(from, to)`, `all()`, `backwardFetch(k, from, to)`, `backwardFetch(kFrom, kTo, from, to)`, `backwardFetchAll(from, to)`, `backwardAll()` |
//! | `TimestampedWindowStore` | `fetch(k, time)` (→ `{timestamp, value}`), `put(k, {value, timestamp}, windowStart)`, `put(k, v, windowStart, ts)` |
//! | `SessionStore` | `fetch(k)`, `fetch(kFrom, kTo)`, `backwardFetch(…)`, `findSessions(k, earliestEnd, latestStart)`, `findSessions(kFrom, kTo, earliestEnd, latestStart)`, `backwardFindSessions(…)`, `fetchSession(k, start, end)`, `put(sessionKey, value)`, `remove(sessionKey)` |
//! | all of them | `name()`, `persistent()`, `isOpen()`, `flush()`, `close()` |
//! | `KeyValueIterator` (what queries return) | `hasNext()`, `next()` (→ `{key, value}`, `None` at the end), `close()`; also a Python iterator and a context manager |
//!
//! Window and session entries have windowed keys: `{start, end, startTime, endTime, key}`
//! (times as ISO-8601 text); a window store's `fetch(k, from, to)` keys its entries by window
//! start instead. A session key passed to `put`/`remove` is such a dict (`start`, `end` and
//! `key` are read). `None` bounds of key ranges are open ends.
//!
//! Keys and values go through [`crate::convert`] and are brought to the store's declared
//! types by the engine ([`weir_engine::store`]), which encodes them as Kafka Streams' stores
//! hold them. A function's proxy finds *the current task's* instance at each call
//! ([`weir_engine::store::current`]); an assert block's proxy sees every instance of the
//! store. Store errors are Python exceptions: `ValueError` for a key or value that does not
//! fit, `TypeError` for wrong arguments, `RuntimeError` for a closed or unavailable store.

use std::sync::{Arc, Mutex, MutexGuard};

use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use weir_dsl::model::Definition;
use weir_engine::Value;
use weir_engine::store::{
    self, Entry, Stamped, StoreError, StoreErrorKind, StoreFlavor, StoreInstance, StoreIter, StoreView, VersionedRecord,
};

use crate::convert::{from_py, to_py};

/// Which instances a proxy works on.
enum Binding {
    /// The current task's instance of the store with this name (functions).
    Current(String),
    /// These instances of one store (inspection after a run).
    Fixed { name: String, instances: Vec<Arc<StoreInstance>> },
}

impl Binding {
    fn name(&self) -> &str {
        match self {
            Binding::Current(name) | Binding::Fixed { name, .. } => name,
        }
    }

    /// Runs `f` on the view of the instances, turning store errors into Python exceptions.
    fn with<R>(&self, f: impl FnOnce(&StoreView) -> Result<R, StoreError>) -> PyResult<R> {
        match self {
            Binding::Current(name) => {
                let instance = store::current(name).map_err(store_error)?;
                let view = StoreView::new(std::slice::from_ref(&instance))
                    .ok_or_else(|| PyRuntimeError::new_err(format!("state store '{name}' has no instance")))?;
                f(&view).map_err(store_error)
            }
            Binding::Fixed { name, instances } => {
                let view =
                    StoreView::new(instances).ok_or_else(|| PyRuntimeError::new_err(format!("state store '{name}' has no instance")))?;
                f(&view).map_err(store_error)
            }
        }
    }
}

fn store_error(e: StoreError) -> PyErr {
    match e.kind {
        StoreErrorKind::Argument | StoreErrorKind::Data => PyValueError::new_err(e.message),
        StoreErrorKind::WrongKind => PyTypeError::new_err(e.message),
        StoreErrorKind::Closed | StoreErrorKind::Unavailable => PyRuntimeError::new_err(e.message),
    }
}

/// A key or value argument as a [`Value`].
fn arg(store: &str, obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Value> {
    from_py(obj).map_err(|e| PyTypeError::new_err(format!("state store '{store}': the {what} cannot be stored: {e}")))
}

/// An optional key bound (`None` is an open end).
fn bound(store: &str, obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Option<Value>> {
    if obj.is_none() { Ok(None) } else { arg(store, obj, what).map(Some) }
}

/// A timestamp argument (an int).
fn long(store: &str, obj: &Bound<'_, PyAny>, what: &str) -> PyResult<i64> {
    obj.extract::<i64>().map_err(|_| {
        let ty = obj.get_type().name().map(|n| n.to_string()).unwrap_or_default();
        PyTypeError::new_err(format!("state store '{store}': {what} must be an int (milliseconds), got a '{ty}'"))
    })
}

fn arity(store: &str, method: &str, forms: &str, got: usize) -> PyErr {
    PyTypeError::new_err(format!("state store '{store}': {method}() takes {forms}; {got} given"))
}

fn value_py(py: Python<'_>, v: &Value) -> PyResult<Py<PyAny>> {
    Ok(to_py(py, v)?.unbind())
}

fn optional(py: Python<'_>, v: Option<Value>) -> PyResult<Py<PyAny>> {
    match v {
        Some(v) => value_py(py, &v),
        None => Ok(py.None()),
    }
}

/// `{timestamp, value}` (KSML's dict of a `ValueAndTimestamp`, keys sorted as KSML's structs are).
fn stamped_py(py: Python<'_>, s: Option<Stamped>) -> PyResult<Py<PyAny>> {
    let Some(s) = s else { return Ok(py.None()) };
    let d = PyDict::new(py);
    d.set_item("timestamp", s.timestamp)?;
    d.set_item("value", to_py(py, &s.value)?)?;
    Ok(d.into_any().unbind())
}

/// `{timestamp, validTo?, value}` (KSML's dict of a `VersionedRecord`).
fn versioned_py(py: Python<'_>, r: Option<VersionedRecord>) -> PyResult<Py<PyAny>> {
    let Some(r) = r else { return Ok(py.None()) };
    let d = PyDict::new(py);
    d.set_item("timestamp", r.timestamp)?;
    if let Some(valid_to) = r.valid_to {
        d.set_item("validTo", valid_to)?;
    }
    d.set_item("value", to_py(py, &r.value)?)?;
    Ok(d.into_any().unbind())
}

/// `{key, value}` (KSML's dict of a `KeyValue`).
fn entry_py(py: Python<'_>, e: Entry) -> PyResult<Py<PyAny>> {
    let d = PyDict::new(py);
    d.set_item("key", to_py(py, &e.key.to_value())?)?;
    d.set_item("value", to_py(py, &e.value)?)?;
    Ok(d.into_any().unbind())
}

fn iterator(py: Python<'_>, iter: StoreIter) -> PyResult<Py<PyAny>> {
    Ok(Py::new(py, KeyValueIterator { inner: Mutex::new(iter) })?.into_any())
}

/// The key and window of a session key dict.
fn parse_session_key(store: &str, obj: &Bound<'_, PyAny>) -> PyResult<(Value, i64, i64)> {
    let v = arg(store, obj, "session key")?;
    store::windowed_from_value(&v).ok_or_else(|| {
        PyValueError::new_err(format!(
            "state store '{store}': a session key is a dict with 'start' and 'end' (ints) and 'key', got {}",
            obj.repr().map(|r| r.to_string()).unwrap_or_default()
        ))
    })
}

macro_rules! proxy {
    ($(#[$doc:meta])* $ty:ident, $py_name:literal, $java_name:literal, { $($methods:tt)* }) => {
        $(#[$doc])*
        #[pyclass(frozen, module = "ksml", name = $py_name)]
        pub struct $ty {
            binding: Binding,
        }

        #[pymethods]
        impl $ty {
            /// The store's name.
            fn name(&self) -> String {
                self.binding.name().to_string()
            }

            /// Whether the store is declared `persistent`.
            fn persistent(&self) -> PyResult<bool> {
                self.binding.with(|v| Ok(v.persistent()))
            }

            #[pyo3(name = "isOpen")]
            fn is_open(&self) -> PyResult<bool> {
                self.binding.with(|v| Ok(v.is_open()))
            }

            /// Nothing to write: changes are visible at once and reach the changelog with
            /// the batch.
            fn flush(&self) -> PyResult<()> {
                self.binding.with(|v| v.flush())
            }

            /// Closes the store: later operations fail.
            fn close(&self) -> PyResult<()> {
                self.binding.with(|v| {
                    v.close();
                    Ok(())
                })
            }

            fn __repr__(&self) -> String {
                format!("{} [name=\"{}\"]", $java_name, self.binding.name())
            }

            $($methods)*
        }
    };
}

proxy!(
    /// A key-value store (KSML's `KeyValueStoreProxy`). Over a timestamped store (as `weir
    /// test` gives one to assert blocks, like Kafka's test driver) it shows the values only.
    KeyValueStore, "KeyValueStore", "KeyValueStoreProxy", {
    fn get(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let key = arg(self.binding.name(), key, "key")?;
        let found = self.binding.with(|v| v.get(&key))?;
        optional(py, found.map(|s| s.value))
    }

    fn put(&self, key: &Bound<'_, PyAny>, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let name = self.binding.name();
        let (key, value) = (arg(name, key, "key")?, arg(name, value, "value")?);
        self.binding.with(|v| v.put(&key, value, -1).map(drop))
    }

    #[pyo3(name = "putIfAbsent")]
    fn put_if_absent(&self, py: Python<'_>, key: &Bound<'_, PyAny>, value: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let name = self.binding.name();
        let (key, value) = (arg(name, key, "key")?, arg(name, value, "value")?);
        let found = self.binding.with(|v| v.put_if_absent(&key, value, -1))?;
        optional(py, found.map(|s| s.value))
    }

    fn delete(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let key = arg(self.binding.name(), key, "key")?;
        let found = self.binding.with(|v| v.delete(&key))?;
        optional(py, found.map(|s| s.value))
    }

    fn all(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let iter = self.binding.with(|v| v.all())?;
        iterator(py, iter)
    }

    #[pyo3(name = "approximateNumEntries")]
    fn approximate_num_entries(&self) -> PyResult<u64> {
        self.binding.with(|v| v.approximate_num_entries())
    }
});

proxy!(
    /// A timestamped key-value store (KSML's `TimestampedKeyValueStoreProxy`): values come
    /// back as `{timestamp, value}`.
    TimestampedKeyValueStore, "TimestampedKeyValueStore", "TimestampedKeyValueStoreProxy", {
    fn get(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let key = arg(self.binding.name(), key, "key")?;
        let found = self.binding.with(|v| v.get(&key))?;
        stamped_py(py, found)
    }

    fn put(&self, key: &Bound<'_, PyAny>, value: &Bound<'_, PyAny>, timestamp: &Bound<'_, PyAny>) -> PyResult<()> {
        let name = self.binding.name();
        let (key, value, timestamp) = (arg(name, key, "key")?, arg(name, value, "value")?, long(name, timestamp, "the timestamp")?);
        self.binding.with(|v| v.put(&key, value, timestamp).map(drop))
    }

    #[pyo3(name = "putIfAbsent")]
    fn put_if_absent(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
        timestamp: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        let name = self.binding.name();
        let (key, value, timestamp) = (arg(name, key, "key")?, arg(name, value, "value")?, long(name, timestamp, "the timestamp")?);
        let found = self.binding.with(|v| v.put_if_absent(&key, value, timestamp))?;
        stamped_py(py, found)
    }

    fn delete(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let key = arg(self.binding.name(), key, "key")?;
        let found = self.binding.with(|v| v.delete(&key))?;
        stamped_py(py, found)
    }

    #[pyo3(name = "approximateNumEntries")]
    fn approximate_num_entries(&self) -> PyResult<u64> {
        self.binding.with(|v| v.approximate_num_entries())
    }
});

proxy!(
    /// A versioned key-value store (KSML's `VersionedKeyValueStoreProxy`): records come back
    /// as `{timestamp, validTo?, value}` (`validTo` only for versions that are not the latest).
    VersionedKeyValueStore, "VersionedKeyValueStore", "VersionedKeyValueStoreProxy", {
    /// `get(key)`: the latest version; `get(key, asOfTimestamp)`: the version valid then.
    #[pyo3(signature = (*args))]
    fn get(&self, py: Python<'_>, args: &Bound<'_, PyTuple>) -> PyResult<Py<PyAny>> {
        let name = self.binding.name();
        let (key, as_of) = match args.len() {
            1 => (args.get_item(0)?, None),
            2 => (args.get_item(0)?, Some(long(name, &args.get_item(1)?, "asOfTimestamp")?)),
            n => return Err(arity(name, "get", "(key) or (key, asOfTimestamp)", n)),
        };
        let key = arg(name, &key, "key")?;
        let found = self.binding.with(|v| v.versioned_get(&key, as_of))?;
        versioned_py(py, found)
    }

    /// Returns the new version's `validTo`: -1 when it is the latest, `-2**63` when it was
    /// older than the history retention and not put.
    fn put(&self, key: &Bound<'_, PyAny>, value: &Bound<'_, PyAny>, timestamp: &Bound<'_, PyAny>) -> PyResult<i64> {
        let name = self.binding.name();
        let (key, value, timestamp) = (arg(name, key, "key")?, arg(name, value, "value")?, long(name, timestamp, "the timestamp")?);
        self.binding.with(|v| v.versioned_put(&key, value, timestamp))
    }

    fn delete(&self, py: Python<'_>, key: &Bound<'_, PyAny>, timestamp: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let name = self.binding.name();
        let (key, timestamp) = (arg(name, key, "key")?, long(name, timestamp, "the timestamp")?);
        let found = self.binding.with(|v| v.versioned_delete(&key, timestamp))?;
        versioned_py(py, found)
    }
});

impl WindowStore {
    /// `fetch`/`backwardFetch` with three or four arguments.
    fn ranged(&self, py: Python<'_>, args: &Bound<'_, PyTuple>, method: &str, backward: bool) -> PyResult<Py<PyAny>> {
        let name = self.binding.name();
        let iter = match args.len() {
            3 => {
                let key = arg(name, &args.get_item(0)?, "key")?;
                let (from, to) = (long(name, &args.get_item(1)?, "timeFrom")?, long(name, &args.get_item(2)?, "timeTo")?);
                self.binding.with(|v| v.window_fetch_key(&key, from, to, backward))?
            }
            4 => {
                let key_from = bound(name, &args.get_item(0)?, "keyFrom")?;
                let key_to = bound(name, &args.get_item(1)?, "keyTo")?;
                let (from, to) = (long(name, &args.get_item(2)?, "timeFrom")?, long(name, &args.get_item(3)?, "timeTo")?);
                self.binding.with(|v| v.window_fetch_range(key_from.as_ref(), key_to.as_ref(), from, to, backward))?
            }
            n => {
                let forms = if backward {
                    "(key, timeFrom, timeTo) or (keyFrom, keyTo, timeFrom, timeTo)"
                } else {
                    "(key, time), (key, timeFrom, timeTo) or (keyFrom, keyTo, timeFrom, timeTo)"
                };
                return Err(arity(name, method, forms, n));
            }
        };
        iterator(py, iter)
    }
}

proxy!(
    /// A window store (KSML's `WindowStoreProxy`).
    WindowStore, "WindowStore", "WindowStoreProxy", {
    fn put(&self, key: &Bound<'_, PyAny>, value: &Bound<'_, PyAny>, window_start: &Bound<'_, PyAny>) -> PyResult<()> {
        let name = self.binding.name();
        let (key, value, start) = (arg(name, key, "key")?, arg(name, value, "value")?, long(name, window_start, "windowStartTimestamp")?);
        self.binding.with(|v| v.window_put(&key, value, start, -1))
    }

    /// `fetch(key, time)`: the value in the window starting at `time`; `fetch(key, timeFrom,
    /// timeTo)`: an iterator keyed by window start; `fetch(keyFrom, keyTo, timeFrom, timeTo)`:
    /// an iterator keyed by windowed key.
    #[pyo3(signature = (*args))]
    fn fetch(&self, py: Python<'_>, args: &Bound<'_, PyTuple>) -> PyResult<Py<PyAny>> {
        if args.len() == 2 {
            let name = self.binding.name();
            let key = arg(name, &args.get_item(0)?, "key")?;
            let time = long(name, &args.get_item(1)?, "time")?;
            let found = self.binding.with(|v| v.window_fetch(&key, time))?;
            return optional(py, found.map(|s| s.value));
        }
        self.ranged(py, args, "fetch", false)
    }

    #[pyo3(name = "backwardFetch", signature = (*args))]
    fn backward_fetch(&self, py: Python<'_>, args: &Bound<'_, PyTuple>) -> PyResult<Py<PyAny>> {
        self.ranged(py, args, "backwardFetch", true)
    }

    #[pyo3(name = "fetchAll")]
    fn fetch_all(&self, py: Python<'_>, time_from: &Bound<'_, PyAny>, time_to: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let name = self.binding.name();
        let (from, to) = (long(name, time_from, "timeFrom")?, long(name, time_to, "timeTo")?);
        let iter = self.binding.with(|v| v.window_fetch_range(None, None, from, to, false))?;
        iterator(py, iter)
    }

    #[pyo3(name = "backwardFetchAll")]
    fn backward_fetch_all(&self, py: Python<'_>, time_from: &Bound<'_, PyAny>, time_to: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let name = self.binding.name();
        let (from, to) = (long(name, time_from, "timeFrom")?, long(name, time_to, "timeTo")?);
        let iter = self.binding.with(|v| v.window_fetch_range(None, None, from, to, true))?;
        iterator(py, iter)
    }

    fn all(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let iter = self.binding.with(|v| v.window_fetch_range(None, None, i64::MIN, i64::MAX, false))?;
        iterator(py, iter)
    }

    #[pyo3(name = "backwardAll")]
    fn backward_all(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let iter = self.binding.with(|v| v.window_fetch_range(None, None, i64::MIN, i64::MAX, true))?;
        iterator(py, iter)
    }
});

proxy!(
    /// A timestamped window store (KSML's `TimestampedWindowStoreProxy`, for the stores of
    /// windowed aggregations).
    TimestampedWindowStore, "TimestampedWindowStore", "TimestampedWindowStoreProxy", {
    /// `fetch(key, time)`: `{timestamp, value}` of the window starting at `time`.
    fn fetch(&self, py: Python<'_>, key: &Bound<'_, PyAny>, time: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let name = self.binding.name();
        let (key, time) = (arg(name, key, "key")?, long(name, time, "time")?);
        let found = self.binding.with(|v| v.window_fetch(&key, time))?;
        stamped_py(py, found)
    }

    /// `put(key, {value, timestamp}, windowStart)` or `put(key, value, windowStart, timestamp)`.
    #[pyo3(signature = (*args))]
    fn put(&self, args: &Bound<'_, PyTuple>) -> PyResult<()> {
        let name = self.binding.name();
        let key = match args.len() {
            3 | 4 => arg(name, &args.get_item(0)?, "key")?,
            n => return Err(arity(name, "put", "(key, {value, timestamp}, windowStartTimestamp) or (key, value, windowStartTimestamp, timestamp)", n)),
        };
        let start = long(name, &args.get_item(2)?, "windowStartTimestamp")?;
        let (value, timestamp) = if args.len() == 4 {
            (arg(name, &args.get_item(1)?, "value")?, long(name, &args.get_item(3)?, "the timestamp")?)
        } else {
            let stamped = args.get_item(1)?;
            let parts = stamped.cast::<PyDict>().ok().and_then(|d| Some((d.get_item("value").ok()??, d.get_item("timestamp").ok()??)));
            let Some((value, timestamp)) = parts else {
                return Err(PyTypeError::new_err(format!(
                    "state store '{name}': put(key, value, windowStartTimestamp) takes the value as a dict with 'value' and 'timestamp'"
                )));
            };
            (arg(name, &value, "value")?, long(name, &timestamp, "the timestamp")?)
        };
        self.binding.with(|v| v.window_put(&key, value, start, timestamp))
    }
});

impl SessionStore {
    /// `fetch`/`backwardFetch`: one or two keys, all time.
    fn fetch_keys(&self, py: Python<'_>, args: &Bound<'_, PyTuple>, method: &str, backward: bool) -> PyResult<Py<PyAny>> {
        let name = self.binding.name();
        let iter = match args.len() {
            1 => {
                let key = arg(name, &args.get_item(0)?, "key")?;
                self.binding.with(|v| v.session_fetch_all_time(Some(&key), Some(&key), backward))?
            }
            2 => {
                let (from, to) = (bound(name, &args.get_item(0)?, "keyFrom")?, bound(name, &args.get_item(1)?, "keyTo")?);
                self.binding.with(|v| v.session_fetch_all_time(from.as_ref(), to.as_ref(), backward))?
            }
            n => return Err(arity(name, method, "(key) or (keyFrom, keyTo)", n)),
        };
        iterator(py, iter)
    }

    /// `findSessions`/`backwardFindSessions`: one key or a key range, and a time span.
    fn find(&self, py: Python<'_>, args: &Bound<'_, PyTuple>, method: &str, backward: bool) -> PyResult<Py<PyAny>> {
        let name = self.binding.name();
        let (from, to, at) = match args.len() {
            3 => {
                let key = arg(name, &args.get_item(0)?, "key")?;
                (Some(key.clone()), Some(key), 1)
            }
            4 => (bound(name, &args.get_item(0)?, "keyFrom")?, bound(name, &args.get_item(1)?, "keyTo")?, 2),
            n => {
                return Err(arity(
                    name,
                    method,
                    "(key, earliestSessionEndTime, latestSessionStartTime) or (keyFrom, keyTo, earliestSessionEndTime, latestSessionStartTime)",
                    n,
                ));
            }
        };
        let earliest_end = long(name, &args.get_item(at)?, "earliestSessionEndTime")?;
        let latest_start = long(name, &args.get_item(at + 1)?, "latestSessionStartTime")?;
        let iter = self.binding.with(|v| v.session_find(from.as_ref(), to.as_ref(), earliest_end, latest_start, backward))?;
        iterator(py, iter)
    }
}

proxy!(
    /// A session store (KSML's `SessionStoreProxy`).
    SessionStore, "SessionStore", "SessionStoreProxy", {
    #[pyo3(signature = (*args))]
    fn fetch(&self, py: Python<'_>, args: &Bound<'_, PyTuple>) -> PyResult<Py<PyAny>> {
        self.fetch_keys(py, args, "fetch", false)
    }

    #[pyo3(name = "backwardFetch", signature = (*args))]
    fn backward_fetch(&self, py: Python<'_>, args: &Bound<'_, PyTuple>) -> PyResult<Py<PyAny>> {
        self.fetch_keys(py, args, "backwardFetch", true)
    }

    #[pyo3(name = "findSessions", signature = (*args))]
    fn find_sessions(&self, py: Python<'_>, args: &Bound<'_, PyTuple>) -> PyResult<Py<PyAny>> {
        self.find(py, args, "findSessions", false)
    }

    #[pyo3(name = "backwardFindSessions", signature = (*args))]
    fn backward_find_sessions(&self, py: Python<'_>, args: &Bound<'_, PyTuple>) -> PyResult<Py<PyAny>> {
        self.find(py, args, "backwardFindSessions", true)
    }

    #[pyo3(name = "fetchSession")]
    fn fetch_session(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        session_start: &Bound<'_, PyAny>,
        session_end: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        let name = self.binding.name();
        let key = arg(name, key, "key")?;
        let (start, end) = (long(name, session_start, "sessionStartTime")?, long(name, session_end, "sessionEndTime")?);
        let found = self.binding.with(|v| v.session_fetch(&key, start, end))?;
        optional(py, found)
    }

    /// `put({start, end, key}, value)`.
    fn put(&self, session_key: &Bound<'_, PyAny>, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let name = self.binding.name();
        let (key, start, end) = parse_session_key(name, session_key)?;
        let value = arg(name, value, "value")?;
        self.binding.with(|v| v.session_put(&key, start, end, value))
    }

    /// `remove({start, end, key})`.
    fn remove(&self, session_key: &Bound<'_, PyAny>) -> PyResult<()> {
        let name = self.binding.name();
        let (key, start, end) = parse_session_key(name, session_key)?;
        self.binding.with(|v| v.session_remove(&key, start, end))
    }
});

/// What a store query returns (KSML's `KeyValueIteratorProxy`): entries as `{key, value}`.
/// It holds the entries the store had when the query ran.
#[pyclass(frozen, module = "ksml", name = "KeyValueIterator")]
pub struct KeyValueIterator {
    inner: Mutex<StoreIter>,
}

impl KeyValueIterator {
    fn lock(&self) -> MutexGuard<'_, StoreIter> {
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn next_entry(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        let next = self.lock().next();
        match next {
            None => Ok(None),
            Some(Ok(entry)) => entry_py(py, entry).map(Some),
            Some(Err(e)) => Err(store_error(e)),
        }
    }
}

#[pymethods]
impl KeyValueIterator {
    #[pyo3(name = "hasNext")]
    fn has_next(&self) -> bool {
        self.lock().has_next()
    }

    /// The next entry, or `None` at the end.
    fn next(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(self.next_entry(py)?.unwrap_or_else(|| py.None()))
    }

    fn close(&self) {
        self.lock().close();
    }

    fn __iter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        self.next_entry(py)
    }

    fn __enter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, _args: &Bound<'_, PyTuple>) -> bool {
        self.lock().close();
        false
    }

    fn __repr__(&self) -> String {
        format!("{:?}", *self.lock())
    }
}

/// The proxy class for a store flavor, bound as given.
fn proxy(py: Python<'_>, flavor: Option<StoreFlavor>, binding: Binding) -> PyResult<Py<PyAny>> {
    Ok(match flavor {
        Some(StoreFlavor::TimestampedKeyValue) => Py::new(py, TimestampedKeyValueStore { binding })?.into_any(),
        Some(StoreFlavor::VersionedKeyValue { .. }) => Py::new(py, VersionedKeyValueStore { binding })?.into_any(),
        Some(StoreFlavor::Window { timestamped: false, .. }) => Py::new(py, WindowStore { binding })?.into_any(),
        Some(StoreFlavor::Window { timestamped: true, .. }) => Py::new(py, TimestampedWindowStore { binding })?.into_any(),
        Some(StoreFlavor::Session { .. }) => Py::new(py, SessionStore { binding })?.into_any(),
        Some(StoreFlavor::KeyValue) | None => Py::new(py, KeyValueStore { binding })?.into_any(),
    })
}

/// The proxies of a function's `stores`, by name, reaching the current task's instances.
/// The class follows the store's definition (KSML's dispatch: versioned, timestamped
/// key-value, key-value, session, timestamped window, window); a name that is not a
/// top-level store gets a key-value proxy, which reports at its first use that the store
/// does not exist in the running application.
/// The store proxy classes by their KSML (Java) class name under `io.axual.ksml.proxy.`, for
/// the `java.type(...)` lookups of KSML's `ksml.py` typing helper (see `install_java_shim` in
/// the bootstrap module).
pub(crate) fn java_proxies(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let proxies = PyDict::new(py);
    proxies.set_item("store.KeyValueStoreProxy", py.get_type::<KeyValueStore>())?;
    proxies.set_item("store.TimestampedKeyValueStoreProxy", py.get_type::<TimestampedKeyValueStore>())?;
    proxies.set_item("store.VersionedKeyValueStoreProxy", py.get_type::<VersionedKeyValueStore>())?;
    proxies.set_item("store.WindowStoreProxy", py.get_type::<WindowStore>())?;
    proxies.set_item("store.TimestampedWindowStoreProxy", py.get_type::<TimestampedWindowStore>())?;
    proxies.set_item("store.SessionStoreProxy", py.get_type::<SessionStore>())?;
    Ok(proxies)
}

pub fn function_stores<'py>(py: Python<'py>, def: &Definition, names: &[String]) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for name in names {
        let flavor = def.stores.get(name).map(StoreFlavor::of);
        d.set_item(name, proxy(py, flavor, Binding::Current(name.clone()))?)?;
    }
    Ok(d)
}

/// A proxy over all instances of a store, for inspection after a run (`weir test`). A
/// key-value or timestamped key-value store gets the key-value proxy (values without
/// timestamps), as KSML's test runner gives through Kafka's test driver; other kinds get
/// their own proxy. `None` when there are no instances.
pub fn inspection_proxy(py: Python<'_>, instances: Vec<Arc<StoreInstance>>) -> PyResult<Option<Py<PyAny>>> {
    let Some(first) = instances.first() else { return Ok(None) };
    let name = first.spec().name.clone();
    let flavor = match first.spec().flavor {
        StoreFlavor::TimestampedKeyValue => StoreFlavor::KeyValue,
        other => other,
    };
    proxy(py, Some(flavor), Binding::Fixed { name, instances }).map(Some)
}

/// A proxy over given instances with the store's own flavor (for tests and tools).
pub fn instance_proxy(py: Python<'_>, instances: Vec<Arc<StoreInstance>>) -> PyResult<Option<Py<PyAny>>> {
    let Some(first) = instances.first() else { return Ok(None) };
    let (name, flavor) = (first.spec().name.clone(), first.spec().flavor);
    proxy(py, Some(flavor), Binding::Fixed { name, instances }).map(Some)
}
