//! Airalo Partner API webhooks. `airalo-signature` is the lower-case hex HMAC-SHA512 keyed with the partner's
//! client secret, computed over the raw body or, by Airalo's own SDKs, over a canonical re-encoding
//! (`airalo_canonical`): a signature matching either is accepted, nothing else. Airalo checks the URL with
//! `HEAD` before opting in. The three payload families have no type field, id or time, so they are told apart
//! by shape.

use super::airalo_api::DATA_UNITS;
use super::airalo_canonical::{sdk_form, NonAscii};
use super::json::{self, json_fields, Field, List, Obj};
use super::registry::{ProviderSpec, Signature};
use super::{plausible_iccid, start_event, unreadable, NormalizeError, Provider};
use crate::auth::{signature_tag, AuthFailure, KeyRing, MacRing, Verified};
use crate::ingress::Delivery;
use crate::model::{
    AccountBalance, Bundle, DataUsage, DedupeBasis, DedupeKey, EsimIdentity, Event, EventKind, OrderInfo,
    PayloadSha256, ProviderId, Validity,
};
use crate::simulate::SampleParams;
use hmac::Hmac;
use lambda_http::http::HeaderName;
use serde_json::{json, Value};
use sha2::Sha512;
use std::cell::OnceCell;
use std::collections::BTreeMap;
use std::sync::Arc;

pub const SIGNATURE_HEADER: &str = "airalo-signature";
/// The header parsed once, not on every lookup.
static SIGNATURE: HeaderName = HeaderName::from_static(SIGNATURE_HEADER);

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
}

/// The messages besides the raw body that Airalo's SDKs may have signed, built on first use and only when they
/// differ from what was already tried: most deliveries match the raw body under the first key and never build
/// them, and a body without non-ASCII text has one SDK form, not two.
struct SdkForms<'a> {
    body: &'a [u8],
    verbatim: OnceCell<Option<Vec<u8>>>,
    escaped: OnceCell<Option<Vec<u8>>>,
}

impl<'a> SdkForms<'a> {
    fn new(body: &'a [u8]) -> Self {
        Self {
            body,
            verbatim: OnceCell::new(),
            escaped: OnceCell::new(),
        }
    }

    fn verbatim(&self) -> Option<&[u8]> {
        self.verbatim
            .get_or_init(|| sdk_form(self.body, NonAscii::Verbatim))
            .as_deref()
    }

    fn escaped(&self) -> Option<&[u8]> {
        self.escaped
            .get_or_init(|| {
                // The escaped form differs from the verbatim one exactly when some text is not ASCII.
                let verbatim_is_ascii = self.verbatim()?.is_ascii();
                (!verbatim_is_ascii)
                    .then(|| sdk_form(self.body, NonAscii::Escaped))
                    .flatten()
            })
            .as_deref()
    }

    /// Whether `signed` holds for an SDK form other than the body itself.
    fn any(&self, signed: impl Fn(&[u8]) -> bool) -> bool {
        let body = self.body;
        let other = |form: Option<&[u8]>| form.filter(|form| *form != body).is_some_and(&signed);
        other(self.verbatim()) || other(self.escaped())
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
        let tag = signature_tag(delivery, &SIGNATURE, 64)?.ok_or(AuthFailure::MissingSignature(SIGNATURE_HEADER))?;
        let body: &[u8] = &delivery.body;
        let forms = SdkForms::new(body);
        let authentic = self
            .client_secrets
            .any_key(|key| key.signed(body, &tag) || forms.any(|form| key.signed(form, &tag)));
        if !authentic {
            return Err(AuthFailure::SignatureMismatch);
        }
        Ok(Verified::new(ProviderId::Airalo, delivery))
    }
}

/// Maps an authenticated delivery to the common model (needs no secret).
pub fn normalize(verified: Verified<'_>) -> Result<Event, NormalizeError> {
    let mut event = read(verified)?;
    key_by_canonical_body(&mut event, verified.body());
    Ok(event)
}

/// A delivery keyed by its body is keyed by the body's canonical form (the SDK form with non-ASCII escaped:
/// the same bytes for every whitespace and escape spelling of one JSON text). The signature may cover an SDK
/// form, so each such variant of a signed body verifies, and must be the same delivery, not another alert.
fn key_by_canonical_body(event: &mut Event, body: &[u8]) {
    if event.dedupe_basis != DedupeBasis::BodyHash {
        return;
    }
    let Some(canonical) = sdk_form(body, NonAscii::Escaped) else {
        return;
    };
    event.dedupe_basis = DedupeBasis::CanonicalBody;
    if canonical != body {
        // The raw body's hash stays its former key: a copy stored under it is this delivery.
        crate::compat::former::rekey(event, DedupeKey::body_hash(&PayloadSha256::of(&canonical)));
    }
}

/// The event a body describes, keyed as [`start_event`] keys it.
fn read(verified: Verified<'_>) -> Result<Event, NormalizeError> {
    let (root, json) = match json::parse::<Notification>(verified.body()) {
        Ok(parsed) => parsed,
        Err(error) => return unreadable(&verified, &error),
    };
    let data = &root.data;
    let level = root.level.text();
    let iccid = root.iccid.text();

    if let (Some(level), Some(iccid)) = (level, iccid.clone()) {
        // Low data (`75%`, `90%`) or expiry (`3days`, `1days`): one notification per package and level.
        let package = root.package_name.text();
        let id = [&iccid, "#", package.as_deref().unwrap_or("-"), "#", &level].concat();
        let is_expiry = ends_with_any_case(&level, "day") || ends_with_any_case(&level, "days");
        let kind = if is_expiry {
            EventKind::Validity
        } else {
            EventKind::DataUsage
        };
        let mut event = start_event(&verified, json.to_raw_value(), kind, Some(id.into()));
        event.dedupe_basis = DedupeBasis::Derived;
        event.provider_event_type = Some(["low_data_notification/", &level].concat());
        event.esim = plausible_iccid(Some(iccid), &mut event.flags).map(|iccid| EsimIdentity {
            key: iccid.clone(),
            iccid: Some(iccid),
            refs: BTreeMap::new(),
        });
        event.bundle = package.map(|name| Bundle {
            reference: Some(name.clone()),
            name: Some(name),
        });
        let ratio = root
            .remaining_percentage
            .number()
            .filter(|p| (0.0..=100.0).contains(p))
            .map(|p| p / 100.0);
        let mut usage = DataUsage {
            remaining_ratio: ratio,
            ..DataUsage::default()
        };
        if is_expiry {
            event.validity = Some(Validity {
                provider_remaining: Some(level.clone()),
                alert_level: hours_left(&level),
                provider_alert_level: Some(level),
                ..Validity::default()
            });
        } else {
            usage.alert_level = percent_left(&level);
            usage.provider_alert_level = Some(level);
        }
        event.usage = Some(usage);
        return Ok(event);
    }

    if let (Some(message), Some(remaining)) = (root.message.text(), root.remaining.number()) {
        let mut event = start_event(&verified, json.to_raw_value(), EventKind::AccountBalance, None);
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

    if let Some(request_id) = root.request_id.text().or_else(|| data.request_id.text()) {
        let mut event = start_event(
            &verified,
            json.to_raw_value(),
            EventKind::Order,
            Some(request_id.as_str().into()),
        );
        event.provider_event_type = Some("async_order".into());
        let sims: Vec<&Sim> = data
            .sims
            .0
            .iter()
            .filter(|sim| sim.is_object())
            .map(|sim| &**sim)
            .collect();
        let failed = root.reason.is_present() || data.reason.is_present();
        event.order = Some(OrderInfo {
            order_ref: data.code.text().or_else(|| data.id.text()),
            status: Some(if failed { "failed" } else { "completed" }.into()),
            transaction_ref: Some(request_id),
        });
        event.bundle = data.package_id.text().map(|id| Bundle {
            reference: Some(id),
            name: data.package.text(),
        });
        if let [sim] = sims.as_slice() {
            if let Some(iccid) = plausible_iccid(sim.iccid.text(), &mut event.flags) {
                event.esim = Some(EsimIdentity {
                    key: iccid.clone(),
                    iccid: Some(iccid),
                    refs: BTreeMap::new(),
                });
            }
        }
        return Ok(event);
    }

    Ok(start_event(
        &verified,
        json.to_raw_value(),
        EventKind::Unrecognized,
        None,
    ))
}

/// Airalo's low-data levels count data used (`75%`, `90%`); the alert scale counts what is left (`25%`, `10%`).
fn percent_left(level: &str) -> Option<String> {
    let used: u8 = level.strip_suffix('%')?.trim().parse().ok()?;
    (used <= 100).then(|| crate::alerts::percent_level(100 - used))
}

/// Airalo's expiry levels count days left (`3days`, `1days`); the alert scale counts hours (`72h`, `24h`), so
/// `1days` is the same alert as the 24-hour window's.
fn hours_left(level: &str) -> Option<String> {
    let digits = level.trim().trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let days: u16 = digits.trim().parse().ok()?;
    (days <= 365).then(|| crate::alerts::hours_level(i64::from(days) * 24))
}

/// `ends_with` ignoring ASCII case, without a lower-case copy per delivery.
fn ends_with_any_case(text: &str, suffix: &str) -> bool {
    let (text, suffix) = (text.as_bytes(), suffix.as_bytes());
    text.len() >= suffix.len() && text[text.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
}

json_fields! {
    /// The fields read from any of the three families: low data / expiry, credit limit, async order.
    struct Notification<'a> {
        "level" => level: Field<'a>,
        "iccid" => iccid: Field<'a>,
        "package_name" => package_name: Field<'a>,
        "remaining_percentage" => remaining_percentage: Field<'a>,
        "message" => message: Field<'a>,
        "remaining" => remaining: Field<'a>,
        "request_id" => request_id: Field<'a>,
        "reason" => reason: Field<'a>,
        "data" => data: Obj<OrderData<'a>>,
    }
}

json_fields! {
    struct OrderData<'a> {
        "request_id" => request_id: Field<'a>,
        "code" => code: Field<'a>,
        "id" => id: Field<'a>,
        "package_id" => package_id: Field<'a>,
        "package" => package: Field<'a>,
        "reason" => reason: Field<'a>,
        "sims" => sims: List<Obj<Sim<'a>>>,
    }
}

json_fields! {
    struct Sim<'a> {
        "iccid" => iccid: Field<'a>,
    }
}

/// Airalo in the provider list.
pub static SPEC: ProviderSpec = ProviderSpec {
    id: ProviderId::Airalo,
    title: "Airalo",
    extra_secrets: &[],
    build: |config| Ok(Arc::new(Airalo::new(config.secrets.clone()))),
    normalize,
    sign: |body, secret| {
        use hmac::{digest::KeyInit, Mac};
        let mut mac =
            <hmac::Hmac<sha2::Sha512> as KeyInit>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
        mac.update(body);
        Signature::Header(SIGNATURE_HEADER, hex::encode(mac.finalize().into_bytes()))
    },
    event_types: &[
        "low_data_75",
        "low_data_90",
        "expiry_3days",
        "expiry_1days",
        "credit_limit",
        "async_order",
    ],
    scenario: &[
        ("async_order", 100),
        ("low_data_75", 25),
        ("low_data_90", 10),
        ("expiry_3days", 10),
        ("expiry_1days", 10),
    ],
    sample,
    order_ref_field: None,
    data_units: DATA_UNITS,
    type_field: Some("level"),
    usage_api: Some(&super::airalo_api::USAGE_API),
};

fn sample(t: &str, p: &SampleParams) -> Option<Value> {
    let id = p.event_id("airalo", t);
    let body = {
        let level = |level: &str| json!({"level": level, "package_name": "bonbon-7gb-10days", "remaining_percentage": p.remaining_percent, "iccid": p.iccid});
        match t {
            "low_data_75" => level("75%"),
            "low_data_90" => level("90%"),
            "expiry_3days" => level("3days"),
            "expiry_1days" => level("1days"),
            "credit_limit" => json!({"message": "Surpassed 80% of the credit limit balance", "remaining": 225.35}),
            "async_order" => {
                json!({"request_id": format!("REQ{}", &id[..22]), "data": {"id": p.sequence, "code": format!("20260101-{:06}", p.sequence),
                "package_id": "kallur-digital-7days-1gb", "quantity": "1", "type": "sim", "validity": 7, "package": "Kallur Digital-1 GB - 7 Days",
                "data": "1 GB", "price": 9.5, "currency": "USD", "created_at": p.now.format("%Y-%m-%d %H:%M:%S").to_string(),
                "sims": [{"iccid": p.iccid, "lpa": "lpa.airalo.com", "matching_code": "TEST", "qrcode_url": "https://sandbox.airalo.com/qr?id=1"}]},
                "meta": {"message": "success"}})
            }
            _ => return None,
        }
    };
    Some(body)
}
