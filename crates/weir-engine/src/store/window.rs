//! The window store on bytes: Kafka Streams' `InMemoryWindowStore`.
//!
//! Values are kept per window start time, then per serialized key (byte order). The store
//! tracks the *observed stream time* (the highest window start put, initially -1) and keeps
//! windows that start after `streamTime - retention`:
//!
//! - a put into an older window is dropped (Kafka Streams logs "Skipping record for expired
//!   segment"); a null value deletes (a no-op with `retainDuplicates`);
//! - with `retainDuplicates`, every put is kept beside the others with the same key and
//!   window, numbered in put order (Kafka Streams' sequence number), and `fetch(key, time)`
//!   finds none of them, as there;
//! - range queries take windows starting in `[max(timeFrom, streamTime - retention + 1),
//!   timeTo]`, in window start order, then key order (reversed by the backward ones).
//!
//! A timestamped window store keeps each value's timestamp beside it.

use std::collections::BTreeMap;
use std::ops::Bound;

use super::keyvalue::StampedBytes;

/// One window's values: (key, sequence number) → value.
type Segment = BTreeMap<(Vec<u8>, u32), StampedBytes>;

#[derive(Debug, Clone)]
pub struct WindowBytes {
    retention: i64,
    window_size: i64,
    retain_duplicates: bool,
    observed: i64,
    seq: u32,
    /// Window start → (key, sequence number) → value.
    segments: BTreeMap<i64, Segment>,
}

/// One entry of a range query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowEntry {
    pub key: Vec<u8>,
    pub start: i64,
    pub seq: u32,
    pub value: StampedBytes,
}

impl WindowBytes {
    pub fn new(retention_ms: u64, window_size_ms: u64, retain_duplicates: bool) -> WindowBytes {
        WindowBytes {
            retention: i64::try_from(retention_ms).unwrap_or(i64::MAX),
            window_size: i64::try_from(window_size_ms).unwrap_or(i64::MAX),
            retain_duplicates,
            observed: -1,
            seq: 0,
            segments: BTreeMap::new(),
        }
    }

    pub fn window_size(&self) -> i64 {
        self.window_size
    }

    pub fn observed_stream_time(&self) -> i64 {
        self.observed
    }

    /// The earliest window start still kept.
    fn min_live(&self) -> i64 {
        self.observed.saturating_sub(self.retention).saturating_add(1).max(0)
    }

    fn remove_expired(&mut self) {
        let min_live = self.min_live();
        self.segments = self.segments.split_off(&min_live);
    }

    /// Puts a value (`None` deletes) into the window starting at `window_start`. Returns the
    /// sequence number it was stored under, or `None` when nothing changed (an expired
    /// window, or a delete with `retainDuplicates`).
    pub fn put(&mut self, key: &[u8], value: Option<StampedBytes>, window_start: i64) -> Option<u32> {
        self.remove_expired();
        self.observed = self.observed.max(window_start);
        if window_start <= self.observed.saturating_sub(self.retention) {
            tracing::debug!("window store: skipping a record for an expired window starting at {window_start}");
            return None;
        }
        match value {
            Some(value) => {
                let seq = if self.retain_duplicates {
                    self.seq = (self.seq + 1) & 0x7fff_ffff;
                    self.seq
                } else {
                    0
                };
                self.segments.entry(window_start).or_default().insert((key.to_vec(), seq), value);
                Some(seq)
            }
            None if self.retain_duplicates => None,
            None => {
                let segment = self.segments.get_mut(&window_start)?;
                segment.remove(&(key.to_vec(), 0));
                if segment.is_empty() {
                    self.segments.remove(&window_start);
                }
                Some(0)
            }
        }
    }

    /// Restores a changelog record: the value under its sequence number, as it was put.
    pub fn restore(&mut self, key: &[u8], value: Option<StampedBytes>, window_start: i64, seq: u32) {
        self.remove_expired();
        self.observed = self.observed.max(window_start);
        if window_start <= self.observed.saturating_sub(self.retention) {
            return;
        }
        self.seq = self.seq.max(seq);
        match value {
            Some(value) => {
                self.segments.entry(window_start).or_default().insert((key.to_vec(), seq), value);
            }
            None => {
                if let Some(segment) = self.segments.get_mut(&window_start) {
                    segment.remove(&(key.to_vec(), seq));
                    if segment.is_empty() {
                        self.segments.remove(&window_start);
                    }
                }
            }
        }
    }

    /// The value of `key` in the window starting exactly at `window_start`.
    pub fn fetch(&mut self, key: &[u8], window_start: i64) -> Option<StampedBytes> {
        self.remove_expired();
        if window_start <= self.observed.saturating_sub(self.retention) || self.retain_duplicates {
            return None;
        }
        self.segments.get(&window_start)?.get(&(key.to_vec(), 0)).cloned()
    }

    /// Entries with keys in `[key_from, key_to]` (`None`: unbounded) in windows starting in
    /// `[time_from, time_to]`.
    pub fn range(
        &mut self,
        key_from: Option<&[u8]>,
        key_to: Option<&[u8]>,
        time_from: i64,
        time_to: i64,
        backward: bool,
    ) -> Vec<WindowEntry> {
        self.remove_expired();
        if let (Some(f), Some(t)) = (key_from, key_to)
            && f > t
        {
            return Vec::new();
        }
        let min_time = time_from.max(self.min_live());
        if time_to < min_time {
            return Vec::new();
        }
        let lower = key_from.map_or(Bound::Unbounded, |k| Bound::Included((k.to_vec(), 0)));
        let upper = key_to.map_or(Bound::Unbounded, |k| Bound::Included((k.to_vec(), u32::MAX)));
        let mut out = Vec::new();
        let mut segments: Vec<(&i64, &Segment)> = self.segments.range(min_time..=time_to).collect();
        if backward {
            segments.reverse();
        }
        for (&start, segment) in segments {
            let mut entries: Vec<_> = segment.range((lower.clone(), upper.clone())).collect();
            if backward {
                entries.reverse();
            }
            out.extend(entries.into_iter().map(|((key, seq), value)| WindowEntry {
                key: key.clone(),
                start,
                seq: *seq,
                value: value.clone(),
            }));
        }
        out
    }

    /// The number of entries kept.
    pub fn len(&self) -> usize {
        self.segments.values().map(BTreeMap::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.segments.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Option<StampedBytes> {
        Some(StampedBytes { value: s.as_bytes().to_vec(), timestamp: 0 })
    }

    fn keys_and_starts(entries: &[WindowEntry]) -> Vec<(String, i64)> {
        entries.iter().map(|e| (String::from_utf8(e.key.clone()).expect("utf8"), e.start)).collect()
    }

    fn owned(pairs: &[(&str, i64)]) -> Vec<(String, i64)> {
        pairs.iter().map(|(k, t)| (k.to_string(), *t)).collect()
    }

    #[test]
    fn ranges_go_by_window_start_then_key() {
        let mut w = WindowBytes::new(10_000, 100, false);
        w.put(b"b", v("b0"), 0);
        w.put(b"a", v("a100"), 100);
        w.put(b"a", v("a0"), 0);
        w.put(b"c", v("c100"), 100);
        let all = w.range(None, None, 0, i64::MAX, false);
        assert_eq!(keys_and_starts(&all), owned(&[("a", 0), ("b", 0), ("a", 100), ("c", 100)]));
        let back = w.range(None, None, 0, i64::MAX, true);
        assert_eq!(keys_and_starts(&back), owned(&[("c", 100), ("a", 100), ("b", 0), ("a", 0)]));
        assert_eq!(keys_and_starts(&w.range(Some(b"a"), Some(b"b"), 0, 99, false)), owned(&[("a", 0), ("b", 0)]));
        assert_eq!(keys_and_starts(&w.range(Some(b"a"), Some(b"a"), 0, 100, false)), owned(&[("a", 0), ("a", 100)]));
        assert!(w.range(Some(b"c"), Some(b"a"), 0, 100, false).is_empty());
        assert_eq!(w.fetch(b"a", 100), v("a100"));
        assert_eq!(w.fetch(b"a", 50), None);
    }

    #[test]
    fn retention_drops_old_windows() {
        let mut w = WindowBytes::new(1000, 100, false);
        w.put(b"k", v("0"), 0);
        w.put(b"k", v("500"), 500);
        w.put(b"k", v("1000"), 1000);
        // Stream time 1000: windows starting at or before 0 are gone.
        assert_eq!(w.fetch(b"k", 0), None);
        assert_eq!(keys_and_starts(&w.range(None, None, 0, 2000, false)), owned(&[("k", 500), ("k", 1000)]));
        assert_eq!(w.put(b"k", v("late"), 0), None, "expired window");
        w.put(b"k", v("1600"), 1600);
        assert_eq!(keys_and_starts(&w.range(None, None, 0, 2000, false)), owned(&[("k", 1000), ("k", 1600)]));
    }

    #[test]
    fn zero_retention_keeps_nothing() {
        let mut w = WindowBytes::new(0, 0, false);
        assert_eq!(w.put(b"k", v("x"), 5), None);
        assert!(w.is_empty());
    }

    #[test]
    fn duplicates_are_kept_in_put_order() {
        let mut w = WindowBytes::new(1000, 10, true);
        w.put(b"k", v("1"), 0);
        w.put(b"k", v("2"), 0);
        w.put(b"j", v("3"), 0);
        let values: Vec<Vec<u8>> = w.range(Some(b"k"), Some(b"k"), 0, 0, false).into_iter().map(|e| e.value.value).collect();
        assert_eq!(values, vec![b"1".to_vec(), b"2".to_vec()]);
        assert_eq!(w.fetch(b"k", 0), None, "a point fetch finds no duplicate");
        assert_eq!(w.put(b"k", None, 0), None, "deleting is a no-op with duplicates");
        assert_eq!(w.len(), 3);
    }

    /// Random puts and range queries (fixed seed) against a naive model: a map of (start, key)
    /// → value, where windows at or before `streamTime - retention` are gone.
    #[test]
    fn random_operations_agree_with_a_model() {
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for retention in [1u64, 30, 1000] {
            let mut store = WindowBytes::new(retention, 10, false);
            let mut model: std::collections::BTreeMap<(i64, Vec<u8>), Vec<u8>> = std::collections::BTreeMap::new();
            let mut observed = -1i64;
            for _ in 0..3000 {
                let key = vec![next(5) as u8];
                let start = next(300) as i64;
                if next(3) > 0 {
                    let value = (next(6) > 0).then(|| vec![next(256) as u8]);
                    store.put(&key, value.clone().map(|value| StampedBytes { value, timestamp: 0 }), start);
                    observed = observed.max(start);
                    if start > observed - retention as i64 {
                        match value {
                            Some(v) => model.insert((start, key), v),
                            None => model.remove(&(start, key)),
                        };
                    }
                    model.retain(|(s, _), _| *s > observed - retention as i64);
                } else {
                    let (from, to) = (next(300) as i64, next(300) as i64);
                    let (k1, k2) = (next(5) as u8, next(5) as u8);
                    let backward = next(2) == 0;
                    let got: Vec<(i64, Vec<u8>, Vec<u8>)> = store
                        .range(Some(&[k1]), Some(&[k2]), from, to, backward)
                        .into_iter()
                        .map(|e| (e.start, e.key, e.value.value))
                        .collect();
                    let mut expected: Vec<(i64, Vec<u8>, Vec<u8>)> = model
                        .iter()
                        .filter(|((s, k), _)| *s >= from && *s <= to && k[0] >= k1 && k[0] <= k2)
                        .map(|((s, k), v)| (*s, k.clone(), v.clone()))
                        .collect();
                    if backward {
                        expected.reverse();
                    }
                    assert_eq!(got, expected, "keys {k1}..={k2}, windows {from}..={to}, stream time {observed}");
                }
            }
        }
    }

    #[test]
    fn a_null_value_deletes() {
        let mut w = WindowBytes::new(1000, 10, false);
        w.put(b"k", v("1"), 0);
        w.put(b"k", v("2"), 0);
        assert_eq!(w.fetch(b"k", 0), v("2"));
        w.put(b"k", None, 0);
        assert!(w.is_empty());
    }
}
