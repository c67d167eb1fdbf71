//! The key-value store on bytes: Kafka Streams' `InMemoryKeyValueStore`, a map ordered by
//! the serialized key (byte-wise, unsigned, as Kafka's `Bytes` compare). Each value keeps a
//! timestamp, used by timestamped stores (`ValueAndTimestamp`) and ignored by plain ones.

use std::collections::BTreeMap;
use std::ops::Bound;

/// A value with its timestamp (Kafka Streams' `ValueAndTimestamp`, on bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StampedBytes {
    pub value: Vec<u8>,
    pub timestamp: i64,
}

/// Keys in byte order, each with one value.
#[derive(Debug, Default, Clone)]
pub struct KeyValueBytes {
    map: BTreeMap<Vec<u8>, StampedBytes>,
}

impl KeyValueBytes {
    pub fn get(&self, key: &[u8]) -> Option<&StampedBytes> {
        self.map.get(key)
    }

    /// Puts a value (`None` deletes, as a null value does in Kafka Streams); returns the old one.
    pub fn put(&mut self, key: Vec<u8>, value: Option<StampedBytes>) -> Option<StampedBytes> {
        match value {
            Some(v) => self.map.insert(key, v),
            None => self.map.remove(&key),
        }
    }

    /// Entries with keys in `[from, to]` (`None`: unbounded), in key order or reversed.
    /// Empty when `from > to`, as Kafka Streams answers an inverted range.
    pub fn range(&self, from: Option<&[u8]>, to: Option<&[u8]>, backward: bool) -> Vec<(Vec<u8>, StampedBytes)> {
        if let (Some(f), Some(t)) = (from, to)
            && f > t
        {
            return Vec::new();
        }
        let lower = from.map_or(Bound::Unbounded, Bound::Included);
        let upper = to.map_or(Bound::Unbounded, Bound::Included);
        let range = self.map.range::<[u8], _>((lower, upper)).map(|(k, v)| (k.clone(), v.clone()));
        if backward { range.rev().collect() } else { range.collect() }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Option<StampedBytes> {
        Some(StampedBytes { value: s.as_bytes().to_vec(), timestamp: 0 })
    }

    #[test]
    fn keys_are_ordered_by_unsigned_bytes() {
        let mut kv = KeyValueBytes::default();
        for key in [&[0x80u8][..], &[0x01], &[0x01, 0x00], &[0xff], &[]] {
            kv.put(key.to_vec(), v("x"));
        }
        let keys: Vec<Vec<u8>> = kv.range(None, None, false).into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, vec![vec![], vec![0x01], vec![0x01, 0x00], vec![0x80], vec![0xff]]);
        let back: Vec<Vec<u8>> = kv.range(None, None, true).into_iter().map(|(k, _)| k).collect();
        assert_eq!(back.first(), Some(&vec![0xff]));
    }

    #[test]
    fn ranges_are_inclusive_and_inverted_ranges_are_empty() {
        let mut kv = KeyValueBytes::default();
        for key in ["a", "b", "c", "d"] {
            kv.put(key.as_bytes().to_vec(), v(key));
        }
        let keys = |from: Option<&str>, to: Option<&str>| -> Vec<String> {
            kv.range(from.map(str::as_bytes), to.map(str::as_bytes), false)
                .into_iter()
                .map(|(k, _)| String::from_utf8(k).expect("utf8"))
                .collect()
        };
        assert_eq!(keys(Some("b"), Some("c")), ["b", "c"]);
        assert_eq!(keys(None, Some("b")), ["a", "b"]);
        assert_eq!(keys(Some("c"), None), ["c", "d"]);
        assert!(keys(Some("c"), Some("b")).is_empty());
    }

    #[test]
    fn a_null_value_deletes() {
        let mut kv = KeyValueBytes::default();
        kv.put(b"k".to_vec(), v("1"));
        assert_eq!(kv.put(b"k".to_vec(), None), v("1"));
        assert!(kv.is_empty());
        assert_eq!(kv.put(b"k".to_vec(), None), None);
    }
}
