//! Sign-in challenges ([`crate::domain::challenge`]) in the user-emails table, under keys
//! `mfa <hash>`, gone by TTL. Each rule is the condition of one write: a challenge is stored
//! once, takes a code only while it is unexpired, unspent and asked from its own address and
//! User-Agent, and completes one sign-in.

use super::expressions::{Conditional, conditional};
use super::{StoreError, classify, condition_failed, n, s};
use crate::domain::challenge::{Challenge, MAX_CHALLENGE_ATTEMPTS};
use crate::store::Store;
use aws_sdk_dynamodb::types::ReturnValue;

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

    /// Spends the challenge stored under `key`: `true` for exactly one caller.
    pub async fn consume_challenge(&self, key: &str) -> Result<bool, StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.tables.user_emails)
            .key("email", s(key))
            .condition_expression("attribute_exists(email)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if condition_failed(&e) => Ok(false),
            Err(e) => Err(classify("DeleteItem", e)),
        }
    }
}
