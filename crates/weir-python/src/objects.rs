//! Python objects as the engine's foreign values: the fast data path across the boundary.
//!
//! A record's value can stay a Python object from the moment its JSON bytes are read until
//! its JSON bytes are written, however many Python operations it goes through (the design's
//! "convert at most once in and once out"):
//!
//! - [`decode_json`] reads JSON bytes straight into dicts and lists (through the engine's
//!   serde reader, [`weir_engine::notation::json::decode_into`]), with object keys made once
//!   and interned ([`DecodeCache`]), so `value["amount"]` in user code finds them by identity;
//! - a function's result that is a dict, list or tuple is handed on as it is when it is
//!   [`pure`] (see there) and its declared type would not convert it;
//! - [`PyValue::write_json`] writes such an object straight to JSON bytes.
//!
//! The rule that keeps this exact: a [`PyValue`] only ever holds an object that
//! [`crate::convert::from_py`] converts without loss and [`crate::convert::to_py`] turns back
//! into an equal object of the same types. Everything else takes the [`Value`] path, so
//! results, conversions and error messages are the ones that path gives. Every fast path
//! either gives exactly what the canonical path gives or declines and lets it run.
//!
//! One difference remains, by design: the *same* object travels along a pipeline, so a
//! function that changes its argument in place (`value["x"] = 1` in a filter) changes what
//! the next Python operation of that record sees. (A record going to several operations
//! gives each its own copy, [`PyValue::fork`].)

use std::any::Any;
use std::cell::RefCell;

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use weir_engine::Value;
use weir_engine::hash::FastMap;
use weir_engine::notation::json::{self, JsonBuilder, JsonKind, JsonWriter, RenderedKey, Unwritable};
use weir_engine::ports::ForeignValue;
use weir_engine::value::ForeignKind;

use crate::convert::from_py;

/// Nesting allowed in an object kept as it is: what [`from_py`] accepts.
const MAX_DEPTH: usize = 200;

/// A Python dict, list or tuple held for the engine (see the module doc for what it may hold).
pub struct PyValue {
    obj: Py<PyAny>,
    kind: ForeignKind,
}

impl PyValue {
    /// The object.
    pub fn bind<'py>(&self, py: Python<'py>) -> &Bound<'py, PyAny> {
        self.obj.bind(py)
    }

    /// Keeps `obj` as it is if it is a [`pure`] dict, list or tuple; `None` otherwise.
    pub fn keep(obj: &Bound<'_, PyAny>) -> Option<PyValue> {
        let kind = container_kind(obj)?;
        pure(obj, 0).then(|| PyValue { obj: obj.clone().unbind(), kind })
    }
}

impl std::fmt::Debug for PyValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        Python::attach(|py| write!(f, "PyValue({})", self.obj.bind(py)))
    }
}

impl ForeignValue for PyValue {
    fn kind(&self) -> ForeignKind {
        self.kind
    }

    fn to_value(&self) -> Result<Value, String> {
        Python::attach(|py| from_py(self.obj.bind(py)).map_err(|e| e.to_string()))
    }

    fn write_json(&self, out: &mut JsonWriter) -> Result<(), Unwritable> {
        Python::attach(|py| write_json(self.obj.bind(py), out))
    }

    fn fork(&self) -> Box<dyn ForeignValue> {
        Python::attach(|py| {
            let obj = match deep_copy(self.obj.bind(py)) {
                Ok(copy) => copy.unbind(),
                Err(e) => {
                    // Only on memory exhaustion; sharing is then the lesser harm.
                    tracing::warn!("cannot copy a Python value ({e}); the copies share it");
                    self.obj.clone_ref(py)
                }
            };
            Box::new(PyValue { obj, kind: self.kind }) as Box<dyn ForeignValue>
        })
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// What a dict, list or tuple materializes to; `None` for anything else (subclasses too).
pub fn container_kind(obj: &Bound<'_, PyAny>) -> Option<ForeignKind> {
    if obj.is_exact_instance_of::<PyDict>() {
        Some(ForeignKind::Struct)
    } else if obj.is_exact_instance_of::<PyList>() {
        Some(ForeignKind::List)
    } else if obj.is_exact_instance_of::<PyTuple>() {
        Some(ForeignKind::Tuple)
    } else {
        None
    }
}

/// The dict keys met by [`pure`] and [`write_json`] on this thread, by position in the order
/// they are walked, each with its JSON text: a function's results usually have the same keys
/// (the same `str` objects: the constants of its code) record after record. A key that *is*
/// the one held at its position (an identity test; held, so its address cannot be reused)
/// needs neither the checks `pure` makes nor rendering: `str` objects do not change.
/// A position whose key differs twice in a row takes the new one.
#[derive(Default)]
struct KeyCache {
    slots: Vec<KeySlot>,
    /// The next position in the current walk.
    position: usize,
}

struct KeySlot {
    key: Py<PyString>,
    json: RenderedKey,
    misses: u32,
}

impl KeyCache {
    /// Positions remembered.
    const POSITIONS: usize = 64;

    /// The rendered key if `key` is the one held at the next position.
    fn known(&mut self, key: &Bound<'_, PyAny>) -> Option<&RenderedKey> {
        let at = self.position;
        self.position += 1;
        let slot = self.slots.get_mut(at)?;
        if slot.key.is(key) {
            slot.misses = 0;
            Some(&slot.json)
        } else {
            slot.misses += 1;
            None
        }
    }

    /// Remembers a valid `key` for the position [`KeyCache::known`] just declined.
    fn learn(&mut self, key: &Bound<'_, PyString>, text: &str) {
        let at = self.position.wrapping_sub(1);
        if at >= Self::POSITIONS || self.slots.get(at).is_some_and(|s| s.misses < 2) || at > self.slots.len() {
            return;
        }
        let Ok(json) = JsonWriter::render_key(text) else { return };
        let slot = KeySlot { key: key.clone().unbind(), json, misses: 0 };
        if at == self.slots.len() {
            self.slots.push(slot);
        } else {
            self.slots[at] = slot;
        }
    }
}

thread_local! {
    static KEYS: RefCell<KeyCache> = RefCell::default();
}

/// Runs a walk with this thread's [`KeyCache`] (a fresh one if a walk is already using it).
fn with_keys<T>(walk: impl FnOnce(&mut KeyCache) -> T) -> T {
    let mut keys = KEYS.with(|k| k.try_borrow_mut().map(|mut k| std::mem::take(&mut *k))).unwrap_or_default();
    keys.position = 0;
    let result = walk(&mut keys);
    KEYS.with(|k| {
        if let Ok(mut k) = k.try_borrow_mut() {
            *k = keys;
        }
    });
    result
}

/// A dict key as `pure` and `write_json` accept it: an exact `str`, valid Unicode, other than
/// KSML's `@type`/`@schema`.
fn key_text<'a, 'py>(key: &'a Bound<'py, PyAny>) -> Option<(&'a Bound<'py, PyString>, &'a str)> {
    let k = key.cast_exact::<PyString>().ok()?;
    let text = k.to_str().ok()?;
    (text != "@type" && text != "@schema").then_some((k, text))
}

/// Whether `obj` survives `to_py(from_py(obj))` unchanged: built only of the exact types
/// `None`, `bool`, `int` (within 64 bits), `float`, `str` (valid Unicode), `bytes`, `list`,
/// `tuple` and `dict` with `str` keys other than KSML's `@type`/`@schema` (which `from_py`
/// drops), nested at most `MAX_DEPTH` levels. Subclasses (an `IntEnum`, an `OrderedDict`)
/// and `bytearray` are not: `from_py` turns them into their base type.
pub fn pure(obj: &Bound<'_, PyAny>, depth: usize) -> bool {
    with_keys(|keys| pure_in(obj, depth, keys))
}

fn pure_in(obj: &Bound<'_, PyAny>, depth: usize, keys: &mut KeyCache) -> bool {
    if depth > MAX_DEPTH {
        return false;
    }
    if let Ok(s) = obj.cast_exact::<PyString>() {
        return s.to_str().is_ok();
    }
    if obj.is_exact_instance_of::<PyFloat>() || obj.is_exact_instance_of::<PyBool>() || obj.is_none() {
        return true;
    }
    if obj.is_exact_instance_of::<PyInt>() {
        return obj.extract::<i64>().is_ok();
    }
    if let Ok(d) = obj.cast_exact::<PyDict>() {
        return d.iter().all(|(k, v)| {
            let valid = keys.known(&k).is_some() || key_text(&k).map(|(k, text)| keys.learn(k, text)).is_some();
            valid && pure_in(&v, depth + 1, keys)
        });
    }
    if let Ok(l) = obj.cast_exact::<PyList>() {
        return l.iter().all(|v| pure_in(&v, depth + 1, keys));
    }
    if let Ok(t) = obj.cast_exact::<PyTuple>() {
        return t.iter().all(|v| pure_in(&v, depth + 1, keys));
    }
    obj.is_exact_instance_of::<PyBytes>()
}

/// Writes a [`pure`] object as JSON; [`Unwritable`] for anything else (the caller then
/// materializes it, and that path reports what is wrong).
fn write_json(obj: &Bound<'_, PyAny>, out: &mut JsonWriter) -> Result<(), Unwritable> {
    with_keys(|keys| write_json_in(obj, out, keys))
}

fn write_json_in(obj: &Bound<'_, PyAny>, out: &mut JsonWriter, keys: &mut KeyCache) -> Result<(), Unwritable> {
    if let Ok(s) = obj.cast_exact::<PyString>() {
        return out.string(s.to_str().map_err(|_| Unwritable)?);
    }
    if let Ok(f) = obj.cast_exact::<PyFloat>() {
        return out.double(f.value());
    }
    if let Ok(b) = obj.cast_exact::<PyBool>() {
        return out.boolean(b.is_true());
    }
    if obj.is_exact_instance_of::<PyInt>() {
        return out.long(obj.extract::<i64>().map_err(|_| Unwritable)?);
    }
    if obj.is_none() {
        return out.null();
    }
    if let Ok(d) = obj.cast_exact::<PyDict>() {
        out.begin_object()?;
        for (k, v) in d.iter() {
            match keys.known(&k) {
                Some(rendered) => out.rendered_key(rendered),
                None => {
                    let (k, text) = key_text(&k).ok_or(Unwritable)?;
                    out.key(text)?;
                    keys.learn(k, text);
                }
            }
            write_json_in(&v, out, keys)?;
        }
        out.end_object();
        return Ok(());
    }
    if let Ok(l) = obj.cast_exact::<PyList>() {
        out.begin_array()?;
        for v in l.iter() {
            write_json_in(&v, out, keys)?;
        }
        out.end_array();
        return Ok(());
    }
    if let Ok(t) = obj.cast_exact::<PyTuple>() {
        out.begin_array()?;
        for v in t.iter() {
            write_json_in(&v, out, keys)?;
        }
        out.end_array();
        return Ok(());
    }
    if let Ok(b) = obj.cast_exact::<PyBytes>() {
        return out.bytes(b.as_bytes());
    }
    Err(Unwritable)
}

/// A copy sharing nothing mutable: new dicts, lists and tuples; the immutable leaves
/// (strings, numbers, bytes) are shared, as copies of them would be equal and immutable.
fn deep_copy<'py>(obj: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    let py = obj.py();
    if let Ok(d) = obj.cast_exact::<PyDict>() {
        let copy = PyDict::new(py);
        for (k, v) in d.iter() {
            copy.set_item(k, deep_copy(&v)?)?;
        }
        return Ok(copy.into_any());
    }
    if let Ok(l) = obj.cast_exact::<PyList>() {
        return Ok(PyList::new(py, l.iter().map(|v| deep_copy(&v)).collect::<PyResult<Vec<_>>>()?)?.into_any());
    }
    if let Ok(t) = obj.cast_exact::<PyTuple>() {
        return Ok(PyTuple::new(py, t.iter().map(|v| deep_copy(&v)).collect::<PyResult<Vec<_>>>()?)?.into_any());
    }
    Ok(obj.clone())
}

/// What decoding keeps from one document to the next, so that the records of a topic,
/// which mostly have the same keys in the same order, cost less than the first one:
///
/// - object keys as interned Python strings, made once rather than once per record (and
///   user code's `value["id"]`, whose constant is interned too, finds them by identity);
///   a key is first compared with the one at the same position of the previous document
///   (no hashing), then looked up; bounded: short keys only, at most `DecodeCache::MAX_KEYS`;
/// - per object position, a template dict with the keys the object had (values `None`):
///   when the next document's object has the same keys in the same order, the dict is a
///   copy of the template (one allocation of the right size, no rehashing as it grows)
///   with the values set. Iteration order, values and equality are those of the dict built
///   key by key, which is what happens when the keys differ;
/// - per string value position (the n-th string value of a document), the few short values
///   seen there (`ValueSlot`): fields such as a currency, a status or a region take a
///   handful of values, and an equal string is then shared rather than made again. Python
///   strings are immutable, so a shared one cannot be told from a new one except by `is`,
///   which Python does not promise for equal strings either (`json.loads` shares none,
///   constants in code are shared);
/// - scratch stacks for the items of the arrays and objects being read.
#[derive(Default)]
pub struct DecodeCache {
    keys: FastMap<Box<str>, Py<PyString>>,
    /// The keys of the previous document, in the order read.
    previous: Vec<(Box<str>, Py<PyString>)>,
    /// How many keys of the current document were read.
    position: usize,
    /// By object position (the order objects end in the document).
    templates: Vec<Template>,
    /// How many objects of the current document were finished.
    objects: usize,
    /// By string value position.
    values: Vec<ValueSlot>,
    /// How many string values of the current document were read.
    value_position: usize,
    items: Vec<Py<PyAny>>,
    pairs: Vec<(Py<PyString>, Py<PyAny>)>,
}

/// The string values seen at one position, and whether sharing pays there: a position
/// whose values keep changing (an id, a name) is given up after a few misses, so that it
/// costs one comparison of a counter rather than a search.
#[derive(Default)]
struct ValueSlot {
    seen: Vec<(Box<str>, Py<PyString>)>,
    hits: u32,
    misses: u32,
}

impl ValueSlot {
    /// At most this many values per position.
    const VALUES: usize = 8;

    fn given_up(&self) -> bool {
        self.seen.len() == Self::VALUES && self.misses > 16 + 4 * self.hits
    }
}

/// The keys an object had, and a dict of them with `None` values.
struct Template {
    keys: Vec<Py<PyString>>,
    dict: Py<PyDict>,
    /// Objects in a row at this position that had other keys.
    misses: u32,
}

impl DecodeCache {
    const MAX_KEYS: usize = 4096;
    const MAX_KEY_BYTES: usize = 64;
    /// Key positions remembered from the previous document.
    const MAX_POSITIONS: usize = 256;
    /// Object positions with a template.
    const MAX_TEMPLATES: usize = 64;
    /// Objects in a row with other keys after which a template is replaced.
    const MISSES: u32 = 2;
    /// String value positions with a [`ValueSlot`].
    const MAX_VALUE_POSITIONS: usize = 256;
    /// Longest string value shared.
    const MAX_VALUE_BYTES: usize = 32;

    /// Starts a document (whatever an earlier one left, after an error).
    fn start(&mut self) {
        self.position = 0;
        self.objects = 0;
        self.value_position = 0;
        self.items.clear();
        self.pairs.clear();
    }

    fn key<'py>(&mut self, py: Python<'py>, key: &str) -> Bound<'py, PyString> {
        let at = self.position;
        self.position += 1;
        if let Some((text, k)) = self.previous.get(at)
            && same_text(text, key)
        {
            return k.bind(py).clone();
        }
        let k = match self.keys.get(key) {
            Some(k) => k.bind(py).clone(),
            None => {
                let k = PyString::intern(py, key);
                if key.len() <= Self::MAX_KEY_BYTES && self.keys.len() < Self::MAX_KEYS {
                    self.keys.insert(key.into(), k.clone().unbind());
                }
                k
            }
        };
        if key.len() <= Self::MAX_KEY_BYTES && at < Self::MAX_POSITIONS {
            let entry = (Box::from(key), k.clone().unbind());
            if at < self.previous.len() {
                self.previous[at] = entry;
            } else if at == self.previous.len() {
                self.previous.push(entry);
            }
        }
        k
    }

    /// A string value: one seen at this position before, or a new one.
    fn string<'py>(&mut self, py: Python<'py>, v: &str) -> Bound<'py, PyString> {
        let at = self.value_position;
        self.value_position += 1;
        if v.len() > Self::MAX_VALUE_BYTES || at >= Self::MAX_VALUE_POSITIONS {
            return PyString::new(py, v);
        }
        if at == self.values.len() {
            self.values.push(ValueSlot::default());
        }
        let Some(slot) = self.values.get_mut(at).filter(|slot| !slot.given_up()) else { return PyString::new(py, v) };
        if let Some((_, s)) = slot.seen.iter().find(|(text, _)| same_text(text, v)) {
            slot.hits = slot.hits.saturating_add(1);
            return s.bind(py).clone();
        }
        slot.misses = slot.misses.saturating_add(1);
        let s = PyString::new(py, v);
        if slot.seen.len() < ValueSlot::VALUES {
            slot.seen.push((v.into(), s.clone().unbind()));
        }
        s
    }

    /// The dict of the object whose key/value pairs are `pairs[start..]` (taken off).
    fn object<'py>(&mut self, py: Python<'py>, start: usize) -> PyResult<Bound<'py, PyDict>> {
        let at = self.objects;
        self.objects += 1;
        let pairs = self.pairs.get(start..).unwrap_or_default();
        let same = |t: &Template| t.keys.len() == pairs.len() && t.keys.iter().zip(pairs).all(|(a, (b, _))| a.is(b));
        let dict = match self.templates.get_mut(at) {
            Some(t) if same(t) => {
                t.misses = 0;
                t.dict.bind(py).copy()?
            }
            found => {
                let replace = match found {
                    Some(t) => {
                        t.misses += 1;
                        t.misses >= Self::MISSES
                    }
                    None => at == self.templates.len() && at < Self::MAX_TEMPLATES,
                };
                if replace {
                    let template = PyDict::new(py);
                    for (k, _) in pairs {
                        template.set_item(k, py.None())?;
                    }
                    let t =
                        Template { keys: pairs.iter().map(|(k, _)| k.clone_ref(py)).collect(), dict: template.clone().unbind(), misses: 0 };
                    if at < self.templates.len() {
                        self.templates[at] = t;
                    } else {
                        self.templates.push(t);
                    }
                    template.copy()?
                } else {
                    PyDict::new(py)
                }
            }
        };
        for (k, v) in self.pairs.drain(start..) {
            dict.set_item(k, v)?;
        }
        Ok(dict)
    }
}

/// `a == b` without calling `memcmp` for the 4 to 16 bytes most keys and short values have
/// (perf put the call at 4% of a Python pipeline's time): two overlapping words each.
#[inline]
pub(crate) fn same_text(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let n = a.len();
    if n != b.len() {
        return false;
    }
    fn words<const W: usize>(s: &[u8]) -> Option<([u8; W], [u8; W])> {
        Some((s.get(..W)?.try_into().ok()?, s.get(s.len().checked_sub(W)?..)?.try_into().ok()?))
    }
    match n {
        8..=16 => words::<8>(a) == words::<8>(b),
        4..=7 => words::<4>(a) == words::<4>(b),
        _ => a == b,
    }
}

/// Builds Python objects from JSON: the objects `to_py` makes from the [`Value`] that
/// [`json::from_slice`] reads from the same bytes. Arrays and objects being read keep their
/// items on the cache's scratch stacks (an array or object is the index where its items start).
struct Builder<'py, 'c> {
    py: Python<'py>,
    cache: &'c mut DecodeCache,
}

impl<'py> JsonBuilder for Builder<'py, '_> {
    type Node = Bound<'py, PyAny>;
    type Key = Bound<'py, PyString>;
    type Object = usize;
    type Array = usize;
    type Error = PyErr;

    fn null(&mut self) -> PyResult<Self::Node> {
        Ok(self.py.None().into_bound(self.py))
    }

    fn boolean(&mut self, v: bool) -> PyResult<Self::Node> {
        Ok(PyBool::new(self.py, v).to_owned().into_any())
    }

    fn long(&mut self, v: i64) -> PyResult<Self::Node> {
        Ok(v.into_pyobject(self.py)?.into_any())
    }

    fn double(&mut self, v: f64) -> PyResult<Self::Node> {
        Ok(PyFloat::new(self.py, v).into_any())
    }

    fn string(&mut self, v: &str) -> PyResult<Self::Node> {
        Ok(self.cache.string(self.py, v).into_any())
    }

    fn begin_array(&mut self, _size_hint: usize) -> PyResult<usize> {
        Ok(self.cache.items.len())
    }

    fn push(&mut self, _array: &mut usize, item: Self::Node) -> PyResult<()> {
        self.cache.items.push(item.unbind());
        Ok(())
    }

    fn end_array(&mut self, start: usize) -> PyResult<Self::Node> {
        let py = self.py;
        let items = self.cache.items.drain(start.min(self.cache.items.len())..).map(|item| item.into_bound(py));
        Ok(PyList::new(py, items)?.into_any())
    }

    fn begin_object(&mut self) -> PyResult<usize> {
        Ok(self.cache.pairs.len())
    }

    fn key(&mut self, key: &str) -> PyResult<Self::Key> {
        Ok(self.cache.key(self.py, key))
    }

    fn insert(&mut self, _object: &mut usize, key: Self::Key, value: Self::Node) -> PyResult<()> {
        self.cache.pairs.push((key.unbind(), value.unbind()));
        Ok(())
    }

    fn end_object(&mut self, start: usize) -> PyResult<Self::Node> {
        Ok(self.cache.object(self.py, start)?.into_any())
    }

    fn restart(&mut self) {
        self.cache.start();
    }
}

/// Reads a JSON document into Python objects; `None` unless it is a valid document whose
/// top level is an object or array (see [`weir_engine::ports::Functions::decode_json`]).
pub fn decode_json(py: Python<'_>, bytes: &[u8], cache: &mut DecodeCache) -> Option<PyValue> {
    cache.start();
    let (obj, kind) = json::decode_into(bytes, &mut Builder { py, cache }).ok()?;
    let kind = match kind {
        JsonKind::Object => ForeignKind::Struct,
        JsonKind::Array => ForeignKind::List,
        _ => return None,
    };
    Some(PyValue { obj: obj.unbind(), kind })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::to_py;

    fn equal(a: &Bound<'_, PyAny>, b: &Bound<'_, PyAny>) -> bool {
        a.get_type().is(b.get_type()) && a.eq(b).unwrap_or(false)
    }

    /// Deterministic JSON documents exercising every JSON form, escapes and number edge cases.
    fn documents() -> Vec<String> {
        let mut docs: Vec<String> = [
            r#"{"id":"o1","amount":12.5,"n":-3,"ok":true,"no":false,"nothing":null,"tags":["a","b"],"nested":{"x":[1,{"y":[]}]}}"#,
            r#"[1, 2.0, 1e3, -0.0, 18446744073709551615, 9223372036854775807, -9223372036854775808, 9223372036854775808]"#,
            r#"{"a":1,"a":2,"b":3}"#,
            r#"{"esc\"aped":"line\nbreak \u00e9 \ud83d\ude00","":""}"#,
            r#"  {"spaces" : [ ] }  "#,
            "[]",
            "{}",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        fn doc(next: &mut dyn FnMut() -> u64, depth: u32) -> String {
            match next() % if depth > 3 { 6 } else { 8 } {
                0 => "null".into(),
                1 => if next().is_multiple_of(2) { "true" } else { "false" }.into(),
                2 => format!("{}", next() as i64),
                3 => format!("{}", (next() % 100_000) as f64 / 64.0),
                4 => format!("\"k{}é\\t\"", next() % 50),
                5 => format!("{}", next()),
                6 => format!("[{}]", (0..next() % 4).map(|_| doc(next, depth + 1)).collect::<Vec<_>>().join(",")),
                _ => format!(
                    "{{{}}}",
                    (0..next() % 4).map(|i| format!("\"f{}\":{}", (i + next()) % 3, doc(next, depth + 1))).collect::<Vec<_>>().join(",")
                ),
            }
        }
        for _ in 0..400 {
            docs.push(format!("[{}]", doc(&mut next, 0)));
            docs.push(format!("{{\"v\":{}}}", doc(&mut next, 0)));
        }
        docs
    }

    /// Decoding straight into Python gives what decoding into a Value and converting gives
    /// (one cache for all documents: templates are reused, missed and replaced),
    /// and writing it back gives the bytes the Value path writes.
    #[test]
    fn the_fast_path_matches_the_value_path() {
        Python::attach(|py| {
            let mut keys = DecodeCache::default();
            for text in documents() {
                let value = json::from_slice(text.as_bytes()).expect("valid JSON");
                let expected = to_py(py, &value).expect("to_py");
                let fast = decode_json(py, text.as_bytes(), &mut keys).expect("a container");
                assert!(equal(fast.bind(py), &expected), "{text}: {} vs {}", fast.bind(py), expected);
                assert!(pure(fast.bind(py), 0), "{text}");
                assert_eq!(fast.to_value().as_ref(), Ok(&value), "{text}");
                let mut out = JsonWriter::new();
                fast.write_json(&mut out).expect("writable");
                assert_eq!(String::from_utf8(out.into_bytes()), String::from_utf8(json::to_vec(&value).expect("encode")), "{text}");
            }
        });
    }

    /// Documents of the same shape reuse a template dict; other shapes, duplicate keys,
    /// nested objects and changes to an earlier result do not leak into the next one.
    #[test]
    fn object_templates_give_the_dicts_built_key_by_key() {
        Python::attach(|py| {
            let mut cache = DecodeCache::default();
            let docs = [
                r#"{"a":1,"b":{"x":[1,{"y":2}]},"c":"s"}"#,
                r#"{"a":2,"b":{"x":[3,{"y":4}]},"c":"t"}"#,
                r#"{"a":3,"b":{"x":[5,{"y":6}]},"c":"u"}"#,
                r#"{"c":"v","a":4,"b":{"x":[]}}"#,
                r#"{"a":5,"a":6,"b":{"x":[7,{"y":8,"z":9}]},"c":"w"}"#,
                r#"{"c":"v","a":4,"b":{"x":[]}}"#,
                r#"{"c":"v","a":4,"b":{"x":[]}}"#,
                r#"{"a":7,"b":{"x":[9,{"y":10}]},"c":"x","d":null}"#,
                r#"{"a":8,"b":{"x":[11,{"y":12}]},"c":"y"}"#,
                r#"[{"k":1},{"k":2},{"k":3,"j":4}]"#,
                r#"[{"k":5},{"k":6},{"k":7,"j":8}]"#,
            ];
            for text in docs {
                let fast = decode_json(py, text.as_bytes(), &mut cache).expect("a container");
                let expected = to_py(py, &json::from_slice(text.as_bytes()).expect("JSON")).expect("to_py");
                assert!(equal(fast.bind(py), &expected), "{text}: {} vs {}", fast.bind(py), expected);
                let keys = |o: &Bound<'_, PyAny>| o.call_method0("keys").and_then(|k| k.str()).map(|k| k.to_string()).expect("keys");
                if let Ok(d) = fast.bind(py).cast::<PyDict>() {
                    assert_eq!(keys(d.as_any()), keys(&expected), "{text}: key order");
                    // A function changing the dict must not change the next record's.
                    d.set_item("added", 1).expect("set");
                    d.del_item("a").expect("del");
                }
            }
        });
    }

    /// Equal short strings at the same position are shared; other values, longer strings and
    /// positions whose values keep changing are made anew, with the same results.
    #[test]
    fn string_values_are_shared_where_they_repeat() {
        Python::attach(|py| {
            let mut cache = DecodeCache::default();
            let mut previous: Option<PyValue> = None;
            for i in 0..200 {
                let long = "x".repeat(DecodeCache::MAX_VALUE_BYTES + 1);
                let text = format!(r#"{{"currency":"{}","id":"o{i}","tags":["a","b{}"],"long":"{long}"}}"#, ["EUR", "USD"][i % 2], i % 3);
                let fast = decode_json(py, text.as_bytes(), &mut cache).expect("a container");
                let expected = to_py(py, &json::from_slice(text.as_bytes()).expect("JSON")).expect("to_py");
                assert!(equal(fast.bind(py), &expected), "{text}: {} vs {}", fast.bind(py), expected);
                if let Some(before) = previous.filter(|_| i >= 2) {
                    let field = |v: &PyValue, k: &str| v.bind(py).get_item(k).expect("field");
                    let earlier = decode_json(py, format!(r#"{{"currency":"{}"}}"#, ["EUR", "USD"][i % 2]).as_bytes(), &mut cache);
                    assert!(field(&fast, "currency").is(field(&earlier.expect("container"), "currency")), "shared");
                    assert!(!field(&fast, "long").is(field(&before, "long")), "long strings are not shared");
                }
                previous = Some(fast);
            }
            let id_slot = &cache.values[1];
            assert!(id_slot.given_up(), "ids change every time: given up");
            assert!(!cache.values[0].given_up(), "currencies repeat");
        });
    }

    #[test]
    fn same_text_is_equality() {
        let texts: Vec<String> = (0..40)
            .flat_map(|n| ["a".repeat(n), format!("{}b", "a".repeat(n)), format!("b{}", "a".repeat(n)), format!("a{}a", "é".repeat(n / 2))])
            .collect();
        for a in &texts {
            for b in &texts {
                assert_eq!(same_text(a, b), a == b, "{a:?} {b:?}");
            }
            for i in 0..a.len() {
                let mut changed = a.clone().into_bytes();
                changed[i] ^= 0x40;
                assert!(!same_text(a, &String::from_utf8_lossy(&changed)), "{a:?} at {i}");
            }
        }
    }

    #[test]
    fn scalars_and_invalid_json_are_declined() {
        Python::attach(|py| {
            let mut keys = DecodeCache::default();
            for text in ["42", "\"s\"", "null", "true", "{", "[1,]", "{\"a\":1} x", ""] {
                assert!(decode_json(py, text.as_bytes(), &mut keys).is_none(), "{text}");
            }
        });
    }

    #[test]
    fn keys_are_interned_once() {
        Python::attach(|py| {
            let mut keys = DecodeCache::default();
            let a = decode_json(py, br#"{"amount":1}"#, &mut keys).expect("object");
            let b = decode_json(py, br#"{"amount":2}"#, &mut keys).expect("object");
            let key = |v: &PyValue| v.bind(py).cast::<PyDict>().expect("dict").keys().get_item(0).expect("key");
            assert!(key(&a).is(key(&b)));
            assert!(key(&a).is(PyString::intern(py, "amount")));
        });
    }

    #[test]
    fn only_lossless_objects_are_kept() {
        Python::attach(|py| {
            let kept = |code: &std::ffi::CStr| {
                let obj = py.eval(code, None, None).expect("eval");
                PyValue::keep(&obj).is_some()
            };
            assert!(kept(c"{'a': [1, 2.5, 'x', None, True, b'\\x00', (1, 2)], 'b': {}}"));
            assert!(kept(c"[]"));
            assert!(!kept(c"{'@type': 'X', 'v': 1}"), "from_py drops @type");
            assert!(!kept(c"{1: 2}"), "int keys are an error in from_py");
            assert!(!kept(c"[2**70]"), "beyond 64 bits");
            assert!(!kept(c"[bytearray(b'x')]"), "becomes bytes");
            assert!(!kept(c"__import__('collections').OrderedDict(a=1)"), "a dict subclass");
            assert!(!kept(c"[__import__('enum').IntEnum('E', 'A').A]"), "an int subclass");
            assert!(!kept(c"['\\ud800']"), "a lone surrogate");
            assert!(!kept(c"[object()]"));
            assert!(!kept(c"42"), "scalars are Values");
            let deep = py.eval(c"(lambda: [l := [], [l.append(l)]][0])()", None, None).expect("eval");
            assert!(PyValue::keep(&deep).is_none(), "a list containing itself");
        });
    }

    /// Keys remembered by identity give what checking and writing them anew gives: for
    /// shapes that repeat, alternate and change, and for invalid keys at a remembered position.
    #[test]
    fn remembered_keys_give_the_same_results() {
        Python::attach(|py| {
            let eval = |code: &std::ffi::CStr| py.eval(code, None, None).expect("eval");
            let shapes = [
                c"{'id': 'x', 'n': 1, 'nested': {'id': [1, {'é': None}]}}",
                c"{'n': 2, 'id': 'y'}",
                c"{'id': 'z', 'k\"ey': 2.5, 'nested': {}}",
            ];
            for round in 0..12 {
                let obj = eval(shapes[round % shapes.len()]);
                let kept = PyValue::keep(&obj).expect("pure");
                let mut out = JsonWriter::new();
                kept.write_json(&mut out).expect("writable");
                let expected = json::to_vec(&from_py(&obj).expect("from_py")).expect("encode");
                assert_eq!(String::from_utf8(out.into_bytes()), String::from_utf8(expected), "round {round}");
            }
            for _ in 0..3 {
                assert!(PyValue::keep(&eval(c"{'id': 1, 'n': 2}")).is_some());
            }
            assert!(PyValue::keep(&eval(c"{'id': 1, '@type': 2}")).is_none(), "from_py drops @type");
            assert!(PyValue::keep(&eval(c"{'id': 1, type('S', (str,), {})('n'): 2}")).is_none(), "a str subclass");
            assert!(PyValue::keep(&eval(c"{'id': 1, '\\ud800': 2}")).is_none(), "a lone surrogate");
            let mut out = JsonWriter::new();
            let odd = PyValue { obj: eval(c"{'id': 1, type('S', (str,), {})('n'): 2}").unbind(), kind: ForeignKind::Struct };
            assert_eq!(odd.write_json(&mut out), Err(Unwritable), "written only through the Value path");
        });
    }

    #[test]
    fn writing_refuses_what_json_cannot_hold() {
        Python::attach(|py| {
            for code in [c"[float('nan')]", c"{'x': float('inf')}"] {
                let obj = py.eval(code, None, None).expect("eval");
                let v = PyValue::keep(&obj).expect("pure");
                assert_eq!(v.write_json(&mut JsonWriter::new()), Err(Unwritable));
                let value = v.to_value().expect("materializes");
                assert!(json::to_vec(&value).is_err(), "the Value path refuses it too");
            }
            let bytes = py.eval(c"{'raw': b'\\xff\\xfe\\xfd'}", None, None).expect("eval");
            let mut out = JsonWriter::new();
            PyValue::keep(&bytes).expect("pure").write_json(&mut out).expect("writable");
            assert_eq!(out.into_bytes(), br#"{"raw":"//79"}"#);
        });
    }

    #[test]
    fn forks_share_nothing_mutable() {
        Python::attach(|py| {
            let obj = py.eval(c"{'a': [1, {'b': 2}], 't': ([3],)}", None, None).expect("eval");
            let v = PyValue::keep(&obj).expect("pure");
            let copy = v.fork();
            let locals = PyDict::new(py);
            locals.set_item("v", v.bind(py)).expect("set");
            py.run(c"v['a'][1]['b'] = 99; v['a'].append(5); v['t'][0].append(4); v['new'] = 1", None, Some(&locals)).expect("mutate");
            let original = Value::Struct(indexmap::IndexMap::from([
                (
                    "a".to_string(),
                    Value::List(vec![Value::Long(1), Value::Struct(indexmap::IndexMap::from([("b".to_string(), Value::Long(2))]))]),
                ),
                ("t".to_string(), Value::Tuple(vec![Value::List(vec![Value::Long(3)])])),
            ]));
            assert_eq!(copy.to_value(), Ok(original));
        });
    }
}
