//! What raising an alert asks of the customer side: whose eSIM it is (named on the operator's alert) and
//! telling them. Behind a trait, so a function whose customers are told elsewhere ([`NamedOnly`]: the webhook
//! functions, whose alerts the customer sender tells from the topic) links no message wording, zone data or
//! sender.

use super::service::{CustomerNotifier, NotifyError};
use super::{Contact, ContactLookup};
use crate::alerts::Alert;
use crate::store::{Lease, StoreError};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::sync::Arc;

/// The customer side of raising an alert.
#[async_trait]
pub trait CustomerTeller: Send + Sync {
    /// The contact of `alert`'s eSIM: one lookup, `None` without an eSIM or a contact.
    async fn contact_for(&self, alert: &Alert) -> Result<Option<Contact>, StoreError>;
    /// Tells `contact` about `alert`, each channel once; returns how many messages went out now.
    async fn tell(
        &self,
        alert: &Alert,
        contact: &Contact,
        lease: &Lease,
        now: DateTime<Utc>,
    ) -> Result<usize, NotifyError>;
}

#[async_trait]
impl CustomerTeller for CustomerNotifier {
    async fn contact_for(&self, alert: &Alert) -> Result<Option<Contact>, StoreError> {
        CustomerNotifier::contact_for(self, alert).await
    }

    async fn tell(
        &self,
        alert: &Alert,
        contact: &Contact,
        lease: &Lease,
        now: DateTime<Utc>,
    ) -> Result<usize, NotifyError> {
        self.notify(alert, contact, lease, now).await
    }
}

/// Names each alert's contact on the operator's copy and tells nobody: the customer is told downstream of the
/// topic, by the customer sender that receives the published alert.
pub struct NamedOnly {
    pub contacts: Arc<dyn ContactLookup>,
}

#[async_trait]
impl CustomerTeller for NamedOnly {
    async fn contact_for(&self, alert: &Alert) -> Result<Option<Contact>, StoreError> {
        super::contact_of(&*self.contacts, alert).await
    }

    async fn tell(&self, _: &Alert, _: &Contact, _: &Lease, _: DateTime<Utc>) -> Result<usize, NotifyError> {
        Ok(0)
    }
}
