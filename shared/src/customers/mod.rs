//! The customer directory: who to tell about an eSIM. A reseller registers, per eSIM, its customer's contact
//! (name, phone, email, locale, time zone, allowed channels, its own customer id and a top-up URL), found by
//! any of the eSIM's identifiers: its ICCID, the provider's eSIM reference, or the reseller's order reference
//! the provider echoes back. Contacts are personal data: their `Debug` masks them, [`mask_phone`] and
//! [`mask_email`] are for tables, and removing a contact erases it.

pub mod api;
mod contact;
#[cfg(feature = "aws")]
pub mod email;
mod messages;
pub mod named;
mod plans;
mod policy;
pub mod records;
pub mod service;
#[cfg(feature = "aws")]
pub mod sms;
pub(crate) mod spaces;
pub mod teller;
mod upsert;
mod wording;

pub use crate::model::DataUnits;
pub use contact::{
    is_email_address, mask_address, mask_email, mask_phone, Channels, Contact, ContactFields, ContactProblem,
};
pub use messages::{customer_message, ChannelMessage, CustomerMessage};
pub use plans::{PlanCatalog, PlanError};
pub use policy::{zone_of, CustomerSettings, QuietHours, QuietHoursError, DEFAULT_BRAND};
pub use spaces::INDEXED_SPACES;
pub use upsert::{upsert_plan, Conflict, Replace};
pub use wording::{Templates, TemplatesError, Wording};

/// The former path of [`records`], kept for code outside the workspace.
pub use records as notify;
/// The former path of [`service`], kept for code outside the workspace.
pub use service as notifier;

use crate::model::{EsimIdentity, ProviderId};
use crate::store::StoreError;
use async_trait::async_trait;
use std::fmt;

/// One identifier of an eSIM a contact can be found by.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EsimRef {
    Iccid(String),
    /// The provider's own eSIM reference, the key its state is kept under (eSIM Access `esimTranNo`).
    Esim(String),
    /// The reseller's own order reference, echoed back by the provider (eSIM Access `transactionId`,
    /// Roamify `reference_id`).
    Order(String),
}

impl EsimRef {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Iccid(_) => "iccid",
            Self::Esim(_) => "esim",
            Self::Order(_) => "order",
        }
    }

    pub fn value(&self) -> &str {
        match self {
            Self::Iccid(v) | Self::Esim(v) | Self::Order(v) => v,
        }
    }

    /// The field (and import column) it is given in.
    pub fn column(&self) -> &'static str {
        match self {
            Self::Iccid(_) => "iccid",
            Self::Esim(_) => "esim_ref",
            Self::Order(_) => "order_ref",
        }
    }

    /// `order_ref tx-1`: as a reseller wrote it, for messages.
    pub fn labelled(&self) -> String {
        format!("{} {}", self.column(), self.value())
    }

    /// An identifier as a person types it: an ICCID when it is one, else the provider's eSIM reference.
    pub fn guess(text: &str) -> Self {
        if crate::text::is_plausible_iccid(text) {
            Self::Iccid(text.to_string())
        } else {
            Self::Esim(text.to_string())
        }
    }
}

impl fmt::Display for EsimRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind(), self.value())
    }
}

/// The reference field by which each provider echoes the reseller's own order reference back, if it does.
pub fn order_ref_field(provider: ProviderId) -> Option<&'static str> {
    provider.spec().order_ref_field
}

/// Every identifier an alert's eSIM can be found by in the directory, most specific first.
pub fn refs_of(provider: ProviderId, esim: &EsimIdentity) -> Vec<EsimRef> {
    let mut refs = vec![EsimRef::Esim(esim.key.clone())];
    if let Some(iccid) = &esim.iccid {
        refs.push(EsimRef::Iccid(iccid.clone()));
    }
    let order = order_ref_field(provider).and_then(|field| esim.refs.get(field));
    refs.extend(order.map(|order| EsimRef::Order(order.clone())));
    refs.dedup();
    refs
}

/// The contact of `alert`'s eSIM, found by any of its identifiers: one lookup, `None` without an eSIM.
pub async fn contact_of(
    contacts: &dyn ContactLookup,
    alert: &crate::alerts::Alert,
) -> Result<Option<Contact>, StoreError> {
    match &alert.esim {
        Some(esim) => contacts.find(alert.provider, &refs_of(alert.provider, esim)).await,
        None => Ok(None),
    }
}

/// What an upsert did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upserted {
    Created,
    Updated,
    Unchanged,
}

/// Finding a contact: all the alert path needs, so the functions that raise alerts link no code that
/// changes the directory.
#[async_trait]
pub trait ContactLookup: Send + Sync {
    /// The contact registered under any of `refs` (the first found, in their order).
    async fn find(&self, provider: ProviderId, refs: &[EsimRef]) -> Result<Option<Contact>, StoreError>;
}

/// Where contacts are kept: the events table (DynamoDB) or the local store (SQLite, memory).
#[async_trait]
pub trait ContactStore: ContactLookup {
    /// The contact stored under each of `refs` that holds one, with that identifier, in their order.
    async fn stored_under(&self, provider: ProviderId, refs: &[EsimRef])
        -> Result<Vec<(EsimRef, Contact)>, StoreError>;
    /// Registers `contact` under each of its identifiers, all or none, as [`upsert_plan`] decides from what is
    /// stored under them. The decision and the write are one atomic step, so a contact is never replaced
    /// against `replace` by a concurrent change; a [`Conflict`] changes nothing.
    async fn register(&self, contact: &Contact, replace: Replace) -> Result<Result<Upserted, Conflict>, StoreError>;
    /// [`ContactStore::register`] with [`Replace::Any`]: a contact found under one of the identifiers is
    /// replaced, with its other identifiers.
    async fn upsert(&self, contact: &Contact) -> Result<Upserted, StoreError> {
        // Replace::Any never conflicts; were it to, the caller learns it rather than a panic.
        self.register(contact, Replace::Any)
            .await?
            .map_err(|conflict| StoreError::Corrupt(format!("unexpected conflict: {conflict}")))
    }
    /// Erases the contact registered under `esim`, with all its identifiers; returns what was erased.
    async fn remove(&self, provider: ProviderId, esim: &EsimRef) -> Result<Option<Contact>, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn an_alerts_esim_is_looked_up_by_its_key_iccid_and_the_resellers_order_reference() {
        let esim = EsimIdentity {
            key: "25052822150009".into(),
            iccid: Some("8943108170001029631".into()),
            refs: BTreeMap::from([
                ("transactionId".into(), "tx-1".into()),
                ("orderNo".into(), "B250528".into()),
            ]),
        };
        assert_eq!(
            refs_of(ProviderId::EsimAccess, &esim),
            [
                EsimRef::Esim("25052822150009".into()),
                EsimRef::Iccid("8943108170001029631".into()),
                EsimRef::Order("tx-1".into()),
            ]
        );
        let by_iccid = EsimIdentity {
            key: "8943108170001029631".into(),
            iccid: Some("8943108170001029631".into()),
            refs: BTreeMap::from([("reference_id".into(), "r-9".into())]),
        };
        assert_eq!(
            refs_of(ProviderId::Roamify, &by_iccid),
            [
                EsimRef::Esim("8943108170001029631".into()),
                EsimRef::Iccid("8943108170001029631".into()),
                EsimRef::Order("r-9".into())
            ]
        );
        assert_eq!(
            refs_of(ProviderId::Airalo, &by_iccid).len(),
            2,
            "Airalo echoes no reseller order reference"
        );
        assert_eq!(EsimRef::guess("8943108170001029631").kind(), "iccid");
        assert_eq!(EsimRef::guess("T-1").kind(), "esim");
    }
}
