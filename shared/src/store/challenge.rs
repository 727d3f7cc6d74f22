//! Sign-in challenges ([`crate::domain::challenge`]) in the user-emails table, under keys
//! `mfa <hash>`, gone by TTL. Each rule is the condition of one write: a challenge is stored
//! once, takes a code only while it is unexpired, unspent and asked from its own address and
//! User-Agent, and completes one sign-in, in the same transaction that uses up the code.

use super::expressions::{Conditional, conditional, failed_conditions, lost_race, txn_error};
use super::second_factor::FactorUse;
use super::{StoreError, classify, n, s};
use crate::domain::UserId;
use crate::domain::challenge::{Challenge, MAX_CHALLENGE_ATTEMPTS};
use crate::store::Store;
use aws_sdk_dynamodb::types::{Delete, ReturnValue, TransactWriteItem};

impl Store {
    /// Stores a new challenge (its key must be new).
    pub async fn put_challenge(&self, challenge: &Challenge) -> Result<(), StoreError> {
        let item = serde_dynamo::to_item(challenge)?;
        self.client
            .put_item()
            .table_name(&self.tables.user_emails)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(email)")
            .send()
            .await
            .map_err(|e| classify("PutItem", e))?;
        Ok(())
    }

    /// Counts one code attempt on the challenge stored under `key`, if it is unexpired at
    /// `now`, has attempts left and was started from `ip` with a User-Agent of hash
    /// `user_agent_hash` ([`crate::domain::challenge::user_agent_hash`]): the challenge
    /// as counted, or `None` when it cannot take one (unknown, expired, spent, used, or
    /// another address or device).
    pub async fn count_challenge_attempt(
        &self,
        key: &str,
        ip: &str,
        user_agent_hash: &str,
        now: i64,
    ) -> Result<Option<Challenge>, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.tables.user_emails)
            .key("email", s(key))
            .update_expression("ADD attempts :one")
            .condition_expression(
                "attribute_exists(email) AND expires_at > :now AND attempts < :max \
                 AND ip = :ip AND user_agent_hash = :ua",
            )
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":max", n(MAX_CHALLENGE_ATTEMPTS))
            .expression_attribute_values(":ip", s(ip))
            .expression_attribute_values(":ua", s(user_agent_hash))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match conditional(result)? {
            Conditional::Written(item) => Ok(Some(serde_dynamo::from_item(item)?)),
            Conditional::Refused(_) | Conditional::Missing => Ok(None),
        }
    }

    /// Completes the challenge stored under `key` with a code of `user_id`'s factor: one
    /// transaction spends both, so of concurrent completions exactly one spends anything, and
    /// a code is never used up for a challenge that another request completed.
    pub async fn complete_challenge(
        &self,
        key: &str,
        user_id: UserId,
        used: &FactorUse,
    ) -> Result<Completion, StoreError> {
        let spend = Delete::builder()
            .table_name(&self.tables.user_emails)
            .key("email", s(key))
            .condition_expression("attribute_exists(email)")
            .build()
            .map_err(txn_error)?;
        let code = self.use_factor_in_transaction(user_id, used)?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().delete(spend).build())
            .transact_items(TransactWriteItem::builder().update(code).build())
            .send()
            .await;
        let err = match result {
            Ok(_) => return Ok(Completion::Completed),
            Err(e) => e,
        };
        match failed_conditions(&err) {
            Some(failed) if failed.first() == Some(&true) => Ok(Completion::ChallengeGone),
            Some(failed) if failed.get(1) == Some(&true) => Ok(Completion::CodeRefused),
            // Another transaction on the challenge or the user at the same moment: nothing was
            // spent, and the challenge may still be there; the client tries again (503).
            _ if lost_race(&err) => Err(StoreError::Transient {
                operation: "TransactWriteItems",
                source: Box::new(err),
            }),
            _ => Err(classify("TransactWriteItems", err)),
        }
    }
}

/// What completing a challenge did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completion {
    /// The challenge and the code are spent: start the session.
    Completed,
    /// The challenge was completed (or went) meanwhile; nothing was spent.
    ChallengeGone,
    /// The code was used meanwhile (a replay racing it); nothing was spent.
    CodeRefused,
}
