//! `EventStore`: a delivery is claimed once (Started, Duplicate, Conflict, InProgress), a crashed attempt's
//! lease is taken over when it ends, a failed one is released at once and keeps its payload; state is saved
//! under its version; an alert is claimed once, marked sent by its holder, released for the next attempt.

use super::{lease, reading, store_reading};
use chrono::{DateTime, Duration, Utc};
use shared::model::ProviderId;
use shared::store::{AlertClaim, AlertStatus, Begin, DeliveryStatus, EventStore, StoreQuery};

macro_rules! contracts {
    ($port:expr, [$($ignored:tt)*]) => {
        crate::common::conformance::emit!(events, $port, [
            a_delivery_is_claimed_once,
            a_crashed_attempts_lease_is_taken_over_when_it_ends,
            a_failed_attempt_is_taken_over_at_once_and_keeps_the_payload,
            a_stored_event_is_rewritten_in_place,
            state_is_saved_under_its_version,
            an_alert_is_claimed_once_and_marked_sent_by_its_holder,
        ], [$($ignored)*]);
    };
}
pub(crate) use contracts;

const ICCID: &str = "8944000000000000101";

pub async fn a_delivery_is_claimed_once<S: EventStore + ?Sized>(store: &S, now: DateTime<Utc>) {
    let event = reading(ProviderId::Airalo, ICCID, "claim-1", now, 500_000_000);
    let mut other = event.clone();
    other.payload_sha256 = shared::model::PayloadSha256::of(b"another body under the same key");
    let first = lease("first", now + Duration::minutes(5));
    let second = lease("second", now + Duration::minutes(5));
    let (provider, key) = (event.provider, &event.dedupe_key);

    assert_eq!(store.delivery_status(provider, key).await.unwrap(), None);
    assert_eq!(store.begin_delivery(&event, &first, now).await.unwrap(), Begin::Started);
    assert_eq!(
        store.delivery_status(provider, key).await.unwrap(),
        Some(DeliveryStatus::InProgress)
    );
    assert_eq!(
        store.begin_delivery(&event, &second, now).await.unwrap(),
        Begin::InProgress,
        "a twin while the first holds its lease"
    );
    let conflict = Begin::Conflict {
        stored_sha256: event.payload_sha256.as_str().to_string(),
    };
    assert_eq!(store.begin_delivery(&other, &second, now).await.unwrap(), conflict);

    store.finish_delivery(&event, &first, now).await.unwrap();
    assert_eq!(
        store.delivery_status(provider, key).await.unwrap(),
        Some(DeliveryStatus::Completed)
    );
    let later = now + Duration::hours(1);
    assert_eq!(
        store.begin_delivery(&event, &second, later).await.unwrap(),
        Begin::Duplicate
    );
    assert_eq!(store.begin_delivery(&other, &second, later).await.unwrap(), conflict);
    assert_eq!(
        store.delivery_status(ProviderId::Roamify, key).await.unwrap(),
        None,
        "the key is the provider's own"
    );
}

pub async fn a_crashed_attempts_lease_is_taken_over_when_it_ends<S: EventStore + ?Sized>(
    store: &S,
    now: DateTime<Utc>,
) {
    let event = reading(ProviderId::Airalo, ICCID, "crash-1", now, 500_000_000);
    let mut other = event.clone();
    other.payload_sha256 = shared::model::PayloadSha256::of(b"another body under the same key");
    let ends = now + Duration::seconds(30);
    let crashed = lease("crashed", ends);
    let next = lease("next", ends + Duration::minutes(5));

    assert_eq!(
        store.begin_delivery(&event, &crashed, now).await.unwrap(),
        Begin::Started
    );
    let just_before = ends - Duration::milliseconds(1);
    assert_eq!(
        store.begin_delivery(&event, &next, just_before).await.unwrap(),
        Begin::InProgress
    );
    assert!(
        matches!(
            store.begin_delivery(&other, &next, ends).await.unwrap(),
            Begin::Conflict { .. }
        ),
        "an ended lease is taken over by the same payload only"
    );
    assert_eq!(
        store.begin_delivery(&event, &next, ends).await.unwrap(),
        Begin::Started,
        "a lease ends at its `until` (store::delivery_decision)"
    );

    // The crashed attempt wakes up: its lease is lost, which is not an error, and changes nothing.
    store.finish_delivery(&event, &crashed, ends).await.unwrap();
    store.abandon_delivery(&event, &crashed, "woke up late").await.unwrap();
    let (provider, key) = (event.provider, &event.dedupe_key);
    assert_eq!(
        store.delivery_status(provider, key).await.unwrap(),
        Some(DeliveryStatus::InProgress)
    );
    assert_eq!(
        store.begin_delivery(&event, &lease("third", ends), ends).await.unwrap(),
        Begin::InProgress,
        "the taker's lease stands"
    );
    store.finish_delivery(&event, &next, ends).await.unwrap();
    assert_eq!(
        store.delivery_status(provider, key).await.unwrap(),
        Some(DeliveryStatus::Completed)
    );
}

pub async fn a_failed_attempt_is_taken_over_at_once_and_keeps_the_payload<S: EventStore + StoreQuery + ?Sized>(
    store: &S,
    now: DateTime<Utc>,
) {
    let event = reading(ProviderId::Airalo, ICCID, "fail-1", now, 500_000_000);
    let failed = lease("failed", now + Duration::minutes(5));
    let retry = lease("retry", now + Duration::minutes(5));
    let (provider, key) = (event.provider, &event.dedupe_key);

    assert_eq!(
        store.begin_delivery(&event, &failed, now).await.unwrap(),
        Begin::Started
    );
    store.abandon_delivery(&event, &retry, "not mine").await.unwrap();
    assert_eq!(
        store.begin_delivery(&event, &retry, now).await.unwrap(),
        Begin::InProgress,
        "only the holder releases its lease"
    );
    store.abandon_delivery(&event, &failed, "publish failed").await.unwrap();
    let kept = store
        .delivery(provider, key)
        .await
        .unwrap()
        .expect("the payload is kept");
    assert_eq!(kept.status, DeliveryStatus::InProgress);
    assert_eq!(kept.last_error.as_deref(), Some("publish failed"));
    assert_eq!(kept.event.payload_sha256, event.payload_sha256);
    assert_eq!(kept.event.raw_body(), event.raw_body());

    let soon = now + Duration::seconds(1);
    assert_eq!(
        store.begin_delivery(&event, &retry, soon).await.unwrap(),
        Begin::Started,
        "the retry takes over at once"
    );
    store.finish_delivery(&event, &retry, soon).await.unwrap();
    let done = store.delivery(provider, key).await.unwrap().unwrap();
    assert_eq!(done.status, DeliveryStatus::Completed);
    assert_eq!(done.completed_at, Some(soon));
}

pub async fn a_stored_event_is_rewritten_in_place<S: EventStore + StoreQuery + ?Sized>(store: &S, now: DateTime<Utc>) {
    let event = reading(ProviderId::Airalo, ICCID, "rewrite-1", now, 500_000_000);
    assert!(
        !store.rewrite_event(&event).await.unwrap(),
        "nothing is stored under the key"
    );
    store_reading(store, &event).await;
    let mut renormalized = event.clone();
    renormalized.flags.push("renormalized".into());
    assert!(store.rewrite_event(&renormalized).await.unwrap());
    let stored = store
        .delivery(event.provider, &event.dedupe_key)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.status, DeliveryStatus::Completed, "its status is kept");
    assert_eq!(stored.event.flags, ["renormalized"]);
    assert_eq!(stored.completed_at, Some(now));
}

pub async fn state_is_saved_under_its_version<S: EventStore + ?Sized>(store: &S, now: DateTime<Utc>) {
    let provider = ProviderId::Airalo;
    assert!(store.load_state(provider, ICCID).await.unwrap().is_none());
    let first = reading(provider, ICCID, "state-1", now, 500_000_000);
    let state = shared::state::merge(None, &first).unwrap().state;
    assert!(
        !store.save_state(&state, Some(1)).await.unwrap(),
        "a version that is not there"
    );
    assert!(store.save_state(&state, None).await.unwrap());
    assert!(
        !store.save_state(&state, None).await.unwrap(),
        "a second first save loses"
    );
    let loaded = store.load_state(provider, ICCID).await.unwrap().unwrap();
    assert_eq!((loaded.version, &loaded.value), (1, &state));

    let second = reading(provider, ICCID, "state-2", now + Duration::minutes(1), 100_000_000);
    let advanced = shared::state::merge(Some(state.clone()), &second).unwrap().state;
    assert!(store.save_state(&advanced, Some(1)).await.unwrap());
    assert!(
        !store.save_state(&state, Some(1)).await.unwrap(),
        "a writer that read version 1 loses to the one that moved it on"
    );
    let loaded = store.load_state(provider, ICCID).await.unwrap().unwrap();
    assert_eq!((loaded.version, &loaded.value), (2, &advanced));
    assert!(
        store.load_state(ProviderId::Roamify, ICCID).await.unwrap().is_none(),
        "states are per provider"
    );
}

pub async fn an_alert_is_claimed_once_and_marked_sent_by_its_holder<S: EventStore + ?Sized>(
    store: &S,
    now: DateTime<Utc>,
) {
    let alert = super::low_data_alert(&reading(ProviderId::Airalo, ICCID, "alert-1", now, 100_000_000));
    let ends = now + Duration::seconds(30);
    let (first, second, third) = (lease("first", ends), lease("second", ends), lease("third", ends));
    let id = alert.alert_id.as_str();

    assert_eq!(store.alert_status(id).await.unwrap(), None);
    assert_eq!(
        store.claim_alert(&alert, &first, now).await.unwrap(),
        AlertClaim::Claimed
    );
    assert_eq!(store.alert_status(id).await.unwrap(), Some(AlertStatus::Claimed));
    assert_eq!(
        store.claim_alert(&alert, &second, now).await.unwrap(),
        AlertClaim::InProgress
    );
    store.release_alert(&alert, &second).await.unwrap();
    assert_eq!(
        store.claim_alert(&alert, &second, now).await.unwrap(),
        AlertClaim::InProgress,
        "only the holder releases it"
    );
    store.release_alert(&alert, &first).await.unwrap();
    assert_eq!(
        store.claim_alert(&alert, &second, now).await.unwrap(),
        AlertClaim::Claimed,
        "released: the next attempt claims it at once"
    );
    store.mark_alert_sent(&alert, &first, "lost", now).await.unwrap();
    assert_eq!(
        store.alert_status(id).await.unwrap(),
        Some(AlertStatus::Claimed),
        "a lost lease marks nothing"
    );
    assert_eq!(
        store.claim_alert(&alert, &third, ends).await.unwrap(),
        AlertClaim::Claimed,
        "a lease ends at its `until` (store::alert_decision)"
    );
    store.mark_alert_sent(&alert, &third, "receipt-1", ends).await.unwrap();
    assert_eq!(store.alert_status(id).await.unwrap(), Some(AlertStatus::Sent));
    let much_later = ends + Duration::days(2);
    assert_eq!(
        store.claim_alert(&alert, &first, much_later).await.unwrap(),
        AlertClaim::AlreadySent
    );
}
