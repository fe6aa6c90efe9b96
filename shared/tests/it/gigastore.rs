//! DENT Gigastore end to end through the real `Service`, over in-memory adapters: told apart by shape,
//! authenticated by URL token, keyed by body hash; its balance alert is one low-data alert at `100MB`.

use crate::common;

use common::*;
use shared::clock::Clock;
use shared::customers::records::MemorySender;
use shared::customers::service::CustomerNotifier;
use shared::customers::{Contact, ContactFields, ContactStore, CustomerSettings};
use shared::model::{EventKind, Lifecycle, ProviderId};
use shared::store::{ListQuery, StoreQuery};
use std::sync::Arc;

fn gigastore(name: &str) -> Fixture {
    fixture("gigastore", name)
}

#[tokio::test]
async fn the_balance_alert_is_one_low_data_alert_at_its_amount_with_the_customer_uid() {
    let h = Harness::new(
        fixture_provider(ProviderId::Gigastore),
        &fixture_clock(ProviderId::Gigastore),
        quick_settings(),
    );
    for name in ["esim-status-installed", "balance-alert", "balance-alert-later"] {
        assert_eq!(
            h.service
                .handle(&delivery(&gigastore(name), h.clock.now()))
                .await
                .status,
            200,
            "{name}"
        );
    }
    let alert = h.published_alert("low_data");
    assert_eq!(
        (alert.level.as_str(), alert.provider_level.as_deref()),
        ("100MB", Some("balance_alert"))
    );
    assert_eq!(alert.alert_id, "gigastore#89361123300836129514#-#low_data#100MB");
    assert_eq!(
        h.sink.published().len(),
        1,
        "the later, lower balance is the same situation"
    );
    let esim = alert.esim.unwrap();
    assert_eq!(
        esim.refs.get("uid").map(String::as_str),
        Some("058c8716-47dd-4fc4-be89-00978a86b7c0")
    );
    assert_eq!(alert.usage.unwrap().remaining_bytes, Some(93_618_231));
    let stored = h.store.list_deliveries(&ListQuery::default()).await.unwrap();
    assert!(stored
        .iter()
        .all(|d| d.event.dedupe_key.as_str().starts_with("sha256:")));
    let balance = stored
        .iter()
        .find(|d| d.event.usage.as_ref().and_then(|u| u.remaining_bytes) == Some(93_618_231))
        .unwrap();
    assert_eq!(balance.event.occurred_at.to_rfc3339(), "2022-08-21T10:15:30+00:00");
}

#[tokio::test]
async fn shapes_status_and_location_and_what_is_refused() {
    let h = Harness::new(
        fixture_provider(ProviderId::Gigastore),
        &fixture_clock(ProviderId::Gigastore),
        quick_settings(),
    );
    for name in ["esim-status-installed", "country-change-first-attach", "esim-removed"] {
        assert_eq!(
            h.service
                .handle(&delivery(&gigastore(name), h.clock.now()))
                .await
                .status,
            200
        );
    }
    let states = h.store.list_states(&ListQuery::default()).await.unwrap();
    assert_eq!(states.len(), 1);
    assert_eq!(states[0].status.as_ref().unwrap().value.lifecycle, Lifecycle::Deleted);
    let stored = h.store.list_deliveries(&ListQuery::default()).await.unwrap();
    let location = stored.iter().find(|d| d.event.kind == EventKind::Location).unwrap();
    assert_eq!(
        location.event.location.as_ref().unwrap().country_code.as_deref(),
        Some("DE")
    );

    let trailing = h
        .service
        .handle(&delivery(&gigastore("published-sample-trailing-comma"), h.clock.now()))
        .await;
    assert_eq!(trailing.status, 400);
    let wrong = h
        .service
        .handle(&delivery(&gigastore("wrong-token"), h.clock.now()))
        .await;
    assert_eq!(wrong.status, 401);
    // The token may also be the URL's last path segment.
    let mut in_path = delivery(&gigastore("esim-status-installed"), h.clock.now());
    in_path.path = format!("/webhooks/gigastore/{}", fixture_secret(ProviderId::Gigastore));
    in_path.query = String::new();
    in_path.body = bytes::Bytes::from_static(
        br#"{"iccid":"89361123300836129514","imsi":"260216611193634","profileState":"ENABLED"}"#,
    );
    assert_eq!(h.service.handle(&in_path).await.status, 200);
    // No shape we know: stored, unrecognized.
    let mut unknown = delivery(&gigastore("esim-status-installed"), h.clock.now());
    unknown.body = bytes::Bytes::from_static(br#"{"iccid":"89361123300836129514","somethingNew":1}"#);
    assert_eq!(h.service.handle(&unknown).await.status, 200);
    let stored = h.store.list_deliveries(&ListQuery::default()).await.unwrap();
    assert!(stored.iter().any(|d| d.event.kind == EventKind::Unrecognized));
}

/// The customer hears of an amount-only balance: in the provider's units, without a percentage.
#[tokio::test]
async fn the_customer_is_told_the_amount_left() {
    let store = Arc::new(shared::store::KvStore::in_memory());
    let fields = ContactFields {
        provider: Some("gigastore".into()),
        iccid: Some("89361123300836129514".into()),
        name: Some("Ana".into()),
        phone: Some("+34612345678".into()),
        channels: Some("sms".into()),
        ..Default::default()
    };
    store.upsert(&Contact::from_fields(&fields).unwrap()).await.unwrap();
    let sender = Arc::new(MemorySender::default());
    let notifier = Arc::new(CustomerNotifier {
        contacts: store.clone(),
        notifications: store.clone(),
        sender: sender.clone(),
        settings: CustomerSettings {
            brand: "Travelsim".into(),
            quiet_hours: None,
            ..Default::default()
        },
    });
    let clock = Arc::new(shared::clock::FixedClock::at_rfc3339(&fixture_clock(
        ProviderId::Gigastore,
    )));
    let sink = Arc::new(shared::alerts::sink::MemorySink::new());
    let pipeline =
        shared::pipeline::Pipeline::new(store, sink, clock.clone(), quick_settings()).with_customers(notifier);
    let service =
        shared::service::Service::ready(fixture_provider(ProviderId::Gigastore), Arc::new(pipeline), 128 * 1024);
    assert_eq!(
        service
            .handle(&delivery(&gigastore("balance-alert"), clock.now()))
            .await
            .status,
        200
    );
    let sent = sender.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].2, "Travelsim: Hi Ana, your eSIM plan has 93 MB of data left.");
}
