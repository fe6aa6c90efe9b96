//! Publishes alerts to an SNS topic with `MessageStructure=json` and filterable message attributes.

use super::{render, AlertSink, PublishError};
use crate::alerts::Alert;
use async_trait::async_trait;
use aws_sdk_sns::types::MessageAttributeValue;
use aws_sdk_sns::Client;

#[derive(Debug, Clone)]
pub struct SnsSink {
    client: Client,
    topic_arn: String,
}

impl SnsSink {
    pub fn new(client: Client, topic_arn: impl Into<String>) -> Self {
        Self {
            client,
            topic_arn: topic_arn.into(),
        }
    }
}

#[async_trait]
impl AlertSink for SnsSink {
    async fn publish(&self, alert: &Alert) -> Result<String, PublishError> {
        let fail = |reason: String| PublishError {
            alert_id: alert.alert_id.clone(),
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
            let attribute = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map_err(|e| fail(e.to_string()))?;
            request = request.message_attributes(name, attribute);
        }
        let output = request
            .send()
            .await
            .map_err(|e| fail(aws_sdk_sns::error::DisplayErrorContext(&e).to_string()))?;
        Ok(output.message_id().unwrap_or_default().to_string())
    }
}
