//! Reading a user's sessions: a page of the listing from the activity index, and every active
//! session from the table itself where a decision rests on the answer.

use super::{Store, StoreError, classify, n, s};
use crate::cursor::Position;
use crate::domain::Session;
use crate::domain::SessionPolicy;
use crate::domain::UserId;
use crate::domain::limits::ActiveSession;
use crate::tables::BY_ACTIVITY_INDEX;
use aws_sdk_dynamodb::types::AttributeValue;
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

impl Store {
    /// A page of a user's sessions, most recent activity first, from the `by_activity` index.
    ///
    /// With `active`, DynamoDB filters out ended, expired and idle sessions; since its `Limit`
    /// counts items before the filter, the query continues until the page is full or the user
    /// has no more sessions. One extra item is read to know whether a next page exists, so the
    /// last page never carries a cursor to an empty one.
    pub async fn list_sessions(
        &self,
        user_id: UserId,
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

    /// Every active session of a user, from the table itself with a strongly consistent read
    /// (the activity index may lag a moment behind a sign-in).
    pub async fn active_sessions(
        &self,
        user_id: UserId,
        now: i64,
        policy: &SessionPolicy,
    ) -> Result<Vec<ActiveSession>, StoreError> {
        let values = [
            (":now", n(now)),
            (":idle_cutoff", n(now - policy.idle_timeout_seconds)),
        ];
        let found = self
            .session_ids_where(user_id, session_usable!(), &values)
            .await?;
        Ok(found
            .into_iter()
            .filter_map(|(session_id, at)| {
                at.map(|last_activity| ActiveSession {
                    session_id,
                    last_activity,
                })
            })
            .collect())
    }

    /// The id and last activity of every session of `user_id` that passes `filter` (with
    /// `values`), from the table itself: strongly consistent, every page.
    pub(super) async fn session_ids_where(
        &self,
        user_id: UserId,
        filter: &str,
        values: &[(&str, AttributeValue)],
    ) -> Result<Vec<(String, Option<i64>)>, StoreError> {
        let mut query = self
            .client
            .query()
            .table_name(&self.tables.sessions)
            .key_condition_expression("user_id = :u")
            .filter_expression(filter)
            .projection_expression("session_id, last_activity")
            .expression_attribute_values(":u", n(user_id))
            .consistent_read(true);
        for (name, value) in values {
            query = query.expression_attribute_values(*name, value.clone());
        }
        let items: Vec<HashMap<String, AttributeValue>> = query
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| classify("Query", e))?;
        Ok(items
            .into_iter()
            .filter_map(|item| {
                let id = item.get("session_id")?.as_s().ok()?.clone();
                let at = item
                    .get("last_activity")
                    .and_then(|v| v.as_n().ok())
                    .and_then(|v| v.parse().ok());
                Some((id, at))
            })
            .collect())
    }
}
