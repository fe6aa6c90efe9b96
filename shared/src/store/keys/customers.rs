//! The customer side's keys on the table: contacts, the notifications beside their alert, and the SMS
//! window of each phone.

use super::{outbox_entry, IndexKey};
use chrono::{DateTime, Utc};

/// The sort key of every contact item.
pub const CONTACT_SK: &str = "CONTACT";
/// What every notification's sort key starts with: an alert's notifications are one `begins_with` query.
pub const NOTIFY_PREFIX: &str = "NOTIFY#";
/// The sort key of a phone's SMS window item.
pub const SMS_WINDOW_SK: &str = "WINDOW";

/// A customer contact's item under one of its eSIM's identifiers (`iccid`, `esim`, `order`).
pub fn contact_pk(provider: impl std::fmt::Display, kind: &str, value: &str) -> String {
    format!("CONTACT#{provider}#{kind}#{value}")
}

/// A notification's sort key beside its alert (`ALERT#<alert id>` / `NOTIFY#<channel>`).
pub fn notification_sk(channel: &str) -> String {
    format!("{NOTIFY_PREFIX}{channel}")
}

/// The outbox entry of a notification held until `due`: sharded by `<alert id>#NOTIFY#<channel>`.
pub fn notification_outbox_entry(alert_id: &str, channel: &str, due: DateTime<Utc>) -> IndexKey {
    outbox_entry(&format!("{alert_id}#{}", notification_sk(channel)), due)
}

/// A phone's digest (the first 16 bytes of sha256(phone), hex): the number itself is never a key.
pub fn sms_window_digest(to: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(&Sha256::digest(to.as_bytes())[..16])
}

/// The SMS sent to one phone in the last day, whoever's contact it is (`SMSCAP#<digest>` / [`SMS_WINDOW_SK`]).
pub fn sms_window_pk(to: &str) -> String {
    format!("SMSCAP#{}", sms_window_digest(to))
}
