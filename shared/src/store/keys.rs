//! Every key the DynamoDB table and its indexes use, in one place: the store writes through these functions
//! and the peak simulation (`shared/examples/peak_keys.rs`) replays traffic through the same ones.
//!
//! No key that many items share takes every write: listings (deliveries, alerts, conflicts), the expiry
//! buckets, the customer outbox and the partner attempt log are write-sharded by a stable hash of each item's
//! own identity, and readers query every shard of a bucket in parallel. DynamoDB caps one partition key value
//! at 1,000 write units per second; with [`LISTING_SHARDS`] shards a day's listing takes 128,000.

use chrono::{DateTime, SecondsFormat, Utc};

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

pub fn delivery_pk(provider: impl std::fmt::Display, dedupe_key: &str) -> String {
    format!("EVENT#{provider}#{dedupe_key}")
}

pub fn state_pk(provider: impl std::fmt::Display, esim_key: &str) -> String {
    format!("ESIM#{provider}#{esim_key}")
}

pub fn alert_pk(alert_id: &str) -> String {
    format!("ALERT#{alert_id}")
}

pub fn conflict_pk(provider: impl std::fmt::Display, dedupe_key: &str) -> String {
    format!("CONFLICT#{provider}#{dedupe_key}")
}

/// A customer contact's item under one of its eSIM's identifiers (`iccid`, `esim`, `order`).
pub fn contact_pk(provider: impl std::fmt::Display, kind: &str, value: &str) -> String {
    format!("CONTACT#{provider}#{kind}#{value}")
}

/// The SMS sent to one phone in the last day, whoever's contact it is (`SMSCAP#<first 16 bytes of
/// sha256(phone), hex>`): the number itself is never a key.
pub fn sms_window_pk(to: &str) -> String {
    use sha2::{Digest, Sha256};
    format!("SMSCAP#{}", hex::encode(&Sha256::digest(to.as_bytes())[..16]))
}

/// Failed partner API authentications of one subject (`source#<address>` or `partner#<id as presented>`), one
/// item per window under it (`AUTHFAIL#<subject>` / `<window start>`).
pub fn auth_failures_pk(subject: &str) -> String {
    format!("AUTHFAIL#{subject}")
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

/// Every bucket of a day's listing: its shards, then the one unsharded bucket items from before sharding sit in.
pub fn listing_buckets(listing: Listing, day: DateTime<Utc>) -> Vec<String> {
    let day = day.format("%Y-%m-%d");
    let prefix = listing.prefix();
    (0..LISTING_SHARDS)
        .map(|shard| format!("{prefix}#{day}#{shard}"))
        .chain(std::iter::once(format!("{prefix}#{day}")))
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
    (0..BUCKET_SHARDS)
        .map(|shard| hour_bucket(prefix, hour, shard))
        .chain(std::iter::once(format!("{prefix}#{}", hour.format("%Y-%m-%dT%H"))))
        .collect()
}

/// A partner's attempt log, one partition per shard of the notification id (`ATTEMPTS#<partner>#<shard>`).
pub fn attempts_pk(partner: &str, notification_id: &str) -> String {
    format!("ATTEMPTS#{partner}#{}", shard_of(notification_id, LISTING_SHARDS))
}

/// A partner's given-up deliveries, sharded the same way (`FAILED#<partner>#<shard>`).
pub fn failed_pk(partner: &str, notification_id: &str) -> String {
    format!("FAILED#{partner}#{}", shard_of(notification_id, LISTING_SHARDS))
}

/// Every partition of a partner's attempt log (or given-up deliveries, with `FAILED`), then the unsharded one.
pub fn partner_log_pks(prefix: &str, partner: &str) -> Vec<String> {
    (0..LISTING_SHARDS)
        .map(|shard| format!("{prefix}#{partner}#{shard}"))
        .chain(std::iter::once(format!("{prefix}#{partner}")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_stable_and_spread() {
        // The hash is part of stored keys: it must never change.
        assert_eq!(shard_of("", 1 << 31), 0x811c_9dc5 % (1 << 31));
        assert_eq!(shard_of("a", u32::MAX), 0xe40c_292c);
        let mut counts = [0u32; LISTING_SHARDS as usize];
        for i in 0..128_000 {
            counts[shard_of(&delivery_pk("roamify", &format!("evt-{i}")), LISTING_SHARDS) as usize] += 1;
        }
        let (low, high) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
        assert!(*low > 800 && *high < 1200, "uneven shards: {low}..{high}");
    }

    #[test]
    fn an_entry_lands_in_one_of_its_days_buckets() {
        let at = DateTime::parse_from_rfc3339("2026-12-02T23:59:59.5Z").unwrap().to_utc();
        let entry = listing_entry(Listing::Alerts, &alert_pk("x"), at);
        assert!(listing_buckets(Listing::Alerts, at).contains(&entry.pk));
        assert_eq!(entry.sk, "2026-12-02T23:59:59.500Z");
        let asked = asking_entry("airalo", &state_pk("airalo", "89"), at, false);
        let routine = asking_entry("airalo", &state_pk("airalo", "89"), at, true);
        assert_eq!(
            (asked.pk.as_str(), is_routine_ask(&asked.sk)),
            (routine.pk.as_str(), false)
        );
        assert!(is_routine_ask(&routine.sk) && routine.sk.starts_with(&asked.sk));
        assert!(asking_buckets("airalo", at).contains(&asked.pk));
        assert!(!asking_buckets("roamify", at).contains(&asked.pk));
        assert!(!asking_buckets("airalo", at + chrono::Duration::hours(1)).contains(&asked.pk));
        let ends = expiry_entry(&state_pk("airalo", "89"), at);
        assert!(expiry_buckets(at).contains(&ends.pk));
        assert!(!expiry_buckets(at + chrono::Duration::hours(1)).contains(&ends.pk));
        let held = outbox_entry("a#sms", at);
        assert!(outbox_buckets(at).contains(&held.pk));
        assert!(partner_log_pks("ATTEMPTS", "p1").contains(&attempts_pk("p1", "n-9")));
        assert!(partner_log_pks("FAILED", "p1").contains(&failed_pk("p1", "n-9")));
    }
}
