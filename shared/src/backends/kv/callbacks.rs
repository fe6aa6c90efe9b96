//! [`CallbackRegistry`] and [`AttemptLog`] on the key-value store (SQLite locally, memory in tests): partners,
//! registrations, endpoints (with their send slots under a rate limit), the attempt log and deliveries given up
//! on, each a document in the callbacks' own key spaces (`callbacks/spaces.rs`).

use crate::callbacks::partner::{Partner, PartnerId};
use crate::callbacks::registry::{CallbackRegistry, Endpoint, Registration};
use crate::callbacks::sender::{AttemptLog, AttemptRecord, FailedDelivery};
use crate::callbacks::spaces::{
    CALLBACK_ATTEMPTS, ENDPOINTS, FAILED_CALLBACKS, PARTNERS, PARTNER_INDEX, REGISTRATIONS,
};
use crate::notification::NotificationType;
use crate::store::index::IndexRange;
use crate::store::keys::{arrival_key, attempt_key, failed_key, partner_entry, partner_prefix, registration_key};
use crate::store::{KvBackend, KvStore, StoreError};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

fn parked_key(failed: &FailedDelivery) -> String {
    failed_key(&failed.job.partner, failed.failed_at, &failed.job.notification_id)
}

/// A rate-limited URL's theoretical arrival time ([`crate::callbacks::rate`]).
#[derive(Debug, Serialize, Deserialize)]
struct Arrival {
    tat_ms: i64,
}

#[async_trait]
impl<B: KvBackend> CallbackRegistry for KvStore<B> {
    async fn partner(&self, id: &PartnerId) -> Result<Option<Partner>, StoreError> {
        self.read(PARTNERS, id.as_str())
    }

    async fn save_partner(&self, partner: &Partner) -> Result<(), StoreError> {
        self.write(PARTNERS, partner.id.as_str(), partner)
    }

    async fn delete_partner(&self, id: &PartnerId) -> Result<(), StoreError> {
        self.delete(PARTNERS, id.as_str())
    }

    async fn partners(&self) -> Result<Vec<Partner>, StoreError> {
        let mut all: Vec<Partner> = self.read_all(PARTNERS)?;
        all.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(all)
    }

    async fn registrations(&self, partner: &PartnerId) -> Result<Vec<Registration>, StoreError> {
        let all: Vec<Registration> = self.read_all(REGISTRATIONS)?;
        let mut mine: Vec<Registration> = all.into_iter().filter(|r| &r.partner == partner).collect();
        mine.sort_by_key(|r| r.notification_type.number());
        Ok(mine)
    }

    async fn save_registration(&self, registration: &Registration) -> Result<Option<Registration>, StoreError> {
        let _guard = self.locked();
        let key = registration_key(&registration.partner, registration.notification_type.number());
        let previous = self.read(REGISTRATIONS, &key)?;
        self.write(REGISTRATIONS, &key, registration)?;
        Ok(previous)
    }

    async fn delete_registration(
        &self,
        partner: &PartnerId,
        notification_type: NotificationType,
    ) -> Result<Option<Registration>, StoreError> {
        let _guard = self.locked();
        let key = registration_key(partner, notification_type.number());
        let previous = self.read(REGISTRATIONS, &key)?;
        self.delete(REGISTRATIONS, &key)?;
        Ok(previous)
    }

    async fn endpoint(&self, url: &str) -> Result<Option<Endpoint>, StoreError> {
        self.read(ENDPOINTS, url)
    }

    async fn save_endpoint(&self, endpoint: &Endpoint) -> Result<bool, StoreError> {
        let _guard = self.locked();
        let current: Option<Endpoint> = self.read(ENDPOINTS, &endpoint.url)?;
        if current.is_some_and(|e| e.partner != endpoint.partner) {
            return Ok(false);
        }
        self.write(ENDPOINTS, &endpoint.url, endpoint)?;
        Ok(true)
    }

    async fn delete_endpoint(&self, url: &str) -> Result<(), StoreError> {
        self.delete(ENDPOINTS, url)
    }

    async fn reserve_slot(&self, url: &str, rate_limit: u32, now: DateTime<Utc>) -> Result<DateTime<Utc>, StoreError> {
        let _guard = self.locked();
        let key = arrival_key(url);
        let tat = self.read::<Arrival>(ENDPOINTS, &key)?.map(|a| a.tat_ms);
        let reserved = crate::callbacks::rate::reserve(tat, now.timestamp_millis(), rate_limit);
        self.write(
            ENDPOINTS,
            &key,
            &Arrival {
                tat_ms: reserved.tat_ms,
            },
        )?;
        Ok(crate::callbacks::rate::at_ms(reserved.slot_ms))
    }
}

#[async_trait]
impl<B: KvBackend> AttemptLog for KvStore<B> {
    async fn record(&self, attempt: &AttemptRecord) -> Result<(), StoreError> {
        let key = attempt_key(&attempt.partner, attempt.at, &attempt.notification_id, attempt.attempt);
        self.write_indexed(CALLBACK_ATTEMPTS, &key, attempt)
    }

    async fn attempts(
        &self,
        partner: &PartnerId,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<AttemptRecord>, StoreError> {
        // Newest first: by time, then attempt number, as the entries sort.
        let range = IndexRange::new(
            PARTNER_INDEX,
            partner_entry(partner, since),
            partner_entry(partner, until),
        )
        .page(0, limit);
        self.read_range(CALLBACK_ATTEMPTS, &range)
    }

    async fn park(&self, failed: &FailedDelivery) -> Result<(), StoreError> {
        self.write_indexed(FAILED_CALLBACKS, &parked_key(failed), failed)
    }

    async fn parked(
        &self,
        partner: &PartnerId,
        since: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<FailedDelivery>, StoreError> {
        let range = IndexRange::new(
            PARTNER_INDEX,
            partner_entry(partner, since),
            format!("{}\u{10FFFF}", partner_prefix(partner)),
        )
        .oldest_first()
        .page(0, limit);
        self.read_range(FAILED_CALLBACKS, &range)
    }

    async fn unpark(&self, failed: &FailedDelivery) -> Result<(), StoreError> {
        self.delete(FAILED_CALLBACKS, &parked_key(failed))
    }
}
