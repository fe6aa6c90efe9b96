//! Processing of one normalized event, exactly once: claim the delivery (reading the eSIM's state alongside)
//! → merge per-eSIM state (optimistic, versioned) → evaluate alerts → claim, publish and mark each alert →
//! complete the delivery. Any failure gives the lease back and fails the request, so the provider's retry
//! redoes only what is not done: every step is idempotent, an alert marked sent is never published again, one
//! claimed but not sent is. Calls that do not depend on each other run at once.

mod asking;
mod customer_queue;
mod customers;
mod raise;
mod sweep;

pub use customer_queue::CustomerQueue;
pub use sweep::{sweep_line, SweepReport};

use crate::alerts::sink::{AlertSink, PublishError};
use crate::alerts::{evaluate, Alert, AlertRules};
use crate::clock::Clock;
use crate::customers::service::{CustomerNotifier, NotifyError};
use crate::customers::teller::CustomerTeller;
use crate::due::AskingPlan;
use crate::model::{DedupeBasis, Event, PartnerId};
use crate::state::{merge, EsimState};
use crate::store::{Begin, DeliveryStatus, EventStore, Lease, StoreError, Versioned};
use chrono::Duration;
use futures_util::future::join_all;
use raise::ReadAhead;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// How the pipeline behaves around concurrency and crashes.
#[derive(Debug, Clone)]
pub struct PipelineSettings {
    pub rules: AlertRules,
    /// The providers whose eSIMs are asked (reconcile): each state saved is filed for its next ask.
    pub asking: AskingPlan,
    /// How long a claim stays ours; a crashed attempt is taken over after this. Set it to at least the
    /// function timeout.
    pub lease: Duration,
    /// How long a request waits for a concurrent twin holding the claim before answering 503.
    pub busy_wait: std::time::Duration,
    pub busy_poll: std::time::Duration,
}

impl Default for PipelineSettings {
    fn default() -> Self {
        Self {
            rules: AlertRules::default(),
            asking: AskingPlan::default(),
            lease: Duration::seconds(30),
            busy_wait: std::time::Duration::from_secs(3),
            busy_poll: std::time::Duration::from_millis(50),
        }
    }
}

/// What happened to a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Stored now; `alerts` were published by this request.
    Stored { alerts: usize },
    /// Seen and completed before: nothing changed.
    Duplicate,
    /// The key was seen with another payload: kept aside for an operator, not applied.
    Conflict,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stored { .. } => "stored",
            Self::Duplicate => "duplicate",
            Self::Conflict => "conflict",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Publish(#[from] PublishError),
    #[error("a concurrent request holds the claim on {0}")]
    Busy(String),
    #[error("telling the customer did not finish: {0}")]
    Customer(#[from] NotifyError),
}

const STATE_RETRIES: usize = 8;
/// In-place retries of recording a published alert as sent (50, 100, 200 ms apart).
const MARK_SENT_RETRIES: u32 = 3;

pub struct Pipeline {
    store: Arc<dyn EventStore>,
    sink: Arc<dyn AlertSink>,
    clock: Arc<dyn Clock>,
    settings: PipelineSettings,
    attempt_seed: u64,
    attempts: AtomicU64,
    /// Names each alert's customer on the operator's copy and, unless they are told downstream, tells them.
    customers: Option<Arc<dyn CustomerTeller>>,
    /// Sends the customer messages held for quiet hours (the scheduled run and its workers).
    outbox: Option<Arc<CustomerNotifier>>,
}

impl Pipeline {
    pub fn new(
        store: Arc<dyn EventStore>,
        sink: Arc<dyn AlertSink>,
        clock: Arc<dyn Clock>,
        settings: PipelineSettings,
    ) -> Self {
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_u32(std::process::id());
        Self {
            store,
            sink,
            clock,
            settings,
            attempt_seed: hasher.finish(),
            attempts: AtomicU64::new(0),
            customers: None,
            outbox: None,
        }
    }

    pub fn store(&self) -> &Arc<dyn EventStore> {
        &self.store
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// A fresh lease id: unique per process (random seed) and per attempt (counter).
    fn new_attempt(&self) -> String {
        format!(
            "{:016x}-{:x}",
            self.attempt_seed,
            self.attempts.fetch_add(1, Ordering::Relaxed)
        )
    }

    fn lease(&self, attempt: &str) -> Lease {
        Lease {
            attempt: attempt.to_string(),
            until: self.clock.now() + self.settings.lease,
        }
    }

    pub async fn process(&self, event: &Event) -> Result<Outcome, PipelineError> {
        if let Some(former) = crate::compat::former::dedupe_key(event) {
            let status = self.store.delivery_status(event.provider, former).await?;
            if status == Some(DeliveryStatus::Completed) {
                return Ok(Outcome::Duplicate);
            }
        }
        let attempt = self.new_attempt();
        let claim = || async {
            let now = self.clock.now();
            self.store.begin_delivery(event, &self.lease(&attempt), now).await
        };
        // The eSIM's state is read while the claim is written: one round trip for both. Only a claim won at
        // once uses the read; a failed read is simply done again.
        let (first, mut prefetched) = match &event.esim {
            Some(esim) => {
                let (claimed, state) = tokio::join!(claim(), self.store.load_state(event.provider, &esim.key));
                (claimed?, state.ok())
            }
            None => (claim().await?, None),
        };
        let begun = match first {
            Begin::InProgress => {
                prefetched = None;
                self.wait_while_busy(|| async {
                    let outcome = claim().await?;
                    Ok((outcome != Begin::InProgress).then_some(outcome))
                })
                .await?
            }
            other => Some(other),
        };
        let Some(begun) = begun else {
            return Err(PipelineError::Busy(event.dedupe_key.to_string()));
        };
        match begun {
            Begin::Duplicate => return Ok(Outcome::Duplicate),
            // A key built from the notification's identity or its canonical form: other bytes are the same
            // notification again.
            Begin::Conflict { .. }
                if matches!(event.dedupe_basis, DedupeBasis::Derived | DedupeBasis::CanonicalBody) =>
            {
                return Ok(Outcome::Duplicate)
            }
            Begin::Conflict { stored_sha256 } => {
                tracing::warn!(
                    provider = %event.provider,
                    dedupe_key = %event.dedupe_key,
                    stored_sha256,
                    payload_sha256 = event.payload_sha256.as_str(),
                    "same dedupe key with a different payload: kept as a conflict, not applied"
                );
                self.store.record_conflict(event).await?;
                return Ok(Outcome::Conflict);
            }
            Begin::InProgress => return Err(PipelineError::Busy(event.dedupe_key.to_string())),
            Begin::Started => {}
        }

        let lease = self.lease(&attempt);
        let result = async {
            let (current, owner) = self.current_state(event, prefetched).await?;
            // Partners following events get it once per stored delivery (at least once: a retry after a
            // failed step offers it again under the same notification id). It depends on the event and the
            // eSIM's owner alone, so it goes out while the state and alerts are applied; the delivery
            // completes only after both.
            let (alerts, published) = tokio::join!(
                self.apply(event, &lease, current, owner.as_ref()),
                self.sink.publish_event(event, owner.as_ref())
            );
            let alerts = alerts?;
            published?;
            self.store.finish_delivery(event, &lease, self.clock.now()).await?;
            Ok::<_, PipelineError>(alerts)
        }
        .await;
        match result {
            Ok(alerts) => Ok(Outcome::Stored { alerts }),
            Err(error) => {
                // Keep the stored payload; just let the provider's retry take over without waiting for the lease.
                if let Err(release) = self.store.abandon_delivery(event, &lease, &error.to_string()).await {
                    tracing::warn!(error = %release, "could not release the delivery lease; it expires on its own");
                }
                Err(error)
            }
        }
    }

    /// Re-applies an already stored event's state and alerts without claiming the delivery again (forced
    /// replay). True when the state moved or an alert was published.
    pub async fn reprocess(&self, event: &Event) -> Result<bool, PipelineError> {
        let before = self.state_version(event).await?;
        let (current, owner) = self.current_state(event, None).await?;
        let published = self
            .apply(event, &self.lease(&self.new_attempt()), current, owner.as_ref())
            .await?;
        let after = self.state_version(event).await?;
        Ok(published > 0 || before != after)
    }

    async fn state_version(&self, event: &Event) -> Result<Option<u64>, StoreError> {
        match &event.esim {
            Some(esim) => Ok(self
                .store
                .load_state(event.provider, &esim.key)
                .await?
                .map(|v| v.version)),
            None => Ok(None),
        }
    }

    /// Runs `step` until it yields `Some`, polling while it yields `None` (a twin holds the claim), up to the
    /// configured wait. `Ok(None)` means still busy when the wait ran out.
    async fn wait_while_busy<T, F, Fut>(&self, mut step: F) -> Result<Option<T>, PipelineError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<Option<T>, PipelineError>>,
    {
        let started = tokio::time::Instant::now();
        loop {
            if let Some(done) = step().await? {
                return Ok(Some(done));
            }
            if started.elapsed() + self.settings.busy_poll > self.settings.busy_wait {
                return Ok(None);
            }
            tokio::time::sleep(self.settings.busy_poll).await;
        }
    }

    /// The eSIM's state (as read with the claim, else read now) and the partner it belongs to. An eSIM never
    /// heard of under its provider's key may have been assigned by its ICCID (the directory names eSIMs by
    /// either): that state is read once, on its first delivery, for its owner.
    async fn current_state(
        &self,
        event: &Event,
        prefetched: Option<Option<Versioned<EsimState>>>,
    ) -> Result<(Option<Option<Versioned<EsimState>>>, Option<PartnerId>), StoreError> {
        let Some(esim) = &event.esim else {
            return Ok((None, None));
        };
        let current = match prefetched {
            Some(read) => read,
            None => self.store.load_state(event.provider, &esim.key).await?,
        };
        let owner = match (&current, esim.iccid.as_deref()) {
            (Some(state), _) => state.value.owner.clone(),
            (None, Some(iccid)) if iccid != esim.key => self
                .store
                .load_state(event.provider, iccid)
                .await?
                .and_then(|named| named.value.owner),
            (None, _) => None,
        };
        Ok((Some(current), owner))
    }

    /// Merges the event into its eSIM's state (retrying on a concurrent write) and publishes its alerts.
    /// `prefetched` is the state as read with the claim, when it was; `owner`, the partner the eSIM belongs
    /// to, which a state created now takes.
    async fn apply(
        &self,
        event: &Event,
        lease: &Lease,
        prefetched: Option<Option<Versioned<EsimState>>>,
        owner: Option<&PartnerId>,
    ) -> Result<usize, PipelineError> {
        let (alerts, ahead) = self.advance_state(event, prefetched, owner).await?;
        // Each alert is claimed, published and marked on its own: a delivery's alerts go out together.
        let raised = join_all(alerts.iter().map(|alert| self.raise(alert, lease, &ahead))).await;
        let mut published = 0;
        for outcome in raised {
            if outcome? {
                published += 1;
            }
        }
        Ok(published)
    }

    /// The event's alerts against its merged state (evaluated once), and what they need read, read while the
    /// state is saved ([`ReadAhead`]).
    async fn advance_state(
        &self,
        event: &Event,
        mut prefetched: Option<Option<Versioned<EsimState>>>,
        owner: Option<&PartnerId>,
    ) -> Result<(Vec<Alert>, ReadAhead), PipelineError> {
        let (rules, now) = (&self.settings.rules, self.clock.now());
        let Some(esim) = &event.esim else {
            return Ok((evaluate(event, None, rules, now), ReadAhead::default()));
        };
        for _ in 0..STATE_RETRIES {
            let current = match prefetched.take() {
                Some(read) => read,
                None => self.store.load_state(event.provider, &esim.key).await?,
            };
            let version = current.as_ref().map(|v| v.version);
            let Some(mut merged) = merge(current.map(|v| v.value), event) else {
                return Ok((evaluate(event, None, rules, now), ReadAhead::default()));
            };
            if version.is_none() {
                merged.state.owner = owner.cloned();
            }
            if !merged.changed {
                return Ok((evaluate(event, Some(&merged.state), rules, now), ReadAhead::default()));
            }
            self.settings.asking.file(&mut merged.state, rules, now);
            let alerts = evaluate(event, Some(&merged.state), rules, now);
            let (saved, ahead) = tokio::join!(self.store.save_state(&merged.state, version), self.read_ahead(&alerts));
            if saved? {
                return Ok((alerts, ahead?));
            }
        }
        Err(PipelineError::Busy(format!("state of {}", esim.key)))
    }
}
