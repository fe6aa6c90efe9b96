//! The customer directory through the CLI on the local SQLite store: import, get, set, remove.

use super::customers::{self, CustomersArgs, CustomersCommand, ROWS_REFUSED};
use super::tests::local_backend;
use super::*;
use shared::customers::{ContactLookup, EsimRef};
use shared::model::ProviderId;
use std::io::Write as _;

pub(crate) async fn run(command: CustomersCommand) -> (Result<u8, String>, String) {
    let mut out = Vec::new();
    let code = customers::run(CustomersArgs { command }, &|_| None, &mut out).await;
    (code, String::from_utf8(out).unwrap())
}

pub(crate) fn import(file: &std::path::Path, db: &std::path::Path, dry_run: bool) -> CustomersCommand {
    CustomersCommand::Import {
        file: file.to_path_buf(),
        dry_run,
        replace: false,
        backend: local_backend(db),
    }
}

/// A 10,000-row CSV with 3 bad rows: the 3 lines are reported, the rest imported; the same file again changes
/// nothing; a dry run of a changed file says what would change and changes nothing.
#[tokio::test]
async fn a_large_import_reports_bad_lines_and_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("contacts.db");
    let file = dir.path().join("contacts.csv");
    let mut csv = std::fs::File::create(&file).unwrap();
    writeln!(
        csv,
        "provider,iccid,esim_ref,order_ref,name,phone,email,locale,time_zone,customer_id,topup_url,channels"
    )
    .unwrap();
    for i in 0..10_000u64 {
        let iccid = 8_900_000_000_000_000_000u64 + i;
        let (phone, zone) = match i {
            17 => ("12345".to_string(), "Europe/Madrid"),          // not E.164
            4_242 => ("+34600000001".to_string(), "Mars/Olympus"), // unknown zone
            _ => (format!("+346{:08}", i), "Europe/Madrid"),
        };
        let provider = if i == 9_999 { "acme" } else { "esimaccess" };
        writeln!(
            csv,
            "{provider},{iccid},T{i},tx-{i},\"García, Ana {i}\",{phone},ana{i}@example.es,es,{zone},c-{i},https://shop.example/t/{i},sms|email"
        )
        .unwrap();
    }
    drop(csv);

    let (code, out) = run(import(&file, &db, false)).await;
    assert_eq!(code, Ok(ROWS_REFUSED), "{out}");
    let refused: Vec<&str> = out.lines().filter(|l| l.starts_with("line ")).collect();
    assert_eq!(refused.len(), 3, "{out}");
    assert!(refused[0].starts_with("line 19: phone"), "{refused:?}");
    assert!(refused[1].starts_with("line 4244: time_zone"), "{refused:?}");
    assert!(refused[2].starts_with("line 10001: provider"), "{refused:?}");
    assert!(
        out.contains("imported 9997 rows: 9997 created, 0 updated, 0 unchanged; 3 refused"),
        "{out}"
    );

    let (_, again) = run(import(&file, &db, false)).await;
    assert!(
        again.contains("imported 9997 rows: 0 created, 0 updated, 9997 unchanged"),
        "{again}"
    );

    let store = sqlite::open_store(&db).unwrap();
    let by_order = store
        .find(ProviderId::EsimAccess, &[EsimRef::Order("tx-5".into())])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_order.name.as_deref(), Some("García, Ana 5"));
    assert_eq!(by_order.iccid.as_deref(), Some("8900000000000000005"));

    let changed = dir.path().join("changed.jsonl");
    std::fs::write(
        &changed,
        "{\"provider\":\"esimaccess\",\"iccid\":\"8900000000000000005\",\"esim_ref\":\"T5\",\"order_ref\":\"tx-5\",\"name\":\"Ana\",\"locale\":\"es\"}\n\n{\"provider\":\"esimaccess\",\"esim_ref\":\"NEW-1\",\"phone\":\"+4915112345678\"}\n{\"provider\":\"esimaccess\",\"iccid\":8900000000000000006}\n",
    )
    .unwrap();
    let (code, dry) = run(import(&changed, &db, true)).await;
    assert_eq!(code, Ok(ROWS_REFUSED));
    assert!(dry.contains("line 4: "), "a number is not an ICCID: {dry}");
    assert!(
        dry.contains("would import 2 rows: 1 created, 1 updated, 0 unchanged; 1 refused"),
        "{dry}"
    );
    let unchanged = store
        .find(ProviderId::EsimAccess, &[EsimRef::Esim("NEW-1".into())])
        .await
        .unwrap();
    assert!(unchanged.is_none(), "a dry run changes nothing");
}

/// `set` changes only the fields given, `get` masks personal data unless --json, `remove` erases the contact
/// under all its identifiers.
#[tokio::test]
async fn set_get_and_remove_one_contact() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("one.db");
    let file = dir.path().join("one.csv");
    std::fs::write(
        &file,
        "provider,iccid,order_ref,name,phone,email\nroamify,8912345678901234567,r-1,Ana,+34612345678,ana@example.es\n",
    )
    .unwrap();
    assert_eq!(run(import(&file, &db, false)).await.0, Ok(0));

    let set = CustomersCommand::Set {
        fields: Box::new(customers_set(&[
            "--provider",
            "roamify",
            "--order-ref",
            "r-1",
            "--locale",
            "fr",
            "--channels",
            "email",
        ])),
        backend: local_backend(&db),
    };
    let (code, out) = run(set).await;
    assert_eq!((code, out.trim()), (Ok(0), "updated"));

    let get = |json: bool| CustomersCommand::Get {
        provider: "roamify".into(),
        esim: "8912345678901234567".into(),
        order: false,
        json,
        backend: local_backend(&db),
    };
    let (_, table) = run(get(false)).await;
    assert!(
        table.contains("+34••••••678") && table.contains("a•••@example.es"),
        "{table}"
    );
    assert!(
        !table.contains("612345678") && table.contains("email") && table.contains("fr"),
        "{table}"
    );
    let (_, json) = run(get(true)).await;
    let contact: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(contact["phone"], "+34612345678");
    assert_eq!(contact["name"], "Ana", "fields not given stay");
    assert_eq!(contact["channels"], serde_json::json!({"sms": false, "email": true}));

    let remove = CustomersCommand::Remove {
        provider: "roamify".into(),
        esim: "r-1".into(),
        order: true,
        backend: local_backend(&db),
    };
    let (_, removed) = run(remove).await;
    assert!(removed.contains("removed the contact of 2 identifier(s)"), "{removed}");
    let (code, _) = run(get(false)).await;
    assert!(code.is_err(), "no contact under the ICCID either");
    let store = sqlite::open_store(&db).unwrap();
    let by_order = store
        .find(ProviderId::Roamify, &[EsimRef::Order("r-1".into())])
        .await
        .unwrap();
    assert!(by_order.is_none(), "nothing left under the order reference");
}

fn customers_set(args: &[&str]) -> customers::SetFields {
    #[derive(clap::Parser)]
    struct Wrapper {
        #[command(flatten)]
        fields: customers::SetFields,
    }
    use clap::Parser;
    Wrapper::parse_from(std::iter::once("set").chain(args.iter().copied())).fields
}

/// The local journey: a contact imported, a low-data delivery served: the customer's SMS and email are
/// "sent" on the console once, and `alerts` says who was told (masked in the table, in full in JSON).
#[tokio::test]
async fn serve_tells_the_customer_once_and_alerts_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("journey.db");
    let file = dir.path().join("one.csv");
    std::fs::write(
        &file,
        "provider,esim_ref,name,phone,email,locale\nesimaccess,25052822150009,Ana,+34612345678,ana@example.es,es\n",
    )
    .unwrap();
    assert_eq!(run(import(&file, &db, false)).await.0, Ok(0));
    let server = super::tests::start(&db).await;
    let body = super::tests::fixture_body("05-data-usage-low.json");
    let path = format!("/webhooks/esimaccess?token={}", super::tests::TOKEN);
    for _ in 0..2 {
        assert_eq!(super::tests::http(server.addr, "POST", &path, &body).await.0, 200);
    }
    server.stop().await;

    let alerts = super::tests::list_json(Listing::Alerts, &db).await;
    let low = alerts.iter().find(|a| a["alert"]["type"] == "low_data").unwrap();
    let told = low["notifications"].as_array().unwrap();
    let channels: Vec<(&str, &str, &str)> = told
        .iter()
        .map(|n| {
            (
                n["channel"].as_str().unwrap(),
                n["to"].as_str().unwrap(),
                n["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        channels,
        [("sms", "+34612345678", "SENT"), ("email", "ana@example.es", "SENT")]
    );
    let table = super::tests::list_table(Listing::Alerts, &db).await;
    assert!(
        table.contains("sms SENT +34••••••678, email SENT a•••@example.es"),
        "{table}"
    );
    assert!(!table.contains("612345678"), "{table}");
}

/// `send --scenario` for an eSIM with a contact: its whole life on the local server, each customer alert
/// told to the customer (on the console), and on record.
#[tokio::test]
async fn a_scenario_for_an_esim_with_a_contact_tells_the_customer_at_each_step() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("scenario.db");
    let file = dir.path().join("one.csv");
    let iccid = "8944500000000000042";
    std::fs::write(
        &file,
        format!("provider,iccid,name,phone,locale,channels\nairalo,{iccid},Ana,+34612345678,es,sms\n"),
    )
    .unwrap();
    assert_eq!(run(import(&file, &db, false)).await.0, Ok(0));
    let server = super::tests::start(&db).await;
    let args = super::send::SendArgs {
        provider: ProviderId::Airalo,
        event_type: None,
        file: None,
        scenario: true,
        secret: Some(super::tests::secret_of("airalo")),
        url: format!("http://{}", server.addr),
        iccid: iccid.into(),
        remaining: 50,
        ends_in_hours: 72,
        list_types: false,
        save: None,
    };
    let sent = tokio::task::spawn_blocking(move || super::send::run(&args))
        .await
        .unwrap();
    assert_eq!(sent, Ok(0));
    server.stop().await;

    let alerts = super::tests::list_json_of(Listing::Alerts, &db, "airalo").await;
    let mut told: Vec<(String, String, String)> = alerts
        .iter()
        .map(|a| {
            let notes = a["notifications"].as_array().unwrap();
            assert_eq!(notes.len(), 1, "{a}");
            assert_eq!(notes[0]["to"], "+34612345678");
            let level = format!(
                "{} {}",
                a["alert"]["type"].as_str().unwrap(),
                a["alert"]["level"].as_str().unwrap()
            );
            let error = notes[0]["error"].as_str().unwrap_or_default().to_string();
            (level, notes[0]["status"].as_str().unwrap().to_string(), error)
        })
        .collect();
    told.sort();
    let expected = [
        (
            "expiry 24h",
            "SKIPPED",
            "SMS cap of 3 in 24 hours reached for this number",
        ),
        ("expiry 72h", "SENT", ""),
        ("low_data 10%", "SENT", ""),
        ("low_data 25%", "SENT", ""),
    ];
    assert_eq!(
        told,
        expected.map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
    );
}
