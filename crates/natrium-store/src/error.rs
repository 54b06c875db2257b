//! The one error type of the store.

use std::io;
use std::path::PathBuf;

/// Why a store operation failed. Discard-new refusals carry no detail: the server maps each to
/// nats-server's text ("maximum messages exceeded", "maximum bytes exceeded", "maximum messages
/// per subject exceeded").
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// `max_msgs` reached and the stream discards new messages.
    #[error("maximum messages exceeded")]
    MaxMessages,
    /// `max_bytes` would be exceeded and the stream discards new messages.
    #[error("maximum bytes exceeded")]
    MaxBytes,
    /// `max_msgs_per_subject` reached with `discard_new_per_subject`.
    #[error("maximum messages per subject exceeded")]
    MaxMsgsPerSubject,
    /// A purge asked for both `seq` and `keep` (nats-server answers "bad request"), or for a
    /// sequence beyond 2^62.
    #[error("purge: sequence and keep can not both be set, and the sequence must be at most 2^62")]
    PurgeArguments,
    /// The stream's sequence reached 2^62 (only after a purge to a huge sequence).
    #[error("stream sequence exhausted")]
    SequenceExhausted,
    /// A message too large for the store's record format (over 4 GiB in one field).
    #[error("message too large for the store: {0} bytes")]
    TooLarge(usize),
    /// The operating system refused a file operation.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: io::Error,
    },
    /// A file holds bytes the store did not write and cannot repair by truncation.
    #[error("{}: corrupt at byte {offset}: {reason}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Where the bad bytes start.
        offset: u64,
        /// What was wrong.
        reason: String,
    },
    /// A previous write failed half-way; the store refuses further writes so that nothing on
    /// disk contradicts memory. Reopen it to recover.
    #[error("the store is closed after an earlier write error")]
    Closed,
}

impl StoreError {
    /// Wraps an I/O error with the path it concerns.
    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        StoreError::Io {
            path: path.into(),
            source,
        }
    }
}
