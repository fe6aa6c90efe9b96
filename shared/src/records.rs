//! Who was told about an alert: the record of one customer message per (alert, channel). The customer side
//! writes it ([`crate::customers::records`] re-exports it) and the store lists it beside its alert, so it
//! belongs to neither.

use crate::alerts::Alert;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A way to reach a customer. Everything that goes through every channel reads [`Channel::ALL`]; what is a
/// channel's own (its sender, its wording, its address and permission on the contact) is matched on it, so the
/// compiler names each place a new channel needs (`docs/customers.md`, "Adding a channel").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Sms,
    Email,
}

impl Channel {
    /// Every channel, in sending order.
    pub const ALL: [Self; 2] = [Self::Sms, Self::Email];

    /// Its name: in stored records, in a contact's channels (`sms|email`), in logs.
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
    /// Due in quiet hours: waits in the outbox until `due_at`.
    Queued,
    Sent,
    /// Refused for good by the channel (invalid number, opted out, refused address): recorded, not retried.
    Failed,
    /// Not sent by our own rule (daily SMS cap, suppressed address, contact removed while queued).
    Skipped,
}

impl NotificationStatus {
    pub const ALL: [Self; 5] = [Self::Claimed, Self::Queued, Self::Sent, Self::Failed, Self::Skipped];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Claimed => "CLAIMED",
            Self::Queued => "QUEUED",
            Self::Sent => "SENT",
            Self::Failed => "FAILED",
            Self::Skipped => "SKIPPED",
        }
    }

    /// The stored text back; an unknown one reads as a claim (whose lease decides).
    pub fn parse(text: Option<&str>) -> Self {
        Self::ALL
            .into_iter()
            .find(|status| Some(status.as_str()) == text)
            .unwrap_or(Self::Claimed)
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
    /// When a message held back by quiet hours may go; set while it waits in the outbox.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_at: Option<DateTime<Utc>>,
    /// The alert a queued message tells of, so the outbox can word it without another read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert: Option<Alert>,
    /// When the alert was raised: messages are counted with their alert's period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raised_at: Option<DateTime<Utc>>,
    /// When an attempt was about to call the channel; kept when it is sent. A claim found with it but not sent
    /// was left by an attempt that may have sent the message before it stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sending_at: Option<DateTime<Utc>>,
    /// Sent by an attempt that took over from one stopped while sending: the customer may have it twice.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub possible_duplicate: bool,
}

impl NotificationRecord {
    /// Waiting in the outbox (queued, or claimed from it): the records the outbox index holds.
    pub fn in_outbox(&self) -> bool {
        self.due_at.is_some() && matches!(self.status, NotificationStatus::Queued | NotificationStatus::Claimed)
    }
}
