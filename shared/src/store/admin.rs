//! An administrator ending one session in one round trip, checked against their own token.

use super::EndOutcome;
use super::expressions::{SESSION_USABLE, txn_error};
use super::{Store, StoreError, classify, n, s};
use super::{caller, credentials};
use crate::domain::SessionPolicy;
use crate::domain::UserId;
use crate::domain::{Amr, EndReason};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};

/// An administrator's token, as the one-round-trip end of a session checks it.
#[derive(Debug, Clone, Copy)]
pub struct AdminToken<'a> {
    /// The administrator.
    pub user_id: UserId,
    /// Their session.
    pub session_id: &'a str,
    /// The credential epoch the token was issued in.
    pub credential_epoch: u64,
    /// The global epoch of the token's session.
    pub global_epoch: u64,
    /// The session's refresh generation when the token was issued.
    pub generation: u64,
    /// Whether the session must have been signed in with a second factor (`aal2`, under
    /// `ADMIN_REQUIRES_AAL2`).
    pub second_factor_required: bool,
}

impl Store {
    /// An admin ends one session of another user in one round trip: a single transaction
    /// checks that the admin's side still holds (`admin_holds`: session usable and
    /// recently signed in, with a second factor where required, admin and enabled, epochs the
    /// token's), records the admin's
    /// activity, and ends the target. `None` when the admin's side does not hold: the caller
    /// then finds out why with the usual reads (401 or 403).
    #[allow(clippy::too_many_arguments)]
    pub async fn admin_end_session(
        &self,
        admin: AdminToken<'_>,
        recent_since: i64,
        user_id: UserId,
        session_id: &str,
        now: i64,
        policy: &SessionPolicy,
    ) -> Result<Option<EndOutcome>, StoreError> {
        let [caller, still_admin, global] = self.admin_holds(admin, recent_since, now, policy)?;
        let end = self
            .end_in_transaction(
                user_id,
                session_id,
                admin.user_id,
                EndReason::Admin,
                now,
                policy,
            )
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(txn_error)?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(caller)
            .transact_items(still_admin)
            .transact_items(global)
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

    /// The admin's side of [`Store::admin_end_session`], as three transaction items: their
    /// session usable, recently signed in and not newer than the token (its activity recorded);
    /// the users table still saying admin and enabled in the token's credential epoch; the
    /// global epoch still the token's.
    fn admin_holds(
        &self,
        admin: AdminToken<'_>,
        recent_since: i64,
        now: i64,
        policy: &SessionPolicy,
    ) -> Result<[TransactWriteItem; 3], StoreError> {
        let (global, epoch) = (admin.global_epoch, admin.credential_epoch);
        let global_is = if global == 0 {
            "(attribute_not_exists(global_epoch) OR global_epoch = :gep)"
        } else {
            "global_epoch = :gep"
        };
        // aal2: the session's methods include a second factor (with the password every
        // session has; see `crate::domain::assurance`).
        let aal2 = if admin.second_factor_required {
            " AND (contains(amr, :otp) OR contains(amr, :recovery))"
        } else {
            ""
        };
        let mut caller = Update::builder()
            .table_name(&self.tables.sessions)
            .key("user_id", n(admin.user_id))
            .key("session_id", s(admin.session_id))
            .update_expression("SET last_activity = :now")
            .condition_expression(format!(
                "{SESSION_USABLE} AND {} AND {global_is} AND auth_time >= :recent AND \
                 (attribute_not_exists(auth_generation) OR auth_generation <= :tgen){aal2}",
                credentials::epoch_is(epoch)
            ))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":idle_cutoff", n(now - policy.idle_timeout_seconds))
            .expression_attribute_values(":cep", n(epoch))
            .expression_attribute_values(":gep", n(global))
            .expression_attribute_values(":recent", n(recent_since))
            .expression_attribute_values(":tgen", n(admin.generation));
        if admin.second_factor_required {
            caller = caller
                .expression_attribute_values(":otp", s(Amr::Otp.as_str()))
                .expression_attribute_values(":recovery", s(Amr::Recovery.as_str()));
        }
        let caller = caller.build().map_err(txn_error)?;
        let still_admin = ConditionCheck::builder()
            .table_name(&self.tables.users)
            .key("user_id", n(admin.user_id))
            .condition_expression(format!(
                "#role = :admin AND (attribute_not_exists(disabled) OR disabled = :no) AND {}",
                credentials::epoch_is(epoch)
            ))
            .expression_attribute_names("#role", "role")
            .expression_attribute_values(":admin", s("admin"))
            .expression_attribute_values(":no", AttributeValue::Bool(false))
            .expression_attribute_values(":cep", n(epoch))
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
        Ok([
            TransactWriteItem::builder().update(caller).build(),
            TransactWriteItem::builder()
                .condition_check(still_admin)
                .build(),
            TransactWriteItem::builder()
                .condition_check(global_item)
                .build(),
        ])
    }
}
