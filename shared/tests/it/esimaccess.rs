//! eSIM Access end to end through the real `Service`, over in-memory adapters.

use crate::common;

use bytes::Bytes;
use chrono::Duration;
use common::*;
use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use lambda_http::aws_lambda_events::encodings::Body as ApigwBody;
use lambda_http::http::Method;
use serde_json::{json, Value};
use shared::clock::Clock;
use shared::lambda::handle_apigw;
use shared::model::{EventKind, Lifecycle, ProviderId};
use shared::service::Service;
use shared::store::{DeliveryStatus, EventStore, Lease, ListQuery, StoreQuery};
use std::sync::Arc;

/// After every fixture's provider time, so VALIDITY_USAGE's end (2026-04-23T17:13:19Z) is within 24 h.
const NOW: &str = "2026-04-22T18:00:00Z";

fn body_json(reply: &shared::reply::Reply) -> Value {
    serde_json::from_str(&reply.body).unwrap_or(Value::Null)
}

fn custom(body: Value) -> shared::ingress::Delivery {
    let mut f = fixtures("esimaccess").into_iter().next().unwrap();
    f.request.body = body.to_string();
    delivery(&f, instant(NOW))
}

#[tokio::test]
async fn every_fixture_twice_is_stored_once_and_alerts_once() {
    let h = Harness::new(deployed_provider(ProviderId::EsimAccess), NOW, quick_settings());
    let schemas = Schemas::load();
    let all = fixtures("esimaccess");
    for f in &all {
        post_twice(&h, f).await;
    }

    let stored = assert_stored_once_and_alerted(&h, &all, &schemas).await;
    let rejected_ids = ["0000000000000000000000000000000a", "0000000000000000000000000000000b"];
    assert!(
        stored
            .iter()
            .all(|d| !rejected_ids.contains(&d.event.dedupe_key.as_str())),
        "nothing unauthenticated is stored"
    );

    for f in all.iter().filter(|f| f.expect.status_after.is_some()) {
        let body: Value = serde_json::from_str(&f.request.body).unwrap();
        let key = body["content"]["esimTranNo"].as_str().unwrap();
        let state = h.esim_state(ProviderId::EsimAccess, key).await;
        assert_eq!(
            Some(state.status.unwrap().value.provider_status),
            f.expect.status_after,
            "{}",
            f.file
        );
    }
}

#[tokio::test]
async fn low_data_alert_carries_level_usage_and_bundle() {
    let h = Harness::new(deployed_provider(ProviderId::EsimAccess), NOW, quick_settings());
    let f = fixtures("esimaccess")
        .into_iter()
        .find(|f| f.name == "data-usage-low")
        .unwrap();
    assert_eq!(h.service.handle(&delivery(&f, h.clock.now())).await.status, 200);
    let alerts = h.sink.published();
    assert_eq!(alerts.len(), 1);
    let a = &alerts[0];
    assert_eq!(a.level, "10%");
    assert_eq!(
        a.alert_id,
        "esimaccess#25052822150009#unique_id_from_partner#low_data#10%"
    );
    let usage = a.usage.as_ref().unwrap();
    assert_eq!(usage.remaining_bytes, Some(5_351_505_742));
    assert_eq!(usage.provider_threshold.as_deref(), Some("0.1"));
    assert!((usage.remaining_ratio.unwrap() - 0.09968).abs() < 1e-4);
}

#[tokio::test]
async fn validity_alert_is_within_window_at_provider_time() {
    let h = Harness::new(deployed_provider(ProviderId::EsimAccess), NOW, quick_settings());
    let f = fixtures("esimaccess")
        .into_iter()
        .find(|f| f.name == "validity-one-day")
        .unwrap();
    h.service.handle(&delivery(&f, h.clock.now())).await;
    let alerts = h.sink.published();
    assert_eq!(alerts.len(), 1);
    assert_eq!(
        (alerts[0].alert_type.as_str(), alerts[0].level.as_str()),
        ("expiry", "24h")
    );
    assert_eq!(alerts[0].expires_at, Some(instant("2026-04-23T17:13:19Z")));
}

#[tokio::test]
async fn older_status_after_newer_leaves_the_newer() {
    let h = Harness::new(fixture_provider(ProviderId::EsimAccess), NOW, quick_settings());
    let status = |id: &str, at: &str, esim_status: &str| {
        json!({"notifyType": "ESIM_STATUS", "notifyId": id, "eventGenerateTime": at,
               "content": {"iccid": "8910300000059824319", "esimTranNo": "T-42", "orderNo": "B1", "esimStatus": esim_status, "smdpStatus": "ENABLED"}})
    };
    let newer = h
        .service
        .handle(&custom(status("n2", "2026-04-22T17:30:00Z", "USED_UP")))
        .await;
    let older = h
        .service
        .handle(&custom(status("n1", "2026-04-22T17:00:00+0000", "IN_USE")))
        .await;
    assert_eq!((newer.status, older.status), (200, 200));
    let state = h.esim_state(ProviderId::EsimAccess, "T-42").await;
    let status = state.status.unwrap();
    assert_eq!(status.value.provider_status, "USED_UP");
    assert_eq!(status.value.lifecycle, Lifecycle::Depleted);
    assert_eq!(
        h.store.list_deliveries(&ListQuery::default()).await.unwrap().len(),
        2,
        "the late one is still stored"
    );
}

#[tokio::test]
async fn same_notify_id_with_other_payload_is_flagged_not_applied() {
    let h = Harness::new(fixture_provider(ProviderId::EsimAccess), NOW, quick_settings());
    let body = |status: &str| {
        json!({"notifyType": "ESIM_STATUS", "notifyId": "dup-1", "eventGenerateTime": "2026-04-22T17:00:00Z",
               "content": {"esimTranNo": "T-7", "iccid": "8910", "esimStatus": status}})
    };
    assert_eq!(
        body_json(&h.service.handle(&custom(body("IN_USE"))).await)["outcome"],
        "stored"
    );
    let reply = h.service.handle(&custom(body("REVOKED"))).await;
    assert_eq!(reply.status, 200);
    assert_eq!(body_json(&reply)["outcome"], "conflict");
    let state = h.esim_state(ProviderId::EsimAccess, "T-7").await;
    assert_eq!(state.status.unwrap().value.provider_status, "IN_USE");
    let conflicts = h.store.list_conflicts(&ListQuery::default()).await.unwrap();
    assert_eq!(conflicts.len(), 1);
    assert!(
        conflicts[0].event.raw.get().contains("REVOKED"),
        "the conflicting payload is kept"
    );
}

#[tokio::test]
async fn failed_publish_answers_503_and_the_retry_publishes_once() {
    let h = Harness::new(deployed_provider(ProviderId::EsimAccess), NOW, quick_settings());
    let f = fixtures("esimaccess")
        .into_iter()
        .find(|f| f.name == "data-usage-low")
        .unwrap();
    h.sink.fail_next(1);
    let reply = h.service.handle(&delivery(&f, h.clock.now())).await;
    assert_eq!(reply.status, 503, "{}", reply.body);
    assert!(h.sink.published().is_empty());
    let stored = h.store.list_deliveries(&ListQuery::default()).await.unwrap();
    assert_eq!(
        stored.len(),
        1,
        "the authentic payload is kept even though processing failed"
    );
    assert_eq!(stored[0].status, DeliveryStatus::InProgress);
    assert!(stored[0].last_error.as_deref().unwrap().contains("injected failure"));

    let retry = h.service.handle(&delivery(&f, h.clock.now())).await;
    assert_eq!(
        (retry.status, body_json(&retry)["outcome"].clone()),
        (200, json!("stored"))
    );
    let again = h.service.handle(&delivery(&f, h.clock.now())).await;
    assert_eq!(body_json(&again)["outcome"], "duplicate");
    assert_eq!(h.sink.published().len(), 1);
}

#[tokio::test]
async fn a_crashed_attempt_is_taken_over_once_its_lease_expires() {
    let h = Harness::new(deployed_provider(ProviderId::EsimAccess), NOW, quick_settings());
    let f = fixtures("esimaccess")
        .into_iter()
        .find(|f| f.name == "data-usage-low")
        .unwrap();
    // Normalize the same bytes the service will, then leave a live lease as a crashed Lambda would.
    let d = delivery(&f, h.clock.now());
    let provider = deployed_provider(ProviderId::EsimAccess);
    let event = provider.normalize(provider.authenticate(&d).unwrap()).unwrap();
    let dead = Lease {
        attempt: "crashed".into(),
        until: h.clock.now() + Duration::seconds(30),
    };
    h.store.begin_delivery(&event, &dead, h.clock.now()).await.unwrap();

    let busy = h.service.handle(&d).await;
    assert_eq!(
        busy.status, 503,
        "a live lease means someone may still be working on it"
    );
    assert!(h.sink.published().is_empty());

    h.clock.advance(Duration::seconds(31));
    let taken = h.service.handle(&delivery(&f, h.clock.now())).await;
    assert_eq!(
        (taken.status, body_json(&taken)["outcome"].clone()),
        (200, json!("stored"))
    );
    assert_eq!(h.sink.published().len(), 1);
}

#[tokio::test]
async fn concurrent_copies_all_answer_200_with_one_event_and_one_alert() {
    let h = Arc::new(Harness::new(
        deployed_provider(ProviderId::EsimAccess),
        NOW,
        shared::pipeline::PipelineSettings::default(),
    ));
    let f = fixtures("esimaccess")
        .into_iter()
        .find(|f| f.name == "data-usage-low")
        .unwrap();
    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let (h, d) = (h.clone(), delivery(&f, h.clock.now()));
            tokio::spawn(async move { h.service.handle(&d).await.status })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), 200);
    }
    assert_eq!(h.store.list_deliveries(&ListQuery::default()).await.unwrap().len(), 1);
    assert_eq!(h.sink.published().len(), 1);
}

#[tokio::test]
async fn unknown_or_odd_but_authentic_payloads_are_stored_unrecognized() {
    let h = Harness::new(fixture_provider(ProviderId::EsimAccess), NOW, quick_settings());
    for body in [
        json!({"notifyType": "BALANCE_LOW", "notifyId": "u1", "content": {"balance": 3}}),
        json!([1, 2, 3]),
        json!({"no": "type"}),
    ] {
        let reply = h.service.handle(&custom(body.clone())).await;
        assert_eq!(reply.status, 200, "{body}");
        assert_eq!(body_json(&reply)["kind"], "unrecognized");
    }
    let stored = h.store.list_deliveries(&ListQuery::default()).await.unwrap();
    assert_eq!(stored.len(), 3);
    assert!(stored.iter().all(|d| d.event.kind == EventKind::Unrecognized));
}

#[tokio::test]
async fn hostile_requests_get_their_status_and_store_nothing() {
    let h = Harness::new(deployed_provider(ProviderId::EsimAccess), NOW, quick_settings());
    let good = fixtures("esimaccess")
        .into_iter()
        .find(|f| f.name == "check-health")
        .unwrap();

    let mut get = delivery(&good, h.clock.now());
    get.method = Method::GET;
    assert_eq!(h.service.handle(&get).await.status, 405);

    let mut huge = delivery(&good, h.clock.now());
    huge.body = Bytes::from(vec![b' '; 128 * 1024 + 1]);
    assert_eq!(h.service.handle(&huge).await.status, 413);

    let mut no_token = delivery(&good, h.clock.now());
    no_token.query.clear();
    assert_eq!(h.service.handle(&no_token).await.status, 401);

    let mut near_token = delivery(&good, h.clock.now());
    near_token.query = "token=esimaccess-fixture-token-a".into();
    assert_eq!(
        h.service.handle(&near_token).await.status,
        401,
        "tokens differing in case are different"
    );

    let mut no_ip = delivery(&good, h.clock.now());
    no_ip.source_ip = None;
    assert_eq!(h.service.handle(&no_ip).await.status, 401);

    let mut not_utf8 = delivery(&good, h.clock.now());
    not_utf8.body = Bytes::from_static(b"{\"notifyType\":\"\xff\"}");
    assert_eq!(h.service.handle(&not_utf8).await.status, 400);

    assert!(h.store.list_deliveries(&ListQuery::default()).await.unwrap().is_empty());

    // Valid JSON nested far deeper than a `serde_json::Value` may be: skipped without recursion (no stack
    // overflow), and an authentic delivery, so it is stored, unrecognized.
    let mut deep = delivery(&good, h.clock.now());
    deep.body = Bytes::from("[".repeat(10_000) + &"]".repeat(10_000));
    let reply = h.service.handle(&deep).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(body_json(&reply)["kind"], "unrecognized");
}

#[tokio::test]
async fn token_may_be_the_last_path_segment_and_mapped_ipv6_senders_pass() {
    let h = Harness::new(deployed_provider(ProviderId::EsimAccess), NOW, quick_settings());
    let good = fixtures("esimaccess")
        .into_iter()
        .find(|f| f.name == "check-health")
        .unwrap();
    let mut d = delivery(&good, h.clock.now());
    d.query.clear();
    d.path = "/webhooks/esimaccess/esimaccess-fixture-token-A".into();
    d.source_ip = Some("::ffff:3.1.131.226".parse().unwrap());
    let reply = h.service.handle(&d).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
}

#[tokio::test]
async fn foreign_ip_passes_when_the_allow_list_is_off() {
    let h = Harness::new(fixture_provider(ProviderId::EsimAccess), NOW, quick_settings());
    let f = fixtures("esimaccess")
        .into_iter()
        .find(|f| f.name == "foreign-ip")
        .unwrap();
    assert_eq!(h.service.handle(&delivery(&f, h.clock.now())).await.status, 200);
}

#[tokio::test]
async fn misconfigured_function_refuses_everything() {
    let service = Service::fail_closed(
        shared::model::ProviderId::EsimAccess,
        "ESIMACCESS_SECRETS_PARAM is not set",
    );
    let f = fixtures("esimaccess").into_iter().next().unwrap();
    let reply = service.handle(&delivery(&f, instant(NOW))).await;
    assert_eq!(reply.status, 503);
    assert_eq!(body_json(&reply)["error"]["code"], "not_configured");
}

fn sample_event(file: &str) -> ApiGatewayV2httpRequest {
    let text = std::fs::read_to_string(repo_root().join("events/esimaccess").join(file)).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[tokio::test]
async fn lambda_entry_point_serves_every_sample_event() {
    let h = Harness::new(deployed_provider(ProviderId::EsimAccess), NOW, quick_settings());
    for f in fixtures("esimaccess") {
        let response = handle_apigw(&h.service, sample_event(&f.file)).await;
        assert_eq!(response.status_code, i64::from(f.expect.status), "{}", f.file);
        let body = match response.body {
            Some(ApigwBody::Text(text)) => text,
            other => panic!("{}: expected a JSON text body, got {other:?}", f.file),
        };
        assert!(serde_json::from_str::<Value>(&body).is_ok(), "{}", f.file);
        assert_eq!(response.headers.get("content-type").unwrap(), "application/json");
    }
}

#[tokio::test]
async fn lambda_entry_point_decodes_base64_and_refuses_bad_or_huge_base64() {
    use base64::Engine;
    let h = Harness::new(deployed_provider(ProviderId::EsimAccess), NOW, quick_settings());
    let mut event = sample_event("05-data-usage-low.json");
    let raw = event.body.clone().unwrap();
    event.body = Some(base64::engine::general_purpose::STANDARD.encode(&raw));
    event.is_base64_encoded = true;
    let response = handle_apigw(&h.service, event.clone()).await;
    assert_eq!(response.status_code, 200);
    let stored = h.store.list_deliveries(&ListQuery::default()).await.unwrap();
    assert_eq!(
        stored[0].event.raw.get(),
        raw,
        "the decoded bytes, not the base64 text, are stored"
    );

    let mut bad = event.clone();
    bad.body = Some("%%% not base64 %%%".into());
    assert_eq!(handle_apigw(&h.service, bad).await.status_code, 400);

    let mut huge = event.clone();
    huge.body = Some("QUFB".repeat(100_000));
    assert_eq!(handle_apigw(&h.service, huge).await.status_code, 413);

    let mut plain_huge = event;
    plain_huge.is_base64_encoded = false;
    plain_huge.body = Some(" ".repeat(200_000));
    assert_eq!(handle_apigw(&h.service, plain_huge).await.status_code, 413);
}

#[test]
fn schemas_reject_malformed_documents() {
    let schemas = Schemas::load();
    let event = json!({"schema_version": 1, "provider": "esimaccess", "dedupe_key": "x", "dedupe_basis": "provider_id", "kind": "data_usage",
        "occurred_at": "2026-04-22T17:00:00Z", "occurred_at_source": "provider", "received_at": "2026-04-22T17:00:00Z",
        "payload_sha256": "0".repeat(64), "raw": {}});
    assert!(schemas.event.is_valid(&event));
    for (field, bad) in [
        ("kind", json!("usage")),
        ("provider", json!("acme")),
        ("occurred_at", json!("yesterday")),
        ("payload_sha256", json!("xyz")),
    ] {
        let mut broken = event.clone();
        broken[field] = bad;
        assert!(!schemas.event.is_valid(&broken), "{field} should be refused");
    }
    let alert = json!({"schema_version": 2, "alert_id": "a", "type": "low_data", "level": "10%", "provider": "esimaccess",
        "event_dedupe_key": "x", "occurred_at": "2026-04-22T17:00:00Z", "raised_at": "2026-04-22T17:00:00Z",
        "usage": {"remaining_ratio": 0.1}});
    assert!(schemas.alert.is_valid(&alert));
    let mut broken = alert.clone();
    broken["usage"]["remaining_ratio"] = json!(1.5);
    assert!(!schemas.alert.is_valid(&broken), "referenced definitions are enforced");
    let mut labelled = alert.clone();
    labelled["level"] = json!("3days");
    assert!(
        !schemas.alert.is_valid(&labelled),
        "a provider's label is provider_level, not level"
    );
    labelled["level"] = json!("72h");
    labelled["provider_level"] = json!("3days");
    assert!(schemas.alert.is_valid(&labelled));
}

#[tokio::test]
async fn content_type_duplicate_keys_and_huge_numbers() {
    let h = Harness::new(fixture_provider(ProviderId::EsimAccess), NOW, quick_settings());
    let good = fixtures("esimaccess")
        .into_iter()
        .find(|f| f.name == "data-usage-half")
        .unwrap();

    // The content type is neither required nor trusted: the body decides.
    for content_type in ["text/plain", "application/x-www-form-urlencoded", ""] {
        let mut d = delivery(&good, h.clock.now());
        d.headers.insert("content-type", content_type.parse().unwrap());
        assert_eq!(h.service.handle(&d).await.status, 200, "content type {content_type:?}");
    }
    let mut form = delivery(&good, h.clock.now());
    form.body = Bytes::from_static(b"notifyType=DATA_USAGE&remain=1");
    assert_eq!(h.service.handle(&form).await.status, 400, "a form body is not JSON");

    // Duplicate keys: the last one wins (as in JavaScript); the raw payload keeps both.
    let duplicated =
        r#"{"notifyType":"CHECK_HEALTH","notifyId":"dup-keys","notifyType":"ORDER_STATUS","content":{"orderNo":"B1"}}"#;
    let reply = h.service.handle(&custom_raw(duplicated)).await;
    assert_eq!((reply.status, body_json(&reply)["kind"].clone()), (200, json!("order")));

    // Numbers beyond u64 are read as far as they go; beyond f64 a field cannot be read, so the delivery is
    // stored unrecognized and flagged rather than refused.
    let huge = json!({"notifyType": "DATA_USAGE", "notifyId": "huge", "content": {"esimTranNo": "T-H",
        "totalVolume": 123_456_789_012_345_678_901_234_567_890.0_f64, "remain": 5, "orderUsage": 1}});
    let reply = h.service.handle(&custom(huge)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let beyond =
        r#"{"notifyType":"DATA_USAGE","notifyId":"beyond","content":{"esimTranNo":"T-B","totalVolume":1e400}}"#;
    let reply = h.service.handle(&custom_raw(beyond)).await;
    assert_eq!(
        (reply.status, body_json(&reply)["kind"].clone()),
        (200, json!("unrecognized"))
    );
    let stored = h.store.list_deliveries(&ListQuery::default()).await.unwrap();
    let flagged = stored.iter().find(|d| d.event.raw.get().contains("T-B")).unwrap();
    assert_eq!(flagged.event.flags, vec!["fields_unreadable".to_string()]);
    let state = h.esim_state(ProviderId::EsimAccess, "T-H").await;
    let usage = state.usage.unwrap().value;
    assert_eq!(usage.total_bytes, None, "a total beyond u64 is not invented");
    assert_eq!(usage.remaining_bytes, Some(5));
}

fn custom_raw(body: &str) -> shared::ingress::Delivery {
    let mut f = fixtures("esimaccess").into_iter().next().unwrap();
    f.request.body = body.to_string();
    delivery(&f, instant(NOW))
}
