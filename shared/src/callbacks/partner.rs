//! Partners and their API keys. A key is 32 random bytes shown once at creation; only its SHA-256 is kept.
//! A plain hash is enough here (unlike passwords): the key has 256 bits of entropy, so there is nothing to
//! guess, and a lookup costs one hash instead of a deliberately slow one. Two keys may be live at once, so a
//! partner can rotate without downtime.

use super::signing::SigningSecret;
use crate::auth::secret_eq;
use crate::config::ConfigError;
pub use crate::model::partner::{PartnerId, Scope};
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub const MAX_KEYS: usize = 2;
const KEY_PREFIX: &str = "ehk_";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Partner {
    pub id: PartnerId,
    pub name: String,
    /// SHA-256 (hex) of each live API key, newest first.
    pub key_hashes: Vec<String>,
    pub created_at: DateTime<Utc>,
    /// The keys its callbacks are signed with (Standard Webhooks), newest first; a replaced one signs too until
    /// it retires.
    #[serde(default)]
    pub signing_keys: Vec<SigningKey>,
    /// Who hears that an endpoint was disabled (optional; a business contact, still never logged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_email: Option<String>,
    /// Which eSIMs it hears of; one stored before scopes heard of all and still does.
    #[serde(default = "crate::compat::partners::scope_before_scopes")]
    pub scope: Scope,
}

/// A partner's callback signing secret and how long it signs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SigningKey {
    #[serde(with = "secret_text")]
    pub secret: SigningSecret,
    pub created_at: DateTime<Utc>,
    /// When a rotation replaced it, the end of the overlap in which it still signs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retires_at: Option<DateTime<Utc>>,
}

/// A signing secret stored as its `whsec_` text.
mod secret_text {
    use super::SigningSecret;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(secret: &SigningSecret, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&secret.to_text())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<SigningSecret, D::Error> {
        let text = String::deserialize(deserializer)?;
        SigningSecret::parse(&text).ok_or_else(|| serde::de::Error::custom("not a whsec_ signing secret"))
    }
}

/// How long a replaced signing secret keeps signing, by default.
pub const SIGNING_OVERLAP: chrono::Duration = chrono::Duration::hours(24);

/// The signing overlap `ESIMHOOKS_SIGNING_OVERLAP_HOURS` sets (whole hours, 0 or more), else the default.
pub fn signing_overlap(env: crate::config::Env<'_>) -> Result<chrono::Duration, ConfigError> {
    const NAME: &str = "ESIMHOOKS_SIGNING_OVERLAP_HOURS";
    match env(NAME).map(|h| h.trim().parse::<i64>()) {
        None => Ok(SIGNING_OVERLAP),
        Some(Ok(hours)) if hours >= 0 => Ok(chrono::Duration::hours(hours)),
        Some(_) => Err(ConfigError::NotA {
            name: NAME.into(),
            expected: "a number of hours",
        }),
    }
}

impl Partner {
    /// True when `key` is one of the partner's live keys. Every stored hash is compared, in constant time.
    pub fn accepts(&self, key: &str) -> bool {
        key_matches(Some(self), key)
    }

    /// Whether it hears of a notification about an eSIM owned by `owner` (none: unowned, or no eSIM).
    pub fn sees(&self, owner: Option<&PartnerId>) -> bool {
        self.scope.sees(&self.id, owner)
    }

    /// Makes `secret` the newest signing key at `now`; the ones it replaces keep signing for `overlap`, and
    /// keys whose overlap has ended are dropped.
    pub fn rotate_signing_key(&mut self, secret: SigningSecret, now: DateTime<Utc>, overlap: chrono::Duration) {
        self.signing_keys.retain(|k| k.retires_at.is_none_or(|at| at > now));
        for key in &mut self.signing_keys {
            let until = now + overlap;
            key.retires_at = Some(key.retires_at.map_or(until, |at| at.min(until)));
        }
        self.signing_keys.insert(
            0,
            SigningKey {
                secret,
                created_at: now,
                retires_at: None,
            },
        );
    }

    /// The secrets that sign a callback sent at `now`, newest first.
    pub fn signing_secrets(&self, now: DateTime<Utc>) -> Vec<SigningSecret> {
        self.signing_keys
            .iter()
            .filter(|k| k.retires_at.is_none_or(|at| at > now))
            .map(|k| k.secret.clone())
            .collect()
    }

    /// Adds a key's hash as the newest, dropping the oldest beyond [`MAX_KEYS`].
    pub fn add_key(&mut self, key: &str) {
        self.key_hashes.insert(0, hash_key(key));
        self.key_hashes.truncate(MAX_KEYS);
    }
}

/// Whether `key` is a live key of `partner`, at the same cost whether the partner exists or not: the key is
/// hashed either way and compared with [`MAX_KEYS`] stored hashes (a stand-in's for an unknown partner, or
/// for a free slot), so how long a refusal takes tells nobody which partners exist.
pub fn key_matches(partner: Option<&Partner>, key: &str) -> bool {
    const STAND_IN: &str = "0000000000000000000000000000000000000000000000000000000000000000";
    let given = hash_key(key);
    let stored = partner.map_or(&[][..], |p| p.key_hashes.as_slice());
    let mut found = false;
    for slot in 0..MAX_KEYS {
        let (hash, real) = match stored.get(slot) {
            Some(hash) => (hash.as_str(), true),
            None => (STAND_IN, false),
        };
        found |= secret_eq(given.as_bytes(), hash.as_bytes()) & real;
    }
    found
}

pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// A fresh API key from the operating system's random source.
pub fn generate_key() -> std::io::Result<String> {
    use std::io::Read;
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(format!(
        "{KEY_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rotated_signing_key_signs_with_the_new_one_until_the_overlap_ends() {
        let t0 = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let mut partner = Partner {
            id: PartnerId::parse("acme").unwrap(),
            name: "Acme".into(),
            key_hashes: Vec::new(),
            created_at: t0,
            signing_keys: Vec::new(),
            contact_email: None,
            scope: Scope::Own,
        };
        let (first, _) = SigningSecret::generate().unwrap();
        let (second, _) = SigningSecret::generate().unwrap();
        partner.rotate_signing_key(first.clone(), t0, SIGNING_OVERLAP);
        assert_eq!(partner.signing_secrets(t0), std::slice::from_ref(&first));
        let t1 = t0 + chrono::Duration::hours(1);
        partner.rotate_signing_key(second.clone(), t1, SIGNING_OVERLAP);
        assert_eq!(partner.signing_secrets(t1), [second.clone(), first.clone()]);
        assert_eq!(
            partner.signing_secrets(t1 + chrono::Duration::hours(25)),
            std::slice::from_ref(&second),
            "the overlap ended"
        );
        let stored = serde_json::to_string(&partner).unwrap();
        assert!(stored.contains("whsec_"));
        assert_eq!(serde_json::from_str::<Partner>(&stored).unwrap(), partner);
        assert!(!format!("{partner:?}").contains("whsec_"), "Debug never shows a secret");
    }

    #[test]
    fn partner_ids_are_checked() {
        for good in ["acme", "acme-travel", "p01", &"a".repeat(64)] {
            assert!(PartnerId::parse(good).is_some(), "{good}");
        }
        for bad in [
            "",
            "ab",
            "-acme",
            "Acme",
            "acme_travel",
            "acme/x",
            "all",
            "v1",
            &"a".repeat(65),
            "ac me",
        ] {
            assert!(PartnerId::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn keys_are_random_hashed_and_rotated() {
        let first = generate_key().unwrap();
        let second = generate_key().unwrap();
        let third = generate_key().unwrap();
        assert_ne!(first, second);
        assert!(first.starts_with(KEY_PREFIX) && first.len() == KEY_PREFIX.len() + 43);
        let mut partner = Partner {
            id: PartnerId::parse("acme").unwrap(),
            name: "Acme".into(),
            key_hashes: vec![],
            created_at: Utc::now(),
            signing_keys: Vec::new(),
            contact_email: None,
            scope: Scope::Own,
        };
        partner.add_key(&first);
        assert!(partner.accepts(&first) && !partner.accepts(&second));
        assert!(!partner.key_hashes.iter().any(|h| h.contains(&first)));
        partner.add_key(&second);
        assert!(partner.accepts(&first) && partner.accepts(&second));
        partner.add_key(&third);
        assert!(!partner.accepts(&first), "the oldest key is dropped beyond two");
        assert!(partner.accepts(&second) && partner.accepts(&third));
        assert!(!partner.accepts(""));
    }
}
