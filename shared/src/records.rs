//! Who was told about an alert: the record of one customer message per (alert, channel). The customer side
//! writes it ([`crate::customers::records`] re-exports it) and the store lists it beside its alert, so it
//! belongs to neither.

use crate::alerts::Alert;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Declares the enum of channels, its names and `ALL`, from one line each.
macro_rules! channels {
    ($($variant:ident = $name:literal,)+) => {
        /// A way to reach a customer: one variant per line of the list below.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum Channel {
            $(#[serde(rename = $name)] $variant,)+
        }

        impl Channel {
            /// Every channel, in sending order (the order of the list).
            pub const ALL: [Self; [$($name),+].len()] = [$(Self::$variant),+];

            /// Its name: in stored records, in a contact's channels (`sms|email`), in logs.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $name,)+
                }
            }
        }
    };
}

// The list of channels: one line each, `Variant = "name"`, in sending order. Everything that goes through every
// channel reads `Channel::ALL`; what is a channel's own (its sender, its wording, its address and permission on
// the contact) is matched on it, so the compiler names each place a new one needs (`docs/customers.md`,
// "Adding a channel").
channels! {
    Sms = "sms",
    Email = "email",
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_are_stored_by_their_names_in_sending_order() {
        assert_eq!(Channel::ALL.map(Channel::as_str), ["sms", "email"]);
        for channel in Channel::ALL {
            assert_eq!(serde_json::to_value(channel).unwrap(), channel.as_str());
            assert_eq!(
                serde_json::from_value::<Channel>(channel.as_str().into()).unwrap(),
                channel
            );
        }
    }
}
