//! The sessions table: one item per session, keyed by user id and session id.

use super::expressions::{END_SESSION, END_SESSION_IF, end_values, updated_item};
use super::{Store, StoreError, classify, condition_failed, n, s};
use crate::cursor::Position;
use crate::domain::SessionPolicy;
use crate::domain::limits::ActiveSession;
use crate::domain::{EndReason, Location, Session};
use crate::tables::BY_ACTIVITY_INDEX;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{ReturnValue, ReturnValuesOnConditionCheckFailure};
use std::collections::HashMap;

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

impl Store {
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
}
