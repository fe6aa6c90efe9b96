//! The key-value store: JSON documents in spaces, each with its index entries, over any backend that can get,
//! put, list and range them (memory for tests, the local SQLite file). A process-wide lock makes each
//! read-modify-write atomic, which is all those need. Its `EventStore` is in `kv_events.rs`, its `StoreQuery` in
//! `kv_query.rs`.

use super::index::{IndexEntry, IndexRange, Indexed, INDEX_VERSION};
use super::keys::{by_provider, sort_time};
#[cfg(any(test, feature = "testing"))]
use super::memory::MemoryBackend;
use super::{StoreError, StoredAlert, StoredConflict, StoredDelivery};
use crate::model::{Event, ProviderId};
use crate::state::EsimState;
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::sync::Mutex;

/// The kinds of documents, each its own key space.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Space {
    Deliveries,
    States,
    Alerts,
    Conflicts,
    Contacts,
    Notifications,
    /// Per-phone daily SMS counts.
    Allowances,
    /// Partner callbacks (local runs): partners, their registrations and endpoints, the jobs waiting for an
    /// attempt, the attempt log and the deliveries given up on.
    Partners,
    Registrations,
    Endpoints,
    CallbackJobs,
    CallbackAttempts,
    FailedCallbacks,
    /// Exact duplicates per provider and hour: they change nothing else, so they are counted here.
    Duplicates,
}

impl Space {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Deliveries => "deliveries",
            Self::States => "states",
            Self::Alerts => "alerts",
            Self::Conflicts => "conflicts",
            Self::Contacts => "contacts",
            Self::Notifications => "notifications",
            Self::Allowances => "allowances",
            Self::Partners => "partners",
            Self::Registrations => "registrations",
            Self::Endpoints => "endpoints",
            Self::CallbackJobs => "callback_jobs",
            Self::CallbackAttempts => "callback_attempts",
            Self::FailedCallbacks => "failed_callbacks",
            Self::Duplicates => "duplicates",
        }
    }
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

#[cfg(any(test, feature = "testing"))]
impl KvStore<MemoryBackend> {
    pub fn in_memory() -> Self {
        Self::new(MemoryBackend::default())
    }
}

#[cfg(any(test, feature = "testing"))]
impl Default for KvStore<MemoryBackend> {
    fn default() -> Self {
        Self::in_memory()
    }
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
    /// file): their entries are written first, once.
    pub fn open(backend: B) -> Result<Self, StoreError> {
        let store = Self::new(backend);
        if store.backend.index_version()? < INDEX_VERSION {
            store.reindex()?;
        }
        Ok(store)
    }

    /// Writes every indexed document's entries again, from the document.
    pub fn reindex(&self) -> Result<(), StoreError> {
        let _guard = self.locked();
        self.backend.clear_index()?;
        self.reindex_space::<StoredDelivery>(Space::Deliveries, |d| serde_json::from_str(d))?;
        self.reindex_space::<StoredState>(Space::States, |d| serde_json::from_str(d))?;
        self.reindex_space::<StoredAlert>(Space::Alerts, |d| serde_json::from_str(d))?;
        self.reindex_space::<StoredConflict>(Space::Conflicts, |d| {
            conflict_from_doc(d).map_err(|e| serde::de::Error::custom(e.to_string()))
        })?;
        self.reindex_space::<crate::customers::notify::NotificationRecord>(Space::Notifications, |d| {
            serde_json::from_str(d)
        })?;
        self.reindex_space::<crate::customers::Contact>(Space::Contacts, |d| serde_json::from_str(d))?;
        self.reindex_space::<DuplicateCount>(Space::Duplicates, |d| serde_json::from_str(d))?;
        self.reindex_space::<crate::callbacks::sender::AttemptRecord>(Space::CallbackAttempts, |d| {
            serde_json::from_str(d)
        })?;
        self.reindex_space::<crate::callbacks::sender::FailedDelivery>(Space::FailedCallbacks, |d| {
            serde_json::from_str(d)
        })?;
        self.backend.set_index_version(INDEX_VERSION)
    }

    fn reindex_space<T: Indexed>(
        &self,
        space: Space,
        parse: impl Fn(&str) -> Result<T, serde_json::Error>,
    ) -> Result<(), StoreError> {
        let changes = self
            .backend
            .list(space)?
            .into_iter()
            .map(|(key, document)| {
                let entries = parse(&document)
                    .map_err(|e| StoreError::Corrupt(format!("{}/{key}: {e}", space.as_str())))?
                    .entries();
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
    serde_json::from_str::<StoredConflict>(doc)
        .or_else(|_| serde_json::from_str::<Event>(doc).map(StoredConflict::first))
        .map_err(|e| StoreError::Corrupt(format!("conflicts: {e}")))
}
