//! The engine's data model: KSML values.
//!
//! [`Value`] mirrors KSML's type system (null, boolean, byte…double, string, bytes, list,
//! struct, tuple, enum). Notations decode bytes into values and encode them back; Python
//! functions receive and return them. [`convert`] applies KSML's conversion rules (its
//! data types reference) to bring a value to a declared type, e.g. a function's `resultType`.
//!
//! [`Datum`] is a value in either form it can have while a record travels: a [`Value`], or a
//! [`ForeignValue`] (an object of the function runtime, e.g. the Python dict a function
//! returned), which stays foreign until something other than a function needs it.
//!
//! Struct fields keep their insertion order. (KSML sorts struct keys, which shows in the
//! key order of its JSON output; keeping the order the producer wrote is what users expect
//! and changes no value.)

pub mod json_writer;

use std::any::Any;
use std::fmt;

use indexmap::IndexMap;
use weir_dsl::types::{TypeKind, UserType};

use json_writer::{JsonWriter, Unwritable};

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Byte(i8),
    Short(i16),
    Int(i32),
    Long(i64),
    Float(f32),
    Double(f64),
    String(String),
    Bytes(Vec<u8>),
    List(Vec<Value>),
    Struct(IndexMap<String, Value>),
    Tuple(Vec<Value>),
    /// An enum symbol.
    Enum(String),
}

impl Value {
    /// The KSML name of the value's type, for messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Byte(_) => "byte",
            Value::Short(_) => "short",
            Value::Int(_) => "int",
            Value::Long(_) => "long",
            Value::Float(_) => "float",
            Value::Double(_) => "double",
            Value::String(_) => "string",
            Value::Bytes(_) => "bytes",
            Value::List(_) => "list",
            Value::Struct(_) => "struct",
            Value::Tuple(_) => "tuple",
            Value::Enum(_) => "enum",
        }
    }

    fn as_i64(&self) -> Option<i64> {
        match *self {
            Value::Byte(n) => Some(n.into()),
            Value::Short(n) => Some(n.into()),
            Value::Int(n) => Some(n.into()),
            Value::Long(n) => Some(n),
            _ => None,
        }
    }

    fn as_f64(&self) -> Option<f64> {
        match *self {
            Value::Float(n) => Some(n.into()),
            Value::Double(n) => Some(n),
            _ => self.as_i64().map(|n| n as f64),
        }
    }
}

/// A value held by a function runtime in its own representation: for Python, the dict or
/// list a JSON record was decoded into, or that a function returned. Consecutive functions
/// pass it along without converting it; [`ForeignValue::to_value`] materializes it when an
/// operation, a conversion or a codec other than JSON needs a [`Value`].
pub trait ForeignValue: Send + fmt::Debug {
    /// Struct, list or tuple.
    fn kind(&self) -> ForeignKind;
    /// The value as the engine's model: what the runtime's conversion of its result gives.
    fn to_value(&self) -> Result<Value, String>;
    /// Writes it as JSON, exactly as [`crate::notation::json::to_vec`] writes
    /// [`ForeignValue::to_value`]'s result. [`Unwritable`] sends the caller down the
    /// canonical path (materialize, convert, encode), which reports any error.
    fn write_json(&self, out: &mut JsonWriter) -> Result<(), Unwritable>;
    /// An independent copy (a record going to several operations gives each its own).
    fn fork(&self) -> Box<dyn ForeignValue>;
    /// For the runtime that made it, to get its object back.
    fn as_any(&self) -> &dyn Any;
}

/// The top level of a [`ForeignValue`]: foreign values are always containers (a function
/// runtime hands scalars over as [`Value`]s, which costs nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForeignKind {
    /// Materializes to a [`Value::Struct`].
    Struct,
    /// Materializes to a [`Value::List`].
    List,
    /// Materializes to a [`Value::Tuple`].
    Tuple,
}

/// A record's key or value between operations: a [`Value`], or a function runtime's own
/// object that has not been needed as a [`Value`] yet. Cloning a foreign value makes an
/// independent copy ([`ForeignValue::fork`]), as cloning a [`Value`] does.
pub enum Datum {
    /// The engine's own form.
    Value(Value),
    /// The function runtime's object (always a struct, list or tuple).
    Foreign(Box<dyn ForeignValue>),
}

impl Datum {
    /// The value as a [`Value`] (materialized when foreign).
    pub fn into_value(self) -> Result<Value, String> {
        match self {
            Datum::Value(v) => Ok(v),
            Datum::Foreign(f) => f.to_value(),
        }
    }

    /// A [`Value`] copy (materialized when foreign).
    pub fn to_value(&self) -> Result<Value, String> {
        match self {
            Datum::Value(v) => Ok(v.clone()),
            Datum::Foreign(f) => f.to_value(),
        }
    }

    /// Whether it is null (a foreign value never is).
    pub fn is_null(&self) -> bool {
        matches!(self, Datum::Value(Value::Null))
    }
}

impl From<Value> for Datum {
    fn from(v: Value) -> Datum {
        Datum::Value(v)
    }
}

impl Clone for Datum {
    fn clone(&self) -> Datum {
        match self {
            Datum::Value(v) => Datum::Value(v.clone()),
            Datum::Foreign(f) => Datum::Foreign(f.fork()),
        }
    }
}

impl fmt::Debug for Datum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Datum::Value(v) => v.fmt(f),
            Datum::Foreign(x) => x.fmt(f),
        }
    }
}

/// The value's text form (as [`Value`]'s `Display`; a foreign value is materialized for it).
impl fmt::Display for Datum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Datum::Value(v) => v.fmt(f),
            Datum::Foreign(x) => match x.to_value() {
                Ok(v) => v.fmt(f),
                Err(e) => write!(f, "<{e}>"),
            },
        }
    }
}

/// Whether [`convert`] into a type of this kind returns every value of the `foreign` shape
/// unchanged, so a foreign value can skip it (and stay foreign). True for the types that
/// take any value (`any`, a notation's default type such as `json`, a schema name) and for
/// the container types that take the shape as it is (`struct`, `map` without a value type,
/// a windowed key for a struct; `[any]` for a list).
pub fn converts_unchanged(kind: &TypeKind, foreign: ForeignKind) -> bool {
    match kind {
        TypeKind::Any | TypeKind::NotationDefault | TypeKind::Schema(_) => true,
        TypeKind::Struct | TypeKind::Map(None) | TypeKind::Windowed(_) => foreign == ForeignKind::Struct,
        TypeKind::List(item) => foreign == ForeignKind::List && item.kind == TypeKind::Any,
        _ => false,
    }
}

/// KSML's text form of a value (what `convertValue` into `string` gives for a non-JSON
/// value): numbers and booleans as usual, structs as `{a: 1}`, lists as `[1, 2]`.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Byte(n) => write!(f, "{n}"),
            Value::Short(n) => write!(f, "{n}"),
            Value::Int(n) => write!(f, "{n}"),
            Value::Long(n) => write!(f, "{n}"),
            Value::Float(n) => write!(f, "{n}"),
            Value::Double(n) => write!(f, "{n}"),
            Value::String(s) | Value::Enum(s) => f.write_str(s),
            Value::Bytes(b) => {
                f.write_str("0x")?;
                b.iter().try_for_each(|byte| write!(f, "{byte:02x}"))
            }
            Value::List(items) | Value::Tuple(items) => {
                let (open, close) = if matches!(self, Value::List(_)) { ("[", "]") } else { ("(", ")") };
                f.write_str(open)?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str(close)
            }
            Value::Struct(fields) => {
                f.write_str("{")?;
                for (i, (k, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k}: {v}")?;
                }
                f.write_str("}")
            }
        }
    }
}

/// Why a value could not be brought to a type. `path` locates the part that failed inside
/// the value (`$.items[2].price`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConvertError {
    pub path: String,
    pub message: String,
}

impl fmt::Display for ConvertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at {}", self.message, self.path)
    }
}

impl std::error::Error for ConvertError {}

/// Brings `value` to the type `ty` with KSML's conversion rules: values that already fit
/// are kept; numbers convert between numeric types with range checks; strings parse into
/// numbers, booleans and enums; lists, tuples and structs convert element by element;
/// unions take the first member that fits (null last); anything converts to `string` by
/// its text form. Null stays null for every type.
pub fn convert(value: Value, ty: &UserType) -> Result<Value, ConvertError> {
    convert_at(value, &ty.kind, "$")
}

fn fail(path: &str, value: &Value, target: &str) -> ConvertError {
    ConvertError { path: path.to_string(), message: format!("cannot convert {} '{value}' to {target}", value.type_name()) }
}

fn convert_at(value: Value, kind: &TypeKind, path: &str) -> Result<Value, ConvertError> {
    if value == Value::Null {
        return Ok(Value::Null);
    }
    match kind {
        TypeKind::Any | TypeKind::NotationDefault | TypeKind::Schema(_) => Ok(value),
        TypeKind::Null => Err(fail(path, &value, "null")),
        TypeKind::Boolean => match value {
            Value::Bool(_) => Ok(value),
            Value::String(ref s) if s.eq_ignore_ascii_case("true") => Ok(Value::Bool(true)),
            Value::String(ref s) if s.eq_ignore_ascii_case("false") => Ok(Value::Bool(false)),
            other => Err(fail(path, &other, "boolean")),
        },
        TypeKind::Byte => integer(value, path, "byte", |n| i8::try_from(n).ok().map(Value::Byte)),
        TypeKind::Short => integer(value, path, "short", |n| i16::try_from(n).ok().map(Value::Short)),
        TypeKind::Int => integer(value, path, "int", |n| i32::try_from(n).ok().map(Value::Int)),
        TypeKind::Long => integer(value, path, "long", |n| Some(Value::Long(n))),
        TypeKind::Float => float(value, path, "float", |x| {
            let f = x as f32;
            (f.is_finite() || !x.is_finite()).then_some(Value::Float(f))
        }),
        TypeKind::Double => float(value, path, "double", |x| Some(Value::Double(x))),
        TypeKind::String => Ok(match value {
            Value::String(_) => value,
            other => Value::String(other.to_string()),
        }),
        TypeKind::Bytes => match value {
            Value::Bytes(_) => Ok(value),
            Value::List(items) => {
                let bytes: Option<Vec<u8>> = items.iter().map(|v| v.as_i64().and_then(|n| u8::try_from(n).ok())).collect();
                bytes.map(Value::Bytes).ok_or_else(|| ConvertError {
                    path: path.to_string(),
                    message: "a list converts to bytes only when it holds integers 0..=255".to_string(),
                })
            }
            other => Err(fail(path, &other, "bytes")),
        },
        TypeKind::Enum(symbols) => match value {
            Value::String(s) | Value::Enum(s) if symbols.contains(&s) => Ok(Value::Enum(s)),
            other => Err(ConvertError {
                path: path.to_string(),
                message: format!("'{other}' is not one of the enum symbols {}", symbols.join(", ")),
            }),
        },
        TypeKind::List(item) => match value {
            Value::List(items) | Value::Tuple(items) => items
                .into_iter()
                .enumerate()
                .map(|(i, v)| convert_at(v, &item.kind, &format!("{path}[{i}]")))
                .collect::<Result<_, _>>()
                .map(Value::List),
            other => Err(fail(path, &other, "a list")),
        },
        TypeKind::Tuple(items) => match value {
            Value::List(values) | Value::Tuple(values) if values.len() == items.len() => values
                .into_iter()
                .zip(items)
                .enumerate()
                .map(|(i, (v, t))| convert_at(v, &t.kind, &format!("{path}[{i}]")))
                .collect::<Result<_, _>>()
                .map(Value::Tuple),
            Value::List(values) | Value::Tuple(values) => Err(ConvertError {
                path: path.to_string(),
                message: format!("expected a tuple of {} elements, found {}", items.len(), values.len()),
            }),
            other => Err(fail(path, &other, "a tuple")),
        },
        TypeKind::Struct => match value {
            Value::Struct(_) => Ok(value),
            other => Err(fail(path, &other, "a struct")),
        },
        TypeKind::Map(item) => match (value, item) {
            (Value::Struct(fields), Some(item)) => fields
                .into_iter()
                .map(|(k, v)| {
                    let p = format!("{path}.{k}");
                    convert_at(v, &item.kind, &p).map(|v| (k, v))
                })
                .collect::<Result<_, _>>()
                .map(Value::Struct),
            (v @ Value::Struct(_), None) => Ok(v),
            (other, _) => Err(fail(path, &other, "a map")),
        },
        TypeKind::Union(members) => {
            let mut ordered: Vec<&UserType> = members.iter().filter(|m| m.kind != TypeKind::Null).collect();
            ordered.extend(members.iter().filter(|m| m.kind == TypeKind::Null));
            // An exact fit first, then a member of the same family (a number for a number),
            // and only then a conversion such as number → string.
            let same_family = |m: &&&UserType| {
                let numeric = |k: &TypeKind| {
                    matches!(k, TypeKind::Byte | TypeKind::Short | TypeKind::Int | TypeKind::Long | TypeKind::Float | TypeKind::Double)
                };
                (value.as_f64().is_some() && numeric(&m.kind))
                    || matches!((&value, &m.kind), (Value::List(_), TypeKind::Tuple(_)) | (Value::Tuple(_), TypeKind::List(_)))
            };
            let candidate = ordered.iter().find(|m| fits(&value, &m.kind)).or_else(|| ordered.iter().find(same_family));
            if let Some(m) = candidate
                && let Ok(v) = convert_at(value.clone(), &m.kind, path)
            {
                return Ok(v);
            }
            for member in ordered {
                if let Ok(v) = convert_at(value.clone(), &member.kind, path) {
                    return Ok(v);
                }
            }
            Err(fail(path, &value, "any member of the union"))
        }
        TypeKind::Windowed(_) => match value {
            Value::Struct(_) => Ok(value),
            other => Err(fail(path, &other, "a windowed key")),
        },
    }
}

/// Whether a value already has the type (no conversion needed).
fn fits(value: &Value, kind: &TypeKind) -> bool {
    matches!(
        (value, kind),
        (_, TypeKind::Any)
            | (Value::Bool(_), TypeKind::Boolean)
            | (Value::Byte(_), TypeKind::Byte)
            | (Value::Short(_), TypeKind::Short)
            | (Value::Int(_), TypeKind::Int)
            | (Value::Long(_), TypeKind::Long)
            | (Value::Float(_), TypeKind::Float)
            | (Value::Double(_), TypeKind::Double)
            | (Value::String(_), TypeKind::String)
            | (Value::Bytes(_), TypeKind::Bytes)
            | (Value::List(_), TypeKind::List(_))
            | (Value::Struct(_), TypeKind::Struct | TypeKind::Map(_) | TypeKind::Schema(_) | TypeKind::NotationDefault)
            | (Value::Tuple(_), TypeKind::Tuple(_))
            | (Value::Enum(_), TypeKind::Enum(_))
    )
}

fn integer(value: Value, path: &str, target: &str, make: impl Fn(i64) -> Option<Value>) -> Result<Value, ConvertError> {
    let n = match &value {
        Value::String(s) => s.trim().parse::<i64>().ok(),
        Value::Float(_) | Value::Double(_) => value.as_f64().filter(|x| x.fract() == 0.0 && x.abs() < 9.2e18).map(|x| x as i64),
        _ => value.as_i64(),
    };
    let Some(n) = n else { return Err(fail(path, &value, target)) };
    make(n).ok_or_else(|| ConvertError { path: path.to_string(), message: format!("{n} is out of range for {target}") })
}

fn float(value: Value, path: &str, target: &str, make: impl Fn(f64) -> Option<Value>) -> Result<Value, ConvertError> {
    let x = match &value {
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => value.as_f64(),
    };
    let Some(x) = x else { return Err(fail(path, &value, target)) };
    make(x).ok_or_else(|| ConvertError { path: path.to_string(), message: format!("{x} is out of range for {target}") })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ty(text: &str) -> UserType {
        weir_dsl::types::parse_user_type(text, &[]).expect("type")
    }

    #[test]
    fn numbers_convert_with_range_checks() {
        assert_eq!(convert(Value::Long(5), &ty("int")), Ok(Value::Int(5)));
        assert_eq!(convert(Value::String("42".into()), &ty("long")), Ok(Value::Long(42)));
        assert_eq!(convert(Value::Double(3.0), &ty("short")), Ok(Value::Short(3)));
        let e = convert(Value::Long(300), &ty("byte")).expect_err("out of range");
        assert_eq!(e.message, "300 is out of range for byte");
        assert!(convert(Value::Double(1.5), &ty("int")).is_err());
    }

    #[test]
    fn tuples_lists_and_unions() {
        let pair = Value::List(vec![Value::String("k".into()), Value::Long(1)]);
        assert_eq!(convert(pair, &ty("(string, int)")), Ok(Value::Tuple(vec![Value::String("k".into()), Value::Int(1)])));
        let e = convert(Value::Tuple(vec![Value::Null]), &ty("(string, int)")).expect_err("arity");
        assert_eq!(e.message, "expected a tuple of 2 elements, found 1");
        assert_eq!(convert(Value::Long(7), &ty("union(string, int)")), Ok(Value::Int(7)));
        assert_eq!(convert(Value::Bool(true), &ty("union(int, string)")), Ok(Value::String("true".into())));
        let nested = Value::List(vec![Value::List(vec![Value::Long(1)]), Value::String("x".into())]);
        let e = convert(nested, &ty("[[int]]")).expect_err("nested");
        assert_eq!(e.path, "$[1]");
    }

    #[test]
    fn null_stays_null_and_strings_take_any_value() {
        assert_eq!(convert(Value::Null, &ty("int")), Ok(Value::Null));
        let s = Value::Struct(IndexMap::from([("a".to_string(), Value::Long(1))]));
        assert_eq!(convert(s, &ty("string")), Ok(Value::String("{a: 1}".into())));
        assert_eq!(convert(Value::String("B".into()), &ty("enum(A, B)")), Ok(Value::Enum("B".into())));
    }
}
