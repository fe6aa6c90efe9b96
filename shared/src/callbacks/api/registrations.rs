//! Registering, listing and removing a partner's callbacks, and the endpoints behind their URLs.

use super::request::{json_body, optional_string, page_limit};
use super::{ApiError, Parts};
use crate::callbacks::partner::{Partner, PartnerId};
use crate::callbacks::rate::RateChange;
use crate::callbacks::registry::{Endpoint, Registration};
use crate::ingress::Delivery;
use crate::notification::NotificationType;
use crate::reply::Reply;
use serde_json::{json, Value};

/// How the endpoint behind a URL is doing: `active`, `failing` (every attempt since `failing_since` failed) or
/// `disabled` (a `410 Gone`, or failing too long: a `PUT` enables it again).
fn endpoint_status(endpoint: Option<&Endpoint>) -> &'static str {
    match endpoint {
        Some(e) if e.disabled_at.is_some() => "disabled",
        Some(e) if e.failing_since.is_some() => "failing",
        _ => "active",
    }
}

fn registration_json(registration: &Registration, endpoint: Option<&Endpoint>) -> Value {
    let t = registration.notification_type;
    json!({
        "partner_id": registration.partner.as_str(),
        "notification_type": t.number(),
        "notification_name": t.name(),
        "url": registration.url,
        "endpoint_status": endpoint_status(endpoint),
        "failing_since": endpoint.and_then(|e| e.failing_since),
        "disabled_at": endpoint.and_then(|e| e.disabled_at),
        "rate_limit": endpoint.and_then(|e| e.rate_limit),
        "created_at": registration.created_at,
        "updated_at": registration.updated_at,
    })
}

impl Parts {
    pub(super) async fn put(
        &self,
        partner: &Partner,
        kind: NotificationType,
        request: &Delivery,
    ) -> Result<Reply, ApiError> {
        let fields = json_body(request)?;
        let url = optional_string(&fields, "url")?.ok_or_else(|| {
            ApiError::BadRequest("the body must name the callback as {\"url\": \"https://...\"}".into())
        })?;
        let rate =
            crate::callbacks::rate::rate_limit_field(&fields).map_err(|e| ApiError::BadRequest(e.to_string()))?;
        let hint = self.loopback_hint.as_deref();
        let url = super::request::callback_url(&url, self.resolver.as_ref(), self.allow_loopback, hint).await?;
        let url = url.as_str();
        let now = self.clock.now();
        let registered = self.registry.registrations(&partner.id).await?;
        let current = registered.iter().find(|r| r.notification_type == kind);
        // The URL first (refused if another partner holds it), the registration last: a request that fails
        // half-way changed nothing the partner sees, and repeating it finishes the job.
        let endpoint = self.claim_endpoint(&partner.id, url, rate).await?;
        let registration = Registration {
            partner: partner.id.clone(),
            notification_type: kind,
            url: url.to_string(),
            created_at: current.map_or(now, |r| r.created_at),
            updated_at: now,
        };
        self.registry.save_registration(&registration).await?;
        if let Some(old) = current.filter(|old| old.url != url) {
            self.release_if_unused(&partner.id, &registered, &old.url, kind).await?;
        }
        tracing::info!(partner = %partner.id, notification_type = kind.number(), created = current.is_none(), rate_limit = endpoint.rate_limit, "callback registered");
        let code = if current.is_none() { 201 } else { 200 };
        Ok(Reply::json(code, registration_json(&registration, Some(&endpoint))))
    }

    pub(super) async fn find(
        &self,
        partner: &PartnerId,
        kind: NotificationType,
    ) -> Result<Option<Registration>, ApiError> {
        let all = self.registry.registrations(partner).await?;
        Ok(all.into_iter().find(|r| r.notification_type == kind))
    }

    /// Takes `url` for `partner` (refused when another partner holds it), enabled: registering a callback
    /// (again) is how a disabled endpoint comes back. An SNS subscription left from before esimhooks delivered
    /// callbacks itself is removed, so the partner is not called twice. Its rate limit is the URL's: `rate`
    /// sets it or keeps the one it has.
    pub(super) async fn claim_endpoint(
        &self,
        partner: &PartnerId,
        url: &str,
        rate: RateChange,
    ) -> Result<Endpoint, ApiError> {
        let existing = self.registry.endpoint(url).await?;
        if existing.as_ref().is_some_and(|e| &e.partner != partner) {
            return Err(url_taken());
        }
        if let Some(arn) = existing
            .as_ref()
            .and_then(|e| crate::compat::sns::subscription(&e.subscription_arn))
        {
            self.transport.unsubscribe(arn).await?;
        }
        let endpoint = Endpoint {
            url: url.to_string(),
            partner: partner.clone(),
            subscription_arn: String::new(),
            failing_since: None,
            disabled_at: None,
            rate_limit: rate.apply(existing.and_then(|e| e.rate_limit)),
        };
        match self.registry.save_endpoint(&endpoint).await? {
            true => Ok(endpoint),
            false => Err(url_taken()),
        }
    }

    /// Lets go of `url` when none of the partner's `registered` callbacks other than `leaving` still uses it.
    pub(super) async fn release_if_unused(
        &self,
        partner: &PartnerId,
        registered: &[Registration],
        url: &str,
        leaving: NotificationType,
    ) -> Result<(), ApiError> {
        if registered
            .iter()
            .any(|r| r.url == url && r.notification_type != leaving)
        {
            return Ok(());
        }
        if let Some(endpoint) = self.registry.endpoint(url).await?.filter(|e| &e.partner == partner) {
            if let Some(arn) = crate::compat::sns::subscription(&endpoint.subscription_arn) {
                self.transport.unsubscribe(arn).await?;
            }
            self.registry.delete_endpoint(url).await?;
        }
        Ok(())
    }

    pub(super) async fn list(&self, partner: &Partner, request: &Delivery) -> Result<Reply, ApiError> {
        let limit = page_limit(request)?;
        let after = match request.query_param("cursor") {
            None => 0,
            Some(text) => text
                .parse::<u16>()
                .map_err(|_| ApiError::BadRequest("cursor is not one this API returned".into()))?,
        };
        let all = self.registry.registrations(&partner.id).await?;
        let mut remaining = all.into_iter().filter(|r| r.notification_type.number() > after);
        let page: Vec<Registration> = remaining.by_ref().take(limit).collect();
        let next_cursor = match (remaining.next(), page.last()) {
            (Some(_), Some(last)) => Some(last.notification_type.number().to_string()),
            _ => None,
        };
        // Types registered at the same URL share one endpoint: read it once per URL.
        let mut endpoints: Vec<(&str, Option<Endpoint>)> = Vec::new();
        let mut callbacks = Vec::with_capacity(page.len());
        for registration in &page {
            let url = registration.url.as_str();
            if !endpoints.iter().any(|(known, _)| *known == url) {
                endpoints.push((url, self.registry.endpoint(url).await?));
            }
            let endpoint = endpoints
                .iter()
                .find(|(known, _)| *known == url)
                .and_then(|(_, e)| e.as_ref());
            callbacks.push(registration_json(registration, endpoint));
        }
        Ok(Reply::json(
            200,
            json!({"partner_id": partner.id.as_str(), "callbacks": callbacks, "next_cursor": next_cursor}),
        ))
    }

    pub(super) async fn delete(&self, partner: &Partner, kind: NotificationType) -> Result<Reply, ApiError> {
        let registered = self.registry.registrations(&partner.id).await?;
        let current = registered
            .iter()
            .find(|r| r.notification_type == kind)
            .ok_or_else(|| ApiError::NotFound(format!("no callback is registered for notification type {kind}")))?;
        let removed = self
            .registry
            .delete_registration(&partner.id, kind)
            .await?
            .unwrap_or_else(|| current.clone());
        self.release_if_unused(&partner.id, &registered, &current.url, kind)
            .await?;
        tracing::info!(partner = %partner.id, notification_type = kind.number(), "callback removed");
        Ok(Reply::json(
            200,
            json!({"status": "deleted", "callback": registration_json(&removed, None)}),
        ))
    }
}

fn url_taken() -> ApiError {
    ApiError::Conflict("this URL is registered by another partner; use a URL of your own".into())
}
