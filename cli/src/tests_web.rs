//! The operator console end to end: a store seeded with every provider fixture the production router accepts,
//! the console served on loopback over it, its JSON routes read as the page reads them, and, where
//! scripts/test.sh prepared Chromium and playwright-core (ESIMHOOKS_TEST_BROWSER), a real headless browser
//! driving the page (scripts/console-browser-test.js), screenshots under target/console-screenshots/.

use super::*;
use crate::tests::local_backend;
use serde_json::Value;
use shared::ingress::Delivery;

fn repo() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every fixture delivered to the production router (fixture secrets), at the system's time; those it
/// accepts are stored. Returns how many were stored.
async fn seed(opened: &backend::Opened) -> usize {
    let secrets: Value =
        serde_json::from_str(&std::fs::read_to_string(repo().join("fixtures/secrets.json")).unwrap()).unwrap();
    let env = move |name: &str| {
        let provider = ProviderId::ALL
            .iter()
            .find(|p| name.strip_suffix("_SECRETS") == Some(p.env_prefix().as_str()))?;
        let ring = secrets[provider.as_str()]["keyring"].as_array()?;
        Some(ring.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(","))
    };
    let mut settings = Settings::default();
    settings.customers.quiet_hours = None;
    let router = build_router(opened, &settings, Arc::new(SystemClock), &env).await;
    let mut stored = 0;
    for provider in ProviderId::ALL {
        let dir = repo().join("fixtures").join(provider.as_str());
        let mut files: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
        files.sort();
        for file in files {
            let fixture: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
            let request = &fixture["request"];
            let mut headers = axum::http::HeaderMap::new();
            for (name, value) in request["headers"].as_object().unwrap() {
                if let (Ok(name), Ok(value)) = (
                    axum::http::HeaderName::from_bytes(name.as_bytes()),
                    axum::http::HeaderValue::from_str(value.as_str().unwrap_or_default()),
                ) {
                    headers.insert(name, value);
                }
            }
            let token = fixture["auth"]["url_token"].as_str();
            let delivery = Delivery {
                method: request["method"].as_str().unwrap_or("POST").parse().unwrap(),
                path: format!("/webhooks/{provider}"),
                query: token.map(|t| format!("token={t}")).unwrap_or_default(),
                headers,
                source_ip: request["source_ip"].as_str().and_then(|ip| ip.parse().ok()),
                body: request["body"].as_str().unwrap_or_default().to_string().into(),
                received_at: SystemClock.now(),
                request_id: None,
            };
            let reply = router.handle(&delivery).await;
            let answer: Value = serde_json::from_str(&reply.body).unwrap_or_default();
            stored += usize::from(reply.status == 200 && answer["outcome"] == "stored");
        }
    }
    stored
}

async fn get(addr: std::net::SocketAddr, path: &str) -> (u16, Value) {
    let (status, body) = crate::tests::http(addr, "GET", path, "").await;
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_console_answers_every_page_over_a_seeded_store() {
    let dir = tempfile::tempdir().unwrap();
    let opened = local_backend(&dir.path().join("console.db")).open(false).await.unwrap();
    let stored = seed(&opened).await;
    assert!(stored >= 30, "most fixtures are stored: {stored}");
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let pipeline = pipeline_for(&opened, &Settings::default(), clock.clone());
    let console = Arc::new(web::Console {
        opened,
        pipeline,
        clock,
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(web::run(listener, console, async {
        let _ = stopped.await;
    }));

    let (status, page) = crate::tests::http(addr, "GET", "/", "").await;
    assert_eq!(status, 200);
    assert!(page.contains("<script src=\"/app.js\">"), "{page}");
    let (_, overview) = get(addr, "/api/overview?since=1h").await;
    assert_eq!(
        overview["providers"]["esimaccess"]["stored"].as_u64().map(|n| n > 0),
        Some(true),
        "{overview}"
    );
    let per_hour: u64 = overview["series"]["esimaccess"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(
        Some(per_hour),
        overview["providers"]["esimaccess"]["stored"].as_u64(),
        "the chart counts every delivery"
    );

    let (status, found) = get(addr, "/api/esim?q=8943108170001029631").await;
    assert_eq!(status, 200, "{found}");
    let timeline = found[0]["timeline"].as_array().unwrap();
    let times: Vec<&str> = timeline.iter().map(|e| e["at"].as_str().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "in order: {times:?}");
    let event = timeline.iter().find(|e| e["entry"] == "event").unwrap();
    let key = event["dedupe_key"].as_str().unwrap();
    let (status, inspected) = get(addr, &format!("/api/event?provider=esimaccess&key={key}")).await;
    assert_eq!(status, 200, "{inspected}");
    assert!(inspected["raw"].as_str().unwrap().contains("8943108170001029631"));
    assert!(inspected["normalized"].get("raw").is_none());
    let replay = format!("/api/replay?provider=esimaccess&key={key}");
    let forged = crate::tests::http(addr, "POST", &replay, "").await;
    assert_eq!(forged.0, 403, "a cross-site form cannot replay: {}", forged.1);
    let page = [(web::ACTION_HEADER.to_string(), "1".to_string())];
    let (status, replayed) = crate::tests::http_with(addr, "POST", &replay, &page, "").await;
    assert_eq!(status, 200, "{replayed}");
    let replayed: Value = serde_json::from_str(&replayed).unwrap();
    assert_eq!(
        replayed["changed_fields"],
        serde_json::json!([]),
        "the mapping did not change: {replayed}"
    );

    let (_, low) = get(addr, "/api/fleet?below=20").await;
    assert!(low["rows"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["data_left_percent"].as_f64().unwrap() < 20.0));
    assert!(!low["rows"].as_array().unwrap().is_empty(), "{low}");
    assert_eq!(low["more"], false, "{low}");
    assert_eq!(get(addr, "/api/esim?q=8900000000000000000").await.0, 404);
    assert_eq!(get(addr, "/api/fleet?below=lots").await.0, 400);
    assert_eq!(get(addr, "/api/event?provider=nobody&key=x").await.0, 400);
    let rebound = [("Host".to_string(), "evil.example".to_string())];
    let (status, _) = crate::tests::http_with(addr, "GET", "/api/overview", &rebound, "").await;
    assert_eq!(status, 403, "a DNS-rebinding page names its own host");

    let browser = browser_modules(std::env::var("ESIMHOOKS_TEST_BROWSER").ok());
    if let Err(why) = &browser {
        eprintln!("the console's browser test is skipped: {why}");
    }
    if let Ok(modules) = browser {
        let shots = repo().join("target/console-screenshots");
        let script = repo().join("scripts/console-browser-test.js");
        let url = format!("http://{addr}");
        let out = shots.clone();
        let status = tokio::task::spawn_blocking(move || {
            std::process::Command::new("node")
                .arg(script)
                .arg(url)
                .arg("8943108170001029631")
                .arg(out)
                .env("NODE_PATH", modules)
                .status()
        })
        .await
        .unwrap()
        .unwrap();
        assert!(
            status.success(),
            "the browser test failed (screenshots in {})",
            shots.display()
        );
    }
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}

/// Where scripts/test.sh put playwright-core (`ESIMHOOKS_TEST_BROWSER`), or why the browser test is skipped:
/// unset (`cargo test` alone), or `skip` (scripts/test.sh asked to install no system packages).
fn browser_modules(var: Option<String>) -> Result<String, &'static str> {
    match var.as_deref().map(str::trim) {
        None | Some("") => Err("ESIMHOOKS_TEST_BROWSER is not set (scripts/test.sh sets it)"),
        Some("skip") => Err("ESIMHOOKS_TEST_BROWSER=skip"),
        Some(_) => Ok(var.unwrap_or_default()),
    }
}

#[test]
fn the_browser_test_is_skipped_when_asked() {
    assert_eq!(browser_modules(Some("skip".into())), Err("ESIMHOOKS_TEST_BROWSER=skip"));
    assert!(browser_modules(None).is_err());
    let modules = "/work/target/browser-test/node_modules".to_string();
    assert_eq!(browser_modules(Some(modules.clone())), Ok(modules));
}

/// Every answer of the console, page, script, style, JSON, refusals and unknown paths alike, forbids framing
/// by another site and carries a policy that runs no inline script.
#[tokio::test]
async fn every_console_response_forbids_framing_and_inline_script() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let opened = local_backend(&dir.path().join("headers.db")).open(false).await.unwrap();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let pipeline = pipeline_for(&opened, &Settings::default(), clock.clone());
    let console = Arc::new(web::Console {
        opened,
        pipeline,
        clock,
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(web::run(listener, console, async {
        let _ = stopped.await;
    }));

    let requests = [
        ("GET", "/", "localhost", 200),
        ("GET", "/app.js", "localhost", 200),
        ("GET", "/style.css", "localhost", 200),
        ("GET", "/api/overview?since=1h", "localhost", 200),
        ("GET", "/api/fleet", "localhost", 200),
        ("GET", "/api/conflicts", "localhost", 200),
        ("GET", "/api/partners", "localhost", 200),
        ("GET", "/api/esim?q=8900000000000000000", "localhost", 404),
        ("GET", "/api/event?provider=nobody&key=x", "localhost", 400),
        ("POST", "/api/replay?provider=esimaccess&key=x", "localhost", 403),
        ("GET", "/api/overview", "evil.example", 403),
        ("GET", "/nowhere", "localhost", 404),
    ];
    for (method, path, host, expected) in requests {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let request =
            format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        let head = response.split("\r\n\r\n").next().unwrap().to_ascii_lowercase();
        let status: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
        assert_eq!(status, expected, "{method} {path}: {head}");
        let header = |name: &str| {
            let values: Vec<&str> = head
                .lines()
                .filter_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
                .map(str::trim)
                .collect();
            assert_eq!(values.len(), 1, "{method} {path}: one {name}: {head}");
            values[0].to_string()
        };
        assert_eq!(header("x-frame-options"), "deny", "{method} {path}");
        let policy = header("content-security-policy");
        let directives: Vec<&str> = policy.split(';').map(str::trim).collect();
        for wanted in ["default-src 'self'", "script-src 'self'", "frame-ancestors 'none'"] {
            assert!(directives.contains(&wanted), "{method} {path}: {wanted} in {policy}");
        }
        assert!(!policy.contains("unsafe-"), "{method} {path}: {policy}");
    }

    // The page itself has nothing inline for the policy to refuse: no script body, handler or style attribute.
    let page = web::PAGE.to_ascii_lowercase();
    assert_eq!(
        page.matches("<script").count(),
        page.matches("<script src=").count(),
        "{page}"
    );
    for inline in [" onclick=", " onload=", " onsubmit=", " style=", "javascript:"] {
        assert!(!page.contains(inline), "{inline} in the page");
    }
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}
