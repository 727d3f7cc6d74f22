//! What the session listings share: query parameters, cursors and the paged response.

use crate::cursor::{Binding, CursorCodec, Position};
use crate::domain::UserId;
use crate::error::ApiError;
use crate::http;
use crate::services::sessions::PageWanted;
use lambda_http::http::{HeaderValue, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};

/// Page size when `limit` is absent.
pub const DEFAULT_LIMIT: usize = 50;
/// Largest page size.
pub const MAX_LIMIT: usize = 100;

/// The validated query of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    /// Page size, 1..=100.
    pub limit: usize,
    /// Whether ended and expired sessions are included.
    pub include_inactive: bool,
    /// Where this page starts (from a cursor).
    pub after: Option<Position>,
    /// What the cursors of this listing are bound to.
    pub binding: Binding,
}

/// Reads one query parameter, refusing repeats (`?limit=1&limit=2`).
fn single<'a>(req: &'a Request, name: &str) -> Result<Option<&'a str>, ApiError> {
    let Some(params) = req.query_string_parameters_ref() else {
        return Ok(None);
    };
    match params.all(name).as_deref() {
        None | Some([]) => Ok(None),
        Some([one]) => Ok(Some(one)),
        Some(_) => Err(ApiError::bad_request(
            format!("query parameter '{name}' is given more than once"),
            "invalid_query",
        )),
    }
}

impl ListQuery {
    /// The page this query asks for.
    pub fn wanted(&self) -> PageWanted<'_> {
        PageWanted {
            limit: self.limit,
            include_inactive: self.include_inactive,
            after: self.after.as_ref(),
        }
    }

    /// Parses `limit`, `include_inactive` and `cursor` for a listing of `user_id` in `scope`.
    pub fn parse(
        req: &Request,
        scope: &str,
        user_id: UserId,
        cursors: &CursorCodec,
    ) -> Result<Self, ApiError> {
        let limit = match single(req, "limit")? {
            None => DEFAULT_LIMIT,
            Some(raw) => match raw.parse::<usize>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) && !raw.starts_with('+') => n,
                _ => {
                    return Err(ApiError::bad_request(
                        format!("limit must be an integer from 1 to {MAX_LIMIT}"),
                        "invalid_limit",
                    ));
                }
            },
        };
        let include_inactive = match single(req, "include_inactive")? {
            None | Some("false") => false,
            Some("true") => true,
            Some(_) => {
                return Err(ApiError::bad_request(
                    "include_inactive must be true or false",
                    "invalid_include_inactive",
                ));
            }
        };
        let binding = Binding {
            scope: scope.to_owned(),
            user_id,
            include_inactive,
        };
        let after = match single(req, "cursor")? {
            None => None,
            Some(raw) => Some(cursors.decode(raw, &binding).map_err(|e| {
                ApiError::bad_request(format!("invalid cursor: {e}"), "invalid_cursor")
            })?),
        };
        Ok(Self {
            limit,
            include_inactive,
            after,
            binding,
        })
    }

    /// Parses `limit` and `cursor` for a listing of `user_id`'s activity history in `scope`
    /// (`include_inactive` is the session listings' alone: 400 here).
    pub fn parse_history(
        req: &Request,
        scope: &str,
        user_id: UserId,
        cursors: &CursorCodec,
    ) -> Result<Self, ApiError> {
        if single(req, "include_inactive")?.is_some() {
            return Err(ApiError::bad_request(
                "include_inactive applies to session listings only",
                "invalid_query",
            ));
        }
        Self::parse(req, scope, user_id, cursors)
    }

    /// Where the history page after this one starts, if any.
    pub fn after_entry(&self) -> Option<&str> {
        self.after.as_ref().map(|p| p.session_id.as_str())
    }

    /// The 200 response: the body is a plain JSON array; the next page's cursor travels in
    /// `X-Next-Cursor` and `Link: <...>; rel="next"`.
    pub fn respond<T: serde::Serialize>(
        &self,
        req: &Request,
        items: &[T],
        next: Option<&Position>,
        cursors: &CursorCodec,
    ) -> Result<Response<Body>, ApiError> {
        let mut response = http::json(StatusCode::OK, &items)?;
        if let Some(next) = next {
            let cursor = cursors.encode(&self.binding, next);
            let mut link = format!(
                "<{}?limit={}&cursor={cursor}",
                http::request_path(req),
                self.limit
            );
            if self.include_inactive {
                link.push_str("&include_inactive=true");
            }
            link.push_str(">; rel=\"next\"");
            let h = response.headers_mut();
            h.insert(
                "x-next-cursor",
                HeaderValue::from_str(&cursor).map_err(ApiError::internal)?,
            );
            h.insert(
                "link",
                HeaderValue::from_str(&link).map_err(ApiError::internal)?,
            );
        }
        Ok(response)
    }
}
