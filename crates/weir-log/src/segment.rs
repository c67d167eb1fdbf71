//! One segment file: scanning it (with torn-tail recovery), its sparse index, walking its
//! frames.
//!
//! A segment is named by its base offset (`{base:020}.log`) and holds frames in strictly
//! increasing offset order, all `>= base` and below the next segment's base. Only the last
//! segment of a partition (the *active* one) is ever appended to; the others (*closed*) change
//! only by being replaced whole (compaction) or deleted (retention).
//!
//! Invariants: `size` is the byte length of the good frames, which is the file's length once
//! `open` returns; the sparse index holds `(offset, position)` for the first frame and then
//! for the first frame at least [`INDEX_INTERVAL`] bytes after the previous entry, so a
//! lookup lands at most one interval (plus one record) before the wanted offset.

use std::fs::{File, OpenOptions};
use std::io::ErrorKind;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::error::{LogError, RecoveryEvent, Result, io_err};
use super::fsutil::read_exact_at;
use super::record::{FORMAT_VERSION, FRAME_HEADER, Frame, FrameView, parse_frame};

/// Bytes between two entries of the sparse index.
pub(crate) const INDEX_INTERVAL: u64 = 4096;
/// Read size when scanning whole segments.
pub(crate) const SCAN_CHUNK: usize = 1 << 20;

/// The file name of the segment starting at `base`.
pub(crate) fn segment_file_name(base: u64) -> String {
    format!("{base:020}.log")
}

/// Parses a 20-digit offset, as used in segment and compaction file names.
pub(crate) fn parse_offset_name(s: &str) -> Option<u64> {
    (s.len() == 20 && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok()).flatten()
}

/// Facts about one segment, for `describe`-like views and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentInfo {
    /// The first offset this segment may hold (its file name).
    pub base_offset: u64,
    /// Offset of its last record, if it has any.
    pub last_offset: Option<u64>,
    /// Number of records (fewer than the offset span after compaction).
    pub records: u64,
    /// Bytes on disk.
    pub size_bytes: u64,
    /// Largest record timestamp, if it has records (retention by time uses it).
    pub max_timestamp: Option<i64>,
    /// The segment file.
    pub file: PathBuf,
}

pub(crate) struct Segment {
    pub base: u64,
    pub path: Arc<Path>,
    pub file: Arc<File>,
    pub size: u64,
    pub records: u64,
    pub last_offset: Option<u64>,
    pub max_timestamp: Option<i64>,
    index: Vec<(u64, u64)>,
}

/// How a [`walk`] ended.
#[derive(Debug)]
pub(crate) enum WalkEnd {
    /// The callback asked to stop.
    Stopped,
    /// All frames up to the end were good.
    End,
    /// The frame at `position` is incomplete or invalid.
    Bad { position: u64, reason: String },
}

/// Calls `f(position, frame, raw_bytes)` for each good frame in `start..end` of `file`,
/// reading `chunk` bytes at a time.
pub(crate) fn walk(
    file: &File,
    path: &Path,
    start: u64,
    end: u64,
    chunk: usize,
    mut f: impl FnMut(u64, FrameView<'_>, &[u8]) -> Result<ControlFlow<()>>,
) -> Result<WalkEnd> {
    let mut buf: Vec<u8> = Vec::new();
    let mut buf_pos = start; // file position of buf[0]
    let mut idx = 0usize; // next frame in buf
    let mut read_to = start; // file position after the last byte in buf
    loop {
        let pos = buf_pos + idx as u64;
        match parse_frame(&buf[idx..]) {
            Frame::Complete { view, len } => {
                if f(pos, view, &buf[idx..idx + len])?.is_break() {
                    return Ok(WalkEnd::Stopped);
                }
                idx += len;
            }
            Frame::Incomplete { needed } => {
                if read_to >= end {
                    if idx == buf.len() {
                        return Ok(WalkEnd::End);
                    }
                    let reason = match needed {
                        Some(n) => format!("record of {n} bytes cut off after {} bytes", buf.len() - idx),
                        None => format!("{} bytes at the end are too few for a record header", buf.len() - idx),
                    };
                    return Ok(WalkEnd::Bad { position: pos, reason });
                }
                buf.drain(..idx);
                buf_pos = pos;
                idx = 0;
                let want = needed.unwrap_or(FRAME_HEADER).saturating_sub(buf.len()).max(chunk);
                let n = (want as u64).min(end - read_to) as usize;
                let old = buf.len();
                buf.resize(old + n, 0);
                read_exact_at(file, &mut buf[old..], read_to).map_err(io_err("read", path))?;
                read_to += n as u64;
            }
            Frame::Invalid { reason } => return Ok(WalkEnd::Bad { position: pos, reason }),
        }
    }
}

/// The first position after `from` in `file[..len]` where a good frame with an offset of at
/// least `min_offset` starts: proof that damage at `from` is not a torn tail.
fn valid_frame_after(file: &File, path: &Path, from: u64, len: u64, min_offset: u64) -> Result<Option<u64>> {
    let start = from + 1;
    if start >= len {
        return Ok(None);
    }
    let mut tail = vec![0u8; (len - start) as usize];
    read_exact_at(file, &mut tail, start).map_err(io_err("read", path))?;
    for q in 0..tail.len() {
        // Cheap filter before the CRC: the version byte must be where a body starts.
        if tail.get(q + FRAME_HEADER) != Some(&FORMAT_VERSION) {
            continue;
        }
        if let Frame::Complete { view, .. } = parse_frame(&tail[q..])
            && view.offset >= min_offset
        {
            return Ok(Some(start + q as u64));
        }
    }
    Ok(None)
}

impl Segment {
    fn empty(base: u64, path: PathBuf, file: File) -> Segment {
        Segment {
            base,
            path: path.into(),
            file: Arc::new(file),
            size: 0,
            records: 0,
            last_offset: None,
            max_timestamp: None,
            index: Vec::new(),
        }
    }

    /// Creates a new, empty segment file in `dir`; fails if it exists.
    pub fn create(dir: &Path, base: u64) -> Result<Segment> {
        let path = dir.join(segment_file_name(base));
        let file = OpenOptions::new().read(true).append(true).create_new(true).open(&path).map_err(io_err("create segment", &path))?;
        Ok(Segment::empty(base, path, file))
    }

    /// Opens and scans an existing segment, checking every frame. In the `last` segment a bad
    /// frame with nothing valid after it is a torn tail: the file is cut there and the cut is
    /// reported in `events`. Any other bad frame is [`LogError::Corrupt`].
    pub fn open(path: &Path, base: u64, last: bool, events: &mut Vec<RecoveryEvent>) -> Result<Segment> {
        let file = OpenOptions::new().read(true).append(true).open(path).map_err(io_err("open segment", path))?;
        let len = file.metadata().map_err(io_err("stat", path))?.len();
        let mut seg = Segment::empty(base, path.to_path_buf(), file);
        let file = Arc::clone(&seg.file);
        let end = walk(&file, path, 0, len, SCAN_CHUNK, |pos, view, raw| {
            let min = seg.last_offset.map_or(base, |o| o + 1);
            if view.offset < min {
                return Err(LogError::Corrupt {
                    path: path.to_path_buf(),
                    position: pos,
                    reason: format!("record offset {} is out of order (expected at least {min})", view.offset),
                });
            }
            seg.note(view.offset, view.timestamp, pos, raw.len());
            Ok(ControlFlow::Continue(()))
        })?;
        if let WalkEnd::Bad { position, reason } = end {
            let min_offset = seg.last_offset.map_or(base, |o| o + 1);
            if !last {
                return Err(LogError::Corrupt { path: path.to_path_buf(), position, reason: format!("{reason} (in a closed segment)") });
            }
            if let Some(next) = valid_frame_after(&file, path, position, len, min_offset)? {
                return Err(LogError::Corrupt {
                    path: path.to_path_buf(),
                    position,
                    reason: format!(
                        "{reason}; valid records follow at byte {next}, so this is damage, not a torn write \
                         (truncating the file at byte {position} would drop them)"
                    ),
                });
            }
            file.set_len(position).map_err(io_err("truncate torn tail of", path))?;
            file.sync_all().map_err(io_err("fsync", path))?;
            events.push(RecoveryEvent::TruncatedTornTail {
                file: path.to_path_buf(),
                valid_bytes: position,
                discarded_bytes: len - position,
            });
        }
        Ok(seg)
    }

    /// Records a frame of `len` bytes at `pos` (appended or scanned).
    pub fn note(&mut self, offset: u64, timestamp: i64, pos: u64, len: usize) {
        if self.index.last().is_none_or(|&(_, p)| pos >= p + INDEX_INTERVAL) {
            self.index.push((offset, pos));
        }
        self.records += 1;
        self.last_offset = Some(offset);
        self.max_timestamp = Some(self.max_timestamp.map_or(timestamp, |t| t.max(timestamp)));
        self.size = self.size.max(pos + len as u64);
    }

    /// A file position at or before the frame of the first record with an offset `>= offset`.
    pub fn position_for(&self, offset: u64) -> u64 {
        match self.index.partition_point(|&(o, _)| o <= offset) {
            0 => 0,
            i => self.index[i - 1].1,
        }
    }

    /// The offset after this segment's last record (its base if it has none).
    pub fn next_offset(&self) -> u64 {
        self.last_offset.map_or(self.base, |o| o + 1)
    }

    pub fn info(&self) -> SegmentInfo {
        SegmentInfo {
            base_offset: self.base,
            last_offset: self.last_offset,
            records: self.records,
            size_bytes: self.size,
            max_timestamp: self.max_timestamp,
            file: self.path.to_path_buf(),
        }
    }
}

/// Whether an I/O error means "already gone" (fine when deleting).
pub(crate) fn is_not_found(e: &std::io::Error) -> bool {
    e.kind() == ErrorKind::NotFound
}
