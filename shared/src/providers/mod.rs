//! A provider is a module here declaring its [`ProviderSpec`], and a value implementing [`Provider`] (how its
//! deliveries are authenticated, with its secrets). Adding one is its module, its line in the list of ids
//! (`model/provider_id.rs`), its arm in [`ProviderId::spec`] below, its binary in `functions/webhooks/src/bin`
//! and its entry in `scripts/template-providers.json`.

mod airalo_api;
mod airalo_canonical;
mod esimaccess_api;
pub use esimaccess_api::signature as esimaccess_signature;
mod esimgo_api;
mod gigastore_api;
mod json;
mod oneglobal_api;
pub mod registry;
mod roamify_api;

pub mod airalo;
pub mod esimaccess;
pub mod esimgo;
pub mod gigastore;
pub mod oneglobal;
pub mod roamify;

pub use crate::model::ProviderId;

impl ProviderId {
    /// Everything about this provider: one arm per provider of the list (`model/provider_id.rs`).
    pub fn spec(self) -> &'static ProviderSpec {
        match self {
            Self::EsimGo => &esimgo::SPEC,
            Self::EsimAccess => &esimaccess::SPEC,
            Self::Roamify => &roamify::SPEC,
            Self::Airalo => &airalo::SPEC,
            Self::Gigastore => &gigastore::SPEC,
            Self::OneGlobal => &oneglobal::SPEC,
        }
    }
}

pub use registry::{provider_from_env, ProviderConfig, ProviderSpec, Signature, SourceChecks};

use crate::auth::{AuthFailure, Verified};
use crate::ingress::Delivery;
use crate::model::{
    flag_once, DedupeBasis, DedupeKey, Event, EventKind, PayloadSha256, RawPadding, FLAG_ICCID_IMPLAUSIBLE,
};
use serde_json::value::RawValue;
use std::borrow::Cow;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NormalizeError {
    #[error("body is not valid JSON: {0}")]
    NotJson(String),
}

pub trait Provider: Send + Sync {
    fn id(&self) -> ProviderId;

    /// Whether the route answers `HEAD` with 200 (reachability checks before opt-in).
    fn answers_head(&self) -> bool {
        false
    }

    /// Checks the delivery's authenticity on the raw bytes, before anything parses them.
    fn authenticate<'a>(&self, delivery: &'a Delivery) -> Result<Verified<'a>, AuthFailure>;

    /// Maps an authenticated delivery to the common model. Unknown but readable payloads become
    /// [`EventKind::Unrecognized`]; only unreadable bodies are errors. The spec's `normalize`: no secret needed.
    fn normalize(&self, verified: Verified<'_>) -> Result<Event, NormalizeError> {
        (self.id().spec().normalize)(verified)
    }
}

/// Starts an event with the envelope every provider shares: the raw payload (kept verbatim), its hash, and the
/// dedupe key (the provider's id when given, else the body hash).
pub(crate) fn start_event(
    verified: &Verified<'_>,
    (raw, padding): (Box<RawValue>, RawPadding),
    kind: EventKind,
    provider_event_id: Option<Cow<'_, str>>,
) -> Event {
    let sha = PayloadSha256::of(verified.body());
    let (dedupe_key, basis) = match provider_event_id.map(into_trimmed).filter(|id| !id.is_empty()) {
        Some(id) => (DedupeKey::provider_id(id), DedupeBasis::ProviderId),
        None => (DedupeKey::body_hash(&sha), DedupeBasis::BodyHash),
    };
    let mut event = Event::new(
        verified.provider(),
        kind,
        dedupe_key,
        verified.delivery().received_at,
        sha,
        raw,
    );
    // Said, not inferred from the key: a provider's own id may itself begin with `sha256:`.
    event.dedupe_basis = basis;
    event.raw_padding = padding;
    event
}

/// The ICCID a body names, when it is plausible ([`crate::text::is_plausible_iccid`]). Anything else is
/// flagged `iccid_implausible` and never names an eSIM: not its state's key, not an alert's, not a message's.
pub(crate) fn plausible_iccid(iccid: Option<String>, flags: &mut Vec<String>) -> Option<String> {
    let iccid = iccid?;
    if crate::text::is_plausible_iccid(&iccid) {
        return Some(iccid);
    }
    flag_once(flags, FLAG_ICCID_IMPLAUSIBLE);
    None
}

/// `text` without surrounding whitespace, keeping its buffer when it has none.
fn into_trimmed(text: Cow<'_, str>) -> String {
    match text {
        Cow::Owned(text) if text.trim().len() == text.len() => text,
        text => text.trim().to_owned(),
    }
}

/// A body that is JSON but that a provider's field struct cannot hold (it names a key twice): kept as an
/// unrecognized event, flagged, so the authentic delivery is stored rather than refused. Not JSON at all: an
/// error.
pub(crate) fn unreadable(verified: &Verified<'_>, error: &serde_json::Error) -> Result<Event, NormalizeError> {
    let not_json = |e: &dyn std::fmt::Display| NormalizeError::NotJson(e.to_string());
    let text = std::str::from_utf8(verified.body()).map_err(|e| not_json(&e))?;
    // Validated here: the parse that failed did not read the body to its end.
    let (padding, value) = RawPadding::split(text);
    let raw = RawValue::from_string(value.to_owned()).map_err(|e| not_json(&e))?;
    let mut event = start_event(verified, (raw, padding), EventKind::Unrecognized, None);
    tracing::warn!(provider = %verified.provider(), %error, "body is JSON but its fields are unreadable: stored, not interpreted");
    event.flags.push("fields_unreadable".into());
    Ok(event)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::KeyRing;
    use bytes::Bytes;

    fn providers() -> Vec<std::sync::Arc<dyn Provider>> {
        ProviderId::ALL
            .iter()
            .map(|id| (id.spec().build)(&ProviderConfig::local(KeyRing::parse("k").unwrap())).unwrap())
            .collect()
    }

    fn normalize(provider: &dyn Provider, body: String) -> Result<Event, NormalizeError> {
        let delivery = Delivery {
            method: lambda_http::http::Method::POST,
            path: "/webhooks/x".into(),
            query: String::new(),
            headers: Default::default(),
            source_ip: None,
            body: Bytes::from(body),
            received_at: chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
            request_id: None,
        };
        provider.normalize(Verified::new(provider.id(), &delivery))
    }

    /// Deeply nested bodies, under every name a provider reads as an object, are
    /// read on a stack smaller than a Tokio worker's: the field structs do not recurse beyond what they read.
    #[test]
    fn deeply_nested_bodies_do_not_exhaust_a_small_stack() {
        let handle = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(|| {
                for provider in providers() {
                    for name in ["data", "content", "bundle", "device", "sims", "order_data", "x"] {
                        let body = format!("{{\"{name}\":{}{}}}", "{\"data\":[".repeat(60), "]}".repeat(60));
                        let event = normalize(provider.as_ref(), body).expect("127 levels is JSON");
                        assert_eq!(event.provider, provider.id());
                        // Deeper than a `Value` may be, in a name no provider reads: still JSON, stored.
                        let deeper = format!("{{\"{name}\":{}{}}}", "[".repeat(5000), "]".repeat(5000));
                        assert!(normalize(provider.as_ref(), deeper).is_ok());
                    }
                }
            })
            .unwrap();
        handle.join().expect("no stack overflow");
    }

    /// A number too large for a float is valid JSON: a delivery carrying one where a field is read is stored
    /// as unrecognized and flagged, not refused.
    #[test]
    fn json_the_fields_cannot_hold_is_stored_flagged() {
        for provider in providers() {
            let name = provider.id().spec().type_field.unwrap_or("iccid");
            let event = normalize(provider.as_ref(), format!("{{\"{name}\": 1e999}}")).unwrap();
            assert_eq!(event.kind, EventKind::Unrecognized);
            assert_eq!(event.flags, vec!["fields_unreadable".to_string()]);
            assert!(normalize(provider.as_ref(), "{\"a\": 1".into()).is_err());
        }
    }
}
