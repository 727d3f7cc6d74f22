//! The password-attempt counters of [`crate::domain::throttle`], in the emails table (keys starting
//! `throttle `, which no email does), expiring by TTL after their window.

use super::expressions::{Conditional, conditional};
use super::{StoreError, classify, n, s};
use crate::domain::throttle::{Attempt, Reservation, ThrottlePolicy, account_key, client_key};
use crate::store::Store;
use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;

/// Tries at starting a new window while other requests start it too.
const RESET_ATTEMPTS: usize = 3;

impl Store {
    /// Reserves one attempt on the per-client and the per-account counter of `email`,
    /// concurrently (one round trip in the usual case).
    pub async fn reserve_password_attempt(
        &self,
        email: &str,
        network: &str,
        policy: &ThrottlePolicy,
        now: i64,
    ) -> Result<Reservation, StoreError> {
        let (client_key, account_key) = (client_key(email, network), account_key(email));
        let (client, account) = tokio::try_join!(
            self.reserve_attempt(&client_key, policy.per_client, policy, now),
            self.reserve_attempt(&account_key, policy.per_account, policy, now),
        )?;
        Ok(Reservation { client, account })
    }

    /// Forgets the per-client counter after a password check succeeded.
    pub async fn forget_password_attempts(
        &self,
        email: &str,
        network: &str,
    ) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.tables.user_emails)
            .key("email", s(client_key(email, network)))
            .send()
            .await
            .map_err(|e| classify("DeleteItem", e))?;
        Ok(())
    }

    /// Counts one attempt on the counter `key` unless it already holds `max` in the current
    /// window. One conditional update: of many concurrent attempts exactly the ones that fit
    /// are counted. A window that has ended is started anew by exactly one request (its
    /// condition names the old window), the others count in the new one.
    async fn reserve_attempt(
        &self,
        key: &str,
        max: u32,
        policy: &ThrottlePolicy,
        now: i64,
    ) -> Result<Attempt, StoreError> {
        let window = policy.window_seconds;
        for _ in 0..RESET_ATTEMPTS {
            let Some((started, marked)) = self.count_attempt(key, max, window, now).await? else {
                return Ok(Attempt::Allowed);
            };
            if started > now - window {
                if !marked {
                    self.mark_blocked(key, started, now).await;
                }
                return Ok(Attempt::Blocked {
                    retry_after_seconds: (started + window - now).max(1) as u64,
                });
            }
            // The window has ended: start a new one, unless another request just did.
            let reset = self
                .client
                .update_item()
                .table_name(&self.tables.user_emails)
                .key("email", s(key))
                .update_expression(
                    "SET window_start = :now, attempts = :one, #ttl = :ttl REMOVE blocked_at",
                )
                .condition_expression("window_start = :old")
                .expression_attribute_names("#ttl", "ttl")
                .expression_attribute_values(":now", n(now))
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":ttl", n(now + window))
                .expression_attribute_values(":old", n(started))
                .send()
                .await;
            match reset {
                Ok(_) => return Ok(Attempt::Allowed),
                Err(e) if super::condition_failed(&e) => continue,
                Err(e) => return Err(classify("UpdateItem", e)),
            }
        }
        Err(StoreError::Transient {
            operation: "UpdateItem",
            source: "the attempt counter kept changing".into(),
        })
    }

    /// Records that the counter `key` refused its first attempt of the window that started at
    /// `started` (`blocked_at`, once per window: the `signin.throttled` event). A counter whose
    /// window moved on meanwhile is left alone. Best effort: the mark only feeds the event, so
    /// a failure is logged and the throttle answers as it would have (the next refusal tries
    /// again).
    async fn mark_blocked(&self, key: &str, started: i64, now: i64) {
        let marked = self
            .client
            .update_item()
            .table_name(&self.tables.user_emails)
            .key("email", s(key))
            .update_expression("SET blocked_at = :now")
            .condition_expression("window_start = :started AND attribute_not_exists(blocked_at)")
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":started", n(started))
            .send()
            .await;
        match marked {
            Ok(_) => {}
            Err(e) if super::condition_failed(&e) => {}
            Err(e) => {
                let e = classify("UpdateItem", e);
                tracing::warn!(error = %e, "the throttle's refusal was not recorded for events");
            }
        }
    }

    /// Counts one attempt on `key` if its window is current and below `max`. `None` when it
    /// was counted, otherwise when the counter's window started (0 for none) and whether a
    /// refusal in that window was recorded already.
    async fn count_attempt(
        &self,
        key: &str,
        max: u32,
        window: i64,
        now: i64,
    ) -> Result<Option<(i64, bool)>, StoreError> {
        let counted = self
            .client
            .update_item()
            .table_name(&self.tables.user_emails)
            .key("email", s(key))
            .update_expression(
                "SET window_start = if_not_exists(window_start, :now), \
                 #ttl = if_not_exists(#ttl, :ttl) ADD attempts :one",
            )
            .condition_expression(
                "attribute_not_exists(window_start) OR \
                 (window_start > :cutoff AND attempts < :max)",
            )
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":ttl", n(now + window))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":cutoff", n(now - window))
            .expression_attribute_values(":max", n(max))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let old = match conditional(counted)? {
            Conditional::Written(_) => return Ok(None),
            Conditional::Refused(old) => old,
            Conditional::Missing => Default::default(),
        };
        let started = old
            .get("window_start")
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or(0);
        Ok(Some((started, old.contains_key("blocked_at"))))
    }
}
