//! Reading a user's sessions: a page of the listing, and every active session where a decision
//! rests on the answer. What is active comes from the live index, which holds no ended session.

use super::wire::{QueryInput, QueryOutput, WireItem};
use super::{Store, StoreError, classify, n, s};
use crate::cursor::Position;
use crate::domain::Session;
use crate::domain::SessionPolicy;
use crate::domain::UserId;
use crate::domain::limits::ActiveSession;
use crate::tables::{BY_ACTIVITY_INDEX, LIVE_INDEX};
use aws_sdk_dynamodb::types::AttributeValue;
use serde::de::DeserializeOwned;
use std::collections::HashMap;

/// Items per page of a live-index read. Without a limit a page is 1 MB of whole items (about
/// 2,000 sessions), held decoded at once: a few MB of a 128 MB function. Users
/// with fewer live sessions than this still take one request.
const LIVE_PAGE: u32 = 250;

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
    /// A page of a user's sessions, most recent activity first.
    ///
    /// With `active`, only active sessions, from the live index ([`LIVE_INDEX`]): it holds
    /// only sessions not ended, and the query reads only those not expired, so the page costs
    /// the same however many ended sessions the user has; they are ordered here. Without, every
    /// retained session from the `by_activity` index, paged by DynamoDB. One extra item is read
    /// to know whether a next page exists, so the last page never carries a cursor to an empty
    /// one.
    pub async fn list_sessions(
        &self,
        user_id: UserId,
        active: Option<ActiveAt>,
        limit: usize,
        after: Option<&Position>,
    ) -> Result<SessionPage, StoreError> {
        let mut sessions = match active {
            Some(at) => {
                self.live_sessions_after(user_id, at, limit + 1, after)
                    .await?
            }
            None => self.sessions_after(user_id, limit + 1, after).await?,
        };
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

    /// Up to `want` active sessions after `after`, most recent activity first (ties by session
    /// id, descending), from every page of the live index.
    async fn live_sessions_after(
        &self,
        user_id: UserId,
        at: ActiveAt,
        want: usize,
        after: Option<&Position>,
    ) -> Result<Vec<Session>, StoreError> {
        let filter = "attribute_not_exists(revoked_at) AND last_activity > :idle_cutoff";
        let values = [(":idle_cutoff", n(at.now - at.idle_timeout_seconds))];
        let mut sessions = self
            .live_items(user_id, at.now, (filter, &values), false, Some::<Session>)
            .await?;
        sessions.sort_by(|a, b| {
            (b.last_activity, &b.session_id).cmp(&(a.last_activity, &a.session_id))
        });
        if let Some(p) = after {
            let cut = (p.last_activity, p.session_id.as_str());
            sessions.retain(|s| (s.last_activity, s.session_id.as_str()) < cut);
        }
        sessions.truncate(want);
        Ok(sessions)
    }

    /// Up to `want` retained sessions after `after`, most recent activity first, from the
    /// `by_activity` index, as many queries as it takes.
    async fn sessions_after(
        &self,
        user_id: UserId,
        want: usize,
        after: Option<&Position>,
    ) -> Result<Vec<Session>, StoreError> {
        let mut start = after.map(|p| {
            HashMap::from([
                ("user_id".to_owned(), n(user_id)),
                ("session_id".to_owned(), s(&p.session_id)),
                ("last_activity".to_owned(), n(p.last_activity)),
            ])
        });
        let mut sessions: Vec<Session> = Vec::with_capacity(want);
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.tables.sessions)
                .index_name(BY_ACTIVITY_INDEX)
                .key_condition_expression("user_id = :u")
                .expression_attribute_values(":u", n(user_id))
                .scan_index_forward(false)
                .limit(want.min(1000) as i32)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| classify("Query", e))?;
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
        Ok(sessions)
    }

    /// Every active session of a user, from the live index with a strongly consistent read
    /// (the activity index may lag a moment behind a sign-in).
    pub async fn active_sessions(
        &self,
        user_id: UserId,
        now: i64,
        policy: &SessionPolicy,
    ) -> Result<Vec<ActiveSession>, StoreError> {
        let values = [(":idle_cutoff", n(now - policy.idle_timeout_seconds))];
        let found = self
            .session_ids_where(user_id, now, session_usable!(), &values)
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

    /// What `keep` makes of every item of `user_id` in the live index (neither ended nor expired
    /// at `now`) that passes `filter` (with `values`), read from the table as an `R` (only
    /// the attributes `R` has are kept), every page. Items are kept page by page,
    /// [`LIVE_PAGE`] at a time, so a user with thousands of live sessions costs memory for
    /// what `keep` returns, not for a megabyte of whole items.
    async fn live_items<R: DeserializeOwned, T>(
        &self,
        user_id: UserId,
        now: i64,
        (filter, values): (&str, &[(&str, AttributeValue)]),
        consistent: bool,
        keep: impl Fn(R) -> Option<T>,
    ) -> Result<Vec<T>, StoreError> {
        let mut bound: WireItem = values
            .iter()
            .map(|(name, value)| ((*name).to_owned(), value.clone().into()))
            .collect();
        bound.insert(":u".to_owned(), n(user_id).into());
        bound.insert(":now".to_owned(), n(now).into());
        let mut kept = Vec::new();
        let mut start = None;
        loop {
            let input = QueryInput {
                table_name: &self.tables.sessions,
                index_name: LIVE_INDEX,
                select: "ALL_ATTRIBUTES",
                limit: LIVE_PAGE,
                key_condition_expression: "user_id = :u AND live_until > :now",
                filter_expression: filter,
                expression_attribute_values: &bound,
                consistent_read: consistent,
                exclusive_start_key: start.take(),
            };
            let page: QueryOutput<R> = self.wire.call("Query", &input).await?;
            kept.extend(page.items.into_iter().filter_map(|item| keep(item.0)));
            match page.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(kept),
            }
        }
    }

    /// The id and last activity of every session of `user_id` neither ended nor expired at
    /// `now` (`:now` in `filter`) that passes `filter` (with `values`), from the live index:
    /// strongly consistent, every page, never an ended session.
    pub(super) async fn session_ids_where(
        &self,
        user_id: UserId,
        now: i64,
        filter: &str,
        values: &[(&str, AttributeValue)],
    ) -> Result<Vec<(String, Option<i64>)>, StoreError> {
        /// The two attributes read of each item.
        #[derive(serde::Deserialize)]
        struct IdAndActivity {
            session_id: String,
            last_activity: Option<i64>,
        }
        let id_and_activity = |item: IdAndActivity| Some((item.session_id, item.last_activity));
        self.live_items(user_id, now, (filter, values), true, id_and_activity)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::wire::tests::{server, store_at};

    /// Every page of the live index is read, each from where the last ended and each strongly
    /// consistent, and what all pages hold is returned.
    #[tokio::test]
    async fn every_live_page_is_read_consistently_from_where_the_last_ended() {
        let first = r#"{"Items":[{"session_id":{"S":"a"},"last_activity":{"N":"5"}}],
            "LastEvaluatedKey":{"user_id":{"N":"7"},"session_id":{"S":"a"},"live_until":{"N":"99"}}}"#;
        let second = r#"{"Items":[{"session_id":{"S":"b"},"last_activity":{"N":"6"}}]}"#;
        let (url, mut seen) = server(vec![Some((200, first)), Some((200, second))]).await;
        let store = store_at(&url);
        let policy = SessionPolicy {
            idle_timeout_seconds: 60,
            absolute_lifetime_seconds: 3600,
            retention_seconds: 86_400,
            activity_write_interval_seconds: 60,
        };
        let user = UserId::new(7).expect("an id");
        let active = store
            .active_sessions(user, 1000, &policy)
            .await
            .expect("both pages");
        let ids: Vec<_> = active.iter().map(|a| a.session_id.as_str()).collect();
        assert_eq!(ids, ["a", "b"]);
        let mut bodies = Vec::new();
        for _ in 0..2 {
            let request = seen.recv().await.expect("a page");
            assert_eq!(
                request.header("x-amz-target"),
                Some("DynamoDB_20120810.Query")
            );
            let body: serde_json::Value = serde_json::from_str(&request.body).expect("JSON");
            bodies.push(body);
        }
        for body in &bodies {
            assert_eq!(body["TableName"], "sessions");
            assert_eq!(body["IndexName"], LIVE_INDEX);
            assert_eq!(body["ConsistentRead"], true);
            assert_eq!(body["Limit"], LIVE_PAGE);
            assert_eq!(body["ExpressionAttributeValues"][":u"]["N"], "7");
            assert_eq!(body["ExpressionAttributeValues"][":now"]["N"], "1000");
            assert_eq!(
                body["ExpressionAttributeValues"][":idle_cutoff"]["N"],
                "940"
            );
        }
        assert!(bodies[0].get("ExclusiveStartKey").is_none());
        assert_eq!(
            bodies[1]["ExclusiveStartKey"],
            serde_json::json!({"user_id": {"N": "7"}, "session_id": {"S": "a"},
                "live_until": {"N": "99"}})
        );
    }
}
