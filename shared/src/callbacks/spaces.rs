//! The partner callbacks' own data in the key-value store: its key spaces and index entries, declared beside
//! its types ("features own their data"); the adapters that read and write them are `backends/kv/callbacks.rs`
//! (registry, attempt log) and [`super::local::LocalCallbacks`] (the local job queue).

use super::sender::{AttemptRecord, FailedDelivery};
use crate::store::index::{IndexEntry, Indexed};
use crate::store::keys::{attempt_entry, partner_entry};
use crate::store::{IndexedSpace, Space};

// The partner callbacks' key spaces in the local store.
pub const PARTNERS: Space = Space::new("partners");
pub const REGISTRATIONS: Space = Space::new("registrations");
/// Endpoints, and beside each its send slots under a rate limit ([`crate::store::keys::arrival_key`]).
pub const ENDPOINTS: Space = Space::new("endpoints");
/// The jobs waiting for an attempt.
pub const CALLBACK_JOBS: Space = Space::new("callback_jobs");
pub const CALLBACK_ATTEMPTS: Space = Space::new("callback_attempts");
/// Deliveries given up on.
pub const FAILED_CALLBACKS: Space = Space::new("failed_callbacks");

/// The callbacks' spaces with index entries, for rebuilding them ([`crate::store::KvStore::reindex`]).
pub const INDEXED_SPACES: &[IndexedSpace] = &[
    IndexedSpace::of::<AttemptRecord>(CALLBACK_ATTEMPTS),
    IndexedSpace::of::<FailedDelivery>(FAILED_CALLBACKS),
];

/// The index of attempts and given-up deliveries, by partner and time.
pub(crate) const PARTNER_INDEX: &str = "partner";

impl Indexed for AttemptRecord {
    fn entries(&self) -> Vec<IndexEntry> {
        vec![IndexEntry {
            index: PARTNER_INDEX.into(),
            value: attempt_entry(&self.partner, self.at, self.attempt),
        }]
    }
}

impl Indexed for FailedDelivery {
    fn entries(&self) -> Vec<IndexEntry> {
        vec![IndexEntry {
            index: PARTNER_INDEX.into(),
            value: partner_entry(&self.job.partner, self.failed_at),
        }]
    }
}
