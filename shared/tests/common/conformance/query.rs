//! `StoreQuery`'s listings: deliveries, states, alerts and conflicts in a window (`since` included, `until`
//! not), newest first, of one provider, cut at a limit; the key reads; and the reads built on them (hourly
//! counts, alert counts, names, histories, fleet pages). The window crosses midnight, where DynamoDB's
//! listing buckets change day.

use super::{lease, low_data_alert, reading, store_reading};
use chrono::{DateTime, Duration, Utc};
use shared::model::{Event, PayloadSha256, ProviderId};
use shared::state::EsimState;
use shared::store::read::HourCounts;
use shared::store::{
    AlertCounts, AlertStatus, DeliveryStatus, EsimName, EventStore, FleetFilter, ListQuery, StoreQuery, StoredConflict,
};
use std::collections::BTreeMap;

macro_rules! contracts {
    ($port:expr, [$($ignored:tt)*]) => {
        crate::common::conformance::emit!(query, $port, [
            deliveries_are_listed_newest_first_in_their_window,
            states_are_listed_by_their_last_update,
            alerts_are_listed_with_their_status,
            a_conflict_is_one_record_per_payload_listed_by_when_last_seen,
            a_late_repeat_of_a_conflict_keeps_when_it_was_first_and_last_seen,
            the_reads_built_on_the_listings_agree_with_them,
        ], [$($ignored)*]);
    };
}
pub(crate) use contracts;

const A: &str = "8944000000000000201";
const B: &str = "8944000000000000202";
const C: &str = "8944000000000000203";

/// Five readings over three hours from `now` (22:00), crossing midnight: eSIM A at 22:00 and 00:00, B at
/// 22:40 and 01:00 (Airalo), C at 23:20 (Roamify); stored in that order. A ends with 30 % left, B 40 %, C 70 %.
async fn seed<S: EventStore + ?Sized>(store: &S, now: DateTime<Utc>) -> (Vec<Event>, BTreeMap<String, EsimState>) {
    let readings = [
        (ProviderId::Airalo, A, "a", 0, 900_000_000),
        (ProviderId::Airalo, B, "b", 40, 800_000_000),
        (ProviderId::Roamify, C, "c", 80, 700_000_000),
        (ProviderId::Airalo, A, "d", 120, 300_000_000),
        (ProviderId::Airalo, B, "e", 180, 400_000_000),
    ];
    let mut events = Vec::new();
    let mut states = BTreeMap::new();
    for (provider, iccid, id, minutes, left) in readings {
        let event = reading(provider, iccid, id, now + Duration::minutes(minutes), left);
        states.insert(iccid.to_string(), store_reading(store, &event).await);
        events.push(event);
    }
    (events, states)
}

/// `[now + from, now + until)` in minutes, of `provider`, at most `limit`.
fn window(
    now: DateTime<Utc>,
    (from, until): (i64, i64),
    provider: Option<ProviderId>,
    limit: Option<usize>,
) -> ListQuery {
    ListQuery {
        provider,
        since: Some(now + Duration::minutes(from)),
        until: Some(now + Duration::minutes(until)),
        limit,
    }
}

const WHOLE: (i64, i64) = (0, 240);

pub async fn deliveries_are_listed_newest_first_in_their_window<S: EventStore + StoreQuery + ?Sized>(
    store: &S,
    now: DateTime<Utc>,
) {
    let (events, _) = seed(store, now).await;
    let airalo = Some(ProviderId::Airalo);
    let cases: [(ListQuery, &[&str]); 7] = [
        (window(now, WHOLE, None, None), &["e", "d", "c", "b", "a"]),
        (window(now, WHOLE, None, Some(2)), &["e", "d"]),
        (window(now, WHOLE, airalo, None), &["e", "d", "b", "a"]),
        (window(now, WHOLE, airalo, Some(3)), &["e", "d", "b"]),
        (window(now, WHOLE, Some(ProviderId::Roamify), None), &["c"]),
        (window(now, (40, 120), None, None), &["c", "b"]),
        (window(now, (41, 180), airalo, Some(1)), &["d"]),
    ];
    for (query, expected) in cases {
        let listed = store.list_deliveries(&query).await.unwrap();
        let keys: Vec<&str> = listed.iter().map(|d| d.event.dedupe_key.as_str()).collect();
        assert_eq!(keys, expected, "{query:?}");
        assert!(listed.iter().all(|d| d.status == DeliveryStatus::Completed));
    }
    let d = &events[3];
    let stored = store
        .delivery(d.provider, &d.dedupe_key)
        .await
        .unwrap()
        .expect("a key read");
    assert_eq!(
        serde_json::to_value(&stored.event).unwrap(),
        serde_json::to_value(d).unwrap(),
        "the event as stored"
    );
    assert!(store
        .delivery(ProviderId::Roamify, &d.dedupe_key)
        .await
        .unwrap()
        .is_none());
}

pub async fn states_are_listed_by_their_last_update<S: EventStore + StoreQuery + ?Sized>(
    store: &S,
    now: DateTime<Utc>,
) {
    let (_, states) = seed(store, now).await;
    let cases: [(ListQuery, &[&str]); 4] = [
        (window(now, WHOLE, None, None), &[B, A, C]),
        (window(now, (0, 180), None, None), &[A, C]),
        (window(now, WHOLE, Some(ProviderId::Roamify), None), &[C]),
        (window(now, WHOLE, None, Some(1)), &[B]),
    ];
    for (query, expected) in cases {
        let listed = store.list_states(&query).await.unwrap();
        let keys: Vec<&str> = listed.iter().map(|s| s.key.as_str()).collect();
        assert_eq!(keys, expected, "{query:?}");
        for state in &listed {
            assert_eq!(state, &states[&state.key]);
        }
    }
    assert_eq!(
        store.esim_state(ProviderId::Airalo, A).await.unwrap().as_ref(),
        Some(&states[A])
    );
    assert_eq!(store.esim_state(ProviderId::Roamify, A).await.unwrap(), None);
}

/// Alerts raised at 22:10 (A, sent), 23:10 (C, Roamify) and 00:30 (B), each with 10 % left.
async fn raise_alerts<S: EventStore + ?Sized>(store: &S, now: DateTime<Utc>) -> Vec<String> {
    let mut ids = Vec::new();
    for (provider, iccid, minutes) in [
        (ProviderId::Airalo, A, 10),
        (ProviderId::Roamify, C, 70),
        (ProviderId::Airalo, B, 150),
    ] {
        let at = now + Duration::minutes(minutes);
        let alert = low_data_alert(&reading(provider, iccid, &format!("low-{iccid}"), at, 100_000_000));
        let held = lease("raising", at + Duration::minutes(5));
        store.claim_alert(&alert, &held, at).await.unwrap();
        if iccid == A {
            store.mark_alert_sent(&alert, &held, "receipt-a", at).await.unwrap();
        }
        ids.push(alert.alert_id);
    }
    ids
}

pub async fn alerts_are_listed_with_their_status<S: EventStore + StoreQuery + ?Sized>(store: &S, now: DateTime<Utc>) {
    let ids = raise_alerts(store, now).await;
    let (a, c, b) = (ids[0].as_str(), ids[1].as_str(), ids[2].as_str());
    let cases: [(ListQuery, &[&str]); 5] = [
        (window(now, WHOLE, None, None), &[b, c, a]),
        (window(now, WHOLE, Some(ProviderId::Airalo), None), &[b, a]),
        (window(now, WHOLE, Some(ProviderId::Airalo), Some(1)), &[b]),
        (window(now, (10, 150), None, None), &[c, a]),
        (window(now, (11, 240), Some(ProviderId::Roamify), None), &[c]),
    ];
    for (query, expected) in cases {
        let listed = store.list_alerts(&query).await.unwrap();
        let found: Vec<&str> = listed.iter().map(|s| s.alert.alert_id.as_str()).collect();
        assert_eq!(found, expected, "{query:?}");
    }
    let listed = store.list_alerts(&window(now, WHOLE, None, None)).await.unwrap();
    let status: Vec<_> = listed.iter().map(|s| (s.status, s.receipt.as_deref())).collect();
    assert_eq!(
        status,
        [
            (AlertStatus::Claimed, None),
            (AlertStatus::Claimed, None),
            (AlertStatus::Sent, Some("receipt-a"))
        ]
    );
    assert_eq!(listed[2].sent_at, Some(now + Duration::minutes(10)));
}

/// Records the delivery `reused-id` of eSIM A as a conflict received `minutes` after `now`, with the payload
/// named `payload`.
async fn conflict<S: EventStore + ?Sized>(store: &S, now: DateTime<Utc>, payload: &str, minutes: i64) {
    let mut seen = reading(
        ProviderId::Airalo,
        A,
        "reused-id",
        now + Duration::minutes(minutes),
        500_000_000,
    );
    seen.payload_sha256 = PayloadSha256::of(payload.as_bytes());
    store.record_conflict(&seen).await.unwrap();
}

/// (payload, count, first seen, last seen), in listing order.
fn shape(conflicts: &[StoredConflict]) -> Vec<(String, u64, DateTime<Utc>, DateTime<Utc>)> {
    conflicts
        .iter()
        .map(|c| {
            let payload = c.event.payload_sha256.as_str().to_string();
            (payload, c.count, c.first_seen_at, c.last_seen_at)
        })
        .collect()
}

pub async fn a_conflict_is_one_record_per_payload_listed_by_when_last_seen<S: EventStore + StoreQuery + ?Sized>(
    store: &S,
    now: DateTime<Utc>,
) {
    for (payload, minutes) in [("one", 5), ("two", 30), ("one", 50)] {
        conflict(store, now, payload, minutes).await;
    }
    let at = |minutes| now + Duration::minutes(minutes);
    let (one, two) = (
        PayloadSha256::of(b"one").to_string(),
        PayloadSha256::of(b"two").to_string(),
    );
    let listed = store.list_conflicts(&window(now, WHOLE, None, None)).await.unwrap();
    assert_eq!(
        shape(&listed),
        [(one.clone(), 2, at(5), at(50)), (two.clone(), 1, at(30), at(30))]
    );
    assert_eq!(listed[0].event.received_at, at(5), "the payload's first delivery");
    let before_the_repeat = store.list_conflicts(&window(now, (0, 40), None, None)).await.unwrap();
    assert_eq!(shape(&before_the_repeat), [(two, 1, at(30), at(30))]);
    let limited = store.list_conflicts(&window(now, WHOLE, None, Some(1))).await.unwrap();
    assert_eq!(shape(&limited), [(one, 2, at(5), at(50))]);
    let roamify = window(now, WHOLE, Some(ProviderId::Roamify), None);
    assert!(store.list_conflicts(&roamify).await.unwrap().is_empty());
}

pub async fn a_late_repeat_of_a_conflict_keeps_when_it_was_first_and_last_seen<S: EventStore + StoreQuery + ?Sized>(
    store: &S,
    now: DateTime<Utc>,
) {
    // Two attempts record the same conflict; the one received first writes last (StoredConflict::seen_again).
    conflict(store, now, "one", 30).await;
    conflict(store, now, "one", 10).await;
    let at = |minutes| now + Duration::minutes(minutes);
    let listed = store.list_conflicts(&window(now, WHOLE, None, None)).await.unwrap();
    let one = PayloadSha256::of(b"one").to_string();
    assert_eq!(shape(&listed), [(one, 2, at(10), at(30))]);
}

pub async fn the_reads_built_on_the_listings_agree_with_them<S: EventStore + StoreQuery + ?Sized>(
    store: &S,
    now: DateTime<Utc>,
) {
    let (events, states) = seed(store, now).await;
    let ids = raise_alerts(store, now).await;
    let whole = window(now, WHOLE, None, None);
    let hour = |minutes| now + Duration::minutes(minutes);
    let counted = |provider, at, stored| HourCounts {
        stored,
        ..HourCounts::none(provider, at)
    };
    let mut expected = vec![
        counted(ProviderId::Airalo, hour(0), 2),
        counted(ProviderId::Airalo, hour(120), 1),
        counted(ProviderId::Airalo, hour(180), 1),
        counted(ProviderId::Roamify, hour(60), 1),
    ];
    expected.sort_by_key(|c| (c.provider, c.hour));
    assert_eq!(
        store.delivery_counts(&whole).await.unwrap(),
        expected,
        "by provider, then hour"
    );
    let alerts = |alerts, sent| AlertCounts {
        alerts,
        sent,
        ..AlertCounts::default()
    };
    assert_eq!(
        store.alert_counts(&whole).await.unwrap(),
        BTreeMap::from([(ProviderId::Airalo, alerts(2, 1)), (ProviderId::Roamify, alerts(1, 0))])
    );

    let a = EsimName {
        provider: ProviderId::Airalo,
        key: A.into(),
        iccid: Some(A.into()),
    };
    assert_eq!(store.esims_named(A, &whole).await.unwrap(), [a]);
    assert!(store
        .esims_named(A, &window(now, (200, 240), None, None))
        .await
        .unwrap()
        .is_empty());
    let history = store.esim_history(ProviderId::Airalo, A, &whole).await.unwrap();
    let keys: Vec<&str> = history.deliveries.iter().map(|d| d.event.dedupe_key.as_str()).collect();
    assert_eq!(
        keys,
        [events[0].dedupe_key.as_str(), events[3].dedupe_key.as_str()],
        "oldest first"
    );
    let alerted: Vec<&str> = history.alerts.iter().map(|a| a.alert.alert_id.as_str()).collect();
    assert_eq!(alerted, [ids[0].as_str()]);
    assert_eq!(history.state.as_ref(), Some(&states[A]));

    let low = FleetFilter {
        window: whole,
        below_percent: Some(60.0),
        ..FleetFilter::default()
    };
    let page = store.fleet(&low, 0, 5).await.unwrap();
    let keys: Vec<&str> = page.rows.iter().map(|s| s.key.as_str()).collect();
    assert_eq!((keys, page.more), (vec![A, B], false), "the least left first");
    let first = store.fleet(&low, 0, 1).await.unwrap();
    assert_eq!((first.rows[0].key.as_str(), first.more), (A, true));
}
