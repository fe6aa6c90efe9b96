//! `esimhooks reconcile`: ask providers' APIs for eSIMs' usage and validity and apply what they say (state,
//! alerts, customer messages) as a webhook would. One eSIM now (`--iccid`), known or not, or every eSIM that is
//! due (docs/reconcile.md: a level projected to be crossed, silence, a plan ending without the provider's own
//! notice).

use crate::backend::BackendArgs;
use crate::{pipeline_for, provider_arg};
use clap::Args;
use shared::clock::{Clock, SystemClock};
use shared::config::{Env, Settings};
use shared::model::ProviderId;
use shared::reconcile::client::{credentials_var, reconciler_from_env, ApiTransport, Reconciler};
use shared::reconcile::due::AskingPlan;
use shared::reconcile::{due_esims, reconcile_due, reconcile_one, Ask, AskError, Asked, FiledEsims, ReconcileError};
use shared::store::StoreQuery;
use std::io::Write;
use std::sync::Arc;

#[derive(Debug, Args)]
pub struct ReconcileArgs {
    /// Only this provider (its `<PROVIDER>_API_CREDENTIALS` must be set); default every provider configured.
    #[arg(long, value_parser = provider_arg)]
    pub provider: Option<ProviderId>,
    /// One eSIM, asked now whether due or not: its ICCID, or the provider's eSIM reference (eSIM Access
    /// `esimTranNo`). Needs --provider. Without it, every eSIM that is due is asked.
    #[arg(long)]
    pub iccid: Option<String>,
    /// Say what would be asked (method and URL, or the due eSIMs and why), and ask nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// File every state of the providers asked for its next ask, and ask nothing: for a table of an earlier
    /// release, or a provider just given credentials (states are otherwise filed as they are next saved).
    #[arg(long, conflicts_with_all = ["iccid", "dry_run"])]
    pub refile: bool,
    #[command(flatten)]
    pub backend: BackendArgs,
}

/// The providers asked: the one `named`, or every provider with a usage API and credentials.
async fn reconcilers(
    named: Option<ProviderId>,
    plan: &AskingPlan,
    env: Env<'_>,
    secrets: &dyn shared::config::SecretSource,
    transport: Arc<dyn ApiTransport>,
) -> Result<Vec<Reconciler>, String> {
    let mut found = Vec::new();
    for &provider in ProviderId::ALL.iter().filter(|p| named.is_none_or(|n| n == **p)) {
        if provider.spec().usage_api.is_none() {
            if named.is_some() {
                return Err(format!("{provider}'s usage API is not asked yet (docs/reconcile.md)"));
            }
            continue;
        }
        let configured = reconciler_from_env(provider, plan, env, secrets, transport.clone()).await;
        match configured.map_err(|e| e.to_string())? {
            Some(reconciler) => found.push(reconciler),
            None if named.is_some() => {
                return Err(format!(
                    "{provider} is not reconciled: set {}",
                    credentials_var(provider)
                ))
            }
            None => {}
        }
    }
    if found.is_empty() {
        return Err("no provider is reconciled: set <PROVIDER>_API_CREDENTIALS (docs/reconcile.md)".into());
    }
    Ok(found)
}

/// What `--iccid` asks: by the ref the provider's API wants where the eSIM's state holds it (Gigastore's
/// customer uid), else by what was typed.
async fn ask_for(provider: ProviderId, typed: &str, query: &dyn StoreQuery) -> Result<Ask, String> {
    let ask = Ask::guess(typed.trim());
    let state = query
        .esim_state(provider, ask.value())
        .await
        .map_err(|e| e.to_string())?;
    Ok(state.map_or(ask, |state| Ask::of_state(&state)))
}

fn failure_text(provider: ProviderId, error: &ReconcileError) -> String {
    match error {
        ReconcileError::Ask(AskError::Credentials(why)) => format!(
            "the API refused the credentials in {} ({why})",
            credentials_var(provider)
        ),
        other => other.to_string(),
    }
}

fn result_text(result: &Result<Asked, ReconcileError>, provider: ProviderId) -> String {
    match result {
        Ok(Asked::Applied(shared::pipeline::Outcome::Stored { alerts })) => {
            format!("asked: a new reading stored, {alerts} alert(s) raised")
        }
        Ok(Asked::Applied(other)) => format!("asked: {} (this reading was stored before)", other.as_str()),
        Ok(Asked::Unchanged) => "asked: the state already says this; nothing stored".into(),
        Ok(Asked::Empty) => "asked: the provider names no plan on this eSIM; nothing stored".into(),
        Err(error) => failure_text(provider, error),
    }
}

/// Runs the command; exit 0 when every eSIM asked was applied (or changed nothing), 1 otherwise.
pub async fn run(
    args: &ReconcileArgs,
    env: Env<'_>,
    transport: Arc<dyn ApiTransport>,
    out: &mut impl Write,
) -> Result<u8, String> {
    if args.iccid.is_some() && args.provider.is_none() {
        return Err("--iccid needs --provider".into());
    }
    let opened = args.backend.open(!args.dry_run).await?;
    let settings = Settings::from_env(env).map_err(|e| e.to_string())?;
    let plan = &settings.pipeline.asking;
    let reconcilers = reconcilers(args.provider, plan, env, opened.secrets.as_ref(), transport).await?;
    let rules = &settings.pipeline.asking.rules;
    let write = |out: &mut dyn Write, line: String| writeln!(out, "{line}").map_err(|e| e.to_string());
    let clock = SystemClock;
    if args.dry_run {
        for reconciler in &reconcilers {
            let provider = reconciler.provider;
            if let Some(iccid) = &args.iccid {
                let ask = ask_for(provider, iccid, opened.query.as_ref()).await?;
                let (method, url) = reconciler.describe(&ask, clock.now()).map_err(|e| e.to_string())?;
                write(out, format!("{provider} {}: would ask {method} {url}", ask.value()))?;
                continue;
            }
            let budget = reconciler.pass_esims(rules.period);
            let FiledEsims { due, early } = due_esims(
                provider,
                opened.query.as_ref(),
                clock.now(),
                (&settings.pipeline.rules, rules),
                budget,
            )
            .await
            .map_err(|e| e.to_string())?;
            let (count, known) = (due.len(), due.len() + early.len());
            for (state, why) in due {
                write(out, format!("{provider} {}: would ask ({})", state.key, why.as_str()))?;
            }
            write(
                out,
                format!("{provider}: {known} eSIMs filed to be asked by now, {count} due"),
            )?;
        }
        return Ok(0);
    }
    let pipeline = pipeline_for(&opened, &settings, Arc::new(SystemClock));
    if args.refile {
        for reconciler in &reconcilers {
            let provider = reconciler.provider;
            let every = shared::store::ListQuery {
                provider: Some(provider),
                since: Some(clock.now() - shared::store::ASKING_LOOKBACK),
                ..shared::store::ListQuery::default()
            };
            let states = opened.query.list_states(&every).await.map_err(|e| e.to_string())?;
            for state in &states {
                pipeline.refile(provider, &state.key).await.map_err(|e| e.to_string())?;
            }
            write(
                out,
                format!("{provider}: {} eSIMs filed for their next ask", states.len()),
            )?;
        }
        return Ok(0);
    }
    let mut failed = false;
    for reconciler in &reconcilers {
        let provider = reconciler.provider;
        if let Some(iccid) = &args.iccid {
            let ask = ask_for(provider, iccid, opened.query.as_ref()).await?;
            let result = reconcile_one(reconciler, &ask, &pipeline, opened.query.as_ref(), &clock).await;
            failed |= result.is_err();
            write(
                out,
                format!("{provider} {}: {}", ask.value(), result_text(&result, provider)),
            )?;
            continue;
        }
        let mut lines = Vec::new();
        let pass = reconcile_due(
            reconciler,
            &pipeline,
            opened.query.as_ref(),
            &clock,
            (&settings.pipeline.rules, rules),
            |asked| {
                lines.push(format!(
                    "{provider} {} ({}): {}",
                    asked.key,
                    asked.why.as_str(),
                    result_text(asked.result, provider)
                ))
            },
        )
        .await;
        for line in lines {
            write(out, line)?;
        }
        match pass {
            Ok(report) => {
                failed |= report.failed > 0;
                write(
                    out,
                    format!(
                        "{provider}: {} eSIMs filed to be asked by now, {} due, {} new readings, {} unchanged, {} failed",
                        report.known, report.due, report.applied, report.unchanged, report.failed
                    ),
                )?;
            }
            Err(error) => {
                failed = true;
                write(out, format!("{provider}: {}", failure_text(provider, &error)))?;
            }
        }
    }
    Ok(u8::from(failed))
}

/// `serve --reconcile-every`: a pass over every configured provider's due eSIMs each `every`, for as long as
/// the server runs, each pass's summary on the console. `None` when no provider has API credentials.
pub async fn schedule(
    opened: &crate::backend::Opened,
    settings: &Settings,
    every: std::time::Duration,
    env: Env<'_>,
    transport: Arc<dyn ApiTransport>,
) -> Result<Option<tokio::task::JoinHandle<()>>, String> {
    let plan = &settings.pipeline.asking;
    let reconcilers = match reconcilers(None, plan, env, opened.secrets.as_ref(), transport).await {
        Ok(found) => found,
        Err(_) => return Ok(None),
    };
    let rules = (settings.pipeline.rules.clone(), settings.pipeline.asking.rules.clone());
    let pipeline = pipeline_for(opened, settings, Arc::new(SystemClock));
    let query = opened.query.clone();
    Ok(Some(tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        loop {
            ticks.tick().await;
            for reconciler in &reconcilers {
                let provider = reconciler.provider;
                let pass = reconcile_due(
                    reconciler,
                    &pipeline,
                    query.as_ref(),
                    &SystemClock,
                    (&rules.0, &rules.1),
                    |_| {},
                )
                .await;
                match pass {
                    Ok(report) if report.due > 0 => eprintln!(
                        "reconcile {provider}: {} due, {} new readings, {} unchanged, {} failed",
                        report.due, report.applied, report.unchanged, report.failed
                    ),
                    Ok(_) => {}
                    Err(error) => eprintln!("reconcile {provider}: {}", failure_text(provider, &error)),
                }
            }
        }
    })))
}
