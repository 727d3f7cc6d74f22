//! `publish-events`: the tables' stream records to domain events on the EventBridge bus.
//! Builds the bus client once per cold start and hands each batch to the handler
//! (`src/lib.rs`). The records carry the items; it writes each user's activity history, and,
//! where the stack sends new-sign-in alerts (`ALERT_EMAIL_FROM`), reads the user's e-mail and
//! holds the link key (read from Secrets Manager here, once).

use lambda_runtime::{Error, LambdaEvent, service_fn};
use publish_events::{Publisher, bus::Bus, handle_within, ses::Ses};
use shared::config::{self, AlertSettings, DynamoConfig, TableNames};
use shared::services::alerts::Alerts;
use shared::tokens::{keys, link::LinkKey};
use shared::{Store, logging, store};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    logging::init(config::log_level().as_deref());
    shared::metrics::init(config::process_var("METRICS_NAMESPACE"));
    let tables = TableNames::from_env()?;
    let bus_name = config::process_var("EVENT_BUS_NAME").ok_or("EVENT_BUS_NAME is not set")?;
    let dynamodb = DynamoConfig::from_env()?;
    let sdk = store::lambda_aws_config(&dynamodb, config::process_var)?;
    let client = aws_sdk_eventbridge::Client::from_conf(bus_config(&sdk));
    let publisher = Publisher {
        store: {
            let client = store::dynamodb_client(&sdk, &dynamodb);
            let wire = store::dynamodb_wire(&sdk, &client, &dynamodb)?;
            Store::new(client, wire, tables.clone())
        },
        tables,
        retention_seconds: config::activity_retention_seconds()?,
        bus: Bus::new(client, bus_name),
        alerts: alerts(&sdk).await.unwrap_or_else(|e| {
            // Events and history matter more than alerts: publish without them, loudly.
            shared::metrics::emit(shared::metrics::Metric::AlertFailed);
            tracing::error!(error = %e, "new-sign-in alerts are off for this instance");
            None
        }),
    };
    let publisher = &publisher;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<_>| async move {
        // Lambda's deadline for this invocation (Unix ms): alerts stop short of it.
        let since_epoch = std::time::UNIX_EPOCH.elapsed().unwrap_or_default();
        let deadline = std::time::Duration::from_millis(event.context.deadline);
        let left = deadline.saturating_sub(since_epoch);
        Ok::<_, Error>(handle_within(publisher, event.payload, left).await)
    }))
    .await
}

/// New-sign-in alerts where `ALERT_EMAIL_FROM` names a sender ([`AlertSettings`]): SES from
/// that address, links to `ALERT_LINK_URL`, signed with the key from
/// `ALERT_LINK_KEY_SECRET_ARN` (or `ALERT_LINK_KEY`, or, only where `APP_ENV=local`, the
/// dev-only key).
async fn alerts(sdk: &aws_config::SdkConfig) -> Result<Option<Alerts<Ses>>, Error> {
    let Some(settings) = AlertSettings::from_env()? else {
        return Ok(None);
    };
    let secret = match &settings.key_arn {
        Some(arn) => {
            let client = aws_sdk_secretsmanager::Client::new(sdk);
            Some(keys::fetch_secret_string(&client, arn, "ALERT_LINK_KEY_SECRET_ARN").await?)
        }
        None => settings.key,
    };
    Ok(Some(Alerts {
        links: LinkKey::from_secret(secret.as_deref(), settings.deployed)?,
        link_url: settings.link_url,
        mailer: Ses::new(
            aws_sdk_sesv2::Client::from_conf(ses_config(sdk)),
            settings.from,
        ),
    }))
}

/// SES's own timeouts and retries: a message is worth a few seconds (the batch gives alerts
/// ten), and one retry at most (a retry after a lost answer may send it twice, which is
/// better than not at all).
fn ses_config(sdk: &aws_config::SdkConfig) -> aws_sdk_sesv2::Config {
    use aws_sdk_sesv2::config::{retry::RetryConfig, timeout::TimeoutConfig};
    use std::time::Duration;
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(1))
        .operation_attempt_timeout(Duration::from_secs(3))
        .operation_timeout(Duration::from_secs(5))
        .build();
    aws_sdk_sesv2::config::Builder::from(sdk)
        .timeout_config(timeouts)
        .retry_config(RetryConfig::standard().with_max_attempts(2))
        .build()
}

/// The bus client's own timeouts and retries: a slow `PutEvents` that succeeds is worth
/// waiting for (a failed batch is retried whole, as duplicates), unlike a request's DynamoDB
/// call, whose limits the shared configuration carries.
fn bus_config(sdk: &aws_config::SdkConfig) -> aws_sdk_eventbridge::Config {
    use aws_sdk_eventbridge::config::{retry::RetryConfig, timeout::TimeoutConfig};
    use std::time::Duration;
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(2))
        .operation_attempt_timeout(Duration::from_secs(5))
        .operation_timeout(Duration::from_secs(20))
        .build();
    aws_sdk_eventbridge::config::Builder::from(sdk)
        .timeout_config(timeouts)
        .retry_config(RetryConfig::standard().with_max_attempts(3))
        .build()
}
