//! The partner callbacks' keys on the table: partners and their registrations, endpoints and their send
//! slots, the attempt log, deliveries given up on, and the API's authentication failures.

use super::{instant, shard_of, LISTING_SHARDS};
use chrono::{DateTime, Utc};
use std::fmt::Display;

/// The sort key of a partner's item, under [`partner_pk`].
pub const PARTNER_SK: &str = "PARTNER";
/// The listing index bucket every partner is listed in (`gsi1pk`; `gsi1sk` is the partner id).
pub const PARTNER_LISTING: &str = "PARTNER";
/// What every registration's sort key starts with: a partner's registrations are one `begins_with` query.
pub const CALLBACK_PREFIX: &str = "CALLBACK#";
/// The sort key of an endpoint's item, under [`endpoint_pk`].
pub const ENDPOINT_SK: &str = "ENDPOINT";
/// The sort key of an endpoint's send slots under a rate limit, apart from the endpoint item.
pub const RATE_SK: &str = "RATE";

pub(super) const ATTEMPTS: &str = "ATTEMPTS";
pub(super) const FAILED: &str = "FAILED";

/// A partner's item and its registrations (`PARTNER#<id>`).
pub fn partner_pk(id: impl Display) -> String {
    format!("PARTNER#{id}")
}

/// A registration's sort key: the notification type's number in three digits, so they sort in type order.
pub fn callback_sk(type_number: u16) -> String {
    format!("{CALLBACK_PREFIX}{type_number:03}")
}

/// An endpoint's items (`ENDPOINT#<sha256 of the URL, hex>`): a URL of any length makes a key of fixed size.
pub fn endpoint_pk(url: &str) -> String {
    use sha2::{Digest, Sha256};
    format!("ENDPOINT#{}", hex::encode(Sha256::digest(url.as_bytes())))
}

/// A partner's attempt log, one partition per shard of the notification id (`ATTEMPTS#<partner>#<shard>`).
pub fn attempts_pk(partner: &str, notification_id: &str) -> String {
    sharded(ATTEMPTS, partner, notification_id)
}

/// A partner's given-up deliveries, sharded the same way (`FAILED#<partner>#<shard>`).
pub fn failed_pk(partner: &str, notification_id: &str) -> String {
    sharded(FAILED, partner, notification_id)
}

fn sharded(prefix: &str, partner: &str, notification_id: &str) -> String {
    format!("{prefix}#{partner}#{}", shard_of(notification_id, LISTING_SHARDS))
}

/// Every partition of a partner's attempt log, then the unsharded one of logs from before sharding
/// (`compat::unsharded`).
pub fn attempts_pks(partner: &str) -> Vec<String> {
    partner_log_pks(ATTEMPTS, partner)
}

/// Every partition of a partner's given-up deliveries, then the unsharded one.
pub fn failed_pks(partner: &str) -> Vec<String> {
    partner_log_pks(FAILED, partner)
}

fn partner_log_pks(prefix: &str, partner: &str) -> Vec<String> {
    (0..LISTING_SHARDS)
        .map(|shard| format!("{prefix}#{partner}#{shard}"))
        .chain(std::iter::once(unsharded(prefix, partner)))
        .collect()
}

fn unsharded(prefix: &str, partner: &str) -> String {
    crate::compat::unsharded::bucket(prefix, partner)
}

/// Where one given-up delivery may be: its shard, or the one partition of a log from before sharding.
pub fn failed_pks_of(partner: &str, notification_id: &str) -> [String; 2] {
    [failed_pk(partner, notification_id), unsharded(FAILED, partner)]
}

/// An attempt's sort key: `<at>#<notification id>#<attempt, 3 digits>`, in time order.
pub fn attempt_sk(at: DateTime<Utc>, notification_id: &str, attempt: u32) -> String {
    format!("{}#{notification_id}#{attempt:03}", instant(at))
}

/// A given-up delivery's sort key: `<failed at>#<notification id>`.
pub fn failed_sk(failed_at: DateTime<Utc>, notification_id: &str) -> String {
    format!("{}#{notification_id}", instant(failed_at))
}

/// Failed partner API authentications of one subject ([`source_subject`] or [`partner_subject`]), one item
/// per window under it (`AUTHFAIL#<subject>` / `<window start>`).
pub fn auth_failures_pk(subject: &str) -> String {
    format!("AUTHFAIL#{subject}")
}

/// A source address as a throttling subject (`source#<address>`).
pub fn source_subject(address: impl Display) -> String {
    format!("source#{address}")
}

/// A partner id as presented, as a throttling subject (`partner#<id>`).
pub fn partner_subject(id: &str) -> String {
    format!("partner#{id}")
}
