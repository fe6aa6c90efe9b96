//! Asking for one eSIM and applying what the provider says: a reading that adds nothing to the eSIM's state
//! stores nothing; any other goes through the pipeline like a webhook (state, alerts, customer messages,
//! partner notifications), once.

use super::client::Reconciler;
use super::{adds_nothing, reading_event, Ask, AskError};
use crate::clock::Clock;
use crate::pipeline::{Outcome, Pipeline, PipelineError};
use crate::store::{StoreError, StoreQuery};

/// The longest `Retry-After` waited for in place; a longer one is the caller's to schedule.
const MAX_WAIT_SECONDS: u64 = 60;

/// What asking did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asked {
    /// A new reading, through the pipeline.
    Applied(Outcome),
    /// The provider said what the state already holds: nothing stored.
    Unchanged,
    /// The answer named nothing to apply (an eSIM without a plan).
    Empty,
}

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error(transparent)]
    Ask(#[from] AskError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
}

/// Asks `reconciler`'s provider about `ask` and applies the answer through `pipeline`. A `429` with a short
/// `Retry-After` is waited out once.
pub async fn reconcile_one(
    reconciler: &Reconciler,
    ask: &Ask,
    pipeline: &Pipeline,
    states: &dyn StoreQuery,
    clock: &dyn Clock,
) -> Result<Asked, ReconcileError> {
    let (reading, body) = match reconciler.read(ask, clock.now()).await {
        Err(AskError::RateLimited(seconds)) if seconds <= MAX_WAIT_SECONDS => {
            tokio::time::sleep(std::time::Duration::from_secs(seconds)).await;
            reconciler.read(ask, clock.now()).await?
        }
        read => read?,
    };
    if reading.usage.is_none() && reading.validity.is_none() && reading.status.is_none() {
        return Ok(Asked::Empty);
    }
    let provider = reconciler.provider;
    let key = reading.esim.as_ref().map_or(ask.value(), |esim| esim.key.as_str());
    let state = states.esim_state(provider, key).await?;
    if adds_nothing(&reading, state.as_ref()) {
        return Ok(Asked::Unchanged);
    }
    let event = reading_event(provider, ask, reading, &body, clock.now())?;
    Ok(Asked::Applied(pipeline.process(&event).await?))
}
