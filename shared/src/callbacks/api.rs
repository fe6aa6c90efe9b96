//! The partner callbacks API: register, list and remove a callback URL per notification type, fire a test
//! echo, rotate the signing secret, read the delivery attempts and recover failed deliveries. Registrations and the endpoints behind their
//! URLs (one partner's each) live in the registry; the callback sender delivers to them.

use super::notification::{EchoSubject, Notification};
use super::partner::{Partner, PartnerId, Scope, SIGNING_OVERLAP};
use super::rate::RateChange;
use super::registry::{CallbackRegistry, Endpoint, Registration};
use super::sender::{AttemptLog, JobQueue};
use super::signing::SigningSecret;
use super::throttle::FailureThrottle;
use super::transport::CallbackTransport;
use super::types::NotificationType;
use super::url::HostResolver;
use crate::clock::Clock;
use crate::ingress::Delivery;
use crate::model::ProviderId;
use crate::store::EventStore;
use futures_util::future::join_all;
use crate::reply::{HttpError, Reply};
use chrono::Duration;
use serde_json::{json, Value};
use std::sync::Arc;

mod authenticate;
mod deliveries;
mod request;

use request::{echo_subject, json_body, notification_type, optional_string, page_limit, route, Route};
pub use request::{ApiError, MAX_API_BODY_BYTES};

struct Parts {
    registry: Arc<dyn CallbackRegistry>,
    transport: Arc<dyn CallbackTransport>,
    resolver: Arc<dyn HostResolver>,
    clock: Arc<dyn Clock>,
    /// How long a replaced signing secret keeps signing.
    signing_overlap: Duration,
    /// The callback sender's attempt log, where it is deployed.
    attempts: Option<Arc<dyn AttemptLog>>,
    /// Where recovered deliveries are queued again.
    jobs: Option<Arc<dyn JobQueue>>,
    /// Where eSIMs' owners are read: a partner of scope `own` echoes only about its own eSIMs.
    esim_states: Option<Arc<dyn EventStore>>,
    /// Loopback and `http://` callback URLs are accepted (a local server only).
    allow_loopback: bool,
    /// Said when a URL is refused that only allowing loopback would accept (a local server only).
    loopback_hint: Option<String>,
    /// Throttles repeated authentication failures per source and per partner id (none: not throttled here).
    throttle: Option<FailureThrottle>,
}

pub struct CallbacksApi {
    parts: Result<Parts, String>,
}

impl CallbacksApi {
    pub fn new(
        registry: Arc<dyn CallbackRegistry>,
        transport: Arc<dyn CallbackTransport>,
        resolver: Arc<dyn HostResolver>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            parts: Ok(Parts {
                registry,
                transport,
                resolver,
                clock,
                signing_overlap: SIGNING_OVERLAP,
                attempts: None,
                jobs: None,
                esim_states: None,
                allow_loopback: false,
                loopback_hint: None,
                throttle: None,
            }),
        }
    }

    /// Partners can read their delivery attempts from `log`.
    pub fn with_attempt_log(mut self, log: Arc<dyn AttemptLog>) -> Self {
        if let Ok(parts) = &mut self.parts {
            parts.attempts = Some(log);
        }
        self
    }

    /// Partners can recover failed deliveries: they are queued again on `jobs`.
    pub fn with_job_queue(mut self, jobs: Arc<dyn JobQueue>) -> Self {
        if let Ok(parts) = &mut self.parts {
            parts.jobs = Some(jobs);
        }
        self
    }

    /// Reads eSIMs' owners from `states`: without it, a partner of scope `own` cannot echo about an eSIM.
    pub fn with_esim_states(mut self, states: Arc<dyn EventStore>) -> Self {
        if let Ok(parts) = &mut self.parts {
            parts.esim_states = Some(states);
        }
        self
    }

    /// Accepts loopback and `http://` callback URLs: `serve --allow-loopback-callbacks`, never in Lambda.
    pub fn allowing_loopback(mut self) -> Self {
        if let Ok(parts) = &mut self.parts {
            parts.allow_loopback = true;
        }
        self
    }

    /// A loopback or `http://` URL refused here is refused with `hint` (how to allow them: a local server).
    pub fn with_loopback_hint(mut self, hint: impl Into<String>) -> Self {
        if let Ok(parts) = &mut self.parts {
            parts.loopback_hint = Some(hint.into());
        }
        self
    }

    /// A replaced signing secret signs for `overlap` (default 24 h; `ESIMHOOKS_SIGNING_OVERLAP_HOURS`).
    pub fn with_signing_overlap(mut self, overlap: Duration) -> Self {
        if let Ok(parts) = &mut self.parts {
            parts.signing_overlap = overlap;
        }
        self
    }

    /// Sources and partner ids that failed authentication too often are answered 429 until their window ends.
    pub fn with_failure_throttle(mut self, throttle: FailureThrottle) -> Self {
        if let Ok(parts) = &mut self.parts {
            parts.throttle = Some(throttle);
        }
        self
    }

    /// Configuration is missing: every request gets 503 until it is fixed.
    pub fn fail_closed(reason: impl Into<String>) -> Self {
        let reason = reason.into();
        tracing::error!(
            reason,
            "configuration incomplete: the callbacks API refuses every request"
        );
        Self { parts: Err(reason) }
    }

    /// Answers one request. Never fails: every problem is a reply.
    pub async fn handle(&self, request: &Delivery) -> Reply {
        let started = std::time::Instant::now();
        let route = route(&request.method, &request.path);
        let route_name = route.as_ref().map_or("none", Route::name);
        let presented = route.as_ref().map_or("-", Route::partner);
        let result = match (&self.parts, route) {
            (Err(reason), _) => Err(ApiError::NotConfigured(reason.clone())),
            (_, Err(e)) => Err(e),
            (Ok(parts), Ok(route)) => parts.serve(route, request).await,
        };
        let latency_ms = crate::metrics::elapsed_ms(started);
        let request_id = request.request_id.as_deref().unwrap_or("-");
        match result {
            Ok(reply) => {
                tracing::info!(
                    request_id,
                    route = route_name,
                    status = reply.status,
                    latency_ms,
                    "callbacks request"
                );
                reply
            }
            Err(error) if error.status() >= 500 => {
                tracing::error!(request_id, route = route_name, detail = %error, latency_ms, "callbacks request failed");
                error.reply()
            }
            Err(error) => {
                // Who asked, as presented (bounded), and from where; never the key.
                let partner: String = presented.chars().take(64).collect();
                let source = request.source_ip.map_or_else(|| "-".to_string(), |ip| ip.to_string());
                tracing::warn!(request_id, route = route_name, reason = error.code(), partner, source, detail = %error, latency_ms, "callbacks request refused");
                error.reply()
            }
        }
    }
}

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
    async fn serve(&self, route: Route<'_>, request: &Delivery) -> Result<Reply, ApiError> {
        if request.body.len() > MAX_API_BODY_BYTES {
            return Err(ApiError::PayloadTooLarge(MAX_API_BODY_BYTES));
        }
        let partner = self.authenticate(route.partner(), request).await?;
        match route {
            Route::Put(_, kind) => self.put(&partner, notification_type(kind)?, request).await,
            Route::List(_) => self.list(&partner, request).await,
            Route::Delete(_, kind) => self.delete(&partner, notification_type(kind)?).await,
            Route::Echo(_, kind) => {
                let kind = notification_type(kind)?;
                self.echo(&partner, kind, echo_subject(request)?).await
            }
            Route::RotateSecret(_) => self.rotate_secret(partner).await,
            Route::Attempts(_) => self.attempts(&partner, request).await,
            Route::Recover(_) => self.recover(&partner, request).await,
        }
    }

    /// A new signing secret, shown once; the ones it replaces keep signing for the overlap.
    async fn rotate_secret(&self, mut partner: Partner) -> Result<Reply, ApiError> {
        let (secret, text) =
            SigningSecret::generate().map_err(|e| ApiError::Unavailable(format!("no random source: {e}")))?;
        let now = self.clock.now();
        partner.rotate_signing_key(secret, now, self.signing_overlap);
        self.registry.save_partner(&partner).await?;
        let previous_until = partner.signing_keys.get(1).and_then(|k| k.retires_at);
        Ok(Reply::json(
            200,
            json!({"partner_id": partner.id.as_str(), "secret": text, "previous_secrets_sign_until": previous_until}),
        ))
    }

    async fn put(&self, partner: &Partner, kind: NotificationType, request: &Delivery) -> Result<Reply, ApiError> {
        let fields = json_body(request)?;
        let url = optional_string(&fields, "url")?.ok_or_else(|| {
            ApiError::BadRequest("the body must name the callback as {\"url\": \"https://...\"}".into())
        })?;
        let rate = super::rate::rate_limit_field(&fields).map_err(ApiError::BadRequest)?;
        let hint = self.loopback_hint.as_deref();
        let url = request::callback_url(&url, self.resolver.as_ref(), self.allow_loopback, hint).await?;
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

    async fn find(&self, partner: &PartnerId, kind: NotificationType) -> Result<Option<Registration>, ApiError> {
        let all = self.registry.registrations(partner).await?;
        Ok(all.into_iter().find(|r| r.notification_type == kind))
    }

    /// Takes `url` for `partner` (refused when another partner holds it), enabled: registering a callback
    /// (again) is how a disabled endpoint comes back. An SNS subscription left from before esimhooks delivered
    /// callbacks itself is removed, so the partner is not called twice. Its rate limit is the URL's: `rate`
    /// sets it or keeps the one it has.
    async fn claim_endpoint(&self, partner: &PartnerId, url: &str, rate: RateChange) -> Result<Endpoint, ApiError> {
        let existing = self.registry.endpoint(url).await?;
        if existing.as_ref().is_some_and(|e| &e.partner != partner) {
            return Err(url_taken());
        }
        if let Some(arn) = existing
            .as_ref()
            .map(|e| e.subscription_arn.as_str())
            .filter(|a| !a.is_empty())
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
    async fn release_if_unused(
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
            if !endpoint.subscription_arn.is_empty() {
                self.transport.unsubscribe(&endpoint.subscription_arn).await?;
            }
            self.registry.delete_endpoint(url).await?;
        }
        Ok(())
    }

    async fn list(&self, partner: &Partner, request: &Delivery) -> Result<Reply, ApiError> {
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

    async fn delete(&self, partner: &Partner, kind: NotificationType) -> Result<Reply, ApiError> {
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

    async fn echo(&self, partner: &Partner, kind: NotificationType, subject: EchoSubject) -> Result<Reply, ApiError> {
        let registration = self.find(&partner.id, kind).await?.ok_or_else(|| {
            ApiError::NotFound(format!(
                "no callback is registered for notification type {kind}; register one with PUT /{}/callbacks/{}",
                partner.id,
                kind.number()
            ))
        })?;
        if let EchoSubject::Esim(reference) = &subject {
            self.check_owned(partner, reference).await?;
        }
        let notification = Notification::echo(&partner.id, kind, subject, self.clock.now());
        let message_id = self.transport.publish(&notification).await?;
        tracing::info!(partner = %partner.id, notification_type = kind.number(), "echo published");
        Ok(Reply::json(
            200,
            json!({
                "status": "sent",
                "message_id": message_id,
                "notification_id": notification.body.notification_id,
                "notification_type": kind.number(),
                "notification_name": kind.name(),
                "url": registration.url,
                "subject": notification.body.subject,
            }),
        ))
    }
}

impl Parts {
    /// A partner of scope `own` echoes only about an eSIM it owns: any other reference (another's eSIM, or one
    /// never heard of) gets the same answer, so the echo tells nobody which eSIMs exist.
    async fn check_owned(&self, partner: &Partner, reference: &str) -> Result<(), ApiError> {
        if partner.scope == Scope::All {
            return Ok(());
        }
        let not_yours = || {
            ApiError::NotFound(format!(
                "{reference} is not one of your eSIMs; echo about one assigned to {} or use simulation_id",
                partner.id
            ))
        };
        let states = self.esim_states.as_ref().ok_or_else(not_yours)?;
        let reads = ProviderId::ALL.iter().map(|provider| states.load_state(*provider, reference));
        let mut owned = false;
        for read in join_all(reads).await {
            owned |= read?.is_some_and(|state| state.value.owner.as_ref() == Some(&partner.id));
        }
        match owned {
            true => Ok(()),
            false => Err(not_yours()),
        }
    }
}

fn url_taken() -> ApiError {
    ApiError::Conflict("this URL is registered by another partner; use a URL of your own".into())
}

#[cfg(test)]
mod tests;
