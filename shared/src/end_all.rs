//! Ending every other session of the caller's user at once: the one path behind a password
//! change and "end all my other sessions".

use crate::auth::Caller;
use crate::domain::EndReason;
use crate::domain::SessionPolicy;
use crate::error::ApiError;
use crate::store::{EpochChange, EpochRefusal, Store};

/// Moves the caller's user to the next credential epoch with the caller's session carried
/// into it (and, for a password change, the new hash in the same transaction): from the moment
/// it commits no other session of the user is usable, idle ones and sign-ins in flight
/// included. Then marks the others ended for the listings; returns how many were active.
/// `raced` is the answer when another change of the user's credentials won.
pub async fn end_other_sessions(
    store: &Store,
    caller: &Caller,
    password: Option<(&str, &str)>,
    reason: EndReason,
    raced: ApiError,
    now: i64,
    policy: &SessionPolicy,
) -> Result<usize, ApiError> {
    let user_id = caller.user.user_id;
    let change = EpochChange {
        password,
        keep: Some(&caller.session.session_id),
        admin: None,
    };
    let from = caller.user.credential_epoch;
    let epoch = match store
        .advance_epoch(user_id, from, change, now, policy)
        .await?
    {
        Ok(epoch) => epoch,
        Err(EpochRefusal::UserChanged | EpochRefusal::CallerNotAdmin) => return Err(raced),
        Err(EpochRefusal::KeptSessionEnded) => {
            return Err(ApiError::Unauthorized {
                detail: "The session has ended; sign in again.",
                code: "session_ended",
            });
        }
    };
    Ok(store
        .end_superseded_sessions(user_id, epoch, user_id, reason, now, policy)
        .await?)
}
