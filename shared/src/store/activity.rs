//! Each user's activity history (the activity table): written by the event publisher, read a
//! page at a time, newest first. Beside it, under the sort key [`KNOWN`], what the user's
//! sign-ins have shown (devices, countries), for new-sign-in alerts.

use super::{Store, StoreError, classify, n, s};
use crate::domain::UserId;
use crate::domain::activity::Activity;
use crate::domain::alert::Known;
use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};

/// The sort key of a user's [`Known`] item. History entries' keys start with ten digits
/// ([`crate::domain::activity::at_id`]), so they all sort below [`HISTORY_END`] and this one
/// above it: a listing never sees it.
pub const KNOWN: &str = "known";

/// The fewest entries a history read asks for (see [`Store::activity_page`]).
const MIN_READ: usize = 50;

/// Above every history entry's sort key, below [`KNOWN`].
const HISTORY_END: &str = ":";

/// `BatchWriteItem` takes at most this many items.
const MAX_BATCH: usize = 25;

/// Rounds of retrying what DynamoDB left unprocessed (throttling) before giving up.
const UNPROCESSED_ROUNDS: u32 = 5;

/// A page of a user's activity.
#[derive(Debug, Clone, Default)]
pub struct ActivityPage {
    /// At most `limit` entries, newest first.
    pub entries: Vec<Activity>,
    /// The `at_id` of the last entry, when there may be more.
    pub next: Option<String>,
}

impl Store {
    /// Records entries of users' histories. Idempotent: an entry's key is its event's time and
    /// id, so one written twice (an event delivered again) is the same item.
    pub async fn record_activity(&self, entries: &[Activity]) -> Result<(), StoreError> {
        for chunk in entries.chunks(MAX_BATCH) {
            let mut requests = Vec::with_capacity(chunk.len());
            for entry in chunk {
                let put = PutRequest::builder()
                    .set_item(Some(serde_dynamo::to_item(entry)?))
                    .build()
                    .map_err(|e| StoreError::Failed {
                        operation: "BatchWriteItem",
                        source: Box::new(e),
                    })?;
                requests.push(WriteRequest::builder().put_request(put).build());
            }
            let mut round = 0;
            while !requests.is_empty() {
                if round == UNPROCESSED_ROUNDS {
                    return Err(StoreError::Transient {
                        operation: "BatchWriteItem",
                        source: "DynamoDB kept items unprocessed".into(),
                    });
                }
                if round > 0 {
                    tokio::time::sleep(std::time::Duration::from_millis(50 << round)).await;
                }
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(&self.tables.activity, requests)
                    .send()
                    .await
                    .map_err(|e| classify("BatchWriteItem", e))?;
                requests = out
                    .unprocessed_items
                    .and_then(|mut left| left.remove(&self.tables.activity))
                    .unwrap_or_default();
                round += 1;
            }
        }
        Ok(())
    }

    /// A page of `user_id`'s activity, newest first, after the entry `after` (an `at_id`),
    /// without entries past their retention at `now` (TTL deletes them only eventually).
    /// Reads one entry more than `limit` to know whether another page follows, so the last
    /// page has no cursor; a read DynamoDB cut short (1 MB, or entries filtered out) goes on
    /// from where it stopped.
    pub async fn activity_page(
        &self,
        user_id: UserId,
        limit: usize,
        after: Option<&str>,
        now: i64,
    ) -> Result<ActivityPage, StoreError> {
        let mut entries: Vec<Activity> = Vec::new();
        let mut start = after.map(str::to_owned);
        loop {
            let wanted = limit + 1 - entries.len();
            let mut query = self
                .client
                .query()
                .table_name(&self.tables.activity)
                .key_condition_expression("user_id = :u AND at_id < :end")
                .filter_expression("#ttl > :now")
                .expression_attribute_names("#ttl", "ttl")
                .expression_attribute_values(":u", n(user_id))
                .expression_attribute_values(":end", s(HISTORY_END))
                .expression_attribute_values(":now", n(now))
                .scan_index_forward(false)
                // Never fewer than a page's worth: entries past their retention that TTL has
                // not deleted yet are filtered out after the read, and a read of one at a time
                // would cost one request for each of them.
                .limit(i32::try_from(wanted.max(MIN_READ)).unwrap_or(i32::MAX));
            if let Some(start) = &start {
                query = query
                    .exclusive_start_key("user_id", n(user_id))
                    .exclusive_start_key("at_id", s(start));
            }
            let out = query.send().await.map_err(|e| classify("Query", e))?;
            let page: Vec<Activity> = serde_dynamo::from_items(out.items.unwrap_or_default())?;
            entries.extend(page);
            let more = out
                .last_evaluated_key
                .and_then(|k| k.get("at_id").and_then(|v| v.as_s().ok()).cloned());
            match more {
                Some(key) if entries.len() <= limit => start = Some(key),
                _ => break,
            }
        }
        let next = if entries.len() > limit {
            entries.truncate(limit);
            entries.last().map(|e| e.at_id.clone())
        } else {
            None
        };
        Ok(ActivityPage { entries, next })
    }

    /// What `user_id`'s sign-ins have shown so far; `None` before their first one is
    /// remembered. Strongly consistent: whether to alert rests on it.
    pub async fn known_sign_ins(&self, user_id: UserId) -> Result<Option<Known>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.activity)
            .key("user_id", n(user_id))
            .key("at_id", s(KNOWN))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify("GetItem", e))?;
        let set = |item: &std::collections::HashMap<String, AttributeValue>,
                   name: &str|
         -> std::collections::BTreeSet<String> {
            item.get(name)
                .and_then(|v| v.as_ss().ok())
                .map(|v| v.iter().cloned().collect())
                .unwrap_or_default()
        };
        Ok(out.item.map(|item| Known {
            devices: set(&item, "devices"),
            countries: set(&item, "countries"),
        }))
    }

    /// Adds a sign-in's device key and country (when known) to what `user_id`'s sign-ins have
    /// shown. One `ADD` to string sets: concurrent sign-ins merge, and adding twice is adding
    /// once.
    pub async fn remember_sign_in(
        &self,
        user_id: UserId,
        device: &str,
        country: Option<&str>,
    ) -> Result<(), StoreError> {
        self.change_known(user_id, "ADD", device, country).await
    }

    /// Takes a sign-in's device key and country (when known) out of what `user_id`'s sign-ins
    /// have shown: its user reported it as not theirs, so the next sign-in from them alerts
    /// again. One `DELETE` from the string sets (creating the item, empty, if there was none:
    /// then every later sign-in is new).
    pub async fn forget_sign_in(
        &self,
        user_id: UserId,
        device: &str,
        country: Option<&str>,
    ) -> Result<(), StoreError> {
        self.change_known(user_id, "DELETE", device, country).await
    }

    /// `ADD` or `DELETE` a device key and a country in `user_id`'s [`Known`] item.
    async fn change_known(
        &self,
        user_id: UserId,
        action: &str,
        device: &str,
        country: Option<&str>,
    ) -> Result<(), StoreError> {
        let set = |v: &str| AttributeValue::Ss(vec![v.to_owned()]);
        let mut update = self
            .client
            .update_item()
            .table_name(&self.tables.activity)
            .key("user_id", n(user_id))
            .key("at_id", s(KNOWN))
            .expression_attribute_values(":d", set(device));
        update = match country {
            Some(c) => update
                .update_expression(format!("{action} devices :d, countries :c"))
                .expression_attribute_values(":c", set(c)),
            None => update.update_expression(format!("{action} devices :d")),
        };
        update.send().await.map_err(|e| classify("UpdateItem", e))?;
        Ok(())
    }
}
