//! Retention and compaction on hand-built logs whose expected result is exact.
#![allow(clippy::unwrap_used)]

mod support;

use support::{TempDir, read_all};
use weir_log::{CleanupPolicy, CleanupStats, FrameSize, Log, NewRecord, TopicConfig};

/// A record of exactly 100 bytes on disk (8 frame + 29 fixed + 3 key + 60 value).
fn rec100(ts: i64, key: &str) -> NewRecord {
    let r = NewRecord::new(ts, Some(key.as_bytes()), Some(&[b'v'; 60]));
    assert_eq!(r.size_bytes(), 100);
    r
}

fn append_each(log: &Log, topic: &str, recs: &[NewRecord]) {
    for r in recs {
        log.append(topic, 0, std::slice::from_ref(r)).unwrap();
    }
}

#[test]
fn delete_before_drops_only_closed_segments_wholly_below_the_offset() {
    let dir = TempDir::new("delete-before");
    let (log, _) = Log::open(dir.path()).unwrap();
    // Never deleted by time: only what a consumer says it no longer needs goes.
    let config = TopicConfig { segment_bytes: 300, retention_ms: None, ..TopicConfig::default() };
    log.create_topic("t", config).unwrap();
    let recs: Vec<NewRecord> = (0..10).map(|ts| rec100(ts, "k00")).collect();
    append_each(&log, "t", &recs);
    assert_eq!(log.segments("t", 0).unwrap().iter().map(|s| s.base_offset).collect::<Vec<_>>(), vec![0, 3, 6, 9]);
    // Offset 5 is inside the second segment: only the first (0..3) is wholly below it.
    assert_eq!(log.delete_before("t", 0, 5).unwrap(), CleanupStats { segments_deleted: 1, records_removed: 3, bytes_freed: 300 });
    assert_eq!(log.start_offset("t", 0).unwrap(), 3);
    assert_eq!(log.delete_before("t", 0, 5).unwrap(), CleanupStats::default());
    // Past the end: every closed segment goes, the active one stays.
    log.delete_before("t", 0, 100).unwrap();
    assert_eq!(log.start_offset("t", 0).unwrap(), 9);
    assert_eq!(read_all(&log, "t", 0), vec![recs[9].at_offset(9)]);
    drop(log);
    let (log, _) = Log::open(dir.path()).unwrap();
    assert_eq!(log.start_offset("t", 0).unwrap(), 9, "the deletion lasts across a reopen");
}

#[test]
fn retention_by_time_deletes_old_closed_segments_only() {
    let dir = TempDir::new("ret-time");
    let (log, _) = Log::open(dir.path()).unwrap();
    let config = TopicConfig { segment_bytes: 300, retention_ms: Some(1000), ..TopicConfig::default() };
    log.create_topic("t", config).unwrap();
    // Segments of 3 records: timestamps 0..3, 10..13, 20..23, 30 (active).
    let recs: Vec<NewRecord> = [0, 1, 2, 10, 11, 12, 20, 21, 22, 30].iter().map(|&ts| rec100(ts, "k00")).collect();
    append_each(&log, "t", &recs);
    assert_eq!(log.segments("t", 0).unwrap().iter().map(|s| s.base_offset).collect::<Vec<_>>(), vec![0, 3, 6, 9]);
    // Newest of the first segment is 2: it goes once now - 1000 > 2.
    assert_eq!(log.enforce_retention(1002).unwrap(), CleanupStats::default());
    let stats = log.enforce_retention(1003).unwrap();
    assert_eq!(stats, CleanupStats { segments_deleted: 1, records_removed: 3, bytes_freed: 300 });
    assert_eq!(log.start_offset("t", 0).unwrap(), 3);
    // Reading below the start reads from it.
    assert_eq!(log.read("t", 0, 0, 1).unwrap()[0].offset, 3);
    // Far in the future everything but the active segment goes.
    log.enforce_retention(1_000_000).unwrap();
    assert_eq!(log.start_offset("t", 0).unwrap(), 9);
    assert_eq!(read_all(&log, "t", 0), vec![recs[9].at_offset(9)]);
    assert_eq!(log.end_offset("t", 0).unwrap(), 10);
    drop(log);
    let (log, _) = Log::open(dir.path()).unwrap();
    assert_eq!(log.start_offset("t", 0).unwrap(), 9);
    assert_eq!(log.append("t", 0, &[rec100(40, "k00")]).unwrap(), 10);
}

#[test]
fn retention_by_bytes_keeps_at_least_the_limit() {
    let dir = TempDir::new("ret-bytes");
    let (log, _) = Log::open(dir.path()).unwrap();
    let config = TopicConfig { segment_bytes: 200, retention_ms: None, retention_bytes: Some(400), ..TopicConfig::default() };
    log.create_topic("t", config).unwrap();
    // Five segments of 200 bytes (the last active), total 1000.
    append_each(&log, "t", &(0..10).map(|i| rec100(i, "k00")).collect::<Vec<_>>());
    assert_eq!(log.segments("t", 0).unwrap().len(), 5);
    let stats = log.enforce_retention(0).unwrap();
    // 1000 → 800 → 600 → 400: exactly the limit is kept.
    assert_eq!(stats.segments_deleted, 3);
    assert_eq!(log.start_offset("t", 0).unwrap(), 6);
    // A delete-policy rule does not touch a compact-only topic.
    let c = TopicConfig { cleanup_policy: CleanupPolicy::Compact, segment_bytes: 200, retention_bytes: Some(1), ..TopicConfig::default() };
    log.create_topic("c", c).unwrap();
    append_each(&log, "c", &(0..10).map(|i| rec100(i, "k00")).collect::<Vec<_>>());
    log.enforce_retention(i64::MAX).unwrap();
    assert_eq!(log.start_offset("c", 0).unwrap(), 0);
}

#[test]
fn compaction_keeps_latest_per_key_offsets_and_start() {
    let dir = TempDir::new("compact");
    let (log, _) = Log::open(dir.path()).unwrap();
    let config =
        TopicConfig { cleanup_policy: CleanupPolicy::Compact, segment_bytes: 300, delete_retention_ms: 100, ..TopicConfig::default() };
    log.create_topic("t", config).unwrap();
    let tomb = |ts, k: &str| NewRecord::new(ts, Some(k.as_bytes()), None);
    let recs = vec![
        rec100(0, "k01"), // 0: superseded by 3
        rec100(0, "k02"), // 1: superseded by the tombstone 4
        rec100(0, "k03"), // 2: kept (latest)
        rec100(0, "k01"), // 3: kept
        tomb(50, "k02"),  // 4: latest, a tombstone: dropped once older than 100 ms
        rec100(0, "k04"), // 5: kept
        rec100(0, "k03"), // 6: active (it does not fit after 3, 4, 5): nothing there is touched,
        tomb(0, "k01"),   // 7: and what it supersedes in closed segments stays
    ];
    append_each(&log, "t", &recs);
    assert_eq!(log.segments("t", 0).unwrap().iter().map(|s| s.base_offset).collect::<Vec<_>>(), vec![0, 3, 6]);
    let offsets = |log: &Log| read_all(log, "t", 0).iter().map(|r| r.offset).collect::<Vec<_>>();

    // At now = 100 the tombstone (ts 50) is still within delete.retention.ms.
    let stats = log.compact("t", 100).unwrap();
    assert_eq!(offsets(&log), vec![2, 3, 4, 5, 6, 7]);
    assert_eq!(stats.records_removed, 2);
    // Both closed segments' survivors (4 × ~100 bytes) do not fit in 300: still two.
    assert_eq!(log.segments("t", 0).unwrap().len(), 3);
    assert_eq!(log.compact("t", 100).unwrap(), CleanupStats::default(), "nothing more to do");

    // Later the tombstone has done its job; the survivors now fit in one segment.
    let stats = log.compact("t", 151).unwrap();
    assert_eq!(offsets(&log), vec![2, 3, 5, 6, 7]);
    assert_eq!(stats, CleanupStats { segments_deleted: 1, records_removed: 1, bytes_freed: 40 });
    let segs = log.segments("t", 0).unwrap();
    assert_eq!(segs.iter().map(|s| s.base_offset).collect::<Vec<_>>(), vec![0, 6]);
    assert_eq!(log.start_offset("t", 0).unwrap(), 0);
    assert_eq!(log.end_offset("t", 0).unwrap(), 8);
    let got = read_all(&log, "t", 0);
    assert_eq!(got[0], recs[2].at_offset(2));
    assert_eq!(got[2], recs[5].at_offset(5));
    // Reads skip the gaps: from 0 and from 1 both start at 2, from 4 starts at 5.
    assert_eq!(log.read("t", 0, 1, 1).unwrap()[0].offset, 2);
    assert_eq!(log.read("t", 0, 4, 1).unwrap()[0].offset, 5);
    drop(log);
    let (log, events) = Log::open(dir.path()).unwrap();
    assert!(events.is_empty(), "{events:?}");
    assert_eq!(offsets(&log), vec![2, 3, 5, 6, 7]);
    assert_eq!(log.append("t", 0, &[rec100(0, "k09")]).unwrap(), 8);
    // Compacting a delete-policy topic is a no-op.
    log.create_topic("d", TopicConfig::default()).unwrap();
    assert_eq!(log.compact("d", 0).unwrap(), CleanupStats::default());
}

#[test]
fn clean_applies_retention_and_compaction_by_policy() {
    let dir = TempDir::new("clean");
    let (log, _) = Log::open(dir.path()).unwrap();
    log.create_topic("old", TopicConfig { segment_bytes: 300, retention_ms: Some(1000), ..TopicConfig::default() }).unwrap();
    let compacted =
        TopicConfig { segment_bytes: 300, cleanup_policy: CleanupPolicy::Compact, retention_ms: None, ..TopicConfig::default() };
    log.create_topic("latest", compacted).unwrap();
    append_each(&log, "old", &[0, 1, 2, 3].map(|ts| rec100(ts, "k00")));
    // Three updates of k00 in the first (closed) segment, then an active one.
    append_each(&log, "latest", &[0, 1, 2, 3].map(|ts| rec100(ts, "k00")));
    let stats = log.clean(5000).unwrap();
    // Retention drops old's closed segment (3 records); compaction keeps the latest k00 of
    // latest's closed segment (drops 2).
    assert_eq!(stats.records_removed, 5);
    assert_eq!(log.start_offset("old", 0).unwrap(), 3);
    assert_eq!(read_all(&log, "latest", 0).iter().map(|r| r.offset).collect::<Vec<_>>(), vec![2, 3]);
}
