//! The local key-value store's keys (SQLite in `serve`, memory in tests): each document's key in its space,
//! and the values its index entries sort by. A local file outlives releases, so these stay as they are.

use super::instant;
use crate::model::ProviderId;
use crate::records::NotificationStatus;
use chrono::{DateTime, Datelike, SecondsFormat, Utc};
use std::fmt::Display;

/// How many leading characters of a [`sort_time`] name its hour (`2026-12-02T07`).
pub const HOUR_PREFIX: usize = 13;

/// A delivery's document (`<provider>#<dedupe key>`).
pub fn delivery_key(provider: impl Display, dedupe_key: &str) -> String {
    format!("{provider}#{dedupe_key}")
}

/// An eSIM's state document (`<provider>#<eSIM key>`).
pub fn state_key(provider: impl Display, esim_key: &str) -> String {
    format!("{provider}#{esim_key}")
}

/// One conflicting payload of a delivery (`<provider>#<dedupe key>#<payload sha256>`).
pub fn conflict_key(provider: impl Display, dedupe_key: &str, payload_sha256: &str) -> String {
    format!("{}#{payload_sha256}", delivery_key(provider, dedupe_key))
}

/// A provider's count of exact duplicates in one hour (`<provider>#<hour as sort_time>`).
pub fn duplicates_key(provider: impl Display, hour: DateTime<Utc>) -> String {
    format!("{provider}#{}", sort_time(hour))
}

/// A contact's document under one of its eSIM's identifiers (`<provider>#<kind>#<value>`).
pub fn contact_key(provider: impl Display, kind: &str, value: &str) -> String {
    format!("{provider}#{kind}#{value}")
}

/// A notification's document (`<alert id>#<channel>`).
pub fn notification_key(alert_id: &str, channel: &str) -> String {
    format!("{alert_id}#{channel}")
}

/// A phone's recent SMS: its digest alone, the table's key ([`super::sms_window_pk`]) without its prefix, as
/// a counter is not a contact record.
pub fn allowance_key(to: &str) -> String {
    super::sms_window_digest(to)
}

/// A partner's registration for one notification type (`<partner>#<type, 5 digits>`).
pub fn registration_key(partner: impl Display, type_number: u16) -> String {
    format!("{partner}#{type_number:05}")
}

/// A job waiting for its next attempt (`<partner>#<notification id>`).
pub fn job_key(partner: impl Display, notification_id: &str) -> String {
    format!("{partner}#{notification_id}")
}

/// An attempt in the log (`<partner>#<at>#<notification id>#<attempt, 3 digits>`).
pub fn attempt_key(partner: impl Display, at: DateTime<Utc>, notification_id: &str, attempt: u32) -> String {
    format!("{partner}#{}#{notification_id}#{attempt:03}", instant(at))
}

/// A delivery given up on (`<partner>#<failed at>#<notification id>`).
pub fn failed_key(partner: impl Display, failed_at: DateTime<Utc>, notification_id: &str) -> String {
    format!("{partner}#{}#{notification_id}", instant(failed_at))
}

/// Where a URL's theoretical arrival time is kept, beside its endpoint: no URL starts `rate#`.
pub fn arrival_key(url: &str) -> String {
    format!("rate#{url}")
}

/// A time as text that sorts as the time does: fixed width, nanoseconds, UTC, years held to 0000-9999 (an
/// absurd year a provider sent sorts at the end it is nearest).
pub fn sort_time(at: DateTime<Utc>) -> String {
    match at.year() {
        y if y < 0 => "0000-01-01T00:00:00.000000000Z".to_string(),
        y if y > 9999 => "9999-12-31T23:59:59.999999999Z".to_string(),
        _ => at.to_rfc3339_opts(SecondsFormat::Nanos, true),
    }
}

/// A share of data left as text that sorts as the number does: `0.000000` to `1.000000`.
pub fn sort_ratio(ratio: f64) -> String {
    let ratio = if ratio.is_finite() { ratio.clamp(0.0, 1.0) } else { 0.0 };
    format!("{ratio:.6}")
}

/// The index names a listing reads: every document's, or one provider's (`<index>@<provider>`).
pub fn by_provider(index: &str, provider: Option<ProviderId>) -> String {
    match provider {
        Some(p) => format!("{index}@{p}"),
        None => index.to_string(),
    }
}

/// The index of a provider's customer messages with one outcome (`told-SENT@roamify`).
pub fn told_index(status: NotificationStatus, provider: ProviderId) -> String {
    by_provider(&format!("told-{}", status.as_str()), Some(provider))
}

/// The value an eSIM's entries in the `esim` index start with: its provider and key.
pub fn esim_prefix(provider: impl Display, key: &str) -> String {
    format!("{provider}#{key}#")
}

/// An eSIM's entry in the `esim` index at `at`, and the bound of a range of them.
pub fn esim_entry(provider: impl Display, key: &str, at: DateTime<Utc>) -> String {
    format!("{}{}", esim_prefix(provider, key), sort_time(at))
}

/// The value a state's entries in the `lifecycle` index start with.
pub fn lifecycle_prefix(lifecycle: &str) -> String {
    format!("{lifecycle}#")
}

/// A state's entry in the `lifecycle` index: its lifecycle, then when it was updated.
pub fn lifecycle_entry(lifecycle: &str, updated_at: DateTime<Utc>) -> String {
    format!("{}{}", lifecycle_prefix(lifecycle), sort_time(updated_at))
}

/// The value a partner's callback records start with in the `partner` index.
pub fn partner_prefix(partner: impl Display) -> String {
    format!("{partner}#")
}

/// A partner's callback record in the `partner` index at `at` (a given-up delivery's entry), and the bound
/// of a range of them.
pub fn partner_entry(partner: impl Display, at: DateTime<Utc>) -> String {
    format!("{}{}", partner_prefix(partner), sort_time(at))
}

/// An attempt's entry in the `partner` index: by time, then attempt number.
pub fn attempt_entry(partner: impl Display, at: DateTime<Utc>, attempt: u32) -> String {
    format!("{}#{attempt:05}", partner_entry(partner, at))
}
