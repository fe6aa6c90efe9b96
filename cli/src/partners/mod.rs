//! `esimhooks partners`: the operator's side of partner callbacks, on the local store (what `serve` delivers
//! from) or the deployed table. Partners are created here (their API key and signing secret are printed once;
//! only the key's hash is stored), keys and secrets are rotated here, partners are removed here (keys,
//! callbacks and SNS subscriptions from before), their attempts are read and their failed deliveries
//! recovered here, and the notification types are listed.

use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use shared::callbacks::offboard::{remove_partner, retire_sns_subscriptions};
use shared::callbacks::partner::{generate_key, Partner, PartnerId, Scope, SIGNING_OVERLAP};
use shared::callbacks::recovery::{recover, MAX_RECOVERED_PER_CALL};
use shared::callbacks::registry::CallbackRegistry;
use shared::callbacks::sender::{AttemptLog, JobQueue};
use shared::callbacks::signing::SigningSecret;
use shared::callbacks::transport::CallbackTransport;
use shared::callbacks::NotificationType;
use shared::customers::{is_email_address, mask_email};
use std::collections::BTreeSet;
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
    let Backends {
        registry,
        transport,
        attempts,
        jobs,
    } = backends;
    let io = |e: std::io::Error| e.to_string();
    let need = || registry.ok_or("this command needs --table or ESIMHOOKS_TABLE");
    match command {
        PartnersCommand::Types { json } => {
            if *json {
                let types: Vec<_> = NotificationType::ALL
                    .iter()
                    .map(
                        |t| serde_json::json!({"number": t.number(), "name": t.name(), "description": t.description()}),
                    )
                    .collect();
                writeln!(out, "{}", serde_json::Value::from(types)).map_err(io)?;
            } else {
                for t in NotificationType::ALL {
                    writeln!(out, "{:>3}  {:<24} {}", t.number(), t.name(), t.description()).map_err(io)?;
                }
            }
        }
        PartnersCommand::Add {
            id,
            name,
            contact_email: contact,
            scope,
        } => {
            let registry = need()?;
            let id = parse_id(id)?;
            let contact = contact.as_deref().map(contact_email).transpose()?;
            if registry.partner(&id).await.map_err(|e| e.to_string())?.is_some() {
                return Err(format!(
                    "partner {id} exists; use `esimhooks partners rotate {id}` for a new key"
                ));
            }
            let key = generate_key().map_err(|e| format!("no random source: {e}"))?;
            let (secret, secret_text) = SigningSecret::generate().map_err(|e| format!("no random source: {e}"))?;
            let mut partner = Partner {
                name: name.clone().unwrap_or_else(|| id.to_string()),
                id,
                key_hashes: Vec::new(),
                created_at: now,
                signing_keys: Vec::new(),
                contact_email: contact,
                scope: *scope,
            };
            partner.add_key(&key);
            partner.rotate_signing_key(secret, now, SIGNING_OVERLAP);
            registry.save_partner(&partner).await.map_err(|e| e.to_string())?;
            writeln!(
                out,
                "partner {} created, hearing of {}. Shown once, store them now:\nAPI key: {key}\nsigning secret: {secret_text}",
                partner.id,
                scope_said(partner.scope)
            )
            .map_err(io)?;
        }
        PartnersCommand::Scope { id, scope } => {
            let registry = need()?;
            let id = parse_id(id)?;
            let mut partner = existing(registry, &id).await?;
            partner.scope = *scope;
            registry.save_partner(&partner).await.map_err(|e| e.to_string())?;
            writeln!(out, "{id} hears of {}", scope_said(partner.scope)).map_err(io)?;
        }
        PartnersCommand::Contact { id, email, clear } => {
            let registry = need()?;
            let id = parse_id(id)?;
            let mut partner = existing(registry, &id).await?;
            partner.contact_email = match (email, clear) {
                (_, true) => None,
                (Some(email), false) => Some(contact_email(email)?),
                (None, false) => return Err("say --email ADDRESS or --clear".into()),
            };
            registry.save_partner(&partner).await.map_err(|e| e.to_string())?;
            let said = match &partner.contact_email {
                Some(email) => format!("{id} is emailed at {} when an endpoint is disabled", mask_email(email)),
                None => format!("{id} has no contact email"),
            };
            writeln!(out, "{said}").map_err(io)?;
        }
        PartnersCommand::Recover { id, since } => {
            let id = parse_id(id)?;
            let log = attempts.ok_or("recover needs the attempt log: --table or the local --db")?;
            let jobs =
                jobs.ok_or("recover on aws needs the sender's queue: --queue-url or ESIMHOOKS_CALLBACKS_QUEUE_URL")?;
            let partner = existing(need()?, &id).await?;
            let since = crate::listing::parse_since(since, now)?.max(now - chrono::Duration::days(30));
            let mut resent = 0;
            loop {
                let round = recover(log, jobs, &partner, since, MAX_RECOVERED_PER_CALL)
                    .await
                    .map_err(|e| e.to_string())?;
                resent += round.resent;
                if !round.more {
                    break;
                }
            }
            writeln!(
                out,
                "{resent} failed deliveries to {id} since {} queued again",
                since.to_rfc3339()
            )
            .map_err(io)?;
        }
        PartnersCommand::Rotate { id } => {
            let registry = need()?;
            let id = parse_id(id)?;
            let mut partner = existing(registry, &id).await?;
            let key = generate_key().map_err(|e| format!("no random source: {e}"))?;
            partner.add_key(&key);
            registry.save_partner(&partner).await.map_err(|e| e.to_string())?;
            writeln!(
                out,
                "new API key for {id} (shown once; the previous key works until the next rotation):\n{key}"
            )
            .map_err(io)?;
        }
        PartnersCommand::RotateSecret { id, overlap_hours } => {
            let registry = need()?;
            let id = parse_id(id)?;
            let mut partner = existing(registry, &id).await?;
            let (secret, text) = SigningSecret::generate().map_err(|e| format!("no random source: {e}"))?;
            partner.rotate_signing_key(secret, now, chrono::Duration::hours((*overlap_hours).max(0)));
            registry.save_partner(&partner).await.map_err(|e| e.to_string())?;
            writeln!(
                out,
                "new signing secret for {id} (shown once; the previous one also signs for {overlap_hours} h):\n{text}"
            )
            .map_err(io)?;
        }
        PartnersCommand::Remove { id, yes } => {
            let registry = need()?;
            let id = parse_id(id)?;
            let failed = |e: &dyn std::fmt::Display| e.to_string();
            if registry.partner(&id).await.map_err(|e| failed(&e))?.is_none() {
                return Err(format!("no partner {id}"));
            }
            if !*yes {
                let registered = registry.registrations(&id).await.map_err(|e| failed(&e))?;
                let urls: BTreeSet<&str> = registered.iter().map(|r| r.url.as_str()).collect();
                writeln!(
                    out,
                    "would remove partner {id}: its API keys and {} callbacks at {} URLs (run again with --yes)",
                    registered.len(),
                    urls.len()
                )
                .map_err(io)?;
                return Ok(());
            }
            let transport = transport.ok_or(
                "removing a partner needs --topic-arn or ESIMHOOKS_TOPIC_ARN (SNS subscriptions from before are removed)",
            )?;
            let removed = remove_partner(registry, transport, &id)
                .await
                .map_err(|e| failed(&e))?
                .ok_or_else(|| format!("no partner {id}"))?;
            writeln!(
                out,
                "partner {id} removed: its API keys, {} callbacks and {} endpoints",
                removed.callbacks, removed.endpoints
            )
            .map_err(io)?;
        }
        PartnersCommand::RetireSns => {
            let registry = need()?;
            let transport = transport.ok_or("retire-sns needs --topic-arn or ESIMHOOKS_TOPIC_ARN")?;
            let retired = retire_sns_subscriptions(registry, transport)
                .await
                .map_err(|e| e.to_string())?;
            writeln!(
                out,
                "{retired} SNS subscriptions of partner callbacks removed: esimhooks delivers callbacks itself now"
            )
            .map_err(io)?;
        }
        PartnersCommand::Attempts { id, limit, json } => {
            let id = parse_id(id)?;
            let log = attempts.ok_or("this command needs --table or ESIMHOOKS_TABLE")?;
            let since = now - chrono::Duration::days(30);
            let found = log
                .attempts(&id, since, now + chrono::Duration::seconds(1), (*limit).clamp(1, 1000))
                .await
                .map_err(|e| e.to_string())?;
            if *json {
                writeln!(out, "{}", serde_json::to_string(&found).map_err(|e| e.to_string())?).map_err(io)?;
            } else {
                let (at, notification, answer) = ("at", "notification", "answer");
                writeln!(
                    out,
                    "{at:<20}  {notification:<36}  type  attempt      ms  {answer:<24}  verdict           url"
                )
                .map_err(io)?;
                for a in &found {
                    let answer = match (a.status, &a.error) {
                        (Some(status), _) => status.to_string(),
                        (None, Some(error)) => error.clone(),
                        (None, None) => "-".into(),
                    };
                    let verdict = match a.verdict {
                        shared::callbacks::delivery::Verdict::RetryIn(after) => {
                            format!("retry in {}s", after.num_seconds())
                        }
                        other => serde_json::to_string(&other).unwrap_or_default(),
                    };
                    writeln!(
                        out,
                        "{:<20}  {:<36}  {:>4}  {:>7}  {:>6}  {:<24}  {:<16}  {}",
                        a.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                        a.notification_id,
                        a.notification_type,
                        a.attempt,
                        a.latency_ms,
                        shared::text::clean(&answer),
                        verdict.trim_matches('"'),
                        a.url
                    )
                    .map_err(io)?;
                }
            }
        }
        PartnersCommand::List { json } => {
            let partners = need()?.partners().await.map_err(|e| e.to_string())?;
            if *json {
                let rows: Vec<_> = partners
                    .iter()
                    .map(|p| serde_json::json!({"id": p.id, "name": p.name, "keys": p.key_hashes.len(), "scope": p.scope, "created_at": p.created_at,
                        "contact_email": p.contact_email.as_deref().map(mask_email)}))
                    .collect();
                writeln!(out, "{}", serde_json::Value::from(rows)).map_err(io)?;
            } else {
                for p in partners {
                    writeln!(
                        out,
                        "{:<24} {:<32} scope={:<3} keys={} created={}",
                        p.id,
                        p.name,
                        p.scope,
                        p.key_hashes.len(),
                        p.created_at.to_rfc3339()
                    )
                    .map_err(io)?;
                }
            }
        }
    }
    Ok(())
}

pub mod open;
#[cfg(test)]
mod tests;
