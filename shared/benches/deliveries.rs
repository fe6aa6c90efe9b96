//! Per-delivery cost of the hot path, over every fixture in fixtures/ (both rotated secrets configured):
//! verify + normalize, the API Gateway adapter, and the whole in-process pipeline with the in-memory store,
//! without and with customers to tell.
//!
//!     cargo bench -p shared --bench deliveries

mod fixtures;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use fixtures::{deliveries, fixture_deliveries, providers, root, status};
use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use shared::alerts::sink::MemorySink;
use shared::clock::SystemClock;
use shared::customers::records::MemorySender;
use shared::customers::service::CustomerNotifier;
use shared::customers::CustomerSettings;
use shared::model::ProviderId;
use shared::pipeline::{Pipeline, PipelineSettings};
use shared::service::Service;
use shared::store::KvStore;
use std::hint::black_box;
use std::sync::Arc;

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
    for (provider, delivery, expected) in &every {
        assert_eq!(
            status(provider.as_ref(), delivery),
            *expected,
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
                    black_box(status(provider.as_ref(), black_box(delivery)));
                }
            })
        },
    );
    for &provider in ProviderId::ALL {
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
    let esimaccess = providers()
        .into_iter()
        .find(|p| p.id() == ProviderId::EsimAccess)
        .unwrap();
    let service = Service::ready(esimaccess, Arc::new(pipeline), 128 * 1024);
    c.bench_function("api gateway event to delivery (adapter)", |b| {
        b.iter_batched(
            || event.clone(),
            |e| black_box(shared::lambda::delivery_from_apigw(e, &service).unwrap()),
            BatchSize::SmallInput,
        )
    });
}

/// Contacts for every eSIM the fixtures name, so each alert is told to a customer (SMS and email).
fn directory() -> Arc<KvStore<shared::store::MemoryBackend>> {
    use shared::customers::{Contact, ContactFields, ContactStore};
    let store = Arc::new(KvStore::in_memory());
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    for (provider, delivery) in deliveries() {
        let Ok(event) = provider.normalize(provider.authenticate(&delivery).unwrap()) else {
            continue;
        };
        let Some(esim) = event.esim else { continue };
        let fields = ContactFields {
            provider: Some(provider.id().as_str().into()),
            esim_ref: Some(esim.key.clone()),
            phone: Some("+34612345678".into()),
            email: Some("ana@example.es".into()),
            locale: Some("es".into()),
            ..Default::default()
        };
        let contact = Contact::from_fields(&fields).unwrap();
        runtime.block_on(store.upsert(&contact)).unwrap();
    }
    store
}

fn pipeline(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let all = deliveries();
    let count = all.len();
    let contacts = directory();
    // Each iteration: a fresh in-memory store, every fixture through the real Service (store, state, alerts),
    // without a customer directory, then with one that has a contact for every eSIM (quiet hours off).
    for with_customers in [false, true] {
        let name = match with_customers {
            false => format!("full pipeline, in-memory store, all {count} fixtures"),
            true => format!("full pipeline with customers told, all {count} fixtures"),
        };
        c.bench_function(&name, |b| {
            b.iter_batched(
                || {
                    let store = Arc::new(KvStore::in_memory());
                    let sink = Arc::new(MemorySink::new());
                    let mut pipeline =
                        Pipeline::new(store.clone(), sink, Arc::new(SystemClock), PipelineSettings::default());
                    if with_customers {
                        pipeline = pipeline.with_customers(Arc::new(CustomerNotifier {
                            contacts: contacts.clone(),
                            notifications: store,
                            sender: Arc::new(MemorySender::default()),
                            settings: CustomerSettings {
                                quiet_hours: None,
                                sms_daily_cap: 0,
                                ..Default::default()
                            },
                        }));
                    }
                    let pipeline = Arc::new(pipeline);
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
}

criterion_group!(benches, verify_and_normalize, adapter, pipeline);
criterion_main!(benches);
