//! Committed consumer positions, per group (Kafka's `application.id` / `group.id`).
//!
//! Each group has one file, `groups/<escaped group>.offsets`, holding all its positions as
//! text lines `<topic>\t<partition>\t<next offset>`. A commit merges the new positions into the
//! group's map and rewrites the file atomically (temp, fsync, rename), so after a crash a group
//! has either all of a commit's positions or none. Group names are escaped for the file name:
//! bytes other than ASCII letters, digits, `_` and `-` become `%XX`.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use super::error::{LogError, RecoveryEvent, Result, io_err};
use super::fsutil::write_atomic;

const HEADER: &str = "# weir committed offsets, format 1: topic<TAB>partition<TAB>next offset";

type Positions = BTreeMap<(String, u32), u64>;

pub(crate) struct Offsets {
    dir: PathBuf,
    groups: HashMap<String, Positions>,
}

fn escape(group: &str) -> String {
    let mut s = String::new();
    for b in group.bytes() {
        if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' {
            s.push(b as char);
        } else {
            let _ = write!(s, "%{b:02X}");
        }
    }
    s
}

fn unescape(name: &str) -> Option<String> {
    let bytes = name.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn parse(text: &str, path: &Path) -> Result<Positions> {
    let mut map = Positions::new();
    for (n, line) in text.lines().enumerate() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let corrupt =
            || LogError::Corrupt { path: path.to_path_buf(), position: n as u64 + 1, reason: format!("bad line {}: '{line}'", n + 1) };
        let mut parts = line.split('\t');
        let (Some(topic), Some(p), Some(o), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else { return Err(corrupt()) };
        let p = p.parse().map_err(|_| corrupt())?;
        let o = o.parse().map_err(|_| corrupt())?;
        map.insert((topic.to_string(), p), o);
    }
    Ok(map)
}

impl Offsets {
    /// Loads every group's positions from `dir`, removing leftover temp files.
    pub fn open(dir: PathBuf, events: &mut Vec<RecoveryEvent>) -> Result<Offsets> {
        fs::create_dir_all(&dir).map_err(io_err("create directory", &dir))?;
        let mut groups = HashMap::new();
        for entry in fs::read_dir(&dir).map_err(io_err("list", &dir))? {
            let entry = entry.map_err(io_err("list", &dir))?;
            let path = entry.path();
            let Some(name) = entry.file_name().to_str().map(str::to_string) else { continue };
            if name.ends_with(".tmp") {
                fs::remove_file(&path).map_err(io_err("remove", &path))?;
                events.push(RecoveryEvent::RemovedTempFile { file: path });
            } else if let Some(group) = name.strip_suffix(".offsets").and_then(unescape) {
                let text = fs::read_to_string(&path).map_err(io_err("read", &path))?;
                groups.insert(group, parse(&text, &path)?);
            }
        }
        Ok(Offsets { dir, groups })
    }

    /// Merges `positions` into `group`'s and persists them atomically. In memory only once
    /// the file is in place.
    pub fn commit(&mut self, group: &str, positions: &[(&str, u32, u64)]) -> Result<()> {
        let mut map = self.groups.get(group).cloned().unwrap_or_default();
        for &(topic, p, o) in positions {
            map.insert((topic.to_string(), p), o);
        }
        let mut text = String::from(HEADER);
        text.push('\n');
        for ((topic, p), o) in &map {
            let _ = writeln!(text, "{topic}\t{p}\t{o}");
        }
        write_atomic(&self.dir.join(format!("{}.offsets", escape(group))), text.as_bytes())?;
        self.groups.insert(group.to_string(), map);
        Ok(())
    }

    pub fn committed(&self, group: &str, topic: &str, partition: u32) -> Option<u64> {
        self.groups.get(group)?.get(&(topic.to_string(), partition)).copied()
    }

    pub fn all(&self, group: &str) -> Vec<(String, u32, u64)> {
        self.groups.get(group).map(|m| m.iter().map(|((t, p), o)| (t.clone(), *p, *o)).collect()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_names_escape_reversibly() {
        for g in ["app", "my.app", "", ".", "..", "a/b\\c", "ünï %41"] {
            let e = escape(g);
            assert!(e.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-%".contains(&b)), "{e}");
            assert_eq!(unescape(&e).as_deref(), Some(g));
        }
    }
}
