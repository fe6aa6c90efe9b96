//! What a partners command works on: the local store `serve` delivers from, or the deployed table, topic and
//! callback queue at whatever endpoint the AWS environment names.

use super::{run, Backends, PartnersArgs};
use crate::backend::BackendKind;
use crate::sqlite::open_store;
use shared::backends::dynamodb::DynamoAttemptLog;
use shared::backends::dynamodb::DynamoRegistry;
use shared::callbacks::http::HttpPoster;
use shared::callbacks::local::LocalCallbacks;
use shared::callbacks::queue::SqsJobQueue;
use shared::callbacks::sns::SnsTransport;
use shared::callbacks::url::SystemResolver;
use shared::clock::{Clock, SystemClock};
use std::io::Write;
use std::sync::Arc;

/// Runs `args`' command on the backend it names: aws when asked, or by default when a table is named; else
/// the local SQLite file.
pub async fn run_opened(args: &PartnersArgs, out: &mut dyn Write) -> Result<(), String> {
    let now = SystemClock.now();
    if !args.command.needs_registry() {
        return run(&args.command, Backends::default(), now, out).await;
    }
    let kind = args.backend.unwrap_or(match args.table {
        Some(_) => BackendKind::Aws,
        None => BackendKind::Local,
    });
    match kind {
        BackendKind::Local => {
            let store = Arc::new(open_store(&args.db).map_err(|e| format!("cannot open {}: {e}", args.db.display()))?);
            // `serve` delivers what is queued here; this one only queues (recover) and removes nothing on SNS.
            let poster = HttpPoster::new(Arc::new(SystemResolver), false).map_err(|e| e.to_string())?;
            let local = LocalCallbacks::new(store.clone(), Arc::new(poster), Arc::new(SystemClock));
            let backends = Backends {
                registry: Some(store.as_ref()),
                transport: Some(&local),
                attempts: Some(store.as_ref()),
                jobs: Some(&local),
            };
            run(&args.command, backends, now, out).await
        }
        BackendKind::Aws => {
            let table = args
                .table
                .as_deref()
                .ok_or("the aws backend needs --table or ESIMHOOKS_TABLE")?;
            let sdk = shared::aws::sdk_config().await;
            let ddb = aws_sdk_dynamodb::Client::new(&sdk);
            let registry = DynamoRegistry::new(ddb.clone(), table);
            let attempts = DynamoAttemptLog::new(ddb, table);
            let transport = args
                .topic_arn
                .as_ref()
                .map(|arn| SnsTransport::new(aws_sdk_sns::Client::new(&sdk), arn));
            let jobs = args.queue_url.as_ref().map(|url| SqsJobQueue {
                sqs: aws_sdk_sqs::Client::new(&sdk),
                queue_url: url.clone(),
            });
            let backends = Backends {
                registry: Some(&registry),
                transport: transport.as_ref().map(|t| t as _),
                attempts: Some(&attempts),
                jobs: jobs.as_ref().map(|j| j as _),
            };
            run(&args.command, backends, now, out).await
        }
    }
}
