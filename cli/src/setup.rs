//! `esimhooks init`: the table, topic and (with ESIMHOOKS_EMAIL_FROM) SES identity where the AWS environment
//! points, names exported for the other commands.

use shared::config::process_env;

pub async fn init(table: &str, topic: &str) -> Result<(), String> {
    let sdk = shared::aws::sdk_config().await;
    let (table, topic_arn) = init_at(&sdk, table, topic).await?;
    println!("export ESIMHOOKS_TABLE={table}");
    println!("export ESIMHOOKS_TOPIC_ARN={topic_arn}");
    if let Some(from) = process_env("ESIMHOOKS_EMAIL_FROM").filter(|f| !f.trim().is_empty()) {
        init_email_identity(&sdk, &from).await?;
        eprintln!("SES identity {from} created: confirm SES's verification email before customers get email");
        println!("export ESIMHOOKS_EMAIL_FROM={from}");
    }
    Ok(())
}

/// Creates the SES identity customer email is sent from; one that exists already is fine.
pub(crate) async fn init_email_identity(sdk: &aws_config::SdkConfig, from: &str) -> Result<(), String> {
    let created = aws_sdk_sesv2::Client::new(sdk)
        .create_email_identity()
        .email_identity(from)
        .send()
        .await;
    match created {
        Ok(_) => Ok(()),
        Err(e) if e.as_service_error().is_some_and(|e| e.is_already_exists_exception()) => Ok(()),
        Err(e) => Err(format!(
            "creating the SES identity {from}: {}",
            aws_sdk_sesv2::error::DisplayErrorContext(&e)
        )),
    }
}

/// Creates the table (with its indexes and TTL) and the topic where `sdk` points; returns their names.
pub(crate) async fn init_at(sdk: &aws_config::SdkConfig, table: &str, topic: &str) -> Result<(String, String), String> {
    shared::store::dynamodb::DynamoStore::create_table(&aws_sdk_dynamodb::Client::new(sdk), table)
        .await
        .map_err(|e| format!("creating table {table}: {e}"))?;
    let topic_arn = aws_sdk_sns::Client::new(sdk)
        .create_topic()
        .name(topic)
        .send()
        .await
        .map_err(|e| {
            format!(
                "creating topic {topic}: {}",
                aws_sdk_sns::error::DisplayErrorContext(&e)
            )
        })?
        .topic_arn
        .unwrap_or_default();
    Ok((table.to_string(), topic_arn))
}
