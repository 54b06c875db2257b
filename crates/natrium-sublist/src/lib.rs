//! The subject index: which subscriptions does a subject reach?
//!
//! [`Sublist`] stores subscriptions by subject in a trie of tokens, with `*` (one token)
//! and `>` (one or more trailing tokens) wildcards and queue groups, and answers "who gets
//! a message published on this subject" with a shared [`Matches`] from a bounded cache.
//!
//! ```
//! use natrium_sublist::Sublist;
//!
//! let index = Sublist::new();
//! index.insert(b"orders.*", None, 1).unwrap();
//! index.insert(b"orders.>", Some(b"workers"), 2).unwrap();
//! index.insert(b"orders.eu.>", Some(b"workers"), 3).unwrap();
//!
//! let who = index.matches(b"orders.eu.new");
//! assert!(who.plain.is_empty()); // `*` matches exactly one token
//! assert_eq!(who.queue(b"workers").unwrap().members.len(), 2);
//! ```
//!
//! A connection that publishes keeps a [`LocalMatchCache`]: its hits take no lock and touch
//! no memory other threads write, and it never returns a result older than the index.
//!
//! ```
//! use std::sync::Arc;
//! use natrium_sublist::{LocalMatchCache, Sublist};
//!
//! let index = Arc::new(Sublist::new());
//! let mut local = LocalMatchCache::default();
//! index.insert(b"prices.>", None, "ticker").unwrap();
//! assert_eq!(local.matches(&index, b"prices.eur").plain, ["ticker"]);
//! index.insert(b"prices.eur", None, "audit").unwrap();
//! assert_eq!(local.matches(&index, b"prices.eur").len(), 2);
//! ```

mod admission;
mod cache;
mod error;
mod local;
mod matches;
mod stats;
mod sublist;
mod trie;

pub use error::{InvalidSubject, InvalidSubjectReason};
pub use local::{DEFAULT_LOCAL_CACHE_CAPACITY, LocalMatchCache};
pub use matches::{Matches, QueueGroup};
pub use stats::SublistStats;
pub use sublist::{DEFAULT_CACHE_CAPACITY, Sublist};

/// Hash maps keyed by subject bytes. hashbrown's default hasher (foldhash) is seeded per map,
/// which resists crafted collisions from clients, yet is much faster than SipHash on short
/// keys; its `entry_ref` looks a borrowed subject up once and allocates a key only to insert.
type SubjectMap<V> = hashbrown::HashMap<Vec<u8>, V>;
