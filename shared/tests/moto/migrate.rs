//! `esimhooks migrate` on DynamoDB (moto): items written as the releases before wrote them (JSON text
//! documents with their copies, unsharded listing, outbox and expiry entries and partner logs, conflicts per
//! delivery, a partner without a scope, an endpoint still on SNS) are rewritten once into the current layout
//! and read as they did before; a second run changes nothing. Items the running system writes again after
//! migrate read them are left to the next run, never overwritten with the stale copy.

use crate::common::*;
use crate::moto_rig::MotoRig;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, Utc};
use shared::alerts::{evaluate, Alert, AlertRules};
use shared::callbacks::attempts::DynamoAttemptLog;
use shared::callbacks::delivery::Verdict;
use shared::callbacks::dynamodb::DynamoRegistry;
use shared::callbacks::partner::{PartnerId, Scope};
use shared::callbacks::registry::{CallbackRegistry, Endpoint};
use shared::callbacks::sender::{AttemptLog, AttemptRecord, CallbackJob, FailedDelivery};
use shared::clock::Clock;
use shared::customers::notify::NotificationStore;
use shared::migrate::dynamodb::{migrate_items, migrate_table};
use shared::migrate::{Counts, Report};
use shared::model::{DedupeKey, Event, PayloadSha256};
use shared::state::EsimState;
use shared::store::{EventStore, Lease, StoreQuery};
use std::collections::HashMap;

const START: &str = "2026-11-30T20:00:00Z";
type Item = HashMap<String, AttributeValue>;

fn s(text: impl Into<String>) -> AttributeValue {
    AttributeValue::S(text.into())
}

fn n(number: i64) -> AttributeValue {
    AttributeValue::N(number.to_string())
}

fn json<T: serde::Serialize>(value: &T) -> AttributeValue {
    s(serde_json::to_string(value).unwrap())
}

fn day(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d").to_string()
}

fn hour(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H").to_string()
}

/// The items the releases before wrote, as they wrote them.
struct Old<'a> {
    rig: &'a MotoRig,
}

impl Old<'_> {
    async fn put(&self, fields: Vec<(&str, AttributeValue)>) {
        let item: Item = fields.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        self.rig
            .store
            .client()
            .put_item()
            .table_name(self.rig.store.table())
            .set_item(Some(item))
            .send()
            .await
            .unwrap();
    }

    /// A completed delivery: the event as JSON text with the copies beside it, the unsharded day bucket.
    async fn delivery(&self, event: &Event) {
        let pk = format!("EVENT#{}#{}", event.provider, event.dedupe_key);
        let at = event.received_at;
        self.put(vec![
            ("pk", s(&pk)),
            ("sk", s("EVENT")),
            ("status", s("COMPLETED")),
            ("payload_sha256", s(event.payload_sha256.as_str())),
            ("provider", s(event.provider.as_str())),
            ("kind", s(event.kind.as_str())),
            ("received_at", s(at.to_rfc3339())),
            ("esim_key", s(&event.esim.as_ref().unwrap().key)),
            ("event", json(event)),
            ("completed_at", s(at.to_rfc3339())),
            ("gsi1pk", s(format!("EVENT#{}", day(at)))),
            ("gsi1sk", s(format!("{}#{pk}", at.to_rfc3339()))),
            ("ttl", n((at + Duration::days(400)).timestamp())),
        ])
        .await;
    }

    /// An eSIM's state at version 3: JSON text and copies, the state listing entry, the unsharded expiry bucket.
    async fn state(&self, state: &EsimState) {
        let pk = format!("ESIM#{}#{}", state.provider, state.key);
        let ends = state.expires_at().unwrap();
        self.put(vec![
            ("pk", s(&pk)),
            ("sk", s("STATE")),
            ("version", n(3)),
            ("state", json(state)),
            ("provider", s(state.provider.as_str())),
            ("esim_key", s(&state.key)),
            ("expires_at", s(ends.to_rfc3339())),
            ("updated_at", s(state.updated_at.to_rfc3339())),
            ("gsi1pk", s(format!("ESIM#{}", day(state.updated_at)))),
            ("gsi1sk", s(format!("{}#{pk}", state.updated_at.to_rfc3339()))),
            ("gsi2pk", s(format!("EXPIRY#{}", hour(ends)))),
            ("gsi2sk", s(format!("{}#{pk}", ends.to_rfc3339()))),
        ])
        .await;
    }

    /// A sent alert: JSON text with its type and level beside it, the unsharded day bucket.
    async fn alert(&self, alert: &Alert) {
        let pk = format!("ALERT#{}", alert.alert_id);
        let at = alert.raised_at;
        self.put(vec![
            ("pk", s(&pk)),
            ("sk", s("ALERT")),
            ("status", s("SENT")),
            ("provider", s(alert.provider.as_str())),
            ("alert_type", s(alert.alert_type.as_str())),
            ("level", s(&alert.level)),
            ("alert", json(alert)),
            ("sent_at", s(at.to_rfc3339())),
            ("receipt", s("msg-1")),
            ("gsi1pk", s(format!("ALERT#{}", day(at)))),
            ("gsi1sk", s(format!("{}#{pk}", at.to_rfc3339()))),
        ])
        .await;
    }

    /// A customer SMS held for quiet hours: JSON text, the unsharded outbox bucket of its due hour.
    async fn held_message(&self, alert: &Alert, due: DateTime<Utc>) {
        let record = serde_json::json!({
            "alert_id": alert.alert_id, "channel": "sms", "to": "+447700900123", "status": "QUEUED",
            "due_at": due, "raised_at": alert.raised_at,
        });
        self.put(vec![
            ("pk", s(format!("ALERT#{}", alert.alert_id))),
            ("sk", s("NOTIFY#sms")),
            ("status", s("QUEUED")),
            ("notification", json(&record)),
            ("gsi1pk", s(format!("OUTBOX#{}", hour(due)))),
            (
                "gsi1sk",
                s(format!("{}#{}#sms", due.format("%Y-%m-%dT%H:%M:%SZ"), alert.alert_id)),
            ),
        ])
        .await;
    }

    /// A conflict as recorded before counting: one item per delivery.
    async fn conflict(&self, event: &Event) {
        let pk = format!("CONFLICT#{}#{}", event.provider, event.dedupe_key);
        let at = event.received_at;
        self.put(vec![
            ("pk", s(&pk)),
            ("sk", s(format!("{}#{}", at.to_rfc3339(), event.payload_sha256))),
            ("provider", s(event.provider.as_str())),
            ("payload_sha256", s(event.payload_sha256.as_str())),
            ("event", json(event)),
            ("gsi1pk", s(format!("CONFLICT#{}", day(at)))),
            ("gsi1sk", s(format!("{}#{pk}", at.to_rfc3339()))),
            ("ttl", n((at + Duration::days(400)).timestamp())),
        ])
        .await;
    }

    /// A partner from before scopes.
    async fn partner(&self, id: &str) {
        self.put(vec![
            ("pk", s(format!("PARTNER#{id}"))),
            ("sk", s("PARTNER")),
            ("partner", s(id)),
            ("name", s("Old Co")),
            ("key_hashes", AttributeValue::L(vec![s("ab".repeat(32))])),
            ("created_at", s("2026-11-01T00:00:00+00:00")),
            ("signing_keys", s("[]")),
            ("gsi1pk", s("PARTNER")),
            ("gsi1sk", s(id)),
        ])
        .await;
    }

    /// A partner's attempt and a delivery given up on, in the one partition each of before sharding.
    async fn partner_logs(&self, attempt: &AttemptRecord, failed: &FailedDelivery) {
        let at = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let sk = format!("{}#{}#{:03}", at(attempt.at), attempt.notification_id, attempt.attempt);
        let ttl = n((attempt.at + Duration::days(30)).timestamp());
        let partner = attempt.partner.as_str();
        self.put(vec![
            ("pk", s(format!("ATTEMPTS#{partner}"))),
            ("sk", s(sk)),
            ("attempt", json(attempt)),
            ("ttl", ttl.clone()),
        ])
        .await;
        let sk = format!("{}#{}", at(failed.failed_at), failed.job.notification_id);
        self.put(vec![
            ("pk", s(format!("FAILED#{partner}"))),
            ("sk", s(sk)),
            ("failed", json(failed)),
            ("ttl", ttl),
        ])
        .await;
    }
}

async fn scan(rig: &MotoRig) -> Vec<Item> {
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let page = rig
            .store
            .client()
            .scan()
            .table_name(rig.store.table())
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .unwrap();
        items.extend(page.items().iter().cloned());
        match page.last_evaluated_key {
            Some(last) if !last.is_empty() => start = Some(last),
            _ => break,
        }
    }
    items.sort_by_key(|i| (i["pk"].as_s().unwrap().clone(), i["sk"].as_s().unwrap().clone()));
    items
}

fn counts(report: &Report, layout: &str) -> (u64, u64, u64, u64) {
    let Counts {
        scanned,
        rewritten,
        current,
        left,
    } = report.layouts[layout];
    (scanned, rewritten, current, left)
}

fn attempt(partner: &str, at: DateTime<Utc>) -> AttemptRecord {
    AttemptRecord {
        partner: PartnerId::parse(partner).unwrap(),
        url: "https://old.example/hooks".into(),
        notification_id: "ntf_old".into(),
        notification_type: 1,
        attempt: 2,
        at,
        status: Some(500),
        error: None,
        latency_ms: 9,
        verdict: Verdict::RetryIn(Duration::seconds(30)),
        owner: None,
    }
}

fn failed(partner: &str, at: DateTime<Utc>) -> FailedDelivery {
    FailedDelivery {
        job: CallbackJob {
            notification_id: "ntf_gone".into(),
            notification_type: 1,
            partner: PartnerId::parse(partner).unwrap(),
            url: "https://old.example/hooks".into(),
            body: "{\"n\":1}".into(),
            owner: None,
        },
        failed_at: at,
        attempts: 8,
    }
}

/// Everything the current readers say about the rig's table: listings, the sweep's and the outbox's reads,
/// the partner and its logs, as comparable text.
async fn readings(rig: &MotoRig, esim: &str, conflicting: &Event) -> Vec<String> {
    let now = rig.clock.now();
    let window = rig.window();
    let store = &rig.store;
    let mut read = Vec::new();
    for d in store.list_deliveries(&window).await.unwrap() {
        read.push(format!(
            "delivery {} {:?} {}",
            d.event.dedupe_key,
            d.status,
            d.event.raw_body()
        ));
    }
    let delivered = store
        .delivery(conflicting.provider, &conflicting.dedupe_key)
        .await
        .unwrap()
        .unwrap();
    read.push(format!("by key {}", serde_json::to_string(&delivered.event).unwrap()));
    for state in store.list_states(&window).await.unwrap() {
        read.push(format!("state {}", serde_json::to_string(&state).unwrap()));
    }
    let state = store.esim_state(shared::model::ProviderId::Airalo, esim).await.unwrap();
    read.push(format!("esim {}", serde_json::to_string(&state).unwrap()));
    for state in store.expiring_states(now, now + Duration::hours(24)).await.unwrap() {
        read.push(format!("expiring {} {:?}", state.key, state.expires_at()));
    }
    for alert in store.list_alerts(&window).await.unwrap() {
        let told: Vec<_> = alert
            .notifications
            .iter()
            .map(|m| (m.channel, m.status, m.due_at))
            .collect();
        read.push(format!("alert {} {:?} {told:?}", alert.alert.alert_id, alert.status));
    }
    for held in store.due_notifications(now).await.unwrap() {
        read.push(format!("due {} {:?}", held.alert_id, held.due_at));
    }
    // Per payload: how often and when it was seen, and its first delivery (records from before counting are
    // one per sighting; migrate folds them into one).
    let mut conflicts = std::collections::BTreeMap::new();
    for c in store.list_conflicts(&window).await.unwrap() {
        let seen = conflicts.entry(c.event.payload_sha256.to_string()).or_insert((
            0,
            c.first_seen_at,
            c.last_seen_at,
            c.event.clone(),
        ));
        seen.0 += c.count;
        seen.1 = seen.1.min(c.first_seen_at);
        seen.2 = seen.2.max(c.last_seen_at);
        if c.event.received_at < seen.3.received_at {
            seen.3 = c.event;
        }
    }
    for (sha, (count, first, last, event)) in conflicts {
        let event = serde_json::to_string(&event).unwrap();
        read.push(format!("conflict {sha} seen {count} {first} {last} first {event}"));
    }
    let registry = DynamoRegistry::new(store.client().clone(), store.table());
    for partner in registry.partners().await.unwrap() {
        read.push(format!("partner {} {:?}", partner.id, partner.scope));
    }
    let log = DynamoAttemptLog::new(store.client().clone(), store.table());
    let old = PartnerId::parse("old-co").unwrap();
    for a in log.attempts(&old, now - Duration::days(1), now, 10).await.unwrap() {
        read.push(format!("attempt {} {}", a.notification_id, a.attempt));
    }
    for f in log.parked(&old, now - Duration::days(1), 10).await.unwrap() {
        read.push(format!("parked {}", f.job.notification_id));
    }
    read
}

#[tokio::test]
async fn migrate_rewrites_every_older_item_once_and_they_read_the_same() {
    let rig = MotoRig::new("migrate", START).await;
    let now = rig.clock.now();
    let old = Old { rig: &rig };
    let mut event = airalo_reading("8944000000000000001", now - Duration::hours(2));
    event.dedupe_key = DedupeKey::provider_id("old-reading");
    event.payload_sha256 = PayloadSha256::of(b"old reading");
    event.validity = Some(shared::model::Validity {
        expires_at: Some(now + Duration::hours(5)),
        ..Default::default()
    });
    let state = shared::state::merge(None, &event).unwrap().state;
    let alert = evaluate(&event, Some(&state), &AlertRules::default(), event.received_at)
        .into_iter()
        .next()
        .expect("10 % left raises an alert");
    old.delivery(&event).await;
    old.state(&state).await;
    old.alert(&alert).await;
    old.held_message(&alert, now - Duration::minutes(30)).await;
    let mut first = event.clone();
    first.payload_sha256 = PayloadSha256::of(b"another body");
    let mut again = first.clone();
    again.received_at = first.received_at + Duration::minutes(10);
    old.conflict(&first).await;
    old.conflict(&again).await;
    old.partner("old-co").await;
    old.partner_logs(
        &attempt("old-co", now - Duration::hours(1)),
        &failed("old-co", now - Duration::hours(1)),
    )
    .await;

    // Beside them, items of the current layout, written by the current store.
    let current = airalo_reading("8944000000000000002", now - Duration::hours(1));
    let lease = Lease {
        attempt: "a-1".into(),
        until: now + Duration::seconds(30),
    };
    rig.store.begin_delivery(&current, &lease, now).await.unwrap();
    rig.store.finish_delivery(&current, &lease, now).await.unwrap();
    let fresh = shared::state::merge(None, &current).unwrap().state;
    assert!(rig.store.save_state(&fresh, None).await.unwrap());
    let registry = DynamoRegistry::new(rig.store.client().clone(), rig.store.table());
    let mut partner = registry
        .partner(&PartnerId::parse("old-co").unwrap())
        .await
        .unwrap()
        .unwrap();
    partner.id = PartnerId::parse("new-co").unwrap();
    partner.scope = Scope::Own;
    registry.save_partner(&partner).await.unwrap();
    let endpoint = Endpoint {
        url: "https://old.example/hooks".into(),
        partner: PartnerId::parse("old-co").unwrap(),
        subscription_arn: "arn:aws:sns:us-east-1:123456789012:alerts:0f6b".into(),
        failing_since: None,
        disabled_at: None,
        rate_limit: None,
    };
    registry.save_endpoint(&endpoint).await.unwrap();

    let before = readings(&rig, "8944000000000000001", &event).await;
    assert!(
        before.iter().any(|r| r.starts_with("due ")),
        "the held message is due: {before:#?}"
    );
    assert!(before.iter().any(|r| r.starts_with("expiring ")), "{before:#?}");
    assert!(before.iter().any(|r| r.starts_with("parked ")), "{before:#?}");
    assert!(before.iter().any(|r| r == "partner old-co All"), "{before:#?}");
    let client = rig.store.client();
    let table = rig.store.table();
    let items = scan(&rig).await;

    let dry = migrate_table(client, table, true).await.unwrap();
    assert_eq!(scan(&rig).await, items, "a dry run writes nothing");
    let report = migrate_table(client, table, false).await.unwrap();
    for report in [&dry, &report] {
        assert_eq!(counts(report, "compact-documents"), (8, 6, 2, 0), "{report:#?}");
        assert_eq!(counts(report, "unsharded-listing"), (6, 5, 1, 0), "{report:#?}");
        assert_eq!(counts(report, "unsharded-expiry"), (2, 1, 1, 0), "{report:#?}");
        assert_eq!(counts(report, "unsharded-partner-logs"), (2, 2, 0, 0), "{report:#?}");
        assert_eq!(counts(report, "conflicts-before-counting"), (2, 2, 0, 0), "{report:#?}");
        assert_eq!(counts(report, "partners-before-scopes"), (2, 1, 1, 0), "{report:#?}");
        assert_eq!(counts(report, "sns-subscriptions"), (1, 0, 0, 1), "{report:#?}");
        assert_eq!((report.rewritten(), report.left_to_rewrite()), (9, 0), "each item once");
        assert!(report.unreadable.is_empty() && report.notes.is_empty(), "{report:#?}");
    }
    let mut printed = Vec::new();
    report.render(&mut printed).unwrap();
    let printed = String::from_utf8(printed).unwrap();
    assert!(printed.contains("a second run changes nothing"), "{printed}");
    assert!(
        printed.contains("sns-subscriptions: not rewritten by a batch"),
        "{printed}"
    );

    assert_eq!(
        readings(&rig, "8944000000000000001", &event).await,
        before,
        "it reads as before"
    );
    let after = scan(&rig).await;
    for item in &after {
        let (pk, sk) = (item["pk"].as_s().unwrap(), item["sk"].as_s().unwrap());
        for old in [
            "event",
            "alert",
            "state",
            "notification",
            "kind",
            "received_at",
            "level",
            "updated_at",
        ] {
            assert!(!item.contains_key(old), "{pk} / {sk} still has `{old}`");
        }
        for entry in ["gsi1pk", "gsi2pk"] {
            if let Some(bucket) = item.get(entry) {
                let bucket = bucket.as_s().unwrap();
                assert!(
                    bucket == "PARTNER" || bucket.split('#').count() == 3,
                    "{pk} / {sk}: {bucket}"
                );
            }
        }
        assert!(
            pk.split('#').count() == 3 || !pk.starts_with("ATTEMPTS#") && !pk.starts_with("FAILED#"),
            "{pk}"
        );
        if pk.starts_with("CONFLICT#") {
            assert_eq!(sk, first.payload_sha256.as_str(), "one counted record per payload");
            assert_eq!(item["count"].as_n().unwrap(), "2");
            assert_eq!(item["first_seen_at"].as_s().unwrap(), &first.received_at.to_rfc3339());
            assert_eq!(item["last_seen_at"].as_s().unwrap(), &again.received_at.to_rfc3339());
        }
        if sk == "STATE" && pk.ends_with("0001") {
            assert_eq!(item["version"].as_n().unwrap(), "3", "the state keeps its version");
        }
        if sk == "PARTNER" {
            assert!(item.contains_key("scope"), "{pk}");
        }
        if ["EVENT", "ALERT", "STATE"].contains(&sk.as_str()) || sk.starts_with("NOTIFY#") {
            assert!(item["doc"].is_b(), "{pk} / {sk}");
        }
    }
    let listed = rig.store.list_conflicts(&rig.window()).await.unwrap();
    assert_eq!(
        listed
            .iter()
            .map(|c| (c.count, c.first_seen_at, c.last_seen_at))
            .collect::<Vec<_>>(),
        [(2, first.received_at, again.received_at)]
    );

    let second = migrate_table(client, table, false).await.unwrap();
    assert_eq!(second.rewritten(), 0, "{second:#?}");
    assert_eq!(second.left_to_rewrite(), 0);
    assert_eq!(counts(&second, "compact-documents"), (7, 0, 7, 0));
    let mut printed = Vec::new();
    second.render(&mut printed).unwrap();
    assert!(String::from_utf8(printed).unwrap().contains("nothing to rewrite"));
    assert_eq!(scan(&rig).await, after, "a second run writes nothing");
}

/// An item the running system writes after migrate read it keeps that write: migrate leaves it, counted, and
/// the next run finds it (or what is left of its older layout) and finishes.
#[tokio::test]
async fn a_write_meanwhile_is_never_overwritten_by_the_copy_migrate_read() {
    let rig = MotoRig::new("migrate-race", START).await;
    let now = rig.clock.now();
    let old = Old { rig: &rig };
    let mut event = airalo_reading("8944000000000000003", now - Duration::hours(2));
    event.validity = Some(shared::model::Validity {
        expires_at: Some(now + Duration::hours(5)),
        ..Default::default()
    });
    let state = shared::state::merge(None, &event).unwrap().state;
    old.delivery(&event).await;
    old.state(&state).await;
    old.partner("old-co").await;
    let gone = failed("old-co", now - Duration::hours(1));
    old.partner_logs(&attempt("old-co", now - Duration::hours(1)), &gone)
        .await;
    let read = scan(&rig).await;

    // The running system, after that read: a forced replay rewrites the delivery's document, a delivery saves
    // the state (version 4), the operator narrows the partner's scope, the partner recovers its delivery.
    let mut replayed = event.clone();
    replayed.flags.push("replayed".into());
    assert!(rig.store.rewrite_event(&replayed).await.unwrap());
    let loaded = rig.store.load_state(event.provider, &state.key).await.unwrap().unwrap();
    assert!(rig.store.save_state(&loaded.value, Some(3)).await.unwrap());
    let registry = DynamoRegistry::new(rig.store.client().clone(), rig.store.table());
    let id = PartnerId::parse("old-co").unwrap();
    let mut partner = registry.partner(&id).await.unwrap().unwrap();
    partner.scope = Scope::Own;
    registry.save_partner(&partner).await.unwrap();
    let log = DynamoAttemptLog::new(rig.store.client().clone(), rig.store.table());
    log.unpark(&gone).await.unwrap();

    let mut stale = Report::new(false);
    migrate_items(rig.store.client(), rig.store.table(), &read, &mut stale)
        .await
        .unwrap();
    assert_eq!(counts(&stale, "compact-documents"), (2, 0, 0, 2), "{stale:#?}");
    assert_eq!(counts(&stale, "unsharded-expiry"), (1, 0, 0, 1), "{stale:#?}");
    assert_eq!(counts(&stale, "partners-before-scopes"), (1, 0, 0, 1), "{stale:#?}");
    assert_eq!(
        counts(&stale, "unsharded-partner-logs"),
        (2, 1, 0, 1),
        "the attempt moves, the recovered one does not"
    );
    assert_eq!(counts(&stale, "unsharded-listing"), (1, 0, 0, 1), "{stale:#?}");
    assert_eq!(
        stale.left_to_rewrite(),
        4,
        "the delivery, the state, the partner, the recovered delivery"
    );

    let stored = rig
        .store
        .delivery(event.provider, &event.dedupe_key)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.event.flags, replayed.flags, "the replay's document stands");
    let saved = rig.store.load_state(event.provider, &state.key).await.unwrap().unwrap();
    assert_eq!(saved.version, 4, "the save stands");
    assert_eq!(registry.partner(&id).await.unwrap().unwrap().scope, Scope::Own);
    assert!(
        log.parked(&id, now - Duration::days(1), 10).await.unwrap().is_empty(),
        "not recovered twice"
    );

    let next = migrate_table(rig.store.client(), rig.store.table(), false)
        .await
        .unwrap();
    assert_eq!(next.left_to_rewrite(), 0, "{next:#?}");
    assert_eq!(
        counts(&next, "unsharded-listing"),
        (1, 1, 0, 0),
        "the replay kept the old listing entry"
    );
    // The replay dropped the text, not the copies beside it; the save wrote the state whole.
    assert_eq!(counts(&next, "compact-documents"), (2, 1, 1, 0), "{next:#?}");
    assert_eq!(counts(&next, "unsharded-expiry"), (1, 0, 1, 0));
    assert_eq!(
        counts(&next, "unsharded-partner-logs"),
        (1, 0, 1, 0),
        "the one moved; the recovered one gone"
    );
    assert_eq!(counts(&next, "partners-before-scopes"), (1, 0, 1, 0));
    let listed = rig.store.list_deliveries(&rig.window()).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].event.flags, replayed.flags);
}
