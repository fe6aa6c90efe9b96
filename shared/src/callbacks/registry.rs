//! Where partners and their callback registrations are kept: DynamoDB in production (`dynamodb.rs`), memory
//! in unit tests. The registry is the source of truth; SNS subscriptions are derived from it (see `api.rs`).

use super::partner::{Partner, PartnerId};
use crate::notification::{NotificationMessage, NotificationType};
use crate::store::StoreError;
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// One partner's URL for one notification type.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Registration {
    pub partner: PartnerId,
    pub notification_type: NotificationType,
    pub url: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The SNS subscription behind one URL. SNS keeps one subscription per (topic, URL), so every type a partner
/// registers at the same URL shares it, and a URL belongs to one partner.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Endpoint {
    pub url: String,
    pub partner: PartnerId,
    pub subscription_arn: String,
    /// Since when every attempt to it failed (none since its last success).
    pub failing_since: Option<DateTime<Utc>>,
    /// When it was disabled (a `410 Gone`, or failing too long); a `PUT` of its callback enables it again.
    pub disabled_at: Option<DateTime<Utc>>,
    /// At most this many callbacks a second (the partner's `rate_limit`); none: as fast as they come.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<u32>,
}

#[async_trait]
pub trait CallbackRegistry: Send + Sync {
    async fn partner(&self, id: &PartnerId) -> Result<Option<Partner>, StoreError>;
    async fn save_partner(&self, partner: &Partner) -> Result<(), StoreError>;
    /// Removes the partner record (not its registrations: see [`super::offboard`]).
    async fn delete_partner(&self, id: &PartnerId) -> Result<(), StoreError>;
    async fn partners(&self) -> Result<Vec<Partner>, StoreError>;
    /// All of a partner's registrations, by type number (at most one per type, so a bounded list).
    async fn registrations(&self, partner: &PartnerId) -> Result<Vec<Registration>, StoreError>;
    /// Creates or replaces; returns what it replaced.
    async fn save_registration(&self, registration: &Registration) -> Result<Option<Registration>, StoreError>;
    /// Removes; returns what it removed.
    async fn delete_registration(
        &self,
        partner: &PartnerId,
        notification_type: NotificationType,
    ) -> Result<Option<Registration>, StoreError>;
    async fn endpoint(&self, url: &str) -> Result<Option<Endpoint>, StoreError>;
    /// Saves unless another partner holds the URL (false then).
    async fn save_endpoint(&self, endpoint: &Endpoint) -> Result<bool, StoreError>;
    async fn delete_endpoint(&self, url: &str) -> Result<(), StoreError>;
    /// Takes the next send slot of `url` at `rate_limit` a second ([`super::rate::reserve`]), atomically:
    /// concurrent senders get distinct slots. Kept apart from the endpoint record, which a sender saves from
    /// what it read before posting.
    async fn reserve_slot(&self, url: &str, rate_limit: u32, now: DateTime<Utc>) -> Result<DateTime<Utc>, StoreError>;

    /// The registrations a notification goes to: for an echo, its partner's; otherwise those of every partner
    /// that hears of its eSIM (scope `all`, or the eSIM's owner).
    async fn registrations_for(&self, message: &NotificationMessage) -> Result<Vec<Registration>, StoreError> {
        let notification_type = message.notification_type;
        let partners = match PartnerId::parse(&message.audience) {
            Some(one) => vec![one],
            None => self
                .partners()
                .await?
                .into_iter()
                .filter(|p| p.sees(message.owner.as_ref()))
                .map(|p| p.id)
                .collect(),
        };
        let mut found = Vec::new();
        for partner in partners {
            let registered = self.registrations(&partner).await?;
            found.extend(
                registered
                    .into_iter()
                    .filter(|r| r.notification_type == notification_type),
            );
        }
        Ok(found)
    }
}

#[cfg(any(test, feature = "testing"))]
pub use memory::MemoryRegistry;

/// The registry in memory (tests, benchmarks).
#[cfg(any(test, feature = "testing"))]
mod memory {
    use super::*;
    use std::collections::BTreeMap;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Tables {
        partners: BTreeMap<PartnerId, Partner>,
        registrations: BTreeMap<(PartnerId, u16), Registration>,
        endpoints: BTreeMap<String, Endpoint>,
        /// Each rate-limited URL's theoretical arrival time, epoch ms.
        arrivals: BTreeMap<String, i64>,
    }

    /// The registry in memory.
    #[derive(Default)]
    pub struct MemoryRegistry(Mutex<Tables>);

    impl MemoryRegistry {
        fn tables(&self) -> std::sync::MutexGuard<'_, Tables> {
            self.0.lock().unwrap_or_else(|e| e.into_inner())
        }

        pub fn endpoints(&self) -> Vec<Endpoint> {
            self.tables().endpoints.values().cloned().collect()
        }
    }

    #[async_trait]
    impl CallbackRegistry for MemoryRegistry {
        async fn partner(&self, id: &PartnerId) -> Result<Option<Partner>, StoreError> {
            Ok(self.tables().partners.get(id).cloned())
        }

        async fn save_partner(&self, partner: &Partner) -> Result<(), StoreError> {
            self.tables().partners.insert(partner.id.clone(), partner.clone());
            Ok(())
        }

        async fn delete_partner(&self, id: &PartnerId) -> Result<(), StoreError> {
            self.tables().partners.remove(id);
            Ok(())
        }

        async fn partners(&self) -> Result<Vec<Partner>, StoreError> {
            Ok(self.tables().partners.values().cloned().collect())
        }

        async fn registrations(&self, partner: &PartnerId) -> Result<Vec<Registration>, StoreError> {
            Ok(self
                .tables()
                .registrations
                .values()
                .filter(|r| &r.partner == partner)
                .cloned()
                .collect())
        }

        async fn save_registration(&self, registration: &Registration) -> Result<Option<Registration>, StoreError> {
            let key = (registration.partner.clone(), registration.notification_type.number());
            Ok(self.tables().registrations.insert(key, registration.clone()))
        }

        async fn delete_registration(
            &self,
            partner: &PartnerId,
            notification_type: NotificationType,
        ) -> Result<Option<Registration>, StoreError> {
            Ok(self
                .tables()
                .registrations
                .remove(&(partner.clone(), notification_type.number())))
        }

        async fn endpoint(&self, url: &str) -> Result<Option<Endpoint>, StoreError> {
            Ok(self.tables().endpoints.get(url).cloned())
        }

        async fn save_endpoint(&self, endpoint: &Endpoint) -> Result<bool, StoreError> {
            let mut tables = self.tables();
            if tables
                .endpoints
                .get(&endpoint.url)
                .is_some_and(|e| e.partner != endpoint.partner)
            {
                return Ok(false);
            }
            tables.endpoints.insert(endpoint.url.clone(), endpoint.clone());
            Ok(true)
        }

        async fn delete_endpoint(&self, url: &str) -> Result<(), StoreError> {
            self.tables().endpoints.remove(url);
            Ok(())
        }

        async fn reserve_slot(
            &self,
            url: &str,
            rate_limit: u32,
            now: DateTime<Utc>,
        ) -> Result<DateTime<Utc>, StoreError> {
            let mut tables = self.tables();
            let tat = tables.arrivals.get(url).copied();
            let reserved = crate::callbacks::rate::reserve(tat, now.timestamp_millis(), rate_limit);
            tables.arrivals.insert(url.to_string(), reserved.tat_ms);
            Ok(crate::callbacks::rate::at_ms(reserved.slot_ms))
        }
    }
}
