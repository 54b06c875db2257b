//! Counters describing the index, shaped like nats-server's `/subsz` statistics.

use serde::Serialize;

/// A snapshot of the index's counters; field names serialise as nats-server's `/subsz` JSON.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SublistStats {
    /// Subscriptions currently in the index.
    pub num_subscriptions: u32,
    /// Results currently in the match cache.
    pub num_cache: u32,
    /// Insertions since creation.
    pub num_inserts: u64,
    /// Successful removals since creation.
    pub num_removes: u64,
    /// Lookups since creation.
    pub num_matches: u64,
    /// Share of lookups answered from the cache, from 0 to 1.
    pub cache_hit_rate: f64,
    /// The largest fan-out (plain subscriptions plus queue groups) among cached results.
    pub max_fanout: u32,
    /// The mean fan-out among cached results.
    pub avg_fanout: f64,
}
