//! The local server end to end: real HTTP on loopback, the SQLite file, the listing commands.

use super::*;
use crate::setup::init_at;
use serde_json::Value;
use shared::providers::provider_from_env;
use shared::service::Service;
use std::io::Write as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub(crate) const TOKEN: &str = "local-test-token";

pub(crate) fn fixture_body(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/esimaccess")
        .join(name);
    let fixture: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    fixture["request"]["body"].as_str().unwrap().to_string()
}

/// One HTTP/1.1 request over a plain socket; returns (status, body).
pub(crate) async fn http(addr: SocketAddr, method: &str, path: &str, body: &str) -> (u16, String) {
    http_with(addr, method, path, &[], body).await
}

/// [`http`] with more headers.
pub(crate) async fn http_with(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: &str,
) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let named = |wanted: &str| headers.iter().any(|(name, _)| name.eq_ignore_ascii_case(wanted));
    let host = if named("host") { "" } else { "Host: localhost\r\n" };
    let extra: String = headers
        .iter()
        .filter(|(name, _)| !name.eq_ignore_ascii_case("content-type"))
        .map(|(name, value)| format!("{name}: {value}\r\n"))
        .collect();
    let request = format!(
        "{method} {path} HTTP/1.1\r\n{host}Content-Type: application/json\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let text = String::from_utf8(response).unwrap();
    let status = text.split(' ').nth(1).unwrap().parse().unwrap();
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

pub(crate) struct Server {
    pub(crate) addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

/// The local backend on the SQLite file `db`.
pub(crate) fn local_backend(db: &std::path::Path) -> BackendArgs {
    BackendArgs {
        backend: backend::BackendKind::Local,
        db: db.to_path_buf(),
        table: None,
        topic_arn: None,
    }
}

/// Secrets the test server is configured with, per provider (eSIM Access: [`TOKEN`]).
pub(crate) fn secret_of(provider: &str) -> String {
    match provider {
        "esimaccess" => TOKEN.to_string(),
        _ => format!("{provider}-local-secret"),
    }
}

/// The environment of a test server: `<PREFIX>_SECRETS` of every provider in the list ([`secret_of`]).
pub(crate) fn local_secrets(name: &str) -> Option<String> {
    let provider = ProviderId::ALL
        .iter()
        .find(|p| name.strip_suffix("_SECRETS") == Some(p.env_prefix().as_str()))?;
    Some(secret_of(provider.as_str()))
}

pub(crate) async fn start(db: &std::path::Path) -> Server {
    let backend = local_backend(db);
    let mut opened = backend.open(true).await.unwrap();
    let env = local_secrets;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    // The system clock may read any hour: customer messages go at once, whatever the customer's night.
    let mut settings = Settings::default();
    settings.customers.quiet_hours = None;
    let tick = std::time::Duration::from_millis(100);
    let callbacks = serve::partner_callbacks(&mut opened, clock.clone(), true, tick).unwrap();
    let router = Arc::new(build_router(&opened, &settings, clock.clone(), &env).await);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel();
    let task = tokio::spawn(async move {
        let state = serve::AppState {
            router,
            clock,
            callbacks,
        };
        serve::run(listener, state, async {
            let _ = stopped.await;
        })
        .await
        .unwrap();
    });
    Server {
        addr,
        stop: Some(stop),
        task,
    }
}

impl Server {
    pub(crate) async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.task.await.unwrap();
    }
}

/// `what` as the table a person reads, every provider, ten years back.
pub(crate) async fn list_table(what: Listing, db: &std::path::Path) -> String {
    let store = sqlite::open_store(db).unwrap();
    let args = ListArgs {
        provider: None,
        since: Some("3650d".into()),
        iccid: None,
        limit: 10,
        json: false,
    };
    let mut out = Vec::new();
    listing::list(what, &args, &Default::default(), &store, SystemClock.now(), &mut out)
        .await
        .unwrap();
    String::from_utf8(out).unwrap()
}

pub(crate) async fn list_json(what: Listing, db: &std::path::Path) -> Vec<Value> {
    list_json_of(what, db, "esimaccess").await
}

pub(crate) async fn list_json_of(what: Listing, db: &std::path::Path, provider: &str) -> Vec<Value> {
    let store = sqlite::open_store(db).unwrap();
    let args = ListArgs {
        provider: Some(ProviderId::parse(provider).unwrap()),
        since: Some("3650d".into()),
        iccid: None,
        limit: 100,
        json: true,
    };
    let mut out = Vec::new();
    listing::list(what, &args, &Default::default(), &store, SystemClock.now(), &mut out)
        .await
        .unwrap();
    serde_json::from_slice(&out).unwrap()
}

#[tokio::test]
async fn serves_posts_persists_and_lists() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("local.db");
    let server = start(&db).await;
    let path = format!("/webhooks/esimaccess?token={TOKEN}");
    for name in ["02-esim-status-in-use.json", "05-data-usage-low.json"] {
        let body = fixture_body(name);
        let (status, reply) = http(server.addr, "POST", &path, &body).await;
        assert_eq!(status, 200, "{name}: {reply}");
        let (status, reply) = http(server.addr, "POST", &path, &body).await;
        assert_eq!(
            (
                status,
                serde_json::from_str::<Value>(&reply).unwrap()["outcome"].clone()
            ),
            (200, "duplicate".into())
        );
    }
    assert_eq!(
        http(
            server.addr,
            "POST",
            "/webhooks/esimaccess?token=wrong",
            &fixture_body("00-check-health.json")
        )
        .await
        .0,
        401
    );
    assert_eq!(http(server.addr, "POST", "/webhooks/nobody", "{}").await.0, 404);
    assert_eq!(http(server.addr, "GET", &path, "").await.0, 405);
    assert_eq!(http(server.addr, "POST", &path, "{\"notifyType\":").await.0, 400);
    server.stop().await;

    // A new process would see the same file.
    let events = list_json(Listing::Events, &db).await;
    assert_eq!(events.len(), 2);
    assert!(events.iter().all(|e| e["status"] == "COMPLETED"));
    let esims = list_json(Listing::Esims, &db).await;
    assert_eq!(esims.len(), 2);
    let alerts = list_json(Listing::Alerts, &db).await;
    assert_eq!(alerts.len(), 1);
    assert_eq!(
        (alerts[0]["alert"]["type"].as_str(), alerts[0]["status"].as_str()),
        (Some("low_data"), Some("SENT"))
    );
}

#[tokio::test]
async fn tables_show_what_was_stored() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let server = start(&db).await;
    let (status, _) = http(
        server.addr,
        "POST",
        &format!("/webhooks/esimaccess/{TOKEN}"),
        &fixture_body("05-data-usage-low.json"),
    )
    .await;
    assert_eq!(status, 200);
    server.stop().await;
    let text = list_table(Listing::Esims, &db).await;
    assert!(text.starts_with("UPDATED"), "{text}");
    assert!(text.contains("25052822150009") && text.contains("10.0%"), "{text}");
    assert!(text.trim_end().ends_with("(1 rows)"), "{text}");
    let _ = std::io::stdout().flush();
}

#[tokio::test]
async fn sweep_command_alerts_once_for_an_expiring_esim() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("sweep.db");
    let server = start(&db).await;
    // eSIM Access validity ending in 30 hours: no alert at delivery with the default 24 h window.
    let ends = (SystemClock.now() + chrono::Duration::hours(30))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let body = serde_json::json!({"notifyType": "VALIDITY_USAGE", "notifyId": "v-1", "content": {"iccid": "8981", "esimTranNo": "T-S",
        "transactionId": "tx-s", "remain": 1, "durationUnit": "DAY", "expiredTime": ends}});
    let (status, _) = http(
        server.addr,
        "POST",
        &format!("/webhooks/esimaccess?token={TOKEN}"),
        &body.to_string(),
    )
    .await;
    assert_eq!(status, 200);
    server.stop().await;
    let backend = local_backend(&db);
    sweep(backend.clone(), &|_: &str| None).await.unwrap();
    assert!(
        list_json(Listing::Alerts, &db).await.is_empty(),
        "30 hours out is outside the window"
    );
    let wide = |name: &str| (name == "ESIMHOOKS_EXPIRY_WINDOW_HOURS").then(|| "48".to_string());
    sweep(backend.clone(), &wide).await.unwrap();
    sweep(backend, &wide).await.unwrap();
    let alerts = list_json(Listing::Alerts, &db).await;
    assert_eq!(alerts.len(), 1);
    assert_eq!(
        (alerts[0]["alert"]["level"].as_str(), alerts[0]["status"].as_str()),
        (Some("48h"), Some("SENT"))
    );
}

#[test]
fn cli_parses_and_documents_its_commands() {
    use clap::CommandFactory;
    Cli::command().debug_assert();
    let parsed = Cli::try_parse_from(["esimhooks", "events", "--json", "--provider", "esimaccess"]).unwrap();
    assert!(matches!(
        parsed.command,
        Command::Events {
            list: ListArgs { json: true, .. },
            ..
        }
    ));
    assert!(Cli::try_parse_from(["esimhooks", "events", "--backend", "cloud"]).is_err());
}

pub(crate) fn send_args(provider: &str, addr: SocketAddr, secret: String) -> send::SendArgs {
    send::SendArgs {
        provider: ProviderId::parse(provider).unwrap(),
        event_type: None,
        file: None,
        scenario: false,
        secret: Some(secret),
        url: format!("http://{addr}"),
        iccid: "8944500000000000077".into(),
        remaining: 9,
        ends_in_hours: 72,
        list_types: false,
        save: None,
    }
}

pub(crate) async fn send(args: send::SendArgs) -> Result<u8, String> {
    tokio::task::spawn_blocking(move || send::run(&args)).await.unwrap()
}

#[tokio::test]
async fn send_is_accepted_for_every_provider_and_refused_with_a_wrong_secret() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("send.db");
    let server = start(&db).await;
    let secret = secret_of;
    for provider in ProviderId::ALL.iter().map(|p| p.as_str()) {
        assert_eq!(
            send(send_args(provider, server.addr, secret(provider))).await,
            Ok(0),
            "{provider}"
        );
        assert_eq!(
            send(send_args(provider, server.addr, "wrong".into())).await,
            Ok(3),
            "{provider} wrong secret"
        );
    }
    // A whole scenario per provider: every step accepted.
    for provider in ProviderId::ALL.iter().map(|p| p.as_str()) {
        let mut args = send_args(provider, server.addr, secret(provider));
        args.scenario = true;
        args.iccid = format!("89445000000000001{}", provider.len());
        assert_eq!(send(args).await, Ok(0), "{provider} scenario");
    }
    server.stop().await;
    let events = list_json(Listing::Events, &db).await;
    assert!(
        events.len() >= 4,
        "one stored per accepted delivery of eSIM Access at least"
    );
    let store = sqlite::open_store(&db).unwrap();
    let all = shared::store::StoreQuery::list_deliveries(&store, &shared::store::ListQuery::default())
        .await
        .unwrap();
    let providers: std::collections::BTreeSet<String> = all.iter().map(|d| d.event.provider.to_string()).collect();
    assert_eq!(
        providers.len(),
        ProviderId::ALL.len(),
        "every provider's sends were stored: {providers:?}"
    );
    let alerts = shared::store::StoreQuery::list_alerts(&store, &shared::store::ListQuery::default())
        .await
        .unwrap();
    let types: std::collections::BTreeSet<&str> = alerts.iter().map(|a| a.alert.alert_type.as_str()).collect();
    assert!(
        types.contains("low_data") && types.contains("expiry"),
        "scenarios end with low data and expiry: {types:?}"
    );
}

#[tokio::test]
async fn send_refuses_unknown_providers_and_types_with_a_clear_message() {
    // An unknown provider is a usage error, exit code 2, naming the providers; for every command taking one.
    for argv in [
        &["esimhooks", "send", "--provider", "acme", "--secret", "x"][..],
        &["esimhooks", "verify", "--provider", "acme", "--body", "b.json"],
        &["esimhooks", "events", "--provider", "acme"],
        &["esimhooks", "replay", "--provider", "acme"],
    ] {
        let err = Cli::try_parse_from(argv).unwrap_err();
        assert_eq!(err.exit_code(), 2, "{argv:?}");
        let said = err.to_string();
        assert!(
            said.contains("unknown provider acme") && said.contains("esimgo"),
            "{said}"
        );
    }
    // Listing the types needs no secret.
    let cli = Cli::try_parse_from(["esimhooks", "send", "--provider", "roamify", "--list-types"]).unwrap();
    let Command::Send(args) = cli.command else {
        unreachable!()
    };
    assert_eq!(send(args).await, Ok(0));
    assert_eq!(
        Cli::try_parse_from(["esimhooks", "send", "--provider", "roamify"])
            .unwrap_err()
            .exit_code(),
        2,
        "sending needs --secret"
    );
    let addr: SocketAddr = "127.0.0.1:9".parse().unwrap();
    let mut args = send_args("roamify", addr, "x".into());
    args.event_type = Some("teleport".into());
    let err = send(args).await.unwrap_err();
    assert!(err.contains("--list-types"), "{err}");
}

fn verify_args(
    provider: &str,
    body: &std::path::Path,
    headers: Vec<String>,
    secrets: Vec<String>,
) -> verify::VerifyArgs {
    verify::VerifyArgs {
        provider: ProviderId::parse(provider).unwrap(),
        body: body.to_path_buf(),
        headers,
        path: String::new(),
        secrets,
    }
}

#[test]
fn verify_accepts_fixtures_and_explains_failures() {
    let dir = tempfile::tempdir().unwrap();
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let secrets: Value =
        serde_json::from_str(&std::fs::read_to_string(repo.join("fixtures/secrets.json")).unwrap()).unwrap();
    let fixture: Value =
        serde_json::from_str(&std::fs::read_to_string(repo.join("fixtures/roamify/00-status-flat.json")).unwrap())
            .unwrap();
    let body = fixture["request"]["body"].as_str().unwrap();
    let signature = fixture["request"]["headers"]["x-roamify-signature"].as_str().unwrap();
    let header = vec![format!("X-Roamify-Signature: {signature}")];
    let secret = vec![
        secrets["roamify"]["secret_rotated"].as_str().unwrap().to_string(),
        secrets["roamify"]["secret"].as_str().unwrap().to_string(),
    ];
    let path = dir.path().join("body.json");
    std::fs::write(&path, body).unwrap();
    assert_eq!(
        verify::run(&verify_args("roamify", &path, header.clone(), secret.clone())),
        Ok(0)
    );
    assert_eq!(
        verify::run(&verify_args("roamify", &path, vec![], secret.clone())),
        Ok(4),
        "missing header"
    );
    assert_eq!(
        verify::run(&verify_args(
            "roamify",
            &path,
            vec!["X-Roamify-Signature: zz".into()],
            secret.clone()
        )),
        Ok(4)
    );
    assert_eq!(
        verify::run(&verify_args("roamify", &path, header.clone(), vec!["wrong".into()])),
        Ok(4)
    );
    std::fs::write(&path, format!("{body}\n")).unwrap();
    assert_eq!(
        verify::run(&verify_args("roamify", &path, header, secret)),
        Ok(4),
        "a trailing newline added after signing"
    );
}

#[tokio::test]
async fn replay_finishes_an_interrupted_delivery_and_leaves_completed_ones() {
    use shared::store::EventStore;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("replay.db");
    let server = start(&db).await;
    let (status, _) = http(
        server.addr,
        "POST",
        &format!("/webhooks/esimaccess?token={TOKEN}"),
        &fixture_body("05-data-usage-low.json"),
    )
    .await;
    assert_eq!(status, 200);
    server.stop().await;

    // A delivery whose Lambda died after storing it: claimed, lease expired, never completed.
    let store = sqlite::open_store(&db).unwrap();
    let stored = shared::store::StoreQuery::list_deliveries(&store, &shared::store::ListQuery::default())
        .await
        .unwrap();
    let mut interrupted = stored[0].event.clone();
    interrupted.raw = serde_json::value::RawValue::from_string(fixture_body("02-esim-status-in-use.json")).unwrap();
    let interrupted = shared::replay::renormalize(&interrupted).unwrap();
    let lease = shared::store::Lease {
        attempt: "dead".into(),
        until: SystemClock.now() - chrono::Duration::seconds(1),
    };
    store
        .begin_delivery(&interrupted, &lease, SystemClock.now() - chrono::Duration::seconds(60))
        .await
        .unwrap();
    drop(store);

    let backend = local_backend(&db);
    assert_eq!(
        replay(None, Some("3650d".into()), None, None, false, backend.clone()).await,
        Ok(0)
    );
    let events = list_json(Listing::Events, &db).await;
    assert!(
        events.iter().all(|e| e["status"] == "COMPLETED"),
        "the interrupted delivery was finished: {events:#?}"
    );
    let esims = list_json(Listing::Esims, &db).await;
    assert!(esims
        .iter()
        .any(|s| s["status"]["value"]["provider_status"] == "IN_USE"));
    // A stored normalization from older code: a forced replay brings the current one back.
    let store = sqlite::open_store(&db).unwrap();
    let mut stale = shared::store::StoreQuery::list_deliveries(&store, &shared::store::ListQuery::default())
        .await
        .unwrap()
        .into_iter()
        .find(|d| d.event.provider_event_type.as_deref() == Some("DATA_USAGE"))
        .unwrap()
        .event;
    stale.flags.push("stale-normalization".into());
    assert!(store.rewrite_event(&stale).await.unwrap());
    drop(store);
    // Forced, and for one eSIM only: the stale record is rewritten, and no alert is sent twice.
    let forced = replay(
        None,
        Some("3650d".into()),
        None,
        Some("25052822150009".into()),
        true,
        backend,
    )
    .await;
    assert_eq!(forced, Ok(0));
    let events = list_json(Listing::Events, &db).await;
    assert!(
        events
            .iter()
            .all(|e| e["event"]["flags"].as_array().is_none_or(|f| f.is_empty())),
        "{events:#?}"
    );
    assert_eq!(list_json(Listing::Alerts, &db).await.len(), 1);
}

#[test]
fn completions_name_the_commands() {
    use clap::CommandFactory;
    let mut out = Vec::new();
    clap_complete::generate(clap_complete::Shell::Bash, &mut Cli::command(), "esimhooks", &mut out);
    let script = String::from_utf8(out).unwrap();
    for command in ["serve", "send", "verify", "replay", "events", "esims", "alerts"] {
        assert!(script.contains(command), "{command} missing from completions");
    }
}

#[tokio::test]
async fn init_creates_a_table_and_topic_the_aws_backend_can_use() {
    let endpoint = std::env::var("ESIMHOOKS_TEST_ENDPOINT").expect("run with scripts/test.sh, which starts moto");
    let sdk = shared::aws::sdk_config_at(&endpoint).await;
    let table = format!("cli-init-{}", std::process::id());
    let (created, topic_arn) = init_at(&sdk, &table, &table).await.unwrap();
    assert_eq!(created, table);
    assert!(topic_arn.starts_with("arn:aws:sns:"), "{topic_arn}");
    // Idempotent: running it again is fine.
    init_at(&sdk, &table, &table).await.unwrap();
    // A table of an earlier release, without the asking index, gains it.
    let ddb = aws_sdk_dynamodb::Client::new(&sdk);
    let indexes = |table: String| {
        let ddb = ddb.clone();
        async move {
            let described = ddb.describe_table().table_name(table).send().await.unwrap();
            let table = described.table.unwrap();
            let names = table.global_secondary_indexes.unwrap_or_default();
            names
                .iter()
                .filter_map(|i| i.index_name().map(String::from))
                .collect::<Vec<_>>()
        }
    };
    assert!(indexes(table.clone()).await.contains(&"asking".to_string()));
    let older = format!("{table}-older");
    let attribute = |name: &str| {
        aws_sdk_dynamodb::types::AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(aws_sdk_dynamodb::types::ScalarAttributeType::S)
            .build()
            .unwrap()
    };
    let key = |name: &str, kind| {
        aws_sdk_dynamodb::types::KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .unwrap()
    };
    ddb.create_table()
        .table_name(&older)
        .billing_mode(aws_sdk_dynamodb::types::BillingMode::PayPerRequest)
        .attribute_definitions(attribute("pk"))
        .attribute_definitions(attribute("sk"))
        .key_schema(key("pk", aws_sdk_dynamodb::types::KeyType::Hash))
        .key_schema(key("sk", aws_sdk_dynamodb::types::KeyType::Range))
        .send()
        .await
        .unwrap();
    init_at(&sdk, &older, &older).await.unwrap();
    assert_eq!(indexes(older).await, ["asking"]);
    // The customer email sender's SES identity, also idempotent.
    let from = format!("alerts-{}@travelsim.example", std::process::id());
    crate::setup::init_email_identity(&sdk, &from).await.unwrap();
    crate::setup::init_email_identity(&sdk, &from).await.unwrap();
    let identity = aws_sdk_sesv2::Client::new(&sdk)
        .get_email_identity()
        .email_identity(&from)
        .send()
        .await
        .unwrap();
    assert_eq!(identity.identity_type().map(|t| t.as_str()), Some("EMAIL_ADDRESS"));
    // The table works with the real store and the listing commands.
    let store = shared::store::dynamodb::DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        &table,
        chrono::Duration::days(1),
    );
    let sink = Arc::new(shared::alerts::sink::sns::SnsSink::new(
        aws_sdk_sns::Client::new(&sdk),
        topic_arn,
    ));
    let pipeline = Pipeline::new(
        Arc::new(store.clone()),
        sink,
        Arc::new(SystemClock),
        Settings::default().pipeline,
    );
    let provider = provider_from_env(
        shared::model::ProviderId::EsimAccess,
        &|n: &str| match n {
            "ESIMACCESS_SECRETS" => Some(TOKEN.into()),
            "ESIMACCESS_ALLOWED_IPS" => Some("off".into()),
            _ => None,
        },
        &shared::config::NoSecretSource,
        shared::providers::SourceChecks::Deployed,
    )
    .await
    .unwrap();
    let service = Service::ready(provider, Arc::new(pipeline), 128 * 1024);
    let f: Value = serde_json::from_str(
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../events/esimaccess/05-data-usage-low.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let mut event: lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequest = serde_json::from_value(f).unwrap();
    event.raw_query_string = Some(format!("token={TOKEN}"));
    assert_eq!(shared::lambda::handle_apigw(&service, event).await.status_code, 200);
    let args = ListArgs {
        provider: None,
        since: Some("1d".into()),
        iccid: None,
        limit: 10,
        json: true,
    };
    let mut out = Vec::new();
    listing::list(
        Listing::Alerts,
        &args,
        &Default::default(),
        &store,
        SystemClock.now(),
        &mut out,
    )
    .await
    .unwrap();
    let alerts: Vec<Value> = serde_json::from_slice(&out).unwrap();
    assert_eq!(alerts.len(), 1);
}

#[tokio::test]
async fn conflicts_lists_a_reused_id_with_another_payload() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("conflicts.db");
    let server = start(&db).await;
    let path = format!("/webhooks/esimaccess?token={TOKEN}");
    let body = |status: &str| {
        format!(
            r#"{{"notifyType":"ESIM_STATUS","notifyId":"same","content":{{"esimTranNo":"T1","esimStatus":"{status}"}}}}"#
        )
    };
    assert_eq!(http(server.addr, "POST", &path, &body("IN_USE")).await.0, 200);
    let (status, reply) = http(server.addr, "POST", &path, &body("CANCEL")).await;
    assert_eq!(
        (
            status,
            serde_json::from_str::<Value>(&reply).unwrap()["outcome"].clone()
        ),
        (200, "conflict".into())
    );
    server.stop().await;
    let conflicts = list_json(Listing::Conflicts, &db).await;
    assert_eq!(conflicts.len(), 1);
    assert_eq!(conflicts[0]["event"]["dedupe_key"], "same");
    assert_eq!(conflicts[0]["count"], 1);
}
