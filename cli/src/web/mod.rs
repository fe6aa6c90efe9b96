//! `esimhooks console`: the operator console in the browser, on 127.0.0.1 only, over the local SQLite store or
//! (`--backend aws`) the deployed table read with the operator's own credentials. The page, its script and
//! style are built into the binary (it works offline); the page reads the JSON routes below, which answer from
//! the same queries as the CLI (`stats`, `esim`, `esims`), so the two never disagree.
//!
//! Loopback is not enough on its own: any web page the operator visits can send requests to 127.0.0.1. So a
//! request must name a loopback host (a DNS-rebinding page names its own) and a replay must carry the
//! console's own header, which a cross-site form cannot send.

mod api;

use crate::backend::Opened;
use axum::extract::Request;
use axum::extract::{Query, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use shared::clock::Clock;
use shared::pipeline::Pipeline;
use std::collections::HashMap;
use std::sync::Arc;

pub(crate) const PAGE: &str = include_str!("index.html");
const SCRIPT: &str = include_str!("app.js");
const STYLE: &str = include_str!("style.css");

/// What the console reads and acts on.
pub struct Console {
    pub opened: Opened,
    /// Replays go through the production pipeline (dedupe honoured, alerts sent once).
    pub pipeline: Pipeline,
    pub clock: Arc<dyn Clock>,
}

type Params = Query<HashMap<String, String>>;

pub fn app(console: Arc<Console>) -> axum::Router {
    axum::Router::new()
        .route("/", get(|| async { asset("text/html; charset=utf-8", PAGE) }))
        .route(
            "/app.js",
            get(|| async { asset("text/javascript; charset=utf-8", SCRIPT) }),
        )
        .route("/style.css", get(|| async { asset("text/css; charset=utf-8", STYLE) }))
        .route("/api/overview", get(overview))
        .route("/api/esim", get(esim))
        .route("/api/fleet", get(fleet))
        .route("/api/event", get(event))
        .route("/api/replay", post(replay))
        .route("/api/conflicts", get(conflicts))
        .route("/api/partners", get(partners))
        .layer(middleware::from_fn(guard))
        .layer(middleware::map_response(secure))
        .with_state(console)
}

/// On every answer, the guard's refusals included: no other site may frame the console (a framed page could
/// be clicked into a replay), and the page runs only the script and style served here, nothing inline.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
    frame-ancestors 'none'";

async fn secure(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

/// The header the page sends with every action.
pub const ACTION_HEADER: &str = "x-esimhooks-console";

fn loopback_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().map(|ip| format!("[{ip}]")).unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name).to_string(),
    };
    matches!(name.as_str(), "127.0.0.1" | "localhost" | "[::1]")
}

async fn guard(request: Request, next: Next) -> Response {
    let host = request.headers().get(header::HOST).and_then(|h| h.to_str().ok());
    if !host.is_some_and(loopback_host) {
        return answer(Err(api::Problem {
            status: StatusCode::FORBIDDEN,
            message: "the console answers requests for 127.0.0.1 or localhost only".into(),
        }));
    }
    if request.method() != Method::GET && !request.headers().contains_key(ACTION_HEADER) {
        return answer(Err(api::Problem {
            status: StatusCode::FORBIDDEN,
            message: format!("actions come from the console's page (the {ACTION_HEADER} header)"),
        }));
    }
    next.run(request).await
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

/// A JSON answer, or `{"error": …}` with the status the problem deserves.
fn answer(result: Result<serde_json::Value, api::Problem>) -> Response {
    let (status, body) = match result {
        Ok(value) => (StatusCode::OK, value),
        Err(problem) => (problem.status, serde_json::json!({"error": problem.message})),
    };
    (status, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

async fn overview(State(c): State<Arc<Console>>, Query(p): Params) -> Response {
    answer(api::overview(&c, &p).await)
}

async fn esim(State(c): State<Arc<Console>>, Query(p): Params) -> Response {
    answer(api::esim(&c, &p).await)
}

async fn fleet(State(c): State<Arc<Console>>, Query(p): Params) -> Response {
    answer(api::fleet(&c, &p).await)
}

async fn event(State(c): State<Arc<Console>>, Query(p): Params) -> Response {
    answer(api::event(&c, &p).await)
}

async fn replay(State(c): State<Arc<Console>>, Query(p): Params) -> Response {
    answer(api::replay(&c, &p).await)
}

async fn conflicts(State(c): State<Arc<Console>>, Query(p): Params) -> Response {
    answer(api::conflicts(&c, &p).await)
}

async fn partners(State(c): State<Arc<Console>>, Query(p): Params) -> Response {
    answer(api::partners(&c, &p).await)
}

/// Serves until `shutdown` resolves. Only loopback: the console shows personal data (masked) and replays.
pub async fn run(
    listener: tokio::net::TcpListener,
    console: Arc<Console>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    if !addr.ip().is_loopback() {
        return Err(format!("the console serves loopback only, not {addr}"));
    }
    // The same deadlines and connection cap as `serve` (cli/src/serve/connections.rs).
    let limits = crate::serve::ServeLimits::from_env(&shared::config::process_env)?;
    crate::serve::serve_app(listener, app(console), limits, shutdown)
        .await
        .map_err(|e| e.to_string())
}
