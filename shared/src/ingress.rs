//! A delivery as it reached us, independent of how it came (API Gateway event, local HTTP server).

use base64::Engine;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use lambda_http::http::{HeaderMap, Method};
use std::borrow::Cow;
use std::net::IpAddr;

/// One inbound HTTP request, body already base64-decoded where the gateway encoded it.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub method: Method,
    /// The request path as received (`/webhooks/esimaccess/<token>`).
    pub path: String,
    /// The raw query string, without `?`.
    pub query: String,
    pub headers: HeaderMap,
    pub source_ip: Option<IpAddr>,
    /// The raw body bytes: what signatures are computed over.
    pub body: Bytes,
    pub received_at: DateTime<Utc>,
    /// The gateway's request id, for logs.
    pub request_id: Option<String>,
}

impl Delivery {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The value of one query parameter, percent-decoded (borrowed when there is nothing to decode).
    pub fn query_param(&self, name: &str) -> Option<Cow<'_, str>> {
        self.query.split('&').find_map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(key) == name).then(|| percent_decode(value))
        })
    }

    /// A secret URL token: `?token=` or else the last path segment (`/webhooks/<provider>/<token>`).
    pub fn url_token(&self, provider: &str) -> Option<Cow<'_, str>> {
        self.query_param("token")
            .or_else(|| self.path_suffix(provider).map(Cow::Borrowed))
    }

    /// The path segment after `/webhooks/<provider>/`, if any.
    pub fn path_suffix(&self, provider: &str) -> Option<&str> {
        let prefix = format!("/webhooks/{provider}/");
        let at = self.path.find(&prefix)?;
        let rest = &self.path[at + prefix.len()..];
        let segment = rest.split('/').next().unwrap_or("");
        (!segment.is_empty()).then_some(segment)
    }
}

/// Decodes `%XX` and `+`; an invalid escape is kept literally (it can then only fail a comparison).
fn percent_decode(text: &str) -> Cow<'_, str> {
    if !text.bytes().any(|b| b == b'%' || b == b'+') {
        return Cow::Borrowed(text);
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex_val(bytes[i + 1]), hex_val(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Why a body could not be taken off the wire.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error("body larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("body marked base64 but is not valid base64")]
    InvalidBase64,
}

/// Turns a gateway body (text, or base64 when the gateway says so) into raw bytes within `limit`.
/// The encoded length is checked before decoding, so a huge body costs no allocation.
pub fn decode_body(body: Option<&str>, is_base64: bool, limit: usize) -> Result<Bytes, BodyError> {
    let Some(body) = body else {
        return Ok(Bytes::new());
    };
    if !is_base64 {
        if body.len() > limit {
            return Err(BodyError::TooLarge { limit });
        }
        return Ok(Bytes::copy_from_slice(body.as_bytes()));
    }
    // 4 encoded characters carry 3 bytes; anything longer than that bound cannot decode within the limit.
    let trimmed = body.trim();
    if trimmed.len() > limit.div_ceil(3) * 4 {
        return Err(BodyError::TooLarge { limit });
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(trimmed)
        .map_err(|_| BodyError::InvalidBase64)?;
    if decoded.len() > limit {
        return Err(BodyError::TooLarge { limit });
    }
    Ok(Bytes::from(decoded))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery(path: &str, query: &str) -> Delivery {
        Delivery {
            method: Method::POST,
            path: path.into(),
            query: query.into(),
            headers: HeaderMap::new(),
            source_ip: None,
            body: Bytes::new(),
            received_at: Utc::now(),
            request_id: None,
        }
    }

    #[test]
    fn finds_query_params_and_path_token() {
        let d = delivery("/prod/webhooks/esimaccess/tok%2Den", "a=1&token=abc%20d&b");
        assert_eq!(d.query_param("token").as_deref(), Some("abc d"));
        assert_eq!(d.query_param("b").as_deref(), Some(""));
        assert_eq!(d.query_param("missing"), None);
        assert_eq!(d.path_suffix("esimaccess"), Some("tok%2Den"));
        assert_eq!(delivery("/webhooks/esimaccess", "").path_suffix("esimaccess"), None);
        assert_eq!(delivery("/webhooks/esimaccess/", "").path_suffix("esimaccess"), None);
    }

    #[test]
    fn percent_decoding_survives_bad_escapes() {
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("%zz%41"), "%zzA");
        assert_eq!(percent_decode("%"), "%");
    }

    #[test]
    fn body_limits_apply_before_and_after_base64() {
        assert_eq!(decode_body(Some("hello"), false, 5).unwrap(), Bytes::from("hello"));
        assert_eq!(
            decode_body(Some("hello!"), false, 5),
            Err(BodyError::TooLarge { limit: 5 })
        );
        assert_eq!(decode_body(Some("aGVsbG8="), true, 5).unwrap(), Bytes::from("hello"));
        assert_eq!(
            decode_body(Some("aGVsbG8h"), true, 5),
            Err(BodyError::TooLarge { limit: 5 })
        );
        assert_eq!(
            decode_body(Some("not base64!"), true, 100),
            Err(BodyError::InvalidBase64)
        );
        assert_eq!(
            decode_body(Some(&"A".repeat(10_000)), true, 100),
            Err(BodyError::TooLarge { limit: 100 })
        );
        assert_eq!(decode_body(None, true, 5).unwrap(), Bytes::new());
    }
}
