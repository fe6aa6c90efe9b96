//! The deployed asking: one binary, two functions. Invoked by its schedule (EventBridge Scheduler), it selects
//! each asked provider's due eSIMs from the asking index and queues a job per eSIM on
//! `ESIMHOOKS_RECONCILE_QUEUE_URL`; invoked by that queue, it asks each eSIM, every worker keeping to its share
//! (`ESIMHOOKS_RECONCILE_CONCURRENCY`, the queue trigger's maximum concurrency) of each provider's budget.

use super::function_config::ReconcileConfig;
use super::StartupError;
use crate::aws::{send_messages, SsmSecrets};
use crate::clock::{Clock, SystemClock};
use crate::config::{process_env, ConfigError, Settings};
use crate::metrics::{ask_line, ask_schedule_line};
use crate::model::ProviderId;
use crate::pipeline::{Outcome, Pipeline};
use crate::reconcile::client::{reconciler_from_env, Reconciler};
use crate::reconcile::fanout::{retried, schedule_asks, work_job, worker_pace, JobOutcome, WorkerJob};
use crate::reconcile::http::HttpsTransport;
use crate::reconcile::{AskError, Asked, ReconcileError};
use crate::sqs_event::{BatchResponse, ItemFailure, SqsEvent};
use crate::store::dynamodb::DynamoStore;
use crate::store::StoreError;
use crate::telemetry;
use lambda_http::lambda_runtime::{self, LambdaEvent};
use lambda_http::{service_fn, Error};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::OnceCell;

/// Why a scheduled run queued nothing.
#[derive(Debug, thiserror::Error)]
enum ScheduleError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Reconcile(#[from] ReconcileError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

struct Asking {
    pipeline: Pipeline,
    settings: Settings,
    states: DynamoStore,
    sdk: aws_config::SdkConfig,
    /// The providers' API clients, built at the first job (the scheduler never reads the credentials).
    reconcilers: OnceCell<HashMap<ProviderId, Reconciler>>,
    concurrency: u32,
    /// The workers' queue, where the scheduler puts its jobs.
    queue_url: Option<String>,
    /// When this worker last asked each provider.
    last_ask: tokio::sync::Mutex<HashMap<ProviderId, tokio::time::Instant>>,
}

/// The whole `main` of the asking functions.
pub async fn run_reconcile() -> Result<(), Error> {
    telemetry::init_json();
    let asking = match build().await {
        Ok(asking) => Arc::new(asking),
        Err(reason) => {
            tracing::error!(%reason, "configuration incomplete: asking the providers cannot run");
            return Err(reason.to_string().into());
        }
    };
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| {
        let asking = Arc::clone(&asking);
        async move {
            if event.payload.get("Records").is_some() {
                let batch: SqsEvent = serde_json::from_value(event.payload)?;
                Ok::<_, Error>(serde_json::to_value(asking.work(batch).await)?)
            } else {
                asking.schedule().await?;
                Ok(serde_json::Value::Null)
            }
        }
    }))
    .await
}

async fn build() -> Result<Asking, StartupError> {
    let config = ReconcileConfig::from_env(&process_env)?;
    let (pipeline, sdk) = super::build_pipeline(&config.sending, &config.targets, super::Telling::Downstream).await?;
    let settings = config.sending.settings;
    let states = DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        config.targets.table,
        settings.retention,
    );
    Ok(Asking {
        pipeline,
        settings,
        states,
        sdk,
        reconcilers: OnceCell::new(),
        concurrency: config.concurrency,
        queue_url: config.queue_url,
        last_ask: Default::default(),
    })
}

impl Asking {
    /// Queues every asked provider's due eSIMs. An error fails the invocation (and alarms); the next one
    /// finds the same eSIMs still filed.
    async fn schedule(&self) -> Result<(), ScheduleError> {
        let queue = self
            .queue_url
            .clone()
            .ok_or_else(|| ConfigError::Missing("ESIMHOOKS_RECONCILE_QUEUE_URL".into()))?;
        let plan = &self.settings.pipeline.asking;
        let (jobs, report) = schedule_asks(
            plan,
            &self.settings.pipeline.rules,
            &self.states,
            &self.pipeline,
            &SystemClock,
        )
        .await?;
        let sqs = aws_sdk_sqs::Client::new(&self.sdk);
        let jobs = jobs.into_iter().map(WorkerJob::Ask).collect();
        queue_jobs(&sqs, &queue, jobs).await?;
        let now = SystemClock.now().timestamp_millis();
        for provider in &report {
            println!(
                "{}",
                ask_schedule_line(provider.provider, provider.queued, provider.refiled, now)
            );
            tracing::info!(
                provider = provider.provider,
                queued = provider.queued,
                refiled = provider.refiled,
                "asking scheduled"
            );
        }
        Ok(())
    }

    async fn reconcilers(&self) -> &HashMap<ProviderId, Reconciler> {
        self.reconcilers
            .get_or_init(|| async {
                let env = process_env;
                let ssm = SsmSecrets(aws_sdk_ssm::Client::new(&self.sdk));
                let plan = &self.settings.pipeline.asking;
                let mut found = HashMap::new();
                let transport = match HttpsTransport::new() {
                    Ok(t) => Arc::new(t),
                    Err(error) => {
                        tracing::error!(%error, "no HTTPS client: no provider can be asked");
                        return found;
                    }
                };
                for &provider in &plan.providers {
                    match reconciler_from_env(provider, plan, &env, &ssm, transport.clone()).await {
                        Ok(Some(reconciler)) => {
                            found.insert(provider, reconciler);
                        }
                        Ok(None) => {}
                        Err(reason) => {
                            tracing::error!(provider = provider.as_str(), %reason, "API credentials unusable")
                        }
                    }
                }
                found
            })
            .await
    }

    /// Asks each job's eSIM, pacing each provider's asks to its share of the budget. A job the API could not
    /// answer now stays on the queue (a batch item failure) and comes back after its visibility timeout.
    async fn work(&self, batch: SqsEvent) -> BatchResponse {
        let reconcilers = self.reconcilers().await;
        let rules = (&self.settings.pipeline.rules, &self.settings.pipeline.asking);
        // Kept across invocations: a warm worker's next batch keeps to the pace of its last.
        let mut last_ask = self.last_ask.lock().await;
        let mut response = BatchResponse::default();
        for record in batch.records {
            let job = match serde_json::from_str::<WorkerJob>(&record.body) {
                Ok(WorkerJob::Ask(job)) => job,
                Ok(WorkerJob::Expiry { provider, esim }) => {
                    if let Err(error) = self.pipeline.raise_expiry(provider, &esim).await {
                        tracing::warn!(provider = provider.as_str(), %error, "expiry alert not raised; retried");
                        response.failures.push(ItemFailure { id: record.message_id });
                    }
                    continue;
                }
                Ok(WorkerJob::Outbox { alert, channel }) => {
                    match self.pipeline.send_queued_notification(&alert, channel).await {
                        Ok(report) if report.retry == 0 => {}
                        Ok(_) => response.failures.push(ItemFailure { id: record.message_id }),
                        Err(error) => {
                            tracing::warn!(%error, "held customer message not sent; retried");
                            response.failures.push(ItemFailure { id: record.message_id });
                        }
                    }
                    continue;
                }
                Err(_) => {
                    tracing::warn!(message_id = record.message_id, "not a worker job; dropped");
                    continue;
                }
            };
            let Some(reconciler) = reconcilers.get(&job.provider) else {
                println!(
                    "{}",
                    ask_line(job.provider.as_str(), false, Some("credentials"), now_ms())
                );
                tracing::error!(
                    provider = job.provider.as_str(),
                    "the provider's API credentials are not usable; job kept"
                );
                response.failures.push(ItemFailure { id: record.message_id });
                continue;
            };
            let pace = worker_pace(reconciler.per_second(), self.concurrency);
            if let Some(last) = last_ask.get(&job.provider) {
                tokio::time::sleep_until(*last + pace).await;
            }
            let started = tokio::time::Instant::now();
            let results = work_job(&job, reconciler, &self.pipeline, &self.states, &SystemClock, rules).await;
            if results.iter().any(|result| !matches!(result, Ok(JobOutcome::NotDue))) {
                last_ask.insert(job.provider, started);
            }
            let provider = job.provider.as_str();
            let mut retry = false;
            for result in &results {
                match result {
                    Ok(JobOutcome::NotDue) => {}
                    Ok(outcome) => {
                        let new = matches!(outcome, JobOutcome::Asked(Asked::Applied(Outcome::Stored { .. })));
                        println!("{}", ask_line(provider, new, None, now_ms()));
                    }
                    Err(error) => {
                        println!("{}", ask_line(provider, false, Some(failure_reason(error)), now_ms()));
                        if let ReconcileError::Ask(AskError::Credentials(why)) = error {
                            tracing::error!(
                                provider,
                                reason = why.as_str(),
                                "the provider's API refused our credentials"
                            );
                        } else {
                            tracing::warn!(provider, %error, why = job.why, "asking an eSIM failed");
                        }
                        retry |= retried(error);
                    }
                }
            }
            // The whole call again: its eSIMs asked meanwhile are no longer due and are not asked twice.
            if retry {
                response.failures.push(ItemFailure { id: record.message_id });
            }
        }
        response
    }
}

/// Puts `jobs` on the workers' queue (`ESIMHOOKS_RECONCILE_QUEUE_URL`): the scheduler's asks, the sweep's
/// expiry alerts and held customer messages.
pub async fn queue_jobs(sqs: &aws_sdk_sqs::Client, queue_url: &str, jobs: Vec<WorkerJob>) -> Result<(), StoreError> {
    let bodies: Vec<String> = jobs.iter().filter_map(|job| serde_json::to_string(job).ok()).collect();
    send_messages(sqs, queue_url, &bodies).await
}

fn failure_reason(error: &ReconcileError) -> &'static str {
    match error {
        ReconcileError::Ask(AskError::Credentials(_)) => "credentials",
        ReconcileError::Ask(AskError::RateLimited(_)) => "rate_limited",
        ReconcileError::Ask(AskError::Unavailable(_)) => "unavailable",
        ReconcileError::Ask(AskError::Malformed(_)) => "malformed",
        ReconcileError::Ask(AskError::Unaskable(_) | AskError::UnknownEsim) => "unaskable",
        ReconcileError::Store(_) | ReconcileError::Pipeline(_) => "store",
    }
}

fn now_ms() -> i64 {
    SystemClock.now().timestamp_millis()
}
