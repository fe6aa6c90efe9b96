//! 1GLOBAL Connect end to end through the real `Service`, over in-memory adapters: Basic credentials or a URL
//! token, the one alert scale (80 % used is 20 % left), and SUBSCRIPTION_END told apart by its date.

use crate::common;

use chrono::Duration;
use common::*;
use shared::auth::KeyRing;
use shared::clock::Clock;
use shared::model::{Lifecycle, ProviderId};
use shared::providers::ProviderConfig;
use shared::store::{ListQuery, StoreQuery};

fn oneglobal(name: &str) -> Fixture {
    fixture("oneglobal", name)
}

fn harness() -> Harness {
    Harness::new(
        fixture_provider(ProviderId::OneGlobal),
        &fixture_clock(ProviderId::OneGlobal),
        quick_settings(),
    )
}

#[tokio::test]
async fn threshold_then_used_up_are_two_levels_and_an_expired_plan_one_ended_alert() {
    let h = harness();
    h.accept(
        "oneglobal",
        &[
            "usage-threshold",
            "subscription-end-used-up",
            "subscription-end-expired",
        ],
    )
    .await;
    let alerts = h.sink.published();
    let levels = h.published_levels();
    assert_eq!(
        levels,
        [
            ("low_data".to_string(), "20%".to_string(), Some("80%".to_string())),
            ("low_data".to_string(), "10%".to_string(), None),
            ("expiry".to_string(), "ended".to_string(), None),
        ]
    );
    assert_eq!(
        alerts[0].alert_id,
        "oneglobal#893000000002391231#ZHNhc2Rhc2Q=#low_data#20%"
    );
    let used_up = h.esim_state(ProviderId::OneGlobal, "893000000002391231").await;
    assert_eq!(used_up.status.unwrap().value.lifecycle, Lifecycle::Depleted);
    let expired = h.esim_state(ProviderId::OneGlobal, "8944478600004958824").await;
    assert_eq!(expired.status.unwrap().value.lifecycle, Lifecycle::Expired);
}

/// One SUBSCRIPTION_END is one alert: used up with the end a few hours ahead raises no expiry alert with it.
#[tokio::test]
async fn a_subscription_end_is_one_alert_even_near_the_plans_end() {
    let h = harness();
    let ends = h.clock.now() + Duration::hours(3);
    let body = format!(
        r#"{{"id":"e-1","type":"SUBSCRIPTION_END","iccid":"893000000002391231","subscription_id":"cGxhbg==","expiration_date":"{}","current_balance":0}}"#,
        ends.to_rfc3339()
    );
    assert_eq!(
        h.service
            .handle(&signed_delivery(ProviderId::OneGlobal, &body, h.clock.now()))
            .await
            .status,
        200
    );
    let alerts = h.sink.published();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(
        (alerts[0].alert_type.as_str(), alerts[0].level.as_str()),
        ("low_data", "10%")
    );
    // The type as the prose misspells it reads the same.
    let misspelled = body
        .replace("SUBSCRIPTION_END", "SUBSCRITPION_END")
        .replace("e-1", "e-2")
        .replace("cGxhbg==", "cGxhbjI=");
    assert_eq!(
        h.service
            .handle(&signed_delivery(ProviderId::OneGlobal, &misspelled, h.clock.now()))
            .await
            .status,
        200
    );
    assert_eq!(h.sink.published().len(), 2);
}

#[tokio::test]
async fn basic_credentials_rotate_and_tokens_work_in_the_query_or_the_path() {
    let h = harness();
    for name in ["download-progress-basic", "subscription-end-expired"] {
        assert_eq!(
            h.service
                .handle(&delivery(&oneglobal(name), h.clock.now()))
                .await
                .status,
            200,
            "{name}"
        );
    }
    let wrong = h
        .service
        .handle(&delivery(&oneglobal("wrong-basic-password"), h.clock.now()))
        .await;
    assert_eq!(wrong.status, 401);
    let mut garbled = delivery(&oneglobal("download-progress-basic"), h.clock.now());
    garbled.headers.insert("authorization", "Basic !!!".parse().unwrap());
    assert_eq!(h.service.handle(&garbled).await.status, 401);

    let mut in_path = delivery(&oneglobal("download-failed"), h.clock.now());
    in_path.path = format!("/webhooks/oneglobal/{}", fixture_secret(ProviderId::OneGlobal));
    in_path.query = String::new();
    assert_eq!(h.service.handle(&in_path).await.status, 200);

    // Configured with Basic credentials only, a URL token is not enough; with tokens only, no Basic is.
    let basic_only = (ProviderId::OneGlobal.spec().build)(&ProviderConfig::local(
        KeyRing::parse("connect:oneglobal-fixture-password-A").unwrap(),
    ))
    .unwrap();
    assert!(basic_only
        .authenticate(&delivery(&oneglobal("usage-threshold"), h.clock.now()))
        .is_err());
    assert!(basic_only
        .authenticate(&delivery(&oneglobal("download-progress-basic"), h.clock.now()))
        .is_ok());
    let tokens_only = (ProviderId::OneGlobal.spec().build)(&ProviderConfig::local(
        KeyRing::parse("oneglobal-fixture-token-A").unwrap(),
    ))
    .unwrap();
    assert!(tokens_only
        .authenticate(&delivery(&oneglobal("download-progress-basic"), h.clock.now()))
        .is_err());

    // The simulator signs with Basic credentials when the secret is user:password.
    let request = shared::simulate::sign(ProviderId::OneGlobal, "{}", "connect:oneglobal-fixture-password-B");
    assert!(request
        .headers
        .iter()
        .any(|(name, value)| name == "authorization" && value.starts_with("Basic ")));
    assert!(!request.path_and_query.contains("token="));
    let stored = h.store.list_deliveries(&ListQuery::default()).await.unwrap();
    assert_eq!(stored.len(), 3);
}
