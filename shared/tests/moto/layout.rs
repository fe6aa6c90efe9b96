//! The DynamoDB layout on moto: listings, the expiry sweep's read, the state listing and the console's
//! questions (hourly counts, alert counts, eSIM histories, fleet pages), which now read write-sharded buckets
//! of keys-only indexes, return the same rows as the in-memory store given the same deliveries; and items written in the layout before it (JSON text documents, unsharded index keys) are
//! still read, listed, swept, deduplicated and rewritten.

use crate::common;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, Utc};
use common::*;
use shared::alerts::sink::MemorySink;
use shared::clock::{Clock, FixedClock};
use shared::model::{DedupeKey, Event, ProviderId, Validity};
use shared::pipeline::{Outcome, Pipeline};
use shared::state::EsimState;
use shared::store::read::histories;
use shared::store::{Begin, EsimHistory, EsimName, EventStore, FleetFilter, KvStore, Lease, ListQuery, StoreQuery};
use std::sync::Arc;

use crate::moto_rig;

const START: &str = "2026-11-30T20:00:00Z";

/// The `n`th reading: seven eSIMs, 40 minutes apart (crossing a day; each listing read queries 129 buckets a
/// day, so two days rather than three keep the test short on moto), some running low (alerts), every third one
/// with a plan end in the next days.
fn reading(n: u32, at: DateTime<Utc>) -> Event {
    let mut event = airalo_reading(&format!("8944000000000000{:03}", n % 7), at);
    event.dedupe_key = DedupeKey::provider_id(format!("reading-{n}"));
    event.payload_sha256 = shared::model::PayloadSha256::of(format!("body {n}").as_bytes());
    let remaining = if n.is_multiple_of(4) { 40_000_000 } else { 600_000_000 };
    event.usage = Some(
        shared::model::DataUsage {
            total_bytes: Some(1_000_000_000),
            remaining_bytes: Some(remaining),
            ..Default::default()
        }
        .complete(),
    );
    if n.is_multiple_of(3) {
        event.validity = Some(Validity {
            expires_at: Some(at + Duration::hours(6 + i64::from(n) * 3)),
            ..Validity::default()
        });
    }
    event
}

fn keys(deliveries: &[shared::store::StoredDelivery]) -> Vec<String> {
    deliveries.iter().map(|d| d.event.dedupe_key.to_string()).collect()
}

fn state_keys(states: &[EsimState]) -> Vec<(String, DateTime<Utc>)> {
    states.iter().map(|s| (s.key.clone(), s.updated_at)).collect()
}

#[tokio::test]
async fn sharded_listings_return_the_rows_of_the_in_memory_store() {
    let rig = moto_rig::MotoRig::new("layout", START).await;
    let memory = Arc::new(KvStore::in_memory());
    let clock = Arc::new(FixedClock::at_rfc3339(START));
    let dynamo = Pipeline::new(
        rig.store.clone(),
        Arc::new(MemorySink::default()),
        clock.clone(),
        quick_settings(),
    );
    let local = Pipeline::new(
        memory.clone(),
        Arc::new(MemorySink::default()),
        clock.clone(),
        quick_settings(),
    );
    let start = clock.now();
    for n in 0..30 {
        let at = start + Duration::minutes(40 * i64::from(n));
        clock.set(at);
        let event = reading(n, at);
        let (a, b) = (
            dynamo.process(&event).await.unwrap(),
            local.process(&event).await.unwrap(),
        );
        assert_eq!(a, b, "reading {n}");
        assert!(matches!(a, Outcome::Stored { .. }));
    }
    let end = clock.now() + Duration::minutes(1);
    let window = |since: DateTime<Utc>, until: DateTime<Utc>, limit: Option<usize>, provider| ListQuery {
        provider,
        since: Some(since),
        until: Some(until),
        limit,
    };
    let queries = [
        window(start, end, None, None),
        window(start, end, Some(4), None),
        window(start + Duration::hours(10), start + Duration::hours(30), Some(6), None),
        window(start, end, Some(3), Some(ProviderId::Airalo)),
        window(start, end, None, Some(ProviderId::Roamify)),
    ];
    for query in &queries {
        let (a, b) = (
            rig.store.list_deliveries(query).await.unwrap(),
            memory.list_deliveries(query).await.unwrap(),
        );
        assert_eq!(keys(&a), keys(&b), "deliveries {query:?}");
        let (a, b) = (
            rig.store.list_states(query).await.unwrap(),
            memory.list_states(query).await.unwrap(),
        );
        assert_eq!(state_keys(&a), state_keys(&b), "states {query:?}");
        let (a, b) = (
            rig.store.list_alerts(query).await.unwrap(),
            memory.list_alerts(query).await.unwrap(),
        );
        let ids =
            |alerts: &[shared::store::StoredAlert]| alerts.iter().map(|a| a.alert.alert_id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&a), ids(&b), "alerts {query:?}");
    }
    // The console's and the CLI's questions, answered over the listings on DynamoDB and through the local
    // store's own indexes, agree.
    let whole = &queries[0];
    assert_eq!(
        rig.store.delivery_counts(whole).await.unwrap(),
        memory.delivery_counts(whole).await.unwrap()
    );
    assert_eq!(
        rig.store.alert_counts(whole).await.unwrap(),
        memory.alert_counts(whole).await.unwrap()
    );
    for name in ["8944000000000000003", "8944000000000000006"] {
        let (a, b) = (
            histories(rig.store.as_ref(), name, whole).await.unwrap(),
            histories(memory.as_ref(), name, whole).await.unwrap(),
        );
        let shape = |found: &[(EsimName, EsimHistory)]| {
            found
                .iter()
                .map(|(esim, h)| {
                    let alerts: Vec<_> = h.alerts.iter().map(|a| a.alert.alert_id.clone()).collect();
                    (
                        esim.key.clone(),
                        keys(&h.deliveries),
                        alerts,
                        h.state.as_ref().map(|s| s.updated_at),
                    )
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(shape(&a), shape(&b), "history of {name}");
        assert_eq!(a.len(), 1);
    }
    let mut paged = 0;
    for filter in [
        FleetFilter {
            window: whole.clone(),
            ..FleetFilter::default()
        },
        FleetFilter {
            window: whole.clone(),
            below_percent: Some(50.0),
            ..FleetFilter::default()
        },
        FleetFilter {
            window: whole.clone(),
            ending: Some((start, end + Duration::days(3))),
            ..FleetFilter::default()
        },
    ] {
        // Each page reads the window's states over every shard: one page past the first is enough here.
        let (a, b) = (
            rig.store.fleet(&filter, 2, 2).await.unwrap(),
            memory.fleet(&filter, 2, 2).await.unwrap(),
        );
        assert_eq!(
            (state_keys(&a.rows), a.more),
            (state_keys(&b.rows), b.more),
            "{filter:?}"
        );
        paged += a.rows.len();
    }
    assert!(paged >= 4, "the pages hold eSIMs ({paged})");
    let all = rig.store.list_deliveries(&queries[0]).await.unwrap();
    assert_eq!(all.len(), 30);
    assert!(
        all.windows(2).all(|w| w[0].event.received_at >= w[1].event.received_at),
        "newest first"
    );
    assert!(
        !rig.store.list_alerts(&queries[0]).await.unwrap().is_empty(),
        "some readings alerted"
    );
    for (from, until) in [
        (start, end + Duration::days(3)),
        (start + Duration::days(2), start + Duration::days(6)),
    ] {
        let (a, b) = (
            rig.store.expiring_states(from, until).await.unwrap(),
            memory.expiring_states(from, until).await.unwrap(),
        );
        let ends = |states: &[EsimState]| {
            let mut v: Vec<_> = states.iter().map(|s| (s.key.clone(), s.expires_at())).collect();
            v.sort();
            v
        };
        assert_eq!(ends(&a), ends(&b), "expiring {from}..{until}");
        assert!(!a.is_empty(), "nothing ends in {from}..{until}: {:?}", ends(&b));
    }
}

fn s(text: impl Into<String>) -> AttributeValue {
    AttributeValue::S(text.into())
}

#[tokio::test]
async fn items_from_before_the_compact_layout_are_read_listed_swept_and_rewritten() {
    let rig = moto_rig::MotoRig::new("legacy", START).await;
    let client = rig.store.client();
    let table = rig.store.table();
    let now = rig.clock.now();
    let mut event = reading(3, now);
    let ends = now + Duration::hours(5);
    event.validity = Some(Validity {
        expires_at: Some(ends),
        ..Validity::default()
    });
    let pk = format!("EVENT#airalo#{}", event.dedupe_key);
    // A completed delivery as the store wrote it before: the event as JSON text, the unsharded day bucket.
    client
        .put_item()
        .table_name(table)
        .item("pk", s(&pk))
        .item("sk", s("EVENT"))
        .item("status", s("COMPLETED"))
        .item("payload_sha256", s(event.payload_sha256.as_str()))
        .item("provider", s("airalo"))
        .item("kind", s(event.kind.as_str()))
        .item("esim_key", s(&event.esim.as_ref().unwrap().key))
        .item("event", s(serde_json::to_string(&event).unwrap()))
        .item("completed_at", s(now.to_rfc3339()))
        .item("gsi1pk", s(format!("EVENT#{}", now.format("%Y-%m-%d"))))
        .item("gsi1sk", s(format!("{}#{pk}", now.to_rfc3339())))
        .send()
        .await
        .unwrap();
    let state = shared::state::merge(None, &event).unwrap().state;
    let state_pk = format!("ESIM#airalo#{}", state.key);
    client
        .put_item()
        .table_name(table)
        .item("pk", s(&state_pk))
        .item("sk", s("STATE"))
        .item("version", AttributeValue::N("3".into()))
        .item("state", s(serde_json::to_string(&state).unwrap()))
        .item("updated_at", s(state.updated_at.to_rfc3339()))
        .item("gsi1pk", s(format!("ESIM#{}", now.format("%Y-%m-%d"))))
        .item("gsi1sk", s(format!("{}#{state_pk}", now.to_rfc3339())))
        .item("gsi2pk", s(format!("EXPIRY#{}", ends.format("%Y-%m-%dT%H"))))
        .item("gsi2sk", s(format!("{}#{state_pk}", ends.to_rfc3339())))
        .send()
        .await
        .unwrap();

    let stored = rig
        .store
        .delivery(ProviderId::Airalo, &event.dedupe_key)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.event.raw_body(), event.raw_body());
    assert_eq!(
        keys(&rig.store.list_deliveries(&rig.window()).await.unwrap()),
        vec![event.dedupe_key.to_string()]
    );
    assert_eq!(
        state_keys(&rig.store.list_states(&rig.window()).await.unwrap()),
        vec![(state.key.clone(), state.updated_at)]
    );
    let swept = rig.store.expiring_states(now, now + Duration::hours(24)).await.unwrap();
    assert_eq!(
        swept.iter().map(|s| s.key.clone()).collect::<Vec<_>>(),
        vec![state.key.clone()]
    );
    // The same delivery again is a duplicate of the old item; another payload under its key a conflict.
    let lease = Lease {
        attempt: "a-1".into(),
        until: now + Duration::seconds(30),
    };
    assert_eq!(
        rig.store.begin_delivery(&event, &lease, now).await.unwrap(),
        Begin::Duplicate
    );
    let mut other = event.clone();
    other.payload_sha256 = shared::model::PayloadSha256::of(b"other");
    assert!(matches!(
        rig.store.begin_delivery(&other, &lease, now).await.unwrap(),
        Begin::Conflict { .. }
    ));
    // Its state advances from version 3, and the rewritten item is in the new form.
    let loaded = rig
        .store
        .load_state(ProviderId::Airalo, &state.key)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((loaded.version, loaded.value.key.as_str()), (3, state.key.as_str()));
    assert!(rig.store.save_state(&loaded.value, Some(3)).await.unwrap());
    let item = client
        .get_item()
        .table_name(table)
        .key("pk", s(&state_pk))
        .key("sk", s("STATE"))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert!(item["doc"].is_b() && !item.contains_key("state") && !item.contains_key("gsi1pk"));
    assert_eq!(item["version"].as_n().unwrap(), "4");
    let swept = rig.store.expiring_states(now, now + Duration::hours(24)).await.unwrap();
    assert_eq!(swept.len(), 1, "found once, in its new shard");
    assert!(rig.store.rewrite_event(&event).await.unwrap());
    let stored = rig
        .store
        .delivery(ProviderId::Airalo, &event.dedupe_key)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.event.dedupe_key, event.dedupe_key);
}
