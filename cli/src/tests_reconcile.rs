//! `esimhooks reconcile` against local servers that answer as each provider's API documents: the answer
//! becomes the eSIM's state and its alerts, once; wrong credentials, `429` and malformed answers are clear
//! errors that store nothing.

use super::reconcile::{self, ReconcileArgs};
use super::tests::{list_json_of, local_backend, secret_of, send, send_args, start};
use super::*;
use serde_json::{json, Value};
use shared::reconcile::client::{credentials_var, url_var};
use shared::store::StoreQuery;
use std::sync::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One request the fake API received.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// What the fake API answers: a status, extra headers and a body.
type Reply = (u16, Vec<(&'static str, String)>, String);
type Route = Arc<dyn Fn(&Seen) -> Reply + Send + Sync>;

/// A provider API on loopback: answers each request by `route`, keeps what it received.
struct FakeApi {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl FakeApi {
    async fn start(route: Route) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let kept = seen.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let (route, kept) = (route.clone(), kept.clone());
                tokio::spawn(async move {
                    let Some(request) = read_request(&mut socket).await else {
                        return;
                    };
                    kept.lock().unwrap().push(request.clone());
                    let (status, headers, body) = route(&request);
                    let mut head = format!(
                        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
                        body.len()
                    );
                    for (name, value) in headers {
                        head.push_str(&format!("{name}: {value}\r\n"));
                    }
                    let _ = socket.write_all(format!("{head}\r\n{body}").as_bytes()).await;
                });
            }
        });
        Self { url, seen }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

async fn read_request(socket: &mut tokio::net::TcpStream) -> Option<Seen> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let read = socket.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..read]);
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).to_string();
    let mut lines = head.lines();
    let mut first = lines.next()?.split(' ');
    let (method, path) = (first.next()?.to_string(), first.next()?.to_string());
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buffer[head_end + 4..].to_vec();
    while body.len() < length {
        let read = socket.read(&mut chunk).await.ok()?;
        if read == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..read]);
    }
    Some(Seen {
        method,
        path,
        headers,
        body: String::from_utf8_lossy(&body).to_string(),
    })
}

fn ok(body: Value) -> Reply {
    (200, Vec::new(), body.to_string())
}

const ICCID: &str = "8944500000000000077";

/// Runs `esimhooks reconcile` with `provider`'s API at `api` and `credentials`: exit code and output.
async fn reconcile_with(provider: &str, credentials: &str, api: &FakeApi, db: &std::path::Path) -> (u8, String) {
    let provider = ProviderId::parse(provider).unwrap();
    let args = ReconcileArgs {
        provider: Some(provider),
        iccid: Some(ICCID.into()),
        dry_run: false,
        refile: false,
        backend: local_backend(db),
    };
    let env = api_env(provider, credentials, api);
    let transport = Arc::new(shared::reconcile::http::HttpsTransport::new().unwrap());
    let mut out = Vec::new();
    let code = reconcile::run(&args, &env, transport, &mut out).await.unwrap();
    (code, String::from_utf8(out).unwrap())
}

fn esimgo_answer(remaining: u64) -> Value {
    json!({"bundles": [{"name": "esim_1GB_7D_GB_V2", "assignments": [{"id": "1", "callTypeGroup": "data",
        "initialQuantity": 1_000_000_000u64, "remainingQuantity": remaining,
        "assignmentDateTime": "2026-11-20T10:00:00Z", "bundleState": "active", "unlimited": false}]}]})
}

async fn remaining_of(db: &std::path::Path, provider: ProviderId, key: &str) -> Option<u64> {
    let store = sqlite::open_store(db).unwrap();
    let state = store.esim_state(provider, key).await.unwrap()?;
    state.usage.and_then(|f| f.value.remaining_bytes)
}

#[tokio::test]
async fn an_esim_at_60_percent_by_webhook_and_15_by_its_api_gets_the_20_percent_alert_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("reconcile.db");
    let server = start(&db).await;
    let mut at_60 = send_args("esimgo", server.addr, secret_of("esimgo"));
    at_60.remaining = 60;
    assert_eq!(send(at_60).await, Ok(0));
    server.stop().await;
    assert!(
        list_json_of(Listing::Alerts, &db, "esimgo").await.is_empty(),
        "no alert at 60 %"
    );

    let answer = Arc::new(Mutex::new(esimgo_answer(150_000_000)));
    let current = answer.clone();
    let api = FakeApi::start(Arc::new(move |_: &Seen| ok(current.lock().unwrap().clone()))).await;
    let (code, out) = reconcile_with("esimgo", "go-key", &api, &db).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("1 alert(s) raised"), "{out}");
    let alerts = list_json_of(Listing::Alerts, &db, "esimgo").await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0]["alert"]["level"], "20%");
    assert_eq!(remaining_of(&db, ProviderId::EsimGo, ICCID).await, Some(150_000_000));
    let timeline = timeline::TimelineArgs {
        esim: ICCID.into(),
        provider: Some(ProviderId::EsimGo),
        since: "1d".into(),
        json: false,
    };
    let mut shown = Vec::new();
    let store = sqlite::open_store(&db).unwrap();
    timeline::run(&timeline, &store, SystemClock.now(), &mut shown)
        .await
        .unwrap();
    let shown = String::from_utf8(shown).unwrap();
    assert_eq!(
        shown.matches("(asked, not pushed)").count(),
        1,
        "the webhook's event is pushed: {shown}"
    );
    let seen = api.seen();
    assert_eq!(
        seen[0].path,
        format!("/esims/{ICCID}/bundles?includeUsed=true&limit=200")
    );
    assert_eq!(seen[0].header("x-api-key"), Some("go-key"));

    let events = list_json_of(Listing::Events, &db, "esimgo").await.len();
    let (code, out) = reconcile_with("esimgo", "go-key", &api, &db).await;
    assert_eq!(code, 0);
    assert!(out.contains("nothing stored"), "asking again changes nothing: {out}");
    assert_eq!(list_json_of(Listing::Events, &db, "esimgo").await.len(), events);
    assert_eq!(list_json_of(Listing::Alerts, &db, "esimgo").await.len(), 1);
}

/// Every provider with a usage API, asked about an eSIM no webhook ever named: its documented answer becomes
/// the eSIM's state, with the amount in bytes by the provider's own unit.
#[tokio::test]
async fn an_esim_never_heard_of_gets_its_state_from_each_providers_answer() {
    let token = json!({"data": {"token_type": "Bearer", "expires_in": 3600, "access_token": "air-token"}});
    let cases: Vec<(&str, &str, Route, &str, u64)> = vec![
        (
            "esimgo",
            "go-key",
            Arc::new(|_: &Seen| ok(esimgo_answer(250_000_000))),
            ICCID,
            250_000_000,
        ),
        (
            "airalo",
            "client:secret",
            Arc::new(
                move |seen: &Seen| match (seen.method.as_str(), seen.header("authorization")) {
                    ("POST", _) => ok(token.clone()),
                    ("GET", Some("Bearer air-token")) => ok(json!({"data": {"remaining": 300, "total": 1024,
                    "is_unlimited": false, "status": "ACTIVE", "expired_at": "2027-01-01 00:00:00"}})),
                    _ => (401, Vec::new(), "{}".into()),
                },
            ),
            ICCID,
            300_000_000,
        ),
        (
            "esimaccess",
            "access-code",
            Arc::new(|_: &Seen| {
                ok(
                    json!({"success": true, "errorCode": "0", "obj": {"esimList": [{"esimTranNo": "T-NEW-1",
                    "iccid": ICCID, "totalVolume": 1_073_741_824u64, "orderUsage": 805_306_368u64,
                    "esimStatus": "IN_USE", "smdpStatus": "ENABLED"}]}}),
                )
            }),
            "T-NEW-1",
            268_435_456,
        ),
        (
            "roamify",
            "roamify-token",
            Arc::new(|_: &Seen| {
                ok(json!({"status": "success", "data": {"iccid": ICCID, "status": "ACTIVE",
                    "allowedData": 1_048_576, "remainingData": 524_288}}))
            }),
            ICCID,
            536_870_912,
        ),
        (
            "oneglobal",
            "client:secret",
            Arc::new(|seen: &Seen| match seen.method.as_str() {
                "POST" => ok(json!({"access_token": "tru-token", "expires_in": 300})),
                _ => ok(json!({"data": [{"status": "ACTIVE", "initial_balance": "1073741824",
                    "current_balance": "107374182", "balance_units": "Bytes",
                    "expiry_date": "2027-01-01T00:00:00Z"}]})),
            }),
            ICCID,
            107_374_182,
        ),
        (
            "gigastore",
            "client:secret",
            Arc::new(|seen: &Seen| match (seen.method.as_str(), seen.path.as_str()) {
                ("POST", "/reseller/authenticate") => ok(json!({"accessToken": "giga-token", "expiresIn": 86400})),
                // Found in the list first; asked by its customer once the state holds the uid.
                ("GET", "/gigastore/activations/customers") => ok(json!([gigastore_customer("u-1", ICCID, 0.25)])),
                ("GET", "/gigastore/activations/customers/u-1") => ok(gigastore_customer("u-1", ICCID, 0.25)),
                _ => (404, Vec::new(), "{}".into()),
            }),
            ICCID,
            250_000_000,
        ),
    ];
    for (provider, credentials, route, key, remaining) in cases {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("never.db");
        let api = FakeApi::start(route).await;
        let (code, out) = reconcile_with(provider, credentials, &api, &db).await;
        assert_eq!(code, 0, "{provider}: {out}");
        let id = ProviderId::parse(provider).unwrap();
        assert_eq!(remaining_of(&db, id, key).await, Some(remaining), "{provider}: {out}");
        // Asked again: the cached token serves, and nothing new is stored.
        let (code, out) = reconcile_with(provider, credentials, &api, &db).await;
        assert!(code == 0 && out.contains("nothing stored"), "{provider}: {out}");
    }
}

#[tokio::test]
async fn wrong_credentials_a_429_and_a_malformed_answer_are_clear_and_store_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("refused.db");
    let refused = FakeApi::start(Arc::new(|_: &Seen| {
        (403, Vec::new(), r#"{"message":"Forbidden"}"#.into())
    }))
    .await;
    let (code, out) = reconcile_with("esimgo", "wrong-key", &refused, &db).await;
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("ESIMGO_API_CREDENTIALS") && !out.contains("wrong-key"),
        "{out}"
    );

    let malformed = FakeApi::start(Arc::new(|_: &Seen| (200, Vec::new(), "{not json".into()))).await;
    let (code, out) = reconcile_with("esimgo", "go-key", &malformed, &db).await;
    assert!(code == 1 && out.contains("not what the API documents"), "{out}");
    assert!(list_json_of(Listing::Events, &db, "esimgo").await.is_empty());

    let calls = Arc::new(Mutex::new(0));
    let counted = calls.clone();
    let limited = FakeApi::start(Arc::new(move |_: &Seen| {
        let mut calls = counted.lock().unwrap();
        *calls += 1;
        if *calls == 1 {
            (
                429,
                vec![("retry-after", "1".into())],
                r#"{"message":"Rate limit exceeded"}"#.into(),
            )
        } else {
            ok(esimgo_answer(900_000_000))
        }
    }))
    .await;
    let started = std::time::Instant::now();
    let (code, out) = reconcile_with("esimgo", "go-key", &limited, &db).await;
    assert_eq!(code, 0, "{out}");
    assert!(
        started.elapsed() >= std::time::Duration::from_secs(1),
        "Retry-After is honoured"
    );
    assert_eq!(limited.seen().len(), 2);
}

#[tokio::test]
async fn esim_access_requests_are_signed_when_a_secret_key_is_configured() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("signed.db");
    let api = FakeApi::start(Arc::new(|_: &Seen| {
        ok(json!({"success": false, "errorCode": "310403", "errorMsg": "not found"}))
    }))
    .await;
    let (code, out) = reconcile_with("esimaccess", "access-code:secret-key", &api, &db).await;
    assert!(code == 1 && out.contains("does not know this eSIM"), "{out}");
    let seen = &api.seen()[0];
    assert_eq!(
        (seen.method.as_str(), seen.path.as_str()),
        ("POST", "/api/v1/open/esim/query")
    );
    let credentials = shared::reconcile::ApiCredentials {
        id: "access-code".into(),
        secret: Some("secret-key".into()),
    };
    let expected = shared::providers::esimaccess_signature(
        &credentials,
        "secret-key",
        seen.body.as_bytes(),
        seen.header("rt-timestamp").unwrap(),
        seen.header("rt-requestid").unwrap(),
    );
    assert_eq!(seen.header("rt-signature"), Some(expected.as_str()));
    assert_eq!(seen.header("rt-accesscode"), Some("access-code"));
    assert!(seen.body.contains(ICCID));
}

#[tokio::test]
async fn a_dry_run_sends_nothing_and_a_provider_without_credentials_is_not_asked() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("dry.db");
    let api = FakeApi::start(Arc::new(|_: &Seen| ok(esimgo_answer(1)))).await;
    let env = |name: &str| match name {
        "ESIMGO_API_CREDENTIALS" => Some("secret-go-key".to_string()),
        "ESIMGO_API_URL" => Some(api.url.clone()),
        _ => None,
    };
    let mut args = ReconcileArgs {
        provider: Some(ProviderId::EsimGo),
        iccid: Some(ICCID.into()),
        dry_run: true,
        refile: false,
        backend: local_backend(&db),
    };
    let transport = Arc::new(shared::reconcile::http::HttpsTransport::new().unwrap());
    let mut out = Vec::new();
    assert_eq!(reconcile::run(&args, &env, transport.clone(), &mut out).await, Ok(0));
    let out = String::from_utf8(out).unwrap();
    assert!(
        out.contains(&format!("would ask GET {}/esims/{ICCID}/bundles", api.url)) && !out.contains("secret-go-key"),
        "{out}"
    );
    assert!(api.seen().is_empty(), "a dry run sends nothing");
    args.dry_run = false;
    let nothing = |_: &str| None;
    let refused = reconcile::run(&args, &nothing, transport.clone(), &mut Vec::new()).await;
    assert!(refused.unwrap_err().contains("set ESIMGO_API_CREDENTIALS"));
    args.provider = Some(ProviderId::Gigastore);
    let refused = reconcile::run(&args, &env, transport, &mut Vec::new()).await;
    assert!(refused.unwrap_err().contains("set GIGASTORE_API_CREDENTIALS"));
}

/// A Gigastore customer as its API shows one: a 1 GB package with `left_gb` left, one eSIM.
fn gigastore_customer(uid: &str, iccid: &str, left_gb: f64) -> Value {
    json!({"customer": {"uid": uid}, "totalAvailableBalance": {"sizeValue": left_gb, "sizeUnit": "GB"},
        "activatedItems": [{"uid": "p-1", "balance": {"expiresAt": "2027-01-01T00:00:00Z",
            "size": {"sizeValue": 1000, "sizeUnit": "MB"}, "availableBalance": {"sizeValue": left_gb, "sizeUnit": "GB"}}}],
        "relatedEsims": [{"iccid": iccid}]})
}

/// Gigastore's balance alert names the customer; from then on its eSIM is asked by that customer, not found in
/// the list of all.
#[tokio::test]
async fn a_gigastore_esim_is_asked_by_the_customer_its_balance_alert_named() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("giga.db");
    let server = start(&db).await;
    let mut alert = send_args("gigastore", server.addr, secret_of("gigastore"));
    alert.event_type = Some("balance_alert".into());
    assert_eq!(send(alert).await, Ok(0));
    server.stop().await;
    let store = sqlite::open_store(&db).unwrap();
    let state = store.esim_state(ProviderId::Gigastore, ICCID).await.unwrap().unwrap();
    let uid = state.refs.get("uid").expect("the balance alert's uid").clone();

    let asked_uid = uid.clone();
    let api = FakeApi::start(Arc::new(move |seen: &Seen| {
        if seen.method == "POST" {
            return ok(json!({"accessToken": "giga-token", "expiresIn": 86400}));
        }
        match seen.path.strip_prefix("/gigastore/activations/customers/") {
            Some(uid) if uid == asked_uid => ok(gigastore_customer(uid, ICCID, 0.05)),
            _ => (404, Vec::new(), "{}".into()),
        }
    }))
    .await;
    let (code, out) = reconcile_with("gigastore", "client:secret", &api, &db).await;
    assert_eq!(code, 0, "{out}");
    assert_eq!(remaining_of(&db, ProviderId::Gigastore, ICCID).await, Some(50_000_000));
    let seen = api.seen();
    assert_eq!(seen[0].path, "/reseller/authenticate");
    assert_eq!(seen[0].header("authorization"), Some("Basic Y2xpZW50OnNlY3JldA=="));
    assert_eq!(seen[1].path, format!("/gigastore/activations/customers/{uid}"));
    assert_eq!(seen[1].header("authorization"), Some("Bearer giga-token"));
    let alerts = list_json_of(Listing::Alerts, &db, "gigastore").await;
    assert!(
        alerts.iter().any(|a| a["alert"]["level"] == "10%"),
        "5 % left of 1 GB: {alerts:?}"
    );
}

/// `reconcile` over every due eSIM of `provider`, on the store at `db`.
fn pass_over(provider: ProviderId, db: &std::path::Path) -> ReconcileArgs {
    ReconcileArgs {
        provider: Some(provider),
        iccid: None,
        dry_run: false,
        refile: false,
        backend: local_backend(db),
    }
}

/// The environment of `provider`'s API: its credentials, and `api` as its base URL.
fn api_env(provider: ProviderId, credentials: &str, api: &FakeApi) -> impl Fn(&str) -> Option<String> {
    let (credentials, url) = (credentials.to_string(), api.url.clone());
    move |name: &str| {
        if name == credentials_var(provider) {
            Some(credentials.clone())
        } else if name == url_var(provider) {
            Some(url.clone())
        } else {
            None
        }
    }
}

/// An eSIM Go state as a pass finds it: `remaining` of 1 GB, last heard `heard` ago, used at `rate` bytes a
/// second, in `lifecycle`.
fn stored_state(
    iccid: &str,
    remaining: u64,
    heard: chrono::Duration,
    rate: Option<f64>,
    lifecycle: shared::model::Lifecycle,
) -> shared::state::EsimState {
    use shared::model::{DataUsage, DedupeKey, StatusChange};
    use shared::state::Facet;
    let at = SystemClock.now() - heard;
    let key = DedupeKey::provider_id(format!("seed-{iccid}"));
    shared::state::EsimState {
        provider: ProviderId::EsimGo,
        key: iccid.into(),
        iccid: Some(iccid.into()),
        refs: Default::default(),
        status: Some(Facet {
            value: StatusChange {
                lifecycle,
                provider_status: "seed".into(),
                profile_status: None,
            },
            at,
            event_key: key.clone(),
        }),
        usage: Some(Facet {
            value: DataUsage {
                total_bytes: Some(1_000_000_000),
                remaining_bytes: Some(remaining),
                ..DataUsage::default()
            }
            .complete(),
            at,
            event_key: key.clone(),
        }),
        validity: None,
        bundle: None,
        usage_rate: rate,
        asking: None,
        owner: None,
        first_seen_at: at,
        updated_at: at,
        last_event_key: key,
    }
}

#[tokio::test]
async fn a_pass_asks_the_due_esims_only_and_applies_their_answers() {
    use shared::model::Lifecycle;
    use shared::store::EventStore;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("due.db");
    let (stale, crossing, expired, quiet) = (
        "8944500000000000011",
        "8944500000000000012",
        "8944500000000000013",
        "8944500000000000014",
    );
    {
        let store = sqlite::open_store(&db).unwrap();
        let hours = chrono::Duration::hours;
        // 25 % left, 100 kB/s: the 20 % level in under 10 minutes.
        for state in [
            stored_state(stale, 600_000_000, hours(13), None, Lifecycle::Active),
            stored_state(
                crossing,
                250_000_000,
                chrono::Duration::minutes(5),
                Some(100_000.0),
                Lifecycle::Active,
            ),
            stored_state(expired, 600_000_000, hours(30), None, Lifecycle::Expired),
            stored_state(quiet, 600_000_000, hours(1), Some(1.0), Lifecycle::Active),
        ] {
            assert!(store.save_state(&state, None).await.unwrap());
        }
    }
    let api = FakeApi::start(Arc::new(move |seen: &Seen| {
        if seen.path.contains(crossing) {
            ok(esimgo_answer(150_000_000))
        } else {
            ok(esimgo_answer(590_000_000))
        }
    }))
    .await;
    let url = api.url.clone();
    let env = move |name: &str| match name {
        "ESIMGO_API_CREDENTIALS" => Some("go-key".to_string()),
        "ESIMGO_API_URL" => Some(url.clone()),
        _ => None,
    };
    let transport = Arc::new(shared::reconcile::http::HttpsTransport::new().unwrap());
    let mut args = ReconcileArgs {
        provider: None,
        iccid: None,
        dry_run: true,
        refile: false,
        backend: local_backend(&db),
    };
    let mut out = Vec::new();
    assert_eq!(reconcile::run(&args, &env, transport.clone(), &mut out).await, Ok(0));
    let dry = String::from_utf8(out).unwrap();
    assert!(
        dry.contains(&format!("{stale}: would ask (not heard from)"))
            && dry.contains(&format!("{crossing}: would ask (next level near)"))
            && !dry.contains(expired)
            && !dry.contains(quiet)
            && dry.contains("esimgo: 4 eSIMs filed to be asked by now, 2 due"),
        "{dry}"
    );
    assert!(api.seen().is_empty());

    args.dry_run = false;
    let mut out = Vec::new();
    assert_eq!(reconcile::run(&args, &env, transport, &mut out).await, Ok(0));
    let out = String::from_utf8(out).unwrap();
    assert!(
        out.contains("esimgo: 4 eSIMs filed to be asked by now, 2 due, 2 new readings, 0 unchanged, 0 failed"),
        "{out}"
    );
    // Each is filed for its next ask (the ended one nowhere): the next pass finds nothing to ask or refile.
    args.dry_run = true;
    let mut again = Vec::new();
    assert_eq!(
        reconcile::run(
            &args,
            &env,
            Arc::new(shared::reconcile::http::HttpsTransport::new().unwrap()),
            &mut again
        )
        .await,
        Ok(0)
    );
    let again = String::from_utf8(again).unwrap();
    let store = sqlite::open_store(&db).unwrap();
    assert!(
        again.contains("esimgo: 0 eSIMs filed to be asked by now, 0 due"),
        "{again}"
    );
    let asking_of = |key: &'static str| {
        let store = &store;
        async move {
            let state = store.load_state(ProviderId::EsimGo, key).await.unwrap().unwrap();
            state.value.asking
        }
    };
    let asking = asking_of(stale).await.expect("noted");
    assert!(
        asking.asked_at.is_some() && asking.heard_at.is_some() && asking.next > asking.asked_at,
        "{asking:?}"
    );
    assert_eq!(asking_of(expired).await.and_then(|a| a.next), None);

    // A state saved before its provider was asked is filed by --refile, at its next ask (silence, here).
    let unfiled = "8944500000000000015";
    let state = stored_state(
        unfiled,
        600_000_000,
        chrono::Duration::hours(1),
        None,
        Lifecycle::Active,
    );
    assert!(store.save_state(&state, None).await.unwrap());
    (args.dry_run, args.refile) = (false, true);
    let mut filed = Vec::new();
    let transport = Arc::new(shared::reconcile::http::HttpsTransport::new().unwrap());
    assert_eq!(reconcile::run(&args, &env, transport, &mut filed).await, Ok(0));
    let filed = String::from_utf8(filed).unwrap();
    assert!(filed.contains("esimgo: 5 eSIMs filed for their next ask"), "{filed}");
    let next = asking_of(unfiled).await.unwrap().next;
    assert_eq!(next, Some(state.updated_at + chrono::Duration::hours(12)));
    let mut asked: Vec<String> = api.seen().into_iter().map(|s| s.path).collect();
    asked.sort();
    assert_eq!(asked.len(), 2, "{asked:?}: --refile asks nothing");
    assert!(asked[0].contains(stale) && asked[1].contains(crossing), "{asked:?}");
    let alerts = list_json_of(Listing::Alerts, &db, "esimgo").await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0]["alert"]["level"], "20%");
}

#[tokio::test]
async fn serve_asks_the_due_esims_on_its_schedule() {
    use shared::model::Lifecycle;
    use shared::store::EventStore;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("scheduled.db");
    let stale = "8944500000000000021";
    let state = stored_state(stale, 600_000_000, chrono::Duration::hours(13), None, Lifecycle::Active);
    assert!(sqlite::open_store(&db).unwrap().save_state(&state, None).await.unwrap());
    let api = FakeApi::start(Arc::new(|_: &Seen| ok(esimgo_answer(480_000_000)))).await;
    let url = api.url.clone();
    let env = move |name: &str| match name {
        "ESIMGO_API_CREDENTIALS" => Some("go-key".to_string()),
        "ESIMGO_API_URL" => Some(url.clone()),
        _ => None,
    };
    let opened = local_backend(&db).open(true).await.unwrap();
    let transport = Arc::new(shared::reconcile::http::HttpsTransport::new().unwrap());
    let every = std::time::Duration::from_millis(50);
    let task = reconcile::schedule(&opened, &Settings::default(), every, &env, transport.clone())
        .await
        .unwrap()
        .expect("eSIM Go has credentials");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while remaining_of(&db, ProviderId::EsimGo, stale).await != Some(480_000_000) {
        assert!(std::time::Instant::now() < deadline, "never asked");
        tokio::time::sleep(every).await;
    }
    task.abort();
    assert_eq!(
        api.seen().len(),
        1,
        "asked once: the answer made it fresh, so it is no longer due"
    );
    let nothing = |_: &str| None;
    let none = reconcile::schedule(&opened, &Settings::default(), every, &nothing, transport)
        .await
        .unwrap();
    assert!(none.is_none(), "no credentials: nothing is scheduled");
}

/// A customer registered at sale for an eSIM no webhook ever named (its provider asked): the import files it,
/// the next pass asks its provider once, and the answer's 15 % raises the 20 % alert; a second pass asks
/// nothing.
#[tokio::test]
async fn an_esim_the_directory_names_before_any_webhook_is_asked_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("named.db");
    let api = FakeApi::start(Arc::new(|_: &Seen| ok(esimgo_answer(150_000_000)))).await;
    let env = api_env(ProviderId::EsimGo, "go-key", &api);
    let file = dir.path().join("sold.csv");
    std::fs::write(
        &file,
        format!("provider,iccid,phone\nesimgo,{ICCID},+34600000001\nairalo,8944500000000000078,+34600000002\n"),
    )
    .unwrap();
    let import = customers::CustomersArgs {
        command: super::tests_customers::import(&file, &db, false),
    };
    let mut out = Vec::new();
    assert_eq!(customers::run(import, &env, &mut out).await, Ok(0));
    let out = String::from_utf8(out).unwrap();
    assert!(
        out.contains("; 1 eSIMs never heard of filed to be asked their provider"),
        "Airalo is not asked: {out}"
    );

    let pass = pass_over(ProviderId::EsimGo, &db);
    let transport = Arc::new(shared::reconcile::http::HttpsTransport::new().unwrap());
    let mut out = Vec::new();
    assert_eq!(reconcile::run(&pass, &env, transport.clone(), &mut out).await, Ok(0));
    let out = String::from_utf8(out).unwrap();
    assert!(out.contains("usage never heard"), "{out}");
    assert_eq!(remaining_of(&db, ProviderId::EsimGo, ICCID).await, Some(150_000_000));
    let alerts = list_json_of(Listing::Alerts, &db, "esimgo").await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0]["alert"]["level"], "20%");
    assert_eq!(api.seen().len(), 1);

    let mut out = Vec::new();
    assert_eq!(reconcile::run(&pass, &env, transport, &mut out).await, Ok(0));
    assert_eq!(api.seen().len(), 1, "asked once: {}", String::from_utf8(out).unwrap());
}

/// eSIM Access eSIMs due together are asked ten at a time through `usage/query`, each reading dated by the
/// provider's `lastUpdateTime`; one the answer leaves out is unknown to the provider and is not asked again.
#[tokio::test]
async fn esim_access_esims_due_together_are_asked_ten_to_a_call() {
    use shared::store::EventStore;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("batch.db");
    let keys: Vec<String> = (1..=12).map(|i| format!("T-{i:02}")).collect();
    {
        let store = sqlite::open_store(&db).unwrap();
        for (i, key) in keys.iter().enumerate() {
            let iccid = format!("89445000000000001{i:02}");
            let mut state = stored_state(
                &iccid,
                600_000_000,
                chrono::Duration::hours(13),
                None,
                shared::model::Lifecycle::Active,
            );
            (state.provider, state.key, state.iccid) = (ProviderId::EsimAccess, key.clone(), None);
            assert!(store.save_state(&state, None).await.unwrap());
        }
    }
    let settled = (SystemClock.now() - chrono::Duration::hours(1))
        .format("%Y-%m-%dT%H:00:00+0000")
        .to_string();
    let stamp = settled.clone();
    let api = FakeApi::start(Arc::new(move |seen: &Seen| {
        let asked: Value = serde_json::from_str(&seen.body).unwrap_or_default();
        let list: Vec<Value> = asked["esimTranNoList"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|t| *t != "T-12")
            .map(|t| {
                json!({"esimTranNo": t, "dataUsage": 850_000_000u64, "totalData": 1_000_000_000u64,
                "lastUpdateTime": stamp})
            })
            .collect();
        ok(json!({"success": true, "errorCode": "0", "errorMsg": null, "obj": {"esimUsageList": list}}))
    }))
    .await;
    let env = api_env(ProviderId::EsimAccess, "access-code", &api);
    let pass = pass_over(ProviderId::EsimAccess, &db);
    let transport = Arc::new(shared::reconcile::http::HttpsTransport::new().unwrap());
    let mut out = Vec::new();
    let code = reconcile::run(&pass, &env, transport, &mut out).await;
    let out = String::from_utf8(out).unwrap();
    assert_eq!(code, Ok(1), "the unknown eSIM is a failure: {out}");
    let seen = api.seen();
    let sizes: Vec<usize> = seen
        .iter()
        .map(|s| {
            serde_json::from_str::<Value>(&s.body).unwrap()["esimTranNoList"]
                .as_array()
                .unwrap()
                .len()
        })
        .collect();
    assert_eq!(sizes, [10, 2], "{out}");
    assert!(seen
        .iter()
        .all(|s| s.path == "/api/v1/open/esim/usage/query" && s.method == "POST"));
    let store = sqlite::open_store(&db).unwrap();
    let first = store.esim_state(ProviderId::EsimAccess, "T-01").await.unwrap().unwrap();
    let usage = first.usage.unwrap().value;
    assert_eq!(usage.remaining_bytes, Some(150_000_000));
    assert_eq!(
        usage
            .measured_at
            .map(|at| at.format("%Y-%m-%dT%H:00:00+0000").to_string()),
        Some(settled),
        "dated by lastUpdateTime"
    );
    let alerts = list_json_of(Listing::Alerts, &db, "esimaccess").await;
    assert_eq!(alerts.len(), 11, "the 20 % alert for each answered eSIM");
    let unknown = store.esim_state(ProviderId::EsimAccess, "T-12").await.unwrap().unwrap();
    assert_eq!(unknown.usage.unwrap().value.remaining_bytes, Some(600_000_000));
    assert!(unknown.asking.and_then(|a| a.asked_at).is_some(), "noted as asked");
}
