//! One alert, three audiences: a JSON document for machines (SQS, HTTPS, Lambda subscribers), a short text
//! for email, and an SMS that fits one message (`sms::fit`); plus message attributes for subscription filter
//! policies. Provider text in them is cleaned when events are normalized; the texts are cleaned again here,
//! so an alert stored before that, or built by other code, cannot put a control character in a message.

use crate::alerts::{Alert, AlertType};
use crate::notification::Notification;
use crate::sms_length as sms;
use crate::text::{clean, clean_to};
use serde_json::json;

const SUBJECT_MAX_CHARS: usize = 100;

#[derive(Debug, Clone, PartialEq)]
pub struct RenderedAlert {
    /// Email subject (SNS allows 100 printable ASCII characters).
    pub subject: String,
    /// The SNS `Message` for `MessageStructure=json`: one entry per protocol plus `default`.
    pub message: String,
    /// The machine document on its own.
    pub document: serde_json::Value,
    pub email_text: String,
    pub sms_text: String,
    /// (name, value) pairs published as String message attributes.
    pub attributes: Vec<(&'static str, String)>,
}

fn esim_label(alert: &Alert) -> String {
    alert
        .esim
        .as_ref()
        .map(|e| e.iccid.clone().unwrap_or_else(|| e.key.clone()))
        .unwrap_or_else(|| "-".into())
}

fn bundle_label(alert: &Alert) -> Option<String> {
    alert
        .bundle
        .as_ref()
        .and_then(|b| b.name.clone().or_else(|| b.reference.clone()))
}

/// The one-line human sentence shared by email and SMS.
fn sentence(alert: &Alert) -> String {
    let esim = esim_label(alert);
    let on_bundle = bundle_label(alert).map(|b| format!(" on {b}")).unwrap_or_default();
    match alert.alert_type {
        AlertType::LowData => {
            let usage = alert.usage.as_ref();
            let percent = usage
                .and_then(|u| u.remaining_ratio)
                .map(|r| format!("{:.0}%", r * 100.0))
                .unwrap_or_else(|| alert.level.clone());
            // In the provider's own units, as the plan was sold (MB of 10^6 or 2^20 bytes).
            let units = crate::model::DataUnits::of(alert.provider);
            let amounts = usage
                .and_then(|u| {
                    Some(format!(
                        " ({} of {})",
                        units.label(u.remaining_bytes?, '.'),
                        units.label(u.total_bytes?, '.')
                    ))
                })
                .unwrap_or_default();
            format!("eSIM {esim} has {percent} of its data left{amounts}{on_bundle}.")
        }
        AlertType::Expiry => {
            let when = alert.expires_at.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string());
            match (alert.level.as_str(), when) {
                ("ended", Some(when)) => format!("eSIM {esim}: the plan{on_bundle} ended {when}."),
                ("ended", None) => format!("eSIM {esim}: the plan{on_bundle} has ended."),
                (_, Some(when)) => format!("eSIM {esim}: the plan{on_bundle} ends {when}."),
                (level, None) => format!("eSIM {esim}: the plan{on_bundle} ends within {level}."),
            }
        }
        AlertType::AccountBalance => {
            let balance = alert.balance.as_ref();
            let amount = balance
                .and_then(|b| b.balance)
                .map(|v| {
                    format!(
                        " Balance {v:.2}{}.",
                        balance
                            .and_then(|b| b.currency.clone())
                            .map(|c| format!(" {c}"))
                            .unwrap_or_default()
                    )
                })
                .unwrap_or_default();
            let label = alert.provider_level.as_deref().unwrap_or(&alert.level);
            format!("{} account balance alert ({label}).{amount}", alert.provider)
        }
    }
}

pub fn render(alert: &Alert) -> RenderedAlert {
    let document = serde_json::to_value(alert).unwrap_or_else(|_| json!({"alert_id": alert.alert_id}));
    // Whatever a label held, the sentence is one clean line.
    let line = clean_to(&sentence(alert), usize::MAX).into_owned();
    let kind = alert.alert_type.as_str().replace('_', " ");
    let level = clean(&alert.level);
    let subject: String = format!("esimhooks: {kind} ({level}) for eSIM {}", esim_label(alert))
        .chars()
        .filter(|c| c.is_ascii() && !c.is_ascii_control())
        .take(SUBJECT_MAX_CHARS)
        .collect();
    let email_text = format!(
        "{line}\n\nAlert: {kind}, level {level}\nProvider: {}\nRaised: {}\nAlert id: {}\n",
        alert.provider,
        alert.raised_at.to_rfc3339(),
        clean(&alert.alert_id)
    );
    let sms_text = sms::fit(&line, 1);
    let doc_text = document.to_string();
    // Partner callbacks are the HTTPS subscribers: they get the alert inside the callback body.
    let partner = Notification::for_alert(alert);
    let callback_text = partner.message();
    let message = json!({
        "default": doc_text,
        "email": email_text,
        "email-json": doc_text,
        "sms": sms_text,
        "sqs": doc_text,
        "http": callback_text,
        "https": callback_text,
        "lambda": doc_text,
        "firehose": doc_text,
        "application": doc_text,
    })
    .to_string();
    RenderedAlert {
        subject,
        message,
        document,
        email_text,
        sms_text,
        attributes: [
            ("provider", alert.provider.to_string()),
            ("alert_type", alert.alert_type.as_str().to_string()),
            ("level", level.into_owned()),
        ]
        .into_iter()
        .chain(
            alert
                .provider_level
                .as_deref()
                .map(|label| ("provider_level", clean(label).into_owned()))
                .filter(|(_, label)| !label.is_empty()),
        )
        .chain(partner.attributes())
        .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Bundle, DataUsage, DedupeKey, EsimIdentity, ProviderId};
    use chrono::Utc;

    fn alert() -> Alert {
        Alert {
            schema_version: 1,
            alert_id: "esimaccess#T1#TX#low_data#10%".into(),
            alert_type: AlertType::LowData,
            level: "10%".into(),
            provider_level: None,
            provider: ProviderId::EsimAccess,
            esim: Some(EsimIdentity {
                key: "T1".into(),
                iccid: Some("8943108170001029631".into()),
                refs: Default::default(),
            }),
            bundle: Some(Bundle {
                reference: Some("TX".into()),
                name: Some("x".repeat(300)),
            }),
            usage: Some(DataUsage {
                total_bytes: Some(53_687_091_200),
                remaining_bytes: Some(5_351_505_742),
                remaining_ratio: Some(0.0997),
                ..Default::default()
            }),
            expires_at: None,
            balance: None,
            event_dedupe_key: DedupeKey::provider_id("f776"),
            occurred_at: Utc::now(),
            raised_at: Utc::now(),
            former_alert_id: None,
            customer_id: None,
            partner_id: None,
        }
    }

    #[test]
    fn sms_and_subject_respect_their_limits() {
        let r = render(&alert());
        assert_eq!(sms::measure(&r.sms_text).segments, 1, "{}", r.sms_text);
        assert!(r.sms_text.ends_with(sms::CUT_MARK));
        assert!(
            r.sms_text
                .starts_with("eSIM 8943108170001029631 has 10% of its data left (5 GB of 50 GB)"),
            "in eSIM Access's binary units, as sold"
        );
        assert!(r.subject.len() <= 100 && r.subject.is_ascii());
    }

    /// Labels an earlier version stored unclean, or other code built: every text a person or a filter
    /// policy sees is one clean line, and the SMS is measured in its encoding's units.
    #[test]
    fn hostile_labels_give_clean_messages_that_fit_one_sms() {
        let mut a = alert();
        a.esim.as_mut().unwrap().iccid = Some("8943\r\nALERT fake\u{7}\u{1b}[31m".into());
        a.bundle.as_mut().unwrap().name = Some(format!("🌍 Europe\r\nVerify your account {}", "🌍".repeat(30)));
        a.level = "10%\n\u{1b}[0m".into();
        let r = render(&a);
        assert_eq!(sms::measure(&r.sms_text).segments, 1, "{}", r.sms_text);
        for text in [&r.sms_text, &r.subject] {
            assert!(!text.chars().any(crate::text::is_unsafe), "{text:?}");
        }
        let first_line = r.email_text.lines().next().unwrap();
        assert!(first_line.contains("8943 ALERT fake [31m") && !first_line.contains('\r'));
        assert_eq!(r.email_text.lines().count(), 6, "no forged lines: {}", r.email_text);
        assert!(r.attributes.iter().all(|(_, v)| !v.chars().any(crate::text::is_unsafe)));
        assert!(r.attributes.contains(&("level", "10% [0m".to_string())));
    }

    #[test]
    fn message_structure_has_every_protocol_and_the_document() {
        let r = render(&alert());
        let m: serde_json::Value = serde_json::from_str(&r.message).unwrap();
        for key in ["default", "email", "sms", "sqs", "https", "lambda"] {
            assert!(m[key].is_string(), "missing {key}");
        }
        let doc: serde_json::Value = serde_json::from_str(m["sqs"].as_str().unwrap()).unwrap();
        assert_eq!(doc["type"], "low_data");
        assert_eq!(doc["level"], "10%");
        assert_eq!(r.attributes[1], ("alert_type", "low_data".to_string()));
        assert!(r.attributes.contains(&("notification_type", "1".to_string())));
        assert!(r.attributes.contains(&("audience", "all".to_string())));
        let callback: serde_json::Value = serde_json::from_str(m["https"].as_str().unwrap()).unwrap();
        assert_eq!(callback["notification_name"], "alert.low_data");
        assert_eq!(callback["data"], doc);
    }
}
