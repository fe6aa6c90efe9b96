//! `esimhooks`: run the webhook receiver locally, set up its AWS resources, and look at what it stored.

mod backend;
mod console;
mod customers;
mod esims;
mod listen;
mod listing;
mod maintain;
mod migrate;
mod partners;
mod pipe;
mod reconcile;
mod send;
mod serve;
mod setup;
mod sqlite;
mod stats;
mod timeline;
mod verify;
mod web;

use backend::BackendArgs;
use clap::{Parser, Subcommand};
use listing::{ListArgs, Listing};
use maintain::{replay, sweep};
use serve::build_router;
use setup::init;
use shared::clock::{Clock, SystemClock};
use shared::config::{process_env, Settings};
use shared::customers::service::CustomerNotifier;
use shared::model::ProviderId;
use shared::pipeline::Pipeline;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

/// A provider as named in its webhook URL (`esimgo`, `airalo`...); any other name is a usage error (exit 2)
/// that lists the names.
pub(crate) fn provider_arg(text: &str) -> Result<ProviderId, String> {
    ProviderId::parse(text).ok_or_else(|| format!("unknown provider {text}: use {}", ProviderId::names()))
}

#[derive(Debug, Parser)]
#[command(
    name = "esimhooks",
    version,
    about = "Receive, verify, store and alert on eSIM provider webhooks"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve every implemented provider at POST /webhooks/{provider} on a local address.
    ///
    /// Provider secrets come from the environment, e.g. ESIMACCESS_SECRETS=<url token>. The eSIM Access
    /// sender allow-list is off locally unless ESIMACCESS_ALLOWED_IPS is set.
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: SocketAddr,
        /// Let partners register loopback and http:// callback URLs (to test against localhost).
        #[arg(long)]
        allow_loopback_callbacks: bool,
        /// Ask the providers' APIs about every eSIM that is due this often (a span: 15m), for the providers
        /// whose `<PROVIDER>_API_CREDENTIALS` are set (`esimhooks reconcile`).
        #[arg(long, value_parser = shared::time::parse_span)]
        reconcile_every: Option<chrono::Duration>,
        #[command(flatten)]
        backend: BackendArgs,
    },
    /// The operator console in the browser (overview, eSIM timelines, fleet, event inspector with replay),
    /// on loopback, over the local store or (--backend aws) the deployed table.
    Console {
        /// Address to listen on (loopback only).
        #[arg(long, default_value = "127.0.0.1:8090")]
        addr: SocketAddr,
        #[command(flatten)]
        backend: BackendArgs,
    },
    /// A local receiver for partner callbacks: verifies each with the signing secret(s) and prints it.
    Listen {
        /// The partner's signing secret, `whsec_…` (repeat for a rotation's two).
        #[arg(long = "secret", required = true)]
        secrets: Vec<String>,
        #[arg(long, default_value_t = 9000)]
        port: u16,
    },
    /// Create the DynamoDB table and SNS topic at the configured endpoint (AWS_ENDPOINT_URL for an emulator).
    Init {
        #[arg(long, default_value = "esimhooks")]
        table: String,
        #[arg(long, default_value = "esimhooks-alerts")]
        topic: String,
    },
    /// Raise expiry alerts for eSIMs whose validity ends within the window (what the scheduled sweep does).
    Sweep {
        #[command(flatten)]
        backend: BackendArgs,
    },
    /// Build a delivery for any provider and event type, sign it as the provider does, and POST it.
    Send(send::SendArgs),
    /// Ask a provider's API for an eSIM's usage and validity now, and apply the answer as a webhook would.
    Reconcile(reconcile::ReconcileArgs),
    /// Check a captured request against a provider's scheme and say why it fails.
    Verify(verify::VerifyArgs),
    /// Re-run stored deliveries through the current normalizers (dedupe honoured unless --force).
    Replay {
        /// Only this provider.
        #[arg(long, value_parser = provider_arg)]
        provider: Option<ProviderId>,
        /// Only deliveries received since: RFC 3339, `today` or an age like 24h, 7d (default 7d).
        #[arg(long)]
        since: Option<String>,
        /// Only deliveries received before this RFC 3339 time.
        #[arg(long)]
        until: Option<String>,
        /// Only deliveries about this eSIM (state key or ICCID).
        #[arg(long)]
        esim: Option<String>,
        /// Re-apply state and alerts even for completed deliveries (alerts already sent stay sent).
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        backend: BackendArgs,
    },
    /// Print shell completions (bash, zsh, fish, elvish, powershell).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// List stored deliveries (normalized events with their raw payloads).
    Events {
        #[command(flatten)]
        list: ListArgs,
        #[command(flatten)]
        backend: BackendArgs,
    },
    /// List current per-eSIM state; `esims assign` and `esims unassign` say which partner an eSIM belongs to.
    #[command(args_conflicts_with_subcommands = true)]
    Esims {
        #[command(subcommand)]
        action: Option<esims::EsimsCommand>,
        #[command(flatten)]
        list: ListArgs,
        #[command(flatten)]
        fleet: listing::FleetArgs,
        #[command(flatten)]
        backend: BackendArgs,
    },
    /// Everything that happened to an eSIM, in order: events with the state they left, alerts and who was told.
    Esim {
        #[command(flatten)]
        timeline: timeline::TimelineArgs,
        #[command(flatten)]
        backend: BackendArgs,
    },
    /// Per provider, for a period: deliveries stored, unrecognized or drifting, conflicts, alerts and messages.
    Stats {
        #[command(flatten)]
        stats: stats::StatsArgs,
        #[command(flatten)]
        backend: BackendArgs,
    },
    /// List alerts and whether they were sent.
    Alerts {
        #[command(flatten)]
        list: ListArgs,
        #[command(flatten)]
        backend: BackendArgs,
    },
    /// Manage partner callbacks: create partners and their API keys, rotate keys, remove partners, list
    /// notification types.
    Partners(partners::PartnersArgs),
    /// The customer directory: who to tell about each eSIM (import, get, set, remove).
    Customers(customers::CustomersArgs),
    /// Rewrite every stored item of an older layout to the current one, once (after deploying a release);
    /// --dry-run counts them per layout.
    Migrate(migrate::MigrateArgs),
    /// List deliveries that reused a known id with a different payload.
    Conflicts {
        #[command(flatten)]
        list: ListArgs,
        #[command(flatten)]
        backend: BackendArgs,
    },
}

/// The pipeline over an opened backend: its store and alert sink, and its customer channel where it has one.
fn pipeline_for(opened: &backend::Opened, settings: &Settings, clock: Arc<dyn Clock>) -> Pipeline {
    let pipeline = Pipeline::new(
        opened.events.clone(),
        opened.sink.clone(),
        clock,
        settings.pipeline.clone(),
    );
    match &opened.customer_sender {
        Some(sender) if settings.customers.enabled => pipeline.with_customers(Arc::new(CustomerNotifier {
            contacts: opened.contact_lookup.clone(),
            notifications: opened.notifications.clone(),
            sender: sender.clone(),
            settings: settings.customers.clone(),
        })),
        _ => pipeline,
    }
}

async fn console(addr: SocketAddr, backend: BackendArgs) -> Result<(), String> {
    let settings = Settings::from_env(&process_env).map_err(|e| e.to_string())?;
    let opened = backend.open(false).await?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let pipeline = pipeline_for(&opened, &settings, clock.clone());
    let listener = serve::bind(addr, "console", "--addr").await?;
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    eprintln!("esimhooks console on http://{bound}");
    let console = Arc::new(web::Console {
        opened,
        pipeline,
        clock,
    });
    web::run(listener, console, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
}

async fn serve(
    addr: SocketAddr,
    backend: BackendArgs,
    allow_loopback_callbacks: bool,
    reconcile_every: Option<chrono::Duration>,
) -> Result<(), String> {
    let mut settings = Settings::from_env(&process_env).map_err(|e| e.to_string())?;
    if let Some(every) = reconcile_every {
        // The schedule is the due rule's period: no eSIM is asked twice within it.
        settings.pipeline.asking.rules.period = every;
    }
    let mut opened = backend.open(true).await?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let tick = std::time::Duration::from_secs(1);
    let callbacks = serve::partner_callbacks(&mut opened, clock.clone(), allow_loopback_callbacks, tick)?;
    let router = Arc::new(build_router(&opened, &settings, clock.clone(), &process_env).await);
    let listener = serve::bind(addr, "serve", "--addr").await?;
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    let store = match backend.backend {
        backend::BackendKind::Local => format!("SQLite file {}", backend.db.display()),
        backend::BackendKind::Aws => format!("DynamoDB table {}", backend.table.as_deref().unwrap_or("-")),
    };
    eprintln!("esimhooks listening on http://{bound} (store: {store})");
    for provider in router.served() {
        eprintln!("  POST http://{bound}/webhooks/{provider}");
    }
    if callbacks.is_some() {
        eprintln!("  partner callbacks API at http://{bound}/{{partnerId}}/callbacks (docs/callbacks.md)");
    }
    if let Some(every) = reconcile_every {
        let every = every
            .to_std()
            .map_err(|_| "--reconcile-every must be positive".to_string())?;
        let transport = Arc::new(shared::reconcile::http::HttpsTransport::new().map_err(|e| e.to_string())?);
        match reconcile::schedule(&opened, &settings, every, &process_env, transport).await? {
            Some(_) => eprintln!("  asking providers' APIs about due eSIMs every {every:?} (docs/reconcile.md)"),
            None => eprintln!("  --reconcile-every: no provider has <PROVIDER>_API_CREDENTIALS set; nothing is asked"),
        }
    }
    let state = serve::AppState {
        router,
        clock,
        callbacks,
    };
    serve::run(listener, state, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
    .map_err(|e| e.to_string())
}

async fn run(cli: Cli) -> Result<u8, String> {
    let listing = |what, list: ListArgs, fleet: listing::FleetArgs, backend: BackendArgs| async move {
        let opened = backend.open(false).await?;
        listing::list(
            what,
            &list,
            &fleet,
            opened.query.as_ref(),
            SystemClock.now(),
            &mut pipe::stdout(),
        )
        .await?;
        Ok::<u8, String>(0)
    };
    let done = |result: Result<(), String>| result.map(|()| 0u8);
    match cli.command {
        Command::Serve {
            addr,
            allow_loopback_callbacks,
            reconcile_every,
            backend,
        } => done(serve(addr, backend, allow_loopback_callbacks, reconcile_every).await),
        Command::Console { addr, backend } => done(console(addr, backend).await),
        Command::Init { table, topic } => done(init(&table, &topic).await),
        Command::Listen { secrets, port } => match listen::parse_secrets(&secrets) {
            Ok(secrets) => done(listen::run(port, secrets).await),
            Err(e) => done(Err(e)),
        },
        Command::Partners(args) => done(partners::open::run_opened(&args, &mut pipe::stdout()).await),
        Command::Customers(args) => customers::run(args, &process_env, &mut pipe::stdout()).await,
        Command::Sweep { backend } => done(sweep(backend, &process_env).await),
        Command::Migrate(args) => done(migrate::run(&args, &mut pipe::stdout()).await),
        Command::Send(args) => tokio::task::spawn_blocking(move || send::run(&args))
            .await
            .map_err(|e| e.to_string())?,
        Command::Verify(args) => verify::run(&args),
        Command::Reconcile(args) => {
            let transport = shared::reconcile::http::HttpsTransport::new().map_err(|e| e.to_string())?;
            reconcile::run(&args, &process_env, Arc::new(transport), &mut pipe::stdout()).await
        }
        Command::Replay {
            provider,
            since,
            until,
            esim,
            force,
            backend,
        } => replay(provider, since, until, esim, force, backend).await,
        Command::Completions { shell } => {
            use clap::CommandFactory;
            use std::io::Write as _;
            // clap_complete panics when a write fails (`| head -1`): the script is written whole here instead.
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "esimhooks", &mut script);
            pipe::stdout().write_all(&script).map_err(|e| e.to_string())?;
            Ok(0)
        }
        Command::Events { list, backend } => listing(Listing::Events, list, Default::default(), backend).await,
        Command::Esims {
            action: Some(action), ..
        } => done(esims::run_opened(&action, &mut pipe::stdout()).await),
        Command::Esims {
            action: None,
            list,
            fleet,
            backend,
        } => listing(Listing::Esims, list, fleet, backend).await,
        Command::Esim { timeline, backend } => {
            let opened = backend.open(false).await?;
            let now = SystemClock.now();
            let ran = timeline::run(&timeline, opened.query.as_ref(), now, &mut pipe::stdout()).await;
            done(ran)
        }
        Command::Stats { stats, backend } => {
            let opened = backend.open(false).await?;
            let now = SystemClock.now();
            done(stats::run(&stats, opened.query.as_ref(), now, &mut pipe::stdout()).await)
        }
        Command::Alerts { list, backend } => listing(Listing::Alerts, list, Default::default(), backend).await,
        Command::Conflicts { list, backend } => listing(Listing::Conflicts, list, Default::default(), backend).await,
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    shared::telemetry::init_human();
    pipe::quiet_on_closed_pipe_panics();
    match run(Cli::parse()).await {
        Ok(code) => ExitCode::from(code),
        // The reader stopped reading (`| head`): what it left unread is no failure.
        Err(_) if pipe::closed() => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("esimhooks: {message}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_callbacks;
#[cfg(test)]
mod tests_customers;
#[cfg(test)]
mod tests_fleet;
#[cfg(test)]
mod tests_hostile;
#[cfg(test)]
mod tests_import;
#[cfg(test)]
mod tests_limits;
#[cfg(test)]
mod tests_migrate;
#[cfg(test)]
mod tests_newcomer;
#[cfg(test)]
mod tests_reconcile;
#[cfg(test)]
mod tests_scenarios;
#[cfg(test)]
mod tests_web;
