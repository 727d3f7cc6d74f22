//! The sweep after a credential epoch moved: marks the superseded session items as ended, for
//! the listings. Moving the epoch already ended them (see `credentials`); the sweep finds them
//! with a strongly consistent query of the live index (local to the table, sessions not ended),
//! never through the activity index, which may lag, and never touches a session of a later
//! epoch.

use super::expressions::{END_SESSION, END_SESSION_IF, end_values};
use super::{Store, StoreError, classify, n};
use crate::domain::UserId;
use crate::domain::{EndReason, SessionPolicy};

impl Store {
    /// Marks every session of a user that is not ended, not expired and of an epoch before
    /// `epoch` as ended (idle ones too: raising the idle timeout must not bring them back).
    /// Found with a strongly consistent query of the live index. Sessions of a later epoch (a
    /// password change or sign-in that committed after this sweep's change) are never touched,
    /// by the query nor by the write. Returns how many of them were active at `now` (sessions
    /// ended meanwhile by someone else are not counted twice).
    pub async fn end_superseded_sessions(
        &self,
        user_id: UserId,
        epoch: u64,
        ended_by: UserId,
        reason: EndReason,
        now: i64,
        policy: &SessionPolicy,
    ) -> Result<usize, StoreError> {
        let targets = self.superseded(user_id, epoch, now, policy).await?;
        let mut tasks = tokio::task::JoinSet::new();
        let mut ended = 0;
        for chunk in targets.chunks(16) {
            for (id, active) in chunk {
                let store = self.clone();
                let (id, active, policy) = (id.clone(), *active, *policy);
                tasks.spawn(async move {
                    let ended = store
                        .end_superseded_session(user_id, &id, epoch, ended_by, reason, now, &policy)
                        .await?;
                    Ok::<_, StoreError>(active && ended)
                });
            }
            while let Some(joined) = tasks.join_next().await {
                let counted = joined.map_err(|e| StoreError::Failed {
                    operation: "UpdateItem",
                    source: Box::new(e),
                })??;
                ended += usize::from(counted);
            }
        }
        Ok(ended)
    }

    /// The sessions [`Store::end_superseded_sessions`] ends: each one's id and whether it was
    /// active (not idle) at `now`. One strongly consistent query of the live index, paged.
    async fn superseded(
        &self,
        user_id: UserId,
        epoch: u64,
        now: i64,
        policy: &SessionPolicy,
    ) -> Result<Vec<(String, bool)>, StoreError> {
        let filter = "attribute_not_exists(revoked_at) AND expires_at > :now AND \
                      (attribute_not_exists(credential_epoch) OR credential_epoch < :cep)";
        let values = [(":cep", n(epoch))];
        let found = self
            .session_ids_where(user_id, now, filter, &values)
            .await?;
        let idle_cutoff = now - policy.idle_timeout_seconds;
        Ok(found
            .into_iter()
            .map(|(id, last)| (id, last.unwrap_or(0) > idle_cutoff))
            .collect())
    }

    /// Ends one session if it is still of an epoch before `epoch` (the sweep's write): `true`
    /// when this call ended it.
    #[allow(clippy::too_many_arguments)]
    async fn end_superseded_session(
        &self,
        user_id: UserId,
        session_id: &str,
        epoch: u64,
        ended_by: UserId,
        reason: EndReason,
        now: i64,
        policy: &SessionPolicy,
    ) -> Result<bool, StoreError> {
        let mut values = end_values(ended_by, reason, now, policy);
        values.insert(":cep".to_owned(), n(epoch));
        let result = self.update_session(user_id, session_id)
            .update_expression(END_SESSION)
            .condition_expression(format!(
                "{END_SESSION_IF} AND (attribute_not_exists(credential_epoch) OR credential_epoch < :cep)"
            ))
            .expression_attribute_names("#ttl", "ttl")
            .set_expression_attribute_values(Some(values))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if super::condition_failed(&e) => Ok(false),
            Err(e) => Err(classify("UpdateItem", e)),
        }
    }
}
