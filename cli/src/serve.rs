//! The local HTTP server: every provider at `POST /webhooks/{provider}`, through the same `shared::Router`
//! the Lambda functions use.

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use shared::clock::Clock;
use shared::ingress::Delivery;
use shared::service::Router;
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
    body: Bytes,
) -> Response {
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
    let reply = state.router.handle(&delivery).await;
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
