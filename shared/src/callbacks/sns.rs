//! [`CallbackTransport`] on SNS: one HTTPS subscription per registered URL on the alerts topic, with the
//! partner's filter policy, our delivery retry policy and, when configured, a dead-letter queue for deliveries
//! that exhaust their retries.

use super::notification::Notification;
use super::transport::{CallbackTransport, SubscriptionStatus, TransportError};
use crate::notify::sns::publish_notification;
use async_trait::async_trait;
use aws_sdk_sns::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_sns::Client;

/// Retries over about half an hour: 2 quick ones after 5 s, 6 backing off exponentially, 4 at 5 minutes
/// (SNS allows at most an hour in all). At most 10 deliveries a second to one partner URL.
pub const DELIVERY_POLICY: &str = r#"{"healthyRetryPolicy":{"numRetries":12,"numNoDelayRetries":0,"minDelayTarget":5,"maxDelayTarget":300,"numMinDelayRetries":2,"numMaxDelayRetries":4,"backoffFunction":"exponential"},"throttlePolicy":{"maxReceivesPerSecond":10},"requestPolicy":{"headerContentType":"application/json"}}"#;

#[derive(Debug, Clone)]
pub struct SnsTransport {
    client: Client,
    topic_arn: String,
    dead_letter_queue_arn: Option<String>,
}

impl SnsTransport {
    pub fn new(client: Client, topic_arn: impl Into<String>, dead_letter_queue_arn: Option<String>) -> Self {
        Self {
            client,
            topic_arn: topic_arn.into(),
            dead_letter_queue_arn,
        }
    }
}

fn failed<E: std::error::Error + 'static, R: std::fmt::Debug>(e: SdkError<E, R>) -> TransportError {
    TransportError(DisplayErrorContext(&e).to_string())
}

fn not_found<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> bool {
    e.as_service_error().and_then(|se| se.code()) == Some("NotFound")
}

#[async_trait]
impl CallbackTransport for SnsTransport {
    async fn subscribe(&self, url: &str, filter_policy: &str) -> Result<String, TransportError> {
        let mut request = self
            .client
            .subscribe()
            .topic_arn(&self.topic_arn)
            .protocol("https")
            .endpoint(url)
            .return_subscription_arn(true)
            .attributes("FilterPolicyScope", "MessageAttributes")
            .attributes("FilterPolicy", filter_policy)
            .attributes("DeliveryPolicy", DELIVERY_POLICY);
        if let Some(queue) = &self.dead_letter_queue_arn {
            request = request.attributes("RedrivePolicy", format!(r#"{{"deadLetterTargetArn":"{queue}"}}"#));
        }
        let output = request.send().await.map_err(failed)?;
        output
            .subscription_arn
            .ok_or_else(|| TransportError("SNS returned no subscription ARN".into()))
    }

    async fn set_filter_policy(&self, subscription_arn: &str, filter_policy: &str) -> Result<(), TransportError> {
        self.client
            .set_subscription_attributes()
            .subscription_arn(subscription_arn)
            .attribute_name("FilterPolicy")
            .attribute_value(filter_policy)
            .send()
            .await
            .map_err(failed)?;
        Ok(())
    }

    async fn unsubscribe(&self, subscription_arn: &str) -> Result<(), TransportError> {
        match self
            .client
            .unsubscribe()
            .subscription_arn(subscription_arn)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if not_found(&e) => Ok(()),
            Err(e) => Err(failed(e)),
        }
    }

    async fn status(&self, subscription_arn: &str) -> Result<SubscriptionStatus, TransportError> {
        let output = match self
            .client
            .get_subscription_attributes()
            .subscription_arn(subscription_arn)
            .send()
            .await
        {
            Ok(output) => output,
            Err(e) if not_found(&e) => return Ok(SubscriptionStatus::Missing),
            Err(e) => return Err(failed(e)),
        };
        let pending = output
            .attributes
            .as_ref()
            .and_then(|a| a.get("PendingConfirmation"))
            .is_some_and(|v| v == "true");
        Ok(match pending {
            true => SubscriptionStatus::PendingConfirmation,
            false => SubscriptionStatus::Confirmed,
        })
    }

    async fn publish(&self, notification: &Notification) -> Result<String, TransportError> {
        publish_notification(&self.client, &self.topic_arn, notification)
            .await
            .map_err(TransportError)
    }
}
