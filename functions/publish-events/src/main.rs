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
    let client = aws_sdk_eventbridge::Client::new(&sdk);
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
