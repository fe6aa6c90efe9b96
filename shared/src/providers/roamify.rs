//! Roamify webhooks. `X-Roamify-Signature` is the hex HMAC-SHA256 of the raw body under the webhook secret
//! (mandatory). Older payloads put the fields at the top level, current ones under `data`: both are read.
//! Categories: `esim` (status, usage), `partner` (balance), `affiliate` (order), `refund` (with `event_id`).
//! Times are unix seconds.

use super::json::{number, text, Body};
use super::{start_event, NormalizeError, Provider};
use crate::auth::{signature_tag, AuthFailure, KeyRing, MacRing, Verified};
use crate::ingress::Delivery;
use crate::model::{
    AccountBalance, Bundle, DataUsage, EsimIdentity, Event, EventKind, Lifecycle, OrderInfo, ProviderId, StatusChange,
    Validity,
};
use crate::time::from_unix_seconds;
use chrono::{DateTime, Utc};
use hmac::Hmac;
use serde_json::{Map, Value};
use sha2::Sha256;
use std::collections::BTreeMap;

pub const SIGNATURE_HEADER: &str = "x-roamify-signature";

/// Where usage amounts may be, most likely first: the exact names are not documented for certain.
const TOTAL_FIELDS: &[&str] = &[
    "data_total",
    "total_data",
    "data_limit",
    "data_allowance",
    "allowance",
    "total",
];
const USED_FIELDS: &[&str] = &["data_used", "used_data", "data_usage", "used", "usage"];
const REMAINING_FIELDS: &[&str] = &[
    "data_remaining",
    "remaining_data",
    "data_left",
    "data_balance",
    "remaining",
];
const USED_PERCENT_FIELDS: &[&str] = &[
    "data_used_percentage",
    "usage_percentage",
    "used_percentage",
    "percentage",
];

#[derive(Debug, Clone)]
pub struct Roamify {
    secrets: MacRing<Hmac<Sha256>>,
}

impl Roamify {
    pub fn new(secrets: KeyRing) -> Self {
        Self {
            secrets: MacRing::new(&secrets),
        }
    }
}

impl Provider for Roamify {
    fn id(&self) -> ProviderId {
        ProviderId::Roamify
    }

    fn authenticate<'a>(&self, delivery: &'a Delivery) -> Result<Verified<'a>, AuthFailure> {
        let tag =
            signature_tag(delivery, SIGNATURE_HEADER, 32)?.ok_or(AuthFailure::MissingSignature(SIGNATURE_HEADER))?;
        if !self.secrets.matches(&delivery.body, &tag) {
            return Err(AuthFailure::SignatureMismatch);
        }
        Ok(Verified::new(ProviderId::Roamify, delivery))
    }

    fn normalize(&self, verified: Verified<'_>) -> Result<Event, NormalizeError> {
        let body = Body::parse(verified.body()).map_err(|e| NormalizeError::NotJson(e.to_string()))?;
        let root = body.object();
        // Current layout nests the fields under `data`; older payloads have them at the top level.
        let fields = match root.get("data") {
            Some(Value::Object(data)) => data,
            _ => root,
        };
        let category = text(root, "event_category");
        let event_type = text(root, "event_type");
        let kind = match (category.as_deref(), event_type.as_deref()) {
            (Some("esim"), Some("status")) => EventKind::EsimStatus,
            (Some("esim"), Some("usage")) => EventKind::DataUsage,
            (Some("partner"), Some("low_balance" | "insufficient_balance" | "top_up")) => EventKind::AccountBalance,
            (Some("affiliate"), Some("order")) => EventKind::Order,
            (Some("refund"), Some("refunded" | "rejected")) => EventKind::Refund,
            _ => EventKind::Unrecognized,
        };
        let mut event = start_event(&verified, kind, text(root, "event_id").as_deref())?;
        event.provider_event_type = match (&category, &event_type) {
            (Some(c), Some(t)) => Some(format!("{c}/{t}")),
            (c, t) => c.clone().or(t.clone()),
        };
        event.set_occurred_at(unix(fields, "timestamp").or_else(|| unix(root, "timestamp")));
        if kind == EventKind::Unrecognized {
            return Ok(event);
        }

        match kind {
            EventKind::EsimStatus | EventKind::DataUsage => {
                event.esim = identity(fields);
                if event.esim.is_none() {
                    event.flags.push("no_esim_identity".into());
                }
                event.bundle = bundle(fields);
                let validity = Validity {
                    expires_at: unix(fields, "end"),
                    starts_at: unix(fields, "start"),
                    ..Validity::default()
                };
                event.validity = Some(validity).filter(|v| v.expires_at.is_some());
                if kind == EventKind::EsimStatus {
                    event.status = text(fields, "status").map(|s| StatusChange {
                        lifecycle: lifecycle(&s),
                        provider_status: s,
                        profile_status: None,
                    });
                } else {
                    // A usage event's own `status` is not taken: lifecycle changes come from status events only.
                    let usage = usage(fields);
                    if usage.remaining_ratio.is_none() {
                        event.flags.push("usage_amounts_missing".into());
                        tracing::warn!(
                            provider = "roamify",
                            "usage event without readable amounts: stored, no low-data alert"
                        );
                    }
                    event.usage = Some(usage);
                }
            }
            EventKind::AccountBalance => {
                let low = event_type.as_deref() != Some("top_up");
                let percent = number(fields, "threshold_percentage");
                let level = event_type.clone().unwrap_or_default();
                event.balance = Some(AccountBalance {
                    balance: number(fields, "balance"),
                    threshold: number(fields, "threshold"),
                    currency: text(fields, "currency"),
                    provider_level: Some(match percent {
                        Some(p) if low => format!("{level} ({p:.0}% of threshold)"),
                        _ => level,
                    }),
                    low,
                });
            }
            EventKind::Order => {
                let order = Body::child(fields, "order_data");
                event.order = Some(OrderInfo {
                    order_ref: text(order, "order_id"),
                    status: text(order, "order_status"),
                    transaction_ref: None,
                });
            }
            EventKind::Refund => {
                event.esim = identity(fields);
                event.order = Some(OrderInfo {
                    order_ref: text(fields, "refund_id"),
                    status: text(fields, "status"),
                    transaction_ref: None,
                });
            }
            _ => {}
        }
        Ok(event)
    }
}

fn unix(fields: &Map<String, Value>, name: &str) -> Option<DateTime<Utc>> {
    number(fields, name)
        .filter(|s| s.fract() == 0.0)
        .and_then(|s| from_unix_seconds(s as i64))
}

fn identity(fields: &Map<String, Value>) -> Option<EsimIdentity> {
    let iccid = text(fields, "iccid");
    let esim_id = text(fields, "esim_id");
    let key = iccid.clone().or_else(|| esim_id.clone())?;
    let refs: BTreeMap<String, String> = ["esim_id", "reference_id", "package_id"]
        .into_iter()
        .filter_map(|name| text(fields, name).map(|v| (name.to_string(), v)))
        .collect();
    Some(EsimIdentity { key, iccid, refs })
}

fn bundle(fields: &Map<String, Value>) -> Option<Bundle> {
    let reference = text(fields, "package_id");
    let name = text(fields, "package_name");
    (reference.is_some() || name.is_some()).then_some(Bundle { reference, name })
}

fn lifecycle(status: &str) -> Lifecycle {
    match status.to_ascii_uppercase().as_str() {
        "NEW" => Lifecycle::Pending,
        "INSTALLED" => Lifecycle::Installed,
        "ACTIVATED" | "ACTIVE" => Lifecycle::Active,
        "INACTIVE" => Lifecycle::Suspended,
        "EXPIRED" => Lifecycle::Expired,
        "REVOKED" => Lifecycle::Cancelled,
        "DELETED" => Lifecycle::Deleted,
        _ => Lifecycle::Unknown,
    }
}

/// Bytes per unit of `data_units` (Roamify documents "MB"; 1024 MB make its 1 GB packages).
fn unit_bytes(unit: Option<&str>) -> Option<f64> {
    match unit.map(|u| u.trim().to_ascii_uppercase()).as_deref() {
        None | Some("MB" | "MIB") => Some(1024.0 * 1024.0),
        Some("GB" | "GIB") => Some(1024.0 * 1024.0 * 1024.0),
        Some("KB" | "KIB") => Some(1024.0),
        Some("B" | "BYTES") => Some(1.0),
        Some(_) => None,
    }
}

fn first_number(fields: &Map<String, Value>, names: &[&str]) -> Option<f64> {
    names.iter().find_map(|name| number(fields, name)).filter(|n| *n >= 0.0)
}

fn usage(fields: &Map<String, Value>) -> DataUsage {
    let scale = unit_bytes(text(fields, "data_units").as_deref());
    let bytes = |names: &[&str]| Some((first_number(fields, names)? * scale?).round() as u64);
    let mut usage = DataUsage {
        total_bytes: bytes(TOTAL_FIELDS),
        used_bytes: bytes(USED_FIELDS),
        remaining_bytes: bytes(REMAINING_FIELDS),
        unlimited: fields.get("unlimited").and_then(Value::as_bool).unwrap_or(false),
        ..DataUsage::default()
    };
    if usage.total_bytes.is_none() {
        if let (Some(used), Some(remaining)) = (usage.used_bytes, usage.remaining_bytes) {
            usage.total_bytes = Some(used + remaining);
        }
    }
    let mut usage = usage.complete();
    if usage.remaining_ratio.is_none() {
        usage.remaining_ratio = first_number(fields, USED_PERCENT_FIELDS)
            .filter(|p| *p <= 100.0)
            .map(|p| 1.0 - p / 100.0);
    }
    usage
}
