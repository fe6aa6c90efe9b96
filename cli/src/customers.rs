//! `esimhooks customers import|get|set|remove`: the customer directory, from a reseller's file or by hand.

use crate::backend::BackendArgs;
use clap::{Args, Subcommand};
use shared::customers::notifier::mask_past_notifications;
use shared::customers::{
    mask_email, mask_phone, upsert_plan, Contact, ContactFields, ContactProblem, ContactStore, EsimRef, Upserted,
};
use shared::model::ProviderId;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Exit code when some rows of an import were refused (the rest were applied).
pub const ROWS_REFUSED: u8 = 6;

#[derive(Debug, Args)]
pub struct CustomersArgs {
    #[command(subcommand)]
    pub command: CustomersCommand,
}

#[derive(Debug, Subcommand)]
pub enum CustomersCommand {
    /// Register contacts from a CSV file with a header row, or JSON lines (one object per line), with the
    /// fields provider, iccid, esim_ref, order_ref, name, phone, email, locale, time_zone, customer_id,
    /// topup_url, channels. Each row is applied whole or not at all; bad rows are reported with their line
    /// and skipped. Importing the same file again changes nothing.
    Import {
        #[arg(long)]
        file: PathBuf,
        /// Check every row and say what would change, without changing anything.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        backend: BackendArgs,
    },
    /// Show the contact of an eSIM (phone and email masked unless --json).
    Get {
        provider: String,
        /// The eSIM's ICCID or the provider's eSIM reference (an order reference with --order).
        esim: String,
        /// ESIM is the reseller's order reference.
        #[arg(long)]
        order: bool,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        backend: BackendArgs,
    },
    /// Register or change an eSIM's contact: the fields given replace those of the contact found under any of
    /// the identifiers given; the others stay.
    Set {
        #[command(flatten)]
        fields: Box<SetFields>,
        #[command(flatten)]
        backend: BackendArgs,
    },
    /// Erase an eSIM's contact, under all its identifiers (personal data: nothing of it is kept).
    Remove {
        provider: String,
        esim: String,
        #[arg(long)]
        order: bool,
        #[command(flatten)]
        backend: BackendArgs,
    },
}

#[derive(Debug, Args)]
pub struct SetFields {
    #[arg(long)]
    provider: String,
    #[arg(long)]
    iccid: Option<String>,
    #[arg(long)]
    esim_ref: Option<String>,
    #[arg(long)]
    order_ref: Option<String>,
    #[arg(long)]
    name: Option<String>,
    /// E.164 (+ country code and number).
    #[arg(long)]
    phone: Option<String>,
    #[arg(long)]
    email: Option<String>,
    /// A language tag: en, es, fr, de, pt-BR...
    #[arg(long)]
    locale: Option<String>,
    /// An IANA time zone: Europe/Madrid.
    #[arg(long)]
    time_zone: Option<String>,
    #[arg(long)]
    customer_id: Option<String>,
    #[arg(long)]
    topup_url: Option<String>,
    /// sms, email, sms|email or none.
    #[arg(long)]
    channels: Option<String>,
}

fn esim_ref(esim: &str, order: bool) -> EsimRef {
    if order {
        EsimRef::Order(esim.to_string())
    } else {
        EsimRef::guess(esim)
    }
}

fn provider(name: &str) -> Result<ProviderId, String> {
    ProviderId::parse(name).ok_or_else(|| format!("unknown provider {name}"))
}

pub async fn run(args: CustomersArgs, out: &mut impl Write) -> Result<u8, String> {
    match args.command {
        CustomersCommand::Import { file, dry_run, backend } => {
            let opened = backend.open(false).await?;
            let report = import(&file, dry_run, opened.contacts.as_ref()).await?;
            report.print(out, dry_run).map_err(|e| e.to_string())?;
            Ok(if report.refused.is_empty() { 0 } else { ROWS_REFUSED })
        }
        CustomersCommand::Get {
            provider: name,
            esim,
            order,
            json,
            backend,
        } => {
            let opened = backend.open(false).await?;
            let found = opened
                .contacts
                .find(provider(&name)?, &[esim_ref(&esim, order)])
                .await
                .map_err(|e| e.to_string())?;
            let Some(contact) = found else {
                return Err(format!("no contact for {name} {esim}"));
            };
            print_contact(out, &contact, json).map_err(|e| e.to_string())?;
            Ok(0)
        }
        CustomersCommand::Set { fields, backend } => {
            let opened = backend.open(false).await?;
            let contact = merged(*fields, opened.contacts.as_ref()).await?;
            let upserted = opened.contacts.upsert(&contact).await.map_err(|e| e.to_string())?;
            writeln!(out, "{}", describe(upserted)).map_err(|e| e.to_string())?;
            Ok(0)
        }
        CustomersCommand::Remove {
            provider: name,
            esim,
            order,
            backend,
        } => {
            let opened = backend.open(false).await?;
            let removed = opened
                .contacts
                .remove(provider(&name)?, &esim_ref(&esim, order))
                .await
                .map_err(|e| e.to_string())?;
            let Some(contact) = removed else {
                writeln!(out, "no contact for {name} {esim}").map_err(|e| e.to_string())?;
                return Ok(0);
            };
            // The contact is gone; its phone and email are masked where past notifications recorded them.
            let masked = mask_past_notifications(opened.notifications.as_ref(), &contact)
                .await
                .map_err(|e| e.to_string())?;
            writeln!(
                out,
                "removed the contact of {} identifier(s); masked it in {masked} past notification(s)",
                contact.refs().len()
            )
            .map_err(|e| e.to_string())?;
            Ok(0)
        }
    }
}

/// The contact `set` leaves: the one found under the identifiers given, with the given fields replaced.
async fn merged(set: SetFields, contacts: &dyn ContactStore) -> Result<Contact, String> {
    let given = ContactFields {
        provider: Some(set.provider),
        iccid: set.iccid,
        esim_ref: set.esim_ref,
        order_ref: set.order_ref,
        name: set.name,
        phone: set.phone,
        email: set.email,
        locale: set.locale,
        time_zone: set.time_zone,
        customer_id: set.customer_id,
        topup_url: set.topup_url,
        channels: set.channels,
    };
    let identified = Contact::from_fields(&given).map_err(|e| e.to_string())?;
    let existing = contacts
        .find(identified.provider, &identified.refs())
        .await
        .map_err(|e| e.to_string())?;
    let Some(existing) = existing else {
        return Ok(identified);
    };
    let old = existing.to_fields();
    let pick = |new: Option<String>, old: Option<String>| new.or(old);
    let fields = ContactFields {
        provider: given.provider,
        iccid: pick(given.iccid, old.iccid),
        esim_ref: pick(given.esim_ref, old.esim_ref),
        order_ref: pick(given.order_ref, old.order_ref),
        name: pick(given.name, old.name),
        phone: pick(given.phone, old.phone),
        email: pick(given.email, old.email),
        locale: pick(given.locale, old.locale),
        time_zone: pick(given.time_zone, old.time_zone),
        customer_id: pick(given.customer_id, old.customer_id),
        topup_url: pick(given.topup_url, old.topup_url),
        channels: pick(given.channels, old.channels),
    };
    Contact::from_fields(&fields).map_err(|e| e.to_string())
}

fn describe(upserted: Upserted) -> &'static str {
    match upserted {
        Upserted::Created => "created",
        Upserted::Updated => "updated",
        Upserted::Unchanged => "unchanged",
    }
}

fn print_contact(out: &mut impl Write, contact: &Contact, json: bool) -> std::io::Result<()> {
    if json {
        serde_json::to_writer_pretty(&mut *out, contact)?;
        return writeln!(out);
    }
    let rows = [
        ("provider", Some(contact.provider.to_string())),
        ("iccid", contact.iccid.clone()),
        ("esim_ref", contact.esim_ref.clone()),
        ("order_ref", contact.order_ref.clone()),
        ("name", contact.name.clone()),
        ("phone", contact.phone.as_deref().map(mask_phone)),
        ("email", contact.email.as_deref().map(mask_email)),
        ("locale", contact.locale.clone()),
        ("time_zone", contact.time_zone.clone()),
        ("customer_id", contact.customer_id.clone()),
        ("topup_url", contact.topup_url.clone()),
        ("channels", Some(contact.channels.as_text().to_string())),
    ];
    for (name, value) in rows {
        writeln!(out, "{name:<12} {}", value.as_deref().unwrap_or("-"))?;
    }
    Ok(())
}

/// What an import did (or, dry, would do).
#[derive(Debug, Default, PartialEq)]
pub struct ImportReport {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// (line, why), in file order.
    pub refused: Vec<(usize, String)>,
}

impl ImportReport {
    fn print(&self, out: &mut impl Write, dry_run: bool) -> std::io::Result<()> {
        for (line, why) in &self.refused {
            writeln!(out, "line {line}: {why}")?;
        }
        let verb = if dry_run { "would import" } else { "imported" };
        writeln!(
            out,
            "{verb} {} rows: {} created, {} updated, {} unchanged; {} refused",
            self.created + self.updated + self.unchanged,
            self.created,
            self.updated,
            self.unchanged,
            self.refused.len()
        )
    }
}

/// Reads `file` (CSV with a header row, or JSON lines) and upserts every valid row; with `dry_run`, only
/// compares each with what is stored.
pub async fn import(file: &Path, dry_run: bool, contacts: &dyn ContactStore) -> Result<ImportReport, String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let mut report = ImportReport::default();
    for (line, row) in rows(file, &text)? {
        let contact =
            match row.and_then(|fields| Contact::from_fields(&fields).map_err(|e: ContactProblem| e.to_string())) {
                Ok(contact) => contact,
                Err(why) => {
                    report.refused.push((line, why));
                    continue;
                }
            };
        let upserted = if dry_run {
            would_upsert(&contact, contacts).await?
        } else {
            contacts.upsert(&contact).await.map_err(|e| e.to_string())?
        };
        match upserted {
            Upserted::Created => report.created += 1,
            Upserted::Updated => report.updated += 1,
            Upserted::Unchanged => report.unchanged += 1,
        }
    }
    Ok(report)
}

async fn would_upsert(contact: &Contact, contacts: &dyn ContactStore) -> Result<Upserted, String> {
    let mut found = Vec::new();
    for esim in contact.refs() {
        found.extend(
            contacts
                .find(contact.provider, &[esim])
                .await
                .map_err(|e| e.to_string())?,
        );
    }
    Ok(upsert_plan(contact, &found).map_or(Upserted::Unchanged, |(outcome, _)| outcome))
}

type Row = (usize, Result<ContactFields, String>);

/// The file's rows with their line numbers: JSON lines when it is `.jsonl`/`.ndjson`/`.json` or starts with
/// `{`, else CSV with a header row.
fn rows(file: &Path, text: &str) -> Result<Vec<Row>, String> {
    let extension = file
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let json_lines = matches!(extension.as_str(), "jsonl" | "ndjson" | "json")
        || (extension != "csv" && text.trim_start().starts_with('{'));
    if json_lines {
        return Ok(text
            .lines()
            .enumerate()
            .filter(|(_, line)| !line.trim().is_empty())
            .map(|(i, line)| {
                (
                    i + 1,
                    serde_json::from_str::<ContactFields>(line).map_err(|e| e.to_string()),
                )
            })
            .collect());
    }
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| format!("{}: no header row: {e}", file.display()))?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').to_ascii_lowercase())
        .collect();
    const KNOWN: [&str; 12] = [
        "provider",
        "iccid",
        "esim_ref",
        "order_ref",
        "name",
        "phone",
        "email",
        "locale",
        "time_zone",
        "customer_id",
        "topup_url",
        "channels",
    ];
    if let Some(unknown) = headers.iter().find(|h| !KNOWN.contains(&h.as_str())) {
        return Err(format!(
            "{}: unknown column {unknown:?} (known: {})",
            file.display(),
            KNOWN.join(", ")
        ));
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        let row = match record {
            Ok(record) => {
                let line = record.position().map_or(0, |p| p.line() as usize);
                let mut fields = serde_json::Map::new();
                for (name, value) in headers.iter().zip(record.iter()) {
                    fields.insert(name.clone(), serde_json::Value::String(value.to_string()));
                }
                let parsed = serde_json::from_value::<ContactFields>(serde_json::Value::Object(fields));
                (line, parsed.map_err(|e| e.to_string()))
            }
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line() as usize);
                (line, Err(e.to_string()))
            }
        };
        rows.push(row);
    }
    Ok(rows)
}
