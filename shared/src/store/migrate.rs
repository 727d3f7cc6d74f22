//! Moving a stack's sessions into a sessions table created with the live index
//! ([`crate::tables::LIVE_INDEX`]). A local index can only be created with its table, so a stack
//! deployed before it gets a new sessions table on update; this copies the old one's items into
//! it (docs/operations.md, "Upgrading to the live index").

use super::{Item, Store, StoreError, classify, condition_failed, n};
use crate::tables::{COPIED, LIVE_UNTIL};
use aws_sdk_dynamodb::types::AttributeValue;

/// What [`Store::copy_sessions_from`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CopyReport {
    /// Items written to the new table.
    pub copied: usize,
    /// Of them, sessions not ended, now in the live index.
    pub live: usize,
    /// Items the new table already had (written since the switch): left as they are.
    pub kept: usize,
}

/// `item` as the new table stores it: a session not ended gets `live_until` (its expiry); the
/// global epoch item and ended sessions are copied as they are.
fn with_live_until(mut item: Item) -> (Item, bool) {
    let live = item.contains_key("session_id")
        && !item.contains_key("revoked_at")
        && !item.contains_key(LIVE_UNTIL);
    let expiry = item.get("expires_at").and_then(|v| v.as_n().ok()).cloned();
    match expiry {
        Some(expires_at) if live => {
            item.insert(LIVE_UNTIL.to_owned(), AttributeValue::N(expires_at));
            (item, true)
        }
        _ => (item, false),
    }
}

impl Store {
    /// Copies every item of the sessions table `old` into this store's sessions table, adding
    /// `live_until` to sessions not ended. Never overwrites an item the new table already has
    /// (a sign-in or an end since the switch wins over the old copy). Idempotent: run it again
    /// after an interruption.
    pub async fn copy_sessions_from(&self, old: &str) -> Result<CopyReport, StoreError> {
        let mut pages = self
            .client
            .scan()
            .table_name(old)
            .consistent_read(true)
            .into_paginator()
            .send();
        let mut report = CopyReport::default();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify("Scan", e))?;
            let mut items = page.items.unwrap_or_default().into_iter().peekable();
            // 16 writes in flight at a time, as the sweep does: a page can hold a thousand.
            while items.peek().is_some() {
                let mut writes = tokio::task::JoinSet::new();
                for item in items.by_ref().take(16) {
                    let store = self.clone();
                    writes.spawn(async move { store.put_copied(item).await });
                }
                while let Some(done) = writes.join_next().await {
                    let (written, live) = done.map_err(|e| StoreError::Failed {
                        operation: "PutItem",
                        source: Box::new(e),
                    })??;
                    match written {
                        true => report.copied += 1,
                        false => report.kept += 1,
                    }
                    report.live += usize::from(written && live);
                }
            }
        }
        Ok(report)
    }

    /// Writes one copied item unless the new table has it: whether it was written, and whether
    /// it is a live session. It is marked [`COPIED`], so the event publisher knows a copy from
    /// a sign-in (or the operator's end of every session).
    async fn put_copied(&self, item: Item) -> Result<(bool, bool), StoreError> {
        let (mut item, live) = with_live_until(item);
        item.insert(COPIED.to_owned(), n(crate::domain::time::now_epoch()));
        let result = self
            .client
            .put_item()
            .table_name(&self.tables.sessions)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(user_id)")
            .send()
            .await;
        match result {
            Ok(_) => Ok((true, live)),
            Err(e) if condition_failed(&e) => Ok((false, live)),
            Err(e) => Err(classify("PutItem", e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{n, s};

    fn item(pairs: &[(&str, AttributeValue)]) -> Item {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect()
    }

    #[test]
    fn only_sessions_not_ended_get_live_until() {
        let active = item(&[("session_id", s("a")), ("expires_at", n(99))]);
        let (copied, live) = with_live_until(active);
        assert!(live);
        assert_eq!(copied.get(LIVE_UNTIL), Some(&n(99)));

        let ended = item(&[
            ("session_id", s("a")),
            ("expires_at", n(99)),
            ("revoked_at", n(5)),
        ]);
        let (copied, live) = with_live_until(ended.clone());
        assert!(!live);
        assert_eq!(copied, ended);

        // The global epoch item (partition 0, session id "global") has no expiry.
        let epoch = item(&[
            ("user_id", n(0)),
            ("session_id", s("global")),
            ("global_epoch", n(3)),
        ]);
        assert_eq!(with_live_until(epoch.clone()), (epoch, false));
    }
}
