//! One provider's webhook endpoint: the whole answer to one delivery, from method check to reply. The Lambda
//! adapter and the local server both call [`Service::handle`]; [`Router`] serves several providers by path.

use crate::clock::{Clock, SystemClock};
use crate::ingress::Delivery;
use crate::metrics::{request_line, RequestOutcome};
use crate::model::{log_ref, DedupeBasis, EventKind, ProviderId};
use crate::pipeline::{Outcome, Pipeline, PipelineError};
use crate::providers::Provider;
use crate::reply::{HttpError, Rejection, Reply};
use lambda_http::http::Method;
use serde_json::json;
use std::sync::Arc;
use std::time::Instant;

enum Readiness {
    Ready {
        provider: Arc<dyn Provider>,
        pipeline: Arc<Pipeline>,
        max_body_bytes: usize,
    },
    /// Configuration is missing or wrong: every request is refused with 503 until it is fixed.
    FailClosed(String),
    /// A local server was given no secret for this provider: 503 saying what to set.
    NoSecret(String),
}

pub struct Service {
    provider_id: ProviderId,
    readiness: Readiness,
    clock: Arc<dyn Clock>,
    /// Print one CloudWatch EMF line per request (Lambda); off for local runs and tests.
    /// Where the per-request EMF line goes (stdout in Lambda); none by default.
    metrics: Option<MetricsOut>,
}

/// What an accepted request did, for the reply and the log line.
/// Where EMF lines are written.
pub type MetricsOut = Arc<dyn Fn(&str) + Send + Sync>;

enum Handled {
    Head,
    Accepted {
        kind: EventKind,
        dedupe_key: String,
        outcome: Outcome,
        drift: bool,
    },
}

impl From<PipelineError> for Rejection {
    fn from(e: PipelineError) -> Self {
        match e {
            PipelineError::Busy(_) => Rejection::Busy,
            PipelineError::Publish(e) => Rejection::PublishFailed(e.to_string()),
            other => Rejection::Dependency(other.to_string()),
        }
    }
}

impl Service {
    pub fn ready(provider: Arc<dyn Provider>, pipeline: Arc<Pipeline>, max_body_bytes: usize) -> Self {
        let clock = pipeline.clock().clone();
        let provider_id = provider.id();
        let readiness = Readiness::Ready {
            provider,
            pipeline,
            max_body_bytes,
        };
        Self {
            provider_id,
            readiness,
            clock,
            metrics: None,
        }
    }

    pub fn fail_closed(provider_id: ProviderId, reason: impl std::fmt::Display) -> Self {
        let reason = reason.to_string();
        tracing::error!(provider = %provider_id, reason, "configuration incomplete: refusing every request until it is fixed");
        Self {
            provider_id,
            readiness: Readiness::FailClosed(reason),
            clock: Arc::new(SystemClock),
            metrics: None,
        }
    }

    /// A provider a local server was given no secret for: not a fault (the operator serves the providers they
    /// use), so nothing is logged here and each request gets a 503 that says what to set.
    pub fn without_secret(provider_id: ProviderId, reason: impl Into<String>) -> Self {
        Self {
            provider_id,
            readiness: Readiness::NoSecret(reason.into()),
            clock: Arc::new(SystemClock),
            metrics: None,
        }
    }

    /// Whether deliveries can be accepted (configured, with its secrets).
    pub fn is_ready(&self) -> bool {
        matches!(self.readiness, Readiness::Ready { .. })
    }

    /// Turns on the per-request CloudWatch EMF line on stdout (Lambda; a fail-closed function reports too).
    pub fn with_metrics(self) -> Self {
        self.with_metrics_to(Arc::new(|line: &str| println!("{line}")))
    }

    /// The per-request EMF line goes to `out` (tests read it).
    pub fn with_metrics_to(mut self, out: MetricsOut) -> Self {
        self.metrics = Some(out);
        self
    }

    fn emit(&self, outcome: RequestOutcome, latency_ms: f64) {
        if let Some(out) = &self.metrics {
            let line = request_line(
                self.provider_id.as_str(),
                outcome,
                latency_ms,
                self.clock.now().timestamp_millis(),
            );
            out(&line);
        }
    }

    pub fn provider_id(&self) -> ProviderId {
        self.provider_id
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Body limit the adapter applies while decoding; the service checks it again.
    pub fn max_body_bytes(&self) -> usize {
        match &self.readiness {
            Readiness::Ready { max_body_bytes, .. } => *max_body_bytes,
            Readiness::FailClosed(_) | Readiness::NoSecret(_) => crate::config::DEFAULT_MAX_BODY_BYTES,
        }
    }

    pub async fn handle(&self, delivery: &Delivery) -> Reply {
        let started = Instant::now();
        let result = self.try_handle(delivery).await;
        let latency_ms = crate::metrics::elapsed_ms(started);
        let provider = self.provider_id.as_str();
        let request_id = delivery.request_id.as_deref().unwrap_or("-");
        match result {
            Ok(Handled::Head) => Reply::empty_ok(),
            Ok(Handled::Accepted {
                kind,
                dedupe_key,
                outcome,
                drift,
            }) => {
                let alerts = match outcome {
                    Outcome::Stored { alerts } => alerts,
                    _ => 0,
                };
                tracing::info!(
                    request_id,
                    provider,
                    kind = kind.as_str(),
                    dedupe_key,
                    outcome = outcome.as_str(),
                    alerts,
                    latency_ms,
                    "delivery accepted"
                );
                self.emit(
                    match outcome {
                        Outcome::Stored { alerts } => RequestOutcome::Stored { alerts, drift },
                        Outcome::Duplicate => RequestOutcome::Duplicate,
                        Outcome::Conflict => RequestOutcome::Conflict,
                    },
                    latency_ms,
                );
                Reply::json(
                    200,
                    json!({"status": "accepted", "outcome": outcome.as_str(), "kind": kind.as_str()}),
                )
            }
            Err(rejection) => {
                let reason = rejection.code();
                let detail = rejection.to_string();
                // A provider left unconfigured on purpose is no failure of ours.
                if rejection.status() >= 500 && !matches!(rejection, Rejection::NoSecret(_)) {
                    tracing::error!(
                        request_id,
                        provider,
                        reason,
                        detail,
                        latency_ms,
                        "delivery failed; the provider should retry"
                    );
                    self.emit(RequestOutcome::Failed { reason }, latency_ms);
                } else {
                    tracing::warn!(request_id, provider, reason, detail, latency_ms, "delivery rejected");
                    self.emit(RequestOutcome::Rejected { reason }, latency_ms);
                }
                rejection.reply()
            }
        }
    }

    async fn try_handle(&self, delivery: &Delivery) -> Result<Handled, Rejection> {
        let (provider, pipeline, max_body_bytes) = match &self.readiness {
            Readiness::FailClosed(reason) => return Err(Rejection::NotConfigured(reason.clone())),
            Readiness::NoSecret(reason) => return Err(Rejection::NoSecret(reason.clone())),
            Readiness::Ready {
                provider,
                pipeline,
                max_body_bytes,
            } => (provider, pipeline, *max_body_bytes),
        };
        if delivery.method == Method::HEAD && provider.answers_head() {
            return Ok(Handled::Head);
        }
        if delivery.method != Method::POST {
            return Err(Rejection::MethodNotAllowed(delivery.method.to_string()));
        }
        if delivery.body.len() > max_body_bytes {
            return Err(Rejection::PayloadTooLarge { limit: max_body_bytes });
        }
        let verified = provider.authenticate(delivery)?;
        let event = provider
            .normalize(verified)
            .map_err(|e| Rejection::Unreadable(e.to_string()))?;
        if event.kind == EventKind::Unrecognized {
            tracing::warn!(provider = %event.provider, provider_event_type = ?event.provider_event_type, "unrecognized payload: stored as unrecognized");
        }
        let outcome = pipeline.process(&event).await?;
        // A derived key contains the ICCID: info-level logs get a reference to it instead.
        let dedupe_key = match event.dedupe_basis {
            DedupeBasis::Derived => log_ref(event.dedupe_key.as_str()),
            _ => event.dedupe_key.to_string(),
        };
        Ok(Handled::Accepted {
            kind: event.kind,
            dedupe_key,
            outcome,
            drift: event.shows_schema_drift(),
        })
    }
}

/// Several providers behind one server, at `/webhooks/{provider}[/{token}]`.
pub struct Router {
    services: Vec<Service>,
}

impl Router {
    pub fn new(services: Vec<Service>) -> Self {
        Self { services }
    }

    pub fn providers(&self) -> impl Iterator<Item = ProviderId> + '_ {
        self.services.iter().map(Service::provider_id)
    }

    /// The providers whose deliveries can be accepted (configured, with their secrets).
    pub fn served(&self) -> impl Iterator<Item = ProviderId> + '_ {
        self.services.iter().filter(|s| s.is_ready()).map(Service::provider_id)
    }

    /// The service the path names, if it is served here.
    pub fn route(&self, path: &str) -> Option<&Service> {
        let rest = path.split("/webhooks/").nth(1)?;
        let name = rest.split(['/', '?']).next()?;
        let provider = ProviderId::parse(name)?;
        self.services.iter().find(|s| s.provider_id() == provider)
    }

    pub async fn handle(&self, delivery: &Delivery) -> Reply {
        match self.route(&delivery.path) {
            Some(service) => service.handle(delivery).await,
            None => Rejection::NotFound.reply(),
        }
    }
}
