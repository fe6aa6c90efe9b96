//! Telling the customer: for each alert about an eSIM with a contact, its message through each channel the
//! contact allows, each (alert, channel) exactly once, at a decent hour. A message due in the customer's quiet
//! hours waits in the outbox and the scheduled run sends it when they end. A permanent refusal (an invalid
//! number, an opted-out phone) is recorded and not retried, and never fails the provider's delivery; a
//! transient failure releases the claim and fails the attempt, so its retry sends it (the customer sender's
//! queue deployed, the provider's retry when told in place, the next scheduled run for the outbox).

use super::records::{
    Channel, CustomerSender, NotificationClaim, NotificationRecord, NotificationStatus, NotificationStore, SendFailure,
};
use super::{customer_message, mask_address, zone_of, Contact, ContactLookup};
use super::{CustomerMessage, CustomerSettings};
use crate::alerts::Alert;
use crate::model::log_ref;
use crate::store::{Lease, StoreError};
use chrono::{DateTime, Utc};
use futures_util::future::join_all;
use std::sync::Arc;

/// What the customer side of the pipeline needs.
pub struct CustomerNotifier {
    pub contacts: Arc<dyn ContactLookup>,
    pub notifications: Arc<dyn NotificationStore>,
    pub sender: Arc<dyn CustomerSender>,
    pub settings: CustomerSettings,
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

/// What one run of the outbox did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct OutboxReport {
    /// Messages whose quiet hours had ended.
    pub due: usize,
    pub sent: usize,
    /// Not sent, for good (refused, capped, contact removed or channel withdrawn meanwhile).
    pub not_sent: usize,
    /// Left for the next run (a transient failure, or another run holds it).
    pub retry: usize,
    /// Waiting again: the contact's quiet hours (in its zone as it is now) have not ended.
    pub held: usize,
    /// Handed to workers, the batch being larger than one run sends in place.
    pub queued: usize,
}

/// How one channel's attempt ended.
enum Sent {
    Now,
    NotSent,
}

/// One alert being told to one contact: what each channel's attempt needs.
#[derive(Clone, Copy)]
struct Telling<'a> {
    alert: &'a Alert,
    contact: &'a Contact,
    message: &'a CustomerMessage,
    lease: &'a Lease,
    /// When quiet hours end, if they hold the message now.
    release: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
}

impl CustomerNotifier {
    /// The contact of `alert`'s eSIM: one lookup, `None` without an eSIM, a contact, or when turned off.
    pub async fn contact_for(&self, alert: &Alert) -> Result<Option<Contact>, StoreError> {
        if !self.settings.enabled {
            return Ok(None);
        }
        super::contact_of(&*self.contacts, alert).await
    }

    fn message(&self, alert: &Alert, contact: &Contact) -> Option<CustomerMessage> {
        customer_message(alert, contact, &self.settings)
    }

    /// Where `contact` may be reached by `channel` now: allowed by the contact and a sender configured.
    fn address<'c>(&self, contact: &'c Contact, channel: Channel) -> Option<&'c str> {
        contact.address(channel).filter(|_| self.sender.sends(channel))
    }

    /// Tells `contact` about `alert` through every channel allowed, each once, the channels at the same time; a
    /// message due in the contact's quiet hours goes to the outbox. Returns how many were sent now.
    pub async fn notify(
        &self,
        alert: &Alert,
        contact: &Contact,
        lease: &Lease,
        now: DateTime<Utc>,
    ) -> Result<usize, NotifyError> {
        let Some(message) = self.message(alert, contact) else {
            return Ok(0);
        };
        let release = self
            .settings
            .quiet_hours
            .and_then(|quiet| quiet.release_time(now, zone_of(contact.time_zone.as_deref())));
        // The channels are independent records: they go out at the same time.
        let told = join_all(Channel::ALL.map(|channel| {
            let telling = Telling {
                alert,
                contact,
                message: &message,
                lease,
                release,
                now,
            };
            self.notify_channel(channel, telling)
        }))
        .await;
        let mut sent = 0;
        for outcome in told {
            if outcome? {
                sent += 1;
            }
        }
        Ok(sent)
    }

    /// Tells the contact about the alert on one channel, once; true when it was sent now.
    async fn notify_channel(&self, channel: Channel, telling: Telling<'_>) -> Result<bool, NotifyError> {
        let Telling {
            alert,
            contact,
            message,
            lease,
            release,
            now,
        } = telling;
        let Some(to) = self.address(contact, channel) else {
            return Ok(false);
        };
        let mut record = NotificationRecord::claimed(alert, channel, to, contact.customer_id.clone(), lease);
        if let Some(due_at) = release {
            record.status = NotificationStatus::Queued;
            record.attempt = None;
            record.lease_until = None;
            record.due_at = Some(due_at);
            record.alert = Some(alert.clone());
        }
        match self.notifications.claim_notification(&record, now).await? {
            NotificationClaim::AlreadySent => Ok(false),
            NotificationClaim::InProgress => Err(NotifyError::Busy(channel.as_str())),
            NotificationClaim::Claimed { .. } if release.is_some() => {
                self.sender.held(channel, to, message, record.due_at.unwrap_or(now));
                tracing::info!(
                    alert_ref = log_ref(&alert.alert_id),
                    channel = channel.as_str(),
                    due_at = %record.due_at.unwrap_or(now),
                    "customer notification queued until quiet hours end"
                );
                Ok(false)
            }
            NotificationClaim::Claimed { after_send_began } => {
                record.possible_duplicate = after_send_began;
                Ok(matches!(
                    self.deliver(record, message, &lease.attempt, now).await?,
                    Sent::Now
                ))
            }
        }
    }

    /// Sends a claimed notification (within the SMS cap) and records how it ended: marked as being sent just
    /// before the channel is called, so an attempt that takes over after a crash knows it may be a duplicate.
    async fn deliver(
        &self,
        mut record: NotificationRecord,
        message: &CustomerMessage,
        attempt: &str,
        now: DateTime<Utc>,
    ) -> Result<Sent, NotifyError> {
        let channel = record.channel;
        let alert_ref = log_ref(&record.alert_id);
        let cap = self.settings.sms_daily_cap;
        let outcome = if channel == Channel::Sms
            && cap > 0
            && !self.notifications.take_sms_allowance(&record.to, now, cap).await?
        {
            tracing::info!(
                alert_ref,
                cap,
                "customer SMS not sent: the number's cap for 24 hours is reached"
            );
            Err((
                NotificationStatus::Skipped,
                format!("SMS cap of {cap} in 24 hours reached for this number"),
            ))
        } else {
            record.sending_at = Some(now);
            if !self.notifications.mark_sending(&record, attempt).await? {
                return Err(NotifyError::Busy(channel.as_str()));
            }
            if record.possible_duplicate {
                tracing::warn!(
                    alert_ref,
                    channel = channel.as_str(),
                    "customer notification sent again: an attempt stopped while sending it"
                );
            }
            match self.sender.send(channel, &record.to, message).await {
                Ok(message_id) => Ok(message_id),
                Err(SendFailure::Permanent(reason)) => {
                    tracing::warn!(
                        alert_ref,
                        channel = channel.as_str(),
                        reason,
                        "customer notification refused"
                    );
                    Err((NotificationStatus::Failed, reason))
                }
                Err(failure @ SendFailure::Transient(_)) => {
                    if let Err(error) = self
                        .notifications
                        .release_notification(&record.alert_id, channel, attempt)
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
        };
        let sent = match outcome {
            Ok(message_id) => {
                tracing::info!(alert_ref, channel = channel.as_str(), "customer notified");
                record.status = NotificationStatus::Sent;
                record.message_id = Some(message_id);
                record.sent_at = Some(now);
                Sent::Now
            }
            Err((status, reason)) => {
                record.status = status;
                record.error = Some(reason);
                Sent::NotSent
            }
        };
        self.finish(record, attempt).await?;
        Ok(sent)
    }

    async fn finish(&self, mut record: NotificationRecord, attempt: &str) -> Result<(), StoreError> {
        record.attempt = None;
        record.lease_until = None;
        record.due_at = None;
        record.alert = None;
        self.notifications.finish_notification(&record, attempt).await
    }
}

/// Erases `contact`'s addresses (phone, email) from every notification record sent to them (after the contact
/// itself is removed); returns how many records were masked.
pub async fn mask_past_notifications(store: &dyn NotificationStore, contact: &Contact) -> Result<usize, StoreError> {
    let mut masked = 0;
    for channel in Channel::ALL {
        if let Some(address) = contact.stored_address(channel) {
            masked += store.mask_recipient(address, &mask_address(channel, address)).await?;
        }
    }
    Ok(masked)
}

mod outbox;

#[cfg(test)]
mod tests;
