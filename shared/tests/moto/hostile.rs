//! Hostile and careless input through the production path on moto's DynamoDB, SNS and SQS: whitespace around
//! a body, variants of a signed body, repeated conflicts, control characters. `scripts/test.sh` starts moto.

use crate::common;

use common::*;
use shared::alerts::sink::sns::SnsSink;
use shared::clock::Clock;
use shared::model::ProviderId;
use shared::pipeline::Pipeline;
use shared::replay::{replay_one, Replayed};
use shared::service::Service;
use shared::store::StoreQuery;
use std::sync::Arc;

use crate::moto_rig;

use moto_rig::MotoRig;

const NOW: &str = "2030-11-20T12:00:00Z";

impl MotoRig {
    fn hostile_pipeline(&self) -> Arc<Pipeline> {
        let sink = Arc::new(SnsSink::new(self.sns.clone(), &self.topic_arn));
        Arc::new(Pipeline::new(
            self.store.clone(),
            sink,
            self.clock.clone(),
            quick_settings(),
        ))
    }

    fn hostile_service(&self, provider: ProviderId) -> Service {
        Service::ready(fixture_provider(provider), self.hostile_pipeline(), 128 * 1024)
    }
}

/// A body with whitespace around it is stored in DynamoDB byte for byte, and replaying it is a no-op.
#[tokio::test]
async fn padded_bodies_are_stored_exactly_and_replay_changes_nothing() {
    let rig = MotoRig::new("padded", NOW).await;
    let mut bodies = Vec::new();
    for (provider, name) in [
        (ProviderId::EsimGo, "utilisation-v3-hex"),
        (ProviderId::Roamify, "usage-nested"),
        (ProviderId::Airalo, "credit-limit"),
    ] {
        let body = format!("\n\t {}  \r\n", fixture(provider.as_str(), name).request.body);
        let reply = rig
            .hostile_service(provider)
            .handle(&signed_delivery(provider, &body, rig.clock.now()))
            .await;
        assert_eq!(reply.status, 200, "{provider}: {}", reply.body);
        bodies.push(body);
    }
    let alerts = rig.alerts().await.len();
    assert!(alerts >= 2, "low data and account balance: {alerts}");

    let stored = rig.store.list_deliveries(&rig.window()).await.unwrap();
    assert_eq!(stored.len(), 3);
    for d in &stored {
        assert!(
            bodies.contains(&d.event.raw_body().into_owned()),
            "{:?}",
            d.event.raw_padding
        );
    }
    let pipeline = rig.hostile_pipeline();
    for d in &stored {
        assert_eq!(
            replay_one(&pipeline, &d.event, false).await.unwrap(),
            Replayed::Unchanged
        );
    }
    assert_eq!(rig.store.list_deliveries(&rig.window()).await.unwrap().len(), 3);
    assert!(rig.store.list_conflicts(&rig.window()).await.unwrap().is_empty());
    assert!(rig.alerts().await.is_empty(), "replay published nothing");
}

/// Whitespace variants of one signed Airalo credit-limit body, on DynamoDB and SNS: one event, one alert.
#[tokio::test]
async fn variants_of_one_signed_airalo_body_publish_one_alert() {
    let rig = MotoRig::new("variants", NOW).await;
    let service = rig.hostile_service(ProviderId::Airalo);
    let body = fixture("airalo", "credit-limit").request.body;
    let signature = hmac_sha512_hex(&fixture_secret(ProviderId::Airalo), body.as_bytes());
    for spaces in 0..20 {
        let variant = body.replacen('{', &format!("{{{}", " ".repeat(spaces)), 1);
        let mut d = signed_delivery(ProviderId::Airalo, &variant, rig.clock.now());
        d.headers.insert("airalo-signature", signature.parse().unwrap());
        assert_eq!(service.handle(&d).await.status, 200);
    }
    assert_eq!(rig.store.list_deliveries(&rig.window()).await.unwrap().len(), 1);
    assert!(rig.store.list_conflicts(&rig.window()).await.unwrap().is_empty());
    assert_eq!(rig.alerts().await.len(), 1);
}

/// Control characters in a delivery reach no SNS subscriber: the published document and its attributes are
/// clean, and the implausible ICCID is nowhere in them.
#[tokio::test]
async fn hostile_text_reaches_no_subscriber() {
    let rig = MotoRig::new("hostile-text", NOW).await;
    let body = serde_json::json!({
        "notifyType": "DATA_USAGE", "notifyId": "n-hostile",
        "content": {"iccid": "8943\r\nALERT fake\u{7}\u{1b}[31m", "esimTranNo": "T-HOSTILE",
                    "transactionId": "tx-9\r\nVerify your account\u{2028}now",
                    "totalVolume": 1000, "orderUsage": 950, "remain": 50}
    })
    .to_string();
    let reply = rig
        .hostile_service(ProviderId::EsimAccess)
        .handle(&signed_delivery(ProviderId::EsimAccess, &body, rig.clock.now()))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let alerts = rig.alerts().await;
    assert_eq!(alerts.len(), 1);
    let envelope = &alerts[0];
    let message = envelope["Message"].as_str().unwrap();
    let document: serde_json::Value = serde_json::from_str(message).unwrap();
    assert_eq!(document["esim"]["key"], "T-HOSTILE");
    assert!(document["esim"].get("iccid").is_none());
    assert_eq!(document["bundle"]["reference"], "tx-9 Verify your account now");
    assert!(!message.contains("ALERT fake"));
    assert!(!message.chars().any(shared::text::is_unsafe), "{message:?}");
    for (_, attribute) in envelope["MessageAttributes"].as_object().unwrap() {
        let value = attribute["Value"].as_str().unwrap();
        assert!(!value.chars().any(shared::text::is_unsafe), "{value:?}");
    }
}

/// Concurrent copies of one conflicting payload on DynamoDB: one record, every copy counted.
#[tokio::test]
async fn concurrent_conflicts_are_one_counted_record() {
    let rig = MotoRig::new("conflicts", NOW).await;
    let service = Arc::new(rig.hostile_service(ProviderId::EsimAccess));
    let status = |s: &str| {
        serde_json::json!({"notifyType": "ESIM_STATUS", "notifyId": "reused", "content": {"esimTranNo": "T-R", "esimStatus": s}})
            .to_string()
    };
    let first = signed_delivery(ProviderId::EsimAccess, &status("IN_USE"), rig.clock.now());
    assert_eq!(service.handle(&first).await.status, 200);
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let service = service.clone();
            let delivery = signed_delivery(ProviderId::EsimAccess, &status("CANCEL"), rig.clock.now());
            tokio::spawn(async move { service.handle(&delivery).await.status })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), 200);
    }
    let conflicts = rig.store.list_conflicts(&rig.window()).await.unwrap();
    assert_eq!(conflicts.len(), 1);
    assert_eq!(conflicts[0].count, 20);
    assert!(conflicts[0].event.raw.get().contains("CANCEL"));
}
