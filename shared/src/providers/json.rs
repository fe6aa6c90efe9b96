//! Tolerant reading of provider JSON. Providers send numbers as strings, strings as numbers and change field
//! types between versions; a strict struct would turn such an authentic delivery into a 400 and lose it.
//! These helpers take what they can and leave the rest to the raw payload.

use crate::time::parse_provider_time;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

/// A parsed JSON object body (or an empty one when the JSON is not an object).
#[derive(Debug, Clone)]
pub struct Body(Map<String, Value>);

static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();

impl Body {
    pub fn parse(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        let value: Value = serde_json::from_slice(bytes)?;
        Ok(Self(match value {
            Value::Object(map) => map,
            _ => Map::new(),
        }))
    }

    pub fn object(&self) -> &Map<String, Value> {
        &self.0
    }

    /// A nested object, or an empty one.
    pub fn child<'a>(map: &'a Map<String, Value>, name: &str) -> &'a Map<String, Value> {
        match map.get(name) {
            Some(Value::Object(child)) => child,
            _ => EMPTY.get_or_init(Map::new),
        }
    }
}

/// A string field; numbers and booleans are rendered as text. Blank strings count as absent.
pub fn text(map: &Map<String, Value>, name: &str) -> Option<String> {
    match map.get(name)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A non-negative whole number, from a JSON number or a numeric string. Fractions are rounded down.
pub fn whole(map: &Map<String, Value>, name: &str) -> Option<u64> {
    match map.get(name)? {
        Value::Number(n) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| f.is_finite() && *f >= 0.0 && *f < 1.8e19)
                .map(|f| f as u64)
        }),
        Value::String(s) => s.trim().parse::<u64>().ok().or_else(|| {
            s.trim()
                .parse::<f64>()
                .ok()
                .filter(|f| f.is_finite() && *f >= 0.0 && *f < 1.8e19)
                .map(|f| f as u64)
        }),
        _ => None,
    }
}

/// A finite number, from a JSON number or a numeric string.
pub fn number(map: &Map<String, Value>, name: &str) -> Option<f64> {
    match map.get(name)? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
    .filter(|f| f.is_finite())
}

/// A provider time string.
pub fn instant(map: &Map<String, Value>, name: &str) -> Option<DateTime<Utc>> {
    map.get(name).and_then(Value::as_str).and_then(parse_provider_time)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_mixed_types_without_failing() {
        let v = json!({"a": " x ", "b": 12, "c": "34", "d": 1.5e3, "e": -1, "f": "", "g": null, "h": "9e99", "t": "2026-04-22T17:16:34Z"});
        let m = v.as_object().unwrap();
        assert_eq!(text(m, "a").as_deref(), Some("x"));
        assert_eq!(text(m, "b").as_deref(), Some("12"));
        assert_eq!(text(m, "f"), None);
        assert_eq!(text(m, "g"), None);
        assert_eq!(whole(m, "c"), Some(34));
        assert_eq!(whole(m, "d"), Some(1500));
        assert_eq!(whole(m, "e"), None);
        assert_eq!(whole(m, "h"), None);
        assert_eq!(number(m, "h"), Some(9e99));
        assert!(instant(m, "t").is_some());
        assert!(instant(m, "b").is_none());
    }

    #[test]
    fn non_object_bodies_read_as_empty() {
        assert!(Body::parse(b"[1,2]").unwrap().object().is_empty());
        assert!(Body::parse(b"\"x\"").unwrap().object().is_empty());
        assert!(Body::parse(b"{").is_err());
        assert!(Body::child(Body::parse(b"{\"a\":1}").unwrap().object(), "a").is_empty());
    }
}
