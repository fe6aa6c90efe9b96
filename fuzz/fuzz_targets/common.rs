//! Shared by the provider targets: build a delivery from fuzz input, and the checks every provider must pass.
#![allow(dead_code)]

use bytes::Bytes;
use lambda_http::http::{HeaderMap, HeaderName, HeaderValue, Method};
use shared::ingress::Delivery;
use shared::providers::Provider;

pub const SECRET: &str = "fuzz-secret-current";
pub const ROTATED: &str = "fuzz-secret-rotated";

pub fn ring() -> shared::auth::KeyRing {
    shared::auth::KeyRing::parse(&format!("{SECRET},{ROTATED}")).unwrap()
}

/// Splits fuzz input into (a header value, a body): the first byte is the header's length.
pub fn split(data: &[u8]) -> (&[u8], &[u8]) {
    match data.split_first() {
        Some((&len, rest)) => rest.split_at((len as usize).min(rest.len())),
        None => (&[], &[]),
    }
}

pub fn delivery(path: &str, query: &str, headers: &[(&'static str, &[u8])], body: &[u8]) -> Delivery {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        if let Ok(value) = HeaderValue::from_bytes(value) {
            map.insert(HeaderName::from_static(name), value);
        }
    }
    Delivery {
        method: Method::POST,
        path: path.into(),
        query: query.into(),
        headers: map,
        source_ip: None,
        body: Bytes::copy_from_slice(body),
        received_at: chrono::Utc::now(),
        request_id: None,
    }
}

/// Authentic deliveries normalize without panicking, and whatever they become serializes (so it can be stored).
pub fn must_normalize(provider: &dyn Provider, delivery: &Delivery) {
    let verified = provider
        .authenticate(delivery)
        .expect("a correctly signed delivery authenticates");
    if let Ok(event) = provider.normalize(verified) {
        serde_json::to_vec(&event).expect("every event serializes");
        assert_eq!(event.provider, provider.id());
        assert!(!event.dedupe_key.as_str().is_empty());
    }
}

pub fn hmac_sha256(key: &str, body: &[u8]) -> Vec<u8> {
    use hmac::{digest::KeyInit, Mac};
    let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(body);
    mac.finalize().into_bytes().to_vec()
}
