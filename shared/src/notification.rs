//! What a partner's callback URL receives: a [`CallbackBody`], signed (Standard Webhooks) by the callback
//! sender. On the topic a notification carries the attributes the sender fans out by (`notification_type`,
//! `audience`): real notifications go to `audience=all`, an echo to `audience=<partner id>` only. Alert sinks
//! publish these (`alerts::sink`) and the callbacks send them; an echo's sample data is `callbacks::notification`'s.

pub mod types;

pub use types::NotificationType;

use crate::alert_document::Alert;
use crate::model::{Event, PartnerId};
use chrono::{DateTime, Utc};
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
    pub(crate) fn value(&self) -> &str {
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

pub(crate) fn notification_id(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    let digest = hasher.finalize();
    format!("ntf_{}", hex::encode(&digest[..16]))
}

/// The event as partners see it: the normalized fields, not the provider's raw body.
pub(crate) fn event_data(event: &Event) -> Value {
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
