//! Metrics of our own: one CloudWatch embedded-metric-format (EMF) line on standard output per
//! event, which CloudWatch Logs turns into a metric. No API call, nothing added to a request's
//! latency. The namespace comes from `METRICS_NAMESPACE` (the stack sets
//! `DeviceSessions/<stack name>`), given to [`init`] when a function builds its state; without
//! it (tests, the local stack) nothing is written.
//!
//! | metric | dimension | when |
//! |---|---|---|
//! | `SignIns` | | a session was created |
//! | `SignInFailures` | | a wrong password or unknown email at sign-in |
//! | `Throttled` | | a password attempt refused with 429 (sign-in, re-authentication, password change) |
//! | `Refreshes` | | a refresh token was rotated |
//! | `TheftDetected` | | a rotated-out refresh token came back: its session was ended |
//! | `SessionsEnded` | `Reason` | sessions ended, by reason |
//! | `ServiceUnavailable` | | a request answered 503 (DynamoDB unreachable, slow or throttling) |
//! | `ServerErrors` | | a request answered 500 |
//! | `EventRecordsSkipped` | | the event publisher could not read a stream record and skipped it |
//! | `AlertsSent` | | a new-sign-in alert was sent |
//! | `AlertsFailed` | | a new-sign-in alert could not be decided or sent (logged with its cause) |

use crate::domain::EndReason;
use std::sync::OnceLock;

/// The names of every metric the service writes.
pub const NAMES: &[&str] = &[
    "SignIns",
    "SignInFailures",
    "Throttled",
    "Refreshes",
    "TheftDetected",
    "SessionsEnded",
    "ServiceUnavailable",
    "ServerErrors",
    "EventRecordsSkipped",
    "AlertsSent",
    "AlertsFailed",
];

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// A session was created.
    SignIn,
    /// A sign-in failed on its password or email.
    SignInFailure,
    /// A password attempt was throttled.
    Throttled,
    /// A refresh token was rotated.
    Refresh,
    /// A replayed refresh token ended its session.
    TheftDetected,
    /// Sessions ended, this many, for this reason.
    SessionsEnded(EndReason, usize),
    /// A request answered 503.
    ServiceUnavailable,
    /// A request answered 500.
    ServerError,
    /// The event publisher skipped a stream record it could not read.
    EventRecordSkipped,
    /// A new-sign-in alert was sent.
    AlertSent,
    /// A new-sign-in alert could not be decided or sent.
    AlertFailed,
}

impl Metric {
    fn name_value_reason(self) -> (&'static str, usize, Option<EndReason>) {
        match self {
            Self::SignIn => ("SignIns", 1, None),
            Self::SignInFailure => ("SignInFailures", 1, None),
            Self::Throttled => ("Throttled", 1, None),
            Self::Refresh => ("Refreshes", 1, None),
            Self::TheftDetected => ("TheftDetected", 1, None),
            Self::SessionsEnded(reason, n) => ("SessionsEnded", n, Some(reason)),
            Self::ServiceUnavailable => ("ServiceUnavailable", 1, None),
            Self::ServerError => ("ServerErrors", 1, None),
            Self::EventRecordSkipped => ("EventRecordsSkipped", 1, None),
            Self::AlertSent => ("AlertsSent", 1, None),
            Self::AlertFailed => ("AlertsFailed", 1, None),
        }
    }
}

/// The EMF line for `metric` in `namespace` at `timestamp_ms`.
pub fn line(namespace: &str, metric: Metric, timestamp_ms: i64) -> String {
    let (name, value, reason) = metric.name_value_reason();
    let dimensions: Vec<Vec<&str>> = match reason {
        Some(_) => vec![vec!["Reason"]],
        None => vec![vec![]],
    };
    let mut doc = serde_json::json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": namespace,
                "Dimensions": dimensions,
                "Metrics": [{"Name": name, "Unit": "Count"}],
            }],
        },
        name: value,
    });
    if let Some(reason) = reason {
        doc["Reason"] = serde_json::Value::from(reason.as_str());
    }
    doc.to_string()
}

/// The namespace of this process's metrics, set once per cold start.
static NAMESPACE: OnceLock<Option<String>> = OnceLock::new();

/// Sets the namespace once per process (a function builds one state per cold start; later
/// calls change nothing). `None` switches metrics off.
pub fn init(namespace: Option<String>) {
    let _ = NAMESPACE.set(namespace.filter(|n| !n.trim().is_empty()));
}

/// The namespace; `None` (metrics off) until [`init`] gives one.
fn namespace() -> Option<&'static str> {
    NAMESPACE.get().and_then(|n| n.as_deref())
}

/// Writes `metric` (nothing when metrics are off, or for a count of zero).
pub fn emit(metric: Metric) {
    if let Metric::SessionsEnded(_, 0) = metric {
        return;
    }
    if let Some(namespace) = namespace() {
        let now = chrono::Utc::now().timestamp_millis();
        println!("{}", line(namespace, metric, now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn every_metric_has_a_listed_name() {
        for m in [
            Metric::SignIn,
            Metric::SignInFailure,
            Metric::Throttled,
            Metric::Refresh,
            Metric::TheftDetected,
            Metric::SessionsEnded(EndReason::Logout, 1),
            Metric::ServiceUnavailable,
            Metric::ServerError,
            Metric::EventRecordSkipped,
            Metric::AlertSent,
            Metric::AlertFailed,
        ] {
            assert!(NAMES.contains(&m.name_value_reason().0), "{m:?}");
        }
    }

    #[test]
    fn lines_are_embedded_metric_format() {
        let v: Value = serde_json::from_str(&line(
            "DeviceSessions/prod",
            Metric::TheftDetected,
            1_700_000_000_000,
        ))
        .unwrap();
        let def = &v["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(v["_aws"]["Timestamp"], 1_700_000_000_000_i64);
        assert_eq!(def["Namespace"], "DeviceSessions/prod");
        assert_eq!(def["Dimensions"], serde_json::json!([[]]));
        assert_eq!(def["Metrics"][0]["Name"], "TheftDetected");
        assert_eq!(def["Metrics"][0]["Unit"], "Count");
        assert_eq!(v["TheftDetected"], 1);

        let v: Value = serde_json::from_str(&line(
            "ns",
            Metric::SessionsEnded(EndReason::PasswordChanged, 3),
            0,
        ))
        .unwrap();
        assert_eq!(
            v["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            serde_json::json!([["Reason"]])
        );
        assert_eq!(v["Reason"], "password_changed");
        assert_eq!(v["SessionsEnded"], 3);
    }
}
