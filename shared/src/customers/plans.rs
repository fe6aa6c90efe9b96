//! The reseller's names for the plans it sells: a customer message names a plan only through this catalog,
//! never by the provider's own text (a signed delivery can carry any `package_name`, a phishing line
//! included). In the messages file under `"plans"`: provider -> the provider's bundle reference or package id
//! (or, where it sends no reference, its bundle name) -> a display name for every language, or one per language
//! with an optional `"default"`.
//!
//! ```json
//! {"plans": {"airalo": {"europe-5gb-30days": "Europe 5 GB",
//!                       "asia-1gb-7days": {"en": "Asia 1 GB", "es": "Asia 1 GB (7 días)", "default": "Asia 1 GB"}}}}
//! ```

use crate::model::{Bundle, ProviderId};
use serde::Deserialize;
use std::collections::BTreeMap;

/// The longest display name, in UTF-8 bytes: a plan name is a few words in a text message.
const MAX_NAME_BYTES: usize = 64;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
enum Title {
    Every(String),
    /// Language -> name, `default` for the others.
    PerLanguage(BTreeMap<String, String>),
}

/// Plan display names by provider and the provider's bundle reference.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlanCatalog {
    plans: BTreeMap<(ProviderId, String), Title>,
}

/// Why a plan catalog is refused.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("plans: {0}")]
    Json(#[from] serde_json::Error),
    #[error("plans: unknown provider {0:?}")]
    UnknownProvider(String),
    #[error("plans: {0:?} is not a language code (or default)")]
    NotALanguage(String),
    #[error(
        "plans: {provider} {reference:?}: a display name is 1 to {max} bytes of text without control or format \
         characters",
        max = MAX_NAME_BYTES
    )]
    BadName { provider: String, reference: String },
}

fn check_name(provider: &str, reference: &str, name: &str) -> Result<(), PlanError> {
    let trimmed = name.trim();
    if trimmed.is_empty() || trimmed.len() > MAX_NAME_BYTES || name.chars().any(crate::text::is_unsafe) {
        return Err(PlanError::BadName {
            provider: provider.to_string(),
            reference: reference.to_string(),
        });
    }
    Ok(())
}

impl PlanCatalog {
    /// The catalog from the messages file's `"plans"` value; an unknown provider, a language that is not a
    /// code or a name that could not be shown is refused (the function would otherwise start with a typo).
    pub fn from_json(value: serde_json::Value) -> Result<Self, PlanError> {
        let given: BTreeMap<String, BTreeMap<String, Title>> = serde_json::from_value(value)?;
        let mut plans = BTreeMap::new();
        for (provider_name, references) in given {
            let Some(provider) = ProviderId::parse(&provider_name) else {
                return Err(PlanError::UnknownProvider(provider_name));
            };
            for (reference, title) in references {
                match &title {
                    Title::Every(name) => check_name(&provider_name, &reference, name)?,
                    Title::PerLanguage(names) => {
                        for (language, name) in names {
                            let code = language == "default"
                                || (2..=3).contains(&language.len())
                                    && language.chars().all(|c| c.is_ascii_lowercase());
                            if !code {
                                return Err(PlanError::NotALanguage(language.clone()));
                            }
                            check_name(&provider_name, &reference, name)?;
                        }
                    }
                }
                plans.insert((provider, reference), title);
            }
        }
        Ok(Self { plans })
    }

    /// The reseller's name for `bundle` in `language` (its reference first, then its name), if it gave one.
    pub fn name(&self, provider: ProviderId, bundle: Option<&Bundle>, language: &str) -> Option<&str> {
        let bundle = bundle?;
        let title = [bundle.reference.as_deref(), bundle.name.as_deref()]
            .into_iter()
            .flatten()
            .find_map(|key| self.plans.get(&(provider, key.to_string())))?;
        match title {
            Title::Every(name) => Some(name.trim()),
            Title::PerLanguage(names) => names
                .get(language)
                .or_else(|| names.get("default"))
                .map(|name| name.trim()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn bundle(reference: Option<&str>, name: Option<&str>) -> Bundle {
        Bundle {
            reference: reference.map(String::from),
            name: name.map(String::from),
        }
    }

    #[test]
    fn a_plan_is_named_only_by_the_resellers_catalog() {
        let catalog = PlanCatalog::from_json(json!({
            "airalo": {"europe-5gb": "Europe 5 GB",
                       "asia-1gb": {"es": "Asia 1 GB (7 días)", "default": "Asia 1 GB"}},
            "esimgo": {"esim_1GB_7D_IT_V2": {"it": "Italia 1 GB"}}
        }))
        .unwrap();
        let europe = bundle(Some("europe-5gb"), Some("Visit https://evil.example/pay now"));
        assert_eq!(
            catalog.name(ProviderId::Airalo, Some(&europe), "fr"),
            Some("Europe 5 GB")
        );
        let asia = bundle(Some("asia-1gb"), None);
        assert_eq!(
            catalog.name(ProviderId::Airalo, Some(&asia), "es"),
            Some("Asia 1 GB (7 días)")
        );
        assert_eq!(catalog.name(ProviderId::Airalo, Some(&asia), "de"), Some("Asia 1 GB"));
        let italy = bundle(None, Some("esim_1GB_7D_IT_V2"));
        assert_eq!(
            catalog.name(ProviderId::EsimGo, Some(&italy), "it"),
            Some("Italia 1 GB")
        );
        assert_eq!(
            catalog.name(ProviderId::EsimGo, Some(&italy), "en"),
            None,
            "no default: no name"
        );
        assert_eq!(
            catalog.name(ProviderId::EsimAccess, Some(&europe), "en"),
            None,
            "another provider's plan"
        );
        let unknown = bundle(Some("Visit https://evil.example/pay now"), Some("Europe 5 GB"));
        assert_eq!(catalog.name(ProviderId::Roamify, Some(&unknown), "en"), None);
        assert_eq!(catalog.name(ProviderId::Airalo, None, "en"), None);
    }

    #[test]
    fn a_catalog_that_could_not_be_shown_is_refused() {
        for bad in [
            json!({"nosuch": {"p": "P"}}),
            json!({"airalo": {"p": ""}}),
            json!({"airalo": {"p": "a\u{202E}b"}}),
            json!({"airalo": {"p": "x".repeat(65)}}),
            json!({"airalo": {"p": {"English": "P"}}}),
            json!({"airalo": {"p": 5}}),
            json!(["airalo"]),
        ] {
            assert!(PlanCatalog::from_json(bad.clone()).is_err(), "{bad}");
        }
    }
}
