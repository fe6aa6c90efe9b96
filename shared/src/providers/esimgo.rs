//! eSIM Go callbacks. One URL receives every notification. V3 signs the raw body with HMAC-SHA256 keyed by
//! the organisation's API key (`X-Signature-SHA256`, hex or base64: the docs disagree); V2 is unsigned and is
//! accepted only when configured, and then only with a secret URL token. Two body families share the URL:
//! `alertType` bodies and `event` bodies (`esim.*`). No event id: the dedupe key is the body hash.

use super::json::{instant, number, text, whole, Body};
use super::{start_event, NormalizeError, Provider};
use crate::auth::{signature_tag, AuthFailure, KeyRing, MacRing, Verified};
use crate::ingress::Delivery;
use crate::model::{
    AccountBalance, Bundle, DataUsage, EsimIdentity, Event, EventKind, Lifecycle, Location, ProviderId, StatusChange,
    Validity,
};
use hmac::Hmac;
use serde_json::{Map, Value};
use sha2::Sha256;
use std::collections::BTreeMap;

pub const SIGNATURE_HEADER: &str = "x-signature-sha256";

#[derive(Debug, Clone)]
pub struct EsimGo {
    api_keys: MacRing<Hmac<Sha256>>,
    /// URL tokens that admit unsigned V2 callbacks; `None` (the default): V3 only.
    v2_tokens: Option<KeyRing>,
}

impl EsimGo {
    pub fn new(api_keys: KeyRing, v2_tokens: Option<KeyRing>) -> Self {
        Self {
            api_keys: MacRing::new(&api_keys),
            v2_tokens,
        }
    }
}

impl Provider for EsimGo {
    fn id(&self) -> ProviderId {
        ProviderId::EsimGo
    }

    fn authenticate<'a>(&self, delivery: &'a Delivery) -> Result<Verified<'a>, AuthFailure> {
        match signature_tag(delivery, SIGNATURE_HEADER, 32)? {
            // A signature, when present, must verify: a bad one never falls back to the V2 token.
            Some(tag) => {
                if !self.api_keys.matches(&delivery.body, &tag) {
                    return Err(AuthFailure::SignatureMismatch);
                }
            }
            None => {
                let tokens = self.v2_tokens.as_ref().ok_or(AuthFailure::UnsignedRefused)?;
                let token = delivery
                    .query_param("token")
                    .or_else(|| delivery.path_suffix(ProviderId::EsimGo.as_str()).map(str::to_string))
                    .ok_or(AuthFailure::MissingToken)?;
                if !tokens.contains(token.as_bytes()) {
                    return Err(AuthFailure::WrongToken);
                }
            }
        }
        Ok(Verified::new(ProviderId::EsimGo, delivery))
    }

    fn normalize(&self, verified: Verified<'_>) -> Result<Event, NormalizeError> {
        let body = Body::parse(verified.body()).map_err(|e| NormalizeError::NotJson(e.to_string()))?;
        let root = body.object();
        let alert_type = text(root, "alertType");
        let family_b = text(root, "event");
        let kind = match (alert_type.as_deref(), family_b.as_deref()) {
            (Some("Utilisation" | "FirstUse"), _) => EventKind::DataUsage,
            (Some("FirstAttachment" | "ProfileStatusChange"), _) => EventKind::EsimStatus,
            (Some("CountryChange"), _) => EventKind::Location,
            (Some("LowBalance" | "InsufficientBalance" | "Topup" | "AutoTopup" | "eSIMGoTopup"), _) => {
                EventKind::AccountBalance
            }
            (Some("MSISDNEnabled" | "MSISDNDisabled" | "SMSFailed"), _) => EventKind::ServiceChange,
            (None, Some("esim.deleted" | "esim.deletion_scheduled")) => EventKind::EsimStatus,
            // The legacy lower-case `usage` and anything new: kept, not interpreted.
            _ => EventKind::Unrecognized,
        };
        let mut event = start_event(&verified, kind, None)?;
        event.provider_event_type = alert_type.clone().or(family_b.clone());
        event.set_occurred_at(instant(root, "date").or_else(|| instant(root, "timestamp")));
        if kind == EventKind::Unrecognized {
            return Ok(event);
        }
        let bundle = Body::child(root, "bundle");
        if kind != EventKind::AccountBalance {
            event.esim = identity(root, &mut event.flags);
        }

        match (alert_type.as_deref(), family_b.as_deref()) {
            (Some(kind @ ("Utilisation" | "FirstUse")), _) => {
                event.bundle = bundle_of(bundle);
                event.usage = Some(
                    DataUsage {
                        total_bytes: whole(bundle, "initialQuantity"),
                        remaining_bytes: whole(bundle, "remainingQuantity"),
                        unlimited: bundle.get("unlimited").and_then(Value::as_bool).unwrap_or(false),
                        ..DataUsage::default()
                    }
                    .complete(),
                );
                event.validity = Some(Validity {
                    expires_at: instant(bundle, "endTime"),
                    starts_at: instant(bundle, "startTime"),
                    ..Validity::default()
                })
                .filter(|v| v.expires_at.is_some());
                if kind == "FirstUse" {
                    event.status = Some(status(Lifecycle::Active, "FirstUse"));
                }
            }
            (Some("FirstAttachment"), _) => event.status = Some(status(Lifecycle::Active, "FirstAttachment")),
            (Some("ProfileStatusChange"), _) => {
                let profile = text(root, "profileStatus");
                let lifecycle = match profile.as_deref() {
                    Some("Released") => Lifecycle::Pending,
                    Some("Downloaded" | "Installed") => Lifecycle::Installed,
                    _ => Lifecycle::Unknown,
                };
                event.status = Some(StatusChange {
                    lifecycle,
                    provider_status: profile.clone().unwrap_or_else(|| "ProfileStatusChange".into()),
                    profile_status: profile,
                });
                if let (Some(esim), Some(eid)) = (event.esim.as_mut(), text(Body::child(root, "device"), "eid")) {
                    esim.refs.insert("eid".into(), eid);
                }
            }
            (Some("CountryChange"), _) => {
                let country = Body::child(root, "country");
                event.location = Some(Location {
                    country_code: text(country, "code"),
                    country_name: text(country, "name"),
                });
            }
            (Some(level @ ("LowBalance" | "InsufficientBalance")), _) => {
                let info = Body::child(root, "balanceInfo");
                let percent = number(info, "thresholdPercentRemaining");
                event.balance = Some(AccountBalance {
                    balance: number(info, "balance"),
                    threshold: number(info, "threshold"),
                    currency: None,
                    provider_level: Some(match percent {
                        Some(p) => format!("{level} ({p:.0}% of threshold)"),
                        None => level.to_string(),
                    }),
                    low: true,
                });
            }
            (Some(level), _) if kind == EventKind::AccountBalance => {
                // Top-ups carry old and new amounts under `bundle`, oddly.
                event.balance = Some(AccountBalance {
                    balance: number(bundle, "newAmount"),
                    threshold: None,
                    currency: None,
                    provider_level: Some(level.to_string()),
                    low: false,
                });
            }
            (Some(_), _) => {
                // MSISDN and SMS notices: who and which number, kept as references.
                if let Some(esim) = event.esim.as_mut() {
                    for name in ["msisdn", "reason"] {
                        if let Some(v) = text(root, name) {
                            esim.refs.insert(name.into(), v);
                        }
                    }
                }
            }
            (None, Some("esim.deleted")) => event.status = Some(status(Lifecycle::Deleted, "esim.deleted")),
            // Deletion is only scheduled: stored, but the eSIM's lifecycle is unchanged until it happens.
            (None, _) => {}
        }
        Ok(event)
    }
}

fn status(lifecycle: Lifecycle, provider_status: &str) -> StatusChange {
    StatusChange {
        lifecycle,
        provider_status: provider_status.into(),
        profile_status: None,
    }
}

fn bundle_of(bundle: &Map<String, Value>) -> Option<Bundle> {
    let reference = text(bundle, "id").or_else(|| text(bundle, "reference"));
    let name = text(bundle, "name");
    (reference.is_some() || name.is_some()).then_some(Bundle { reference, name })
}

/// The eSIM a body names. An ICCID sent as a JSON number (the docs show one) may have lost precision in the
/// sender's float arithmetic and could name another customer's eSIM: the event is stored (the raw payload keeps
/// the digits) and flagged, but no per-eSIM state or alert is keyed by it.
fn identity(root: &Map<String, Value>, flags: &mut Vec<String>) -> Option<EsimIdentity> {
    match root.get("iccid") {
        Some(Value::String(iccid)) if !iccid.trim().is_empty() => {
            let iccid = iccid.trim().to_string();
            Some(EsimIdentity {
                key: iccid.clone(),
                iccid: Some(iccid),
                refs: BTreeMap::new(),
            })
        }
        Some(Value::Number(_)) => {
            flags.push("iccid_precision_lost".into());
            tracing::warn!(
                provider = "esimgo",
                "iccid arrived as a JSON number: stored and flagged, not used as an identity"
            );
            None
        }
        _ => {
            flags.push("no_esim_identity".into());
            None
        }
    }
}
