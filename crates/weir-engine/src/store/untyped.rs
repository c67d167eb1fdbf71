//! The bytes of a store key or value whose type is `any` (a store that declares no
//! `keyType`/`valueType`, or declares `any`): self-describing, so a value comes back as
//! what was put. A function that puts a dict into an untyped store gets a dict back, not
//! the JSON bytes the `binary` notation would write for it (which has nothing to decode
//! them by, see [`crate::notation::binary`]).
//!
//! Layout: one tag byte naming the value's type, then its payload. At the top level the
//! payload is the primitive's own layout and takes the rest of the bytes (a string is its
//! UTF-8, a long 8 bytes big-endian, ...), so string keys order as their text, as they
//! would with a `string` key type. Inside a list, tuple or struct each item is tagged too
//! and every variable-length part has a 4-byte big-endian length first.
//!
//! Only Weir reads these bytes (the store and its changelog); a topic's `any` values keep
//! the `binary` notation's layout.

use indexmap::IndexMap;

use crate::notation::{Codec, CodecError, Direction};
use crate::value::Value;

const NULL: u8 = 0;
const BOOL: u8 = 1;
const BYTE: u8 = 2;
const SHORT: u8 = 3;
const INT: u8 = 4;
const LONG: u8 = 5;
const FLOAT: u8 = 6;
const DOUBLE: u8 = 7;
const STRING: u8 = 8;
const BYTES: u8 = 9;
const LIST: u8 = 10;
const STRUCT: u8 = 11;
const TUPLE: u8 = 12;
const ENUM: u8 = 13;

/// Deeper nesting than this is refused on both sides (hostile or corrupt bytes must not
/// exhaust the stack).
const MAX_DEPTH: usize = 128;

/// The codec of a store's `any` key or value type.
#[derive(Debug, Default)]
pub struct UntypedCodec;

impl Codec for UntypedCodec {
    fn decode(&self, bytes: Option<&[u8]>) -> Result<Value, CodecError> {
        let Some(bytes) = bytes else { return Ok(Value::Null) };
        let (&tag, rest) =
            bytes.split_first().ok_or_else(|| fail(Direction::Decode, "no bytes (an untyped store value has a type tag)"))?;
        let mut reader = Reader { bytes: rest, at: 0 };
        let value = match tag {
            STRING => Value::String(reader.text(rest.len())?),
            BYTES => Value::Bytes(reader.take(rest.len())?.to_vec()),
            ENUM => Value::Enum(reader.text(rest.len())?),
            _ => reader.value_after(tag, 0)?,
        };
        if reader.at != rest.len() {
            return Err(fail(Direction::Decode, format!("{} bytes left over after the value", rest.len() - reader.at)));
        }
        Ok(value)
    }

    fn encode(&self, value: &Value) -> Result<Option<Vec<u8>>, CodecError> {
        let mut out = Vec::new();
        match value {
            Value::Null => return Ok(None),
            Value::String(s) => {
                out.push(STRING);
                out.extend_from_slice(s.as_bytes());
            }
            Value::Bytes(b) => {
                out.push(BYTES);
                out.extend_from_slice(b);
            }
            Value::Enum(s) => {
                out.push(ENUM);
                out.extend_from_slice(s.as_bytes());
            }
            other => write(&mut out, other, 0)?,
        }
        Ok(Some(out))
    }
}

/// Reported as the `binary` notation's (the notation of a type without one) reading or
/// writing `any`.
fn fail(direction: Direction, message: impl Into<String>) -> CodecError {
    match direction {
        Direction::Decode => CodecError::decode("binary", "an untyped store value", message),
        Direction::Encode => CodecError::encode("binary", "an untyped store value", message),
    }
}

fn length(out: &mut Vec<u8>, n: usize) -> Result<(), CodecError> {
    let n = u32::try_from(n).map_err(|_| fail(Direction::Encode, "a part longer than 4 GiB"))?;
    out.extend_from_slice(&n.to_be_bytes());
    Ok(())
}

/// Writes a tagged value; strings, bytes and enums with their length (nested form).
fn write(out: &mut Vec<u8>, value: &Value, depth: usize) -> Result<(), CodecError> {
    if depth > MAX_DEPTH {
        return Err(fail(Direction::Encode, format!("nested deeper than {MAX_DEPTH} levels")));
    }
    let items = |out: &mut Vec<u8>, tag: u8, items: &[Value]| -> Result<(), CodecError> {
        out.push(tag);
        length(out, items.len())?;
        items.iter().try_for_each(|item| write(out, item, depth + 1))
    };
    match value {
        Value::Null => out.push(NULL),
        Value::Bool(b) => out.extend_from_slice(&[BOOL, u8::from(*b)]),
        Value::Byte(b) => out.extend_from_slice(&[BYTE, b.to_be_bytes()[0]]),
        Value::Short(n) => {
            out.push(SHORT);
            out.extend_from_slice(&n.to_be_bytes());
        }
        Value::Int(n) => {
            out.push(INT);
            out.extend_from_slice(&n.to_be_bytes());
        }
        Value::Long(n) => {
            out.push(LONG);
            out.extend_from_slice(&n.to_be_bytes());
        }
        Value::Float(f) => {
            out.push(FLOAT);
            out.extend_from_slice(&f.to_bits().to_be_bytes());
        }
        Value::Double(f) => {
            out.push(DOUBLE);
            out.extend_from_slice(&f.to_bits().to_be_bytes());
        }
        Value::String(s) | Value::Enum(s) => {
            out.push(if matches!(value, Value::String(_)) { STRING } else { ENUM });
            length(out, s.len())?;
            out.extend_from_slice(s.as_bytes());
        }
        Value::Bytes(b) => {
            out.push(BYTES);
            length(out, b.len())?;
            out.extend_from_slice(b);
        }
        Value::List(list) => items(out, LIST, list)?,
        Value::Tuple(tuple) => items(out, TUPLE, tuple)?,
        Value::Struct(fields) => {
            out.push(STRUCT);
            length(out, fields.len())?;
            for (name, field) in fields {
                length(out, name.len())?;
                out.extend_from_slice(name.as_bytes());
                write(out, field, depth + 1)?;
            }
        }
    }
    Ok(())
}

struct Reader<'b> {
    bytes: &'b [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], CodecError> {
        let end = self.at.checked_add(n).filter(|&end| end <= self.bytes.len()).ok_or_else(|| {
            fail(
                Direction::Decode,
                format!("cut short: {n} more bytes needed at byte {}, {} left", self.at + 1, self.bytes.len() - self.at),
            )
        })?;
        let part = &self.bytes[self.at..end];
        self.at = end;
        Ok(part)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], CodecError> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn length(&mut self) -> Result<usize, CodecError> {
        let n = u32::from_be_bytes(self.array()?) as usize;
        // Every item takes at least one byte: a count beyond what is left is corrupt.
        if n > self.bytes.len() - self.at {
            return Err(fail(
                Direction::Decode,
                format!("a length of {n} at byte {} is more than the {} bytes left", self.at, self.bytes.len() - self.at),
            ));
        }
        Ok(n)
    }

    fn text(&mut self, n: usize) -> Result<String, CodecError> {
        let at = self.at;
        String::from_utf8(self.take(n)?.to_vec()).map_err(|_| fail(Direction::Decode, format!("text at byte {} is not UTF-8", at + 1)))
    }

    /// A nested (length-prefixed) value.
    fn value(&mut self, depth: usize) -> Result<Value, CodecError> {
        let [tag] = self.array()?;
        match tag {
            STRING => {
                let n = self.length()?;
                Ok(Value::String(self.text(n)?))
            }
            ENUM => {
                let n = self.length()?;
                Ok(Value::Enum(self.text(n)?))
            }
            BYTES => {
                let n = self.length()?;
                Ok(Value::Bytes(self.take(n)?.to_vec()))
            }
            _ => self.value_after(tag, depth),
        }
    }

    /// The value of a tag whose payload is the same nested or not.
    fn value_after(&mut self, tag: u8, depth: usize) -> Result<Value, CodecError> {
        if depth > MAX_DEPTH {
            return Err(fail(Direction::Decode, format!("nested deeper than {MAX_DEPTH} levels")));
        }
        Ok(match tag {
            NULL => Value::Null,
            BOOL => match self.array()? {
                [0] => Value::Bool(false),
                [1] => Value::Bool(true),
                [b] => return Err(fail(Direction::Decode, format!("a boolean byte must be 0 or 1, got {b}"))),
            },
            BYTE => Value::Byte(i8::from_be_bytes(self.array()?)),
            SHORT => Value::Short(i16::from_be_bytes(self.array()?)),
            INT => Value::Int(i32::from_be_bytes(self.array()?)),
            LONG => Value::Long(i64::from_be_bytes(self.array()?)),
            FLOAT => Value::Float(f32::from_bits(u32::from_be_bytes(self.array()?))),
            DOUBLE => Value::Double(f64::from_bits(u64::from_be_bytes(self.array()?))),
            LIST | TUPLE => {
                let n = self.length()?;
                let items = (0..n).map(|_| self.value(depth + 1)).collect::<Result<Vec<_>, _>>()?;
                if tag == LIST { Value::List(items) } else { Value::Tuple(items) }
            }
            STRUCT => {
                let n = self.length()?;
                let mut fields = IndexMap::with_capacity(n);
                for _ in 0..n {
                    let len = self.length()?;
                    let name = self.text(len)?;
                    fields.insert(name, self.value(depth + 1)?);
                }
                Value::Struct(fields)
            }
            other => return Err(fail(Direction::Decode, format!("unknown type tag {other}"))),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(v: Value) {
        let bytes = UntypedCodec.encode(&v).expect("encode");
        assert_eq!(UntypedCodec.decode(bytes.as_deref()).expect("decode"), v, "{bytes:?}");
    }

    #[test]
    fn every_kind_comes_back_as_it_was_put() {
        let s = |t: &str| Value::String(t.to_string());
        for v in [
            Value::Null,
            Value::Bool(true),
            Value::Byte(-3),
            Value::Short(-300),
            Value::Int(7),
            Value::Long(-1),
            Value::Float(1.5),
            Value::Double(-2.25),
            s(""),
            s("naïve"),
            Value::Bytes(vec![0, 255]),
            Value::Enum("A".into()),
            Value::List(vec![s("a"), Value::Null, Value::Bytes(vec![]), Value::List(vec![])]),
            Value::Tuple(vec![Value::Int(1), s("x")]),
            Value::Struct(IndexMap::from([
                ("b".to_string(), Value::Long(2)),
                ("a".to_string(), Value::Struct(IndexMap::from([("n".to_string(), Value::Enum("E".into()))]))),
            ])),
        ] {
            round_trip(v);
        }
    }

    #[test]
    fn string_keys_order_as_their_text() {
        let enc = |t: &str| UntypedCodec.encode(&Value::String(t.to_string())).expect("encode");
        assert!(enc("aa") < enc("b") && enc("a") < enc("aa"));
    }

    #[test]
    fn corrupt_bytes_are_errors_not_panics() {
        let mut rng = 0x9e37_79b9_7f4a_7c15_u64;
        let sample = UntypedCodec
            .encode(&Value::Struct(IndexMap::from([("k".to_string(), Value::List(vec![Value::Int(1), Value::String("x".into())]))])))
            .expect("encode")
            .expect("bytes");
        for _ in 0..20_000 {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let mut bytes = sample.clone();
            let i = (rng % bytes.len() as u64) as usize;
            bytes[i] = (rng >> 32) as u8;
            bytes.truncate(((rng >> 8) % (bytes.len() as u64 + 1)) as usize);
            let _ = UntypedCodec.decode(Some(&bytes));
        }
        assert!(UntypedCodec.decode(Some(&[STRUCT, 0xff, 0xff, 0xff, 0xff])).is_err());
        assert!(UntypedCodec.decode(Some(&[99])).is_err());
        assert!(UntypedCodec.decode(Some(&[])).is_err());
        let deep = std::iter::repeat_n([LIST, 0, 0, 0, 1], 10_000).flatten().collect::<Vec<u8>>();
        assert!(UntypedCodec.decode(Some(&deep)).is_err());
    }
}
