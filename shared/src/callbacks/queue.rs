//! The callback sender on SQS. One queue, subscribed to the alerts topic, carries two kinds of message: SNS's
//! envelope of a notification (fanned out into one job per registered endpoint, sent back to the same queue)
//! and a job (one attempt). A job to retry stays on the queue, invisible until its next attempt is due
//! (`ChangeMessageVisibility`, at most SQS's 12 hours) and reported as a batch item failure, so its receive
//! count is its attempt number; an exhausted job goes to the dead-letter queue, from which it can be recovered.
//! A job deferred to keep its endpoint's rate limit is sent again as a new message, delayed until just before
//! its slot and carrying the attempts already made (a new message's receives count from one again).

use super::delivery::Verdict;
use super::partner::PartnerId;
use super::sender::{CallbackJob, JobQueue, NotificationMessage, Sender};
use crate::notification::NotificationType;
use crate::notification::{callback_body, OWNER_ATTRIBUTE};
use crate::store::StoreError;
use async_trait::async_trait;
use aws_sdk_sqs::Client;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

#[cfg(any(test, feature = "testing"))]
pub use crate::sqs_event::sns_envelope;
use crate::sqs_event::SnsEnvelope;
pub use crate::sqs_event::{BatchResponse, ItemFailure, SqsEvent, SqsRecord};

/// SQS's longest visibility timeout: a retry due later is attempted then and judged again.
const MAX_VISIBILITY_SECONDS: i64 = 12 * 60 * 60;

/// SQS's longest message delay: a deferral further off comes back then and is deferred again, its slot kept.
const MAX_DELAY_SECONDS: i64 = 15 * 60;

/// What a queue message is.
#[derive(Debug, Deserialize, Serialize)]
#[serde(untagged)]
enum QueueMessage {
    Job {
        job: CallbackJob,
        /// The send slot reserved for it when it was deferred (its endpoint's rate limit).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        slot: Option<DateTime<Utc>>,
        /// Attempts made before this message: the attempt number is these and the message's receive count.
        #[serde(default, skip_serializing_if = "is_zero")]
        attempts_before: u32,
    },
    Sns(SnsEnvelope),
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl QueueMessage {
    /// A job for its first attempt, or for a fresh schedule (recovered, dead-lettered).
    fn job(job: &CallbackJob) -> Self {
        Self::Job {
            job: job.clone(),
            slot: None,
            attempts_before: 0,
        }
    }
}

/// The whole seconds to delay a deferred job by so it comes back `wait` from now (not sooner: the sender
/// waits what is left of the lead in place), at most SQS's limit.
fn delay_seconds(wait: Duration) -> i32 {
    let seconds = (wait.num_milliseconds().max(0) + 999) / 1000;
    i32::try_from(seconds.min(MAX_DELAY_SECONDS)).unwrap_or(0)
}

pub struct QueueSender {
    pub sender: Sender,
    pub sqs: Client,
    pub queue_url: String,
    pub dead_letter_url: String,
}

impl QueueSender {
    /// Handles one batch; never fails as a whole: each message succeeds or is kept. The messages are handled
    /// at once, so one endpoint's slow answer, or wait for its rate, holds up no other.
    pub async fn handle(&self, event: SqsEvent) -> BatchResponse {
        let kept = futures_util::future::join_all(event.records.iter().map(|r| self.handle_one(r))).await;
        BatchResponse::keeping(event.records, kept)
    }

    /// True when the message must be kept.
    async fn handle_one(&self, record: &SqsRecord) -> bool {
        match serde_json::from_str::<QueueMessage>(&record.body) {
            Ok(QueueMessage::Job {
                job,
                slot,
                attempts_before,
            }) => self.attempt(record, &job, slot, attempts_before).await,
            Ok(QueueMessage::Sns(envelope)) => self.fan_out(envelope).await,
            Err(error) => {
                tracing::warn!(%error, "a queue message that is neither a notification nor a job: dropped");
                false
            }
        }
    }

    /// True when the message must be kept (it fails now and is retried).
    async fn fan_out(&self, envelope: SnsEnvelope) -> bool {
        let attribute = |name: &str| envelope.attribute(name);
        let Some(kind) = attribute("notification_type").and_then(NotificationType::parse) else {
            return false;
        };
        let Some(message) = callback_body(&envelope.message).map(|(notification_id, body)| NotificationMessage {
            notification_type: kind,
            audience: attribute("audience").unwrap_or("all").to_string(),
            owner: attribute(OWNER_ATTRIBUTE).and_then(PartnerId::parse),
            notification_id,
            body,
        }) else {
            tracing::warn!("a notification the sender cannot read: dropped");
            return false;
        };
        let jobs = match self.sender.fan_out(&message).await {
            Ok(jobs) => jobs,
            Err(error) => {
                tracing::warn!(%error, "fan-out failed; retried");
                return true;
            }
        };
        // A job sent twice is attempted twice: partners deduplicate on webhook-id.
        send_jobs(&self.sqs, &self.queue_url, &jobs).await.is_err()
    }

    /// True when the job must be kept for its next attempt.
    async fn attempt(
        &self,
        record: &SqsRecord,
        job: &CallbackJob,
        slot: Option<DateTime<Utc>>,
        attempts_before: u32,
    ) -> bool {
        let received: u32 = record
            .attributes
            .get("ApproximateReceiveCount")
            .and_then(|c| c.parse().ok())
            .unwrap_or(1);
        let attempt = attempts_before.saturating_add(received);
        let verdict = match self.sender.attempt_in(job, attempt, slot).await {
            Ok(verdict) => verdict,
            Err(error) => {
                tracing::warn!(%error, "callback attempt could not be recorded; retried");
                return true;
            }
        };
        match verdict {
            Verdict::Delivered | Verdict::DisableEndpoint | Verdict::Dropped => false,
            Verdict::RetryIn(delay) => {
                let seconds = delay.num_seconds().clamp(0, MAX_VISIBILITY_SECONDS);
                let changed = self
                    .sqs
                    .change_message_visibility()
                    .queue_url(&self.queue_url)
                    .receipt_handle(&record.receipt_handle)
                    .visibility_timeout(i32::try_from(seconds).unwrap_or(i32::MAX))
                    .send()
                    .await;
                if let Err(error) = changed {
                    tracing::warn!(error = %aws_sdk_sqs::error::DisplayErrorContext(&error), "retry delay not set; the queue's own timeout applies");
                }
                true
            }
            Verdict::Deferred(slot) => self.defer(job, attempt, slot).await,
            Verdict::Exhausted => {
                // As a job for a fresh schedule, should it be moved back onto the queue.
                let body = serde_json::to_string(&QueueMessage::job(job)).unwrap_or_else(|_| record.body.clone());
                let dead = self
                    .sqs
                    .send_message()
                    .queue_url(&self.dead_letter_url)
                    .message_body(body)
                    .send()
                    .await;
                dead.is_err()
            }
        }
    }

    /// Sends a deferred job again as a new message, invisible until just before its slot, and lets this one
    /// go: true (keep this one) only when that failed. The new message carries the slot, so it is not
    /// reserved again, and the attempts made, so the deferral spends no attempt.
    async fn defer(&self, job: &CallbackJob, attempt: u32, slot: DateTime<Utc>) -> bool {
        let wait = slot - self.sender.rate_lead - self.sender.clock.now();
        let message = QueueMessage::Job {
            job: job.clone(),
            slot: Some(slot),
            attempts_before: attempt.saturating_sub(1),
        };
        let Ok(body) = serde_json::to_string(&message) else {
            return true;
        };
        let sent = self
            .sqs
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .delay_seconds(delay_seconds(wait))
            .send()
            .await;
        if let Err(error) = &sent {
            // Kept, it comes back after the queue's timeout, counted as one more receive.
            tracing::warn!(partner = %job.partner, error = %aws_sdk_sqs::error::DisplayErrorContext(error), "deferred callback not queued; kept");
        }
        sent.is_err()
    }
}

/// Sends jobs to the queue for their first attempt, ten to a batch.
async fn send_jobs(sqs: &Client, queue_url: &str, jobs: &[CallbackJob]) -> Result<(), StoreError> {
    let bodies: Vec<String> = jobs
        .iter()
        .filter_map(|job| serde_json::to_string(&QueueMessage::job(job)).ok())
        .collect();
    crate::aws::send_messages(sqs, queue_url, &bodies).await
}

/// The callback queue as where recovered deliveries go (the callbacks API).
pub struct SqsJobQueue {
    pub sqs: Client,
    pub queue_url: String,
}

#[async_trait]
impl JobQueue for SqsJobQueue {
    async fn enqueue(&self, jobs: &[CallbackJob]) -> Result<(), StoreError> {
        send_jobs(&self.sqs, &self.queue_url, jobs).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deferral_comes_back_no_sooner_than_asked_and_within_sqs_limits() {
        let ms = Duration::milliseconds;
        let delays = [ms(-5), ms(0), ms(1), ms(2_000), ms(2_001), Duration::hours(5)].map(delay_seconds);
        assert_eq!(delays, [0, 0, 1, 2, 3, 900]);
    }

    #[test]
    fn a_job_message_carries_a_slot_and_attempts_made_only_when_deferred() {
        let job = CallbackJob {
            notification_id: "ntf_1".into(),
            notification_type: 1,
            partner: PartnerId::parse("acme").unwrap_or_else(|| unreachable!()),
            url: "https://hooks.acme.example/esim".into(),
            body: "{}".into(),
            owner: None,
        };
        let fresh = serde_json::to_value(QueueMessage::job(&job)).unwrap_or_default();
        assert_eq!(fresh.as_object().map(|o| o.len()), Some(1), "{fresh}");
        assert!(fresh["job"].get("slot").is_none());
        let slot = DateTime::from_timestamp_millis(1_800_000_000_250);
        let deferred = QueueMessage::Job {
            job: job.clone(),
            slot,
            attempts_before: 3,
        };
        let text = serde_json::to_string(&deferred).unwrap_or_default();
        match serde_json::from_str::<QueueMessage>(&text) {
            Ok(QueueMessage::Job {
                slot: back,
                attempts_before: 3,
                ..
            }) => assert_eq!(back, slot),
            other => panic!("{text} read back as {other:?}"),
        }
        // A job queued before deferrals existed reads as a fresh one.
        match serde_json::from_value::<QueueMessage>(fresh) {
            Ok(QueueMessage::Job {
                slot: None,
                attempts_before: 0,
                ..
            }) => {}
            other => panic!("{other:?}"),
        }
    }
}
