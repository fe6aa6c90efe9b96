//! `customers import` on files that would replace someone: conflicts within a file and with the
//! stored directory, `--replace`, the dry run against the import, line numbers, long lines; on SQLite, and on
//! DynamoDB (moto).

use super::customers::{self, CustomersCommand, ROWS_REFUSED};
use super::tests::local_backend;
use super::tests_customers::{import, run};
use super::*;
use shared::customers::{ContactLookup, EsimRef};
use shared::model::ProviderId;
use std::io::Write as _;

fn import_replacing(file: &std::path::Path, db: &std::path::Path, dry_run: bool) -> CustomersCommand {
    CustomersCommand::Import {
        file: file.to_path_buf(),
        dry_run,
        replace: true,
        backend: local_backend(db),
    }
}

const HEADER: &str = "provider,iccid,esim_ref,order_ref,phone";

/// The rows of `file` as `line N: ...` refusals and the closing summary, with the verb of a real import.
fn as_imported(out: &str) -> String {
    out.replace("would import", "imported")
}

/// Alice (ICCID X1, reference E1, order O1), Bob (X2, order O1) and Carol (X3, reference E1) in one
/// file: no row may erase another, so all three are refused, each naming the other's line; the dry run says so
/// too. Against the store, a row whose identifier names a stored contact with other identifiers is refused
/// with that identifier, and the stored contact stays whole.
#[tokio::test]
async fn an_import_never_replaces_a_contact_by_accident() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("accident.db");
    let file = dir.path().join("abc.csv");
    let alice = "esimaccess,8900000000000000001,E1,O1,+34600000001";
    let bob = "esimaccess,8900000000000000002,,O1,+34600000002";
    let carol = "esimaccess,8900000000000000003,E1,,+34600000003";
    std::fs::write(&file, format!("{HEADER}\n{alice}\n{bob}\n{carol}\n")).unwrap();
    let (dry_code, dry) = run(import(&file, &db, true)).await;
    let (code, out) = run(import(&file, &db, false)).await;
    assert_eq!((dry_code, code), (Ok(ROWS_REFUSED), Ok(ROWS_REFUSED)), "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    for (line, expected) in [
        (
            lines[0],
            [
                "line 2: ",
                "esim_ref E1 is also on line 4",
                "order_ref O1 is also on line 3",
            ],
        ),
        (lines[1], ["line 3: ", "order_ref O1 is also on line 2", ""]),
        (lines[2], ["line 4: ", "esim_ref E1 is also on line 2", ""]),
    ] {
        assert!(
            line.starts_with(expected[0]) && line.contains(expected[1]) && line.contains(expected[2]),
            "{line}"
        );
    }
    assert_eq!(
        lines[3],
        "imported 0 rows: 0 created, 0 updated, 0 unchanged; 3 refused"
    );
    assert_eq!(as_imported(&dry), out, "the dry run says what the import does");
    let store = sqlite::open_store(&db).unwrap();
    assert!(store
        .find(ProviderId::EsimAccess, &[EsimRef::Order("O1".into())])
        .await
        .unwrap()
        .is_none());

    // Alice on her own is stored; then Bob and Carol, each in a file of their own, are refused.
    std::fs::write(&file, format!("{HEADER}\n{alice}\n")).unwrap();
    assert_eq!(run(import(&file, &db, false)).await.0, Ok(0));
    for (row, identifier) in [(bob, "order_ref O1"), (carol, "esim_ref E1")] {
        std::fs::write(&file, format!("{HEADER}\n{row}\n")).unwrap();
        let (code, out) = run(import(&file, &db, false)).await;
        assert_eq!(code, Ok(ROWS_REFUSED), "{out}");
        assert!(
            out.starts_with(&format!("line 2: {identifier} already names a contact that also has ")),
            "{out}"
        );
        assert!(out.contains("--replace"), "says how to replace on purpose: {out}");
        assert!(
            out.contains("imported 0 rows: 0 created, 0 updated, 0 unchanged; 1 refused"),
            "{out}"
        );
    }
    for esim in [
        EsimRef::Iccid("8900000000000000001".into()),
        EsimRef::Esim("E1".into()),
        EsimRef::Order("O1".into()),
    ] {
        let found = store
            .find(ProviderId::EsimAccess, std::slice::from_ref(&esim))
            .await
            .unwrap();
        assert_eq!(found.and_then(|c| c.phone), Some("+34600000001".into()), "{esim}");
    }
    for absent in ["8900000000000000002", "8900000000000000003"] {
        let found = store
            .find(ProviderId::EsimAccess, &[EsimRef::Iccid(absent.into())])
            .await
            .unwrap();
        assert!(found.is_none(), "{absent}");
    }

    // The same identifiers with a new phone are an update; a row adding an order reference to a stored
    // contact is one too; a row joining two stored contacts is refused.
    std::fs::write(
        &file,
        format!(
            "{HEADER}\nesimaccess,8900000000000000001,E1,O1,+34600000009\nesimaccess,8900000000000000004,,,\n\
             esimaccess,,,O5,\nesimaccess,8900000000000000006,,,\n"
        ),
    )
    .unwrap();
    assert_eq!(run(import(&file, &db, false)).await.0, Ok(0));
    std::fs::write(
        &file,
        format!("{HEADER}\nesimaccess,8900000000000000004,,O4,\nesimaccess,8900000000000000004,,O5,\n"),
    )
    .unwrap();
    let (code, out) = run(import(&file, &db, false)).await;
    assert_eq!(code, Ok(ROWS_REFUSED), "{out}");
    assert!(
        out.contains("line 3: iccid 8900000000000000004 is also on line 2"),
        "{out}"
    );
    std::fs::write(&file, format!("{HEADER}\nesimaccess,8900000000000000004,,O4,\n")).unwrap();
    let (code, out) = run(import(&file, &db, false)).await;
    assert_eq!(
        (code, out.trim()),
        (Ok(0), "imported 1 rows: 0 created, 1 updated, 0 unchanged; 0 refused")
    );
    std::fs::write(&file, format!("{HEADER}\nesimaccess,8900000000000000006,,O5,\n")).unwrap();
    let (code, out) = run(import(&file, &db, false)).await;
    assert_eq!(code, Ok(ROWS_REFUSED), "{out}");
    assert!(
        out.starts_with("line 2: iccid 8900000000000000006 and order_ref O5 name two different contacts"),
        "{out}"
    );
    let four = store
        .find(ProviderId::EsimAccess, &[EsimRef::Order("O4".into())])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(four.iccid.as_deref(), Some("8900000000000000004"));
}

/// A file mixing new, changed, unchanged, duplicated, conflicting and bad rows against a stored directory: the
/// dry run prints exactly what the import then prints, and importing the file again reports every applied row
/// unchanged.
#[tokio::test]
async fn a_dry_run_matches_the_import_and_a_reimport_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("dry.db");
    let file = dir.path().join("stored.csv");
    std::fs::write(
        &file,
        format!(
            "{HEADER}\nroamify,8900000000000000010,,r-10,+34600000010\nroamify,8900000000000000011,,r-11,\n\
             roamify,8900000000000000017,,r-17,\n"
        ),
    )
    .unwrap();
    assert_eq!(run(import(&file, &db, false)).await.0, Ok(0));
    let mixed = dir.path().join("mixed.csv");
    std::fs::write(
        &mixed,
        format!(
            "{HEADER}\n\
             roamify,8900000000000000010,,r-10,+34600000010\n\
             roamify,8900000000000000011,,r-11,+34600000011\n\
             roamify,8900000000000000012,,r-12,\n\
             roamify,8900000000000000012,,r-12,\n\
             roamify,8900000000000000013,,r-17,\n\
             roamify,8900000000000000014,,r-14,+34600000014\n\
             roamify,8900000000000000015,,r-14,+34600000015\n\
             roamify,8900000000000000016,,r-16,12345\n\
             esimaccess,8900000000000000010,,r-10,\n"
        ),
    )
    .unwrap();
    let (dry_code, dry) = run(import(&mixed, &db, true)).await;
    let (code, out) = run(import(&mixed, &db, false)).await;
    assert_eq!(as_imported(&dry), out);
    assert_eq!((dry_code, code), (Ok(ROWS_REFUSED), Ok(ROWS_REFUSED)));
    assert!(
        out.contains("imported 5 rows: 2 created, 1 updated, 2 unchanged; 4 refused"),
        "rows 2 and 5 unchanged, 3 updated, 4 and 10 created: {out}"
    );
    let (_, again) = run(import(&mixed, &db, false)).await;
    assert!(
        again.contains("imported 5 rows: 0 created, 0 updated, 5 unchanged; 4 refused"),
        "{again}"
    );
}

/// Refused rows are reported on their own line whatever the line ends (LF, CRLF), with or without a byte
/// order mark, and after a quoted field spanning two lines.
#[tokio::test]
async fn refused_rows_are_reported_on_their_line_in_lf_crlf_and_bom_files() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("lines.db");
    let rows = [
        "airalo,8900000000000000020,,,+34600000020",
        "airalo,8900000000000000021,,,0612",
        "airalo,8900000000000000022,,,\"+34 600\n000 022\"",
        "airalo,8900000000000000023,,,+34600000023",
        "airalo,8900000000000000024,,,0614",
    ];
    for (name, bom, end) in [
        ("lf.csv", "", "\n"),
        ("crlf.csv", "", "\r\n"),
        ("bom.csv", "\u{feff}", "\r\n"),
    ] {
        let file = dir.path().join(name);
        let body: Vec<String> = rows.iter().map(|r| r.replace('\n', end)).collect();
        std::fs::write(&file, format!("{bom}{HEADER}{end}{}{end}", body.join(end))).unwrap();
        let (code, out) = run(import(&file, &db, true)).await;
        assert_eq!(code, Ok(ROWS_REFUSED), "{name}: {out}");
        let refused: Vec<&str> = out.lines().filter(|l| l.starts_with("line ")).collect();
        assert_eq!(refused.len(), 3, "{name}: {out}");
        assert!(refused[0].starts_with("line 3: phone"), "{name}: {refused:?}");
        assert!(
            refused[1].starts_with("line 4: phone"),
            "{name}: a newline is a control character: {refused:?}"
        );
        assert!(refused[2].starts_with("line 7: phone"), "{name}: {refused:?}");
    }
    let jsonl = dir.path().join("crlf.jsonl");
    std::fs::write(
        &jsonl,
        "\u{feff}{\"provider\":\"airalo\",\"iccid\":\"8900000000000000030\"}\r\n\r\n{\"provider\":\"airalo\",\"iccid\":\"89\"}\r\n",
    )
    .unwrap();
    let (code, out) = run(import(&jsonl, &db, true)).await;
    assert_eq!(code, Ok(ROWS_REFUSED), "{out}");
    assert!(out.starts_with("line 3: iccid"), "{out}");
    assert!(
        out.contains("would import 1 rows: 1 created"),
        "the marked first line is read: {out}"
    );
}

/// A line longer than 64 KiB is refused as such (not read whole), and the rows after it are imported.
#[tokio::test]
async fn a_line_over_64_kib_is_refused_and_the_rest_imported() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("long.db");
    let file = dir.path().join("long.csv");
    let long = format!("airalo,8900000000000000040,,,{}", "9".repeat(100 * 1024));
    std::fs::write(
        &file,
        format!("{HEADER}\n{long}\nairalo,8900000000000000041,,,+34600000041\n"),
    )
    .unwrap();
    let (code, out) = run(import(&file, &db, false)).await;
    assert_eq!(code, Ok(ROWS_REFUSED), "{out}");
    assert!(out.starts_with("line 2: longer than 65536 bytes"), "{out}");
    assert!(out.contains("imported 1 rows: 1 created"), "{out}");
}

/// `--replace` is the deliberate path: an eSIM sold again under another order replaces its old contact, whose
/// order reference no longer names it; the dry run says the same; rows of one file that disagree are still
/// refused.
#[tokio::test]
async fn replace_lets_a_row_take_an_identifier_on_purpose() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("replace.db");
    let file = dir.path().join("sold.csv");
    std::fs::write(
        &file,
        format!("{HEADER}\nroamify,8900000000000000050,,r-50,+34600000050\n"),
    )
    .unwrap();
    assert_eq!(run(import(&file, &db, false)).await.0, Ok(0));
    let resold = dir.path().join("resold.csv");
    std::fs::write(
        &resold,
        format!(
            "{HEADER}\nroamify,8900000000000000050,,r-51,+34600000051\nroamify,,,r-50,+34600000052\n\
             roamify,8900000000000000053,,r-53,\nroamify,8900000000000000053,,r-54,\n"
        ),
    )
    .unwrap();
    let (code, refused) = run(import(&resold, &db, false)).await;
    assert_eq!(code, Ok(ROWS_REFUSED));
    assert!(
        refused.contains("line 2: iccid 8900000000000000050 already names a contact that also has order_ref r-50"),
        "{refused}"
    );
    assert!(
        refused.contains("line 3: order_ref r-50 already names a contact that also has iccid"),
        "{refused}"
    );

    let (dry_code, dry) = run(import_replacing(&resold, &db, true)).await;
    let (code, out) = run(import_replacing(&resold, &db, false)).await;
    assert_eq!((dry_code, code), (Ok(ROWS_REFUSED), Ok(ROWS_REFUSED)));
    assert_eq!(as_imported(&dry), out);
    assert!(
        out.contains("line 4: iccid 8900000000000000053 is also on line 5"),
        "{out}"
    );
    assert!(
        out.ends_with("imported 2 rows: 1 created, 1 updated, 0 unchanged; 2 refused\n"),
        "line 2 replaces the contact, line 3 then registers r-50 anew: {out}"
    );
    let store = sqlite::open_store(&db).unwrap();
    let by_iccid = store
        .find(ProviderId::Roamify, &[EsimRef::Iccid("8900000000000000050".into())])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_iccid.order_ref.as_deref(), Some("r-51"));
    let by_old_order = store
        .find(ProviderId::Roamify, &[EsimRef::Order("r-50".into())])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (by_old_order.iccid, by_old_order.phone.as_deref()),
        (None, Some("+34600000052"))
    );
}

/// On DynamoDB (moto), the same file as above imported into the events table: the dry run prints what
/// the import then prints (conflicts within the file and with stored contacts alike), a stored contact is
/// never replaced, and a second import reports every applied row unchanged.
#[tokio::test]
async fn on_dynamodb_an_import_matches_its_dry_run_and_replaces_no_one() {
    use shared::customers::ContactStore;
    let endpoint = std::env::var("ESIMHOOKS_TEST_ENDPOINT").expect("run with scripts/test.sh, which starts moto");
    let sdk = shared::aws::sdk_config_at(&endpoint).await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    let table = format!("cli-import-{}", std::process::id());
    shared::store::dynamodb::DynamoStore::create_table(&client, &table)
        .await
        .unwrap();
    let store = shared::store::dynamodb::DynamoStore::new(client, &table, chrono::Duration::days(1));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("abc.csv");
    std::fs::write(
        &file,
        format!("{HEADER}\nesimaccess,8900000000000000001,E1,O1,+34600000001\nesimaccess,8900000000000000006,,O6,\n"),
    )
    .unwrap();
    let import = |dry_run: bool| {
        let (file, store) = (file.clone(), store.clone());
        async move {
            let mut out = Vec::new();
            let options = customers::ImportOptions {
                dry_run,
                replace: false,
            };
            let report = customers::import(&file, options, &store as &dyn ContactStore, None, &mut out)
                .await
                .unwrap();
            writeln!(out, "{}", report.summary(false)).unwrap();
            String::from_utf8(out).unwrap()
        }
    };
    assert!(import(false).await.contains("2 created"));
    std::fs::write(
        &file,
        format!(
            "{HEADER}\nesimaccess,8900000000000000002,,O6,\nesimaccess,8900000000000000003,E3,O3,\n\
             esimaccess,8900000000000000004,E3,,\nesimaccess,8900000000000000005,,O5,\n\
             esimaccess,8900000000000000005,,O5,\nesimaccess,8900000000000000001,E1,O1,+34600000009\n"
        ),
    )
    .unwrap();
    let dry = import(true).await;
    let out = import(false).await;
    assert_eq!(dry, out);
    assert!(
        out.starts_with("line 2: order_ref O6 already names a contact that also has iccid 8900000000000000006"),
        "{out}"
    );
    assert!(out.contains("line 3: esim_ref E3 is also on line 4"), "{out}");
    assert!(out.contains("line 4: esim_ref E3 is also on line 3"), "{out}");
    assert!(
        out.ends_with("imported 3 rows: 1 created, 1 updated, 1 unchanged; 3 refused\n"),
        "{out}"
    );
    let alice = store
        .find(ProviderId::EsimAccess, &[EsimRef::Order("O1".into())])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (alice.iccid.as_deref(), alice.phone.as_deref()),
        (Some("8900000000000000001"), Some("+34600000009"))
    );
    let again = import(false).await;
    assert!(
        again.ends_with("imported 3 rows: 0 created, 0 updated, 3 unchanged; 3 refused\n"),
        "{again}"
    );
}
