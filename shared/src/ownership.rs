//! Who an eSIM belongs to. The owner is kept on the eSIM's state, where every delivery already reads, so
//! telling only its partner costs nothing more per delivery. It is set by `esimhooks esims assign` and by the
//! customer directory's `partner_id`; an eSIM assigned before anything was heard of it gets a state with no
//! facts, which its first delivery fills in.

use crate::model::{DedupeKey, PartnerId, ProviderId};
use crate::state::EsimState;
use crate::store::{EventStore, StoreError};
use chrono::{DateTime, Utc};

/// What the state of an eSIM known only from an assignment names as its last event.
pub const ASSIGNED: &str = "named:assignment";

/// What an assignment did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Assigned {
    /// The eSIM had that owner already (or had none, and none was asked for).
    Unchanged,
    /// Its state now names the owner (or none).
    Changed,
    /// Never heard of: a state with no facts was made for it, naming the owner.
    Created,
}

/// Concurrent deliveries move the state on; an assignment is tried again on the newer state this often.
const RETRIES: usize = 8;

/// Makes `owner` the owner of `provider`'s eSIM `key` (none: no owner). An eSIM with no state gets one when an
/// owner is given, first seen `at`, prepared by `prepare` (the directory files it to be asked, where its
/// provider is).
pub async fn assign(
    store: &dyn EventStore,
    provider: ProviderId,
    key: &str,
    owner: Option<&PartnerId>,
    at: DateTime<Utc>,
    prepare: impl Fn(&mut EsimState),
) -> Result<Assigned, StoreError> {
    for _ in 0..RETRIES {
        let (mut state, version, outcome) = match store.load_state(provider, key).await? {
            Some(current) if current.value.owner.as_ref() == owner => return Ok(Assigned::Unchanged),
            Some(current) => (current.value, Some(current.version), Assigned::Changed),
            None if owner.is_none() => return Ok(Assigned::Unchanged),
            None => {
                let mut state = EsimState::first(provider, key.to_string(), at, DedupeKey::provider_id(ASSIGNED));
                prepare(&mut state);
                (state, None, Assigned::Created)
            }
        };
        state.owner = owner.cloned();
        if store.save_state(&state, version).await? {
            return Ok(outcome);
        }
    }
    Err(StoreError::Unavailable(format!(
        "the state of {key} kept changing; assign it again"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::kv::KvStore;

    #[tokio::test]
    async fn an_owner_is_set_changed_cleared_and_a_never_heard_of_esim_gets_a_bare_state() {
        let store = KvStore::in_memory();
        let at = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let acme = PartnerId::parse("acme").unwrap();
        let bee = PartnerId::parse("bee-travel").unwrap();
        let provider = ProviderId::EsimGo;
        let key = "8944500000000000001";
        let none = |_: &mut EsimState| {};
        assert_eq!(
            assign(&store, provider, key, None, at, none).await.unwrap(),
            Assigned::Unchanged,
            "nothing to clear: no state is made"
        );
        assert!(store.load_state(provider, key).await.unwrap().is_none());
        let marked = |s: &mut EsimState| s.iccid = Some("8944500000000000001".into());
        assert_eq!(
            assign(&store, provider, key, Some(&acme), at, marked).await.unwrap(),
            Assigned::Created
        );
        let state = store.load_state(provider, key).await.unwrap().unwrap().value;
        assert_eq!(state.owner, Some(acme.clone()));
        assert_eq!(state.iccid.as_deref(), Some(key), "prepared");
        assert!(state.usage.is_none() && state.status.is_none(), "no facts");
        assert_eq!(
            assign(&store, provider, key, Some(&acme), at, none).await.unwrap(),
            Assigned::Unchanged
        );
        assert_eq!(
            assign(&store, provider, key, Some(&bee), at, none).await.unwrap(),
            Assigned::Changed
        );
        assert_eq!(
            assign(&store, provider, key, None, at, none).await.unwrap(),
            Assigned::Changed
        );
        let state = store.load_state(provider, key).await.unwrap().unwrap().value;
        assert_eq!(state.owner, None);
    }
}
