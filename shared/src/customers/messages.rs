//! What a customer reads: an alert worded for the person whose eSIM it is, in their language, with their
//! plan, the data left as the provider sells it and the end time in their time zone; never an ICCID, an
//! internal reference or raw provider text. The words are the templates' (see `wording.rs`); a locale without
//! its own wording falls back to English.

use super::{Contact, CustomerSettings, DataUnits};
use crate::alerts::{Alert, AlertType};
use crate::notify::sms;
use crate::text::escape_html;
use chrono::{DateTime, Utc};

/// One customer's message for one alert, in every form a channel takes.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomerMessage {
    pub locale: String,
    /// Fitted to the configured number of SMS parts in its encoding.
    pub sms: String,
    pub email_subject: String,
    pub email_text: String,
    pub email_html: String,
}

/// `template` with each `{name}` replaced by its value, in one pass: a value is never read as a template
/// (a customer called `{plan}` stays `{plan}`).
fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let value = after.find('}').and_then(|close| {
            values
                .iter()
                .find(|(name, _)| *name == &after[..close])
                .map(|(_, v)| (close, v))
        });
        match value {
            Some((close, value)) => {
                out.push_str(value);
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// A plan name fit to show a customer: the provider's bundle name when it reads as one (words, not a code
/// like `esim_1GB_7D_IT_V2` or `bonbon-7gb-10days`).
fn plan_name(alert: &Alert) -> Option<String> {
    let name = alert.bundle.as_ref()?.name.as_deref()?;
    let readable = name.contains(' ') && !name.chars().any(crate::text::is_unsafe) && name.len() <= 60;
    readable.then(|| name.to_string())
}

/// `2 Dec 14:00` in the contact's time zone (UTC when it has none), with the locale's month names.
fn local_time(at: DateTime<Utc>, time_zone: Option<&str>, months: &[std::borrow::Cow<'static, str>; 12]) -> String {
    use chrono::{Datelike, Timelike};
    let zone: chrono_tz::Tz = time_zone.and_then(|z| z.parse().ok()).unwrap_or(chrono_tz::UTC);
    let local = at.with_timezone(&zone);
    let zone_note = if time_zone.is_none() { " UTC" } else { "" };
    format!(
        "{} {} {:02}:{:02}{zone_note}",
        local.day(),
        months[local.month0() as usize],
        local.hour(),
        local.minute()
    )
}

/// The message `contact` gets for `alert`, or `None` for alerts that are not a customer's business (account
/// balance), worded by `settings`' templates, fitted to its number of SMS parts.
pub fn customer_message(alert: &Alert, contact: &Contact, settings: &CustomerSettings) -> Option<CustomerMessage> {
    let (brand, sms_parts) = (settings.brand.as_str(), settings.sms_parts);
    let words = settings.templates.wording(contact.locale.as_deref());
    let name = contact
        .name
        .as_deref()
        .map(|n| crate::text::clean_to(n, 64).into_owned());
    let greeting = match &name {
        Some(name) => fill(&words.greeting_named, &[("name", name)]),
        None => words.greeting.to_string(),
    };
    let plan = plan_name(alert).unwrap_or_else(|| words.your_plan.to_string());
    let usage = alert.usage.as_ref();
    let percent = usage
        .and_then(|u| u.remaining_ratio)
        .map(|r| format!("{:.0}%", (r * 100.0).floor()))
        .unwrap_or_else(|| alert.level.clone());
    let data_left = usage
        .and_then(|u| u.remaining_bytes)
        .map(|bytes| DataUnits::of(alert.provider).label(bytes, words.decimal));
    let ends_at = alert
        .expires_at
        .map(|at| local_time(at, contact.time_zone.as_deref(), &words.months));
    let hours = alert.level.strip_suffix('h').unwrap_or("");
    let values = [
        ("brand", brand),
        ("greeting", greeting.as_str()),
        ("plan", plan.as_str()),
        ("percent", percent.as_str()),
        ("data_left", data_left.as_deref().unwrap_or("")),
        ("ends_at", ends_at.as_deref().unwrap_or("")),
        ("hours", hours),
    ];
    let (body, subject) = match alert.alert_type {
        AlertType::LowData if data_left.is_some() && usage.and_then(|u| u.remaining_ratio).is_none() => {
            (&words.low_data_left, &words.subject_low_data_left)
        }
        AlertType::LowData if data_left.is_some() => (&words.low_data_amount, &words.subject_low_data),
        AlertType::LowData => (&words.low_data, &words.subject_low_data),
        AlertType::Expiry if alert.level == "ended" => (&words.expiry_ended, &words.subject_expiry_ended),
        AlertType::Expiry if ends_at.is_some() => (&words.expiry_soon, &words.subject_expiry_soon),
        // A provider's warning without an end date: hours left, as the level says.
        AlertType::Expiry => (&words.expiry_within, &words.subject_expiry_within),
        AlertType::AccountBalance => return None,
    };
    let line = fill(body, &values);
    let topup = contact
        .topup_url
        .as_deref()
        .map(|url| fill(&words.topup, &[("topup_url", url)]));
    let sms_head = format!("{brand}: {line}");
    let sms_text = match &topup {
        Some(topup) => sms::fit_with_tail(&sms_head, topup, sms_parts),
        None => sms::fit(&sms_head, sms_parts),
    };
    let link = contact.topup_url.as_deref().map(|url| {
        format!(
            "<p><a href=\"{}\">{}</a></p>",
            escape_html(url),
            escape_html(&words.topup_link)
        )
    });
    let email_html = format!(
        "<p>{}</p>{}<p>{}</p>",
        escape_html(&line),
        link.unwrap_or_default(),
        escape_html(brand)
    );
    Some(CustomerMessage {
        locale: words.locale.to_string(),
        sms: sms_text,
        email_subject: fill(subject, &values),
        email_text: match &topup {
            Some(topup) => format!("{line}\n\n{topup}\n\n{brand}\n"),
            None => format!("{line}\n\n{brand}\n"),
        },
        email_html,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::customers::{Contact, ContactFields};
    use crate::model::{Bundle, DataUsage, DedupeKey, ProviderId};

    fn settings(brand: &str, sms_parts: usize) -> CustomerSettings {
        CustomerSettings {
            brand: brand.into(),
            sms_parts,
            ..Default::default()
        }
    }

    fn contact(locale: &str, name: &str) -> Contact {
        Contact::from_fields(&ContactFields {
            provider: Some("esimaccess".into()),
            esim_ref: Some("T-1".into()),
            name: Some(name.into()),
            locale: Some(locale.into()),
            time_zone: Some("Europe/Madrid".into()),
            topup_url: Some("https://shop.example/t?e=1&x=<y>".into()),
            ..ContactFields::default()
        })
        .unwrap()
    }

    fn alert(alert_type: AlertType, level: &str) -> Alert {
        let now = DateTime::parse_from_rfc3339("2026-12-01T22:30:00Z").unwrap().to_utc();
        let esim = crate::model::EsimIdentity {
            key: "T-1".into(),
            iccid: Some("8943108170001029631".into()),
            refs: Default::default(),
        };
        Alert {
            schema_version: crate::alerts::ALERT_SCHEMA_VERSION,
            alert_id: "a".into(),
            alert_type,
            level: level.into(),
            provider_level: None,
            provider: ProviderId::EsimAccess,
            esim: Some(esim),
            bundle: Some(Bundle {
                reference: Some("P-INTERNAL-7".into()),
                name: Some("Europe 1 GB 7 days".into()),
            }),
            usage: (alert_type == AlertType::LowData).then(|| DataUsage {
                total_bytes: Some(1_073_741_824),
                remaining_bytes: Some(107_374_182),
                remaining_ratio: Some(0.1),
                ..DataUsage::default()
            }),
            expires_at: (alert_type == AlertType::Expiry).then(|| now + chrono::Duration::hours(20)),
            balance: None,
            event_dedupe_key: DedupeKey::provider_id("n-1"),
            occurred_at: now,
            raised_at: now,
            former_alert_id: None,
            customer_id: None,
        }
    }

    #[test]
    fn each_language_says_it_with_the_customers_plan_amounts_and_time() {
        let low = alert(AlertType::LowData, "10%");
        let en = customer_message(&low, &contact("en-GB", "Ana"), &settings("Travelsim", 1)).unwrap();
        assert_eq!(
            en.sms,
            "Travelsim: Hi Ana, Europe 1 GB 7 days has 102 MB of data left (10%). Top up: https://shop.example/t?e=1&x=<y>"
        );
        assert_eq!(en.email_subject, "Travelsim: 10% of your data left");
        assert!(
            en.email_html
                .contains("href=\"https://shop.example/t?e=1&amp;x=&lt;y&gt;\""),
            "{}",
            en.email_html
        );
        let es = customer_message(&low, &contact("es", "Ana"), &settings("Travelsim", 1)).unwrap();
        assert!(es.sms.contains("le quedan 102 MB de datos (10%)"), "{}", es.sms);
        let expiry = alert(AlertType::Expiry, "24h");
        let fr = customer_message(&expiry, &contact("fr-CA", "Zoé"), &settings("Travelsim", 1)).unwrap();
        // 20 hours after 22:30 UTC is 19:30 in Madrid the next day.
        assert!(fr.sms.contains("se termine le 2 déc. 19:30"), "{}", fr.sms);
        let de = customer_message(&expiry, &contact("de", "Jörg"), &settings("Travelsim", 1)).unwrap();
        assert!(
            de.email_subject.contains("endet am 2 Dez. 19:30"),
            "{}",
            de.email_subject
        );
        let unknown = customer_message(&low, &contact("pt-BR", "Ana"), &settings("Travelsim", 1)).unwrap();
        assert_eq!(
            unknown.locale, "en",
            "a locale without its own wording falls back to English"
        );
    }

    #[test]
    fn no_identifier_or_code_reaches_the_customer() {
        let mut low = alert(AlertType::LowData, "10%");
        low.bundle.as_mut().unwrap().name = Some("esim_1GB_7D_IT_V2".into());
        let message = customer_message(&low, &contact("en", "{plan}"), &settings("Travelsim", 1)).unwrap();
        for text in [
            &message.sms,
            &message.email_text,
            &message.email_html,
            &message.email_subject,
        ] {
            for secret in ["8943108170001029631", "T-1", "P-INTERNAL-7", "esim_1GB_7D_IT_V2"] {
                assert!(!text.contains(secret), "{secret} in {text}");
            }
        }
        assert!(
            message.sms.starts_with("Travelsim: Hi {plan}, your eSIM plan has"),
            "{}",
            message.sms
        );
        let mut balance = alert(AlertType::AccountBalance, "low");
        balance.usage = None;
        assert!(customer_message(&balance, &contact("en", "Ana"), &settings("Travelsim", 1)).is_none());
    }

    #[test]
    fn the_sms_fits_its_parts_in_its_encoding() {
        let low = alert(AlertType::LowData, "10%");
        let long_name = "Ana María de los Ángeles Fernández-Castillo";
        let url = "https://shop.example/t?e=1&x=<y>";
        let one = customer_message(&low, &contact("es", long_name), &settings("Travelsim", 1)).unwrap();
        let size = sms::measure(&one.sms);
        assert_eq!(
            (size.encoding, size.segments),
            (sms::SmsEncoding::Ucs2, 1),
            "{}",
            one.sms
        );
        assert!(
            one.sms.ends_with(&format!("{} Recarga: {url}", sms::CUT_MARK)),
            "the link stays whole: {}",
            one.sms
        );
        let three = customer_message(&low, &contact("es", long_name), &settings("Travelsim", 3)).unwrap();
        assert!(sms::measure(&three.sms).segments <= 3, "{}", three.sms);
        assert!(
            !three.sms.contains(sms::CUT_MARK) && three.sms.contains("(10%)"),
            "{}",
            three.sms
        );
        let ended = customer_message(
            &alert(AlertType::Expiry, "ended"),
            &contact("en", "Ana"),
            &settings("T", 1),
        )
        .unwrap();
        assert!(ended.sms.contains("has ended"));
        let mut warned = alert(AlertType::Expiry, "72h");
        warned.expires_at = None;
        let within = customer_message(&warned, &contact("en", "Ana"), &settings("T", 1)).unwrap();
        assert!(within.sms.contains("ends within 72 hours"), "{}", within.sms);
    }
}
