//! `esimhooks reconcile`: ask a provider's API for an eSIM's usage and validity now, and apply what it says
//! (state, alerts, customer messages) as a webhook would. An eSIM no webhook ever named gets its state.

use crate::backend::BackendArgs;
use crate::{pipeline_for, provider_arg};
use clap::Args;
use shared::clock::{Clock, SystemClock};
use shared::config::{Env, Settings};
use shared::model::ProviderId;
use shared::reconcile::client::{configured_credentials, credentials_var, url_var, ApiTransport, Reconciler};
use shared::reconcile::{reconcile_one, Ask, AskError, Asked, ReconcileError};
use std::io::Write;
use std::sync::Arc;

#[derive(Debug, Args)]
pub struct ReconcileArgs {
    /// The provider to ask (its `<PROVIDER>_API_CREDENTIALS` must be set).
    #[arg(long, value_parser = provider_arg)]
    pub provider: ProviderId,
    /// The eSIM: its ICCID, or the provider's eSIM reference (eSIM Access `esimTranNo`).
    #[arg(long)]
    pub iccid: String,
    /// Print the request it would send (without credentials), and send nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub backend: BackendArgs,
}

/// Runs the command; exit 0 when the eSIM was asked and its answer applied (or changed nothing), 1 otherwise.
pub async fn run(
    args: &ReconcileArgs,
    env: Env<'_>,
    transport: Arc<dyn ApiTransport>,
    out: &mut impl Write,
) -> Result<u8, String> {
    let provider = args.provider;
    if provider.spec().usage_api.is_none() {
        return Err(format!("{provider}'s usage API is not asked yet (docs/reconcile.md)"));
    }
    let opened = args.backend.open(!args.dry_run).await?;
    let credentials = configured_credentials(provider, env, opened.secrets.as_ref()).await?;
    let reconciler = Reconciler::configured(
        provider,
        credentials.as_deref(),
        env(&url_var(provider)).as_deref(),
        transport,
    )?
    .ok_or_else(|| format!("{provider} is not reconciled: set {}", credentials_var(provider)))?;
    let ask = Ask::guess(args.iccid.trim());
    let write = |out: &mut dyn Write, line: String| writeln!(out, "{line}").map_err(|e| e.to_string());
    if args.dry_run {
        let (method, url) = reconciler
            .describe(&ask, SystemClock.now())
            .map_err(|e| e.to_string())?;
        write(out, format!("{provider} {}: would ask {method} {url}", ask.value()))?;
        return Ok(0);
    }
    let settings = Settings::from_env(env).map_err(|e| e.to_string())?;
    let clock = SystemClock;
    let pipeline = pipeline_for(&opened, &settings, Arc::new(SystemClock));
    let asked = reconcile_one(&reconciler, &ask, &pipeline, opened.query.as_ref(), &clock).await;
    let said = match asked {
        Ok(Asked::Applied(outcome)) => Ok(format!("asked: {}", outcome_text(outcome))),
        Ok(Asked::Unchanged) => Ok("asked: the state already says this; nothing stored".into()),
        Ok(Asked::Empty) => Ok("asked: the provider names no plan on this eSIM; nothing stored".into()),
        Err(ReconcileError::Ask(AskError::Credentials(why))) => Err(format!(
            "the API refused the credentials in {} ({why})",
            credentials_var(provider)
        )),
        Err(error) => Err(error.to_string()),
    };
    match said {
        Ok(line) => {
            write(out, format!("{provider} {}: {line}", ask.value()))?;
            Ok(0)
        }
        Err(line) => {
            write(out, format!("{provider} {}: {line}", ask.value()))?;
            Ok(1)
        }
    }
}

fn outcome_text(outcome: shared::pipeline::Outcome) -> String {
    match outcome {
        shared::pipeline::Outcome::Stored { alerts } => format!("a new reading stored, {alerts} alert(s) raised"),
        other => format!("{} (this reading was stored before)", other.as_str()),
    }
}
