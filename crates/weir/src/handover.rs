//! Handing the embedded log over to a `weir run`: a `weir topic` command must never hold the
//! application out of its storage directory.
//!
//! The embedded log is opened by one process at a time (`weir_log`: an OS lock on
//! `<dir>/.lock`). Readers in other processes are not safe: opening repairs what a crash left
//! (torn tails, interrupted compactions), and an open log keeps in memory each partition's
//! segments, index and end offset, which another process's appends, compactions and retention
//! would change under it. So rather than a second, lock-free way into the files, a `weir topic`
//! command that holds the log lets go when a `weir run` wants it, and from then on reaches the
//! log through the run's control socket ([`crate::control`]), as it would have had the run
//! started first. Every open is still an ordinary, locked, recovering `Log::open`: nothing
//! about the log's crash safety changes.
//!
//! The protocol, all in the storage directory:
//!
//! - A `weir run` that finds the log locked writes `weir.want` (its pid) every
//!   [`POLL`] and tries the lock again, for up to [`RUN_WAITS`]; once it holds the lock it
//!   removes the file. A `weir run` that holds the lock answers on `weir.sock`; when that
//!   socket answers, the holder is another run, which never lets go, so it stops at once.
//! - A `weir topic consume --follow` holding the log checks between reads and waits whether
//!   `weir.want` was written within the last [`FRESH`] ([`wanted`]); if so it closes the log
//!   and goes on through the run's socket from the offsets it had reached. A file left by a
//!   run that crashed while waiting is stale after [`FRESH`] and asks nothing.
//! - Short commands (`list`, `describe`, `create`, `consume` without `--follow`, `produce
//!   --file`) hold the log for moments, which the run's wait covers.

use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use anyhow::bail;
use weir_log::{Log, LogError, RecoveryEvent};

/// The file a waiting `weir run` writes in the storage directory.
pub const WANT: &str = "weir.want";
/// How often a waiting run rewrites [`WANT`] and tries the lock again.
pub const POLL: Duration = Duration::from_millis(100);
/// How long a [`WANT`] file counts as a run asking for the log.
pub const FRESH: Duration = Duration::from_secs(2);
/// How long a `weir run` waits for the holder of its log to let go.
pub const RUN_WAITS: Duration = Duration::from_secs(10);

/// Whether a `weir run` is asking for the log in `dir` now (see the module doc).
pub fn wanted(dir: &Path) -> bool {
    let Ok(modified) = std::fs::metadata(dir.join(WANT)).and_then(|m| m.modified()) else { return false };
    // A file written "in the future" (clock changes) counts as fresh.
    SystemTime::now().duration_since(modified).map_or(true, |age| age < FRESH)
}

/// Opens the log in `dir` for a `weir run`, asking a `weir topic` command that holds it to let
/// go and waiting up to [`RUN_WAITS`] for it to do so.
pub fn open_for_run(dir: &Path) -> anyhow::Result<(Log, Vec<RecoveryEvent>)> {
    let started = Instant::now();
    let mut asked = false;
    loop {
        match Log::open(dir) {
            Ok(opened) => {
                if asked {
                    let _ = std::fs::remove_file(dir.join(WANT));
                    tracing::info!(
                        "the embedded log in '{}' was handed over after {:.1} s",
                        dir.display(),
                        started.elapsed().as_secs_f64()
                    );
                }
                return Ok(opened);
            }
            Err(LogError::Locked { holder, .. }) => {
                let by = holder_name(&holder);
                if crate::control::connect(dir).is_ok() {
                    bail!(
                        "the embedded log in '{}' is in use by another `weir run` ({by}); stop it first, or give this run another storage directory ('ksml.storageDirectory' in the runner config)",
                        dir.display()
                    );
                }
                if started.elapsed() >= RUN_WAITS {
                    let _ = std::fs::remove_file(dir.join(WANT));
                    bail!(
                        "the embedded log in '{}' is in use by {by}, which did not let go within {} s; stop that process, or give this run another storage directory ('ksml.storageDirectory' in the runner config)",
                        dir.display(),
                        RUN_WAITS.as_secs()
                    );
                }
                if !asked {
                    tracing::info!("the embedded log in '{}' is in use by {by}: asking it to hand the log over", dir.display());
                    asked = true;
                }
                // Rewritten each time, so it stays fresh while this run waits.
                let _ = std::fs::write(dir.join(WANT), std::process::id().to_string());
                std::thread::sleep(POLL);
            }
            Err(e) => return Err(anyhow::Error::new(e).context(format!("cannot open the embedded log in '{}'", dir.display()))),
        }
    }
}

/// `process N` from the holder the log reports (` (process N)`), or `another process`.
pub fn holder_name(holder: &str) -> String {
    let pid = holder.trim().trim_start_matches("(process ").trim_end_matches(')').trim();
    if pid.is_empty() { "another process".to_string() } else { format!("process {pid}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_fresh_want_file_asks_for_the_log() {
        let dir = std::env::temp_dir().join(format!("weir-handover-unit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        assert!(!wanted(&dir), "no file");
        std::fs::write(dir.join(WANT), "1").expect("write");
        assert!(wanted(&dir), "just written");
        let old = SystemTime::now() - FRESH - Duration::from_secs(1);
        std::fs::File::options().write(true).open(dir.join(WANT)).and_then(|f| f.set_modified(old)).expect("age it");
        assert!(!wanted(&dir), "left by a run that died while waiting");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_holder_is_named_by_its_pid() {
        assert_eq!(holder_name(" (process 42)"), "process 42");
        assert_eq!(holder_name(""), "another process");
    }
}
