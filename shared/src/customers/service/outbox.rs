//! The outbox: customer messages held for quiet hours, sent once their hours end, to the contact as it is
//! then. One run sends them all, or hands a batch larger than it handles in place to workers, one job each.

use super::{CustomerNotifier, NotifyError, OutboxReport, Sent};
use crate::customers::records::{due_claimable, Channel, NotificationRecord, NotificationStatus};
use crate::customers::zone_of;
use crate::store::{Lease, StoreError};
use chrono::{DateTime, Utc};

impl CustomerNotifier {
    /// Sends every outbox message whose quiet hours have ended, each once, to the contact as it is now: a
    /// contact removed meanwhile gets nothing, a changed number gets it at the new one.
    pub async fn send_due(&self, lease: &Lease, now: DateTime<Utc>) -> Result<OutboxReport, StoreError> {
        self.send_due_or(lease, now, usize::MAX, |_| async { Ok(()) }).await
    }

    /// [`Self::send_due`] in place up to `in_place` messages; a larger batch goes to `queue` whole (each then
    /// sent by [`Self::send_queued`] wherever the queue leads), reported as `queued`.
    pub async fn send_due_or<Q, Fut>(
        &self,
        lease: &Lease,
        now: DateTime<Utc>,
        in_place: usize,
        queue: Q,
    ) -> Result<OutboxReport, StoreError>
    where
        Q: FnOnce(Vec<(String, Channel)>) -> Fut,
        Fut: std::future::Future<Output = Result<(), StoreError>>,
    {
        let mut report = OutboxReport::default();
        let due: Vec<NotificationRecord> = self
            .notifications
            .due_notifications(now)
            .await?
            .into_iter()
            .filter(|queued| queued.alert.is_some())
            .collect();
        if due.len() > in_place {
            report.due = due.len();
            report.queued = due.len();
            queue(due.into_iter().map(|r| (r.alert_id, r.channel)).collect()).await?;
            return Ok(report);
        }
        for queued in due {
            self.send_one(queued, lease, now, &mut report).await?;
        }
        Ok(report)
    }

    /// Sends one outbox message handed over by [`Self::send_due_or`], if it is still due and unsent.
    pub async fn send_queued(
        &self,
        alert_id: &str,
        channel: Channel,
        lease: &Lease,
        now: DateTime<Utc>,
    ) -> Result<OutboxReport, StoreError> {
        let mut report = OutboxReport::default();
        let record = self
            .notifications
            .notifications(alert_id)
            .await?
            .into_iter()
            .find(|r| r.channel == channel && r.alert.is_some() && due_claimable(r.status, r.lease_until, now));
        if let Some(record) = record.filter(|r| r.due_at.is_none_or(|due| due <= now)) {
            self.send_one(record, lease, now, &mut report).await?;
        }
        Ok(report)
    }

    async fn send_one(
        &self,
        queued: NotificationRecord,
        lease: &Lease,
        now: DateTime<Utc>,
        report: &mut OutboxReport,
    ) -> Result<(), StoreError> {
        let Some(alert) = queued.alert.clone() else {
            return Ok(());
        };
        report.due += 1;
        let mut record = queued;
        record.possible_duplicate |= record.status == NotificationStatus::Claimed && record.sending_at.is_some();
        record.status = NotificationStatus::Claimed;
        record.attempt = Some(lease.attempt.clone());
        record.lease_until = Some(lease.until);
        if !self.notifications.claim_due(&record, now).await? {
            report.retry += 1;
            return Ok(());
        }
        let contact = match self.contact_for(&alert).await {
            Ok(contact) => contact,
            Err(error) => {
                tracing::warn!(%error, "contact lookup failed; the next run retries");
                self.release(&record, lease).await;
                report.retry += 1;
                return Ok(());
            }
        };
        let ready = contact.as_ref().and_then(|contact| {
            let to = self.address(contact, record.channel)?;
            Some((contact, to.to_string(), self.message(&alert, contact)?))
        });
        let Some((contact, to, message)) = ready else {
            record.status = NotificationStatus::Skipped;
            record.error = Some("the contact or this channel was withdrawn while the message waited".into());
            self.finish(record, &lease.attempt).await?;
            report.not_sent += 1;
            return Ok(());
        };
        // Quiet hours are the contact's as they are now: a contact who moved zones may still be asleep.
        let release = self
            .settings
            .quiet_hours
            .and_then(|quiet| quiet.release_time(now, zone_of(contact.time_zone.as_deref())));
        if let Some(due_at) = release {
            self.sender.held(record.channel, &to, &message, due_at);
            record.status = NotificationStatus::Queued;
            record.attempt = None;
            record.lease_until = None;
            record.due_at = Some(due_at);
            self.notifications.finish_notification(&record, &lease.attempt).await?;
            report.held += 1;
            return Ok(());
        }
        record.to = to;
        record.customer_id = contact.customer_id.clone();
        match self.deliver(record, &message, &lease.attempt, now).await {
            Ok(Sent::Now) => report.sent += 1,
            Ok(Sent::NotSent) => report.not_sent += 1,
            Err(NotifyError::Store(error)) => return Err(error),
            Err(error) => {
                tracing::warn!(%error, "queued customer notification not sent; the next run retries");
                report.retry += 1;
            }
        }
        Ok(())
    }

    async fn release(&self, record: &NotificationRecord, lease: &Lease) {
        if let Err(error) = self
            .notifications
            .release_notification(&record.alert_id, record.channel, &lease.attempt)
            .await
        {
            tracing::warn!(%error, "could not release the outbox claim; it expires on its own");
        }
    }
}
