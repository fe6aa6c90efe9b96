//! DENT Gigastore webhooks (docs.giga.store/webhooks). Nothing is signed and no secret header, event id or type
//! field is documented: a delivery is authentic when it carries one of our secret URL tokens (`?token=` or a
//! last path segment, one URL per update type in the Gigastore portal); its type is told by its shape; it is
//! deduplicated by the hash of its body. Three shapes: eSIM status (`profileState`), balance alert
//! (`balanceAmountInByte`: under 100 MB left, with the customer's `uid`) and country change (`newCountry`).

use super::gigastore_api::DATA_UNITS;
use super::json::{self, json_fields, Field};
use super::registry::{ProviderConfig, ProviderSpec, Signature};
use super::{plausible_iccid, start_event, unreadable, NormalizeError, Provider};
use crate::auth::{AuthFailure, KeyRing, Verified};
use crate::ingress::Delivery;
use crate::model::{
    refs_sent, DataUsage, EsimIdentity, Event, EventKind, Lifecycle, Location, ProviderId, StatusChange,
};
use crate::simulate::{rfc3339, SampleParams};
use serde_json::{json, Value};
use std::sync::Arc;

/// Gigastore's balance alert on the alert scale: the amount left below which it warns.
pub const BALANCE_ALERT_LEVEL: &str = "100MB";

/// DENT Gigastore in the provider list.
pub static SPEC: ProviderSpec = ProviderSpec {
    id: ProviderId::Gigastore,
    title: "DENT Gigastore",
    extra_secrets: &[],
    build: |config: &ProviderConfig<'_>| Ok(Arc::new(Gigastore::new(config.secrets.clone()))),
    normalize,
    sign: |_, _| Signature::UrlToken,
    event_types: &["balance_alert", "esim_status", "esim_removed", "country_change"],
    scenario: &[
        ("esim_status", 100),
        ("country_change", 100),
        ("balance_alert", 9),
        ("esim_removed", 9),
    ],
    sample,
    order_ref_field: None,
    data_units: DATA_UNITS,
    type_field: None,
    usage_api: Some(&super::gigastore_api::USAGE_API),
};

#[derive(Debug, Clone)]
pub struct Gigastore {
    tokens: KeyRing,
}

impl Gigastore {
    pub fn new(tokens: KeyRing) -> Self {
        Self { tokens }
    }
}

impl Provider for Gigastore {
    fn id(&self) -> ProviderId {
        ProviderId::Gigastore
    }

    fn authenticate<'a>(&self, delivery: &'a Delivery) -> Result<Verified<'a>, AuthFailure> {
        let token = delivery
            .url_token(ProviderId::Gigastore.as_str())
            .ok_or(AuthFailure::MissingToken)?;
        if !self.tokens.contains(token.as_bytes()) {
            return Err(AuthFailure::WrongToken);
        }
        Ok(Verified::new(ProviderId::Gigastore, delivery))
    }
}

json_fields! {
    /// Every field of the three shapes (none nested).
    struct Body<'a> {
        "iccid" => iccid: Field<'a>,
        "imsi" => imsi: Field<'a>,
        "eid" => eid: Field<'a>,
        "uid" => uid: Field<'a>,
        "profileState" => profile_state: Field<'a>,
        "timestamp" => timestamp: Field<'a>,
        "balanceAmountInByte" => balance_bytes: Field<'a>,
        "previousCountry" => previous_country: Field<'a>,
        "newCountry" => new_country: Field<'a>,
    }
}

/// Maps an authenticated delivery to the common model (needs no secret). The shape decides the type; the
/// body's hash is its identity (Gigastore sends no id).
pub fn normalize(verified: Verified<'_>) -> Result<Event, NormalizeError> {
    let (body, json) = match json::parse::<Body>(verified.body()) {
        Ok(parsed) => parsed,
        Err(error) => return unreadable(&verified, &error),
    };
    let (kind, provider_type) = if body.balance_bytes.is_present() {
        (EventKind::DataUsage, "balance_alert")
    } else if body.profile_state.is_present() {
        (EventKind::EsimStatus, "esim_status")
    } else if body.new_country.is_present() {
        (EventKind::Location, "country_change")
    } else {
        (EventKind::Unrecognized, "unrecognized")
    };
    let mut event = start_event(&verified, json.to_raw_value(), kind, None);
    event.provider_event_type = Some(provider_type.to_string());
    event.set_occurred_at(body.timestamp.instant());
    if kind == EventKind::Unrecognized {
        return Ok(event);
    }
    let iccid = plausible_iccid(body.iccid.text(), &mut event.flags);
    event.esim = iccid.map(|iccid| EsimIdentity {
        key: iccid.clone(),
        iccid: Some(iccid),
        refs: refs_sent([
            ("imsi", body.imsi.text()),
            ("eid", body.eid.text()),
            ("uid", body.uid.text()),
        ]),
    });
    if event.esim.is_none() {
        event.flags.push("no_esim_identity".into());
    }
    match kind {
        EventKind::DataUsage => {
            let remaining = body.balance_bytes.whole();
            if remaining.is_none() {
                event.flags.push("usage_amounts_missing".into());
            }
            // The event is Gigastore's own warning: it fires at the amount it warns below, once per eSIM.
            event.usage = Some(DataUsage {
                remaining_bytes: remaining,
                provider_alert_level: Some(provider_type.to_string()),
                alert_level: Some(BALANCE_ALERT_LEVEL.to_string()),
                ..DataUsage::default()
            });
        }
        EventKind::EsimStatus => {
            let state = body.profile_state.text().unwrap_or_default();
            let lifecycle = match state.to_ascii_uppercase().as_str() {
                "INSTALLED" | "ENABLED" | "DISABLED" | "DOWNLOADED" => Lifecycle::Installed,
                "REMOVED" | "DELETED" | "UNINSTALLED" => Lifecycle::Deleted,
                _ => Lifecycle::Unknown,
            };
            event.status = Some(StatusChange {
                lifecycle,
                provider_status: state,
                profile_status: None,
            });
        }
        EventKind::Location => {
            event.location = Some(Location {
                country_code: body.new_country.text(),
                country_name: None,
            });
        }
        _ => {}
    }
    Ok(event)
}

fn sample(t: &str, p: &SampleParams) -> Option<Value> {
    let imsi = format!("26021{}", &p.iccid[p.iccid.len().saturating_sub(10)..]);
    let body = match t {
        "esim_status" => {
            json!({"iccid": p.iccid, "imsi": imsi, "profileState": "INSTALLED", "eid": "74088234238931452"})
        }
        "esim_removed" => json!({"iccid": p.iccid, "imsi": imsi, "profileState": "REMOVED"}),
        "balance_alert" => json!({"uid": format!("058c8716-47dd-4fc4-be89-{:012}", p.sequence), "iccid": p.iccid,
            "imsi": imsi, "timestamp": rfc3339(p.now), "balanceAmountInByte": p.remaining_bytes().min(99_000_000)}),
        "country_change" => json!({"imsi": imsi, "iccid": p.iccid, "previousCountry": null, "newCountry": "DE"}),
        _ => return None,
    };
    Some(body)
}
