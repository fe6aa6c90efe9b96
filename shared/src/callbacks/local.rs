//! Partner callbacks on the local store, for `esimhooks serve`: partners, registrations, endpoints, the
//! attempt log, deliveries given up on and the jobs waiting for an attempt all live in the same key-value
//! store as events (SQLite), and [`LocalCallbacks`] delivers them with the deployed sender's rules: the same
//! fan-out, signing, retry schedule, disabling and recovery. Only the queue differs: a job waits in the store
//! until its attempt is due, where SQS holds it deployed.

use super::delivery::Verdict;
use super::notification::Notification;
use super::partner::{Partner, PartnerId};
use super::registry::{CallbackRegistry, Endpoint, Registration};
use super::sender::{
    AttemptLog, AttemptRecord, CallbackJob, FailedDelivery, JobQueue, NotificationMessage, Poster, Sender,
};
use super::transport::{CallbackTransport, TransportError};
use crate::alerts::sink::{AlertSink, PublishError};
use crate::alerts::Alert;
use crate::clock::Clock;
use crate::model::Event;
use crate::notification::NotificationType;
use crate::store::index::{IndexEntry, IndexRange, Indexed};
use crate::store::keys::{
    arrival_key, attempt_entry, attempt_key, failed_key, job_key, partner_entry, partner_prefix, registration_key,
};
use crate::store::{IndexedSpace, KvBackend, KvStore, Space, StoreError};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

// The partner callbacks' key spaces in the local store.
pub const PARTNERS: Space = Space::new("partners");
pub const REGISTRATIONS: Space = Space::new("registrations");
/// Endpoints, and beside each its send slots under a rate limit ([`arrival_key`]).
pub const ENDPOINTS: Space = Space::new("endpoints");
/// The jobs waiting for an attempt.
pub const CALLBACK_JOBS: Space = Space::new("callback_jobs");
pub const CALLBACK_ATTEMPTS: Space = Space::new("callback_attempts");
/// Deliveries given up on.
pub const FAILED_CALLBACKS: Space = Space::new("failed_callbacks");

/// The callbacks' spaces with index entries, for rebuilding them ([`KvStore::reindex`]).
pub const INDEXED_SPACES: &[IndexedSpace] = &[
    IndexedSpace::of::<AttemptRecord>(CALLBACK_ATTEMPTS),
    IndexedSpace::of::<FailedDelivery>(FAILED_CALLBACKS),
];

/// The index of attempts and given-up deliveries, by partner and time.
const PARTNER_INDEX: &str = "partner";

impl Indexed for AttemptRecord {
    fn entries(&self) -> Vec<IndexEntry> {
        vec![IndexEntry {
            index: PARTNER_INDEX.into(),
            value: attempt_entry(&self.partner, self.at, self.attempt),
        }]
    }
}

impl Indexed for FailedDelivery {
    fn entries(&self) -> Vec<IndexEntry> {
        vec![IndexEntry {
            index: PARTNER_INDEX.into(),
            value: partner_entry(&self.job.partner, self.failed_at),
        }]
    }
}

fn parked_key(failed: &FailedDelivery) -> String {
    failed_key(&failed.job.partner, failed.failed_at, &failed.job.notification_id)
}

fn queued_key(job: &CallbackJob) -> String {
    job_key(&job.partner, &job.notification_id)
}

/// A rate-limited URL's theoretical arrival time ([`super::rate`]).
#[derive(Debug, Serialize, Deserialize)]
struct Arrival {
    tat_ms: i64,
}

#[async_trait]
impl<B: KvBackend> CallbackRegistry for KvStore<B> {
    async fn partner(&self, id: &PartnerId) -> Result<Option<Partner>, StoreError> {
        self.read(PARTNERS, id.as_str())
    }

    async fn save_partner(&self, partner: &Partner) -> Result<(), StoreError> {
        self.write(PARTNERS, partner.id.as_str(), partner)
    }

    async fn delete_partner(&self, id: &PartnerId) -> Result<(), StoreError> {
        self.delete(PARTNERS, id.as_str())
    }

    async fn partners(&self) -> Result<Vec<Partner>, StoreError> {
        let mut all: Vec<Partner> = self.read_all(PARTNERS)?;
        all.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(all)
    }

    async fn registrations(&self, partner: &PartnerId) -> Result<Vec<Registration>, StoreError> {
        let all: Vec<Registration> = self.read_all(REGISTRATIONS)?;
        let mut mine: Vec<Registration> = all.into_iter().filter(|r| &r.partner == partner).collect();
        mine.sort_by_key(|r| r.notification_type.number());
        Ok(mine)
    }

    async fn save_registration(&self, registration: &Registration) -> Result<Option<Registration>, StoreError> {
        let _guard = self.locked();
        let key = registration_key(&registration.partner, registration.notification_type.number());
        let previous = self.read(REGISTRATIONS, &key)?;
        self.write(REGISTRATIONS, &key, registration)?;
        Ok(previous)
    }

    async fn delete_registration(
        &self,
        partner: &PartnerId,
        notification_type: NotificationType,
    ) -> Result<Option<Registration>, StoreError> {
        let _guard = self.locked();
        let key = registration_key(partner, notification_type.number());
        let previous = self.read(REGISTRATIONS, &key)?;
        self.delete(REGISTRATIONS, &key)?;
        Ok(previous)
    }

    async fn endpoint(&self, url: &str) -> Result<Option<Endpoint>, StoreError> {
        self.read(ENDPOINTS, url)
    }

    async fn save_endpoint(&self, endpoint: &Endpoint) -> Result<bool, StoreError> {
        let _guard = self.locked();
        let current: Option<Endpoint> = self.read(ENDPOINTS, &endpoint.url)?;
        if current.is_some_and(|e| e.partner != endpoint.partner) {
            return Ok(false);
        }
        self.write(ENDPOINTS, &endpoint.url, endpoint)?;
        Ok(true)
    }

    async fn delete_endpoint(&self, url: &str) -> Result<(), StoreError> {
        self.delete(ENDPOINTS, url)
    }

    async fn reserve_slot(&self, url: &str, rate_limit: u32, now: DateTime<Utc>) -> Result<DateTime<Utc>, StoreError> {
        let _guard = self.locked();
        let key = arrival_key(url);
        let tat = self.read::<Arrival>(ENDPOINTS, &key)?.map(|a| a.tat_ms);
        let reserved = super::rate::reserve(tat, now.timestamp_millis(), rate_limit);
        self.write(
            ENDPOINTS,
            &key,
            &Arrival {
                tat_ms: reserved.tat_ms,
            },
        )?;
        Ok(super::rate::at_ms(reserved.slot_ms))
    }
}

#[async_trait]
impl<B: KvBackend> AttemptLog for KvStore<B> {
    async fn record(&self, attempt: &AttemptRecord) -> Result<(), StoreError> {
        let key = attempt_key(&attempt.partner, attempt.at, &attempt.notification_id, attempt.attempt);
        self.write_indexed(CALLBACK_ATTEMPTS, &key, attempt)
    }

    async fn attempts(
        &self,
        partner: &PartnerId,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<AttemptRecord>, StoreError> {
        // Newest first: by time, then attempt number, as the entries sort.
        let range = IndexRange::new(
            PARTNER_INDEX,
            partner_entry(partner, since),
            partner_entry(partner, until),
        )
        .page(0, limit);
        self.read_range(CALLBACK_ATTEMPTS, &range)
    }

    async fn park(&self, failed: &FailedDelivery) -> Result<(), StoreError> {
        self.write_indexed(FAILED_CALLBACKS, &parked_key(failed), failed)
    }

    async fn parked(
        &self,
        partner: &PartnerId,
        since: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<FailedDelivery>, StoreError> {
        let range = IndexRange::new(
            PARTNER_INDEX,
            partner_entry(partner, since),
            format!("{}\u{10FFFF}", partner_prefix(partner)),
        )
        .oldest_first()
        .page(0, limit);
        self.read_range(FAILED_CALLBACKS, &range)
    }

    async fn unpark(&self, failed: &FailedDelivery) -> Result<(), StoreError> {
        self.delete(FAILED_CALLBACKS, &parked_key(failed))
    }
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
