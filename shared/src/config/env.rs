//! Reading the environment, typed: every setting is read through [`Env`], and every integer
//! setting has its default and bounds in [`INT_SETTINGS`].

use crate::error::StartupError;
use std::time::Duration;

const DAY: u64 = 86_400;

/// An integer setting: its environment variable, default and bounds. `template.yaml`'s
/// parameters for these carry the same default and bounds (checked by `template.rs`), so a
/// deploy never succeeds with a value every function then refuses at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntSetting {
    /// The environment variable.
    pub name: &'static str,
    /// Its value when unset.
    pub default: u64,
    /// Smallest value accepted.
    pub min: u64,
    /// Largest value accepted.
    pub max: u64,
}

const fn int(name: &'static str, default: u64, min: u64, max: u64) -> IntSetting {
    IntSetting {
        name,
        default,
        min,
        max,
    }
}

/// Every integer setting.
pub const INT_SETTINGS: &[IntSetting] = &[
    int("DYNAMODB_CONNECT_TIMEOUT_MS", 300, 1, 60_000),
    int("DYNAMODB_ATTEMPT_TIMEOUT_MS", 700, 1, 60_000),
    int("DYNAMODB_OPERATION_TIMEOUT_MS", 1_600, 1, 60_000),
    int("DYNAMODB_MAX_ATTEMPTS", 2, 1, 10),
    int("ACCESS_TOKEN_TTL_SECONDS", 900, 60, 3600),
    int("TOKEN_LEEWAY_SECONDS", 30, 0, 300),
    int("SESSION_IDLE_TIMEOUT_SECONDS", 7 * DAY, 60, 365 * DAY),
    int("SESSION_ABSOLUTE_LIFETIME_SECONDS", 30 * DAY, 60, 730 * DAY),
    int("SESSION_RETENTION_SECONDS", 30 * DAY, 0, 730 * DAY),
    int("REFRESH_REUSE_GRACE_SECONDS", 10, 0, 300),
    int("LOGIN_MAX_FAILURES", 5, 1, 100),
    int("ACTIVITY_RETENTION_DAYS", 90, 1, 3650),
    int("LOGIN_MAX_FAILURES_PER_ACCOUNT", 50, 1, 100_000),
    int("LOGIN_FAILURE_WINDOW_SECONDS", 900, 10, DAY),
    int("PASSWORD_HASH_MEMORY_KIB", 9_216, 1024, 1 << 20),
    int("PASSWORD_HASH_ITERATIONS", 4, 1, 10),
    int("REAUTH_MAX_AGE_SECONDS", 900, 60, DAY),
    int("SESSION_LIMIT", 0, 0, 100),
];

/// The process environment: the one place the library reads it. [`crate::Config`] reads it
/// through [`Env`]; the few settings needed outside the configuration have readers here.
pub fn process_var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The log level setting: `AWS_LAMBDA_LOG_LEVEL` (Lambda's advanced logging controls), else
/// `RUST_LOG`. Read before the configuration, so that a configuration error is logged.
pub fn log_level() -> Option<String> {
    process_var("AWS_LAMBDA_LOG_LEVEL").or_else(|| process_var("RUST_LOG"))
}

/// The environment, read through a lookup (the process environment, or a map in tests). A
/// value that is empty or only whitespace counts as unset.
pub struct Env<F: Fn(&str) -> Option<String>>(F);

impl<F: Fn(&str) -> Option<String>> Env<F> {
    /// The environment behind `lookup`.
    pub fn new(lookup: F) -> Self {
        Self(lookup)
    }

    /// A text setting, if set.
    pub fn text(&self, name: &str) -> Option<String> {
        (self.0)(name).filter(|v| !v.trim().is_empty())
    }

    /// A text setting that must be set.
    pub fn required(&self, name: &'static str) -> Result<String, StartupError> {
        self.text(name).ok_or(StartupError::Missing(name))
    }

    /// A text setting, or `default`.
    pub fn text_or(&self, name: &str, default: &str) -> String {
        self.text(name).unwrap_or_else(|| default.to_owned())
    }

    /// The integer setting `name` of [`INT_SETTINGS`], with its default and bounds.
    pub fn number(&self, name: &'static str) -> Result<u64, StartupError> {
        let Some(setting) = INT_SETTINGS.iter().find(|s| s.name == name) else {
            return Err(StartupError::Invalid {
                name,
                reason: "not a known integer setting".to_owned(),
            });
        };
        let Some(raw) = self.text(name) else {
            return Ok(setting.default);
        };
        let (min, max) = (setting.min, setting.max);
        match raw.trim().parse::<u64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(n),
            _ => Err(StartupError::Invalid {
                name,
                reason: format!("expected an integer from {min} to {max}"),
            }),
        }
    }

    /// An integer setting in milliseconds.
    pub fn millis(&self, name: &'static str) -> Result<Duration, StartupError> {
        Ok(Duration::from_millis(self.number(name)?))
    }

    /// A `true`/`false` setting, or `default`.
    pub fn boolean(&self, name: &'static str, default: bool) -> Result<bool, StartupError> {
        self.choice(name, &[("true", true), ("false", false)], default)
    }

    /// One of a few named values, or `default` when unset.
    pub fn choice<T: Copy>(
        &self,
        name: &'static str,
        options: &[(&str, T)],
        default: T,
    ) -> Result<T, StartupError> {
        let Some(raw) = self.text(name) else {
            return Ok(default);
        };
        options
            .iter()
            .find(|(label, _)| *label == raw)
            .map(|(_, value)| *value)
            .ok_or_else(|| StartupError::Invalid {
                name,
                reason: format!(
                    "expected {}",
                    options
                        .iter()
                        .map(|(l, _)| *l)
                        .collect::<Vec<_>>()
                        .join(" or ")
                ),
            })
    }

    /// A comma-separated list, each item trimmed (and without a trailing `/`), empty ones
    /// dropped.
    pub fn origins(&self, name: &str) -> Vec<String> {
        self.text(name)
            .map(|v| {
                v.split(',')
                    .map(|o| o.trim().trim_end_matches('/').to_owned())
                    .filter(|o| !o.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    }
}
