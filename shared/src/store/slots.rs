//! The session limit's slots: taking one, and ending its holder, in one transaction.

use super::credentials;
use super::expressions::{lost_race, slot_attribute, txn_error};
use super::{Store, StoreError, classify, n, s};
use crate::domain::SessionPolicy;
use crate::domain::UserId;
use crate::domain::limits::SlotClaim;
use crate::domain::{EndReason, Session};
use aws_sdk_dynamodb::types::{ConditionCheck, Put, TransactWriteItem, Update};

impl Store {
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
        let mut items = vec![self.take_slot(session, claim)?];
        items.extend(self.clear_holder(session.user_id, claim, now, policy)?);
        let put = Put::builder()
            .table_name(&self.tables.sessions)
            .set_item(Some(super::sessions::session_item(session)?))
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
            Err(e) if lost_race(&e) => Ok(false),
            Err(e) => Err(classify("TransactWriteItems", e)),
        }
    }

    /// The slot passes to `session` if it still has the holder the claim read, and only in the
    /// credential epoch the session was stamped with (see `credentials.rs`): a sign-in that
    /// raced a password change stores nothing.
    fn take_slot(
        &self,
        session: &Session,
        claim: &SlotClaim,
    ) -> Result<TransactWriteItem, StoreError> {
        let (slot, holder) = match claim {
            SlotClaim::Free { slot, previous } => (*slot, previous.as_deref()),
            SlotClaim::Evict { slot, victim } => (*slot, Some(victim.as_str())),
        };
        let epoch = credentials::epoch_is(session.credential_epoch);
        let take = Update::builder()
            .table_name(&self.tables.users)
            .key("user_id", n(session.user_id))
            .update_expression("SET #slot = :sid")
            .expression_attribute_names("#slot", slot_attribute(slot))
            .expression_attribute_values(":sid", s(&session.session_id))
            .expression_attribute_values(":cep", n(session.credential_epoch));
        let take = match holder {
            Some(h) => take
                .condition_expression(format!(
                    "attribute_exists(user_id) AND #slot = :holder AND {epoch}"
                ))
                .expression_attribute_values(":holder", s(h)),
            None => take.condition_expression(format!(
                "attribute_exists(user_id) AND attribute_not_exists(#slot) AND {epoch}"
            )),
        };
        let update = take.build().map_err(txn_error)?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// The slot's previous holder, out of the way: a free slot's must still be ended (checked),
    /// an evicted one is ended in the same transaction.
    fn clear_holder(
        &self,
        user_id: UserId,
        claim: &SlotClaim,
        now: i64,
        policy: &SessionPolicy,
    ) -> Result<Option<TransactWriteItem>, StoreError> {
        let item = match claim {
            SlotClaim::Free { previous: None, .. } => return Ok(None),
            SlotClaim::Free {
                previous: Some(previous),
                ..
            } => {
                let check = ConditionCheck::builder()
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
                TransactWriteItem::builder().condition_check(check).build()
            }
            SlotClaim::Evict { victim, .. } => {
                let end = self
                    .end_in_transaction(user_id, victim, user_id, EndReason::Evicted, now, policy)
                    .build()
                    .map_err(txn_error)?;
                TransactWriteItem::builder().update(end).build()
            }
        };
        Ok(Some(item))
    }
}
