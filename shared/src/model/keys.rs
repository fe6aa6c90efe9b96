//! What identifies a delivery and its bytes: the dedupe key and where it comes from, the body's sha256, the
//! whitespace around its JSON value, and the hashed reference logs name identifiers by.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The provider's event id when it sends one, else `sha256:<hex of the raw body>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DedupeKey(String);

impl DedupeKey {
    pub fn provider_id(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    pub fn body_hash(payload_sha256: &str) -> Self {
        Self(["sha256:", payload_sha256].concat())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The hex sha256 of a delivery's raw body: tells a true duplicate from a reused id. Sixty-four lower-case hex
/// digits held inline, so hashing a delivery allocates nothing; it reads as a `&str`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PayloadSha256([u8; 64]);

impl PayloadSha256 {
    /// All zeros: for sample and echo events, which no delivery carried.
    pub const ZERO: Self = Self([b'0'; 64]);

    pub fn of(body: &[u8]) -> Self {
        use sha2::{Digest, Sha256};
        let mut hex = [0u8; 64];
        // Cannot fail: the buffer is exactly twice the digest's length.
        let _ = hex::encode_to_slice(Sha256::digest(body), &mut hex);
        Self(hex)
    }

    /// Sixty-four lower-case hex digits, as `of` writes them; anything else is not one.
    pub fn parse(text: &str) -> Option<Self> {
        let digits: [u8; 64] = text.as_bytes().try_into().ok()?;
        digits
            .iter()
            .all(|d| matches!(d, b'0'..=b'9' | b'a'..=b'f'))
            .then_some(Self(digits))
    }

    pub fn as_str(&self) -> &str {
        // Only `of` and `parse` make one, both of ASCII hex digits: never the empty fallback.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl std::ops::Deref for PayloadSha256 {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Display for PayloadSha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for PayloadSha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PayloadSha256({})", self.as_str())
    }
}

impl Serialize for PayloadSha256 {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for PayloadSha256 {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).ok_or_else(|| serde::de::Error::custom("payload_sha256 is not 64 lower-case hex digits"))
    }
}

/// A short, stable reference to an identifier that may name a customer's eSIM (an ICCID inside a derived key
/// or an alert id), for info-level logs: `ref:<first 12 hex of its sha256>`.
pub fn log_ref(identifier: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(identifier.as_bytes());
    format!("ref:{}", hex::encode(&digest[..6]))
}

impl fmt::Display for DedupeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a dedupe key comes from, which decides what a second delivery with the same key but other bytes is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DedupeBasis {
    /// The provider's own event id: other bytes under it are a conflict, kept aside and not applied.
    ProviderId,
    /// Built from the fields that identify the notification (Airalo low data: iccid, package, level): other
    /// bytes under it are the same notification again, a duplicate.
    Derived,
    /// The sha256 of the body: other bytes are another key.
    BodyHash,
    /// The sha256 of the body's canonical form (Airalo, whose signature may cover its SDK's re-encoding, so
    /// every whitespace or escape variant of a signed body verifies): other bytes of the same canonical form
    /// are the same delivery again, a duplicate.
    CanonicalBody,
}

/// The whitespace before and after a body's JSON value (JSON's four: space, tab, LF, CR).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RawPadding {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub before: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub after: String,
}

impl RawPadding {
    /// Splits a JSON text into its padding and the value between.
    pub fn split(text: &str) -> (Self, &str) {
        let is_space_byte = |b: Option<&u8>| matches!(b, Some(b' ' | b'\t' | b'\n' | b'\r'));
        let bytes = text.as_bytes();
        if !is_space_byte(bytes.first()) && !is_space_byte(bytes.last()) {
            return (Self::default(), text);
        }
        let is_space = |c: char| matches!(c, ' ' | '\t' | '\n' | '\r');
        let value = text.trim_matches(is_space);
        let start = text.len() - text.trim_start_matches(is_space).len();
        let padding = Self {
            before: text[..start].to_owned(),
            after: text[start + value.len()..].to_owned(),
        };
        (padding, value)
    }

    pub fn is_empty(&self) -> bool {
        self.before.is_empty() && self.after.is_empty()
    }
}
