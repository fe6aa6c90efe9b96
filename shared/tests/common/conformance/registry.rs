//! `CallbackRegistry`: partners kept and listed by id; one registration per partner and type, replaced and
//! removed with what was there returned; a URL is one partner's endpoint; send slots spaced by the rate,
//! atomically per URL; and a notification goes to the registrations of the partners that hear of it.

use chrono::{DateTime, Duration, Utc};
use shared::callbacks::partner::{hash_key, Partner, PartnerId, Scope, SigningKey};
use shared::callbacks::registry::{CallbackRegistry, Endpoint, Registration};
use shared::callbacks::signing::SigningSecret;
use shared::callbacks::NotificationType;
use shared::notification::NotificationMessage;

macro_rules! contracts {
    ($port:expr, [$($ignored:tt)*]) => {
        crate::common::conformance::emit!(registry, $port, [
            partners_are_kept_and_listed_by_id,
            a_partner_has_one_registration_per_type,
            a_url_is_one_partners_endpoint,
            send_slots_are_spaced_by_the_rate,
            a_notification_goes_to_the_partners_that_hear_of_it,
        ], [$($ignored)*]);
    };
}
pub(crate) use contracts;

fn id(text: &str) -> PartnerId {
    PartnerId::parse(text).expect("a partner id")
}

fn partner(name: &str, scope: Scope, now: DateTime<Utc>) -> Partner {
    let secret = SigningSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("a signing secret");
    Partner {
        id: id(name),
        name: format!("{name} travel"),
        key_hashes: vec![hash_key(&format!("key-of-{name}"))],
        created_at: now,
        signing_keys: vec![SigningKey {
            secret,
            created_at: now,
            retires_at: Some(now + Duration::hours(24)),
        }],
        contact_email: Some(format!("ops@{name}.example")),
        scope,
    }
}

fn registration(partner: &str, kind: NotificationType, url: &str, now: DateTime<Utc>) -> Registration {
    Registration {
        partner: id(partner),
        notification_type: kind,
        url: url.into(),
        created_at: now,
        updated_at: now,
    }
}

pub async fn partners_are_kept_and_listed_by_id<R: CallbackRegistry + ?Sized>(registry: &R, now: DateTime<Utc>) {
    assert_eq!(registry.partner(&id("acme")).await.unwrap(), None);
    let (bee, acme) = (partner("bee", Scope::Own, now), partner("acme", Scope::All, now));
    registry.save_partner(&bee).await.unwrap();
    registry.save_partner(&acme).await.unwrap();
    assert_eq!(registry.partner(&id("acme")).await.unwrap().as_ref(), Some(&acme));
    assert_eq!(registry.partners().await.unwrap(), [acme.clone(), bee.clone()]);

    let mut rotated = bee.clone();
    rotated.add_key("a second key");
    rotated.contact_email = None;
    registry.save_partner(&rotated).await.unwrap();
    assert_eq!(registry.partner(&id("bee")).await.unwrap().as_ref(), Some(&rotated));
    registry.delete_partner(&id("acme")).await.unwrap();
    assert_eq!(registry.partner(&id("acme")).await.unwrap(), None);
    assert_eq!(registry.partners().await.unwrap(), [rotated]);
    registry.delete_partner(&id("acme")).await.unwrap();
}

pub async fn a_partner_has_one_registration_per_type<R: CallbackRegistry + ?Sized>(registry: &R, now: DateTime<Utc>) {
    let expiry = registration("acme", NotificationType::Expiry, "https://acme.example/expiry", now);
    let low = registration("acme", NotificationType::LowData, "https://acme.example/low", now);
    let theirs = registration("bee", NotificationType::LowData, "https://bee.example/low", now);
    for saved in [&expiry, &low, &theirs] {
        assert_eq!(registry.save_registration(saved).await.unwrap(), None);
    }
    assert_eq!(
        registry.registrations(&id("acme")).await.unwrap(),
        [low.clone(), expiry.clone()],
        "by type number"
    );
    let mut moved = low.clone();
    moved.url = "https://acme.example/v2/low".into();
    moved.updated_at = now + Duration::hours(1);
    assert_eq!(registry.save_registration(&moved).await.unwrap(), Some(low));
    assert_eq!(
        registry.registrations(&id("acme")).await.unwrap(),
        [moved.clone(), expiry.clone()]
    );
    let removed = registry
        .delete_registration(&id("acme"), NotificationType::LowData)
        .await;
    assert_eq!(removed.unwrap(), Some(moved));
    let again = registry
        .delete_registration(&id("acme"), NotificationType::LowData)
        .await;
    assert_eq!(again.unwrap(), None);
    assert_eq!(registry.registrations(&id("acme")).await.unwrap(), [expiry]);
    assert_eq!(registry.registrations(&id("bee")).await.unwrap(), [theirs]);
    assert!(registry.registrations(&id("nobody")).await.unwrap().is_empty());
}

pub async fn a_url_is_one_partners_endpoint<R: CallbackRegistry + ?Sized>(registry: &R, now: DateTime<Utc>) {
    let url = "https://acme.example/hooks";
    let endpoint = Endpoint {
        url: url.into(),
        partner: id("acme"),
        subscription_arn: String::new(),
        failing_since: None,
        disabled_at: None,
        rate_limit: None,
    };
    assert_eq!(registry.endpoint(url).await.unwrap(), None);
    assert!(registry.save_endpoint(&endpoint).await.unwrap());
    assert_eq!(registry.endpoint(url).await.unwrap().as_ref(), Some(&endpoint));
    let disabled = Endpoint {
        failing_since: Some(now - Duration::days(5)),
        disabled_at: Some(now),
        rate_limit: Some(5),
        ..endpoint.clone()
    };
    assert!(
        registry.save_endpoint(&disabled).await.unwrap(),
        "its partner's to change"
    );
    let taken = Endpoint {
        partner: id("bee"),
        ..endpoint.clone()
    };
    assert!(!registry.save_endpoint(&taken).await.unwrap(), "another partner's URL");
    assert_eq!(registry.endpoint(url).await.unwrap().as_ref(), Some(&disabled));
    registry.delete_endpoint(url).await.unwrap();
    assert_eq!(registry.endpoint(url).await.unwrap(), None);
    assert!(registry.save_endpoint(&taken).await.unwrap(), "free again");
    assert_eq!(
        registry.endpoint(url).await.unwrap().map(|e| e.partner),
        Some(id("bee"))
    );
}

pub async fn send_slots_are_spaced_by_the_rate<R: CallbackRegistry + ?Sized>(registry: &R, now: DateTime<Utc>) {
    let (url, other) = ("https://acme.example/hooks", "https://bee.example/hooks");
    let ms = |n| now + Duration::milliseconds(n);
    let mut slots = Vec::new();
    for _ in 0..3 {
        slots.push(registry.reserve_slot(url, 4, now).await.unwrap());
    }
    assert_eq!(slots, [ms(0), ms(250), ms(500)], "4 a second: a slot every 250 ms");
    assert_eq!(registry.reserve_slot(other, 4, now).await.unwrap(), ms(0), "per URL");
    assert_eq!(
        registry.reserve_slot(url, 4, ms(100)).await.unwrap(),
        ms(750),
        "after the ones taken"
    );
    let idle = ms(60_000);
    assert_eq!(
        registry.reserve_slot(url, 4, idle).await.unwrap(),
        idle,
        "an idle endpoint saves nothing up"
    );
    assert_eq!(registry.reserve_slot(url, 1, idle).await.unwrap(), ms(60_250));
}

pub async fn a_notification_goes_to_the_partners_that_hear_of_it<R: CallbackRegistry + ?Sized>(
    registry: &R,
    now: DateTime<Utc>,
) {
    for (name, scope) in [("acme", Scope::Own), ("bee", Scope::Own), ("ops", Scope::All)] {
        registry.save_partner(&partner(name, scope, now)).await.unwrap();
        for kind in [NotificationType::LowData, NotificationType::Expiry] {
            let url = format!("https://{name}.example/{}", kind.number());
            registry
                .save_registration(&registration(name, kind, &url, now))
                .await
                .unwrap();
        }
    }
    let message = |audience: &str, owner: Option<&str>| NotificationMessage {
        notification_type: NotificationType::LowData,
        audience: audience.into(),
        owner: owner.map(id),
        notification_id: "n-1".into(),
        body: "{}".into(),
    };
    let urls = |found: Vec<Registration>| {
        let mut urls: Vec<String> = found.into_iter().map(|r| r.url).collect();
        urls.sort();
        urls
    };
    let to = |names: &[&str]| -> Vec<String> { names.iter().map(|n| format!("https://{n}.example/1")).collect() };
    let owned = registry.registrations_for(&message("all", Some("acme"))).await.unwrap();
    assert_eq!(
        urls(owned),
        to(&["acme", "ops"]),
        "its owner and the partners of scope all"
    );
    let unowned = registry.registrations_for(&message("all", None)).await.unwrap();
    assert_eq!(urls(unowned), to(&["ops"]));
    let echo = registry.registrations_for(&message("bee", None)).await.unwrap();
    assert_eq!(urls(echo), to(&["bee"]), "an echo: its partner's only");
}
