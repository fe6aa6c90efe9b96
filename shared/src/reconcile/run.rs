//! Asking for one eSIM and applying what the provider says: a reading that adds nothing to the eSIM's state
//! stores nothing; any other goes through the pipeline like a webhook (state, alerts, customer messages,
//! partner notifications), once.

use super::client::Reconciler;
use super::due::{due_now, validity_notices, DueRules, Why};
use super::{adds_nothing, measured_at, reading_event, Ask, AskError};
use crate::alerts::AlertRules;
use crate::clock::Clock;
use crate::model::ProviderId;
use crate::pipeline::{Outcome, Pipeline, PipelineError};
use crate::state::EsimState;
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

/// Asks `reconciler`'s provider about `ask` and applies the answer through `pipeline`, then notes on the
/// eSIM's state that it was asked (and files it for its next ask). A `429` with a short `Retry-After` is
/// waited out once.
pub async fn reconcile_one(
    reconciler: &Reconciler,
    ask: &Ask,
    pipeline: &Pipeline,
    states: &dyn StoreQuery,
    clock: &dyn Clock,
) -> Result<Asked, ReconcileError> {
    let provider = reconciler.provider;
    let asked_at = clock.now();
    let answer = match reconciler.read(ask, asked_at).await {
        Err(AskError::RateLimited(seconds)) if seconds <= MAX_WAIT_SECONDS => {
            tokio::time::sleep(std::time::Duration::from_secs(seconds)).await;
            reconciler.read(ask, clock.now()).await
        }
        read => read,
    };
    let (reading, body) = match answer {
        Err(AskError::UnknownEsim) => {
            pipeline.note_asked(provider, ask.value(), asked_at, None).await?;
            return Err(AskError::UnknownEsim.into());
        }
        answer => answer?,
    };
    if reading.usage.is_none() && reading.validity.is_none() && reading.status.is_none() {
        pipeline.note_asked(provider, ask.value(), asked_at, None).await?;
        return Ok(Asked::Empty);
    }
    let key = reading
        .esim
        .as_ref()
        .map_or(ask.value(), |esim| esim.key.as_str())
        .to_string();
    let heard_at = reading
        .usage
        .is_some()
        .then(|| measured_at(provider, &reading, clock.now()));
    let state = states.esim_state(provider, &key).await?;
    let asked = if adds_nothing(&reading, state.as_ref()) {
        Asked::Unchanged
    } else {
        let event = reading_event(provider, ask, reading, &body, clock.now())?;
        let outcome = pipeline.process(&event).await?;
        tracing::info!(
            provider = provider.as_str(),
            esim_ref = crate::model::log_ref(&key),
            outcome = outcome.as_str(),
            "asked reading applied"
        );
        Asked::Applied(outcome)
    };
    pipeline.note_asked(provider, &key, asked_at, heard_at).await?;
    if key != ask.value() {
        // Asked under another key than the answer's (an eSIM Access eSIM the directory named by ICCID): that
        // state was asked too, and is not asked again for never being heard.
        pipeline.note_asked(provider, ask.value(), asked_at, None).await?;
    }
    Ok(asked)
}

/// What one pass over a provider's due eSIMs did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct PassReport {
    /// eSIMs found filed to be asked by now.
    pub known: usize,
    pub due: usize,
    /// New readings applied.
    pub applied: usize,
    /// Answers that said what the state holds (or named nothing).
    pub unchanged: usize,
    pub failed: usize,
}

/// One eSIM asked in a pass, and how it went (for the caller's output).
pub struct AskedEsim<'a> {
    pub key: &'a str,
    pub why: Why,
    pub result: &'a Result<Asked, ReconcileError>,
}

/// The provider's eSIMs filed to be asked by `now` (at most `limit`, earliest first), split into those due at
/// `now`, with why, and those filed early: what a pass asks and refiles (and a dry run lists).
pub async fn due_esims(
    provider: ProviderId,
    states: &dyn StoreQuery,
    now: chrono::DateTime<chrono::Utc>,
    rules: (&AlertRules, &DueRules),
    limit: usize,
) -> Result<FiledEsims, StoreError> {
    let filed = states.filed_to_ask(provider, now, limit).await?;
    let validity_notices = validity_notices(provider);
    let mut found = FiledEsims::default();
    for state in filed {
        match due_now(&state, rules.0, rules.1, validity_notices, now) {
            Some(why) => found.due.push((state, why)),
            None => found.early.push(state),
        }
    }
    Ok(found)
}

/// The eSIMs a pass found filed to be asked.
#[derive(Debug, Default)]
pub struct FiledEsims {
    /// Due now, and why.
    pub due: Vec<(EsimState, Why)>,
    /// Filed before they are due (a delivery filed them early, or the rule changed): filed again.
    pub early: Vec<EsimState>,
}

/// How many asks one pass of `period` may make of a provider asked at most `per_second`.
pub fn pass_budget(per_second: u32, period: chrono::Duration) -> usize {
    (u64::from(per_second.max(1)) * period.num_seconds().max(1) as u64) as usize
}

/// Asks `reconciler`'s provider about every eSIM of its that is due at the clock's now, at most its budget a
/// second, and applies each answer. Wrong credentials end the pass (every ask would fail the same way).
pub async fn reconcile_due(
    reconciler: &Reconciler,
    pipeline: &Pipeline,
    states: &dyn StoreQuery,
    clock: &dyn Clock,
    rules: (&AlertRules, &DueRules),
    mut told: impl FnMut(AskedEsim<'_>),
) -> Result<PassReport, ReconcileError> {
    let budget = pass_budget(reconciler.per_second(), rules.1.period);
    let FiledEsims { due, early } = due_esims(reconciler.provider, states, clock.now(), rules, budget).await?;
    let pace = std::time::Duration::from_secs_f64(1.0 / f64::from(reconciler.per_second().max(1)));
    let mut report = PassReport {
        known: due.len() + early.len(),
        ..PassReport::default()
    };
    for state in &early {
        pipeline.refile(state.provider, &state.key).await?;
    }
    for (state, why) in &due {
        if report.due > 0 {
            tokio::time::sleep(pace).await;
        }
        report.due += 1;
        let result = reconcile_one(reconciler, &Ask::of_state(state), pipeline, states, clock).await;
        match &result {
            Ok(Asked::Applied(_)) => report.applied += 1,
            Ok(Asked::Unchanged | Asked::Empty) => report.unchanged += 1,
            Err(_) => report.failed += 1,
        }
        told(AskedEsim {
            key: &state.key,
            why: *why,
            result: &result,
        });
        if let Err(ReconcileError::Ask(AskError::Credentials(why))) = result {
            tracing::error!(
                provider = reconciler.provider.as_str(),
                reason = why,
                "the provider's API refused our credentials; its pass stops"
            );
            return Err(AskError::Credentials(why).into());
        }
        if let Err(error) = &result {
            tracing::warn!(provider = reconciler.provider.as_str(), %error, "asking an eSIM failed");
        }
    }
    tracing::info!(
        provider = reconciler.provider.as_str(),
        known = report.known,
        due = report.due,
        applied = report.applied,
        unchanged = report.unchanged,
        failed = report.failed,
        "reconcile pass"
    );
    Ok(report)
}
