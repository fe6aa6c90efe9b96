//! `partners add`, `rotate` and `rotate-secret`: the credentials a partner holds, each shown once.

use super::{contact_email, existing, io, parse_id, scope_said};
use chrono::{DateTime, Utc};
use shared::callbacks::partner::{generate_key, Partner, Scope, SIGNING_OVERLAP};
use shared::callbacks::registry::CallbackRegistry;
use shared::callbacks::signing::SigningSecret;
use std::io::Write;

fn no_random(e: impl std::fmt::Display) -> String {
    format!("no random source: {e}")
}

pub(super) async fn add(
    registry: &dyn CallbackRegistry,
    id: &str,
    name: Option<&str>,
    contact: Option<&str>,
    scope: Scope,
    now: DateTime<Utc>,
    out: &mut dyn Write,
) -> Result<(), String> {
    let id = parse_id(id)?;
    let contact = contact.map(contact_email).transpose()?;
    if registry.partner(&id).await.map_err(|e| e.to_string())?.is_some() {
        return Err(format!(
            "partner {id} exists; use `esimhooks partners rotate {id}` for a new key"
        ));
    }
    let key = generate_key().map_err(no_random)?;
    let (secret, secret_text) = SigningSecret::generate().map_err(no_random)?;
    let mut partner = Partner {
        name: name.map_or_else(|| id.to_string(), str::to_string),
        id,
        key_hashes: Vec::new(),
        created_at: now,
        signing_keys: Vec::new(),
        contact_email: contact,
        scope,
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
    .map_err(io)
}

pub(super) async fn rotate(registry: &dyn CallbackRegistry, id: &str, out: &mut dyn Write) -> Result<(), String> {
    let id = parse_id(id)?;
    let mut partner = existing(registry, &id).await?;
    let key = generate_key().map_err(no_random)?;
    partner.add_key(&key);
    registry.save_partner(&partner).await.map_err(|e| e.to_string())?;
    writeln!(
        out,
        "new API key for {id} (shown once; the previous key works until the next rotation):\n{key}"
    )
    .map_err(io)
}

pub(super) async fn rotate_secret(
    registry: &dyn CallbackRegistry,
    id: &str,
    overlap_hours: i64,
    now: DateTime<Utc>,
    out: &mut dyn Write,
) -> Result<(), String> {
    let id = parse_id(id)?;
    let mut partner = existing(registry, &id).await?;
    let (secret, text) = SigningSecret::generate().map_err(no_random)?;
    partner.rotate_signing_key(secret, now, chrono::Duration::hours(overlap_hours.max(0)));
    registry.save_partner(&partner).await.map_err(|e| e.to_string())?;
    writeln!(
        out,
        "new signing secret for {id} (shown once; the previous one also signs for {overlap_hours} h):\n{text}"
    )
    .map_err(io)
}
