//! eSIM Go callbacks. One URL receives every notification. V3 signs the raw body with HMAC-SHA256 keyed by
//! the organisation's API key (`X-Signature-SHA256`, hex or base64: the docs disagree); V2 is unsigned and is
//! accepted only when configured, and then only with a secret URL token. Two body families share the URL:
//! `alertType` bodies and `event` bodies (`esim.*`). No event id: the dedupe key is the body hash.

use super::json::{self, json_fields, Field, Obj};
use super::registry::{ProviderSpec, Signature};
use super::{plausible_iccid, start_event, unreadable, NormalizeError, Provider};
use crate::auth::{signature_tag, AuthFailure, KeyRing, MacRing, Verified};
use crate::ingress::Delivery;
use crate::model::{
    AccountBalance, Bundle, DataUsage, EsimIdentity, Event, EventKind, Lifecycle, Location, ProviderId, StatusChange,
    Validity,
};
use crate::simulate::SampleParams;
use hmac::Hmac;
use lambda_http::http::HeaderName;
use serde_json::{json, Value};
use sha2::Sha256;
use std::collections::BTreeMap;
use std::sync::Arc;

pub const SIGNATURE_HEADER: &str = "x-signature-sha256";
/// The header parsed once, not on every lookup.
static SIGNATURE: HeaderName = HeaderName::from_static(SIGNATURE_HEADER);

/// eSIM Go sells a gigabyte as 1,000,000,000 bytes (`initialQuantity` of a 1 GB bundle).
pub const DATA_UNITS: crate::model::DataUnits = crate::model::DataUnits::Decimal;

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
        match signature_tag(delivery, &SIGNATURE, 32)? {
            // A signature, when present, must verify: a bad one never falls back to the V2 token.
            Some(tag) => {
                if !self.api_keys.matches(&delivery.body, &tag) {
                    return Err(AuthFailure::SignatureMismatch);
                }
            }
            None => {
                let tokens = self.v2_tokens.as_ref().ok_or(AuthFailure::UnsignedRefused)?;
                let token = delivery
                    .url_token(ProviderId::EsimGo.as_str())
                    .ok_or(AuthFailure::MissingToken)?;
                if !tokens.contains(token.as_bytes()) {
                    return Err(AuthFailure::WrongToken);
                }
            }
        }
        Ok(Verified::new(ProviderId::EsimGo, delivery))
    }
}

/// What an eSIM Go callback is, decided once from its `alertType` (or, for the newer deletion notices, its
/// `event`); each family is then read by its own function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Notice<'a> {
    Usage {
        first_use: bool,
    },
    FirstAttachment,
    ProfileStatus,
    CountryChange,
    LowBalance(&'a str),
    Topup(&'a str),
    /// MSISDN and SMS notices.
    Service,
    Deleted,
    /// Deletion only scheduled: stored, the lifecycle unchanged until it happens.
    DeletionScheduled,
    /// The legacy lower-case `usage` and anything new: kept, not interpreted.
    Unrecognized,
}

impl<'a> Notice<'a> {
    fn classify(alert_type: Option<&'a str>, event: Option<&'a str>) -> Self {
        match (alert_type, event) {
            (Some("Utilisation"), _) => Self::Usage { first_use: false },
            (Some("FirstUse"), _) => Self::Usage { first_use: true },
            (Some("FirstAttachment"), _) => Self::FirstAttachment,
            (Some("ProfileStatusChange"), _) => Self::ProfileStatus,
            (Some("CountryChange"), _) => Self::CountryChange,
            (Some(level @ ("LowBalance" | "InsufficientBalance")), _) => Self::LowBalance(level),
            (Some(level @ ("Topup" | "AutoTopup" | "eSIMGoTopup")), _) => Self::Topup(level),
            (Some("MSISDNEnabled" | "MSISDNDisabled" | "SMSFailed"), _) => Self::Service,
            (None, Some("esim.deleted")) => Self::Deleted,
            (None, Some("esim.deletion_scheduled")) => Self::DeletionScheduled,
            _ => Self::Unrecognized,
        }
    }

    fn kind(self) -> EventKind {
        match self {
            Self::Usage { .. } => EventKind::DataUsage,
            Self::FirstAttachment | Self::ProfileStatus | Self::Deleted | Self::DeletionScheduled => {
                EventKind::EsimStatus
            }
            Self::CountryChange => EventKind::Location,
            Self::LowBalance(_) | Self::Topup(_) => EventKind::AccountBalance,
            Self::Service => EventKind::ServiceChange,
            Self::Unrecognized => EventKind::Unrecognized,
        }
    }
}

/// Maps an authenticated delivery to the common model (needs no secret).
pub fn normalize(verified: Verified<'_>) -> Result<Event, NormalizeError> {
    let (root, json) = match json::parse::<Callback>(verified.body()) {
        Ok(parsed) => parsed,
        Err(error) => return unreadable(&verified, &error),
    };
    // Rendered as text (not only strings) because a present value of any type decides the family.
    let alert_type = root.alert_type.text_ref();
    let family_b = root.event.text_ref();
    let notice = Notice::classify(alert_type.as_deref(), family_b.as_deref());
    let mut event = start_event(&verified, json.to_raw_value(), notice.kind(), None);
    event.provider_event_type = alert_type.as_deref().or(family_b.as_deref()).map(str::to_owned);
    event.set_occurred_at(root.date.instant().or_else(|| root.timestamp.instant()));
    if !matches!(notice, Notice::Unrecognized | Notice::LowBalance(_) | Notice::Topup(_)) {
        event.esim = identity(&root.iccid, &mut event.flags);
    }
    match notice {
        Notice::Usage { first_use } => usage(&mut event, &root.bundle, first_use),
        Notice::FirstAttachment => event.status = Some(status(Lifecycle::Active, "FirstAttachment")),
        Notice::ProfileStatus => profile_status(&mut event, &root),
        Notice::CountryChange => {
            event.location = Some(Location {
                country_code: root.country.code.text(),
                country_name: root.country.name.text(),
            });
        }
        Notice::LowBalance(level) => event.balance = Some(low_balance(level, &root.balance_info)),
        Notice::Topup(level) => {
            // Top-ups carry old and new amounts under `bundle`, oddly.
            event.balance = Some(AccountBalance {
                balance: root.bundle.new_amount.number(),
                threshold: None,
                currency: None,
                provider_level: Some(level.to_string()),
                low: false,
            });
        }
        Notice::Service => {
            // Who and which number, kept as references.
            if let Some(esim) = event.esim.as_mut() {
                for (name, value) in [("msisdn", &root.msisdn), ("reason", &root.reason)] {
                    if let Some(v) = value.text() {
                        esim.refs.insert(name.into(), v);
                    }
                }
            }
        }
        Notice::Deleted => event.status = Some(status(Lifecycle::Deleted, "esim.deleted")),
        Notice::DeletionScheduled | Notice::Unrecognized => {}
    }
    Ok(event)
}

fn usage(event: &mut Event, bundle: &BundleFields<'_>, first_use: bool) {
    event.bundle = bundle_of(bundle);
    event.usage = Some(
        DataUsage {
            total_bytes: bundle.initial_quantity.whole(),
            remaining_bytes: bundle.remaining_quantity.whole(),
            unlimited: bundle.unlimited.bool().unwrap_or(false),
            ..DataUsage::default()
        }
        .complete(),
    );
    event.validity = Some(Validity {
        expires_at: bundle.end_time.instant(),
        starts_at: bundle.start_time.instant(),
        ..Validity::default()
    })
    .filter(|v| v.expires_at.is_some());
    if first_use {
        event.status = Some(status(Lifecycle::Active, "FirstUse"));
    }
}

fn profile_status(event: &mut Event, root: &Callback<'_>) {
    let profile = root.profile_status.text();
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
    if let (Some(esim), Some(eid)) = (event.esim.as_mut(), root.device.eid.text()) {
        esim.refs.insert("eid".into(), eid);
    }
}

fn low_balance(level: &str, info: &BalanceInfo<'_>) -> AccountBalance {
    let percent = info.threshold_percent_remaining.number();
    AccountBalance {
        balance: info.balance.number(),
        threshold: info.threshold.number(),
        currency: None,
        provider_level: Some(match percent {
            Some(p) => format!("{level} ({p:.0}% of threshold)"),
            None => level.to_string(),
        }),
        low: true,
    }
}

json_fields! {
    /// The fields read from either body family (`alertType` bodies and `event` bodies).
    struct Callback<'a> {
        "alertType" => alert_type: Field<'a>,
        "event" => event: Field<'a>,
        "date" => date: Field<'a>,
        "timestamp" => timestamp: Field<'a>,
        "iccid" => iccid: Field<'a>,
        "profileStatus" => profile_status: Field<'a>,
        "msisdn" => msisdn: Field<'a>,
        "reason" => reason: Field<'a>,
        "bundle" => bundle: Obj<BundleFields<'a>>,
        "device" => device: Obj<Device<'a>>,
        "country" => country: Obj<Country<'a>>,
        "balanceInfo" => balance_info: Obj<BalanceInfo<'a>>,
    }
}

json_fields! {
    struct BundleFields<'a> {
        "id" => id: Field<'a>,
        "reference" => reference: Field<'a>,
        "name" => name: Field<'a>,
        "initialQuantity" => initial_quantity: Field<'a>,
        "remainingQuantity" => remaining_quantity: Field<'a>,
        "unlimited" => unlimited: Field<'a>,
        "startTime" => start_time: Field<'a>,
        "endTime" => end_time: Field<'a>,
        "newAmount" => new_amount: Field<'a>,
    }
}

json_fields! {
    struct Device<'a> {
        "eid" => eid: Field<'a>,
    }
}

json_fields! {
    struct Country<'a> {
        "code" => code: Field<'a>,
        "name" => name: Field<'a>,
    }
}

json_fields! {
    struct BalanceInfo<'a> {
        "balance" => balance: Field<'a>,
        "threshold" => threshold: Field<'a>,
        "thresholdPercentRemaining" => threshold_percent_remaining: Field<'a>,
    }
}

fn status(lifecycle: Lifecycle, provider_status: &str) -> StatusChange {
    StatusChange {
        lifecycle,
        provider_status: provider_status.into(),
        profile_status: None,
    }
}

fn bundle_of(bundle: &BundleFields<'_>) -> Option<Bundle> {
    let reference = bundle.id.text().or_else(|| bundle.reference.text());
    let name = bundle.name.text();
    (reference.is_some() || name.is_some()).then_some(Bundle { reference, name })
}

/// The eSIM a body names. An ICCID sent as a JSON number (the docs show one) may have lost precision in the
/// sender's float arithmetic and could name another customer's eSIM: the event is stored (the raw payload keeps
/// the digits) and flagged, but no per-eSIM state or alert is keyed by it.
fn identity(iccid: &Field<'_>, flags: &mut Vec<String>) -> Option<EsimIdentity> {
    match iccid {
        Field::Text(_) if iccid.as_str().is_some() => {
            let iccid = plausible_iccid(iccid.text(), flags)?;
            Some(EsimIdentity {
                key: iccid.clone(),
                iccid: Some(iccid),
                refs: BTreeMap::new(),
            })
        }
        Field::Number(_) => {
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

/// eSIM Go in the provider list.
pub static SPEC: ProviderSpec = ProviderSpec {
    id: ProviderId::EsimGo,
    title: "eSIM Go",
    extra_secrets: &["ESIMGO_V2_TOKENS"],
    build: |config| Ok(Arc::new(EsimGo::new(config.secrets.clone(), config.extra(0)))),
    normalize,
    sign: |body, secret| {
        use base64::Engine;
        let tag = crate::simulate::hmac_sha256(secret, body);
        Signature::Header(SIGNATURE_HEADER, base64::engine::general_purpose::STANDARD.encode(tag))
    },
    event_types: &[
        "utilisation",
        "first_use",
        "first_attachment",
        "country_change",
        "low_balance",
        "topup",
        "profile_status_change",
        "msisdn_disabled",
        "esim_deleted",
    ],
    // Utilisation comes at 50, 80 and 100 % used: the plan is used up before the eSIM is deleted.
    scenario: &[
        ("first_attachment", 100),
        ("first_use", 100),
        ("utilisation", 50),
        ("utilisation", 20),
        ("utilisation", 0),
        ("esim_deleted", 0),
    ],
    sample,
    order_ref_field: None,
    data_units: DATA_UNITS,
    type_field: Some("alertType"),
    usage_api: Some(&super::esimgo_api::USAGE_API),
};

fn sample(t: &str, p: &SampleParams) -> Option<Value> {
    use crate::simulate::rfc3339;
    use chrono::Duration;
    let (ends, total, remaining) = (p.ends(), SampleParams::TOTAL_BYTES, p.remaining_bytes());
    let body = {
        let bundle = json!({"id": "215009266", "reference": "3a6e2e40-c674-45e9-b289-b35027bf72a9-0", "name": "esim_1GB_7D_GB_V2",
            "description": "eSIM, 1GB, 7 Days, United Kingdom, V2", "initialQuantity": total, "remainingQuantity": remaining,
            "startTime": rfc3339(ends - Duration::days(7)), "endTime": rfc3339(ends), "unlimited": false});
        match t {
            "utilisation" => json!({"iccid": p.iccid, "alertType": "Utilisation", "bundle": bundle}),
            "first_use" => json!({"iccid": p.iccid, "alertType": "FirstUse", "bundle": bundle}),
            "first_attachment" => json!({"iccid": p.iccid, "alertType": "FirstAttachment"}),
            "country_change" => {
                json!({"iccid": p.iccid, "alertType": "CountryChange", "country": {"code": "NO", "name": "Norway"}})
            }
            "low_balance" => {
                json!({"alertType": "LowBalance", "balanceInfo": {"balance": 1299.3, "threshold": 2600, "thresholdPercentRemaining": 49.973}})
            }
            "topup" => json!({"alertType": "Topup", "bundle": {"oldAmount": 40.1, "newAmount": 90.1}}),
            "profile_status_change" => {
                json!({"iccid": p.iccid, "alertType": "ProfileStatusChange", "profileStatus": "Installed", "timestamp": rfc3339(p.now)})
            }
            "msisdn_disabled" => {
                json!({"iccid": p.iccid, "alertType": "MSISDNDisabled", "msisdn": "446789030059638", "reason": "Bundle expired"})
            }
            "esim_deleted" => json!({"date": rfc3339(p.now), "event": "esim.deleted", "iccid": p.iccid}),
            _ => return None,
        }
    };
    Some(body)
}
