//! `esimhooks partners`: the operator's side of partner callbacks. Partners are created here (their API key
//! is printed once and only its hash is stored), keys are rotated here, partners are removed here (keys,
//! callbacks and SNS subscriptions), and the notification types are listed.

use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use shared::callbacks::offboard::{remove_partner, retire_sns_subscriptions};
use shared::callbacks::partner::{generate_key, Partner, PartnerId, SIGNING_OVERLAP};
use shared::callbacks::registry::CallbackRegistry;
use shared::callbacks::sender::AttemptLog;
use shared::callbacks::signing::SigningSecret;
use shared::callbacks::transport::CallbackTransport;
use shared::callbacks::NotificationType;
use std::collections::BTreeSet;
use std::io::Write;

#[derive(Debug, Args)]
pub struct PartnersArgs {
    #[command(subcommand)]
    pub command: PartnersCommand,
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

fn parse_id(text: &str) -> Result<PartnerId, String> {
    PartnerId::parse(text).ok_or_else(|| {
        format!("invalid partner id {text:?}: use 3 to 64 of a-z, 0-9 and -, not all, v1, webhooks or callbacks")
    })
}

/// Where a partners command works: the registry (None only for `types`), the topic (`remove`, `retire-sns`)
/// and the attempt log (`attempts`).
#[derive(Clone, Copy, Default)]
pub struct Backends<'a> {
    pub registry: Option<&'a dyn CallbackRegistry>,
    pub transport: Option<&'a dyn CallbackTransport>,
    pub attempts: Option<&'a dyn AttemptLog>,
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
        PartnersCommand::Add { id, name } => {
            let registry = need()?;
            let id = parse_id(id)?;
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
                contact_email: None,
            };
            partner.add_key(&key);
            partner.rotate_signing_key(secret, now, SIGNING_OVERLAP);
            registry.save_partner(&partner).await.map_err(|e| e.to_string())?;
            writeln!(
                out,
                "partner {} created. Shown once, store them now:\nAPI key: {key}\nsigning secret: {secret_text}",
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
        PartnersCommand::RotateSecret { id, overlap_hours } => {
            let registry = need()?;
            let id = parse_id(id)?;
            let mut partner = registry
                .partner(&id)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("no partner {id}"))?;
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
                for a in &found {
                    let answer = match (a.status, &a.error) {
                        (Some(status), _) => status.to_string(),
                        (None, Some(error)) => error.clone(),
                        (None, None) => "-".into(),
                    };
                    let verdict = serde_json::to_string(&a.verdict).unwrap_or_default();
                    writeln!(
                        out,
                        "{}  {}  type {:<3} attempt {:<2} {:>6} ms  {:<24} {}  {}",
                        a.at.to_rfc3339(),
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
        let backends = Backends {
            registry: Some(registry),
            ..Backends::default()
        };
        run(&command, backends, Utc::now(), &mut out).await?;
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
        let first = added
            .lines()
            .find_map(|l| l.strip_prefix("API key: "))
            .unwrap()
            .to_string();
        let id = PartnerId::parse("acme").unwrap();
        let stored = registry.partner(&id).await.unwrap().unwrap();
        assert!(stored.accepts(&first));
        // The signing secret is shown once and signs the partner's callbacks.
        let secret = added.lines().find_map(|l| l.strip_prefix("signing secret: ")).unwrap();
        assert!(secret.starts_with("whsec_"));
        assert_eq!(
            stored.signing_secrets(Utc::now()),
            [SigningSecret::parse(secret).unwrap()]
        );
        let rotated_secret = run_text(
            PartnersCommand::RotateSecret {
                id: "acme".into(),
                overlap_hours: 24,
            },
            &registry,
        )
        .await
        .unwrap();
        let new_secret = SigningSecret::parse(printed_key(&rotated_secret).as_str()).unwrap();
        let signing = registry
            .partner(&id)
            .await
            .unwrap()
            .unwrap()
            .signing_secrets(Utc::now());
        assert_eq!(signing.len(), 2, "both sign during the overlap");
        assert_eq!(signing[0], new_secret);
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
    async fn remove_says_what_it_would_do_then_revokes_keys_and_removes_endpoints_with_yes() {
        use shared::callbacks::registry::{Endpoint, Registration};
        use shared::callbacks::transport::MemoryTransport;
        let registry = MemoryRegistry::default();
        let transport = MemoryTransport::default();
        let add = PartnersCommand::Add {
            id: "acme".into(),
            name: None,
        };
        run_text(add, &registry).await.unwrap();
        let id = PartnerId::parse("acme").unwrap();
        let url = "https://hooks.acme.example/esim";
        let arn = "arn:aws:sns:us-east-1:1:alerts:old".to_string();
        for kind in [NotificationType::ALL[0], NotificationType::ALL[1]] {
            let registration = Registration {
                partner: id.clone(),
                notification_type: kind,
                url: url.into(),
                created_at: Utc::now(),
                updated_at: Utc::now(),
            };
            registry.save_registration(&registration).await.unwrap();
        }
        let endpoint = Endpoint {
            url: url.into(),
            partner: id.clone(),
            subscription_arn: arn,
            failing_since: None,
            disabled_at: None,
        };
        registry.save_endpoint(&endpoint).await.unwrap();
        let remove = |yes| PartnersCommand::Remove { id: "acme".into(), yes };

        let dry = run_text(remove(false), &registry).await.unwrap();
        assert!(dry.contains("2 callbacks at 1 URLs"), "{dry}");
        assert!(registry.partner(&id).await.unwrap().is_some());
        let only_registry = Backends {
            registry: Some(&registry),
            ..Backends::default()
        };
        let refused = run(&remove(true), only_registry, Utc::now(), &mut Vec::new()).await;
        assert!(refused.unwrap_err().contains("ESIMHOOKS_TOPIC_ARN"));

        let mut out = Vec::new();
        let both = Backends {
            registry: Some(&registry),
            transport: Some(&transport),
            ..Backends::default()
        };
        run(&remove(true), both, Utc::now(), &mut out).await.unwrap();
        let said = String::from_utf8(out).unwrap();
        assert!(said.contains("2 callbacks and 1 endpoints"), "{said}");
        assert!(registry.partner(&id).await.unwrap().is_none());
        assert_eq!(transport.unsubscribed(), ["arn:aws:sns:us-east-1:1:alerts:old"]);
        let again = run_text(remove(true), &registry).await;
        assert!(again.unwrap_err().contains("no partner"));
    }

    #[tokio::test]
    async fn attempts_are_listed_for_one_partner() {
        use shared::callbacks::delivery::Verdict;
        let now = Utc::now();
        let attempt = |partner: &str, status: Option<u16>, verdict| shared::callbacks::sender::AttemptRecord {
            partner: PartnerId::parse(partner).unwrap(),
            url: format!("https://{partner}.example/hooks"),
            notification_id: "ntf_1".into(),
            notification_type: 1,
            attempt: 1,
            at: now - chrono::Duration::minutes(1),
            status,
            error: status.is_none().then(|| "no answer within 15 s".into()),
            latency_ms: 15_000,
            verdict,
        };
        let log = shared::callbacks::sender::MemoryAttemptLog::default();
        log.record(&attempt("acme", None, Verdict::RetryIn(chrono::Duration::seconds(5))))
            .await
            .unwrap();
        log.record(&attempt("globex", Some(200), Verdict::Delivered))
            .await
            .unwrap();
        let backends = Backends {
            attempts: Some(&log),
            ..Backends::default()
        };
        let command = PartnersCommand::Attempts {
            id: "acme".into(),
            limit: 20,
            json: false,
        };
        let mut out = Vec::new();
        run(&command, backends, now, &mut out).await.unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(
            text.contains("no answer within 15 s") && text.contains("acme.example"),
            "{text}"
        );
        let missing = run(&command, Backends::default(), now, &mut Vec::new()).await;
        assert!(missing.unwrap_err().contains("--table"));
    }

    #[tokio::test]
    async fn types_are_listed_with_their_numbers() {
        let mut out = Vec::new();
        run(
            &PartnersCommand::Types { json: true },
            Backends::default(),
            Utc::now(),
            &mut out,
        )
        .await
        .unwrap();
        let types: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(types.as_array().unwrap().len(), NotificationType::ALL.len());
        assert_eq!(types[0]["number"], 1);
        assert_eq!(types[0]["name"], "alert.low_data");
    }
}
