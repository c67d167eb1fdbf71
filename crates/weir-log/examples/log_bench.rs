//! Embedded log throughput: 1M records of 170 bytes on disk, appended in batches of 500 and
//! read back, against the same records written and read with plain buffered `std::fs` I/O in
//! the same run (the ratio is the log's overhead: framing, CRC, index, locking, decoding).
//!
//! Run: `cargo run --release -p weir-log --example log_bench`. Prints figures only.

use std::error::Error;
use std::fs::{self, File};
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use weir_log::{FrameSize, Log, NewRecord, TopicConfig};

const RECORDS: usize = 1_000_000;
const BATCH: usize = 500;

fn records() -> Vec<NewRecord> {
    (0..RECORDS)
        .map(|i| {
            let key = format!("key-{i:08}").into_bytes(); // 12 bytes
            let mut value = format!("{{\"id\":{i},\"name\":\"sensor\",\"payload\":\"").into_bytes();
            value.resize(119, b'x');
            value.extend_from_slice(b"\"}");
            NewRecord { timestamp: 1_700_000_000_000 + i as i64, key: Some(key), value: Some(value), headers: Vec::new() }
        })
        .collect()
}

fn line(what: &str, records: usize, bytes: u64, took: Duration) {
    let s = took.as_secs_f64();
    println!("{what:<28} {:>10.0} records/s {:>8.1} MB/s  ({:.3} s)", records as f64 / s, bytes as f64 / s / 1e6, s);
}

fn baseline(dir: &Path, recs: &[NewRecord]) -> Result<(Duration, Duration, Duration, u64), Box<dyn Error>> {
    let path = dir.join("plain.bin");
    let start = Instant::now();
    let mut w = BufWriter::with_capacity(1 << 20, File::create(&path)?);
    for r in recs {
        for part in [r.key.as_deref().unwrap_or_default(), r.value.as_deref().unwrap_or_default()] {
            w.write_all(&(part.len() as u32).to_le_bytes())?;
            w.write_all(part)?;
        }
    }
    let file = w.into_inner().map_err(|e| e.into_error())?;
    let write = start.elapsed();
    file.sync_all()?;
    let sync = start.elapsed() - write;
    let bytes = fs::metadata(&path)?.len();

    let start = Instant::now();
    let mut r = BufReader::with_capacity(1 << 20, File::open(&path)?);
    let mut n = 0;
    let mut len = [0u8; 4];
    while r.read_exact(&mut len).is_ok() {
        let mut key = vec![0u8; u32::from_le_bytes(len) as usize];
        r.read_exact(&mut key)?;
        r.read_exact(&mut len)?;
        let mut value = vec![0u8; u32::from_le_bytes(len) as usize];
        r.read_exact(&mut value)?;
        std::hint::black_box((key, value));
        n += 1;
    }
    if n != recs.len() {
        return Err(format!("plain read {n} records, not {}", recs.len()).into());
    }
    Ok((write, sync, start.elapsed(), bytes))
}

fn main() -> Result<(), Box<dyn Error>> {
    let dir = std::env::temp_dir().join(format!("weir-log-bench-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir)?;
    let recs = records();
    println!("{} records of {} bytes on disk, batches of {BATCH}, in {}", RECORDS, recs[0].size_bytes(), dir.display());

    let (log_append, log_sync, log_read, log_bytes) = {
        let (log, _) = Log::open(dir.join("log"))?;
        log.create_topic("bench", TopicConfig { retention_ms: None, ..TopicConfig::default() })?;
        let start = Instant::now();
        for batch in recs.chunks(BATCH) {
            log.append("bench", 0, batch)?;
        }
        let append = start.elapsed();
        log.sync()?;
        let sync = start.elapsed() - append;
        let bytes: u64 = log.segments("bench", 0)?.iter().map(|s| s.size_bytes).sum();

        let start = Instant::now();
        let mut next = 0;
        let mut n = 0;
        loop {
            let batch = log.read("bench", 0, next, 1 << 20)?;
            let Some(last) = batch.last() else { break };
            next = last.offset + 1;
            n += batch.len();
            std::hint::black_box(batch);
        }
        if n != RECORDS {
            return Err(format!("log read {n} records, not {RECORDS}").into());
        }
        (append, sync, start.elapsed(), bytes)
    };
    let (plain_write, plain_sync, plain_read, plain_bytes) = baseline(&dir, &recs)?;

    line("log append (to the OS)", RECORDS, log_bytes, log_append);
    line("plain buffered write", RECORDS, plain_bytes, plain_write);
    line("log read (decoded)", RECORDS, log_bytes, log_read);
    line("plain buffered read", RECORDS, plain_bytes, plain_read);
    println!("fsync after writing: log {:.3} s, plain {:.3} s", log_sync.as_secs_f64(), plain_sync.as_secs_f64());
    println!(
        "ratio log/plain (records/s): append {:.2}, read {:.2}",
        plain_write.as_secs_f64() / log_append.as_secs_f64(),
        plain_read.as_secs_f64() / log_read.as_secs_f64()
    );
    fs::remove_dir_all(&dir)?;
    Ok(())
}
