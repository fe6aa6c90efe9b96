//! Parsing of the time formats providers send. Each returns `None` on anything it does not recognise: a
//! provider time we cannot read falls back to the receipt time, it never rejects an authentic delivery.

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc};

/// RFC 3339 (`2026-04-22T17:16:34Z`, `…+00:00`, fractional seconds), the ISO 8601 basic offset eSIM Access
/// also sends (`2025-09-11T13:28:09+0000`), and `YYYY-MM-DD HH:MM:SS` as UTC.
pub fn parse_provider_time(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    // The shapes providers send are read directly (chrono's format-string parser costs more than the rest of
    // a delivery's normalization); anything else goes to chrono, which decides exactly as before.
    match parse_common(text.as_bytes()) {
        Common::Read(at) => at,
        Common::Other => parse_with_chrono(text),
    }
}

enum Common {
    /// The text has a common shape: this is its instant, or `None` when the date or time is impossible.
    Read(Option<DateTime<Utc>>),
    /// Another shape: left to chrono.
    Other,
}

/// `YYYY-MM-DDTHH:MM:SS[.f]` with `Z`, `±HH:MM` or `±HHMM`, or `YYYY-MM-DD HH:MM:SS` (UTC). Leap seconds,
/// lower-case letters, more than nine fraction digits and zones after a space are left to chrono.
fn parse_common(b: &[u8]) -> Common {
    let digits = |range: std::ops::Range<usize>| -> Option<u32> {
        b.get(range)?
            .iter()
            .try_fold(0u32, |n, &c| c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0')))
    };
    let shape =
        b.len() >= 19 && b[4] == b'-' && b[7] == b'-' && matches!(b[10], b'T' | b' ') && b[13] == b':' && b[16] == b':';
    let (Some(year), Some(month), Some(day), Some(hour), Some(minute), Some(second), true) = (
        digits(0..4),
        digits(5..7),
        digits(8..10),
        digits(11..13),
        digits(14..16),
        digits(17..19),
        shape,
    ) else {
        return Common::Other;
    };
    if second == 60 {
        return Common::Other;
    }
    let mut at = 19;
    let mut nanos = 0;
    if b.get(at) == Some(&b'.') {
        let count = b[at + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if !(1..=9).contains(&count) {
            return Common::Other;
        }
        nanos = digits(at + 1..at + 1 + count).unwrap_or(0) * 10u32.pow(9 - count as u32);
        at += 1 + count;
    }
    let zone = &b[at..];
    let offset_minutes: i64 = match (b[10], zone) {
        (b' ', []) if at == 19 => 0,
        (b'T', [b'Z']) => 0,
        (b'T', [sign @ (b'+' | b'-'), ..]) => {
            let (h, m) = match zone.len() {
                6 if zone[3] == b':' => (digits(at + 1..at + 3), digits(at + 4..at + 6)),
                5 => (digits(at + 1..at + 3), digits(at + 3..at + 5)),
                _ => return Common::Other,
            };
            let (Some(h), Some(m)) = (h, m) else {
                return Common::Other;
            };
            if h > 23 || m > 59 {
                return Common::Other;
            }
            let minutes = i64::from(h * 60 + m);
            if *sign == b'-' {
                -minutes
            } else {
                minutes
            }
        }
        _ => return Common::Other,
    };
    let local = NaiveDate::from_ymd_opt(year as i32, month, day)
        .and_then(|date| date.and_hms_nano_opt(hour, minute, second, nanos));
    Common::Read(local.map(|local| Utc.from_utc_datetime(&(local - Duration::minutes(offset_minutes)))))
}

fn parse_with_chrono(text: &str) -> Option<DateTime<Utc>> {
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

/// Why a text is not a span.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpanError {
    #[error("{0:?} is not a span like 5s, 5m, 2h or 5d")]
    NotASpan(String),
    #[error("{0:?} has no unit (s, m, h or d)")]
    NoUnit(String),
}

/// A span written as a number and a unit: `5s`, `30m`, `2h`, `5d`.
pub fn parse_span(text: &str) -> Result<Duration, SpanError> {
    let text = text.trim();
    let (number, unit) = text.split_at(text.len().saturating_sub(1));
    let n: i64 = number.parse().map_err(|_| SpanError::NotASpan(text.to_string()))?;
    match unit {
        "s" => Ok(Duration::seconds(n)),
        "m" => Ok(Duration::minutes(n)),
        "h" => Ok(Duration::hours(n)),
        "d" => Ok(Duration::days(n)),
        _ => Err(SpanError::NoUnit(text.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        /// The direct reader agrees with chrono on every shape near the common ones, valid or not.
        #[test]
        fn direct_reading_agrees_with_chrono(
            text in "[0-9]{4}-[01][0-9]-[0-3][0-9][Tt ][0-2][0-9]:[0-6][0-9]:[0-6][0-9](\\.[0-9]{0,11})?(Z|z|[+-][0-2][0-9]:?[0-6][0-9]|[+-][0-9]{1,3})?"
        ) {
            prop_assert_eq!(parse_provider_time(&text), parse_with_chrono(&text), "{}", text);
        }
    }

    #[test]
    fn common_shapes_are_read_directly() {
        for text in [
            "2026-04-22T17:16:34Z",
            "2025-09-11T13:28:09+0000",
            "2025-09-11T15:28:09-02:30",
            "2026-07-21T13:50:21.136Z",
            "2023-02-27 14:09:55",
        ] {
            assert!(matches!(parse_common(text.as_bytes()), Common::Read(Some(_))), "{text}");
            assert_eq!(parse_provider_time(text), parse_with_chrono(text), "{text}");
        }
        assert!(matches!(parse_common(b"2026-02-30T00:00:00Z"), Common::Read(None)));
        assert!(matches!(parse_common(b"2026-06-30T23:59:60Z"), Common::Other));
    }

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
