//! Parsing of the time formats providers send. Each returns `None` on anything it does not recognise: a
//! provider time we cannot read falls back to the receipt time, it never rejects an authentic delivery.

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};

/// RFC 3339 (`2026-04-22T17:16:34Z`, `…+00:00`, fractional seconds) and the ISO 8601 basic offset eSIM Access
/// also sends (`2025-09-11T13:28:09+0000`).
pub fn parse_provider_time(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(t) = DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%z") {
        return Some(t.with_timezone(&Utc));
    }
    // "YYYY-MM-DD HH:MM:SS" without a zone: providers that send it document UTC.
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S")
        .ok()
        .map(|naive| Utc.from_utc_datetime(&naive))
}

/// Unix seconds, as Roamify sends them. Out-of-range values give `None`.
pub fn from_unix_seconds(seconds: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(seconds, 0)
}

/// The UTC day of an instant, `YYYY-MM-DD`: the bucket of the listing indexes.
pub fn day_bucket(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_esim_access_formats_as_the_same_instant_kind() {
        let z = parse_provider_time("2026-04-22T17:16:34Z").unwrap();
        assert_eq!(z.to_rfc3339(), "2026-04-22T17:16:34+00:00");
        let basic = parse_provider_time("2025-09-11T13:28:09+0000").unwrap();
        assert_eq!(basic.to_rfc3339(), "2025-09-11T13:28:09+00:00");
        let shifted = parse_provider_time("2025-09-11T15:28:09+0200").unwrap();
        assert_eq!(shifted, basic);
        let fractional = parse_provider_time("2026-07-21T13:50:21.136Z").unwrap();
        assert_eq!(fractional.timestamp_subsec_millis(), 136);
    }

    #[test]
    fn reads_naive_time_as_utc_and_rejects_garbage() {
        let t = parse_provider_time("2023-02-27 14:09:55").unwrap();
        assert_eq!(t.to_rfc3339(), "2023-02-27T14:09:55+00:00");
        assert!(parse_provider_time("yesterday").is_none());
        assert!(parse_provider_time("").is_none());
        assert!(from_unix_seconds(i64::MAX).is_none());
        assert_eq!(
            from_unix_seconds(1_700_000_000).unwrap().to_rfc3339(),
            "2023-11-14T22:13:20+00:00"
        );
    }
}
