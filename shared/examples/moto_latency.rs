//! Handling time of signed Roamify deliveries through the production path (API Gateway event → Service →
//! DynamoDB + SNS) against moto on loopback. A measurement, not a test: it prints percentiles.
//!
//!     scripts/with-moto.sh cargo run --release -p shared --example moto_latency [-- COUNT]

use hmac::{digest::KeyInit, Mac};
use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use serde_json::json;
use shared::alerts::sink::sns::SnsSink;
use shared::auth::KeyRing;
use shared::clock::SystemClock;
use shared::lambda::handle_apigw;
use shared::pipeline::{Pipeline, PipelineSettings};
use shared::providers::roamify::Roamify;
use shared::service::Service;
use shared::store::dynamodb::DynamoStore;
use std::sync::Arc;
use std::time::{Duration, Instant};

const SECRET: &str = "latency-secret";

fn request(i: usize) -> ApiGatewayV2httpRequest {
    // Every third delivery crosses the 10% level and publishes an alert.
    let remaining = if i.is_multiple_of(3) { 90 } else { 600 };
    let body = json!({"event_category": "esim", "event_type": "usage", "data": {
        "timestamp": 1_700_000_000 + i, "iccid": format!("8991{i:015}"), "esim_id": format!("e-{i}"),
        "end": 1_900_000_000, "status": "ACTIVATED", "package_id": "p-1", "package_name": "1 GB", "data_units": "MB",
        "data_total": 1024, "data_used": 1024 - remaining, "data_remaining": remaining}})
    .to_string();
    let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    let event = json!({
        "version": "2.0", "routeKey": "POST /webhooks/roamify", "rawPath": "/webhooks/roamify", "rawQueryString": "",
        "headers": {"content-type": "application/json", "x-roamify-signature": hex::encode(mac.finalize().into_bytes())},
        "requestContext": {"http": {"method": "POST", "path": "/webhooks/roamify", "sourceIp": "203.0.113.9"},
                            "requestId": format!("r-{i}"), "timeEpoch": 0},
        "body": body, "isBase64Encoded": false});
    serde_json::from_value(event).unwrap()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main]
async fn main() {
    let count: usize = std::env::args().nth(1).and_then(|n| n.parse().ok()).unwrap_or(300);
    let endpoint = std::env::var("ESIMHOOKS_TEST_ENDPOINT").expect("run under scripts/with-moto.sh");
    let sdk = shared::aws::sdk_config_at(&endpoint).await;
    let ddb = aws_sdk_dynamodb::Client::new(&sdk);
    let sns = aws_sdk_sns::Client::new(&sdk);
    let table = format!("latency-{}", std::process::id());
    DynamoStore::create_table(&ddb, &table).await.unwrap();
    let topic = sns.create_topic().name(&table).send().await.unwrap().topic_arn.unwrap();
    let store = Arc::new(DynamoStore::new(ddb, table, chrono::Duration::days(1)));
    let sink = Arc::new(SnsSink::new(sns, topic));
    let pipeline = Arc::new(Pipeline::new(
        store,
        sink,
        Arc::new(SystemClock),
        PipelineSettings::default(),
    ));
    let service = Service::ready(
        Arc::new(Roamify::new(KeyRing::parse(SECRET).unwrap())),
        pipeline,
        128 * 1024,
    );

    // Warm the connection pool first, as a warm Lambda would be.
    assert_eq!(handle_apigw(&service, request(usize::MAX / 2)).await.status_code, 200);
    let mut times = Vec::with_capacity(count);
    for i in 0..count {
        let started = Instant::now();
        let response = handle_apigw(&service, request(i)).await;
        times.push(started.elapsed());
        assert_eq!(response.status_code, 200);
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{count} Roamify deliveries (1 in 3 publishing an alert) via DynamoDB + SNS on moto: \
         p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        ms(percentile(&times, 0.5)),
        ms(percentile(&times, 0.9)),
        ms(percentile(&times, 0.99)),
        ms(times[count - 1])
    );
}
