//! `esimhooks customers import|get|set|remove`: the customer directory, from a reseller's file or by hand.

mod import;
mod rows;

use crate::backend::{BackendArgs, Opened};
use clap::{Args, Subcommand};
pub(crate) use import::{import, ImportOptions};
use shared::clock::SystemClock;
use shared::config::{Env, Settings};
use shared::customers::service::mask_past_notifications;
use shared::customers::{mask_email, mask_phone, Contact, ContactFields, ContactStore, EsimRef, Upserted};
use shared::model::ProviderId;
use shared::reconcile::named::NamedEsims;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

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
    /// topup_url, channels, partner_id (the partner the eSIM belongs to). Each row is applied whole or not at all; bad rows are reported with their line
    /// and skipped, and so is a row that would replace another contact: one whose identifiers name a stored
    /// contact with other identifiers, or two stored contacts, or that another line gives other details.
    /// Importing the same file again changes nothing.
    Import {
        #[arg(long)]
        file: PathBuf,
        /// Check every row and say what would change, without changing anything.
        #[arg(long)]
        dry_run: bool,
        /// Let a row replace the stored contact its identifiers name even when that contact's other
        /// identifiers differ (an eSIM sold again under another order): it goes with those identifiers.
        #[arg(long)]
        replace: bool,
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
    /// The partner the eSIM belongs to (its callbacks hear of it; see `esimhooks partners`).
    #[arg(long)]
    partner_id: Option<String>,
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

/// Files the eSIMs contacts name for their provider's API to be asked, where a provider is asked
/// (`<PROVIDER>_API_CREDENTIALS`), and records a contact's partner as its eSIM's owner.
fn named(opened: &Opened, env: Env<'_>) -> Result<NamedEsims, String> {
    let settings = Settings::from_env(env).map_err(|e| e.to_string())?;
    Ok(NamedEsims::new(
        opened.events.clone(),
        settings.pipeline.asking,
        settings.pipeline.rules,
        Arc::new(SystemClock),
    ))
}

pub async fn run(args: CustomersArgs, env: Env<'_>, out: &mut impl Write) -> Result<u8, String> {
    match args.command {
        CustomersCommand::Import {
            file,
            dry_run,
            replace,
            backend,
        } => {
            let opened = backend.open(false).await?;
            let options = ImportOptions { dry_run, replace };
            let named = if dry_run { None } else { Some(named(&opened, env)?) };
            let report = import(&file, options, opened.contacts.as_ref(), named.as_ref(), out).await?;
            writeln!(out, "{}", report.summary(dry_run)).map_err(|e| e.to_string())?;
            Ok(if report.refused == 0 { 0 } else { ROWS_REFUSED })
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
            if named(&opened, env)?.file(&contact).await.map_err(|e| e.to_string())? {
                writeln!(
                    out,
                    "never heard of: filed to be asked its provider (esimhooks reconcile)"
                )
                .map_err(|e| e.to_string())?;
            }
            if let Some(partner) = &contact.partner_id {
                writeln!(out, "belongs to partner {partner}").map_err(|e| e.to_string())?;
            }
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
        partner_id: set.partner_id,
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
        partner_id: pick(given.partner_id, old.partner_id),
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
        ("channels", Some(contact.channels.as_text())),
        ("partner_id", contact.partner_id.as_ref().map(ToString::to_string)),
    ];
    for (name, value) in rows {
        writeln!(out, "{name:<12} {}", value.as_deref().unwrap_or("-"))?;
    }
    Ok(())
}
