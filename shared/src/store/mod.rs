//! The storage port. A delivery is claimed once (an in-progress lease, then completed), its normalized event
//! and raw payload are kept, per-eSIM state advances only forward, and each alert is claimed once.
//!
//! The claim rules live here, once, as pure functions ([`delivery_decision`], [`alert_decision`]); every
//! adapter (in-memory/SQLite via [`kv`], DynamoDB via [`dynamodb`]) applies them atomically its own way.

#[cfg(feature = "aws")]
pub mod dynamodb;
pub mod keys;
pub mod kv;
pub mod read;

pub use kv::index;
#[cfg(feature = "sqlite")]
pub use kv::sqlite;

use crate::alerts::Alert;
use crate::model::{DedupeKey, Event, ProviderId};
use crate::state::EsimState;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[cfg(any(test, feature = "testing"))]
pub use kv::memory::MemoryBackend;
pub use kv::{Aliases, Change, Expected, IndexedSpace, KvBackend, KvStore, Space};
pub use read::{
    count_alerts, count_by_hour, AlertCounts, EsimHistory, EsimName, FleetFilter, FleetPage, HourCounts, StoreQuery,
    ASKING_LOOKBACK,
};

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
    pub notifications: Vec<crate::records::NotificationRecord>,
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
