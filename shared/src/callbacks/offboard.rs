//! Removing a partner for good (`esimhooks partners remove`): its API keys stop working, every callback it
//! registered is removed with the endpoint behind it, and then the partner itself. The order is the API's:
//! keys first (so the partner cannot register anything meanwhile), the partner record last; a run that fails
//! part-way has removed nothing a second run needs, so running it again finishes the job.
//!
//! Also the move to callbacks delivered by esimhooks itself: the SNS HTTPS subscriptions partner callbacks
//! used before are removed (`esimhooks partners retire-sns`), so no partner is called twice.

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
    /// Endpoints (one per distinct URL).
    pub endpoints: usize,
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
    let mut endpoints = 0;
    for url in urls {
        // An endpoint is the partner's own (a URL belongs to one partner); the check keeps a damaged registry
        // from costing another partner its endpoint.
        if let Some(endpoint) = registry.endpoint(url).await?.filter(|e| &e.partner == id) {
            if let Some(arn) = crate::compat::sns::subscription(&endpoint.subscription_arn) {
                transport.unsubscribe(arn).await?;
            }
            registry.delete_endpoint(url).await?;
            endpoints += 1;
        }
    }
    for registration in &registered {
        registry.delete_registration(id, registration.notification_type).await?;
    }
    registry.delete_partner(id).await?;
    tracing::info!(partner = %id, callbacks = registered.len(), endpoints, "partner removed");
    Ok(Some(Removed {
        callbacks: registered.len(),
        endpoints,
    }))
}

/// Removes every SNS HTTPS subscription an endpoint still has from before esimhooks delivered callbacks
/// itself (`compat::sns`); returns how many. Safe to run again.
pub async fn retire_sns_subscriptions(
    registry: &dyn CallbackRegistry,
    transport: &dyn CallbackTransport,
) -> Result<usize, ApiError> {
    let mut retired = 0;
    for partner in registry.partners().await? {
        let registered = registry.registrations(&partner.id).await?;
        let urls: BTreeSet<&str> = registered.iter().map(|r| r.url.as_str()).collect();
        for url in urls {
            let Some(mut endpoint) = registry.endpoint(url).await?.filter(|e| e.partner == partner.id) else {
                continue;
            };
            let Some(arn) = crate::compat::sns::subscription(&endpoint.subscription_arn) else {
                continue;
            };
            transport.unsubscribe(arn).await?;
            endpoint.subscription_arn.clear();
            registry.save_endpoint(&endpoint).await?;
            retired += 1;
        }
    }
    tracing::info!(retired, "SNS subscriptions of partner callbacks retired");
    Ok(retired)
}
