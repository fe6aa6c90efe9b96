//! What a partner's callback URL receives: a [`CallbackBody`], signed (Standard Webhooks) by the callback
//! sender. On the topic a notification carries the attributes the sender fans out by (`notification_type`,
//! `audience`): real notifications go to `audience=all`, an echo to `audience=<partner id>` only.

pub mod types;

pub use types::NotificationType;

use crate::alerts::{Alert, AlertType, ALERT_SCHEMA_VERSION};
use crate::model::{
    AccountBalance, Bundle, DataUsage, DedupeKey, EsimIdentity, Event, Lifecycle, Location, OrderInfo, PartnerId,
    PayloadSha256, ProviderId, StatusChange, Validity,
};
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

pub const CALLBACK_SCHEMA_VERSION: u32 = 1;
pub const TYPE_ATTRIBUTE: &str = "notification_type";
pub const AUDIENCE_ATTRIBUTE: &str = "audience";
/// The partner a notification's eSIM belongs to, where one does.
pub const OWNER_ATTRIBUTE: &str = "owner";
/// The audience of real notifications; partner ids can never take this value.
pub const AUDIENCE_ALL: &str = "all";

/// The subject of an echo: exactly one of an eSIM reference or a simulation id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum EchoSubject {
    #[serde(rename = "esim_ref")]
    Esim(String),
    #[serde(rename = "simulation_id")]
    Simulation(String),
}

impl EchoSubject {
    fn value(&self) -> &str {
        match self {
            Self::Esim(v) | Self::Simulation(v) => v,
        }
    }
}

/// The JSON document a callback carries (documented in `docs/callbacks.md`).
#[derive(Debug, Clone, Serialize)]
pub struct CallbackBody {
    pub schema_version: u32,
    /// Stable per notification: a redelivery carries the same id, so partners deduplicate on it.
    pub notification_id: String,
    pub notification_type: u16,
    pub notification_name: &'static str,
    /// True for echoes fired through the API: simulated data, not a real eSIM event.
    pub test: bool,
    /// The partner an echo was fired for; absent on real notifications.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partner_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<EchoSubject>,
    pub created_at: DateTime<Utc>,
    /// The alert document (`docs/schemas/alert.schema.json`) or the normalized event without its raw payload.
    pub data: Value,
}

/// One message for the partner topic.
#[derive(Debug, Clone)]
pub struct Notification {
    pub notification_type: NotificationType,
    /// `all`, or one partner's id for an echo.
    pub audience: String,
    /// The partner the eSIM belongs to, where one does (an echo's: its partner).
    pub owner: Option<PartnerId>,
    pub body: CallbackBody,
}

fn notification_id(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    let digest = hasher.finalize();
    format!("ntf_{}", hex::encode(&digest[..16]))
}

/// The event as partners see it: the normalized fields, not the provider's raw body.
fn event_data(event: &Event) -> Value {
    // The raw body is left out before conversion, not after: it is not copied into a `Value` only to be
    // dropped, and a body nested deeper than a `Value` may be (valid JSON, stored as received) cannot empty
    // the normalized fields.
    let mut view = event.clone();
    view.raw = serde_json::value::RawValue::from_string("null".into()).expect("static JSON");
    view.raw_padding = Default::default();
    let mut data = serde_json::to_value(&view).unwrap_or(Value::Null);
    if let Some(fields) = data.as_object_mut() {
        fields.remove("raw");
    }
    data
}

impl Notification {
    pub fn for_alert(alert: &Alert) -> Self {
        let notification_type = NotificationType::for_alert(alert.alert_type);
        Self::real(
            notification_type,
            notification_id(&["alert", &alert.alert_id]),
            alert.raised_at,
            serde_json::to_value(alert).unwrap_or(Value::Null),
            alert.partner_id.clone(),
        )
    }

    /// None for events partners cannot follow (health checks, unrecognized payloads). `owner` is the partner
    /// the event's eSIM belongs to, from its state.
    pub fn for_event(event: &Event, owner: Option<&PartnerId>) -> Option<Self> {
        let notification_type = NotificationType::for_event(event.kind)?;
        let id = notification_id(&["event", event.provider.as_str(), event.dedupe_key.as_str()]);
        let data = event_data(event);
        Some(Self::real(
            notification_type,
            id,
            event.received_at,
            data,
            owner.cloned(),
        ))
    }

    fn real(
        notification_type: NotificationType,
        notification_id: String,
        at: DateTime<Utc>,
        data: Value,
        owner: Option<PartnerId>,
    ) -> Self {
        Self {
            notification_type,
            audience: AUDIENCE_ALL.into(),
            owner,
            body: CallbackBody {
                schema_version: CALLBACK_SCHEMA_VERSION,
                notification_id,
                notification_type: notification_type.number(),
                notification_name: notification_type.name(),
                test: false,
                partner_id: None,
                subject: None,
                created_at: at,
                data,
            },
        }
    }

    /// A simulated notification of `notification_type` for one partner, with sample data about the subject.
    pub fn echo(
        partner: &PartnerId,
        notification_type: NotificationType,
        subject: EchoSubject,
        now: DateTime<Utc>,
    ) -> Self {
        let id = notification_id(&[
            "echo",
            partner.as_str(),
            subject.value(),
            &notification_type.number().to_string(),
            &now.timestamp_nanos_opt().unwrap_or_default().to_string(),
        ]);
        let data = sample_data(partner, notification_type, &subject, now);
        Self {
            notification_type,
            audience: partner.as_str().into(),
            owner: Some(partner.clone()),
            body: CallbackBody {
                schema_version: CALLBACK_SCHEMA_VERSION,
                notification_id: id,
                notification_type: notification_type.number(),
                notification_name: notification_type.name(),
                test: true,
                partner_id: Some(partner.as_str().into()),
                subject: Some(subject),
                created_at: now,
                data,
            },
        }
    }

    pub fn message(&self) -> String {
        serde_json::to_string(&self.body).unwrap_or_default()
    }

    /// String message attributes: what the callback sender fans out by.
    pub fn attributes(&self) -> Vec<(&'static str, String)> {
        let mut attributes = vec![
            (TYPE_ATTRIBUTE, self.notification_type.number().to_string()),
            (AUDIENCE_ATTRIBUTE, self.audience.clone()),
            ("test", self.body.test.to_string()),
        ];
        if let Some(owner) = &self.owner {
            attributes.push((OWNER_ATTRIBUTE, owner.to_string()));
        }
        attributes
    }
}

/// A message from the topic as a callback: its notification id and body. Event notifications and echoes
/// are published as the callback body itself; an alert as its document, which becomes the alert's body.
pub fn callback_body(message: &str) -> Option<(String, String)> {
    let value: Value = serde_json::from_str(message).ok()?;
    if let Some(id) = value.get("notification_id").and_then(Value::as_str) {
        return Some((id.to_string(), message.to_string()));
    }
    let alert: Alert = serde_json::from_value(value).ok()?;
    let notification = Notification::for_alert(&alert);
    Some((notification.body.notification_id.clone(), notification.message()))
}

const SAMPLE_PROVIDER: ProviderId = ProviderId::EsimGo;

fn sample_esim(subject: &EchoSubject) -> EsimIdentity {
    let key = match subject {
        EchoSubject::Esim(reference) => reference.clone(),
        EchoSubject::Simulation(id) => format!("sim-{id}"),
    };
    EsimIdentity {
        key,
        iccid: None,
        refs: Default::default(),
    }
}

fn sample_bundle() -> Bundle {
    Bundle {
        reference: Some("esim_1GB_7D_IT_V2".into()),
        name: Some("1GB, 7 days, Italy".into()),
    }
}

const GIB: u64 = 1 << 30;

fn sample_usage() -> DataUsage {
    DataUsage {
        total_bytes: Some(GIB),
        used_bytes: Some(GIB - GIB / 10),
        ..Default::default()
    }
    .complete()
}

/// Sample data in exactly the shape real notifications of that type carry.
fn sample_data(
    partner: &PartnerId,
    notification_type: NotificationType,
    subject: &EchoSubject,
    now: DateTime<Utc>,
) -> Value {
    let esim = sample_esim(subject);
    let dedupe_key = DedupeKey::provider_id(format!("test-{}", subject.value()));
    if let Some(alert_type) = notification_type.alert_type() {
        let level = match alert_type {
            AlertType::LowData => "10%",
            AlertType::Expiry => "24h",
            AlertType::AccountBalance => "low",
        };
        let esim_part = if alert_type == AlertType::AccountBalance {
            "-"
        } else {
            &esim.key
        };
        let alert = Alert {
            schema_version: ALERT_SCHEMA_VERSION,
            alert_id: format!(
                "{SAMPLE_PROVIDER}#{esim_part}#esim_1GB_7D_IT_V2#{}#{level}",
                alert_type.as_str()
            ),
            alert_type,
            level: level.into(),
            provider_level: None,
            provider: SAMPLE_PROVIDER,
            esim: (alert_type != AlertType::AccountBalance).then(|| esim.clone()),
            bundle: (alert_type != AlertType::AccountBalance).then(sample_bundle),
            usage: (alert_type == AlertType::LowData).then(sample_usage),
            expires_at: (alert_type == AlertType::Expiry).then(|| now + Duration::hours(20)),
            balance: (alert_type == AlertType::AccountBalance).then(sample_balance),
            event_dedupe_key: dedupe_key,
            occurred_at: now,
            raised_at: now,
            former_alert_id: None,
            customer_id: None,
            partner_id: Some(partner.clone()),
        };
        return serde_json::to_value(&alert).unwrap_or(Value::Null);
    }
    let kind = notification_type
        .event_kind()
        .unwrap_or(crate::model::EventKind::Unrecognized);
    let raw = serde_json::value::RawValue::from_string("{}".into()).expect("static JSON");
    let mut event = Event::new(SAMPLE_PROVIDER, kind, dedupe_key, now, PayloadSha256::ZERO, raw);
    event.provider_event_type = Some("test".into());
    use NotificationType as T;
    match notification_type {
        T::EsimStatus => {
            event.status = Some(StatusChange {
                lifecycle: Lifecycle::Active,
                provider_status: "ACTIVE".into(),
                profile_status: Some("ENABLED".into()),
            })
        }
        T::DataUsage => event.usage = Some(sample_usage()),
        T::Validity => {
            event.validity = Some(Validity {
                expires_at: Some(now + Duration::days(3)),
                provider_remaining: Some("3 DAY".into()),
                ..Default::default()
            })
        }
        T::Order => {
            event.order = Some(OrderInfo {
                order_ref: Some(format!("order-{}", subject.value())),
                status: Some("completed".into()),
                transaction_ref: None,
            })
        }
        T::AccountBalance => event.balance = Some(sample_balance()),
        T::Location => {
            event.location = Some(Location {
                country_code: Some("IT".into()),
                country_name: Some("Italy".into()),
            })
        }
        _ => {}
    }
    if !matches!(notification_type, T::AccountBalance) {
        event.esim = Some(esim);
        event.bundle = Some(sample_bundle());
    }
    event_data(&event)
}

fn sample_balance() -> AccountBalance {
    AccountBalance {
        balance: Some(42.5),
        threshold: Some(50.0),
        currency: Some("USD".into()),
        provider_level: Some("low".into()),
        low: true,
    }
}

/// A notification as it reaches the sender (from the topic): its type, audience and body.
#[derive(Debug, Clone, PartialEq)]
pub struct NotificationMessage {
    pub notification_type: NotificationType,
    /// `all`, or one partner's id (an echo).
    pub audience: String,
    /// The partner the eSIM belongs to, where one does: `own` partners hear of their eSIMs only.
    pub owner: Option<PartnerId>,
    pub notification_id: String,
    /// The callback body, exactly as partners receive it.
    pub body: String,
}

impl From<&Notification> for NotificationMessage {
    fn from(notification: &Notification) -> Self {
        Self {
            notification_type: notification.notification_type,
            audience: notification.audience.clone(),
            owner: notification.owner.clone(),
            notification_id: notification.body.notification_id.clone(),
            body: notification.message(),
        }
    }
}

#[cfg(test)]
mod tests;
