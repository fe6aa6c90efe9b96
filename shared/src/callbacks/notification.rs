//! Echoes: a simulated notification a partner fires to test its endpoint, with sample data in exactly the
//! shape real notifications of its type carry. What notifications are is `crate::notification`, which the
//! alert sinks read too; reachable here as well.

use crate::alerts::{Alert, AlertType, ALERT_SCHEMA_VERSION};
use crate::model::{
    AccountBalance, Bundle, DataUsage, DedupeKey, EsimIdentity, Event, Lifecycle, Location, OrderInfo, PartnerId,
    PayloadSha256, ProviderId, StatusChange, Validity,
};
pub use crate::notification::{
    callback_body, CallbackBody, EchoSubject, Notification, AUDIENCE_ALL, AUDIENCE_ATTRIBUTE, CALLBACK_SCHEMA_VERSION,
    OWNER_ATTRIBUTE, TYPE_ATTRIBUTE,
};
use crate::notification::{event_data, notification_id, NotificationType};
use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

impl Notification {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn partner() -> PartnerId {
        PartnerId::parse("acme-travel").unwrap()
    }

    #[test]
    fn echo_goes_to_one_partner_and_says_it_is_a_test() {
        let now = Utc::now();
        let n = Notification::echo(
            &partner(),
            NotificationType::DataUsage,
            EchoSubject::Simulation("run-7".into()),
            now,
        );
        let attributes = n.attributes();
        assert!(attributes.contains(&(TYPE_ATTRIBUTE, "11".into())));
        assert!(attributes.contains(&(AUDIENCE_ATTRIBUTE, "acme-travel".into())));
        let body: Value = serde_json::from_str(&n.message()).unwrap();
        assert_eq!(body["test"], true);
        assert_eq!(body["subject"]["simulation_id"], "run-7");
        assert_eq!(body["data"]["kind"], "data_usage");
        assert_eq!(body["data"]["esim"]["key"], "sim-run-7");
        assert!(body["data"].get("raw").is_none());
        assert!(body["notification_id"].as_str().unwrap().starts_with("ntf_"));
    }

    #[test]
    fn real_notifications_have_stable_ids_and_go_to_everyone() {
        let now = Utc::now();
        let sample = Notification::echo(
            &partner(),
            NotificationType::LowData,
            EchoSubject::Esim("E1".into()),
            now,
        );
        let alert: Alert = serde_json::from_value(sample.body.data).unwrap();
        let first = Notification::for_alert(&alert);
        let again = Notification::for_alert(&alert);
        assert_eq!(first.body.notification_id, again.body.notification_id);
        assert_eq!(first.audience, AUDIENCE_ALL);
        assert_eq!(first.body.notification_type, 1);
        assert!(!first.body.test);
    }

    #[test]
    fn event_notifications_keep_their_fields_whatever_the_raw_body_holds() {
        let deep = format!("{{\"x\":{}{}}}", "[".repeat(300), "]".repeat(300));
        let raw = serde_json::value::RawValue::from_string(deep).expect("valid JSON, only deep");
        let event = Event::new(
            ProviderId::EsimAccess,
            crate::model::EventKind::DataUsage,
            DedupeKey::provider_id("n-1"),
            Utc::now(),
            PayloadSha256::ZERO,
            raw,
        );
        let notification = Notification::for_event(&event, None).expect("data usage is followed");
        assert_eq!(notification.body.data["kind"], "data_usage");
        assert_eq!(notification.body.data["dedupe_key"], event.dedupe_key.as_str());
        assert!(notification.body.data.get("raw").is_none());
    }
}
