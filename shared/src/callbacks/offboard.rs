//! Removing a partner for good (`esimhooks partners remove`): its API keys stop working, every callback it
//! registered is removed with the SNS subscription behind it, and then the partner itself. Revoking the keys
//! alone would leave its subscriptions delivering.
//!
//! The order is the API's: keys first (so the partner cannot register anything meanwhile), SNS before the
//! registry, the partner record last. A run that fails part-way has removed nothing that a second run needs,
//! so running it again finishes the job.

use super::api::ApiError;
use super::partner::PartnerId;
use super::registry::CallbackRegistry;
use super::transport::CallbackTransport;
use std::collections::BTreeSet;

/// What one run took away (a run that finishes an interrupted one counts only what was left).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removed {
    /// Callback registrations (one per notification type).
    pub callbacks: usize,
    /// SNS subscriptions (one per distinct URL).
    pub subscriptions: usize,
}

/// Removes `id` and everything it registered; `None` when there is no such partner.
pub async fn remove_partner(
    registry: &dyn CallbackRegistry,
    transport: &dyn CallbackTransport,
    id: &PartnerId,
) -> Result<Option<Removed>, ApiError> {
    let Some(mut partner) = registry.partner(id).await? else {
        return Ok(None);
    };
    if !partner.key_hashes.is_empty() {
        partner.key_hashes.clear();
        registry.save_partner(&partner).await?;
    }
    let registered = registry.registrations(id).await?;
    let urls: BTreeSet<&str> = registered.iter().map(|r| r.url.as_str()).collect();
    let mut subscriptions = 0;
    for url in urls {
        // An endpoint is the partner's own (a URL belongs to one partner); the check keeps a damaged registry
        // from costing another partner its subscription.
        if let Some(endpoint) = registry.endpoint(url).await?.filter(|e| &e.partner == id) {
            transport.unsubscribe(&endpoint.subscription_arn).await?;
            registry.delete_endpoint(url).await?;
            subscriptions += 1;
        }
    }
    for registration in &registered {
        registry.delete_registration(id, registration.notification_type).await?;
    }
    registry.delete_partner(id).await?;
    tracing::info!(partner = %id, callbacks = registered.len(), subscriptions, "partner removed");
    Ok(Some(Removed {
        callbacks: registered.len(),
        subscriptions,
    }))
}
