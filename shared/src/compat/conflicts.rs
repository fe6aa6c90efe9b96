//! `conflicts-before-counting`: a conflict recorded once per delivery, before conflicts were counted. On
//! DynamoDB its sort key is `<received_at>#<payload sha256>` (now the hash alone) and it has no `count`,
//! `first_seen_at` or `last_seen_at`; the local file kept the bare event. Each reads as seen once, when its
//! event was received; `esimhooks migrate` folds it into the counted record. Remove in 0.3.0, once `esimhooks
//! migrate` has run on every table and file.

use crate::model::Event;
use chrono::{DateTime, Utc};

pub const NAME: &str = "conflicts-before-counting";

/// A conflict record's count and first and last sighting; on a record from before counting (none of them),
/// once at `received_at`, its event's receipt.
pub fn seen(
    count: Option<i64>,
    first: Option<DateTime<Utc>>,
    last: Option<DateTime<Utc>>,
    received_at: DateTime<Utc>,
) -> (u64, DateTime<Utc>, DateTime<Utc>) {
    (
        count.map_or(1, |c| c.max(1) as u64),
        first.unwrap_or(received_at),
        last.unwrap_or(received_at),
    )
}

/// The bare event an older local file kept for a conflict.
pub fn bare_event(doc: &str) -> Result<Event, serde_json::Error> {
    serde_json::from_str(doc)
}

/// Whether a conflict item's sort key is the per-delivery one of before counting (`<received_at>#<sha256>`).
pub fn is_per_delivery(sk: &str) -> bool {
    sk.contains('#')
}
