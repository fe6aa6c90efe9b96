//! The expiry sweep: the expiry alert of every eSIM whose plan ends within the window, raised even when no
//! delivery comes to trigger it; in place, or, for a batch larger than one run handles, queued to workers.

use super::raise::ReadAhead;
use super::{Pipeline, PipelineError};
use crate::alerts::upcoming_expiry;
use crate::customers::service::OutboxReport;
use crate::metrics::directive;
use crate::model::log_ref;
use crate::store::StoreError;
use chrono::Duration;
use serde_json::json;

/// What one run of the expiry sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct SweepReport {
    /// eSIMs whose validity ends within the window.
    pub expiring: usize,
    /// Alerts published by this run.
    pub published: usize,
    /// Alerts some earlier delivery or sweep had already sent.
    pub already_sent: usize,
    /// Alerts that could not be published now; the next run retries them.
    pub failed: usize,
    /// eSIMs handed to workers, the batch being larger than one run handles in place.
    pub queued: usize,
}

impl Pipeline {
    /// Raises the expiry alert of every eSIM whose validity ends within the window, even when no delivery
    /// arrives to trigger it. Safe to run as often as wanted: each bundle's alert is claimed once.
    pub async fn sweep_expiring(&self) -> Result<SweepReport, PipelineError> {
        self.sweep_expiring_or(usize::MAX, |_| async { Ok(()) }).await
    }

    /// [`Self::sweep_expiring`] in place up to `in_place` eSIMs; a larger batch goes to `queue` whole (each
    /// eSIM's alert then raised by [`Self::raise_expiry`] wherever the queue leads), reported as `queued`.
    pub async fn sweep_expiring_or<Q, Fut>(&self, in_place: usize, queue: Q) -> Result<SweepReport, PipelineError>
    where
        Q: FnOnce(Vec<(crate::model::ProviderId, String)>) -> Fut,
        Fut: std::future::Future<Output = Result<(), StoreError>>,
    {
        let now = self.clock.now();
        let until = now + self.settings.rules.expiry_window + Duration::seconds(1);
        let states = self.store.expiring_states(now, until).await?;
        let alerts: Vec<_> = states
            .iter()
            .filter_map(|state| upcoming_expiry(state, &self.settings.rules, now).map(|alert| (state, alert)))
            .collect();
        let mut report = SweepReport {
            expiring: alerts.len(),
            ..SweepReport::default()
        };
        if alerts.len() > in_place {
            report.queued = alerts.len();
            queue(alerts.iter().map(|(s, _)| (s.provider, s.key.clone())).collect()).await?;
            return Ok(report);
        }
        let lease = self.lease(&self.new_attempt());
        for (_, alert) in &alerts {
            match self.raise(alert, &lease, &ReadAhead::default()).await {
                Ok(true) => report.published += 1,
                Ok(false) => report.already_sent += 1,
                Err(error) => {
                    let alert_ref = log_ref(&alert.alert_id);
                    tracing::error!(alert_ref, %error, "expiry alert not published; the next sweep retries");
                    report.failed += 1;
                }
            }
        }
        Ok(report)
    }

    /// Raises the expiry alert of one eSIM, when its plan ends within the window: `Some(true)` published now,
    /// `Some(false)` sent before, `None` no alert due (the end moved, or the eSIM is gone).
    pub async fn raise_expiry(
        &self,
        provider: crate::model::ProviderId,
        esim_key: &str,
    ) -> Result<Option<bool>, PipelineError> {
        let Some(state) = self.store.load_state(provider, esim_key).await? else {
            return Ok(None);
        };
        let Some(alert) = upcoming_expiry(&state.value, &self.settings.rules, self.clock.now()) else {
            return Ok(None);
        };
        let lease = self.lease(&self.new_attempt());
        Ok(Some(self.raise(&alert, &lease, &ReadAhead::default()).await?))
    }
}

/// The EMF line for one scheduled run: the expiry sweep and the customer outbox.
pub fn sweep_line(report: &SweepReport, outbox: &OutboxReport, timestamp_ms: i64) -> String {
    let names = [
        ("SweepExpiring", "Count"),
        ("SweepPublished", "Count"),
        ("SweepAlreadySent", "Count"),
        ("SweepFailed", "Count"),
        ("SweepQueued", "Count"),
        ("OutboxDue", "Count"),
        ("OutboxSent", "Count"),
        ("OutboxNotSent", "Count"),
        ("OutboxRetry", "Count"),
        ("OutboxHeld", "Count"),
        ("OutboxQueued", "Count"),
    ];
    json!({
        "_aws": {"Timestamp": timestamp_ms, "CloudWatchMetrics": [directive(json!([[]]), &names)]},
        "SweepExpiring": report.expiring,
        "SweepPublished": report.published,
        "SweepAlreadySent": report.already_sent,
        "SweepFailed": report.failed,
        "SweepQueued": report.queued,
        "OutboxDue": outbox.due,
        "OutboxSent": outbox.sent,
        "OutboxNotSent": outbox.not_sent,
        "OutboxRetry": outbox.retry,
        "OutboxHeld": outbox.held,
        "OutboxQueued": outbox.queued,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::tests::{assert_valid_emf, parse};

    #[test]
    fn sweep_line_is_valid_emf() {
        let report = SweepReport {
            expiring: 3,
            published: 1,
            already_sent: 2,
            failed: 0,
            queued: 0,
        };
        let outbox = OutboxReport {
            due: 4,
            sent: 3,
            not_sent: 1,
            retry: 0,
            held: 2,
            queued: 0,
        };
        let doc = parse(&sweep_line(&report, &outbox, 5));
        assert_valid_emf(&doc);
        assert_eq!(
            (doc["SweepPublished"].as_u64(), doc["OutboxSent"].as_u64()),
            (Some(1), Some(3))
        );
        assert_eq!(doc["OutboxHeld"].as_u64(), Some(2));
        assert_eq!(doc["SweepQueued"].as_u64(), Some(0));
    }
}
