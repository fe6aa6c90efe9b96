//! Customer email with Amazon SES (v2 `SendEmail`): subject, plain text and HTML from the verified sender
//! identity `ESIMHOOKS_EMAIL_FROM`, through a configuration set whose delivery events SES publishes. An address
//! that bounced or complained is on the configuration set's suppression list (SES keeps it, see template.yaml);
//! SES refusing a message (`MessageRejected`, an unverified sender) is permanent, recorded and not retried.

use super::records::{Channel, CustomerSender, SendFailure};
use super::sms::send_failure;
use super::CustomerMessage;
use async_trait::async_trait;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
use aws_sdk_sesv2::Client;

#[derive(Debug, Clone)]
pub struct SesEmailSender {
    client: Client,
    from: String,
    configuration_set: Option<String>,
}

impl SesEmailSender {
    pub fn new(client: Client, from: String, configuration_set: Option<String>) -> Self {
        Self {
            client,
            from,
            configuration_set,
        }
    }
}

fn content(text: &str) -> Result<Content, SendFailure> {
    Content::builder()
        .data(text)
        .charset("UTF-8")
        .build()
        .map_err(|e| SendFailure::Permanent(e.to_string()))
}

/// The SES codes that mean this message or sender is refused (a throttle or outage is retried).
const PERMANENT: &[&str] = &[
    "MessageRejected",
    "MailFromDomainNotVerifiedException",
    "NotFoundException",
    "BadRequestException",
    "AccountSuspendedException",
];

#[async_trait]
impl CustomerSender for SesEmailSender {
    fn sends(&self, channel: Channel) -> bool {
        channel == Channel::Email
    }

    async fn send(&self, channel: Channel, to: &str, message: &CustomerMessage) -> Result<String, SendFailure> {
        if channel != Channel::Email {
            return Err(SendFailure::Permanent(format!(
                "{} is not sent by SES",
                channel.as_str()
            )));
        }
        let message = message.for_channel(Channel::Email);
        let body = Body::builder()
            .text(content(message.text)?)
            .set_html(message.html.map(content).transpose()?)
            .build();
        let email = Message::builder()
            .subject(content(message.headline())?)
            .body(body)
            .build();
        let output = self
            .client
            .send_email()
            .from_email_address(&self.from)
            .destination(Destination::builder().to_addresses(to).build())
            .content(EmailContent::builder().simple(email).build())
            .set_configuration_set_name(self.configuration_set.clone())
            .send()
            .await
            .map_err(|e| send_failure(e, PERMANENT))?;
        Ok(output.message_id().unwrap_or_default().to_string())
    }
}
