//! eSIM Go end to end through the real `Service`, over in-memory adapters.

use crate::common;

use bytes::Bytes;
use chrono::Duration;
use common::*;
use lambda_http::http::HeaderValue;
use serde_json::{json, Value};
use shared::clock::Clock;
use shared::model::{EventKind, Lifecycle, ProviderId};
use shared::store::{ListQuery, StoreQuery};

/// A week before the fixtures' bundles end (2030-11-27 and 2030-12-01): no expiry alert at delivery time.
const NOW: &str = "2030-11-20T12:00:00Z";

fn reply_json(r: &shared::reply::Reply) -> Value {
    serde_json::from_str(&r.body).unwrap_or(Value::Null)
}

fn esimgo_fixture(name: &str) -> Fixture {
    fixture("esimgo", name)
}

/// A delivery of `body` signed as eSIM Go V3 does, with the current key.
fn signed(body: &str, now: chrono::DateTime<chrono::Utc>) -> shared::ingress::Delivery {
    let mut f = esimgo_fixture("utilisation-v3-hex");
    f.request.body = body.to_string();
    let key = secrets()["esimgo"]["api_key"].as_str().unwrap().to_string();
    f.request
        .headers
        .insert("x-signature-sha256".into(), hmac_sha256_hex(&key, body.as_bytes()));
    delivery(&f, now)
}

#[tokio::test]
async fn every_fixture_twice_is_verified_stored_once_and_alerts_once() {
    let h = Harness::new(fixture_provider(ProviderId::EsimGo), NOW, quick_settings());
    let schemas = Schemas::load();
    let all = fixtures("esimgo");
    for f in &all {
        post_twice(&h, f).await;
    }
    let stored = assert_stored_once_and_alerted(&h, &all, &schemas).await;
    for d in &stored {
        assert!(
            d.event.dedupe_key.as_str().starts_with("sha256:"),
            "eSIM Go has no event id"
        );
    }
    let low = h.published_alert("low_data");
    assert_eq!(
        (low.level.as_str(), low.alert_id.as_str()),
        ("20%", "esimgo#8944538532008160222#215009266#low_data#20%")
    );
}

#[tokio::test]
async fn numeric_iccid_is_stored_flagged_and_never_used_as_an_identity() {
    let h = Harness::new(fixture_provider(ProviderId::EsimGo), NOW, quick_settings());
    let f = esimgo_fixture("first-use-numeric-iccid");
    assert_eq!(h.service.handle(&delivery(&f, h.clock.now())).await.status, 200);
    let stored = h.store.list_deliveries(&ListQuery::default()).await.unwrap();
    let event = &stored[0].event;
    assert!(event.flags.contains(&"iccid_precision_lost".to_string()));
    assert!(event.esim.is_none());
    assert!(
        event.raw.get().contains("8944538532008160000"),
        "the digits as sent are kept in the raw payload"
    );
    assert!(
        h.store.list_states(&ListQuery::default()).await.unwrap().is_empty(),
        "no state keyed by a doubtful ICCID"
    );
}

#[tokio::test]
async fn hex_and_base64_signatures_pass_and_any_altered_byte_fails() {
    let h = Harness::new(fixture_provider(ProviderId::EsimGo), NOW, quick_settings());
    for name in ["utilisation-v3-base64", "utilisation-v3-hex"] {
        assert_eq!(
            h.service
                .handle(&delivery(&esimgo_fixture(name), h.clock.now()))
                .await
                .status,
            200,
            "{name}"
        );
    }
    let good = esimgo_fixture("utilisation-v3-base64");
    let body = good.request.body.as_bytes();
    for i in [0, body.len() / 2, body.len() - 1] {
        let mut flipped = delivery(&good, h.clock.now());
        let mut bytes = body.to_vec();
        bytes[i] ^= 0x01;
        flipped.body = Bytes::from(bytes);
        assert_eq!(h.service.handle(&flipped).await.status, 401, "byte {i} flipped");
    }
    for bad in ["", "zz", "not-base64!!", &"a".repeat(63), &"A".repeat(88)] {
        let mut d = delivery(&good, h.clock.now());
        d.headers
            .insert("x-signature-sha256", HeaderValue::from_str(bad).unwrap());
        assert_eq!(h.service.handle(&d).await.status, 401, "header {bad:?}");
    }
    assert_eq!(
        h.store.list_deliveries(&ListQuery::default()).await.unwrap().len(),
        2,
        "nothing unauthenticated stored"
    );
}

#[tokio::test]
async fn rotated_key_needs_both_keys_configured() {
    let s = secrets();
    let only_current = shared::auth::KeyRing::parse(s["esimgo"]["api_key"].as_str().unwrap()).unwrap();
    let provider = std::sync::Arc::new(shared::providers::esimgo::EsimGo::new(only_current, None));
    let h = Harness::new(provider, NOW, quick_settings());
    assert_eq!(
        h.service
            .handle(&delivery(&esimgo_fixture("utilisation-rotated-key"), h.clock.now()))
            .await
            .status,
        401
    );
    let both = Harness::new(fixture_provider(ProviderId::EsimGo), NOW, quick_settings());
    assert_eq!(
        both.service
            .handle(&delivery(&esimgo_fixture("utilisation-rotated-key"), both.clock.now()))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn unsigned_v2_needs_configuration_and_the_url_token() {
    let f = esimgo_fixture("utilisation-v2-unsigned");
    let refused = Harness::new(fixture_provider(ProviderId::EsimGo), NOW, quick_settings());
    assert_eq!(
        refused.service.handle(&delivery(&f, refused.clock.now())).await.status,
        401
    );

    let h = Harness::new(esimgo_with_v2_token("v2-secret-token"), NOW, quick_settings());
    assert_eq!(
        h.service.handle(&delivery(&f, h.clock.now())).await.status,
        401,
        "no token"
    );
    let mut wrong = delivery(&f, h.clock.now());
    wrong.query = "token=v2-secret-tokeN".into();
    assert_eq!(h.service.handle(&wrong).await.status, 401);
    let mut right = delivery(&f, h.clock.now());
    right.query = "token=v2-secret-token".into();
    let reply = h.service.handle(&right).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        h.sink.published()[0].level,
        "10%",
        "V2 utilisation at 9% left raises the 10% level"
    );
    // A present but wrong signature never falls back to the token.
    let mut forged = delivery(&f, h.clock.now());
    forged.query = "token=v2-secret-token".into();
    forged
        .headers
        .insert("x-signature-sha256", HeaderValue::from_static("00"));
    assert_eq!(h.service.handle(&forged).await.status, 401);
}

#[tokio::test]
async fn legacy_and_unknown_alert_types_are_stored_unrecognized() {
    let h = Harness::new(fixture_provider(ProviderId::EsimGo), NOW, quick_settings());
    for body in [
        json!({"iccid": "8944538532008160222", "alertType": "usage", "bundle": {"name": "B", "initialQuantity": 1000, "remainingQuantity": 1}}),
        json!({"iccid": "8944538532008160222", "alertType": "SomethingNew"}),
        json!({"event": "esim.teleported", "iccid": "8944538532008160222"}),
    ] {
        let reply = h.service.handle(&signed(&body.to_string(), h.clock.now())).await;
        assert_eq!(
            (reply.status, reply_json(&reply)["kind"].clone()),
            (200, json!("unrecognized")),
            "{body}"
        );
    }
    assert!(h.sink.published().is_empty(), "the legacy usage body raises nothing");
}

#[tokio::test]
async fn unlimited_bundles_never_raise_low_data() {
    let h = Harness::new(fixture_provider(ProviderId::EsimGo), NOW, quick_settings());
    let body = json!({"iccid": "8944538532008160222", "alertType": "Utilisation",
        "bundle": {"id": "9", "name": "unl", "initialQuantity": 1000000000, "remainingQuantity": 1000, "unlimited": true,
                   "startTime": "2030-11-20T10:47:00Z", "endTime": "2030-11-27T10:47:00Z"}});
    assert_eq!(
        h.service.handle(&signed(&body.to_string(), h.clock.now())).await.status,
        200
    );
    assert!(h.sink.published().is_empty());
}

#[tokio::test]
async fn end_ten_hours_away_raises_one_expiry_alert_at_delivery() {
    let h = Harness::new(
        fixture_provider(ProviderId::EsimGo),
        "2030-11-27T00:47:00Z",
        quick_settings(),
    );
    let f = esimgo_fixture("utilisation-v3-hex"); // 50% left, ends 2030-11-27T10:47:00Z
    for _ in 0..2 {
        assert_eq!(h.service.handle(&delivery(&f, h.clock.now())).await.status, 200);
    }
    let alerts = h.sink.published();
    assert_eq!(alerts.len(), 1);
    assert_eq!(
        (alerts[0].alert_type.as_str(), alerts[0].level.as_str()),
        ("expiry", "24h")
    );
    // The sweep sees the same bundle and does not alert again.
    let sweep = h.pipeline.sweep_expiring().await.unwrap();
    assert_eq!((sweep.expiring, sweep.published, sweep.already_sent), (1, 0, 1));
}

#[tokio::test]
async fn a_bundle_ending_in_three_days_alerts_only_when_the_sweep_runs_inside_the_window() {
    let h = Harness::new(
        fixture_provider(ProviderId::EsimGo),
        "2030-11-24T10:47:00Z",
        quick_settings(),
    );
    let f = esimgo_fixture("utilisation-v3-hex");
    assert_eq!(h.service.handle(&delivery(&f, h.clock.now())).await.status, 200);
    assert!(h.sink.published().is_empty());
    assert_eq!(h.pipeline.sweep_expiring().await.unwrap().published, 0, "3 days out");
    h.clock.advance(Duration::hours(47));
    assert_eq!(h.pipeline.sweep_expiring().await.unwrap().published, 0, "25 hours out");
    h.clock.advance(Duration::hours(2));
    let report = h.pipeline.sweep_expiring().await.unwrap();
    assert_eq!((report.expiring, report.published), (1, 1), "23 hours out");
    h.clock.advance(Duration::hours(1));
    assert_eq!(
        h.pipeline.sweep_expiring().await.unwrap().published,
        0,
        "once per bundle"
    );
    let alerts = h.sink.published();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].expires_at, Some(instant("2030-11-27T10:47:00Z")));
    assert_eq!(
        alerts[0].bundle.as_ref().unwrap().name.as_deref(),
        Some("esim_1GB_7D_GB_V2")
    );
}

#[tokio::test]
async fn deleted_event_sets_the_lifecycle_and_country_change_is_located() {
    let h = Harness::new(fixture_provider(ProviderId::EsimGo), NOW, quick_settings());
    h.accept("esimgo", &["esim-deleted", "country-change"]).await;
    let state = h.esim_state(ProviderId::EsimGo, "8943108161000670038").await;
    let status = state.status.unwrap();
    assert_eq!(
        (status.value.lifecycle, status.at),
        (Lifecycle::Deleted, instant("2026-06-29T13:20:02Z"))
    );
    let stored = h.store.list_deliveries(&ListQuery::default()).await.unwrap();
    let located = stored.iter().find(|d| d.event.kind == EventKind::Location).unwrap();
    assert_eq!(
        located.event.location.as_ref().unwrap().country_code.as_deref(),
        Some("NO")
    );
}

/// eSIM Go with the fixture keys that also accepts unsigned V2 callbacks carrying `token`.
fn esimgo_with_v2_token(token: &str) -> std::sync::Arc<dyn shared::providers::Provider> {
    let keys = shared::auth::KeyRing::parse(&fixture_keyring(ProviderId::EsimGo).join(",")).unwrap();
    std::sync::Arc::new(shared::providers::esimgo::EsimGo::new(
        keys,
        shared::auth::KeyRing::parse(token),
    ))
}
