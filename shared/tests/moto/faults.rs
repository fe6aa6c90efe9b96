//! Dependency faults and duplicate storms against moto: DynamoDB or SNS unreachable, one failing after the
//! other succeeded, and 1000 concurrent copies of one delivery. After recovery, the provider's retry must
//! store the event once and send the alert once.

use crate::common;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use common::*;
use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use shared::alerts::sink::sns::SnsSink;
use shared::alerts::Alert;
use shared::clock::Clock;
use shared::lambda::handle_apigw;
use shared::model::{Event, ProviderId};
use shared::pipeline::{Pipeline, PipelineSettings};
use shared::service::Service;
use shared::state::EsimState;
use shared::store::dynamodb::DynamoStore;
use shared::store::{AlertClaim, Begin, EventStore, Lease, ListQuery, StoreError, StoreQuery, Versioned};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

const NOW: &str = "2026-04-22T18:00:00Z";

/// An address where nothing listens.
fn closed_endpoint() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!("http://{}", listener.local_addr().unwrap())
}

fn event() -> ApiGatewayV2httpRequest {
    let text = std::fs::read_to_string(repo_root().join("events/esimaccess/05-data-usage-low.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Fails chosen operations of the real store a given number of times.
#[derive(Default)]
struct Faults {
    finish: AtomicUsize,
    mark_sent: AtomicUsize,
}

fn take(counter: &AtomicUsize) -> bool {
    counter
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
}

struct FaultyStore {
    inner: Arc<DynamoStore>,
    faults: Faults,
}

fn injected() -> StoreError {
    StoreError::Unavailable("injected fault".into())
}

#[async_trait]
impl EventStore for FaultyStore {
    async fn begin_delivery(&self, e: &Event, l: &Lease, now: DateTime<Utc>) -> Result<Begin, StoreError> {
        self.inner.begin_delivery(e, l, now).await
    }
    async fn finish_delivery(&self, e: &Event, l: &Lease, now: DateTime<Utc>) -> Result<(), StoreError> {
        if take(&self.faults.finish) {
            return Err(injected());
        }
        self.inner.finish_delivery(e, l, now).await
    }
    async fn delivery_status(
        &self,
        p: ProviderId,
        k: &shared::model::DedupeKey,
    ) -> Result<Option<shared::store::DeliveryStatus>, StoreError> {
        self.inner.delivery_status(p, k).await
    }
    async fn alert_status(&self, id: &str) -> Result<Option<shared::store::AlertStatus>, StoreError> {
        self.inner.alert_status(id).await
    }
    async fn abandon_delivery(&self, e: &Event, l: &Lease, reason: &str) -> Result<(), StoreError> {
        self.inner.abandon_delivery(e, l, reason).await
    }
    async fn rewrite_event(&self, e: &Event) -> Result<bool, StoreError> {
        self.inner.rewrite_event(e).await
    }
    async fn record_conflict(&self, e: &Event) -> Result<(), StoreError> {
        self.inner.record_conflict(e).await
    }
    async fn load_state(&self, p: ProviderId, k: &str) -> Result<Option<Versioned<EsimState>>, StoreError> {
        self.inner.load_state(p, k).await
    }
    async fn save_state(&self, s: &EsimState, v: Option<u64>) -> Result<bool, StoreError> {
        self.inner.save_state(s, v).await
    }
    async fn expiring_states(&self, from: DateTime<Utc>, until: DateTime<Utc>) -> Result<Vec<EsimState>, StoreError> {
        self.inner.expiring_states(from, until).await
    }
    async fn claim_alert(&self, a: &Alert, l: &Lease, now: DateTime<Utc>) -> Result<AlertClaim, StoreError> {
        self.inner.claim_alert(a, l, now).await
    }
    async fn mark_alert_sent(&self, a: &Alert, l: &Lease, r: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        if take(&self.faults.mark_sent) {
            return Err(injected());
        }
        self.inner.mark_alert_sent(a, l, r, now).await
    }
    async fn release_alert(&self, a: &Alert, l: &Lease) -> Result<(), StoreError> {
        self.inner.release_alert(a, l).await
    }
}

use crate::moto_rig;

use moto_rig::MotoRig;

/// The suite's rig: its helpers are below.
type Rig = MotoRig;

impl MotoRig {
    fn sink(&self, endpoint: Option<&str>) -> Arc<SnsSink> {
        let mut config = aws_sdk_sns::config::Builder::from(&self.sdk);
        if let Some(endpoint) = endpoint {
            config = config
                .endpoint_url(endpoint)
                .retry_config(aws_sdk_sns::config::retry::RetryConfig::disabled());
        }
        Arc::new(SnsSink::new(
            aws_sdk_sns::Client::from_conf(config.build()),
            &self.topic_arn,
        ))
    }

    fn service_over(&self, store: Arc<dyn EventStore>, sink: Arc<SnsSink>, settings: PipelineSettings) -> Service {
        let pipeline = Pipeline::new(store, sink, self.clock.clone(), settings);
        Service::ready(
            deployed_provider(ProviderId::EsimAccess),
            Arc::new(pipeline),
            128 * 1024,
        )
    }

    fn healthy(&self) -> Service {
        self.service_over(self.store.clone(), self.sink(None), quick_settings())
    }

    async fn stored(&self) -> Vec<shared::store::StoredDelivery> {
        let now = self.clock.now();
        let query = ListQuery {
            since: Some(now - Duration::days(1)),
            until: Some(now + Duration::days(1)),
            ..Default::default()
        };
        self.store.list_deliveries(&query).await.unwrap()
    }

    async fn alerts_received(&self) -> usize {
        self.alerts().await.len()
    }
}

#[tokio::test]
async fn dynamodb_unreachable_then_recovered() {
    let rig = Rig::new("ddb-down", NOW).await;
    let unreachable = aws_sdk_dynamodb::config::Builder::from(&rig.sdk)
        .endpoint_url(closed_endpoint())
        .retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::disabled())
        .build();
    let down = Arc::new(DynamoStore::new(
        aws_sdk_dynamodb::Client::from_conf(unreachable),
        rig.store.table(),
        Duration::days(1),
    ));
    let broken = rig.service_over(down, rig.sink(None), quick_settings());
    for _ in 0..3 {
        let response = handle_apigw(&broken, event()).await;
        assert_eq!(response.status_code, 503);
    }
    assert!(rig.stored().await.is_empty());
    assert_eq!(rig.alerts_received().await, 0);

    let healthy = rig.healthy();
    assert_eq!(handle_apigw(&healthy, event()).await.status_code, 200);
    assert_eq!(handle_apigw(&healthy, event()).await.status_code, 200);
    assert_eq!(rig.stored().await.len(), 1);
    assert_eq!(rig.alerts_received().await, 1);
}

#[tokio::test]
async fn sns_unreachable_after_dynamodb_succeeded_then_recovered() {
    let rig = Rig::new("sns-down", NOW).await;
    let broken = rig.service_over(rig.store.clone(), rig.sink(Some(&closed_endpoint())), quick_settings());
    assert_eq!(handle_apigw(&broken, event()).await.status_code, 503);
    let stored = rig.stored().await;
    assert_eq!(stored.len(), 1, "the authentic payload is already kept");
    assert!(stored[0].last_error.as_deref().unwrap_or_default().contains("publish"));

    let healthy = rig.healthy();
    assert_eq!(
        handle_apigw(&healthy, event()).await.status_code,
        200,
        "the retry takes over at once"
    );
    assert_eq!(handle_apigw(&healthy, event()).await.status_code, 200);
    assert_eq!(rig.stored().await.len(), 1);
    assert_eq!(rig.alerts_received().await, 1);
}

#[tokio::test]
async fn dynamodb_failing_after_sns_accepted_the_alert() {
    let rig = Rig::new("after-publish", NOW).await;
    // A blip while recording the alert as sent is absorbed in place: one alert, one 200.
    let blip = Arc::new(FaultyStore {
        inner: rig.store.clone(),
        faults: Faults::default(),
    });
    blip.faults.mark_sent.store(2, Ordering::SeqCst);
    let service = rig.service_over(blip.clone(), rig.sink(None), quick_settings());
    assert_eq!(handle_apigw(&service, event()).await.status_code, 200);
    assert_eq!(rig.alerts_received().await, 1);

    // Completing the delivery fails after everything else succeeded: the retry finishes, no second alert.
    let mut second = event();
    second.body = Some(
        second
            .body
            .unwrap()
            .replace("f776267e8d6745db8cc316e4c146ea0c", "f776267e8d6745db8cc316e4c146ea0d")
            .replace("unique_id_from_partner", "second-package"),
    );
    blip.faults.finish.store(1, Ordering::SeqCst);
    assert_eq!(handle_apigw(&service, second.clone()).await.status_code, 503);
    assert_eq!(rig.alerts_received().await, 1, "published before the failure");
    assert_eq!(handle_apigw(&service, second).await.status_code, 200);
    assert_eq!(rig.alerts_received().await, 0, "not published again");
    assert_eq!(rig.stored().await.len(), 2);
}

#[tokio::test]
async fn a_storm_of_1000_concurrent_copies_stores_one_event_and_one_alert() {
    let rig = Rig::new("storm", NOW).await;
    let settings = PipelineSettings {
        busy_wait: std::time::Duration::from_secs(20),
        ..PipelineSettings::default()
    };
    let service = Arc::new(rig.service_over(rig.store.clone(), rig.sink(None), settings));
    let in_flight = Arc::new(tokio::sync::Semaphore::new(32));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..1000 {
        let (service, permit) = (service.clone(), in_flight.clone().acquire_owned().await.unwrap());
        tasks.spawn(async move {
            let status = handle_apigw(&service, event()).await.status_code;
            drop(permit);
            status
        });
    }
    let mut statuses = std::collections::BTreeMap::new();
    while let Some(status) = tasks.join_next().await {
        *statuses.entry(status.unwrap()).or_insert(0) += 1;
    }
    assert_eq!(statuses, std::collections::BTreeMap::from([(200, 1000)]));
    assert_eq!(rig.stored().await.len(), 1);
    assert_eq!(rig.alerts_received().await, 1);
}
