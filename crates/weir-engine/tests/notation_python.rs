//! Interop with Python's `json` module (what KSML users' functions and tools speak): what we
//! write, Python reads as the same document, and what Python writes, we read.

mod notation_support;

use std::io::Write;
use std::process::{Command, Stdio};

use notation_support::{Rng, json_normal, same, ty};
use weir_engine::Value;
use weir_engine::notation::{Codec, Notations, Target};

/// Runs a Python snippet with `input` on stdin and returns its stdout.
fn python(code: &str, input: &[u8]) -> Vec<u8> {
    notation_support::run_python(std::path::Path::new("python3"), code, input)
}

fn json() -> std::sync::Arc<dyn Codec> {
    Notations::builtin().codec(&ty("json"), &Target::default()).expect("json codec")
}

/// Documents, one per line, read by Python and written back in its own style (with
/// `ensure_ascii` both ways, sorted keys on some): we must read back what we wrote.
#[test]
fn python_reads_what_we_write() {
    let mut rng = Rng::new(0x5eed_0100);
    let values: Vec<Value> = (0..300).map(|_| Value::List(vec![rng.value(5, true)])).collect();
    let mut input = Vec::new();
    for v in &values {
        input.extend(json().encode(v).expect("encode").expect("bytes"));
        input.push(b'\n');
    }
    let code = r#"
import json, sys
for i, line in enumerate(sys.stdin.buffer.read().split(b'\n')[:-1]):
    doc = json.loads(line.decode('utf-8'))
    sys.stdout.write(json.dumps(doc, ensure_ascii=(i % 2 == 0), indent=(2 if i % 3 == 0 else None)).replace('\n', ' ') + '\n')
"#;
    let out = python(code, &input);
    let lines: Vec<&[u8]> = out.split(|b| *b == b'\n').filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), values.len());
    for (line, v) in lines.iter().zip(&values) {
        let back = json().decode(Some(line)).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(line)));
        assert!(same(&back, &json_normal(v)), "{v:?} came back from Python as {back:?}");
    }
}

/// Python writes its own documents (escapes, surrogate pairs, big and small numbers); we read
/// them as Python itself does, compared through a canonical text that Python prints.
#[test]
fn we_read_what_python_writes() {
    let code = r#"
import json, sys
docs = [
    {"name": "caf\u00e9", "emoji": "\U0001F600", "ctl": "\x00\x1f\"\\/", "n": None, "t": True, "f": False},
    [0, -1, 2**63 - 1, -2**63, 2**64, 2**70, 1.5, -0.0, 1e308, 5e-324, 0.1, 123456789.125, 1e16],
    {"nested": {"a": [{"b": [[], {}]}]}, "z": 1, "a": 2},
    {"k%d" % i: i * 1.25 for i in range(30)},
]
for doc in docs:
    for ascii in (True, False):
        print(json.dumps(doc, ensure_ascii=ascii))
"#;
    let out = python(code, b"");
    let lines: Vec<&[u8]> = out.split(|b| *b == b'\n').filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 8);
    let mut ours = Vec::new();
    for line in &lines {
        let v = json().decode(Some(line)).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(line)));
        ours.extend(json().encode(&v).expect("encode").expect("bytes"));
        ours.push(b'\n');
    }
    // Python compares its documents with ours after our decode → encode: equal as Python
    // values (types included: ints stay ints, floats floats; 2**64 is a float for us).
    let check = r#"
import json, sys
ours = [json.loads(l) for l in sys.stdin.read().splitlines()]
docs = [json.loads(l) for l in sys.argv[1].splitlines()]
def norm(x):
    if isinstance(x, bool) or x is None or isinstance(x, str): return x
    if isinstance(x, int): return x if -2**63 <= x < 2**63 else ('f', float(x).hex())
    if isinstance(x, float): return ('f', x.hex())
    if isinstance(x, list): return [norm(i) for i in x]
    return [(k, norm(v)) for k, v in x.items()]
def typed(x):
    if isinstance(x, float): return ('f', x.hex())
    if isinstance(x, list): return [typed(i) for i in x]
    if isinstance(x, dict): return [(k, typed(v)) for k, v in x.items()]
    return x
for a, b in zip(ours, docs):
    assert typed(a) == norm(b), (a, b)
print(len(ours))
"#;
    let docs = String::from_utf8(out.clone()).expect("utf-8");
    let mut child = Command::new("python3")
        .args(["-c", check, &docs])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    child.stdin.take().expect("stdin").write_all(&ours).expect("write");
    let result = child.wait_with_output().expect("python3 finishes");
    assert!(result.status.success(), "Python sees a difference: {}", String::from_utf8_lossy(&result.stderr));
    assert_eq!(String::from_utf8_lossy(&result.stdout).trim(), "8");

    // And a few exact values on our side.
    let first = json().decode(Some(lines[0])).expect("first");
    let Value::Struct(fields) = first else { panic!("struct") };
    assert_eq!(fields["emoji"], Value::String("😀".into()));
    assert_eq!(fields["ctl"], Value::String("\u{0}\u{1f}\"\\/".into()));
    let Value::List(numbers) = json().decode(Some(lines[2])).expect("numbers") else { panic!("list") };
    assert_eq!(numbers[2], Value::Long(i64::MAX));
    assert_eq!(numbers[4], Value::Double(18446744073709551616.0));
    assert!(matches!(numbers[7], Value::Double(x) if x == 0.0 && x.is_sign_negative()));
    assert_eq!(numbers[10], Value::Double(0.1));
}
