//! Early writeback of the active block: a background thread fdatasyncs it each time it has
//! grown by [`EVERY`] bytes, so the fsync that seals a full block, which the write path waits
//! for before starting the next block, finds little left to write instead of a whole block
//! (on this kind of disk, tens of milliseconds of stalled acknowledgements per block).
//!
//! It changes no guarantee: the write path never waits for it, and sealing still syncs. One
//! thread serves the process, started on first use; when it is busy, a request is dropped
//! (the next one, or the seal, covers the same bytes).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, SyncSender};
use std::sync::{Arc, OnceLock};

/// Bytes appended to a block between two early syncs of it.
pub(crate) const EVERY: u64 = 1024 * 1024;

/// Blocks waiting for their early sync; more are dropped.
const QUEUE: usize = 16;

type Request = (Arc<File>, PathBuf);

static SYNCER: OnceLock<Option<SyncSender<Request>>> = OnceLock::new();

fn start() -> Option<SyncSender<Request>> {
    let (sender, requests) = mpsc::sync_channel::<Request>(QUEUE);
    let spawned = std::thread::Builder::new()
        .name("natrium-early-sync".to_owned())
        .spawn(move || {
            for (file, path) in requests {
                if let Err(e) = file.sync_data() {
                    // The seal's own fsync reports a lasting failure to the writer.
                    tracing::warn!(block = ?path, error = %e, "early sync of a block failed");
                }
            }
        });
    match spawned {
        Ok(_) => Some(sender),
        Err(e) => {
            tracing::warn!(error = %e, "cannot start the early-sync thread; blocks are synced only when sealed");
            None
        }
    }
}

/// Asks the background thread to fdatasync `file` soon; never waits.
pub(crate) fn sync_soon(file: &Arc<File>, path: &Path) {
    if let Some(sender) = SYNCER.get_or_init(start) {
        let _ = sender.try_send((Arc::clone(file), path.to_owned()));
    }
}
