//! Provider API calls over HTTPS: the HTTP and TLS stack the AWS SDK already builds (hyper, rustls on ring,
//! the system's roots), 20 seconds for a whole call, no redirects followed, an answer read up to 1 MiB.

use super::client::ApiTransport;
use super::{ApiAnswer, ApiRequest, NoAnswer};
use crate::callbacks::http::error_chain;
use async_trait::async_trait;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::time::Duration;

const CALL_TIMEOUT: Duration = Duration::from_secs(20);
const MAX_ANSWER_BYTES: usize = 1024 * 1024;

pub struct HttpsTransport {
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
}

impl HttpsTransport {
    pub fn new() -> std::io::Result<Self> {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(CALL_TIMEOUT));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(rustls::crypto::ring::default_provider())?
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        Ok(Self {
            client: Client::builder(TokioExecutor::new()).build(https),
        })
    }

    async fn call(&self, url: &str, request: &ApiRequest) -> Result<ApiAnswer, NoAnswer> {
        let mut builder = hyper::Request::builder()
            .method(request.method)
            .uri(url)
            .header("user-agent", "esimhooks-reconcile");
        for (name, value) in &request.headers {
            builder = builder.header(*name, value.as_str());
        }
        let body = Full::new(Bytes::from(request.body.clone().unwrap_or_default()));
        let request = builder.body(body).map_err(|e| NoAnswer::Failed(e.to_string()))?;
        let answer = self
            .client
            .request(request)
            .await
            .map_err(|e| NoAnswer::Failed(error_chain(&e)))?;
        let status = answer.status().as_u16();
        let retry_after = answer
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok());
        let body = http_body_util::Limited::new(answer.into_body(), MAX_ANSWER_BYTES)
            .collect()
            .await
            .map_err(|e| NoAnswer::Reading(e.to_string()))?
            .to_bytes()
            .to_vec();
        Ok(ApiAnswer {
            status,
            retry_after,
            body,
        })
    }
}

#[async_trait]
impl ApiTransport for HttpsTransport {
    async fn send(&self, url: &str, request: &ApiRequest) -> Result<ApiAnswer, NoAnswer> {
        tokio::time::timeout(CALL_TIMEOUT, self.call(url, request))
            .await
            .unwrap_or_else(|_| Err(NoAnswer::TimedOut(CALL_TIMEOUT.as_secs())))
    }
}
