//! `GET /.well-known/jwks.json`: the public keys that verify access tokens (RFC 7517). During
//! a key rotation it lists several; clients may cache it for five minutes.

use lambda_http::http::{HeaderValue, Method, StatusCode, header::CACHE_CONTROL};
use lambda_http::{Body, Request, Response};
use shared::AppState;
use shared::error::ApiError;
use shared::http::expect_method;
use shared::http::json;

/// Handles one request.
pub async fn handle(state: &AppState, req: Request) -> Result<Response<Body>, ApiError> {
    expect_method(&req, Method::GET)?;
    let mut response = json(StatusCode::OK, &state.config.tokens.public_keys)?;
    response.headers_mut().insert(
        CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    Ok(response)
}

#[cfg(test)]
api_tests::replays_its_events!(handle);
