//! The table's items as Rust types, mapped with `serde_dynamo`. Deliveries, alerts and customer messages are
//! each one [`ClaimRecord`] (claimed under a lease, then done); eSIM states are a [`StateItem`]. Each keeps
//! its document (the normalized event with its raw body, the alert, the state, the message) in compact form:
//! deflated JSON in one binary attribute `doc`, which keeps a delivery within one write unit (1 KB). Items
//! written before it hold the same document as JSON text (`event`, `alert`, `state`, `notification`) and
//! stay readable.

use super::Item;
use crate::store::StoreError;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

/// The format byte of a compact document: deflated JSON.
const DEFLATED_JSON: u8 = 1;
/// A document never inflates past this (DynamoDB items stop at 400 KB).
const MAX_DOCUMENT: usize = 1 << 20;

/// A document in compact form: the format byte, then the deflated JSON.
pub(crate) fn pack<T: Serialize>(value: &T) -> Result<ByteBuf, StoreError> {
    let json = serde_json::to_vec(value).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(pack_json(&json))
}

/// JSON text in compact form, byte for byte: it unpacks to exactly what reading the text gives.
pub(crate) fn pack_json(json: &[u8]) -> ByteBuf {
    let mut packed = vec![DEFLATED_JSON];
    packed.extend(miniz_oxide::deflate::compress_to_vec(json, 9));
    ByteBuf::from(packed)
}

pub(crate) fn unpack<T: DeserializeOwned>(packed: &[u8]) -> Result<T, StoreError> {
    let corrupt = |what: String| StoreError::Corrupt(format!("stored document: {what}"));
    let (&format, deflated) = packed.split_first().ok_or_else(|| corrupt("empty".into()))?;
    if format != DEFLATED_JSON {
        return Err(corrupt(format!("unknown format {format}")));
    }
    let json = miniz_oxide::inflate::decompress_to_vec_with_limit(deflated, MAX_DOCUMENT)
        .map_err(|e| corrupt(format!("{e:?}")))?;
    serde_json::from_slice(&json).map_err(|e| corrupt(e.to_string()))
}

/// The document of an item: compact (`doc`) or, on an item from before it, JSON text (`compat::documents`).
fn document<T: DeserializeOwned>(doc: &Option<ByteBuf>, legacy: &Option<String>) -> Result<T, StoreError> {
    match (doc, legacy) {
        (Some(packed), _) => unpack(packed),
        (None, Some(text)) => crate::compat::documents::from_text(text).map_err(|e| StoreError::Corrupt(e.to_string())),
        (None, None) => Err(StoreError::Corrupt("item has no document".into())),
    }
}

/// A delivery, an alert or a customer message: claimed under a lease (`status`, `attempt`, `lease_until`),
/// then done. Attribute names are those of the items before this type, so old claims compare the same.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct ClaimRecord {
    pub pk: String,
    pub sk: String,
    /// Empty on a conflict record, which shares this type to read its document.
    #[serde(default)]
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<String>,
    /// Epoch milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_until: Option<i64>,
    /// A delivery's payload hash: the same key with another payload is a conflict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload_sha256: Option<String>,
    /// Projected into the listing index with `esim_key`, so listings filter without reading items.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub esim_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub doc: Option<ByteBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gsi1pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gsi1sk: Option<String>,
    /// Epoch seconds; clean-up only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<i64>,
    // Set by the conditional updates that finish a claim (never by a put).
    #[serde(default, skip_serializing)]
    pub completed_at: Option<String>,
    #[serde(default, skip_serializing)]
    pub last_error: Option<String>,
    #[serde(default, skip_serializing)]
    pub sent_at: Option<String>,
    #[serde(default, skip_serializing)]
    pub receipt: Option<String>,
    // The document of an item written before the compact form.
    #[serde(default, skip_serializing)]
    pub event: Option<String>,
    #[serde(default, skip_serializing)]
    pub alert: Option<String>,
    #[serde(default, skip_serializing)]
    pub notification: Option<String>,
}

impl ClaimRecord {
    pub fn event<T: DeserializeOwned>(&self) -> Result<T, StoreError> {
        document(&self.doc, &self.event)
    }

    pub fn alert<T: DeserializeOwned>(&self) -> Result<T, StoreError> {
        document(&self.doc, &self.alert)
    }

    pub fn notification<T: DeserializeOwned>(&self) -> Result<T, StoreError> {
        document(&self.doc, &self.notification)
    }
}

/// An eSIM's state, versioned for optimistic concurrency. `gsi2pk`/`gsi2sk` place it in the expiry index
/// while its plan end is known, `gsi3pk`/`gsi3sk` in the asking index while it is filed to be asked; a save
/// that keeps both writes one item.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct StateItem {
    pub pk: String,
    pub sk: String,
    pub version: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub doc: Option<ByteBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gsi2pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gsi2sk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gsi3pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gsi3sk: Option<String>,
    #[serde(default, skip_serializing)]
    pub state: Option<String>,
}

impl StateItem {
    pub fn state<T: DeserializeOwned>(&self) -> Result<T, StoreError> {
        document(&self.doc, &self.state)
    }
}

pub(crate) fn to_item<T: Serialize>(value: &T) -> Result<Item, StoreError> {
    serde_dynamo::to_item(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub(crate) fn from_item<T: DeserializeOwned>(item: Item) -> Result<T, StoreError> {
    serde_dynamo::from_item(item).map_err(|e| StoreError::Corrupt(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_packed_document_reads_back_and_a_foreign_format_is_refused() {
        let value = serde_json::json!({"raw": "  {\"a\": 1}\t", "n": [1, 2, 3], "text": "ü €"});
        let packed = pack(&value).unwrap();
        assert_eq!(packed[0], DEFLATED_JSON);
        assert_eq!(unpack::<serde_json::Value>(&packed).unwrap(), value);
        let mut foreign = packed.to_vec();
        foreign[0] = 7;
        assert!(unpack::<serde_json::Value>(&foreign).is_err());
        assert!(unpack::<serde_json::Value>(&[]).is_err());
        assert!(unpack::<serde_json::Value>(&[DEFLATED_JSON, 0xff, 0x00]).is_err());
    }

    #[test]
    fn a_claim_maps_to_the_attributes_it_names_and_back() {
        let record = ClaimRecord {
            pk: "EVENT#roamify#k".into(),
            sk: "EVENT".into(),
            status: "IN_PROGRESS".into(),
            attempt: Some("a-1".into()),
            lease_until: Some(1_700_000_000_000),
            doc: Some(pack(&serde_json::json!({"x": 1})).unwrap()),
            ..ClaimRecord::default()
        };
        let item = to_item(&record).unwrap();
        assert!(item["doc"].is_b());
        assert_eq!(item["lease_until"].as_n().unwrap(), "1700000000000");
        assert!(!item.contains_key("completed_at") && !item.contains_key("gsi1pk"));
        let back: ClaimRecord = from_item(item).unwrap();
        assert_eq!(back.event::<serde_json::Value>().unwrap(), serde_json::json!({"x": 1}));
        assert_eq!(back.attempt.as_deref(), Some("a-1"));
    }

    #[test]
    fn an_item_from_before_the_compact_form_reads_its_json_text() {
        let mut item = crate::store::dynamodb::item_key("ALERT#a".into(), "ALERT");
        item.insert("status".into(), crate::store::dynamodb::s("SENT"));
        item.insert("alert".into(), crate::store::dynamodb::s(r#"{"y":2}"#));
        item.insert("sent_at".into(), crate::store::dynamodb::s("2026-01-01T00:00:00Z"));
        let record: ClaimRecord = from_item(item).unwrap();
        assert_eq!(
            record.alert::<serde_json::Value>().unwrap(),
            serde_json::json!({"y": 2})
        );
        assert_eq!(record.sent_at.as_deref(), Some("2026-01-01T00:00:00Z"));
        assert!(record.event::<serde_json::Value>().is_err());
    }
}
