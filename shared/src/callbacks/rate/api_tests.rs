//! The `PUT`'s `rate_limit` through the API, on the memory registry.

use super::*;
use crate::callbacks::api::CallbacksApi;
use crate::callbacks::partner::{generate_key, Partner, PartnerId, Scope};
use crate::callbacks::registry::{CallbackRegistry, MemoryRegistry};
use crate::callbacks::transport::MemoryTransport;
use crate::callbacks::url::StaticResolver;
use crate::clock::FixedClock;
use crate::ingress::Delivery;
use bytes::Bytes;
use lambda_http::http::{HeaderMap, HeaderValue, Method};
use serde_json::json;

const T0: &str = "2026-12-01T10:00:00Z";
const URL: &str = "https://hooks.acme.example/esim";

fn t0() -> DateTime<Utc> {
    FixedClock::at_rfc3339(T0).now()
}

struct Api {
    api: CallbacksApi,
    registry: Arc<MemoryRegistry>,
    key: String,
}

async fn api() -> Api {
    let clock = Arc::new(FixedClock::at_rfc3339(T0));
    let registry = Arc::new(MemoryRegistry::default());
    let key = generate_key().unwrap();
    let mut partner = Partner {
        id: PartnerId::parse("acme").unwrap(),
        name: "Acme".into(),
        key_hashes: vec![],
        created_at: clock.now(),
        signing_keys: Vec::new(),
        contact_email: None,
        scope: Scope::All,
    };
    partner.add_key(&key);
    registry.save_partner(&partner).await.unwrap();
    let api = CallbacksApi::new(
        registry.clone(),
        Arc::new(MemoryTransport::default()),
        Arc::new(StaticResolver(vec!["93.184.215.14".parse().unwrap()])),
        clock,
    );
    Api { api, registry, key }
}

impl Api {
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut headers = HeaderMap::new();
        headers.insert("x-api-key", HeaderValue::from_str(&self.key).unwrap());
        let request = Delivery {
            method,
            path: path.into(),
            query: String::new(),
            headers,
            source_ip: None,
            body: body.map(|b| Bytes::from(b.to_string())).unwrap_or_default(),
            received_at: t0(),
            request_id: None,
        };
        let reply = self.api.handle(&request).await;
        (reply.status, serde_json::from_str(&reply.body).unwrap())
    }

    async fn put(&self, kind: u16, body: Value) -> (u16, Value) {
        self.call(Method::PUT, &format!("/acme/callbacks/{kind}"), Some(body))
            .await
    }

    async fn stored(&self) -> Option<u32> {
        self.registry.endpoint(URL).await.unwrap().unwrap().rate_limit
    }
}

#[tokio::test]
async fn a_put_sets_keeps_and_clears_the_urls_rate_limit() {
    let api = api().await;
    let (status, reply) = api.put(1, json!({"url": URL, "rate_limit": 5})).await;
    assert_eq!((status, &reply["rate_limit"]), (201, &json!(5)), "{reply}");
    assert_eq!(api.stored().await, Some(5));
    // Another type at the same URL shares the endpoint, and so its rate.
    let (status, reply) = api.put(2, json!({"url": URL})).await;
    assert_eq!((status, &reply["rate_limit"]), (201, &json!(5)), "absent: unchanged");
    let (_, listed) = api.call(Method::GET, "/acme/callbacks", None).await;
    let rates: Vec<&Value> = listed["callbacks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["rate_limit"])
        .collect();
    assert_eq!(rates, [&json!(5), &json!(5)]);
    let (status, reply) = api.put(2, json!({"url": URL, "rate_limit": 20})).await;
    assert_eq!(
        (status, &reply["rate_limit"]),
        (200, &json!(20)),
        "the last PUT sets it"
    );
    assert_eq!(api.stored().await, Some(20));
    let (_, reply) = api.put(1, json!({"url": URL, "rate_limit": null})).await;
    assert_eq!(reply["rate_limit"], Value::Null, "null: no limit");
    assert_eq!(api.stored().await, None);
}

#[tokio::test]
async fn a_rate_limit_out_of_bounds_is_a_400_that_says_so_and_changes_nothing() {
    let api = api().await;
    api.put(1, json!({"url": URL, "rate_limit": 5})).await;
    for bad in [json!(0), json!(1001), json!(1.5), json!("10"), json!(-1)] {
        let (status, reply) = api.put(1, json!({"url": URL, "rate_limit": bad})).await;
        assert_eq!(status, 400, "{bad}: {reply}");
        assert_eq!(reply["error"]["code"], "bad_request");
        let message = reply["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("rate_limit") && message.contains("1 to 1000"),
            "{message}"
        );
    }
    assert_eq!(api.stored().await, Some(5));
}
