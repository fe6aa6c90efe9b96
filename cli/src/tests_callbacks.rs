//! Partner callbacks locally, end to end over real HTTP on loopback: `serve` on the SQLite file, a partner
//! created with `partners add` on the same file, its loopback URL registered through the served API, and
//! `esimhooks listen` printing each callback it verified with the partner's signing secret: the test echo, and
//! a real alert raised by a provider's delivery. Recovery and the attempt log are read back the same way.

use super::*;
use crate::tests::{fixture_body, http_with, local_backend, start, TOKEN};
use serde_json::{json, Value};
use std::sync::Mutex;

/// `esimhooks partners …` on the local file `db`; what it printed.
async fn partners(db: &std::path::Path, words: &[&str]) -> String {
    let db = db.to_str().unwrap();
    let argv = [&["esimhooks", "partners"], words, &["--backend", "local", "--db", db]].concat();
    let Command::Partners(args) = Cli::parse_from(argv).command else {
        unreachable!("a partners command")
    };
    let mut out = Vec::new();
    partners::open::run_opened(&args, &mut out).await.unwrap();
    String::from_utf8(out).unwrap()
}

/// `esimhooks esims …` on the local file `db`; what it printed, or why it refused.
async fn esims(db: &std::path::Path, words: &[&str]) -> Result<String, String> {
    let db = db.to_str().unwrap();
    let argv = [&["esimhooks", "esims"], words, &["--backend", "local", "--db", db]].concat();
    let Command::Esims {
        action: Some(action), ..
    } = Cli::parse_from(argv).command
    else {
        unreachable!("an esims command")
    };
    let mut out = Vec::new();
    crate::esims::run_opened(&action, &mut out).await?;
    Ok(String::from_utf8(out).unwrap())
}

fn after<'a>(text: &'a str, label: &str) -> &'a str {
    text.lines().find_map(|l| l.strip_prefix(label)).unwrap()
}

/// Waits up to 10 s for `lines` to hold `n` lines.
async fn lines_within(lines: &Mutex<Vec<String>>, n: usize) -> Vec<String> {
    for _ in 0..100 {
        if lines.lock().unwrap().len() >= n {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    lines.lock().unwrap().clone()
}

#[tokio::test]
async fn serve_delivers_signed_callbacks_that_listen_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("local.db");
    let server = start(&db).await;
    let added = partners(&db, &["add", "acme-co"]).await;
    let (key, secret) = (after(&added, "API key: "), after(&added, "signing secret: "));

    let lines = Arc::new(Mutex::new(Vec::new()));
    let printed = lines.clone();
    let print: listen::Printer = Arc::new(move |line| printed.lock().unwrap().push(line));
    let receiver = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hooks = format!("http://{}/hooks", receiver.local_addr().unwrap());
    let app = listen::app(listen::parse_secrets(&[secret.to_string()]).unwrap(), print);
    tokio::spawn(async move { axum::serve(receiver, app).await.unwrap() });

    let auth = [("Authorization".to_string(), format!("Bearer {key}"))];
    let call = |method: &'static str, path: String, body: Value| {
        let auth = auth.clone();
        async move { http_with(server.addr, method, &path, &auth, &body.to_string()).await }
    };
    let (status, reply) = call("PUT", "/acme-co/callbacks/1".into(), json!({"url": hooks})).await;
    assert_eq!(status, 201, "{reply}");
    let (status, reply) = call(
        "POST",
        "/v1/callbacks/echo/acme-co/1".into(),
        json!({"simulation_id": "sim-local"}),
    )
    .await;
    assert!((200..300).contains(&status), "{status} {reply}");
    let got = lines_within(&lines, 1).await;
    assert!(got[0].starts_with("verified ntf_"), "{got:?}");
    assert!(got[0].contains("\"test\":true"), "{got:?}");

    // A provider's delivery that raises a low-data alert reaches the partner too, once the eSIM is its (a
    // partner added now hears of its own eSIMs only). Assigned by its ICCID before it was ever heard of: eSIM
    // Access keys its eSIMs by another reference, and the first delivery still finds the owner.
    let assigned = esims(
        &db,
        &[
            "assign",
            "8943108170001029631",
            "--partner",
            "acme-co",
            "--provider",
            "esimaccess",
        ],
    )
    .await
    .unwrap();
    assert!(
        assigned.contains("belongs to partner acme-co from its first delivery"),
        "{assigned}"
    );
    let path = format!("/webhooks/esimaccess?token={TOKEN}");
    let (status, reply) = http_with(server.addr, "POST", &path, &[], &fixture_body("05-data-usage-low.json")).await;
    assert_eq!(status, 200, "{reply}");
    let got = lines_within(&lines, 2).await;
    assert!(
        got[1].starts_with("verified ntf_") && got[1].contains("low_data"),
        "{got:?}"
    );

    // Both attempts are in the partner's log, delivered.
    let (status, log) = call("GET", "/acme-co/callbacks/attempts".into(), Value::Null).await;
    assert_eq!(status, 200, "{log}");
    let log: Value = serde_json::from_str(&log).unwrap();
    let verdicts: Vec<&str> = log["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["verdict"].as_str().unwrap())
        .collect();
    assert_eq!(verdicts, ["delivered", "delivered"]);
    let recovered = partners(&db, &["recover", "acme-co", "--since", "2020-01-01T00:00:00Z"]).await;
    assert!(recovered.starts_with("0 failed deliveries"), "{recovered}");
    server.stop().await;
}

#[tokio::test]
async fn loopback_urls_are_refused_unless_allowed_and_only_locally() {
    let mut opened = local_backend(&tempfile::tempdir().unwrap().path().join("x.db"))
        .open(true)
        .await
        .unwrap();
    let tick = std::time::Duration::from_secs(1);
    let api = serve::partner_callbacks(&mut opened, Arc::new(SystemClock), false, tick)
        .unwrap()
        .unwrap();
    let store = opened.local.clone().unwrap();
    let key = shared::callbacks::partner::generate_key().unwrap();
    let mut partner = shared::callbacks::Partner {
        id: shared::callbacks::PartnerId::parse("acme-co").unwrap(),
        name: "Acme".into(),
        key_hashes: vec![],
        created_at: SystemClock.now(),
        signing_keys: vec![],
        contact_email: None,
        scope: shared::callbacks::partner::Scope::All,
    };
    partner.add_key(&key);
    use shared::callbacks::registry::CallbackRegistry;
    store.save_partner(&partner).await.unwrap();
    let delivery = shared::ingress::Delivery {
        method: axum::http::Method::PUT,
        path: "/acme-co/callbacks/1".into(),
        query: String::new(),
        headers: [(
            axum::http::header::AUTHORIZATION,
            format!("Bearer {key}").parse().unwrap(),
        )]
        .into_iter()
        .collect(),
        source_ip: None,
        body: json!({"url": "http://127.0.0.1:9000/hooks"}).to_string().into(),
        received_at: SystemClock.now(),
        request_id: None,
    };
    let reply = api.handle(&delivery).await;
    assert_eq!(reply.status, 400, "{}", reply.body);

    let aws = BackendArgs {
        backend: backend::BackendKind::Aws,
        db: "unused.db".into(),
        table: Some("t".into()),
        topic_arn: Some("arn:aws:sns:us-east-1:000000000000:t".into()),
    };
    let mut deployed = aws.open(true).await.unwrap();
    let refused = serve::partner_callbacks(&mut deployed, Arc::new(SystemClock), true, tick).err();
    assert!(refused.unwrap().contains("local backend"));
}

#[tokio::test]
async fn on_sqlite_each_notification_reaches_its_owner_and_the_all_partner_only() {
    use shared::callbacks::scoped::{deliver_to_scoped_partners, expected};
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(crate::sqlite::open_store(&dir.path().join("scoped.db")).unwrap());
    assert_eq!(deliver_to_scoped_partners(store.clone()).await, expected());

    // The operator's views filter by partner: the fleet (esims --partner, the console) and stats --partner.
    use shared::callbacks::scoped::{ACME_ESIM, UNOWNED_ESIM};
    use shared::model::{PartnerId, ProviderId};
    use shared::store::{FleetFilter, StoreQuery};
    let acme = PartnerId::parse("acme").unwrap();
    let filter = FleetFilter {
        partner: Some(acme.clone()),
        ..FleetFilter::default()
    };
    let page = store.fleet(&filter, 0, 10).await.unwrap();
    let keys: Vec<&str> = page.rows.iter().map(|s| s.key.as_str()).collect();
    assert_eq!(keys, [ACME_ESIM]);
    // The check's clock stands at 2026-12-07T10:00:00Z.
    let now = chrono::DateTime::parse_from_rfc3339("2026-12-07T11:00:00Z")
        .unwrap()
        .to_utc();
    let since = now - chrono::Duration::days(3650);
    let mine = crate::stats::partner_stats(store.as_ref(), since, None, &acme, now)
        .await
        .unwrap();
    let everyone = crate::stats::stats(store.as_ref(), since, None, now).await.unwrap();
    let (mine, everyone) = (&mine[&ProviderId::EsimGo], &everyone[&ProviderId::EsimGo]);
    assert_eq!(
        (mine.stored, everyone.stored),
        (1, 3),
        "one delivery of three is about acme's eSIM"
    );
    assert!(
        mine.alerts >= 1 && mine.alerts * 3 == everyone.alerts,
        "{mine:?} {everyone:?}"
    );
    assert_eq!(mine.duplicates, None, "not told apart per eSIM");
    let unowned = store
        .esim_state(ProviderId::EsimGo, UNOWNED_ESIM)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(unowned.owner, None);
}

#[tokio::test]
async fn partners_stored_before_scopes_keep_hearing_of_all_and_new_ones_hear_of_their_own() {
    use shared::callbacks::partner::{PartnerId, Scope};
    use shared::callbacks::registry::CallbackRegistry;
    use shared::callbacks::spaces::PARTNERS;
    use shared::store::KvBackend;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("upgrade.db");
    // A partner as the release before scopes stored it: no scope field.
    let before =
        r#"{"id":"old-co","name":"Old Co","key_hashes":[],"created_at":"2026-11-01T00:00:00Z","signing_keys":[]}"#;
    crate::sqlite::SqliteBackend::open(&db)
        .unwrap()
        .put(PARTNERS, "old-co", before)
        .unwrap();
    let added = partners(&db, &["add", "new-co"]).await;
    assert!(added.contains("hearing of its own eSIMs only"), "{added}");
    let store = crate::sqlite::open_store(&db).unwrap();
    let scope = |id: &str| {
        let store = &store;
        let id = PartnerId::parse(id).unwrap();
        async move { store.partner(&id).await.unwrap().unwrap().scope }
    };
    assert_eq!(scope("old-co").await, Scope::All, "upgrading changes nothing for it");
    assert_eq!(scope("new-co").await, Scope::Own);
    let listed = partners(&db, &["list"]).await;
    assert!(listed.contains("scope=all") && listed.contains("scope=own"), "{listed}");
    let widened = partners(&db, &["scope", "new-co", "all"]).await;
    assert_eq!(widened.trim(), "new-co hears of every eSIM (scope all)");
    assert_eq!(scope("new-co").await, Scope::All);
}

#[tokio::test]
async fn an_own_partner_echoes_only_about_its_esims_and_assigning_says_what_it_needs() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("local.db");
    let server = start(&db).await;
    let added = partners(&db, &["add", "acme-co"]).await;
    partners(&db, &["add", "bee-co"]).await;
    let auth = [(
        "Authorization".to_string(),
        format!("Bearer {}", after(&added, "API key: ")),
    )];
    let (status, _) = http_with(
        server.addr,
        "PUT",
        "/acme-co/callbacks/11",
        &auth,
        &json!({"url": "http://127.0.0.1:9/hook"}).to_string(),
    )
    .await;
    assert_eq!(status, 201);

    let refused = esims(&db, &["assign", "8944500000000000044", "--partner", "acme-co"]).await;
    assert!(
        refused.unwrap_err().contains("--provider"),
        "never heard of: the provider is needed"
    );
    let unknown = esims(
        &db,
        &[
            "assign",
            "8944500000000000044",
            "--partner",
            "nobody",
            "--provider",
            "esimgo",
        ],
    )
    .await;
    assert!(unknown.unwrap_err().contains("no partner nobody"));
    let assign = |esim: &'static str, partner: &'static str| {
        let db = db.clone();
        async move {
            esims(&db, &["assign", esim, "--partner", partner, "--provider", "esimgo"])
                .await
                .unwrap()
        }
    };
    assign("8944500000000000044", "acme-co").await;
    assign("8944500000000000055", "bee-co").await;

    let echo = |esim: &'static str| {
        let auth = auth.clone();
        async move {
            let body = json!({"esim_ref": esim}).to_string();
            http_with(server.addr, "POST", "/v1/callbacks/echo/acme-co/11", &auth, &body).await
        }
    };
    let (status, reply) = echo("8944500000000000044").await;
    assert!((200..300).contains(&status), "its own eSIM: {status} {reply}");
    for other in ["8944500000000000055", "8944500000000000066"] {
        let (status, reply) = echo(other).await;
        assert_eq!(
            status, 404,
            "another's eSIM and one never heard of answer alike: {reply}"
        );
        assert!(reply.to_string().contains("not one of your eSIMs"), "{reply}");
    }
    let unassigned = esims(&db, &["unassign", "8944500000000000044"]).await.unwrap();
    assert!(unassigned.contains("now belongs to no partner"), "{unassigned}");
    assert_eq!(echo("8944500000000000044").await.0, 404);
}
