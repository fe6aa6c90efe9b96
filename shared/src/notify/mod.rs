//! The alert port: where alerts go once claimed. Production publishes to SNS; the local run prints and keeps
//! them; tests use [`MemorySink`].

mod render;
#[cfg(feature = "aws")]
pub mod sns;

pub use render::{render, RenderedAlert, SMS_MAX_CHARS};

use crate::alerts::Alert;
use async_trait::async_trait;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

#[derive(Debug, thiserror::Error)]
#[error("publishing alert {alert_id} failed: {reason}")]
pub struct PublishError {
    pub alert_id: String,
    pub reason: String,
}

#[async_trait]
pub trait AlertSink: Send + Sync {
    /// Publishes one alert; returns the sink's receipt (SNS message id). An error fails the delivery, so the
    /// provider's retry publishes it again.
    async fn publish(&self, alert: &Alert) -> Result<String, PublishError>;
}

/// Keeps published alerts in memory; can be told to fail the next N publishes.
#[derive(Debug, Default)]
pub struct MemorySink {
    published: Mutex<Vec<Alert>>,
    failures_left: AtomicUsize,
}

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
}

#[async_trait]
impl AlertSink for MemorySink {
    async fn publish(&self, alert: &Alert) -> Result<String, PublishError> {
        let failing = self
            .failures_left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if failing {
            return Err(PublishError {
                alert_id: alert.alert_id.clone(),
                reason: "injected failure".into(),
            });
        }
        let mut published = self.published.lock().unwrap_or_else(|e| e.into_inner());
        published.push(alert.clone());
        Ok(format!("memory-{}", published.len()))
    }
}
