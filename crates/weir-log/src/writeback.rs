//! Early writeback: appended data starts going to disk while appends go on, so that the
//! fsync at the next [`Log::sync`](super::Log::sync) (at commit) finds little left to write.
//!
//! Without it, the kernel writes dirty pages back only after about 30 seconds or under
//! memory pressure, so a commit's fsync wrote everything appended since the previous commit,
//! on the committing thread (measured: 30–50 ms for 21 MB, 5% of a 200,000-record run).
//!
//! A partition hands its active segment to the process's writeback thread once
//! [`WRITEBACK_BYTES`] were appended since its last sync or writeback; the thread
//! `fdatasync`s it. Nothing about durability changes: a commit still fsyncs everything
//! itself, and only then commits offsets. What this module must get right is errors: Linux
//! reports a failed writeback to one fsync only, so a failure seen here is kept
//! ([`Writeback::failed`]) and returned by the partition's next sync, which therefore fails
//! as its own fsync would have. The status lock is held while the thread syncs, so a sync
//! waits for a writeback under way and cannot miss its failure.

use std::fs::File;
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Sender, channel};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

/// Bytes appended to a partition after which its data is written back early.
pub(crate) const WRITEBACK_BYTES: u64 = 4 << 20;

/// One partition's writeback status.
#[derive(Default)]
pub(crate) struct Writeback {
    /// A writeback is queued or running (at most one per partition).
    busy: AtomicBool,
    /// The first failed writeback not yet reported, with the file; locked while syncing.
    failed: Mutex<Option<(io::Error, Arc<Path>)>>,
}

struct Job {
    file: Arc<File>,
    path: Arc<Path>,
    status: Arc<Writeback>,
}

impl Writeback {
    /// Starts writing `file` back on the writeback thread, unless one of this partition's is
    /// still under way (it will have written most of the same pages).
    pub fn start(self: &Arc<Self>, file: Arc<File>, path: Arc<Path>) {
        if self.busy.swap(true, Ordering::AcqRel) {
            return;
        }
        let job = Job { file, path, status: Arc::clone(self) };
        if worker().is_none_or(|tx| tx.send(job).is_err()) {
            // No thread (it could not be started): the commit's fsync does it all, as before.
            self.busy.store(false, Ordering::Release);
        }
    }

    /// Locks the status: waits for a writeback under way. The guard holds the failure of
    /// an earlier writeback, if any, for the caller to report.
    pub fn failed(&self) -> MutexGuard<'_, Option<(io::Error, Arc<Path>)>> {
        // A panic while the lock was held cannot leave a half-made status: take it as it is.
        self.failed.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether a writeback is queued or running.
    #[cfg(test)]
    pub fn busy(&self) -> bool {
        self.busy.load(Ordering::Acquire)
    }

    fn run(job: Job) {
        let mut failed = job.status.failed();
        if let Err(e) = job.file.sync_data()
            && failed.is_none()
        {
            *failed = Some((e, job.path));
        }
        drop(failed);
        job.status.busy.store(false, Ordering::Release);
    }
}

/// The writeback thread's queue, started on first use; `None` if the thread cannot start.
fn worker() -> Option<&'static Sender<Job>> {
    static WORKER: OnceLock<Option<Sender<Job>>> = OnceLock::new();
    WORKER
        .get_or_init(|| {
            let (tx, rx) = channel::<Job>();
            let spawned = std::thread::Builder::new().name("weir-log-writeback".to_string()).spawn(move || {
                for job in rx {
                    Writeback::run(job);
                }
            });
            spawned.is_ok().then_some(tx)
        })
        .as_ref()
}
