//! The Lambda request adapter and the whole service behind it: arbitrary API Gateway events (bad base64,
//! huge or odd bodies, any headers and paths) always get a reply, never a panic.
#![no_main]
#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use shared::clock::SystemClock;
use shared::alerts::sink::MemorySink;
use shared::pipeline::{Pipeline, PipelineSettings};
use shared::service::Service;
use shared::store::KvStore;
use std::sync::{Arc, OnceLock};

struct World {
    runtime: tokio::runtime::Runtime,
    services: Vec<Service>,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let settings = PipelineSettings {
            busy_wait: std::time::Duration::ZERO,
            ..PipelineSettings::default()
        };
        let pipeline = Arc::new(Pipeline::new(
            Arc::new(KvStore::in_memory()),
            Arc::new(MemorySink::new()),
            Arc::new(SystemClock),
            settings,
        ));
        let ring = common::ring;
        let services = vec![
            Service::ready(
                Arc::new(shared::providers::esimaccess::EsimAccess::new(ring(), None)),
                pipeline.clone(),
                4096,
            ),
            Service::ready(
                Arc::new(shared::providers::airalo::Airalo::new(ring())),
                pipeline.clone(),
                4096,
            ),
            Service::fail_closed(shared::model::ProviderId::Roamify, "fuzzing"),
        ];
        World {
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
            services,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(event) = serde_json::from_slice::<lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequest>(data)
    else {
        let _ = shared::ingress::decode_body(
            std::str::from_utf8(data).ok(),
            data.first().is_some_and(|b| b & 1 == 1),
            64,
        );
        return;
    };
    let world = world();
    for service in &world.services {
        let response = world
            .runtime
            .block_on(shared::lambda::handle_apigw(service, event.clone()));
        assert!((200..600).contains(&response.status_code));
    }
});
