//! `partners scope`, `contact`, `recover`, `remove` and `retire-sns`: what a partner hears of and who hears
//! of its failures; its failed deliveries sent again; a partner removed for good.

use super::{contact_email, existing, io, parse_id, scope_said, Backends};
use chrono::{DateTime, Utc};
use shared::callbacks::offboard::{remove_partner, retire_sns_subscriptions};
use shared::callbacks::partner::Scope;
use shared::callbacks::recovery::{recover, MAX_RECOVERED_PER_CALL};
use shared::callbacks::registry::CallbackRegistry;
use shared::callbacks::transport::CallbackTransport;
use shared::customers::mask_email;
use std::collections::BTreeSet;
use std::io::Write;

pub(super) async fn scope(
    registry: &dyn CallbackRegistry,
    id: &str,
    scope: Scope,
    out: &mut dyn Write,
) -> Result<(), String> {
    let id = parse_id(id)?;
    let mut partner = existing(registry, &id).await?;
    partner.scope = scope;
    registry.save_partner(&partner).await.map_err(|e| e.to_string())?;
    writeln!(out, "{id} hears of {}", scope_said(partner.scope)).map_err(io)
}

pub(super) async fn contact(
    registry: &dyn CallbackRegistry,
    id: &str,
    email: Option<&str>,
    clear: bool,
    out: &mut dyn Write,
) -> Result<(), String> {
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
    writeln!(out, "{said}").map_err(io)
}

/// Queues again the partner's failed deliveries since `since` (at most the last 30 days).
pub(super) async fn recover_failed(
    backends: Backends<'_>,
    id: &str,
    since: &str,
    now: DateTime<Utc>,
    out: &mut dyn Write,
) -> Result<(), String> {
    let id = parse_id(id)?;
    let log = backends
        .attempts
        .ok_or("recover needs the attempt log: --table or the local --db")?;
    let jobs = backends
        .jobs
        .ok_or("recover on aws needs the sender's queue: --queue-url or ESIMHOOKS_CALLBACKS_QUEUE_URL")?;
    let registry = backends
        .registry
        .ok_or("this command needs --table or ESIMHOOKS_TABLE")?;
    let partner = existing(registry, &id).await?;
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
    .map_err(io)
}

/// Removes a partner with its keys and callbacks; without `yes`, only says what would go.
pub(super) async fn remove(
    registry: &dyn CallbackRegistry,
    transport: Option<&dyn CallbackTransport>,
    id: &str,
    yes: bool,
    out: &mut dyn Write,
) -> Result<(), String> {
    let id = parse_id(id)?;
    if registry.partner(&id).await.map_err(|e| e.to_string())?.is_none() {
        return Err(format!("no partner {id}"));
    }
    if !yes {
        let registered = registry.registrations(&id).await.map_err(|e| e.to_string())?;
        let urls: BTreeSet<&str> = registered.iter().map(|r| r.url.as_str()).collect();
        return writeln!(
            out,
            "would remove partner {id}: its API keys and {} callbacks at {} URLs (run again with --yes)",
            registered.len(),
            urls.len()
        )
        .map_err(io);
    }
    let transport = transport.ok_or(
        "removing a partner needs --topic-arn or ESIMHOOKS_TOPIC_ARN (SNS subscriptions from before are removed)",
    )?;
    let removed = remove_partner(registry, transport, &id)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no partner {id}"))?;
    writeln!(
        out,
        "partner {id} removed: its API keys, {} callbacks and {} endpoints",
        removed.callbacks, removed.endpoints
    )
    .map_err(io)
}

pub(super) async fn retire_sns(
    registry: &dyn CallbackRegistry,
    transport: Option<&dyn CallbackTransport>,
    out: &mut dyn Write,
) -> Result<(), String> {
    let transport = transport.ok_or("retire-sns needs --topic-arn or ESIMHOOKS_TOPIC_ARN")?;
    let retired = retire_sns_subscriptions(registry, transport)
        .await
        .map_err(|e| e.to_string())?;
    writeln!(
        out,
        "{retired} SNS subscriptions of partner callbacks removed: esimhooks delivers callbacks itself now"
    )
    .map_err(io)
}
