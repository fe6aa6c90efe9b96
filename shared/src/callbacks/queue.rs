//! The callback sender on SQS. One queue, subscribed to the alerts topic, carries two kinds of message: SNS's
//! envelope of a notification (fanned out into one job per registered endpoint, sent back to the same queue)
//! and a job (one attempt). A job to retry stays on the queue, invisible until its next attempt is due
//! (`ChangeMessageVisibility`, at most SQS's 12 hours) and reported as a batch item failure, so its receive
//! count is its attempt number; an exhausted job goes to the dead-letter queue, from which it can be recovered.

use super::delivery::Verdict;
use super::notification::{callback_body, OWNER_ATTRIBUTE};
use super::partner::PartnerId;
use super::sender::{CallbackJob, JobQueue, NotificationMessage, Sender};
use super::types::NotificationType;
use crate::store::StoreError;
use async_trait::async_trait;
use aws_sdk_sqs::Client;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// SQS's longest visibility timeout: a retry due later is attempted then and judged again.
const MAX_VISIBILITY_SECONDS: i64 = 12 * 60 * 60;

/// The Lambda event of an SQS trigger (the fields the sender reads).
#[derive(Debug, Deserialize)]
pub struct SqsEvent {
    #[serde(rename = "Records", default)]
    pub records: Vec<SqsRecord>,
}

#[derive(Debug, Deserialize)]
pub struct SqsRecord {
    #[serde(rename = "messageId")]
    pub message_id: String,
    #[serde(rename = "receiptHandle")]
    pub receipt_handle: String,
    pub body: String,
    #[serde(default)]
    pub attributes: HashMap<String, String>,
}

/// The answer to an SQS trigger with `ReportBatchItemFailures`: the messages to keep.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct BatchResponse {
    #[serde(rename = "batchItemFailures")]
    pub failures: Vec<ItemFailure>,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct ItemFailure {
    #[serde(rename = "itemIdentifier")]
    pub id: String,
}

/// What a queue message is.
#[derive(Debug, Deserialize, Serialize)]
#[serde(untagged)]
enum QueueMessage {
    Job { job: CallbackJob },
    Sns(SnsEnvelope),
}

#[derive(Debug, Deserialize, Serialize)]
struct SnsEnvelope {
    #[serde(rename = "Message")]
    message: String,
    #[serde(rename = "MessageAttributes", default)]
    attributes: HashMap<String, SnsAttribute>,
}

#[derive(Debug, Deserialize, Serialize)]
struct SnsAttribute {
    #[serde(rename = "Value")]
    value: String,
}

pub struct QueueSender {
    pub sender: Sender,
    pub sqs: Client,
    pub queue_url: String,
    pub dead_letter_url: String,
}

impl QueueSender {
    /// Handles one batch; never fails as a whole: each message succeeds or is kept.
    pub async fn handle(&self, event: SqsEvent) -> BatchResponse {
        let mut response = BatchResponse::default();
        for record in event.records {
            let kept = match serde_json::from_str::<QueueMessage>(&record.body) {
                Ok(QueueMessage::Job { job }) => self.attempt(&record, &job).await,
                Ok(QueueMessage::Sns(envelope)) => self.fan_out(envelope).await,
                Err(error) => {
                    tracing::warn!(%error, "a queue message that is neither a notification nor a job: dropped");
                    false
                }
            };
            if kept {
                response.failures.push(ItemFailure { id: record.message_id });
            }
        }
        response
    }

    /// True when the message must be kept (it fails now and is retried).
    async fn fan_out(&self, envelope: SnsEnvelope) -> bool {
        let attribute = |name: &str| envelope.attributes.get(name).map(|a| a.value.as_str());
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
    async fn attempt(&self, record: &SqsRecord, job: &CallbackJob) -> bool {
        let attempt = record
            .attributes
            .get("ApproximateReceiveCount")
            .and_then(|c| c.parse().ok())
            .unwrap_or(1);
        let verdict = match self.sender.attempt(job, attempt).await {
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
            Verdict::Exhausted => {
                let dead = self
                    .sqs
                    .send_message()
                    .queue_url(&self.dead_letter_url)
                    .message_body(&record.body)
                    .send()
                    .await;
                dead.is_err()
            }
        }
    }
}

/// Sends jobs to the queue for their first attempt, ten to a batch.
async fn send_jobs(sqs: &Client, queue_url: &str, jobs: &[CallbackJob]) -> Result<(), StoreError> {
    let bodies: Vec<String> = jobs
        .iter()
        .filter_map(|job| serde_json::to_string(&QueueMessage::Job { job: job.clone() }).ok())
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

/// An SNS envelope as SQS delivers it, for tests.
#[cfg(any(test, feature = "testing"))]
pub fn sns_envelope(message: &str, attributes: &[(&str, &str)]) -> String {
    let attributes = attributes
        .iter()
        .map(|(k, v)| (k.to_string(), SnsAttribute { value: v.to_string() }))
        .collect();
    serde_json::to_string(&QueueMessage::Sns(SnsEnvelope {
        message: message.to_string(),
        attributes,
    }))
    .unwrap_or_default()
}
