//! The tables' definitions: one source for the local stack, the tests and (checked by a test)
//! `template.yaml`.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};

/// Name of the sessions index ordered by `last_activity`.
pub const BY_ACTIVITY_INDEX: &str = "by_activity";

/// A key attribute: name and scalar type (`N` or `S`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyAttr {
    /// Attribute name.
    pub name: &'static str,
    /// `N` or `S`.
    pub ty: &'static str,
}

/// A global secondary index (projection ALL).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexDef {
    /// Index name.
    pub name: &'static str,
    /// Partition key.
    pub partition: KeyAttr,
    /// Sort key.
    pub sort: Option<KeyAttr>,
}

/// A table as the code expects it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableDef {
    /// Logical id of the table in `template.yaml`.
    pub logical_id: &'static str,
    /// Environment variable that carries the table's name.
    pub env_var: &'static str,
    /// Partition key.
    pub partition: KeyAttr,
    /// Sort key.
    pub sort: Option<KeyAttr>,
    /// Global secondary indexes.
    pub indexes: &'static [IndexDef],
    /// TTL attribute, if any.
    pub ttl_attribute: Option<&'static str>,
}

const USER_ID: KeyAttr = KeyAttr {
    name: "user_id",
    ty: "N",
};

/// Sessions: one item per session, TTL after retention, and an index by recent activity.
pub const SESSIONS: TableDef = TableDef {
    logical_id: "SessionsTable",
    env_var: "SESSIONS_TABLE",
    partition: USER_ID,
    sort: Some(KeyAttr {
        name: "session_id",
        ty: "S",
    }),
    indexes: &[IndexDef {
        name: BY_ACTIVITY_INDEX,
        partition: USER_ID,
        sort: Some(KeyAttr {
            name: "last_activity",
            ty: "N",
        }),
    }],
    ttl_attribute: Some("ttl"),
};

/// Users: one item per user.
pub const USERS: TableDef = TableDef {
    logical_id: "UsersTable",
    env_var: "USERS_TABLE",
    partition: USER_ID,
    sort: None,
    indexes: &[],
    ttl_attribute: None,
};

/// Normalised email → user id, written with the user in one transaction. Also holds the
/// per-email sign-in throttle items (key `throttle <email>`), which expire by TTL.
pub const USER_EMAILS: TableDef = TableDef {
    logical_id: "UserEmailsTable",
    env_var: "USER_EMAILS_TABLE",
    partition: KeyAttr {
        name: "email",
        ty: "S",
    },
    sort: None,
    indexes: &[],
    ttl_attribute: Some("ttl"),
};

/// Every table of the service.
pub const ALL: [TableDef; 3] = [SESSIONS, USERS, USER_EMAILS];

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

/// Error creating a table.
pub type CreateError = Box<dyn std::error::Error + Send + Sync>;

/// Creates `def` under `name` (on-demand billing), enables its TTL, and returns `false` if it
/// already existed.
pub async fn create(client: &Client, def: &TableDef, name: &str) -> Result<bool, CreateError> {
    let mut attrs = vec![def.partition];
    attrs.extend(def.sort);
    for index in def.indexes {
        attrs.push(index.partition);
        attrs.extend(index.sort);
    }
    attrs.sort_by_key(|a| a.name);
    attrs.dedup_by_key(|a| a.name);

    let mut request = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
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
            .projection(
                Projection::builder()
                    .projection_type(ProjectionType::All)
                    .build(),
            );
        if let Some(sort) = index.sort {
            gsi = gsi.key_schema(key(sort.name, KeyType::Range)?);
        }
        request = request.global_secondary_indexes(gsi.build()?);
    }
    match request.send().await {
        Ok(_) => {}
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_resource_in_use_exception()) =>
        {
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
