//! The alert port: where alerts go once claimed. Production publishes to SNS; the local run prints and keeps
//! them; tests use [`MemorySink`].

mod render;
// Measuring SMS texts is shared with customer messages: a module of its own, also reachable here.
pub use crate::sms_length as sms;
#[cfg(feature = "aws")]
pub mod sns;

pub use render::{render, RenderedAlert};

use crate::alerts::Alert;
use crate::model::{Event, PartnerId};
#[cfg(any(test, feature = "testing"))]
use crate::notification::Notification;
use async_trait::async_trait;
#[cfg(any(test, feature = "testing"))]
use std::sync::atomic::{AtomicUsize, Ordering};
#[cfg(any(test, feature = "testing"))]
use std::sync::Mutex;

#[derive(Debug, thiserror::Error)]
#[error("publishing {what} failed: {reason}")]
pub struct PublishError {
    /// `alert <id>` or `event notification <id>`.
    pub what: String,
    pub reason: String,
}

#[async_trait]
pub trait AlertSink: Send + Sync {
    /// Publishes one alert; returns the sink's receipt (SNS message id). An error fails the delivery, so the
    /// provider's retry publishes it again.
    async fn publish(&self, alert: &Alert) -> Result<String, PublishError>;

    /// Offers a stored event to partner callbacks (event notification types); `owner` is the partner its eSIM
    /// belongs to. Sinks without partners do nothing. An error fails the delivery, so the provider's retry
    /// offers it again.
    async fn publish_event(&self, event: &Event, owner: Option<&PartnerId>) -> Result<(), PublishError> {
        let _ = (event, owner);
        Ok(())
    }
}

#[cfg(any(test, feature = "testing"))]
/// Keeps published alerts in memory; can be told to fail the next N publishes.
#[derive(Debug, Default)]
pub struct MemorySink {
    published: Mutex<Vec<Alert>>,
    events: Mutex<Vec<Notification>>,
    failures_left: AtomicUsize,
    event_failures_left: AtomicUsize,
}

#[cfg(any(test, feature = "testing"))]
impl MemorySink {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn fail_next(&self, n: usize) {
        self.failures_left.store(n, Ordering::SeqCst);
    }

    pub fn published(&self) -> Vec<Alert> {
        self.published.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Event notifications offered to partners.
    pub fn event_notifications(&self) -> Vec<Notification> {
        self.events.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Makes the next `n` event notifications fail (alerts are unaffected).
    pub fn fail_next_event_notifications(&self, n: usize) {
        self.event_failures_left.store(n, Ordering::SeqCst);
    }

    fn take_failure(counter: &AtomicUsize) -> bool {
        counter
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }
}

#[cfg(any(test, feature = "testing"))]
#[async_trait]
impl AlertSink for MemorySink {
    async fn publish(&self, alert: &Alert) -> Result<String, PublishError> {
        if Self::take_failure(&self.failures_left) {
            return Err(PublishError {
                what: format!("alert {}", alert.alert_id),
                reason: "injected failure".into(),
            });
        }
        let mut published = self.published.lock().unwrap_or_else(|e| e.into_inner());
        published.push(alert.clone());
        Ok(format!("memory-{}", published.len()))
    }

    async fn publish_event(&self, event: &Event, owner: Option<&PartnerId>) -> Result<(), PublishError> {
        let Some(notification) = Notification::for_event(event, owner) else {
            return Ok(());
        };
        if Self::take_failure(&self.event_failures_left) {
            return Err(PublishError {
                what: format!("event notification {}", notification.body.notification_id),
                reason: "injected failure".into(),
            });
        }
        self.events.lock().unwrap_or_else(|e| e.into_inner()).push(notification);
        Ok(())
    }
}
