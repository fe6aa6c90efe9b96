//! Roamify webhooks. `X-Roamify-Signature` is the hex HMAC-SHA256 of the raw body under the webhook secret
//! (mandatory). Older payloads put the fields at the top level, current ones under `data`: both are read.
//! Categories: `esim` (status, usage), `partner` (balance), `affiliate` (order), `refund` (with `event_id`).
//! Times are unix seconds.

use super::json::{self, json_fields, Field, Obj, ReadFields};
use super::registry::{ProviderSpec, Signature};
use super::roamify_api::{any_case, lifecycle};
use super::{plausible_iccid, start_event, unreadable, NormalizeError, Provider};
use crate::auth::{signature_tag, AuthFailure, KeyRing, MacRing, Verified};
use crate::ingress::Delivery;
use crate::model::{
    refs_sent, AccountBalance, Bundle, DataUsage, EsimIdentity, Event, EventKind, OrderInfo, ProviderId, StatusChange,
    Validity,
};
use crate::simulate::SampleParams;
use crate::time::from_unix_seconds;
use chrono::{DateTime, Utc};
use hmac::Hmac;
use lambda_http::http::HeaderName;
use serde_json::{json, Value};
use sha2::Sha256;
use std::borrow::Cow;
use std::sync::Arc;

pub const SIGNATURE_HEADER: &str = "x-roamify-signature";
/// The header parsed once, not on every lookup.
static SIGNATURE: HeaderName = HeaderName::from_static(SIGNATURE_HEADER);

/// The reference by which the reseller's own order comes back (a contact can be registered under it).
pub const RESELLER_ORDER_REF: &str = "reference_id";

/// Roamify counts data in MB, 1024 of them to its 1 GB packages.
pub const DATA_UNITS: crate::model::DataUnits = crate::model::DataUnits::Binary;

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
        let tag = signature_tag(delivery, &SIGNATURE, 32)?.ok_or(AuthFailure::MissingSignature(SIGNATURE_HEADER))?;
        if !self.secrets.matches(&delivery.body, &tag) {
            return Err(AuthFailure::SignatureMismatch);
        }
        Ok(Verified::new(ProviderId::Roamify, delivery))
    }
}

/// Maps an authenticated delivery to the common model (needs no secret).
pub fn normalize(verified: Verified<'_>) -> Result<Event, NormalizeError> {
    let (root, json) = match json::parse::<Root>(verified.body()) {
        Ok(parsed) => parsed,
        Err(error) => return unreadable(&verified, &error),
    };
    let top = &root.fields;
    let category = top.event_category.as_str();
    let event_type = top.event_type.as_str();
    let kind = match (category, event_type) {
        (Some("esim"), Some("status")) => EventKind::EsimStatus,
        (Some("esim"), Some("usage")) => EventKind::DataUsage,
        (Some("partner"), Some("low_balance" | "insufficient_balance" | "top_up")) => EventKind::AccountBalance,
        (Some("affiliate"), Some("order")) => EventKind::Order,
        (Some("refund"), Some("refunded" | "rejected")) => EventKind::Refund,
        _ => EventKind::Unrecognized,
    };
    let mut event = start_event(&verified, json.to_raw_value(), kind, top.event_id.text_ref());
    event.provider_event_type = match (top.event_category.text_ref(), top.event_type.text_ref()) {
        (Some(c), Some(t)) => Some([&c, "/", &t].concat()),
        (c, t) => c.or(t).map(Cow::into_owned),
    };
    // Current layout nests the fields under `data`; older payloads have them at the top level.
    let fields = root.data.as_deref().unwrap_or(top);
    describe(&mut event, event_type, fields, &top.timestamp);
    Ok(event)
}

/// Fills in what the fields say about an event of a recognised kind.
fn describe(event: &mut Event, event_type: Option<&str>, fields: &Fields<'_>, root_timestamp: &Field<'_>) {
    event.set_occurred_at(unix(&fields.timestamp).or_else(|| unix(root_timestamp)));
    let kind = event.kind;
    match kind {
        EventKind::EsimStatus | EventKind::DataUsage => {
            event.esim = identity(fields, &mut event.flags);
            if event.esim.is_none() {
                event.flags.push("no_esim_identity".into());
            }
            event.bundle = bundle(fields);
            let validity = Validity {
                expires_at: unix(&fields.end),
                starts_at: unix(&fields.start),
                ..Validity::default()
            };
            event.validity = Some(validity).filter(|v| v.expires_at.is_some());
            if kind == EventKind::EsimStatus {
                event.status = fields.status.text().map(|s| StatusChange {
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
            let low = event_type != Some("top_up");
            let percent = fields.threshold_percentage.number();
            let level = event_type.unwrap_or_default();
            event.balance = Some(AccountBalance {
                balance: fields.balance.number(),
                threshold: fields.threshold.number(),
                currency: fields.currency.text(),
                provider_level: Some(match percent {
                    Some(p) if low => format!("{level} ({p:.0}% of threshold)"),
                    _ => level.to_string(),
                }),
                low,
            });
        }
        EventKind::Order => {
            event.order = Some(OrderInfo {
                order_ref: fields.order_data.order_id.text(),
                status: fields.order_data.order_status.text(),
                transaction_ref: None,
            });
        }
        EventKind::Refund => {
            event.esim = identity(fields, &mut event.flags);
            event.order = Some(OrderInfo {
                order_ref: fields.refund_id.text(),
                status: fields.status.text(),
                transaction_ref: None,
            });
        }
        _ => {}
    }
}

json_fields! {
    /// The fields read from a delivery, at the top level (older payloads) or under `data` (current ones). The
    /// usage amounts have several candidate names because the exact ones are not documented for certain.
    struct Fields<'a> {
        "event_category" => event_category: Field<'a>,
        "event_type" => event_type: Field<'a>,
        "event_id" => event_id: Field<'a>,
        "timestamp" => timestamp: Field<'a>,
        "iccid" => iccid: Field<'a>,
        "esim_id" => esim_id: Field<'a>,
        "reference_id" => reference_id: Field<'a>,
        "package_id" => package_id: Field<'a>,
        "package_name" => package_name: Field<'a>,
        "start" => start: Field<'a>,
        "end" => end: Field<'a>,
        "status" => status: Field<'a>,
        "unlimited" => unlimited: Field<'a>,
        "data_units" => data_units: Field<'a>,
        // Total, most likely name first.
        "data_total" => data_total: Field<'a>,
        "total_data" => total_data: Field<'a>,
        "data_limit" => data_limit: Field<'a>,
        "data_allowance" => data_allowance: Field<'a>,
        "allowance" => allowance: Field<'a>,
        "total" => total: Field<'a>,
        // Used.
        "data_used" => data_used: Field<'a>,
        "used_data" => used_data: Field<'a>,
        "data_usage" => data_usage: Field<'a>,
        "used" => used: Field<'a>,
        "usage" => usage: Field<'a>,
        // Remaining.
        "data_remaining" => data_remaining: Field<'a>,
        "remaining_data" => remaining_data: Field<'a>,
        "data_left" => data_left: Field<'a>,
        "data_balance" => data_balance: Field<'a>,
        "remaining" => remaining: Field<'a>,
        // Percentage used.
        "data_used_percentage" => data_used_percentage: Field<'a>,
        "usage_percentage" => usage_percentage: Field<'a>,
        "used_percentage" => used_percentage: Field<'a>,
        "percentage" => percentage: Field<'a>,
        "balance" => balance: Field<'a>,
        "threshold" => threshold: Field<'a>,
        "threshold_percentage" => threshold_percentage: Field<'a>,
        "currency" => currency: Field<'a>,
        "order_data" => order_data: Obj<OrderData<'a>>,
        "refund_id" => refund_id: Field<'a>,
    }
}

/// A delivery: its fields, and the same fields again under `data` when it nests them. Only one level: a
/// `data` inside `data` is skipped, not recursed into.
#[derive(Debug, Default)]
struct Root<'a> {
    fields: Fields<'a>,
    /// Boxed, and only when `data` is an object: a flat delivery never builds a second set of fields.
    data: Option<Box<Fields<'a>>>,
}

impl<'de: 'a, 'a> ReadFields<'de> for Root<'a> {
    fn read_field<A: serde::de::MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error> {
        if key == "data" {
            let data: Obj<Box<Fields<'a>>> = map.next_value()?;
            self.data = data.is_object().then(|| data.into_inner());
            return Ok(true);
        }
        self.fields.read_field(key, map)
    }
}

impl<'de: 'a, 'a> serde::Deserialize<'de> for Root<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        json::read_object(deserializer)
    }
}

json_fields! {
    struct OrderData<'a> {
        "order_id" => order_id: Field<'a>,
        "order_status" => order_status: Field<'a>,
    }
}

fn unix(field: &Field<'_>) -> Option<DateTime<Utc>> {
    field
        .number()
        .filter(|s| s.fract() == 0.0)
        .and_then(|s| from_unix_seconds(s as i64))
}

fn identity(fields: &Fields<'_>, flags: &mut Vec<String>) -> Option<EsimIdentity> {
    let iccid = plausible_iccid(fields.iccid.text(), flags);
    let esim_id = fields.esim_id.text();
    let key = iccid.clone().or_else(|| esim_id.clone())?;
    let refs = refs_sent([
        ("esim_id", esim_id),
        ("reference_id", fields.reference_id.text()),
        ("package_id", fields.package_id.text()),
    ]);
    Some(EsimIdentity { key, iccid, refs })
}

fn bundle(fields: &Fields<'_>) -> Option<Bundle> {
    let reference = fields.package_id.text();
    let name = fields.package_name.text();
    (reference.is_some() || name.is_some()).then_some(Bundle { reference, name })
}

/// Bytes per unit of `data_units` (Roamify documents "MB"; 1024 MB make its 1 GB packages).
fn unit_bytes(unit: Option<&str>) -> Option<f64> {
    const MB: f64 = 1024.0 * 1024.0;
    const UNITS: [(&str, f64); 8] = [
        ("MB", MB),
        ("MIB", MB),
        ("GB", 1024.0 * MB),
        ("GIB", 1024.0 * MB),
        ("KB", 1024.0),
        ("KIB", 1024.0),
        ("B", 1.0),
        ("BYTES", 1.0),
    ];
    unit.map_or(Some(MB), |unit| any_case(unit.trim(), &UNITS))
}

fn first_number(candidates: &[&Field<'_>]) -> Option<f64> {
    candidates.iter().find_map(|field| field.number()).filter(|n| *n >= 0.0)
}

fn usage(f: &Fields<'_>) -> DataUsage {
    let scale = unit_bytes(f.data_units.text_ref().as_deref());
    let bytes = |candidates: &[&Field<'_>]| Some((first_number(candidates)? * scale?).round() as u64);
    let mut usage = DataUsage {
        total_bytes: bytes(&[
            &f.data_total,
            &f.total_data,
            &f.data_limit,
            &f.data_allowance,
            &f.allowance,
            &f.total,
        ]),
        used_bytes: bytes(&[&f.data_used, &f.used_data, &f.data_usage, &f.used, &f.usage]),
        remaining_bytes: bytes(&[
            &f.data_remaining,
            &f.remaining_data,
            &f.data_left,
            &f.data_balance,
            &f.remaining,
        ]),
        unlimited: f.unlimited.bool().unwrap_or(false),
        ..DataUsage::default()
    };
    if usage.total_bytes.is_none() {
        if let (Some(used), Some(remaining)) = (usage.used_bytes, usage.remaining_bytes) {
            // Amounts saturate at u64::MAX, so their sum can overflow: an unknowable total stays unknown.
            usage.total_bytes = used.checked_add(remaining);
        }
    }
    let mut usage = usage.complete();
    if usage.remaining_ratio.is_none() {
        usage.remaining_ratio = first_number(&[
            &f.data_used_percentage,
            &f.usage_percentage,
            &f.used_percentage,
            &f.percentage,
        ])
        .filter(|p| *p <= 100.0)
        .map(|p| 1.0 - p / 100.0);
    }
    usage
}

/// Roamify in the provider list.
pub static SPEC: ProviderSpec = ProviderSpec {
    id: ProviderId::Roamify,
    title: "Roamify",
    extra_secrets: &[],
    build: |config| Ok(Arc::new(Roamify::new(config.secrets.clone()))),
    normalize,
    sign: |body, secret| {
        let tag = crate::simulate::hmac_sha256(secret, body);
        Signature::Header(SIGNATURE_HEADER, hex::encode(tag))
    },
    event_types: &["usage", "status", "expired", "low_balance", "refund", "order"],
    scenario: &[
        ("order", 100),
        ("status", 100),
        ("usage", 50),
        ("usage", 8),
        ("expired", 8),
    ],
    sample,
    order_ref_field: Some(RESELLER_ORDER_REF),
    data_units: DATA_UNITS,
    type_field: Some("event_type"),
    usage_api: Some(&super::roamify_api::USAGE_API),
};

fn sample(t: &str, p: &SampleParams) -> Option<Value> {
    use crate::simulate::merge;
    use chrono::Duration;
    let (ends, tran_no) = (p.ends(), p.tran_no());
    let body = {
        let esim = json!({"timestamp": p.now.timestamp(), "iccid": p.iccid, "esim_id": format!("esim-{tran_no}"), "reference_id": format!("ref-{tran_no}"),
            "start": (ends - Duration::days(7)).timestamp(), "end": ends.timestamp()});
        let mb = 1024u64;
        let remaining_mb = mb * u64::from(p.remaining_percent.min(100)) / 100;
        match t {
            "status" => {
                json!({"event_category": "esim", "event_type": "status", "data": merge(esim, json!({"status": "ACTIVATED"}))})
            }
            "expired" => {
                json!({"event_category": "esim", "event_type": "status", "data": merge(esim, json!({"status": "EXPIRED"}))})
            }
            "usage" => {
                json!({"event_category": "esim", "event_type": "usage", "data": merge(esim, json!({"status": "ACTIVATED",
                "package_id": "esim-fr-7days-1gb", "package_name": "France 1GB 7 Days", "data_units": "MB", "voice_units": "minutes",
                "sms_units": "messages", "data_total": mb, "data_used": mb - remaining_mb, "data_remaining": remaining_mb}))})
            }
            "low_balance" => {
                json!({"event_category": "partner", "event_type": "low_balance", "data": {"timestamp": p.now.timestamp(),
                "balance": 42.5, "threshold": 100, "threshold_percentage": 42.5}})
            }
            "refund" => {
                json!({"event_id": format!("rfd_{}_refunded", p.sequence), "event_category": "refund", "event_type": "refunded",
                "data": {"timestamp": p.now.timestamp(), "refund_id": p.sequence.to_string(), "status": "REFUNDED", "product_type": "esim",
                "esim_id": format!("esim-{tran_no}"), "iccid": p.iccid}})
            }
            "order" => {
                json!({"event_category": "affiliate", "event_type": "order", "data": {"timestamp": p.now.timestamp(), "partner_name": "esimhooks",
                "partner_id": "p-1", "commission_rate": 10, "commission_amount": 0.95, "order_data": {"order_id": format!("o-{}", p.sequence),
                "order_total": 9.5, "order_currency": "USD", "order_status": "completed", "order_items": []}}})
            }
            _ => return None,
        }
    };
    Some(body)
}
