//! DynamoDB access. Every read and write the service makes is a function here, so round trips
//! are visible and countable in one place.

use crate::config::{DynamoConfig, SessionPolicy, TableNames};
use crate::cursor::Position;
use crate::model::{Session, User};
use crate::tables::BY_ACTIVITY_INDEX;
use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use std::collections::HashMap;
use std::time::Duration;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A failed store operation.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Unreachable, timed out, throttled or a DynamoDB-side failure: worth a retry later (503).
    #[error("DynamoDB {operation} failed transiently")]
    Transient {
        /// The DynamoDB operation.
        operation: &'static str,
        /// The SDK error.
        #[source]
        source: BoxError,
    },
    /// A failure that retrying will not fix (500).
    #[error("DynamoDB {operation} failed")]
    Failed {
        /// The DynamoDB operation.
        operation: &'static str,
        /// The SDK error.
        #[source]
        source: BoxError,
    },
    /// A stored item does not match the model (500).
    #[error("a stored item does not match the model")]
    Corrupt(#[from] serde_dynamo::Error),
    /// A conditional write found the item already there.
    #[error("the item already exists")]
    AlreadyExists,
}

impl StoreError {
    /// Whether a retry later may succeed (answered with 503 + `Retry-After`).
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Transient { .. })
    }
}

/// Error codes DynamoDB uses for throttling and its own transient failures.
const TRANSIENT_CODES: &[&str] = &[
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
    "TransactionInProgressException",
];

/// Sorts an SDK error into transient (503) or not (500).
fn classify<E, R>(operation: &'static str, err: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let transient = match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(e) => e.err().code().is_some_and(|c| TRANSIENT_CODES.contains(&c)),
        _ => false,
    };
    let source: BoxError = Box::new(err);
    if transient {
        StoreError::Transient { operation, source }
    } else {
        StoreError::Failed { operation, source }
    }
}

/// Builds the DynamoDB client once per cold start, with timeouts and retries suited to Lambda:
/// a store that is down or slow fails the request in well under two seconds (a 503 the client
/// can retry) instead of holding it for the SDK's defaults.
pub async fn dynamodb_client(cfg: &DynamoConfig) -> Client {
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(cfg.connect_timeout)
        .operation_attempt_timeout(cfg.attempt_timeout)
        .operation_timeout(cfg.operation_timeout)
        .build();
    let retries = RetryConfig::standard()
        .with_max_attempts(cfg.max_attempts)
        .with_initial_backoff(Duration::from_millis(25))
        .with_max_backoff(Duration::from_millis(200));
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(timeouts)
        .retry_config(retries);
    if let Some(endpoint) = &cfg.endpoint {
        // Local DynamoDB: any region and static credentials will do.
        loader = loader
            .endpoint_url(endpoint)
            .region(aws_config::Region::new(
                std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".to_owned()),
            ))
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "local", "local", None, None, "local",
            ));
    }
    Client::new(&loader.load().await)
}

/// Only active sessions: the listing's default filter, evaluated by DynamoDB and matching
/// [`Session::status`].
#[derive(Debug, Clone, Copy)]
pub struct ActiveAt {
    /// The moment of the request (Unix seconds).
    pub now: i64,
    /// Idle timeout in seconds.
    pub idle_timeout_seconds: i64,
}

/// One page of a user's sessions, most recent activity first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionPage {
    /// At most `limit` sessions.
    pub sessions: Vec<Session>,
    /// Where the next page starts, if there is one.
    pub next: Option<Position>,
}

/// DynamoDB access for the three tables.
#[derive(Clone, Debug)]
pub struct Store {
    client: Client,
    tables: TableNames,
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

impl Store {
    /// A store over an existing client.
    pub fn new(client: Client, tables: TableNames) -> Self {
        Self { client, tables }
    }

    /// The underlying client (for table management in the CLI and tests).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The table names.
    pub fn tables(&self) -> &TableNames {
        &self.tables
    }

    /// One user, or `None`. Strongly consistent: role and disabled changes apply at once.
    pub async fn get_user(&self, user_id: u64) -> Result<Option<User>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.users)
            .key("user_id", n(user_id))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify("GetItem", e))?;
        Ok(out.item.map(serde_dynamo::from_item).transpose()?)
    }

    /// One session, or `None`. Strongly consistent, so an ended session is refused on the very
    /// next request.
    pub async fn get_session(
        &self,
        user_id: u64,
        session_id: &str,
    ) -> Result<Option<Session>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.sessions)
            .key("user_id", n(user_id))
            .key("session_id", s(session_id))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify("GetItem", e))?;
        Ok(out.item.map(serde_dynamo::from_item).transpose()?)
    }

    /// Stores a new session; fails with [`StoreError::AlreadyExists`] rather than overwrite one.
    pub async fn put_new_session(&self, session: &Session) -> Result<(), StoreError> {
        let item = serde_dynamo::to_item(session)?;
        self.client
            .put_item()
            .table_name(&self.tables.sessions)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(session_id)")
            .send()
            .await
            .map_err(|e| {
                if e.as_service_error()
                    .is_some_and(|se| se.is_conditional_check_failed_exception())
                {
                    StoreError::AlreadyExists
                } else {
                    classify("PutItem", e)
                }
            })?;
        Ok(())
    }

    /// Creates a user and claims their email in one transaction: the email is unique and a
    /// user id is never overwritten. [`StoreError::AlreadyExists`] if either is taken.
    pub async fn create_user(&self, user: &User) -> Result<(), StoreError> {
        let user_item = serde_dynamo::to_item(user)?;
        let email_item = HashMap::from([
            ("email".to_owned(), s(&user.email)),
            ("user_id".to_owned(), n(user.user_id)),
        ]);
        let put = |table: &str, item, cond: &str| -> Result<TransactWriteItem, StoreError> {
            let put = Put::builder()
                .table_name(table)
                .set_item(Some(item))
                .condition_expression(cond)
                .build()
                .map_err(|e| StoreError::Failed {
                    operation: "TransactWriteItems",
                    source: Box::new(e),
                })?;
            Ok(TransactWriteItem::builder().put(put).build())
        };
        self.client
            .transact_write_items()
            .transact_items(put(
                &self.tables.users,
                user_item,
                "attribute_not_exists(user_id)",
            )?)
            .transact_items(put(
                &self.tables.user_emails,
                email_item,
                "attribute_not_exists(email)",
            )?)
            .send()
            .await
            .map_err(|e| {
                let cancelled_by_condition = e
                    .as_service_error()
                    .and_then(|se| match se {
                        aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(c) => Some(c),
                        _ => None,
                    })
                    .is_some_and(|c| {
                        c.cancellation_reasons()
                            .iter()
                            .any(|r| r.code() == Some("ConditionalCheckFailed"))
                    });
                if cancelled_by_condition {
                    StoreError::AlreadyExists
                } else {
                    classify("TransactWriteItems", e)
                }
            })?;
        Ok(())
    }

    /// Ends a session: records when, by whom and why, and sets its TTL to the end of the
    /// retention period. Returns `false` if it did not exist or had already ended.
    pub async fn end_session(
        &self,
        user_id: u64,
        session_id: &str,
        ended_by: u64,
        reason: &str,
        now: i64,
        policy: &SessionPolicy,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.tables.sessions)
            .key("user_id", n(user_id))
            .key("session_id", s(session_id))
            .update_expression(
                "SET revoked_at = :now, revoked_by = :by, revoked_reason = :why, #ttl = :ttl",
            )
            .condition_expression(
                "attribute_exists(session_id) AND attribute_not_exists(revoked_at)",
            )
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":by", n(ended_by))
            .expression_attribute_values(":why", s(reason))
            .expression_attribute_values(":ttl", n(Session::ttl_for(now, policy)))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(classify("UpdateItem", e)),
        }
    }

    /// Moves `last_activity` to `now` if it is older than the write interval and the session is
    /// still usable. A conditional update, so concurrent requests write it at most once per
    /// interval; losing the race is not an error.
    pub async fn touch_session(
        &self,
        user_id: u64,
        session_id: &str,
        now: i64,
        policy: &SessionPolicy,
    ) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.tables.sessions)
            .key("user_id", n(user_id))
            .key("session_id", s(session_id))
            .update_expression("SET last_activity = :now")
            .condition_expression(
                "attribute_exists(session_id) AND attribute_not_exists(revoked_at) \
                 AND last_activity <= :stale AND expires_at > :now",
            )
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":stale", n(now - policy.activity_write_interval_seconds))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(classify("UpdateItem", e)),
        }
    }

    /// A page of a user's sessions, most recent activity first, from the `by_activity` index.
    ///
    /// With `active`, DynamoDB filters out ended, expired and idle sessions; since its `Limit`
    /// counts items before the filter, the query continues until the page is full or the user
    /// has no more sessions. One extra item is read to know whether a next page exists, so the
    /// last page never carries a cursor to an empty one.
    pub async fn list_sessions(
        &self,
        user_id: u64,
        active: Option<ActiveAt>,
        limit: usize,
        after: Option<&Position>,
    ) -> Result<SessionPage, StoreError> {
        let want = limit + 1;
        let per_query = if active.is_some() { want * 2 } else { want }.min(1000) as i32;
        let mut start = after.map(|p| {
            HashMap::from([
                ("user_id".to_owned(), n(user_id)),
                ("session_id".to_owned(), s(&p.session_id)),
                ("last_activity".to_owned(), n(p.last_activity)),
            ])
        });
        let mut sessions: Vec<Session> = Vec::with_capacity(want);
        loop {
            let mut query = self
                .client
                .query()
                .table_name(&self.tables.sessions)
                .index_name(BY_ACTIVITY_INDEX)
                .key_condition_expression("user_id = :u")
                .expression_attribute_values(":u", n(user_id))
                .scan_index_forward(false)
                .limit(per_query)
                .set_exclusive_start_key(start.take());
            if let Some(a) = active {
                // Idle sessions are cut off by the index's sort key itself, so DynamoDB never
                // reads them; ended and expired ones are filtered.
                query = query
                    .key_condition_expression("user_id = :u AND last_activity > :idle_cutoff")
                    .filter_expression("attribute_not_exists(revoked_at) AND expires_at > :now")
                    .expression_attribute_values(":now", n(a.now))
                    .expression_attribute_values(":idle_cutoff", n(a.now - a.idle_timeout_seconds));
            }
            let out = query.send().await.map_err(|e| classify("Query", e))?;
            for item in out.items.unwrap_or_default() {
                sessions.push(serde_dynamo::from_item(item)?);
                if sessions.len() == want {
                    break;
                }
            }
            match out.last_evaluated_key {
                Some(key) if sessions.len() < want => start = Some(key),
                _ => break,
            }
        }
        let next = if sessions.len() > limit {
            sessions.truncate(limit);
            sessions.last().map(|last| Position {
                last_activity: last.last_activity,
                session_id: last.session_id.clone(),
            })
        } else {
            None
        };
        Ok(SessionPage { sessions, next })
    }
}
