//! One handler per route. Each reads like its route's story: authenticate, authorise,
//! validate, read or write, shape the response.

pub mod admin_revoke_session;
pub mod admin_revoke_user_sessions;
pub mod change_password;
pub mod get_user_sessions;
pub mod jwks;
pub mod list_my_sessions;
pub mod listing;
pub mod login;
pub mod logout;
pub mod reauthenticate;
pub mod refresh;
pub mod register;
pub mod rename_session;
pub mod revoke_my_session;
pub mod revoke_other_sessions;
pub mod update_user;

use crate::domain::ids::parse_user_id;
use crate::error::ApiError;
use crate::http::path_param;
use lambda_http::Request;
use lambda_http::http::Method;
use serde::Serialize;

/// 405 unless the request has the route's method.
pub(crate) fn expect_method(req: &Request, method: Method) -> Result<(), ApiError> {
    if req.method() == method {
        Ok(())
    } else {
        Err(ApiError::MethodNotAllowed)
    }
}

/// The `{user_id}` of an admin route: a positive integer below 2^53 and not the caller's own
/// (admins use the self-service routes for themselves).
pub(crate) fn target_user_id(
    req: &Request,
    caller: u64,
    own_hint: &'static str,
) -> Result<u64, ApiError> {
    let user_id = parse_user_id(path_param(req, "user_id")).ok_or_else(|| {
        ApiError::bad_request(
            "user_id must be a positive integer below 2^53",
            "invalid_user_id",
        )
    })?;
    if user_id == caller {
        return Err(ApiError::bad_request(own_hint, "own_user_id"));
    }
    Ok(user_id)
}

/// `{"revoked": n}`: how many sessions a bulk end ended.
#[derive(Debug, Serialize)]
pub struct Revoked {
    /// Sessions ended by this request.
    pub revoked: usize,
}

/// The 404 for a session that is not the caller's (or does not exist).
pub(crate) fn session_not_found() -> ApiError {
    ApiError::NotFound {
        detail: "Session not found.",
        code: "session_not_found",
    }
}

/// The 403 for an administrator who lost their rights while the request ran (demoted or
/// disabled by another admin at the same moment).
pub(crate) fn no_longer_admin() -> ApiError {
    ApiError::Forbidden {
        detail: "Administrator role required.",
        code: "admin_required",
    }
}
