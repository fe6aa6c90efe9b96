//! The production path (API Gateway event → Service → DynamoDB + SNS) against moto's DynamoDB, SNS and SQS on
//! loopback. `scripts/test.sh` starts moto and sets ESIMHOOKS_TEST_ENDPOINT; every test makes its own table,
//! topic and queue, so tests run in parallel without seeing each other.

use crate::common;

use chrono::Duration;
use common::*;
use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use serde_json::{json, Value};
use shared::alerts::sink::sns::SnsSink;
use shared::clock::Clock;
use shared::lambda::handle_apigw;
use shared::model::ProviderId;
use shared::pipeline::{Pipeline, PipelineSettings};
use shared::service::Service;
use shared::store::{DeliveryStatus, EventStore, Lease, StoreQuery};
use std::sync::Arc;

const NOW: &str = "2026-04-22T18:00:00Z";

use crate::moto_rig;

use moto_rig::MotoRig;

/// The suite's rig: its helpers are below.
type Rig = MotoRig;

impl MotoRig {
    fn pipeline(&self, topic_arn: &str, settings: PipelineSettings) -> Arc<Pipeline> {
        let sink = Arc::new(SnsSink::new(self.sns.clone(), topic_arn));
        Arc::new(Pipeline::new(self.store.clone(), sink, self.clock.clone(), settings))
    }

    fn service_with_topic(&self, topic_arn: &str, settings: PipelineSettings) -> Service {
        Service::ready(
            deployed_provider(ProviderId::EsimAccess),
            self.pipeline(topic_arn, settings),
            128 * 1024,
        )
    }

    fn service(&self) -> Service {
        self.service_with_topic(&self.topic_arn, quick_settings())
    }
}

fn sample_event(file: &str) -> ApiGatewayV2httpRequest {
    serde_json::from_str(&std::fs::read_to_string(repo_root().join("events/esimaccess").join(file)).unwrap()).unwrap()
}

fn with_body(mut event: ApiGatewayV2httpRequest, body: Value) -> ApiGatewayV2httpRequest {
    event.body = Some(body.to_string());
    event
}

#[tokio::test]
async fn every_fixture_twice_stores_once_and_publishes_each_alert_once() {
    let rig = Rig::new("fixtures", NOW).await;
    let service = rig.service();
    let schemas = Schemas::load();
    let all = fixtures("esimaccess");
    for f in &all {
        for attempt in 0..2 {
            let response = handle_apigw(&service, sample_event(&f.file)).await;
            assert_eq!(
                response.status_code,
                i64::from(f.expect.status),
                "{} attempt {attempt}: {:?}",
                f.file,
                response.body
            );
            if f.expect.status == 200 {
                let expected = if attempt == 0 { "stored" } else { "duplicate" };
                assert_eq!(response_json(&response)["outcome"], expected, "{}", f.file);
            }
        }
    }

    let stored = rig.store.list_deliveries(&rig.window()).await.unwrap();
    assert_eq!(stored.len(), all.iter().filter(|f| f.expect.status == 200).count());
    assert!(stored.iter().all(|d| d.status == DeliveryStatus::Completed));
    for d in &stored {
        Schemas::check(&schemas.event, &serde_json::to_value(&d.event).unwrap());
    }

    let envelopes = rig.alerts().await;
    let mut types: Vec<String> = Vec::new();
    for envelope in &envelopes {
        let doc: Value = serde_json::from_str(envelope["Message"].as_str().unwrap()).unwrap();
        Schemas::check(&schemas.alert, &doc);
        let attrs = &envelope["MessageAttributes"];
        assert_eq!(attrs["provider"]["Value"], "esimaccess");
        assert_eq!(attrs["alert_type"]["Value"], doc["type"]);
        assert_eq!(attrs["level"]["Value"], doc["level"]);
        types.push(doc["type"].as_str().unwrap().to_string());
        if doc["type"] == "low_data" {
            assert_eq!(doc["level"], "10%");
            assert_eq!(doc["usage"]["provider_threshold"], "0.1");
            assert_eq!(doc["esim"]["iccid"], "8943108170001029631");
        }
    }
    types.sort();
    assert_eq!(
        types,
        ["expiry", "low_data"],
        "one low_data and one expiry alert, each once"
    );

    let state = rig
        .store
        .load_state(ProviderId::EsimAccess, "26041615170028")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(state.value.status.unwrap().value.provider_status, "IN_USE");
    let sent = rig.store.list_alerts(&rig.window()).await.unwrap();
    assert_eq!(sent.len(), 2);
    assert!(sent
        .iter()
        .all(|a| a.status == shared::store::AlertStatus::Sent && a.receipt.is_some()));
}

#[tokio::test]
async fn an_older_status_after_a_newer_one_leaves_the_newer() {
    let rig = Rig::new("ordering", NOW).await;
    let service = rig.service();
    let status = |id: &str, at: &str, esim_status: &str| {
        json!({"notifyType": "ESIM_STATUS", "notifyId": id, "eventGenerateTime": at,
               "content": {"iccid": "8910300000059824319", "esimTranNo": "T-ORDER", "esimStatus": esim_status, "smdpStatus": "ENABLED"}})
    };
    let base = sample_event("02-esim-status-in-use.json");
    for (id, at, s) in [
        ("o3", "2026-04-22T17:40:00Z", "USED_UP"),
        ("o1", "2026-04-22T17:00:00Z", "IN_USE"),
        ("o2", "2026-04-22T17:20:00+0000", "SUSPENDED"),
    ] {
        assert_eq!(
            handle_apigw(&service, with_body(base.clone(), status(id, at, s)))
                .await
                .status_code,
            200
        );
    }
    let state = rig
        .store
        .load_state(ProviderId::EsimAccess, "T-ORDER")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(state.value.status.unwrap().value.provider_status, "USED_UP");
    assert_eq!(state.version, 1, "late events did not write the state at all");
}

#[tokio::test]
async fn a_reused_notify_id_with_another_payload_is_kept_as_a_conflict() {
    let rig = Rig::new("conflict", NOW).await;
    let service = rig.service();
    let base = sample_event("02-esim-status-in-use.json");
    let body = |s: &str| json!({"notifyType": "ESIM_STATUS", "notifyId": "same-id", "content": {"esimTranNo": "T-C", "esimStatus": s}});
    assert_eq!(
        response_json(&handle_apigw(&service, with_body(base.clone(), body("IN_USE"))).await)["outcome"],
        "stored"
    );
    assert_eq!(
        response_json(&handle_apigw(&service, with_body(base, body("CANCEL"))).await)["outcome"],
        "conflict"
    );
    let conflicts = rig.store.list_conflicts(&rig.window()).await.unwrap();
    assert_eq!(conflicts.len(), 1);
    let state = rig
        .store
        .load_state(ProviderId::EsimAccess, "T-C")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(state.value.status.unwrap().value.provider_status, "IN_USE");
}

#[tokio::test]
async fn when_sns_fails_the_request_fails_and_the_retry_publishes_once() {
    let rig = Rig::new("snsfail", NOW).await;
    let missing_topic = rig.topic_arn.replace("esimhooks-", "missing-");
    let broken = rig.service_with_topic(&missing_topic, quick_settings());
    let healthy = rig.service();
    let event = sample_event("05-data-usage-low.json");

    let failed = handle_apigw(&broken, event.clone()).await;
    assert_eq!(failed.status_code, 503);
    assert!(failed.headers.get("retry-after").is_some());
    let stored = rig.store.list_deliveries(&rig.window()).await.unwrap();
    assert_eq!(
        (stored.len(), stored[0].status),
        (1, DeliveryStatus::InProgress),
        "payload kept for the retry"
    );
    assert!(rig.alerts().await.is_empty());

    assert_eq!(
        response_json(&handle_apigw(&healthy, event.clone()).await)["outcome"],
        "stored"
    );
    assert_eq!(
        response_json(&handle_apigw(&healthy, event).await)["outcome"],
        "duplicate"
    );
    assert_eq!(rig.alerts().await.len(), 1);
}

#[tokio::test]
async fn a_lease_left_by_a_crashed_lambda_is_taken_over_after_it_expires() {
    let rig = Rig::new("lease", NOW).await;
    let service = rig.service();
    let f = fixtures("esimaccess")
        .into_iter()
        .find(|f| f.name == "data-usage-low")
        .unwrap();
    let provider = deployed_provider(ProviderId::EsimAccess);
    let d = delivery(&f, rig.clock.now());
    let event = provider.normalize(provider.authenticate(&d).unwrap()).unwrap();
    let crashed = Lease {
        attempt: "crashed".into(),
        until: rig.clock.now() + Duration::seconds(30),
    };
    assert_eq!(
        rig.store
            .begin_delivery(&event, &crashed, rig.clock.now())
            .await
            .unwrap(),
        shared::store::Begin::Started
    );

    assert_eq!(
        handle_apigw(&service, sample_event("05-data-usage-low.json"))
            .await
            .status_code,
        503
    );
    rig.clock.advance(Duration::seconds(31));
    let taken = handle_apigw(&service, sample_event("05-data-usage-low.json")).await;
    assert_eq!(response_json(&taken)["outcome"], "stored");
    assert_eq!(rig.alerts().await.len(), 1);
}

#[tokio::test]
async fn concurrent_copies_store_one_event_and_one_alert() {
    let rig = Rig::new("storm", NOW).await;
    let service = Arc::new(rig.service_with_topic(&rig.topic_arn, common::storm_settings()));
    let tasks: Vec<_> = (0..32)
        .map(|_| {
            let service = service.clone();
            tokio::spawn(async move {
                handle_apigw(&service, sample_event("05-data-usage-low.json"))
                    .await
                    .status_code
            })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    assert_eq!(rig.store.list_deliveries(&rig.window()).await.unwrap().len(), 1);
    assert_eq!(rig.alerts().await.len(), 1);
}

fn esimgo_event(file: &str) -> ApiGatewayV2httpRequest {
    serde_json::from_str(&std::fs::read_to_string(repo_root().join("events/esimgo").join(file)).unwrap()).unwrap()
}

/// eSIM Go never warns before a bundle ends: the delivery path alerts inside the window, the sweep otherwise.
#[tokio::test]
async fn esimgo_expiry_at_delivery_and_by_the_sweep_each_once() {
    let rig = Rig::new("sweep", NOW).await;
    rig.clock.set(instant("2030-11-24T10:47:00Z"));
    let pipeline = rig.pipeline(&rig.topic_arn, quick_settings());
    let service = Service::ready(fixture_provider(ProviderId::EsimGo), pipeline.clone(), 128 * 1024);

    // Ends 2030-11-27T10:47Z, three days away: nothing at delivery, nothing from a sweep yet.
    assert_eq!(
        handle_apigw(&service, esimgo_event("01-utilisation-v3-hex.json"))
            .await
            .status_code,
        200
    );
    assert_eq!(pipeline.sweep_expiring().await.unwrap().published, 0);
    assert!(rig.alerts().await.is_empty());

    // 23 h before the end. A batch larger than one run handles in place goes to the workers whole; each raises
    // its eSIM's alert.
    rig.clock.advance(Duration::hours(49));
    let handed = std::sync::Mutex::new(Vec::new());
    let queued = pipeline
        .sweep_expiring_or(0, |esims| async {
            handed.lock().unwrap().extend(esims);
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!((queued.expiring, queued.queued, queued.published), (1, 1, 0));
    let handed = handed.into_inner().unwrap();
    assert!(rig.alerts().await.is_empty(), "queued, not raised");
    let (provider, esim) = &handed[0];
    assert_eq!(pipeline.raise_expiry(*provider, esim).await.unwrap(), Some(true));
    assert_eq!(
        pipeline.raise_expiry(*provider, esim).await.unwrap(),
        Some(false),
        "a redelivered job"
    );
    assert_eq!(
        pipeline.raise_expiry(*provider, "8900000000000000000").await.unwrap(),
        None
    );
    let report = pipeline.sweep_expiring().await.unwrap();
    assert_eq!((report.expiring, report.already_sent, report.failed), (1, 1, 0));
    rig.clock.advance(Duration::minutes(15));
    assert_eq!(
        pipeline.sweep_expiring().await.unwrap().already_sent,
        1,
        "the next run does not repeat it"
    );
    let envelopes = rig.alerts().await;
    assert_eq!(envelopes.len(), 1);
    assert_eq!(envelopes[0]["MessageAttributes"]["alert_type"]["Value"], "expiry");
    let doc: Value = serde_json::from_str(envelopes[0]["Message"].as_str().unwrap()).unwrap();
    assert_eq!(
        (doc["level"].as_str(), doc["expires_at"].as_str()),
        (Some("24h"), Some("2030-11-27T10:47:00Z"))
    );

    // Another bundle delivered 10 hours before its end alerts at once, and the sweep then leaves it alone.
    rig.clock.set(instant("2030-12-01T05:04:05Z"));
    let v3 = |body: &str| {
        let mut event = esimgo_event("01-utilisation-v3-hex.json");
        let key = secrets()["esimgo"]["api_key"].as_str().unwrap().to_string();
        event.headers.insert(
            "x-signature-sha256",
            hmac_sha256_hex(&key, body.as_bytes()).parse().unwrap(),
        );
        event.body = Some(body.to_string());
        event
    };
    let body = json!({"iccid": "8944538532008160999", "alertType": "Utilisation",
        "bundle": {"id": "777", "name": "esim_1GB_30D", "initialQuantity": 1000000000, "remainingQuantity": 600000000,
                   "startTime": "2030-11-01T15:04:05Z", "endTime": "2030-12-01T15:04:05Z", "unlimited": false}});
    assert_eq!(handle_apigw(&service, v3(&body.to_string())).await.status_code, 200);
    assert_eq!(rig.alerts().await.len(), 1, "one expiry alert at delivery");
    assert_eq!(pipeline.sweep_expiring().await.unwrap().published, 0);
    assert!(rig.alerts().await.is_empty());
}

#[tokio::test]
async fn a_stored_event_can_take_a_new_normalization() {
    let rig = Rig::new("rewrite", NOW).await;
    let service = rig.service();
    assert_eq!(
        handle_apigw(&service, sample_event("02-esim-status-in-use.json"))
            .await
            .status_code,
        200
    );
    let mut stored = rig.store.list_deliveries(&rig.window()).await.unwrap().remove(0);
    stored.event.flags.push("renormalized".into());
    assert!(rig.store.rewrite_event(&stored.event).await.unwrap());
    let again = rig.store.list_deliveries(&rig.window()).await.unwrap().remove(0);
    assert_eq!(again.event.flags, ["renormalized"]);
    assert_eq!(again.status, DeliveryStatus::Completed, "the status is kept");
    let mut missing = stored.event.clone();
    missing.dedupe_key = shared::model::DedupeKey::provider_id("never-stored");
    assert!(!rig.store.rewrite_event(&missing).await.unwrap());
}
