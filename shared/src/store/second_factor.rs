//! A user's second factor, on their users-table item: a TOTP secret, sealed
//! ([`crate::tokens::seal`]), pending until its first code confirms it; once confirmed, the last
//! time step used and the hashes of the recovery codes left.
//!
//! Each rule that must hold against concurrent requests is the condition of one update: an
//! enrolment is confirmed once and only for the secret the user was shown, a time step is used
//! once (a code replayed, even in parallel, is refused), a recovery code is used once.

use super::expressions::{Conditional, conditional, txn_error};
use super::{StoreError, n, s};
use crate::domain::UserId;
use crate::store::Store;
use aws_sdk_dynamodb::types::{AttributeValue, Update};
use serde::Deserialize;

/// Every attribute of the second factor on a users item (what removing it removes).
pub(super) const FACTOR_ATTRIBUTES: &str = "totp_pending, totp_pending_at, totp_secret, \
     totp_last_step, recovery_codes, recovery_codes_used";

/// What a users item holds of the second factor.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct SecondFactor {
    /// The sealed secret of an enrolment waiting for its first code.
    #[serde(default)]
    pub totp_pending: Option<String>,
    /// When that enrolment began, Unix seconds.
    #[serde(default)]
    pub totp_pending_at: Option<i64>,
    /// The sealed secret of the confirmed factor.
    #[serde(default)]
    pub totp_secret: Option<String>,
    /// The last time step whose code was accepted.
    #[serde(default)]
    pub totp_last_step: Option<u64>,
    /// Hashes of the recovery codes not yet used.
    #[serde(default)]
    pub recovery_codes: Vec<String>,
    /// How many recovery codes have been used since the set was issued.
    #[serde(default)]
    pub recovery_codes_used: u64,
}

impl SecondFactor {
    /// Whether the user has a confirmed second factor.
    pub fn is_enrolled(&self) -> bool {
        self.totp_secret.is_some()
    }
}

/// A code of the user's factor that checked out, and what using it up writes: each is
/// refused by its condition once used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FactorUse {
    /// A TOTP code: its time step, for the factor sealed as `sealed`, becomes the last used.
    TotpStep {
        /// The sealed secret the code was checked against.
        sealed: String,
        /// The code's time step.
        step: u64,
    },
    /// A recovery code, by its hash: removed from the set and counted.
    RecoveryCode {
        /// The code's hash ([`crate::domain::recovery::hash`]).
        hash: String,
    },
}

impl FactorUse {
    /// The update, its condition and their values.
    fn parts(
        &self,
    ) -> (
        &'static str,
        &'static str,
        Vec<(&'static str, AttributeValue)>,
    ) {
        match self {
            Self::TotpStep { sealed, step } => (
                "SET totp_last_step = :step",
                "totp_secret = :p AND totp_last_step < :step",
                vec![(":p", s(sealed.as_str())), (":step", n(*step))],
            ),
            Self::RecoveryCode { hash } => (
                "DELETE recovery_codes :one_code ADD recovery_codes_used :one",
                "contains(recovery_codes, :code)",
                vec![
                    (":code", s(hash.as_str())),
                    (":one_code", AttributeValue::Ss(vec![hash.clone()])),
                    (":one", n(1)),
                ],
            ),
        }
    }
}

/// Recovery-code hashes as a DynamoDB string set, which cannot be empty: a factor is always
/// issued codes, so none is a caller's mistake, answered as a failure before any write.
fn code_set(hashes: &[String]) -> Result<AttributeValue, StoreError> {
    if hashes.is_empty() {
        return Err(StoreError::Failed {
            operation: "UpdateItem",
            source: "no recovery codes to store".into(),
        });
    }
    Ok(AttributeValue::Ss(hashes.to_vec()))
}

impl Store {
    /// The second factor of `user_id` (strongly consistent), or `None` when there is no such
    /// user.
    pub async fn second_factor(&self, user_id: UserId) -> Result<Option<SecondFactor>, StoreError> {
        self.user_item_as(user_id).await
    }

    /// Starts (or restarts) an enrolment with `sealed`, unless the user already has a confirmed
    /// factor. `false` when refused (or there is no such user).
    pub async fn begin_totp(
        &self,
        user_id: UserId,
        sealed: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        self.second_factor_update(
            user_id,
            "SET totp_pending = :p, totp_pending_at = :now",
            "attribute_exists(user_id) AND attribute_not_exists(totp_secret)",
            [(":p", s(sealed)), (":now", n(now))],
        )
        .await
    }

    /// Confirms the pending enrolment whose secret is `sealed` (the one the user's code was
    /// checked against) if it began after `oldest`, recording `step` as used and the recovery
    /// codes' hashes. `false` when refused: no such enrolment, a newer one replaced it, it
    /// expired, or it was confirmed already.
    pub async fn confirm_totp(
        &self,
        user_id: UserId,
        sealed: &str,
        oldest: i64,
        step: u64,
        recovery_hashes: &[String],
        by: Option<UserId>,
    ) -> Result<bool, StoreError> {
        let (who, by) = changed_by(by);
        self.second_factor_update(
            user_id,
            &format!(
                "SET totp_secret = :p, totp_last_step = :step, recovery_codes = :rc, \
                 recovery_codes_used = :zero{} REMOVE totp_pending, totp_pending_at{}",
                who.set, who.remove
            ),
            "totp_pending = :p AND totp_pending_at > :oldest AND attribute_not_exists(totp_secret)",
            [
                (":p", s(sealed)),
                (":oldest", n(oldest)),
                (":step", n(step)),
                (":rc", code_set(recovery_hashes)?),
                (":zero", n(0)),
            ]
            .into_iter()
            .chain(by),
        )
        .await
    }

    /// Records `step` as used for the factor sealed as `sealed`, if it is later than the last
    /// step used. `false` when refused: the code's step (or a later one) was used already, or
    /// the factor changed since it was read.
    pub async fn use_totp_step(
        &self,
        user_id: UserId,
        sealed: &str,
        step: u64,
    ) -> Result<bool, StoreError> {
        let used = FactorUse::TotpStep {
            sealed: sealed.to_owned(),
            step,
        };
        self.use_factor(user_id, &used).await
    }

    /// Uses the recovery code whose hash is `hash`: removed from the set and counted. `false`
    /// when it is not (or no longer) in the set.
    pub async fn use_recovery_code(&self, user_id: UserId, hash: &str) -> Result<bool, StoreError> {
        let used = FactorUse::RecoveryCode {
            hash: hash.to_owned(),
        };
        self.use_factor(user_id, &used).await
    }

    /// Uses a code of the user's factor ([`FactorUse`]) in one conditional update. `false`
    /// when refused (used already, or the factor changed).
    pub async fn use_factor(&self, user_id: UserId, used: &FactorUse) -> Result<bool, StoreError> {
        let (update, condition, values) = used.parts();
        self.second_factor_update(user_id, update, condition, values)
            .await
    }

    /// [`Store::use_factor`] as an item of a transaction.
    pub(super) fn use_factor_in_transaction(
        &self,
        user_id: UserId,
        used: &FactorUse,
    ) -> Result<Update, StoreError> {
        let (update, condition, values) = used.parts();
        Update::builder()
            .table_name(&self.tables.users)
            .key("user_id", n(user_id))
            .update_expression(update)
            .condition_expression(condition)
            .set_expression_attribute_values(Some(
                values.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
            ))
            .build()
            .map_err(txn_error)
    }

    /// Replaces the recovery codes of the user's confirmed factor with a new set and restarts
    /// their count, in one conditional write. `false` when the user has no confirmed factor
    /// (none, only a pending enrolment, or no such user).
    pub async fn replace_recovery_codes(
        &self,
        user_id: UserId,
        hashes: &[String],
    ) -> Result<bool, StoreError> {
        self.second_factor_update(
            user_id,
            "SET recovery_codes = :rc, recovery_codes_used = :zero",
            "attribute_exists(totp_secret)",
            [(":rc", code_set(hashes)?), (":zero", n(0))],
        )
        .await
    }

    /// Removes the second factor, confirmed or pending, recording who did it (`by`: the user or
    /// an admin; `None` for the operator's CLI). `false` when there was none.
    pub async fn remove_second_factor(
        &self,
        user_id: UserId,
        by: Option<UserId>,
    ) -> Result<bool, StoreError> {
        let (who, by) = changed_by(by);
        let remove = format!("REMOVE {FACTOR_ATTRIBUTES}{}", who.remove);
        let set = who.set.trim_start_matches(", ");
        let update = if set.is_empty() {
            remove
        } else {
            format!("SET {set} {remove}")
        };
        self.second_factor_update(
            user_id,
            &update,
            "attribute_exists(totp_secret) OR attribute_exists(totp_pending)",
            by,
        )
        .await
    }

    /// One conditional update of the user's item: `true` when written, `false` when its
    /// condition did not hold.
    async fn second_factor_update<'a>(
        &self,
        user_id: UserId,
        update: &str,
        condition: &str,
        values: impl IntoIterator<Item = (&'a str, AttributeValue)>,
    ) -> Result<bool, StoreError> {
        let mut request = self
            .client
            .update_item()
            .table_name(&self.tables.users)
            .key("user_id", n(user_id))
            .update_expression(update)
            .condition_expression(condition);
        for (name, value) in values {
            request = request.expression_attribute_values(name, value);
        }
        Ok(matches!(
            conditional(request.send().await)?,
            Conditional::Written(_)
        ))
    }
}

/// How a change records who made it: `SET changed_by` for a user or an admin, `REMOVE
/// changed_by` for the operator's CLI (the events then say the service did it).
struct ChangedBy {
    set: &'static str,
    remove: &'static str,
}

fn changed_by(by: Option<UserId>) -> (ChangedBy, Option<(&'static str, AttributeValue)>) {
    match by {
        Some(by) => (
            ChangedBy {
                set: ", changed_by = :by",
                remove: "",
            },
            Some((":by", n(by))),
        ),
        None => (
            ChangedBy {
                set: "",
                remove: ", changed_by",
            },
            None,
        ),
    }
}
