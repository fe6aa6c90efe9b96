//! The delivery engine behind callbacks: subscriptions with filter policies, and publishing. SNS in
//! production (`notify/sns.rs`), which brings the retries, the signing and the dead-letter queue; memory in
//! unit tests, where filter policies are applied the way SNS applies ours.

use super::notification::Notification;
use async_trait::async_trait;
use std::collections::BTreeMap;
use std::sync::Mutex;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("callback transport: {0}")]
pub struct TransportError(pub String);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscriptionStatus {
    Confirmed,
    /// SNS sent the SubscriptionConfirmation; the partner has not visited its SubscribeURL yet.
    PendingConfirmation,
    /// The subscription is gone (deleted outside the API, or never confirmed within three days).
    Missing,
}

impl SubscriptionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Confirmed => "confirmed",
            Self::PendingConfirmation => "pending_confirmation",
            Self::Missing => "missing",
        }
    }
}

#[async_trait]
pub trait CallbackTransport: Send + Sync {
    /// Subscribes `url` with `filter_policy` (plus the delivery and redrive policies); returns the ARN, also
    /// while the subscription waits for confirmation.
    async fn subscribe(&self, url: &str, filter_policy: &str) -> Result<String, TransportError>;
    async fn set_filter_policy(&self, subscription_arn: &str, filter_policy: &str) -> Result<(), TransportError>;
    /// Removing a subscription that is already gone succeeds.
    async fn unsubscribe(&self, subscription_arn: &str) -> Result<(), TransportError>;
    async fn status(&self, subscription_arn: &str) -> Result<SubscriptionStatus, TransportError>;
    /// Publishes; returns the message id.
    async fn publish(&self, notification: &Notification) -> Result<String, TransportError>;
}

#[derive(Debug, Clone)]
pub struct MemorySubscription {
    pub url: String,
    pub filter_policy: serde_json::Value,
}

#[derive(Default)]
struct State {
    next: usize,
    subscriptions: BTreeMap<String, MemorySubscription>,
    /// (URL, notification) for every delivery a subscription's filter let through.
    delivered: Vec<(String, Notification)>,
    fail_next: usize,
}

/// Subscriptions and deliveries in memory.
#[derive(Default)]
pub struct MemoryTransport(Mutex<State>);

impl MemoryTransport {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn subscriptions(&self) -> BTreeMap<String, MemorySubscription> {
        self.state().subscriptions.clone()
    }

    pub fn delivered(&self) -> Vec<(String, Notification)> {
        self.state().delivered.clone()
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

/// Whether a policy of the form `{"attr": ["v1", "v2"], ...}` lets a message with these attributes through.
fn matches(policy: &serde_json::Value, attributes: &[(&str, String)]) -> bool {
    let Some(rules) = policy.as_object() else {
        return true;
    };
    rules.iter().all(|(name, allowed)| {
        let value = attributes.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
        let allowed = allowed.as_array().map(Vec::as_slice).unwrap_or_default();
        value.is_some_and(|v| allowed.iter().any(|a| a.as_str() == Some(v)))
    })
}

#[async_trait]
impl CallbackTransport for MemoryTransport {
    async fn subscribe(&self, url: &str, filter_policy: &str) -> Result<String, TransportError> {
        let mut state = self.check()?;
        if let Some((arn, _)) = state.subscriptions.iter().find(|(_, s)| s.url == url) {
            return Ok(arn.clone());
        }
        state.next += 1;
        let arn = format!("arn:memory:sns:callbacks:{}", state.next);
        let filter_policy = serde_json::from_str(filter_policy).map_err(|e| TransportError(e.to_string()))?;
        state.subscriptions.insert(
            arn.clone(),
            MemorySubscription {
                url: url.into(),
                filter_policy,
            },
        );
        Ok(arn)
    }

    async fn set_filter_policy(&self, subscription_arn: &str, filter_policy: &str) -> Result<(), TransportError> {
        let mut state = self.check()?;
        let policy = serde_json::from_str(filter_policy).map_err(|e| TransportError(e.to_string()))?;
        let subscription = state
            .subscriptions
            .get_mut(subscription_arn)
            .ok_or_else(|| TransportError(format!("no subscription {subscription_arn}")))?;
        subscription.filter_policy = policy;
        Ok(())
    }

    async fn unsubscribe(&self, subscription_arn: &str) -> Result<(), TransportError> {
        self.check()?.subscriptions.remove(subscription_arn);
        Ok(())
    }

    async fn status(&self, subscription_arn: &str) -> Result<SubscriptionStatus, TransportError> {
        Ok(match self.check()?.subscriptions.contains_key(subscription_arn) {
            true => SubscriptionStatus::Confirmed,
            false => SubscriptionStatus::Missing,
        })
    }

    async fn publish(&self, notification: &Notification) -> Result<String, TransportError> {
        let mut state = self.check()?;
        let attributes = notification.attributes();
        let targets: Vec<String> = state
            .subscriptions
            .values()
            .filter(|s| matches(&s.filter_policy, &attributes))
            .map(|s| s.url.clone())
            .collect();
        for url in targets {
            state.delivered.push((url, notification.clone()));
        }
        Ok(format!("memory-message-{}", state.delivered.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::super::notification::{AUDIENCE_ATTRIBUTE, TYPE_ATTRIBUTE};
    use super::*;
    use serde_json::json;

    #[test]
    fn filter_matching_needs_every_attribute() {
        let policy = json!({TYPE_ATTRIBUTE: ["1", "2"], AUDIENCE_ATTRIBUTE: ["all", "acme"]});
        let attrs = |t: &str, a: &str| vec![(TYPE_ATTRIBUTE, t.to_string()), (AUDIENCE_ATTRIBUTE, a.to_string())];
        assert!(matches(&policy, &attrs("1", "all")));
        assert!(matches(&policy, &attrs("2", "acme")));
        assert!(!matches(&policy, &attrs("3", "all")));
        assert!(!matches(&policy, &attrs("1", "globex")));
        assert!(!matches(&policy, &[(TYPE_ATTRIBUTE, "1".to_string())]));
    }
}
