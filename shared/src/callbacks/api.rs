//! The partner callbacks API: register, list and remove a callback URL per notification type, fire a test
//! echo, rotate the signing secret, read the delivery attempts and recover failed deliveries. Registrations and the endpoints behind their
//! URLs (one partner's each) live in the registry; the callback sender delivers to them.

use super::partner::{Partner, SIGNING_OVERLAP};
use super::registry::CallbackRegistry;
use super::sender::{AttemptLog, JobQueue};
use super::signing::SigningSecret;
use super::throttle::FailureThrottle;
use super::transport::CallbackTransport;
use super::url::HostResolver;
use crate::clock::Clock;
use crate::ingress::Delivery;
use crate::reply::{NotConfigured, Reply};
use crate::store::EventStore;
use chrono::Duration;
use serde_json::json;
use std::sync::Arc;

mod authenticate;
mod deliveries;
mod echo;
mod registrations;
mod request;

use request::{echo_subject, notification_type, route, Route};
pub use request::{ApiError, MAX_API_BODY_BYTES, PARTNER_API};

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
    parts: Result<Parts, NotConfigured>,
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
    pub fn fail_closed(reason: impl std::fmt::Display) -> Self {
        let reason = reason.to_string();
        tracing::error!(
            reason,
            "configuration incomplete: the callbacks API refuses every request"
        );
        Self {
            parts: Err(NotConfigured(reason)),
        }
    }

    /// Answers one request. Never fails: every problem is a reply.
    pub async fn handle(&self, request: &Delivery) -> Reply {
        let started = std::time::Instant::now();
        let route = route(&request.method, &request.path);
        let route_name = route.as_ref().map_or("none", Route::name);
        let presented = route.as_ref().map_or("-", Route::partner);
        let result = match (&self.parts, route) {
            (Err(NotConfigured(reason)), _) => Err(ApiError::NotConfigured(reason.clone())),
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
                error.reply_on(PARTNER_API)
            }
            Err(error) => {
                // Who asked, as presented (bounded), and from where; never the key.
                let partner: String = presented.chars().take(64).collect();
                let source = request.source_ip.map_or_else(|| "-".to_string(), |ip| ip.to_string());
                tracing::warn!(request_id, route = route_name, reason = error.code(), partner, source, detail = %error, latency_ms, "callbacks request refused");
                error.reply_on(PARTNER_API)
            }
        }
    }
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
}

#[cfg(test)]
mod tests;
