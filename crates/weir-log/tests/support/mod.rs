//! Helpers shared by the `log_*` integration tests: a temporary directory, a deterministic
//! PRNG and record builders. No crates beyond the engine's own.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use weir_log::{Log, NewRecord, StoredRecord};

/// A fresh directory under Cargo's per-target temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicU64 = AtomicU64::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("weir-log-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// xorshift64*: deterministic, no crates.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    /// Random bytes, fewer than `max`.
    pub fn bytes_below(&mut self, max: u64) -> Vec<u8> {
        let n = self.below(max) as usize;
        self.bytes(n)
    }
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// A record with every kind of field, varied by `i`: null keys, tombstones, headers.
pub fn varied_record(i: u64) -> NewRecord {
    NewRecord {
        timestamp: 1_000 + i as i64 * 7 - (i % 3) as i64,
        key: (!i.is_multiple_of(5)).then(|| format!("key-{}", i % 13).into_bytes()),
        value: (i % 7 != 3).then(|| format!("value {i} {}", "x".repeat((i % 40) as usize)).into_bytes()),
        headers: (0..i % 3).map(|h| (format!("h{h}"), vec![h as u8; (i % 4) as usize])).collect(),
    }
}

/// Every record of a partition, read in one go.
pub fn read_all(log: &Log, topic: &str, partition: u32) -> Vec<StoredRecord> {
    let mut out = Vec::new();
    let mut from = 0;
    loop {
        let batch = log.read(topic, partition, from, 64 * 1024).unwrap();
        let Some(last) = batch.last() else { break };
        from = last.offset + 1;
        out.extend(batch);
    }
    out
}

/// Segment files of a partition, sorted.
pub fn segment_files(dir: &Path, topic: &str, partition: u32) -> Vec<PathBuf> {
    let pdir = dir.join("topics").join(topic).join(partition.to_string());
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(pdir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "log")).collect();
    files.sort();
    files
}
