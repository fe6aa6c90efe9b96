//! The local HTTP server: every provider at `POST /webhooks/{provider}`, through the same `shared::Router`
//! the Lambda functions use.

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use shared::clock::Clock;
use shared::ingress::Delivery;
use shared::reply::{HttpError, Rejection, Reply};
use shared::service::{Router, Service};
use std::net::SocketAddr;
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState {
    pub router: Arc<Router>,
    pub clock: Arc<dyn Clock>,
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
    body: Body,
) -> Response {
    // Read here, within the served route's limit, so a body over it gets the same JSON 413 as in Lambda (axum's
    // own limit would answer in plain text). A body that cannot be read to its end within the limit is refused
    // as too large: when the reading failed for another reason, the client is gone and hears nothing.
    let limit = state
        .router
        .route(uri.path())
        .map_or(shared::config::DEFAULT_MAX_BODY_BYTES, Service::max_body_bytes);
    let Ok(body) = axum::body::to_bytes(body, limit).await else {
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
    response(state.router.handle(&delivery).await)
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

/// Serves until `shutdown` resolves.
pub async fn run(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app(state).into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await
}
