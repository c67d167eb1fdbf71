//! A model test: a seeded PRNG drives random appends, reads, reopens, commits, retention and
//! compaction against a plain in-memory model, and everything readable must match it.
//!
//! The model keeps, per partition, the records still readable (by offset, gaps allowed) and
//! the end offset. Retention and compaction are applied to it by their documented rules; the
//! only thing taken from the log is where its segments start and end (from
//! `Log::segments` just before the call), since the rules are stated in whole segments.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::{BTreeMap, HashMap};

use support::{Rng, TempDir};
use weir_log::{CleanupPolicy, CleanupStats, FrameSize, Log, NewRecord, StoredRecord, TopicConfig};

struct Part {
    records: Vec<StoredRecord>,
    end: u64,
}

fn topics() -> Vec<(&'static str, TopicConfig)> {
    vec![
        (
            "del",
            TopicConfig {
                partitions: 2,
                cleanup_policy: CleanupPolicy::Delete,
                retention_ms: Some(600),
                retention_bytes: Some(2500),
                segment_bytes: 400,
                delete_retention_ms: 0,
            },
        ),
        (
            "cmp",
            TopicConfig {
                partitions: 2,
                cleanup_policy: CleanupPolicy::Compact,
                segment_bytes: 350,
                delete_retention_ms: 300,
                ..TopicConfig::default()
            },
        ),
        (
            "both",
            TopicConfig {
                partitions: 1,
                cleanup_policy: CleanupPolicy::CompactDelete,
                retention_ms: Some(900),
                retention_bytes: None,
                segment_bytes: 500,
                delete_retention_ms: 100,
            },
        ),
    ]
}

fn random_record(rng: &mut Rng, now: i64, keyed: bool) -> NewRecord {
    NewRecord {
        timestamp: now - rng.below(120) as i64,
        key: (keyed || !rng.chance(20)).then(|| format!("k{}", rng.below(9)).into_bytes()),
        value: (!rng.chance(15)).then(|| rng.bytes_below(60)),
        headers: (0..rng.below(3)).map(|i| (format!("h{i}"), rng.bytes_below(5))).collect(),
    }
}

fn expected_read(part: &Part, from: u64, max_bytes: usize) -> Vec<StoredRecord> {
    let mut out = Vec::new();
    let mut used = 0;
    for r in part.records.iter().filter(|r| r.offset >= from) {
        if !out.is_empty() && used + r.size_bytes() > max_bytes {
            break;
        }
        used += r.size_bytes();
        out.push(r.clone());
    }
    out
}

fn check_all(log: &Log, model: &BTreeMap<(&str, u32), Part>, ctx: &str) {
    for (&(t, p), part) in model {
        // Records here are far smaller than a segment, so no segment may exceed its size.
        let limit = log.topic(t).unwrap().segment_bytes;
        for s in log.segments(t, p).unwrap() {
            assert!(s.size_bytes <= limit, "{ctx}: {t}/{p} segment too big: {s:?}");
        }
        let got = log.read(t, p, 0, usize::MAX).unwrap();
        assert_eq!(got, part.records, "{ctx}: all of {t}/{p}");
        assert_eq!(log.end_offset(t, p).unwrap(), part.end, "{ctx}: end of {t}/{p}");
    }
}

fn run(seed: u64, steps: usize) {
    let dir = TempDir::new(&format!("model-{seed}"));
    let mut rng = Rng::new(seed);
    let (mut log, _) = Log::open(dir.path()).unwrap();
    let configs = topics();
    let mut model: BTreeMap<(&str, u32), Part> = BTreeMap::new();
    for (name, config) in &configs {
        log.create_topic(name, config.clone()).unwrap();
        for p in 0..config.partitions {
            model.insert((name, p), Part { records: Vec::new(), end: 0 });
        }
    }
    let mut committed: HashMap<(String, &str, u32), u64> = HashMap::new();
    let mut now: i64 = 10_000;
    let (mut retained, mut compacted) = (CleanupStats::default(), CleanupStats::default());
    for step in 0..steps {
        let ctx = format!("seed {seed} step {step}");
        now += rng.below(40) as i64;
        let (name, config) = &configs[rng.below(configs.len() as u64) as usize];
        let p = rng.below(u64::from(config.partitions)) as u32;
        match rng.below(100) {
            0..40 => {
                let n = 1 + rng.below(12);
                let batch: Vec<NewRecord> = (0..n).map(|_| random_record(&mut rng, now, config.cleanup_policy.compacts())).collect();
                let part = model.get_mut(&(*name, p)).unwrap();
                assert_eq!(log.append(name, p, &batch).unwrap(), part.end, "{ctx}: append offset");
                for r in &batch {
                    part.records.push(r.at_offset(part.end));
                    part.end += 1;
                }
            }
            40..65 => {
                let part = &model[&(*name, p)];
                let from = rng.below(part.end + 3);
                let max_bytes = rng.below(1500) as usize;
                assert_eq!(
                    log.read(name, p, from, max_bytes).unwrap(),
                    expected_read(part, from, max_bytes),
                    "{ctx}: read {name}/{p} from {from} max {max_bytes}"
                );
            }
            65..70 => {
                if rng.chance(50) {
                    log.sync().unwrap();
                }
                drop(log);
                let (reopened, events) = Log::open(dir.path()).unwrap();
                assert!(events.is_empty(), "{ctx}: clean reopen reports nothing: {events:?}");
                log = reopened;
                check_all(&log, &model, &ctx);
                for ((g, t, p), o) in &committed {
                    assert_eq!(log.committed(g, t, *p), Some(*o), "{ctx}: committed {g} {t}/{p}");
                }
            }
            70..80 => {
                let group = format!("g{}", rng.below(3));
                let mut entries = Vec::new();
                for _ in 0..1 + rng.below(3) {
                    let (t, c) = &configs[rng.below(configs.len() as u64) as usize];
                    let p = rng.below(u64::from(c.partitions)) as u32;
                    entries.push((*t, p, rng.below(model[&(*t, p)].end + 1)));
                }
                log.commit(&group, &entries).unwrap();
                for (t, p, o) in entries {
                    committed.insert((group.clone(), t, p), o);
                }
                for ((g, t, p), o) in &committed {
                    assert_eq!(log.committed(g, t, *p), Some(*o), "{ctx}: committed {g} {t}/{p}");
                }
                assert_eq!(log.committed("nobody", name, p), None);
            }
            80..88 => {
                // Retention over all topics, by Kafka's rule on the segments as they are.
                let mut expected_start = Vec::new();
                for (t, c) in configs.iter().filter(|(_, c)| c.cleanup_policy.deletes()) {
                    for p in 0..c.partitions {
                        let segs = log.segments(t, p).unwrap();
                        let mut total: u64 = segs.iter().map(|s| s.size_bytes).sum();
                        let mut k = 0;
                        let cutoff = now - c.retention_ms.map_or(i64::MIN / 2, |ms| ms as i64);
                        while k + 1 < segs.len() && c.retention_ms.is_some() && segs[k].max_timestamp.is_none_or(|ts| ts < cutoff) {
                            total -= segs[k].size_bytes;
                            k += 1;
                        }
                        while k + 1 < segs.len() && c.retention_bytes.is_some_and(|b| total - segs[k].size_bytes >= b) {
                            total -= segs[k].size_bytes;
                            k += 1;
                        }
                        expected_start.push((*t, p, segs[k].base_offset));
                    }
                }
                retained += log.enforce_retention(now).unwrap();
                for (t, p, start) in expected_start {
                    assert_eq!(log.start_offset(t, p).unwrap(), start, "{ctx}: start of {t}/{p} after retention");
                    model.get_mut(&(t, p)).unwrap().records.retain(|r| r.offset >= start);
                }
            }
            88..96 => {
                // Compaction of one topic: latest per key among the closed segments.
                let mut actives = Vec::new();
                for p in 0..config.partitions {
                    let segs = log.segments(name, p).unwrap();
                    actives.push((p, segs.last().unwrap().base_offset, segs[0].base_offset));
                }
                compacted += log.compact(name, now).unwrap();
                if config.cleanup_policy.compacts() {
                    let cutoff = now - config.delete_retention_ms as i64;
                    for (p, active_base, start) in actives {
                        let part = model.get_mut(&(*name, p)).unwrap();
                        let mut latest: HashMap<Vec<u8>, u64> = HashMap::new();
                        for r in part.records.iter().filter(|r| r.offset < active_base) {
                            latest.insert(r.key.clone().unwrap(), r.offset);
                        }
                        part.records.retain(|r| {
                            r.offset >= active_base
                                || (latest[r.key.as_ref().unwrap()] == r.offset && !(r.value.is_none() && r.timestamp < cutoff))
                        });
                        assert_eq!(log.start_offset(name, p).unwrap(), start, "{ctx}: compaction keeps the start offset");
                    }
                }
                for p in 0..config.partitions {
                    let part = &model[&(*name, p)];
                    assert_eq!(log.read(name, p, 0, usize::MAX).unwrap(), part.records, "{ctx}: {name}/{p} after compaction");
                    if config.cleanup_policy.compacts() {
                        // Neighbours were merged as long as they fit in one segment.
                        let segs = log.segments(name, p).unwrap();
                        let closed = &segs[..segs.len() - 1];
                        for pair in closed.windows(2) {
                            assert!(pair[0].size_bytes + pair[1].size_bytes > config.segment_bytes, "{ctx}: {name}/{p} unmerged {pair:?}");
                        }
                    }
                }
            }
            _ => check_all(&log, &model, &ctx),
        }
    }
    check_all(&log, &model, &format!("seed {seed} end"));
    // Retention and compaction had work to do in this run.
    assert!(retained.segments_deleted > 0 && retained.records_removed > 0, "seed {seed}: {retained:?}");
    assert!(compacted.segments_deleted > 0 && compacted.records_removed > 0, "seed {seed}: {compacted:?}");
    eprintln!("seed {seed}: retention {retained:?}, compaction {compacted:?}");
}

#[test]
fn log_matches_a_simple_model() {
    for seed in 1..=12 {
        run(seed, 500);
    }
}
