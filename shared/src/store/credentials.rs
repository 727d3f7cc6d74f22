//! Writes that end every session of a user at once, by moving the user's credential epoch
//! forward ([`crate::domain::User::credential_epoch`]), and the writes that depend on it: a new
//! session is stored only if the epoch it was stamped with is still the user's, so no sign-in
//! in flight can outlive a password change, a disable or "end all sessions".
//!
//! Moving the epoch decides; the sweep ([`Store::end_superseded_sessions`], in `sweep.rs`)
//! afterwards marks the superseded session items as ended, for the listings.

use super::expressions::{failed_conditions, lost_race, txn_error};
use super::{StoreError, classify, n, s};
use crate::domain::SessionPolicy;
use crate::domain::UserId;
use crate::domain::{EndReason, Role, Session};
use crate::store::Store;
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Put, TransactWriteItem, Update};
use std::collections::HashMap;

/// The condition "the item's credential epoch is `:cep`", for items written before epochs
/// existed too (no attribute means epoch 0).
pub(crate) fn epoch_is(epoch: u64) -> &'static str {
    if epoch == 0 {
        "(attribute_not_exists(credential_epoch) OR credential_epoch = :cep)"
    } else {
        "credential_epoch = :cep"
    }
}

/// What moving a user's epoch changes besides the epoch.
#[derive(Debug, Clone)]
pub struct EpochChange<'a> {
    /// Why: recorded on the user item (`epoch_reason`), for the `user.sessions_ended` event.
    pub reason: EndReason,
    /// A new password hash, written only if the stored one is still `old`.
    pub password: Option<(&'a str, &'a str)>,
    /// The session that lives on in the new epoch (the caller's own).
    pub keep: Option<&'a str>,
    /// The administrator making the change: still an enabled admin, or nothing is written.
    pub admin: Option<UserId>,
}

/// Why moving the epoch did not happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EpochRefusal {
    /// The user's epoch or password hash changed since it was read: another change won.
    UserChanged,
    /// The session to keep is no longer usable.
    KeptSessionEnded,
    /// The administrator making the change is no longer an enabled admin.
    CallerNotAdmin,
}

/// What an administrator's change to a user did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminUpdate {
    /// Written.
    Updated,
    /// No such user.
    NotFound,
    /// The caller is no longer an enabled administrator (demoted or disabled meanwhile).
    CallerNotAdmin,
}
impl Store {
    /// Stores a new session stamped with the credential epoch its user had when the password
    /// was checked: one transaction with a condition on the user item. `false` when the epoch
    /// has moved since (a password change, disable or "end all sessions" committed first).
    pub async fn put_session_in_epoch(&self, session: &Session) -> Result<bool, StoreError> {
        let epoch = session.credential_epoch;
        let check = ConditionCheck::builder()
            .table_name(&self.tables.users)
            .key("user_id", n(session.user_id))
            .condition_expression(format!("attribute_exists(user_id) AND {}", epoch_is(epoch)))
            .expression_attribute_values(":cep", n(epoch))
            .build()
            .map_err(txn_error)?;
        let put = Put::builder()
            .table_name(&self.tables.sessions)
            .set_item(Some(super::sessions::session_item(session)?))
            .condition_expression("attribute_not_exists(session_id)")
            .build()
            .map_err(txn_error)?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().condition_check(check).build())
            .transact_items(TransactWriteItem::builder().put(put).build())
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if failed_conditions(&e).is_some_and(|f| f.first() == Some(&true)) => Ok(false),
            Err(e) => Err(classify("TransactWriteItems", e)),
        }
    }

    /// Moves a user's credential epoch from `from` to `from + 1`, with `change`, in one
    /// transaction: every session of the user but `change.keep` is over from the moment it
    /// commits. Returns the new epoch.
    pub async fn advance_epoch(
        &self,
        user_id: UserId,
        from: u64,
        change: EpochChange<'_>,
        now: i64,
        policy: &SessionPolicy,
    ) -> Result<Result<u64, EpochRefusal>, StoreError> {
        let next = from + 1;
        let mut items = vec![(
            EpochRefusal::UserChanged,
            self.move_user_epoch(user_id, from, &change)?,
        )];
        if let Some(keep) = change.keep {
            items.push((
                EpochRefusal::KeptSessionEnded,
                self.keep_in_next_epoch(user_id, keep, from, now, policy)?,
            ));
        }
        if let Some(admin) = change.admin {
            items.push((
                EpochRefusal::CallerNotAdmin,
                TransactWriteItem::builder()
                    .condition_check(self.still_admin(admin)?)
                    .build(),
            ));
        }
        let (refusals, items): (Vec<_>, Vec<_>) = items.into_iter().unzip();
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Ok(next)),
            Err(e) => {
                let failed = failed_conditions(&e).unwrap_or_default();
                // The caller's rights first: a lost admin is told so, whatever else changed.
                let mut reasons = refusals
                    .iter()
                    .zip(failed)
                    .filter(|(_, f)| *f)
                    .map(|(r, _)| *r);
                let first = reasons.clone().find(|r| *r == EpochRefusal::CallerNotAdmin);
                match first.or_else(|| reasons.next()) {
                    Some(refusal) => Ok(Err(refusal)),
                    None if lost_race(&e) => Ok(Err(EpochRefusal::UserChanged)),
                    None => Err(classify("TransactWriteItems", e)),
                }
            }
        }
    }

    /// The user's epoch from `from` to `from + 1` (and the password hash from `old` to
    /// `new`, when given), with who moved it and why, as a transaction item.
    fn move_user_epoch(
        &self,
        user_id: UserId,
        from: u64,
        change: &EpochChange<'_>,
    ) -> Result<TransactWriteItem, StoreError> {
        const MOVE: &str = "SET credential_epoch = :next, changed_by = :by, epoch_reason = :why";
        let user = Update::builder()
            .table_name(&self.tables.users)
            .key("user_id", n(user_id))
            .expression_attribute_values(":cep", n(from))
            .expression_attribute_values(":next", n(from + 1))
            .expression_attribute_values(":by", n(change.admin.unwrap_or(user_id)))
            .expression_attribute_values(":why", s(change.reason.as_str()));
        let mut condition = format!("attribute_exists(user_id) AND {}", epoch_is(from));
        let user = match change.password {
            Some((old, new)) => {
                condition.push_str(" AND password_hash = :old");
                user.update_expression(format!("{MOVE}, password_hash = :new"))
                    .expression_attribute_values(":old", s(old))
                    .expression_attribute_values(":new", s(new))
            }
            None => user.update_expression(MOVE),
        };
        let update = user
            .condition_expression(condition)
            .build()
            .map_err(txn_error)?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// The session `keep` carried into epoch `from + 1`, if it is still usable in `from`, as a
    /// transaction item.
    fn keep_in_next_epoch(
        &self,
        user_id: UserId,
        keep: &str,
        from: u64,
        now: i64,
        policy: &SessionPolicy,
    ) -> Result<TransactWriteItem, StoreError> {
        let session = Update::builder()
            .table_name(&self.tables.sessions)
            .key("user_id", n(user_id))
            .key("session_id", s(keep))
            .update_expression("SET credential_epoch = :next")
            .condition_expression(format!(
                "attribute_exists(session_id) AND {} AND {}",
                super::expressions::SESSION_USABLE,
                epoch_is(from)
            ))
            .expression_attribute_values(":cep", n(from))
            .expression_attribute_values(":next", n(from + 1))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":idle_cutoff", n(now - policy.idle_timeout_seconds))
            .build()
            .map_err(txn_error)?;
        Ok(TransactWriteItem::builder().update(session).build())
    }

    /// The condition "`admin_id` is still an enabled administrator", as a transaction item.
    fn still_admin(&self, admin_id: UserId) -> Result<ConditionCheck, StoreError> {
        ConditionCheck::builder()
            .table_name(&self.tables.users)
            .key("user_id", n(admin_id))
            .condition_expression(
                "#role = :admin AND (attribute_not_exists(disabled) OR disabled = :no)",
            )
            .expression_attribute_names("#role", "role")
            .expression_attribute_values(":admin", s("admin"))
            .expression_attribute_values(":no", AttributeValue::Bool(false))
            .build()
            .map_err(txn_error)
    }

    /// An administrator changes a user's role and/or disabled flag, in one transaction whose
    /// condition is that the administrator is still an enabled admin: two admins demoting or
    /// disabling each other at once cannot both succeed, so one active admin always remains
    /// (admins cannot change themselves this way). Disabling also moves the user's credential
    /// epoch, so every session of theirs is over when it commits.
    pub async fn update_user_as_admin(
        &self,
        admin_id: UserId,
        user_id: UserId,
        role: Option<Role>,
        disabled: Option<bool>,
        remove_second_factor: bool,
    ) -> Result<AdminUpdate, StoreError> {
        let change = (role, disabled, remove_second_factor);
        let Some(target) = self.user_change(admin_id, user_id, change)? else {
            return Ok(AdminUpdate::Updated);
        };
        let mut request = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(target).build());
        if admin_id != user_id {
            request = request.transact_items(
                TransactWriteItem::builder()
                    .condition_check(self.still_admin(admin_id)?)
                    .build(),
            );
        }
        let result = request.send().await;
        match result {
            Ok(_) => Ok(AdminUpdate::Updated),
            Err(e) => match failed_conditions(&e) {
                Some(f) if f.get(1) == Some(&true) => Ok(AdminUpdate::CallerNotAdmin),
                // Their own item: it exists (they are signed in), so the admin part failed.
                Some(f) if f.first() == Some(&true) && admin_id == user_id => {
                    Ok(AdminUpdate::CallerNotAdmin)
                }
                Some(f) if f.first() == Some(&true) => Ok(AdminUpdate::NotFound),
                // Another transaction on the same items (the other admin's): the caller retries
                // after reading again, which decides who is still an admin.
                _ if lost_race(&e) => Err(StoreError::Transient {
                    operation: "TransactWriteItems",
                    source: Box::new(e),
                }),
                _ => Err(classify("TransactWriteItems", e)),
            },
        }
    }

    /// The write of an administrator's change to a user (`None` when nothing changes). An
    /// admin's change of their own item (only the harmless ones get here: enabling themselves,
    /// keeping the admin role) carries the admin condition itself: a transaction may name an
    /// item once.
    fn user_change(
        &self,
        admin_id: UserId,
        user_id: UserId,
        (role, disabled, remove_second_factor): (Option<Role>, Option<bool>, bool),
    ) -> Result<Option<Update>, StoreError> {
        let mut sets = Vec::new();
        let mut values: HashMap<String, AttributeValue> = HashMap::new();
        let mut names: HashMap<String, String> = HashMap::new();
        if let Some(role) = role {
            sets.push("#role = :role".to_owned());
            names.insert("#role".into(), "role".into());
            values.insert(":role".into(), serde_dynamo::to_attribute_value(role)?);
        }
        if let Some(disabled) = disabled {
            sets.push("disabled = :disabled".to_owned());
            values.insert(":disabled".into(), AttributeValue::Bool(disabled));
        }
        if disabled == Some(true) {
            sets.push("credential_epoch = if_not_exists(credential_epoch, :zero) + :one".into());
            sets.push("epoch_reason = :why".into());
            values.insert(":zero".into(), n(0));
            values.insert(":one".into(), n(1));
            values.insert(":why".into(), s(EndReason::UserDisabled.as_str()));
        }
        if !sets.is_empty() || remove_second_factor {
            sets.push("changed_by = :by".into());
            values.insert(":by".into(), n(admin_id));
        }
        let mut update = if sets.is_empty() {
            String::new()
        } else {
            format!("SET {}", sets.join(", "))
        };
        if remove_second_factor {
            update.push_str(&format!(
                " REMOVE {}",
                super::second_factor::FACTOR_ATTRIBUTES
            ));
        }
        if update.is_empty() {
            return Ok(None);
        }
        let mut condition = "attribute_exists(user_id) AND attribute_exists(email)".to_owned();
        if admin_id == user_id {
            condition.push_str(
                " AND #admin_role = :admin AND (attribute_not_exists(disabled) OR disabled = :no)",
            );
            names.insert("#admin_role".into(), "role".into());
            values.insert(":admin".into(), s("admin"));
            values.insert(":no".into(), AttributeValue::Bool(false));
        }
        let update = Update::builder()
            .table_name(&self.tables.users)
            .key("user_id", n(user_id))
            .update_expression(update.trim_start())
            .condition_expression(condition)
            .set_expression_attribute_names((!names.is_empty()).then_some(names))
            .set_expression_attribute_values((!values.is_empty()).then_some(values))
            .build()
            .map_err(txn_error)?;
        Ok(Some(update))
    }

    /// Adds a network to the user's known ones (see [`crate::domain::throttle::remember`]). Not an
    /// invariant of anything: the last writer wins.
    pub async fn set_known_networks(
        &self,
        user_id: UserId,
        networks: &[String],
    ) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.tables.users)
            .key("user_id", n(user_id))
            .update_expression("SET known_networks = :k")
            .condition_expression("attribute_exists(user_id)")
            .expression_attribute_values(":k", AttributeValue::L(networks.iter().map(s).collect()))
            .send()
            .await
            .map(|_| ())
            .or_else(|e| {
                if super::condition_failed(&e) {
                    Ok(())
                } else {
                    Err(classify("UpdateItem", e))
                }
            })
    }
}
