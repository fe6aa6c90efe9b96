//! The conditions and updates of the write path, as data ([`Expression`]): a unit test checks each one's
//! placeholders, which DynamoDB rejects when unused or missing (emulators accept them).

use super::{n, s, Expression};
use crate::model::Event;
use crate::store::{AlertStatus, DeliveryStatus};
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};

const LEASE_NAMES: &[(&str, &str)] = &[
    ("#status", "status"),
    ("#attempt", "attempt"),
    ("#lease_until", "lease_until"),
];

pub(super) fn begin_delivery_expr(payload_sha256: &str, now: DateTime<Utc>) -> Expression {
    Expression {
        condition: "attribute_not_exists(pk) OR (#status = :in_progress AND #lease_until <= :now AND #sha = :sha)",
        update: None,
        names: &[
            ("#status", "status"),
            ("#lease_until", "lease_until"),
            ("#sha", "payload_sha256"),
        ],
        values: vec![
            (":in_progress", s(DeliveryStatus::InProgress.as_str())),
            (":now", n(now.timestamp_millis())),
            (":sha", s(payload_sha256)),
        ],
    }
}

pub(super) fn finish_delivery_expr(attempt: &str, now: DateTime<Utc>) -> Expression {
    Expression {
        condition: "#attempt = :attempt",
        update: Some("SET #status = :completed, completed_at = :now REMOVE #attempt, #lease_until"),
        names: LEASE_NAMES,
        values: vec![
            (":attempt", s(attempt)),
            (":completed", s(DeliveryStatus::Completed.as_str())),
            (":now", s(now.to_rfc3339())),
        ],
    }
}

pub(super) fn abandon_delivery_expr(attempt: &str, reason: &str) -> Expression {
    Expression {
        condition: "#attempt = :attempt AND #status = :in_progress",
        update: Some("SET #lease_until = :zero, last_error = :error"),
        names: LEASE_NAMES,
        values: vec![
            (":attempt", s(attempt)),
            (":in_progress", s(DeliveryStatus::InProgress.as_str())),
            (":zero", n(0)),
            (":error", s(reason)),
        ],
    }
}

pub(super) fn rewrite_event_expr(doc: AttributeValue) -> Expression {
    Expression {
        condition: "attribute_exists(pk)",
        update: Some("SET #doc = :doc REMOVE #event, #kind"),
        names: &[("#doc", "doc"), ("#event", "event"), ("#kind", "kind")],
        values: vec![(":doc", doc)],
    }
}

/// One conflict record per (key, payload): created by the first, counted by every later one.
/// A conflict's record, by a copy received no earlier than the record's last one: counted, the first sighting
/// kept, the last moved to this one. Fails (the condition) for a copy that arrives late, which
/// [`record_late_conflict_expr`] then counts without moving the last sighting back.
pub(super) fn record_conflict_expr(
    doc: AttributeValue,
    event: &Event,
    gsi1pk: String,
    gsi1sk: String,
    ttl: AttributeValue,
) -> Expression {
    Expression {
        condition: "attribute_not_exists(#last) OR #last <= :seen",
        update: Some(
            "SET #doc = if_not_exists(#doc, :doc), #provider = :provider, #sha = :sha, \
             #first = if_not_exists(#first, :seen), #last = :seen, #gsi1pk = :gsi1pk, #gsi1sk = :gsi1sk, \
             #ttl = :ttl ADD #count :one",
        ),
        names: &[
            ("#doc", "doc"),
            ("#provider", "provider"),
            ("#sha", "payload_sha256"),
            ("#first", "first_seen_at"),
            ("#last", "last_seen_at"),
            ("#gsi1pk", "gsi1pk"),
            ("#gsi1sk", "gsi1sk"),
            ("#ttl", "ttl"),
            ("#count", "count"),
        ],
        values: vec![
            (":doc", doc),
            (":provider", s(event.provider.as_str())),
            (":sha", s(event.payload_sha256.as_str())),
            (":seen", s(event.received_at.to_rfc3339())),
            (":gsi1pk", s(gsi1pk)),
            (":gsi1sk", s(gsi1sk)),
            (":ttl", ttl),
            (":one", n(1)),
        ],
    }
}

/// A copy received before the record's last sighting: counted only (its listing place and expiry stay the
/// later copy's).
pub(super) fn record_late_conflict_expr() -> Expression {
    Expression {
        condition: "",
        update: Some("ADD #count :one"),
        names: &[("#count", "count")],
        values: vec![(":one", n(1))],
    }
}

/// The first sighting moved back to `seen`, if that is earlier (times are RFC 3339 in UTC, written alike, so
/// they order as text).
pub(super) fn conflict_first_seen_expr(seen: DateTime<Utc>) -> Expression {
    Expression {
        condition: "#first > :seen",
        update: Some("SET #first = :seen"),
        names: &[("#first", "first_seen_at")],
        values: vec![(":seen", s(seen.to_rfc3339()))],
    }
}

pub(super) fn save_state_expr(expected: Option<u64>) -> Expression {
    match expected {
        None => Expression {
            condition: "attribute_not_exists(pk)",
            update: None,
            names: &[],
            values: vec![],
        },
        Some(version) => Expression {
            condition: "#version = :expected",
            update: None,
            names: &[("#version", "version")],
            values: vec![(":expected", n(version as i64))],
        },
    }
}

/// A claim of an alert or a customer message: absent, or claimed by an attempt whose lease ran out (both
/// spell the claimed status `CLAIMED`).
pub(crate) fn claim_expr(now: DateTime<Utc>) -> Expression {
    Expression {
        condition: "attribute_not_exists(pk) OR (#status = :claimed AND #lease_until <= :now)",
        update: None,
        names: &[("#status", "status"), ("#lease_until", "lease_until")],
        values: vec![
            (":claimed", s(AlertStatus::Claimed.as_str())),
            (":now", n(now.timestamp_millis())),
        ],
    }
}

pub(super) fn mark_alert_sent_expr(attempt: &str, receipt: &str, now: DateTime<Utc>) -> Expression {
    Expression {
        condition: "#attempt = :attempt",
        update: Some("SET #status = :sent, sent_at = :now, receipt = :receipt REMOVE #attempt, #lease_until"),
        names: LEASE_NAMES,
        values: vec![
            (":attempt", s(attempt)),
            (":sent", s(AlertStatus::Sent.as_str())),
            (":now", s(now.to_rfc3339())),
            (":receipt", s(receipt)),
        ],
    }
}

pub(super) fn release_alert_expr(attempt: &str) -> Expression {
    Expression {
        condition: "#attempt = :attempt",
        update: Some("SET #lease_until = :zero"),
        names: &[("#attempt", "attempt"), ("#lease_until", "lease_until")],
        values: vec![(":attempt", s(attempt)), (":zero", n(0))],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{DedupeKey, ProviderId};
    use std::collections::BTreeSet;

    fn placeholders(text: &str, sigil: char) -> BTreeSet<String> {
        let mut found = BTreeSet::new();
        for (i, c) in text.char_indices() {
            if c == sigil {
                let end = text[i + 1..]
                    .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .map_or(text.len(), |e| i + 1 + e);
                found.insert(text[i..end].to_string());
            }
        }
        found
    }

    fn sample_event() -> Event {
        Event::new(
            ProviderId::EsimAccess,
            crate::model::EventKind::Order,
            DedupeKey::provider_id("n-1"),
            Utc::now(),
            crate::model::PayloadSha256::ZERO,
            serde_json::value::RawValue::from_string("{}".into()).unwrap(),
        )
    }

    /// DynamoDB rejects names or values that no expression uses (moto does not), and any that is missing.
    #[test]
    fn every_placeholder_is_defined_and_used() {
        let now = Utc::now();
        let all = [
            ("begin", begin_delivery_expr("h", now)),
            ("finish", finish_delivery_expr("a", now)),
            ("abandon", abandon_delivery_expr("a", "why")),
            ("rewrite-event", rewrite_event_expr(n(1))),
            (
                "record-conflict",
                record_conflict_expr(n(1), &sample_event(), "p".into(), "s".into(), n(1)),
            ),
            ("late-conflict", record_late_conflict_expr()),
            ("conflict-first-seen", conflict_first_seen_expr(now)),
            ("state-new", save_state_expr(None)),
            ("state-next", save_state_expr(Some(3))),
            ("claim", claim_expr(now)),
            ("alert-sent", mark_alert_sent_expr("a", "r", now)),
            ("release-alert", release_alert_expr("a")),
        ];
        for (what, e) in all {
            let text = format!("{} {}", e.condition, e.update.unwrap_or(""));
            let used_names = placeholders(&text, '#');
            let used_values = placeholders(&text, ':');
            let defined_names: BTreeSet<String> = e.names.iter().map(|(p, _)| p.to_string()).collect();
            let defined_values: BTreeSet<String> = e.values.iter().map(|(p, _)| p.to_string()).collect();
            assert_eq!(used_names, defined_names, "{what}: names");
            assert_eq!(used_values, defined_values, "{what}: values");
        }
    }
}
