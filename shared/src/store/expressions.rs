//! Expressions and values several tables' writes share.

use super::{StoreError, classify, condition_failed, n, s};
use crate::domain::SessionPolicy;
use crate::domain::UserId;
use crate::domain::{EndReason, Session};
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::{UpdateItemError, UpdateItemOutput};
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;

/// What ending a session writes (with `:now`, `:by`, `:why`, `:ttl` and `#ttl`), and the
/// condition that makes a session end once, by its first ender. Removing `live_until` takes
/// the session out of the live index ([`crate::tables::LIVE_INDEX`]).
pub(super) const END_SESSION: &str = "SET revoked_at = :now, revoked_by = :by, \
     revoked_reason = :why, #ttl = :ttl REMOVE live_until";
pub(super) const END_SESSION_IF: &str =
    "attribute_exists(session_id) AND attribute_not_exists(revoked_at)";

/// [`END_SESSION`], and the session marked reported by its user (the "This wasn't me" link).
pub(super) const REPORT_SESSION: &str = "SET revoked_at = :now, revoked_by = :by, \
     revoked_reason = :why, #ttl = :ttl, reported_at = :now REMOVE live_until";

/// The values [`END_SESSION`] writes.
pub(super) fn end_values(
    ended_by: UserId,
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
pub(super) const SESSION_USABLE: &str = session_usable!();

/// The item an update returned, or `None` when its condition did not hold.
pub(super) fn updated_item<E, R, T>(
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

/// A conditional `UpdateItem`'s outcome, sent with `ReturnValuesOnConditionCheckFailure`
/// `ALL_OLD` (and `ReturnValues` `ALL_NEW` where the written item is wanted).
pub(super) enum Conditional {
    /// The condition held: the item as written (empty unless `ALL_NEW` was asked for).
    Written(HashMap<String, AttributeValue>),
    /// The condition failed on an existing item: the item as it was.
    Refused(HashMap<String, AttributeValue>),
    /// The condition failed: there is no such item.
    Missing,
}

/// Sorts a conditional update's result into [`Conditional`]; any other failure is an error.
pub(super) fn conditional<R>(
    result: Result<UpdateItemOutput, SdkError<UpdateItemError, R>>,
) -> Result<Conditional, StoreError>
where
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match result {
        Ok(out) => Ok(Conditional::Written(out.attributes.unwrap_or_default())),
        Err(e) => match e.as_service_error() {
            Some(UpdateItemError::ConditionalCheckFailedException(c)) => Ok(match c.item() {
                Some(item) => Conditional::Refused(item.clone()),
                None => Conditional::Missing,
            }),
            _ => Err(classify("UpdateItem", e)),
        },
    }
}

/// The users-table attribute that records which session holds slot `i` of a user's session
/// limit.
pub(super) fn slot_attribute(slot: u32) -> String {
    format!("{SLOT_PREFIX}{slot}")
}

pub(super) const SLOT_PREFIX: &str = "session_slot_";

pub(super) fn txn_error(e: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Failed {
        operation: "TransactWriteItems",
        source: Box::new(e),
    }
}

/// Which items of a cancelled transaction failed their condition, in item order.
pub(crate) fn failed_conditions<R>(
    err: &aws_sdk_dynamodb::error::SdkError<TransactWriteItemsError, R>,
) -> Option<Vec<bool>> {
    match err.as_service_error()? {
        TransactWriteItemsError::TransactionCanceledException(c) => Some(
            c.cancellation_reasons()
                .iter()
                .map(|r| r.code() == Some("ConditionalCheckFailed"))
                .collect(),
        ),
        _ => None,
    }
}

/// Whether a cancelled transaction lost a race (a condition or a concurrent transaction).
pub(crate) fn lost_race<R>(
    err: &aws_sdk_dynamodb::error::SdkError<TransactWriteItemsError, R>,
) -> bool {
    match err.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(c)) => {
            c.cancellation_reasons().iter().any(|r| {
                matches!(
                    r.code(),
                    Some("ConditionalCheckFailed" | "TransactionConflict")
                )
            })
        }
        _ => false,
    }
}
