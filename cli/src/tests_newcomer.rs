//! What a new user meets first, in process: what `send --scenario` may claim, providers left unconfigured by a
//! local `serve`, a loopback callback URL without the flag that allows it, the files a local store leaves in the
//! working tree, and what scripts/test.sh installs. The built binary is tested in cli/tests/first_run.rs.

use super::*;
use crate::tests::local_backend;
use serde_json::Value;
use shared::ingress::Delivery;

fn repo() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn a_scenario_claims_no_customer_was_told_and_says_how_to_add_one() {
    let note = send::scenario_note(ProviderId::EsimGo, "8944500000000000001");
    assert!(
        note.starts_with("if the receiver has a contact for ICCID 8944500000000000001"),
        "{note}"
    );
    assert!(!note.contains("was told on the serving console"), "{note}");
    assert!(
        note.contains("`esimhooks customers set --provider esimgo --iccid"),
        "{note}"
    );
}

fn post(path: &str) -> Delivery {
    Delivery {
        method: axum::http::Method::POST,
        path: path.into(),
        query: String::new(),
        headers: Default::default(),
        source_ip: None,
        body: "{}".into(),
        received_at: SystemClock.now(),
        request_id: None,
    }
}

#[tokio::test]
async fn a_provider_without_a_secret_is_not_configured_and_one_with_a_broken_secret_fails_closed() {
    let dir = tempfile::tempdir().unwrap();
    let opened = local_backend(&dir.path().join("unconfigured.db"))
        .open(true)
        .await
        .unwrap();
    // eSIM Access has its secret; eSIM Go names a parameter no local store can read; the others have none.
    let env = |name: &str| match name {
        "ESIMACCESS_SECRETS" => Some("tok".to_string()),
        "ESIMGO_SECRETS_PARAM" => Some("/esimhooks/esimgo/secrets".to_string()),
        _ => None,
    };
    let router = build_router(&opened, &Settings::default(), Arc::new(SystemClock), &env).await;
    assert_eq!(router.served().collect::<Vec<_>>(), [ProviderId::EsimAccess]);

    let reply = router.handle(&post("/webhooks/roamify")).await;
    assert_eq!(reply.status, 503);
    let body: Value = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(body["error"]["code"], "not_configured");
    assert_eq!(
        body["error"]["message"],
        "roamify is not configured on this server: set ROAMIFY_SECRETS (or ROAMIFY_SECRETS_PARAM) and restart it"
    );
    // Present and wrong: refused as before, the reason kept to the logs.
    let reply = router.handle(&post("/webhooks/esimgo")).await;
    let body: Value = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(
        (reply.status, &body["error"]["code"]),
        (503, &Value::from("not_configured"))
    );
    assert_eq!(body["error"]["message"], "receiver not configured; retry later");
}

#[tokio::test]
async fn a_loopback_callback_url_refused_locally_names_the_flag_that_allows_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("callbacks.db");
    let argv = ["esimhooks", "partners", "add", "acme-co", "--db", db.to_str().unwrap()];
    let Command::Partners(args) = Cli::parse_from(argv).command else {
        unreachable!("a partners command")
    };
    let mut added = Vec::new();
    partners::open::run_opened(&args, &mut added).await.unwrap();
    let added = String::from_utf8(added).unwrap();
    let key = added.lines().find_map(|l| l.strip_prefix("API key: ")).unwrap();

    let store = Arc::new(sqlite::open_store(&db).unwrap());
    let register = |url: &str| {
        let mut put = post("/acme-co/callbacks/1");
        put.method = axum::http::Method::PUT;
        put.headers.insert("x-api-key", key.parse().unwrap());
        put.body = serde_json::json!({ "url": url }).to_string().into();
        put
    };
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let (_, refusing) = serve::local_callbacks(store.clone(), clock.clone(), false, None).unwrap();
    for url in ["http://127.0.0.1:9000/hooks", "https://127.0.0.1:9000/hooks"] {
        let reply = refusing.handle(&register(url)).await;
        assert_eq!(reply.status, 400, "{url}: {}", reply.body);
        let body: Value = serde_json::from_str(&reply.body).unwrap();
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("`esimhooks serve --allow-loopback-callbacks`"),
            "{message}"
        );
    }
    // What the flag would not allow either is refused without naming it.
    let reply = refusing.handle(&register("http://10.0.0.7/hooks")).await;
    assert_eq!(reply.status, 400);
    assert!(!reply.body.contains("--allow-loopback-callbacks"), "{}", reply.body);

    let (_, allowing) = serve::local_callbacks(store, clock, true, None).unwrap();
    let reply = allowing.handle(&register("http://127.0.0.1:9000/hooks")).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
}

/// Whether `name`, a file at the repository's root, matches one of .gitignore's patterns (`*` within a name).
fn ignored(name: &str, patterns: &[&str]) -> bool {
    fn matches(pattern: &[u8], name: &[u8]) -> bool {
        match (pattern.first(), name.first()) {
            (None, None) => true,
            (Some(b'*'), _) => matches(&pattern[1..], name) || (!name.is_empty() && matches(pattern, &name[1..])),
            (Some(p), Some(n)) if p == n => matches(&pattern[1..], &name[1..]),
            _ => false,
        }
    }
    patterns
        .iter()
        .any(|p| matches(p.trim_start_matches('/').as_bytes(), name.as_bytes()))
}

#[tokio::test]
async fn every_file_the_local_store_writes_is_ignored_by_git() {
    let gitignore = std::fs::read_to_string(repo().join(".gitignore")).unwrap();
    let patterns: Vec<&str> = gitignore
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let opened = local_backend(&dir.path().join("esimhooks.db"))
        .open(true)
        .await
        .unwrap();
    crate::stats::stats(opened.query.as_ref(), SystemClock.now(), None, SystemClock.now())
        .await
        .unwrap();
    // While the store is open, as when `serve` runs in the clone.
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().any(|n| n.ends_with("-wal")), "{names:?}");
    for name in &names {
        assert!(ignored(name, &patterns), "{name} is not in .gitignore");
    }
}

#[test]
fn the_test_script_installs_no_recommended_packages_and_can_install_none() {
    let script = std::fs::read_to_string(repo().join("scripts/test.sh")).unwrap();
    let installs: Vec<&str> = script.lines().filter(|l| l.contains("apt-get install")).collect();
    assert!(!installs.is_empty());
    for line in installs {
        assert!(line.contains("--no-install-recommends"), "{line}");
    }
    // The skip branch comes first, and everything installed is in the branch that is not taken then.
    let skip = script.find(r#"if [ "${ESIMHOOKS_TEST_BROWSER:-}" = skip ]; then"#);
    let (skip, otherwise) = (
        skip.expect("ESIMHOOKS_TEST_BROWSER=skip is honoured"),
        script.find("\nelse\n").unwrap(),
    );
    let end = otherwise + script[otherwise..].find("\nfi\n").unwrap();
    for install in ["apt-get install", "npm install"] {
        let at = script.find(install).unwrap();
        assert!(
            skip < otherwise && otherwise < at && at < end,
            "{install} runs even with skip"
        );
    }
}

#[tokio::test]
async fn replays_are_not_counted_as_deliveries_received() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("replays.db");
    let server = crate::tests::start(&db).await;
    let path = format!("/webhooks/esimaccess?token={}", crate::tests::TOKEN);
    // Three deliveries sent, one of them twice by the provider: a real duplicate.
    for fixture in [
        "02-esim-status-in-use.json",
        "05-data-usage-low.json",
        "05-data-usage-low.json",
    ] {
        let (status, _) = crate::tests::http(server.addr, "POST", &path, &crate::tests::fixture_body(fixture)).await;
        assert_eq!(status, 200);
    }
    server.stop().await;
    let counted = || async {
        let store = sqlite::open_store(&db).unwrap();
        let now = SystemClock.now();
        let all = stats::stats(&store, now - chrono::Duration::days(1), None, now)
            .await
            .unwrap();
        all[&ProviderId::EsimAccess].clone()
    };
    let sent = counted().await;
    assert_eq!((sent.received, sent.stored, sent.duplicates), (Some(3), 2, Some(1)));
    for _ in 0..2 {
        let replayed = crate::maintain::replay_stored(None, Some("1d".into()), None, None, false, local_backend(&db));
        assert_eq!(replayed.await.unwrap().unchanged, 2);
    }
    assert_eq!(counted().await, sent, "replays are not deliveries a provider sent");
}

/// The tour's `verify` step is runnable: `send --save` writes a signed body and prints the exact `verify`
/// command, which accepts it, for every provider (header signatures and URL tokens alike).
#[test]
fn send_save_prints_a_verify_command_that_accepts_the_saved_body() {
    let dir = tempfile::tempdir().unwrap();
    for &provider in ProviderId::ALL {
        let body = dir.path().join(format!("{provider}.json"));
        let secret = format!("{provider}-secret");
        let request = shared::simulate::sign(provider, r#"{"probe": 1}"#, &secret);
        std::fs::write(&body, &request.body).unwrap();
        let argv = send::verify_argv(provider, &body, &request, &secret);
        let Command::Verify(args) = Cli::try_parse_from(&argv).unwrap().command else {
            panic!("{argv:?} is not a verify command");
        };
        assert_eq!(verify::run(&args), Ok(0), "{provider}: {argv:?}");
        let mut wrong = argv.clone();
        *wrong.last_mut().unwrap() = "another-secret".into();
        let Command::Verify(args) = Cli::try_parse_from(&wrong).unwrap().command else {
            unreachable!()
        };
        assert_ne!(verify::run(&args), Ok(0), "{provider}: a wrong secret must not verify");
    }
}

/// The README's demo delivery names an eSIM no fixture names, so posting a fixture after the demo raises the
/// alert the fixture expects.
#[test]
fn the_readme_demo_esim_is_in_no_fixture() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let demo = readme
        .lines()
        .find(|line| line.contains("--data '{\"notifyType\":\"DATA_USAGE\""))
        .expect("the README's demo delivery");
    let tran_no = demo
        .split("\"esimTranNo\":\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let iccid = demo.split("\"iccid\":\"").nth(1).unwrap().split('"').next().unwrap();
    for entry in std::fs::read_dir(repo().join("fixtures/esimaccess")).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        assert!(
            !text.contains(tran_no) && !text.contains(iccid),
            "a fixture shares the demo's eSIM"
        );
    }
}
