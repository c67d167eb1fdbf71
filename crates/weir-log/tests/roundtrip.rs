//! Append and read back: every field, many segments, reopen, `max_bytes`, offsets, errors.
#![allow(clippy::unwrap_used)]

mod support;

use support::{TempDir, read_all, segment_files, varied_record};
use weir_log::{CleanupPolicy, FrameSize, Log, LogError, NewRecord, TopicConfig};

fn small_segments(partitions: u32) -> TopicConfig {
    TopicConfig { partitions, segment_bytes: 300, ..TopicConfig::default() }
}

#[test]
fn round_trip_with_many_segments_survives_reopen() {
    let dir = TempDir::new("roundtrip");
    let mut expected = [Vec::new(), Vec::new()];
    {
        let (log, events) = Log::open(dir.path()).unwrap();
        assert!(events.is_empty(), "{events:?}");
        log.create_topic("t", small_segments(2)).unwrap();
        let mut i = 0;
        for batch in 0..60u64 {
            let p = (batch % 2) as u32;
            let recs: Vec<NewRecord> = (0..batch % 9)
                .map(|_| {
                    i += 1;
                    varied_record(i)
                })
                .collect();
            let first = log.append("t", p, &recs).unwrap();
            assert_eq!(first, expected[p as usize].len() as u64);
            for r in &recs {
                let off = expected[p as usize].len() as u64;
                expected[p as usize].push(r.at_offset(off));
            }
        }
        for p in 0..2 {
            assert_eq!(read_all(&log, "t", p), expected[p as usize]);
            assert_eq!(log.end_offset("t", p).unwrap(), expected[p as usize].len() as u64);
            assert_eq!(log.start_offset("t", p).unwrap(), 0);
            let segs = log.segments("t", p).unwrap();
            assert!(segs.len() > 10, "small segments roll: {}", segs.len());
            // size_bytes is what is on disk.
            let on_disk: u64 = segs.iter().map(|s| s.size_bytes).sum();
            let counted: usize = expected[p as usize].iter().map(|r| r.size_bytes()).sum();
            assert_eq!(on_disk, counted as u64);
            assert_eq!(segment_files(dir.path(), "t", p).len(), segs.len());
        }
        log.sync().unwrap();
    }
    let (log, events) = Log::open(dir.path()).unwrap();
    assert!(events.is_empty(), "{events:?}");
    assert_eq!(log.topic("t"), Some(small_segments(2)));
    assert_eq!(log.topics(), vec!["t".to_string()]);
    for p in 0..2 {
        assert_eq!(read_all(&log, "t", p), expected[p as usize]);
        // Reads from every offset start exactly there.
        for want in &expected[p as usize] {
            assert_eq!(log.read("t", p, want.offset, 1).unwrap(), vec![want.clone()]);
        }
        let next = log.append("t", p, &[varied_record(999)]).unwrap();
        assert_eq!(next, expected[p as usize].len() as u64);
    }
}

#[test]
fn max_bytes_counts_record_sizes_and_always_returns_one() {
    let dir = TempDir::new("maxbytes");
    let (log, _) = Log::open(dir.path()).unwrap();
    log.create_topic("t", TopicConfig::default()).unwrap();
    let recs: Vec<NewRecord> = (0..50).map(varied_record).collect();
    log.append("t", 0, &recs).unwrap();
    let sizes: Vec<usize> = recs.iter().map(NewRecord::size_bytes).collect();
    assert_eq!(log.read("t", 0, 0, 0).unwrap().len(), 1);
    assert_eq!(log.read("t", 0, 0, sizes[0] - 1).unwrap().len(), 1);
    assert_eq!(log.read("t", 0, 0, sizes[0] + sizes[1] - 1).unwrap().len(), 1);
    assert_eq!(log.read("t", 0, 0, sizes[0] + sizes[1]).unwrap().len(), 2);
    assert_eq!(log.read("t", 0, 10, sizes[10..20].iter().sum()).unwrap().len(), 10);
    assert!(log.read("t", 0, 50, 1000).unwrap().is_empty());
    assert!(log.read("t", 0, 5000, 1000).unwrap().is_empty());
    assert_eq!(log.append("t", 0, &[]).unwrap(), 50);
}

#[test]
fn reads_use_the_sparse_index_in_a_big_segment() {
    let dir = TempDir::new("index");
    let (log, _) = Log::open(dir.path()).unwrap();
    log.create_topic("t", TopicConfig::default()).unwrap();
    let recs: Vec<NewRecord> = (0..5000).map(|i| NewRecord::new(i, Some(&i.to_le_bytes()), Some(&[7u8; 100]))).collect();
    for chunk in recs.chunks(500) {
        log.append("t", 0, chunk).unwrap();
    }
    assert_eq!(log.segments("t", 0).unwrap().len(), 1);
    for from in [0u64, 1, 39, 40, 41, 2500, 4998, 4999] {
        let got = log.read("t", 0, from, 300).unwrap();
        assert_eq!(got[0].offset, from);
        assert_eq!(got[0].key.as_deref(), Some(&(from as i64).to_le_bytes()[..]));
        assert_eq!(got.len() as u64, 2.min(5000 - from));
    }
}

#[test]
fn errors_name_what_they_are_about() {
    let dir = TempDir::new("errors");
    let (log, _) = Log::open(dir.path()).unwrap();
    log.create_topic("t", TopicConfig::with_partitions(2)).unwrap();
    log.create_topic("c", TopicConfig { cleanup_policy: CleanupPolicy::Compact, ..TopicConfig::default() }).unwrap();
    let msg = |e: LogError| e.to_string();
    assert_eq!(msg(log.append("nope", 0, &[]).unwrap_err()), "unknown topic 'nope'");
    assert_eq!(msg(log.read("t", 2, 0, 10).unwrap_err()), "partition 2 out of range for topic 't' (it has 2 partitions)");
    assert_eq!(msg(log.create_topic("t", TopicConfig::default()).unwrap_err()), "topic 't' already exists");
    assert!(msg(log.create_topic("a/b", TopicConfig::default()).unwrap_err()).contains("invalid topic name 'a/b'"));
    assert!(msg(log.create_topic("z", TopicConfig::with_partitions(0)).unwrap_err()).contains("invalid config for topic 'z'"));
    let e = log.append("c", 0, &[NewRecord::new(0, None, Some(b"v"))]).unwrap_err();
    assert_eq!(msg(e), "record without key appended to compacted topic 'c' partition 0");
    let big = NewRecord::new(0, None, Some(&vec![0u8; weir_log::MAX_RECORD_BYTES]));
    assert!(matches!(log.append("t", 0, &[big]), Err(LogError::RecordTooLarge { .. })));
    assert_eq!(log.end_offset("t", 0).unwrap(), 0, "nothing of a refused batch is written");
    assert!(log.topic("nope").is_none());
    assert!(matches!(log.commit("g", &[("nope", 0, 1)]), Err(LogError::UnknownTopic { .. })));
}
