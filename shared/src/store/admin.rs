//! An administrator ending one session in one round trip, checked against their own token.

use super::EndOutcome;
use super::expressions::{SESSION_USABLE, txn_error};
use super::{Store, StoreError, classify, n, s};
use super::{caller, credentials};
use crate::domain::EndReason;
use crate::domain::SessionPolicy;
use aws_sdk_dynamodb::types::{
    AttributeValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
};

/// An administrator's token, as the one-round-trip end of a session checks it.
#[derive(Debug, Clone, Copy)]
pub struct AdminToken<'a> {
    /// The administrator.
    pub user_id: u64,
    /// Their session.
    pub session_id: &'a str,
    /// The credential epoch the token was issued in.
    pub credential_epoch: u64,
    /// The global epoch of the token's session.
    pub global_epoch: u64,
    /// The session's refresh generation when the token was issued.
    pub generation: u64,
}

impl Store {
    /// An admin ends one session of another user in one round trip: a single transaction
    /// checks that the admin's session is usable in the token's credential and global epochs,
    /// that its sign-in is recent (at or after `recent_since`) and not newer than the token (by
    /// refresh generation),
    /// records its activity, checks that the users table still says admin and enabled in that
    /// credential epoch and that the global epoch is still the token's, and ends the target. `None` when the admin's side does not
    /// hold: the caller then finds out why with the usual reads (401 or 403).
    #[allow(clippy::too_many_arguments)]
    pub async fn admin_end_session(
        &self,
        admin: AdminToken<'_>,
        recent_since: i64,
        user_id: u64,
        session_id: &str,
        now: i64,
        policy: &SessionPolicy,
    ) -> Result<Option<EndOutcome>, StoreError> {
        use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
        use aws_sdk_dynamodb::types::{ConditionCheck, Update};
        let global = admin.global_epoch;
        let global_is = if global == 0 {
            "(attribute_not_exists(global_epoch) OR global_epoch = :gep)"
        } else {
            "global_epoch = :gep"
        };
        let (admin_id, admin_session) = (admin.user_id, admin.session_id);
        let caller = Update::builder()
            .table_name(&self.tables.sessions)
            .key("user_id", n(admin_id))
            .key("session_id", s(admin_session))
            .update_expression("SET last_activity = :now")
            .condition_expression(format!(
                "{SESSION_USABLE} AND {} AND {global_is} AND auth_time >= :recent AND \
                 (attribute_not_exists(auth_generation) OR auth_generation <= :tgen)",
                credentials::epoch_is(admin.credential_epoch)
            ))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":idle_cutoff", n(now - policy.idle_timeout_seconds))
            .expression_attribute_values(":cep", n(admin.credential_epoch))
            .expression_attribute_values(":gep", n(global))
            .expression_attribute_values(":recent", n(recent_since))
            .expression_attribute_values(":tgen", n(admin.generation))
            .build()
            .map_err(txn_error)?;
        let admin = ConditionCheck::builder()
            .table_name(&self.tables.users)
            .key("user_id", n(admin_id))
            .condition_expression(format!(
                "#role = :admin AND (attribute_not_exists(disabled) OR disabled = :no) AND {}",
                credentials::epoch_is(admin.credential_epoch)
            ))
            .expression_attribute_names("#role", "role")
            .expression_attribute_values(":admin", s("admin"))
            .expression_attribute_values(":no", AttributeValue::Bool(false))
            .expression_attribute_values(":cep", n(admin.credential_epoch))
            .build()
            .map_err(txn_error)?;
        let global_item = ConditionCheck::builder()
            .table_name(&self.tables.sessions)
            .key("user_id", n(caller::GLOBAL_USER))
            .key("session_id", s(caller::GLOBAL_SESSION))
            .condition_expression(global_is)
            .expression_attribute_values(":gep", n(global))
            .build()
            .map_err(txn_error)?;
        let end = self
            .end_in_transaction(user_id, session_id, admin_id, EndReason::Admin, now, policy)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(txn_error)?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(caller).build())
            .transact_items(TransactWriteItem::builder().condition_check(admin).build())
            .transact_items(
                TransactWriteItem::builder()
                    .condition_check(global_item)
                    .build(),
            )
            .transact_items(TransactWriteItem::builder().update(end).build())
            .send()
            .await;
        let err = match result {
            Ok(_) => return Ok(Some(EndOutcome::Ended)),
            Err(e) => e,
        };
        let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) =
            err.as_service_error()
        else {
            return Err(classify("TransactWriteItems", err));
        };
        // Reasons come in the order of the items: the admin's session, the admin, the global
        // epoch, the target.
        let reasons = cancelled.cancellation_reasons();
        let failed = |i: usize| {
            reasons
                .get(i)
                .and_then(|r| r.code())
                .is_some_and(|c| c == "ConditionalCheckFailed")
        };
        if failed(0) || failed(1) || failed(2) {
            Ok(None)
        } else if failed(3) {
            let existed = reasons.get(3).and_then(|r| r.item()).is_some();
            Ok(Some(if existed {
                EndOutcome::AlreadyEnded
            } else {
                EndOutcome::NotFound
            }))
        } else {
            Err(classify("TransactWriteItems", err))
        }
    }
}
