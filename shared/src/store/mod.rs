//! The storage port. A delivery is claimed once (an in-progress lease, then completed), its normalized event
//! and raw payload are kept, per-eSIM state advances only forward, and each alert is claimed once.
//!
//! The claim rules live here, once, as pure functions ([`delivery_decision`], [`alert_decision`]); every
//! adapter (in-memory/SQLite via [`kv`], DynamoDB via [`dynamodb`]) applies them atomically its own way.

#[cfg(feature = "aws")]
pub mod dynamodb;
pub mod index;
pub mod kv;
mod kv_query;
#[cfg(any(test, feature = "testing"))]
mod memory;
pub mod read;

use crate::alerts::Alert;
use crate::model::{DedupeKey, Event, ProviderId};
use crate::state::EsimState;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use kv::{Change, KvBackend, KvStore, Space};
#[cfg(any(test, feature = "testing"))]
pub use memory::MemoryBackend;
pub use read::{AlertCounts, EsimHistory, EsimName, FleetFilter, FleetPage, HourCounts};

/// The right to process one delivery or publish one alert until `until`. A crashed holder's lease expires and
/// the next attempt takes over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub attempt: String,
    pub until: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DeliveryStatus {
    InProgress,
    Completed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InProgress => "IN_PROGRESS",
            Self::Completed => "COMPLETED",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AlertStatus {
    Claimed,
    Sent,
}

impl AlertStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Claimed => "CLAIMED",
            Self::Sent => "SENT",
        }
    }
}

/// What claiming a delivery found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Begin {
    /// Ours to process (new, or a crashed attempt's lease had expired).
    Started,
    /// Already processed with the same payload.
    Duplicate,
    /// The same key was already seen with a different payload: flagged, not applied.
    Conflict { stored_sha256: String },
    /// Another attempt holds a live lease on it.
    InProgress,
}

/// What claiming an alert found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertClaim {
    Claimed,
    AlreadySent,
    InProgress,
}

/// Either the caller may write its claim, or the existing record decides the outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision<T> {
    Take,
    Found(T),
}

/// The delivery claim rule, given the existing record's (status, lease end, payload hash).
pub fn delivery_decision(
    existing: Option<(DeliveryStatus, Option<DateTime<Utc>>, &str)>,
    payload_sha256: &str,
    now: DateTime<Utc>,
) -> Decision<Begin> {
    let Some((status, lease_until, stored_sha256)) = existing else {
        return Decision::Take;
    };
    if stored_sha256 != payload_sha256 {
        return Decision::Found(Begin::Conflict {
            stored_sha256: stored_sha256.to_string(),
        });
    }
    match status {
        DeliveryStatus::Completed => Decision::Found(Begin::Duplicate),
        DeliveryStatus::InProgress if lease_until.is_some_and(|until| until > now) => {
            Decision::Found(Begin::InProgress)
        }
        DeliveryStatus::InProgress => Decision::Take,
    }
}

/// The alert claim rule, given the existing record's (status, lease end).
pub fn alert_decision(
    existing: Option<(AlertStatus, Option<DateTime<Utc>>)>,
    now: DateTime<Utc>,
) -> Decision<AlertClaim> {
    match existing {
        None => Decision::Take,
        Some((AlertStatus::Sent, _)) => Decision::Found(AlertClaim::AlreadySent),
        Some((AlertStatus::Claimed, Some(until))) if until > now => Decision::Found(AlertClaim::InProgress),
        Some((AlertStatus::Claimed, _)) => Decision::Take,
    }
}

/// A stored delivery: the normalized event (with its raw payload) and its processing status.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredDelivery {
    pub status: DeliveryStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_until: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    pub event: Event,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredAlert {
    pub status: AlertStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_until: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt: Option<String>,
    pub alert: Alert,
    /// Who was told (the alert's customer), filled in by listings; kept beside the alert, not in it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notifications: Vec<crate::customers::notify::NotificationRecord>,
}

/// A payload seen under a dedupe key that already held another: one record per (key, payload), however
/// often it comes, with how often and when.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredConflict {
    pub count: u64,
    pub first_seen_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    /// The first delivery of this payload under the key.
    pub event: Event,
}

impl StoredConflict {
    /// The record of a payload seen once, in `event`.
    pub fn first(event: Event) -> Self {
        Self {
            count: 1,
            first_seen_at: event.received_at,
            last_seen_at: event.received_at,
            event,
        }
    }

    /// `event`, the same payload again, counted in.
    pub fn seen_again(&mut self, event: &Event) {
        self.count += 1;
        self.first_seen_at = self.first_seen_at.min(event.received_at);
        self.last_seen_at = self.last_seen_at.max(event.received_at);
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Versioned<T> {
    pub value: T,
    pub version: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store unavailable: {0}")]
    Unavailable(String),
    #[error("stored record cannot be read: {0}")]
    Corrupt(String),
}

/// Filters for the operator's read side.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub provider: Option<ProviderId>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub limit: Option<usize>,
}

impl ListQuery {
    pub fn admits(&self, provider: ProviderId, at: DateTime<Utc>) -> bool {
        self.provider.is_none_or(|p| p == provider)
            && self.since.is_none_or(|s| at >= s)
            && self.until.is_none_or(|u| at < u)
    }
}

/// The write side used by the pipeline.
#[async_trait]
pub trait EventStore: Send + Sync {
    /// Claims the delivery and stores its event and raw payload as in progress.
    async fn begin_delivery(&self, event: &Event, lease: &Lease, now: DateTime<Utc>) -> Result<Begin, StoreError>;
    /// The status of the delivery stored under `dedupe_key`, if there is one.
    async fn delivery_status(
        &self,
        provider: ProviderId,
        dedupe_key: &DedupeKey,
    ) -> Result<Option<DeliveryStatus>, StoreError>;
    /// Marks a delivery we hold as completed. A lease lost to another attempt is not an error.
    async fn finish_delivery(&self, event: &Event, lease: &Lease, now: DateTime<Utc>) -> Result<(), StoreError>;
    /// Gives up our lease after a failure, keeping the stored payload, so the provider's retry takes over at once.
    async fn abandon_delivery(&self, event: &Event, lease: &Lease, reason: &str) -> Result<(), StoreError>;
    /// Replaces a stored delivery's normalized event (same key and payload) with a new normalization, keeping
    /// its status. For replay after a normalizer changed. False when no such delivery is stored.
    async fn rewrite_event(&self, event: &Event) -> Result<bool, StoreError>;
    /// Keeps a delivery whose key was seen before with another payload, for an operator to look at: one
    /// record per (key, payload), counting repeats.
    async fn record_conflict(&self, event: &Event) -> Result<(), StoreError>;

    async fn load_state(
        &self,
        provider: ProviderId,
        esim_key: &str,
    ) -> Result<Option<Versioned<EsimState>>, StoreError>;
    /// Writes the state if its version is still `expected` (None: must not exist). False when it moved on.
    async fn save_state(&self, state: &EsimState, expected: Option<u64>) -> Result<bool, StoreError>;

    /// eSIMs whose validity ends in `[from, until)`, for the expiry sweep (an index, never a table scan).
    async fn expiring_states(&self, from: DateTime<Utc>, until: DateTime<Utc>) -> Result<Vec<EsimState>, StoreError>;

    /// The status of the alert stored under `alert_id`, if there is one.
    async fn alert_status(&self, alert_id: &str) -> Result<Option<AlertStatus>, StoreError>;
    async fn claim_alert(&self, alert: &Alert, lease: &Lease, now: DateTime<Utc>) -> Result<AlertClaim, StoreError>;
    async fn mark_alert_sent(
        &self,
        alert: &Alert,
        lease: &Lease,
        receipt: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Lets the next attempt claim the alert at once after a failed publish.
    async fn release_alert(&self, alert: &Alert, lease: &Lease) -> Result<(), StoreError>;
}

/// The read side, for operators: listing what was stored and alerted.
#[async_trait]
pub trait StoreQuery: Send + Sync {
    async fn list_deliveries(&self, query: &ListQuery) -> Result<Vec<StoredDelivery>, StoreError>;
    async fn list_states(&self, query: &ListQuery) -> Result<Vec<EsimState>, StoreError>;
    async fn list_alerts(&self, query: &ListQuery) -> Result<Vec<StoredAlert>, StoreError>;
    /// Conflicts last seen in the query's window, most recent first.
    async fn list_conflicts(&self, query: &ListQuery) -> Result<Vec<StoredConflict>, StoreError>;
    /// One stored delivery, by its provider and dedupe key (a key read, no listing).
    async fn delivery(
        &self,
        provider: ProviderId,
        dedupe_key: &DedupeKey,
    ) -> Result<Option<StoredDelivery>, StoreError>;
    /// One eSIM's current state (a key read).
    async fn esim_state(&self, provider: ProviderId, key: &str) -> Result<Option<EsimState>, StoreError>;

    /// The eSIMs `name` names (their key, ICCID or a reference; locally also a customer id) that were stored
    /// or updated in the window. This default reads the window's listings.
    async fn esims_named(&self, name: &str, window: &ListQuery) -> Result<Vec<EsimName>, StoreError> {
        let window = ListQuery {
            limit: None,
            ..window.clone()
        };
        let mut found = std::collections::BTreeSet::new();
        for s in self.list_states(&window).await? {
            if read::names_esim(&s.key, s.iccid.as_deref(), &s.refs, name) {
                found.insert(EsimName {
                    provider: s.provider,
                    key: s.key,
                    iccid: s.iccid,
                });
            }
        }
        for d in self.list_deliveries(&window).await? {
            if let Some(id) = d
                .event
                .esim
                .filter(|i| read::names_esim(&i.key, i.iccid.as_deref(), &i.refs, name))
            {
                if !found
                    .iter()
                    .any(|f: &EsimName| f.provider == d.event.provider && f.key == id.key)
                {
                    found.insert(EsimName {
                        provider: d.event.provider,
                        key: id.key,
                        iccid: id.iccid,
                    });
                }
            }
        }
        Ok(found.into_iter().collect())
    }

    /// One eSIM's deliveries and alerts in the window, oldest first, and its current state. This default reads
    /// the window's listings.
    async fn esim_history(
        &self,
        provider: ProviderId,
        key: &str,
        window: &ListQuery,
    ) -> Result<EsimHistory, StoreError> {
        let window = ListQuery {
            limit: None,
            provider: Some(provider),
            ..window.clone()
        };
        let mine = |p: ProviderId, id: Option<&crate::model::EsimIdentity>| read::is_esim(id, provider, key, p);
        let mut deliveries: Vec<StoredDelivery> = self
            .list_deliveries(&window)
            .await?
            .into_iter()
            .filter(|d| mine(d.event.provider, d.event.esim.as_ref()))
            .collect();
        deliveries.reverse();
        let mut alerts: Vec<StoredAlert> = self
            .list_alerts(&window)
            .await?
            .into_iter()
            .filter(|a| mine(a.alert.provider, a.alert.esim.as_ref()))
            .collect();
        alerts.reverse();
        Ok(EsimHistory {
            deliveries,
            alerts,
            state: self.esim_state(provider, key).await?,
        })
    }

    /// The window's deliveries counted by provider and hour. This default reads them.
    async fn delivery_counts(&self, window: &ListQuery) -> Result<Vec<HourCounts>, StoreError> {
        let window = ListQuery {
            limit: None,
            ..window.clone()
        };
        Ok(read::count_by_hour(&self.list_deliveries(&window).await?))
    }

    /// The window's alerts counted per provider, with the customer messages they led to. This default reads
    /// them.
    async fn alert_counts(
        &self,
        window: &ListQuery,
    ) -> Result<std::collections::BTreeMap<ProviderId, AlertCounts>, StoreError> {
        let window = ListQuery {
            limit: None,
            ..window.clone()
        };
        Ok(read::count_alerts(&self.list_alerts(&window).await?))
    }

    /// Exact duplicates per provider in the window, where the store counts them (the local store does; the
    /// deployed functions count them in the `Duplicates` metric instead, as a write per duplicate is a cost).
    async fn duplicate_counts(
        &self,
        _window: &ListQuery,
    ) -> Result<Option<std::collections::BTreeMap<ProviderId, u64>>, StoreError> {
        Ok(None)
    }

    /// The window's newest deliveries showing schema drift (unrecognized, or a field we could not read), at
    /// most `limit`. This default reads the window's deliveries.
    async fn drifting(&self, window: &ListQuery, limit: usize) -> Result<Vec<StoredDelivery>, StoreError> {
        let window = ListQuery {
            limit: None,
            ..window.clone()
        };
        let mut found: Vec<StoredDelivery> = self
            .list_deliveries(&window)
            .await?
            .into_iter()
            .filter(|d| d.event.shows_schema_drift())
            .collect();
        found.truncate(limit);
        Ok(found)
    }

    /// A page of the fleet view `filter` asks for. This default reads the window's states.
    async fn fleet(&self, filter: &FleetFilter, offset: usize, limit: usize) -> Result<FleetPage, StoreError> {
        let window = ListQuery {
            limit: None,
            ..filter.window.clone()
        };
        Ok(filter.page_of(self.list_states(&window).await?, offset, limit))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn delivery_rule() {
        let now = Utc::now();
        let live = Some(now + Duration::seconds(5));
        let dead = Some(now - Duration::seconds(5));
        assert_eq!(delivery_decision(None, "h", now), Decision::Take);
        assert_eq!(
            delivery_decision(Some((DeliveryStatus::Completed, None, "h")), "h", now),
            Decision::Found(Begin::Duplicate)
        );
        assert_eq!(
            delivery_decision(Some((DeliveryStatus::InProgress, live, "h")), "h", now),
            Decision::Found(Begin::InProgress)
        );
        assert_eq!(
            delivery_decision(Some((DeliveryStatus::InProgress, dead, "h")), "h", now),
            Decision::Take
        );
        assert_eq!(
            delivery_decision(Some((DeliveryStatus::InProgress, dead, "h")), "other", now),
            Decision::Found(Begin::Conflict {
                stored_sha256: "h".into()
            })
        );
    }

    #[test]
    fn alert_rule() {
        let now = Utc::now();
        assert_eq!(alert_decision(None, now), Decision::Take);
        assert_eq!(
            alert_decision(Some((AlertStatus::Sent, None)), now),
            Decision::Found(AlertClaim::AlreadySent)
        );
        assert_eq!(
            alert_decision(Some((AlertStatus::Claimed, Some(now + Duration::seconds(1)))), now),
            Decision::Found(AlertClaim::InProgress)
        );
        assert_eq!(
            alert_decision(Some((AlertStatus::Claimed, Some(now))), now),
            Decision::Take
        );
    }
}
