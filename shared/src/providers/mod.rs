//! A provider is a value implementing [`Provider`]: how its deliveries are authenticated and how they map to
//! the common model. Adding one is a module here, a thin crate in `functions/`, a route and docs.

pub mod airalo;
mod airalo_canonical;
pub mod esimaccess;
pub mod esimgo;
mod json;
pub mod roamify;

pub use json::Body;

use crate::auth::{AuthFailure, Verified};
use crate::ingress::Delivery;
use crate::model::{DedupeKey, Event, EventKind, ProviderId};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

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
    /// [`EventKind::Unrecognized`]; only unreadable bodies are errors.
    fn normalize(&self, verified: Verified<'_>) -> Result<Event, NormalizeError>;
}

/// The hex sha256 of a body.
pub fn payload_sha256(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

/// Starts an event with the envelope every provider shares: the raw payload (validated and kept verbatim as a
/// `RawValue`: a second pass over the body after the provider's own parse), its hash, and the dedupe key (the
/// provider's id when given, else the body hash).
pub(crate) fn start_event(
    verified: &Verified<'_>,
    kind: EventKind,
    provider_event_id: Option<&str>,
) -> Result<Event, NormalizeError> {
    let body = verified.body();
    let raw: Box<RawValue> = serde_json::from_slice(body).map_err(|e| NormalizeError::NotJson(e.to_string()))?;
    let sha = payload_sha256(body);
    let dedupe_key = match provider_event_id.map(str::trim).filter(|id| !id.is_empty()) {
        Some(id) => DedupeKey::provider_id(id),
        None => DedupeKey::body_hash(&sha),
    };
    Ok(Event::new(
        verified.provider(),
        kind,
        dedupe_key,
        verified.delivery().received_at,
        sha,
        raw,
    ))
}
