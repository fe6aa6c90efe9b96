//! Opening the pool's connections: TCP and TLS, straight to the endpoint or through a proxy, within the
//! connect timeout.

use aws_smithy_runtime_api::box_error::BoxError;
use hyper::http::uri::Scheme;
use hyper::rt::{Read, ReadBufCursor, Write};
use hyper::Uri;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector as TcpConnector};
use hyper_util::client::proxy::matcher::Matcher;
use rustls::ClientConfig;
use std::error::Error;
use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tower_service::Service;

/// A connect or read timeout of the SDK's settings ran out.
#[derive(Debug)]
pub(super) struct TimedOut {
    phase: &'static str,
    after: Duration,
}

impl TimedOut {
    pub(super) fn error(phase: &'static str, after: Duration) -> BoxError {
        Box::new(Self { phase, after })
    }
}

impl std::fmt::Display for TimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} timeout occurred after {:?}", self.phase, self.after)
    }
}

impl Error for TimedOut {}

/// Opens connections for the pool: directly, or through the proxy the environment names for the address.
#[derive(Clone)]
pub(super) struct Connect {
    pub(super) https: HttpsConnector<TcpConnector>,
    pub(super) tls: Arc<ClientConfig>,
    pub(super) proxies: Arc<Matcher>,
    /// For TCP, the proxy's tunnel and TLS together, as the SDK's client applied it.
    pub(super) timeout: Option<Duration>,
}

type Connecting = Pin<Box<dyn Future<Output = Result<Conn, BoxError>> + Send>>;

impl Service<Uri> for Connect {
    type Response = Conn;
    type Error = BoxError;
    type Future = Connecting;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, destination: Uri) -> Connecting {
        let connecting = self.open(destination);
        let Some(limit) = self.timeout else {
            return connecting;
        };
        Box::pin(async move {
            tokio::time::timeout(limit, connecting)
                .await
                .unwrap_or_else(|_| Err(TimedOut::error("HTTP connect", limit)))
        })
    }
}

impl Connect {
    fn open(&self, destination: Uri) -> Connecting {
        let mut https = self.https.clone();
        let Some(proxy) = self.proxies.intercept(&destination) else {
            return Box::pin(async move { Ok(Conn::new(https.call(destination).await?, Route::Direct)) });
        };
        // The proxy's host only: its URL may carry credentials.
        tracing::debug!(proxy = proxy.uri().host(), "AWS connection through a proxy");
        if destination.scheme() == Some(&Scheme::HTTPS) {
            // CONNECT through the proxy, then TLS with the endpoint inside the tunnel.
            let mut tunnel = Tunnel::new(proxy.uri().clone(), https);
            if let Some(auth) = proxy.basic_auth() {
                tunnel = tunnel.with_auth(auth.clone());
            }
            let mut tls = HttpsConnector::from((tunnel, Arc::clone(&self.tls)));
            Box::pin(async move { Ok(Conn::new(tls.call(destination).await?, Route::Tunnel)) })
        } else {
            let proxy = proxy.uri().clone();
            Box::pin(async move { Ok(Conn::new(https.call(proxy).await?, Route::ForwardProxy)) })
        }
    }
}

/// How a connection reaches the endpoint.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Route {
    Direct,
    /// To the proxy, which takes each request with its whole URL.
    ForwardProxy,
    /// Through the proxy's CONNECT tunnel.
    Tunnel,
}

trait Io: Read + Write + Connection + Send + Unpin {}
impl<T: Read + Write + Connection + Send + Unpin> Io for T {}

/// A connection of any route (each is a different stream type).
pub(super) struct Conn {
    io: Box<dyn Io>,
    route: Route,
}

impl Conn {
    fn new(io: impl Io + 'static, route: Route) -> Self {
        Self {
            io: Box::new(io),
            route,
        }
    }
}

impl Connection for Conn {
    fn connected(&self) -> Connected {
        // hyper writes requests with their whole URL when the connection says it is to a proxy.
        let connected = self.io.connected().extra(self.route);
        connected.proxy(self.route == Route::ForwardProxy)
    }
}

impl Read for Conn {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: ReadBufCursor<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.io).poll_read(cx, buf)
    }
}

impl Write for Conn {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.io).poll_shutdown(cx)
    }
}
