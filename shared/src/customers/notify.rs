//! Telling the customer: for each alert about an eSIM with a contact, its message through each channel the
//! contact allows, each (alert, channel) exactly once. A channel is claimed before it is sent (the pattern of
//! deliveries and alerts: a lease, then a final status), so duplicate storms and retries never text anyone
//! twice; a permanent refusal (an invalid number) is recorded and not retried, and never fails the provider's
//! delivery; a transient failure releases the claim and fails it, so the provider's retry sends it.

use super::{customer_message, refs_of, ContactLookup};
use crate::alerts::Alert;
use crate::store::{alert_decision, AlertClaim, AlertStatus, Decision, Lease, StoreError};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Sms,
    Email,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sms => "sms",
            Self::Email => "email",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum NotificationStatus {
    Claimed,
    Sent,
    /// Refused for good (invalid number, opted out, refused address): recorded, not retried.
    Failed,
}

impl NotificationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Claimed => "CLAIMED",
            Self::Sent => "SENT",
            Self::Failed => "FAILED",
        }
    }
}

/// Who was told about an alert, by which channel, when, and the channel's message id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotificationRecord {
    pub alert_id: String,
    pub channel: Channel,
    /// The phone number or email address (personal data: masked in tables).
    pub to: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    pub status: NotificationStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_until: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The claim rule for a notification: the alert rule, a failed one counting as done.
pub fn notification_decision(
    existing: Option<(NotificationStatus, Option<DateTime<Utc>>)>,
    now: DateTime<Utc>,
) -> Decision<AlertClaim> {
    let as_alert = existing.map(|(status, lease)| match status {
        NotificationStatus::Claimed => (AlertStatus::Claimed, lease),
        NotificationStatus::Sent | NotificationStatus::Failed => (AlertStatus::Sent, lease),
    });
    alert_decision(as_alert, now)
}

/// Where notifications are recorded: beside their alert.
#[async_trait]
pub trait NotificationStore: Send + Sync {
    /// Claims `(record.alert_id, record.channel)` for `record.attempt` until `record.lease_until`.
    async fn claim_notification(
        &self,
        record: &NotificationRecord,
        now: DateTime<Utc>,
    ) -> Result<AlertClaim, StoreError>;
    /// Records the final status of a notification we hold (`attempt`); a lease lost to another attempt is not
    /// an error.
    async fn finish_notification(&self, record: &NotificationRecord, attempt: &str) -> Result<(), StoreError>;
    /// Lets the next attempt claim it at once.
    async fn release_notification(&self, alert_id: &str, channel: Channel, attempt: &str) -> Result<(), StoreError>;
    /// The notifications of an alert.
    async fn notifications(&self, alert_id: &str) -> Result<Vec<NotificationRecord>, StoreError>;
}

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
    /// The channels this sender can deliver.
    fn channels(&self) -> &'static [Channel];
    /// Sends `message` to `to` through `channel`; returns the channel's message id.
    async fn send(&self, channel: Channel, to: &str, message: &super::CustomerMessage) -> Result<String, SendFailure>;
}

/// What the customer side of the pipeline needs.
pub struct CustomerNotifier {
    pub contacts: Arc<dyn ContactLookup>,
    pub notifications: Arc<dyn NotificationStore>,
    pub sender: Arc<dyn CustomerSender>,
    /// The reseller's brand, which starts every message.
    pub brand: String,
    /// How many SMS parts a message may take.
    pub sms_parts: usize,
}

/// Why telling the customer did not finish: the delivery (or sweep) fails and its retry finishes it.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("sending {channel} for alert {alert_ref} {reason}")]
    Send {
        channel: &'static str,
        alert_ref: String,
        reason: SendFailure,
    },
    #[error("a concurrent attempt holds the {0} notification")]
    Busy(&'static str),
}

impl CustomerNotifier {
    /// Tells the customer of `alert`'s eSIM through every channel allowed, each once. Returns how many were
    /// sent now.
    pub async fn notify(&self, alert: &Alert, lease: &Lease, now: DateTime<Utc>) -> Result<usize, NotifyError> {
        let Some(esim) = &alert.esim else {
            return Ok(0);
        };
        let Some(contact) = self
            .contacts
            .find(alert.provider, &refs_of(alert.provider, esim))
            .await?
        else {
            return Ok(0);
        };
        let Some(message) = customer_message(alert, &contact, &self.brand, self.sms_parts) else {
            return Ok(0);
        };
        let wanted = [
            (Channel::Sms, contact.channels.sms, contact.phone.as_deref()),
            (Channel::Email, contact.channels.email, contact.email.as_deref()),
        ];
        let mut sent = 0;
        for (channel, allowed, to) in wanted {
            let Some(to) = to.filter(|_| allowed && self.sender.channels().contains(&channel)) else {
                continue;
            };
            let mut record = NotificationRecord {
                alert_id: alert.alert_id.clone(),
                channel,
                to: to.to_string(),
                customer_id: contact.customer_id.clone(),
                status: NotificationStatus::Claimed,
                attempt: Some(lease.attempt.clone()),
                lease_until: Some(lease.until),
                message_id: None,
                sent_at: None,
                error: None,
            };
            match self.notifications.claim_notification(&record, now).await? {
                AlertClaim::AlreadySent => continue,
                AlertClaim::InProgress => return Err(NotifyError::Busy(channel.as_str())),
                AlertClaim::Claimed => {}
            }
            let alert_ref = crate::model::log_ref(&alert.alert_id);
            match self.sender.send(channel, to, &message).await {
                Ok(message_id) => {
                    record.status = NotificationStatus::Sent;
                    record.message_id = Some(message_id);
                    record.sent_at = Some(now);
                    sent += 1;
                    tracing::info!(alert_ref, channel = channel.as_str(), "customer notified");
                }
                Err(SendFailure::Permanent(reason)) => {
                    tracing::warn!(
                        alert_ref,
                        channel = channel.as_str(),
                        reason,
                        "customer notification refused for good"
                    );
                    record.status = NotificationStatus::Failed;
                    record.error = Some(reason);
                }
                Err(failure @ SendFailure::Transient(_)) => {
                    if let Err(error) = self
                        .notifications
                        .release_notification(&alert.alert_id, channel, &lease.attempt)
                        .await
                    {
                        tracing::warn!(%error, "could not release the notification claim; it expires on its own");
                    }
                    return Err(NotifyError::Send {
                        channel: channel.as_str(),
                        alert_ref,
                        reason: failure,
                    });
                }
            }
            record.attempt = None;
            record.lease_until = None;
            self.notifications.finish_notification(&record, &lease.attempt).await?;
        }
        Ok(sent)
    }
}

/// Keeps what it sends, for tests; can be told how the next sends fail.
#[derive(Default)]
pub struct MemorySender {
    sent: Mutex<Vec<(Channel, String, String)>>,
    failures: Mutex<Vec<SendFailure>>,
}

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

#[async_trait]
impl CustomerSender for MemorySender {
    fn channels(&self) -> &'static [Channel] {
        &[Channel::Sms, Channel::Email]
    }

    async fn send(&self, channel: Channel, to: &str, message: &super::CustomerMessage) -> Result<String, SendFailure> {
        {
            let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
            if !failures.is_empty() {
                return Err(failures.remove(0));
            }
        }
        let text = match channel {
            Channel::Sms => message.sms.clone(),
            Channel::Email => message.email_subject.clone(),
        };
        let mut sent = self.sent.lock().unwrap_or_else(|e| e.into_inner());
        sent.push((channel, to.to_string(), text));
        Ok(format!("memory-{}", sent.len()))
    }
}
