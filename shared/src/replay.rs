//! Replaying stored deliveries through the current normalizers: after a fix to a provider's mapping, or to
//! finish deliveries whose processing failed. Only stored payloads can be replayed, and a payload is stored only
//! after it was authenticated, so replay re-normalizes without re-verifying (signatures are not stored).

use crate::auth::Verified;
use crate::ingress::Delivery;
use crate::model::Event;
use crate::pipeline::{Outcome, Pipeline, PipelineError};
use crate::providers::NormalizeError;
use crate::store::DeliveryStatus;
use bytes::Bytes;
use lambda_http::http::{HeaderMap, Method};

/// The stored payload normalized again by the current code, keeping the original receipt time.
pub fn renormalize(stored: &Event) -> Result<Event, NormalizeError> {
    let delivery = Delivery {
        method: Method::POST,
        path: format!("/webhooks/{}", stored.provider),
        query: String::new(),
        headers: HeaderMap::new(),
        source_ip: None,
        body: Bytes::copy_from_slice(stored.raw_body().as_bytes()),
        received_at: stored.received_at,
        request_id: None,
    };
    let mut event = (stored.provider.spec().normalize)(Verified::new(stored.provider, &delivery))?;
    // Stored under the key the delivery had before its dedupe basis changed: it keeps that identity, so
    // replay finds the stored record (and its alerts keep their ids) instead of making a second one.
    crate::compat::former::keep_stored_key(&mut event, &stored.dedupe_key);
    Ok(event)
}

/// How one replayed delivery went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replayed {
    /// Processed now: it had not completed, or its dedupe key changed, or (forced) state or alerts moved.
    Changed,
    /// Nothing to do.
    Unchanged,
}

/// Replays one stored delivery. Honouring dedupe, a completed delivery is left alone; `force` re-applies its
/// state and alerts anyway (still idempotent: an alert already sent is not sent again).
pub async fn replay_one(pipeline: &Pipeline, stored: &Event, force: bool) -> Result<Replayed, ReplayError> {
    let event = renormalize(stored)?;
    if force {
        // The stored record takes the current normalization when it differs (same key and payload).
        let differs = serde_json::to_value(&event).ok() != serde_json::to_value(stored).ok();
        let rewritten = event.dedupe_key == stored.dedupe_key
            && differs
            && pipeline
                .store()
                .rewrite_event(&event)
                .await
                .map_err(PipelineError::from)?;
        let moved = pipeline.reprocess(&event).await?;
        return Ok(if rewritten || moved {
            Replayed::Changed
        } else {
            Replayed::Unchanged
        });
    }
    // Left alone here, not by the pipeline's dedupe, which would count the replay as a copy a provider sent.
    let status = pipeline
        .store()
        .delivery_status(event.provider, &event.dedupe_key)
        .await;
    if status.map_err(PipelineError::from)? == Some(DeliveryStatus::Completed) {
        return Ok(Replayed::Unchanged);
    }
    match pipeline.process(&event).await? {
        Outcome::Stored { .. } => Ok(Replayed::Changed),
        Outcome::Duplicate | Outcome::Conflict => Ok(Replayed::Unchanged),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error(transparent)]
    Normalize(#[from] NormalizeError),
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
}
