//! The JetStream message store: one trait, [`MessageStore`], and two stores behind it.
//!
//! - [`MemoryStore`] keeps messages in memory (`storage: memory`).
//! - [`FileStore`] keeps them in checksummed, segmented files (`storage: file`).
//!
//! Both share one index (sequence slots, per-subject state, limits), so they answer every
//! question the same way. The store is synchronous and does no I/O on its own: the server
//! holds one per stream behind a mutex and calls [`MessageStore::flush`] once per read batch.
//!
//! ```
//! use natrium_store::{MemoryStore, MessageStore, StoreLimits};
//!
//! let mut store = MemoryStore::new(StoreLimits { max_msgs_per_subject: 1, ..Default::default() });
//! store.store(b"kv.color", None, b"red", 1, None).unwrap();
//! store.store(b"kv.color", None, b"blue", 2, None).unwrap();
//! let last = store.load_last(b"kv.color").unwrap().unwrap();
//! assert_eq!((last.seq, &last.payload[..]), (2, &b"blue"[..]));
//! assert_eq!(store.state().msgs, 1);
//! ```

mod block_index;
mod block_sync;
mod error;
mod file;
mod index;
mod memory;
mod meta;
mod store;
mod subjects;
mod types;

pub use error::StoreError;
pub use file::{FileStore, FileStoreConfig, SyncPolicy};
pub use memory::MemoryStore;
pub use store::MessageStore;
pub use types::{Discard, PurgeRequest, StoreLimits, StoreState, StoredMessage, SubjectState};
