//! Shared by the provider targets: build a delivery from fuzz input, and the checks every provider must pass.
#![allow(dead_code)]

use bytes::Bytes;
use lambda_http::http::{HeaderMap, HeaderName, HeaderValue, Method};
use shared::ingress::Delivery;
use shared::model::{Event, PayloadSha256, EARLIEST_PROVIDER_TIME, PROVIDER_CLOCK_AHEAD_LIMIT};
use shared::providers::Provider;
use shared::text::{is_plausible_iccid, is_unsafe};

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

/// Authentic deliveries normalize without panicking, and whatever they become serializes (so it can be stored)
/// and reads back with the exact bytes received; provider times stay within the bound, and no text the event
/// keeps carries a control character.
pub fn must_normalize(provider: &dyn Provider, delivery: &Delivery) -> Option<Event> {
    let verified = provider
        .authenticate(delivery)
        .expect("a correctly signed delivery authenticates");
    let event = provider.normalize(verified).ok()?;
    let stored = serde_json::to_string(&event).expect("every event serializes");
    assert_eq!(event.provider, provider.id());
    assert!(!event.dedupe_key.as_str().is_empty());

    let read_back: Event = serde_json::from_str(&stored).expect("a stored event reads back");
    assert_eq!(
        read_back.raw_body().as_bytes(),
        &delivery.body[..],
        "the raw payload is the exact bytes"
    );
    assert_eq!(PayloadSha256::of(read_back.raw_body().as_bytes()), event.payload_sha256);

    let latest = delivery.received_at + PROVIDER_CLOCK_AHEAD_LIMIT;
    let measured = event.usage.as_ref().and_then(|u| u.measured_at);
    for at in std::iter::once(event.occurred_at).chain(measured) {
        assert!(at <= latest, "a time beyond the bound: {at}");
        assert!(at >= EARLIEST_PROVIDER_TIME || at == delivery.received_at, "{at}");
    }

    let mut normalized = event.clone();
    normalized.raw = serde_json::value::RawValue::from_string("null".into()).unwrap();
    normalized.raw_padding = Default::default();
    let text = serde_json::to_value(&normalized).unwrap();
    assert_clean(&text);
    if let Some(iccid) = event.esim.as_ref().and_then(|e| e.iccid.as_deref()) {
        assert!(is_plausible_iccid(iccid), "{iccid:?}");
    }
    Some(event)
}

/// The reseller's own words in the customer check: its link, and a name.
const TOPUP_URL: &str = "https://shop.example/t/1";

/// Every customer message an authentic delivery's alerts make, in every built-in language, carries no URL, no
/// e-mail address and no unsafe character but the reseller's own, and no text of the provider's bundle.
pub fn assert_customer_text_is_ours(event: &Event) {
    use shared::alerts::{evaluate, AlertRules};
    use shared::customers::{customer_message, Contact, ContactFields, CustomerSettings};
    let now = event.received_at;
    for alert in evaluate(event, None, &AlertRules::default(), now) {
        for locale in ["en", "es", "fr", "de"] {
            let contact = Contact::from_fields(&ContactFields {
                provider: Some(event.provider.as_str().into()),
                esim_ref: Some("E-1".into()),
                name: Some("Ana".into()),
                locale: Some(locale.into()),
                topup_url: Some(TOPUP_URL.into()),
                ..ContactFields::default()
            })
            .expect("a valid contact");
            let Some(message) = customer_message(&alert, &contact, &CustomerSettings::default()) else {
                continue;
            };
            // Bundle text that our own words happen to contain ("of data left") is not the provider's doing.
            let unbundled = shared::alerts::Alert { bundle: None, ..alert.clone() };
            let ours = customer_message(&unbundled, &contact, &CustomerSettings::default()).expect("the same facts");
            let ours = ours.texts().concat();
            let bundle = alert.bundle.iter().flat_map(|b| [b.name.as_deref(), b.reference.as_deref()]).flatten();
            let bundle: Vec<&str> = bundle.filter(|text| text.len() >= 8 && !ours.contains(text)).collect();
            for text in message.texts() {
                let theirs = text.replace(TOPUP_URL, "");
                assert!(!theirs.contains("://") && !theirs.contains("www.") && !theirs.contains('@'), "{text:?}");
                assert!(!text.chars().any(|c| is_unsafe(c) && c != '\n'), "{text:?}");
                for provider_text in &bundle {
                    assert!(!text.contains(provider_text), "{provider_text:?} in {text:?}");
                }
            }
        }
    }
}

/// No string in `value` (keys included) has a character a person or terminal must not get.
fn assert_clean(value: &serde_json::Value) {
    match value {
        serde_json::Value::String(text) => assert!(!text.chars().any(is_unsafe), "{text:?}"),
        serde_json::Value::Array(items) => items.iter().for_each(assert_clean),
        serde_json::Value::Object(fields) => {
            for (name, value) in fields {
                assert!(!name.chars().any(is_unsafe), "{name:?}");
                assert_clean(value);
            }
        }
        _ => {}
    }
}

pub fn hmac_sha256(key: &str, body: &[u8]) -> Vec<u8> {
    use hmac::{digest::KeyInit, Mac};
    let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(body);
    mac.finalize().into_bytes().to_vec()
}
