//! Every key the DynamoDB table and its indexes use, and every key of the local key-value store, in one place:
//! the stores write through these functions and the peak simulation (`shared/examples/peak_keys.rs`) replays
//! traffic through the same ones. Deployed tables and local files hold these strings: they never change.
//!
//! No key that many items share takes every write: listings (deliveries, alerts, conflicts), the expiry
//! buckets, the customer outbox and the partner attempt log are write-sharded by a stable hash of each item's
//! own identity, and readers query every shard of a bucket in parallel. DynamoDB caps one partition key value
//! at 1,000 write units per second; with [`LISTING_SHARDS`] shards a day's listing takes 128,000.
//!
//! The customer, partner-callback and local key-value store keys are in the submodules, re-exported here: no
//! key or prefix is built anywhere else (a test, `keys/lint.rs`, holds to that).

use crate::compat;
use chrono::{DateTime, SecondsFormat, Utc};

mod callbacks;
mod customers;
mod kv;
#[cfg(test)]
mod lint;
#[cfg(test)]
mod tests;

pub use callbacks::{
    attempt_sk, attempts_pk, attempts_pks, auth_failures_pk, callback_sk, endpoint_pk, failed_pk, failed_pks,
    failed_pks_of, failed_sk, partner_pk, partner_subject, source_subject, CALLBACK_PREFIX, ENDPOINT_SK,
    PARTNER_LISTING, PARTNER_SK, RATE_SK,
};
pub use customers::{
    contact_pk, notification_outbox_entry, notification_sk, sms_window_digest, sms_window_pk, CONTACT_SK,
    NOTIFY_PREFIX, SMS_WINDOW_SK,
};
pub use kv::{
    allowance_key, arrival_key, attempt_entry, attempt_key, by_provider, conflict_key, contact_key, delivery_key,
    duplicates_key, esim_entry, esim_prefix, failed_key, job_key, lifecycle_entry, lifecycle_prefix, notification_key,
    partner_entry, partner_prefix, registration_key, sort_ratio, sort_time, state_key, told_index, HOUR_PREFIX,
};

/// Shards of a day's listing bucket and of a partner's attempt log: enough for 50,000 deliveries/s (a
/// 5x burst over 10,000/s) at under 400 write units/s per shard.
pub const LISTING_SHARDS: u32 = 128;
/// Shards of an hour's expiry and outbox buckets: each item is written there once per plan end or held
/// message, a small share of deliveries, so fewer shards keep the sweep's fan-out small.
pub const BUCKET_SHARDS: u32 = 16;

/// The listing index (`gsi1pk`/`gsi1sk`): deliveries, alerts and conflicts by day shard and time, customer
/// messages held for quiet hours by due hour, and the partner list. Projects the keys, `provider` and `esim_key`
/// only, so completing a claim or marking it sent never writes it.
pub const LISTING_INDEX: &str = "listing";
/// The sparse index of eSIM states by the hour their plan ends (`gsi2pk`/`gsi2sk`, keys only): a state save
/// that keeps its plan end writes nothing here.
pub const EXPIRY_INDEX: &str = "expiry";
/// The sparse index of eSIM states by when they are next to be asked their provider (`gsi3pk`/`gsi3sk`, keys
/// only), by provider, hour and shard: only states of providers that are asked are in it, and a save that
/// keeps the time it is filed at writes nothing here.
pub const ASKING_INDEX: &str = "asking";
/// The attributes the listing index projects besides the keys.
pub const LISTING_PROJECTION: [&str; 2] = ["provider", "esim_key"];

/// A stable shard of `identity` in `0..shards` (FNV-1a: the same on every machine and release).
pub fn shard_of(identity: &str, shards: u32) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in identity.bytes() {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash % shards
}

/// A sort-key instant: fixed width, so text order is time order.
pub fn instant(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The sort key of a delivery's claim item, under [`delivery_pk`].
pub const DELIVERY_SK: &str = "EVENT";
/// The sort key of an alert's claim item, under [`alert_pk`]; its notifications sit beside it.
pub const ALERT_SK: &str = "ALERT";
/// The sort key of an eSIM's state item, under [`state_pk`].
pub const STATE_SK: &str = "STATE";

/// A delivery's claim item (`EVENT#<provider>#<dedupe key>` / [`DELIVERY_SK`]).
pub fn delivery_pk(provider: impl std::fmt::Display, dedupe_key: &str) -> String {
    format!("EVENT#{provider}#{dedupe_key}")
}

/// An eSIM's state item (`ESIM#<provider>#<eSIM key>` / [`STATE_SK`]).
pub fn state_pk(provider: impl std::fmt::Display, esim_key: &str) -> String {
    format!("ESIM#{provider}#{esim_key}")
}

/// An alert's claim item (`ALERT#<alert id>` / [`ALERT_SK`]) and its notifications (`NOTIFY#<channel>`).
pub fn alert_pk(alert_id: &str) -> String {
    format!("ALERT#{alert_id}")
}

/// A delivery's conflicting payloads, one item each (`CONFLICT#<provider>#<dedupe key>` / `<payload sha256>`).
pub fn conflict_pk(provider: impl std::fmt::Display, dedupe_key: &str) -> String {
    format!("CONFLICT#{provider}#{dedupe_key}")
}

/// What a listing bucket holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listing {
    Deliveries,
    Alerts,
    Conflicts,
}

impl Listing {
    fn prefix(self) -> &'static str {
        match self {
            Self::Deliveries => "EVENT",
            Self::Alerts => "ALERT",
            Self::Conflicts => "CONFLICT",
        }
    }
}

/// What an item of the table is, by its key: what a scan (`esimhooks migrate`) tells apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemKind {
    Delivery,
    State,
    Alert,
    /// A customer notification, beside its alert.
    Notification,
    Conflict,
    Partner,
    Endpoint,
    /// A partner's attempt log entry.
    Attempt,
    /// A callback delivery given up on.
    Failed,
    /// Anything else (registrations, contacts, send slots, SMS windows, authentication failures).
    Other,
}

/// The kind of the item at (`pk`, `sk`).
pub fn item_kind(pk: &str, sk: &str) -> ItemKind {
    let prefix = pk.split('#').next().unwrap_or_default();
    match (prefix, sk) {
        ("EVENT", DELIVERY_SK) => ItemKind::Delivery,
        ("ESIM", STATE_SK) => ItemKind::State,
        ("ALERT", ALERT_SK) => ItemKind::Alert,
        ("ALERT", sk) if sk.starts_with(NOTIFY_PREFIX) => ItemKind::Notification,
        ("CONFLICT", _) => ItemKind::Conflict,
        ("PARTNER", PARTNER_SK) => ItemKind::Partner,
        ("ENDPOINT", ENDPOINT_SK) => ItemKind::Endpoint,
        (callbacks::ATTEMPTS, _) => ItemKind::Attempt,
        (callbacks::FAILED, _) => ItemKind::Failed,
        _ => ItemKind::Other,
    }
}

/// An item's entry in an index: its partition and sort key there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexKey {
    pub pk: String,
    pub sk: String,
}

/// The listing entry of the item at `pk`, listed at `at`: `<KIND>#<day>#<shard of pk>` / `<at>`.
pub fn listing_entry(listing: Listing, pk: &str, at: DateTime<Utc>) -> IndexKey {
    IndexKey {
        pk: format!(
            "{}#{}#{}",
            listing.prefix(),
            at.format("%Y-%m-%d"),
            shard_of(pk, LISTING_SHARDS)
        ),
        sk: instant(at),
    }
}

/// Every bucket of a day's listing: its shards, then the one unsharded bucket items from before sharding sit in
/// (`compat::unsharded`).
pub fn listing_buckets(listing: Listing, day: DateTime<Utc>) -> Vec<String> {
    let day = day.format("%Y-%m-%d").to_string();
    let prefix = listing.prefix();
    (0..LISTING_SHARDS)
        .map(|shard| format!("{prefix}#{day}#{shard}"))
        .chain(std::iter::once(compat::unsharded::bucket(prefix, &day)))
        .collect()
}

/// The expiry entry of the eSIM state at `state_pk` whose plan ends at `ends`.
pub fn expiry_entry(state_pk: &str, ends: DateTime<Utc>) -> IndexKey {
    IndexKey {
        pk: hour_bucket("EXPIRY", ends, shard_of(state_pk, BUCKET_SHARDS)),
        sk: instant(ends),
    }
}

/// The outbox entry of a customer message held until `due`, identified by `identity` (alert and channel).
pub fn outbox_entry(identity: &str, due: DateTime<Utc>) -> IndexKey {
    IndexKey {
        pk: hour_bucket("OUTBOX", due, shard_of(identity, BUCKET_SHARDS)),
        sk: instant(due),
    }
}

/// The asking entry of the eSIM state at `state_pk` of `provider`, filed to be asked at `at`.
pub fn asking_entry(provider: impl std::fmt::Display, state_pk: &str, at: DateTime<Utc>, routine: bool) -> IndexKey {
    let mut sk = instant(at);
    if routine {
        sk.push_str(ROUTINE_ASK);
    }
    IndexKey {
        pk: hour_bucket(&format!("ASK#{provider}"), at, shard_of(state_pk, BUCKET_SHARDS)),
        sk,
    }
}

/// Ends the sort key of an asking entry filed for a routine ask: it still sorts by time, and the scheduler
/// asks the others first.
const ROUTINE_ASK: &str = "#routine";

/// Whether an asking entry's sort key is a routine ask's.
pub fn is_routine_ask(sk: &str) -> bool {
    sk.ends_with(ROUTINE_ASK)
}

/// Every bucket of one hour of `provider`'s asking entries.
pub fn asking_buckets(provider: impl std::fmt::Display, hour: DateTime<Utc>) -> Vec<String> {
    let prefix = format!("ASK#{provider}");
    (0..BUCKET_SHARDS)
        .map(|shard| hour_bucket(&prefix, hour, shard))
        .collect()
}

fn hour_bucket(prefix: &str, at: DateTime<Utc>, shard: u32) -> String {
    format!("{prefix}#{}#{shard}", at.format("%Y-%m-%dT%H"))
}

/// Every bucket of one hour of the expiry index: its shards, then the unsharded one of older items.
pub fn expiry_buckets(hour: DateTime<Utc>) -> Vec<String> {
    hour_buckets("EXPIRY", hour)
}

/// Every bucket of one hour of the outbox: its shards, then the unsharded one of older items.
pub fn outbox_buckets(hour: DateTime<Utc>) -> Vec<String> {
    hour_buckets("OUTBOX", hour)
}

fn hour_buckets(prefix: &str, hour: DateTime<Utc>) -> Vec<String> {
    let unsharded = compat::unsharded::bucket(prefix, &hour.format("%Y-%m-%dT%H").to_string());
    (0..BUCKET_SHARDS)
        .map(|shard| hour_bucket(prefix, hour, shard))
        .chain(std::iter::once(unsharded))
        .collect()
}

/// The instant a sort key starts with (`<rfc3339>` alone, or `<rfc3339>#<...>` on items from before
/// sharding), for merging entries of several buckets in time order.
pub fn sort_instant(sk: &str) -> Option<DateTime<Utc>> {
    let text = sk.split('#').next()?;
    DateTime::parse_from_rfc3339(text).ok().map(|t| t.to_utc())
}

/// A sort-key range covering `[since, until)` in both the current (`...sssZ`) and the older
/// (`...[.ffffff]+00:00#<pk>`) forms: from the whole second of `since` (an older key at that second sorts
/// before its milliseconds: `compat::unsharded::range_from`), up to `until`'s millisecond, so a newest-first
/// page is not filled with entries after `until`. What the range lets through at its ends is filtered on the
/// item's own time.
pub fn sort_range(since: DateTime<Utc>, until: DateTime<Utc>) -> (String, String) {
    (compat::unsharded::range_from(since), instant(until))
}

/// [`sort_range`] for a page of a window cut at a limit: without `until`'s own millisecond when `until` is on
/// one, as every entry there is at or after `until` and would take a place in the page that the window then
/// leaves empty.
pub fn window_range(since: DateTime<Utc>, until: DateTime<Utc>) -> (String, String) {
    let (from, to) = sort_range(since, until);
    if until.timestamp_subsec_nanos().is_multiple_of(1_000_000) {
        return (from, instant(until - chrono::Duration::milliseconds(1)));
    }
    (from, to)
}
