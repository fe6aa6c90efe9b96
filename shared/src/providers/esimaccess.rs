//! eSIM Access (RedteaGO partner API) webhooks. They are not signed, so a delivery is authentic when it
//! carries one of our secret URL tokens (`?token=` or a last path segment) and, with the allow-list on, comes
//! from one of eSIM Access's published sender IPs. Envelope: `{notifyType, notifyId?, eventGenerateTime?,
//! content}`. ICCIDs are reused by eSIM Access, so per-eSIM state is keyed by `esimTranNo`.

use super::esimaccess_api::status_of;
use super::json::{self, json_fields, Field, Obj};
use super::registry::{ProviderConfig, ProviderSpec, Signature, SourceChecks};
use super::{plausible_iccid, start_event, unreadable, NormalizeError, Provider};
use crate::auth::{AuthFailure, KeyRing, Verified};
use crate::config::ConfigError;
use crate::ingress::Delivery;
use crate::model::{
    refs_sent, Bundle, DataUsage, EsimIdentity, Event, EventKind, OrderInfo, ProviderId, StatusChange, Validity,
};
use crate::simulate::SampleParams;
use serde_json::{json, Value};
use std::net::IpAddr;
use std::sync::Arc;

/// The sender IPs eSIM Access publishes for its webhooks.
pub const PUBLISHED_SENDER_IPS: [&str; 5] = [
    "3.1.131.226",
    "54.254.74.88",
    "18.136.190.97",
    "18.136.60.197",
    "18.136.19.137",
];

/// The reference by which the reseller's own order comes back (a contact can be registered under it).
pub const RESELLER_ORDER_REF: &str = "transactionId";

/// eSIM Access counts volumes in bytes of binary units (a 1 GB plan's `totalVolume` is 1073741824).
pub const DATA_UNITS: crate::model::DataUnits = crate::model::DataUnits::Binary;

#[derive(Debug, Clone)]
pub struct EsimAccess {
    tokens: KeyRing,
    /// `None`: allow-list off.
    allowed_ips: Option<Vec<IpAddr>>,
}

impl EsimAccess {
    pub fn new(tokens: KeyRing, allowed_ips: Option<Vec<IpAddr>>) -> Self {
        Self { tokens, allowed_ips }
    }

    pub fn published_ips() -> Vec<IpAddr> {
        PUBLISHED_SENDER_IPS.iter().filter_map(|ip| ip.parse().ok()).collect()
    }
}

impl Provider for EsimAccess {
    fn id(&self) -> ProviderId {
        ProviderId::EsimAccess
    }

    fn authenticate<'a>(&self, delivery: &'a Delivery) -> Result<Verified<'a>, AuthFailure> {
        if let Some(allowed) = &self.allowed_ips {
            let ip = delivery.source_ip.ok_or(AuthFailure::SourceIpUnknown)?;
            // IPv4-mapped IPv6 (::ffff:a.b.c.d) is the same sender.
            let ip = match ip {
                IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
                v4 => v4,
            };
            if !allowed.contains(&ip) {
                return Err(AuthFailure::SourceIpNotAllowed(ip.to_string()));
            }
        }
        let token = delivery
            .url_token(ProviderId::EsimAccess.as_str())
            .ok_or(AuthFailure::MissingToken)?;
        if !self.tokens.contains(token.as_bytes()) {
            return Err(AuthFailure::WrongToken);
        }
        Ok(Verified::new(ProviderId::EsimAccess, delivery))
    }
}

/// Maps an authenticated delivery to the common model (needs no secret).
pub fn normalize(verified: Verified<'_>) -> Result<Event, NormalizeError> {
    let (envelope, json) = match json::parse::<Envelope>(verified.body()) {
        Ok(parsed) => parsed,
        Err(error) => return unreadable(&verified, &error),
    };
    let content = &envelope.content;
    let kind = match envelope.notify_type.as_str() {
        Some("CHECK_HEALTH") => EventKind::HealthCheck,
        Some("ORDER_STATUS") => EventKind::Order,
        Some("ESIM_STATUS" | "SMDP_EVENT") => EventKind::EsimStatus,
        Some("DATA_USAGE") => EventKind::DataUsage,
        Some("VALIDITY_USAGE") => EventKind::Validity,
        _ => EventKind::Unrecognized,
    };
    let mut event = start_event(&verified, json.to_raw_value(), kind, envelope.notify_id.text_ref());
    event.provider_event_type = envelope.notify_type.text();
    event.set_occurred_at(
        envelope
            .event_generate_time
            .instant()
            .or_else(|| content.timestamp.instant())
            .or_else(|| content.last_update_time.instant()),
    );
    if kind == EventKind::Unrecognized {
        return Ok(event);
    }

    if matches!(kind, EventKind::HealthCheck | EventKind::Order) {
        event.order = Some(OrderInfo {
            order_ref: content.order_no.text(),
            status: content.order_status.text(),
            transaction_ref: content.transaction_id.text(),
        });
        return Ok(event);
    }

    event.esim = identity(content, &mut event.flags);
    if event.esim.is_none() {
        event.flags.push("no_esim_identity".into());
    }
    // The transaction names the package an order or top-up bought: alerts fire once per package.
    let package = content.transaction_id.text().or_else(|| content.order_no.text());
    event.bundle = package.map(|reference| Bundle {
        reference: Some(reference),
        name: None,
    });
    match kind {
        EventKind::EsimStatus => event.status = status(content),
        EventKind::DataUsage => {
            event.usage = Some(
                DataUsage {
                    total_bytes: content.total_volume.whole(),
                    used_bytes: content.order_usage.whole(),
                    remaining_bytes: content.remain.whole(),
                    provider_threshold: content.remain_threshold.text(),
                    // It orders usage readings (state::merge), so it is bounded like occurred_at.
                    measured_at: event.plausible(content.last_update_time.instant()),
                    ..DataUsage::default()
                }
                .complete(),
            )
        }
        EventKind::Validity => {
            // Here `remain` counts `durationUnit`s (days), not bytes.
            let remaining = match (content.remain.number(), content.duration_unit.text()) {
                (Some(n), Some(unit)) => Some(format!("{n} {unit}")),
                (Some(n), None) => Some(format!("{n} DAY")),
                _ => None,
            };
            event.validity = Some(Validity {
                expires_at: content.expired_time.instant(),
                starts_at: None,
                provider_remaining: remaining,
                ..Validity::default()
            });
        }
        _ => {}
    }
    Ok(event)
}

json_fields! {
    /// The fields read from a delivery: `{notifyType, notifyId?, eventGenerateTime?, content}`.
    struct Envelope<'a> {
        "notifyType" => notify_type: Field<'a>,
        "notifyId" => notify_id: Field<'a>,
        "eventGenerateTime" => event_generate_time: Field<'a>,
        "content" => content: Obj<Content<'a>>,
    }
}

json_fields! {
    struct Content<'a> {
        "timestamp" => timestamp: Field<'a>,
        "lastUpdateTime" => last_update_time: Field<'a>,
        "orderNo" => order_no: Field<'a>,
        "orderStatus" => order_status: Field<'a>,
        "transactionId" => transaction_id: Field<'a>,
        "iccid" => iccid: Field<'a>,
        "esimTranNo" => esim_tran_no: Field<'a>,
        "eid" => eid: Field<'a>,
        "esimStatus" => esim_status: Field<'a>,
        "smdpStatus" => smdp_status: Field<'a>,
        "totalVolume" => total_volume: Field<'a>,
        "orderUsage" => order_usage: Field<'a>,
        "remain" => remain: Field<'a>,
        "remainThreshold" => remain_threshold: Field<'a>,
        "durationUnit" => duration_unit: Field<'a>,
        "expiredTime" => expired_time: Field<'a>,
    }
}

fn identity(content: &Content<'_>, flags: &mut Vec<String>) -> Option<EsimIdentity> {
    let iccid = plausible_iccid(content.iccid.text(), flags);
    let tran_no = content.esim_tran_no.text();
    let key = tran_no.clone().or_else(|| iccid.clone())?;
    let refs = refs_sent([
        ("esimTranNo", tran_no),
        ("orderNo", content.order_no.text()),
        ("transactionId", content.transaction_id.text()),
        ("eid", content.eid.text()),
    ]);
    Some(EsimIdentity { key, iccid, refs })
}

/// eSIM status decides when it says something definite; before first use the SM-DP+ profile status tells
/// how far the download got.
fn status(content: &Content<'_>) -> Option<StatusChange> {
    status_of(content.esim_status.text(), content.smdp_status.text())
}

/// eSIM Access in the provider list.
pub static SPEC: ProviderSpec = ProviderSpec {
    id: ProviderId::EsimAccess,
    title: "eSIM Access",
    extra_secrets: &[],
    build,
    normalize,
    sign: |_, _| Signature::UrlToken,
    event_types: &[
        "data_usage",
        "check_health",
        "order_status",
        "esim_status",
        "smdp_event",
        "validity_usage",
    ],
    scenario: &[
        ("order_status", 100),
        ("smdp_event", 100),
        ("esim_status", 100),
        ("data_usage", 50),
        ("data_usage", 9),
        ("validity_usage", 9),
    ],
    sample,
    order_ref_field: Some(RESELLER_ORDER_REF),
    data_units: DATA_UNITS,
    type_field: Some("notifyType"),
    usage_api: Some(&super::esimaccess_api::USAGE_API),
};

fn build(config: &ProviderConfig<'_>) -> Result<Arc<dyn Provider>, ConfigError> {
    let allowed_ips = match config.source_checks {
        SourceChecks::Deployed => allowed_ips(config.env, true)?,
        SourceChecks::OptIn => allowed_ips(config.env, false)?,
        SourceChecks::Off => None,
    };
    Ok(Arc::new(EsimAccess::new(config.secrets.clone(), allowed_ips)))
}

/// `ESIMACCESS_ALLOWED_IPS`: `published` for eSIM Access's published sender IPs (also when unset and
/// `by_default`), `off` to disable, or a comma-separated list.
fn allowed_ips(env: crate::config::Env<'_>, by_default: bool) -> Result<Option<Vec<IpAddr>>, ConfigError> {
    let name = "ESIMACCESS_ALLOWED_IPS";
    match env(name).as_deref().map(str::trim) {
        None if !by_default => Ok(None),
        None | Some("published") => Ok(Some(EsimAccess::published_ips())),
        Some("off") => Ok(None),
        Some(list) => list
            .split(',')
            .map(|ip| ip.trim().parse::<IpAddr>())
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
            .map_err(|e| ConfigError::Invalid {
                name: name.into(),
                reason: e.to_string(),
            }),
    }
}

fn sample(t: &str, p: &SampleParams) -> Option<Value> {
    use crate::simulate::{merge, rfc3339};
    use chrono::Duration;
    let (id, ends, tran_no) = (p.event_id("esimaccess", t), p.ends(), p.tran_no());
    let (total, remaining) = (SampleParams::TOTAL_BYTES, p.remaining_bytes());
    let body = {
        let base = json!({"iccid": p.iccid, "orderNo": format!("B{tran_no}"), "esimTranNo": tran_no, "transactionId": format!("tx-{tran_no}")});
        let (notify_type, content) = match t {
            "check_health" => ("CHECK_HEALTH", json!({"orderNo": "1234567890", "orderStatus": "Test"})),
            "order_status" => (
                "ORDER_STATUS",
                json!({"orderNo": format!("B{tran_no}"), "orderStatus": "GOT_RESOURCE", "transactionId": format!("tx-{tran_no}")}),
            ),
            "esim_status" => (
                "ESIM_STATUS",
                merge(base, json!({"esimStatus": "IN_USE", "smdpStatus": "ENABLED"})),
            ),
            "smdp_event" => (
                "SMDP_EVENT",
                merge(
                    base,
                    json!({"eid": "89049032005008882600050326403713", "esimStatus": "GOT_RESOURCE",
                "smdpStatus": "DOWNLOAD", "timestamp": rfc3339(p.now), "seqNumber": p.sequence, "notifyStatus": "Executed-Success"}),
                ),
            ),
            "data_usage" => (
                "DATA_USAGE",
                merge(
                    base,
                    json!({"totalVolume": total, "orderUsage": total - remaining, "remain": remaining,
                "remainThreshold": f64::from(p.remaining_percent) / 100.0, "lastUpdateTime": rfc3339(p.now - Duration::minutes(30))}),
                ),
            ),
            "validity_usage" => (
                "VALIDITY_USAGE",
                merge(
                    base,
                    json!({"remain": (p.ends_in_hours / 24).max(1), "totalDuration": 30,
                "durationUnit": "DAY", "expiredTime": rfc3339(ends)}),
                ),
            ),
            _ => return None,
        };
        json!({"notifyType": notify_type, "notifyId": id, "eventGenerateTime": rfc3339(p.now), "content": content})
    };
    Some(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_list_forms() {
        let env = |value: &'static str| move |name: &str| (name == "ESIMACCESS_ALLOWED_IPS").then(|| value.to_string());
        assert_eq!(allowed_ips(&|_| None, true).unwrap().unwrap().len(), 5);
        assert_eq!(allowed_ips(&|_| None, false).unwrap(), None, "a local server: opt-in");
        assert_eq!(allowed_ips(&env("published"), false).unwrap().unwrap().len(), 5);
        assert_eq!(allowed_ips(&env("off"), true).unwrap(), None);
        assert_eq!(allowed_ips(&env("127.0.0.1, ::1"), true).unwrap().unwrap().len(), 2);
        assert!(allowed_ips(&env("nope"), true).is_err());
    }
}
