//! The local HTTP server: every provider at `POST /webhooks/{provider}`, through the same `shared::Router`
//! the Lambda functions use, and, over the local store, the partner callbacks API with a sender that delivers
//! callbacks from the store's queue (the deployed sender's rules: signing, retries, disabling, recovery).

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use shared::callbacks::api::MAX_API_BODY_BYTES;
use shared::callbacks::http::HttpPoster;
use shared::callbacks::local::LocalCallbacks;
use shared::callbacks::throttle::{FailureThrottle, Limits, MemoryAuthFailures};
use shared::callbacks::url::SystemResolver;
use shared::callbacks::CallbacksApi;
use shared::clock::Clock;
use shared::config::{ConfigError, Settings};
use shared::ingress::Delivery;
use shared::model::ProviderId;
use shared::providers::{provider_from_env, SourceChecks};
use shared::reply::{HttpError, Rejection, Reply};
use shared::service::{Router, Service};
use shared::store::{KvBackend, KvStore};
use std::net::SocketAddr;
use std::sync::Arc;

mod connections;
pub use connections::{serve as serve_app, ServeLimits};

#[derive(Clone)]
pub struct AppState {
    pub router: Arc<Router>,
    pub clock: Arc<dyn Clock>,
    /// The partner callbacks API, on every path the webhook router does not serve (local store only).
    pub callbacks: Option<Arc<CallbacksApi>>,
}

/// Partner callbacks over the local store: the sender and the API. `allow_loopback` lets partners register
/// loopback and `http://` URLs (`serve --allow-loopback-callbacks`); `notices` tells a partner's contact that
/// an endpoint was disabled (the console, locally). The schedule, disabling span and signing overlap come from
/// the environment, as deployed.
pub fn local_callbacks<B: KvBackend>(
    store: Arc<KvStore<B>>,
    clock: Arc<dyn Clock>,
    allow_loopback: bool,
    notices: Option<Arc<dyn shared::customers::records::CustomerSender>>,
) -> Result<(Arc<LocalCallbacks<B>>, Arc<CallbacksApi>), String> {
    let poster = HttpPoster::new(Arc::new(SystemResolver), allow_loopback)
        .map_err(|e| format!("no TLS roots for callbacks: {e}"))?;
    let mut sender = LocalCallbacks::new(store.clone(), Arc::new(poster), clock.clone());
    let env = &shared::config::process_env;
    sender.sender_mut().configure(env).map_err(|e| e.to_string())?;
    sender.sender_mut().notices = notices;
    let sender = Arc::new(sender);
    let api = CallbacksApi::new(store.clone(), sender.clone(), Arc::new(SystemResolver), clock)
        .with_esim_states(store.clone())
        .with_attempt_log(store)
        .with_job_queue(sender.clone())
        .with_signing_overlap(shared::callbacks::partner::signing_overlap(env).map_err(|e| e.to_string())?)
        .with_failure_throttle(FailureThrottle::new(
            Arc::new(MemoryAuthFailures::default()),
            Limits::from_env(env).map_err(|e| e.to_string())?,
        ));
    let api = match allow_loopback {
        true => api.allowing_loopback(),
        false => api.with_loopback_hint(
            "a local server accepts loopback and http:// URLs when started with `esimhooks serve \
             --allow-loopback-callbacks`",
        ),
    };
    Ok((sender, Arc::new(api)))
}

/// The router for every implemented provider. A provider given no secret at all is one this server was not
/// asked to serve: its route answers 503 saying what to set, and one INFO line lists them all. A secret that is
/// given but unreadable or wrong is a broken configuration: that route fails closed, logged as an error.
pub async fn build_router(
    opened: &crate::backend::Opened,
    settings: &Settings,
    clock: Arc<dyn Clock>,
    env: shared::config::Env<'_>,
) -> Router {
    let pipeline = Arc::new(crate::pipeline_for(opened, settings, clock));
    let mut services = Vec::new();
    let mut unconfigured = Vec::new();
    for &provider in ProviderId::ALL {
        // Local senders are not the providers' servers: sender allow-lists are opt-in here.
        let built = provider_from_env(provider, env, opened.secrets.as_ref(), SourceChecks::OptIn).await;
        let service = match built {
            Ok(p) => Service::ready(p, pipeline.clone(), settings.max_body_bytes),
            Err(ConfigError::Missing(_)) => {
                unconfigured.push(provider.as_str());
                let var = format!("{}_SECRETS", provider.env_prefix());
                let reason =
                    format!("{provider} is not configured on this server: set {var} (or {var}_PARAM) and restart it");
                Service::without_secret(provider, reason)
            }
            Err(e) => Service::fail_closed(provider, e.to_string()),
        };
        services.push(service);
    }
    if !unconfigured.is_empty() {
        let providers = unconfigured.join(", ");
        tracing::info!(
            providers,
            "not configured (no secret given): their routes answer 503 until <PROVIDER>_SECRETS is set"
        );
    }
    Router::new(services)
}

/// Listens on `addr` for `command`; a port already taken says what to do about it (`flag` picks another).
pub async fn bind(addr: SocketAddr, command: &str, flag: &str) -> Result<tokio::net::TcpListener, String> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| bind_error(addr, &e, command, flag))
}

pub(crate) fn bind_error(addr: SocketAddr, error: &std::io::Error, command: &str, flag: &str) -> String {
    match error.kind() {
        std::io::ErrorKind::AddrInUse => format!(
            "cannot listen on {addr}: address already in use (another esimhooks {command}? stop it or pass {flag})"
        ),
        _ => format!("cannot listen on {addr}: {error}"),
    }
}

/// On the local store, partner callbacks: alerts and events are offered to partners, a sender attempts due
/// callbacks every `tick`, and the API is returned for `serve` to answer on its paths.
pub fn partner_callbacks(
    opened: &mut crate::backend::Opened,
    clock: Arc<dyn Clock>,
    allow_loopback: bool,
    tick: std::time::Duration,
) -> Result<Option<Arc<shared::callbacks::CallbacksApi>>, String> {
    let Some(store) = opened.local.clone() else {
        return match allow_loopback {
            true => {
                Err("--allow-loopback-callbacks is for the local backend (the deployed API never allows it)".into())
            }
            false => Ok(None),
        };
    };
    let notices = opened.customer_sender.clone();
    let (sender, api) = local_callbacks(store, clock, allow_loopback, notices)?;
    opened.sink = Arc::new(shared::callbacks::local::PartnerSink {
        inner: opened.sink.clone(),
        callbacks: sender.clone(),
    });
    spawn_delivery(sender, tick);
    Ok(Some(api))
}

/// Attempts the callbacks that are due, every `every`, until the process ends.
pub fn spawn_delivery<B: KvBackend>(sender: Arc<LocalCallbacks<B>>, every: std::time::Duration) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if let Err(error) = sender.deliver_due().await {
                tracing::warn!(%error, "callbacks not delivered this round");
            }
        }
    });
}

/// Every path goes to the webhook router, which answers 404 for paths it does not serve.
pub fn app(state: AppState) -> axum::Router {
    axum::Router::new().fallback(webhook).with_state(state)
}

async fn webhook(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    limits: Option<Extension<ServeLimits>>,
    body: Body,
) -> Response {
    // Read here, within the served route's limit, so a body over it gets the same JSON 413 as in Lambda (axum's
    // own limit would answer in plain text). A body that cannot be read to its end within the limit is refused
    // as too large: when the reading failed for another reason, the client is gone and hears nothing.
    let served = state.router.route(uri.path());
    let callbacks = state.callbacks.as_ref().filter(|_| served.is_none());
    let limit = match (served, callbacks) {
        (Some(service), _) => service.max_body_bytes(),
        (None, Some(_)) => MAX_API_BODY_BYTES,
        (None, None) => shared::config::DEFAULT_MAX_BODY_BYTES,
    };
    // A body trickled in slower than the deadline gets a 408 and the connection is closed.
    let deadline = limits.map_or(ServeLimits::default().body, |Extension(limits)| limits.body);
    let Ok(read) = tokio::time::timeout(deadline, axum::body::to_bytes(body, limit)).await else {
        let message = format!("the body was not received within {} ms", deadline.as_millis());
        let mut late = response(Reply::error(408, "request_timeout", &message, 0));
        late.headers_mut()
            .insert(header::CONNECTION, header::HeaderValue::from_static("close"));
        return late;
    };
    let Ok(body) = read else {
        return response(Rejection::PayloadTooLarge { limit }.reply());
    };
    let delivery = Delivery {
        method,
        path: uri.path().to_string(),
        query: uri.query().unwrap_or_default().to_string(),
        headers,
        source_ip: Some(peer.ip()),
        body,
        received_at: state.clock.now(),
        request_id: None,
    };
    match callbacks {
        Some(api) => response(api.handle(&delivery).await),
        None => response(state.router.handle(&delivery).await),
    }
}

fn response(reply: Reply) -> Response {
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = if reply.body.is_empty() {
        status.into_response()
    } else {
        (status, [(header::CONTENT_TYPE, "application/json")], reply.body).into_response()
    };
    if let Some(seconds) = reply.retry_after {
        response.headers_mut().insert(header::RETRY_AFTER, seconds.into());
    }
    response
}

/// Serves until `shutdown` resolves, within the default [`ServeLimits`] (the cap from
/// `ESIMHOOKS_SERVE_MAX_CONNECTIONS`).
pub async fn run(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = ServeLimits::from_env(&shared::config::process_env)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    run_with(listener, state, limits, shutdown).await
}

/// [`run`] within `limits`.
pub async fn run_with(
    listener: tokio::net::TcpListener,
    state: AppState,
    limits: ServeLimits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_app(listener, app(state), limits, shutdown).await
}
