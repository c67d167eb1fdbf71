//! File-system helpers: atomic replacement of small files, directory fsync, positioned reads.
//!
//! Invariant kept by [`write_atomic`]: a reader of `path` sees either the old content or the
//! whole new content, also after a crash (temp file, fsync, rename, fsync of the directory).

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::error::{Result, io_err};

/// The temporary name used while writing `path` atomically.
pub(crate) fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".tmp");
    path.with_file_name(name)
}

/// Replaces `path` with `bytes` atomically and durably.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = temp_path(path);
    let mut file = File::create(&tmp).map_err(io_err("create", &tmp))?;
    file.write_all(bytes).map_err(io_err("write", &tmp))?;
    file.sync_all().map_err(io_err("fsync", &tmp))?;
    drop(file);
    fs::rename(&tmp, path).map_err(io_err("rename into place", path))?;
    sync_dir(path.parent().unwrap_or(Path::new(".")))
}

/// Makes the directory's entries (created, renamed, removed files) durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        File::open(dir).and_then(|d| d.sync_all()).map_err(io_err("fsync directory", dir))?;
    }
    #[cfg(not(unix))]
    let _ = dir; // Directories cannot be opened for fsync there; renames are durable by themselves.
    Ok(())
}

/// Reads exactly `buf.len()` bytes at `pos` without moving any cursor (so readers can share a
/// file handle with the appender).
pub(crate) fn read_exact_at(file: &File, buf: &mut [u8], pos: u64) -> io::Result<()> {
    #[cfg(unix)]
    {
        std::os::unix::fs::FileExt::read_exact_at(file, buf, pos)
    }
    #[cfg(windows)]
    {
        let mut done = 0;
        while done < buf.len() {
            match std::os::windows::fs::FileExt::seek_read(file, &mut buf[done..], pos + done as u64) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}
