//! Reading a request: its body, headers, path and where it came from.

use crate::domain::Location;
use crate::domain::{SessionId, UserId};
use crate::error::ApiError;
use lambda_http::http::Method;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt};
use serde::de::DeserializeOwned;

/// Largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// Parses the JSON body: 413 over [`MAX_BODY_BYTES`], 400 when missing, not JSON, or not the
/// expected shape (unknown fields included, where the type refuses them).
pub fn json_body<T: DeserializeOwned>(req: &Request) -> Result<T, ApiError> {
    let bytes: &[u8] = match req.body() {
        Body::Empty => &[],
        Body::Text(t) => t.as_bytes(),
        Body::Binary(b) => b,
        _ => &[],
    };
    if bytes.len() > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge {
            limit: MAX_BODY_BYTES,
        });
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(
            "a JSON body is required",
            "invalid_body",
        ));
    }
    serde_json::from_slice(bytes).map_err(|e| {
        let what = match e.classify() {
            serde_json::error::Category::Data => "has wrong or missing fields",
            _ => "is not valid JSON",
        };
        ApiError::bad_request(
            format!(
                "the request body {what} (line {}, column {})",
                e.line(),
                e.column()
            ),
            "invalid_body",
        )
    })
}

/// The User-Agent header, or empty.
pub fn user_agent(req: &Request) -> &str {
    req.headers()
        .get(lambda_http::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

/// A path parameter, or empty.
pub fn path_param<'a>(req: &'a Request, name: &str) -> &'a str {
    req.path_parameters_ref()
        .and_then(|p| p.first(name))
        .unwrap_or_default()
}

/// The body of a form (`application/x-www-form-urlencoded`, as RFC 7662 sends its token):
/// 413 over [`MAX_BODY_BYTES`], 400 when it is missing, of another type, or not the expected
/// fields.
pub fn form_body<T: DeserializeOwned>(req: &Request) -> Result<T, ApiError> {
    use lambda_http::RequestPayloadExt;
    let size = match req.body() {
        Body::Text(t) => t.len(),
        Body::Binary(b) => b.len(),
        _ => 0,
    };
    if size > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge {
            limit: MAX_BODY_BYTES,
        });
    }
    let form = req
        .headers()
        .get(lambda_http::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
    let wrong = || {
        ApiError::bad_request(
            "an application/x-www-form-urlencoded body with the expected fields is required",
            "invalid_body",
        )
    };
    if !form {
        return Err(wrong());
    }
    req.form_url_encoded::<T>().ok().flatten().ok_or_else(wrong)
}

/// The AWS principal that signed the request, where the route is IAM-authorised (API
/// Gateway's `AWS_IAM` authorizer has checked the SigV4 signature and the caller's
/// `execute-api:Invoke` permission before the function runs): its ARN. `None` for any other
/// request (the local stack has no IAM).
pub fn iam_principal(req: &Request) -> Option<String> {
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx
            .authorizer
            .as_ref()
            .and_then(|a| a.iam.as_ref())
            .and_then(|iam| iam.user_arn.clone()),
        _ => None,
    }
}

/// For the routes only other backends may call: the IAM principal that signed the request
/// ([`iam_principal`]), or `"local"` on the local stack (which has no IAM). In a deployed stack
/// a request without one is 403 `iam_required`: the route is IAM-authorised, so none arrives
/// there unless the template lost its authorizer, and then nothing is answered.
pub fn backend_caller(req: &Request, config: &crate::Config) -> Result<String, ApiError> {
    match (iam_principal(req), config.app_env) {
        (Some(arn), _) => Ok(arn),
        (None, crate::config::AppEnv::Local) => Ok("local".to_owned()),
        (None, crate::config::AppEnv::Deployed) => Err(ApiError::Forbidden {
            detail: "Only other backends, signing their requests with AWS IAM (SigV4), may call \
                     this route.",
            code: "iam_required",
        }),
    }
}

/// The source IP as API Gateway saw it (never a client-sent header).
pub fn source_ip(req: &Request) -> String {
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.http.source_ip.clone(),
        _ => None,
    }
    .unwrap_or_default()
}

/// The client's address, for sessions and audit events: behind the configured CloudFront
/// distribution the viewer's (see [`viewer`]), otherwise API Gateway's source IP, never a
/// header a client can set.
pub fn client_ip(req: &Request, config: &crate::Config) -> String {
    viewer(req, config.origin_verify_secret.as_deref()).ip
}

/// Where a request came from: the address and, behind CloudFront, the location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Viewer {
    /// The client's IP address.
    pub ip: String,
    /// Country (and region and city where known), from CloudFront's viewer headers.
    pub location: Option<Location>,
}

/// The value of a header sent exactly once, as text.
fn single_header<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    let mut values = req.headers().get_all(name).iter();
    match (values.next(), values.next()) {
        (Some(v), None) => std::str::from_utf8(v.as_bytes()).ok(),
        _ => None,
    }
}

/// Whether the request carries CloudFront's origin secret (compared in constant time).
pub(super) fn through_cloudfront(req: &Request, secret: Option<&str>) -> bool {
    let (Some(secret), Some(sent)) = (secret, single_header(req, "x-origin-verify")) else {
        return false;
    };
    subtle::ConstantTimeEq::ct_eq(sent.as_bytes(), secret.as_bytes()).into()
}

/// The address and location of the client. `CloudFront-Viewer-*` headers are believed only
/// on requests that carry the origin secret CloudFront adds (`X-Origin-Verify`): anyone can
/// send those headers on a direct call. Without them the address is API Gateway's source IP
/// and there is no location: never a guess.
pub fn viewer(req: &Request, origin_verify_secret: Option<&str>) -> Viewer {
    if !through_cloudfront(req, origin_verify_secret) {
        return Viewer {
            ip: source_ip(req),
            location: None,
        };
    }
    // `198.51.100.10:46532` or `2001:db8::1:46532`: the address, then the source port.
    let ip = single_header(req, "cloudfront-viewer-address")
        .and_then(|v| v.rsplit_once(':'))
        .and_then(|(ip, _port)| ip.trim_matches(['[', ']']).parse::<std::net::IpAddr>().ok())
        .map(|ip| ip.to_string())
        .unwrap_or_else(|| source_ip(req));
    let country = single_header(req, "cloudfront-viewer-country")
        .filter(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase()));
    let location = country.map(|country| Location {
        country: country.to_owned(),
        region: single_header(req, "cloudfront-viewer-country-region")
            .filter(|r| (1..=3).contains(&r.len()) && r.bytes().all(|b| b.is_ascii_alphanumeric()))
            .map(str::to_owned),
        city: crate::domain::text::clean(
            single_header(req, "cloudfront-viewer-city"),
            MAX_CITY_CHARS,
        ),
        latitude: coordinate(single_header(req, "cloudfront-viewer-latitude"), 90.0),
        longitude: coordinate(single_header(req, "cloudfront-viewer-longitude"), 180.0),
    });
    Viewer { ip, location }
}

/// A coordinate header (`47.60620`, `-122.33210`) kept as sent when it is a number within
/// `±limit` degrees, else none.
fn coordinate(value: Option<&str>, limit: f64) -> Option<String> {
    let value = value?;
    let short = value.len() <= 12
        && value
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-');
    let degrees: f64 = value.parse().ok().filter(|_| short)?;
    (degrees.abs() <= limit).then(|| value.to_owned())
}

/// Longest city name kept.
const MAX_CITY_CHARS: usize = 64;

/// The path of the request as the client sent it (for `Link` headers).
pub fn request_path(req: &Request) -> String {
    let raw = req.raw_http_path();
    if raw.is_empty() {
        req.uri().path().to_owned()
    } else {
        raw.to_owned()
    }
}

/// 405 unless the request has the route's method.
pub fn expect_method(req: &Request, method: Method) -> Result<(), ApiError> {
    if req.method() == method {
        Ok(())
    } else {
        Err(ApiError::MethodNotAllowed)
    }
}

/// The `{user_id}` path parameter: a positive integer below 2^53, else 400 `invalid_user_id`.
pub fn user_id_param(req: &Request) -> Result<UserId, ApiError> {
    UserId::parse(path_param(req, "user_id")).ok_or_else(|| {
        ApiError::bad_request(
            "user_id must be a positive integer below 2^53",
            "invalid_user_id",
        )
    })
}

/// The `{user_id}` of an admin route: a positive integer below 2^53 and not the caller's own
/// (admins use the self-service routes for themselves).
pub fn target_user_id(
    req: &Request,
    caller: UserId,
    own_hint: &'static str,
) -> Result<UserId, ApiError> {
    let user_id = user_id_param(req)?;
    if user_id == caller {
        return Err(ApiError::bad_request(own_hint, "own_user_id"));
    }
    Ok(user_id)
}

/// The `{session_id}` path parameter: 404 `session_not_found` when it cannot be an id this
/// service issued (no read needed to know there is no such session). Routes that answer 401
/// or 403 first hand the result on as it is, for the service to answer in that order.
pub fn session_id_param(req: &Request) -> Result<SessionId, ApiError> {
    SessionId::parse(path_param(req, "session_id")).ok_or_else(ApiError::session_not_found)
}
