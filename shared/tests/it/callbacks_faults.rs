//! Partner callbacks when SNS fails, with the in-memory registry and transport: retiring an SNS subscription
//! left from before (esimhooks delivers callbacks itself now) that fails answers 503 and changes nothing the
//! partner sees, and the retry converges; removing a partner finishes on a second run; a disabled endpoint
//! comes back with a PUT; an event notification that cannot be published fails the delivery, and the
//! provider's retry offers it again without publishing the alert twice.

use crate::common;

use bytes::Bytes;
use common::*;
use lambda_http::http::{HeaderMap, HeaderValue, Method};
use serde_json::{json, Value};
use shared::callbacks::offboard::{remove_partner, retire_sns_subscriptions, Removed};
use shared::callbacks::partner::{generate_key, Partner, PartnerId};
use shared::callbacks::registry::{CallbackRegistry, Endpoint, MemoryRegistry};
use shared::callbacks::transport::MemoryTransport;
use shared::callbacks::url::StaticResolver;
use shared::callbacks::CallbacksApi;
use shared::clock::{Clock, FixedClock};
use shared::ingress::Delivery;
use std::sync::Arc;

const NOW: &str = "2026-04-22T18:00:00Z";
const URL: &str = "https://hooks.acme.example/esim";

struct Rig {
    api: CallbacksApi,
    registry: Arc<MemoryRegistry>,
    transport: Arc<MemoryTransport>,
    clock: Arc<FixedClock>,
    key: String,
}

impl Rig {
    async fn new() -> Self {
        let registry = Arc::new(MemoryRegistry::default());
        let transport = Arc::new(MemoryTransport::default());
        let clock = Arc::new(FixedClock::at_rfc3339(NOW));
        let key = generate_key().unwrap();
        let mut partner = Partner {
            id: PartnerId::parse("acme").unwrap(),
            name: "Acme".into(),
            key_hashes: vec![],
            created_at: clock.now(),
            signing_keys: Vec::new(),
            contact_email: None,
            scope: shared::callbacks::partner::Scope::All,
        };
        partner.add_key(&key);
        registry.save_partner(&partner).await.unwrap();
        let resolver = Arc::new(StaticResolver(vec!["93.184.215.14".parse().unwrap()]));
        let api = CallbacksApi::new(registry.clone(), transport.clone(), resolver, clock.clone());
        Self {
            api,
            registry,
            transport,
            clock,
            key,
        }
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        self.call_as(&self.key, method, path, body).await
    }

    async fn call_as(&self, key: &str, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut headers = HeaderMap::new();
        headers.insert("x-api-key", HeaderValue::from_str(key).unwrap());
        let request = Delivery {
            method,
            path: path.into(),
            query: String::new(),
            headers,
            source_ip: None,
            body: body.map_or(Bytes::new(), |b| Bytes::from(b.to_string())),
            received_at: self.clock.now(),
            request_id: None,
        };
        let reply = self.api.handle(&request).await;
        (reply.status, serde_json::from_str(&reply.body).unwrap_or(Value::Null))
    }

    /// Gives `url` (registered by `partner`) an SNS subscription from before, as older deployments made.
    async fn with_old_subscription(&self, partner: &str, url: &str, arn: &str) {
        let endpoint = Endpoint {
            url: url.into(),
            partner: PartnerId::parse(partner).unwrap(),
            subscription_arn: arn.into(),
            failing_since: None,
            disabled_at: None,
            rate_limit: None,
        };
        self.registry.save_endpoint(&endpoint).await.unwrap();
    }
}

#[tokio::test]
async fn a_registration_that_cannot_retire_an_old_sns_subscription_is_a_503_and_its_retry_converges() {
    let rig = Rig::new().await;
    rig.with_old_subscription("acme", URL, "arn:old:1").await;
    rig.transport.fail_next(1);
    let (status, reply) = rig
        .call(Method::PUT, "/acme/callbacks/1", Some(json!({"url": URL})))
        .await;
    assert_eq!(status, 503, "{reply}");
    assert_eq!(reply["error"]["code"], "dependency_failure");
    let (_, listed) = rig.call(Method::GET, "/acme/callbacks", None).await;
    assert!(listed["callbacks"].as_array().unwrap().is_empty(), "nothing registered");

    let (status, reply) = rig
        .call(Method::PUT, "/acme/callbacks/1", Some(json!({"url": URL})))
        .await;
    assert_eq!(status, 201, "{reply}");
    assert_eq!(reply["endpoint_status"], "active");
    assert_eq!(
        rig.transport.unsubscribed(),
        ["arn:old:1"],
        "the partner is not called twice"
    );
    assert_eq!(rig.registry.endpoints()[0].subscription_arn, "");

    // Moving the type to another URL lets the first go; deleting the last callback lets the second go.
    let other = "https://crm.acme.example/esim";
    assert_eq!(
        rig.call(Method::PUT, "/acme/callbacks/1", Some(json!({"url": other})))
            .await
            .0,
        200
    );
    let urls: Vec<String> = rig.registry.endpoints().into_iter().map(|e| e.url).collect();
    assert_eq!(urls, [other]);
    assert_eq!(rig.call(Method::DELETE, "/acme/callbacks/1", None).await.0, 200);
    assert!(rig.registry.endpoints().is_empty());
}

#[tokio::test]
async fn removing_a_partner_revokes_it_and_removes_its_endpoints_and_a_failed_run_is_finished_by_the_next() {
    let rig = Rig::new().await;
    let bee_key = generate_key().unwrap();
    let mut bee = Partner {
        id: PartnerId::parse("bee").unwrap(),
        name: "Bee".into(),
        key_hashes: vec![],
        created_at: rig.clock.now(),
        signing_keys: Vec::new(),
        contact_email: None,
        scope: shared::callbacks::partner::Scope::All,
    };
    bee.add_key(&bee_key);
    rig.registry.save_partner(&bee).await.unwrap();
    let (crm, bee_url) = ("https://crm.acme.example/esim", "https://hooks.bee.example/esim");
    for (path, url) in [
        ("/acme/callbacks/1", URL),
        ("/acme/callbacks/2", URL),
        ("/acme/callbacks/11", crm),
    ] {
        assert_eq!(rig.call(Method::PUT, path, Some(json!({"url": url}))).await.0, 201);
    }
    let put = rig
        .call_as(&bee_key, Method::PUT, "/bee/callbacks/1", Some(json!({"url": bee_url})))
        .await;
    assert_eq!(put.0, 201);
    assert_eq!(rig.registry.endpoints().len(), 3);
    // The acme URLs still have SNS subscriptions from an older deployment.
    rig.with_old_subscription("acme", URL, "arn:old:acme-1").await;
    rig.with_old_subscription("acme", crm, "arn:old:acme-2").await;
    let acme = PartnerId::parse("acme").unwrap();

    // SNS fails: the run stops, but the keys are already revoked and nothing is half-removed.
    rig.transport.fail_next(1);
    assert!(remove_partner(rig.registry.as_ref(), rig.transport.as_ref(), &acme)
        .await
        .is_err());
    assert_eq!(rig.call(Method::GET, "/acme/callbacks", None).await.0, 401);
    assert_eq!(rig.registry.endpoints().len(), 3);

    let removed = remove_partner(rig.registry.as_ref(), rig.transport.as_ref(), &acme)
        .await
        .unwrap();
    assert_eq!(
        removed,
        Some(Removed {
            callbacks: 3,
            endpoints: 2
        })
    );
    assert_eq!(
        rig.transport.unsubscribed(),
        ["arn:old:acme-2", "arn:old:acme-1"],
        "by URL"
    );
    assert!(rig.registry.partner(&acme).await.unwrap().is_none());
    assert!(rig.registry.registrations(&acme).await.unwrap().is_empty());
    assert_eq!(rig.registry.endpoints().len(), 1);
    let (status, listed) = rig.call_as(&bee_key, Method::GET, "/bee/callbacks", None).await;
    assert_eq!((status, listed["callbacks"][0]["url"].clone()), (200, json!(bee_url)));

    assert_eq!(
        remove_partner(rig.registry.as_ref(), rig.transport.as_ref(), &acme)
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn a_disabled_endpoint_is_listed_so_and_a_put_enables_it_again() {
    let rig = Rig::new().await;
    assert_eq!(
        rig.call(Method::PUT, "/acme/callbacks/1", Some(json!({"url": URL})))
            .await
            .0,
        201
    );
    let mut endpoint = rig.registry.endpoints().remove(0);
    endpoint.failing_since = Some(rig.clock.now());
    endpoint.disabled_at = Some(rig.clock.now());
    rig.registry.save_endpoint(&endpoint).await.unwrap();
    let (_, listed) = rig.call(Method::GET, "/acme/callbacks", None).await;
    assert_eq!(listed["callbacks"][0]["endpoint_status"], "disabled");

    let (status, reply) = rig
        .call(Method::PUT, "/acme/callbacks/1", Some(json!({"url": URL})))
        .await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["endpoint_status"], "active");
    assert_eq!(rig.registry.endpoints()[0].disabled_at, None);
}

#[tokio::test]
async fn retiring_the_old_sns_subscriptions_removes_each_once() {
    let rig = Rig::new().await;
    for (path, url) in [
        ("/acme/callbacks/1", URL),
        ("/acme/callbacks/2", "https://crm.acme.example/esim"),
    ] {
        assert_eq!(rig.call(Method::PUT, path, Some(json!({"url": url}))).await.0, 201);
    }
    rig.with_old_subscription("acme", URL, "arn:old:1").await;
    let retire = || retire_sns_subscriptions(rig.registry.as_ref(), rig.transport.as_ref());
    assert_eq!(retire().await.unwrap(), 1);
    assert_eq!(rig.transport.unsubscribed(), ["arn:old:1"]);
    assert_eq!(retire().await.unwrap(), 0, "done once");
    assert!(rig.registry.endpoints().iter().all(|e| e.subscription_arn.is_empty()));
}

#[tokio::test]
async fn an_event_notification_that_fails_fails_the_delivery_and_is_offered_again() {
    let fixture = fixtures("esimaccess")
        .into_iter()
        .find(|f| f.file.contains("data-usage-low"))
        .expect("the eSIM Access low-data fixture");
    let h = Harness::new(fixture_provider(ProviderId::EsimAccess), NOW, quick_settings());
    let (service, sink) = (&h.service, &h.sink);
    let delivery = delivery(&fixture, h.clock.now());

    // The alert is published, then the event notification fails: the provider is told to retry.
    sink.fail_next_event_notifications(1);
    assert_eq!(service.handle(&delivery).await.status, 503);
    assert_eq!(sink.published().len(), 1);
    assert!(sink.event_notifications().is_empty());

    assert_eq!(service.handle(&delivery).await.status, 200);
    assert_eq!(sink.published().len(), 1, "the alert is not published again");
    let offered = sink.event_notifications();
    assert_eq!(offered.len(), 1);
    assert_eq!(offered[0].body.notification_name, "event.data_usage");

    assert_eq!(service.handle(&delivery).await.status, 200);
    assert_eq!(sink.event_notifications().len(), 1, "a duplicate is not offered again");
}
