//! The versioned key-value store on bytes: Kafka Streams' `VersionedKeyValueStore` semantics
//! (its `RocksDBVersionedStore`), kept in memory.
//!
//! Each key has a history of versions, each valid from its timestamp until the next
//! version's (the latest: until further notice). A delete is a version without value (a
//! tombstone). The store tracks the *observed stream time* (the highest timestamp put so
//! far, initially -1) and answers for the last `historyRetention` of it:
//!
//! - `put(key, value, ts)` with `ts < streamTime - historyRetention` is dropped and returns
//!   [`PUT_NOT_PUT`]; otherwise it inserts the version (replacing one with the same
//!   timestamp) and returns the new version's `validTo`: the next version's timestamp, or
//!   [`PUT_VALID_TO_UNDEFINED`] when it is the latest.
//! - `get(key)` is the latest version unless that is a tombstone.
//! - `get(key, asOf)` is the version valid at `asOf` (`validFrom <= asOf < validTo`), with
//!   its `validTo` unless it is the latest; nothing when that version is a tombstone or
//!   `asOf < streamTime - historyRetention`.
//! - `delete(key, ts)` is `get(key, ts)` followed by a tombstone at `ts`.
//!
//! Versions that can no longer answer any query (their `validTo` at or before
//! `streamTime - historyRetention`) are dropped.

use std::collections::BTreeMap;

/// What `put` returns when the version is the latest (Kafka Streams'
/// `VersionedKeyValueStore.PUT_RETURN_CODE_VALID_TO_UNDEFINED`).
pub const PUT_VALID_TO_UNDEFINED: i64 = -1;
/// What `put` returns when the version was older than the history retention and dropped
/// (`PUT_RETURN_CODE_NOT_PUT`).
pub const PUT_NOT_PUT: i64 = i64::MIN;

/// One version found by a query (Kafka Streams' `VersionedRecord`, on bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionedBytesRecord {
    pub value: Vec<u8>,
    pub timestamp: i64,
    /// `None` for the latest version.
    pub valid_to: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Version {
    from: i64,
    value: Option<Vec<u8>>,
}

#[derive(Debug, Clone)]
pub struct VersionedBytes {
    history_retention: i64,
    observed: i64,
    /// Per key, versions in timestamp order.
    keys: BTreeMap<Vec<u8>, Vec<Version>>,
    /// Puts since the last sweep of every key's history.
    since_sweep: usize,
}

impl VersionedBytes {
    pub fn new(history_retention_ms: u64) -> VersionedBytes {
        VersionedBytes {
            history_retention: i64::try_from(history_retention_ms).unwrap_or(i64::MAX),
            observed: -1,
            keys: BTreeMap::new(),
            since_sweep: 0,
        }
    }

    /// The oldest timestamp queries still answer for.
    fn horizon(&self) -> i64 {
        self.observed.saturating_sub(self.history_retention)
    }

    pub fn observed_stream_time(&self) -> i64 {
        self.observed
    }

    pub fn get(&self, key: &[u8]) -> Option<VersionedBytesRecord> {
        let last = self.keys.get(key)?.last()?;
        let value = last.value.clone()?;
        Some(VersionedBytesRecord { value, timestamp: last.from, valid_to: None })
    }

    pub fn get_as_of(&self, key: &[u8], as_of: i64) -> Option<VersionedBytesRecord> {
        if as_of < self.horizon() {
            return None;
        }
        let versions = self.keys.get(key)?;
        let i = versions.partition_point(|v| v.from <= as_of).checked_sub(1)?;
        let value = versions[i].value.clone()?;
        Some(VersionedBytesRecord { value, timestamp: versions[i].from, valid_to: versions.get(i + 1).map(|next| next.from) })
    }

    /// Puts a version (`None`: a tombstone). Returns its `validTo`, [`PUT_VALID_TO_UNDEFINED`]
    /// or [`PUT_NOT_PUT`].
    pub fn put(&mut self, key: &[u8], value: Option<Vec<u8>>, timestamp: i64) -> i64 {
        if timestamp < self.horizon() {
            return PUT_NOT_PUT;
        }
        self.observed = self.observed.max(timestamp);
        let horizon = self.horizon();
        let versions = self.keys.entry(key.to_vec()).or_default();
        let at = versions.partition_point(|v| v.from < timestamp);
        match versions.get_mut(at) {
            Some(v) if v.from == timestamp => v.value = value,
            _ => versions.insert(at, Version { from: timestamp, value }),
        }
        let valid_to = versions.iter().find(|v| v.from > timestamp).map_or(PUT_VALID_TO_UNDEFINED, |v| v.from);
        if prune(versions, horizon) {
            self.keys.remove(key);
        }
        self.since_sweep += 1;
        if self.since_sweep > self.keys.len() {
            self.keys.retain(|_, versions| !prune(versions, horizon));
            self.since_sweep = 0;
        }
        valid_to
    }

    /// Returns the version valid at `timestamp` and puts a tombstone there. Nothing happens
    /// (and nothing is returned) when `timestamp` is older than the history retention.
    pub fn delete(&mut self, key: &[u8], timestamp: i64) -> (Option<VersionedBytesRecord>, bool) {
        if timestamp < self.horizon() {
            return (None, false);
        }
        let found = self.get_as_of(key, timestamp);
        self.put(key, None, timestamp);
        (found, true)
    }

    /// The latest version (`as_of: None`) or the one valid at `as_of` of every key in
    /// `[from, to]` (`None`: unbounded) that has one, in key order.
    pub fn range(&self, from: Option<&[u8]>, to: Option<&[u8]>, as_of: Option<i64>) -> Vec<(Vec<u8>, VersionedBytesRecord)> {
        use std::ops::Bound;
        let lower = from.map_or(Bound::Unbounded, Bound::Included);
        let upper = to.map_or(Bound::Unbounded, Bound::Included);
        if from.zip(to).is_some_and(|(f, t)| f > t) {
            return Vec::new();
        }
        self.keys
            .range::<[u8], _>((lower, upper))
            .filter_map(|(k, _)| {
                let found = match as_of {
                    None => self.get(k),
                    Some(t) => self.get_as_of(k, t),
                };
                found.map(|r| (k.clone(), r))
            })
            .collect()
    }

    /// The number of keys with a history (tombstoned keys included until they are dropped).
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// Drops the versions no query can reach any more; true when nothing worth keeping is left
/// (the key can go).
fn prune(versions: &mut Vec<Version>, horizon: i64) -> bool {
    // Version i answers asOf in [from_i, from_{i+1}); it is unreachable when from_{i+1} <= horizon.
    let dead = versions.windows(2).take_while(|w| w[1].from <= horizon).count();
    if dead > 0 {
        versions.drain(..dead);
    }
    matches!(versions.as_slice(), [] | [Version { value: None, .. }]) && versions.first().is_none_or(|v| v.from <= horizon)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Vec<u8> {
        s.as_bytes().to_vec()
    }

    fn rec(value: &str, timestamp: i64, valid_to: Option<i64>) -> Option<VersionedBytesRecord> {
        Some(VersionedBytesRecord { value: b(value), timestamp, valid_to })
    }

    #[test]
    fn get_as_of_finds_the_version_valid_then() {
        let mut s = VersionedBytes::new(1000);
        assert_eq!(s.put(b"k", Some(b("a")), 100), PUT_VALID_TO_UNDEFINED);
        assert_eq!(s.put(b"k", Some(b("c")), 300), PUT_VALID_TO_UNDEFINED);
        // Out of order: valid until the next version.
        assert_eq!(s.put(b"k", Some(b("b")), 200), 300);
        assert_eq!(s.get(b"k"), rec("c", 300, None));
        assert_eq!(s.get_as_of(b"k", 99), None);
        assert_eq!(s.get_as_of(b"k", 100), rec("a", 100, Some(200)));
        assert_eq!(s.get_as_of(b"k", 250), rec("b", 200, Some(300)));
        assert_eq!(s.get_as_of(b"k", 300), rec("c", 300, None));
        assert_eq!(s.get_as_of(b"k", 10_000), rec("c", 300, None));
        // Same timestamp: replaced.
        assert_eq!(s.put(b"k", Some(b("B")), 200), 300);
        assert_eq!(s.get_as_of(b"k", 200), rec("B", 200, Some(300)));
    }

    #[test]
    fn tombstones_hide_the_latest_value_but_not_history() {
        let mut s = VersionedBytes::new(1000);
        s.put(b"k", Some(b("a")), 100);
        let (found, done) = s.delete(b"k", 200);
        assert!(done);
        assert_eq!(found, rec("a", 100, None));
        assert_eq!(s.get(b"k"), None);
        assert_eq!(s.get_as_of(b"k", 150), rec("a", 100, Some(200)));
        assert_eq!(s.get_as_of(b"k", 250), None);
        assert_eq!(s.put(b"k", Some(b("z")), 300), PUT_VALID_TO_UNDEFINED);
        assert_eq!(s.get(b"k"), rec("z", 300, None));
    }

    #[test]
    fn history_retention_bounds_puts_and_queries() {
        let mut s = VersionedBytes::new(100);
        s.put(b"k", Some(b("a")), 1000);
        s.put(b"k", Some(b("b")), 1050);
        // Stream time 1050, horizon 950.
        assert_eq!(s.put(b"k", Some(b("old")), 949), PUT_NOT_PUT);
        assert_eq!(s.get_as_of(b"k", 949), None);
        assert_eq!(s.get_as_of(b"k", 950), None, "nothing was valid at 950");
        assert_eq!(s.get_as_of(b"k", 1000), rec("a", 1000, Some(1050)));
        s.put(b"other", Some(b("x")), 1200);
        // Horizon 1100: version a (valid to 1050) cannot be asked for any more.
        assert_eq!(s.get_as_of(b"k", 1049), None);
        assert_eq!(s.get_as_of(b"k", 1100), rec("b", 1050, None));
        assert_eq!(s.delete(b"k", 1099), (None, false), "a delete older than the retention does nothing");
        assert_eq!(s.get(b"k"), rec("b", 1050, None));
    }

    #[test]
    fn zero_retention_keeps_only_the_present() {
        let mut s = VersionedBytes::new(0);
        s.put(b"k", Some(b("a")), 10);
        s.put(b"k", Some(b("b")), 20);
        assert_eq!(s.get_as_of(b"k", 15), None);
        assert_eq!(s.get_as_of(b"k", 20), rec("b", 20, None));
        assert_eq!(s.put(b"k", Some(b("c")), 19), PUT_NOT_PUT);
    }

    /// Random puts, deletes and queries (fixed seed) against a naive model that keeps every
    /// accepted put and answers by searching them all: pruning never changes an answer.
    #[test]
    fn random_operations_agree_with_a_model_of_all_puts() {
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for retention in [0u64, 5, 50] {
            let mut store = VersionedBytes::new(retention);
            // (key, timestamp, value), in put order; later puts win for the same timestamp.
            let mut puts: Vec<(u8, i64, Option<u8>)> = Vec::new();
            let mut observed = -1i64;
            let model_at = |puts: &[(u8, i64, Option<u8>)], key: u8, as_of: i64| {
                let found = puts.iter().filter(|p| p.0 == key && p.1 <= as_of).max_by_key(|p| p.1).copied()?;
                let found = puts.iter().rev().find(|p| p.0 == key && p.1 == found.1).copied()?;
                let valid_to = puts.iter().filter(|p| p.0 == key && p.1 > found.1).map(|p| p.1).min();
                found.2.map(|v| (v, found.1, valid_to))
            };
            let record = |found: Option<(u8, i64, Option<i64>)>| {
                found.map(|(v, t, to)| VersionedBytesRecord { value: vec![v], timestamp: t, valid_to: to })
            };
            for _ in 0..3000 {
                let key = next(4) as u8;
                let ts = next(200) as i64;
                let horizon = observed.saturating_sub(retention as i64);
                match next(4) {
                    0 | 1 => {
                        let value = (next(5) > 0).then(|| next(256) as u8);
                        let got = store.put(&[key], value.map(|v| vec![v]), ts);
                        if ts < horizon {
                            assert_eq!(got, PUT_NOT_PUT);
                            continue;
                        }
                        observed = observed.max(ts);
                        puts.push((key, ts, value));
                        let valid_to = puts.iter().filter(|p| p.0 == key && p.1 > ts).map(|p| p.1).min();
                        assert_eq!(got, valid_to.unwrap_or(PUT_VALID_TO_UNDEFINED), "put {key}@{ts}");
                    }
                    2 => {
                        let expected = if ts < horizon { None } else { model_at(&puts, key, ts) };
                        let (found, done) = store.delete(&[key], ts);
                        assert_eq!(done, ts >= horizon);
                        if done {
                            observed = observed.max(ts);
                            puts.push((key, ts, None));
                        }
                        assert_eq!(found, record(expected), "delete {key}@{ts}");
                    }
                    _ => {
                        let expected = if ts < horizon { None } else { model_at(&puts, key, ts) };
                        assert_eq!(store.get_as_of(&[key], ts), record(expected), "get {key} as of {ts} (stream time {observed})");
                        let latest = model_at(&puts, key, i64::MAX).map(|(v, t, _)| (v, t, None));
                        assert_eq!(store.get(&[key]), record(latest), "get {key}");
                    }
                }
            }
        }
    }

    #[test]
    fn unreachable_versions_and_dead_keys_are_dropped() {
        let mut s = VersionedBytes::new(10);
        for t in 0..100 {
            s.put(b"k", Some(vec![t as u8]), t);
        }
        let versions = s.keys.get(&b"k"[..]).map_or(0, Vec::len);
        assert!(versions <= 12, "{versions} versions kept");
        s.delete(b"gone", 100);
        s.put(b"gone", None, 100);
        for t in 200..400 {
            s.put(b"k", Some(vec![1]), t);
        }
        assert!(!s.keys.contains_key(&b"gone"[..]), "a tombstone past the retention is dropped");
        assert_eq!(s.len(), 1);
    }
}
