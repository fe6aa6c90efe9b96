//! The write path ([`EventStore`]) on the table: claims, completions, states and alerts as the item types of
//! [`super::items`], under the conditions below.

use super::conditions::{
    abandon_delivery_expr, begin_delivery_expr, claim_expr, conflict_first_seen_expr, finish_delivery_expr,
    mark_alert_sent_expr, record_conflict_expr, record_late_conflict_expr, release_alert_expr, rewrite_event_expr,
    save_state_expr,
};
use super::items::{from_item, pack, to_item, ClaimRecord, StateItem};
use super::{
    condition_held, get_ms, get_s, item_key, parse_alert_status, parse_delivery_status, unavailable, ClaimWrite,
    DynamoStore, Item,
};
use crate::alerts::Alert;
use crate::model::{DedupeKey, Event, ProviderId};
use crate::state::{Asking, EsimState};
use crate::store::keys::{
    alert_pk, asking_entry, conflict_pk, delivery_pk, expiry_buckets, expiry_entry, listing_entry, sort_range,
    state_pk, Listing, ALERT_SK, DELIVERY_SK, STATE_SK,
};
use crate::store::{
    alert_decision, delivery_decision, AlertClaim, AlertStatus, Begin, Decision, DeliveryStatus, EventStore, Lease,
    StoreError, Versioned,
};
use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, Utc};
use serde_bytes::ByteBuf;

/// The item a state is saved as, at `version`, with its document `doc`: its expiry entry while its plan end is
/// known, its asking entry while it is filed to be asked.
pub(crate) fn state_item(state: &EsimState, version: u64, doc: ByteBuf) -> StateItem {
    let pk = state_pk(state.provider, &state.key);
    let ends = state.expires_at().map(|at| expiry_entry(&pk, at));
    let asked = state
        .asking
        .as_ref()
        .and_then(Asking::filing)
        .map(|(at, routine)| asking_entry(state.provider, &pk, at, routine));
    StateItem {
        pk,
        sk: STATE_SK.into(),
        version,
        doc: Some(doc),
        gsi2pk: ends.as_ref().map(|e| e.pk.clone()),
        gsi2sk: ends.map(|e| e.sk),
        gsi3pk: asked.as_ref().map(|e| e.pk.clone()),
        gsi3sk: asked.map(|e| e.sk),
        state: None,
    }
}

impl DynamoStore {
    fn delivery_key(provider: ProviderId, dedupe_key: &str) -> Item {
        item_key(delivery_pk(provider, dedupe_key), DELIVERY_SK)
    }

    fn alert_key(alert_id: &str) -> Item {
        item_key(alert_pk(alert_id), ALERT_SK)
    }
}

#[async_trait]
impl EventStore for DynamoStore {
    async fn begin_delivery(&self, event: &Event, lease: &Lease, now: DateTime<Utc>) -> Result<Begin, StoreError> {
        let pk = delivery_pk(event.provider, event.dedupe_key.as_str());
        let listed = listing_entry(Listing::Deliveries, &pk, event.received_at);
        let record = ClaimRecord {
            pk: pk.clone(),
            sk: DELIVERY_SK.into(),
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
        let condition = begin_delivery_expr(&event.payload_sha256, now);
        let old = match self.put_claim(to_item(&record)?, condition).await? {
            ClaimWrite::Written(_) => return Ok(Begin::Started),
            ClaimWrite::Refused(old) => old,
        };
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
        let request = || {
            self.client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(item_key(pk.clone(), event.payload_sha256.as_str())))
        };
        if condition_held(expression.on_update(request()).send().await)? {
            return Ok(());
        }
        // A copy that arrives after a later one (a retry overtaken, say): counted, and the first sighting moved
        // back if it is earlier; each write atomic, so concurrent copies keep the earliest and the latest.
        record_late_conflict_expr()
            .on_update(request())
            .send()
            .await
            .map_err(unavailable)?;
        condition_held(
            conflict_first_seen_expr(event.received_at)
                .on_update(request())
                .send()
                .await,
        )?;
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
            .set_key(Some(item_key(state_pk(provider, esim_key), STATE_SK)))
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
        let item = state_item(state, expected.map_or(1, |v| v + 1), pack(state)?);
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
        let range = sort_range(from, until);
        let entries = self.query_buckets(super::EXPIRY_INDEX, buckets, range, None).await?;
        let keys = entries
            .iter()
            .filter_map(|entry| Some(item_key(get_s(entry, "pk")?.to_string(), STATE_SK)))
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
            sk: ALERT_SK.into(),
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
        let old = match self.put_claim(to_item(&record)?, claim_expr(now)).await? {
            ClaimWrite::Written(_) => return Ok(AlertClaim::Claimed),
            ClaimWrite::Refused(old) => old,
        };
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
