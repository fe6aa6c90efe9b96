//! eSIMs the customer directory names before anything was heard of them. A reseller registers a customer at
//! sale; if the provider's first webhook is lost (or the provider sends none until its own threshold), nothing
//! would ever ask about the eSIM. Registered for a provider that is asked, such an eSIM gets a state with no
//! facts, filed to be asked now ("usage never heard"); the answer gives it its usage, and its customer hears
//! at the reseller's levels. A contact naming a partner (`partner_id`) makes that partner the eSIM's owner,
//! whatever its provider (`crate::ownership`).

use super::Contact;
use crate::alerts::AlertRules;
use crate::clock::Clock;
use crate::due::AskingPlan;
use crate::model::DedupeKey;
use crate::ownership::{assign, Assigned};
use crate::state::EsimState;
use crate::store::{EventStore, StoreError};
use std::sync::Arc;

/// What the state of an eSIM known only from the directory names as its last event.
pub const NAMED_BY_DIRECTORY: &str = "named:directory";

/// Files the eSIMs the directory names, where their providers are asked.
pub struct NamedEsims {
    store: Arc<dyn EventStore>,
    plan: AskingPlan,
    alerts: AlertRules,
    clock: Arc<dyn Clock>,
}

impl NamedEsims {
    pub fn new(store: Arc<dyn EventStore>, plan: AskingPlan, alerts: AlertRules, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            plan,
            alerts,
            clock,
        }
    }

    /// Files the eSIM `contact` names (by its eSIM reference, else its ICCID; an order reference alone is not
    /// something an API is asked by) when its provider is asked and it has no state yet, and makes the
    /// contact's partner its owner (under its ICCID too, where a state is kept under that). True when it
    /// filed one. A contact without a partner leaves an owner as it is.
    pub async fn file(&self, contact: &Contact) -> Result<bool, StoreError> {
        let now = self.clock.now();
        let provider = contact.provider;
        let Some(key) = contact.esim_ref.as_deref().or(contact.iccid.as_deref()) else {
            return Ok(false);
        };
        let asked = self.plan.asks(provider);
        let prepare = |state: &mut EsimState| {
            state.iccid = contact.iccid.clone();
            if asked {
                self.plan.file(state, &self.alerts, now);
            }
        };
        if let Some(owner) = &contact.partner_id {
            let assigned = assign(self.store.as_ref(), provider, key, Some(owner), now, prepare).await?;
            if let Some(iccid) = contact.iccid.as_deref().filter(|iccid| *iccid != key) {
                if self.store.load_state(provider, iccid).await?.is_some() {
                    assign(self.store.as_ref(), provider, iccid, Some(owner), now, |_| {}).await?;
                }
            }
            return Ok(asked && assigned == Assigned::Created);
        }
        if !asked || self.store.load_state(provider, key).await?.is_some() {
            return Ok(false);
        }
        let mut state = EsimState::first(
            provider,
            key.to_string(),
            now,
            DedupeKey::provider_id(NAMED_BY_DIRECTORY),
        );
        prepare(&mut state);
        // False when a delivery created the state meanwhile: it is filed by then.
        self.store.save_state(&state, None).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::customers::ContactFields;
    use crate::due::{due_now, DueRules, Why};
    use crate::model::ProviderId;
    use crate::store::kv::KvStore;

    #[tokio::test]
    async fn a_directory_named_esim_of_an_asked_provider_is_filed_once_and_due_now() {
        let store = Arc::new(KvStore::in_memory());
        let plan = AskingPlan {
            providers: vec![ProviderId::EsimGo],
            ..AskingPlan::default()
        };
        let clock = Arc::new(crate::clock::FixedClock::at_rfc3339("2026-12-07T09:00:00Z"));
        let now = clock.now();
        let named = NamedEsims::new(store.clone(), plan, AlertRules::default(), clock);
        // A contact with a phone, for the eSIM `fields` names.
        let named_by = |provider: ProviderId, fields: ContactFields| {
            Contact::from_fields(&ContactFields {
                provider: Some(provider.to_string()),
                phone: Some("+34600000001".into()),
                ..fields
            })
            .unwrap()
        };
        let contact = |provider, iccid: &str| {
            let iccid = Some(iccid.into());
            named_by(
                provider,
                ContactFields {
                    iccid,
                    ..ContactFields::default()
                },
            )
        };
        assert!(named
            .file(&contact(ProviderId::EsimGo, "8944500000000000001"))
            .await
            .unwrap());
        assert!(
            !named
                .file(&contact(ProviderId::EsimGo, "8944500000000000001"))
                .await
                .unwrap(),
            "a state exists now"
        );
        assert!(
            !named
                .file(&contact(ProviderId::Airalo, "8944500000000000002"))
                .await
                .unwrap(),
            "Airalo is not asked"
        );
        let order_ref = Some("o-1".into());
        let by_order = named_by(
            ProviderId::EsimGo,
            ContactFields {
                order_ref,
                ..ContactFields::default()
            },
        );
        assert!(!named.file(&by_order).await.unwrap());
        let state = store
            .load_state(ProviderId::EsimGo, "8944500000000000001")
            .await
            .unwrap()
            .unwrap()
            .value;
        assert_eq!(state.asking.as_ref().and_then(|a| a.next), Some(now));
        let why = due_now(&state, &AlertRules::default(), &DueRules::default(), false, now);
        assert_eq!(why, Some(Why::Unheard));
    }
}
