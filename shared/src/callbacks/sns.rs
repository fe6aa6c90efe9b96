//! [`CallbackTransport`] on SNS: echoes are published to the alerts topic, and the HTTPS subscriptions partner
//! callbacks used before are removed.

use super::transport::{CallbackTransport, TransportError};
use crate::alerts::sink::sns::publish_notification;
use crate::notification::Notification;
use async_trait::async_trait;
use aws_sdk_sns::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_sns::Client;

#[derive(Debug, Clone)]
pub struct SnsTransport {
    client: Client,
    topic_arn: String,
}

impl SnsTransport {
    pub fn new(client: Client, topic_arn: impl Into<String>) -> Self {
        Self {
            client,
            topic_arn: topic_arn.into(),
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

    async fn publish(&self, notification: &Notification) -> Result<String, TransportError> {
        publish_notification(&self.client, &self.topic_arn, notification)
            .await
            .map_err(|e| TransportError(e.to_string()))
    }
}
