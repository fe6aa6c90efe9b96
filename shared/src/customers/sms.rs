//! Customer SMS straight to the customer's phone with SNS `Publish` (`PhoneNumber`, transactional), from a
//! sender ID or origination number where configured. A number on SNS's opt-out list (the customer replied
//! STOP) is not messaged: a permanent refusal, recorded.

use super::records::{Channel, CustomerSender, SendFailure};
use super::CustomerMessage;
use async_trait::async_trait;
use aws_sdk_sns::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_sns::types::MessageAttributeValue;
use aws_sdk_sns::Client;

#[derive(Debug, Clone)]
pub struct SnsSmsSender {
    client: Client,
    sender_id: Option<String>,
    origination_number: Option<String>,
}

impl SnsSmsSender {
    pub fn new(client: Client, sender_id: Option<String>, origination_number: Option<String>) -> Self {
        Self {
            client,
            sender_id,
            origination_number,
        }
    }
}

fn attribute(value: &str) -> Result<MessageAttributeValue, SendFailure> {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .map_err(|e| SendFailure::Permanent(e.to_string()))
}

/// An AWS answer as a failure: the error codes in `permanent` (the caller's mistakes) for good, the rest
/// (throttling, outages) for now. SNS and SES errors are the same smithy type.
pub(super) fn send_failure<E: ProvideErrorMetadata + std::error::Error + 'static, R: std::fmt::Debug>(
    error: aws_sdk_sns::error::SdkError<E, R>,
    permanent: &[&str],
) -> SendFailure {
    let code = error.as_service_error().and_then(|e| e.code());
    let text = DisplayErrorContext(&error).to_string();
    if code.is_some_and(|code| permanent.contains(&code)) {
        SendFailure::Permanent(text)
    } else {
        SendFailure::Transient(text)
    }
}

/// The SNS codes that mean the number cannot be messaged.
const PERMANENT: &[&str] = &["InvalidParameter", "InvalidParameterValue"];

#[async_trait]
impl CustomerSender for SnsSmsSender {
    fn sends(&self, channel: Channel) -> bool {
        channel == Channel::Sms
    }

    async fn send(&self, channel: Channel, to: &str, message: &CustomerMessage) -> Result<String, SendFailure> {
        if channel != Channel::Sms {
            return Err(SendFailure::Permanent(format!(
                "{} is not sent by SNS SMS",
                channel.as_str()
            )));
        }
        let opted_out = self
            .client
            .check_if_phone_number_is_opted_out()
            .phone_number(to)
            .send()
            .await
            .map_err(|e| send_failure(e, PERMANENT))?
            .is_opted_out();
        if opted_out {
            return Err(SendFailure::Permanent(
                "the number opted out of SMS (replied STOP)".into(),
            ));
        }
        let mut request = self
            .client
            .publish()
            .phone_number(to)
            .message(message.for_channel(Channel::Sms).text)
            .message_attributes("AWS.SNS.SMS.SMSType", attribute("Transactional")?);
        if let Some(sender_id) = &self.sender_id {
            request = request.message_attributes("AWS.SNS.SMS.SenderID", attribute(sender_id)?);
        }
        if let Some(number) = &self.origination_number {
            request = request.message_attributes("AWS.MM.SMS.OriginationNumber", attribute(number)?);
        }
        let output = request.send().await.map_err(|e| send_failure(e, PERMANENT))?;
        Ok(output.message_id().unwrap_or_default().to_string())
    }
}
