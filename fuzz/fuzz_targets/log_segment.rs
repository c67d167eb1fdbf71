//! The embedded log's recovery and reader on damaged files: a small log is written once (two
//! topics, records with keys, headers and nulls, a committed offset), then for each input its
//! segment, topic metadata or offsets file is replaced by, or overwritten with, the fuzzer's
//! bytes. Opening the log must detect the damage (recover, cut a torn tail, or refuse with an
//! error) and reading must return records or an error: never panic, never loop.
#![no_main]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use weir_log::{Log, NewRecord, TopicConfig};

fn template() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("weir-fuzz-log-template-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (log, _) = Log::open(&dir).expect("open template log");
        log.create_topic("orders", TopicConfig { partitions: 2, ..TopicConfig::default() }).expect("create");
        let records: Vec<NewRecord> = (0..20)
            .map(|i| NewRecord {
                timestamp: 1_700_000_000_000 + i,
                key: (i % 3 != 0).then(|| format!("k{i}").into_bytes()),
                value: (i % 5 != 0).then(|| format!("{{\"n\": {i}}}").into_bytes()),
                headers: vec![("h".into(), vec![i as u8])],
            })
            .collect();
        log.append("orders", 0, &records).expect("append");
        log.append("orders", 1, &records[..5]).expect("append");
        log.commit("app", &[("orders", 0, 7)]).expect("commit");
        log.sync().expect("sync");
        drop(log);
        dir
    })
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir").flatten() {
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else if entry.file_name() != ".lock" {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read_dir").flatten() {
        if entry.file_type().expect("type").is_dir() {
            files(&entry.path(), out);
        } else if entry.file_name() != ".lock" {
            out.push(entry.path());
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&how, rest)) = data.split_first() else { return };
    let dir = std::env::temp_dir().join(format!("weir-fuzz-log-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    copy_dir(template(), &dir);
    let mut all = Vec::new();
    files(&dir, &mut all);
    all.sort();
    let file = &all[(how & 0x0f) as usize % all.len()];
    let mut bytes = std::fs::read(file).expect("read");
    if how & 0x10 == 0 {
        bytes = rest.to_vec(); // the whole file replaced
    } else if !bytes.is_empty() {
        // Overwritten in place from an offset the input chooses, possibly past the end.
        let at = rest.first().map_or(0, |&b| b as usize * bytes.len() / 256);
        let patch = rest.get(1..).unwrap_or(&[]);
        let end = (at + patch.len()).max(bytes.len());
        bytes.resize(end, 0);
        bytes[at..at + patch.len()].copy_from_slice(patch);
    }
    std::fs::write(file, &bytes).expect("write");
    if let Ok((log, _events)) = Log::open(&dir) {
        for topic in log.topics() {
            for partition in 0..2 {
                let mut from = log.start_offset(&topic, partition).unwrap_or(0);
                let end = log.end_offset(&topic, partition).unwrap_or(0);
                while from < end {
                    match log.read(&topic, partition, from, 4096) {
                        Ok(records) if !records.is_empty() => from = records.last().map_or(end, |r| r.offset + 1),
                        _ => break,
                    }
                }
            }
        }
        let _ = log.committed_all("app");
    }
});
