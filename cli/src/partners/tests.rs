use super::*;
use shared::callbacks::registry::MemoryRegistry;
use shared::callbacks::signing::SigningSecret;
use shared::callbacks::NotificationType;

async fn run_text(command: PartnersCommand, registry: &MemoryRegistry) -> Result<String, String> {
    let mut out = Vec::new();
    let backends = Backends {
        registry: Some(registry),
        ..Backends::default()
    };
    run(&command, backends, Utc::now(), &mut out).await?;
    Ok(String::from_utf8(out).unwrap())
}

fn printed_key(text: &str) -> String {
    text.lines().last().unwrap().trim().to_string()
}

#[tokio::test]
async fn add_rotate_and_list_keep_only_hashes() {
    let registry = MemoryRegistry::default();
    let added = run_text(
        PartnersCommand::Add {
            id: "acme".into(),
            name: Some("Acme Travel".into()),
            contact_email: None,
            scope: Scope::Own,
        },
        &registry,
    )
    .await
    .unwrap();
    let first = added
        .lines()
        .find_map(|l| l.strip_prefix("API key: "))
        .unwrap()
        .to_string();
    let id = PartnerId::parse("acme").unwrap();
    let stored = registry.partner(&id).await.unwrap().unwrap();
    assert!(stored.accepts(&first));
    // The signing secret is shown once and signs the partner's callbacks.
    let secret = added.lines().find_map(|l| l.strip_prefix("signing secret: ")).unwrap();
    assert!(secret.starts_with("whsec_"));
    assert_eq!(
        stored.signing_secrets(Utc::now()),
        [SigningSecret::parse(secret).unwrap()]
    );
    let rotated_secret = run_text(
        PartnersCommand::RotateSecret {
            id: "acme".into(),
            overlap_hours: 24,
        },
        &registry,
    )
    .await
    .unwrap();
    let new_secret = SigningSecret::parse(printed_key(&rotated_secret).as_str()).unwrap();
    let signing = registry
        .partner(&id)
        .await
        .unwrap()
        .unwrap()
        .signing_secrets(Utc::now());
    assert_eq!(signing.len(), 2, "both sign during the overlap");
    assert_eq!(signing[0], new_secret);
    assert!(
        !format!("{stored:?}").contains(&first),
        "the key itself is never stored"
    );

    let again = run_text(
        PartnersCommand::Add {
            id: "acme".into(),
            name: None,
            contact_email: None,
            scope: Scope::Own,
        },
        &registry,
    )
    .await;
    assert!(again.unwrap_err().contains("rotate"));

    let rotated = printed_key(
        &run_text(PartnersCommand::Rotate { id: "acme".into() }, &registry)
            .await
            .unwrap(),
    );
    let stored = registry.partner(&id).await.unwrap().unwrap();
    assert!(stored.accepts(&first) && stored.accepts(&rotated));

    let listed = run_text(PartnersCommand::List { json: true }, &registry).await.unwrap();
    let rows: serde_json::Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(rows[0]["id"], "acme");
    assert_eq!(rows[0]["keys"], 2);
    assert!(!listed.contains(&first) && !listed.contains(&rotated));

    let bad = run_text(
        PartnersCommand::Add {
            id: "v1".into(),
            name: None,
            contact_email: None,
            scope: Scope::Own,
        },
        &registry,
    )
    .await;
    assert!(bad.unwrap_err().contains("invalid partner id"));
    let missing = run_text(PartnersCommand::Rotate { id: "nobody".into() }, &registry).await;
    assert!(missing.unwrap_err().contains("no partner"));
}

#[tokio::test]
async fn remove_says_what_it_would_do_then_revokes_keys_and_removes_endpoints_with_yes() {
    use shared::callbacks::registry::{Endpoint, Registration};
    use shared::callbacks::transport::MemoryTransport;
    let registry = MemoryRegistry::default();
    let transport = MemoryTransport::default();
    let add = PartnersCommand::Add {
        id: "acme".into(),
        name: None,
        contact_email: None,
        scope: Scope::Own,
    };
    run_text(add, &registry).await.unwrap();
    let id = PartnerId::parse("acme").unwrap();
    let url = "https://hooks.acme.example/esim";
    let arn = "arn:aws:sns:us-east-1:1:alerts:old".to_string();
    for kind in [NotificationType::ALL[0], NotificationType::ALL[1]] {
        let registration = Registration {
            partner: id.clone(),
            notification_type: kind,
            url: url.into(),
            created_at: Utc::now(),
            updated_at: Utc::now(),
        };
        registry.save_registration(&registration).await.unwrap();
    }
    let endpoint = Endpoint {
        url: url.into(),
        partner: id.clone(),
        subscription_arn: arn,
        failing_since: None,
        disabled_at: None,
        rate_limit: None,
    };
    registry.save_endpoint(&endpoint).await.unwrap();
    let remove = |yes| PartnersCommand::Remove { id: "acme".into(), yes };

    let dry = run_text(remove(false), &registry).await.unwrap();
    assert!(dry.contains("2 callbacks at 1 URLs"), "{dry}");
    assert!(registry.partner(&id).await.unwrap().is_some());
    let only_registry = Backends {
        registry: Some(&registry),
        ..Backends::default()
    };
    let refused = run(&remove(true), only_registry, Utc::now(), &mut Vec::new()).await;
    assert!(refused.unwrap_err().contains("ESIMHOOKS_TOPIC_ARN"));

    let mut out = Vec::new();
    let both = Backends {
        registry: Some(&registry),
        transport: Some(&transport),
        ..Backends::default()
    };
    run(&remove(true), both, Utc::now(), &mut out).await.unwrap();
    let said = String::from_utf8(out).unwrap();
    assert!(said.contains("2 callbacks and 1 endpoints"), "{said}");
    assert!(registry.partner(&id).await.unwrap().is_none());
    assert_eq!(transport.unsubscribed(), ["arn:aws:sns:us-east-1:1:alerts:old"]);
    let again = run_text(remove(true), &registry).await;
    assert!(again.unwrap_err().contains("no partner"));
}

#[tokio::test]
async fn attempts_are_listed_for_one_partner() {
    use shared::callbacks::delivery::Verdict;
    let now = Utc::now();
    let attempt = |partner: &str, status: Option<u16>, verdict| shared::callbacks::sender::AttemptRecord {
        partner: PartnerId::parse(partner).unwrap(),
        url: format!("https://{partner}.example/hooks"),
        notification_id: "ntf_1".into(),
        notification_type: 1,
        attempt: 1,
        at: now - chrono::Duration::minutes(1),
        status,
        error: status.is_none().then(|| "no answer within 15 s".into()),
        latency_ms: 15_000,
        verdict,
        owner: None,
    };
    let log = shared::callbacks::sender::MemoryAttemptLog::default();
    log.record(&attempt("acme", None, Verdict::RetryIn(chrono::Duration::seconds(5))))
        .await
        .unwrap();
    log.record(&attempt("globex", Some(200), Verdict::Delivered))
        .await
        .unwrap();
    let backends = Backends {
        attempts: Some(&log),
        ..Backends::default()
    };
    let command = PartnersCommand::Attempts {
        id: "acme".into(),
        limit: 20,
        json: false,
    };
    let mut out = Vec::new();
    run(&command, backends, now, &mut out).await.unwrap();
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "a header row and one attempt: {text}");
    let columns = lines[0].split_whitespace().collect::<Vec<_>>().join(" ");
    assert_eq!(columns, "at notification type attempt ms answer verdict url");
    // Each column starts under its name.
    let under = [("answer", "no answer"), ("verdict", "retry in 5s"), ("url", "https://")];
    for (name, value) in under {
        assert_eq!(lines[0].find(name), lines[1].find(value), "{name}: {text}");
    }
    let missing = run(&command, Backends::default(), now, &mut Vec::new()).await;
    assert!(missing.unwrap_err().contains("--table"));
}

#[tokio::test]
async fn types_are_listed_with_their_numbers() {
    let mut out = Vec::new();
    run(
        &PartnersCommand::Types { json: true },
        Backends::default(),
        Utc::now(),
        &mut out,
    )
    .await
    .unwrap();
    let types: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(types.as_array().unwrap().len(), NotificationType::ALL.len());
    assert_eq!(types[0]["number"], 1);
    assert_eq!(types[0]["name"], "alert.low_data");
}

#[tokio::test]
async fn a_contact_email_is_checked_kept_masked_and_cleared() {
    let registry = MemoryRegistry::default();
    let add = |email: &str| PartnersCommand::Add {
        id: "acme".into(),
        name: None,
        contact_email: Some(email.into()),
        scope: Scope::Own,
    };
    let refused = run_text(add("ops at acme"), &registry).await;
    assert!(refused.unwrap_err().contains("not an email address"));
    run_text(add(" ops@acme.example "), &registry).await.unwrap();
    let id = PartnerId::parse("acme").unwrap();
    let stored = registry.partner(&id).await.unwrap().unwrap();
    assert_eq!(stored.contact_email.as_deref(), Some("ops@acme.example"));
    let listed = run_text(PartnersCommand::List { json: true }, &registry).await.unwrap();
    assert!(!listed.contains("ops@acme.example"), "masked in listings: {listed}");
    let contact = |email: Option<&str>, clear| PartnersCommand::Contact {
        id: "acme".into(),
        email: email.map(String::from),
        clear,
    };
    let said = run_text(contact(Some("noc@acme.example"), false), &registry)
        .await
        .unwrap();
    assert!(!said.contains("noc@acme.example"), "{said}");
    let stored = registry.partner(&id).await.unwrap().unwrap();
    assert_eq!(stored.contact_email.as_deref(), Some("noc@acme.example"));
    run_text(contact(None, true), &registry).await.unwrap();
    assert_eq!(registry.partner(&id).await.unwrap().unwrap().contact_email, None);
}

#[tokio::test]
async fn recover_queues_the_failed_deliveries_since_a_time() {
    use shared::callbacks::recovery::MemoryJobQueue;
    use shared::callbacks::sender::{CallbackJob, FailedDelivery, MemoryAttemptLog};
    let now = Utc::now();
    let log = MemoryAttemptLog::default();
    for (n, hours_ago) in [(1, 50), (2, 2), (3, 1)] {
        let failed = FailedDelivery {
            job: CallbackJob {
                notification_id: format!("ntf_{n}"),
                notification_type: 1,
                partner: PartnerId::parse("acme").unwrap(),
                url: "https://acme.example/hooks".into(),
                body: "{}".into(),
                owner: None,
            },
            failed_at: now - chrono::Duration::hours(hours_ago),
            attempts: 8,
        };
        log.park(&failed).await.unwrap();
    }
    let queue = MemoryJobQueue::default();
    let registry = MemoryRegistry::default();
    run_text(
        PartnersCommand::Add {
            id: "acme".into(),
            name: None,
            contact_email: None,
            scope: Scope::All,
        },
        &registry,
    )
    .await
    .unwrap();
    let backends = Backends {
        registry: Some(&registry),
        attempts: Some(&log),
        jobs: Some(&queue),
        ..Backends::default()
    };
    let recover = |since: String| PartnersCommand::Recover {
        id: "acme".into(),
        since,
    };
    // An age, as every --since takes (RFC 3339 and `today` too).
    let mut out = Vec::new();
    run(&recover("3h".into()), backends, now, &mut out).await.unwrap();
    assert!(String::from_utf8(out)
        .unwrap()
        .starts_with("2 failed deliveries to acme"));
    let queued: Vec<String> = queue
        .0
        .lock()
        .unwrap()
        .iter()
        .map(|j| j.notification_id.clone())
        .collect();
    assert_eq!(queued, ["ntf_2", "ntf_3"]);
    let bad = run(&recover("yesterday".into()), backends, now, &mut Vec::new()).await;
    assert!(bad.unwrap_err().contains("RFC 3339"));
    let no_queue = Backends {
        attempts: Some(&log),
        ..Backends::default()
    };
    let missing = run(&recover(now.to_rfc3339()), no_queue, now, &mut Vec::new()).await;
    assert!(missing.unwrap_err().contains("--queue-url"));
}
