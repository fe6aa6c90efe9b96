//! Raising one alert: claimed, published and marked once, its customer told each channel once. What an
//! alert needs read before its claim (the customer's contact, whether it went out already, under its id or a
//! former one) is read while the eSIM's state is saved ([`ReadAhead`]), so it costs no round trip of its own.

use super::{Pipeline, PipelineError, MARK_SENT_RETRIES};
use crate::alerts::Alert;
use crate::customers::Contact;
use crate::model::log_ref;
use crate::store::{AlertClaim, AlertStatus, Lease, StoreError};
use futures_util::future::join_all;
use std::collections::HashMap;

/// Reads a delivery's alerts need, done ahead. Empty means nothing was read: each alert reads for itself.
#[derive(Debug, Default)]
pub(super) struct ReadAhead {
    /// The contact found for an eSIM (its key; none for an alert about no eSIM), when the directory was asked.
    contact: Option<(Option<String>, Option<Contact>)>,
    /// Whether each alert id, and each former alert id, was sent: one sent already is not claimed again
    /// (a claim that fails is still a write unit; this read costs a fifth of one).
    sent: HashMap<String, bool>,
}

fn esim_of(alert: &Alert) -> Option<String> {
    alert.esim.as_ref().map(|esim| esim.key.clone())
}

impl Pipeline {
    /// Reads what `alerts` will need: their eSIM's contact and the status of their former ids, all at once.
    pub(super) async fn read_ahead(&self, alerts: &[Alert]) -> Result<ReadAhead, PipelineError> {
        let Some(first) = alerts.first() else {
            return Ok(ReadAhead::default());
        };
        let contact = async {
            match &self.customers {
                Some(customers) => Ok(Some((esim_of(first), customers.contact_for(first).await?))),
                None => Ok::<_, StoreError>(None),
            }
        };
        let ids: Vec<&String> = alerts
            .iter()
            .flat_map(|a| std::iter::once(&a.alert_id).chain(crate::compat::former::alert_id(a)))
            .collect();
        let statuses = join_all(ids.iter().map(|id| self.store.alert_status(id)));
        let (contact, statuses) = tokio::join!(contact, statuses);
        let mut sent = HashMap::new();
        for (id, status) in ids.into_iter().zip(statuses) {
            sent.insert(id.clone(), status? == Some(AlertStatus::Sent));
        }
        Ok(ReadAhead {
            contact: contact?,
            sent,
        })
    }

    /// Publishes an alert once and tells its customer, each channel once: an alert published by an earlier
    /// attempt whose customer was not told yet is told now. True when the alert was published now.
    /// The operator's copy names the contact's `customer_id`.
    pub(super) async fn raise(&self, alert: &Alert, lease: &Lease, ahead: &ReadAhead) -> Result<bool, PipelineError> {
        let Some(customers) = &self.customers else {
            return self.publish_once(alert, lease, ahead).await;
        };
        // Alerts of one eSIM share its contact: read ahead for this alert's eSIM, or read now.
        let contact = match &ahead.contact {
            Some((esim, contact)) if *esim == esim_of(alert) => contact.clone(),
            _ => customers.contact_for(alert).await?,
        };
        let Some(contact) = contact else {
            return self.publish_once(alert, lease, ahead).await;
        };
        let alert = Alert {
            customer_id: contact.customer_id.clone(),
            ..alert.clone()
        };
        // The customer's messages are records of their own, claimed once each: they go out alongside the
        // operator's alert (an operator's copy that fails is retried; the customer is not told twice).
        let (published, told) = tokio::join!(
            self.publish_once(&alert, lease, ahead),
            customers.tell(&alert, &contact, lease, self.clock.now())
        );
        let published = published?;
        told?;
        Ok(published)
    }

    /// Tells `alert`'s customer, each channel once (the customer sender, for an alert published without
    /// telling them); returns how many messages went out now. An alert about no eSIM, or one without a
    /// contact, tells nobody.
    pub async fn tell_customer(&self, alert: &Alert) -> Result<usize, PipelineError> {
        let Some(customers) = &self.customers else {
            return Ok(0);
        };
        let Some(contact) = customers.contact_for(alert).await? else {
            return Ok(0);
        };
        let lease = self.lease(&self.new_attempt());
        Ok(customers.tell(alert, &contact, &lease, self.clock.now()).await?)
    }

    /// Records a published alert as sent. SNS has already accepted it, so a failure here would make the
    /// provider's retry publish it again: a short DynamoDB blip is retried in place first.
    async fn mark_sent(&self, alert: &Alert, lease: &Lease, receipt: &str) -> Result<(), StoreError> {
        let mut attempt = 0;
        loop {
            match self
                .store
                .mark_alert_sent(alert, lease, receipt, self.clock.now())
                .await
            {
                Ok(()) => return Ok(()),
                Err(error) if attempt < MARK_SENT_RETRIES => {
                    attempt += 1;
                    tracing::warn!(%error, attempt, "alert published but not yet recorded as sent; retrying");
                    tokio::time::sleep(std::time::Duration::from_millis(50 << attempt)).await;
                }
                Err(error) => {
                    tracing::error!(%error, alert_ref = log_ref(&alert.alert_id), "alert published but not recorded as sent: a retry may publish it again");
                    return Err(error);
                }
            }
        }
    }

    /// Claims, publishes and marks one alert. False when it was already sent (under its former id too).
    async fn publish_once(&self, alert: &Alert, lease: &Lease, ahead: &ReadAhead) -> Result<bool, PipelineError> {
        if ahead.sent.get(&alert.alert_id) == Some(&true) {
            return Ok(false);
        }
        if let Some(former) = crate::compat::former::alert_id(alert) {
            let sent_before = match ahead.sent.get(former) {
                Some(sent) => *sent,
                None => self.store.alert_status(former).await? == Some(AlertStatus::Sent),
            };
            if sent_before {
                return Ok(false);
            }
        }
        let claim = self
            .wait_while_busy(|| async {
                let claim = self.store.claim_alert(alert, lease, self.clock.now()).await?;
                Ok((claim != AlertClaim::InProgress).then_some(claim))
            })
            .await?;
        match claim {
            None | Some(AlertClaim::InProgress) => Err(PipelineError::Busy(alert.alert_id.clone())),
            Some(AlertClaim::AlreadySent) => Ok(false),
            Some(AlertClaim::Claimed) => match self.sink.publish(alert).await {
                Ok(receipt) => {
                    self.mark_sent(alert, lease, &receipt).await?;
                    tracing::debug!(alert_id = alert.alert_id, "alert published");
                    let alert_ref = log_ref(&alert.alert_id);
                    tracing::info!(
                        alert_ref,
                        alert_type = alert.alert_type.as_str(),
                        alert_level = alert.level,
                        "alert published"
                    );
                    Ok(true)
                }
                Err(error) => {
                    if let Err(release) = self.store.release_alert(alert, lease).await {
                        tracing::warn!(error = %release, "could not release the alert claim; it expires on its own");
                    }
                    Err(error.into())
                }
            },
        }
    }
}
