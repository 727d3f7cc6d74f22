//! DynamoDB access. Every read and write the service makes is a function of [`Store`] here, so
//! round trips are visible and countable in one place.
//!
//! One file per table and concern: `sessions` (writes to the sessions table), `listing`
//! (reading a user's sessions), `users` (users, the user-id counter and the email table),
//! `credentials` (epoch changes that end every session at once), `sweep` (marking the sessions
//! an epoch change ended), `slots` (the session limit), `admin` (an admin's one-round-trip end of a session),
//! `caller` (loading a request's caller and the global cut-off), `throttle` (password
//! attempts), `second_factor` (a user's TOTP factor and recovery codes), `activity` (each user's history of
//! domain events), `migrate` (copying sessions into a table with the live index), with `client` (SDK and TLS set-up), `wire` (the hot reads without the SDK's pipeline), `item_json` (their items read
//! straight from DynamoDB's JSON), `signer` (their SigV4) and `expressions` (what several writes share).

use crate::config::TableNames;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;

use crate::error::BoxError;
pub use crate::error::StoreError;

/// Error codes DynamoDB uses for throttling and its own transient failures.
const TRANSIENT_CODES: &[&str] = &[
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
    "TransactionInProgressException",
    // A plain write to an item a transaction holds at that moment (a sign-in's second step
    // spending a code while a re-authentication uses another): nothing was written.
    "TransactionConflictException",
];

/// Whether a conditional write was refused because its condition did not hold: an expected
/// outcome (lost race, already done), never an error.
pub(crate) fn condition_failed<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    err.as_service_error()
        .and_then(|e| e.code())
        .is_some_and(|code| code == "ConditionalCheckFailedException")
}

/// Sorts an SDK error into transient (503) or not (500).
pub(crate) fn classify<E, R>(operation: &'static str, err: SdkError<E, R>) -> StoreError
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

/// DynamoDB access for the four tables.
#[derive(Clone, Debug)]
pub struct Store {
    client: Client,
    /// The caller's and the live index's reads, without the SDK's pipeline.
    wire: Wire,
    tables: TableNames,
    global: std::sync::Arc<caller::GlobalCache>,
}

pub(crate) fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

pub(crate) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

impl Store {
    /// A store over an existing client (writes and the rarer reads) and wire client (the
    /// reads on every request's path), both for the same DynamoDB.
    pub fn new(client: Client, wire: Wire, tables: TableNames) -> Self {
        Self {
            client,
            wire,
            tables,
            global: Default::default(),
        }
    }

    /// The underlying client (for table management in the CLI and tests).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The wire client of the hot reads.
    pub fn wire(&self) -> &Wire {
        &self.wire
    }

    /// The table names.
    pub fn tables(&self) -> &TableNames {
        &self.tables
    }
}

#[macro_use]
mod expressions;
mod activity;
mod admin;
mod caller;
mod challenge;
mod client;
mod credentials;
mod item_json;
mod listing;
mod migrate;
mod second_factor;
mod sessions;
mod signer;
mod slots;
mod sweep;
mod throttle;
mod users;
mod wire;

pub use activity::ActivityPage;
pub use admin::AdminToken;
pub use caller::{CallerItems, GLOBAL_EPOCH_MAX_AGE};
pub use challenge::Completion;
pub use client::{
    AMAZON_TRUST_SERVICES_PEM, aws_config, dynamodb_client, dynamodb_wire, https_client,
    lambda_aws_config,
};
pub use credentials::{AdminUpdate, EpochChange, EpochRefusal};
pub use listing::{ActiveAt, SessionPage};
pub use migrate::CopyReport;
pub use second_factor::{FactorUse, SecondFactor};
pub use sessions::{EndOutcome, Item, LabelOutcome, ReportOutcome, Rotation, session_item};
pub use users::Account;
pub use wire::{Observe, Wire, WireError};
