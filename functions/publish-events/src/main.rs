//! `publish-events`: the tables' stream records to domain events on the EventBridge bus.
//! Builds the bus client once per cold start and hands each batch to the handler
//! (`src/lib.rs`). It reads no table and holds no secret (the records carry the items); it
//! writes each user's activity history.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use publish_events::{Publisher, bus::Bus, handle};
use shared::config::{self, DynamoConfig, TableNames};
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
        store: Store::new(store::dynamodb_client(&sdk, &dynamodb), tables.clone()),
        tables,
        retention_seconds: config::activity_retention_seconds()?,
        bus: Bus::new(client, bus_name),
    };
    let publisher = &publisher;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<_>| async move {
        Ok::<_, Error>(handle(publisher, event.payload).await)
    }))
    .await
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
