//! 1GLOBAL Connect (formerly Truphone Connect) notifications (docs.connect.1global.com, the notifications
//! recipe). Webhooks are registered per SIM and notification type: `USAGE_THRESHOLD` (80 % of the plan used),
//! `SUBSCRIPTION_END` (the plan was used up *or* expired; no field says which) and `DOWNLOAD_PROGRESS` (the SIM
//! profile changed status). Nothing is signed: a delivery is authentic by HTTP Basic credentials where
//! 1GLOBAL arranged them (`user:password` entries in `ONEGLOBAL_SECRETS`), else by a secret URL token (the
//! other entries). Flat body: `{id, type, iccid, subscription_id, ...}`, no event time.

use super::json::{self, json_fields, Field};
use super::registry::{ProviderConfig, ProviderSpec, Signature};
use super::{plausible_iccid, start_event, unreadable, NormalizeError, Provider};
use crate::auth::{AuthFailure, KeyRing, Verified};
use crate::ingress::Delivery;
use crate::model::{
    refs_sent, Bundle, DataUsage, EsimIdentity, Event, EventKind, Lifecycle, ProviderId, StatusChange, Validity,
};
use crate::simulate::{rfc3339, SampleParams};
use base64::Engine;
use chrono::Duration;
use serde_json::{json, Value};
use std::sync::Arc;

/// 1GLOBAL states balances in bytes of binary units (a 1 GB plan is 1073741824).
pub const DATA_UNITS: crate::model::DataUnits = crate::model::DataUnits::Binary;

/// 1GLOBAL Connect in the provider list.
pub static SPEC: ProviderSpec = ProviderSpec {
    id: ProviderId::OneGlobal,
    title: "1GLOBAL Connect",
    extra_secrets: &[],
    build: |config: &ProviderConfig<'_>| Ok(Arc::new(OneGlobal::new(&config.secrets))),
    normalize,
    sign: |_, secret| match secret.contains(':') {
        true => Signature::Header(
            "authorization",
            format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(secret)),
        ),
        false => Signature::UrlToken,
    },
    event_types: &[
        "usage_threshold",
        "subscription_end_used_up",
        "subscription_end_expired",
        "download_progress",
    ],
    scenario: &[
        ("download_progress", 100),
        ("usage_threshold", 20),
        ("subscription_end_used_up", 0),
    ],
    sample,
    order_ref_field: None,
    data_units: DATA_UNITS,
    type_field: Some("type"),
    usage_api: Some(&super::oneglobal_api::USAGE_API),
};

/// Basic credentials (`user:password`) and URL tokens, each accepted for rotation; at least one kind is set.
#[derive(Debug, Clone)]
pub struct OneGlobal {
    basic: Option<KeyRing>,
    tokens: Option<KeyRing>,
}

impl OneGlobal {
    /// Splits the configured secrets: an entry with a `:` is Basic credentials (split at the first `:` by the
    /// sender), any other a URL token.
    pub fn new(secrets: &KeyRing) -> Self {
        let (basic, tokens) = secrets.split_credentials();
        Self { basic, tokens }
    }
}

impl Provider for OneGlobal {
    fn id(&self) -> ProviderId {
        ProviderId::OneGlobal
    }

    fn authenticate<'a>(&self, delivery: &'a Delivery) -> Result<Verified<'a>, AuthFailure> {
        if let Some(authorization) = delivery.header("authorization") {
            let credentials = authorization
                .strip_prefix("Basic ")
                .or_else(|| authorization.strip_prefix("basic "))
                .and_then(|b64| base64::engine::general_purpose::STANDARD.decode(b64.trim()).ok())
                .ok_or(AuthFailure::MalformedCredentials)?;
            let basic = self.basic.as_ref().ok_or(AuthFailure::WrongCredentials)?;
            if !basic.contains(&credentials) {
                return Err(AuthFailure::WrongCredentials);
            }
            return Ok(Verified::new(ProviderId::OneGlobal, delivery));
        }
        let token = delivery
            .url_token(ProviderId::OneGlobal.as_str())
            .ok_or(AuthFailure::MissingToken)?;
        let tokens = self.tokens.as_ref().ok_or(AuthFailure::WrongToken)?;
        if !tokens.contains(token.as_bytes()) {
            return Err(AuthFailure::WrongToken);
        }
        Ok(Verified::new(ProviderId::OneGlobal, delivery))
    }
}

json_fields! {
    /// Every field of the three types (flat).
    struct Body<'a> {
        "id" => id: Field<'a>,
        "type" => kind: Field<'a>,
        "iccid" => iccid: Field<'a>,
        "eid" => eid: Field<'a>,
        "subscription_id" => subscription_id: Field<'a>,
        "threshold" => threshold: Field<'a>,
        "expiration_date" => expiration_date: Field<'a>,
        "current_balance" => current_balance: Field<'a>,
        "download_progress_step" => step: Field<'a>,
        "notification_status" => notification_status: Field<'a>,
    }
}

/// Maps an authenticated delivery to the common model (needs no secret).
pub fn normalize(verified: Verified<'_>) -> Result<Event, NormalizeError> {
    let (body, json) = match json::parse::<Body>(verified.body()) {
        Ok(parsed) => parsed,
        Err(error) => return unreadable(&verified, &error),
    };
    let received_at = verified.delivery().received_at;
    let ends = body.expiration_date.instant();
    let remaining = body.current_balance.whole();
    // SUBSCRIPTION_END says "used up or expired": an end already past means it expired, else it was used up.
    let kind = match body.kind.as_str() {
        Some("USAGE_THRESHOLD") => EventKind::DataUsage,
        Some("SUBSCRIPTION_END" | "SUBSCRITPION_END") if ends.is_some_and(|at| at <= received_at) => {
            EventKind::Validity
        }
        Some("SUBSCRIPTION_END" | "SUBSCRITPION_END") => EventKind::DataUsage,
        Some("DOWNLOAD_PROGRESS") => EventKind::EsimStatus,
        _ => EventKind::Unrecognized,
    };
    let mut event = start_event(&verified, json.to_raw_value(), kind, body.id.text_ref());
    event.provider_event_type = body.kind.text();
    if kind == EventKind::Unrecognized {
        return Ok(event);
    }
    let iccid = plausible_iccid(body.iccid.text(), &mut event.flags);
    let subscription = body.subscription_id.text();
    event.esim = iccid.map(|iccid| EsimIdentity {
        key: iccid.clone(),
        iccid: Some(iccid),
        refs: refs_sent([("subscription_id", subscription.clone()), ("eid", body.eid.text())]),
    });
    if event.esim.is_none() {
        event.flags.push("no_esim_identity".into());
    }
    // A subscription is one plan: alerts fire once per subscription.
    event.bundle = subscription.map(|reference| Bundle {
        reference: Some(reference),
        name: None,
    });
    let ended = matches!(body.kind.as_str(), Some("SUBSCRIPTION_END" | "SUBSCRITPION_END"));
    match kind {
        EventKind::DataUsage if ended => {
            // Used up: nothing left, whatever the plan's size; the most severe level applies.
            event.usage = Some(DataUsage {
                remaining_bytes: Some(remaining.unwrap_or(0)),
                remaining_ratio: Some(0.0),
                ..DataUsage::default()
            });
            event.status = Some(status(Lifecycle::Depleted, "SUBSCRIPTION_END"));
        }
        EventKind::DataUsage => {
            // USAGE_THRESHOLD counts data used (80 %): on the scale, what is left.
            let used = body
                .threshold
                .number()
                .filter(|t| (0.0..=100.0).contains(t))
                .map(|t| t.round() as u8);
            event.usage = Some(DataUsage {
                remaining_bytes: remaining,
                provider_threshold: body.threshold.text(),
                provider_alert_level: used.map(|t| format!("{t}%")),
                alert_level: used.map(|t| crate::alerts::percent_level(100 - t)),
                ..DataUsage::default()
            });
            if used.is_none() {
                event.flags.push("usage_threshold_missing".into());
            }
            event.validity = ends.map(|at| Validity {
                expires_at: Some(at),
                ..Validity::default()
            });
        }
        EventKind::Validity => {
            event.validity = Some(Validity {
                expires_at: ends,
                ..Validity::default()
            });
            event.status = Some(status(Lifecycle::Expired, "SUBSCRIPTION_END"));
        }
        EventKind::EsimStatus => {
            let step = body.step.text().unwrap_or_default();
            let outcome = body.notification_status.text().unwrap_or_default();
            let lifecycle = match (step.to_ascii_uppercase(), outcome.eq_ignore_ascii_case("SUCCESS")) {
                (_, false) => Lifecycle::Unknown,
                (step, true) if step.contains("DELET") => Lifecycle::Deleted,
                (step, true) if step.contains("INSTALL") || step.contains("ENABL") || step.contains("DISABL") => {
                    Lifecycle::Installed
                }
                _ => Lifecycle::Unknown,
            };
            event.status = Some(StatusChange {
                lifecycle,
                provider_status: format!("{step} {outcome}").trim().to_string(),
                profile_status: None,
            });
        }
        _ => {}
    }
    Ok(event)
}

fn status(lifecycle: Lifecycle, provider_status: &str) -> StatusChange {
    StatusChange {
        lifecycle,
        provider_status: provider_status.to_string(),
        profile_status: None,
    }
}

fn sample(t: &str, p: &SampleParams) -> Option<Value> {
    let id = p.event_id("oneglobal", t);
    let subscription = base64::engine::general_purpose::STANDARD.encode(format!("sub-{}", p.tran_no()));
    let base = json!({"id": id, "iccid": p.iccid, "subscription_id": subscription});
    let extra = match t {
        "usage_threshold" => json!({"type": "USAGE_THRESHOLD", "threshold": 80,
            "expiration_date": rfc3339(p.ends()), "current_balance": p.remaining_bytes()}),
        "subscription_end_used_up" => json!({"type": "SUBSCRIPTION_END",
            "expiration_date": rfc3339(p.ends()), "current_balance": 0}),
        "subscription_end_expired" => json!({"type": "SUBSCRIPTION_END",
            "expiration_date": rfc3339(p.now - Duration::minutes(1)), "current_balance": 0}),
        "download_progress" => json!({"type": "DOWNLOAD_PROGRESS", "eid": "89049032005008882600050326403713",
            "download_progress_step": "BPP_INSTALLATION", "notification_point_description": "BPP Installation",
            "notification_status": "SUCCESS"}),
        _ => return None,
    };
    Some(crate::simulate::merge(base, extra))
}
