//! What partner callbacks need from the alerts topic: publishing an echo (the callback sender, subscribed to
//! the topic through its queue, delivers it like any notification), and removing the SNS HTTPS subscriptions
//! that partner callbacks used before esimhooks delivered them itself (one way to deliver: see
//! `offboard::retire_sns_subscriptions`). SNS in production (`sns.rs`), memory in tests.

use crate::notification::Notification;
use async_trait::async_trait;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("callback transport: {0}")]
pub struct TransportError(pub String);

#[async_trait]
pub trait CallbackTransport: Send + Sync {
    /// Removing a subscription that is already gone succeeds.
    async fn unsubscribe(&self, subscription_arn: &str) -> Result<(), TransportError>;
    /// Publishes; returns the message id.
    async fn publish(&self, notification: &Notification) -> Result<String, TransportError>;
}

#[cfg(any(test, feature = "testing"))]
pub use memory::MemoryTransport;

/// The transport in memory (tests).
#[cfg(any(test, feature = "testing"))]
mod memory {
    use super::*;
    use std::sync::Mutex;

    #[derive(Default)]
    struct State {
        published: Vec<Notification>,
        unsubscribed: Vec<String>,
        fail_next: usize,
    }

    /// Publishes and unsubscribes in memory.
    #[derive(Default)]
    pub struct MemoryTransport(Mutex<State>);

    impl MemoryTransport {
        fn state(&self) -> std::sync::MutexGuard<'_, State> {
            self.0.lock().unwrap_or_else(|e| e.into_inner())
        }

        pub fn published(&self) -> Vec<Notification> {
            self.state().published.clone()
        }

        /// The subscriptions removed, in order.
        pub fn unsubscribed(&self) -> Vec<String> {
            self.state().unsubscribed.clone()
        }

        /// Makes the next `n` calls fail, as an SNS outage would.
        pub fn fail_next(&self, n: usize) {
            self.state().fail_next = n;
        }

        fn check(&self) -> Result<std::sync::MutexGuard<'_, State>, TransportError> {
            let mut state = self.state();
            if state.fail_next > 0 {
                state.fail_next -= 1;
                return Err(TransportError("injected failure".into()));
            }
            Ok(state)
        }
    }

    #[async_trait]
    impl CallbackTransport for MemoryTransport {
        async fn unsubscribe(&self, subscription_arn: &str) -> Result<(), TransportError> {
            self.check()?.unsubscribed.push(subscription_arn.to_string());
            Ok(())
        }

        async fn publish(&self, notification: &Notification) -> Result<String, TransportError> {
            let mut state = self.check()?;
            state.published.push(notification.clone());
            Ok(format!("memory-message-{}", state.published.len()))
        }
    }
}
