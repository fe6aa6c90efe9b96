//! `esimhooks migrate`: after deploying a release, every stored item of an older layout rewritten to the
//! current one (`shared::migrate`), on the local SQLite file (default) or the deployed table (`--backend aws
//! --table <EventsTableName>`). `--dry-run` counts what it would rewrite. Safe to stop and run again.

use crate::backend::{BackendArgs, BackendKind};
use shared::migrate::{dynamodb::migrate_table, local, Report};
use std::io::Write;

#[derive(Debug, Clone, clap::Args)]
pub struct MigrateArgs {
    /// Count what would be rewritten, per layout; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub backend: BackendArgs,
}

/// Runs the migration and prints its report; an error when items were left to a next run.
pub async fn run(args: &MigrateArgs, out: &mut dyn Write) -> Result<(), String> {
    let report = match args.backend.backend {
        BackendKind::Local => {
            let db = &args.backend.db;
            if !db.exists() {
                return Err(format!(
                    "no SQLite file at {}: nothing to migrate (--db names another)",
                    db.display()
                ));
            }
            writeln!(out, "migrate: SQLite file {}", db.display()).map_err(|e| e.to_string())?;
            let (store, version_before) =
                crate::sqlite::open_counted(db).map_err(|e| format!("cannot open {}: {e}", db.display()))?;
            let mut report = local::migrate_store(&store, args.dry_run).map_err(|e| e.to_string())?;
            local::opened(&mut report, version_before);
            report
        }
        BackendKind::Aws => {
            let table = args
                .backend
                .table
                .as_deref()
                .ok_or("the aws backend needs --table or ESIMHOOKS_TABLE")?;
            writeln!(out, "migrate: DynamoDB table {table}").map_err(|e| e.to_string())?;
            let sdk = shared::aws::sdk_config().await;
            migrate_table(&aws_sdk_dynamodb::Client::new(&sdk), table, args.dry_run)
                .await
                .map_err(|e| e.to_string())?
        }
    };
    finish(&report, out)
}

fn finish(report: &Report, out: &mut dyn Write) -> Result<(), String> {
    report.render(out).map_err(|e| e.to_string())?;
    match report.left_to_rewrite() {
        0 => Ok(()),
        left => Err(format!(
            "{left} items were left in an older layout (changed meanwhile, or unreadable: above); run esimhooks \
             migrate again"
        )),
    }
}
