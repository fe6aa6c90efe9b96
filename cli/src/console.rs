//! Alerts and customer messages for the local run: printed on the console (and kept in the store like every
//! alert and notification).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use shared::alerts::sink::{render, AlertSink, PublishError};
use shared::alerts::Alert;
use shared::customers::records::{Channel, CustomerSender, SendFailure};
use shared::customers::{mask_address, CustomerMessage};
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Default)]
pub struct ConsoleSink {
    count: AtomicU64,
}

#[async_trait]
impl AlertSink for ConsoleSink {
    async fn publish(&self, alert: &Alert) -> Result<String, PublishError> {
        let rendered = render(alert);
        println!(
            "ALERT {} {} [{}] {}",
            alert.alert_type.as_str(),
            shared::text::clean(&alert.level),
            alert.provider,
            rendered.sms_text
        );
        Ok(format!("console-{}", self.count.fetch_add(1, Ordering::Relaxed) + 1))
    }
}

/// Customer messages for the local run: printed, marked as such, instead of sent (the phone and email masked).
#[derive(Default)]
pub struct ConsoleCustomerSender {
    count: AtomicU64,
}

#[async_trait]
impl CustomerSender for ConsoleCustomerSender {
    fn sends(&self, _: Channel) -> bool {
        true
    }

    async fn send(&self, channel: Channel, to: &str, message: &CustomerMessage) -> Result<String, SendFailure> {
        let told = message.for_channel(channel);
        // The subject where the channel has one, then the text.
        let body = match told.subject {
            Some(subject) => format!("{subject}\n{}", told.text.trim_end()),
            None => told.text.to_string(),
        };
        println!(
            "CUSTOMER {} to {} [{}]: {body}",
            channel.as_str().to_uppercase(),
            mask_address(channel, to),
            message.locale
        );
        Ok(format!(
            "console-customer-{}",
            self.count.fetch_add(1, Ordering::Relaxed) + 1
        ))
    }

    fn held(&self, channel: Channel, to: &str, message: &CustomerMessage, until: DateTime<Utc>) {
        let to = mask_address(channel, to);
        println!(
            "CUSTOMER {} to {to} held by quiet hours until {} (`esimhooks sweep` sends it then): {}",
            channel.as_str().to_uppercase(),
            until.format("%Y-%m-%d %H:%M UTC"),
            message.for_channel(channel).headline()
        );
    }
}
