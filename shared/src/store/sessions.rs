//! The sessions table: one item per session, keyed by user id and session id.

use super::expressions::{
    Conditional, END_SESSION, END_SESSION_IF, REPORT_SESSION, conditional, end_values, updated_item,
};
use super::{Store, StoreError, classify, condition_failed, n, s};
use crate::domain::SessionPolicy;
use crate::domain::UserId;
use crate::domain::{Amr, EndReason, Location, RiskFlag, Session};
use crate::tables::LIVE_UNTIL;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::{ReturnValue, ReturnValuesOnConditionCheckFailure, Update};
use std::collections::HashMap;

/// A session as its item: the session's fields and, while it has not ended, `live_until` (its
/// expiry), which puts it in the live index ([`crate::tables::LIVE_INDEX`]). Every write of a
/// whole session item goes through here.
pub fn session_item(session: &Session) -> Result<Item, StoreError> {
    let mut item: Item = serde_dynamo::to_item(session)?;
    if session.revoked_at.is_none() {
        item.insert(LIVE_UNTIL.to_owned(), n(session.expires_at));
    }
    Ok(item)
}

/// A DynamoDB item.
pub type Item = HashMap<String, aws_sdk_dynamodb::types::AttributeValue>;

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

/// What reporting a session as not its user's did ([`Store::report_session`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportOutcome {
    /// It was active and is now ended and marked reported.
    Ended,
    /// It had already been marked ended; it is now marked reported. (A session that expired
    /// or went idle without being marked is ended by the report, as [`ReportOutcome::Ended`].)
    AlreadyEnded,
    /// It had already been reported: the link was used before.
    AlreadyReported,
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
impl Store {
    /// An `UpdateItem` of one session, by its key: the start of every write to a session.
    pub(super) fn update_session(
        &self,
        user_id: UserId,
        session_id: &str,
    ) -> UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.tables.sessions)
            .key("user_id", n(user_id))
            .key("session_id", s(session_id))
    }

    /// One session, or `None`. Strongly consistent, so an ended session is refused on the very
    /// next request.
    pub async fn get_session(
        &self,
        user_id: UserId,
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
        let item = session_item(session)?;
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
            .set_item(Some(session_item(session)?))
            .condition_expression("attribute_exists(session_id)")
            .send()
            .await
            .map_err(|e| classify("PutItem", e))?;
        Ok(())
    }

    /// Ends a session: records when, by whom and why, and sets its TTL to the end of the
    /// retention period. A conditional update: a session is ended once, by its first ender.
    pub async fn end_session(
        &self,
        user_id: UserId,
        session_id: &str,
        ended_by: UserId,
        reason: EndReason,
        now: i64,
        policy: &SessionPolicy,
    ) -> Result<EndOutcome, StoreError> {
        let result = self
            .update_session(user_id, session_id)
            .update_expression(END_SESSION)
            .condition_expression(END_SESSION_IF)
            .expression_attribute_names("#ttl", "ttl")
            .set_expression_attribute_values(Some(end_values(ended_by, reason, now, policy)))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        Ok(match conditional(result)? {
            Conditional::Written(_) => EndOutcome::Ended,
            Conditional::Refused(_) => EndOutcome::AlreadyEnded,
            Conditional::Missing => EndOutcome::NotFound,
        })
    }

    /// Marks a session reported by its user, once, and ends it if it has not ended (reason
    /// [`EndReason::Reported`], by its user). At most two conditional updates, each complete on
    /// its own: the first ends and marks an active session; when it finds the session already
    /// ended, the second only marks it. `reported_at` is written once, so a link works once.
    pub async fn report_session(
        &self,
        user_id: UserId,
        session_id: &str,
        now: i64,
        policy: &SessionPolicy,
    ) -> Result<ReportOutcome, StoreError> {
        let ended = self
            .update_session(user_id, session_id)
            .update_expression(REPORT_SESSION)
            .condition_expression(format!(
                "{END_SESSION_IF} AND attribute_not_exists(reported_at)"
            ))
            .expression_attribute_names("#ttl", "ttl")
            .set_expression_attribute_values(Some(end_values(
                user_id,
                EndReason::Reported,
                now,
                policy,
            )))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match conditional(ended)? {
            Conditional::Written(_) => return Ok(ReportOutcome::Ended),
            Conditional::Missing => return Ok(ReportOutcome::NotFound),
            Conditional::Refused(old) if old.contains_key("reported_at") => {
                return Ok(ReportOutcome::AlreadyReported);
            }
            Conditional::Refused(_) => {}
        }
        let marked = self
            .update_session(user_id, session_id)
            .update_expression("SET reported_at = :now")
            .condition_expression(
                "attribute_exists(session_id) AND attribute_not_exists(reported_at)",
            )
            .expression_attribute_values(":now", n(now))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        Ok(match conditional(marked)? {
            Conditional::Written(_) => ReportOutcome::AlreadyEnded,
            Conditional::Refused(_) => ReportOutcome::AlreadyReported,
            Conditional::Missing => ReportOutcome::NotFound,
        })
    }

    /// Moves `last_activity` to `now` if it is older than the write interval. A conditional
    /// update, so concurrent requests write it at most once per interval; losing the race is
    /// not an error. Call it only for a session just checked to be active.
    pub async fn touch_session(
        &self,
        user_id: UserId,
        session_id: &str,
        now: i64,
        policy: &SessionPolicy,
    ) -> Result<(), StoreError> {
        let result = self
            .update_session(user_id, session_id)
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

    /// Rotates a session's refresh token from generation `from` to `from + 1`: succeeds only
    /// if `from` is still the current generation and the session is still usable, and records
    /// the activity, address and location of the refresh. One conditional write, so of many
    /// concurrent rotations of one generation exactly one wins: every generation has at most
    /// one successor.
    #[allow(clippy::too_many_arguments)]
    pub async fn rotate_refresh(
        &self,
        user_id: UserId,
        session_id: &str,
        from: u64,
        ip: &str,
        (location, risk_flags): (Option<&Location>, &[RiskFlag]),
        now: i64,
        policy: &SessionPolicy,
    ) -> Result<Rotation, StoreError> {
        let mut values = HashMap::new();
        let mut set = String::from(
            "SET refresh_generation = :next, refresh_rotated_at = :now, last_activity = :now, \
             ip_address = :ip, located_at = :now",
        );
        if let Some(location) = location {
            set.push_str(", #loc = :loc");
            values.insert(
                ":loc".to_owned(),
                serde_dynamo::to_attribute_value(location)?,
            );
        }
        // The flags as read plus the new ones: the condition on the generation makes that read
        // the state this write follows.
        if !risk_flags.is_empty() {
            set.push_str(", risk_flags = :flags");
            values.insert(
                ":flags".to_owned(),
                serde_dynamo::to_attribute_value(risk_flags)?,
            );
        }
        // The location follows the address: unknown for this one means none.
        if location.is_none() {
            set.push_str(" REMOVE #loc");
        }
        let result = self
            .update_session(user_id, session_id)
            .update_expression(set)
            .expression_attribute_names("#loc", "location")
            .set_expression_attribute_values(Some(values))
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
        Ok(match conditional(result)? {
            Conditional::Written(item) => Rotation::Rotated(serde_dynamo::from_item(item)?),
            Conditional::Refused(item) => Rotation::Refused(Some(serde_dynamo::from_item(item)?)),
            Conditional::Missing => Rotation::Refused(None),
        })
    }

    /// Sets or clears the label of a session that is still usable at `now`.
    pub async fn set_session_label(
        &self,
        user_id: UserId,
        session_id: &str,
        label: Option<&str>,
        now: i64,
        policy: &SessionPolicy,
    ) -> Result<LabelOutcome, StoreError> {
        let update = self
            .update_session(user_id, session_id)
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
        Ok(match conditional(update.send().await)? {
            Conditional::Written(item) => {
                LabelOutcome::Labelled(Box::new(serde_dynamo::from_item(item)?))
            }
            Conditional::Refused(_) => LabelOutcome::NotActive,
            Conditional::Missing => LabelOutcome::NotFound,
        })
    }

    /// Records that the user proved their password (and the methods `amr`) in this session at
    /// `now` and moves its refresh token from generation `from` to the next: the re-authenticated client gets a new
    /// refresh token, and every earlier one is rotated out. `None` unless the session is still
    /// usable and `from` still current.
    pub async fn reauthenticate_session(
        &self,
        user_id: UserId,
        session_id: &str,
        (from, amr): (u64, &[Amr]),
        now: i64,
        policy: &SessionPolicy,
    ) -> Result<Option<Session>, StoreError> {
        let result = self
            .update_session(user_id, session_id)
            .update_expression(
                "SET auth_time = :now, auth_generation = :next, refresh_generation = :next, \
                 refresh_rotated_at = :now, amr = :amr",
            )
            .expression_attribute_values(":amr", serde_dynamo::to_attribute_value(amr)?)
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

    /// Ending one session as an item of a transaction (the same write as
    /// [`Store::end_session`]).
    pub(crate) fn end_in_transaction(
        &self,
        user_id: UserId,
        session_id: &str,
        ended_by: UserId,
        reason: EndReason,
        now: i64,
        policy: &SessionPolicy,
    ) -> aws_sdk_dynamodb::types::builders::UpdateBuilder {
        Update::builder()
            .table_name(&self.tables.sessions)
            .key("user_id", n(user_id))
            .key("session_id", s(session_id))
            .update_expression(END_SESSION)
            .condition_expression(END_SESSION_IF)
            .expression_attribute_names("#ttl", "ttl")
            .set_expression_attribute_values(Some(end_values(ended_by, reason, now, policy)))
    }
}
