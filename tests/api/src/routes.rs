//! Every route of the API and the function that serves it, as `template.yaml`, the router
//! configuration and `openapi.yaml` declare them (`shared/tests/template.rs` checks those
//! agree; `every_route_has_its_function` here checks this table against `functions/`).

use lambda_http::{Body, Request, Response};
use shared::{ApiError, AppState};
use std::future::Future;
use std::pin::Pin;

/// A route's handler, callable by name.
pub type Handler =
    for<'a> fn(
        &'a AppState,
        Request,
    ) -> Pin<Box<dyn Future<Output = Result<Response<Body>, ApiError>> + Send + 'a>>;

/// One route.
#[derive(Clone, Copy)]
pub struct Route {
    /// The function (and its folder under `functions/` and `events/`).
    pub function: &'static str,
    /// HTTP method.
    pub method: &'static str,
    /// Path template, as API Gateway routes it.
    pub path: &'static str,
    /// The function's handler.
    pub handler: Handler,
}

macro_rules! route {
    ($function:literal, $method:literal, $path:literal, $krate:ident) => {{
        fn call<'a>(
            state: &'a AppState,
            req: Request,
        ) -> Pin<Box<dyn Future<Output = Result<Response<Body>, ApiError>> + Send + 'a>> {
            Box::pin($krate::handle(state, req))
        }
        Route {
            function: $function,
            method: $method,
            path: $path,
            handler: call,
        }
    }};
}

/// Every route, in the order of the README's table.
pub const ROUTES: [Route; 25] = [
    route!(
        "get-user-sessions",
        "GET",
        "/sessions/user/{user_id}",
        get_user_sessions
    ),
    route!(
        "admin-revoke-session",
        "DELETE",
        "/sessions/user/{user_id}/{session_id}",
        admin_revoke_session
    ),
    route!(
        "admin-revoke-user-sessions",
        "DELETE",
        "/sessions/user/{user_id}",
        admin_revoke_user_sessions
    ),
    route!("update-user", "PATCH", "/users/{user_id}", update_user),
    route!(
        "get-user-activity",
        "GET",
        "/users/{user_id}/activity",
        get_user_activity
    ),
    route!("register", "POST", "/auth/register", register),
    route!("login", "POST", "/auth/login", login),
    route!("login-mfa", "POST", "/auth/mfa", login_mfa),
    route!("refresh", "POST", "/auth/refresh", refresh),
    route!("report-sign-in", "POST", "/auth/not-me", report_sign_in),
    route!("logout", "POST", "/auth/logout", logout),
    route!("change-password", "POST", "/auth/password", change_password),
    route!(
        "reauthenticate",
        "POST",
        "/auth/reauthenticate",
        reauthenticate
    ),
    route!("list-my-sessions", "GET", "/sessions", list_my_sessions),
    route!(
        "revoke-my-session",
        "DELETE",
        "/sessions/{session_id}",
        revoke_my_session
    ),
    route!(
        "rename-session",
        "PATCH",
        "/sessions/{session_id}",
        rename_session
    ),
    route!(
        "revoke-other-sessions",
        "DELETE",
        "/sessions",
        revoke_other_sessions
    ),
    route!("enrol-totp", "POST", "/me/mfa/totp", enrol_totp),
    route!("confirm-totp", "POST", "/me/mfa/totp/confirm", confirm_totp),
    route!("remove-totp", "DELETE", "/me/mfa/totp", remove_totp),
    route!(
        "regenerate-recovery-codes",
        "POST",
        "/me/mfa/recovery-codes",
        regenerate_recovery_codes
    ),
    route!(
        "get-current-session",
        "GET",
        "/sessions/current",
        get_current_session
    ),
    route!("introspect", "POST", "/auth/introspect", introspect),
    route!("list-my-activity", "GET", "/me/activity", list_my_activity),
    route!("jwks", "GET", "/.well-known/jwks.json", jwks),
];

/// The route a function serves.
pub fn route(function: &str) -> Option<&'static Route> {
    ROUTES.iter().find(|r| r.function == function)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_has_its_function() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../functions");
        // The publisher reads the tables' streams: no route.
        let mut functions: Vec<String> = std::fs::read_dir(root)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|f| f != "publish-events")
            .collect();
        functions.sort();
        let mut routed: Vec<&str> = ROUTES.iter().map(|r| r.function).collect();
        routed.sort();
        assert_eq!(functions, routed);
    }
}
