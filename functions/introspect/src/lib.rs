//! `POST /auth/introspect`: other backends ask whether an access token is alive now (RFC 7662),
//! so a session ended here stops working there within one request, not when its token
//! expires. The request is a form (`token=<access token>`; `token_type_hint` and other fields
//! are ignored); the answer is `{"active": true, "sub", "sid", "exp", "iat", "auth_time",
//! "aal", "amr", "role", ...}` or `{"active": false}` alone, whatever made it inactive (a bad
//! signature, expiry, an ended or idle session, a disabled user, a refresh token). Only other
//! backends may call it: the route is IAM-authorised (SigV4 and `execute-api:Invoke` on it),
//! and a deployed function refuses a request without an IAM principal (403 `iam_required`).
//! See [`shared::services::introspection`].

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use shared::AppState;
use shared::domain::time::now_epoch;
use shared::error::ApiError;
use shared::http::{backend_caller, expect_method, form_body, json};
use shared::services::introspection;

/// RFC 7662 §2.1's request; other parameters (`token_type_hint`) are ignored.
#[derive(Deserialize)]
struct IntrospectionRequest {
    token: String,
}

/// Handles one request.
pub async fn handle(state: &AppState, req: Request) -> Result<Response<Body>, ApiError> {
    expect_method(&req, Method::POST)?;
    backend_caller(&req, &state.config)?;
    let form: IntrospectionRequest = form_body(&req)?;
    let answer = introspection::introspect(state, &form.token, now_epoch()).await?;
    json(StatusCode::OK, &answer)
}

#[cfg(test)]
api_tests::replays_its_events!(handle);
