//! Block fsyncs off the write path, on one background thread for the process (started on
//! first use):
//!
//! - **Seals**: the fsync of a block that was just closed. The write path goes on in the next
//!   block at once instead of waiting for the disk (tens of milliseconds for an 8 MiB block
//!   here, and a cap on the write rate at the disk's speed); the store learns through
//!   [`SealDone`] when it is done. Never dropped.
//! - **Early syncs** of the active block each time it has grown by [`EVERY`] bytes, so that
//!   its seal finds little left to write. Dropped when the thread is behind (the next one,
//!   or the seal, covers the same bytes).
//!
//! Neither changes what an acknowledgement promises (written to the OS; on disk at the
//! next sync interval, or at once under `sync: always`).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, OnceLock};

/// Bytes appended to a block between two early syncs of it.
pub(crate) const EVERY: u64 = 1024 * 1024;

/// Early syncs waiting at most; more are dropped.
const EARLY_QUEUE: usize = 16;

/// The outcome of a seal's fsync, once it has run (an I/O error's text).
pub(crate) type SealDone = Arc<OnceLock<Result<(), String>>>;

enum Request {
    Early(Arc<File>, PathBuf),
    Seal(Arc<File>, SealDone),
}

struct Syncer {
    requests: Sender<Request>,
    early_queued: AtomicUsize,
}

static SYNCER: OnceLock<Option<Syncer>> = OnceLock::new();

fn syncer() -> Option<&'static Syncer> {
    SYNCER
        .get_or_init(|| {
            let (requests, queue) = mpsc::channel::<Request>();
            let spawned = std::thread::Builder::new()
                .name("natrium-block-sync".to_owned())
                .spawn(move || run(queue));
            match spawned {
                Ok(_) => Some(Syncer {
                    requests,
                    early_queued: AtomicUsize::new(0),
                }),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot start the block-sync thread; blocks are synced on the write path");
                    None
                }
            }
        })
        .as_ref()
}

fn run(queue: mpsc::Receiver<Request>) {
    for request in queue {
        match request {
            Request::Early(file, path) => {
                if let Err(e) = file.sync_data() {
                    // The seal reports a lasting failure to the writer.
                    tracing::warn!(block = ?path, error = %e, "early sync of a block failed");
                }
                if let Some(syncer) = SYNCER.get().and_then(Option::as_ref) {
                    syncer.early_queued.fetch_sub(1, Ordering::Relaxed);
                }
            }
            Request::Seal(file, done) => {
                let _ = done.set(file.sync_data().map_err(|e| e.to_string()));
            }
        }
    }
}

/// Asks for an early fdatasync of the active block `file`; never waits.
pub(crate) fn sync_soon(file: &Arc<File>, path: &Path) {
    let Some(syncer) = syncer() else { return };
    if syncer.early_queued.fetch_add(1, Ordering::Relaxed) >= EARLY_QUEUE {
        syncer.early_queued.fetch_sub(1, Ordering::Relaxed);
        return;
    }
    if syncer
        .requests
        .send(Request::Early(Arc::clone(file), path.to_owned()))
        .is_err()
    {
        syncer.early_queued.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Starts the fdatasync of a closed block; without the background thread it runs here.
pub(crate) fn seal(file: &Arc<File>) -> SealDone {
    let done = SealDone::default();
    let sent = syncer().is_some_and(|syncer| {
        syncer
            .requests
            .send(Request::Seal(Arc::clone(file), Arc::clone(&done)))
            .is_ok()
    });
    if !sent {
        let _ = done.set(file.sync_data().map_err(|e| e.to_string()));
    }
    done
}
