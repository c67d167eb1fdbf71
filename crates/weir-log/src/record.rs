//! Records and their frame on disk.
//!
//! Owns the byte layout of one record (see the format table in [the crate doc](crate)) and nothing
//! else: encoding a [`NewRecord`] at a given offset, and checking and decoding a frame back
//! into a borrowed [`FrameView`] or an owned [`StoredRecord`].
//!
//! Invariants: a frame that [`parse_frame`] accepts has a matching CRC32 and a body whose
//! fields exactly fill its length (no trailing bytes, header keys are UTF-8), so converting a
//! view into an owned record cannot fail. The encoder and [`FrameSize::size_bytes`] agree
//! byte for byte; `max_bytes` in reads counts these sizes.

pub use weir_engine::broker::{NewRecord, StoredRecord};

/// Bytes before the body: `u32` body length, `u32` CRC32 of the body.
pub(crate) const FRAME_HEADER: usize = 8;
/// The format version byte that starts every body.
pub(crate) const FORMAT_VERSION: u8 = 1;
/// Smallest valid body: version, offset, timestamp, two null lengths, zero headers.
pub(crate) const MIN_BODY: usize = 1 + 8 + 8 + 4 + 4 + 4;
/// Largest body accepted on append and on read (64 MiB). A length above it in a file is
/// treated as damage, which also bounds what a corrupt length can make us allocate.
pub const MAX_RECORD_BYTES: usize = 64 * 1024 * 1024;

fn body_len(key: Option<&[u8]>, value: Option<&[u8]>, headers: &[(String, Vec<u8>)]) -> usize {
    MIN_BODY + key.map_or(0, <[u8]>::len) + value.map_or(0, <[u8]>::len) + headers.iter().map(|(k, v)| 8 + k.len() + v.len()).sum::<usize>()
}

/// A record's size on disk, frame included: what `max_bytes` in reads and `segment_bytes`
/// count. [`NewRecord`] and [`StoredRecord`] of the same record agree.
pub trait FrameSize {
    fn size_bytes(&self) -> usize;
}

impl FrameSize for NewRecord {
    fn size_bytes(&self) -> usize {
        FRAME_HEADER + body_len(self.key.as_deref(), self.value.as_deref(), &self.headers)
    }
}

impl FrameSize for StoredRecord {
    fn size_bytes(&self) -> usize {
        FRAME_HEADER + body_len(self.key.as_deref(), self.value.as_deref(), &self.headers)
    }
}

fn put_opt(buf: &mut Vec<u8>, bytes: Option<&[u8]>) {
    match bytes {
        // Lengths fit: the caller checked the body against MAX_RECORD_BYTES (< i32::MAX).
        Some(b) => {
            buf.extend_from_slice(&(b.len() as i32).to_le_bytes());
            buf.extend_from_slice(b);
        }
        None => buf.extend_from_slice(&(-1i32).to_le_bytes()),
    }
}

/// Appends the frame of `rec` at `offset` to `buf`; returns the frame's length. The caller
/// has checked `rec.size_bytes() - FRAME_HEADER <= MAX_RECORD_BYTES`.
pub(crate) fn encode_frame(buf: &mut Vec<u8>, offset: u64, rec: &NewRecord) -> usize {
    let start = buf.len();
    buf.extend_from_slice(&[0u8; FRAME_HEADER]);
    let body_start = buf.len();
    buf.push(FORMAT_VERSION);
    buf.extend_from_slice(&offset.to_le_bytes());
    buf.extend_from_slice(&rec.timestamp.to_le_bytes());
    put_opt(buf, rec.key.as_deref());
    put_opt(buf, rec.value.as_deref());
    buf.extend_from_slice(&(rec.headers.len() as u32).to_le_bytes());
    for (k, v) in &rec.headers {
        buf.extend_from_slice(&(k.len() as u32).to_le_bytes());
        buf.extend_from_slice(k.as_bytes());
        buf.extend_from_slice(&(v.len() as u32).to_le_bytes());
        buf.extend_from_slice(v);
    }
    let len = buf.len() - body_start;
    let crc = crc32fast::hash(&buf[body_start..]);
    buf[start..start + 4].copy_from_slice(&(len as u32).to_le_bytes());
    buf[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
    buf.len() - start
}

/// A checked frame, borrowing the buffer it was read from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FrameView<'a> {
    pub offset: u64,
    pub timestamp: i64,
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
    header_count: u32,
    headers: &'a [u8],
}

impl FrameView<'_> {
    pub fn to_record(self) -> StoredRecord {
        let mut headers = Vec::with_capacity(self.header_count as usize);
        let mut cur = Cursor { buf: self.headers, pos: 0 };
        for _ in 0..self.header_count {
            // Validated by parse_frame: lengths fit and keys are UTF-8.
            let k = cur.bytes_u32().unwrap_or_default();
            let v = cur.bytes_u32().unwrap_or_default();
            headers.push((String::from_utf8_lossy(k).into_owned(), v.to_vec()));
        }
        StoredRecord {
            offset: self.offset,
            timestamp: self.timestamp,
            key: self.key.map(<[u8]>::to_vec),
            value: self.value.map(<[u8]>::to_vec),
            headers,
        }
    }
}

/// What [`parse_frame`] found at the start of a buffer.
#[derive(Debug)]
pub(crate) enum Frame<'a> {
    /// A good frame of `len` bytes (header included).
    Complete { view: FrameView<'a>, len: usize },
    /// The buffer ends inside the frame; `needed` is the full frame length when the header
    /// was readable.
    Incomplete { needed: Option<usize> },
    /// Not a valid frame.
    Invalid { reason: String },
}

struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }
    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }
    fn opt_bytes(&mut self) -> Option<Option<&'a [u8]>> {
        let len = i32::from_le_bytes(self.array()?);
        match len {
            -1 => Some(None),
            n if n < 0 => None,
            n => self.take(n as usize).map(Some),
        }
    }
    fn bytes_u32(&mut self) -> Option<&'a [u8]> {
        let len = u32::from_le_bytes(self.array()?);
        self.take(len as usize)
    }
}

/// Checks and decodes the frame at the start of `buf`.
pub(crate) fn parse_frame(buf: &[u8]) -> Frame<'_> {
    let Some(header) = buf.get(..FRAME_HEADER) else { return Frame::Incomplete { needed: None } };
    let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
    let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    if !(MIN_BODY..=MAX_RECORD_BYTES).contains(&len) {
        return Frame::Invalid { reason: format!("frame length {len} is outside {MIN_BODY}..={MAX_RECORD_BYTES}") };
    }
    let Some(body) = buf.get(FRAME_HEADER..FRAME_HEADER + len) else {
        return Frame::Incomplete { needed: Some(FRAME_HEADER + len) };
    };
    let actual = crc32fast::hash(body);
    if actual != crc {
        return Frame::Invalid { reason: format!("CRC mismatch (stored {crc:08x}, computed {actual:08x})") };
    }
    match parse_body(body) {
        Some(view) => Frame::Complete { view, len: FRAME_HEADER + len },
        None => Frame::Invalid { reason: "malformed record body (CRC matches: written by an incompatible version?)".into() },
    }
}

fn parse_body(body: &[u8]) -> Option<FrameView<'_>> {
    let mut cur = Cursor { buf: body, pos: 0 };
    if cur.array::<1>()?[0] != FORMAT_VERSION {
        return None;
    }
    let offset = u64::from_le_bytes(cur.array()?);
    let timestamp = i64::from_le_bytes(cur.array()?);
    let key = cur.opt_bytes()?;
    let value = cur.opt_bytes()?;
    let header_count = u32::from_le_bytes(cur.array()?);
    let headers_start = cur.pos;
    for _ in 0..header_count {
        std::str::from_utf8(cur.bytes_u32()?).ok()?;
        cur.bytes_u32()?;
    }
    if cur.pos != body.len() {
        return None;
    }
    Some(FrameView { offset, timestamp, key, value, header_count, headers: &body[headers_start..] })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_parse_round_trip_and_sizes_agree() {
        let rec = NewRecord {
            timestamp: -5,
            key: Some(b"k".to_vec()),
            value: None,
            headers: vec![("h".into(), b"v1".to_vec()), ("h".into(), Vec::new())],
        };
        let mut buf = Vec::new();
        let n = encode_frame(&mut buf, 42, &rec);
        assert_eq!(n, rec.size_bytes());
        assert_eq!(buf.len(), n);
        match parse_frame(&buf) {
            Frame::Complete { view, len } => {
                assert_eq!(len, n);
                assert_eq!(view.to_record(), rec.at_offset(42));
            }
            other => panic!("expected a frame, got {other:?}"),
        }
        for cut in 0..n {
            assert!(matches!(parse_frame(&buf[..cut]), Frame::Incomplete { .. }), "cut at {cut}");
        }
        for i in 0..n {
            let mut bad = buf.clone();
            bad[i] ^= 0x10;
            assert!(!matches!(parse_frame(&bad), Frame::Complete { .. }), "flip at {i}");
        }
    }
}
