//! What a request's session check reads: the caller's session and user (and, for admin
//! routes, the target user) in one strongly consistent `BatchGetItem`, and the operator's
//! global epoch.
//!
//! The global epoch lives in one item (sessions table, `user_id` 0, `session_id` "global").
//! Reading it on every request would make it the hottest item of the service (one partition
//! serves at most 3,000 strongly consistent reads a second), so each process keeps what it
//! read for at most [`GLOBAL_EPOCH_MAX_AGE`], and the read joins the caller's batch when due.
//! Ending every session ([`Store::end_every_session`]) therefore completes only after that
//! age has passed: then no process still holds the old epoch.

use super::item_json::ItemOf;
use super::wire::{BatchGetInput, BatchGetOutput, KeysAndAttributes, WireItem};
use super::{StoreError, classify, n, s};
use crate::domain::UserId;
use crate::domain::{Session, User};
use crate::store::Store;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use serde_json::value::RawValue;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

/// The users-table key no user has: the global item's partition in the sessions table.
pub(crate) const GLOBAL_USER: u64 = 0;
/// The global item's sort key.
pub(crate) const GLOBAL_SESSION: &str = "global";

/// How long a process trusts the global epoch it read.
pub const GLOBAL_EPOCH_MAX_AGE: Duration = Duration::from_secs(2);

/// Attempts at a batch whose keys DynamoDB left unprocessed (throttling) before a 503.
const BATCH_ATTEMPTS: usize = 4;

/// The global epoch as this process last read it.
#[derive(Debug, Default)]
pub(crate) struct GlobalCache(Mutex<Option<Cached>>);

#[derive(Debug, Clone, Copy)]
struct Cached {
    epoch: u64,
    /// When the read that returned it started, on both clocks: the monotonic one cannot go
    /// back, the wall clock keeps counting while an execution environment is frozen.
    at: Instant,
    wall: SystemTime,
}

impl Cached {
    fn fresh(&self) -> bool {
        let wall_age = SystemTime::now().duration_since(self.wall);
        self.at.elapsed() < GLOBAL_EPOCH_MAX_AGE
            && wall_age.is_ok_and(|age| age < GLOBAL_EPOCH_MAX_AGE)
    }
}

/// The items behind one request's session check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerItems {
    /// The bearer's session.
    pub session: Option<Session>,
    /// The bearer's user.
    pub user: Option<User>,
    /// The other user asked for (an admin route's target).
    pub other: Option<User>,
    /// The operator's global epoch: sessions started under an earlier one are over.
    pub global_epoch: u64,
}

fn key(user_id: u64, session_id: Option<&str>) -> HashMap<String, AttributeValue> {
    let mut key = HashMap::from([("user_id".to_owned(), n(user_id))]);
    if let Some(id) = session_id {
        key.insert("session_id".to_owned(), s(id));
    }
    key
}

fn number(item: &HashMap<String, AttributeValue>, name: &str) -> Option<u64> {
    item.get(name)?.as_n().ok()?.parse().ok()
}

/// [`key`] in DynamoDB's JSON, for the wire client.
fn wire_key(user_id: u64, session_id: Option<&str>) -> WireItem {
    key(user_id, session_id)
        .into_iter()
        .map(|(name, value)| (name, value.into()))
        .collect()
}

/// What tells the global epoch's item from a session: its key, and the epoch it holds.
#[derive(serde::Deserialize)]
struct Keyed {
    user_id: u64,
    global_epoch: Option<u64>,
}

/// A `T` read from one item of a batch's answer.
fn read<T: serde::de::DeserializeOwned>(item: &RawValue) -> Result<T, StoreError> {
    let read: Result<ItemOf<T>, _> = serde_json::from_str(item.get());
    read.map(|item| item.0)
        .map_err(|e| StoreError::Corrupt(e.into()))
}

impl Store {
    fn cached_global(&self) -> Option<u64> {
        let cached = self.global.0.lock().ok()?;
        cached.filter(Cached::fresh).map(|c| c.epoch)
    }

    fn remember_global(&self, epoch: u64, at: Instant, wall: SystemTime) {
        if let Ok(mut cached) = self.global.0.lock() {
            *cached = Some(Cached { epoch, at, wall });
        }
    }

    /// The global epoch, at most [`GLOBAL_EPOCH_MAX_AGE`] old (strongly consistent read when
    /// due).
    pub async fn global_epoch(&self) -> Result<u64, StoreError> {
        if let Some(epoch) = self.cached_global() {
            return Ok(epoch);
        }
        let (at, wall) = (Instant::now(), SystemTime::now());
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.sessions)
            .set_key(Some(key(GLOBAL_USER, Some(GLOBAL_SESSION))))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify("GetItem", e))?;
        let epoch = out
            .item
            .as_ref()
            .and_then(|i| number(i, "global_epoch"))
            .unwrap_or(0);
        self.remember_global(epoch, at, wall);
        Ok(epoch)
    }

    /// Ends every session of every user with one write: moves the global epoch forward and
    /// returns it. Every process sees the new epoch within [`GLOBAL_EPOCH_MAX_AGE`]; callers
    /// wait that long before reporting the sessions ended.
    pub async fn end_every_session(&self) -> Result<u64, StoreError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.tables.sessions)
            .set_key(Some(key(GLOBAL_USER, Some(GLOBAL_SESSION))))
            .update_expression("ADD global_epoch :one")
            .expression_attribute_values(":one", n(1))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(|e| classify("UpdateItem", e))?;
        out.attributes
            .as_ref()
            .and_then(|a| number(a, "global_epoch"))
            .ok_or_else(|| StoreError::Failed {
                operation: "UpdateItem",
                source: "the global epoch update returned no value".into(),
            })
    }

    /// Reads a bearer's session and user, `other` user if asked, and the global epoch when
    /// this process's copy is due, in one strongly consistent `BatchGetItem`.
    pub async fn load_caller(
        &self,
        user_id: UserId,
        session_id: &str,
        other: Option<UserId>,
    ) -> Result<CallerItems, StoreError> {
        let cached = self.cached_global();
        let (at, wall) = (Instant::now(), SystemTime::now());
        let mut session_keys = vec![wire_key(user_id.get(), Some(session_id))];
        if cached.is_none() {
            session_keys.push(wire_key(GLOBAL_USER, Some(GLOBAL_SESSION)));
        }
        let mut user_keys = vec![wire_key(user_id.get(), None)];
        if let Some(other) = other.filter(|o| *o != user_id) {
            user_keys.push(wire_key(other.get(), None));
        }
        let batch = |keys| KeysAndAttributes {
            keys,
            consistent_read: true,
        };
        let request = HashMap::from([
            (self.tables.sessions.clone(), batch(session_keys)),
            (self.tables.users.clone(), batch(user_keys)),
        ]);
        let mut items = self.batch_get(request).await?;
        let mut loaded = CallerItems {
            session: None,
            user: None,
            other: None,
            global_epoch: cached.unwrap_or(0),
        };
        for item in items.remove(&self.tables.sessions).unwrap_or_default() {
            // Only when the global item was asked for can an item be it: then its key tells.
            if cached.is_none() {
                let keyed: Keyed = read(&item)?;
                if keyed.user_id == GLOBAL_USER {
                    loaded.global_epoch = keyed.global_epoch.unwrap_or(0);
                    continue;
                }
            }
            loaded.session = Some(read::<Session>(&item)?);
        }
        for item in items.remove(&self.tables.users).unwrap_or_default() {
            let user: User = read(&item)?;
            if user.user_id == user_id {
                loaded.user = Some(user);
            } else {
                loaded.other = Some(user);
            }
        }
        if cached.is_none() {
            self.remember_global(loaded.global_epoch, at, wall);
        }
        Ok(loaded)
    }

    /// Every item of a `BatchGetItem`, retrying keys DynamoDB leaves unprocessed (with a short
    /// backoff, a few times, then a 503), by table.
    async fn batch_get(
        &self,
        mut request: HashMap<String, KeysAndAttributes>,
    ) -> Result<HashMap<String, Vec<Box<RawValue>>>, StoreError> {
        let mut items: HashMap<String, Vec<Box<RawValue>>> = HashMap::new();
        for attempt in 0..BATCH_ATTEMPTS {
            let input = BatchGetInput {
                request_items: &request,
            };
            let out: BatchGetOutput = self.wire.call("BatchGetItem", &input).await?;
            for (table, found) in out.responses {
                items.entry(table).or_default().extend(found);
            }
            let rest: HashMap<_, _> = out
                .unprocessed_keys
                .into_iter()
                .filter(|(_, k)| !k.keys.is_empty())
                // Still strongly consistent, whatever the unprocessed keys say.
                .map(|(table, keys)| {
                    let keys = KeysAndAttributes {
                        consistent_read: true,
                        ..keys
                    };
                    (table, keys)
                })
                .collect();
            if rest.is_empty() {
                return Ok(items);
            }
            if attempt + 1 == BATCH_ATTEMPTS {
                break;
            }
            request = rest;
            tokio::time::sleep(Duration::from_millis(10 << attempt)).await;
        }
        Err(StoreError::Transient {
            operation: "BatchGetItem",
            source: "DynamoDB left keys unprocessed".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::wire::tests::{server, store_at};

    /// Keys DynamoDB leaves unprocessed are asked for again, alone and still strongly
    /// consistent (whatever the unprocessed keys say), and what both answers found is loaded.
    #[tokio::test]
    async fn unprocessed_keys_are_read_again_consistently() {
        let first = r#"{"Responses":{"users":[],"sessions":[{"user_id":{"N":"0"},
            "session_id":{"S":"global"},"global_epoch":{"N":"3"}}]},"UnprocessedKeys":{"sessions":{"Keys":[{"user_id":{"N":"7"},"session_id":{"S":"s1"}}]}}}"#;
        let second = r#"{"Responses":{"sessions":[]}}"#;
        let (url, mut seen) = server(vec![Some((200, first)), Some((200, second))]).await;
        let store = store_at(&url);
        let user = UserId::new(7).expect("an id");
        let loaded = store.load_caller(user, "s1", None).await.expect("loaded");
        assert_eq!(
            (loaded.session, loaded.user, loaded.global_epoch),
            (None, None, 3)
        );
        let _first = seen.recv().await.expect("the batch");
        let again = seen.recv().await.expect("the unprocessed keys again");
        let body: serde_json::Value = serde_json::from_str(&again.body).expect("JSON");
        assert_eq!(
            body,
            serde_json::json!({"RequestItems": {"sessions": {
                "Keys": [{"user_id": {"N": "7"}, "session_id": {"S": "s1"}}],
                "ConsistentRead": true}}})
        );
    }
}
