//! The errors, in one place: [`ApiError`] (every request's, mapped here to status +
//! `{"detail", "code"}`), [`StoreError`] (DynamoDB's, which the API answers 503 or 500) and
//! [`StartupError`] (a function that cannot start).

use crate::domain::limits::PlanError;
use crate::domain::throttle::Throttled;
use lambda_http::http::StatusCode;

/// A boxed cause.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A failed store operation.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Unreachable, timed out, throttled or a DynamoDB-side failure: worth a retry later (503).
    #[error("DynamoDB {operation} failed transiently")]
    Transient {
        /// The DynamoDB operation.
        operation: &'static str,
        /// The SDK error.
        #[source]
        source: BoxError,
    },
    /// A failure that retrying will not fix (500).
    #[error("DynamoDB {operation} failed")]
    Failed {
        /// The DynamoDB operation.
        operation: &'static str,
        /// The SDK error.
        #[source]
        source: BoxError,
    },
    /// A stored item does not match the model (500).
    #[error("a stored item does not match the model")]
    Corrupt(#[source] BoxError),
    /// A conditional write found the item already there (for a new user: the email).
    #[error("the item already exists")]
    AlreadyExists,
    /// A new user's id is already taken.
    #[error("the user id is already taken")]
    IdTaken,
}

impl From<serde_dynamo::Error> for StoreError {
    fn from(e: serde_dynamo::Error) -> Self {
        StoreError::Corrupt(Box::new(e))
    }
}

impl StoreError {
    /// Whether a retry later may succeed (answered with 503 + `Retry-After`).
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Transient { .. })
    }
}

/// Everything a handler can fail with. Each variant maps to exactly one status in
/// [`ApiError::status`]; client errors carry the message the client sees, server errors carry
/// their cause for the log and show the client a generic message.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 401: no credentials, bad credentials, or an ended session.
    #[error("{detail}")]
    Unauthorized {
        /// Human message.
        detail: &'static str,
        /// Machine code.
        code: &'static str,
    },
    /// 403: authenticated, but not allowed.
    #[error("{detail}")]
    Forbidden {
        /// Human message.
        detail: &'static str,
        /// Machine code.
        code: &'static str,
    },
    /// 400: the request itself is wrong.
    #[error("{detail}")]
    BadRequest {
        /// Human message.
        detail: String,
        /// Machine code.
        code: &'static str,
    },
    /// 404: the thing named in the path does not exist (or is not the caller's to see).
    #[error("{detail}")]
    NotFound {
        /// Human message.
        detail: &'static str,
        /// Machine code.
        code: &'static str,
    },
    /// 409: the request conflicts with the current state.
    #[error("{detail}")]
    Conflict {
        /// Human message.
        detail: &'static str,
        /// Machine code.
        code: &'static str,
    },
    /// 410: what the request carries worked once and no longer does (a used or expired link).
    #[error("{detail}")]
    Gone {
        /// Human message.
        detail: &'static str,
        /// Machine code.
        code: &'static str,
    },
    /// 405: the route exists, the method does not.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 413: the body is over the limit.
    #[error("the request body is larger than {limit} bytes")]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// 429: too many attempts; retry after the given seconds.
    #[error("too many attempts; retry later")]
    TooManyRequests {
        /// Seconds until a retry may succeed.
        retry_after_seconds: u64,
    },
    /// 503: a dependency is unreachable, slow or throttling; the client may retry.
    #[error("the session store is unavailable")]
    Unavailable(#[source] StoreError),
    /// 500: anything unexpected. The cause is logged, never returned.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ApiError {
    /// A 400 with a message built at run time.
    pub fn bad_request(detail: impl Into<String>, code: &'static str) -> Self {
        Self::BadRequest {
            detail: detail.into(),
            code,
        }
    }

    /// A 500 from any error value.
    pub fn internal(err: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Internal(err.into())
    }

    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            Self::Forbidden { .. } => StatusCode::FORBIDDEN,
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::NotFound { .. } => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::Gone { .. } => StatusCode::GONE,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The machine-readable `code` of the error body.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthorized { code, .. }
            | Self::Forbidden { code, .. }
            | Self::BadRequest { code, .. }
            | Self::NotFound { code, .. }
            | Self::Conflict { code, .. }
            | Self::Gone { code, .. } => code,
            Self::MethodNotAllowed => "method_not_allowed",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::TooManyRequests { .. } => "too_many_attempts",
            Self::Unavailable(_) => "service_unavailable",
            Self::Internal(_) => "internal_error",
        }
    }

    /// The human `detail` of the error body: the message for client errors, a generic one for
    /// server errors (their causes go to the log only).
    pub fn detail(&self) -> String {
        match self {
            Self::Unavailable(_) => {
                "The service is temporarily unavailable; retry shortly.".to_owned()
            }
            Self::Internal(_) => "Internal server error.".to_owned(),
            other => other.to_string(),
        }
    }

    /// 404: a session that is not the caller's (or does not exist).
    pub fn session_not_found() -> Self {
        Self::NotFound {
            detail: "Session not found.",
            code: "session_not_found",
        }
    }

    /// 403: an administrator who lost their rights while the request ran (demoted or disabled
    /// by another admin at the same moment).
    pub fn no_longer_admin() -> Self {
        Self::Forbidden {
            detail: "Administrator role required.",
            code: "admin_required",
        }
    }

    /// 409: a change to a second factor the account does not have.
    pub fn mfa_not_enrolled() -> Self {
        Self::Conflict {
            detail: "There is no second factor on this account.",
            code: "mfa_not_enrolled",
        }
    }

    /// 404: the user a route names does not exist.
    pub fn user_not_found() -> Self {
        Self::NotFound {
            detail: "User not found.",
            code: "user_not_found",
        }
    }

    /// Whether the error is the server's fault (and so is logged with its cause chain).
    pub fn is_server_error(&self) -> bool {
        self.status().is_server_error()
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        if err.is_transient() {
            Self::Unavailable(err)
        } else {
            Self::Internal(Box::new(err))
        }
    }
}

impl From<PlanError> for ApiError {
    fn from(err: PlanError) -> Self {
        match err {
            PlanError::LimitReached => Self::Conflict {
                detail: "The account has reached its limit of active sessions; end one and sign in again.",
                code: "session_limit_reached",
            },
            PlanError::NoSlotToEvict => Self::internal("no slot to evict from"),
        }
    }
}

impl From<Throttled> for ApiError {
    fn from(t: Throttled) -> Self {
        Self::TooManyRequests {
            retry_after_seconds: t.retry_after_seconds,
        }
    }
}

/// The chain of causes of an error, outermost first, joined for one log field.
pub fn cause_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// Why a function could not start: bad or missing configuration. A function that cannot start
/// fails its cold start loudly instead of serving with unsafe settings.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// A required environment variable is missing.
    #[error("missing environment variable {0}")]
    Missing(&'static str),
    /// An environment variable has a value that cannot be used.
    #[error("invalid value for {name}: {reason}")]
    Invalid {
        /// The variable.
        name: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The DynamoDB clients cannot be set up (no region, an endpoint that is not a URL).
    #[error("the DynamoDB client cannot be set up: {0}")]
    Client(String),
    /// The dev-only signing key was configured outside local development.
    #[error(
        "the dev-only signing key is configured but APP_ENV is not 'local'; a deployed stack refuses it"
    )]
    DevKeyOutsideLocal,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_errors_hide_their_cause() {
        let err = ApiError::internal("table sessions-prod missing attribute");
        assert_eq!(err.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!err.detail().contains("sessions-prod"));
        assert_eq!(err.code(), "internal_error");
    }

    #[test]
    fn client_errors_show_their_message() {
        let err = ApiError::bad_request("limit must be between 1 and 100", "invalid_limit");
        assert_eq!(err.status(), StatusCode::BAD_REQUEST);
        assert_eq!(err.detail(), "limit must be between 1 and 100");
        assert_eq!(err.code(), "invalid_limit");
    }

    #[test]
    fn cause_chain_lists_every_source() {
        let inner = std::io::Error::other("connection refused");
        let outer = ApiError::internal(inner);
        assert_eq!(cause_chain(&outer), "internal error: connection refused");
    }
}
