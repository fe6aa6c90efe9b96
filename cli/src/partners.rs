//! `esimhooks partners`: the operator's side of partner callbacks. Partners are created here (their API key
//! is printed once and only its hash is stored), keys are rotated here, and the notification types are listed.

use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use shared::callbacks::partner::{generate_key, Partner, PartnerId};
use shared::callbacks::registry::CallbackRegistry;
use shared::callbacks::NotificationType;
use std::io::Write;

#[derive(Debug, Args)]
pub struct PartnersArgs {
    #[command(subcommand)]
    pub command: PartnersCommand,
    /// The DynamoDB table (the stack's EventsTableName output).
    #[arg(long, env = "ESIMHOOKS_TABLE", global = true)]
    pub table: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum PartnersCommand {
    /// Create a partner and print its API key (shown once; only its hash is stored).
    Add {
        /// 3–64 of a-z, 0-9 and "-"; it is the {partnerId} in the API's paths.
        id: String,
        /// A display name.
        #[arg(long)]
        name: Option<String>,
    },
    /// Issue a new API key; the previous one keeps working until the next rotation.
    Rotate { id: String },
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

fn parse_id(text: &str) -> Result<PartnerId, String> {
    PartnerId::parse(text).ok_or_else(|| {
        format!("invalid partner id {text:?}: use 3 to 64 of a-z, 0-9 and -, not all, v1, webhooks or callbacks")
    })
}

/// Runs one partners command against `registry` (None only for `types`).
pub async fn run(
    command: &PartnersCommand,
    registry: Option<&dyn CallbackRegistry>,
    now: DateTime<Utc>,
    out: &mut dyn Write,
) -> Result<(), String> {
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
        PartnersCommand::Add { id, name } => {
            let registry = need()?;
            let id = parse_id(id)?;
            if registry.partner(&id).await.map_err(|e| e.to_string())?.is_some() {
                return Err(format!(
                    "partner {id} exists; use `esimhooks partners rotate {id}` for a new key"
                ));
            }
            let key = generate_key().map_err(|e| format!("no random source: {e}"))?;
            let mut partner = Partner {
                name: name.clone().unwrap_or_else(|| id.to_string()),
                id,
                key_hashes: Vec::new(),
                created_at: now,
            };
            partner.add_key(&key);
            registry.save_partner(&partner).await.map_err(|e| e.to_string())?;
            writeln!(
                out,
                "partner {} created. API key (shown once, store it now):\n{key}",
                partner.id
            )
            .map_err(io)?;
        }
        PartnersCommand::Rotate { id } => {
            let registry = need()?;
            let id = parse_id(id)?;
            let mut partner = registry
                .partner(&id)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("no partner {id}"))?;
            let key = generate_key().map_err(|e| format!("no random source: {e}"))?;
            partner.add_key(&key);
            registry.save_partner(&partner).await.map_err(|e| e.to_string())?;
            writeln!(
                out,
                "new API key for {id} (shown once; the previous key works until the next rotation):\n{key}"
            )
            .map_err(io)?;
        }
        PartnersCommand::List { json } => {
            let partners = need()?.partners().await.map_err(|e| e.to_string())?;
            if *json {
                let rows: Vec<_> = partners
                    .iter()
                    .map(|p| serde_json::json!({"id": p.id, "name": p.name, "keys": p.key_hashes.len(), "created_at": p.created_at}))
                    .collect();
                writeln!(out, "{}", serde_json::Value::from(rows)).map_err(io)?;
            } else {
                for p in partners {
                    writeln!(
                        out,
                        "{:<24} {:<32} keys={} created={}",
                        p.id,
                        p.name,
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

#[cfg(test)]
mod tests {
    use super::*;
    use shared::callbacks::registry::MemoryRegistry;

    async fn run_text(command: PartnersCommand, registry: &MemoryRegistry) -> Result<String, String> {
        let mut out = Vec::new();
        run(&command, Some(registry), Utc::now(), &mut out).await?;
        Ok(String::from_utf8(out).unwrap())
    }

    fn printed_key(text: &str) -> String {
        text.lines().last().unwrap().trim().to_string()
    }

    #[tokio::test]
    async fn add_rotate_and_list_keep_only_hashes() {
        let registry = MemoryRegistry::default();
        let added = run_text(
            PartnersCommand::Add {
                id: "acme".into(),
                name: Some("Acme Travel".into()),
            },
            &registry,
        )
        .await
        .unwrap();
        let first = printed_key(&added);
        let id = PartnerId::parse("acme").unwrap();
        let stored = registry.partner(&id).await.unwrap().unwrap();
        assert!(stored.accepts(&first));
        assert!(
            !format!("{stored:?}").contains(&first),
            "the key itself is never stored"
        );

        let again = run_text(
            PartnersCommand::Add {
                id: "acme".into(),
                name: None,
            },
            &registry,
        )
        .await;
        assert!(again.unwrap_err().contains("rotate"));

        let rotated = printed_key(
            &run_text(PartnersCommand::Rotate { id: "acme".into() }, &registry)
                .await
                .unwrap(),
        );
        let stored = registry.partner(&id).await.unwrap().unwrap();
        assert!(stored.accepts(&first) && stored.accepts(&rotated));

        let listed = run_text(PartnersCommand::List { json: true }, &registry).await.unwrap();
        let rows: serde_json::Value = serde_json::from_str(&listed).unwrap();
        assert_eq!(rows[0]["id"], "acme");
        assert_eq!(rows[0]["keys"], 2);
        assert!(!listed.contains(&first) && !listed.contains(&rotated));

        let bad = run_text(
            PartnersCommand::Add {
                id: "v1".into(),
                name: None,
            },
            &registry,
        )
        .await;
        assert!(bad.unwrap_err().contains("invalid partner id"));
        let missing = run_text(PartnersCommand::Rotate { id: "nobody".into() }, &registry).await;
        assert!(missing.unwrap_err().contains("no partner"));
    }

    #[tokio::test]
    async fn types_are_listed_with_their_numbers() {
        let mut out = Vec::new();
        run(&PartnersCommand::Types { json: true }, None, Utc::now(), &mut out)
            .await
            .unwrap();
        let types: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(types.as_array().unwrap().len(), NotificationType::ALL.len());
        assert_eq!(types[0]["number"], 1);
        assert_eq!(types[0]["name"], "alert.low_data");
    }
}
