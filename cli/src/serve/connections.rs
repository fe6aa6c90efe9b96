//! Serving an axum app connection by connection, with the limits `axum::serve` lacks: a deadline for a request's
//! head, one for a keep-alive connection left idle, and a cap on the connections served at once. (The body's
//! deadline is the handler's, which reads the body: `serve::webhook`; the limits reach it as a request
//! extension.) `serve` and `console` both serve through [`serve`].
//!
//! The head deadline runs from accepting the connection, and on a kept-alive one from the first byte of the
//! next request, to its complete head; the idle deadline runs while no request is in flight and no byte moves
//! either way. hyper's own `header_read_timeout` is not used: it starts as soon as hyper waits for a head, so it
//! would also close every idle keep-alive connection after the head's deadline.

use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::{pin, Pin};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify, Semaphore};
use tokio::time::Instant;

/// Overrides [`ServeLimits::max_connections`].
pub const MAX_CONNECTIONS_VAR: &str = "ESIMHOOKS_SERVE_MAX_CONNECTIONS";
const MOST_CONNECTIONS: usize = 1_000_000;

/// How long a client may take, and how many may be served at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServeLimits {
    /// From accepting a connection (or a kept-alive one's next first byte) to the request's complete head.
    pub header: Duration,
    /// Reading a request's body to its end.
    pub body: Duration,
    /// A connection with no request in flight and no byte read or written.
    pub idle: Duration,
    /// Connections served at once; one more is accepted and closed at once, so file descriptors stay bounded.
    pub max_connections: usize,
}

impl Default for ServeLimits {
    fn default() -> Self {
        Self {
            header: Duration::from_secs(10),
            body: Duration::from_secs(30),
            idle: Duration::from_secs(60),
            max_connections: 1024,
        }
    }
}

impl ServeLimits {
    /// The defaults, with the cap from [`MAX_CONNECTIONS_VAR`] when it is set.
    pub fn from_env(env: shared::config::Env<'_>) -> Result<Self, String> {
        let mut limits = Self::default();
        if let Some(value) = env(MAX_CONNECTIONS_VAR) {
            limits.max_connections = value
                .trim()
                .parse()
                .ok()
                .filter(|n| (1..=MOST_CONNECTIONS).contains(n))
                .ok_or_else(|| {
                    format!("{MAX_CONNECTIONS_VAR} must be a number from 1 to {MOST_CONNECTIONS}, not {value:?}")
                })?;
        }
        Ok(limits)
    }
}

/// Serves `app` on `listener` within `limits` until `shutdown` resolves, then lets the open connections finish
/// their requests (each still under its deadlines) and returns once all are closed.
pub async fn serve(
    listener: TcpListener,
    app: axum::Router,
    limits: ServeLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let (stop, stopping) = watch::channel(());
    let mut shutdown = pin!(shutdown);
    let mut refusing = false;
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) if connection_error(&error) => continue,
            Err(error) => {
                // Out of file descriptors, say: wait for some to be freed rather than spin.
                tracing::error!(%error, "cannot accept a connection");
                tokio::select! {
                    () = &mut shutdown => break,
                    () = tokio::time::sleep(Duration::from_secs(1)) => continue,
                }
            }
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            if !refusing {
                tracing::warn!(
                    max_connections = limits.max_connections,
                    "serving the most connections allowed ({MAX_CONNECTIONS_VAR}): closing new ones until some end"
                );
                refusing = true;
            }
            drop(stream);
            continue;
        };
        refusing = false;
        let (app, stopping) = (app.clone(), stopping.clone());
        tokio::spawn(async move {
            connection(stream, peer, app, limits, stopping).await;
            drop(permit);
        });
    }
    drop(listener);
    let _ = stop.send(());
    // Every connection holds a permit until it is closed: all of them back means all are closed.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let _ = permits.acquire_many(all).await;
    Ok(())
}

/// Errors of one connection, not of the listener (as `axum::serve` tells them apart).
fn connection_error(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
}

/// Serves one connection until it ends, a deadline passes (the socket is then closed), or shutdown asks it
/// to finish the request in flight and close.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: axum::Router,
    limits: ServeLimits,
    mut stopping: watch::Receiver<()>,
) {
    let tracker = Arc::new(Tracker::new());
    let io = TokioIo::new(Tracked {
        stream,
        tracker: tracker.clone(),
    });
    let app = TowerToHyperService::new(app);
    let service = {
        let tracker = tracker.clone();
        hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            request.extensions_mut().insert(limits);
            let in_flight = InFlight::begin(tracker.clone());
            let answer = hyper::service::Service::call(&app, request);
            async move {
                let answer = answer.await;
                drop(in_flight);
                answer
            }
        })
    };
    // hyper-util's builder, as `axum::serve` uses (HTTP/1 only here): with hyper's http1 builder used directly, a
    // client that sent an oversized body and half-closed got no 413 (tests_hostile).
    let builder = hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
    let mut served = pin!(builder.serve_connection(io, service));
    let mut closing = false;
    loop {
        let deadline = tracker.deadline(&limits);
        let expiry = async {
            match deadline {
                Some((at, _)) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            ended = served.as_mut() => {
                if let Err(error) = ended {
                    tracing::debug!(%peer, %error, "connection ended with an error");
                }
                return;
            }
            () = expiry => {
                if let Some((at, limit)) = tracker.deadline(&limits) {
                    if at <= Instant::now() {
                        tracing::debug!(%peer, limit, "closing a connection past its deadline");
                        return;
                    }
                }
            }
            () = tracker.changed.notified() => {}
            _ = stopping.changed(), if !closing => {
                closing = true;
                served.as_mut().graceful_shutdown();
            }
        }
    }
}

/// What one connection is doing, for its deadlines.
struct Tracker {
    state: Mutex<Activity>,
    /// A request began or ended, or a head began: the deadline moved.
    changed: Notify,
}

struct Activity {
    in_flight: usize,
    /// When the head awaited began: the connection accepted, or the first byte after a request.
    head_since: Option<Instant>,
    /// The last byte read or written, or the last request's end.
    last: Instant,
}

impl Tracker {
    fn new() -> Self {
        let now = Instant::now();
        Self {
            state: Mutex::new(Activity {
                in_flight: 0,
                head_since: Some(now),
                last: now,
            }),
            changed: Notify::new(),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, Activity> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn moved(&self, read: bool) {
        let now = Instant::now();
        let mut state = self.state();
        state.last = now;
        if read && state.in_flight == 0 && state.head_since.is_none() {
            state.head_since = Some(now);
            drop(state);
            self.changed.notify_one();
        }
    }

    /// When the connection is to be closed, and which limit says so; none while a request is in flight.
    fn deadline(&self, limits: &ServeLimits) -> Option<(Instant, &'static str)> {
        let state = self.state();
        match (state.in_flight, state.head_since) {
            (0, Some(since)) => Some((since + limits.header, "header")),
            (0, None) => Some((state.last + limits.idle, "idle")),
            _ => None,
        }
    }
}

/// A request being answered (its head complete).
struct InFlight(Arc<Tracker>);

impl InFlight {
    fn begin(tracker: Arc<Tracker>) -> Self {
        {
            let mut state = tracker.state();
            state.in_flight += 1;
            state.head_since = None;
        }
        tracker.changed.notify_one();
        Self(tracker)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        {
            let mut state = self.0.state();
            state.in_flight -= 1;
            state.last = Instant::now();
        }
        self.0.changed.notify_one();
    }
}

/// The socket, telling its tracker about every byte.
struct Tracked {
    stream: TcpStream,
    tracker: Arc<Tracker>,
}

impl AsyncRead for Tracked {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.stream).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.tracker.moved(true);
        }
        polled
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.stream).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            this.tracker.moved(false);
        }
        polled
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.stream).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            this.tracker.moved(false);
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}
