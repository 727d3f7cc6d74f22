//! The users table (users, the user-id counter, slot holders) and the email table.

use super::expressions::SLOT_PREFIX;
use super::second_factor::SecondFactor;
use super::{Store, StoreError, classify, condition_failed, n, s};
use crate::domain::User;
use crate::domain::UserId;
use aws_sdk_dynamodb::types::{AttributeValue, Put, ReturnValue, TransactWriteItem};
use std::collections::HashMap;

/// The users-table key of the user-id counter. Real user ids start at 1.
const USER_ID_COUNTER: u64 = 0;

impl Store {
    /// One user, or `None`. Strongly consistent: role and disabled changes apply at once.
    pub async fn get_user(&self, user_id: UserId) -> Result<Option<User>, StoreError> {
        self.user_item_as(user_id).await
    }

    /// The users-table item of `user_id` (strongly consistent) read as `T`, which may take
    /// only some of its attributes, or `None` when there is no such user.
    pub(super) async fn user_item_as<T: serde::de::DeserializeOwned>(
        &self,
        user_id: UserId,
    ) -> Result<Option<T>, StoreError> {
        Ok(self
            .user_item(user_id)
            .await?
            .map(serde_dynamo::from_item)
            .transpose()?)
    }

    /// The raw users-table item (strongly consistent).
    pub(super) async fn user_item(
        &self,
        user_id: UserId,
    ) -> Result<Option<HashMap<String, AttributeValue>>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.users)
            .key("user_id", n(user_id))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify("GetItem", e))?;
        Ok(out.item)
    }

    /// Creates a user and claims their email in one transaction: the email is unique and a
    /// user id is never overwritten. [`StoreError::AlreadyExists`] if either is taken.
    pub async fn create_user(&self, user: &User) -> Result<(), StoreError> {
        let user_item = serde_dynamo::to_item(user)?;
        let email_item = HashMap::from([
            ("email".to_owned(), s(&user.email)),
            ("user_id".to_owned(), n(user.user_id)),
        ]);
        let put = |table: &str, item, cond: &str| -> Result<TransactWriteItem, StoreError> {
            let put = Put::builder()
                .table_name(table)
                .set_item(Some(item))
                .condition_expression(cond)
                .build()
                .map_err(|e| StoreError::Failed {
                    operation: "TransactWriteItems",
                    source: Box::new(e),
                })?;
            Ok(TransactWriteItem::builder().put(put).build())
        };
        self.client
            .transact_write_items()
            .transact_items(put(
                &self.tables.users,
                user_item,
                "attribute_not_exists(user_id)",
            )?)
            .transact_items(put(
                &self.tables.user_emails,
                email_item,
                "attribute_not_exists(email)",
            )?)
            .send()
            .await
            .map_err(|e| {
                // Reasons come in the order of the items: the user, then the email.
                let reasons: Vec<String> = e
                    .as_service_error()
                    .and_then(|se| match se {
                        aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(c) => Some(c),
                        _ => None,
                    })
                    .map(|c| {
                        c.cancellation_reasons()
                            .iter()
                            .map(|r| r.code().unwrap_or("None").to_owned())
                            .collect()
                    })
                    .unwrap_or_default();
                let failed = |i: usize| reasons.get(i).is_some_and(|c| c == "ConditionalCheckFailed");
                if failed(1) {
                    StoreError::AlreadyExists
                } else if failed(0) {
                    StoreError::IdTaken
                } else if reasons.iter().any(|c| c == "TransactionConflict") {
                    StoreError::Transient {
                        operation: "TransactWriteItems",
                        source: Box::new(e),
                    }
                } else {
                    classify("TransactWriteItems", e)
                }
            })?;
        Ok(())
    }

    /// The user id an email belongs to.
    pub async fn user_id_by_email(&self, email: &str) -> Result<Option<UserId>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.user_emails)
            .key("email", s(email))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify("GetItem", e))?;
        Ok(out
            .item
            .and_then(|item| item.get("user_id").and_then(|v| v.as_n().ok()).cloned())
            .and_then(|v| v.parse().ok())
            .and_then(UserId::new))
    }

    /// Takes the next user id from the counter: unique and never reused, even when the
    /// registration that took it fails.
    pub async fn allocate_user_id(&self) -> Result<UserId, StoreError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.tables.users)
            .key("user_id", n(USER_ID_COUNTER))
            .update_expression("ADD next_user_id :one")
            .expression_attribute_values(":one", n(1))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(|e| classify("UpdateItem", e))?;
        out.attributes
            .as_ref()
            .and_then(|a| a.get("next_user_id"))
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse().ok())
            .and_then(UserId::new)
            .ok_or_else(|| StoreError::Failed {
                operation: "UpdateItem",
                source: "user id counter returned no value".into(),
            })
    }

    /// Moves the user-id counter past `floor` (after users were created with explicit ids).
    pub async fn raise_user_id_floor(&self, floor: u64) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.tables.users)
            .key("user_id", n(USER_ID_COUNTER))
            .update_expression("SET next_user_id = :floor")
            .condition_expression("attribute_not_exists(next_user_id) OR next_user_id < :floor")
            .expression_attribute_values(":floor", n(floor))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if condition_failed(&e) => Ok(()),
            Err(e) => Err(classify("UpdateItem", e)),
        }
    }

    /// One user, which sessions hold the slots of their session limit, and their second
    /// factor: one read (strongly consistent).
    pub async fn get_account(&self, user_id: UserId) -> Result<Option<Account>, StoreError> {
        let Some(item) = self.user_item(user_id).await? else {
            return Ok(None);
        };
        let slots = item
            .iter()
            .filter_map(|(name, value)| {
                let slot = name.strip_prefix(SLOT_PREFIX)?.parse().ok()?;
                Some((slot, value.as_s().ok()?.clone()))
            })
            .collect();
        let factor = serde_dynamo::from_item(item.clone())?;
        Ok(Some(Account {
            user: serde_dynamo::from_item(item)?,
            slots,
            factor,
        }))
    }
}

/// A user's item as sign-in reads it.
#[derive(Debug, Clone)]
pub struct Account {
    /// The user.
    pub user: User,
    /// Which sessions hold the slots of the user's session limit.
    pub slots: HashMap<u32, String>,
    /// The user's second factor (empty when there is none).
    pub factor: SecondFactor,
}
