//! The everyday questions answered from the CLI over a store the local server filled: an eSIM's timeline by
//! ICCID or reference, the fleet below a level or in a lifecycle, and events and alerts of one eSIM.

use super::*;
use crate::tests::{fixture_body, http, start, TOKEN};
use serde_json::Value;

const HALF: &str = "8985224081073202668";
const LOW: &str = "8943108170001029631";

async fn filled() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fleet.db");
    let server = start(&db).await;
    let path = format!("/webhooks/esimaccess?token={TOKEN}");
    for name in [
        "02-esim-status-in-use.json",
        "04-data-usage-half.json",
        "05-data-usage-low.json",
    ] {
        let (status, reply) = http(server.addr, "POST", &path, &fixture_body(name)).await;
        assert_eq!(status, 200, "{name}: {reply}");
    }
    server.stop().await;
    (dir, db)
}

/// `argv` (after `esimhooks`) parsed as the CLI does, run on `db`; its JSON answer.
async fn json_of(db: &std::path::Path, argv: &[&str]) -> Result<Value, String> {
    let argv = [&["esimhooks"], argv, &["--json", "--db", db.to_str().unwrap()]].concat();
    let store = sqlite::open_store(db).unwrap();
    let mut out = Vec::new();
    let now = SystemClock.now();
    match Cli::try_parse_from(argv).map_err(|e| e.to_string())?.command {
        Command::Esim { timeline, .. } => timeline::run(&timeline, &store, now, &mut out).await?,
        Command::Esims { list, fleet, .. } => {
            listing::list(Listing::Esims, &list, &fleet, &store, now, &mut out).await?
        }
        Command::Stats { stats, .. } => stats::run(&stats, &store, now, &mut out).await?,
        Command::Events { list, .. } => {
            listing::list(Listing::Events, &list, &Default::default(), &store, now, &mut out).await?
        }
        Command::Alerts { list, .. } => {
            listing::list(Listing::Alerts, &list, &Default::default(), &store, now, &mut out).await?
        }
        other => panic!("not a listing: {other:?}"),
    }
    Ok(serde_json::from_slice(&out).unwrap())
}

fn iccids(rows: &Value) -> Vec<&str> {
    let mut found: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["iccid"].as_str().unwrap())
        .collect();
    found.sort();
    found
}

#[tokio::test]
async fn an_esims_timeline_is_found_by_iccid_or_reference_in_order() {
    let (_dir, db) = filled().await;
    let by_iccid = json_of(&db, &["esim", HALF]).await.unwrap();
    assert_eq!(by_iccid.as_array().unwrap().len(), 1, "{by_iccid}");
    let timeline = &by_iccid[0]["timeline"];
    let kinds: Vec<&str> = timeline
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["what"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["esim_status (ESIM_STATUS)", "data_usage (DATA_USAGE)"],
        "arrival order"
    );
    assert_eq!(timeline[0]["lifecycle"], "active");
    assert!(timeline[0].get("data_left_percent").is_none(), "no usage known yet");
    assert!(timeline[1]["data_left_percent"].as_f64().unwrap() > 40.0, "{timeline}");
    let by_reference = json_of(&db, &["esim", "7533748552008-1-TH_20_30"]).await.unwrap();
    assert_eq!(by_reference[0]["key"], by_iccid[0]["key"]);

    let low = json_of(&db, &["esim", LOW]).await.unwrap();
    let entries: Vec<(&str, &str)> = low[0]["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["entry"].as_str().unwrap(), e["what"].as_str().unwrap()))
        .collect();
    assert_eq!(
        entries,
        [("event", "data_usage (DATA_USAGE)"), ("alert", "low_data 10%")]
    );
    let missing = json_of(&db, &["esim", "8900000000000000000"]).await.unwrap_err();
    assert!(missing.contains("no eSIM named"), "{missing}");
}

#[tokio::test]
async fn the_fleet_is_filtered_by_data_left_lifecycle_and_esim() {
    let (_dir, db) = filled().await;
    let esims = |argv: &'static [&'static str]| {
        let db = db.clone();
        async move {
            json_of(&db, &[&["esims", "--since", "1d"], argv].concat())
                .await
                .unwrap()
        }
    };
    assert_eq!(iccids(&esims(&[]).await), [LOW, HALF]);
    assert_eq!(iccids(&esims(&["--below", "20"]).await), [LOW]);
    assert_eq!(iccids(&esims(&["--below", "5"]).await), Vec::<&str>::new());
    assert_eq!(iccids(&esims(&["--lifecycle", "active"]).await), [HALF]);
    assert_eq!(iccids(&esims(&["--ending-within", "1h"]).await), Vec::<&str>::new());
    let refused = json_of(&db, &["esims", "--lifecycle", "asleep"]).await.unwrap_err();
    assert!(refused.contains("--lifecycle asleep"), "{refused}");

    let events = json_of(&db, &["events", "--iccid", HALF]).await.unwrap();
    assert_eq!(events.as_array().unwrap().len(), 2);
    let alerts = json_of(&db, &["alerts", "--iccid", LOW]).await.unwrap();
    assert_eq!(alerts.as_array().unwrap().len(), 1);
    assert!(json_of(&db, &["alerts", "--iccid", HALF])
        .await
        .unwrap()
        .as_array()
        .unwrap()
        .is_empty());
    let cut = json_of(&db, &["events", "--limit", "1"]).await.unwrap();
    assert_eq!(cut.as_array().unwrap().len(), 1, "the limit holds");
}

#[tokio::test]
async fn stats_count_each_providers_deliveries_alerts_and_drift() {
    let (_dir, db) = filled().await;
    let server = start(&db).await;
    let path = format!("/webhooks/esimaccess?token={TOKEN}");
    let odd = r#"{"notifyType":"SOMETHING_NEW","notifyId":"n-1","content":{}}"#;
    assert_eq!(http(server.addr, "POST", &path, odd).await.0, 200);
    for _ in 0..2 {
        let again = http(server.addr, "POST", &path, &fixture_body("04-data-usage-half.json")).await;
        assert_eq!(again.0, 200, "an exact copy is answered 200: {}", again.1);
    }
    server.stop().await;
    let today = json_of(&db, &["stats", "--since", "1h"]).await.unwrap();
    let esimaccess = &today["providers"]["esimaccess"];
    assert_eq!(esimaccess["stored"], 4, "{today}");
    assert_eq!(
        (esimaccess["duplicates"].as_u64(), esimaccess["received"].as_u64()),
        (Some(2), Some(6)),
        "received: stored, duplicates and conflicts: {today}"
    );
    assert_eq!(today["providers"]["roamify"]["duplicates"], 0);
    assert_eq!(
        (esimaccess["unrecognized"].as_u64(), esimaccess["schema_drift"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(
        (esimaccess["alerts"].as_u64(), esimaccess["alerts_sent"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(today["providers"]["roamify"]["stored"], 0, "every provider is listed");
    let one = json_of(&db, &["stats", "--since", "1h", "--provider", "roamify"])
        .await
        .unwrap();
    assert_eq!(one["providers"].as_object().unwrap().len(), 1);
}

#[tokio::test]
async fn a_deleted_esim_shows_no_data_left_or_end_and_is_in_no_fleet_view() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("gone.db");
    let server = start(&db).await;
    let mut args = crate::tests::send_args("esimgo", server.addr, crate::tests::secret_of("esimgo"));
    args.scenario = true;
    assert_eq!(crate::tests::send(args).await, Ok(0));
    server.stop().await;
    let all = json_of(&db, &["esims", "--since", "1d"]).await.unwrap();
    assert_eq!(all[0]["status"]["value"]["lifecycle"], "deleted", "{all}");
    assert!(
        all[0]["validity"]["value"]["expires_at"].is_string(),
        "the facts are kept: {all}"
    );
    for filter in [&["--ending-within", "7d"][..], &["--below", "101"]] {
        let found = json_of(&db, &[&["esims", "--since", "1d"], filter].concat())
            .await
            .unwrap();
        assert_eq!(found, serde_json::json!([]), "{filter:?}");
    }
    let table = crate::tests::list_table(Listing::Esims, &db).await;
    let row = table.lines().find(|l| l.contains("esimgo")).unwrap();
    let last_two: Vec<&str> = row.split_whitespace().rev().take(2).collect();
    assert_eq!(
        last_two,
        ["-", "-"],
        "no data left or end shown for a deleted eSIM: {row}"
    );
}

/// A store file from before the indexes (documents only) answers as before: opening it writes the entries.
#[tokio::test]
async fn a_store_file_from_before_the_indexes_is_indexed_when_opened() {
    let (_dir, db) = filled().await;
    let questions: [&[&str]; 5] = [
        &["esim", HALF],
        &["esims", "--since", "1d", "--below", "20"],
        &["esims", "--since", "1d", "--lifecycle", "active"],
        &["events", "--iccid", HALF],
        &["alerts", "--iccid", LOW],
    ];
    let mut before = Vec::new();
    for argv in questions {
        before.push(json_of(&db, argv).await.unwrap());
    }
    {
        let old = rusqlite::Connection::open(&db).unwrap();
        // As files were before the indexes: documents only.
        old.execute_batch("DROP TABLE entries; ALTER TABLE items DROP COLUMN entries; PRAGMA user_version = 0;")
            .unwrap();
    }
    for (argv, answer) in questions.iter().zip(&before) {
        assert_eq!(&json_of(&db, argv).await.unwrap(), answer, "{argv:?}");
    }
    let reopened = rusqlite::Connection::open(&db).unwrap();
    let version: u32 = reopened.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    assert_eq!(version, shared::store::index::INDEX_VERSION);
    let entries: i64 = reopened
        .query_row("SELECT COUNT(*) FROM entries WHERE space = 'deliveries'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert!(
        entries >= 3 * 2,
        "each delivery in the time indexes at least: {entries}"
    );
}
