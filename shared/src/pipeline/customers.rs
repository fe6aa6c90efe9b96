//! The pipeline's customer side: who tells the customers of the alerts it raises (here, or downstream of the
//! topic), and the outbox of messages held for quiet hours.

use super::{Pipeline, PipelineError};
use crate::customers::service::{CustomerNotifier, OutboxReport};
use crate::customers::teller::NamedOnly;
use crate::customers::ContactLookup;
use crate::store::StoreError;
use std::sync::Arc;

impl Pipeline {
    /// Also tells each alert's customer (their contact from the directory), each channel once, here; and
    /// sends the messages held for quiet hours when asked.
    pub fn with_customers(mut self, notifier: Arc<CustomerNotifier>) -> Self {
        self.customers = Some(notifier.clone());
        self.outbox = Some(notifier);
        self
    }

    /// Names each alert's customer (`customer_id` on the operator's copy) and tells nobody: deployed, the
    /// customer sender tells them from the published alert, so the functions that raise alerts link no
    /// customer messages.
    pub fn with_customers_told_downstream(mut self, contacts: Arc<dyn ContactLookup>) -> Self {
        self.customers = Some(Arc::new(NamedOnly { contacts }));
        self
    }

    /// Sends the customer messages held for quiet hours with `notifier` (whoever tells the alerts).
    pub fn with_outbox(mut self, notifier: Arc<CustomerNotifier>) -> Self {
        self.outbox = Some(notifier);
        self
    }

    /// Sends the customer messages whose quiet hours have ended (the scheduled run's second task).
    pub async fn send_due_notifications(&self) -> Result<OutboxReport, PipelineError> {
        self.send_due_notifications_or(usize::MAX, |_| async { Ok(()) }).await
    }

    /// [`Self::send_due_notifications`] in place up to `in_place` messages; a larger batch goes to `queue`.
    pub async fn send_due_notifications_or<Q, Fut>(
        &self,
        in_place: usize,
        queue: Q,
    ) -> Result<OutboxReport, PipelineError>
    where
        Q: FnOnce(Vec<(String, crate::customers::records::Channel)>) -> Fut,
        Fut: std::future::Future<Output = Result<(), StoreError>>,
    {
        let Some(outbox) = &self.outbox else {
            return Ok(OutboxReport::default());
        };
        let lease = self.lease(&self.new_attempt());
        Ok(outbox.send_due_or(&lease, self.clock.now(), in_place, queue).await?)
    }

    /// Sends one held customer message a sweep handed to the workers, if it is still due and unsent.
    pub async fn send_queued_notification(
        &self,
        alert_id: &str,
        channel: crate::customers::records::Channel,
    ) -> Result<OutboxReport, PipelineError> {
        let Some(outbox) = &self.outbox else {
            return Ok(OutboxReport::default());
        };
        let lease = self.lease(&self.new_attempt());
        Ok(outbox.send_queued(alert_id, channel, &lease, self.clock.now()).await?)
    }
}
