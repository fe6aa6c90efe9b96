//! Every provider in the list through the Lambda entry point (`handle_apigw`, API Gateway events from
//! events/<provider>/) against DynamoDB and SNS on moto: each fixture twice, stored once, each expected alert
//! published once with its attributes. A provider added to the list with fixtures and events is checked here.

use crate::common;

use crate::moto_rig;

use common::*;
use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use moto_rig::MotoRig;
use serde_json::Value;
use shared::alerts::sink::sns::SnsSink;
use shared::lambda::handle_apigw;
use shared::model::ProviderId;
use shared::pipeline::Pipeline;
use shared::service::Service;
use shared::store::{DeliveryStatus, StoreQuery};
use std::sync::Arc;

fn event(provider: ProviderId, file: &str) -> ApiGatewayV2httpRequest {
    let path = repo_root().join("events").join(provider.as_str()).join(file);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|_| panic!("{}", path.display()))).unwrap()
}

#[tokio::test]
async fn every_providers_fixtures_through_the_lambda_entry_point_on_dynamodb_and_sns() {
    let schemas = Schemas::load();
    for &id in ProviderId::ALL {
        let rig = MotoRig::new(&format!("providers-{id}"), &fixture_clock(id)).await;
        let sink = Arc::new(SnsSink::new(rig.sns.clone(), &rig.topic_arn));
        let pipeline = Pipeline::new(rig.store.clone(), sink, rig.clock.clone(), quick_settings());
        let service = Service::ready(deployed_provider(id), Arc::new(pipeline), 128 * 1024);
        let all = fixtures(id.as_str());
        for f in &all {
            for attempt in 0..2 {
                let response = handle_apigw(&service, event(id, &f.file)).await;
                assert_eq!(
                    response.status_code,
                    i64::from(f.expect.status),
                    "{id} {} #{attempt}",
                    f.file
                );
                if f.expect.status == 200 && f.request.method == "POST" {
                    let outcome = if attempt == 0 { "stored" } else { "duplicate" };
                    assert_eq!(response_json(&response)["outcome"], outcome, "{id} {}", f.file);
                }
            }
        }
        let stored = rig.store.list_deliveries(&rig.window()).await.unwrap();
        let accepted = all
            .iter()
            .filter(|f| f.expect.status == 200 && f.request.method == "POST");
        assert_eq!(
            stored.len(),
            accepted.count(),
            "{id}: each accepted delivery stored once"
        );
        assert!(stored.iter().all(|d| d.status == DeliveryStatus::Completed), "{id}");

        let mut published: Vec<String> = Vec::new();
        for envelope in rig.alerts().await {
            let doc: Value = serde_json::from_str(envelope["Message"].as_str().unwrap()).unwrap();
            Schemas::check(&schemas.alert, &doc);
            assert_eq!(envelope["MessageAttributes"]["provider"]["Value"], id.as_str());
            assert_eq!(envelope["MessageAttributes"]["level"]["Value"], doc["level"]);
            published.push(doc["type"].as_str().unwrap().to_string());
        }
        let mut expected: Vec<String> = all.iter().filter_map(|f| f.expect.alert.clone()).collect();
        published.sort();
        expected.sort();
        assert_eq!(published, expected, "{id}: alerts published once each");
    }
}
