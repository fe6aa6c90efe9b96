//! Per-delivery cost of the hot path, over every fixture in fixtures/ (both rotated secrets configured):
//! verify + normalize, the API Gateway adapter, and the whole in-process pipeline with the in-memory store.
//!
//!     cargo bench -p shared --bench deliveries

use bytes::Bytes;
use chrono::Utc;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use lambda_http::http::{HeaderMap, HeaderName, HeaderValue, Method};
use serde_json::Value;
use shared::auth::KeyRing;
use shared::clock::SystemClock;
use shared::ingress::Delivery;
use shared::model::ProviderId;
use shared::notify::MemorySink;
use shared::pipeline::{Pipeline, PipelineSettings};
use shared::providers::Provider;
use shared::service::Service;
use shared::store::KvStore;
use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn providers() -> Vec<Arc<dyn Provider>> {
    let s: Value =
        serde_json::from_str(&std::fs::read_to_string(root().join("fixtures/secrets.json")).unwrap()).unwrap();
    let pair = |p: &str, a: &str, b: &str| {
        KeyRing::parse(&format!("{},{}", s[p][a].as_str().unwrap(), s[p][b].as_str().unwrap())).unwrap()
    };
    vec![
        Arc::new(shared::providers::esimgo::EsimGo::new(
            pair("esimgo", "api_key", "api_key_rotated"),
            None,
        )),
        Arc::new(shared::providers::esimaccess::EsimAccess::new(
            KeyRing::parse(&format!(
                "{},esimaccess-second-token",
                s["esimaccess"]["url_token"].as_str().unwrap()
            ))
            .unwrap(),
            Some(shared::providers::esimaccess::EsimAccess::published_ips()),
        )),
        Arc::new(shared::providers::roamify::Roamify::new(pair(
            "roamify",
            "secret",
            "secret_rotated",
        ))),
        Arc::new(shared::providers::airalo::Airalo::new(pair(
            "airalo",
            "client_secret",
            "client_secret_rotated",
        ))),
    ]
}

/// Every accepted POST fixture as (provider, delivery).
fn deliveries() -> Vec<(Arc<dyn Provider>, Delivery)> {
    fixture_deliveries()
        .into_iter()
        .filter(|(_, _, status)| *status == 200)
        .map(|(provider, delivery, _)| (provider, delivery))
        .collect()
}

/// Every POST fixture, accepted or refused, as (provider, delivery, expected status). (The one HEAD fixture is
/// answered before any verification.)
fn fixture_deliveries() -> Vec<(Arc<dyn Provider>, Delivery, u64)> {
    let mut out = Vec::new();
    for provider in providers() {
        let name = provider.id().as_str();
        let mut paths: Vec<_> = std::fs::read_dir(root().join("fixtures").join(name))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        paths.sort();
        for path in paths {
            let f: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            if f["request"]["method"] != "POST" {
                continue;
            }
            let mut headers = HeaderMap::new();
            for (k, v) in f["request"]["headers"].as_object().unwrap() {
                headers.insert(
                    HeaderName::from_bytes(k.as_bytes()).unwrap(),
                    HeaderValue::from_str(v.as_str().unwrap()).unwrap(),
                );
            }
            let token = f["auth"]["url_token"]
                .as_str()
                .map(|t| format!("token={t}"))
                .unwrap_or_default();
            out.push((
                provider.clone(),
                Delivery {
                    method: Method::POST,
                    path: format!("/webhooks/{name}"),
                    query: token,
                    headers,
                    source_ip: f["request"]["source_ip"].as_str().and_then(|ip| ip.parse().ok()),
                    body: Bytes::from(f["request"]["body"].as_str().unwrap().to_string()),
                    received_at: Utc::now(),
                    request_id: None,
                },
                f["expect"]["status"].as_u64().unwrap(),
            ));
        }
    }
    out
}

fn verify_and_normalize(c: &mut Criterion) {
    let all = deliveries();
    let count = all.len();
    // One iteration handles every fixture once: divide the time by `count` for the per-delivery figure.
    c.bench_function(&format!("verify+normalize, all {count} accepted fixtures"), |b| {
        b.iter(|| {
            for (provider, delivery) in &all {
                let verified = provider.authenticate(black_box(delivery)).unwrap();
                black_box(provider.normalize(verified).unwrap());
            }
        })
    });
    // The goal's measure: every POST fixture, refused ones included (a refusal is verification alone, or
    // verification and a failed parse). Each outcome is checked once, outside the measurement.
    let every = fixture_deliveries();
    let handle = |provider: &Arc<dyn Provider>, delivery: &Delivery| match provider.authenticate(delivery) {
        Ok(verified) => provider.normalize(verified).map(|_| 200).unwrap_or(400),
        Err(_) => 401,
    };
    for (provider, delivery, status) in &every {
        assert_eq!(
            handle(provider, delivery),
            *status,
            "{} {}",
            provider.id(),
            delivery.body.len()
        );
    }
    c.bench_function(
        &format!(
            "verify+normalize, all {} POST fixtures, refused ones included",
            every.len()
        ),
        |b| {
            b.iter(|| {
                for (provider, delivery, _) in &every {
                    black_box(handle(provider, black_box(delivery)));
                }
            })
        },
    );
    for provider in [
        ProviderId::EsimGo,
        ProviderId::EsimAccess,
        ProviderId::Roamify,
        ProviderId::Airalo,
    ] {
        let mine: Vec<_> = all.iter().filter(|(p, _)| p.id() == provider).collect();
        c.bench_function(&format!("verify+normalize {provider} ({} fixtures)", mine.len()), |b| {
            b.iter(|| {
                for (p, delivery) in &mine {
                    black_box(p.normalize(p.authenticate(black_box(delivery)).unwrap()).unwrap());
                }
            })
        });
    }
}

fn adapter(c: &mut Criterion) {
    let text = std::fs::read_to_string(root().join("events/esimaccess/05-data-usage-low.json")).unwrap();
    let event: ApiGatewayV2httpRequest = serde_json::from_str(&text).unwrap();
    let pipeline = Pipeline::new(
        Arc::new(KvStore::in_memory()),
        Arc::new(MemorySink::new()),
        Arc::new(SystemClock),
        PipelineSettings::default(),
    );
    let service = Service::ready(providers()[1].clone(), Arc::new(pipeline), 128 * 1024);
    c.bench_function("api gateway event to delivery (adapter)", |b| {
        b.iter_batched(
            || event.clone(),
            |e| black_box(shared::lambda::delivery_from_apigw(e, &service).unwrap()),
            BatchSize::SmallInput,
        )
    });
}

fn pipeline(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let all = deliveries();
    let count = all.len();
    // Each iteration: a fresh in-memory store, every fixture through the real Service (store, state, alerts).
    c.bench_function(&format!("full pipeline, in-memory store, all {count} fixtures"), |b| {
        b.iter_batched(
            || {
                let store = Arc::new(KvStore::in_memory());
                let sink = Arc::new(MemorySink::new());
                let pipeline = Arc::new(Pipeline::new(
                    store,
                    sink,
                    Arc::new(SystemClock),
                    PipelineSettings::default(),
                ));
                providers()
                    .into_iter()
                    .map(|p| Service::ready(p, pipeline.clone(), 128 * 1024))
                    .collect::<Vec<_>>()
            },
            |services| {
                runtime.block_on(async {
                    for (provider, delivery) in &all {
                        let service = services.iter().find(|s| s.provider_id() == provider.id()).unwrap();
                        black_box(service.handle(delivery).await);
                    }
                })
            },
            BatchSize::SmallInput,
        )
    });
}

criterion_group!(benches, verify_and_normalize, adapter, pipeline);
criterion_main!(benches);
