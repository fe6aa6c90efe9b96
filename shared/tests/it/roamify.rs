//! Roamify end to end through the real `Service`, over in-memory adapters.

use crate::common;

use chrono::Duration;
use common::*;
use serde_json::{json, Map, Value};
use shared::clock::Clock;
use shared::model::{EventKind, Lifecycle, ProviderId};
use shared::store::{ListQuery, StoreQuery};

/// Fixture times are around 1700000000 (2023-11-14); "now" is a little later.
const NOW: &str = "2023-11-15T00:00:00Z";

fn reply_json(r: &shared::reply::Reply) -> Value {
    serde_json::from_str(&r.body).unwrap_or(Value::Null)
}

fn secret() -> String {
    secrets()["roamify"]["secret"].as_str().unwrap().to_string()
}

/// A fixture with `body` in place of its own, signed with the current secret.
fn signed(mut f: Fixture, body: &Value) -> Fixture {
    f.request.body = body.to_string();
    f.request.headers.insert(
        "x-roamify-signature".into(),
        hmac_sha256_hex(&secret(), f.request.body.as_bytes()),
    );
    f
}

fn roamify_fixture(name: &str) -> Fixture {
    fixture("roamify", name)
}

/// The same delivery in the other layout: flat fields moved under `data`, or nested ones lifted out.
fn other_layout(body: &str) -> Value {
    let mut root: Map<String, Value> = serde_json::from_str(body).unwrap();
    const ENVELOPE: [&str; 3] = ["event_id", "event_category", "event_type"];
    match root.remove("data") {
        Some(Value::Object(data)) => root.extend(data),
        _ => {
            let data: Map<String, Value> = root
                .iter()
                .filter(|(k, _)| !ENVELOPE.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            root.retain(|k, _| ENVELOPE.contains(&k.as_str()));
            root.insert("data".into(), Value::Object(data));
        }
    }
    Value::Object(root)
}

async fn run_fixtures(h: &Harness, all: &[Fixture]) {
    for f in all {
        post_twice(h, f).await;
        if let Some(expected) = &f.expect.status_after {
            let state = h.esim_state(ProviderId::Roamify, "8991234567890123456").await;
            assert_eq!(
                &state.status.unwrap().value.provider_status,
                expected,
                "{} status after",
                f.file
            );
        }
    }
}

#[tokio::test]
async fn every_fixture_in_both_layouts_is_stored_once_and_alerts_once() {
    let schemas = Schemas::load();
    let given = fixtures("roamify");
    let converted: Vec<Fixture> = given
        .iter()
        .map(|f| {
            if f.expect.status == 200 {
                signed(f.clone(), &other_layout(&f.request.body))
            } else {
                f.clone()
            }
        })
        .collect();
    for (layout, all) in [("as given", given), ("other layout", converted)] {
        let h = Harness::new(fixture_provider(ProviderId::Roamify), NOW, quick_settings());
        run_fixtures(&h, &all).await;
        let stored = assert_stored_once_and_alerted(&h, &all, &schemas).await;
        let low = h.published_alert("low_data");
        assert_eq!(low.level, "10%", "{layout}: 102 of 1024 MB left");
        assert_eq!(low.usage.as_ref().unwrap().remaining_bytes, Some(102 * 1024 * 1024));
        let refund = stored.iter().find(|d| d.event.kind == EventKind::Refund).unwrap();
        assert_eq!(
            refund.event.dedupe_key.as_str(),
            "rfd_123_refunded",
            "refunds dedupe on event_id"
        );
    }
}

#[tokio::test]
async fn an_older_activated_after_expired_does_not_regress() {
    let h = Harness::new(fixture_provider(ProviderId::Roamify), NOW, quick_settings());
    h.accept("roamify", &["status-nested-expired", "status-flat"]).await;
    let state = h.esim_state(ProviderId::Roamify, "8991234567890123456").await;
    assert_eq!(state.status.unwrap().value.lifecycle, Lifecycle::Expired);
}

#[tokio::test]
async fn signatures_are_mandatory_and_rotation_works() {
    let h = Harness::new(fixture_provider(ProviderId::Roamify), NOW, quick_settings());
    let f = roamify_fixture("wrong-secret");
    assert_eq!(h.service.handle(&delivery(&f, h.clock.now())).await.status, 401);
    let mut unsigned = roamify_fixture("status-flat");
    unsigned.request.headers.remove("x-roamify-signature");
    assert_eq!(h.service.handle(&delivery(&unsigned, h.clock.now())).await.status, 401);
    let mut rotated = roamify_fixture("status-flat");
    let key = secrets()["roamify"]["secret_rotated"].as_str().unwrap().to_string();
    rotated.request.headers.insert(
        "x-roamify-signature".into(),
        hmac_sha256_hex(&key, rotated.request.body.as_bytes()),
    );
    assert_eq!(h.service.handle(&delivery(&rotated, h.clock.now())).await.status, 200);
    assert_eq!(h.store.list_deliveries(&ListQuery::default()).await.unwrap().len(), 1);
}

#[tokio::test]
async fn usage_amounts_are_found_defensively_or_the_event_is_kept_without_alert() {
    let h = Harness::new(fixture_provider(ProviderId::Roamify), NOW, quick_settings());
    let base = roamify_fixture("usage-nested");
    let usage = |id: &str, extra: Value| {
        let mut data = json!({"timestamp": 1700003600, "iccid": format!("899100000000000{id}"), "esim_id": id, "end": 1900000000,
                              "package_id": "p", "data_units": "GB"});
        data.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        json!({"event_category": "esim", "event_type": "usage", "data": data})
    };
    let cases = [
        ("1", json!({"total_data": 2, "remaining_data": 0.1}), Some("10%")),
        ("2", json!({"data_limit": 10, "data_used": 8.5}), Some("20%")),
        ("3", json!({"usage_percentage": 95}), Some("10%")),
        ("4", json!({"something": "else"}), None),
        // Found by fuzzing: amounts beyond u64 saturate, and their sum must not overflow.
        ("5", json!({"data_used": 1e300, "data_remaining": 1e300}), None),
    ];
    for (id, extra, level) in cases {
        let before = h.sink.published().len();
        let reply = h
            .service
            .handle(&delivery(
                &signed(base.clone(), &usage(id, extra.clone())),
                h.clock.now(),
            ))
            .await;
        assert_eq!(reply.status, 200, "{extra}");
        let published = h.sink.published();
        assert_eq!(published.get(before).map(|a| a.level.as_str()), level, "{extra}");
    }
    let stored = h.store.list_deliveries(&ListQuery::default()).await.unwrap();
    let missing = stored.iter().find(|d| d.event.raw.get().contains("something")).unwrap();
    assert!(missing.event.flags.contains(&"usage_amounts_missing".to_string()));
}

#[tokio::test]
async fn unknown_categories_are_stored_unrecognized() {
    let h = Harness::new(fixture_provider(ProviderId::Roamify), NOW, quick_settings());
    let body = json!({"event_category": "loyalty", "event_type": "points", "timestamp": 1700000000});
    let reply = h
        .service
        .handle(&delivery(&signed(roamify_fixture("status-flat"), &body), h.clock.now()))
        .await;
    assert_eq!(
        (reply.status, reply_json(&reply)["kind"].clone()),
        (200, json!("unrecognized"))
    );
}

#[tokio::test]
async fn end_of_validity_uses_the_shared_expiry_sweep() {
    let h = Harness::new(fixture_provider(ProviderId::Roamify), NOW, quick_settings());
    let ends = h.clock.now() + Duration::days(3);
    let body = json!({"event_category": "esim", "event_type": "status",
        "data": {"timestamp": h.clock.now().timestamp(), "iccid": "8991000000000000077", "esim_id": "e-77", "start": 1699996800,
                 "end": ends.timestamp(), "status": "ACTIVATED"}});
    assert_eq!(
        h.service
            .handle(&delivery(&signed(roamify_fixture("status-flat"), &body), h.clock.now()))
            .await
            .status,
        200
    );
    assert_eq!(h.pipeline.sweep_expiring().await.unwrap().published, 0);
    h.clock.advance(Duration::hours(49));
    assert_eq!(h.pipeline.sweep_expiring().await.unwrap().published, 1);
    assert_eq!(h.pipeline.sweep_expiring().await.unwrap().published, 0);
    let alerts = h.sink.published();
    assert_eq!(
        (alerts.len(), alerts[0].level.as_str(), alerts[0].expires_at),
        (1, "24h", Some(ends))
    );
}
