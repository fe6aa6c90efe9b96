//! Asking for one eSIM and applying what the provider says: a reading that adds nothing to the eSIM's state
//! stores nothing; any other goes through the pipeline like a webhook (state, alerts, customer messages,
//! partner notifications), once.

use super::client::Reconciler;
use super::{adds_nothing, measured_at, reading_event, Ask, AskError, Reading};
use crate::alerts::AlertRules;
use crate::clock::Clock;
use crate::due::{due_now, validity_notices, DueRules, Why};
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
    let applying = Applying::new(reconciler, pipeline, states, clock);
    let answer = waiting_out_a_short_limit(clock, |now| reconciler.read(ask, now)).await;
    match answer {
        Err(AskError::UnknownEsim) => applying.unknown(ask).await,
        Err(error) => Err(error.into()),
        Ok((reading, body)) => applying.apply(ask, reading, &body).await,
    }
}

/// Asks about several eSIMs of `reconciler`'s provider in one call where its API has a batch endpoint and
/// each is asked by the provider's reference (at most [`Reconciler::batch_size`]), else one by one; applies
/// each answer as [`reconcile_one`] does. One result per ask, in order.
pub async fn reconcile_call(
    reconciler: &Reconciler,
    asks: &[Ask],
    pipeline: &Pipeline,
    states: &dyn StoreQuery,
    clock: &dyn Clock,
) -> Vec<Result<Asked, ReconcileError>> {
    let references: Option<Vec<&str>> = asks.iter().map(Ask::reference).collect();
    let references = match references {
        Some(references) if asks.len() > 1 && asks.len() <= reconciler.batch_size() => references,
        _ => {
            let mut results = Vec::with_capacity(asks.len());
            for ask in asks {
                results.push(reconcile_one(reconciler, ask, pipeline, states, clock).await);
            }
            return results;
        }
    };
    let applying = Applying::new(reconciler, pipeline, states, clock);
    let answer = waiting_out_a_short_limit(clock, |now| reconciler.read_batch(&references, now)).await;
    let mut readings = match answer {
        Ok(readings) => readings,
        Err(error) => return asks.iter().map(|_| Err(error.clone().into())).collect(),
    };
    let mut results = Vec::with_capacity(asks.len());
    for (ask, reference) in asks.iter().zip(references) {
        let result = match readings.iter().position(|(answered, _, _)| answered == reference) {
            Some(at) => {
                let (_, reading, body) = readings.swap_remove(at);
                applying.apply(ask, reading, &body).await
            }
            None => applying.unknown(ask).await,
        };
        results.push(result);
    }
    results
}

/// Asks with `ask` at the clock's now; a `429` with a `Retry-After` of at most a minute is waited out once.
async fn waiting_out_a_short_limit<T, F: std::future::Future<Output = Result<T, AskError>>>(
    clock: &dyn Clock,
    ask: impl Fn(chrono::DateTime<chrono::Utc>) -> F,
) -> Result<T, AskError> {
    match ask(clock.now()).await {
        Err(AskError::RateLimited(seconds)) if seconds <= MAX_WAIT_SECONDS => {
            tokio::time::sleep(std::time::Duration::from_secs(seconds)).await;
            ask(clock.now()).await
        }
        answer => answer,
    }
}

/// Applies what one ask heard.
struct Applying<'a> {
    provider: ProviderId,
    pipeline: &'a Pipeline,
    states: &'a dyn StoreQuery,
    clock: &'a dyn Clock,
    asked_at: chrono::DateTime<chrono::Utc>,
}

impl<'a> Applying<'a> {
    /// For an ask made now.
    fn new(reconciler: &Reconciler, pipeline: &'a Pipeline, states: &'a dyn StoreQuery, clock: &'a dyn Clock) -> Self {
        Self {
            provider: reconciler.provider,
            pipeline,
            states,
            clock,
            asked_at: clock.now(),
        }
    }

    /// The provider does not know the eSIM: noted as asked, so it is not asked again for that.
    async fn unknown(&self, ask: &Ask) -> Result<Asked, ReconcileError> {
        self.pipeline
            .note_asked(self.provider, ask.value(), self.asked_at, None)
            .await?;
        Err(AskError::UnknownEsim.into())
    }

    /// A reading that adds nothing to the eSIM's state stores nothing; any other goes through the pipeline.
    async fn apply(&self, ask: &Ask, reading: Reading, body: &[u8]) -> Result<Asked, ReconcileError> {
        let (provider, pipeline) = (self.provider, self.pipeline);
        if reading.usage.is_none() && reading.validity.is_none() && reading.status.is_none() {
            pipeline.note_asked(provider, ask.value(), self.asked_at, None).await?;
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
            .then(|| measured_at(provider, &reading, self.clock.now()));
        let state = self.states.esim_state(provider, &key).await?;
        let asked = if adds_nothing(&reading, state.as_ref()) {
            Asked::Unchanged
        } else {
            let event = reading_event(provider, ask, reading, body, self.clock.now())?;
            let outcome = pipeline.process(&event).await?;
            tracing::info!(
                provider = provider.as_str(),
                esim_ref = crate::model::log_ref(&key),
                outcome = outcome.as_str(),
                "asked reading applied"
            );
            Asked::Applied(outcome)
        };
        pipeline.note_asked(provider, &key, self.asked_at, heard_at).await?;
        if key != ask.value() {
            // Asked under another key than the answer's (an eSIM Access eSIM the directory named by ICCID): that
            // state was asked too, and is not asked again for never being heard.
            pipeline.note_asked(provider, ask.value(), self.asked_at, None).await?;
        }
        Ok(asked)
    }
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

/// The calls `asks` are made in, as ranges of them in order: consecutive asks by the provider's reference
/// together, `batch_size` at most; any other ask alone.
pub fn calls(asks: &[Ask], batch_size: usize) -> Vec<std::ops::Range<usize>> {
    let mut calls: Vec<std::ops::Range<usize>> = Vec::new();
    for (at, ask) in asks.iter().enumerate() {
        let joins = ask.reference().is_some()
            && calls.last().is_some_and(|last| {
                last.end == at && last.len() < batch_size && asks[last.start].reference().is_some()
            });
        match calls.last_mut() {
            Some(last) if joins => last.end = at + 1,
            _ => calls.push(at..at + 1),
        }
    }
    calls
}

/// How many calls one pass of `period` may make of a provider asked at most `per_second` (a call asks about
/// up to its batch size of eSIMs).
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
    let budget = reconciler.pass_esims(rules.1.period);
    let FiledEsims { due, early } = due_esims(reconciler.provider, states, clock.now(), rules, budget).await?;
    let pace = std::time::Duration::from_secs_f64(1.0 / f64::from(reconciler.per_second().max(1)));
    let mut report = PassReport {
        known: due.len() + early.len(),
        ..PassReport::default()
    };
    for state in &early {
        pipeline.refile(state.provider, &state.key).await?;
    }
    let asks: Vec<Ask> = due.iter().map(|(state, _)| Ask::of_state(state)).collect();
    for (call, range) in calls(&asks, reconciler.batch_size()).into_iter().enumerate() {
        if call > 0 {
            tokio::time::sleep(pace).await;
        }
        let results = reconcile_call(reconciler, &asks[range.clone()], pipeline, states, clock).await;
        let mut refused = None;
        for ((state, why), result) in due[range].iter().zip(&results) {
            report.due += 1;
            match result {
                Ok(Asked::Applied(_)) => report.applied += 1,
                Ok(Asked::Unchanged | Asked::Empty) => report.unchanged += 1,
                Err(_) => report.failed += 1,
            }
            told(AskedEsim {
                key: &state.key,
                why: *why,
                result,
            });
            match result {
                Err(ReconcileError::Ask(AskError::Credentials(why))) => refused = Some(why.clone()),
                Err(error) => tracing::warn!(provider = reconciler.provider.as_str(), %error, "asking an eSIM failed"),
                Ok(_) => {}
            }
        }
        if let Some(why) = refused {
            tracing::error!(
                provider = reconciler.provider.as_str(),
                reason = why,
                "the provider's API refused our credentials; its pass stops"
            );
            return Err(AskError::Credentials(why).into());
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
