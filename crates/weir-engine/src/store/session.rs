//! The session store on bytes: Kafka Streams' `InMemorySessionStore`.
//!
//! A session is a key with a window `[start, end]` (both inclusive; a session of one record
//! has `start == end`). Sessions are kept by end time, then key (byte order), then start time.
//! The store tracks the *observed stream time* (the highest session end put, initially -1)
//! and keeps sessions that end after `streamTime - retention`:
//!
//! - a put of a session that ended earlier is dropped; a null value removes the session;
//! - `findSessions(keyFrom, keyTo, earliestSessionEndTime, latestSessionStartTime)` gives the
//!   sessions with `end >= earliestSessionEndTime` and `start <= latestSessionStartTime`
//!   (those that overlap or touch that span: what session windowing merges), in end time,
//!   then key, then start order (all three reversed by the backward variants);
//! - `fetch(key)` / `fetch(keyFrom, keyTo)` are `findSessions` over all time;
//! - `fetchSession(key, start, end)` is the value of that exact session.

use std::collections::BTreeMap;
use std::ops::Bound;

/// One entry of a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionEntry {
    pub key: Vec<u8>,
    pub start: i64,
    pub end: i64,
    pub value: Vec<u8>,
}

type Sessions = BTreeMap<Vec<u8>, BTreeMap<i64, Vec<u8>>>;

#[derive(Debug, Clone)]
pub struct SessionBytes {
    retention: i64,
    observed: i64,
    /// End time → key → start time → value.
    by_end: BTreeMap<i64, Sessions>,
}

impl SessionBytes {
    pub fn new(retention_ms: u64) -> SessionBytes {
        SessionBytes { retention: i64::try_from(retention_ms).unwrap_or(i64::MAX), observed: -1, by_end: BTreeMap::new() }
    }

    pub fn observed_stream_time(&self) -> i64 {
        self.observed
    }

    fn remove_expired(&mut self) {
        let min_live = self.observed.saturating_sub(self.retention).saturating_add(1).max(0);
        self.by_end = self.by_end.split_off(&min_live);
    }

    /// Puts a session's value (`None` removes the session). False when the session had
    /// already expired and nothing changed.
    pub fn put(&mut self, key: &[u8], start: i64, end: i64, value: Option<Vec<u8>>) -> bool {
        self.remove_expired();
        self.observed = self.observed.max(end);
        if end <= self.observed.saturating_sub(self.retention) {
            tracing::debug!("session store: skipping a record for an expired session ending at {end}");
            return false;
        }
        match value {
            Some(value) => {
                self.by_end.entry(end).or_default().entry(key.to_vec()).or_default().insert(start, value);
            }
            None => {
                self.remove(key, start, end);
            }
        }
        true
    }

    /// Removes a session; true when there was one.
    pub fn remove(&mut self, key: &[u8], start: i64, end: i64) -> bool {
        let Some(keys) = self.by_end.get_mut(&end) else { return false };
        let mut removed = false;
        if let Some(starts) = keys.get_mut(key) {
            removed = starts.remove(&start).is_some();
            if starts.is_empty() {
                keys.remove(key);
            }
        }
        if keys.is_empty() {
            self.by_end.remove(&end);
        }
        removed
    }

    pub fn fetch_session(&mut self, key: &[u8], start: i64, end: i64) -> Option<Vec<u8>> {
        self.remove_expired();
        self.by_end.get(&end)?.get(key)?.get(&start).cloned()
    }

    /// The sessions of keys in `[key_from, key_to]` (`None`: unbounded) ending at or after
    /// `earliest_end` and starting at or before `latest_start`.
    pub fn find(
        &mut self,
        key_from: Option<&[u8]>,
        key_to: Option<&[u8]>,
        earliest_end: i64,
        latest_start: i64,
        backward: bool,
    ) -> Vec<SessionEntry> {
        self.remove_expired();
        if let (Some(f), Some(t)) = (key_from, key_to)
            && f > t
        {
            return Vec::new();
        }
        let lower = key_from.map_or(Bound::Unbounded, Bound::Included);
        let upper = key_to.map_or(Bound::Unbounded, Bound::Included);
        let mut out = Vec::new();
        let mut ends: Vec<(&i64, &Sessions)> = self.by_end.range(earliest_end..).collect();
        if backward {
            ends.reverse();
        }
        for (&end, keys) in ends {
            let mut keys: Vec<_> = keys.range::<[u8], _>((lower, upper)).collect();
            if backward {
                keys.reverse();
            }
            for (key, starts) in keys {
                let mut starts: Vec<_> = starts.range(..=latest_start).collect();
                if backward {
                    starts.reverse();
                }
                out.extend(starts.into_iter().map(|(&start, value)| SessionEntry { key: key.clone(), start, end, value: value.clone() }));
            }
        }
        out
    }

    /// The number of sessions kept.
    pub fn len(&self) -> usize {
        self.by_end.values().flat_map(BTreeMap::values).map(BTreeMap::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.by_end.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spans(entries: &[SessionEntry]) -> Vec<(String, i64, i64)> {
        entries.iter().map(|e| (String::from_utf8(e.key.clone()).expect("utf8"), e.start, e.end)).collect()
    }

    fn owned(v: &[(&str, i64, i64)]) -> Vec<(String, i64, i64)> {
        v.iter().map(|(k, s, e)| (k.to_string(), *s, *e)).collect()
    }

    fn store() -> SessionBytes {
        let mut s = SessionBytes::new(10_000);
        s.put(b"a", 0, 100, Some(b"a1".to_vec()));
        s.put(b"a", 300, 400, Some(b"a2".to_vec()));
        s.put(b"b", 50, 100, Some(b"b1".to_vec()));
        s.put(b"b", 500, 500, Some(b"b2".to_vec()));
        s
    }

    #[test]
    fn find_sessions_gives_those_that_overlap_or_touch_the_span() {
        let mut s = store();
        // Merging a record at 250 with a gap of 150: sessions ending >= 100 and starting <= 400.
        assert_eq!(spans(&s.find(Some(b"a"), Some(b"a"), 100, 400, false)), owned(&[("a", 0, 100), ("a", 300, 400)]));
        assert_eq!(spans(&s.find(Some(b"a"), Some(b"a"), 101, 400, false)), owned(&[("a", 300, 400)]));
        assert_eq!(spans(&s.find(Some(b"a"), Some(b"a"), 100, 299, false)), owned(&[("a", 0, 100)]));
        // End time first, then key.
        assert_eq!(
            spans(&s.find(None, None, 0, i64::MAX, false)),
            owned(&[("a", 0, 100), ("b", 50, 100), ("a", 300, 400), ("b", 500, 500)])
        );
        assert_eq!(
            spans(&s.find(None, None, 0, i64::MAX, true)),
            owned(&[("b", 500, 500), ("a", 300, 400), ("b", 50, 100), ("a", 0, 100)])
        );
        assert!(s.find(Some(b"b"), Some(b"a"), 0, i64::MAX, false).is_empty());
    }

    #[test]
    fn exact_sessions_and_removal() {
        let mut s = store();
        assert_eq!(s.fetch_session(b"a", 300, 400), Some(b"a2".to_vec()));
        assert_eq!(s.fetch_session(b"a", 300, 401), None);
        s.remove(b"a", 300, 400);
        assert_eq!(s.fetch_session(b"a", 300, 400), None);
        s.put(b"b", 50, 100, None);
        assert_eq!(spans(&s.find(None, None, 0, i64::MAX, false)), owned(&[("a", 0, 100), ("b", 500, 500)]));
        assert_eq!(s.len(), 2);
    }

    #[test]
    fn retention_drops_sessions_that_ended_long_ago() {
        let mut s = SessionBytes::new(1000);
        s.put(b"k", 0, 10, Some(b"old".to_vec()));
        s.put(b"k", 900, 1010, Some(b"new".to_vec()));
        // Stream time 1010: sessions ending at or before 10 are gone.
        assert_eq!(spans(&s.find(None, None, 0, i64::MAX, false)), owned(&[("k", 900, 1010)]));
        assert!(!s.put(b"k", 0, 5, Some(b"late".to_vec())));
    }
}
