//! Creating the tables from their definitions ([`crate::tables`]): the local stack, the tests
//! and the bench. On AWS the template creates them.

use crate::tables::{IndexDef, TableDef};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType,
    LocalSecondaryIndex, Projection, ProjectionType, ScalarAttributeType, StreamSpecification,
    StreamViewType, TimeToLiveSpecification,
};

fn scalar(ty: &str) -> ScalarAttributeType {
    if ty == "N" {
        ScalarAttributeType::N
    } else {
        ScalarAttributeType::S
    }
}

fn key(
    name: &str,
    key_type: KeyType,
) -> Result<KeySchemaElement, aws_sdk_dynamodb::error::BuildError> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(key_type)
        .build()
}

fn projection(index: &IndexDef) -> Projection {
    let kind = if index.keys_only {
        ProjectionType::KeysOnly
    } else {
        ProjectionType::All
    };
    Projection::builder().projection_type(kind).build()
}

/// Error creating a table.
pub type CreateError = Box<dyn std::error::Error + Send + Sync>;

/// The stream every table has: both images of each change, which the event publisher reads.
fn stream() -> Result<StreamSpecification, aws_sdk_dynamodb::error::BuildError> {
    StreamSpecification::builder()
        .stream_enabled(true)
        .stream_view_type(StreamViewType::NewAndOldImages)
        .build()
}

/// Turns `name`'s stream off, if it has one. The bench does this once the activity history is
/// recorded: the local DynamoDB keeps every stream record it is given, so a long run whose
/// writes all add one measures its growing log as much as the functions.
pub async fn stop_stream(client: &Client, name: &str) -> Result<(), CreateError> {
    if streaming(client, name).await? {
        let off = StreamSpecification::builder()
            .stream_enabled(false)
            .build()?;
        client
            .update_table()
            .table_name(name)
            .stream_specification(off)
            .send()
            .await?;
    }
    Ok(())
}

/// Whether `name`'s stream is on.
async fn streaming(client: &Client, name: &str) -> Result<bool, CreateError> {
    let described = client.describe_table().table_name(name).send().await?;
    Ok(described
        .table()
        .and_then(|t| t.stream_specification())
        .is_some_and(|s| s.stream_enabled()))
}

/// Creates `def` under `name` (on-demand billing, its stream on), enables its TTL, and returns
/// `false` if it already existed (turning its stream on if it was off: tables made before
/// events existed).
pub async fn create(client: &Client, def: &TableDef, name: &str) -> Result<bool, CreateError> {
    let mut attrs = vec![def.partition];
    attrs.extend(def.sort);
    for index in def.indexes.iter().chain(def.local_indexes) {
        attrs.push(index.partition);
        attrs.extend(index.sort);
    }
    attrs.sort_by_key(|a| a.name);
    attrs.dedup_by_key(|a| a.name);

    let mut request = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .set_stream_specification(def.stream.then(stream).transpose()?)
        .key_schema(key(def.partition.name, KeyType::Hash)?);
    if let Some(sort) = def.sort {
        request = request.key_schema(key(sort.name, KeyType::Range)?);
    }
    for a in attrs {
        request = request.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(a.name)
                .attribute_type(scalar(a.ty))
                .build()?,
        );
    }
    for index in def.indexes {
        let mut gsi = GlobalSecondaryIndex::builder()
            .index_name(index.name)
            .key_schema(key(index.partition.name, KeyType::Hash)?)
            .projection(projection(index));
        if let Some(sort) = index.sort {
            gsi = gsi.key_schema(key(sort.name, KeyType::Range)?);
        }
        request = request.global_secondary_indexes(gsi.build()?);
    }
    for index in def.local_indexes {
        let mut lsi = LocalSecondaryIndex::builder()
            .index_name(index.name)
            .key_schema(key(index.partition.name, KeyType::Hash)?)
            .projection(projection(index));
        if let Some(sort) = index.sort {
            lsi = lsi.key_schema(key(sort.name, KeyType::Range)?);
        }
        request = request.local_secondary_indexes(lsi.build()?);
    }
    match request.send().await {
        Ok(_) => {}
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_resource_in_use_exception()) =>
        {
            if def.stream && !streaming(client, name).await? {
                let on = client.update_table().table_name(name);
                on.stream_specification(stream()?).send().await?;
            }
            return Ok(false);
        }
        Err(err) => return Err(Box::new(err)),
    }
    if let Some(ttl) = def.ttl_attribute {
        client
            .update_time_to_live()
            .table_name(name)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .attribute_name(ttl)
                    .enabled(true)
                    .build()?,
            )
            .send()
            .await?;
    }
    Ok(true)
}
