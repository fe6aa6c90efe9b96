//! The customer sender: deployed, the functions that raise alerts name each alert's customer and tell nobody
//! ([`Pipeline::with_customers_told_downstream`]); a queue subscribed to the topic's alerts carries each
//! published alert here, where its customer is told, each channel once, under the same claims as telling in
//! place. A message that fails for now (a store error, a transient send failure, a concurrent attempt holding
//! a channel) is kept and retried by SQS; one that is not an alert is dropped.

use super::Pipeline;
use crate::alerts::Alert;
use crate::model::log_ref;
use crate::sqs_event::{BatchResponse, SnsEnvelope, SqsEvent, SqsRecord};
use std::sync::Arc;

pub struct CustomerQueue {
    /// Built with the customers told here ([`Pipeline::with_customers`]).
    pub pipeline: Arc<Pipeline>,
}

impl CustomerQueue {
    /// Handles one batch; never fails as a whole: each message succeeds or is kept. The alerts are told at
    /// once, so one slow channel holds up no other customer.
    pub async fn handle(&self, event: SqsEvent) -> BatchResponse {
        let kept = futures_util::future::join_all(event.records.iter().map(|r| self.handle_one(r))).await;
        BatchResponse::keeping(event.records, kept)
    }

    /// True when the message must be kept (it failed now and is retried).
    async fn handle_one(&self, record: &SqsRecord) -> bool {
        let Some(alert) = alert_of(&record.body) else {
            tracing::warn!("a queue message that is not a published alert: dropped");
            return false;
        };
        match self.pipeline.tell_customer(&alert).await {
            Ok(sent) => {
                tracing::debug!(alert_ref = log_ref(&alert.alert_id), sent, "customer told");
                false
            }
            Err(error) => {
                tracing::warn!(%error, alert_ref = log_ref(&alert.alert_id), "telling the customer failed; retried");
                true
            }
        }
    }
}

/// The alert in SNS's envelope (its `sqs` message is the alert's document), or in a raw-delivery body.
fn alert_of(body: &str) -> Option<Alert> {
    match serde_json::from_str::<SnsEnvelope>(body) {
        Ok(envelope) => serde_json::from_str(&envelope.message).ok(),
        Err(_) => serde_json::from_str(body).ok(),
    }
}
