//! [`EventStore`] over any key-value backend that can get, put and list JSON documents. A process-wide lock
//! makes each read-modify-write atomic, which is all the in-memory store and the local SQLite file need.

use super::index::{sort_time, IndexEntry, IndexRange, Indexed, INDEX_VERSION};
#[cfg(any(test, feature = "testing"))]
use super::memory::MemoryBackend;
use super::{
    alert_decision, delivery_decision, AlertClaim, AlertStatus, Begin, Decision, DeliveryStatus, EventStore, Lease,
    StoreError, StoredAlert, StoredConflict, StoredDelivery, Versioned,
};
use crate::alerts::Alert;
use crate::model::{DedupeKey, Event, ProviderId};
use crate::state::EsimState;
use async_trait::async_trait;
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
            index: super::index::by_provider("time", Some(self.provider)),
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

fn delivery_key(event: &Event) -> String {
    delivery_key_of(event.provider, &event.dedupe_key)
}

pub(crate) fn delivery_key_of(provider: ProviderId, dedupe_key: &DedupeKey) -> String {
    format!("{provider}#{dedupe_key}")
}

pub(crate) fn state_key(provider: ProviderId, esim_key: &str) -> String {
    format!("{provider}#{esim_key}")
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

    /// One more exact duplicate of the provider's in the hour of its receipt (called under the lock).
    fn count_duplicate(&self, event: &Event) -> Result<(), StoreError> {
        let hour = super::read::hour_of(event.received_at);
        let key = format!("{}#{}", event.provider, sort_time(hour));
        let mut count: DuplicateCount = self.read(Space::Duplicates, &key)?.unwrap_or(DuplicateCount {
            provider: event.provider,
            hour,
            count: 0,
        });
        count.count += 1;
        self.write_indexed(Space::Duplicates, &key, &count)
    }

    /// Updates a delivery we hold; a lease lost to another attempt leaves it alone.
    fn update_held_delivery(
        &self,
        event: &Event,
        lease: &Lease,
        change: impl FnOnce(&mut StoredDelivery),
    ) -> Result<(), StoreError> {
        let _guard = self.locked();
        let key = delivery_key(event);
        if let Some(mut stored) = self.read::<StoredDelivery>(Space::Deliveries, &key)? {
            if stored.attempt.as_deref() == Some(lease.attempt.as_str()) {
                change(&mut stored);
                self.write_indexed(Space::Deliveries, &key, &stored)?;
            }
        }
        Ok(())
    }

    fn update_held_alert(
        &self,
        alert: &Alert,
        lease: &Lease,
        change: impl FnOnce(&mut StoredAlert),
    ) -> Result<(), StoreError> {
        let _guard = self.locked();
        if let Some(mut stored) = self.read::<StoredAlert>(Space::Alerts, &alert.alert_id)? {
            if stored.attempt.as_deref() == Some(lease.attempt.as_str()) {
                change(&mut stored);
                self.write_indexed(Space::Alerts, &alert.alert_id, &stored)?;
            }
        }
        Ok(())
    }
}

#[async_trait]
impl<B: KvBackend> EventStore for KvStore<B> {
    async fn begin_delivery(&self, event: &Event, lease: &Lease, now: DateTime<Utc>) -> Result<Begin, StoreError> {
        let _guard = self.locked();
        let key = delivery_key(event);
        let existing: Option<StoredDelivery> = self.read(Space::Deliveries, &key)?;
        let found = existing
            .as_ref()
            .map(|d| (d.status, d.lease_until, d.event.payload_sha256.as_str()));
        match delivery_decision(found, &event.payload_sha256, now) {
            Decision::Found(Begin::Duplicate) => {
                self.count_duplicate(event)?;
                Ok(Begin::Duplicate)
            }
            Decision::Found(outcome) => Ok(outcome),
            Decision::Take => {
                let record = StoredDelivery {
                    status: DeliveryStatus::InProgress,
                    attempt: Some(lease.attempt.clone()),
                    lease_until: Some(lease.until),
                    completed_at: None,
                    last_error: None,
                    event: event.clone(),
                };
                self.write_indexed(Space::Deliveries, &key, &record)?;
                Ok(Begin::Started)
            }
        }
    }

    async fn delivery_status(
        &self,
        provider: ProviderId,
        dedupe_key: &DedupeKey,
    ) -> Result<Option<DeliveryStatus>, StoreError> {
        let stored: Option<StoredDelivery> = self.read(Space::Deliveries, &delivery_key_of(provider, dedupe_key))?;
        Ok(stored.map(|d| d.status))
    }

    async fn finish_delivery(&self, event: &Event, lease: &Lease, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.update_held_delivery(event, lease, |d| {
            d.status = DeliveryStatus::Completed;
            d.completed_at = Some(now);
            d.attempt = None;
            d.lease_until = None;
        })
    }

    async fn abandon_delivery(&self, event: &Event, lease: &Lease, reason: &str) -> Result<(), StoreError> {
        self.update_held_delivery(event, lease, |d| {
            d.lease_until = Some(DateTime::UNIX_EPOCH);
            d.last_error = Some(reason.to_string());
        })
    }

    async fn rewrite_event(&self, event: &Event) -> Result<bool, StoreError> {
        let _guard = self.locked();
        let key = delivery_key(event);
        let Some(mut stored) = self.read::<StoredDelivery>(Space::Deliveries, &key)? else {
            return Ok(false);
        };
        stored.event = event.clone();
        self.write_indexed(Space::Deliveries, &key, &stored)?;
        Ok(true)
    }

    async fn record_conflict(&self, event: &Event) -> Result<(), StoreError> {
        let key = format!("{}#{}", delivery_key(event), event.payload_sha256);
        let _guard = self.locked();
        let record = match self.backend.get(Space::Conflicts, &key)? {
            Some(doc) => {
                let mut record = conflict_from_doc(&doc)?;
                record.seen_again(event);
                record
            }
            None => StoredConflict::first(event.clone()),
        };
        self.write_indexed(Space::Conflicts, &key, &record)
    }

    async fn load_state(
        &self,
        provider: ProviderId,
        esim_key: &str,
    ) -> Result<Option<Versioned<EsimState>>, StoreError> {
        let stored: Option<StoredState> = self.read(Space::States, &state_key(provider, esim_key))?;
        Ok(stored.map(|s| Versioned {
            value: s.state,
            version: s.version,
        }))
    }

    async fn save_state(&self, state: &EsimState, expected: Option<u64>) -> Result<bool, StoreError> {
        let _guard = self.locked();
        let key = state_key(state.provider, &state.key);
        let current: Option<StoredState> = self.read(Space::States, &key)?;
        if current.as_ref().map(|s| s.version) != expected {
            return Ok(false);
        }
        let version = expected.map_or(1, |v| v + 1);
        self.write_indexed(
            Space::States,
            &key,
            &StoredState {
                version,
                state: state.clone(),
            },
        )?;
        Ok(true)
    }

    async fn expiring_states(&self, from: DateTime<Utc>, until: DateTime<Utc>) -> Result<Vec<EsimState>, StoreError> {
        let range = IndexRange::new("expires", sort_time(from), sort_time(until)).oldest_first();
        let found: Vec<StoredState> = self.read_range(Space::States, &range)?;
        Ok(found
            .into_iter()
            .map(|s| s.state)
            .filter(|s| s.expires_at().is_some_and(|at| at >= from && at < until))
            .collect())
    }

    async fn alert_status(&self, alert_id: &str) -> Result<Option<AlertStatus>, StoreError> {
        let stored: Option<StoredAlert> = self.read(Space::Alerts, alert_id)?;
        Ok(stored.map(|a| a.status))
    }

    async fn claim_alert(&self, alert: &Alert, lease: &Lease, now: DateTime<Utc>) -> Result<AlertClaim, StoreError> {
        let _guard = self.locked();
        let existing: Option<StoredAlert> = self.read(Space::Alerts, &alert.alert_id)?;
        match alert_decision(existing.as_ref().map(|a| (a.status, a.lease_until)), now) {
            Decision::Found(outcome) => Ok(outcome),
            Decision::Take => {
                let record = StoredAlert {
                    status: AlertStatus::Claimed,
                    attempt: Some(lease.attempt.clone()),
                    lease_until: Some(lease.until),
                    sent_at: None,
                    receipt: None,
                    alert: alert.clone(),
                    notifications: Vec::new(),
                };
                self.write_indexed(Space::Alerts, &alert.alert_id, &record)?;
                Ok(AlertClaim::Claimed)
            }
        }
    }

    async fn mark_alert_sent(
        &self,
        alert: &Alert,
        lease: &Lease,
        receipt: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.update_held_alert(alert, lease, |a| {
            a.status = AlertStatus::Sent;
            a.sent_at = Some(now);
            a.receipt = Some(receipt.to_string());
            a.attempt = None;
            a.lease_until = None;
        })
    }

    async fn release_alert(&self, alert: &Alert, lease: &Lease) -> Result<(), StoreError> {
        self.update_held_alert(alert, lease, |a| a.lease_until = Some(DateTime::UNIX_EPOCH))
    }
}

/// A conflict record; one written before conflicts were counted is the bare event, seen once.
pub(crate) fn conflict_from_doc(doc: &str) -> Result<StoredConflict, StoreError> {
    serde_json::from_str::<StoredConflict>(doc)
        .or_else(|_| serde_json::from_str::<Event>(doc).map(StoredConflict::first))
        .map_err(|e| StoreError::Corrupt(format!("conflicts: {e}")))
}
