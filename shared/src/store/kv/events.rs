//! [`EventStore`] over the key-value store: each read-modify-write under [`KvStore`]'s lock, the claim rules
//! from [`crate::store::delivery_decision`] and [`crate::store::alert_decision`], every indexed document written with its entries.

use crate::alerts::Alert;
use crate::model::{DedupeKey, Event, ProviderId};
use crate::state::EsimState;
use crate::store::index::IndexRange;
use crate::store::keys::{conflict_key, delivery_key, duplicates_key, sort_time, state_key};
use crate::store::kv::{conflict_from_doc, DuplicateCount, KvBackend, KvStore, Space, StoredState};
use crate::store::{
    alert_decision, delivery_decision, AlertClaim, AlertStatus, Begin, Decision, DeliveryStatus, EventStore, Lease,
    StoreError, StoredAlert, StoredConflict, StoredDelivery, Versioned,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// An event's delivery document.
fn event_key(event: &Event) -> String {
    delivery_key(event.provider, event.dedupe_key.as_str())
}

impl<B: KvBackend> KvStore<B> {
    /// One more exact duplicate of the provider's in the hour of its receipt (called under the lock).
    fn count_duplicate(&self, event: &Event) -> Result<(), StoreError> {
        let hour = crate::store::read::hour_of(event.received_at);
        let key = duplicates_key(event.provider, hour);
        let mut count: DuplicateCount = self.read(Space::DUPLICATES, &key)?.unwrap_or(DuplicateCount {
            provider: event.provider,
            hour,
            count: 0,
        });
        count.count += 1;
        self.write_indexed(Space::DUPLICATES, &key, &count)
    }

    /// Updates a delivery we hold; a lease lost to another attempt leaves it alone.
    fn update_held_delivery(
        &self,
        event: &Event,
        lease: &Lease,
        change: impl FnOnce(&mut StoredDelivery),
    ) -> Result<(), StoreError> {
        let _guard = self.locked();
        let key = event_key(event);
        if let Some(mut stored) = self.read::<StoredDelivery>(Space::DELIVERIES, &key)? {
            if stored.attempt.as_deref() == Some(lease.attempt.as_str()) {
                change(&mut stored);
                self.write_indexed(Space::DELIVERIES, &key, &stored)?;
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
        if let Some(mut stored) = self.read::<StoredAlert>(Space::ALERTS, &alert.alert_id)? {
            if stored.attempt.as_deref() == Some(lease.attempt.as_str()) {
                change(&mut stored);
                self.write_indexed(Space::ALERTS, &alert.alert_id, &stored)?;
            }
        }
        Ok(())
    }
}

#[async_trait]
impl<B: KvBackend> EventStore for KvStore<B> {
    async fn begin_delivery(&self, event: &Event, lease: &Lease, now: DateTime<Utc>) -> Result<Begin, StoreError> {
        let _guard = self.locked();
        let key = event_key(event);
        let existing: Option<StoredDelivery> = self.read(Space::DELIVERIES, &key)?;
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
                self.write_indexed(Space::DELIVERIES, &key, &record)?;
                Ok(Begin::Started)
            }
        }
    }

    async fn delivery_status(
        &self,
        provider: ProviderId,
        dedupe_key: &DedupeKey,
    ) -> Result<Option<DeliveryStatus>, StoreError> {
        let stored: Option<StoredDelivery> =
            self.read(Space::DELIVERIES, &delivery_key(provider, dedupe_key.as_str()))?;
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
        let key = event_key(event);
        let Some(mut stored) = self.read::<StoredDelivery>(Space::DELIVERIES, &key)? else {
            return Ok(false);
        };
        stored.event = event.clone();
        self.write_indexed(Space::DELIVERIES, &key, &stored)?;
        Ok(true)
    }

    async fn record_conflict(&self, event: &Event) -> Result<(), StoreError> {
        let key = conflict_key(event.provider, event.dedupe_key.as_str(), event.payload_sha256.as_str());
        let _guard = self.locked();
        let record = match self.backend().get(Space::CONFLICTS, &key)? {
            Some(doc) => {
                let mut record = conflict_from_doc(&doc)?;
                record.seen_again(event);
                record
            }
            None => StoredConflict::first(event.clone()),
        };
        self.write_indexed(Space::CONFLICTS, &key, &record)
    }

    async fn load_state(
        &self,
        provider: ProviderId,
        esim_key: &str,
    ) -> Result<Option<Versioned<EsimState>>, StoreError> {
        let stored: Option<StoredState> = self.read(Space::STATES, &state_key(provider, esim_key))?;
        Ok(stored.map(|s| Versioned {
            value: s.state,
            version: s.version,
        }))
    }

    async fn save_state(&self, state: &EsimState, expected: Option<u64>) -> Result<bool, StoreError> {
        let _guard = self.locked();
        let key = state_key(state.provider, &state.key);
        let current: Option<StoredState> = self.read(Space::STATES, &key)?;
        if current.as_ref().map(|s| s.version) != expected {
            return Ok(false);
        }
        let version = expected.map_or(1, |v| v + 1);
        self.write_indexed(
            Space::STATES,
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
        let found: Vec<StoredState> = self.read_range(Space::STATES, &range)?;
        Ok(found
            .into_iter()
            .map(|s| s.state)
            .filter(|s| s.expires_at().is_some_and(|at| at >= from && at < until))
            .collect())
    }

    async fn alert_status(&self, alert_id: &str) -> Result<Option<AlertStatus>, StoreError> {
        let stored: Option<StoredAlert> = self.read(Space::ALERTS, alert_id)?;
        Ok(stored.map(|a| a.status))
    }

    async fn claim_alert(&self, alert: &Alert, lease: &Lease, now: DateTime<Utc>) -> Result<AlertClaim, StoreError> {
        let _guard = self.locked();
        let existing: Option<StoredAlert> = self.read(Space::ALERTS, &alert.alert_id)?;
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
                self.write_indexed(Space::ALERTS, &alert.alert_id, &record)?;
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
