//! Standard Webhooks signatures (standardwebhooks.com), so a partner verifies a callback with the ready library
//! of its language: `webhook-id`, `webhook-timestamp` (Unix seconds) and `webhook-signature: v1,<base64 of
//! HMAC-SHA256 over "id.timestamp.body">`, keyed by the bytes of a `whsec_<base64>` secret. During a rotation
//! both secrets sign: the header holds both signatures, space-separated, and either verifies.

use crate::auth::secret_eq;
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;

pub const SECRET_PREFIX: &str = "whsec_";
pub const ID_HEADER: &str = "webhook-id";
pub const TIMESTAMP_HEADER: &str = "webhook-timestamp";
pub const SIGNATURE_HEADER: &str = "webhook-signature";
/// How far a callback's timestamp may be from the receiver's clock (the specification's default).
pub const TOLERANCE: Duration = Duration::minutes(5);
/// Key sizes the specification allows.
const KEY_BYTES: std::ops::RangeInclusive<usize> = 24..=64;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// A partner's signing key. Its text form is shown once, when it is made; `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningSecret(Vec<u8>);

impl fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningSecret(<{} bytes>)", self.0.len())
    }
}

impl SigningSecret {
    /// A fresh secret of 32 random bytes, with its text form (`whsec_…`).
    pub fn generate() -> std::io::Result<(Self, String)> {
        use std::io::Read;
        let mut bytes = vec![0u8; 32];
        std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
        let text = format!("{SECRET_PREFIX}{}", B64.encode(&bytes));
        Ok((Self(bytes), text))
    }

    /// The text form (`whsec_` is optional, as the reference libraries accept); `None` unless it is base64 of
    /// 24 to 64 bytes.
    pub fn parse(text: &str) -> Option<Self> {
        let encoded = text.trim().strip_prefix(SECRET_PREFIX).unwrap_or(text.trim());
        let bytes = B64.decode(encoded).ok()?;
        KEY_BYTES.contains(&bytes.len()).then_some(Self(bytes))
    }

    /// The text form, for storing it (it is shown to the partner only when made).
    pub fn to_text(&self) -> String {
        format!("{SECRET_PREFIX}{}", B64.encode(&self.0))
    }

    fn mac(&self, id: &str, timestamp: i64, body: &[u8]) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac.finalize().into_bytes().into()
    }

    /// `v1,<base64>` for one message.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        format!("v1,{}", B64.encode(self.mac(id, timestamp, body)))
    }
}

/// The three headers of a signed callback, every live secret signing it.
pub fn signed_headers(
    secrets: &[SigningSecret],
    id: &str,
    at: DateTime<Utc>,
    body: &[u8],
) -> [(&'static str, String); 3] {
    let timestamp = at.timestamp();
    let signatures: Vec<String> = secrets.iter().map(|s| s.sign(id, timestamp, body)).collect();
    [
        (ID_HEADER, id.to_string()),
        (TIMESTAMP_HEADER, timestamp.to_string()),
        (SIGNATURE_HEADER, signatures.join(" ")),
    ]
}

/// Why a callback does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("the {0} header is missing")]
    MissingHeader(&'static str),
    #[error("webhook-timestamp is not Unix seconds")]
    BadTimestamp,
    #[error("webhook-timestamp is more than 5 minutes from now")]
    TimestampOutOfTolerance,
    #[error("no v1 signature matches")]
    NoMatch,
}

/// Verifies a callback as a partner's library would: the timestamp within [`TOLERANCE`] of `now`, and one of
/// the `v1` signatures in `signature` made by `secret` over exactly `body`.
pub fn verify(
    secret: &SigningSecret,
    id: Option<&str>,
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<(), VerifyError> {
    let id = id.ok_or(VerifyError::MissingHeader(ID_HEADER))?;
    let timestamp = timestamp.ok_or(VerifyError::MissingHeader(TIMESTAMP_HEADER))?;
    let presented = signature.ok_or(VerifyError::MissingHeader(SIGNATURE_HEADER))?;
    let seconds: i64 = timestamp.trim().parse().map_err(|_| VerifyError::BadTimestamp)?;
    let at = DateTime::from_timestamp(seconds, 0).ok_or(VerifyError::BadTimestamp)?;
    if (now - at).abs() > TOLERANCE {
        return Err(VerifyError::TimestampOutOfTolerance);
    }
    let expected = secret.mac(id, seconds, body);
    let matched = presented
        .split(' ')
        .filter_map(|part| part.strip_prefix("v1,"))
        .filter_map(|b64| B64.decode(b64).ok())
        .fold(false, |found, given| found | secret_eq(&given, &expected));
    matched.then_some(()).ok_or(VerifyError::NoMatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(seconds, 0).unwrap()
    }

    /// The specification's own example: this secret, id, timestamp and body give this signature.
    #[test]
    fn the_specifications_example_signs_as_published() {
        let secret = SigningSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            secret.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn both_secrets_sign_during_a_rotation_and_either_verifies() {
        let (old, _) = SigningSecret::generate().unwrap();
        let (new, text) = SigningSecret::generate().unwrap();
        assert!(text.starts_with("whsec_") && SigningSecret::parse(&text) == Some(new.clone()));
        let now = at(1_800_000_000);
        let headers = signed_headers(&[new.clone(), old.clone()], "ntf_1", now, b"{}");
        let signature = headers[2].1.as_str();
        assert_eq!(signature.split(' ').count(), 2);
        for secret in [&old, &new] {
            assert_eq!(
                verify(secret, Some("ntf_1"), Some(&headers[1].1), Some(signature), b"{}", now),
                Ok(())
            );
        }
        let (stranger, _) = SigningSecret::generate().unwrap();
        let check = |secret: &SigningSecret, body: &[u8], now| {
            verify(secret, Some("ntf_1"), Some(&headers[1].1), Some(signature), body, now)
        };
        assert_eq!(check(&stranger, b"{}", now), Err(VerifyError::NoMatch));
        assert_eq!(check(&new, b"{ }", now), Err(VerifyError::NoMatch), "a tampered body");
        assert_eq!(
            check(&new, b"{}", now + Duration::minutes(6)),
            Err(VerifyError::TimestampOutOfTolerance)
        );
        assert_eq!(
            verify(&new, None, Some("1"), Some(signature), b"{}", now),
            Err(VerifyError::MissingHeader(ID_HEADER))
        );
    }

    #[test]
    fn secrets_outside_the_allowed_sizes_are_refused() {
        assert!(SigningSecret::parse(&format!("whsec_{}", B64.encode([7u8; 23]))).is_none());
        assert!(SigningSecret::parse(&format!("whsec_{}", B64.encode([7u8; 65]))).is_none());
        assert!(SigningSecret::parse("whsec_not base64").is_none());
        let ok = SigningSecret::parse(&B64.encode([7u8; 24])).unwrap();
        assert_eq!(SigningSecret::parse(&ok.to_text()), Some(ok));
    }
}
