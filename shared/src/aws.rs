//! AWS SDK wiring, done once per cold start. `AWS_ENDPOINT_URL` (read by the SDK itself) points every client
//! at an emulator or a local endpoint.

use crate::config::SecretSource;
use async_trait::async_trait;
use aws_config::meta::region::RegionProviderChain;
use aws_config::{BehaviorVersion, SdkConfig};

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
pub async fn sdk_config() -> SdkConfig {
    let region = RegionProviderChain::default_provider().or_else("us-east-1");
    let loader = aws_config::defaults(BehaviorVersion::latest()).region(region);
    let custom_endpoint = std::env::var_os("AWS_ENDPOINT_URL").is_some_and(|url| !url.is_empty());
    match custom_endpoint {
        true => loader.load().await,
        false => loader.http_client(aws_endpoints_https_client()).load().await,
    }
}

/// The SDK's default HTTPS client (rustls with aws-lc, proxy settings from the environment), trusting only
/// [`AWS_ENDPOINT_ROOTS`].
fn aws_endpoints_https_client() -> aws_sdk_dynamodb::config::SharedHttpClient {
    use aws_smithy_http_client::proxy::ProxyConfig;
    use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode, TlsContext, TrustStore};
    use aws_smithy_http_client::{Builder, ConnectorBuilder};
    let trust = AWS_ENDPOINT_ROOTS
        .iter()
        .fold(TrustStore::empty().with_native_roots(false), |store, pem| {
            store.with_pem_certificate(pem.as_bytes())
        });
    let context = TlsContext::builder()
        .with_trust_store(trust)
        .build()
        .expect("a trust store of PEM roots always builds");
    Builder::new().build_with_connector_fn(move |settings, components| {
        let mut connector = ConnectorBuilder::default()
            .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
            .tls_context(context.clone());
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.set_proxy_config(Some(ProxyConfig::from_env()));
        connector.build()
    })
}

/// The same, with every client sent to `endpoint` (tests, local emulators).
pub async fn sdk_config_at(endpoint: &str) -> SdkConfig {
    let region = RegionProviderChain::default_provider().or_else("us-east-1");
    aws_config::defaults(BehaviorVersion::latest())
        .region(region)
        .endpoint_url(endpoint)
        .load()
        .await
}

/// Secrets from SSM Parameter Store (SecureString parameters are decrypted).
pub struct SsmSecrets(pub aws_sdk_ssm::Client);

#[async_trait]
impl SecretSource for SsmSecrets {
    async fn parameter(&self, name: &str) -> Result<String, String> {
        let output = self
            .0
            .get_parameter()
            .name(name)
            .with_decryption(true)
            .send()
            .await
            .map_err(|e| aws_sdk_ssm::error::DisplayErrorContext(&e).to_string())?;
        output
            .parameter
            .and_then(|p| p.value)
            .ok_or_else(|| format!("parameter {name} has no value"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

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
