//! Posting a callback to a partner's endpoint: HTTP/1.1 over rustls (the system's roots), a 15-second limit
//! for the whole attempt, no redirects followed, and the address checked when connecting, not only when the
//! URL was registered: a name that now resolves to a private, loopback, link-local or reserved address is
//! refused (DNS rebinding). Loopback is allowed only where the operator asks (`serve
//! --allow-loopback-callbacks`), never in Lambda.

use super::delivery::Response;
use super::url::{is_public, HostResolver};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// How long one attempt may take, connecting included.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(15);
/// Of the answer, only this much is read (a partner's error page is not ours to keep).
const MAX_RESPONSE_BYTES: usize = 16 * 1024;

/// Resolves names for the connector, keeping only addresses a callback may reach.
#[derive(Clone)]
struct CheckedResolver {
    resolver: Arc<dyn HostResolver>,
    allow_loopback: bool,
}

impl CheckedResolver {
    fn allowed(&self, ip: IpAddr) -> bool {
        is_public(ip) || (self.allow_loopback && ip.is_loopback())
    }
}

impl tower_service::Service<Name> for CheckedResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = std::io::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            let host = name.as_str().to_string();
            let found = this
                .resolver
                .resolve(&host, 0)
                .await
                .map_err(|e| std::io::Error::other(format!("{host} does not resolve: {e}")))?;
            let allowed: Vec<SocketAddr> = found
                .into_iter()
                .filter(|ip| this.allowed(*ip))
                .map(|ip| SocketAddr::new(ip, 0))
                .collect();
            if allowed.is_empty() {
                return Err(std::io::Error::other(format!(
                    "{host} resolves only to addresses a callback may not reach"
                )));
            }
            Ok(allowed.into_iter())
        })
    }
}

/// Posts signed callbacks.
#[derive(Clone)]
pub struct HttpPoster {
    client: Client<hyper_rustls::HttpsConnector<HttpConnector<CheckedResolver>>, Full<Bytes>>,
    checker: CheckedResolver,
    allow_http: bool,
}

impl HttpPoster {
    /// `allow_loopback` (a local server only): loopback addresses and `http://` are allowed too.
    pub fn new(resolver: Arc<dyn HostResolver>, allow_loopback: bool) -> std::io::Result<Self> {
        let checker = CheckedResolver {
            resolver,
            allow_loopback,
        };
        let mut http = HttpConnector::new_with_resolver(checker.clone());
        http.enforce_http(false);
        http.set_connect_timeout(Some(ATTEMPT_TIMEOUT));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(rustls::crypto::ring::default_provider())?
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new()).build(https);
        Ok(Self {
            client,
            checker,
            allow_http: allow_loopback,
        })
    }

    /// One attempt: POST `body` with `headers` to `url`; what the endpoint answered, or why it did not.
    pub async fn post(&self, url: &str, headers: &[(&str, String)], body: Bytes) -> (Response, Duration) {
        let started = Instant::now();
        let response = tokio::time::timeout(ATTEMPT_TIMEOUT, self.send(url, headers, body))
            .await
            .unwrap_or_else(|_| Response::Failed {
                error: format!("no answer within {} s", ATTEMPT_TIMEOUT.as_secs()),
            });
        (response, started.elapsed())
    }

    async fn send(&self, url: &str, headers: &[(&str, String)], body: Bytes) -> Response {
        let failed = |error: String| Response::Failed { error };
        let uri: hyper::Uri = match url.parse() {
            Ok(uri) => uri,
            Err(e) => return failed(format!("not a URL: {e}")),
        };
        match uri.scheme_str() {
            Some("https") => {}
            Some("http") if self.allow_http => {}
            _ => return failed("only https:// URLs are called".into()),
        }
        // An address written in the URL skips name resolution: checked here instead.
        if let Some(ip) = uri
            .host()
            .and_then(|h| h.trim_matches(['[', ']']).parse::<IpAddr>().ok())
        {
            if !self.checker.allowed(ip) {
                return failed(format!("{ip} is an address a callback may not reach"));
            }
        }
        let mut request = hyper::Request::post(uri)
            .header("content-type", "application/json")
            .header("user-agent", "esimhooks-callbacks");
        for (name, value) in headers {
            request = request.header(*name, value.as_str());
        }
        let request = match request.body(Full::new(body)) {
            Ok(request) => request,
            Err(e) => return failed(e.to_string()),
        };
        let answer = match self.client.request(request).await {
            Ok(answer) => answer,
            Err(e) => return failed(error_chain(&e)),
        };
        let code = answer.status().as_u16();
        let retry_after_seconds = answer
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok());
        // Drain a little of the body so the connection can be reused; its content is not kept.
        let _ = http_body_util::Limited::new(answer.into_body(), MAX_RESPONSE_BYTES)
            .collect()
            .await;
        Response::Status {
            code,
            retry_after_seconds,
        }
    }
}

/// An error with its causes, as one line (hyper's own message alone says only "client error (Connect)").
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
