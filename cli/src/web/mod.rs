//! `esimhooks console`: the operator console in the browser, on 127.0.0.1 only, over the local SQLite store or
//! (`--backend aws`) the deployed table read with the operator's own credentials. The page, its script and
//! style are built into the binary (it works offline); the page reads the JSON routes below, which answer from
//! the same queries as the CLI (`stats`, `esim`, `esims`), so the two never disagree.

mod api;

use crate::backend::Opened;
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use shared::clock::Clock;
use shared::pipeline::Pipeline;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

const PAGE: &str = include_str!("index.html");
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
        .with_state(console)
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
    axum::serve(
        listener,
        app(console).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
    .map_err(|e| e.to_string())
}
