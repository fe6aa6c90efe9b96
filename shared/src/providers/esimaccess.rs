//! eSIM Access (RedteaGO partner API) webhooks. They are not signed, so a delivery is authentic when it
//! carries one of our secret URL tokens (`?token=` or a last path segment) and, with the allow-list on, comes
//! from one of eSIM Access's published sender IPs. Envelope: `{notifyType, notifyId?, eventGenerateTime?,
//! content}`. ICCIDs are reused by eSIM Access, so per-eSIM state is keyed by `esimTranNo`.

use super::json::{instant, number, text, whole, Body};
use super::{start_event, NormalizeError, Provider};
use crate::auth::{AuthFailure, KeyRing, Verified};
use crate::ingress::Delivery;
use crate::model::{
    Bundle, DataUsage, EsimIdentity, Event, EventKind, Lifecycle, OrderInfo, ProviderId, StatusChange, Validity,
};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// The sender IPs eSIM Access publishes for its webhooks.
pub const PUBLISHED_SENDER_IPS: [&str; 5] = [
    "3.1.131.226",
    "54.254.74.88",
    "18.136.190.97",
    "18.136.60.197",
    "18.136.19.137",
];

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

    fn token<'a>(delivery: &'a Delivery) -> Option<std::borrow::Cow<'a, str>> {
        delivery.query_param("token").map(std::borrow::Cow::Owned).or_else(|| {
            delivery
                .path_suffix(ProviderId::EsimAccess.as_str())
                .map(std::borrow::Cow::Borrowed)
        })
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
        let token = Self::token(delivery).ok_or(AuthFailure::MissingToken)?;
        if !self.tokens.contains(token.as_bytes()) {
            return Err(AuthFailure::WrongToken);
        }
        Ok(Verified::new(ProviderId::EsimAccess, delivery))
    }

    fn normalize(&self, verified: Verified<'_>) -> Result<Event, NormalizeError> {
        let body = Body::parse(verified.body()).map_err(|e| NormalizeError::NotJson(e.to_string()))?;
        let envelope = body.object();
        let notify_type = text(envelope, "notifyType");
        let content = Body::child(envelope, "content");
        let kind = match notify_type.as_deref() {
            Some("CHECK_HEALTH") => EventKind::HealthCheck,
            Some("ORDER_STATUS") => EventKind::Order,
            Some("ESIM_STATUS" | "SMDP_EVENT") => EventKind::EsimStatus,
            Some("DATA_USAGE") => EventKind::DataUsage,
            Some("VALIDITY_USAGE") => EventKind::Validity,
            _ => EventKind::Unrecognized,
        };
        let mut event = start_event(&verified, kind, text(envelope, "notifyId").as_deref())?;
        event.provider_event_type = notify_type;
        event.set_occurred_at(
            instant(envelope, "eventGenerateTime")
                .or_else(|| instant(content, "timestamp"))
                .or_else(|| instant(content, "lastUpdateTime")),
        );
        if kind == EventKind::Unrecognized {
            return Ok(event);
        }

        let order = OrderInfo {
            order_ref: text(content, "orderNo"),
            status: text(content, "orderStatus"),
            transaction_ref: text(content, "transactionId"),
        };
        if matches!(kind, EventKind::HealthCheck | EventKind::Order) {
            event.order = Some(order);
            return Ok(event);
        }

        event.esim = identity(content);
        if event.esim.is_none() {
            event.flags.push("no_esim_identity".into());
        }
        // The transaction names the package an order or top-up bought: alerts fire once per package.
        event.bundle = order
            .transaction_ref
            .clone()
            .or(order.order_ref.clone())
            .map(|reference| Bundle {
                reference: Some(reference),
                name: None,
            });
        match kind {
            EventKind::EsimStatus => event.status = status(content),
            EventKind::DataUsage => {
                event.usage = Some(
                    DataUsage {
                        total_bytes: whole(content, "totalVolume"),
                        used_bytes: whole(content, "orderUsage"),
                        remaining_bytes: whole(content, "remain"),
                        provider_threshold: text(content, "remainThreshold"),
                        measured_at: instant(content, "lastUpdateTime"),
                        ..DataUsage::default()
                    }
                    .complete(),
                )
            }
            EventKind::Validity => {
                // Here `remain` counts `durationUnit`s (days), not bytes.
                let remaining = match (number(content, "remain"), text(content, "durationUnit")) {
                    (Some(n), Some(unit)) => Some(format!("{n} {unit}")),
                    (Some(n), None) => Some(format!("{n} DAY")),
                    _ => None,
                };
                event.validity = Some(Validity {
                    expires_at: instant(content, "expiredTime"),
                    starts_at: None,
                    provider_remaining: remaining,
                    ..Validity::default()
                });
            }
            _ => {}
        }
        Ok(event)
    }
}

fn identity(content: &Map<String, Value>) -> Option<EsimIdentity> {
    let iccid = text(content, "iccid");
    let tran_no = text(content, "esimTranNo");
    let key = tran_no.clone().or_else(|| iccid.clone())?;
    let refs: BTreeMap<String, String> = ["esimTranNo", "orderNo", "transactionId", "eid"]
        .into_iter()
        .filter_map(|name| text(content, name).map(|v| (name.to_string(), v)))
        .collect();
    Some(EsimIdentity { key, iccid, refs })
}

/// eSIM status decides when it says something definite; before first use the SM-DP+ profile status tells
/// how far the download got.
fn status(content: &Map<String, Value>) -> Option<StatusChange> {
    let esim_status = text(content, "esimStatus");
    let smdp_status = text(content, "smdpStatus");
    let by_esim = match esim_status.as_deref() {
        Some("IN_USE") => Some(Lifecycle::Active),
        Some("USED_UP") => Some(Lifecycle::Depleted),
        Some("USED_EXPIRED" | "UNUSED_EXPIRED") => Some(Lifecycle::Expired),
        Some("CANCEL" | "REVOKED") => Some(Lifecycle::Cancelled),
        Some("SUSPENDED") => Some(Lifecycle::Suspended),
        _ => None,
    };
    let by_profile = match smdp_status.as_deref() {
        Some("RELEASED") => Some(Lifecycle::Pending),
        Some("DOWNLOAD" | "INSTALLATION" | "ENABLED" | "DISABLED") => Some(Lifecycle::Installed),
        Some("DELETED") => Some(Lifecycle::Deleted),
        _ => None,
    };
    let lifecycle = match (by_esim, by_profile, esim_status.as_deref()) {
        (_, Some(Lifecycle::Deleted), _) => Lifecycle::Deleted,
        (Some(l), _, _) => l,
        (None, Some(l), _) => l,
        (None, None, Some("GOT_RESOURCE")) => Lifecycle::Pending,
        _ => Lifecycle::Unknown,
    };
    let provider_status = esim_status.clone().or_else(|| smdp_status.clone())?;
    Some(StatusChange {
        lifecycle,
        provider_status,
        profile_status: smdp_status,
    })
}
