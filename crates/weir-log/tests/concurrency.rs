//! Sharing: the directory lock, committed offsets, `wait_for`, and threads appending, reading
//! and compacting at once.
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use support::{TempDir, read_all};
use weir_log::{CleanupPolicy, Log, LogError, NewRecord, TopicConfig};

#[test]
fn a_second_open_of_the_same_directory_is_refused_until_the_first_closes() {
    let dir = TempDir::new("lock");
    let (log, _) = Log::open(dir.path()).unwrap();
    let err = Log::open(dir.path()).unwrap_err();
    assert!(matches!(err, LogError::Locked { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains(&dir.path().display().to_string()) && msg.contains(&format!("process {}", std::process::id())), "{msg}");
    drop(log);
    // The lock file stays behind, as after a crash; it does not block.
    assert!(dir.path().join(".lock").exists());
    let (_log, _) = Log::open(dir.path()).unwrap();
}

#[test]
fn commits_merge_and_survive_reopen() {
    let dir = TempDir::new("commit");
    {
        let (log, _) = Log::open(dir.path()).unwrap();
        log.create_topic("a", TopicConfig::with_partitions(3)).unwrap();
        log.create_topic("b", TopicConfig::default()).unwrap();
        log.commit("app", &[("a", 0, 5), ("a", 2, 7)]).unwrap();
        log.commit("app", &[("a", 0, 6), ("b", 0, 1)]).unwrap();
        log.commit("other.app/x", &[("a", 1, 3)]).unwrap();
        assert_eq!(log.committed("app", "a", 0), Some(6));
        assert_eq!(log.committed("app", "a", 1), None);
        assert!(matches!(log.commit("app", &[("a", 0, 9), ("a", 3, 1)]), Err(LogError::PartitionOutOfRange { .. })));
        assert_eq!(log.committed("app", "a", 0), Some(6), "a refused commit changes nothing");
    }
    let (log, events) = Log::open(dir.path()).unwrap();
    assert!(events.is_empty());
    assert_eq!(log.committed_all("app"), vec![("a".into(), 0, 6), ("a".into(), 2, 7), ("b".into(), 0, 1)]);
    assert_eq!(log.committed("other.app/x", "a", 1), Some(3));
    assert_eq!(log.committed("nobody", "a", 1), None);
    let files: Vec<String> =
        std::fs::read_dir(dir.path().join("groups")).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    assert!(files.iter().all(|f| !f.ends_with(".tmp")), "{files:?}");
}

#[test]
fn wait_for_wakes_on_append_and_times_out_otherwise() {
    let dir = TempDir::new("wait");
    let (log, _) = Log::open(dir.path()).unwrap();
    log.create_topic("t", TopicConfig::with_partitions(2)).unwrap();
    let log = Arc::new(log);

    let start = Instant::now();
    assert!(!log.wait_for("t", 0, 0, Duration::from_millis(150)).unwrap());
    assert!(start.elapsed() >= Duration::from_millis(150));

    let writer = {
        let log = Arc::clone(&log);
        thread::spawn(move || {
            thread::sleep(Duration::from_millis(100));
            // Another partition does not wake the waiter up for good.
            log.append("t", 1, &[NewRecord::new(0, None, Some(b"other"))]).unwrap();
            thread::sleep(Duration::from_millis(50));
            log.append("t", 0, &[NewRecord::new(0, None, Some(b"x"))]).unwrap();
        })
    };
    let start = Instant::now();
    assert!(log.wait_for("t", 0, 0, Duration::from_secs(30)).unwrap());
    let waited = start.elapsed();
    assert!(waited >= Duration::from_millis(140) && waited < Duration::from_secs(10), "{waited:?}");
    writer.join().unwrap();
    // Already there: returns at once.
    assert!(log.wait_for("t", 0, 0, Duration::ZERO).unwrap());
    assert!(!log.wait_for("t", 0, 1, Duration::ZERO).unwrap());
    assert!(matches!(log.wait_for("t", 5, 0, Duration::ZERO), Err(LogError::PartitionOutOfRange { .. })));
}

#[test]
fn threads_append_read_and_compact_at_once() {
    let dir = TempDir::new("threads");
    let (log, _) = Log::open(dir.path()).unwrap();
    let config = TopicConfig { partitions: 3, cleanup_policy: CleanupPolicy::Compact, segment_bytes: 2000, ..TopicConfig::default() };
    log.create_topic("t", config).unwrap();
    let log = Arc::new(log);
    const N: u64 = 3000;
    let mut handles = Vec::new();
    for p in 0..3u32 {
        let writer_log = Arc::clone(&log);
        handles.push(thread::spawn(move || {
            let log = writer_log;
            for i in 0..N / 10 {
                let batch: Vec<NewRecord> = (0..10)
                    .map(|j| {
                        let n = i * 10 + j;
                        NewRecord::new(n as i64, Some(format!("k{}", n % 50).as_bytes()), Some(&n.to_le_bytes()))
                    })
                    .collect();
                log.append("t", p, &batch).unwrap();
            }
        }));
        // A follower per partition sees every offset in order (compaction may remove
        // superseded records, never reorder or invent).
        let reader_log = Arc::clone(&log);
        handles.push(thread::spawn(move || {
            let log = reader_log;
            let mut next = 0;
            let mut last_value = None;
            while next < N {
                if !log.wait_for("t", p, next, Duration::from_secs(30)).unwrap() {
                    panic!("partition {p} stalled at {next}");
                }
                for r in log.read("t", p, next, 4096).unwrap() {
                    assert!(r.offset >= next);
                    let v = u64::from_le_bytes(r.value.unwrap().try_into().unwrap());
                    assert_eq!(v, r.offset, "value is the offset");
                    assert!(last_value.is_none_or(|l| l < v));
                    last_value = Some(v);
                    next = r.offset + 1;
                }
            }
        }));
    }
    let compactor = {
        let log = Arc::clone(&log);
        thread::spawn(move || {
            for _ in 0..20 {
                log.compact("t", 0).unwrap();
                log.sync().unwrap();
                thread::sleep(Duration::from_millis(5));
            }
        })
    };
    for h in handles {
        h.join().unwrap();
    }
    compactor.join().unwrap();
    log.compact("t", 0).unwrap();
    for p in 0..3 {
        assert_eq!(log.end_offset("t", p).unwrap(), N);
        let all = read_all(&log, "t", p);
        // Each of the 50 keys' latest value survives.
        for k in 0..50 {
            let latest = (0..N).rev().find(|n| n % 50 == k).unwrap();
            assert!(all.iter().any(|r| r.offset == latest), "partition {p} key {k}");
        }
    }
}
