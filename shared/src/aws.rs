//! AWS SDK wiring, done once per cold start. `AWS_ENDPOINT_URL` (read by the SDK itself) points every client
//! at an emulator or a local endpoint.

use crate::config::{SecretError, SecretSource};
use crate::store::StoreError;
use async_trait::async_trait;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use http::{https_client, Trust};

mod http;

/// The root CAs that AWS service endpoints chain to (Amazon Trust Services, and the Starfield root that
/// cross-signs them), from the Amazon Trust Services repository.
const AWS_ENDPOINT_ROOTS: [&str; 5] = [
    include_str!("../certs/Amazon_Root_CA_1.pem"),
    include_str!("../certs/Amazon_Root_CA_2.pem"),
    include_str!("../certs/Amazon_Root_CA_3.pem"),
    include_str!("../certs/Amazon_Root_CA_4.pem"),
    include_str!("../certs/Starfield_Services_Root_Certificate_Authority_-_G2.pem"),
];

/// The SDK configuration from the environment; `us-east-1` when no region is set anywhere.
///
/// Talking to AWS itself, the clients trust only the roots AWS endpoints chain to: reading and parsing the
/// system's whole certificate store (~150 files) was half of a cold start. With `AWS_ENDPOINT_URL` set (an
/// emulator, a proxy with its own CA), the system store is used as usual.
///
/// An emulator on loopback (moto, LocalStack, DynamoDB Local) takes any credentials: when none are set in the
/// environment, dummy ones are used, so `esimhooks init` against it needs nothing exported.
pub async fn sdk_config() -> SdkConfig {
    let endpoint = crate::config::process_env("AWS_ENDPOINT_URL");
    let trust = match endpoint {
        Some(_) => Trust::System,
        None => aws_endpoint_roots(),
    };
    let env = crate::config::process_env;
    let dummy = endpoint
        .as_deref()
        .is_some_and(|url| emulator_without_credentials(url, &env));
    load(trust, None, dummy).await
}

/// Whether `endpoint` is on loopback and the environment names no credentials (keys or a profile).
fn emulator_without_credentials(endpoint: &str, env: &dyn Fn(&str) -> Option<String>) -> bool {
    let rest = endpoint.split_once("://").map_or(endpoint, |(_, rest)| rest);
    let host = rest.split(['/', '?']).next().unwrap_or_default();
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(h, _)| h),
    };
    let loopback =
        host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    let named = [
        "AWS_ACCESS_KEY_ID",
        "AWS_PROFILE",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    ]
    .iter()
    .any(|name| env(name).is_some_and(|v| !v.is_empty()));
    loopback && !named
}

/// The same, with every client sent to `endpoint` (tests, local emulators) and the system's roots trusted.
pub async fn sdk_config_at(endpoint: &str) -> SdkConfig {
    load(Trust::System, Some(endpoint), false).await
}

fn aws_endpoint_roots() -> Trust {
    Trust::Pem(AWS_ENDPOINT_ROOTS.iter().map(|pem| pem.as_bytes().to_vec()).collect())
}

/// The SDK's default chains (region, credentials), all through our HTTP(S) client (`http`): with no default client
/// compiled in, anything built outside the loader (a `RegionProviderChain::default_provider()`, say) would
/// panic at its first IMDS call, so the region fallback is applied after loading.
async fn load(trust: Trust, endpoint: Option<&str>, dummy_credentials: bool) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).http_client(https_client(&trust));
    if let Some(endpoint) = endpoint {
        loader = loader.endpoint_url(endpoint);
    }
    if dummy_credentials {
        let dummy = aws_sdk_dynamodb::config::Credentials::new("testing", "testing", None, None, "emulator");
        loader = loader.credentials_provider(dummy);
        // Nor ask the instance metadata service for a region it does not have.
        if ["AWS_REGION", "AWS_DEFAULT_REGION"]
            .iter()
            .all(|name| crate::config::process_env(name).is_none())
        {
            loader = loader.region(Region::from_static("us-east-1"));
        }
    }
    let config = loader.load().await;
    match config.region() {
        Some(_) => config,
        None => config.to_builder().region(Region::from_static("us-east-1")).build(),
    }
}

/// Secrets from SSM Parameter Store (SecureString parameters are decrypted).
pub struct SsmSecrets(pub aws_sdk_ssm::Client);

#[async_trait]
impl SecretSource for SsmSecrets {
    async fn parameter(&self, name: &str) -> Result<String, SecretError> {
        let output = self
            .0
            .get_parameter()
            .name(name)
            .with_decryption(true)
            .send()
            .await
            .map_err(|e| SecretError::Unavailable(aws_sdk_ssm::error::DisplayErrorContext(&e).to_string()))?;
        output
            .parameter
            .and_then(|p| p.value)
            .ok_or_else(|| SecretError::NoValue(name.to_string()))
    }
}

/// Sends `bodies` to the queue, ten to a batch; an error when SQS refused any.
pub async fn send_messages(sqs: &aws_sdk_sqs::Client, queue_url: &str, bodies: &[String]) -> Result<(), StoreError> {
    use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
    for chunk in bodies.chunks(10) {
        let entries: Vec<SendMessageBatchRequestEntry> = chunk
            .iter()
            .enumerate()
            .filter_map(|(i, body)| {
                SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(body)
                    .build()
                    .ok()
            })
            .collect();
        let output = sqs
            .send_message_batch()
            .queue_url(queue_url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| StoreError::Unavailable(format!("sqs: {}", aws_sdk_sqs::error::DisplayErrorContext(&e))))?;
        if !output.failed.is_empty() {
            return Err(StoreError::Unavailable(format!(
                "sqs refused {} of {} messages",
                output.failed.len(),
                chunk.len()
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {

    #[test]
    fn an_emulator_on_loopback_gets_dummy_credentials_only_when_none_are_named() {
        let none = |_: &str| None;
        let keyed = |name: &str| (name == "AWS_ACCESS_KEY_ID").then(|| "AKIA".to_string());
        let profiled = |name: &str| (name == "AWS_PROFILE").then(|| "dev".to_string());
        for url in [
            "http://127.0.0.1:5000",
            "http://localhost:4566/",
            "http://[::1]:8000",
            "http://127.0.0.1",
        ] {
            assert!(emulator_without_credentials(url, &none), "{url}");
            assert!(!emulator_without_credentials(url, &keyed), "{url}");
            assert!(!emulator_without_credentials(url, &profiled), "{url}");
        }
        for url in [
            "https://dynamodb.eu-west-1.amazonaws.com",
            "http://10.0.0.5:4566",
            "http://localhost.example",
        ] {
            assert!(!emulator_without_credentials(url, &none), "{url}");
        }
    }

    use super::*;
    use aws_sdk_dynamodb::config::{Credentials, SharedCredentialsProvider};
    use base64::Engine;
    use std::io::{BufRead, BufReader};
    use std::process::{Child, Command, Stdio};

    /// Answers every HTTPS request on a loopback port with one DynamoDB-shaped error, so the client shows what
    /// came back over TLS. A refused handshake just ends that connection.
    const TLS_RESPONDER: &str = r#"
import socket, ssl, sys
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(sys.argv[1], sys.argv[2])
server = socket.socket()
server.bind(("127.0.0.1", 0))
server.listen(8)
print(server.getsockname()[1], flush=True)
body = b'{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"answered over TLS"}'
while True:
    connection, _ = server.accept()
    try:
        tls = context.wrap_socket(connection, server_side=True)
        request = b""
        while b"\r\n\r\n" not in request:
            chunk = tls.recv(4096)
            if not chunk:
                break
            request += chunk
        head = b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/x-amz-json-1.0\r\n"
        tls.sendall(head + b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        tls.close()
    except (ssl.SSLError, OSError):
        connection.close()
"#;

    /// A loopback HTTPS server with a fresh self-signed certificate for `localhost`.
    struct TlsServer {
        child: Child,
        url: String,
        certificate: Vec<u8>,
        dir: std::path::PathBuf,
    }

    impl TlsServer {
        fn start() -> Self {
            let dir = std::env::temp_dir().join(format!("esimhooks-tls-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
            let made = Command::new("openssl")
                .args([
                    "req",
                    "-x509",
                    "-newkey",
                    "ec",
                    "-pkeyopt",
                    "ec_paramgen_curve:prime256v1",
                    "-nodes",
                ])
                .args([
                    "-subj",
                    "/CN=localhost",
                    "-addext",
                    "subjectAltName=DNS:localhost",
                    "-days",
                    "1",
                ])
                .args(["-addext", "basicConstraints=critical,CA:FALSE"])
                .arg("-keyout")
                .arg(&key)
                .arg("-out")
                .arg(&cert)
                .stderr(Stdio::null())
                .status()
                .expect("openssl is installed");
            assert!(made.success());
            let mut child = Command::new("python3")
                .args(["-c", TLS_RESPONDER])
                .arg(&cert)
                .arg(&key)
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect("python3 is installed");
            let port = BufReader::new(child.stdout.take().unwrap())
                .lines()
                .next()
                .and_then(Result::ok)
                .expect("the responder says where it listens");
            Self {
                child,
                url: format!("https://localhost:{port}"),
                certificate: std::fs::read(&cert).unwrap(),
                dir,
            }
        }
    }

    impl Drop for TlsServer {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    async fn list_tables_through(trust: Trust, url: &str) -> String {
        let config = SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .http_client(https_client(&trust))
            .region(Region::from_static("us-east-1"))
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                "AKID", "secret", None, None, "test",
            )))
            .endpoint_url(url)
            // No retries and a bound on the call: a test that cannot connect fails at once, it never hangs.
            .retry_config(aws_config::retry::RetryConfig::disabled())
            .timeout_config(
                aws_config::timeout::TimeoutConfig::builder()
                    .operation_timeout(std::time::Duration::from_secs(10))
                    .build(),
            )
            .build();
        let outcome = aws_sdk_dynamodb::Client::new(&config).list_tables().send().await;
        aws_sdk_dynamodb::error::DisplayErrorContext(outcome.expect_err("the responder only answers with an error"))
            .to_string()
    }

    /// Real handshakes with the client every SDK client uses (HTTP/1.1, rustls on ring): a server whose certificate
    /// chains to none of the AWS roots is refused, and a client trusting that certificate gets its answer.
    #[tokio::test]
    async fn the_https_client_refuses_other_roots_and_completes_trusted_handshakes() {
        let server = TlsServer::start();
        let refused = list_tables_through(aws_endpoint_roots(), &server.url).await;
        assert!(
            refused.contains("UnknownIssuer") && !refused.contains("answered"),
            "{refused}"
        );
        let trusted = Trust::Pem(vec![server.certificate.clone()]);
        let answered = list_tables_through(trusted, &server.url).await;
        // The responder's error came back over TLS: the handshake completed and the client read the answer.
        assert!(!answered.contains("dispatch failure"), "{answered}");
        assert!(
            answered.contains("200") || answered.contains("service error"),
            "{answered}"
        );
    }

    /// Each embedded root is one whole PEM certificate of the issuer it claims (the TLS library only reads
    /// them at the first connection, so a damaged file would otherwise show only in AWS).
    #[test]
    fn embedded_roots_are_whole_certificates_of_their_issuers() {
        let issuers = [
            "Amazon Root CA 1",
            "Amazon Root CA 2",
            "Amazon Root CA 3",
            "Amazon Root CA 4",
            "Starfield Services Root Certificate Authority - G2",
        ];
        for (pem, issuer) in AWS_ENDPOINT_ROOTS.iter().zip(issuers) {
            let body: String = pem
                .lines()
                .skip_while(|l| *l != "-----BEGIN CERTIFICATE-----")
                .skip(1)
                .take_while(|l| *l != "-----END CERTIFICATE-----")
                .collect();
            assert_eq!(pem.matches("BEGIN CERTIFICATE").count(), 1, "{issuer}");
            let der = base64::engine::general_purpose::STANDARD.decode(body).expect("base64");
            // A DER SEQUENCE with a two-byte length that covers exactly the rest.
            assert_eq!(der[..2], [0x30, 0x82], "{issuer}");
            assert_eq!(
                usize::from(der[2]) << 8 | usize::from(der[3]),
                der.len() - 4,
                "{issuer}"
            );
            assert!(der.windows(issuer.len()).any(|w| w == issuer.as_bytes()), "{issuer}");
        }
    }
}
