//! DynamoDB access. Every read and write the service makes is a function here, so round trips
//! are visible and countable in one place.

use crate::config::{DynamoConfig, TableNames, TlsRoots};
use crate::cursor::Position;
use crate::domain::SessionPolicy;
use crate::domain::limits::{ActiveSession, SlotClaim};
use crate::domain::{EndReason, Location, Session, User};
use crate::tables::BY_ACTIVITY_INDEX;
use aws_config::BehaviorVersion;
use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::{SharedCredentialsProvider, SharedHttpClient};
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, Put, ReturnValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
};
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};
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
    /// A conditional write found the item already there (for a new user: the email).
    #[error("the item already exists")]
    AlreadyExists,
    /// A new user's id is already taken.
    #[error("the user id is already taken")]
    IdTaken,
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

/// Whether a conditional write was refused because its condition did not hold: an expected
/// outcome (lost race, already done), never an error.
fn condition_failed<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    err.as_service_error()
        .and_then(|e| e.code())
        .is_some_and(|code| code == "ConditionalCheckFailedException")
}

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

fn timeouts_and_retries(cfg: &DynamoConfig) -> (TimeoutConfig, RetryConfig) {
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(cfg.connect_timeout)
        .operation_attempt_timeout(cfg.attempt_timeout)
        .operation_timeout(cfg.operation_timeout)
        .build();
    let retries = RetryConfig::standard()
        .with_max_attempts(cfg.max_attempts)
        .with_initial_backoff(Duration::from_millis(25))
        .with_max_backoff(Duration::from_millis(200));
    (timeouts, retries)
}

/// Loads the shared AWS configuration with the SDK's default provider chains (profiles, SSO,
/// web identity, instance metadata): for the admin CLI and the tools, run wherever. Timeouts and
/// retries suit Lambda: a dependency that is down or slow fails the request in well under two
/// seconds (a 503 the client can retry) instead of holding it for the SDK's defaults.
pub async fn aws_config(cfg: &DynamoConfig) -> aws_config::SdkConfig {
    let (timeouts, retries) = timeouts_and_retries(cfg);
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(timeouts)
        .retry_config(retries)
        .http_client(https_client(cfg.tls_roots));
    if cfg.endpoint.is_some() && std::env::var_os("AWS_REGION").is_none() {
        // A local DynamoDB: any region will do.
        loader = loader.region(aws_config::Region::new("us-east-1"));
    }
    loader.load().await
}

/// The AWS configuration of a Lambda function, built without the default provider chains:
/// Lambda always gives a function its region and its role's credentials in the environment
/// (`AWS_REGION`, `AWS_ACCESS_KEY_ID`, ...), so the profile, SSO, web-identity (STS) and
/// instance-metadata providers would never run, and leaving them out keeps them out of the
/// binary. `env` looks up the region (the process environment in the functions).
pub fn lambda_aws_config(
    cfg: &DynamoConfig,
    env: impl Fn(&str) -> Option<String>,
) -> Result<aws_config::SdkConfig, crate::error::StartupError> {
    let region = env("AWS_REGION")
        .or_else(|| env("AWS_DEFAULT_REGION"))
        .filter(|r| !r.trim().is_empty());
    let region = match (region, &cfg.endpoint) {
        (Some(region), _) => region,
        // A local DynamoDB: any region will do.
        (None, Some(_)) => "us-east-1".to_owned(),
        (None, None) => return Err(crate::error::StartupError::Missing("AWS_REGION")),
    };
    // Read from the process environment when the client first needs them (then cached).
    let credentials = EnvironmentVariableCredentialsProvider::new();
    let (timeouts, retries) = timeouts_and_retries(cfg);
    Ok(aws_config::SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(aws_config::Region::new(region))
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .http_client(https_client(cfg.tls_roots))
        .timeout_config(timeouts)
        .retry_config(retries)
        .build())
}

/// The roots every AWS service endpoint chains to (Amazon Root CA 1–4, Starfield Services
/// Root G2; see `shared/data/tls/README.md`).
pub const AMAZON_TRUST_SERVICES_PEM: &[u8] =
    include_bytes!("../data/tls/amazon-trust-services.pem");

/// The HTTPS client of the AWS clients: rustls on ring (the one TLS stack and the one crypto
/// library in the binary),
/// trusting `roots`. With [`TlsRoots::Amazon`] a cold start parses five compiled-in
/// certificates instead of reading and parsing the system's whole CA store (about 5 ms of init
/// measured by `make bench`).
pub fn https_client(roots: TlsRoots) -> SharedHttpClient {
    let trust = match roots {
        TlsRoots::Amazon => TrustStore::empty().with_pem_certificate(AMAZON_TRUST_SERVICES_PEM),
        TlsRoots::System => TrustStore::default(),
    };
    let builder = aws_smithy_http_client::Builder::new().tls_provider(tls::Provider::Rustls(
        tls::rustls_provider::CryptoMode::Ring,
    ));
    match TlsContext::builder().with_trust_store(trust).build() {
        Ok(context) => builder.tls_context(context).build_https(),
        // Building a context does not fail today (certificates are checked on first use);
        // should it, the SDK's default client still works.
        Err(_) => builder.build_https(),
    }
}

/// The DynamoDB client. With an endpoint override (local Dynoxide) it signs with static
/// credentials, which the emulator accepts; on AWS it uses the function's role.
pub fn dynamodb_client(sdk: &aws_config::SdkConfig, cfg: &DynamoConfig) -> Client {
    let mut builder = aws_sdk_dynamodb::config::Builder::from(sdk);
    if let Some(endpoint) = &cfg.endpoint {
        builder = builder.endpoint_url(endpoint).credentials_provider(
            aws_sdk_dynamodb::config::Credentials::new("local", "local", None, None, "local"),
        );
    }
    Client::from_conf(builder.build())
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

/// What ending a session did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndOutcome {
    /// It was active and is now ended.
    Ended,
    /// It had already been ended.
    AlreadyEnded,
    /// There is no such session for that user.
    NotFound,
}

/// What setting a session's label did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LabelOutcome {
    /// The session as it is now.
    Labelled(Box<Session>),
    /// The session has ended (or expired, or is idle): its label stays as it was.
    NotActive,
    /// The user has no such session.
    NotFound,
}

/// The outcome of a refresh-token rotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// The presented token was current; the session now holds the new hash.
    Rotated(Session),
    /// The condition failed; the item as it was (if it exists) tells why.
    Refused(Option<Session>),
}

/// What ending a session writes (with `:now`, `:by`, `:why`, `:ttl` and `#ttl`), and the
/// condition that makes a session end once, by its first ender.
const END_SESSION: &str =
    "SET revoked_at = :now, revoked_by = :by, revoked_reason = :why, #ttl = :ttl";
const END_SESSION_IF: &str = "attribute_exists(session_id) AND attribute_not_exists(revoked_at)";

/// The values [`END_SESSION`] writes.
fn end_values(
    ended_by: u64,
    reason: EndReason,
    now: i64,
    policy: &SessionPolicy,
) -> HashMap<String, AttributeValue> {
    HashMap::from([
        (":now".to_owned(), n(now)),
        (":by".to_owned(), n(ended_by)),
        (":why".to_owned(), s(reason.as_str())),
        (":ttl".to_owned(), n(Session::ttl_for(now, policy))),
    ])
}

/// A session that is usable at `:now` (not ended, not expired, not idle before `:idle_cutoff`),
/// as a condition or filter expression.
macro_rules! session_usable {
    () => {
        "attribute_not_exists(revoked_at) AND expires_at > :now AND last_activity > :idle_cutoff"
    };
}

/// [`session_usable!`] as a constant, for expressions built at run time.
const SESSION_USABLE: &str = session_usable!();

/// The item an update returned, or `None` when its condition did not hold.
fn updated_item<E, R, T>(
    result: Result<aws_sdk_dynamodb::operation::update_item::UpdateItemOutput, SdkError<E, R>>,
) -> Result<Option<T>, StoreError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
    T: serde::de::DeserializeOwned,
{
    match result {
        Ok(out) => Ok(out.attributes.map(serde_dynamo::from_item).transpose()?),
        Err(e) if condition_failed(&e) => Ok(None),
        Err(e) => Err(classify("UpdateItem", e)),
    }
}

/// The users-table key of the user-id counter. Real user ids start at 1.
const USER_ID_COUNTER: u64 = 0;

/// DynamoDB access for the three tables.
#[derive(Clone, Debug)]
pub struct Store {
    client: Client,
    tables: TableNames,
    global: std::sync::Arc<caller::GlobalCache>,
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
        Self {
            client,
            tables,
            global: Default::default(),
        }
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
        Ok(self
            .user_item(user_id)
            .await?
            .map(serde_dynamo::from_item)
            .transpose()?)
    }

    /// The raw users-table item (strongly consistent).
    async fn user_item(
        &self,
        user_id: u64,
    ) -> Result<Option<HashMap<String, AttributeValue>>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.users)
            .key("user_id", n(user_id))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify("GetItem", e))?;
        Ok(out.item)
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
                if condition_failed(&e) {
                    StoreError::AlreadyExists
                } else {
                    classify("PutItem", e)
                }
            })?;
        Ok(())
    }

    /// Overwrites a session item as it is (demo data only: the service itself never writes a
    /// session without a condition).
    pub async fn replace_session(&self, session: &Session) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.tables.sessions)
            .set_item(Some(serde_dynamo::to_item(session)?))
            .condition_expression("attribute_exists(session_id)")
            .send()
            .await
            .map_err(|e| classify("PutItem", e))?;
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
                // Reasons come in the order of the items: the user, then the email.
                let reasons: Vec<String> = e
                    .as_service_error()
                    .and_then(|se| match se {
                        aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(c) => Some(c),
                        _ => None,
                    })
                    .map(|c| {
                        c.cancellation_reasons()
                            .iter()
                            .map(|r| r.code().unwrap_or("None").to_owned())
                            .collect()
                    })
                    .unwrap_or_default();
                let failed = |i: usize| reasons.get(i).is_some_and(|c| c == "ConditionalCheckFailed");
                if failed(1) {
                    StoreError::AlreadyExists
                } else if failed(0) {
                    StoreError::IdTaken
                } else if reasons.iter().any(|c| c == "TransactionConflict") {
                    StoreError::Transient {
                        operation: "TransactWriteItems",
                        source: Box::new(e),
                    }
                } else {
                    classify("TransactWriteItems", e)
                }
            })?;
        Ok(())
    }

    /// Ends a session: records when, by whom and why, and sets its TTL to the end of the
    /// retention period. A conditional update: a session is ended once, by its first ender.
    pub async fn end_session(
        &self,
        user_id: u64,
        session_id: &str,
        ended_by: u64,
        reason: EndReason,
        now: i64,
        policy: &SessionPolicy,
    ) -> Result<EndOutcome, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.tables.sessions)
            .key("user_id", n(user_id))
            .key("session_id", s(session_id))
            .update_expression(END_SESSION)
            .condition_expression(END_SESSION_IF)
            .expression_attribute_names("#ttl", "ttl")
            .set_expression_attribute_values(Some(end_values(ended_by, reason, now, policy)))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(EndOutcome::Ended),
            Err(e) => match e.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(c)) => {
                    Ok(if c.item().is_some() {
                        EndOutcome::AlreadyEnded
                    } else {
                        EndOutcome::NotFound
                    })
                }
                _ => Err(classify("UpdateItem", e)),
            },
        }
    }

    /// Moves `last_activity` to `now` if it is older than the write interval. A conditional
    /// update, so concurrent requests write it at most once per interval; losing the race is
    /// not an error. Call it only for a session just checked to be active.
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
            // Only the key and last_activity appear in the request, so the listing functions'
            // IAM policy can allow exactly those attributes. The caller has just checked that the
            // session is active; an ended or expired one stays so whatever its last_activity.
            .condition_expression("attribute_exists(session_id) AND last_activity <= :stale")
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":stale", n(now - policy.activity_write_interval_seconds))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if condition_failed(&e) => Ok(()),
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

impl Store {
    /// The user id an email belongs to.
    pub async fn user_id_by_email(&self, email: &str) -> Result<Option<u64>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.user_emails)
            .key("email", s(email))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify("GetItem", e))?;
        Ok(out
            .item
            .and_then(|item| item.get("user_id").and_then(|v| v.as_n().ok()).cloned())
            .and_then(|v| v.parse().ok()))
    }

    /// Takes the next user id from the counter: unique and never reused, even when the
    /// registration that took it fails.
    pub async fn allocate_user_id(&self) -> Result<u64, StoreError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.tables.users)
            .key("user_id", n(USER_ID_COUNTER))
            .update_expression("ADD next_user_id :one")
            .expression_attribute_values(":one", n(1))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(|e| classify("UpdateItem", e))?;
        out.attributes
            .as_ref()
            .and_then(|a| a.get("next_user_id"))
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| StoreError::Failed {
                operation: "UpdateItem",
                source: "user id counter returned no value".into(),
            })
    }

    /// Moves the user-id counter past `floor` (after users were created with explicit ids).
    pub async fn raise_user_id_floor(&self, floor: u64) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.tables.users)
            .key("user_id", n(USER_ID_COUNTER))
            .update_expression("SET next_user_id = :floor")
            .condition_expression("attribute_not_exists(next_user_id) OR next_user_id < :floor")
            .expression_attribute_values(":floor", n(floor))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if condition_failed(&e) => Ok(()),
            Err(e) => Err(classify("UpdateItem", e)),
        }
    }

    /// Rotates a session's refresh token from generation `from` to `from + 1`: succeeds only
    /// if `from` is still the current generation and the session is still usable, and records
    /// the activity, address and location of the refresh. One conditional write, so of many
    /// concurrent rotations of one generation exactly one wins: every generation has at most
    /// one successor.
    #[allow(clippy::too_many_arguments)]
    pub async fn rotate_refresh(
        &self,
        user_id: u64,
        session_id: &str,
        from: u64,
        ip: &str,
        location: Option<&Location>,
        now: i64,
        policy: &SessionPolicy,
    ) -> Result<Rotation, StoreError> {
        let location_value = location
            .map(|l| -> Result<_, StoreError> {
                Ok(HashMap::from([(
                    ":loc".to_owned(),
                    serde_dynamo::to_attribute_value(l)?,
                )]))
            })
            .transpose()?;
        let result = self
            .client
            .update_item()
            .table_name(&self.tables.sessions)
            .key("user_id", n(user_id))
            .key("session_id", s(session_id))
            .update_expression(match location {
                // The location follows the address: unknown for this one means none.
                Some(_) => {
                    "SET refresh_generation = :next, refresh_rotated_at = :now, \
                     last_activity = :now, ip_address = :ip, #loc = :loc"
                }
                None => {
                    "SET refresh_generation = :next, refresh_rotated_at = :now, \
                     last_activity = :now, ip_address = :ip REMOVE #loc"
                }
            })
            .expression_attribute_names("#loc", "location")
            .set_expression_attribute_values(location_value)
            .condition_expression(concat!(
                "refresh_generation = :from AND ",
                session_usable!()
            ))
            .expression_attribute_values(":from", n(from))
            .expression_attribute_values(":next", n(from + 1))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":ip", s(ip))
            .expression_attribute_values(":idle_cutoff", n(now - policy.idle_timeout_seconds))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(out) => {
                let item = out.attributes.ok_or_else(|| StoreError::Failed {
                    operation: "UpdateItem",
                    source: "rotation returned no item".into(),
                })?;
                Ok(Rotation::Rotated(serde_dynamo::from_item(item)?))
            }
            Err(e) => match e.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(c)) => Ok(Rotation::Refused(
                    c.item().cloned().map(serde_dynamo::from_item).transpose()?,
                )),
                _ => Err(classify("UpdateItem", e)),
            },
        }
    }
}

/// The users-table attribute that records which session holds slot `i` of a user's session
/// limit.
fn slot_attribute(slot: u32) -> String {
    format!("{SLOT_PREFIX}{slot}")
}

const SLOT_PREFIX: &str = "session_slot_";

fn txn_error(e: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Failed {
        operation: "TransactWriteItems",
        source: Box::new(e),
    }
}

impl Store {
    /// Sets or clears the label of a session that is still usable at `now`.
    pub async fn set_session_label(
        &self,
        user_id: u64,
        session_id: &str,
        label: Option<&str>,
        now: i64,
        policy: &SessionPolicy,
    ) -> Result<LabelOutcome, StoreError> {
        let update = self
            .client
            .update_item()
            .table_name(&self.tables.sessions)
            .key("user_id", n(user_id))
            .key("session_id", s(session_id))
            .condition_expression(concat!(
                "attribute_exists(session_id) AND ",
                session_usable!()
            ))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":idle_cutoff", n(now - policy.idle_timeout_seconds))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        let update = match label {
            Some(label) => update
                .update_expression("SET label = :label")
                .expression_attribute_values(":label", s(label)),
            None => update.update_expression("REMOVE label"),
        };
        match update.send().await {
            Ok(out) => {
                let item = out.attributes.ok_or_else(|| StoreError::Failed {
                    operation: "UpdateItem",
                    source: "the label update returned no item".into(),
                })?;
                Ok(LabelOutcome::Labelled(Box::new(serde_dynamo::from_item(
                    item,
                )?)))
            }
            Err(e) => match e.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(c)) => {
                    Ok(if c.item().is_some() {
                        LabelOutcome::NotActive
                    } else {
                        LabelOutcome::NotFound
                    })
                }
                _ => Err(classify("UpdateItem", e)),
            },
        }
    }

    /// Records that the user proved their password in this session at `now` and moves its
    /// refresh token from generation `from` to the next: the re-authenticated client gets a new
    /// refresh token, and every earlier one is rotated out. `None` unless the session is still
    /// usable and `from` still current.
    pub async fn reauthenticate_session(
        &self,
        user_id: u64,
        session_id: &str,
        from: u64,
        now: i64,
        policy: &SessionPolicy,
    ) -> Result<Option<Session>, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.tables.sessions)
            .key("user_id", n(user_id))
            .key("session_id", s(session_id))
            .update_expression(
                "SET auth_time = :now, auth_generation = :next, refresh_generation = :next, \
                 refresh_rotated_at = :now",
            )
            .condition_expression(concat!(
                "attribute_exists(session_id) AND refresh_generation = :from AND ",
                session_usable!()
            ))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":from", n(from))
            .expression_attribute_values(":next", n(from + 1))
            .expression_attribute_values(":idle_cutoff", n(now - policy.idle_timeout_seconds))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        updated_item(result)
    }

    /// One user and which sessions hold the slots of their session limit.
    pub async fn get_user_with_slots(
        &self,
        user_id: u64,
    ) -> Result<Option<(User, HashMap<u32, String>)>, StoreError> {
        let Some(item) = self.user_item(user_id).await? else {
            return Ok(None);
        };
        let slots = item
            .iter()
            .filter_map(|(name, value)| {
                let slot = name.strip_prefix(SLOT_PREFIX)?.parse().ok()?;
                Some((slot, value.as_s().ok()?.clone()))
            })
            .collect();
        Ok(Some((serde_dynamo::from_item(item)?, slots)))
    }

    /// Every active session of a user, from the table itself with a strongly consistent read
    /// (the activity index may lag a moment behind a sign-in).
    pub async fn active_sessions(
        &self,
        user_id: u64,
        now: i64,
        policy: &SessionPolicy,
    ) -> Result<Vec<ActiveSession>, StoreError> {
        let mut found = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.tables.sessions)
                .key_condition_expression("user_id = :u")
                .filter_expression(session_usable!())
                .projection_expression("session_id, last_activity")
                .expression_attribute_values(":u", n(user_id))
                .expression_attribute_values(":now", n(now))
                .expression_attribute_values(":idle_cutoff", n(now - policy.idle_timeout_seconds))
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| classify("Query", e))?;
            for item in out.items.unwrap_or_default() {
                let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok());
                let number = |name: &str| item.get(name).and_then(|v| v.as_n().ok());
                if let (Some(id), Some(at)) = (text("session_id"), number("last_activity")) {
                    found.push(ActiveSession {
                        session_id: id.clone(),
                        last_activity: at.parse().unwrap_or(0),
                    });
                }
            }
            match out.last_evaluated_key {
                Some(key) => start = Some(key),
                None => break,
            }
        }
        Ok(found)
    }

    /// Stores a new session in a slot of its user's session limit, in one transaction: the slot
    /// changes hands only if it still has the holder read a moment ago, a free slot's previous
    /// holder must still be ended, and an evicted holder is ended in the same write. `false`
    /// when another sign-in got there first (read again and retry).
    pub async fn put_session_in_slot(
        &self,
        session: &Session,
        claim: &SlotClaim,
        now: i64,
        policy: &SessionPolicy,
    ) -> Result<bool, StoreError> {
        let (slot, holder) = match claim {
            SlotClaim::Free { slot, previous } => (*slot, previous.as_deref()),
            SlotClaim::Evict { slot, victim } => (*slot, Some(victim.as_str())),
        };
        let user_id = session.user_id;
        // The slot is taken only in the credential epoch the session was stamped with (see
        // `credentials.rs`): a sign-in that raced a password change stores nothing.
        let epoch = credentials::epoch_is(session.credential_epoch);
        let mut take = aws_sdk_dynamodb::types::Update::builder()
            .table_name(&self.tables.users)
            .key("user_id", n(user_id))
            .update_expression("SET #slot = :sid")
            .expression_attribute_names("#slot", slot_attribute(slot))
            .expression_attribute_values(":sid", s(&session.session_id))
            .expression_attribute_values(":cep", n(session.credential_epoch));
        take = match holder {
            Some(h) => take
                .condition_expression(format!(
                    "attribute_exists(user_id) AND #slot = :holder AND {epoch}"
                ))
                .expression_attribute_values(":holder", s(h)),
            None => take.condition_expression(format!(
                "attribute_exists(user_id) AND attribute_not_exists(#slot) AND {epoch}"
            )),
        };
        let mut items = vec![
            TransactWriteItem::builder()
                .update(take.build().map_err(txn_error)?)
                .build(),
        ];
        match claim {
            SlotClaim::Free {
                previous: Some(previous),
                ..
            } => {
                let check = aws_sdk_dynamodb::types::ConditionCheck::builder()
                    .table_name(&self.tables.sessions)
                    .key("user_id", n(user_id))
                    .key("session_id", s(previous))
                    .condition_expression(concat!(
                        "attribute_not_exists(session_id) OR NOT (",
                        session_usable!(),
                        ")"
                    ))
                    .expression_attribute_values(":now", n(now))
                    .expression_attribute_values(
                        ":idle_cutoff",
                        n(now - policy.idle_timeout_seconds),
                    )
                    .build()
                    .map_err(txn_error)?;
                items.push(TransactWriteItem::builder().condition_check(check).build());
            }
            SlotClaim::Free { previous: None, .. } => {}
            SlotClaim::Evict { victim, .. } => {
                let end = self
                    .end_in_transaction(user_id, victim, user_id, EndReason::Evicted, now, policy)
                    .build()
                    .map_err(txn_error)?;
                items.push(TransactWriteItem::builder().update(end).build());
            }
        }
        let put = Put::builder()
            .table_name(&self.tables.sessions)
            .set_item(Some(serde_dynamo::to_item(session)?))
            .condition_expression("attribute_not_exists(session_id)")
            .build()
            .map_err(txn_error)?;
        items.push(TransactWriteItem::builder().put(put).build());

        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) => {
                let lost_race = e
                    .as_service_error()
                    .and_then(|se| match se {
                        aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(c) => Some(c),
                        _ => None,
                    })
                    .is_some_and(|c| {
                        c.cancellation_reasons().iter().any(|r| {
                            matches!(r.code(), Some("ConditionalCheckFailed" | "TransactionConflict"))
                        })
                    });
                if lost_race {
                    Ok(false)
                } else {
                    Err(classify("TransactWriteItems", e))
                }
            }
        }
    }
}

/// An administrator's token, as the one-round-trip end of a session checks it.
#[derive(Debug, Clone, Copy)]
pub struct AdminToken<'a> {
    /// The administrator.
    pub user_id: u64,
    /// Their session.
    pub session_id: &'a str,
    /// The credential epoch the token was issued in.
    pub credential_epoch: u64,
    /// The global epoch of the token's session.
    pub global_epoch: u64,
    /// The session's refresh generation when the token was issued.
    pub generation: u64,
}

impl Store {
    /// An admin ends one session of another user in one round trip: a single transaction
    /// checks that the admin's session is usable in the token's credential and global epochs,
    /// that its sign-in is recent (at or after `recent_since`) and not newer than the token (by
    /// refresh generation),
    /// records its activity, checks that the users table still says admin and enabled in that
    /// credential epoch and that the global epoch is still the token's, and ends the target. `None` when the admin's side does not
    /// hold: the caller then finds out why with the usual reads (401 or 403).
    #[allow(clippy::too_many_arguments)]
    pub async fn admin_end_session(
        &self,
        admin: AdminToken<'_>,
        recent_since: i64,
        user_id: u64,
        session_id: &str,
        now: i64,
        policy: &SessionPolicy,
    ) -> Result<Option<EndOutcome>, StoreError> {
        use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
        use aws_sdk_dynamodb::types::{ConditionCheck, Update};
        let global = admin.global_epoch;
        let global_is = if global == 0 {
            "(attribute_not_exists(global_epoch) OR global_epoch = :gep)"
        } else {
            "global_epoch = :gep"
        };
        let (admin_id, admin_session) = (admin.user_id, admin.session_id);
        let caller = Update::builder()
            .table_name(&self.tables.sessions)
            .key("user_id", n(admin_id))
            .key("session_id", s(admin_session))
            .update_expression("SET last_activity = :now")
            .condition_expression(format!(
                "{SESSION_USABLE} AND {} AND {global_is} AND auth_time >= :recent AND \
                 (attribute_not_exists(auth_generation) OR auth_generation <= :tgen)",
                credentials::epoch_is(admin.credential_epoch)
            ))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":idle_cutoff", n(now - policy.idle_timeout_seconds))
            .expression_attribute_values(":cep", n(admin.credential_epoch))
            .expression_attribute_values(":gep", n(global))
            .expression_attribute_values(":recent", n(recent_since))
            .expression_attribute_values(":tgen", n(admin.generation))
            .build()
            .map_err(txn_error)?;
        let admin = ConditionCheck::builder()
            .table_name(&self.tables.users)
            .key("user_id", n(admin_id))
            .condition_expression(format!(
                "#role = :admin AND (attribute_not_exists(disabled) OR disabled = :no) AND {}",
                credentials::epoch_is(admin.credential_epoch)
            ))
            .expression_attribute_names("#role", "role")
            .expression_attribute_values(":admin", s("admin"))
            .expression_attribute_values(":no", AttributeValue::Bool(false))
            .expression_attribute_values(":cep", n(admin.credential_epoch))
            .build()
            .map_err(txn_error)?;
        let global_item = ConditionCheck::builder()
            .table_name(&self.tables.sessions)
            .key("user_id", n(caller::GLOBAL_USER))
            .key("session_id", s(caller::GLOBAL_SESSION))
            .condition_expression(global_is)
            .expression_attribute_values(":gep", n(global))
            .build()
            .map_err(txn_error)?;
        let end = self
            .end_in_transaction(user_id, session_id, admin_id, EndReason::Admin, now, policy)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(txn_error)?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(caller).build())
            .transact_items(TransactWriteItem::builder().condition_check(admin).build())
            .transact_items(
                TransactWriteItem::builder()
                    .condition_check(global_item)
                    .build(),
            )
            .transact_items(TransactWriteItem::builder().update(end).build())
            .send()
            .await;
        let err = match result {
            Ok(_) => return Ok(Some(EndOutcome::Ended)),
            Err(e) => e,
        };
        let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) =
            err.as_service_error()
        else {
            return Err(classify("TransactWriteItems", err));
        };
        // Reasons come in the order of the items: the admin's session, the admin, the global
        // epoch, the target.
        let reasons = cancelled.cancellation_reasons();
        let failed = |i: usize| {
            reasons
                .get(i)
                .and_then(|r| r.code())
                .is_some_and(|c| c == "ConditionalCheckFailed")
        };
        if failed(0) || failed(1) || failed(2) {
            Ok(None)
        } else if failed(3) {
            let existed = reasons.get(3).and_then(|r| r.item()).is_some();
            Ok(Some(if existed {
                EndOutcome::AlreadyEnded
            } else {
                EndOutcome::NotFound
            }))
        } else {
            Err(classify("TransactWriteItems", err))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    /// SHA-256 of each DER certificate in a PEM bundle, in hex.
    fn fingerprints(pem: &str) -> Vec<String> {
        pem.split("-----BEGIN CERTIFICATE-----")
            .skip(1)
            .map(|block| {
                let body: String = block
                    .split("-----END CERTIFICATE-----")
                    .next()
                    .unwrap_or_default()
                    .split_whitespace()
                    .collect();
                let der = base64::engine::general_purpose::STANDARD
                    .decode(body)
                    .expect("base64 body");
                ring::digest::digest(&ring::digest::SHA256, &der)
                    .as_ref()
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect()
            })
            .collect()
    }

    #[test]
    fn amazon_roots_are_the_published_ones() {
        let pem = std::str::from_utf8(AMAZON_TRUST_SERVICES_PEM).expect("ASCII");
        // https://www.amazontrust.com/repository/
        assert_eq!(
            fingerprints(pem),
            [
                "8ecde6884f3d87b1125ba31ac3fcb13d7016de7f57cc904fe1cb97c6ae98196e",
                "1ba5b2aa8c65401a82960118f80bec4f62304d83cec4713a19c39c011ea46db4",
                "18ce6cfe7bf14e60b2e347b8dfe868cb31d02ebb3ada271569f50343b46db3a4",
                "e35d28419ed02025cfa69038cd623962458da5c695fbdea3c22b0bfb25897092",
                "568d6905a2c88708a4b3025190edcfedb1974a606a13c6e5290fcb2ae63edab5",
            ]
        );
    }

    fn dynamo(endpoint: Option<&str>) -> DynamoConfig {
        DynamoConfig {
            endpoint: endpoint.map(str::to_owned),
            connect_timeout: Duration::from_millis(300),
            attempt_timeout: Duration::from_millis(700),
            operation_timeout: Duration::from_millis(1600),
            max_attempts: 2,
            tls_roots: TlsRoots::Amazon,
        }
    }

    #[test]
    fn a_function_takes_its_region_from_lambdas_environment() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        let on_aws = dynamo(None);
        let sdk = lambda_aws_config(&on_aws, env(&[("AWS_REGION", "eu-west-1")])).unwrap();
        assert_eq!(sdk.region().map(|r| r.as_ref()), Some("eu-west-1"));
        assert!(sdk.credentials_provider().is_some());
        assert!(sdk.http_client().is_some());
        assert_eq!(
            sdk.retry_config().map(|r| r.max_attempts()),
            Some(2),
            "the configured retries"
        );
        let sdk = lambda_aws_config(&on_aws, env(&[("AWS_DEFAULT_REGION", "us-west-2")])).unwrap();
        assert_eq!(sdk.region().map(|r| r.as_ref()), Some("us-west-2"));
        assert!(
            lambda_aws_config(&on_aws, env(&[])).is_err(),
            "no region on AWS"
        );
        let local = dynamo(Some("http://127.0.0.1:8000"));
        let sdk = lambda_aws_config(&local, env(&[])).unwrap();
        assert_eq!(sdk.region().map(|r| r.as_ref()), Some("us-east-1"));
    }

    /// A TLS server on localhost with a fresh self-signed certificate: a stand-in for an
    /// endpoint that is not AWS. Returns its port and what each handshake ended with.
    fn self_signed_tls_server(connections: usize) -> (u16, std::sync::mpsc::Receiver<String>) {
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("cert");
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(cert.signing_key.serialize_der().into());
        let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert.cert.der().clone()], key)
        .expect("server config");
        let config = std::sync::Arc::new(config);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for _ in 0..connections {
                let Ok((mut socket, _)) = listener.accept() else {
                    return;
                };
                let mut conn = rustls::ServerConnection::new(config.clone()).expect("conn");
                let ended = loop {
                    match conn.complete_io(&mut socket) {
                        Ok((0, 0)) => break "closed".to_owned(),
                        Ok(_) if !conn.is_handshaking() => break "handshake done".to_owned(),
                        Ok(_) => continue,
                        Err(e) => break e.to_string(),
                    }
                };
                let _ = tx.send(ended);
            }
        });
        (port, rx)
    }

    /// The client speaks TLS (rustls on ring) and checks the server's chain against the trust
    /// store: a certificate no AWS root vouches for is refused during the handshake, and the
    /// request fails as an ordinary, retryable dispatch error (a bad trust store or a missing
    /// crypto provider would panic the function instead).
    #[tokio::test]
    async fn a_non_aws_https_endpoint_is_refused_in_the_handshake() {
        let roots = [TlsRoots::Amazon, TlsRoots::System];
        let (port, handshakes) = self_signed_tls_server(roots.len());
        for roots in roots {
            let cfg = DynamoConfig {
                endpoint: Some(format!("https://localhost:{port}")),
                max_attempts: 1,
                tls_roots: roots,
                ..dynamo(None)
            };
            let sdk = lambda_aws_config(&cfg, |_| None).expect("local region");
            let client = dynamodb_client(&sdk, &cfg);
            let err = client
                .list_tables()
                .send()
                .await
                .expect_err("not an AWS endpoint");
            let chain = aws_smithy_types::error::display::DisplayErrorContext(&err).to_string();
            assert!(
                matches!(err, SdkError::DispatchFailure(_)),
                "{roots:?}: {chain}"
            );
            assert!(chain.contains("UnknownIssuer"), "{roots:?}: {chain}");
            let server = handshakes
                .recv_timeout(Duration::from_secs(10))
                .expect("the client connected");
            // The client got as far as checking the certificate, then told the server why not.
            assert!(
                server.contains("received fatal alert"),
                "{roots:?}: {server}"
            );
        }
    }
}

mod caller;
mod credentials;
mod throttle;

pub use caller::{CallerItems, GLOBAL_EPOCH_MAX_AGE};
pub use credentials::{AdminUpdate, EpochChange, EpochRefusal};
