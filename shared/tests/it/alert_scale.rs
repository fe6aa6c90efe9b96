//! One alert scale: `level` counts what is left whoever said so, a provider's label is kept as
//! `provider_level`, and one situation is one alert (in-memory adapters, the real `Service` and `Pipeline`).

use crate::common;

use common::*;
use serde_json::json;
use shared::alerts::AlertType;
use shared::clock::Clock;
use shared::model::{Event, ProviderId};
use shared::store::{EventStore, Lease, ListQuery, StoreQuery};

const NOW: &str = "2026-11-23T09:00:00Z";
const ICCID: &str = "8912345678901234567";
const PACKAGE: &str = AIRALO_PACKAGE;

async fn post_airalo(h: &Harness, body: serde_json::Value) -> serde_json::Value {
    let reply = h
        .service
        .handle(&signed_delivery(ProviderId::Airalo, &body.to_string(), h.clock.now()))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    serde_json::from_str(&reply.body).unwrap()
}

fn notice(level: &str, remaining: u8) -> serde_json::Value {
    json!({"level": level, "package_name": PACKAGE, "remaining_percentage": remaining, "iccid": ICCID})
}

fn reading_at_ten_percent(now: chrono::DateTime<chrono::Utc>) -> Event {
    airalo_reading(ICCID, now)
}

/// Airalo's `90%` (used) is the scale's `10%` (left), with the label kept; after the eSIM was alerted at 10 %
/// by amounts, Airalo's own 90 % notice is the same alert, not a second message.
#[tokio::test]
async fn a_provider_notice_and_our_reading_of_one_situation_are_one_alert() {
    let h = Harness::new(fixture_provider(ProviderId::Airalo), NOW, quick_settings());
    let outcome = h
        .pipeline
        .process(&reading_at_ten_percent(h.clock.now()))
        .await
        .unwrap();
    assert_eq!(outcome, shared::pipeline::Outcome::Stored { alerts: 1 });
    let by_amounts = h.published_alert("low_data");
    assert_eq!(
        (by_amounts.level.as_str(), by_amounts.provider_level.as_deref()),
        ("10%", None)
    );

    let reply = post_airalo(&h, notice("90%", 10)).await;
    assert_eq!(reply["outcome"], "stored");
    assert_eq!(h.sink.published().len(), 1, "the notice names the alert already sent");
    let stored = h.store.list_alerts(&ListQuery::default()).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].alert.alert_id, by_amounts.alert_id);
}

#[tokio::test]
async fn provider_labels_map_onto_what_is_left_and_stay_as_provider_level() {
    let h = Harness::new(fixture_provider(ProviderId::Airalo), NOW, quick_settings());
    post_airalo(&h, notice("75%", 25)).await;
    post_airalo(&h, notice("90%", 10)).await;
    post_airalo(&h, notice("1days", 10)).await;
    let alerts = h.sink.published();
    let levels: Vec<(AlertType, &str, Option<&str>)> = alerts
        .iter()
        .map(|a| (a.alert_type, a.level.as_str(), a.provider_level.as_deref()))
        .collect();
    assert_eq!(
        levels,
        [
            (AlertType::LowData, "25%", Some("75%")),
            (AlertType::LowData, "10%", Some("90%")),
            (AlertType::Expiry, "24h", Some("1days")),
        ]
    );
    let rendered = shared::alerts::sink::render(&alerts[1]);
    assert!(rendered.attributes.contains(&("level", "10%".into())));
    assert!(rendered.attributes.contains(&("provider_level", "90%".into())));
    let schemas = Schemas::load();
    for alert in &alerts {
        Schemas::check(&schemas.alert, &serde_json::to_value(alert).unwrap());
    }
    // Airalo's one-day warning is the 24-hour window's alert: the sweep would name the same one.
    assert_eq!(alerts[2].alert_id, format!("airalo#{ICCID}#{PACKAGE}#expiry#24h"));
}

/// An alert sent before the one scale, under the provider's label, is not sent again when its delivery is
/// replayed and re-applied.
#[tokio::test]
async fn an_alert_sent_under_the_providers_label_is_not_sent_again() {
    let h = Harness::new(fixture_provider(ProviderId::Airalo), NOW, quick_settings());
    let former = format!("airalo#{ICCID}#{PACKAGE}#low_data#90%");
    let mut legacy = reading_at_ten_percent(h.clock.now());
    legacy.usage.as_mut().unwrap().provider_alert_level = Some("90%".into());
    let mut sent = shared::alerts::evaluate(&legacy, None, &Default::default(), h.clock.now()).remove(0);
    assert_eq!(sent.former_alert_id.as_deref(), Some(former.as_str()));
    sent.alert_id = former;
    let lease = Lease {
        attempt: "earlier".into(),
        until: h.clock.now() + chrono::Duration::seconds(30),
    };
    h.store.claim_alert(&sent, &lease, h.clock.now()).await.unwrap();
    h.store
        .mark_alert_sent(&sent, &lease, "sns-1", h.clock.now())
        .await
        .unwrap();

    post_airalo(&h, notice("90%", 10)).await;
    assert!(h.sink.published().is_empty(), "sent before under its former id");
    let stored = h.store.list_deliveries(&ListQuery::default()).await.unwrap();
    let replayed = shared::replay::replay_one(&h.pipeline, &stored[0].event, true)
        .await
        .unwrap();
    assert_eq!(replayed, shared::replay::Replayed::Unchanged);
    assert!(h.sink.published().is_empty());
}
