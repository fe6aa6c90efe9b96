//! The ports of telling the customer: a notification per (alert, channel) ([`NotificationRecord`], in
//! [`crate::records`] as the store lists it too), claimed before it is sent (the pattern of deliveries and
//! alerts: a lease, then a final status), the store that keeps them beside their alert, and the senders (SNS
//! SMS, SES email, the console, memory).

use crate::alerts::Alert;
use crate::store::{alert_decision, AlertClaim, AlertStatus, Decision, StoreError};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::sync::Arc;
#[cfg(any(test, feature = "testing"))]
use std::sync::Mutex;

pub use crate::records::{Channel, NotificationRecord, NotificationStatus};

/// What claiming a notification found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotificationClaim {
    /// Ours to send. `after_send_began`: it was taken over from an attempt that was already sending it.
    Claimed {
        after_send_began: bool,
    },
    AlreadySent,
    InProgress,
}

impl NotificationClaim {
    /// The claim outcome, given the record it replaced (if any).
    pub fn taken_over(replaced: Option<&NotificationRecord>) -> Self {
        Self::Claimed {
            after_send_began: replaced
                .is_some_and(|old| old.status == NotificationStatus::Claimed && old.sending_at.is_some()),
        }
    }

    pub fn from_alert_claim(claim: AlertClaim) -> Self {
        match claim {
            AlertClaim::Claimed => Self::Claimed {
                after_send_began: false,
            },
            AlertClaim::AlreadySent => Self::AlreadySent,
            AlertClaim::InProgress => Self::InProgress,
        }
    }
}

impl NotificationRecord {
    /// The record of `alert`'s message to `to` by `channel`, claimed by the attempt holding `lease`.
    pub fn claimed(
        alert: &Alert,
        channel: Channel,
        to: &str,
        customer_id: Option<String>,
        lease: &crate::store::Lease,
    ) -> Self {
        Self {
            alert_id: alert.alert_id.clone(),
            channel,
            to: to.to_string(),
            customer_id,
            status: NotificationStatus::Claimed,
            attempt: Some(lease.attempt.clone()),
            lease_until: Some(lease.until),
            message_id: None,
            sent_at: None,
            error: None,
            due_at: None,
            alert: None,
            raised_at: Some(alert.raised_at),
            sending_at: None,
            possible_duplicate: false,
        }
    }
}

/// The claim rule for a notification: the alert rule, a queued, failed or skipped one counting as done (the
/// outbox sends a queued one).
pub fn notification_decision(
    existing: Option<(NotificationStatus, Option<DateTime<Utc>>)>,
    now: DateTime<Utc>,
) -> Decision<AlertClaim> {
    let as_alert = existing.map(|(status, lease)| match status {
        NotificationStatus::Claimed => (AlertStatus::Claimed, lease),
        _ => (AlertStatus::Sent, lease),
    });
    alert_decision(as_alert, now)
}

/// The outbox's claim rule: a queued record, or one whose claimer's lease ran out.
pub fn due_claimable(status: NotificationStatus, lease_until: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    match status {
        NotificationStatus::Queued => true,
        NotificationStatus::Claimed => lease_until.is_none_or(|until| until <= now),
        _ => false,
    }
}

/// Where notifications are recorded: beside their alert.
#[async_trait]
pub trait NotificationStore: Send + Sync {
    /// Claims `(record.alert_id, record.channel)` for `record.attempt` until `record.lease_until`, or, for
    /// a `Queued` record, puts it in the outbox; either only where no live record is.
    async fn claim_notification(
        &self,
        record: &NotificationRecord,
        now: DateTime<Utc>,
    ) -> Result<NotificationClaim, StoreError>;
    /// Records that the attempt holding it (`attempt`) calls the channel now (`record.sending_at`); false when
    /// another attempt took it over, which then sends it instead.
    async fn mark_sending(&self, record: &NotificationRecord, attempt: &str) -> Result<bool, StoreError>;
    /// Records the final status of a notification we hold (`attempt`); a lease lost to another attempt is not
    /// an error.
    async fn finish_notification(&self, record: &NotificationRecord, attempt: &str) -> Result<(), StoreError>;
    /// Lets the next attempt claim it at once.
    async fn release_notification(&self, alert_id: &str, channel: Channel, attempt: &str) -> Result<(), StoreError>;
    /// The notifications of an alert.
    async fn notifications(&self, alert_id: &str) -> Result<Vec<NotificationRecord>, StoreError>;
    /// Outbox records due by `now` (queued, or claimed with a lease run out), from the last
    /// [`OUTBOX_LOOKBACK`].
    async fn due_notifications(&self, now: DateTime<Utc>) -> Result<Vec<NotificationRecord>, StoreError>;
    /// Claims a due outbox record for `record.attempt`: true when taken (see [`due_claimable`]).
    async fn claim_due(&self, record: &NotificationRecord, now: DateTime<Utc>) -> Result<bool, StoreError>;
    /// Counts one SMS to `to` at `now`; false (and nothing counted) when `cap` were already sent to that number
    /// in the [`SMS_CAP_WINDOW`] before (see [`take_from_window`]).
    async fn take_sms_allowance(&self, to: &str, now: DateTime<Utc>, cap: u32) -> Result<bool, StoreError>;
    /// Replaces `to` by `masked` in every notification record sent to it (erasure); returns how many.
    async fn mask_recipient(&self, to: &str, masked: &str) -> Result<usize, StoreError>;
}

/// The daily SMS cap counts over the last 24 hours, per phone number: a rolling window is the same for every
/// contact using the number, whatever their time zones (a per-local-day count restarts at each zone's
/// midnight, so contacts in three zones sharing a phone would get three caps).
pub const SMS_CAP_WINDOW: chrono::Duration = chrono::Duration::hours(24);

/// The cap's rule, for every store: `sent` (send times, Unix milliseconds) with one more at `now`, the times
/// out of the window dropped, or `None` when `cap` sends are already in it.
pub fn take_from_window(sent: &[i64], now: DateTime<Utc>, cap: u32) -> Option<Vec<i64>> {
    let now_ms = now.timestamp_millis();
    let since = (now - SMS_CAP_WINDOW).timestamp_millis();
    let mut kept: Vec<i64> = sent.iter().copied().filter(|at| *at > since && *at <= now_ms).collect();
    if kept.len() >= cap as usize {
        return None;
    }
    kept.push(now_ms);
    Some(kept)
}

/// How far back the outbox looks for due messages: a quiet window is under a day, so this covers two days of
/// failed scheduled runs.
pub const OUTBOX_LOOKBACK: chrono::Duration = chrono::Duration::hours(48);

/// Why a message was not sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendFailure {
    /// It never will be (invalid number, opted out, address refused): recorded, not retried.
    #[error("refused: {0}")]
    Permanent(String),
    /// Try again later.
    #[error("failed: {0}")]
    Transient(String),
}

/// A channel to the customer: SMS by SNS, email by SES, the console locally, memory in tests.
#[async_trait]
pub trait CustomerSender: Send + Sync {
    /// Whether this sender delivers `channel`.
    fn sends(&self, channel: Channel) -> bool;
    /// Sends `message` to `to` through `channel`; returns the channel's message id.
    async fn send(&self, channel: Channel, to: &str, message: &super::CustomerMessage) -> Result<String, SendFailure>;
    /// Hears that `message` waits for the customer's quiet hours to end at `until` (the local run shows it).
    fn held(&self, _channel: Channel, _to: &str, _message: &super::CustomerMessage, _until: DateTime<Utc>) {}
}

#[cfg(any(test, feature = "testing"))]
/// Keeps what it sends, for tests; can be told how the next sends fail.
#[derive(Default)]
pub struct MemorySender {
    sent: Mutex<Vec<(Channel, String, String)>>,
    failures: Mutex<Vec<SendFailure>>,
}

#[cfg(any(test, feature = "testing"))]
impl MemorySender {
    /// (channel, to, text: the SMS or the email's subject), in order.
    pub fn sent(&self) -> Vec<(Channel, String, String)> {
        self.sent.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The next sends fail with these, one each, in order.
    pub fn fail_next(&self, failures: Vec<SendFailure>) {
        *self.failures.lock().unwrap_or_else(|e| e.into_inner()) = failures;
    }
}

#[cfg(any(test, feature = "testing"))]
#[async_trait]
impl CustomerSender for MemorySender {
    fn sends(&self, _: Channel) -> bool {
        true
    }

    async fn send(&self, channel: Channel, to: &str, message: &super::CustomerMessage) -> Result<String, SendFailure> {
        {
            let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
            if !failures.is_empty() {
                return Err(failures.remove(0));
            }
        }
        let text = message.for_channel(channel).headline().to_string();
        let mut sent = self.sent.lock().unwrap_or_else(|e| e.into_inner());
        sent.push((channel, to.to_string(), text));
        Ok(format!("memory-{}", sent.len()))
    }
}

/// Each channel's sender, where one is configured (no SES sender: no customer email).
#[derive(Default)]
pub struct Senders(BTreeMap<Channel, Arc<dyn CustomerSender>>);

impl Senders {
    /// These senders, and `sender` for `channel`.
    pub fn with(mut self, channel: Channel, sender: Arc<dyn CustomerSender>) -> Self {
        self.0.insert(channel, sender);
        self
    }

    /// The sender of `channel`, if one is configured.
    pub fn of(&self, channel: Channel) -> Option<&Arc<dyn CustomerSender>> {
        self.0.get(&channel)
    }
}

impl FromIterator<(Channel, Arc<dyn CustomerSender>)> for Senders {
    fn from_iter<I: IntoIterator<Item = (Channel, Arc<dyn CustomerSender>)>>(senders: I) -> Self {
        Self(senders.into_iter().collect())
    }
}

#[async_trait]
impl CustomerSender for Senders {
    fn sends(&self, channel: Channel) -> bool {
        self.of(channel).is_some_and(|sender| sender.sends(channel))
    }

    async fn send(&self, channel: Channel, to: &str, message: &super::CustomerMessage) -> Result<String, SendFailure> {
        match self.of(channel) {
            Some(sender) => sender.send(channel, to, message).await,
            None => Err(SendFailure::Permanent(format!(
                "no {} sender is configured",
                channel.as_str()
            ))),
        }
    }
}
