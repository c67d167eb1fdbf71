//! KSML values ⇄ Python objects: the one place where the two data models meet.
//!
//! Into Python: null → `None`, booleans, all integer types → `int`, float/double → `float`,
//! string and enum → `str`, list → `list`, struct → `dict`, tuple → `tuple`, and bytes →
//! `bytes`. (KSML gives bytes to Python as a list of ints and cannot pass tuples in; a
//! Python user expects `bytes` and `tuple`, so that is what Weir passes; see
//! docs/ksml-differences.md.)
//!
//! Out of Python: the reverse, with `int` → long and `float` → double until the declared
//! type (a function's `resultType`) converts them further (`weir_engine::value::convert`).
//! A `bytearray` or a list of ints becomes bytes where bytes are expected. KSML's `@type` and
//! `@schema` keys are dropped from returned dicts. Anything else (a `datetime`, a custom
//! object) is an error naming the Python type and where in the value it was.

use indexmap::IndexMap;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyByteArray, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use weir_engine::Value;

/// A Python value that has no KSML counterpart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FromPyError {
    /// Where in the returned value, e.g. `$.items[2]`.
    pub path: String,
    pub message: String,
}

impl std::fmt::Display for FromPyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at {}", self.message, self.path)
    }
}

pub fn to_py<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Byte(n) => n.into_pyobject(py)?.into_any(),
        Value::Short(n) => n.into_pyobject(py)?.into_any(),
        Value::Int(n) => n.into_pyobject(py)?.into_any(),
        Value::Long(n) => n.into_pyobject(py)?.into_any(),
        Value::Float(n) => n.into_pyobject(py)?.into_any(),
        Value::Double(n) => n.into_pyobject(py)?.into_any(),
        Value::String(s) | Value::Enum(s) => PyString::new(py, s).into_any(),
        Value::Bytes(b) => PyBytes::new(py, b).into_any(),
        Value::List(items) => PyList::new(py, items.iter().map(|v| to_py(py, v)).collect::<PyResult<Vec<_>>>()?)?.into_any(),
        Value::Tuple(items) => PyTuple::new(py, items.iter().map(|v| to_py(py, v)).collect::<PyResult<Vec<_>>>()?)?.into_any(),
        Value::Struct(fields) => {
            let d = PyDict::new(py);
            for (k, v) in fields {
                d.set_item(k, to_py(py, v)?)?;
            }
            d.into_any()
        }
    })
}

pub fn from_py(obj: &Bound<'_, PyAny>) -> Result<Value, FromPyError> {
    from_py_at(obj, Path::Root, 0)
}

/// Deeper nesting than this in a returned value is refused rather than risking the stack.
const MAX_DEPTH: usize = 200;

/// Where in a value [`from_py`] is, rendered (`$.items[2]`) only for an error.
#[derive(Clone, Copy)]
enum Path<'a> {
    Root,
    Index(&'a Path<'a>, usize),
    Key(&'a Path<'a>, &'a str),
}

impl std::fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Path::Root => f.write_str("$"),
            Path::Index(parent, i) => write!(f, "{parent}[{i}]"),
            Path::Key(parent, key) => write!(f, "{parent}.{key}"),
        }
    }
}

fn from_py_at(obj: &Bound<'_, PyAny>, path: Path<'_>, depth: usize) -> Result<Value, FromPyError> {
    let err = |message: String| FromPyError { path: path.to_string(), message };
    if depth > MAX_DEPTH {
        return Err(err(format!("the value is nested deeper than {MAX_DEPTH} levels")));
    }
    if obj.is_none() {
        return Ok(Value::Null);
    }
    if let Ok(b) = obj.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if obj.is_instance_of::<PyInt>() {
        return obj.extract::<i64>().map(Value::Long).map_err(|_| err(format!("the integer {obj} does not fit in a long (64 bits)")));
    }
    if let Ok(f) = obj.cast::<PyFloat>() {
        return Ok(Value::Double(f.value()));
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return s.to_str().map(|s| Value::String(s.to_string())).map_err(|e| err(format!("the string is not valid Unicode: {e}")));
    }
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(Value::Bytes(b.as_bytes().to_vec()));
    }
    if let Ok(b) = obj.cast::<PyByteArray>() {
        return Ok(Value::Bytes(b.to_vec()));
    }
    if let Ok(list) = obj.cast::<PyList>() {
        return list
            .iter()
            .enumerate()
            .map(|(i, item)| from_py_at(&item, Path::Index(&path, i), depth + 1))
            .collect::<Result<_, _>>()
            .map(Value::List);
    }
    if let Ok(tuple) = obj.cast::<PyTuple>() {
        return tuple
            .iter()
            .enumerate()
            .map(|(i, item)| from_py_at(&item, Path::Index(&path, i), depth + 1))
            .collect::<Result<_, _>>()
            .map(Value::Tuple);
    }
    if let Ok(dict) = obj.cast::<PyDict>() {
        let mut fields = IndexMap::with_capacity(dict.len());
        for (k, v) in dict.iter() {
            let Ok(key) = k.extract::<String>() else {
                return Err(err(format!("dict keys must be strings, found a Python '{}' key", type_name(&k))));
            };
            if key == "@type" || key == "@schema" {
                continue;
            }
            let value = from_py_at(&v, Path::Key(&path, &key), depth + 1)?;
            fields.insert(key, value);
        }
        return Ok(Value::Struct(fields));
    }
    Err(err(format!("a Python '{}' has no KSML type; return None, bool, int, float, str, bytes, list, tuple or dict", type_name(obj))))
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "object".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(v: Value) -> Value {
        Python::attach(|py| from_py(&to_py(py, &v).expect("to_py")).expect("from_py"))
    }

    #[test]
    fn values_round_trip() {
        let s = Value::Struct(IndexMap::from([
            ("name".to_string(), Value::String("x".into())),
            ("n".to_string(), Value::Long(-3)),
            ("ok".to_string(), Value::Bool(true)),
            ("nothing".to_string(), Value::Null),
            ("f".to_string(), Value::Double(1.5)),
            ("raw".to_string(), Value::Bytes(vec![0, 255])),
            ("items".to_string(), Value::List(vec![Value::Long(1), Value::Tuple(vec![Value::String("k".into()), Value::Long(2)])])),
        ]));
        assert_eq!(round_trip(s.clone()), s);
    }

    #[test]
    fn narrow_types_come_back_wide() {
        assert_eq!(round_trip(Value::Int(7)), Value::Long(7));
        assert_eq!(round_trip(Value::Float(0.5)), Value::Double(0.5));
        assert_eq!(round_trip(Value::Enum("A".into())), Value::String("A".into()));
    }

    #[test]
    fn foreign_objects_are_errors_with_paths() {
        Python::attach(|py| {
            let obj = py.eval(c"{'a': [1, object()]}", None, None).expect("eval");
            let e = from_py(&obj).expect_err("object() has no KSML type");
            assert_eq!(e.path, "$.a[1]");
            assert!(e.message.starts_with("a Python 'object' has no KSML type"), "{e}");
            let big = py.eval(c"2**70", None, None).expect("eval");
            assert!(from_py(&big).is_err());
            let keys = py.eval(c"{1: 2}", None, None).expect("eval");
            assert_eq!(from_py(&keys).expect_err("int key").message, "dict keys must be strings, found a Python 'int' key");
            let meta = py.eval(c"{'@type': 'X', '@schema': {}, 'v': 1}", None, None).expect("eval");
            assert_eq!(from_py(&meta), Ok(Value::Struct(IndexMap::from([("v".to_string(), Value::Long(1))]))));
        });
    }

    /// Property test: random values (fixed-seed PRNG) survive the round trip.
    #[test]
    fn random_values_round_trip() {
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        fn random_value(next: &mut dyn FnMut() -> u64, depth: u32) -> Value {
            match next() % if depth > 3 { 7 } else { 10 } {
                0 => Value::Null,
                1 => Value::Bool(next().is_multiple_of(2)),
                2 => Value::Long(next() as i64),
                3 => Value::Double((next() % 10_000) as f64 / 7.0),
                4 => Value::String(format!("s{}é", next() % 100)),
                5 => Value::Bytes((0..next() % 5).map(|_| next() as u8).collect()),
                6 => Value::String(String::new()),
                7 => Value::List((0..next() % 4).map(|_| random_value(next, depth + 1)).collect()),
                8 => Value::Tuple((0..next() % 3).map(|_| random_value(next, depth + 1)).collect()),
                _ => Value::Struct((0..next() % 4).map(|i| (format!("k{i}"), random_value(next, depth + 1))).collect()),
            }
        }
        for _ in 0..500 {
            let v = random_value(&mut next, 0);
            assert_eq!(round_trip(v.clone()), v);
        }
    }
}
