//! `compact-documents`: DynamoDB records whose document is JSON text, from before the compact form (`doc`: a
//! format byte and the deflated JSON). Every reader takes `doc` when present and this text otherwise; `esimhooks
//! migrate` packs the text, byte for byte, into `doc` and drops the text and the copies older items kept
//! beside it. Remove in 0.3.0, once `esimhooks migrate` has run on every table.

use serde::de::DeserializeOwned;

pub const NAME: &str = "compact-documents";

/// The attributes that held a record's document as JSON text: a delivery's `event` (a conflict's too), an
/// alert's `alert`, a customer message's `notification`, an eSIM's `state`.
pub const TEXT_ATTRIBUTES: [&str; 4] = ["event", "alert", "state", "notification"];

/// What older claim items (deliveries, alerts) kept beside the document, and nothing reads.
pub const CLAIM_COPIES: [&str; 4] = ["kind", "received_at", "alert_type", "level"];

/// What older state items kept beside the document, and nothing reads (a save of the state drops them).
pub const STATE_COPIES: [&str; 6] = [
    "provider",
    "esim_key",
    "iccid",
    "provider_status",
    "expires_at",
    "updated_at",
];

/// A document stored as JSON text.
pub fn from_text<T: DeserializeOwned>(text: &str) -> Result<T, serde_json::Error> {
    serde_json::from_str(text)
}
