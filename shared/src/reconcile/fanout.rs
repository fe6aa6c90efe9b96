//! Asking at scale, deployed: a scheduled pass selects each asked provider's due eSIMs from the asking index
//! (no scan) and queues one job per eSIM; workers take jobs from the queue, each keeping to its share of the
//! provider's budget, so many invocations serve a large fleet within every rate limit. Transport-free: the
//! queue and the Lambda wiring are in `runtime::reconcile`.

use super::client::Reconciler;
use super::run::{calls, due_esims, pass_budget, reconcile_call, Asked, FiledEsims, ReconcileError};
use super::{batch_size, Ask, AskError};
use crate::alerts::AlertRules;
use crate::clock::Clock;
use crate::due::{due_now, validity_notices, AskingPlan};
use crate::model::ProviderId;
use crate::pipeline::Pipeline;
use crate::store::StoreQuery;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

/// One call to make: an eSIM to ask, and where the provider's API reads several at once, the others asked in
/// the same call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AskJob {
    pub provider: ProviderId,
    pub esim: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also: Vec<String>,
    /// Why it was due when queued (for the log).
    pub why: String,
}

impl AskJob {
    /// Every eSIM the job asks about.
    pub fn esims(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.esim.as_str()).chain(self.also.iter().map(String::as_str))
    }
}

/// States filed again at once by the scheduler.
const REFILES_IN_FLIGHT: usize = 16;

/// What a worker is handed on the queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "job", rename_all = "snake_case")]
pub enum WorkerJob {
    /// Ask the provider about an eSIM.
    Ask(AskJob),
    /// Raise an eSIM's expiry alert: the sweep's batch was larger than one run handles in place.
    Expiry { provider: ProviderId, esim: String },
    /// Send a customer message held for quiet hours: the outbox's batch was larger than one run sends.
    Outbox {
        alert: String,
        channel: crate::customers::records::Channel,
    },
}

/// What the scheduler did for one provider.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ScheduledProvider {
    pub provider: &'static str,
    pub queued: usize,
    /// Found filed before they were due, and filed again.
    pub refiled: usize,
}

/// The scheduler's pass: for every provider asked, its due eSIMs (at most one pass's budget, earliest filed
/// first) become jobs, and those filed early are filed again at their exact next ask.
pub async fn schedule_asks(
    plan: &AskingPlan,
    alerts: &AlertRules,
    states: &dyn StoreQuery,
    pipeline: &Pipeline,
    clock: &dyn Clock,
) -> Result<(Vec<AskJob>, Vec<ScheduledProvider>), ReconcileError> {
    let (mut jobs, mut report) = (Vec::new(), Vec::new());
    for &provider in &plan.providers {
        let budget = pass_budget(plan.per_second(provider), plan.rules.period) * batch_size(provider);
        let FiledEsims { due, early } = due_esims(provider, states, clock.now(), (alerts, &plan.rules), budget).await?;
        // Each refile is a read and a conditional write of its own: a few at once.
        let mut refiles = futures_util::stream::iter(&early)
            .map(|state| pipeline.refile(provider, &state.key))
            .buffer_unordered(REFILES_IN_FLIGHT);
        while let Some(refiled) = refiles.next().await {
            refiled?;
        }
        report.push(ScheduledProvider {
            provider: provider.as_str(),
            queued: due.len(),
            refiled: early.len(),
        });
        let asks: Vec<Ask> = due.iter().map(|(state, _)| Ask::of_state(state)).collect();
        jobs.extend(calls(&asks, batch_size(provider)).into_iter().map(|call| {
            let mut keys = due[call.clone()].iter().map(|(state, _)| state.key.clone());
            AskJob {
                provider,
                esim: keys.next().unwrap_or_default(),
                also: keys.collect(),
                why: due[call.start].1.as_str().into(),
            }
        }));
    }
    Ok((jobs, report))
}

/// What a worker did with one job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobOutcome {
    Asked(Asked),
    /// No longer due (asked since it was queued, or a delivery told what asking would): not asked.
    NotDue,
    /// The provider does not know the eSIM: noted, not retried.
    Unknown,
}

/// Whether a failed job is worth retrying from the queue: the API was unavailable or limited us, or our store
/// failed. Wrong credentials and malformed answers are not (the operator must act; the metric says so).
pub fn retried(error: &ReconcileError) -> bool {
    match error {
        ReconcileError::Ask(AskError::RateLimited(_) | AskError::Unavailable(_)) => true,
        ReconcileError::Ask(_) => false,
        ReconcileError::Store(_) | ReconcileError::Pipeline(_) => true,
    }
}

/// A worker's job: asks about each of its eSIMs that is still due (or was never heard of), in one call where
/// the provider's API reads several at once, and applies the answers. One outcome per eSIM, in the job's order.
pub async fn work_job(
    job: &AskJob,
    reconciler: &Reconciler,
    pipeline: &Pipeline,
    states: &dyn StoreQuery,
    clock: &dyn Clock,
    (alerts, plan): (&AlertRules, &AskingPlan),
) -> Vec<Result<JobOutcome, ReconcileError>> {
    let notices = validity_notices(job.provider);
    let mut outcomes: Vec<Option<Result<JobOutcome, ReconcileError>>> = Vec::new();
    let mut asks = Vec::new();
    for esim in job.esims() {
        match states.esim_state(job.provider, esim).await {
            Err(error) => outcomes.push(Some(Err(error.into()))),
            Ok(Some(state)) if due_now(&state, alerts, &plan.rules, notices, clock.now()).is_none() => {
                outcomes.push(Some(Ok(JobOutcome::NotDue)));
            }
            Ok(state) => {
                asks.push(state.map_or_else(|| Ask::guess(esim), |state| Ask::of_state(&state)));
                outcomes.push(None);
            }
        }
    }
    let mut asked = reconcile_call(reconciler, &asks, pipeline, states, clock)
        .await
        .into_iter();
    outcomes
        .into_iter()
        .map(|outcome| {
            outcome.unwrap_or_else(|| match asked.next() {
                Some(Ok(asked)) => Ok(JobOutcome::Asked(asked)),
                Some(Err(ReconcileError::Ask(AskError::UnknownEsim))) => Ok(JobOutcome::Unknown),
                Some(Err(error)) => Err(error),
                None => Ok(JobOutcome::NotDue),
            })
        })
        .collect()
}

/// How long a worker waits between two asks of one provider, when `concurrency` workers share its budget.
pub fn worker_pace(per_second: u32, concurrency: u32) -> std::time::Duration {
    std::time::Duration::from_secs_f64(f64::from(concurrency.max(1)) / f64::from(per_second.max(1)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reconcile::run::pass_budget;

    #[test]
    fn workers_together_keep_to_the_budget_and_retry_only_what_may_pass() {
        // Five workers sharing eSIM Go's 10/s: each asks every half second; one pass of 15 minutes, 9,000 asks.
        assert_eq!(worker_pace(10, 5), std::time::Duration::from_millis(500));
        assert_eq!(worker_pace(8, 1), std::time::Duration::from_millis(125));
        assert_eq!(pass_budget(10, chrono::Duration::minutes(15)), 9_000);
        assert!(retried(&AskError::RateLimited(120).into()));
        assert!(retried(&AskError::Unavailable("HTTP 502".into()).into()));
        assert!(!retried(&AskError::Credentials("HTTP 401".into()).into()));
        assert!(!retried(&AskError::Malformed("not JSON".into()).into()));
        let job = AskJob {
            provider: ProviderId::EsimGo,
            esim: "8944500000000000001".into(),
            also: Vec::new(),
            why: "not heard from".into(),
        };
        let body = serde_json::to_string(&job).unwrap();
        assert_eq!(
            body,
            r#"{"provider":"esimgo","esim":"8944500000000000001","why":"not heard from"}"#
        );
        assert_eq!(serde_json::from_str::<AskJob>(&body).unwrap(), job);
        let batch = AskJob {
            provider: ProviderId::EsimAccess,
            esim: "T-1".into(),
            also: vec!["T-2".into(), "T-3".into()],
            why: "next level near".into(),
        };
        let body = serde_json::to_string(&batch).unwrap();
        assert_eq!(serde_json::from_str::<AskJob>(&body).unwrap(), batch);
        assert_eq!(batch.esims().collect::<Vec<_>>(), ["T-1", "T-2", "T-3"]);
    }
}
