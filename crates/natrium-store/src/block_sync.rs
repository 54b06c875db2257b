//! Closed blocks' fsyncs off the write path, on one background thread for the process
//! (started on first use). The write path goes on in the next block at once instead of
//! waiting for the disk (tens of milliseconds for an 8 MiB block here, and a cap on the write
//! rate at the disk's speed); the store learns through [`SealDone`] when a block is on disk.
//!
//! It changes nothing an acknowledgement promises (written to the OS; on disk at the next
//! sync interval, or at once under `sync: always`: both wait for these fsyncs).

use std::fs::File;
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, OnceLock};

/// The block-sync thread's nice value.
const NICE: i32 = 10;

/// The outcome of a seal's fsync, once it has run (an I/O error's text).
pub(crate) type SealDone = Arc<OnceLock<Result<(), String>>>;

/// A closed block to fsync and where to say it is done.
type Request = (Arc<File>, SealDone);

static SYNCER: OnceLock<Option<Sender<Request>>> = OnceLock::new();

fn syncer() -> Option<&'static Sender<Request>> {
    SYNCER
        .get_or_init(|| {
            let (requests, queue) = mpsc::channel::<Request>();
            let spawned = std::thread::Builder::new()
                .name("natrium-block-sync".to_owned())
                .spawn(move || {
                    // Below the threads that serve clients: on a busy machine the disk work
                    // waits for a free core rather than taking one from them.
                    let tid = rustix::thread::gettid();
                    if let Err(e) = rustix::process::setpriority_process(Some(tid), NICE) {
                        tracing::debug!(error = %e, "cannot lower the block-sync thread's priority");
                    }
                    for (file, done) in queue {
                        let _ = done.set(file.sync_data().map_err(|e| e.to_string()));
                    }
                });
            match spawned {
                Ok(_) => Some(requests),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot start the block-sync thread; closed blocks are synced on the write path");
                    None
                }
            }
        })
        .as_ref()
}

/// Starts the fdatasync of a closed block; without the background thread it runs here.
pub(crate) fn seal(file: &Arc<File>) -> SealDone {
    let done = SealDone::default();
    let sent = syncer()
        .is_some_and(|requests| requests.send((Arc::clone(file), Arc::clone(&done))).is_ok());
    if !sent {
        let _ = done.set(file.sync_data().map_err(|e| e.to_string()));
    }
    done
}
