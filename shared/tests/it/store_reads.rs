//! The local store's index reads give the same rows as reading every document and filtering: listings by
//! window and provider, eSIMs by name, an eSIM's history, and fleet pages by data left, plan end and lifecycle,
//! in order and paged. The reference is the `StoreQuery` defaults over the plain listings (what the deployed
//! store answers with), and every document read back one by one. A store whose documents predate the indexes
//! answers the same once opened.

use crate::common;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use common::{fixture_provider, quick_settings, secrets, Harness};
use shared::ingress::Delivery;
use shared::model::{DedupeKey, Lifecycle, ProviderId};
use shared::simulate::{body, sign, SampleParams};
use shared::state::EsimState;
use shared::store::{
    FleetFilter, KvBackend, KvStore, ListQuery, MemoryBackend, Space, StoreError, StoreQuery, StoredAlert,
    StoredConflict, StoredDelivery,
};
use std::sync::Arc;

const NOW: &str = "2026-11-20T12:00:00Z";

/// The plain listings only: `esims_named`, `esim_history` and `fleet` fall back to the trait's defaults.
struct Listings(Arc<KvStore<MemoryBackend>>);

#[async_trait]
impl StoreQuery for Listings {
    async fn list_deliveries(&self, q: &ListQuery) -> Result<Vec<StoredDelivery>, StoreError> {
        self.0.list_deliveries(q).await
    }
    async fn list_states(&self, q: &ListQuery) -> Result<Vec<EsimState>, StoreError> {
        self.0.list_states(q).await
    }
    async fn list_alerts(&self, q: &ListQuery) -> Result<Vec<StoredAlert>, StoreError> {
        self.0.list_alerts(q).await
    }
    async fn list_conflicts(&self, q: &ListQuery) -> Result<Vec<StoredConflict>, StoreError> {
        self.0.list_conflicts(q).await
    }
    async fn delivery(&self, p: ProviderId, k: &DedupeKey) -> Result<Option<StoredDelivery>, StoreError> {
        self.0.delivery(p, k).await
    }
    async fn esim_state(&self, p: ProviderId, key: &str) -> Result<Option<EsimState>, StoreError> {
        self.0.esim_state(p, key).await
    }
}

fn delivery_of(provider: ProviderId, event_type: &str, params: &SampleParams, secret: &str) -> Delivery {
    let body = body(provider, event_type, params).unwrap().to_string();
    let request = sign(provider, &body, secret);
    let (path, query) = request
        .path_and_query
        .split_once('?')
        .unwrap_or((&request.path_and_query, ""));
    let mut headers = lambda_http::http::HeaderMap::new();
    for (name, value) in &request.headers {
        headers.insert(
            lambda_http::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
    }
    Delivery {
        method: lambda_http::http::Method::POST,
        path: path.to_string(),
        query: query.to_string(),
        headers,
        source_ip: None,
        body: request.body.into(),
        received_at: params.now,
        request_id: None,
    }
}

/// Forty Roamify and twenty eSIM Access eSIMs: status, then usage falling to a level of their own, plans ending
/// from one hour to five days out (some already ended), a few expired; every delivery at its own time.
async fn seeded() -> Arc<KvStore<MemoryBackend>> {
    let store = Arc::new(KvStore::in_memory());
    let sink = Arc::new(shared::alerts::sink::MemorySink::new());
    let roamify = Harness::with(
        fixture_provider(ProviderId::Roamify),
        NOW,
        quick_settings(),
        store.clone(),
        sink.clone(),
    );
    let esimaccess = Harness::with(
        common::fixture_provider(ProviderId::EsimAccess),
        NOW,
        quick_settings(),
        store.clone(),
        sink,
    );
    let s = secrets();
    let roamify_secret = s["roamify"]["secret"].as_str().unwrap().to_string();
    let esimaccess_token = s["esimaccess"]["url_token"].as_str().unwrap().to_string();
    let start = common::instant(NOW) - Duration::hours(30);
    let mut sequence = 0;
    for esim in 0..60usize {
        let (h, provider, secret, kinds) = if esim < 40 {
            (
                &roamify,
                ProviderId::Roamify,
                &roamify_secret,
                ["status", "usage", "usage", "expired"],
            )
        } else {
            (
                &esimaccess,
                ProviderId::EsimAccess,
                &esimaccess_token,
                ["esim_status", "data_usage", "data_usage", "validity_usage"],
            )
        };
        let events = if esim % 7 == 0 { 4 } else { 3 };
        for (k, kind) in kinds.iter().take(events).enumerate() {
            sequence += 1;
            let mut params = SampleParams::new(start + Duration::minutes((esim * 17 + k * 131) as i64 % 1700));
            params.iccid = format!("89440000000000{esim:05}");
            params.ends_in_hours = (esim as i64 * 5) % 130 - 10;
            params.remaining_percent = 100usize.saturating_sub((100 - esim % 60) * k / 2) as u8;
            params.sequence = sequence;
            h.clock.set(params.now);
            let reply = h.service.handle(&delivery_of(provider, kind, &params, secret)).await;
            assert_eq!(reply.status, 200, "{provider} {kind}: {}", reply.body);
        }
    }
    // Payloads a provider started sending that no mapping knows: stored as unrecognized, showing drift.
    for n in 0..5 {
        let at = start + Duration::hours(n * 5);
        roamify.clock.set(at);
        let body =
            serde_json::json!({"event_category": "esim", "event_type": "teleported", "data": {"n": n}}).to_string();
        let mut d = delivery_of(ProviderId::Roamify, "status", &SampleParams::new(at), &roamify_secret);
        let signed = sign(ProviderId::Roamify, &body, &roamify_secret);
        for (name, value) in signed.headers {
            d.headers.insert(
                lambda_http::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        d.body = body.into();
        let reply = roamify.service.handle(&d).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    store
}

fn names(rows: &[EsimState]) -> Vec<(ProviderId, String)> {
    rows.iter().map(|s| (s.provider, s.key.clone())).collect()
}

fn filters(now: DateTime<Utc>) -> Vec<FleetFilter> {
    let mut all = Vec::new();
    for provider in [None, Some(ProviderId::Roamify), Some(ProviderId::EsimAccess)] {
        for since in [None, Some(now - Duration::hours(12))] {
            let window = ListQuery {
                provider,
                since,
                until: Some(now + Duration::minutes(1)),
                limit: None,
            };
            let base = FleetFilter {
                window,
                ..FleetFilter::default()
            };
            all.push(base.clone());
            for below in [5.0, 20.0, 50.0, 100.0] {
                all.push(FleetFilter {
                    below_percent: Some(below),
                    ..base.clone()
                });
            }
            for hours in [1, 24, 72] {
                all.push(FleetFilter {
                    ending: Some((now, now + Duration::hours(hours))),
                    ..base.clone()
                });
                all.push(FleetFilter {
                    ending: Some((now, now + Duration::hours(hours))),
                    below_percent: Some(50.0),
                    ..base.clone()
                });
            }
            for lifecycle in [Lifecycle::Active, Lifecycle::Expired, Lifecycle::Deleted] {
                all.push(FleetFilter {
                    lifecycle: Some(lifecycle),
                    ..base.clone()
                });
            }
        }
    }
    all
}

#[tokio::test]
async fn fleet_pages_read_through_indexes_match_filtering_every_state() {
    let store = seeded().await;
    let plain = Listings(store.clone());
    let now = common::instant(NOW);
    let mut nonempty = 0;
    for filter in filters(now) {
        for (offset, limit) in [(0, 200), (0, 1), (0, 7), (7, 7), (14, 50), (59, 5), (500, 5)] {
            let indexed = store.fleet(&filter, offset, limit).await.unwrap();
            let expected = plain.fleet(&filter, offset, limit).await.unwrap();
            assert_eq!(
                names(&indexed.rows),
                names(&expected.rows),
                "{filter:?} at {offset}+{limit}"
            );
            assert_eq!(indexed.more, expected.more, "{filter:?} at {offset}+{limit}");
            nonempty += usize::from(!indexed.rows.is_empty());
        }
    }
    assert!(
        nonempty > 100,
        "the filters select something: {nonempty} pages with rows"
    );
    // The page's order is what it filters on: least data left first.
    let low = store
        .fleet(
            &FleetFilter {
                below_percent: Some(50.0),
                ..FleetFilter::default()
            },
            0,
            100,
        )
        .await
        .unwrap();
    let left: Vec<f64> = low
        .rows
        .iter()
        .map(|s| s.usage.as_ref().unwrap().value.remaining_ratio.unwrap())
        .collect();
    assert!(
        left.len() > 5 && left.windows(2).all(|w| w[0] <= w[1]) && left.iter().all(|r| *r < 0.5),
        "{left:?}"
    );
}

#[tokio::test]
async fn listings_names_and_histories_match_reading_every_document() {
    let store = seeded().await;
    let plain = Listings(store.clone());
    let now = common::instant(NOW);
    let every: Vec<StoredDelivery> = store
        .backend()
        .list(Space::DELIVERIES)
        .unwrap()
        .iter()
        .map(|(_, doc)| serde_json::from_str(doc).unwrap())
        .collect();
    assert!(every.len() > 180, "{}", every.len());
    for provider in [None, Some(ProviderId::Roamify)] {
        for (since, until, limit) in [
            (None, None, None),
            (Some(now - Duration::hours(10)), Some(now - Duration::hours(2)), None),
            (Some(now - Duration::hours(20)), None, Some(13)),
        ] {
            let query = ListQuery {
                provider,
                since,
                until,
                limit,
            };
            let mut expected: Vec<&StoredDelivery> = every
                .iter()
                .filter(|d| query.admits(d.event.provider, d.event.received_at))
                .collect();
            // Newest first; deliveries of the same instant by their store key, last first, as the index has them.
            expected.sort_by_key(|d| {
                std::cmp::Reverse((
                    d.event.received_at,
                    format!("{}#{}", d.event.provider, d.event.dedupe_key),
                ))
            });
            expected.truncate(limit.unwrap_or(usize::MAX));
            let listed = store.list_deliveries(&query).await.unwrap();
            let keys = |rows: Vec<&StoredDelivery>| -> Vec<String> {
                rows.iter().map(|d| d.event.dedupe_key.to_string()).collect()
            };
            assert_eq!(keys(listed.iter().collect()), keys(expected), "{query:?}");
        }
    }

    let window = ListQuery {
        since: Some(now - Duration::days(3)),
        until: Some(now + Duration::minutes(1)),
        ..ListQuery::default()
    };
    for esim in [0, 7, 21, 39, 40, 49, 59] {
        let iccid = format!("89440000000000{esim:05}");
        let found = store.esims_named(&iccid, &window).await.unwrap();
        assert_eq!(found, plain.esims_named(&iccid, &window).await.unwrap(), "{iccid}");
        assert_eq!(found.len(), 1, "{iccid}: {found:?}");
        let (provider, key) = (found[0].provider, &found[0].key);
        let indexed = store.esim_history(provider, key, &window).await.unwrap();
        let expected = plain.esim_history(provider, key, &window).await.unwrap();
        let keys = |d: &[StoredDelivery]| d.iter().map(|d| d.event.dedupe_key.to_string()).collect::<Vec<_>>();
        assert_eq!(keys(&indexed.deliveries), keys(&expected.deliveries), "{iccid}");
        assert!(indexed.deliveries.len() >= 3, "{iccid}");
        assert!(indexed
            .deliveries
            .windows(2)
            .all(|w| w[0].event.received_at <= w[1].event.received_at));
        let ids = |a: &[StoredAlert]| a.iter().map(|a| a.alert.alert_id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&indexed.alerts), ids(&expected.alerts), "{iccid}");
        assert_eq!(
            indexed.state.map(|s| s.updated_at),
            expected.state.map(|s| s.updated_at)
        );
    }
    for window in [
        ListQuery::default(),
        ListQuery {
            provider: Some(ProviderId::Roamify),
            since: Some(now - Duration::hours(20)),
            ..ListQuery::default()
        },
    ] {
        let counts = store.delivery_counts(&window).await.unwrap();
        assert_eq!(counts, plain.delivery_counts(&window).await.unwrap(), "{window:?}");
        let keys = |d: Vec<StoredDelivery>| d.iter().map(|d| d.event.dedupe_key.to_string()).collect::<Vec<_>>();
        let drifting = keys(store.drifting(&window, 3).await.unwrap());
        assert_eq!(drifting, keys(plain.drifting(&window, 3).await.unwrap()), "{window:?}");
        assert!(!drifting.is_empty());
    }
    let window_all = ListQuery::default();
    assert_eq!(
        store.alert_counts(&window_all).await.unwrap(),
        plain.alert_counts(&window_all).await.unwrap()
    );
    let counts = store.delivery_counts(&ListQuery::default()).await.unwrap();
    let total = |f: fn(&shared::store::HourCounts) -> u64| counts.iter().map(f).sum::<u64>();
    assert_eq!(total(|c| c.stored), every.len() as u64);
    assert_eq!((total(|c| c.unrecognized), total(|c| c.schema_drift)), (5, 5));

    let alerted = store.list_alerts(&ListQuery::default()).await.unwrap();
    assert!(!alerted.is_empty(), "usage fell low enough to alert");
    // A reference names its eSIM too (eSIM Access `esimTranNo`), and a name nobody has, nothing.
    let state = store
        .list_states(&ListQuery {
            provider: Some(ProviderId::EsimAccess),
            ..ListQuery::default()
        })
        .await
        .unwrap();
    let tran_no = state[0].refs.get("esimTranNo").unwrap().clone();
    assert_eq!(store.esims_named(&tran_no, &window).await.unwrap().len(), 1);
    assert!(store.esims_named("nobody", &window).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_store_from_before_the_indexes_answers_the_same_once_opened() {
    let store = seeded().await;
    let old = MemoryBackend::default();
    for space in [Space::DELIVERIES, Space::STATES, Space::ALERTS, Space::NOTIFICATIONS] {
        for (key, doc) in store.backend().list(space).unwrap() {
            old.put(space, &key, &doc).unwrap();
        }
    }
    let unopened = KvStore::new(old);
    assert!(
        unopened
            .list_deliveries(&ListQuery::default())
            .await
            .unwrap()
            .is_empty(),
        "no entries yet"
    );
    let features = [shared::customers::INDEXED_SPACES, shared::callbacks::INDEXED_SPACES].concat();
    let reopened = KvStore::open(unopened.into_backend(), &features).unwrap();
    let now = common::instant(NOW);
    for filter in filters(now).into_iter().step_by(5) {
        let names_of = |rows: &[EsimState]| names(rows);
        assert_eq!(
            names_of(&reopened.fleet(&filter, 0, 50).await.unwrap().rows),
            names_of(&store.fleet(&filter, 0, 50).await.unwrap().rows),
            "{filter:?}"
        );
    }
    assert_eq!(
        reopened.list_deliveries(&ListQuery::default()).await.unwrap().len(),
        store.list_deliveries(&ListQuery::default()).await.unwrap().len()
    );
}

/// A customer id names the eSIMs of the contacts filed under it (locally; the console searches by it).
#[tokio::test]
async fn a_customer_id_names_the_esims_of_its_contacts() {
    use shared::customers::{Contact, ContactFields, ContactStore};
    let store = seeded().await;
    let window = ListQuery {
        since: Some(common::instant(NOW) - Duration::days(3)),
        ..ListQuery::default()
    };
    for (esim, provider) in [(3, "roamify"), (41, "esimaccess"), (5, "esimaccess")] {
        let fields: ContactFields = serde_json::from_value(serde_json::json!({
            "provider": provider, "iccid": format!("89440000000000{esim:05}"),
            "email": "traveller@example.com", "customer_id": "cust-77"
        }))
        .unwrap();
        store.upsert(&Contact::from_fields(&fields).unwrap()).await.unwrap();
    }
    let found = store.esims_named("cust-77", &window).await.unwrap();
    let keys: Vec<(ProviderId, Option<&str>)> = found.iter().map(|f| (f.provider, f.iccid.as_deref())).collect();
    // eSIM 5 is Roamify's: a contact filed under eSIM Access for its ICCID names no eSIM.
    assert_eq!(
        keys,
        [
            (ProviderId::EsimAccess, Some("8944000000000000041")),
            (ProviderId::Roamify, Some("8944000000000000003"))
        ],
        "{found:?}"
    );
    assert!(store.esims_named("cust-78", &window).await.unwrap().is_empty());
    // Filed under another customer, it is that customer's.
    let moved: ContactFields = serde_json::from_value(serde_json::json!({
        "provider": "roamify", "iccid": "8944000000000000003", "email": "traveller@example.com", "customer_id": "cust-78"
    }))
    .unwrap();
    store.upsert(&Contact::from_fields(&moved).unwrap()).await.unwrap();
    assert_eq!(store.esims_named("cust-77", &window).await.unwrap().len(), 1);
    assert_eq!(store.esims_named("cust-78", &window).await.unwrap().len(), 1);
}

/// A partner's attempt log and the deliveries given up on read their own range: newest attempts first in the
/// window, given-up ones oldest first since a time, never another partner's.
#[tokio::test]
async fn partner_attempts_and_parked_deliveries_read_their_own_range() {
    use shared::callbacks::delivery::Verdict;
    use shared::callbacks::partner::PartnerId;
    use shared::callbacks::sender::{AttemptLog, AttemptRecord, CallbackJob, FailedDelivery};
    let store = KvStore::in_memory();
    let t0 = common::instant(NOW);
    let (acme, other) = (PartnerId::parse("acme").unwrap(), PartnerId::parse("acme2").unwrap());
    let mut logged = Vec::new();
    for (i, partner) in [&acme, &other, &acme, &acme, &other, &acme].into_iter().enumerate() {
        for attempt in 1..=2 {
            let record = AttemptRecord {
                partner: partner.clone(),
                url: "https://hooks.example.com/in".into(),
                notification_id: format!("msg_{i}"),
                notification_type: 1,
                attempt,
                at: t0 + Duration::minutes(i as i64 * 10),
                status: Some(500),
                error: None,
                latency_ms: 12,
                verdict: Verdict::Exhausted,
                owner: None,
            };
            store.record(&record).await.unwrap();
            logged.push(record);
        }
        let job = CallbackJob {
            notification_id: format!("msg_{i}"),
            notification_type: 1,
            partner: partner.clone(),
            url: "https://hooks.example.com/in".into(),
            body: "{}".into(),
            owner: None,
        };
        store
            .park(&FailedDelivery {
                job,
                failed_at: t0 + Duration::minutes(i as i64 * 10 + 1),
                attempts: 2,
            })
            .await
            .unwrap();
    }
    let (since, until) = (t0 + Duration::minutes(10), t0 + Duration::minutes(50));
    let found = store.attempts(&acme, since, until, 10).await.unwrap();
    let mut expected: Vec<&AttemptRecord> = logged
        .iter()
        .filter(|a| a.partner == acme && a.at >= since && a.at < until)
        .collect();
    expected.sort_by_key(|a| std::cmp::Reverse((a.at, a.attempt)));
    assert_eq!(found.iter().collect::<Vec<_>>(), expected);
    assert_eq!(found.len(), 4, "acme's attempts at 20 and 30 minutes, two each");
    assert_eq!(store.attempts(&acme, since, until, 3).await.unwrap().len(), 3);

    let parked = store.parked(&acme, t0 + Duration::minutes(15), 10).await.unwrap();
    let ids: Vec<&str> = parked.iter().map(|f| f.job.notification_id.as_str()).collect();
    assert_eq!(ids, ["msg_2", "msg_3", "msg_5"], "oldest first, only acme's");
}
