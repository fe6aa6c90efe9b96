//! `esimhooks esims assign <ICCID|ref> --partner ID [--provider P]` and `esims unassign`: which partner an
//! eSIM belongs to, for eSIMs without a contact in the directory (a contact's `partner_id` does the same).
//! The owner is kept on the eSIM's state (`shared::ownership`); partners of scope `own` hear of their eSIMs
//! only.

use crate::backend::BackendArgs;
use chrono::{DateTime, Duration, Utc};
use clap::Subcommand;
use shared::callbacks::registry::CallbackRegistry;
use shared::model::{PartnerId, ProviderId};
use shared::ownership::{assign, Assigned};
use shared::store::{EventStore, ListQuery, StoreQuery};
use std::io::Write;

#[derive(Debug, Subcommand)]
pub enum EsimsCommand {
    /// Make a partner the owner of an eSIM: its callbacks hear of it (partners of scope own hear of nothing
    /// else). An eSIM never heard of needs --provider, and is recorded for its first delivery.
    Assign {
        /// The eSIM's ICCID or the provider's eSIM reference.
        esim: String,
        #[arg(long)]
        partner: String,
        /// The eSIM's provider; needed for an eSIM never heard of, or one several providers know.
        #[arg(long, value_parser = crate::provider_arg)]
        provider: Option<ProviderId>,
        #[command(flatten)]
        backend: BackendArgs,
    },
    /// Take an eSIM from its partner: only partners of scope all hear of it then.
    Unassign {
        esim: String,
        #[arg(long, value_parser = crate::provider_arg)]
        provider: Option<ProviderId>,
        #[command(flatten)]
        backend: BackendArgs,
    },
}

/// How far back an eSIM named without its provider is looked for.
const LOOKBACK_DAYS: i64 = 400;

/// The eSIMs (provider, state key) `esim` names: under `provider` as given, else every eSIM heard of whose
/// key, ICCID or reference it is.
async fn named(
    query: &dyn StoreQuery,
    esim: &str,
    provider: Option<ProviderId>,
    now: DateTime<Utc>,
) -> Result<Vec<(ProviderId, String)>, String> {
    let window = ListQuery {
        provider,
        since: Some(now - Duration::days(LOOKBACK_DAYS)),
        until: Some(now + Duration::minutes(1)),
        limit: None,
    };
    let found = query.esims_named(esim, &window).await.map_err(|e| e.to_string())?;
    Ok(found.into_iter().map(|e| (e.provider, e.key)).collect())
}

/// Assigns (or with `owner` none, unassigns) every eSIM `esim` names; one never heard of is recorded under
/// `provider` as given. Returns what it printed.
pub async fn set_owner(
    events: &dyn EventStore,
    query: &dyn StoreQuery,
    esim: &str,
    provider: Option<ProviderId>,
    owner: Option<&PartnerId>,
    now: DateTime<Utc>,
    out: &mut dyn Write,
) -> Result<(), String> {
    let esim = esim.trim();
    if esim.is_empty() || esim.len() > 128 || !esim.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("name the eSIM by its ICCID or the provider's eSIM reference".into());
    }
    let mut found = named(query, esim, provider, now).await?;
    if found.is_empty() {
        match (provider, owner) {
            (Some(provider), Some(_)) => found.push((provider, esim.to_string())),
            (None, Some(_)) => {
                return Err(format!(
                    "no eSIM {esim} was heard of: say its --provider to assign it before its first delivery"
                ))
            }
            (_, None) => return Err(format!("no eSIM {esim} was heard of")),
        }
    }
    let providers: std::collections::BTreeSet<ProviderId> = found.iter().map(|(p, _)| *p).collect();
    if providers.len() > 1 {
        let names: Vec<String> = providers.iter().map(ToString::to_string).collect();
        return Err(format!(
            "{esim} names eSIMs of {}: say which with --provider",
            names.join(", ")
        ));
    }
    for (provider, key) in found {
        let iccid = shared::text::is_plausible_iccid(&key).then(|| key.clone());
        let assigned = assign(events, provider, &key, owner, now, |state| state.iccid = iccid.clone())
            .await
            .map_err(|e| e.to_string())?;
        let whose = owner.map_or("no partner".to_string(), |o| format!("partner {o}"));
        let said = match assigned {
            Assigned::Unchanged => format!("{provider} {key} already belongs to {whose}"),
            Assigned::Changed => format!("{provider} {key} now belongs to {whose}"),
            Assigned::Created => {
                format!("{provider} {key} never heard of: belongs to {whose} from its first delivery")
            }
        };
        writeln!(out, "{said}").map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Runs one `esims` command; `registry` is where partners are kept (an unknown partner is refused).
pub async fn run(
    command: &EsimsCommand,
    events: &dyn EventStore,
    query: &dyn StoreQuery,
    registry: &dyn CallbackRegistry,
    now: DateTime<Utc>,
    out: &mut dyn Write,
) -> Result<(), String> {
    match command {
        EsimsCommand::Assign {
            esim,
            partner,
            provider,
            ..
        } => {
            let id = PartnerId::parse(partner).ok_or_else(|| format!("invalid partner id {partner:?}"))?;
            let known = registry.partner(&id).await.map_err(|e| e.to_string())?;
            let partner = known.ok_or_else(|| format!("no partner {id}: add it with `esimhooks partners add {id}`"))?;
            set_owner(events, query, esim, *provider, Some(&partner.id), now, out).await?;
            if partner.scope == shared::model::Scope::All {
                writeln!(out, "(partner {id} has scope all: it hears of every eSIM anyway)")
                    .map_err(|e| e.to_string())?;
            }
            Ok(())
        }
        EsimsCommand::Unassign { esim, provider, .. } => {
            set_owner(events, query, esim, *provider, None, now, out).await
        }
    }
}

impl EsimsCommand {
    pub fn backend(&self) -> &BackendArgs {
        match self {
            Self::Assign { backend, .. } | Self::Unassign { backend, .. } => backend,
        }
    }
}

/// Runs `command` on the backend it names.
pub async fn run_opened(command: &EsimsCommand, out: &mut dyn Write) -> Result<(), String> {
    use shared::clock::{Clock, SystemClock};
    let backend = command.backend();
    let opened = backend.open(false).await?;
    let now = SystemClock.now();
    let (events, query) = (opened.events.as_ref(), opened.query.as_ref());
    match &opened.local {
        Some(local) => run(command, events, query, local.as_ref(), now, out).await,
        None => {
            let table = backend
                .table
                .as_deref()
                .ok_or("the aws backend needs --table or ESIMHOOKS_TABLE")?;
            let sdk = shared::aws::sdk_config().await;
            let registry = shared::backends::dynamodb::DynamoRegistry::new(aws_sdk_dynamodb::Client::new(&sdk), table);
            run(command, events, query, &registry, now, out).await
        }
    }
}
