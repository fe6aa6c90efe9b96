use super::*;

fn fields(pairs: &[(&str, &str)]) -> ContactFields {
    let value = serde_json::Value::Object(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), serde_json::Value::String(v.to_string())))
            .collect(),
    );
    serde_json::from_value(value).unwrap()
}

#[test]
fn valid_fields_are_normalized() {
    let contact = Contact::from_fields(&fields(&[
        ("provider", "ESIMACCESS"),
        ("esim_ref", " 25052822150009 "),
        ("order_ref", "tx-1"),
        ("name", "Ana García"),
        ("phone", "+34 612 34 56 78"),
        ("email", "ana@example.es"),
        ("locale", "es_es"),
        ("time_zone", "Europe/Madrid"),
        ("channels", "SMS"),
        ("topup_url", "https://shop.example/topup?e=1"),
    ]))
    .unwrap();
    assert_eq!(contact.provider, ProviderId::EsimAccess);
    assert_eq!(contact.esim_ref.as_deref(), Some("25052822150009"));
    assert_eq!(contact.phone.as_deref(), Some("+34612345678"));
    assert_eq!(contact.locale.as_deref(), Some("es-ES"));
    assert_eq!(
        contact.channels,
        Channels {
            sms: true,
            email: false
        }
    );
    assert_eq!(
        contact.refs(),
        [EsimRef::Esim("25052822150009".into()), EsimRef::Order("tx-1".into())]
    );
    assert_eq!(Contact::from_fields(&contact.to_fields()).unwrap(), contact);
}

#[test]
fn each_bad_field_is_named() {
    let base = [("provider", "airalo"), ("iccid", "8912345678901234567")];
    for (field, value) in [
        ("provider", "acme"),
        ("iccid", "8943\r\n1"),
        ("phone", "0612345678"),
        ("phone", "+12"),
        ("email", "ana@"),
        ("email", "ana example.com"),
        ("locale", "spanish"),
        ("time_zone", "Mars/Olympus"),
        ("topup_url", "http://shop.example"),
        ("channels", "pigeon"),
        ("name", "Ana\u{1b}[31m"),
    ] {
        let mut pairs = base.to_vec();
        pairs.retain(|(k, _)| *k != field);
        pairs.push((field, value));
        let problem = Contact::from_fields(&fields(&pairs)).unwrap_err();
        assert_eq!(problem.field, field, "{field}={value:?}: {problem}");
    }
    let nameless = Contact::from_fields(&fields(&[("provider", "airalo"), ("name", "x")])).unwrap_err();
    assert!(nameless.reason.contains("must name the eSIM"));
}

#[test]
fn personal_data_is_masked_in_debug_and_tables() {
    let contact = Contact::from_fields(&fields(&[
        ("provider", "airalo"),
        ("iccid", "8912345678901234567"),
        ("name", "Ana García"),
        ("phone", "+34612345678"),
        ("email", "ana@example.es"),
    ]))
    .unwrap();
    let debug = format!("{contact:?}");
    assert!(
        !debug.contains("612345678") && !debug.contains("ana@") && !debug.contains("García"),
        "{debug}"
    );
    assert_eq!(mask_phone("+34612345678"), "+34••••••678");
    assert_eq!(mask_email("ana@example.es"), "a•••@example.es");
    assert_eq!(Channels::parse(""), Some(Channels::default()));
    assert_eq!(
        Channels::parse("none"),
        Some(Channels {
            sms: false,
            email: false
        })
    );
}
