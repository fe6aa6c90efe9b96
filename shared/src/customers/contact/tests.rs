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
    assert!(contact.channels.allows(Channel::Sms) && !contact.channels.allows(Channel::Email));
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
        ("name", "Ana\u{2060}Pay"),
        ("name", "Ana\u{E0041}"),
        ("name", "\u{061C}Ana"),
        ("customer_id", "c\u{00AD}1"),
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
    let none = Channels::parse("none").unwrap();
    assert!(Channel::ALL.iter().all(|channel| !none.allows(*channel)), "{none:?}");
}

fn topup(value: &str) -> Result<Option<String>, ContactProblem> {
    let contact = Contact::from_fields(&fields(&[
        ("provider", "airalo"),
        ("iccid", "8912345678901234567"),
        ("topup_url", value),
    ]))?;
    Ok(contact.topup_url)
}

/// A top-up link is parsed as a browser would: https, a host, no credentials before it, and none of
/// the characters that end or break out of an attribute or a line.
#[test]
fn top_up_urls_are_https_with_a_host_and_nothing_hidden() {
    for good in [
        "https://shop.example/topup?e=1&x=%20",
        "HTTPS://Shop.Example:8443/t/1#top",
        "https://xn--espaa-rta.example/recarga",
    ] {
        assert_eq!(topup(good).unwrap().as_deref(), Some(good), "{good}");
    }
    for bad in [
        "https:///javascript:alert(1)",
        "https://",
        "https:/shop.example",
        "https://shop.example/\"onmouseover=\"alert(1)",
        "https://shop.example/'x'",
        "https://shop.example/a b",
        "https://shop.example/<script>",
        "https://shop.example\\@evil.example/",
        "https://shop.example@evil.example/",
        "https://user:pass@shop.example/",
        "http://shop.example/",
        "javascript:alert(1)//https://",
        "https://tienda.españa/",
        "https://shop.example/\u{7f}",
    ] {
        let problem = topup(bad).unwrap_err();
        assert_eq!(problem.field, "topup_url", "{bad:?}: {problem}");
    }
}

/// The documented email rule (docs/customers.md): a dot-atom local part, one `@`, a domain of at
/// least two labels of letters, digits and hyphens, none starting or ending with `-`, a TLD not all digits,
/// 254 bytes at most.
#[test]
fn emails_follow_the_documented_rule() {
    let long_local = format!("{}@example.com", "a".repeat(65));
    let long_total = format!("a@{}.example.com", vec!["b".repeat(60); 4].join("."));
    let long_label = format!("a@{}.com", "c".repeat(64));
    for good in [
        "ana@example.es",
        "ana.garcia+esim@mail.example.co.uk",
        "o'brien@x-y.example",
        "a_b-c!#$%&*/=?^`{|}~@a1.io",
        "ANA@EXAMPLE.ES",
    ] {
        assert!(is_email_address(good), "{good}");
    }
    for bad in [
        "a@-x-.es",
        "a@x-.es",
        "a@-x.es",
        "a@x.-es",
        "a@example.123",
        "a@localhost",
        "a@.example.com",
        "a@example..com",
        "a@example.com.",
        ".a@example.com",
        "a.@example.com",
        "a..b@example.com",
        "a@b@example.com",
        "\"a b\"@example.com",
        "a<b>@example.com",
        "a,b@example.com",
        "a@exa_mple.com",
        "ana@españa.es",
        "@example.com",
        "ana@",
        long_local.as_str(),
        long_total.as_str(),
        long_label.as_str(),
    ] {
        assert!(!is_email_address(bad), "{bad}");
    }
    assert!(long_total.len() > 254);
}

#[test]
fn channels_read_and_print_by_their_names() {
    for (text, shown) in [
        ("sms|email", "sms|email"),
        ("SMS, Email", "sms|email"),
        ("email sms", "sms|email"),
        ("sms", "sms"),
        ("email", "email"),
        ("none", "none"),
        ("", "sms|email"),
    ] {
        assert_eq!(Channels::parse(text).unwrap().as_text(), shown, "{text:?}");
    }
    assert_eq!(Channels::parse("sms|fax"), None);
    // Stored and given as one flag per channel.
    assert_eq!(
        serde_json::to_value(Channels::parse("sms").unwrap()).unwrap(),
        serde_json::json!({"sms": true, "email": false})
    );
    let refused = Contact::from_fields(&fields(&[
        ("provider", "airalo"),
        ("iccid", "8900000000000000001"),
        ("channels", "fax"),
    ]))
    .unwrap_err();
    assert_eq!(refused.to_string(), "channels: use sms, email, sms|email or none");
}
