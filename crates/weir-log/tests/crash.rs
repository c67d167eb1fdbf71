//! Crash safety: torn tails at every byte, garbage tails, damage in the middle, interrupted
//! compactions. Crashes are simulated by editing the files between a close and an open.
#![allow(clippy::unwrap_used)]

mod support;

use std::fs;
use std::path::Path;

use support::{Rng, TempDir, read_all, segment_files, varied_record};
use weir_log::{CleanupPolicy, FrameSize, Log, LogError, NewRecord, RecoveryEvent, StoredRecord, TopicConfig};

const SEG: u64 = 1500;

/// Writes `n` records to `t`/0 with small segments; returns what was written.
fn setup(dir: &Path, n: u64) -> Vec<StoredRecord> {
    let (log, _) = Log::open(dir).unwrap();
    log.create_topic("t", TopicConfig { segment_bytes: SEG, ..TopicConfig::default() }).unwrap();
    let mut recs: Vec<NewRecord> = (0..n).map(varied_record).collect();
    for chunk in recs.chunks(7) {
        log.append("t", 0, chunk).unwrap();
    }
    // A few more, one by one, until the active segment holds several records.
    while log.segments("t", 0).unwrap().last().unwrap().records < 5 {
        let r = varied_record(recs.len() as u64);
        log.append("t", 0, std::slice::from_ref(&r)).unwrap();
        recs.push(r);
    }
    log.sync().unwrap();
    recs.iter().enumerate().map(|(i, r)| r.at_offset(i as u64)).collect()
}

/// Restores the partition's files to `snapshot` (removing files created since).
fn restore(dir: &Path, snapshot: &[(std::path::PathBuf, Vec<u8>)]) {
    for f in segment_files(dir, "t", 0) {
        if !snapshot.iter().any(|(p, _)| *p == f) {
            fs::remove_file(f).unwrap();
        }
    }
    for (p, bytes) in snapshot {
        fs::write(p, bytes).unwrap();
    }
}

#[test]
fn torn_tail_at_every_byte_keeps_every_whole_record() {
    let dir = TempDir::new("torn");
    let written = setup(dir.path(), 60);
    let files = segment_files(dir.path(), "t", 0);
    assert!(files.len() >= 3, "several segments: {}", files.len());
    let snapshot: Vec<_> = files.iter().map(|p| (p.clone(), fs::read(p).unwrap())).collect();
    let (last_path, last_bytes) = snapshot.last().unwrap().clone();
    let base: u64 = last_path.file_stem().unwrap().to_str().unwrap().parse().unwrap();
    // Frame boundaries in the last segment.
    let in_last: Vec<&StoredRecord> = written.iter().filter(|r| r.offset >= base).collect();
    assert!(in_last.len() >= 3, "the last segment holds a few records");
    let mut ends = Vec::new();
    let mut pos = 0;
    for r in &in_last {
        pos += r.size_bytes();
        ends.push(pos);
    }
    assert_eq!(pos, last_bytes.len());
    let first_cut = ends[ends.len() - 4.min(ends.len())];
    for cut in first_cut..last_bytes.len() {
        restore(dir.path(), &snapshot);
        fs::write(&last_path, &last_bytes[..cut]).unwrap();
        let kept = base + ends.iter().filter(|&&e| e <= cut).count() as u64;
        let (log, events) = Log::open(dir.path()).unwrap_or_else(|e| panic!("cut at {cut}: {e}"));
        let torn = !ends.contains(&cut);
        assert_eq!(events.len(), usize::from(torn), "cut at {cut}: {events:?}");
        if torn {
            let RecoveryEvent::TruncatedTornTail { file, discarded_bytes, .. } = &events[0] else { panic!("{events:?}") };
            assert_eq!(file, &last_path);
            assert!(*discarded_bytes > 0);
        }
        assert_eq!(read_all(&log, "t", 0), written[..kept as usize], "cut at {cut}");
        assert_eq!(log.end_offset("t", 0).unwrap(), kept);
        assert_eq!(log.append("t", 0, &[varied_record(kept)]).unwrap(), kept, "appends continue after the cut");
        assert_eq!(log.read("t", 0, kept, 1).unwrap(), vec![varied_record(kept).at_offset(kept)]);
    }
}

#[test]
fn garbage_after_the_last_record_is_cut_off() {
    let dir = TempDir::new("garbage");
    let written = setup(dir.path(), 40);
    let last = segment_files(dir.path(), "t", 0).pop().unwrap();
    let good = fs::read(&last).unwrap();
    let mut rng = Rng::new(7);
    let tails: Vec<Vec<u8>> =
        vec![vec![0; 1], vec![0; 8], vec![0; 100], vec![0xff; 13], rng.bytes(1), rng.bytes(9), rng.bytes(300), rng.bytes(5000)];
    for tail in tails {
        let mut bytes = good.clone();
        bytes.extend_from_slice(&tail);
        fs::write(&last, &bytes).unwrap();
        let (log, events) = Log::open(dir.path()).unwrap();
        assert_eq!(
            events,
            vec![RecoveryEvent::TruncatedTornTail {
                file: last.clone(),
                valid_bytes: good.len() as u64,
                discarded_bytes: tail.len() as u64
            }]
        );
        assert_eq!(read_all(&log, "t", 0), written);
        assert_eq!(fs::read(&last).unwrap(), good);
    }
}

#[test]
fn a_flipped_byte_in_a_closed_segment_is_corruption_naming_the_file() {
    let dir = TempDir::new("flip");
    setup(dir.path(), 60);
    let files = segment_files(dir.path(), "t", 0);
    let victim = &files[1];
    let mut bytes = fs::read(victim).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x01;
    fs::write(victim, &bytes).unwrap();
    let err = Log::open(dir.path()).unwrap_err();
    let LogError::Corrupt { path, position, .. } = &err else { panic!("{err}") };
    assert_eq!(path, victim);
    assert!(*position <= at as u64);
    assert!(err.to_string().contains(&victim.display().to_string()), "{err}");
}

#[test]
fn damage_in_the_active_segment_with_records_after_it_is_not_truncated() {
    let dir = TempDir::new("flip-active");
    setup(dir.path(), 60);
    let last = segment_files(dir.path(), "t", 0).pop().unwrap();
    let mut bytes = fs::read(&last).unwrap();
    bytes[20] ^= 0x40; // inside the first record's body
    fs::write(&last, &bytes).unwrap();
    let err = Log::open(dir.path()).unwrap_err();
    assert!(matches!(&err, LogError::Corrupt { path, position: 0, .. } if *path == last), "{err}");
    assert!(err.to_string().contains("valid records follow"), "{err}");
    assert_eq!(fs::read(&last).unwrap(), bytes, "nothing was cut");
}

#[test]
fn damage_after_open_is_reported_by_read() {
    let dir = TempDir::new("flip-read");
    setup(dir.path(), 60);
    let (log, _) = Log::open(dir.path()).unwrap();
    let victim = segment_files(dir.path(), "t", 0)[0].clone();
    let mut bytes = fs::read(&victim).unwrap();
    let at = bytes.len() - 3;
    bytes[at] ^= 0x80;
    fs::write(&victim, &bytes).unwrap();
    let err = log.read("t", 0, 0, 1 << 20).unwrap_err();
    assert!(matches!(&err, LogError::Corrupt { path, .. } if *path == victim), "{err}");
}

#[test]
fn interrupted_compactions_are_finished_or_discarded() {
    let dir = TempDir::new("compact-crash");
    let written = {
        let (log, _) = Log::open(dir.path()).unwrap();
        let config = TopicConfig { cleanup_policy: CleanupPolicy::Compact, segment_bytes: 400, ..TopicConfig::default() };
        log.create_topic("t", config).unwrap();
        let recs: Vec<NewRecord> = (0..40u64).map(|i| NewRecord::new(i as i64, Some(&i.to_le_bytes()), Some(b"v"))).collect();
        log.append("t", 0, &recs).unwrap();
        recs.iter().enumerate().map(|(i, r)| r.at_offset(i as u64)).collect::<Vec<_>>()
    };
    let files = segment_files(dir.path(), "t", 0);
    assert!(files.len() >= 4);
    let pdir = files[0].parent().unwrap().to_path_buf();
    let base = |p: &Path| p.file_stem().unwrap().to_str().unwrap().to_string();
    // A compaction that had not finished writing: its output is dropped.
    let cleaned = pdir.join(format!("{}-{}.cleaned", base(&files[0]), base(&files[2])));
    fs::write(&cleaned, b"half written").unwrap();
    // One that had written the merge of segments 0 and 1 but not replaced them yet.
    let mut merged = fs::read(&files[0]).unwrap();
    merged.extend(fs::read(&files[1]).unwrap());
    let swap = pdir.join(format!("{}-{}.swap", base(&files[0]), base(&files[2])));
    fs::write(&swap, &merged).unwrap();
    let (log, events) = Log::open(dir.path()).unwrap();
    assert!(events.contains(&RecoveryEvent::RemovedIncompleteCompaction { file: cleaned.clone() }), "{events:?}");
    assert!(events.contains(&RecoveryEvent::CompletedCompaction { file: files[0].clone(), replaced_segments: 2 }), "{events:?}");
    assert!(!cleaned.exists() && !swap.exists() && !files[1].exists());
    assert_eq!(log.segments("t", 0).unwrap().len(), files.len() - 1);
    assert_eq!(read_all(&log, "t", 0), written);
}

#[test]
fn leftovers_of_create_topic_and_commit_are_cleaned_up() {
    let dir = TempDir::new("leftovers");
    {
        let (log, _) = Log::open(dir.path()).unwrap();
        log.create_topic("t", TopicConfig::default()).unwrap();
        log.commit("g", &[("t", 0, 0)]).unwrap();
    }
    let half_topic = dir.path().join("topics/half/0");
    fs::create_dir_all(&half_topic).unwrap();
    let tmp = dir.path().join("groups/g.offsets.tmp");
    fs::write(&tmp, "garbage").unwrap();
    let (log, events) = Log::open(dir.path()).unwrap();
    assert!(events.contains(&RecoveryEvent::RemovedIncompleteTopic { dir: dir.path().join("topics/half") }), "{events:?}");
    assert!(events.contains(&RecoveryEvent::RemovedTempFile { file: tmp }), "{events:?}");
    assert_eq!(log.topics(), vec!["t".to_string()]);
    assert_eq!(log.committed("g", "t", 0), Some(0));
    // A topic directory that lost its metadata but has data is not silently removed.
    drop(log);
    fs::remove_file(dir.path().join("topics/t/topic.properties")).unwrap();
    assert!(matches!(Log::open(dir.path()), Err(LogError::Corrupt { .. })));
}
