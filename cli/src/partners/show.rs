//! `partners types`, `attempts` and `list`: what can be registered, what was attempted, who is a partner.

use super::{io, parse_id};
use chrono::{DateTime, Utc};
use shared::callbacks::delivery::Verdict;
use shared::callbacks::registry::CallbackRegistry;
use shared::callbacks::sender::AttemptLog;
use shared::callbacks::NotificationType;
use shared::customers::mask_email;
use std::io::Write;

pub(super) fn types(json: bool, out: &mut dyn Write) -> Result<(), String> {
    if json {
        let types: Vec<_> = NotificationType::ALL
            .iter()
            .map(|t| serde_json::json!({"number": t.number(), "name": t.name(), "description": t.description()}))
            .collect();
        return writeln!(out, "{}", serde_json::Value::from(types)).map_err(io);
    }
    for t in NotificationType::ALL {
        writeln!(out, "{:>3}  {:<24} {}", t.number(), t.name(), t.description()).map_err(io)?;
    }
    Ok(())
}

/// The partner's delivery attempts of the last 30 days, newest first.
pub(super) async fn attempts(
    log: Option<&dyn AttemptLog>,
    id: &str,
    limit: usize,
    json: bool,
    now: DateTime<Utc>,
    out: &mut dyn Write,
) -> Result<(), String> {
    let id = parse_id(id)?;
    let log = log.ok_or("this command needs --table or ESIMHOOKS_TABLE")?;
    let since = now - chrono::Duration::days(30);
    let found = log
        .attempts(&id, since, now + chrono::Duration::seconds(1), limit.clamp(1, 1000))
        .await
        .map_err(|e| e.to_string())?;
    if json {
        return writeln!(out, "{}", serde_json::to_string(&found).map_err(|e| e.to_string())?).map_err(io);
    }
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
            Verdict::RetryIn(after) => format!("retry in {}s", after.num_seconds()),
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
    Ok(())
}

/// Every partner, never its keys; the contact masked.
pub(super) async fn list(registry: &dyn CallbackRegistry, json: bool, out: &mut dyn Write) -> Result<(), String> {
    let partners = registry.partners().await.map_err(|e| e.to_string())?;
    if json {
        let rows: Vec<_> = partners
            .iter()
            .map(|p| {
                serde_json::json!({"id": p.id, "name": p.name, "keys": p.key_hashes.len(), "scope": p.scope,
                    "created_at": p.created_at, "contact_email": p.contact_email.as_deref().map(mask_email)})
            })
            .collect();
        return writeln!(out, "{}", serde_json::Value::from(rows)).map_err(io);
    }
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
    Ok(())
}
