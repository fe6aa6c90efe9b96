//! The HTTP client every AWS SDK client uses: HTTP/1.1 on hyper, rustls on ring. The SDK's own clients bring
//! aws-lc (a C library) or HTTP/2 (h2), and no AWS call here needs either. It does what the SDK's rustls client
//! did: the connect and read timeouts the SDK asks for, applied where the SDK applied them; one connection pool
//! per set of timeouts, shared by every SDK client; HTTP(S)_PROXY and NO_PROXY from the environment; errors
//! classified the SDK's way, so its retries and its closing of a connection after a transient error still work.

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::connection::{CaptureSmithyConnection, ConnectionMetadata};
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::retry::ErrorKind;
use connect::{Connect, Route, TimedOut};
use hyper::header::PROXY_AUTHORIZATION;
use hyper::http::uri::Scheme;
use hyper_rustls::{ConfigBuilderExt, HttpsConnector};
use hyper_util::client::legacy::connect::{
    capture_connection, CaptureConnection, HttpConnector as TcpConnector, HttpInfo,
};
use hyper_util::client::legacy::Client;
use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rustls::{ClientConfig, RootCertStore};
use std::error::Error;
use std::io;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::time::Duration;

mod connect;

/// The roots a TLS handshake accepts.
#[derive(Clone)]
pub(crate) enum Trust {
    /// The system's certificate store, read once per process.
    System,
    /// Only these PEM certificates.
    Pem(Vec<Vec<u8>>),
}

/// The client for every SDK client of one configuration, trusting `trust`, with the proxies the environment
/// names.
pub(crate) fn https_client(trust: &Trust) -> SharedHttpClient {
    SharedHttpClient::new(SdkClient::new(trust, Matcher::from_env()))
}

/// The cipher suites the SDK's rustls client offered (AES-GCM, and ChaCha20 only with RSA on TLS 1.2), in
/// ring's order.
const CIPHER_SUITES: [rustls::CipherSuite; 7] = [
    rustls::CipherSuite::TLS13_AES_256_GCM_SHA384,
    rustls::CipherSuite::TLS13_AES_128_GCM_SHA256,
    rustls::CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    rustls::CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    rustls::CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    rustls::CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    rustls::CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
];

fn tls_config(trust: &Trust) -> Arc<ClientConfig> {
    // Reading the system store is slow (~150 files): once per process, however many configurations load.
    static SYSTEM: LazyLock<Arc<ClientConfig>> = LazyLock::new(|| build_tls_config(&Trust::System));
    match trust {
        Trust::System => Arc::clone(&SYSTEM),
        Trust::Pem(_) => build_tls_config(trust),
    }
}

fn build_tls_config(trust: &Trust) -> Arc<ClientConfig> {
    let mut provider = rustls::crypto::ring::default_provider();
    provider
        .cipher_suites
        .retain(|suite| CIPHER_SUITES.contains(&suite.suite()));
    let provider = Arc::new(provider);
    let versions = || {
        ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .expect("ring supports TLS 1.2 and 1.3")
    };
    let verifying = match trust {
        Trust::System => versions().with_native_roots().unwrap_or_else(|error| {
            // As the SDK did: go on, and let each handshake fail (a plain http:// emulator needs no roots).
            tracing::warn!(error = %error, "no usable system root certificates");
            versions().with_root_certificates(RootCertStore::empty())
        }),
        Trust::Pem(pems) => versions().with_root_certificates(pem_roots(pems)),
    };
    let mut config = verifying.with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

fn pem_roots(pems: &[Vec<u8>]) -> RootCertStore {
    use rustls::pki_types::{pem::PemObject, CertificateDer};
    let mut roots = RootCertStore::empty();
    let mut unreadable = 0;
    let certificates = pems
        .iter()
        .flat_map(|pem| CertificateDer::pem_slice_iter(pem))
        .filter_map(|parsed| parsed.map_err(|_| unreadable += 1).ok())
        .collect::<Vec<_>>();
    let (_, invalid) = roots.add_parsable_certificates(certificates);
    if unreadable + invalid > 0 {
        tracing::warn!(unreadable, invalid, "root certificates left out");
    }
    roots
}

/// The connect and read timeouts of one `HttpConnectorSettings`.
type Timeouts = (Option<Duration>, Option<Duration>);

/// Hands each SDK client the connector for its timeouts, making it at the first ask: the SDK asks per
/// operation, so connections are pooled across calls and clients.
struct SdkClient {
    tls: Arc<ClientConfig>,
    proxies: Arc<Matcher>,
    connectors: Mutex<Vec<(Timeouts, SharedHttpConnector)>>,
}

impl SdkClient {
    fn new(trust: &Trust, proxies: Matcher) -> Self {
        Self {
            tls: tls_config(trust),
            proxies: Arc::new(proxies),
            connectors: Mutex::default(),
        }
    }
}

impl std::fmt::Debug for SdkClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SdkClient").finish_non_exhaustive()
    }
}

impl HttpClient for SdkClient {
    fn http_connector(&self, settings: &HttpConnectorSettings, _: &RuntimeComponents) -> SharedHttpConnector {
        let timeouts = (settings.connect_timeout(), settings.read_timeout());
        let mut connectors = self.connectors.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, connector)) = connectors.iter().find(|(made_for, _)| *made_for == timeouts) {
            return connector.clone();
        }
        let connector = SharedHttpConnector::new(SdkConnector::new(&self.tls, &self.proxies, timeouts));
        connectors.push((timeouts, connector.clone()));
        connector
    }

    /// What the SDK's client reported (it goes into the user agent).
    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        Some(ConnectorMetadata::new("hyper", Some("1.x".into())))
    }
}

/// One pool of connections and the read timeout its calls get.
struct SdkConnector {
    client: Client<Connect, SdkBody>,
    proxies: Arc<Matcher>,
    read_timeout: Option<Duration>,
}

impl SdkConnector {
    fn new(tls: &Arc<ClientConfig>, proxies: &Arc<Matcher>, (connect_timeout, read_timeout): Timeouts) -> Self {
        let mut tcp = TcpConnector::new();
        tcp.enforce_http(false);
        tcp.set_nodelay(true);
        let connect = Connect {
            https: HttpsConnector::from((tcp, Arc::clone(tls))),
            tls: Arc::clone(tls),
            proxies: Arc::clone(proxies),
            timeout: connect_timeout,
        };
        tracing::debug!(?connect_timeout, ?read_timeout, "AWS HTTP connection pool made");
        Self {
            // The timer lets the pool drop idle connections (after 90 s, hyper's default and the SDK's).
            client: Client::builder(TokioExecutor::new())
                .pool_timer(TokioTimer::new())
                .build(connect),
            proxies: Arc::clone(proxies),
            read_timeout,
        }
    }
}

impl std::fmt::Debug for SdkConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SdkConnector")
            .field("read_timeout", &self.read_timeout)
            .finish_non_exhaustive()
    }
}

impl HttpConnector for SdkConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let mut request = match request.try_into_http1x() {
            Ok(request) => request,
            Err(error) => return HttpConnectorFuture::ready(Err(ConnectorError::user(error.into()))),
        };
        // A forward proxy sees plain http:// requests whole, so it wants its credentials on each one.
        if request.uri().scheme() == Some(&Scheme::HTTP) && !request.headers().contains_key(PROXY_AUTHORIZATION) {
            if let Some(auth) = self
                .proxies
                .intercept(request.uri())
                .and_then(|p| p.basic_auth().cloned())
            {
                request.headers_mut().insert(PROXY_AUTHORIZATION, auth);
            }
        }
        // Lets the SDK close the connection after a transient error rather than reuse it.
        let captured = capture_connection(&mut request);
        if let Some(capture) = request.extensions().get::<CaptureSmithyConnection>() {
            capture.set_connection_retriever(move || connection_metadata(&captured));
        }
        let sending = self.client.request(request);
        let read_timeout = self.read_timeout;
        HttpConnectorFuture::new(async move {
            // As the SDK's client did, the read timeout runs from sending to the answer's head, connecting
            // included; the body is read later, by the SDK.
            let answered = match read_timeout {
                Some(limit) => tokio::time::timeout(limit, sending)
                    .await
                    .map_err(|_| ConnectorError::timeout(TimedOut::error("HTTP read", limit)))?,
                None => sending.await,
            };
            match answered {
                Ok(response) => HttpResponse::try_from(response.map(SdkBody::from_body_1_x))
                    .map_err(|error| ConnectorError::other(error.into(), None)),
                Err(error) => Err(connector_error(error)),
            }
        })
    }
}

fn connection_metadata(captured: &CaptureConnection) -> Option<ConnectionMetadata> {
    let connected = captured.connection_metadata();
    let connected = connected.as_ref()?;
    let mut extras = hyper::http::Extensions::new();
    connected.get_extras(&mut extras);
    let info = extras.get::<HttpInfo>();
    let poisoned = captured.clone();
    let mut metadata = ConnectionMetadata::builder()
        .proxied(connected.is_proxied() || extras.get::<Route>() == Some(&Route::Tunnel))
        .poison_fn(move || {
            if let Some(connected) = poisoned.connection_metadata().as_ref() {
                connected.poison();
            }
        });
    metadata
        .set_local_addr(info.map(HttpInfo::local_addr))
        .set_remote_addr(info.map(HttpInfo::remote_addr));
    Some(metadata.build())
}

/// The SDK's classification of a failed call: timeouts and I/O are transient (retried, the connection
/// dropped), a message cut short is retryable, a misuse of hyper is the caller's, anything else is final.
fn connector_error(error: hyper_util::client::legacy::Error) -> ConnectorError {
    let kind: fn(BoxError) -> ConnectorError = if find::<TimedOut>(&error).is_some() {
        ConnectorError::timeout
    } else if let Some(hyper) = find::<hyper::Error>(&error) {
        if hyper.is_timeout() {
            ConnectorError::timeout
        } else if hyper.is_user() {
            ConnectorError::user
        } else if hyper.is_closed() || hyper.is_canceled() || find::<io::Error>(hyper).is_some() {
            ConnectorError::io
        } else if hyper.is_incomplete_message() {
            |error| ConnectorError::other(error, Some(ErrorKind::TransientError))
        } else {
            tracing::warn!(error = %hyper, "unclassified HTTP error: not retried");
            |error| ConnectorError::other(error, None)
        }
    } else if error.is_connect() || find::<io::Error>(&error).is_some() {
        ConnectorError::io
    } else {
        |error| ConnectorError::other(error, None)
    };
    kind(Box::new(error))
}

fn find<'a, E: Error + 'static>(error: &'a (dyn Error + 'static)) -> Option<&'a E> {
    std::iter::successors(Some(error), |&error| error.source()).find_map(|error| error.downcast_ref::<E>())
}

#[cfg(test)]
mod tests;
