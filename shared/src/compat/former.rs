//! Identities an earlier release gave the same thing, checked so nothing is processed or sent twice:
//! `former-dedupe-keys` (Airalo deliveries keyed by the raw body's hash, before bodies were keyed by their
//! canonical form) and `former-alert-ids` (alerts named by the provider's label, before the one alert scale).
//! Neither is a stored layout a batch can rewrite: a delivery's key and an alert's id are derived from each
//! delivery again, and are identities others hold. Remove in 0.3.0, and not before the deliveries and alerts
//! stored before 0.1.0 have expired (400 days).

use crate::alerts::Alert;
use crate::model::{DedupeKey, Event};

pub const DEDUPE_KEYS: &str = "former-dedupe-keys";
pub const ALERT_IDS: &str = "former-alert-ids";

/// Keys `event` by `key`, keeping the key it had as its former one (when it differs).
pub fn rekey(event: &mut Event, key: DedupeKey) {
    if key != event.dedupe_key {
        event.former_dedupe_key = Some(std::mem::replace(&mut event.dedupe_key, key));
    }
}

/// The key a delivery had before, under which a copy of it may be stored.
pub fn dedupe_key(event: &Event) -> Option<&DedupeKey> {
    event.former_dedupe_key.as_ref()
}

/// Replaying a delivery stored under its former key: it keeps that key, so replay finds the stored record (and
/// its alerts keep their ids) instead of making a second one. True when it did.
pub fn keep_stored_key(event: &mut Event, stored: &DedupeKey) -> bool {
    let former = dedupe_key(event) == Some(stored);
    if former {
        event.dedupe_key = stored.clone();
    }
    former
}

/// The id an alert had before the one scale, under which it may have been sent.
pub fn alert_id(alert: &Alert) -> Option<&String> {
    alert.former_alert_id.as_ref()
}
