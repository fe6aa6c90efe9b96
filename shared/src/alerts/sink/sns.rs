//! Publishes alerts to an SNS topic with `MessageStructure=json` and filterable message attributes, and,
//! when partner event notifications are on, each stored event as a partner notification on the same topic.

use super::{render, AlertSink, PublishError};
use crate::alerts::Alert;
use crate::model::{Event, PartnerId};
use crate::notification::Notification;
use async_trait::async_trait;
use aws_sdk_sns::error::{BuildError, DisplayErrorContext};
use aws_sdk_sns::types::MessageAttributeValue;
use aws_sdk_sns::Client;

#[derive(Debug, Clone)]
pub struct SnsSink {
    client: Client,
    topic_arn: String,
    event_notifications: bool,
}

impl SnsSink {
    pub fn new(client: Client, topic_arn: impl Into<String>) -> Self {
        Self {
            client,
            topic_arn: topic_arn.into(),
            event_notifications: false,
        }
    }

    /// Also publish every stored event partners can follow (one more SNS call per delivery).
    pub fn with_event_notifications(mut self, on: bool) -> Self {
        self.event_notifications = on;
        self
    }
}

/// Why SNS did not take a message.
#[derive(Debug, thiserror::Error)]
pub enum SnsError {
    #[error("{0}")]
    Attribute(#[from] BuildError),
    /// The SDK's error and its causes.
    #[error("{0}")]
    Publish(String),
}

fn string_attribute(value: String) -> Result<MessageAttributeValue, BuildError> {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
}

/// Publishes one partner notification (the callback body as the message); returns the message id.
pub async fn publish_notification(
    client: &Client,
    topic_arn: &str,
    notification: &Notification,
) -> Result<String, SnsError> {
    let mut request = client.publish().topic_arn(topic_arn).message(notification.message());
    for (name, value) in notification.attributes() {
        request = request.message_attributes(name, string_attribute(value)?);
    }
    let output = request
        .send()
        .await
        .map_err(|e| SnsError::Publish(DisplayErrorContext(&e).to_string()))?;
    Ok(output.message_id().unwrap_or_default().to_string())
}

#[async_trait]
impl AlertSink for SnsSink {
    async fn publish(&self, alert: &Alert) -> Result<String, PublishError> {
        let fail = |reason: String| PublishError {
            what: format!("alert {}", alert.alert_id),
            reason,
        };
        let rendered = render(alert);
        let mut request = self
            .client
            .publish()
            .topic_arn(&self.topic_arn)
            .message_structure("json")
            .message(rendered.message)
            .subject(rendered.subject);
        for (name, value) in rendered.attributes {
            request = request.message_attributes(name, string_attribute(value).map_err(|e| fail(e.to_string()))?);
        }
        let output = request
            .send()
            .await
            .map_err(|e| fail(DisplayErrorContext(&e).to_string()))?;
        Ok(output.message_id().unwrap_or_default().to_string())
    }

    async fn publish_event(&self, event: &Event, owner: Option<&PartnerId>) -> Result<(), PublishError> {
        if !self.event_notifications {
            return Ok(());
        }
        let Some(notification) = Notification::for_event(event, owner) else {
            return Ok(());
        };
        publish_notification(&self.client, &self.topic_arn, &notification)
            .await
            .map(|_| ())
            .map_err(|e| PublishError {
                what: format!("event notification {}", notification.body.notification_id),
                reason: e.to_string(),
            })
    }
}
