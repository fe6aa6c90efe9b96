//! What a provider is. Each provider lives in its own module, which declares everything about it in a
//! [`ProviderSpec`] (`SPEC`): names, configuration, authentication, normalization, signing for simulation,
//! event types, samples and scenario. Everything else (configuration, the router, `serve`, `send`, `verify`,
//! `replay`, the simulator, benchmarks, fuzzing) reads the list of ids (`model/provider_id.rs`); adding a
//! provider is its module, its line there and its arm in [`ProviderId::spec`].

pub use super::ProviderId;
use super::{NormalizeError, Provider};
use crate::auth::{KeyRing, Verified};
use crate::config::{provider_secrets, secret_list, ConfigError, Env, SecretSource};
use crate::model::{DataUnits, Event};
use crate::simulate::SampleParams;
pub use crate::simulate::Signature;
use serde_json::Value;
use std::sync::Arc;

/// What a provider's configuration gives its constructor.
pub struct ProviderConfig<'a> {
    /// `<PREFIX>_SECRETS` (or the SSM parameter `<PREFIX>_SECRETS_PARAM` names): tokens, keys or passwords,
    /// current first.
    pub secrets: KeyRing,
    /// The optional lists the spec names in `extra_secrets`, in that order (`None`: not configured).
    pub extra_secrets: Vec<Option<KeyRing>>,
    /// The process environment, for settings of the provider's own (`ESIMACCESS_ALLOWED_IPS`).
    pub env: Env<'a>,
    /// Which network-level checks (sender IP allow-lists) apply.
    pub source_checks: SourceChecks,
}

/// Which sender checks a provider applies besides its secrets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceChecks {
    /// Deployed: the provider's published sender list applies unless the operator turns it off.
    Deployed,
    /// A local server: only a list the operator sets (local senders are not the provider's servers).
    OptIn,
    /// None: verifying a saved request, simulating.
    Off,
}

impl ProviderConfig<'_> {
    /// A configuration with `secrets` only, for local verification and simulation.
    pub fn local(secrets: KeyRing) -> ProviderConfig<'static> {
        ProviderConfig {
            secrets,
            extra_secrets: Vec::new(),
            env: &|_| None,
            source_checks: SourceChecks::Off,
        }
    }

    /// The extra secret list at `index` of the spec's `extra_secrets`.
    pub fn extra(&self, index: usize) -> Option<KeyRing> {
        self.extra_secrets.get(index).cloned().flatten()
    }
}

/// Everything about one provider.
pub struct ProviderSpec {
    pub id: ProviderId,
    /// As people write it: `eSIM Go`.
    pub title: &'static str,
    /// Optional secret lists besides `<PREFIX>_SECRETS`, by variable name (`ESIMGO_V2_TOKENS`): each read from
    /// `<NAME>_PARAM` (SSM) or `<NAME>`.
    pub extra_secrets: &'static [&'static str],
    /// Builds the provider that authenticates deliveries.
    pub build: fn(&ProviderConfig<'_>) -> Result<Arc<dyn Provider>, ConfigError>,
    /// Maps an authenticated delivery to the common model; needs no secret (replay uses it as is).
    pub normalize: fn(Verified<'_>) -> Result<Event, NormalizeError>,
    /// How a sender holding `secret` authenticates `body` (simulation, `send`, `verify`).
    pub sign: fn(body: &[u8], secret: &str) -> Signature,
    /// The event types `sample` builds; the first is `send`'s default.
    pub event_types: &'static [&'static str],
    /// The event types that take an eSIM from order to expiry, in order, with the data left (percent).
    pub scenario: &'static [(&'static str, u8)],
    /// A realistic body of one event type, or `None` for a type the provider does not have.
    pub sample: fn(event_type: &str, params: &SampleParams) -> Option<Value>,
    /// The field by which the provider echoes the reseller's own order reference back, if it does.
    pub order_ref_field: Option<&'static str>,
    /// How the provider counts data: a 1 GB plan in bytes.
    pub data_units: DataUnits,
    /// The body field that names the event type, where there is one (tests probe it).
    pub type_field: Option<&'static str>,
    /// How its API is asked for an eSIM's usage and validity (`esimhooks reconcile`), where it is.
    pub usage_api: Option<&'static crate::reconcile::UsageApi>,
}

/// Builds a provider from its configuration: its secrets (`<PREFIX>_SECRETS_PARAM` or `<PREFIX>_SECRETS`),
/// the optional lists its spec names, and its own settings.
pub async fn provider_from_env(
    provider: ProviderId,
    env: Env<'_>,
    secrets: &dyn SecretSource,
    source_checks: SourceChecks,
) -> Result<Arc<dyn Provider>, ConfigError> {
    let spec = provider.spec();
    let mut extra_secrets = Vec::new();
    for name in spec.extra_secrets {
        extra_secrets.push(secret_list(name, env, secrets).await?);
    }
    let config = ProviderConfig {
        secrets: provider_secrets(provider, env, secrets).await?,
        extra_secrets,
        env,
        source_checks,
    };
    (spec.build)(&config)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A provider module that declares a `SPEC` is in the list, and each spec is its own.
    #[test]
    fn every_provider_module_is_in_the_list() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/providers");
        let mut modules: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| {
                let declares = |text: String| {
                    text.lines()
                        .any(|l| l == "pub static SPEC: ProviderSpec = ProviderSpec {")
                };
                std::fs::read_to_string(path).is_ok_and(declares)
            })
            .map(|path| path.file_stem().unwrap().to_string_lossy().into_owned())
            .collect();
        modules.sort();
        let mut listed: Vec<String> = ProviderId::ALL.iter().map(|p| p.as_str().to_string()).collect();
        listed.sort();
        assert_eq!(
            modules, listed,
            "a provider module missing from the list of ids (or named differently)"
        );
        for &id in ProviderId::ALL {
            let spec = id.spec();
            assert_eq!(spec.id, id, "{id}'s module declares another provider's spec");
            assert_eq!(ProviderId::parse(id.as_str()), Some(id));
            assert!(!spec.event_types.is_empty() && !spec.scenario.is_empty(), "{id}");
            let json = serde_json::to_string(&id).unwrap();
            assert_eq!(json, format!("\"{id}\""));
        }
        assert!(ProviderId::names().ends_with(&format!(" or {}", ProviderId::ALL.last().unwrap())));
    }

    /// Each provider has its Lambda binary, named after it, and each binary names a provider.
    #[test]
    fn every_provider_has_its_lambda_binary() {
        let bins = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../functions/webhooks/src/bin");
        let mut names: Vec<String> = std::fs::read_dir(&bins)
            .unwrap()
            .map(|entry| {
                entry
                    .unwrap()
                    .path()
                    .file_stem()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        names.sort();
        let mut listed: Vec<String> = ProviderId::ALL.iter().map(|p| p.as_str().to_string()).collect();
        listed.sort();
        assert_eq!(
            names, listed,
            "functions/webhooks/src/bin/<provider>.rs, one per provider"
        );
    }
}
