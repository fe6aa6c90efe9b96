//! `esimhooks migrate` on a local file from before: documents only (no index entries), conflicts kept as the
//! bare event under a key per delivery, a partner without a scope. The first run rewrites each once and they
//! read as before through the current readers; a second run changes nothing and says so.

use super::*;
use shared::callbacks::local::PARTNERS;
use shared::callbacks::partner::{PartnerId, Scope};
use shared::callbacks::registry::CallbackRegistry;
use shared::model::{DedupeKey, Event, EventKind, PayloadSha256};
use shared::store::keys::{conflict_key, delivery_key};
use shared::store::{Change, Expected, KvBackend, ListQuery, Space, StoreQuery, StoredConflict};

/// `esimhooks migrate …` on the local file `db`: what it printed, and whether it finished.
async fn migrate(db: &std::path::Path, words: &[&str]) -> (String, Result<(), String>) {
    let argv = [&["esimhooks", "migrate"], words, &["--db", db.to_str().unwrap()]].concat();
    let Command::Migrate(args) = Cli::parse_from(argv).command else {
        unreachable!("a migrate command")
    };
    let mut out = Vec::new();
    let finished = migrate::run(&args, &mut out).await;
    (String::from_utf8(out).unwrap(), finished)
}

/// A delivery of the same key and another payload, received `at`.
fn conflicting(body: &str, at: &str) -> Event {
    let at = chrono::DateTime::parse_from_rfc3339(at).unwrap().to_utc();
    Event::new(
        ProviderId::Roamify,
        EventKind::Unrecognized,
        DedupeKey::provider_id("reused"),
        at,
        PayloadSha256::of(body.as_bytes()),
        serde_json::value::RawValue::from_string(body.to_string()).unwrap(),
    )
}

/// As the release before counting kept a conflict: the bare event, under `<delivery>#<received at>#<sha256>`.
fn bare_conflict(event: &Event) -> (String, String) {
    let key = format!(
        "{}#{}#{}",
        delivery_key(event.provider, event.dedupe_key.as_str()),
        event.received_at.to_rfc3339(),
        event.payload_sha256
    );
    (key, serde_json::to_string(event).unwrap())
}

/// The row of `layout` in a report: scanned, rewritten, already current, left.
fn row(report: &str, layout: &str) -> Vec<String> {
    let line = report
        .lines()
        .find(|l| l.starts_with(layout))
        .unwrap_or_else(|| panic!("{layout}: {report}"));
    line.split_whitespace().skip(1).take(4).map(str::to_string).collect()
}

const OLD_PARTNER: &str =
    r#"{"id":"old-co","name":"Old Co","key_hashes":[],"created_at":"2026-11-01T00:00:00Z","signing_keys":[]}"#;
const NEW_PARTNER: &str = r#"{"id":"new-co","name":"New Co","key_hashes":[],"created_at":"2026-12-01T00:00:00Z","signing_keys":[],"scope":"own"}"#;

#[tokio::test]
async fn migrate_rewrites_a_file_from_before_once_and_it_reads_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("old.db");
    let first = conflicting(r#"{"v":1}"#, "2026-11-20T10:00:00Z");
    let again = conflicting(r#"{"v":1}"#, "2026-11-21T10:00:00Z");
    let other = conflicting(r#"{"v":2}"#, "2026-11-22T10:00:00Z");
    {
        let old = sqlite::SqliteBackend::open(&db).unwrap();
        for event in [&first, &again, &other] {
            let (key, document) = bare_conflict(event);
            old.put(Space::CONFLICTS, &key, &document).unwrap();
        }
        old.put(PARTNERS, "old-co", OLD_PARTNER).unwrap();
        old.put(PARTNERS, "new-co", NEW_PARTNER).unwrap();
    }
    {
        // As files were before the indexes: documents only.
        let old = rusqlite::Connection::open(&db).unwrap();
        old.execute_batch("DROP TABLE entries; ALTER TABLE items DROP COLUMN entries; PRAGMA user_version = 0;")
            .unwrap();
    }
    let before: Vec<(u64, String)> = {
        let store = sqlite::open_store(&db).unwrap();
        let mut read: Vec<_> = store
            .list_conflicts(&ListQuery::default())
            .await
            .unwrap()
            .into_iter()
            .map(|c| (c.count, c.event.raw.get().to_string()))
            .collect();
        read.sort();
        read
    };
    assert_eq!(before.len(), 3, "each bare record reads as seen once: {before:?}");

    let (dry, finished) = migrate(&db, &["--dry-run"]).await;
    finished.unwrap();
    assert_eq!(row(&dry, "conflicts-before-counting"), ["3", "3", "0", "0"], "{dry}");
    assert_eq!(row(&dry, "partners-before-scopes"), ["2", "1", "1", "0"], "{dry}");
    assert!(
        dry.contains("dry run: 4 items would be rewritten; nothing was written"),
        "{dry}"
    );
    let untouched = sqlite::SqliteBackend::open(&db).unwrap();
    assert_eq!(untouched.get(PARTNERS, "old-co").unwrap().as_deref(), Some(OLD_PARTNER));
    assert_eq!(untouched.list(Space::CONFLICTS).unwrap().len(), 3);

    let (report, finished) = migrate(&db, &[]).await;
    finished.unwrap();
    assert_eq!(
        row(&report, "conflicts-before-counting"),
        ["3", "3", "0", "0"],
        "{report}"
    );
    assert_eq!(row(&report, "partners-before-scopes"), ["2", "1", "1", "0"], "{report}");
    // Reading it above opened the file, which wrote its indexes: the runs found it current.
    assert_eq!(
        row(&report, "local-file-before-indexes"),
        ["1", "0", "1", "0"],
        "{report}"
    );
    assert!(
        report.contains("former-dedupe-keys: not rewritten by a batch"),
        "{report}"
    );
    assert!(!report.contains("sns-subscriptions"), "a table's alone: {report}");
    assert!(
        report.contains("4 items rewritten; a second run changes nothing"),
        "{report}"
    );

    // The current layout: one counted record per payload under its key, the partner's scope written down.
    let file = sqlite::SqliteBackend::open(&db).unwrap();
    let mut conflicts = file.list(Space::CONFLICTS).unwrap();
    conflicts.sort();
    let keys: Vec<&str> = conflicts.iter().map(|(k, _)| k.as_str()).collect();
    let counted = |e: &Event| conflict_key(e.provider, e.dedupe_key.as_str(), e.payload_sha256.as_str());
    let mut expected = [counted(&first), counted(&other)];
    expected.sort();
    assert_eq!(keys, expected);
    let records: Vec<StoredConflict> = conflicts
        .iter()
        .map(|(_, doc)| serde_json::from_str(doc).unwrap())
        .collect();
    let twice = records
        .iter()
        .find(|c| c.count == 2)
        .expect("the payload seen twice, counted");
    assert_eq!(
        (twice.first_seen_at, twice.last_seen_at),
        (first.received_at, again.received_at)
    );
    assert_eq!(twice.event.received_at, first.received_at, "the first delivery is kept");
    let partner: serde_json::Value = serde_json::from_str(&file.get(PARTNERS, "old-co").unwrap().unwrap()).unwrap();
    assert_eq!(partner["scope"], "all");
    assert_eq!(
        file.get(PARTNERS, "new-co").unwrap().as_deref(),
        Some(NEW_PARTNER),
        "left as it was"
    );

    // And it reads as before through the current readers: the same payloads, the same sightings in all.
    let store = sqlite::open_store(&db).unwrap();
    let listed = store.list_conflicts(&ListQuery::default()).await.unwrap();
    let mut after: Vec<(u64, String)> = listed
        .iter()
        .map(|c| (c.count, c.event.raw.get().to_string()))
        .collect();
    after.sort();
    assert_eq!(after, [(1, r#"{"v":2}"#.to_string()), (2, r#"{"v":1}"#.to_string())]);
    assert_eq!(
        before.iter().map(|(n, _)| n).sum::<u64>(),
        after.iter().map(|(n, _)| n).sum::<u64>()
    );
    let id = PartnerId::parse("old-co").unwrap();
    assert_eq!(store.partner(&id).await.unwrap().unwrap().scope, Scope::All);

    let (second, finished) = migrate(&db, &[]).await;
    finished.unwrap();
    assert_eq!(
        row(&second, "conflicts-before-counting"),
        ["2", "0", "2", "0"],
        "{second}"
    );
    assert_eq!(row(&second, "partners-before-scopes"), ["2", "0", "2", "0"], "{second}");
    assert!(
        second.contains("nothing to rewrite: every item is in the current layout"),
        "{second}"
    );
    let mut unchanged = file.list(Space::CONFLICTS).unwrap();
    unchanged.sort();
    assert_eq!(unchanged, conflicts, "a second run writes nothing");
}

#[tokio::test]
async fn a_file_opened_first_by_migrate_reports_its_indexes_written() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("old.db");
    sqlite::SqliteBackend::open(&db).unwrap().set_index_version(0).unwrap();
    let (report, finished) = migrate(&db, &["--dry-run"]).await;
    finished.unwrap();
    assert_eq!(
        row(&report, "local-file-before-indexes"),
        ["1", "1", "0", "0"],
        "{report}"
    );
    let (report, _) = migrate(&db, &[]).await;
    assert_eq!(
        row(&report, "local-file-before-indexes"),
        ["1", "0", "1", "0"],
        "{report}"
    );
}

/// A conditional write on the file applies only while what it read is still there: what `migrate` relies on
/// when `serve` writes the same file.
#[test]
fn a_conditional_write_on_the_file_applies_only_while_the_documents_are_as_read() {
    let dir = tempfile::tempdir().unwrap();
    let file = sqlite::SqliteBackend::open(&dir.path().join("f.db")).unwrap();
    file.put(PARTNERS, "a-co", "{\"v\":1}").unwrap();
    let expect = |document: Option<&str>| Expected {
        space: PARTNERS,
        key: "a-co".into(),
        document: document.map(str::to_string),
    };
    let write = [Change::put(PARTNERS, "a-co".into(), "{\"v\":2}".into())];
    assert!(!file.apply_if(&[expect(Some("{\"v\":0}"))], &write).unwrap());
    assert!(!file.apply_if(&[expect(None)], &write).unwrap());
    assert_eq!(file.get(PARTNERS, "a-co").unwrap().as_deref(), Some("{\"v\":1}"));
    assert!(file.apply_if(&[expect(Some("{\"v\":1}"))], &write).unwrap());
    assert_eq!(file.get(PARTNERS, "a-co").unwrap().as_deref(), Some("{\"v\":2}"));
}

#[test]
fn migrate_takes_the_backend_flags_of_the_other_commands() {
    let cli = Cli::try_parse_from(["esimhooks", "migrate", "--backend", "aws", "--table", "t", "--dry-run"]).unwrap();
    let Command::Migrate(args) = cli.command else {
        unreachable!()
    };
    assert!(args.dry_run);
    assert_eq!(args.backend.backend, backend::BackendKind::Aws);
    assert_eq!(args.backend.table.as_deref(), Some("t"));
}

#[tokio::test]
async fn migrate_makes_no_file_where_there_is_none() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("missing.db");
    let (printed, finished) = migrate(&db, &[]).await;
    assert!(finished.unwrap_err().contains("nothing to migrate"), "{printed}");
    assert!(!db.exists());
}
