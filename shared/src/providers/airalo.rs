//! Airalo Partner API webhooks. `airalo-signature` is the lower-case hex HMAC-SHA512 keyed with the partner's
//! client secret, computed over the raw body or, by Airalo's own SDKs, over a canonical re-encoding
//! (`airalo_canonical`): a signature matching either is accepted, nothing else. Airalo checks the URL with
//! `HEAD` before opting in. The three payload families have no type field, id or time, so they are told apart
//! by shape.

use super::airalo_canonical::{sdk_form, NonAscii};
use super::json::{number, text, Body};
use super::{start_event, NormalizeError, Provider};
use crate::auth::{signature_tag, AuthFailure, KeyRing, MacRing, Verified};
use crate::ingress::Delivery;
use crate::model::{
    AccountBalance, Bundle, DataUsage, DedupeBasis, EsimIdentity, Event, EventKind, OrderInfo, ProviderId, Validity,
};
use hmac::Hmac;
use serde_json::Value;
use sha2::Sha512;
use std::collections::BTreeMap;

pub const SIGNATURE_HEADER: &str = "airalo-signature";

#[derive(Debug, Clone)]
pub struct Airalo {
    client_secrets: MacRing<Hmac<Sha512>>,
}

impl Airalo {
    pub fn new(client_secrets: KeyRing) -> Self {
        Self {
            client_secrets: MacRing::new(&client_secrets),
        }
    }

    fn signed_over(&self, message: &[u8], tag: &[u8]) -> bool {
        self.client_secrets.matches(message, tag)
    }
}

impl Provider for Airalo {
    fn id(&self) -> ProviderId {
        ProviderId::Airalo
    }

    fn answers_head(&self) -> bool {
        true
    }

    fn authenticate<'a>(&self, delivery: &'a Delivery) -> Result<Verified<'a>, AuthFailure> {
        let tag =
            signature_tag(delivery, SIGNATURE_HEADER, 64)?.ok_or(AuthFailure::MissingSignature(SIGNATURE_HEADER))?;
        let body = &delivery.body;
        let authentic = self.signed_over(body, &tag)
            || [NonAscii::Verbatim, NonAscii::Escaped]
                .into_iter()
                .filter_map(|style| sdk_form(body, style))
                .any(|form| form != body.as_ref() && self.signed_over(&form, &tag));
        if !authentic {
            return Err(AuthFailure::SignatureMismatch);
        }
        Ok(Verified::new(ProviderId::Airalo, delivery))
    }

    fn normalize(&self, verified: Verified<'_>) -> Result<Event, NormalizeError> {
        let body = Body::parse(verified.body()).map_err(|e| NormalizeError::NotJson(e.to_string()))?;
        let root = body.object();
        let data = Body::child(root, "data");
        let level = text(root, "level");
        let iccid = text(root, "iccid");
        let request_id = text(root, "request_id").or_else(|| text(data, "request_id"));

        if let (Some(level), Some(iccid)) = (level, iccid.clone()) {
            // Low data (`75%`, `90%`) or expiry (`3days`, `1days`): one notification per package and level.
            let package = text(root, "package_name");
            let id = format!("{iccid}#{}#{level}", package.as_deref().unwrap_or("-"));
            let is_expiry = level.to_ascii_lowercase().ends_with("days") || level.to_ascii_lowercase().ends_with("day");
            let kind = if is_expiry {
                EventKind::Validity
            } else {
                EventKind::DataUsage
            };
            let mut event = start_event(&verified, kind, Some(&id))?;
            event.dedupe_basis = DedupeBasis::Derived;
            event.provider_event_type = Some(format!("low_data_notification/{level}"));
            event.esim = Some(EsimIdentity {
                key: iccid.clone(),
                iccid: Some(iccid),
                refs: BTreeMap::new(),
            });
            event.bundle = package.map(|name| Bundle {
                reference: Some(name.clone()),
                name: Some(name),
            });
            let ratio = number(root, "remaining_percentage")
                .filter(|p| (0.0..=100.0).contains(p))
                .map(|p| p / 100.0);
            let mut usage = DataUsage {
                remaining_ratio: ratio,
                ..DataUsage::default()
            };
            if is_expiry {
                event.validity = Some(Validity {
                    provider_remaining: Some(level.clone()),
                    provider_alert_level: Some(level),
                    ..Validity::default()
                });
            } else {
                usage.provider_alert_level = Some(level);
            }
            event.usage = Some(usage);
            return Ok(event);
        }

        if let (Some(message), Some(remaining)) = (text(root, "message"), number(root, "remaining")) {
            let mut event = start_event(&verified, EventKind::AccountBalance, None)?;
            event.provider_event_type = Some("credit_limit_notification".into());
            // The level is only inside the message ("Surpassed 80% of the credit limit balance").
            let level = message
                .split_whitespace()
                .find(|w| w.ends_with('%'))
                .map(str::to_string);
            event.balance = Some(AccountBalance {
                balance: Some(remaining),
                threshold: None,
                currency: None,
                provider_level: Some(level.unwrap_or_else(|| "credit_limit".into())),
                low: true,
            });
            return Ok(event);
        }

        if let Some(request_id) = request_id {
            let mut event = start_event(&verified, EventKind::Order, Some(&request_id))?;
            event.provider_event_type = Some("async_order".into());
            let sims: Vec<&serde_json::Map<String, Value>> = data
                .get("sims")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_object)
                .collect();
            let failed = root.contains_key("reason") || data.contains_key("reason");
            event.order = Some(OrderInfo {
                order_ref: text(data, "code").or_else(|| text(data, "id")),
                status: Some(if failed { "failed" } else { "completed" }.into()),
                transaction_ref: Some(request_id),
            });
            event.bundle = text(data, "package_id").map(|id| Bundle {
                reference: Some(id),
                name: text(data, "package"),
            });
            if let [sim] = sims.as_slice() {
                if let Some(iccid) = text(sim, "iccid") {
                    event.esim = Some(EsimIdentity {
                        key: iccid.clone(),
                        iccid: Some(iccid),
                        refs: BTreeMap::new(),
                    });
                }
            }
            return Ok(event);
        }

        start_event(&verified, EventKind::Unrecognized, None)
    }
}
