//! Authentication primitives shared by every provider: secrets that never print, a key ring for rotation,
//! one constant-time comparison, and [`Verified`], the only way a delivery reaches a normalizer.

use crate::ingress::Delivery;
use crate::model::ProviderId;
use hmac::digest::KeyInit;
use hmac::Mac;
use lambda_http::http::HeaderName;
use sha2::{Digest, Sha256};
use std::fmt;
use subtle::{Choice, ConstantTimeEq};

/// A secret value (URL token, HMAC key). Its `Debug` never shows the value, so it cannot leak into logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret(<{} bytes>)", self.0.len())
    }
}

/// One or more secrets accepted at once, so a provider's secret can be rotated without dropping deliveries.
/// Never empty: an empty ring would accept nothing, which is a configuration error caught at cold start.
/// Each secret's sha256 is computed once here, so checking a presented token hashes only the token.
#[derive(Clone)]
pub struct KeyRing {
    secrets: Vec<Secret>,
    digests: Vec<[u8; 32]>,
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRing").field("secrets", &self.secrets).finish()
    }
}

impl KeyRing {
    /// Builds a ring from a list of secrets, dropping blanks. `None` when nothing is left.
    pub fn new(secrets: impl IntoIterator<Item = Secret>) -> Option<Self> {
        let secrets: Vec<Secret> = secrets.into_iter().filter(|s| !s.0.trim().is_empty()).collect();
        let digests = secrets
            .iter()
            .map(|s| Sha256::digest(s.expose().as_bytes()).into())
            .collect();
        (!secrets.is_empty()).then_some(Self { secrets, digests })
    }

    /// Parses the configuration form: secrets separated by commas or newlines, current first.
    pub fn parse(list: &str) -> Option<Self> {
        Self::new(
            list.split([',', '\n'])
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(Secret::new),
        )
    }

    /// Splits the ring into HTTP Basic credentials (entries with a `:`, `user:password`) and URL tokens (the
    /// rest), either `None` when it has none.
    pub fn split_credentials(&self) -> (Option<KeyRing>, Option<KeyRing>) {
        let (basic, tokens): (Vec<Secret>, Vec<Secret>) =
            self.secrets.iter().cloned().partition(|s| s.expose().contains(':'));
        (Self::new(basic), Self::new(tokens))
    }

    pub fn len(&self) -> usize {
        self.secrets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    /// Whether `given` equals any secret in the ring, in constant time for each.
    pub fn contains(&self, given: &[u8]) -> bool {
        let given: [u8; 32] = Sha256::digest(given).into();
        // Every secret is compared (no early exit), so timing does not tell which slot matched.
        self.digests
            .iter()
            .fold(false, |found, digest| ct_eq(&given, digest) | found)
    }
}

/// The HMAC state of every secret in a ring, keyed once at cold start: verifying a delivery then costs only
/// the message blocks, not re-deriving the inner and outer key pads per secret and per request.
#[derive(Clone)]
pub struct MacRing<M> {
    keyed: Vec<M>,
}

impl<M> fmt::Debug for MacRing<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MacRing(<{} keys>)", self.keyed.len())
    }
}

impl<M: Mac + KeyInit + Clone> MacRing<M> {
    pub fn new(ring: &KeyRing) -> Self {
        let keyed = ring
            .secrets
            .iter()
            .filter_map(|s| <M as KeyInit>::new_from_slice(s.expose().as_bytes()).ok())
            .collect();
        Self { keyed }
    }

    /// Whether `tag` is the MAC of `message` under any key, each compared in constant time. Stops at the first
    /// match: which slot a genuine signature matched tells its sender nothing it did not know, and a forgery is
    /// checked against every key all the same.
    pub fn matches(&self, message: &[u8], tag: &[u8]) -> bool {
        self.any_key(|key| key.signed(message, tag))
    }

    /// Whether `check` holds for any key, trying them in order: for a provider whose signature may cover one
    /// of several messages, each key tries them all before the next key, so a delivery under the current key
    /// never pays for the rotated one.
    pub fn any_key(&self, check: impl FnMut(MacKey<'_, M>) -> bool) -> bool {
        self.keyed.iter().map(MacKey).any(check)
    }
}

/// One keyed MAC state of a [`MacRing`].
#[derive(Clone, Copy)]
pub struct MacKey<'a, M>(&'a M);

impl<M: Mac + Clone> MacKey<'_, M> {
    /// Whether `tag` is this key's MAC of `message`, compared in constant time.
    pub fn signed(&self, message: &[u8], tag: &[u8]) -> bool {
        let mut mac = self.0.clone();
        mac.update(message);
        ct_eq(&mac.finalize().into_bytes(), tag)
    }
}

/// A MAC decoded from a signature header, held on the stack: at most 64 bytes (HMAC-SHA512).
#[derive(Clone, Copy)]
pub struct MacTag {
    bytes: [u8; 64],
    len: usize,
}

impl std::ops::Deref for MacTag {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

impl fmt::Debug for MacTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MacTag(<{} bytes>)", self.len)
    }
}

/// Decodes a MAC header that may be hex or standard base64 (with or without padding), into exactly `len`
/// (at most 64) bytes. The header is decoded once; MACs are then compared as bytes.
pub fn decode_mac_header(value: &str, len: usize) -> Option<MacTag> {
    use base64::Engine;
    let value = value.trim().as_bytes();
    let mut tag = MacTag { bytes: [0; 64], len };
    if len > tag.bytes.len() {
        return None;
    }
    if value.len() == len * 2 && decode_hex(value, &mut tag.bytes[..len]) {
        return Some(tag);
    }
    // Base64 of `len` bytes is at most 4 * ceil(len / 3) characters; anything longer is refused unread.
    if value.len() > len.div_ceil(3) * 4 {
        return None;
    }
    let mut decoded = [0u8; 66];
    let engines = [
        &base64::engine::general_purpose::STANDARD,
        &base64::engine::general_purpose::STANDARD_NO_PAD,
    ];
    let written = engines
        .iter()
        .find_map(|engine| engine.decode_slice(value, &mut decoded).ok())
        .filter(|written| *written == len)?;
    tag.bytes[..len].copy_from_slice(&decoded[..written]);
    Some(tag)
}

/// The value of each hex digit (either case); 0xFF for every other byte.
const HEX_VALUES: [u8; 256] = {
    let mut table = [0xFF; 256];
    let mut i = 0;
    while i < 10 {
        table[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        table[b'a' as usize + i] = 10 + i as u8;
        table[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    table
};

/// Decodes `2 * out.len()` hex digits into `out`: a table lookup per digit and one validity check at the end
/// (the `hex` crate branches on every digit, a measurable share of verifying a small delivery).
fn decode_hex(digits: &[u8], out: &mut [u8]) -> bool {
    if digits.len() != out.len() * 2 {
        return false;
    }
    let mut invalid = 0u8;
    for (byte, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        let (high, low) = (HEX_VALUES[pair[0] as usize], HEX_VALUES[pair[1] as usize]);
        // A valid digit is at most 0x0F: any high bit set marks a byte that is not one.
        invalid |= (high | low) & 0xF0;
        *byte = high << 4 | low;
    }
    invalid == 0
}

/// The MAC a signature header carries, decoded to `len` bytes: `None` when the header is absent, an error when
/// it is present but not hex or base64 of that length.
pub fn signature_tag(
    delivery: &Delivery,
    header: &'static HeaderName,
    len: usize,
) -> Result<Option<MacTag>, AuthFailure> {
    let Some(value) = delivery.headers.get(header) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| AuthFailure::MalformedSignature(header.as_str()))?;
    decode_mac_header(value, len)
        .map(Some)
        .ok_or(AuthFailure::MalformedSignature(header.as_str()))
}

/// The one comparison for secrets. Both sides are hashed first so that neither content nor length leaks
/// through timing; the digests are then compared in constant time.
pub fn secret_eq(given: &[u8], expected: &[u8]) -> bool {
    let a = Sha256::digest(given);
    let b = Sha256::digest(expected);
    ct_eq(&a, &b)
}

/// Constant-time equality of two byte strings whose length is public (a digest's or a MAC's). `subtle` compares
/// them eight bytes at a time: one optimization barrier per word, where its slice comparison pays one per byte
/// (a sixteenth of an unsigned delivery's handling before this).
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let (a_words, a_tail) = a.as_chunks::<8>();
    let (b_words, b_tail) = b.as_chunks::<8>();
    let words = a_words.iter().zip(b_words).fold(Choice::from(1), |equal, (x, y)| {
        equal & u64::from_ne_bytes(*x).ct_eq(&u64::from_ne_bytes(*y))
    });
    (words & a_tail.ct_eq(b_tail)).into()
}

/// Why a delivery was refused as unauthenticated. The reason is logged; the provider only sees "401".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthFailure {
    #[error("no URL token in the request")]
    MissingToken,
    #[error("URL token does not match")]
    WrongToken,
    #[error("source IP {0} is not on the allow-list")]
    SourceIpNotAllowed(String),
    #[error("source IP unknown while the allow-list is on")]
    SourceIpUnknown,
    #[error("signature header {0} missing")]
    MissingSignature(&'static str),
    #[error("signature header {0} is not valid hex or base64 of the right length")]
    MalformedSignature(&'static str),
    #[error("signature does not match any configured secret")]
    SignatureMismatch,
    #[error("unsigned delivery refused by configuration")]
    UnsignedRefused,
    #[error("Authorization header is not Basic credentials (base64 of user:password)")]
    MalformedCredentials,
    #[error("Basic credentials match none configured")]
    WrongCredentials,
}

/// A delivery whose authenticity was checked. Only code in this crate can make one (the constructor is
/// `pub(crate)`), and only the providers' `authenticate` methods do: a normalizer cannot be handed bytes
/// that skipped verification.
#[derive(Debug, Clone, Copy)]
pub struct Verified<'a> {
    delivery: &'a Delivery,
    provider: ProviderId,
}

impl<'a> Verified<'a> {
    pub(crate) fn new(provider: ProviderId, delivery: &'a Delivery) -> Self {
        Self { delivery, provider }
    }

    pub fn delivery(&self) -> &'a Delivery {
        self.delivery
    }

    pub fn body(&self) -> &'a [u8] {
        &self.delivery.body
    }

    pub fn provider(&self) -> ProviderId {
        self.provider
    }
}

#[cfg(test)]
mod tests;
