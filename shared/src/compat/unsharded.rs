//! The unsharded buckets of the layout before write sharding: `unsharded-listing` (`EVENT#<day>`,
//! `ALERT#<day>`, `CONFLICT#<day>`, `OUTBOX#<hour>` in the listing index), `unsharded-expiry` (`EXPIRY#<hour>`
//! in the expiry index) and `unsharded-partner-logs` (`ATTEMPTS#<partner>`, `FAILED#<partner>` partitions).
//! Their sort keys were `<rfc3339>#<pk>` (microseconds, `+00:00`). Each reader queries the one unsharded bucket
//! beside the shards and starts its time range on the whole second; `esimhooks migrate` moves every entry into
//! its shard. Remove in 0.3.0, once `esimhooks migrate` has run on every table. The keys of these layouts are
//! spelled here, the one place besides `store/keys.rs` the key lint allows.

use chrono::{DateTime, Utc};

pub const LISTING: &str = "unsharded-listing";
pub const EXPIRY: &str = "unsharded-expiry";
pub const PARTNER_LOGS: &str = "unsharded-partner-logs";

/// The one bucket of `period` (a day, an hour, a partner id) under `prefix`, where items from before sharding
/// sit: `<prefix>#<period>`.
pub fn bucket(prefix: &str, period: &str) -> String {
    format!("{prefix}#{period}")
}

/// Whether a bucket or partition key is an unsharded one ([`bucket`]): the current ones end in `#<shard>`.
pub fn is_bucket(key: &str) -> bool {
    key.split('#').count() == 2
}

/// Where a time range over index sort keys starts: the whole second of `since`, so an older key at that second
/// (`...:05.123456+00:00#<pk>`, which sorts before `...:05.123Z`) is inside. What that lets in before `since`
/// is filtered on the item's own time.
pub fn range_from(since: DateTime<Utc>) -> String {
    since.format("%Y-%m-%dT%H:%M:%S").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unsharded_bucket_has_no_shard() {
        assert_eq!(bucket("EVENT", "2026-11-30"), "EVENT#2026-11-30");
        assert!(is_bucket("EVENT#2026-11-30") && is_bucket("ATTEMPTS#acme-co"));
        assert!(!is_bucket("EVENT#2026-11-30#17") && !is_bucket("ATTEMPTS#acme-co#0") && !is_bucket("PARTNER"));
    }
}
