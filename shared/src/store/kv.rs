//! The key-value store: JSON documents in spaces, each with its index entries, over any backend that can get,
//! put, list and range them (memory for tests, the local SQLite file). A process-wide lock makes each
//! read-modify-write atomic, which is all those need. One room for the backend and its backends: its `EventStore`
//! is in `kv/events.rs`, its `StoreQuery` in `kv/query.rs`, its orderings in `kv/index.rs`, and the backends
//! themselves in `kv/memory.rs` and `kv/sqlite.rs`.

mod events;
pub mod index;
#[cfg(any(test, feature = "testing"))]
pub(super) mod memory;
mod query;
#[cfg(feature = "sqlite")]
pub mod sqlite;

use super::index::{IndexEntry, IndexRange, Indexed, INDEX_VERSION};
use super::keys::{by_provider, sort_time};
use super::{StoreError, StoredAlert, StoredConflict, StoredDelivery};
use crate::model::ProviderId;
use crate::records::NotificationRecord;
use crate::state::EsimState;
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::sync::Mutex;

/// A kind of document, its own key space, by the name the local file keeps it under. A plain value: each
/// feature declares its own spaces beside its types; the store's own are those of events and alerts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Space(&'static str);

impl Space {
    pub const DELIVERIES: Self = Self("deliveries");
    pub const STATES: Self = Self("states");
    pub const ALERTS: Self = Self("alerts");
    pub const CONFLICTS: Self = Self("conflicts");
    /// Who was told of each alert: listed beside it.
    pub const NOTIFICATIONS: Self = Self("notifications");
    /// Exact duplicates per provider and hour: they change nothing else, so they are counted here.
    pub const DUPLICATES: Self = Self("duplicates");

    /// A space named `name`, which no other space uses.
    pub const fn new(name: &'static str) -> Self {
        Self(name)
    }

    pub fn as_str(self) -> &'static str {
        self.0
    }
}

/// A space whose documents have index entries, with how to read a document's entries from its text: what
/// rebuilding the indexes of an older file needs.
#[derive(Debug, Clone, Copy)]
pub struct IndexedSpace {
    pub space: Space,
    pub entries: fn(&str) -> Result<Vec<IndexEntry>, serde_json::Error>,
}

impl IndexedSpace {
    /// `space`, whose documents are `T`s as JSON.
    pub const fn of<T: DeserializeOwned + Indexed>(space: Space) -> Self {
        Self {
            space,
            entries: entries_of::<T>,
        }
    }
}

fn entries_of<T: DeserializeOwned + Indexed>(document: &str) -> Result<Vec<IndexEntry>, serde_json::Error> {
    serde_json::from_str::<T>(document).map(|value| value.entries())
}

/// The store's own indexed spaces; the features' are given to [`KvStore::open`] and [`KvStore::reindex`].
const STORE_SPACES: [IndexedSpace; 6] = [
    IndexedSpace::of::<StoredDelivery>(Space::DELIVERIES),
    IndexedSpace::of::<StoredState>(Space::STATES),
    IndexedSpace::of::<StoredAlert>(Space::ALERTS),
    IndexedSpace {
        space: Space::CONFLICTS,
        entries: |document| conflict_json(document).map(|conflict| conflict.entries()),
    },
    IndexedSpace::of::<NotificationRecord>(Space::NOTIFICATIONS),
    IndexedSpace::of::<DuplicateCount>(Space::DUPLICATES),
];

/// The other names a name stands for in the local store's name search ([`super::StoreQuery::esims_named`]),
/// each with the provider it names an eSIM at (a customer id: its contacts' references). Answered by the
/// feature that files them.
pub trait Aliases {
    fn aliases(&self, name: &str) -> Result<BTreeSet<(Option<ProviderId>, String)>, StoreError>;
}

/// One write or delete of [`KvBackend::apply`].
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Writes a document; with `entries`, replaces its index entries too, else leaves them as they are.
    Put {
        space: Space,
        key: String,
        document: String,
        entries: Option<Vec<IndexEntry>>,
    },
    /// Deletes a document and its index entries.
    Delete { space: Space, key: String },
}

impl Change {
    pub fn put(space: Space, key: String, document: String) -> Self {
        Self::Put {
            space,
            key,
            document,
            entries: None,
        }
    }

    pub fn delete(space: Space, key: String) -> Self {
        Self::Delete { space, key }
    }
}

/// A synchronous document store with ordered index entries beside the documents. Calls are made under
/// [`KvStore`]'s lock.
pub trait KvBackend: Send + Sync + 'static {
    fn get(&self, space: Space, key: &str) -> Result<Option<String>, StoreError>;
    /// Writes a document, leaving its index entries as they are.
    fn put(&self, space: Space, key: &str, document: &str) -> Result<(), StoreError>;
    /// Every document of a space, with its key.
    fn list(&self, space: Space) -> Result<Vec<(String, String)>, StoreError>;
    /// The documents whose entries lie in `range`, in its order.
    fn range(&self, space: Space, range: &IndexRange) -> Result<Vec<String>, StoreError>;
    /// How many entries lie in `range`, by the first `prefix` characters of their value (ASCII values), in
    /// ascending order of those; reads no document.
    fn histogram(&self, space: Space, range: &IndexRange, prefix: usize) -> Result<Vec<(String, u64)>, StoreError>;
    /// Applies the changes together: all of them or, on an error, none.
    fn apply(&self, changes: &[Change]) -> Result<(), StoreError>;
    /// Forgets every index entry (the documents stay), before they are all written again.
    fn clear_index(&self) -> Result<(), StoreError>;
    /// The [`INDEX_VERSION`] the entries were written for (0: a store from before there were indexes).
    fn index_version(&self) -> Result<u32, StoreError>;
    fn set_index_version(&self, version: u32) -> Result<(), StoreError>;
    /// Applies the changes together only while every document in `expected` is still as given (`None`:
    /// absent); false, and nothing written, when one changed. Atomic under [`KvStore`]'s lock; a backend another
    /// process writes too (the SQLite file) checks and writes in one transaction.
    fn apply_if(&self, expected: &[Expected], changes: &[Change]) -> Result<bool, StoreError> {
        for expected in expected {
            if self.get(expected.space, &expected.key)? != expected.document {
                return Ok(false);
            }
        }
        self.apply(changes)?;
        Ok(true)
    }
}

/// A document as a conditional write ([`KvBackend::apply_if`]) expects it: its text, or `None` for none.
#[derive(Debug, Clone, PartialEq)]
pub struct Expected {
    pub space: Space,
    pub key: String,
    pub document: Option<String>,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct StoredState {
    pub(crate) version: u64,
    pub(crate) state: EsimState,
}

/// How many exact duplicates a provider sent in an hour.
#[derive(Serialize, Deserialize)]
pub(crate) struct DuplicateCount {
    pub(crate) provider: ProviderId,
    pub(crate) hour: DateTime<Utc>,
    pub(crate) count: u64,
}

impl Indexed for DuplicateCount {
    fn entries(&self) -> Vec<IndexEntry> {
        vec![IndexEntry {
            index: by_provider("time", Some(self.provider)),
            value: sort_time(self.hour),
        }]
    }
}

impl Indexed for StoredState {
    fn entries(&self) -> Vec<IndexEntry> {
        self.state.entries()
    }
}

pub struct KvStore<B> {
    backend: B,
    lock: Mutex<()>,
}

impl<B: KvBackend> KvStore<B> {
    pub fn new(backend: B) -> Self {
        Self {
            backend,
            lock: Mutex::new(()),
        }
    }

    pub fn backend(&self) -> &B {
        &self.backend
    }

    pub fn into_backend(self) -> B {
        self.backend
    }

    /// The store over a backend that may hold documents written before its indexes were (an older local
    /// file): their entries are written first, once, for the store's spaces and the `features'`. Give every
    /// feature's `INDEXED_SPACES` (as `cli/src/sqlite.rs` does): a space left out is never reindexed.
    pub fn open(backend: B, features: &[IndexedSpace]) -> Result<Self, StoreError> {
        let store = Self::new(backend);
        if store.backend.index_version()? < INDEX_VERSION {
            store.reindex(features)?;
        }
        Ok(store)
    }

    /// Writes every indexed document's entries again, from the document: the store's spaces' and the
    /// `features'`.
    pub fn reindex(&self, features: &[IndexedSpace]) -> Result<(), StoreError> {
        let _guard = self.locked();
        self.backend.clear_index()?;
        for indexed in STORE_SPACES.iter().chain(features) {
            self.reindex_space(indexed)?;
        }
        self.backend.set_index_version(INDEX_VERSION)
    }

    fn reindex_space(&self, indexed: &IndexedSpace) -> Result<(), StoreError> {
        let space = indexed.space;
        let changes = self
            .backend
            .list(space)?
            .into_iter()
            .map(|(key, document)| {
                let entries = (indexed.entries)(&document)
                    .map_err(|e| StoreError::Corrupt(format!("{}/{key}: {e}", space.as_str())))?;
                Ok(Change::Put {
                    space,
                    key,
                    document,
                    entries: Some(entries),
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        self.backend.apply(&changes)
    }

    pub(crate) fn delete(&self, space: Space, key: &str) -> Result<(), StoreError> {
        self.backend.apply(&[Change::delete(space, key.to_string())])
    }

    pub(crate) fn read<T: DeserializeOwned>(&self, space: Space, key: &str) -> Result<Option<T>, StoreError> {
        self.backend
            .get(space, key)?
            .map(|doc| {
                serde_json::from_str(&doc).map_err(|e| StoreError::Corrupt(format!("{}/{key}: {e}", space.as_str())))
            })
            .transpose()
    }

    pub(crate) fn write<T: Serialize>(&self, space: Space, key: &str, value: &T) -> Result<(), StoreError> {
        let doc = serde_json::to_string(value).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.backend.put(space, key, &doc)
    }

    /// Writes a document and replaces its index entries, together.
    pub(crate) fn write_indexed<T: Serialize + Indexed>(
        &self,
        space: Space,
        key: &str,
        value: &T,
    ) -> Result<(), StoreError> {
        self.backend.apply(&[self.indexed_change(space, key, value)?])
    }

    pub(crate) fn indexed_change<T: Serialize + Indexed>(
        &self,
        space: Space,
        key: &str,
        value: &T,
    ) -> Result<Change, StoreError> {
        Ok(Change::Put {
            space,
            key: key.to_string(),
            document: serde_json::to_string(value).map_err(|e| StoreError::Corrupt(e.to_string()))?,
            entries: Some(value.entries()),
        })
    }

    pub(crate) fn read_all<T: DeserializeOwned>(&self, space: Space) -> Result<Vec<T>, StoreError> {
        self.backend
            .list(space)?
            .iter()
            .map(|(_, doc)| {
                serde_json::from_str(doc).map_err(|e| StoreError::Corrupt(format!("{}: {e}", space.as_str())))
            })
            .collect()
    }

    /// The documents in one index range, in its order.
    pub(crate) fn read_range<T: DeserializeOwned>(
        &self,
        space: Space,
        range: &IndexRange,
    ) -> Result<Vec<T>, StoreError> {
        self.backend
            .range(space, range)?
            .iter()
            .map(|doc| serde_json::from_str(doc).map_err(|e| StoreError::Corrupt(format!("{}: {e}", space.as_str()))))
            .collect()
    }

    /// Held around every read-modify-write, so each is atomic within the process.
    pub(crate) fn locked(&self) -> std::sync::MutexGuard<'_, ()> {
        self.lock.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A conflict record; one written before conflicts were counted is the bare event, seen once.
pub(crate) fn conflict_from_doc(doc: &str) -> Result<StoredConflict, StoreError> {
    conflict_json(doc).map_err(|e| StoreError::Corrupt(format!("conflicts: {e}")))
}

/// A conflict's document, or the bare event an older file kept for it (`compat::conflicts`).
fn conflict_json(doc: &str) -> Result<StoredConflict, serde_json::Error> {
    serde_json::from_str::<StoredConflict>(doc)
        .or_else(|_| crate::compat::conflicts::bare_event(doc).map(StoredConflict::first))
}
