//! Hostile and careless input through the local server and the CLI: bodies with whitespace around them,
//! replayed afterwards.

use super::tests::{http_with, local_backend, secret_of, start, TOKEN};
use super::*;
use crate::maintain::replay_stored;
use serde_json::Value;
use shared::model::ProviderId;
use shared::store::{ListQuery, StoreQuery};

/// Every accepted POST fixture body of `provider`.
fn accepted_bodies(provider: ProviderId) -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures")
        .join(provider.as_str());
    let mut paths: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    paths.sort();
    paths
        .iter()
        .map(|path| serde_json::from_str::<Value>(&std::fs::read_to_string(path).unwrap()).unwrap())
        .filter(|f| f["expect"]["status"] == 200 && f["request"]["method"] == "POST")
        .map(|f| f["request"]["body"].as_str().unwrap().to_string())
        .collect()
}

async fn counts(db: &std::path::Path) -> (usize, usize, usize, Vec<Value>) {
    let store = sqlite::open_store(db).unwrap();
    let all = ListQuery::default();
    let deliveries = store.list_deliveries(&all).await.unwrap();
    let alerts = store.list_alerts(&all).await.unwrap();
    let conflicts = store.list_conflicts(&all).await.unwrap();
    let states = store.list_states(&all).await.unwrap();
    let states = states.iter().map(|s| serde_json::to_value(s).unwrap()).collect();
    (deliveries.len(), alerts.len(), conflicts.len(), states)
}

/// Every fixture, each with whitespace around it (signed as sent) and every other one also without, stored
/// as received: a replay of everything through the current normalizers then changes nothing and publishes
/// nothing.
#[tokio::test]
async fn replay_after_padded_bodies_changes_and_publishes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("padded.db");
    let server = start(&db).await;
    let mut sent = 0;
    for &provider in ProviderId::ALL {
        let secret = secret_of(provider.as_str());
        for (i, body) in accepted_bodies(provider).into_iter().enumerate() {
            // Every other body only with its padding: no unpadded twin shares its hash.
            let padded = format!("\n \t{body}\r\n");
            let variants = if i % 2 == 0 { vec![body, padded] } else { vec![padded] };
            for variant in variants {
                let request = shared::simulate::sign(provider, &variant, &secret);
                let (status, reply) = http_with(
                    server.addr,
                    "POST",
                    &request.path_and_query,
                    &request.headers,
                    &request.body,
                )
                .await;
                assert_eq!(status, 200, "{provider}: {reply}");
                sent += 1;
            }
        }
    }
    server.stop().await;
    assert!(sent >= 30, "{sent}");
    let before = counts(&db).await;
    let store = sqlite::open_store(&db).unwrap();
    let deliveries = store.list_deliveries(&ListQuery::default()).await.unwrap();
    let padded: Vec<_> = deliveries.iter().filter(|d| !d.event.raw_padding.is_empty()).collect();
    assert!(
        !padded.is_empty(),
        "padded bodies with their own key are stored as received"
    );
    for d in &padded {
        let body = d.event.raw_body();
        assert!(body.starts_with("\n \t") && body.ends_with("\r\n"));
        assert_eq!(
            shared::model::PayloadSha256::of(body.as_bytes()),
            d.event.payload_sha256
        );
    }
    drop(store);

    let backend = local_backend(&db);
    let replayed = replay_stored(None, Some("30d".into()), None, None, false, backend)
        .await
        .unwrap();
    assert_eq!(replayed.changed, 0, "{replayed:?}");
    assert_eq!(replayed.failed, 0, "{replayed:?}");
    assert_eq!(replayed.unchanged, before.0);
    assert_eq!(
        counts(&db).await,
        before,
        "deliveries, alerts, conflicts and states as they were"
    );
}

/// Text stored before provider fields were cleaned still prints as one clean row: no escape sequence reaches
/// the terminal, no forged line reaches the table.
#[tokio::test]
async fn tables_print_stored_control_characters_as_spaces() {
    use shared::store::EventStore;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("dirty.db");
    let store = sqlite::open_store(&db).unwrap();
    let now = SystemClock.now();
    let mut state = shared::state::EsimState::first(
        ProviderId::EsimAccess,
        "T-1\u{1b}[2J".into(),
        now,
        shared::model::DedupeKey::provider_id("n-1"),
    );
    state.iccid = Some("8943\r\nALERT fake\u{7}".into());
    assert!(store.save_state(&state, None).await.unwrap());
    let args = ListArgs {
        provider: None,
        since: Some("1d".into()),
        iccid: None,
        limit: 10,
        json: false,
    };
    let mut out = Vec::new();
    listing::list(Listing::Esims, &args, &Default::default(), &store, now, &mut out)
        .await
        .unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(
        !text.contains('\u{1b}') && !text.contains('\u{7}') && !text.contains('\r'),
        "{text:?}"
    );
    assert_eq!(text.lines().count(), 3, "header, one row, the count: {text}");
    assert!(text.contains("8943 ALERT fake"), "{text}");
}

/// A body over the limit gets the documented JSON error, 413, whatever its size (axum's own 2 MiB limit
/// answered in plain text).
#[tokio::test]
async fn an_oversized_body_gets_the_json_413() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir.path().join("big.db")).await;
    for size in [200 * 1024, 3 * 1024 * 1024] {
        let stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        let (mut read, mut write) = stream.into_split();
        let head = format!(
            "POST /webhooks/esimaccess?token={TOKEN} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {size}\r\nConnection: close\r\n\r\n"
        );
        // The server answers before the whole body is sent: the writer may then see the connection close.
        let writer = tokio::spawn(async move {
            let _ = write.write_all(head.as_bytes()).await;
            let _ = write.write_all(&vec![b' '; size]).await;
        });
        let mut response = Vec::new();
        let _ = read.read_to_end(&mut response).await;
        writer.abort();
        let text = String::from_utf8_lossy(&response);
        assert!(text.starts_with("HTTP/1.1 413"), "{size}: {text}");
        assert!(
            text.to_ascii_lowercase().contains("content-type: application/json"),
            "{text}"
        );
        let body: Value = serde_json::from_str(text.split_once("\r\n\r\n").unwrap().1).unwrap();
        assert_eq!(body["error"]["code"], "payload_too_large", "{size}");
    }
    server.stop().await;
}
