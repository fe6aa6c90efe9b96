//! [`EventStore`] over any key-value backend that can get, put and list JSON documents. A process-wide lock
//! makes each read-modify-write atomic, which is all the in-memory store and the local SQLite file need.

use super::{
    alert_decision, delivery_decision, AlertClaim, AlertStatus, Begin, Decision, DeliveryStatus, EventStore, Lease,
    ListQuery, StoreError, StoreQuery, StoredAlert, StoredConflict, StoredDelivery, Versioned,
};
use crate::alerts::Alert;
use crate::model::{DedupeKey, Event, ProviderId};
use crate::state::EsimState;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
#[cfg(any(test, feature = "testing"))]
use std::collections::BTreeMap;
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
        }
    }
}

/// A synchronous document store. Calls are made under [`KvStore`]'s lock.
pub trait KvBackend: Send + Sync + 'static {
    fn get(&self, space: Space, key: &str) -> Result<Option<String>, StoreError>;
    fn put(&self, space: Space, key: &str, document: &str) -> Result<(), StoreError>;
    fn list(&self, space: Space) -> Result<Vec<String>, StoreError>;
    /// Writes (`Some` document) and deletes (`None`) together: all of them or, on an error, none.
    fn apply(&self, changes: &[(Space, String, Option<String>)]) -> Result<(), StoreError>;
}

#[cfg(any(test, feature = "testing"))]
/// Documents in a map: the in-memory store for unit tests and benchmarks.
#[derive(Debug, Default)]
pub struct MemoryBackend(Mutex<BTreeMap<(Space, String), String>>);

#[cfg(any(test, feature = "testing"))]
impl KvBackend for MemoryBackend {
    fn get(&self, space: Space, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&(space, key.to_string()))
            .cloned())
    }

    fn put(&self, space: Space, key: &str, document: &str) -> Result<(), StoreError> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert((space, key.to_string()), document.to_string());
        Ok(())
    }

    fn apply(&self, changes: &[(Space, String, Option<String>)]) -> Result<(), StoreError> {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        for (space, key, document) in changes {
            match document {
                Some(document) => map.insert((*space, key.clone()), document.clone()),
                None => map.remove(&(*space, key.clone())),
            };
        }
        Ok(())
    }

    fn list(&self, space: Space) -> Result<Vec<String>, StoreError> {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        Ok(map
            .range((space, String::new())..)
            .take_while(|((s, _), _)| *s == space)
            .map(|(_, v)| v.clone())
            .collect())
    }
}

#[derive(Serialize, Deserialize)]
struct StoredState {
    version: u64,
    state: EsimState,
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

fn delivery_key_of(provider: ProviderId, dedupe_key: &DedupeKey) -> String {
    format!("{provider}#{dedupe_key}")
}

fn state_key(provider: ProviderId, esim_key: &str) -> String {
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

    pub(crate) fn delete(&self, space: Space, key: &str) -> Result<(), StoreError> {
        self.backend.apply(&[(space, key.to_string(), None)])
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

    pub(crate) fn read_all<T: DeserializeOwned>(&self, space: Space) -> Result<Vec<T>, StoreError> {
        self.backend
            .list(space)?
            .iter()
            .map(|doc| serde_json::from_str(doc).map_err(|e| StoreError::Corrupt(format!("{}: {e}", space.as_str()))))
            .collect()
    }

    /// Held around every read-modify-write, so each is atomic within the process.
    pub(crate) fn locked(&self) -> std::sync::MutexGuard<'_, ()> {
        self.lock.lock().unwrap_or_else(|e| e.into_inner())
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
                self.write(Space::Deliveries, &key, &stored)?;
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
                self.write(Space::Alerts, &alert.alert_id, &stored)?;
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
                self.write(Space::Deliveries, &key, &record)?;
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
        self.write(Space::Deliveries, &key, &stored)?;
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
        self.write(Space::Conflicts, &key, &record)
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
        self.write(
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
        let all: Vec<StoredState> = self.read_all(Space::States)?;
        Ok(all
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
                self.write(Space::Alerts, &alert.alert_id, &record)?;
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
fn conflict_from_doc(doc: &str) -> Result<StoredConflict, StoreError> {
    serde_json::from_str::<StoredConflict>(doc)
        .or_else(|_| serde_json::from_str::<Event>(doc).map(StoredConflict::first))
        .map_err(|e| StoreError::Corrupt(format!("conflicts: {e}")))
}

fn newest_first<T>(mut items: Vec<T>, query: &ListQuery, at: impl Fn(&T) -> DateTime<Utc>) -> Vec<T> {
    items.sort_by_key(|item| std::cmp::Reverse(at(item)));
    items.truncate(query.limit.unwrap_or(usize::MAX));
    items
}

#[async_trait]
impl<B: KvBackend> StoreQuery for KvStore<B> {
    async fn delivery(
        &self,
        provider: ProviderId,
        dedupe_key: &DedupeKey,
    ) -> Result<Option<StoredDelivery>, StoreError> {
        self.read(Space::Deliveries, &delivery_key_of(provider, dedupe_key))
    }

    async fn list_deliveries(&self, query: &ListQuery) -> Result<Vec<StoredDelivery>, StoreError> {
        let all: Vec<StoredDelivery> = self.read_all(Space::Deliveries)?;
        let kept = all
            .into_iter()
            .filter(|d| query.admits(d.event.provider, d.event.received_at))
            .collect();
        Ok(newest_first(kept, query, |d| d.event.received_at))
    }

    async fn list_states(&self, query: &ListQuery) -> Result<Vec<EsimState>, StoreError> {
        let all: Vec<StoredState> = self.read_all(Space::States)?;
        let kept = all
            .into_iter()
            .map(|s| s.state)
            .filter(|s| query.admits(s.provider, s.updated_at))
            .collect();
        Ok(newest_first(kept, query, |s| s.updated_at))
    }

    async fn list_alerts(&self, query: &ListQuery) -> Result<Vec<StoredAlert>, StoreError> {
        let all: Vec<StoredAlert> = self.read_all(Space::Alerts)?;
        let kept = all
            .into_iter()
            .filter(|a| query.admits(a.alert.provider, a.alert.raised_at))
            .collect();
        let mut alerts = newest_first(kept, query, |a| a.alert.raised_at);
        let mut told: Vec<crate::customers::notify::NotificationRecord> = self.read_all(Space::Notifications)?;
        told.sort_by_key(|n| n.channel);
        for alert in &mut alerts {
            alert.notifications = told
                .iter()
                .filter(|n| n.alert_id == alert.alert.alert_id)
                .cloned()
                .collect();
        }
        Ok(alerts)
    }

    async fn list_conflicts(&self, query: &ListQuery) -> Result<Vec<StoredConflict>, StoreError> {
        let all = self
            .backend
            .list(Space::Conflicts)?
            .iter()
            .map(|doc| conflict_from_doc(doc))
            .collect::<Result<Vec<_>, _>>()?;
        let kept = all
            .into_iter()
            .filter(|c| query.admits(c.event.provider, c.last_seen_at))
            .collect();
        Ok(newest_first(kept, query, |c| c.last_seen_at))
    }
}
