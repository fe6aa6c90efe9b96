//! Airalo end to end through the real `Service` and the Lambda entry point, over in-memory adapters.

use crate::common;

use common::*;
use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use serde_json::{json, Value};
use shared::clock::Clock;
use shared::lambda::handle_apigw;
use shared::model::EventKind;
use shared::store::{ListQuery, StoreQuery};

const NOW: &str = "2026-11-23T09:00:00Z";

fn reply_json(r: &shared::reply::Reply) -> Value {
    serde_json::from_str(&r.body).unwrap_or(Value::Null)
}

fn fixture(name: &str) -> Fixture {
    fixtures("airalo").into_iter().find(|f| f.name == name).unwrap()
}

fn secret() -> String {
    secrets()["airalo"]["client_secret"].as_str().unwrap().to_string()
}

/// A POST of `body` whose signature was computed over `signed_bytes`.
fn signed(body: &str, signed_bytes: &str, key: &str) -> Fixture {
    let mut f = fixture("low-data-75");
    f.request.body = body.to_string();
    f.request
        .headers
        .insert("airalo-signature".into(), hmac_sha512_hex(key, signed_bytes.as_bytes()));
    f
}

#[tokio::test]
async fn every_fixture_twice_is_verified_stored_once_and_alerts_once() {
    let h = Harness::new(fixture_provider(ProviderId::Airalo), NOW, quick_settings());
    let schemas = Schemas::load();
    let all = fixtures("airalo");
    for f in &all {
        post_twice(&h, f).await;
    }
    let stored = assert_stored_once_and_alerted(&h, &all, &schemas).await;
    let mut published = h.published_levels();
    published.sort();
    let expected = [
        ("account_balance", "low", "80%"),
        ("account_balance", "low", "90%"),
        ("expiry", "72h", "3days"),
        ("low_data", "25%", "75%"),
    ];
    assert_eq!(
        published,
        expected.map(|(t, l, p)| (t.to_string(), l.to_string(), Some(p.to_string()))),
        "levels count what is left; Airalo's own labels are kept as provider_level"
    );
    let order = stored.iter().find(|d| d.event.kind == EventKind::Order).unwrap();
    assert_eq!(
        order.event.dedupe_key.as_str(),
        "3NhR3gKmqCWK7IWppurpDX3Cg",
        "async orders dedupe on request_id"
    );
    assert_eq!(
        order.event.esim.as_ref().unwrap().iccid.as_deref(),
        Some("87123123456889019")
    );
}

#[tokio::test]
async fn sdk_forms_are_accepted_in_both_encodings_and_nothing_else() {
    let h = Harness::new(fixture_provider(ProviderId::Airalo), NOW, quick_settings());
    let body = r#"{"message": "Über 90% – https://partners.airalo.com/credit", "remaining": 1.5}"#;
    let js_form = r#"{"message":"Über 90% – https:\/\/partners.airalo.com\/credit","remaining":1.5}"#;
    let php_form = r#"{"message":"\u00dcber 90% \u2013 https:\/\/partners.airalo.com\/credit","remaining":1.5}"#;
    for (what, over) in [("raw", body), ("npm SDK", js_form), ("PyPI SDK / PHP", php_form)] {
        let h = Harness::new(fixture_provider(ProviderId::Airalo), NOW, quick_settings());
        let reply = h
            .service
            .handle(&delivery(&signed(body, over, &secret()), h.clock.now()))
            .await;
        assert_eq!(reply.status, 200, "signed over the {what} form");
    }
    let refused = [
        ("another secret", signed(body, js_form, "not-the-secret")),
        (
            "unescaped compact form",
            signed(body, &js_form.replace("\\/", "/"), &secret()),
        ),
        (
            "sorted keys",
            signed(
                body,
                r#"{"remaining":1.5,"message":"Über 90% – https:\/\/partners.airalo.com\/credit"}"#,
                &secret(),
            ),
        ),
        ("altered body", signed(&body.replace("1.5", "1.6"), js_form, &secret())),
    ];
    for (what, f) in refused {
        assert_eq!(
            h.service.handle(&delivery(&f, h.clock.now())).await.status,
            401,
            "{what}"
        );
    }
    let mut bad_header = signed(body, body, &secret());
    bad_header
        .request
        .headers
        .insert("airalo-signature".into(), "abc".into());
    assert_eq!(
        h.service.handle(&delivery(&bad_header, h.clock.now())).await.status,
        401
    );
    assert!(h.store.list_deliveries(&ListQuery::default()).await.unwrap().is_empty());
}

#[tokio::test]
async fn rotated_secret_is_accepted() {
    let h = Harness::new(fixture_provider(ProviderId::Airalo), NOW, quick_settings());
    let rotated = secrets()["airalo"]["client_secret_rotated"]
        .as_str()
        .unwrap()
        .to_string();
    let body = fixture("low-data-75").request.body;
    assert_eq!(
        h.service
            .handle(&delivery(&signed(&body, &body, &rotated), h.clock.now()))
            .await
            .status,
        200
    );
    // Each key tries every form before the next key: the SDK forms under the rotated key too, with the forms
    // built under the first key reused.
    let body = r#"{"message": "Über 90% – https://partners.airalo.com/credit", "remaining": 2.5}"#;
    let js_form = r#"{"message":"Über 90% – https:\/\/partners.airalo.com\/credit","remaining":2.5}"#;
    let php_form = r#"{"message":"\u00dcber 90% \u2013 https:\/\/partners.airalo.com\/credit","remaining":2.5}"#;
    for (what, over) in [("npm SDK", js_form), ("PyPI SDK / PHP", php_form)] {
        let h = Harness::new(fixture_provider(ProviderId::Airalo), NOW, quick_settings());
        let reply = h
            .service
            .handle(&delivery(&signed(body, over, &rotated), h.clock.now()))
            .await;
        assert_eq!(reply.status, 200, "{what} form under the rotated secret");
    }
}

#[tokio::test]
async fn head_answers_200_through_the_lambda_entry_point_and_stores_nothing() {
    let h = Harness::new(fixture_provider(ProviderId::Airalo), NOW, quick_settings());
    let text = std::fs::read_to_string(repo_root().join("events/airalo/00-head-opt-in.json")).unwrap();
    let event: ApiGatewayV2httpRequest = serde_json::from_str(&text).unwrap();
    let response = handle_apigw(&h.service, event).await;
    assert_eq!(response.status_code, 200);
    assert!(response.body.is_none(), "HEAD has no body");
    assert!(h.store.list_deliveries(&ListQuery::default()).await.unwrap().is_empty());
    // Other providers do not answer HEAD.
    let other = Harness::new(fixture_provider(ProviderId::Roamify), NOW, quick_settings());
    let text = std::fs::read_to_string(repo_root().join("events/airalo/00-head-opt-in.json")).unwrap();
    assert_eq!(
        handle_apigw(&other.service, serde_json::from_str(&text).unwrap())
            .await
            .status_code,
        405
    );
}

#[tokio::test]
async fn the_same_low_data_level_again_is_a_duplicate_even_with_other_bytes() {
    let h = Harness::new(fixture_provider(ProviderId::Airalo), NOW, quick_settings());
    let first =
        json!({"level": "90%", "package_name": "p-1", "remaining_percentage": 10, "iccid": "8910300000001234567"})
            .to_string();
    let again =
        json!({"iccid": "8910300000001234567", "level": "90%", "package_name": "p-1", "remaining_percentage": 9})
            .to_string();
    let other_package =
        json!({"level": "90%", "package_name": "p-2", "remaining_percentage": 10, "iccid": "8910300000001234567"})
            .to_string();
    let mut outcomes = Vec::new();
    for body in [&first, &again, &other_package] {
        let reply = h
            .service
            .handle(&delivery(&signed(body, body, &secret()), h.clock.now()))
            .await;
        outcomes.push(reply_json(&reply)["outcome"].clone());
    }
    assert_eq!(outcomes, [json!("stored"), json!("duplicate"), json!("stored")]);
    assert_eq!(h.sink.published().len(), 2, "one 90% alert per package");
}

#[tokio::test]
async fn unknown_shapes_are_stored_unrecognized_and_failed_orders_kept() {
    let h = Harness::new(fixture_provider(ProviderId::Airalo), NOW, quick_settings());
    let unknown = json!({"hello": "world"}).to_string();
    let reply = h
        .service
        .handle(&delivery(&signed(&unknown, &unknown, &secret()), h.clock.now()))
        .await;
    assert_eq!(
        (reply.status, reply_json(&reply)["kind"].clone()),
        (200, json!("unrecognized"))
    );
    let failed = json!({"request_id": "REQ-FAILED-1", "reason": "Insufficient credit", "meta": {"message": "failed"}})
        .to_string();
    let reply = h
        .service
        .handle(&delivery(&signed(&failed, &failed, &secret()), h.clock.now()))
        .await;
    assert_eq!(reply_json(&reply)["kind"], "order");
    let stored = h.store.list_deliveries(&ListQuery::default()).await.unwrap();
    let order = stored.iter().find(|d| d.event.kind == EventKind::Order).unwrap();
    assert_eq!(order.event.order.as_ref().unwrap().status.as_deref(), Some("failed"));
}
