//! Partner callbacks on the local store, for `esimhooks serve`: partners, registrations, endpoints, the
//! attempt log, deliveries given up on and the jobs waiting for an attempt all live in the same key-value
//! store as events (SQLite), and [`LocalCallbacks`] delivers them with the deployed sender's rules: the same
//! fan-out, signing, retry schedule, disabling and recovery. Only the queue differs: a job waits in the store
//! until its attempt is due, where SQS holds it deployed. The store's registry and attempt log are
//! `backends/kv/callbacks.rs`; the key spaces are the callbacks' own (`spaces.rs`, re-exported here).

use super::delivery::Verdict;
use super::notification::Notification;
use super::partner::PartnerId;
use super::sender::{CallbackJob, JobQueue, NotificationMessage, Poster, Sender};
use super::transport::{CallbackTransport, TransportError};
use crate::alerts::sink::{AlertSink, PublishError};
use crate::alerts::Alert;
use crate::clock::Clock;
use crate::model::Event;
use crate::store::keys::job_key;
use crate::store::{KvBackend, KvStore, StoreError};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The former path of the callbacks' key spaces ([`super::spaces`]).
pub use super::spaces::{
    CALLBACK_ATTEMPTS, CALLBACK_JOBS, ENDPOINTS, FAILED_CALLBACKS, INDEXED_SPACES, PARTNERS, REGISTRATIONS,
};

fn queued_key(job: &CallbackJob) -> String {
    job_key(&job.partner, &job.notification_id)
}

/// A job waiting in the store for attempt number `attempt`, due at `due_at`; one deferred to keep its
/// endpoint's rate holds the send slot reserved for it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct QueuedJob {
    job: CallbackJob,
    attempt: u32,
    due_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    slot: Option<DateTime<Utc>>,
}

/// The local callback sender: notifications fan out into jobs kept in the store, and [`Self::deliver_due`]
/// (called every second by `serve`) attempts the ones that are due, all at once, so a slow endpoint delays
/// no other.
pub struct LocalCallbacks<B: KvBackend> {
    store: Arc<KvStore<B>>,
    sender: Sender,
}

impl<B: KvBackend> LocalCallbacks<B> {
    pub fn new(store: Arc<KvStore<B>>, poster: Arc<dyn Poster>, clock: Arc<dyn Clock>) -> Self {
        let sender = Sender::new(store.clone(), poster, store.clone(), clock);
        Self { store, sender }
    }

    /// The sender, to change its schedule or disabling span.
    pub fn sender_mut(&mut self) -> &mut Sender {
        &mut self.sender
    }

    fn queue(&self, job: CallbackJob, attempt: u32, due_at: DateTime<Utc>) -> Result<(), StoreError> {
        self.queue_in(job, attempt, due_at, None)
    }

    fn queue_in(
        &self,
        job: CallbackJob,
        attempt: u32,
        due_at: DateTime<Utc>,
        slot: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        let key = queued_key(&job);
        let queued = QueuedJob {
            job,
            attempt,
            due_at,
            slot,
        };
        self.store.write(CALLBACK_JOBS, &key, &queued)
    }

    /// Fans a notification out into one job per registered endpoint, each due now; returns how many.
    pub async fn offer(&self, message: &NotificationMessage) -> Result<usize, StoreError> {
        let jobs = self.sender.fan_out(message).await?;
        self.enqueue(&jobs).await?;
        Ok(jobs.len())
    }

    /// Attempts every job that is due, concurrently; returns how many were attempted. A job whose attempt
    /// could not be recorded stays and is attempted again.
    pub async fn deliver_due(self: &Arc<Self>) -> Result<usize, StoreError> {
        let now = self.sender.clock.now();
        let waiting: Vec<QueuedJob> = self.store.read_all(CALLBACK_JOBS)?;
        let mut attempts = tokio::task::JoinSet::new();
        for queued in waiting.into_iter().filter(|q| q.due_at <= now) {
            let this = Arc::clone(self);
            attempts.spawn(async move { this.attempt(queued).await });
        }
        let mut done = 0;
        while let Some(finished) = attempts.join_next().await {
            match finished {
                Ok(Ok(())) => done += 1,
                Ok(Err(error)) => tracing::warn!(%error, "a callback attempt could not be recorded; tried again"),
                Err(error) => tracing::error!(%error, "a callback attempt stopped"),
            }
        }
        Ok(done)
    }

    async fn attempt(&self, queued: QueuedJob) -> Result<(), StoreError> {
        let verdict = self.sender.attempt_in(&queued.job, queued.attempt, queued.slot).await?;
        match verdict {
            Verdict::RetryIn(delay) => {
                let due = self.sender.clock.now() + delay;
                self.queue(queued.job, queued.attempt + 1, due)
            }
            // Not an attempt: the same number, taken up again just before its slot (the sender waits the rest).
            Verdict::Deferred(slot) => {
                let due = slot - self.sender.rate_lead;
                self.queue_in(queued.job, queued.attempt, due, Some(slot))
            }
            Verdict::Delivered | Verdict::DisableEndpoint | Verdict::Exhausted | Verdict::Dropped => {
                self.store.delete(CALLBACK_JOBS, &queued_key(&queued.job))
            }
        }
    }
}

#[async_trait]
impl<B: KvBackend> JobQueue for LocalCallbacks<B> {
    async fn enqueue(&self, jobs: &[CallbackJob]) -> Result<(), StoreError> {
        let now = self.sender.clock.now();
        for job in jobs {
            self.queue(job.clone(), 1, now)?;
        }
        Ok(())
    }
}

/// The local API's echo, and nothing to unsubscribe: local callbacks never used SNS.
#[async_trait]
impl<B: KvBackend> CallbackTransport for LocalCallbacks<B> {
    async fn unsubscribe(&self, _subscription_arn: &str) -> Result<(), TransportError> {
        Ok(())
    }

    async fn publish(&self, notification: &Notification) -> Result<String, TransportError> {
        self.offer(&NotificationMessage::from(notification))
            .await
            .map_err(|e| TransportError(e.to_string()))?;
        Ok(notification.body.notification_id.clone())
    }
}

/// An alert sink that also offers alerts and events to partners' callbacks (the local run's SNS topic).
pub struct PartnerSink {
    pub inner: Arc<dyn AlertSink>,
    pub callbacks: Arc<dyn CallbackTransport>,
}

impl PartnerSink {
    async fn offer(&self, notification: &Notification) -> Result<(), PublishError> {
        self.callbacks
            .publish(notification)
            .await
            .map(|_| ())
            .map_err(|e| PublishError {
                what: format!("notification {}", notification.body.notification_id),
                reason: e.to_string(),
            })
    }
}

#[async_trait]
impl AlertSink for PartnerSink {
    async fn publish(&self, alert: &Alert) -> Result<String, PublishError> {
        let receipt = self.inner.publish(alert).await?;
        self.offer(&Notification::for_alert(alert)).await?;
        Ok(receipt)
    }

    async fn publish_event(&self, event: &Event, owner: Option<&PartnerId>) -> Result<(), PublishError> {
        self.inner.publish_event(event, owner).await?;
        match Notification::for_event(event, owner) {
            Some(notification) => self.offer(&notification).await,
            None => Ok(()),
        }
    }
}
