//! Delivering partner callbacks one endpoint at a time. A notification fans out into one job per registered
//! endpoint; each job is attempted on its own (a slow or dead endpoint delays no other), signed with the
//! partner's live Standard Webhooks secrets, logged, and judged by the delivery rules. The queue that carries
//! jobs between attempts (SQS deployed, SQLite locally) is the caller's; this decides what happens. A delivery
//! given up on (its schedule spent, its endpoint disabled) is kept with the attempt log, so it can be
//! recovered (`recovery.rs`) once the partner's endpoint works again.

use super::delivery::{failing_too_long, judge, Response, RetrySchedule, Verdict, DISABLE_AFTER};
use super::partner::PartnerId;
use super::rate::{self, Pace, Pause};
use super::registry::{CallbackRegistry, Endpoint};
use super::signing::signed_headers;
use crate::clock::Clock;
use crate::config::ConfigError;
use crate::customers::records::{Channel, CustomerSender};
use crate::customers::CustomerMessage;
use crate::metrics::directive;
pub use crate::notification::NotificationMessage;
use crate::store::StoreError;
use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::Arc;

/// One callback to one endpoint: what the queue carries between attempts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallbackJob {
    pub notification_id: String,
    pub notification_type: u16,
    pub partner: PartnerId,
    pub url: String,
    pub body: String,
    /// The partner the notification's eSIM belongs to: checked again at each attempt and at recovery, so a
    /// partner whose scope narrowed gets nothing about another's eSIM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<PartnerId>,
}

/// One attempt, in the partner's attempt log (kept 30 days).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttemptRecord {
    pub partner: PartnerId,
    pub url: String,
    pub notification_id: String,
    pub notification_type: u16,
    pub attempt: u32,
    pub at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub latency_ms: u64,
    pub verdict: Verdict,
    /// The partner the notification's eSIM belongs to (none: unowned, or no eSIM): a partner lists only the
    /// attempts its scope shows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<PartnerId>,
}

/// A delivery given up on: its schedule spent, or its endpoint disabled (a `410`, failing too long). Kept as
/// long as the attempt log, until recovered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailedDelivery {
    pub job: CallbackJob,
    pub failed_at: DateTime<Utc>,
    /// Attempts made: 0 when the endpoint was already disabled.
    pub attempts: u32,
}

/// Where attempts are logged and deliveries given up on are kept (30 days).
#[async_trait]
pub trait AttemptLog: Send + Sync {
    async fn record(&self, attempt: &AttemptRecord) -> Result<(), StoreError>;
    /// Keeps a delivery given up on, until it is recovered or 30 days old.
    async fn park(&self, failed: &FailedDelivery) -> Result<(), StoreError>;
    /// A partner's deliveries given up on at or after `since`, oldest first, at most `limit`.
    async fn parked(
        &self,
        partner: &PartnerId,
        since: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<FailedDelivery>, StoreError>;
    /// Forgets a recovered delivery.
    async fn unpark(&self, failed: &FailedDelivery) -> Result<(), StoreError>;
    /// A partner's attempts from `since` to before `until`, newest first, at most `limit`.
    async fn attempts(
        &self,
        partner: &PartnerId,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<AttemptRecord>, StoreError>;
}

/// Carries jobs to their first attempt: SQS deployed, the local store's queue in `serve`.
#[async_trait]
pub trait JobQueue: Send + Sync {
    async fn enqueue(&self, jobs: &[CallbackJob]) -> Result<(), StoreError>;
}

/// Posts one signed callback (HTTPS deployed; a double in tests).
#[async_trait]
pub trait Poster: Send + Sync {
    async fn post(&self, url: &str, headers: &[(&str, String)], body: Bytes) -> (Response, std::time::Duration);
}

#[cfg(feature = "aws")]
#[async_trait]
impl Poster for super::http::HttpPoster {
    async fn post(&self, url: &str, headers: &[(&str, String)], body: Bytes) -> (Response, std::time::Duration) {
        super::http::HttpPoster::post(self, url, headers, body).await
    }
}

pub struct Sender {
    pub registry: Arc<dyn CallbackRegistry>,
    pub poster: Arc<dyn Poster>,
    pub log: Arc<dyn AttemptLog>,
    pub clock: Arc<dyn Clock>,
    pub schedule: RetrySchedule,
    /// An endpoint failing every attempt this long is disabled.
    pub disable_after: Duration,
    /// Print an EMF metrics line per attempt (the Lambda sender; off in tests and locally).
    pub emit_metrics: bool,
    /// Tells a partner with a `contact_email` that an endpoint was disabled (SES deployed).
    pub notices: Option<Arc<dyn CustomerSender>>,
    /// Waits for a send slot under an endpoint's rate limit (a sleep; tests return at once).
    pub pause: Arc<dyn Pause>,
    /// A slot at most this far off is waited for in place; a later one defers the job ([`rate::DEFAULT_LEAD`]).
    pub rate_lead: Duration,
}

impl Sender {
    pub fn new(
        registry: Arc<dyn CallbackRegistry>,
        poster: Arc<dyn Poster>,
        log: Arc<dyn AttemptLog>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let pause = Arc::new(rate::Sleep(clock.clone()));
        Self {
            registry,
            poster,
            log,
            clock,
            schedule: RetrySchedule::default(),
            disable_after: DISABLE_AFTER,
            emit_metrics: false,
            notices: None,
            pause,
            rate_lead: rate::DEFAULT_LEAD,
        }
    }

    /// Takes the retry schedule and the disabling span from the environment where set
    /// (`ESIMHOOKS_CALLBACK_RETRY_SCHEDULE`, `ESIMHOOKS_CALLBACK_DISABLE_AFTER`): deployed and local alike.
    pub fn configure(&mut self, env: crate::config::Env<'_>) -> Result<(), ConfigError> {
        self.follow(super::delivery::DeliveryPolicy::from_env(env)?);
        Ok(())
    }

    /// Retries and disables endpoints as `policy` says.
    pub fn follow(&mut self, policy: super::delivery::DeliveryPolicy) {
        self.schedule = policy.schedule;
        self.disable_after = policy.disable_after;
    }

    /// The jobs a notification makes: one per endpoint registered for its type and audience. One for a
    /// disabled endpoint is given up on at once (kept, recoverable once the endpoint is enabled again).
    pub async fn fan_out(&self, message: &NotificationMessage) -> Result<Vec<CallbackJob>, StoreError> {
        let registrations = self.registry.registrations_for(message).await?;
        let mut jobs = Vec::new();
        for registration in registrations {
            let endpoint = self.registry.endpoint(&registration.url).await?;
            let job = CallbackJob {
                notification_id: message.notification_id.clone(),
                notification_type: message.notification_type.number(),
                partner: registration.partner,
                url: registration.url,
                body: message.body.clone(),
                owner: message.owner.clone(),
            };
            if endpoint.is_some_and(|e| e.disabled_at.is_some()) {
                self.give_up(job, 0).await?;
            } else {
                jobs.push(job);
            }
        }
        Ok(jobs)
    }

    async fn give_up(&self, job: CallbackJob, attempts: u32) -> Result<(), StoreError> {
        let failed = FailedDelivery {
            job,
            failed_at: self.clock.now(),
            attempts,
        };
        self.log.park(&failed).await
    }

    /// Attempt number `attempt` (1 for the first) of `job`: signed with the partner's live secrets, posted,
    /// logged, judged. A `410` disables the endpoint, and so does failing for longer than `disable_after`.
    /// A job for a disabled endpoint is `Exhausted`; for a removed partner, `Dropped`. A job given up on
    /// (exhausted, or its endpoint disabled) is kept for recovery. One the partner no longer hears of (its
    /// scope narrowed since) is `Dropped`. One to a rate-limited endpoint may be `Deferred` instead.
    pub async fn attempt(&self, job: &CallbackJob, attempt: u32) -> Result<Verdict, StoreError> {
        self.attempt_in(job, attempt, None).await
    }

    /// [`Self::attempt`] for a job that may hold a send `slot` reserved when it was deferred: kept when it
    /// has not gone by, so the job is not reserved again. Its rate check comes last, just before the post.
    pub async fn attempt_in(
        &self,
        job: &CallbackJob,
        attempt: u32,
        slot: Option<DateTime<Utc>>,
    ) -> Result<Verdict, StoreError> {
        let Some(partner) = self.registry.partner(&job.partner).await? else {
            return Ok(Verdict::Dropped);
        };
        if !partner.sees(job.owner.as_ref()) {
            return Ok(Verdict::Dropped);
        }
        let mut endpoint = self.registry.endpoint(&job.url).await?;
        if endpoint.as_ref().is_some_and(|e| e.disabled_at.is_some()) {
            self.give_up(job.clone(), attempt.saturating_sub(1)).await?;
            return Ok(Verdict::Exhausted);
        }
        let now = match self.keep_rate(job, endpoint.as_ref(), slot).await? {
            Ok(now) => now,
            Err(slot) => return Ok(Verdict::Deferred(slot)),
        };
        let secrets = partner.signing_secrets(now);
        let headers = signed_headers(&secrets, &job.notification_id, now, job.body.as_bytes());
        let headers: Vec<(&str, String)> = headers.into_iter().collect();
        let (response, latency) = self
            .poster
            .post(&job.url, &headers, Bytes::from(job.body.clone()))
            .await;
        let mut verdict = judge(&response, attempt, &self.schedule);
        if let Some(endpoint) = endpoint.as_mut() {
            let failing_since = match verdict {
                Verdict::Delivered => None,
                _ => Some(endpoint.failing_since.unwrap_or(now)),
            };
            let too_long = failing_too_long(failing_since, now, self.disable_after);
            if verdict == Verdict::DisableEndpoint || too_long {
                endpoint.disabled_at = Some(now);
                tracing::warn!(partner = %job.partner, "callback endpoint disabled");
                self.tell_disabled(&partner, &job.url, &response).await;
                verdict = Verdict::DisableEndpoint;
            }
            if endpoint.failing_since != failing_since || endpoint.disabled_at.is_some() {
                endpoint.failing_since = failing_since;
                self.registry.save_endpoint(endpoint).await?;
            }
        }
        let latency_ms = u64::try_from(latency.as_millis()).unwrap_or(u64::MAX);
        if self.emit_metrics {
            let line = callback_line(job.partner.as_str(), &verdict, latency_ms, now.timestamp_millis());
            println!("{line}");
        }
        let (status, error) = match response {
            Response::Status { code, .. } => (Some(code), None),
            Response::Failed { error } => (None, Some(error)),
        };
        self.log
            .record(&AttemptRecord {
                partner: job.partner.clone(),
                url: job.url.clone(),
                notification_id: job.notification_id.clone(),
                notification_type: job.notification_type,
                attempt,
                at: now,
                status,
                error,
                latency_ms,
                verdict,
                owner: job.owner.clone(),
            })
            .await?;
        if matches!(verdict, Verdict::DisableEndpoint | Verdict::Exhausted) {
            self.give_up(job.clone(), attempt).await?;
        }
        Ok(verdict)
    }

    /// When to post under the endpoint's rate limit: `Ok(now)` once its slot has come (waited for, when it
    /// is at most the lead away), or `Err(slot)` to defer the job to a later slot, reserved for it.
    async fn keep_rate(
        &self,
        job: &CallbackJob,
        endpoint: Option<&Endpoint>,
        held: Option<DateTime<Utc>>,
    ) -> Result<Result<DateTime<Utc>, DateTime<Utc>>, StoreError> {
        let now = self.clock.now();
        let Some(rate_limit) = endpoint.and_then(|e| e.rate_limit) else {
            return Ok(Ok(now));
        };
        let slot = match held.filter(|slot| rate::still_held(*slot, now)) {
            Some(slot) => slot,
            None => self.registry.reserve_slot(&job.url, rate_limit, now).await?,
        };
        Ok(match rate::pace(slot, now, self.rate_lead) {
            Pace::Now => Ok(now),
            Pace::Wait => Ok(self.pause.until(slot).await),
            Pace::Defer => {
                tracing::debug!(partner = %job.partner, rate_limit, %slot, "callback deferred to keep the endpoint's rate");
                Err(slot)
            }
        })
    }

    /// Emails the partner's contact that `url` was disabled; a failure is logged, never fatal.
    async fn tell_disabled(&self, partner: &super::partner::Partner, url: &str, last: &Response) {
        let (Some(notices), Some(to)) = (&self.notices, &partner.contact_email) else {
            return;
        };
        let message = disabled_notice(partner, url, last, self.disable_after);
        if let Err(error) = notices.send(Channel::Email, to, &message).await {
            tracing::warn!(partner = %partner.id, ?error, "the endpoint-disabled email was not sent");
        }
    }
}

/// The email a partner's contact gets when one of its endpoints is disabled.
fn disabled_notice(
    partner: &super::partner::Partner,
    url: &str,
    last: &Response,
    disable_after: Duration,
) -> CustomerMessage {
    let why = match last {
        Response::Status { code: 410, .. } => "it answered 410 Gone".to_string(),
        _ => format!(
            "every attempt to it failed for {} days",
            disable_after.num_hours() as f64 / 24.0
        ),
    };
    let text = format!(
        "Callbacks to {url} for partner {id} are no longer sent: {why}.\n\n\
         Callbacks not delivered are kept for 30 days. To resume, register the URL again \
         (PUT /{id}/callbacks/{{type}}), then re-send what failed with POST /{id}/callbacks/recover \
         and {{\"since\": \"<time>\"}}. The attempt log is at GET /{id}/callbacks/attempts.\n",
        id = partner.id
    );
    let html = format!("<p>{}</p>", crate::text::escape_html(&text).replace("\n\n", "</p><p>"));
    CustomerMessage {
        locale: "en".into(),
        email_subject: format!("Callbacks to your endpoint were disabled ({})", partner.id),
        email_text: text,
        email_html: html,
        ..CustomerMessage::default()
    }
}

/// The attempt log in memory (tests): the local store's, over a map.
#[cfg(any(test, feature = "testing"))]
pub type MemoryAttemptLog = crate::store::KvStore<crate::store::MemoryBackend>;

/// The EMF line for one partner callback attempt: counts by partner (and in all), and its latency.
pub fn callback_line(partner: &str, verdict: &Verdict, latency_ms: u64, timestamp_ms: i64) -> String {
    let count = |hit: bool| u8::from(hit);
    let names = [
        ("CallbackAttempts", "Count"),
        ("CallbackDelivered", "Count"),
        ("CallbackFailures", "Count"),
        ("CallbackExhausted", "Count"),
        ("CallbackDisabled", "Count"),
        ("CallbackLatencyMs", "Milliseconds"),
    ];
    json!({
        "_aws": {"Timestamp": timestamp_ms, "CloudWatchMetrics": [directive(json!([["partner"], []]), &names)]},
        "partner": partner,
        "CallbackAttempts": 1,
        "CallbackDelivered": count(*verdict == Verdict::Delivered),
        "CallbackFailures": count(*verdict != Verdict::Delivered),
        "CallbackExhausted": count(*verdict == Verdict::Exhausted),
        "CallbackDisabled": count(*verdict == Verdict::DisableEndpoint),
        "CallbackLatencyMs": latency_ms,
    })
    .to_string()
}
