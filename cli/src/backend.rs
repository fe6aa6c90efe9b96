//! Where the CLI keeps and reads events: the embedded SQLite file (default) or DynamoDB/SNS at whatever
//! endpoint the AWS environment names (`AWS_ENDPOINT_URL` for an emulator).

use crate::console::{ConsoleCustomerSender, ConsoleSink};
use crate::sqlite::{open_store, SqliteBackend};
use clap::{Args, ValueEnum};
use shared::alerts::sink::sns::SnsSink;
use shared::alerts::sink::AlertSink;
use shared::config::SecretSource;
use shared::customers::records::{CustomerSender, NotificationStore};
use shared::customers::{ContactLookup, ContactStore};
use shared::store::dynamodb::DynamoStore;
use shared::store::{EventStore, KvStore, StoreQuery};
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BackendKind {
    /// SQLite file + console alerts.
    Local,
    /// DynamoDB table + SNS topic (AWS, or an emulator via AWS_ENDPOINT_URL).
    Aws,
}

#[derive(Debug, Clone, Args)]
pub struct BackendArgs {
    /// Where events are kept.
    #[arg(long, value_enum, default_value = "local", env = "ESIMHOOKS_BACKEND")]
    pub backend: BackendKind,
    /// SQLite file for the local backend.
    #[arg(long, default_value = "esimhooks.db", env = "ESIMHOOKS_DB")]
    pub db: PathBuf,
    /// DynamoDB table for the aws backend.
    #[arg(long, env = "ESIMHOOKS_TABLE")]
    pub table: Option<String>,
    /// SNS topic ARN for alerts with the aws backend.
    #[arg(long, env = "ESIMHOOKS_TOPIC_ARN")]
    pub topic_arn: Option<String>,
}

pub struct Opened {
    pub events: Arc<dyn EventStore>,
    pub contacts: Arc<dyn ContactStore>,
    pub contact_lookup: Arc<dyn ContactLookup>,
    pub notifications: Arc<dyn NotificationStore>,
    /// Where customer messages go: the console locally; SNS SMS and SES email on AWS.
    pub customer_sender: Option<Arc<dyn CustomerSender>>,
    pub query: Arc<dyn StoreQuery>,
    pub sink: Arc<dyn AlertSink>,
    pub secrets: Box<dyn SecretSource>,
    /// The SQLite store itself (local backend): partner callbacks live there too.
    pub local: Option<Arc<KvStore<SqliteBackend>>>,
}

impl BackendArgs {
    /// Opens the store (and the alert sink when `for_serving`). Errors say what to set.
    pub async fn open(&self, for_serving: bool) -> Result<Opened, String> {
        match self.backend {
            BackendKind::Local => {
                let store =
                    Arc::new(open_store(&self.db).map_err(|e| format!("cannot open {}: {e}", self.db.display()))?);
                Ok(Opened {
                    events: store.clone(),
                    contacts: store.clone(),
                    contact_lookup: store.clone(),
                    notifications: store.clone(),
                    customer_sender: Some(Arc::new(ConsoleCustomerSender::default())),
                    query: store.clone(),
                    sink: Arc::new(ConsoleSink::default()),
                    secrets: Box::new(shared::config::NoSecretSource),
                    local: Some(store),
                })
            }
            BackendKind::Aws => {
                let table = self
                    .table
                    .clone()
                    .ok_or("the aws backend needs --table or ESIMHOOKS_TABLE")?;
                let sdk = shared::aws::sdk_config().await;
                let store = Arc::new(DynamoStore::new(
                    aws_sdk_dynamodb::Client::new(&sdk),
                    table,
                    shared::config::Settings::default().retention,
                ));
                let sink: Arc<dyn AlertSink> = match (&self.topic_arn, for_serving) {
                    (Some(arn), _) => Arc::new(SnsSink::new(aws_sdk_sns::Client::new(&sdk), arn.clone())),
                    (None, false) => Arc::new(ConsoleSink::default()),
                    (None, true) => {
                        return Err("serving with the aws backend needs --topic-arn or ESIMHOOKS_TOPIC_ARN".into())
                    }
                };
                Ok(Opened {
                    events: store.clone(),
                    contacts: store.clone(),
                    contact_lookup: store.clone(),
                    notifications: store.clone(),
                    customer_sender: Some(Arc::new(shared::runtime::customer_senders(
                        &sdk,
                        &shared::config::SenderIdentity::from_env(&shared::config::process_env),
                    ))),
                    query: store,
                    sink,
                    secrets: Box::new(shared::aws::SsmSecrets(aws_sdk_ssm::Client::new(&sdk))),
                    local: None,
                })
            }
        }
    }
}
