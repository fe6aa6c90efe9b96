//! The write path ([`EventStore`]) on the table: claims, completions, states and alerts as the item types of
//! [`super::items`], under the conditions below.

use super::items::{from_item, pack, to_item, ClaimRecord, StateItem};
use super::{
    condition_held, get_ms, get_s, item_key, n, parse_alert_status, parse_delivery_status, s, unavailable, DynamoStore,
    Expression, Item,
};
use crate::alerts::Alert;
use crate::model::{DedupeKey, Event, ProviderId};
use crate::state::EsimState;
use crate::store::keys::{
    alert_pk, conflict_pk, delivery_pk, expiry_buckets, expiry_entry, listing_entry, state_pk, Listing,
};
use crate::store::{
    alert_decision, delivery_decision, AlertClaim, AlertStatus, Begin, Decision, DeliveryStatus, EventStore, Lease,
    StoreError, Versioned,
};
use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, Utc};

const LEASE_NAMES: &[(&str, &str)] = &[
    ("#status", "status"),
    ("#attempt", "attempt"),
    ("#lease_until", "lease_until"),
];

fn begin_delivery_expr(payload_sha256: &str, now: DateTime<Utc>) -> Expression {
    Expression {
        condition: "attribute_not_exists(pk) OR (#status = :in_progress AND #lease_until < :now AND #sha = :sha)",
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

fn finish_delivery_expr(attempt: &str, now: DateTime<Utc>) -> Expression {
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

fn abandon_delivery_expr(attempt: &str, reason: &str) -> Expression {
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

fn rewrite_event_expr(doc: AttributeValue) -> Expression {
    Expression {
        condition: "attribute_exists(pk)",
        update: Some("SET #doc = :doc REMOVE #event, #kind"),
        names: &[("#doc", "doc"), ("#event", "event"), ("#kind", "kind")],
        values: vec![(":doc", doc)],
    }
}

/// One conflict record per (key, payload): created by the first, counted by every later one.
fn record_conflict_expr(
    doc: AttributeValue,
    event: &Event,
    gsi1pk: String,
    gsi1sk: String,
    ttl: AttributeValue,
) -> Expression {
    Expression {
        condition: "",
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

fn save_state_expr(expected: Option<u64>) -> Expression {
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

fn claim_alert_expr(now: DateTime<Utc>) -> Expression {
    Expression {
        condition: "attribute_not_exists(pk) OR (#status = :claimed AND #lease_until < :now)",
        update: None,
        names: &[("#status", "status"), ("#lease_until", "lease_until")],
        values: vec![
            (":claimed", s(AlertStatus::Claimed.as_str())),
            (":now", n(now.timestamp_millis())),
        ],
    }
}

fn mark_alert_sent_expr(attempt: &str, receipt: &str, now: DateTime<Utc>) -> Expression {
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

fn release_alert_expr(attempt: &str) -> Expression {
    Expression {
        condition: "#attempt = :attempt",
        update: Some("SET #lease_until = :zero"),
        names: &[("#attempt", "attempt"), ("#lease_until", "lease_until")],
        values: vec![(":attempt", s(attempt)), (":zero", n(0))],
    }
}

/// The old item of a failed conditional put, when DynamoDB returned it.
fn returned_item(
    error: &aws_sdk_dynamodb::error::SdkError<aws_sdk_dynamodb::operation::put_item::PutItemError>,
) -> Result<Option<Item>, ()> {
    match error.as_service_error() {
        Some(aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(c)) => {
            Ok(c.item().cloned())
        }
        _ => Err(()),
    }
}

impl DynamoStore {
    fn delivery_key(provider: ProviderId, dedupe_key: &str) -> Item {
        item_key(delivery_pk(provider, dedupe_key), "EVENT")
    }

    fn alert_key(alert_id: &str) -> Item {
        item_key(alert_pk(alert_id), "ALERT")
    }
}

#[async_trait]
impl EventStore for DynamoStore {
    async fn begin_delivery(&self, event: &Event, lease: &Lease, now: DateTime<Utc>) -> Result<Begin, StoreError> {
        let pk = delivery_pk(event.provider, event.dedupe_key.as_str());
        let listed = listing_entry(Listing::Deliveries, &pk, event.received_at);
        let record = ClaimRecord {
            pk: pk.clone(),
            sk: "EVENT".into(),
            status: DeliveryStatus::InProgress.as_str().into(),
            attempt: Some(lease.attempt.clone()),
            lease_until: Some(lease.until.timestamp_millis()),
            payload_sha256: Some(event.payload_sha256.as_str().into()),
            provider: Some(event.provider.as_str().into()),
            esim_key: event.esim.as_ref().map(|esim| esim.key.clone()),
            doc: Some(pack(event)?),
            gsi1pk: Some(listed.pk),
            gsi1sk: Some(listed.sk),
            ttl: Some(self.ttl_secs(event.received_at)),
            ..ClaimRecord::default()
        };
        let request = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(&record)?));
        let error = match begin_delivery_expr(&event.payload_sha256, now)
            .on_put(request)
            .send()
            .await
        {
            Ok(_) => return Ok(Begin::Started),
            Err(e) => e,
        };
        let Ok(returned) = returned_item(&error) else {
            return Err(unavailable(error));
        };
        let old = self.old_item(returned.as_ref(), item_key(pk, "EVENT")).await?;
        let found = old.as_ref().map(|item| {
            (
                parse_delivery_status(get_s(item, "status")),
                get_ms(item, "lease_until"),
                get_s(item, "payload_sha256").unwrap_or_default(),
            )
        });
        match delivery_decision(found, &event.payload_sha256, now) {
            Decision::Found(outcome) => Ok(outcome),
            // The record changed between the write and the read: report it busy, the retry decides.
            Decision::Take => Ok(Begin::InProgress),
        }
    }

    async fn delivery_status(
        &self,
        provider: ProviderId,
        dedupe_key: &DedupeKey,
    ) -> Result<Option<DeliveryStatus>, StoreError> {
        let status = self
            .status_at(Self::delivery_key(provider, dedupe_key.as_str()))
            .await?;
        Ok(status.map(|status| parse_delivery_status(status.as_deref())))
    }

    async fn finish_delivery(&self, event: &Event, lease: &Lease, now: DateTime<Utc>) -> Result<(), StoreError> {
        let key = Self::delivery_key(event.provider, event.dedupe_key.as_str());
        self.update_held(key, finish_delivery_expr(&lease.attempt, now), "finish delivery")
            .await
    }

    async fn abandon_delivery(&self, event: &Event, lease: &Lease, reason: &str) -> Result<(), StoreError> {
        let key = Self::delivery_key(event.provider, event.dedupe_key.as_str());
        self.update_held(key, abandon_delivery_expr(&lease.attempt, reason), "abandon delivery")
            .await
    }

    async fn rewrite_event(&self, event: &Event) -> Result<bool, StoreError> {
        let key = Self::delivery_key(event.provider, event.dedupe_key.as_str());
        let request = self.client.update_item().table_name(&self.table).set_key(Some(key));
        condition_held(
            rewrite_event_expr(AttributeValue::B(pack(event)?.into_vec().into()))
                .on_update(request)
                .send()
                .await,
        )
    }

    async fn record_conflict(&self, event: &Event) -> Result<(), StoreError> {
        let pk = conflict_pk(event.provider, event.dedupe_key.as_str());
        let listed = listing_entry(Listing::Conflicts, &pk, event.received_at);
        let expression = record_conflict_expr(
            AttributeValue::B(pack(event)?.into_vec().into()),
            event,
            listed.pk,
            listed.sk,
            self.ttl(event.received_at),
        );
        let request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(item_key(pk, event.payload_sha256.as_str())));
        expression.on_update(request).send().await.map_err(unavailable)?;
        Ok(())
    }

    async fn load_state(
        &self,
        provider: ProviderId,
        esim_key: &str,
    ) -> Result<Option<Versioned<EsimState>>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(item_key(state_pk(provider, esim_key), "STATE")))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        let Some(item) = output.item else {
            return Ok(None);
        };
        let stored: StateItem = from_item(item)?;
        Ok(Some(Versioned {
            value: stored.state()?,
            version: stored.version,
        }))
    }

    async fn save_state(&self, state: &EsimState, expected: Option<u64>) -> Result<bool, StoreError> {
        let pk = state_pk(state.provider, &state.key);
        let ends = state.expires_at().map(|at| expiry_entry(&pk, at));
        let item = StateItem {
            pk,
            sk: "STATE".into(),
            version: expected.map_or(1, |v| v + 1),
            doc: Some(pack(state)?),
            gsi2pk: ends.as_ref().map(|e| e.pk.clone()),
            gsi2sk: ends.map(|e| e.sk),
            state: None,
        };
        let request = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(&item)?));
        condition_held(save_state_expr(expected).on_put(request).send().await)
    }

    async fn expiring_states(&self, from: DateTime<Utc>, until: DateTime<Utc>) -> Result<Vec<EsimState>, StoreError> {
        let mut buckets = Vec::new();
        let mut hour = from;
        // Every shard of every hour the range touches (25 hours for a 24 h window).
        while hour.format("%Y-%m-%dT%H").to_string() <= until.format("%Y-%m-%dT%H").to_string() {
            buckets.extend(expiry_buckets(hour).into_iter().map(|b| (b, "gsi2pk")));
            hour += Duration::hours(1);
        }
        let range = super::sort_range(from, until);
        let entries = self.query_buckets(super::EXPIRY_INDEX, buckets, range, None).await?;
        let keys = entries
            .iter()
            .filter_map(|entry| Some(item_key(get_s(entry, "pk")?.to_string(), "STATE")))
            .collect();
        let mut states = Vec::new();
        for (_, item) in self.get_items(keys).await? {
            let state: EsimState = from_item::<StateItem>(item)?.state()?;
            if state.expires_at().is_some_and(|at| at >= from && at < until) {
                states.push(state);
            }
        }
        states.sort_by(|a, b| (a.expires_at(), &a.key).cmp(&(b.expires_at(), &b.key)));
        Ok(states)
    }

    async fn alert_status(&self, alert_id: &str) -> Result<Option<AlertStatus>, StoreError> {
        let status = self.status_at(Self::alert_key(alert_id)).await?;
        Ok(status.map(|status| parse_alert_status(status.as_deref())))
    }

    async fn claim_alert(&self, alert: &Alert, lease: &Lease, now: DateTime<Utc>) -> Result<AlertClaim, StoreError> {
        let pk = alert_pk(&alert.alert_id);
        let listed = listing_entry(Listing::Alerts, &pk, alert.raised_at);
        let record = ClaimRecord {
            pk: pk.clone(),
            sk: "ALERT".into(),
            status: AlertStatus::Claimed.as_str().into(),
            attempt: Some(lease.attempt.clone()),
            lease_until: Some(lease.until.timestamp_millis()),
            provider: Some(alert.provider.as_str().into()),
            esim_key: alert.esim.as_ref().map(|esim| esim.key.clone()),
            doc: Some(pack(alert)?),
            gsi1pk: Some(listed.pk),
            gsi1sk: Some(listed.sk),
            ttl: Some(self.ttl_secs(alert.raised_at)),
            ..ClaimRecord::default()
        };
        let request = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(&record)?));
        let error = match claim_alert_expr(now).on_put(request).send().await {
            Ok(_) => return Ok(AlertClaim::Claimed),
            Err(e) => e,
        };
        let Ok(returned) = returned_item(&error) else {
            return Err(unavailable(error));
        };
        let old = self
            .old_item(returned.as_ref(), Self::alert_key(&alert.alert_id))
            .await?;
        let found = old
            .as_ref()
            .map(|item| (parse_alert_status(get_s(item, "status")), get_ms(item, "lease_until")));
        match alert_decision(found, now) {
            Decision::Found(outcome) => Ok(outcome),
            Decision::Take => Ok(AlertClaim::InProgress),
        }
    }

    async fn mark_alert_sent(
        &self,
        alert: &Alert,
        lease: &Lease,
        receipt: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.update_held(
            Self::alert_key(&alert.alert_id),
            mark_alert_sent_expr(&lease.attempt, receipt, now),
            "mark alert sent",
        )
        .await
    }

    async fn release_alert(&self, alert: &Alert, lease: &Lease) -> Result<(), StoreError> {
        self.update_held(
            Self::alert_key(&alert.alert_id),
            release_alert_expr(&lease.attempt),
            "release alert",
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
            ("state-new", save_state_expr(None)),
            ("state-next", save_state_expr(Some(3))),
            ("claim-alert", claim_alert_expr(now)),
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
