//! The front end never panics, whatever the input: mutations of every KSML example
//! (flipped, deleted and inserted bytes, YAML-significant characters, truncations) and
//! random bytes all come back as diagnostics. Deterministic: a fixed-seed xorshift PRNG.

use std::path::{Path, PathBuf};

use weir_dsl::{parse_definition, runner::parse_runner_config, source_text};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const SPECIAL: &[u8] = b" :-[]{}|>&*!%@#'\"\n\t,?~";

fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..1 + rng.below(8) {
        let at = rng.below(out.len() + 1);
        match rng.below(6) {
            0 if at < out.len() => out[at] = rng.next() as u8,
            1 if at < out.len() => {
                out.remove(at);
            }
            2 => out.insert(at, SPECIAL[rng.below(SPECIAL.len())]),
            3 => out.truncate(at),
            4 if at < out.len() => {
                // Duplicate a line: produces duplicate keys and odd indentation.
                let start = out[..at].iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
                let end = out[at..].iter().position(|&b| b == b'\n').map_or(out.len(), |p| at + p + 1);
                let line = out[start..end].to_vec();
                out.splice(start..start, line);
            }
            _ => out.insert(at, b' '),
        }
    }
    out
}

fn feed(name: &str, bytes: Vec<u8>) {
    if let Ok(text) = source_text(name, bytes) {
        let _ = parse_definition(name, "fuzz", &text, &[]);
        let _ = parse_runner_config(name, &text);
    }
}

fn examples() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "yaml") {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/ksml"), &mut out);
    walk(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests"), &mut out);
    out.sort();
    out
}

#[test]
fn mutated_examples_never_panic() {
    let files = examples();
    assert!(files.len() > 200);
    let mut rng = Rng(0x5eed_cafe_f00d_beef);
    for file in files {
        let bytes = std::fs::read(&file).expect("read example");
        for _ in 0..40 {
            feed(&file.display().to_string(), mutate(&mut rng, &bytes));
        }
    }
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng(42);
    for _ in 0..3000 {
        let len = rng.below(300);
        let bytes: Vec<u8> =
            (0..len).map(|_| if rng.below(3) == 0 { SPECIAL[rng.below(SPECIAL.len())] } else { b'a' + (rng.below(26) as u8) }).collect();
        feed("random.yaml", bytes);
    }
}
