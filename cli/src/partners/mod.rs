//! `esimhooks partners`: the operator's side of partner callbacks, on the local store (what `serve` delivers
//! from) or the deployed table. Partners are created here (their API key and signing secret are printed once;
//! only the key's hash is stored), keys and secrets are rotated here, partners are removed here (keys,
//! callbacks and SNS subscriptions from before), their attempts are read and their failed deliveries
//! recovered here, and the notification types are listed.

use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use shared::callbacks::partner::{Partner, PartnerId, Scope};
use shared::callbacks::registry::CallbackRegistry;
use shared::callbacks::sender::{AttemptLog, JobQueue};
use shared::callbacks::transport::CallbackTransport;
use shared::customers::is_email_address;
use std::io::Write;

#[derive(Debug, Args)]
pub struct PartnersArgs {
    #[command(subcommand)]
    pub command: PartnersCommand,
    /// Where partners are kept: the local SQLite file `serve` uses, or the deployed table. By default, aws
    /// when a table is named (--table or ESIMHOOKS_TABLE), else local.
    #[arg(long, value_enum, env = "ESIMHOOKS_BACKEND", global = true)]
    pub backend: Option<crate::backend::BackendKind>,
    /// SQLite file for the local backend.
    #[arg(long, default_value = "esimhooks.db", env = "ESIMHOOKS_DB", global = true)]
    pub db: std::path::PathBuf,
    /// The callback sender's queue (the stack's CallbacksQueueUrl output): `recover` queues deliveries on it.
    #[arg(long, env = "ESIMHOOKS_CALLBACKS_QUEUE_URL", global = true)]
    pub queue_url: Option<String>,
    /// The DynamoDB table (the stack's EventsTableName output).
    #[arg(long, env = "ESIMHOOKS_TABLE", global = true)]
    pub table: Option<String>,
    /// The alerts topic partners' callbacks are subscribed to (the stack's AlertsTopicArn output); `remove`
    /// needs it to unsubscribe them.
    #[arg(long, env = "ESIMHOOKS_TOPIC_ARN", global = true)]
    pub topic_arn: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum PartnersCommand {
    /// Create a partner and print its API key (shown once; only its hash is stored) and the secret its
    /// callbacks are signed with (Standard Webhooks `whsec_…`, shown once).
    Add {
        /// 3–64 of a-z, 0-9 and "-"; it is the {partnerId} in the API's paths.
        id: String,
        /// A display name.
        #[arg(long)]
        name: Option<String>,
        /// Who is emailed when one of the partner's endpoints is disabled.
        #[arg(long)]
        contact_email: Option<String>,
        /// What it hears of: `own` (the eSIMs assigned to it) or `all` (every eSIM: the operator's own
        /// systems).
        #[arg(long, default_value = "own", value_parser = scope_arg)]
        scope: Scope,
    },
    /// Set what a partner hears of: `own` (the eSIMs assigned to it) or `all` (every eSIM).
    Scope {
        id: String,
        #[arg(value_parser = scope_arg)]
        scope: Scope,
    },
    /// Set (or with --clear, remove) who is emailed when one of the partner's endpoints is disabled.
    Contact {
        id: String,
        #[arg(long, required_unless_present = "clear", conflicts_with = "clear")]
        email: Option<String>,
        #[arg(long)]
        clear: bool,
    },
    /// Queue again every delivery to the partner that failed (schedule spent, endpoint disabled) since a time.
    Recover {
        id: String,
        /// RFC 3339 (2026-12-01T00:00:00Z), `today` or an age like 1h, 7d; within the last 30 days.
        #[arg(long)]
        since: String,
    },
    /// Issue a new API key; the previous one keeps working until the next rotation.
    Rotate { id: String },
    /// Issue a new callback signing secret (shown once); the previous one also signs for the overlap.
    RotateSecret {
        id: String,
        /// Hours the previous secret keeps signing.
        #[arg(long, default_value_t = 24)]
        overlap_hours: i64,
    },
    /// Remove a partner for good: its keys stop working, and every callback it registered is removed with its
    /// SNS subscription. Without --yes, only says what would be removed.
    Remove {
        id: String,
        #[arg(long)]
        yes: bool,
    },
    /// Remove the SNS HTTPS subscriptions partner callbacks used before esimhooks delivered them itself (once,
    /// after deploying the callback sender), so no partner is called twice.
    RetireSns,
    /// A partner's callback delivery attempts, newest first (the last 30 days).
    Attempts {
        id: String,
        #[arg(long, default_value_t = 20)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// List partners (never their keys).
    List {
        #[arg(long)]
        json: bool,
    },
    /// List the notification types partners can register callbacks for.
    Types {
        #[arg(long)]
        json: bool,
    },
}

impl PartnersCommand {
    pub fn needs_registry(&self) -> bool {
        !matches!(self, Self::Types { .. })
    }
}

fn scope_arg(text: &str) -> Result<Scope, String> {
    Scope::parse(text).ok_or_else(|| format!("{text:?} is not a scope: say own or all"))
}

fn parse_id(text: &str) -> Result<PartnerId, String> {
    PartnerId::parse(text).ok_or_else(|| {
        format!("invalid partner id {text:?}: use 3 to 64 of a-z, 0-9 and -, not all, v1, webhooks or callbacks")
    })
}

/// Where a partners command works: the registry (None only for `types`), the topic (`remove`, `retire-sns`),
/// the attempt log (`attempts`, `recover`) and the sender's queue (`recover`).
#[derive(Clone, Copy, Default)]
pub struct Backends<'a> {
    pub registry: Option<&'a dyn CallbackRegistry>,
    pub transport: Option<&'a dyn CallbackTransport>,
    pub attempts: Option<&'a dyn AttemptLog>,
    pub jobs: Option<&'a dyn JobQueue>,
}

async fn existing(registry: &dyn CallbackRegistry, id: &PartnerId) -> Result<Partner, String> {
    registry
        .partner(id)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no partner {id}"))
}

/// A contact address as the operator typed it, checked as the customer directory checks emails.
fn contact_email(text: &str) -> Result<String, String> {
    let email = text.trim();
    match is_email_address(email) {
        true => Ok(email.to_string()),
        false => Err(format!("{email:?} is not an email address")),
    }
}

fn scope_said(scope: Scope) -> &'static str {
    match scope {
        Scope::Own => {
            "its own eSIMs only (scope own: assign them with `esimhooks esims assign` or a directory partner_id)"
        }
        Scope::All => "every eSIM (scope all)",
    }
}

/// Runs one partners command.
pub async fn run(
    command: &PartnersCommand,
    backends: Backends<'_>,
    now: DateTime<Utc>,
    out: &mut dyn Write,
) -> Result<(), String> {
    let registry = || backends.registry.ok_or("this command needs --table or ESIMHOOKS_TABLE");
    match command {
        PartnersCommand::Types { json } => show::types(*json, out),
        PartnersCommand::Add {
            id,
            name,
            contact_email,
            scope,
        } => {
            keys::add(
                registry()?,
                id,
                name.as_deref(),
                contact_email.as_deref(),
                *scope,
                now,
                out,
            )
            .await
        }
        PartnersCommand::Scope { id, scope } => manage::scope(registry()?, id, *scope, out).await,
        PartnersCommand::Contact { id, email, clear } => {
            manage::contact(registry()?, id, email.as_deref(), *clear, out).await
        }
        PartnersCommand::Recover { id, since } => manage::recover_failed(backends, id, since, now, out).await,
        PartnersCommand::Rotate { id } => keys::rotate(registry()?, id, out).await,
        PartnersCommand::RotateSecret { id, overlap_hours } => {
            keys::rotate_secret(registry()?, id, *overlap_hours, now, out).await
        }
        PartnersCommand::Remove { id, yes } => manage::remove(registry()?, backends.transport, id, *yes, out).await,
        PartnersCommand::RetireSns => manage::retire_sns(registry()?, backends.transport, out).await,
        PartnersCommand::Attempts { id, limit, json } => {
            show::attempts(backends.attempts, id, *limit, *json, now, out).await
        }
        PartnersCommand::List { json } => show::list(registry()?, *json, out).await,
    }
}

/// An output failure, as a command's error.
fn io(e: std::io::Error) -> String {
    e.to_string()
}

mod keys;
mod manage;
pub mod open;
mod show;
#[cfg(test)]
mod tests;
