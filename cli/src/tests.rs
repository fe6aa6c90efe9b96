//! The local server end to end: real HTTP on loopback, the SQLite file, the listing commands.

use super::*;
use serde_json::Value;
use std::io::Write as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TOKEN: &str = "local-test-token";

fn fixture_body(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/esimaccess")
        .join(name);
    let fixture: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    fixture["request"]["body"].as_str().unwrap().to_string()
}

/// One HTTP/1.1 request over a plain socket; returns (status, body).
async fn http(addr: SocketAddr, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
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

struct Server {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

async fn start(db: &std::path::Path) -> Server {
    let backend = BackendArgs {
        backend: backend::BackendKind::Local,
        db: db.to_path_buf(),
        table: None,
        topic_arn: None,
    };
    let opened = backend.open(true).await.unwrap();
    let env = |name: &str| (name == "ESIMACCESS_SECRETS").then(|| TOKEN.to_string());
    let settings = Settings::default();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let pipeline = Arc::new(Pipeline::new(
        opened.events.clone(),
        opened.sink.clone(),
        clock.clone(),
        settings.pipeline.clone(),
    ));
    let provider = provider_from_env(
        shared::model::ProviderId::EsimAccess,
        &|n: &str| {
            if n == "ESIMACCESS_ALLOWED_IPS" {
                Some("off".into())
            } else {
                env(n)
            }
        },
        opened.secrets.as_ref(),
    )
    .await
    .unwrap();
    let router = Arc::new(Router::new(vec![Service::ready(
        provider,
        pipeline,
        settings.max_body_bytes,
    )]));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel();
    let task = tokio::spawn(async move {
        serve::run(listener, serve::AppState { router, clock }, async {
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
    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.task.await.unwrap();
    }
}

async fn list_json(what: Listing, db: &std::path::Path) -> Vec<Value> {
    let store = sqlite::open_store(db).unwrap();
    let args = ListArgs {
        provider: Some("esimaccess".into()),
        since: Some("3650d".into()),
        limit: 100,
        json: true,
    };
    let mut out = Vec::new();
    listing::list(what, &args, &store, SystemClock.now(), &mut out)
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
    let store = sqlite::open_store(&db).unwrap();
    let args = ListArgs {
        provider: None,
        since: Some("3650d".into()),
        limit: 10,
        json: false,
    };
    let mut out = Vec::new();
    listing::list(Listing::Esims, &args, &store, SystemClock.now(), &mut out)
        .await
        .unwrap();
    let text = String::from_utf8(out).unwrap();
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
    let backend = BackendArgs {
        backend: backend::BackendKind::Local,
        db: db.clone(),
        table: None,
        topic_arn: None,
    };
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
