//! Responses: JSON with the headers every answer carries, errors as `{"detail", "code"}`.

use crate::error::ApiError;
use lambda_http::http::header::{CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use lambda_http::http::{HeaderValue, StatusCode};
use lambda_http::{Body, Response};
use serde::Serialize;

/// Headers the API exposes to browsers (paging).
pub const EXPOSED_HEADERS: &str = "X-Next-Cursor, Link";

/// A JSON response with the headers every API response carries.
pub fn json<T: Serialize>(status: StatusCode, body: &T) -> Result<Response<Body>, ApiError> {
    let text = serde_json::to_string(body).map_err(ApiError::internal)?;
    let mut response = Response::new(Body::Text(text));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(response)
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    detail: String,
    code: &'a str,
}

/// The response for an error: its status, `{"detail", "code"}`, `WWW-Authenticate` on a 401
/// and `Retry-After` on a 503.
pub fn error_response(err: &ApiError, retry_after_seconds: u32) -> Response<Body> {
    let body = ErrorBody {
        detail: err.detail(),
        code: err.code(),
    };
    let text = serde_json::to_string(&body).unwrap_or_else(|_| {
        r#"{"detail":"Internal server error.","code":"internal_error"}"#.into()
    });
    let mut response = Response::new(Body::Text(text));
    *response.status_mut() = err.status();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    match err {
        ApiError::Unauthorized { code, .. } => {
            let value = if *code == "not_authenticated" {
                HeaderValue::from_static("Bearer")
            } else if *code == "reauthentication_required" || *code == "second_factor_required" {
                // RFC 9470: the token is fine, the sign-in behind it is too old or too weak.
                HeaderValue::from_static("Bearer error=\"insufficient_user_authentication\"")
            } else {
                HeaderValue::from_static("Bearer error=\"invalid_token\"")
            };
            headers.insert(WWW_AUTHENTICATE, value);
        }
        ApiError::Unavailable(_) => {
            headers.insert(RETRY_AFTER, HeaderValue::from(retry_after_seconds));
        }
        ApiError::TooManyRequests {
            retry_after_seconds,
        } => {
            headers.insert(RETRY_AFTER, HeaderValue::from(*retry_after_seconds));
        }
        _ => {}
    }
    response
}

/// An empty response with a status (e.g. 204).
pub fn empty(status: StatusCode) -> Response<Body> {
    let mut response = Response::new(Body::Empty);
    *response.status_mut() = status;
    response
}

/// `{"revoked": n}`: how many sessions a bulk end ended.
#[derive(Debug, Serialize)]
pub struct Revoked {
    /// Sessions ended by this request.
    pub revoked: usize,
}
