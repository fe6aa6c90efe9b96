//! The scope check every local store runs (memory in unit tests, SQLite in the CLI's): two partners of scope
//! `own` (acme, bee), one of scope `all` (ops), and three eSIMs (acme's, bee's, no one's). A low-data delivery
//! for each goes through the pipeline and the local sender; what each partner's URL receives is returned, so
//! the caller can check that each alert and event reached its owner and `ops` only.

use super::delivery::Response;
use super::local::{LocalCallbacks, PartnerSink};
use super::partner::{Partner, PartnerId, Scope};
use super::registry::{CallbackRegistry, Endpoint, Registration};
use super::sender::Poster;
use crate::alerts::sink::MemorySink;
use crate::clock::{Clock, FixedClock};
use crate::model::{Bundle, DataUsage, DedupeKey, EsimIdentity, Event, EventKind, PayloadSha256, ProviderId};
use crate::notification::NotificationType;
use crate::ownership::assign;
use crate::pipeline::{Pipeline, PipelineSettings};
use crate::store::{KvBackend, KvStore};
use async_trait::async_trait;
use bytes::Bytes;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

/// The eSIMs of the check: acme's, bee's and one no partner owns.
pub const ACME_ESIM: &str = "8944500000000000011";
pub const BEE_ESIM: &str = "8944500000000000022";
pub const UNOWNED_ESIM: &str = "8944500000000000033";

/// What one partner's URL received: (notification name, eSIM key), in order.
pub type Received = BTreeMap<String, BTreeSet<(String, String)>>;

#[derive(Default)]
struct Capture(Mutex<Vec<(String, Bytes)>>);

#[async_trait]
impl Poster for Capture {
    async fn post(&self, url: &str, _headers: &[(&str, String)], body: Bytes) -> (Response, std::time::Duration) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((url.to_string(), body));
        let ok = Response::Status {
            code: 204,
            retry_after_seconds: None,
        };
        (ok, std::time::Duration::from_millis(1))
    }
}

fn reading(key: &str, at: chrono::DateTime<chrono::Utc>) -> Event {
    let raw = serde_json::value::RawValue::from_string("{}".into()).expect("static JSON");
    let id = DedupeKey::provider_id(format!("usage-{key}"));
    let mut event = Event::new(
        ProviderId::EsimGo,
        EventKind::DataUsage,
        id,
        at,
        PayloadSha256::ZERO,
        raw,
    );
    event.esim = Some(EsimIdentity {
        key: key.into(),
        iccid: Some(key.into()),
        refs: Default::default(),
    });
    event.bundle = Some(Bundle {
        reference: Some("esim_1GB_7D_IT_V2".into()),
        name: None,
    });
    let usage = DataUsage {
        total_bytes: Some(1_000_000_000),
        remaining_bytes: Some(150_000_000),
        ..DataUsage::default()
    };
    event.usage = Some(usage.complete());
    event
}

async fn partner<B: KvBackend>(store: &KvStore<B>, id: &str, scope: Scope, at: chrono::DateTime<chrono::Utc>) {
    let id = PartnerId::parse(id).expect("a valid id");
    let partner = Partner {
        id: id.clone(),
        name: id.to_string(),
        key_hashes: Vec::new(),
        created_at: at,
        signing_keys: Vec::new(),
        contact_email: None,
        scope,
    };
    store.save_partner(&partner).await.expect("saved");
    let url = format!("https://{id}.partner.example/hook");
    let endpoint = Endpoint {
        url: url.clone(),
        partner: id.clone(),
        subscription_arn: String::new(),
        failing_since: None,
        disabled_at: None,
        rate_limit: None,
    };
    store.save_endpoint(&endpoint).await.expect("saved");
    for notification_type in [NotificationType::LowData, NotificationType::DataUsage] {
        let registration = Registration {
            partner: id.clone(),
            notification_type,
            url: url.clone(),
            created_at: at,
            updated_at: at,
        };
        store.save_registration(&registration).await.expect("saved");
    }
}

/// Runs the check on `store` (empty); returns what each partner (by id) received.
pub async fn deliver_to_scoped_partners<B: KvBackend + 'static>(store: Arc<KvStore<B>>) -> Received {
    let clock = Arc::new(FixedClock::at_rfc3339("2026-12-07T10:00:00Z"));
    let now = clock.now();
    partner(&store, "acme", Scope::Own, now).await;
    partner(&store, "bee", Scope::Own, now).await;
    partner(&store, "ops", Scope::All, now).await;
    for (key, owner) in [(ACME_ESIM, "acme"), (BEE_ESIM, "bee")] {
        let owner = PartnerId::parse(owner);
        assign(store.as_ref(), ProviderId::EsimGo, key, owner.as_ref(), now, |_| {})
            .await
            .expect("assigned");
    }
    let capture = Arc::new(Capture::default());
    let callbacks = Arc::new(LocalCallbacks::new(store.clone(), capture.clone(), clock.clone()));
    let sink = PartnerSink {
        inner: Arc::new(MemorySink::default()),
        callbacks: callbacks.clone(),
    };
    let pipeline = Pipeline::new(store.clone(), Arc::new(sink), clock, PipelineSettings::default());
    for key in [ACME_ESIM, BEE_ESIM, UNOWNED_ESIM] {
        pipeline.process(&reading(key, now)).await.expect("processed");
    }
    callbacks.deliver_due().await.expect("delivered");
    let mut received = Received::new();
    for (url, body) in capture.0.lock().unwrap_or_else(|e| e.into_inner()).iter() {
        let partner = url.trim_start_matches("https://").split('.').next().unwrap_or_default();
        let body: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
        let name = body["notification_name"].as_str().unwrap_or_default().to_string();
        let esim = body["data"]["esim"]["key"].as_str().unwrap_or_default().to_string();
        received.entry(partner.to_string()).or_default().insert((name, esim));
    }
    received
}

/// What [`deliver_to_scoped_partners`] must return: acme and bee their own eSIM's alert and event, ops all.
pub fn expected() -> Received {
    let both = |keys: &[&str]| {
        keys.iter()
            .flat_map(|k| {
                [
                    (NotificationType::LowData.name().to_string(), k.to_string()),
                    (NotificationType::DataUsage.name().to_string(), k.to_string()),
                ]
            })
            .collect()
    };
    Received::from([
        ("acme".to_string(), both(&[ACME_ESIM])),
        ("bee".to_string(), both(&[BEE_ESIM])),
        ("ops".to_string(), both(&[ACME_ESIM, BEE_ESIM, UNOWNED_ESIM])),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn each_notification_reaches_its_owner_and_the_all_partner_only_in_memory() {
        let received = deliver_to_scoped_partners(Arc::new(KvStore::in_memory())).await;
        assert_eq!(received, expected());
    }
}
