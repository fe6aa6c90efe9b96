//! AWS SDK wiring, done once per cold start. `AWS_ENDPOINT_URL` (read by the SDK itself) points every client
//! at an emulator or a local endpoint.

use crate::config::SecretSource;
use async_trait::async_trait;
use aws_config::meta::region::RegionProviderChain;
use aws_config::{BehaviorVersion, SdkConfig};

/// The SDK configuration from the environment; `us-east-1` when no region is set anywhere.
pub async fn sdk_config() -> SdkConfig {
    let region = RegionProviderChain::default_provider().or_else("us-east-1");
    aws_config::defaults(BehaviorVersion::latest())
        .region(region)
        .load()
        .await
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
