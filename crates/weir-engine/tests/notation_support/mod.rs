//! Shared helpers of the notation tests: a fixed-seed PRNG and random values.

#![allow(dead_code)]

use indexmap::IndexMap;
use weir_dsl::types::{UserType, parse_user_type};
use weir_engine::Value;

pub fn ty(text: &str) -> UserType {
    parse_user_type(text, &[]).unwrap_or_else(|e| panic!("type '{text}': {e}"))
}

/// xorshift64*: deterministic, no crates.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }

    pub fn bytes(&mut self, max_len: usize) -> Vec<u8> {
        let len = self.below(max_len + 1);
        (0..len).map(|_| self.next() as u8).collect()
    }

    /// Integers of every magnitude, with the edges often.
    pub fn int(&mut self) -> i64 {
        match self.below(6) {
            0 => [0, 1, -1, i64::MIN, i64::MAX, i32::MIN as i64, i32::MAX as i64][self.below(7)],
            1 => self.next() as i64,
            2 => (self.next() as i64) >> self.below(64),
            _ => self.below(2000) as i64 - 1000,
        }
    }

    /// Any double, NaN and infinities included when `finite` is false.
    pub fn double(&mut self, finite: bool) -> f64 {
        loop {
            let x = match self.below(5) {
                0 => [0.0, -0.0, 1.0, -1.5, 0.1, 1e308, 5e-324, f64::MAX, f64::MIN_POSITIVE, 123456.789][self.below(10)],
                1 => f64::from_bits(self.next()),
                2 => [f64::NAN, f64::INFINITY, f64::NEG_INFINITY][self.below(3)],
                3 => (self.int() as f64) / 1000.0,
                _ => (self.next() as f64 / u64::MAX as f64 - 0.5) * 10f64.powi(self.below(40) as i32 - 20),
            };
            if !finite || x.is_finite() {
                return x;
            }
        }
    }

    pub fn float(&mut self, finite: bool) -> f32 {
        loop {
            let x = if self.chance(3) { f32::from_bits(self.next() as u32) } else { self.double(finite) as f32 };
            if !finite || x.is_finite() {
                return x;
            }
        }
    }

    /// Strings with ASCII, escapes, control characters, multi-byte and astral characters.
    pub fn string(&mut self) -> String {
        let len = self.below(12);
        (0..len)
            .map(|_| match self.below(8) {
                0 => ['"', '\\', '/', '\n', '\t', '\u{0}', '\u{1f}', '\u{7f}'][self.below(8)],
                1 => char::from_u32(0x80 + self.below(0x780) as u32).unwrap_or('?'),
                2 => char::from_u32(0x1F600 + self.below(80) as u32).unwrap_or('?'),
                3 => char::from_u32(self.below(0xD800) as u32).unwrap_or('?'),
                _ => char::from(b'a' + self.below(26) as u8),
            })
            .collect()
    }

    /// Any value of the data model (floats finite when `finite`).
    pub fn value(&mut self, depth: usize, finite: bool) -> Value {
        let leaf = depth == 0 || self.chance(2);
        if leaf {
            match self.below(11) {
                0 => Value::Null,
                1 => Value::Bool(self.chance(2)),
                2 => Value::Byte(self.next() as i8),
                3 => Value::Short(self.next() as i16),
                4 => Value::Int(self.next() as i32),
                5 => Value::Long(self.int()),
                6 => Value::Float(self.float(finite)),
                7 => Value::Double(self.double(finite)),
                8 => Value::Bytes(self.bytes(10)),
                9 => Value::Enum(self.string()),
                _ => Value::String(self.string()),
            }
        } else {
            match self.below(3) {
                0 => Value::List((0..self.below(5)).map(|_| self.value(depth - 1, finite)).collect()),
                1 => Value::Tuple((0..self.below(5)).map(|_| self.value(depth - 1, finite)).collect()),
                _ => self.structure(depth, |rng, d| rng.value(d, finite)),
            }
        }
    }

    /// A value made only of what JSON decodes to: null, boolean, long, double, string,
    /// list, struct.
    pub fn json_value(&mut self, depth: usize) -> Value {
        let leaf = depth == 0 || self.chance(2);
        if leaf {
            match self.below(5) {
                0 => Value::Null,
                1 => Value::Bool(self.chance(2)),
                2 => Value::Long(self.int()),
                3 => Value::Double(self.double(true)),
                _ => Value::String(self.string()),
            }
        } else if self.chance(2) {
            Value::List((0..self.below(5)).map(|_| self.json_value(depth - 1)).collect())
        } else {
            self.structure(depth, |rng, d| rng.json_value(d))
        }
    }

    pub fn structure(&mut self, depth: usize, mut field: impl FnMut(&mut Rng, usize) -> Value) -> Value {
        let mut fields = IndexMap::new();
        for _ in 0..self.below(5) {
            let key = self.string();
            let value = field(self, depth.saturating_sub(1));
            fields.insert(key, value);
        }
        Value::Struct(fields)
    }
}

/// What a value reads back as after being written as JSON (the module doc's table).
pub fn json_normal(value: &Value) -> Value {
    match value {
        Value::Byte(n) => Value::Long((*n).into()),
        Value::Short(n) => Value::Long((*n).into()),
        Value::Int(n) => Value::Long((*n).into()),
        // An f32 can have two shortest texts; the one serde_json writes is what reads back.
        Value::Float(x) => Value::Double(serde_json::to_string(x).expect("f32").parse().expect("f32 text")),
        Value::Bytes(b) => Value::String(weir_engine::notation::json::base64(b)),
        Value::Enum(s) => Value::String(s.clone()),
        Value::List(items) | Value::Tuple(items) => Value::List(items.iter().map(json_normal).collect()),
        Value::Struct(fields) => Value::Struct(fields.iter().map(|(k, v)| (k.clone(), json_normal(v))).collect()),
        other => other.clone(),
    }
}

/// Equality that tells floats apart by their bits (so NaN equals itself and -0.0 differs
/// from 0.0).
pub fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Float(x), Value::Float(y)) => x.to_bits() == y.to_bits(),
        (Value::Double(x), Value::Double(y)) => x.to_bits() == y.to_bits(),
        (Value::List(x), Value::List(y)) | (Value::Tuple(x), Value::Tuple(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Struct(x), Value::Struct(y)) => x.len() == y.len() && x.iter().zip(y).all(|((ka, a), (kb, b))| ka == kb && same(a, b)),
        _ => a == b,
    }
}

/// The Python of `.venv-test` with the reference implementations the interop tests compare
/// with (fastavro, confluent-kafka's serdes, jsonschema, protobuf), installed by
/// `scripts/python-deps.sh` on first use (pinned in `scripts/python-requirements.txt`).
#[allow(dead_code)]
pub fn reference_python() -> std::path::PathBuf {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/python-deps.sh");
    let out = std::process::Command::new("bash").arg(&script).output().expect("run scripts/python-deps.sh");
    assert!(
        out.status.success(),
        "scripts/python-deps.sh could not install the reference Python packages: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    std::path::PathBuf::from(stdout.lines().last().expect("the venv's python").trim())
}

/// Runs `python -c code` with `input` on stdin and returns its stdout; a failure shows
/// Python's stderr. `python` is `python3` or [`reference_python`]'s venv.
#[allow(dead_code)]
pub fn run_python(python: &std::path::Path, code: &str, input: &[u8]) -> Vec<u8> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(python)
        .args(["-c", code])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python runs");
    child.stdin.take().expect("stdin").write_all(input).expect("write to python");
    let out = child.wait_with_output().expect("python finishes");
    assert!(out.status.success(), "python failed: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// Lowercase hex of `bytes`.
#[allow(dead_code)]
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The bytes of a hex string.
#[allow(dead_code)]
pub fn unhex(text: &str) -> Vec<u8> {
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex")).collect()
}

/// A string value.
#[allow(dead_code)]
pub fn s(text: &str) -> Value {
    Value::String(text.to_string())
}

/// A struct with these fields, in order.
#[allow(dead_code)]
pub fn record(fields: &[(&str, Value)]) -> Value {
    Value::Struct(fields.iter().map(|(k, v)| (k.to_string(), v.clone())).collect())
}

/// Where a codec writes: the values of `topic`.
#[allow(dead_code)]
pub fn target(topic: &str) -> weir_engine::notation::Target {
    weir_engine::notation::Target { topic: Some(topic.to_string()), is_key: false }
}

/// A fresh schema directory (in the system's temp directory) holding `files` (name, text).
#[allow(dead_code)]
pub fn schema_dir(files: &[(&str, &str)]) -> std::path::PathBuf {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("weir-notation-test-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    for (name, text) in files {
        std::fs::write(dir.join(name), text).expect("schema file");
    }
    dir
}
