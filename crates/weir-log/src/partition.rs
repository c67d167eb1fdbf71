//! One partition: its segments, appends, reads, waiting for data, retention and compaction.
//!
//! Locking: `state` (a `RwLock`) guards the segment list; appends take it for writing, reads
//! take it for reading only to find where to read and then read the file without it (closed
//! segments never change in place, and the active segment only grows past the size seen). Each
//! segment's file is shared through an `Arc<File>`, so a segment that retention deletes or
//! compaction replaces stays readable by a read already under way. `maintenance` serializes
//! retention and compaction of the partition (compaction reads and writes without holding
//! `state`, so appends go on meanwhile). `end` mirrors the end offset for [`Partition::wait_for`]
//! and its `Condvar`. Lock order: `maintenance`, then the writeback status (see
//! `writeback.rs`), then `state`, then `end`.
//!
//! Invariants: at least one segment; bases strictly increase; every record of a segment is
//! below the next segment's base; the last segment is the active one; a closed segment was
//! fsynced before the next one was created, so only the active segment can have a torn tail.
//!
//! Compaction writes each group of closed segments to `{base}-{end}.cleaned`, fsyncs it,
//! renames it to `{base}-{end}.swap` (the commit point), deletes the replaced segments with
//! bases in `base+1..end`, then renames the swap file over `{base}.log`. `open` finishes or
//! discards an interrupted compaction from these names.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use super::error::{LogError, RecoveryEvent, Result, io_err};
use super::fsutil::sync_dir;
use super::record::{FRAME_HEADER, FrameSize, MAX_RECORD_BYTES, NewRecord, StoredRecord, encode_frame};
use super::segment::{INDEX_INTERVAL, SCAN_CHUNK, Segment, SegmentInfo, WalkEnd, is_not_found, parse_offset_name, segment_file_name, walk};
use super::topic::TopicConfig;
use super::writeback::{WRITEBACK_BYTES, Writeback};

/// What a retention or compaction pass removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CleanupStats {
    /// Segment files deleted (by retention) or merged away (by compaction).
    pub segments_deleted: u64,
    /// Records removed.
    pub records_removed: u64,
    /// Bytes freed on disk.
    pub bytes_freed: u64,
}

impl std::ops::AddAssign for CleanupStats {
    fn add_assign(&mut self, o: CleanupStats) {
        self.segments_deleted += o.segments_deleted;
        self.records_removed += o.records_removed;
        self.bytes_freed += o.bytes_freed;
    }
}

struct State {
    segments: Vec<Segment>,
    /// The active segment has writes not yet fsynced.
    dirty: bool,
    /// Files were created in the partition directory since the last fsync of it.
    dir_dirty: bool,
    /// Bytes appended since the last fsync or early writeback of the active segment.
    unsynced: u64,
}

impl State {
    fn active(&self) -> &Segment {
        &self.segments[self.segments.len() - 1]
    }
    fn active_mut(&mut self) -> &mut Segment {
        let n = self.segments.len();
        &mut self.segments[n - 1]
    }
    fn end(&self) -> u64 {
        self.active().next_offset()
    }
}

/// Where one step of a read goes.
struct Span {
    file: Arc<File>,
    path: Arc<Path>,
    start: u64,
    end: u64,
    next_base: Option<u64>,
}

pub(crate) struct Partition {
    topic: Arc<str>,
    id: u32,
    dir: PathBuf,
    state: RwLock<State>,
    maintenance: Mutex<()>,
    end: Mutex<u64>,
    grew: Condvar,
    writeback: Arc<Writeback>,
}

/// Segment files found in a partition directory.
fn list_segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let mut segs = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_err("list", dir))? {
        let entry = entry.map_err(io_err("list", dir))?;
        let name = entry.file_name();
        if let Some(base) = name.to_str().and_then(|n| n.strip_suffix(".log")).and_then(parse_offset_name) {
            segs.push((base, entry.path()));
        }
    }
    segs.sort();
    Ok(segs)
}

/// Parses `{base:020}-{end:020}.{ext}`.
fn parse_range_name<'a>(name: &'a str, ext: &str) -> Option<(u64, u64)> {
    let stem: &'a str = name.strip_suffix(ext)?.strip_suffix('.')?;
    let (a, e) = stem.split_once('-')?;
    Some((parse_offset_name(a)?, parse_offset_name(e)?))
}

/// Finishes or discards compactions interrupted by a crash.
fn recover_compactions(dir: &Path, events: &mut Vec<RecoveryEvent>) -> Result<()> {
    let mut swaps = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_err("list", dir))? {
        let entry = entry.map_err(io_err("list", dir))?;
        let Some(name) = entry.file_name().to_str().map(str::to_string) else { continue };
        if parse_range_name(&name, "cleaned").is_some() {
            let path = entry.path();
            fs::remove_file(&path).map_err(io_err("remove", &path))?;
            events.push(RecoveryEvent::RemovedIncompleteCompaction { file: path });
        } else if let Some(range) = parse_range_name(&name, "swap") {
            swaps.push((range, entry.path()));
        }
    }
    for ((base, end), swap) in swaps {
        let mut replaced = 1;
        for (b, path) in list_segments(dir)? {
            if b > base && b < end {
                fs::remove_file(&path).map_err(io_err("remove", &path))?;
                replaced += 1;
            }
        }
        let target = dir.join(segment_file_name(base));
        fs::rename(&swap, &target).map_err(io_err("rename into place", &swap))?;
        events.push(RecoveryEvent::CompletedCompaction { file: target, replaced_segments: replaced });
    }
    sync_dir(dir)
}

impl Partition {
    /// Opens the partition in `dir` (creating an empty first segment if it has none),
    /// recovering a torn tail of its active segment and interrupted compactions.
    pub fn open(topic: Arc<str>, id: u32, dir: PathBuf, events: &mut Vec<RecoveryEvent>) -> Result<Partition> {
        recover_compactions(&dir, events)?;
        let found = list_segments(&dir)?;
        let mut segments = Vec::with_capacity(found.len().max(1));
        for (i, (base, path)) in found.iter().enumerate() {
            let seg = Segment::open(path, *base, i + 1 == found.len(), events)?;
            if let Some(prev) = segments.last().and_then(|s: &Segment| s.last_offset)
                && prev >= *base
            {
                return Err(LogError::Corrupt {
                    path: path.clone(),
                    position: 0,
                    reason: format!("segment starts at offset {base} but the previous one holds offset {prev}"),
                });
            }
            segments.push(seg);
        }
        if segments.is_empty() {
            let seg = Segment::create(&dir, 0)?;
            sync_dir(&dir)?;
            events.push(RecoveryEvent::CreatedMissingSegment { file: seg.path.to_path_buf() });
            segments.push(seg);
        }
        let state = State { segments, dirty: false, dir_dirty: false, unsynced: 0 };
        let end = state.end();
        Ok(Partition {
            topic,
            id,
            dir,
            state: RwLock::new(state),
            maintenance: Mutex::new(()),
            end: Mutex::new(end),
            grew: Condvar::new(),
            writeback: Arc::default(),
        })
    }

    fn poisoned(&self) -> LogError {
        LogError::Poisoned { topic: self.topic.to_string(), partition: self.id }
    }
    fn read_state(&self) -> Result<RwLockReadGuard<'_, State>> {
        self.state.read().map_err(|_| self.poisoned())
    }
    fn write_state(&self) -> Result<RwLockWriteGuard<'_, State>> {
        self.state.write().map_err(|_| self.poisoned())
    }
    fn lock_maintenance(&self) -> Result<MutexGuard<'_, ()>> {
        self.maintenance.lock().map_err(|_| self.poisoned())
    }

    pub fn start_offset(&self) -> Result<u64> {
        Ok(self.read_state()?.segments[0].base)
    }

    pub fn end_offset(&self) -> Result<u64> {
        Ok(self.read_state()?.end())
    }

    pub fn segments(&self) -> Result<Vec<SegmentInfo>> {
        Ok(self.read_state()?.segments.iter().map(Segment::info).collect())
    }

    /// Appends `records`, rolling segments at `config.segment_bytes`; returns the first
    /// offset. If it fails part way, a prefix of the batch may have been appended.
    pub fn append(&self, config: &TopicConfig, records: &[NewRecord]) -> Result<u64> {
        let mut total = 0;
        for rec in records {
            let size = rec.size_bytes();
            if size - FRAME_HEADER > MAX_RECORD_BYTES {
                return Err(LogError::RecordTooLarge { topic: self.topic.to_string(), partition: self.id, size, max: MAX_RECORD_BYTES });
            }
            if rec.key.is_none() && config.cleanup_policy.compacts() {
                return Err(LogError::NullKeyInCompactedTopic { topic: self.topic.to_string(), partition: self.id });
            }
            total += size;
        }
        let mut st = self.write_state()?;
        let first = st.end();
        let result = self.append_locked(&mut st, config, records, total);
        let end = st.end();
        let write_back = (st.unsynced >= WRITEBACK_BYTES).then(|| {
            st.unsynced = 0;
            (Arc::clone(&st.active().file), Arc::clone(&st.active().path))
        });
        drop(st);
        if let Some((file, path)) = write_back {
            self.writeback.start(file, path);
        }
        if end != first {
            *self.end.lock().map_err(|_| self.poisoned())? = end;
            self.grew.notify_all();
        }
        result.map(|()| first)
    }

    fn append_locked(&self, st: &mut State, config: &TopicConfig, records: &[NewRecord], total: usize) -> Result<()> {
        let mut buf = Vec::with_capacity(total.min(16 << 20));
        let mut pending = Vec::new();
        let first = st.end();
        for (offset, rec) in (first..).zip(records) {
            let len = rec.size_bytes() as u64;
            let filled = st.active().size + buf.len() as u64;
            if filled > 0 && filled + len > config.segment_bytes {
                write_pending(st, &mut buf, &mut pending)?;
                self.roll(st)?;
            }
            let pos = st.active().size + buf.len() as u64;
            let n = encode_frame(&mut buf, offset, rec);
            pending.push((offset, rec.timestamp, pos, n));
        }
        write_pending(st, &mut buf, &mut pending)
    }

    /// Closes the active segment (fsynced, so closed segments never have torn tails) and
    /// starts a new one at the end offset.
    fn roll(&self, st: &mut State) -> Result<()> {
        let active = st.active();
        active.file.sync_all().map_err(io_err("fsync", &active.path))?;
        st.dirty = false;
        st.unsynced = 0;
        let seg = Segment::create(&self.dir, st.end())?;
        st.segments.push(seg);
        st.dir_dirty = true;
        Ok(())
    }

    /// Reads records with offsets `>= from` (from the start offset if `from` is below it)
    /// while their total [`size_bytes`](StoredRecord::size_bytes) stays within `max_bytes`;
    /// the first record is returned whatever its size.
    pub fn read(&self, from: u64, max_bytes: usize) -> Result<Vec<StoredRecord>> {
        let mut out = Vec::new();
        let mut used = 0usize;
        let mut cursor = from;
        let chunk = (max_bytes as u64).saturating_add(INDEX_INTERVAL).clamp(8 << 10, 4 << 20) as usize;
        loop {
            let Some(span) = self.span(cursor)? else { break };
            let mut full = false;
            let end = walk(&span.file, &span.path, span.start, span.end, chunk, |_, view, raw| {
                if view.offset < cursor {
                    return Ok(ControlFlow::Continue(()));
                }
                if !out.is_empty() && used + raw.len() > max_bytes {
                    full = true;
                    return Ok(ControlFlow::Break(()));
                }
                if out.is_empty() {
                    // Room for as many records of this size as fit (not regrown ~20 times).
                    out.reserve((max_bytes / raw.len().max(1)).clamp(1, 1 << 16));
                }
                used += raw.len();
                out.push(view.to_record());
                Ok(ControlFlow::Continue(()))
            })?;
            if let WalkEnd::Bad { position, reason } = end {
                return Err(LogError::Corrupt { path: span.path.to_path_buf(), position, reason });
            }
            match span.next_base {
                Some(next) if !full => cursor = cursor.max(next),
                _ => break,
            }
        }
        Ok(out)
    }

    fn span(&self, cursor: u64) -> Result<Option<Span>> {
        let st = self.read_state()?;
        let segs = &st.segments;
        let i = segs.partition_point(|s| s.base <= cursor).saturating_sub(1);
        let s = &segs[i];
        if i + 1 == segs.len() && cursor >= s.next_offset() {
            return Ok(None);
        }
        let start = if cursor <= s.base { 0 } else { s.position_for(cursor) };
        Ok(Some(Span {
            file: Arc::clone(&s.file),
            path: Arc::clone(&s.path),
            start,
            end: s.size,
            next_base: segs.get(i + 1).map(|n| n.base),
        }))
    }

    /// Waits until the end offset is past `offset` (a record at `offset` or later exists) or
    /// `timeout` passes; returns whether it is.
    pub fn wait_for(&self, offset: u64, timeout: Duration) -> Result<bool> {
        let deadline = Instant::now().checked_add(timeout);
        let mut end = self.end.lock().map_err(|_| self.poisoned())?;
        loop {
            if *end > offset {
                return Ok(true);
            }
            let now = Instant::now();
            let left = match deadline {
                Some(d) if d <= now => return Ok(false),
                Some(d) => d - now,
                None => Duration::from_secs(3600),
            };
            end = self.grew.wait_timeout(end, left).map_err(|_| self.poisoned())?.0;
        }
    }

    /// Fsyncs what was appended since the last sync, and new directory entries. Fails also
    /// when an early writeback since the last sync failed (its fsync error is not reported
    /// again by this one).
    pub fn sync(&self) -> Result<()> {
        // Waits for an early writeback under way, so that its failure is seen here.
        let mut failed = self.writeback.failed();
        let (file, dir_dirty) = {
            let mut st = self.write_state()?;
            let file = st.dirty.then(|| (Arc::clone(&st.active().file), Arc::clone(&st.active().path)));
            let dir_dirty = st.dir_dirty;
            st.dirty = false;
            st.dir_dirty = false;
            st.unsynced = 0;
            (file, dir_dirty)
        };
        let result = file
            .map_or(Ok(()), |(f, path)| f.sync_all().map_err(io_err("fsync", &path)))
            .and_then(|()| if dir_dirty { sync_dir(&self.dir) } else { Ok(()) })
            .and_then(|()| match failed.take() {
                Some((source, path)) => Err(LogError::Io { op: "write back (fdatasync)", path: path.to_path_buf(), source }),
                None => Ok(()),
            });
        if result.is_err() {
            let mut st = self.write_state()?;
            st.dirty = true;
            st.dir_dirty |= dir_dirty;
        }
        result
    }

    /// Deletes leading closed segments whose newest record is older than `retention.ms`
    /// before `now_ms`, then while the partition stays at least `retention.bytes` big
    /// without them. Never the active segment.
    pub fn enforce_retention(&self, config: &TopicConfig, now_ms: i64) -> Result<CleanupStats> {
        let _m = self.lock_maintenance()?;
        let st = self.write_state()?;
        let closed = st.segments.len() - 1;
        let mut total: u64 = st.segments.iter().map(|s| s.size).sum();
        let mut k = 0;
        if let Some(ms) = config.retention_ms {
            let cutoff = now_ms.saturating_sub(i64::try_from(ms).unwrap_or(i64::MAX));
            while k < closed && st.segments[k].max_timestamp.is_none_or(|t| t < cutoff) {
                total -= st.segments[k].size;
                k += 1;
            }
        }
        if let Some(limit) = config.retention_bytes {
            while k < closed && total - st.segments[k].size >= limit {
                total -= st.segments[k].size;
                k += 1;
            }
        }
        self.drop_leading(st, k)
    }

    /// Deletes the leading closed segments that hold only offsets below `offset` (records a
    /// consumer no longer needs: a repartition topic's, once committed). Never the active
    /// segment; records of a segment that also holds `offset` or later stay.
    pub fn delete_before(&self, offset: u64) -> Result<CleanupStats> {
        let _m = self.lock_maintenance()?;
        let st = self.write_state()?;
        let closed = st.segments.len() - 1;
        let k = (0..closed).take_while(|&k| st.segments[k + 1].base <= offset).count();
        self.drop_leading(st, k)
    }

    /// Deletes the first `k` segments of a partition (whose state `st` is write-locked), and
    /// syncs the directory when any went.
    fn drop_leading(&self, mut st: RwLockWriteGuard<'_, State>, k: usize) -> Result<CleanupStats> {
        let mut stats = CleanupStats::default();
        let mut failure = None;
        for s in &st.segments[..k] {
            match fs::remove_file(&s.path) {
                Ok(()) => {}
                Err(e) if is_not_found(&e) => {}
                Err(e) => {
                    failure = Some(LogError::Io { op: "delete segment", path: s.path.to_path_buf(), source: e });
                    break;
                }
            }
            stats.segments_deleted += 1;
            stats.records_removed += s.records;
            stats.bytes_freed += s.size;
        }
        st.segments.drain(..stats.segments_deleted as usize);
        drop(st);
        if stats.segments_deleted > 0 {
            sync_dir(&self.dir)?;
        }
        failure.map_or(Ok(stats), Err)
    }

    /// Rewrites the closed segments keeping the latest record per key (see the module doc of
    /// [the crate doc](crate) for the rules), merging neighbours that then fit in one segment.
    pub fn compact(&self, config: &TopicConfig, now_ms: i64) -> Result<CleanupStats> {
        let _m = self.lock_maintenance()?;
        // Closed segments cannot change while we hold `maintenance`: work on a snapshot.
        let (snap, active_base) = {
            let st = self.read_state()?;
            let n = st.segments.len() - 1;
            let snap: Vec<_> = st.segments[..n].iter().map(|s| (s.base, Arc::clone(&s.file), Arc::clone(&s.path), s.size)).collect();
            (snap, st.active().base)
        };
        if snap.is_empty() {
            return Ok(CleanupStats::default());
        }

        // Pass 1: the latest offset of each key, and what each record is.
        struct Rec {
            key: Option<usize>,
            offset: u64,
            timestamp: i64,
            tombstone: bool,
            len: u64,
        }
        let mut key_ids: HashMap<Vec<u8>, usize> = HashMap::new();
        let mut latest: Vec<u64> = Vec::new();
        let mut recs: Vec<Rec> = Vec::new();
        let mut seg_ranges = Vec::with_capacity(snap.len());
        for (_, file, path, size) in &snap {
            let first = recs.len();
            let end = walk(file, path, 0, *size, SCAN_CHUNK, |_, v, raw| {
                let key = v.key.map(|k| {
                    let next = latest.len();
                    let id = *key_ids.entry(k.to_vec()).or_insert(next);
                    if id == next {
                        latest.push(v.offset);
                    }
                    latest[id] = v.offset;
                    id
                });
                recs.push(Rec { key, offset: v.offset, timestamp: v.timestamp, tombstone: v.value.is_none(), len: raw.len() as u64 });
                Ok(ControlFlow::Continue(()))
            })?;
            if let WalkEnd::Bad { position, reason } = end {
                return Err(LogError::Corrupt { path: path.to_path_buf(), position, reason });
            }
            seg_ranges.push(first..recs.len());
        }
        drop(key_ids);
        let cutoff = now_ms.saturating_sub(i64::try_from(config.delete_retention_ms).unwrap_or(i64::MAX));
        let keep: Vec<bool> = recs
            .iter()
            .map(|r| match r.key {
                None => true,
                Some(id) => latest[id] == r.offset && !(r.tombstone && r.timestamp < cutoff),
            })
            .collect();

        // Group neighbouring segments whose kept records fit in one segment.
        let kept_bytes: Vec<u64> = seg_ranges.iter().map(|r| r.clone().filter(|&i| keep[i]).map(|i| recs[i].len).sum()).collect();
        let mut groups = Vec::new();
        let (mut g_start, mut g_bytes) = (0, 0);
        for (i, &kb) in kept_bytes.iter().enumerate() {
            if i > g_start && g_bytes + kb > config.segment_bytes {
                groups.push(g_start..i);
                (g_start, g_bytes) = (i, 0);
            }
            g_bytes += kb;
        }
        groups.push(g_start..snap.len());

        let mut stats = CleanupStats::default();
        for g in groups {
            let removed = seg_ranges[g.clone()].iter().flat_map(|r| r.clone()).filter(|&i| !keep[i]).count() as u64;
            if g.len() == 1 && removed == 0 {
                continue;
            }
            let base = snap[g.start].0;
            let end = snap.get(g.end).map_or(active_base, |s| s.0);
            let new_seg = self.rewrite_group(&snap[g.clone()], &seg_ranges[g.clone()], &keep, base, end)?;
            let old_bytes: u64 = snap[g.clone()].iter().map(|s| s.3).sum();
            stats.segments_deleted += g.len() as u64 - 1;
            stats.records_removed += removed;
            stats.bytes_freed += old_bytes.saturating_sub(new_seg.size);
            let mut st = self.write_state()?;
            let at = st.segments.partition_point(|s| s.base < base);
            st.segments.splice(at..at + g.len(), [new_seg]);
        }
        Ok(stats)
    }

    /// Writes the kept records of `members` as one segment at `base` and puts it in place of
    /// them on disk (see the module doc for the crash-safe order).
    fn rewrite_group(
        &self,
        members: &[(u64, Arc<File>, Arc<Path>, u64)],
        ranges: &[std::ops::Range<usize>],
        keep: &[bool],
        base: u64,
        end: u64,
    ) -> Result<Segment> {
        let cleaned = self.dir.join(format!("{base:020}-{end:020}.cleaned"));
        let swap = self.dir.join(format!("{base:020}-{end:020}.swap"));
        let target = self.dir.join(segment_file_name(base));
        let out = File::create(&cleaned).map_err(io_err("create", &cleaned))?;
        let mut w = BufWriter::with_capacity(1 << 20, out);
        for ((_, file, path, size), range) in members.iter().zip(ranges) {
            let mut i = range.start;
            let end = walk(file, path, 0, *size, SCAN_CHUNK, |_, _, raw| {
                if keep[i] {
                    w.write_all(raw).map_err(io_err("write", &cleaned))?;
                }
                i += 1;
                Ok(ControlFlow::Continue(()))
            })?;
            if let WalkEnd::Bad { position, reason } = end {
                return Err(LogError::Corrupt { path: path.to_path_buf(), position, reason });
            }
        }
        let out = w.into_inner().map_err(|e| LogError::Io { op: "write", path: cleaned.clone(), source: e.into_error() })?;
        out.sync_all().map_err(io_err("fsync", &cleaned))?;
        drop(out);
        fs::rename(&cleaned, &swap).map_err(io_err("rename", &cleaned))?;
        sync_dir(&self.dir)?;
        for (_, _, path, _) in &members[1..] {
            match fs::remove_file(path) {
                Err(e) if !is_not_found(&e) => return Err(LogError::Io { op: "delete segment", path: path.to_path_buf(), source: e }),
                _ => {}
            }
        }
        fs::rename(&swap, &target).map_err(io_err("rename into place", &swap))?;
        sync_dir(&self.dir)?;
        // Scanning what we wrote also checks it.
        Segment::open(&target, base, false, &mut Vec::new())
    }
}

/// Writes the encoded frames in `buf` to the active segment and records them; on failure cuts
/// the file back so the segment holds only whole frames.
fn write_pending(st: &mut State, buf: &mut Vec<u8>, pending: &mut Vec<(u64, i64, u64, usize)>) -> Result<()> {
    if buf.is_empty() {
        return Ok(());
    }
    let seg = st.active_mut();
    let result = (&*seg.file).write_all(buf);
    match result {
        Ok(()) => {
            for (offset, timestamp, pos, len) in pending.drain(..) {
                seg.note(offset, timestamp, pos, len);
            }
            st.unsynced += buf.len() as u64;
            buf.clear();
            st.dirty = true;
            Ok(())
        }
        Err(e) => {
            let _ = seg.file.set_len(seg.size);
            buf.clear();
            pending.clear();
            Err(LogError::Io { op: "append to", path: seg.path.to_path_buf(), source: e })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("weir-partition-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("temp dir");
        dir
    }

    fn open(dir: &Path) -> Partition {
        Partition::open(Arc::from("t"), 0, dir.to_path_buf(), &mut Vec::new()).expect("open")
    }

    fn wait_for_writeback(p: &Partition) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while p.writeback.busy() {
            assert!(Instant::now() < deadline, "the writeback did not finish");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    fn record(bytes: usize) -> NewRecord {
        NewRecord { timestamp: 1, key: Some(b"k".to_vec()), value: Some(vec![b'v'; bytes]), headers: Vec::new() }
    }

    #[test]
    fn appends_past_the_threshold_start_a_writeback() {
        let dir = temp_dir("writeback");
        let p = open(&dir);
        let config = TopicConfig::default();
        p.append(&config, &[record(1000)]).expect("append");
        assert!(p.read_state().expect("state").unsynced > 0);
        let big: Vec<NewRecord> = (0..5).map(|_| record(1 << 20)).collect();
        p.append(&config, &big).expect("append");
        assert_eq!(p.read_state().expect("state").unsynced, 0, "handed to the writeback thread");
        wait_for_writeback(&p);
        p.sync().expect("sync");
        assert_eq!(p.read(0, usize::MAX).expect("read").len(), 6);
        let _ = fs::remove_dir_all(&dir);
    }

    /// Linux reports a failed writeback to one fsync only: the writeback's failure must fail
    /// the next sync (so no offsets are committed over data that may be lost).
    #[cfg(unix)]
    #[test]
    fn a_failed_writeback_fails_the_next_sync() {
        let dir = temp_dir("writeback-failure");
        let p = open(&dir);
        // A pipe cannot be fsynced (EINVAL): its writeback fails as a broken disk's would.
        let (_reader, writer) = std::io::pipe().expect("pipe");
        let pipe = File::from(std::os::fd::OwnedFd::from(writer));
        p.writeback.start(Arc::new(pipe), Arc::from(dir.join("pipe").as_path()));
        wait_for_writeback(&p);
        let err = p.sync().expect_err("the writeback failed");
        assert!(matches!(&err, LogError::Io { op: "write back (fdatasync)", path, .. } if path.ends_with("pipe")), "{err}");
        p.sync().expect("reported once");
        let _ = fs::remove_dir_all(&dir);
    }
}
