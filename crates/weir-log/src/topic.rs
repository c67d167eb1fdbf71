//! Topics: their config, its file, and their partitions.
//!
//! A topic is the directory `topics/<name>/` holding `topic.properties` and one directory per
//! partition (`0/`, `1/`, …). The properties file is the topic's commit point: it is written
//! atomically after the partition directories exist, so a topic directory without it is the
//! remains of an interrupted `create_topic`. The config never changes after creation.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::sync::Arc;

use super::error::{LogError, RecoveryEvent, Result, io_err};
use super::fsutil::{sync_dir, write_atomic};
use super::partition::Partition;

/// File name of a topic's metadata.
pub(crate) const PROPERTIES: &str = "topic.properties";

pub use weir_engine::broker::CleanupPolicy;

/// A topic's settings, with Kafka's names in its properties file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicConfig {
    /// Number of partitions (at least 1).
    pub partitions: u32,
    /// `cleanup.policy`.
    pub cleanup_policy: CleanupPolicy,
    /// `retention.ms`; `None` keeps records forever (Kafka's `-1`). Default 7 days.
    pub retention_ms: Option<u64>,
    /// `retention.bytes` per partition; `None` is unlimited (the default).
    pub retention_bytes: Option<u64>,
    /// `segment.bytes`: a new segment starts when a record would take the active one past
    /// this. Default 64 MiB (Kafka's 1 GiB is coarse for a laptop).
    pub segment_bytes: u64,
    /// `delete.retention.ms`: compaction drops a tombstone that is the latest for its key once
    /// its timestamp is this much older than the `now` given to `compact`. Default 1 day.
    pub delete_retention_ms: u64,
}

impl Default for TopicConfig {
    fn default() -> TopicConfig {
        TopicConfig {
            partitions: 1,
            cleanup_policy: CleanupPolicy::Delete,
            retention_ms: Some(7 * 24 * 3600 * 1000),
            retention_bytes: None,
            segment_bytes: 64 * 1024 * 1024,
            delete_retention_ms: 24 * 3600 * 1000,
        }
    }
}

/// Most partitions a topic may have (a directory and a file handle each).
pub const MAX_PARTITIONS: u32 = 10_000;

impl TopicConfig {
    /// The default config with `partitions` partitions.
    pub fn with_partitions(partitions: u32) -> TopicConfig {
        TopicConfig { partitions, ..TopicConfig::default() }
    }

    pub(crate) fn validate(&self, topic: &str) -> Result<()> {
        let bad = |reason: String| Err(LogError::InvalidConfig { topic: topic.to_string(), reason });
        if !(1..=MAX_PARTITIONS).contains(&self.partitions) {
            return bad(format!("partitions must be in 1..={MAX_PARTITIONS}, not {}", self.partitions));
        }
        if self.segment_bytes == 0 {
            return bad("segment.bytes must be positive".into());
        }
        Ok(())
    }

    fn to_properties(&self) -> String {
        let opt = |v: Option<u64>| v.map_or("-1".to_string(), |v| v.to_string());
        let mut s = String::from("# weir topic metadata, format 1\n");
        let _ = writeln!(s, "partitions={}", self.partitions);
        let _ = writeln!(s, "cleanup.policy={}", self.cleanup_policy.as_str());
        let _ = writeln!(s, "retention.ms={}", opt(self.retention_ms));
        let _ = writeln!(s, "retention.bytes={}", opt(self.retention_bytes));
        let _ = writeln!(s, "segment.bytes={}", self.segment_bytes);
        let _ = writeln!(s, "delete.retention.ms={}", self.delete_retention_ms);
        s
    }

    fn from_properties(text: &str, path: &Path) -> Result<TopicConfig> {
        let corrupt = |line: usize, reason: String| LogError::Corrupt { path: path.to_path_buf(), position: line as u64, reason };
        let mut c = TopicConfig::default();
        let mut seen = [false; 6];
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((k, v)) = line.split_once('=') else { return Err(corrupt(n + 1, format!("line {} is not key=value", n + 1))) };
            let (k, v) = (k.trim(), v.trim());
            let num = |v: &str| v.parse::<u64>().map_err(|_| corrupt(n + 1, format!("'{k}' is not a number: '{v}'")));
            let opt = |v: &str| if v == "-1" { Ok(None) } else { num(v).map(Some) };
            let slot = match k {
                "partitions" => {
                    c.partitions = u32::try_from(num(v)?).map_err(|_| corrupt(n + 1, format!("partitions too large: {v}")))?;
                    0
                }
                "cleanup.policy" => {
                    c.cleanup_policy = CleanupPolicy::parse(v).ok_or_else(|| corrupt(n + 1, format!("unknown cleanup.policy '{v}'")))?;
                    1
                }
                "retention.ms" => {
                    c.retention_ms = opt(v)?;
                    2
                }
                "retention.bytes" => {
                    c.retention_bytes = opt(v)?;
                    3
                }
                "segment.bytes" => {
                    c.segment_bytes = num(v)?;
                    4
                }
                "delete.retention.ms" => {
                    c.delete_retention_ms = num(v)?;
                    5
                }
                _ => return Err(corrupt(n + 1, format!("unknown key '{k}' on line {}", n + 1))),
            };
            seen[slot] = true;
        }
        if !seen[0] {
            return Err(corrupt(0, "'partitions' is missing".into()));
        }
        Ok(c)
    }
}

/// Checks a topic name by Kafka's rules (which also make it a safe directory name).
pub(crate) fn validate_name(topic: &str) -> Result<()> {
    let bad = |reason| Err(LogError::InvalidTopicName { topic: topic.to_string(), reason });
    if topic.is_empty() {
        return bad("it is empty");
    }
    if topic.len() > 249 {
        return bad("it is longer than 249 characters");
    }
    if topic == "." || topic == ".." {
        return bad("'.' and '..' are not allowed");
    }
    if !topic.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')) {
        return bad("only ASCII letters, digits, '.', '_' and '-' are allowed");
    }
    Ok(())
}

pub(crate) struct Topic {
    pub config: TopicConfig,
    pub partitions: Vec<Partition>,
}

impl Topic {
    /// Creates `dir` (which must not hold a topic) with its partitions.
    pub fn create(name: &str, dir: &Path, config: TopicConfig) -> Result<Topic> {
        fs::create_dir_all(dir).map_err(io_err("create directory", dir))?;
        for p in 0..config.partitions {
            let pdir = dir.join(p.to_string());
            fs::create_dir_all(&pdir).map_err(io_err("create directory", &pdir))?;
        }
        sync_dir(dir)?;
        if let Some(parent) = dir.parent() {
            sync_dir(parent)?;
        }
        write_atomic(&dir.join(PROPERTIES), config.to_properties().as_bytes())?;
        Topic::open_with(name, dir, config, &mut Vec::new())
    }

    /// Opens an existing topic directory (one with a properties file).
    pub fn open(name: &str, dir: &Path, events: &mut Vec<RecoveryEvent>) -> Result<Topic> {
        let path = dir.join(PROPERTIES);
        let text = fs::read_to_string(&path).map_err(io_err("read", &path))?;
        let config = TopicConfig::from_properties(&text, &path)?;
        config.validate(name).map_err(|e| LogError::Corrupt { path: path.clone(), position: 0, reason: e.to_string() })?;
        Topic::open_with(name, dir, config, events)
    }

    fn open_with(name: &str, dir: &Path, config: TopicConfig, events: &mut Vec<RecoveryEvent>) -> Result<Topic> {
        let name: Arc<str> = name.into();
        let partitions = (0..config.partitions)
            .map(|p| Partition::open(Arc::clone(&name), p, dir.join(p.to_string()), events))
            .collect::<Result<_>>()?;
        Ok(Topic { config, partitions })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_round_trip_and_reject_garbage() {
        let c = TopicConfig {
            partitions: 3,
            cleanup_policy: CleanupPolicy::CompactDelete,
            retention_ms: None,
            retention_bytes: Some(1000),
            segment_bytes: 512,
            delete_retention_ms: 5,
        };
        let p = Path::new("x");
        assert_eq!(TopicConfig::from_properties(&c.to_properties(), p).ok(), Some(c));
        assert!(TopicConfig::from_properties("partitions=2\nfoo=1\n", p).is_err());
        assert!(TopicConfig::from_properties("retention.ms=5\n", p).is_err());
        assert!(TopicConfig::from_properties("partitions=x\n", p).is_err());
    }

    #[test]
    fn names_follow_kafka() {
        assert!(validate_name("orders-v1.2_x").is_ok());
        for bad in ["", ".", "..", "a/b", "a b", "ü", &"x".repeat(250)] {
            assert!(validate_name(bad).is_err(), "{bad:?}");
        }
    }
}
