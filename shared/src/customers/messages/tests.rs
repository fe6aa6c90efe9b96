use super::*;
use crate::customers::{Contact, ContactFields, Templates};
use crate::model::{Bundle, DataUsage, DedupeKey, ProviderId};
use crate::sms_length::{measure, SmsEncoding};
use std::sync::Arc;

const CATALOG: &str = r#"{"plans": {"esimaccess": {"P-INTERNAL-7": "Europe 1 GB 7 days"}}}"#;

fn settings(brand: &str, sms_parts: usize) -> CustomerSettings {
    CustomerSettings {
        brand: brand.into(),
        sms_parts,
        templates: Arc::new(Templates::with_overrides(CATALOG).unwrap()),
        ..Default::default()
    }
}

fn contact_with(locale: &str, name: &str, topup_url: &str) -> Contact {
    Contact::from_fields(&ContactFields {
        provider: Some("esimaccess".into()),
        esim_ref: Some("T-1".into()),
        name: Some(name.into()),
        locale: Some(locale.into()),
        time_zone: Some("Europe/Madrid".into()),
        topup_url: Some(topup_url.into()),
        ..ContactFields::default()
    })
    .unwrap()
}

fn contact(locale: &str, name: &str) -> Contact {
    contact_with(locale, name, "https://shop.example/t?e=1&x=y")
}

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-01T22:30:00Z").unwrap().to_utc()
}

fn alert(alert_type: AlertType, level: &str) -> Alert {
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
            name: Some("Visit https://evil.example/pay now".into()),
        }),
        usage: (alert_type == AlertType::LowData).then(|| DataUsage {
            total_bytes: Some(1_073_741_824),
            remaining_bytes: Some(107_374_182),
            remaining_ratio: Some(0.1),
            ..DataUsage::default()
        }),
        expires_at: (alert_type == AlertType::Expiry).then(|| now() + chrono::Duration::hours(20)),
        balance: None,
        event_dedupe_key: DedupeKey::provider_id("n-1"),
        occurred_at: now(),
        raised_at: now(),
        former_alert_id: None,
        customer_id: None,
        partner_id: None,
    }
}

#[test]
fn each_language_says_it_with_the_resellers_plan_name_amounts_and_time() {
    let low = alert(AlertType::LowData, "10%");
    let en = customer_message(&low, &contact("en-GB", "Ana"), &settings("Travelsim", 1)).unwrap();
    assert_eq!(
        en.sms,
        "Travelsim: Hi Ana, Europe 1 GB 7 days has 102 MB of data left (10%). Top up: https://shop.example/t?e=1&x=y"
    );
    assert_eq!(en.email_subject, "Travelsim: 10% of your data left");
    assert!(
        en.email_html.contains("href=\"https://shop.example/t?e=1&amp;x=y\""),
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
fn no_provider_text_identifier_or_code_reaches_the_customer() {
    let mut low = alert(AlertType::LowData, "10%");
    low.bundle.as_mut().unwrap().reference = Some("esim_1GB_7D_IT_V2".into());
    let message = customer_message(&low, &contact("en", "{plan}"), &settings("Travelsim", 1)).unwrap();
    for text in [
        &message.sms,
        &message.email_text,
        &message.email_html,
        &message.email_subject,
    ] {
        for secret in [
            "8943108170001029631",
            "T-1",
            "P-INTERNAL-7",
            "esim_1GB_7D_IT_V2",
            "evil",
            "Visit",
        ] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
    }
    assert!(
        message.sms.starts_with("Travelsim: Hi {plan}, your eSIM plan has"),
        "without a catalog entry the plan is not named: {}",
        message.sms
    );
    let mut balance = alert(AlertType::AccountBalance, "low");
    balance.usage = None;
    assert!(customer_message(&balance, &contact("en", "Ana"), &settings("Travelsim", 1)).is_none());
    let mut no_fact = alert(AlertType::Expiry, "soon, visit https://evil.example");
    no_fact.expires_at = None;
    assert!(
        customer_message(&no_fact, &contact("en", "Ana"), &settings("T", 1)).is_none(),
        "a level that is not on our scale is not shown"
    );
}

#[test]
fn the_percent_is_the_alerts_own_without_float_error() {
    for (used_percent, told) in [(90.0, "(10%)"), (80.0, "(20%)"), (75.0, "(25%)"), (99.9, "(0%)")] {
        let mut low = alert(AlertType::LowData, "10%");
        low.usage.as_mut().unwrap().remaining_ratio = Some(1.0 - used_percent / 100.0);
        let message = customer_message(&low, &contact("en", "Ana"), &settings("T", 1)).unwrap();
        assert!(message.sms.contains(told), "{used_percent}% used: {}", message.sms);
    }
    let mut level_only = alert(AlertType::LowData, "25%");
    level_only.usage = Some(DataUsage::default());
    let message = customer_message(&level_only, &contact("en", "Ana"), &settings("T", 1)).unwrap();
    assert!(message.sms.contains("has 25% of its data left"), "{}", message.sms);
}

#[test]
fn a_name_outside_gsm7_is_folded_or_left_out_not_the_facts() {
    let low = alert(AlertType::LowData, "10%");
    let url = "https://shop.example/t/1";
    let garcia = customer_message(&low, &contact_with("es", "Ana García", url), &settings("Your eSIM", 1)).unwrap();
    assert_eq!(measure(&garcia.sms).encoding, SmsEncoding::Gsm7, "{}", garcia.sms);
    assert!(
        garcia.sms.contains("Hola Ana Garcia:") && garcia.sms.contains("(10%)"),
        "{}",
        garcia.sms
    );
    assert!(garcia.sms.ends_with(&format!("Recarga: {url}")), "{}", garcia.sms);
    assert!(
        garcia.email_text.contains("Ana García"),
        "email keeps the name as written"
    );
    let ivan = customer_message(&low, &contact_with("es", "Иван", url), &settings("Your eSIM", 1)).unwrap();
    assert_eq!(measure(&ivan.sms).encoding, SmsEncoding::Gsm7, "{}", ivan.sms);
    assert!(
        ivan.sms.contains("Hola: ") && !ivan.sms.contains("Иван"),
        "{}",
        ivan.sms
    );
    assert!(ivan.email_text.contains("Иван"));
    // A language whose own words need UCS-2 keeps the name as written.
    let mut russian = settings("Your eSIM", 2);
    russian.templates = Arc::new(
        Templates::with_overrides(
            r#"{"ru": {"greeting_named": "Привет, {name}!", "low_data_amount": "{greeting} осталось {data_left} ({percent})."}}"#,
        )
        .unwrap(),
    );
    let ru = customer_message(&low, &contact_with("ru", "Иван", url), &russian).unwrap();
    assert!(
        ru.sms.contains("Привет, Иван!") && ru.sms.contains("(10%)"),
        "{}",
        ru.sms
    );
}

/// The fact each kind of alert exists to tell, as the message words it.
fn fact(alert: &Alert, locale: &str) -> String {
    let ended = [
        ("en", "has ended"),
        ("es", "ha terminado"),
        ("fr", "est terminé"),
        ("de", "ist abgelaufen"),
    ];
    match (alert.alert_type, alert.level.as_str(), alert.expires_at) {
        (AlertType::LowData, _, _) => "(10%)".into(),
        (AlertType::Expiry, "ended", _) => ended.iter().find(|(l, _)| *l == locale).unwrap().1.into(),
        (AlertType::Expiry, _, Some(_)) => "19:30".into(),
        _ => "72".into(),
    }
}

#[test]
fn every_sms_fits_its_parts_and_keeps_its_fact_and_whole_link() {
    let names = [
        "Al",
        "Ana García",
        "Ana María de los Ángeles Fernández-Castillo de la Santísima Trinidad",
        "Łukasz Żółć",
        "Nguyễn Thị Minh Khai",
        "Иван Петрович Сидоров",
        "김민준",
        "O’Brien",
    ];
    let mut within = alert(AlertType::Expiry, "72h");
    within.expires_at = None;
    let alerts = [
        alert(AlertType::LowData, "10%"),
        alert(AlertType::Expiry, "24h"),
        alert(AlertType::Expiry, "ended"),
        within,
    ];
    let urls = [
        "https://shop.example/t/1",
        "https://recargas.tienda-ejemplo.example/topup?esim=25052822150009&utm=sms",
    ];
    for locale in ["en", "es", "fr", "de"] {
        for name in names {
            for url in urls {
                for parts in 1..=3 {
                    for alert in &alerts {
                        let message =
                            customer_message(alert, &contact_with(locale, name, url), &settings("Your eSIM", parts))
                                .unwrap();
                        let sms = &message.sms;
                        let size = measure(sms);
                        assert!(size.segments <= parts, "{locale} {parts} parts {size:?}: {sms}");
                        assert_eq!(size.encoding, SmsEncoding::Gsm7, "{sms}");
                        assert!(sms.contains(&fact(alert, locale)), "{locale}: {sms}");
                        assert!(sms.contains(url), "the whole link: {sms}");
                        assert!(!sms.contains(sms::CUT_MARK), "nothing is cut: {sms}");
                    }
                }
            }
        }
    }
}

#[test]
fn the_name_and_plan_go_first_when_space_is_short() {
    let low = alert(AlertType::LowData, "10%");
    let long_name = "Ana María de los Ángeles Fernández-Castillo";
    let url = "https://recargas.tienda-ejemplo.example/topup?esim=25052822150009&utm=sms";
    let one = customer_message(&low, &contact_with("es", long_name, url), &settings("Travelsim", 1)).unwrap();
    assert!(!one.sms.contains("Ana") && one.sms.contains("(10%)"), "{}", one.sms);
    let three = customer_message(&low, &contact_with("es", long_name, url), &settings("Travelsim", 3)).unwrap();
    assert!(
        three.sms.contains("Ana Maria de los Angeles Fernandez-Castillo") && three.sms.contains("Europe 1 GB 7 days"),
        "{}",
        three.sms
    );
    let huge_link = format!("https://shop.example/{}", "a".repeat(200));
    let no_link = customer_message(&low, &contact_with("en", "Ana", &huge_link), &settings("T", 1)).unwrap();
    assert!(
        !no_link.sms.contains("https") && no_link.sms.contains("(10%)"),
        "a link that cannot fit whole is left out: {}",
        no_link.sms
    );
}

proptest::proptest! {
    #[test]
    fn no_provider_field_puts_a_link_address_or_hidden_character_in_a_message(
        name in "\\PC{0,60}|Visit https://evil\\.example/pay now|mail bob@evil\\.example|www\\.evil\\.example",
        reference in "\\PC{0,40}|https://evil\\.example",
        level in "[0-9]{1,3}[%h]|ended|\\PC{0,20}|https://evil\\.example/h",
        provider_level in "\\PC{0,20}",
        kind in 0usize..3,
        locale in "en|es|fr|de",
    ) {
        let mut any = alert([AlertType::LowData, AlertType::Expiry, AlertType::Expiry][kind], &level);
        if kind == 2 {
            any.expires_at = None;
        }
        any.bundle = Some(Bundle { reference: Some(reference), name: Some(name) });
        any.provider_level = Some(provider_level);
        let url = "https://shop.example/t/1";
        if let Some(message) = customer_message(&any, &contact_with(&locale, "Ana", url), &settings("T", 1)) {
            for text in message.texts() {
                let theirs = text.replace(url, "");
                proptest::prop_assert!(!theirs.contains("://") && !theirs.contains("www.") && !theirs.contains('@'), "{}", text);
                proptest::prop_assert!(!text.chars().any(|c| crate::text::is_unsafe(c) && c != '\n'), "{:?}", text);
            }
        }
    }
}
