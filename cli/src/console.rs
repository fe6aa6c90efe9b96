//! Alerts for the local run: printed on the console (and kept in the store like every alert).

use async_trait::async_trait;
use shared::alerts::Alert;
use shared::notify::{render, AlertSink, PublishError};
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
