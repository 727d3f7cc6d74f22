//! Configuration, read once per cold start from the environment.
//!
//! Every setting is documented in the README's "Configuration" table; the names here and there
//! must agree.

use crate::domain::SessionPolicy;
use crate::domain::limits::SessionLimitAction;
use crate::error::StartupError;
use crate::keys::{JwkSet, dev_signing_key};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use std::time::Duration;

/// Where the code runs. Only `Local` accepts the dev-only key and the dev cursor secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppEnv {
    /// `make dev`, tests.
    Local,
    /// A deployed stack (anything but `APP_ENV=local`).
    Deployed,
}

/// The three table names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableNames {
    /// Sessions: `user_id` (N) + `session_id` (S).
    pub sessions: String,
    /// Users: `user_id` (N).
    pub users: String,
    /// Normalised email → user id.
    pub user_emails: String,
}

/// DynamoDB client settings, tuned so a failing store surfaces as a quick 503, not a 30 s hang.
#[derive(Debug, Clone)]
pub struct DynamoConfig {
    /// Endpoint override (local Dynoxide); `None` on AWS.
    pub endpoint: Option<String>,
    /// TCP/TLS connect timeout per attempt.
    pub connect_timeout: Duration,
    /// Timeout of one attempt, including reading the response.
    pub attempt_timeout: Duration,
    /// Timeout of the whole operation, retries included.
    pub operation_timeout: Duration,
    /// Attempts per operation (1 = no retry).
    pub max_attempts: u32,
    /// Which root certificates the HTTPS client trusts.
    pub tls_roots: TlsRoots,
}

/// The root certificates the AWS clients trust (`TLS_ROOTS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsRoots {
    /// Amazon Trust Services' roots, compiled in: what every AWS endpoint chains to, and
    /// nothing to read at cold start.
    Amazon,
    /// The system's store (`/etc/ssl/certs`, `SSL_CERT_FILE`), read at cold start: for a
    /// network that inspects TLS with its own CA.
    System,
}

/// Access-token verification settings.
#[derive(Debug, Clone)]
pub struct TokenConfig {
    /// Expected `iss`.
    pub issuer: String,
    /// Expected `aud`.
    pub audience: String,
    /// Public keys that verify (several during a key rotation).
    pub public_keys: JwkSet,
    /// Clock skew allowed on `exp`/`nbf`, in seconds.
    pub leeway_seconds: u64,
    /// Longest access-token lifetime issued (`ACCESS_TOKEN_TTL_SECONDS`): a token whose
    /// `exp - iat` exceeds it (plus the leeway) is refused.
    pub max_lifetime_seconds: i64,
}

/// Everything a function needs to know about its environment.
#[derive(Debug, Clone)]
pub struct Config {
    /// Local or deployed.
    pub app_env: AppEnv,
    /// Table names.
    pub tables: TableNames,
    /// DynamoDB client settings.
    pub dynamodb: DynamoConfig,
    /// Token verification.
    pub tokens: TokenConfig,
    /// Session lifetimes.
    pub sessions: SessionPolicy,
    /// HMAC key for paging cursors (at least 32 bytes): from `CURSOR_SECRET`, or the dev-only
    /// one where `APP_ENV=local`; `None` otherwise, until [`crate::AppState::from_env`] reads
    /// the secret named by `CURSOR_SECRET_ARN`.
    pub cursor_key: Option<Vec<u8>>,
    /// Origins that get CORS headers from the function itself (local stack; on AWS the HttpApi
    /// answers CORS).
    pub cors_allowed_origins: Vec<String>,
    /// `Retry-After` seconds on a 503.
    pub retry_after_seconds: u32,
    /// Sign-up, refresh and sign-in settings.
    pub auth: AuthPolicy,
    /// The value CloudFront sends in `X-Origin-Verify` (an origin custom header). Only requests
    /// carrying it have their `CloudFront-Viewer-*` headers believed; unset, no location is
    /// ever recorded.
    pub origin_verify_secret: Option<String>,
    /// Whether every request must carry CloudFront's origin secret (`ORIGIN_VERIFY_REQUIRED`,
    /// set when the stack puts CloudFront in front): direct calls get 403.
    pub origin_verify_required: bool,
}

/// Settings of the routes that create users, sessions and tokens.
#[derive(Debug, Clone, Copy)]
pub struct AuthPolicy {
    /// Whether `POST /auth/register` is open.
    pub registration_enabled: bool,
    /// Access-token lifetime in seconds (15 minutes by default).
    pub access_token_ttl_seconds: i64,
    /// A rotated-out refresh token reused within this many seconds is refused (409) without
    /// ending the session: two tabs refreshing at once. After it, reuse ends the session.
    pub refresh_reuse_grace_seconds: i64,
    /// Password attempts per email and client network within the window before 429.
    pub login_max_failures: u32,
    /// Password attempts per email, all clients together, within the window before clients on
    /// networks the account has never signed in from get 429 too.
    pub login_max_failures_per_account: u32,
    /// The failed sign-in window in seconds.
    pub login_failure_window_seconds: i64,
    /// argon2id memory in KiB.
    pub password_hash_memory_kib: u32,
    /// argon2id passes.
    pub password_hash_iterations: u32,
    /// Sensitive actions need a password proved in the session within this many seconds.
    pub reauth_max_age_seconds: i64,
    /// Active sessions a user may have at once; 0 = no limit.
    pub session_limit: u32,
    /// What a sign-in at the limit does.
    pub session_limit_action: SessionLimitAction,
}

impl AuthPolicy {
    /// The password throttle's settings.
    pub fn throttle(&self) -> crate::domain::throttle::ThrottlePolicy {
        crate::domain::throttle::ThrottlePolicy {
            per_client: self.login_max_failures,
            per_account: self.login_max_failures_per_account,
            window_seconds: self.login_failure_window_seconds,
        }
    }
}

/// The dev-only cursor secret: used only where `APP_ENV=local` and `CURSOR_SECRET` is unset.
const DEV_ONLY_CURSOR_SECRET: &[u8] = b"dev-only-cursor-secret-not-for-production";

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, StartupError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `get`, so tests can pass a map instead of the environment.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, StartupError> {
        let get = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        let app_env = match get("APP_ENV").as_deref() {
            Some("local") => AppEnv::Local,
            _ => AppEnv::Deployed,
        };
        let required = |name: &'static str| get(name).ok_or(StartupError::Missing(name));

        let tables = TableNames {
            sessions: required("SESSIONS_TABLE")?,
            users: required("USERS_TABLE")?,
            user_emails: required("USER_EMAILS_TABLE")?,
        };

        let millis = |name: &'static str| -> Result<Duration, StartupError> {
            Ok(Duration::from_millis(number(&get, name)?))
        };
        let dynamodb = DynamoConfig {
            endpoint: get("DYNAMODB_ENDPOINT"),
            connect_timeout: millis("DYNAMODB_CONNECT_TIMEOUT_MS")?,
            attempt_timeout: millis("DYNAMODB_ATTEMPT_TIMEOUT_MS")?,
            operation_timeout: millis("DYNAMODB_OPERATION_TIMEOUT_MS")?,
            max_attempts: number(&get, "DYNAMODB_MAX_ATTEMPTS")? as u32,
            tls_roots: match get("TLS_ROOTS").as_deref() {
                None | Some("amazon") => TlsRoots::Amazon,
                Some("system") => TlsRoots::System,
                Some(_) => {
                    return Err(StartupError::Invalid {
                        name: "TLS_ROOTS",
                        reason: "expected amazon or system".to_owned(),
                    });
                }
            },
        };

        let public_keys = match (get("JWT_PUBLIC_KEYS"), app_env) {
            (Some(json), _) => JwkSet::parse(&json).map_err(|reason| StartupError::Invalid {
                name: "JWT_PUBLIC_KEYS",
                reason,
            })?,
            (None, AppEnv::Local) => JwkSet {
                keys: vec![dev_signing_key().public_jwk()],
            },
            (None, AppEnv::Deployed) => return Err(StartupError::Missing("JWT_PUBLIC_KEYS")),
        };
        if app_env == AppEnv::Deployed && public_keys.contains_dev_key() {
            return Err(StartupError::DevKeyOutsideLocal);
        }
        let access_token_ttl_seconds = number(&get, "ACCESS_TOKEN_TTL_SECONDS")? as i64;
        let tokens = TokenConfig {
            issuer: get("TOKEN_ISSUER").unwrap_or_else(|| "device-sessions-api".to_owned()),
            audience: get("TOKEN_AUDIENCE").unwrap_or_else(|| "device-sessions-api".to_owned()),
            public_keys,
            leeway_seconds: number(&get, "TOKEN_LEEWAY_SECONDS")?,
            max_lifetime_seconds: access_token_ttl_seconds,
        };

        let sessions = SessionPolicy {
            idle_timeout_seconds: number(&get, "SESSION_IDLE_TIMEOUT_SECONDS")? as i64,
            absolute_lifetime_seconds: number(&get, "SESSION_ABSOLUTE_LIFETIME_SECONDS")? as i64,
            retention_seconds: number(&get, "SESSION_RETENTION_SECONDS")? as i64,
            activity_write_interval_seconds: 60,
        };

        let cursor_key = match (get("CURSOR_SECRET"), app_env) {
            (Some(b64), _) => Some(cursor_key(&b64, "CURSOR_SECRET")?),
            (None, AppEnv::Local) => Some(DEV_ONLY_CURSOR_SECRET.to_vec()),
            (None, AppEnv::Deployed) => None,
        };

        let cors_allowed_origins = get("CORS_ALLOWED_ORIGINS")
            .map(|v| {
                v.split(',')
                    .map(|o| o.trim().trim_end_matches('/').to_owned())
                    .filter(|o| !o.is_empty())
                    .collect()
            })
            .unwrap_or_default();

        let auth = AuthPolicy {
            registration_enabled: boolean(&get, "REGISTRATION_ENABLED", true)?,
            access_token_ttl_seconds,
            refresh_reuse_grace_seconds: number(&get, "REFRESH_REUSE_GRACE_SECONDS")? as i64,
            login_max_failures: number(&get, "LOGIN_MAX_FAILURES")? as u32,
            login_max_failures_per_account: number(&get, "LOGIN_MAX_FAILURES_PER_ACCOUNT")? as u32,
            login_failure_window_seconds: number(&get, "LOGIN_FAILURE_WINDOW_SECONDS")? as i64,
            password_hash_memory_kib: number(&get, "PASSWORD_HASH_MEMORY_KIB")? as u32,
            password_hash_iterations: number(&get, "PASSWORD_HASH_ITERATIONS")? as u32,
            reauth_max_age_seconds: number(&get, "REAUTH_MAX_AGE_SECONDS")? as i64,
            session_limit: number(&get, "SESSION_LIMIT")? as u32,
            session_limit_action: match get("SESSION_LIMIT_ACTION").as_deref() {
                None | Some("evict") => SessionLimitAction::Evict,
                Some("refuse") => SessionLimitAction::Refuse,
                Some(_) => {
                    return Err(StartupError::Invalid {
                        name: "SESSION_LIMIT_ACTION",
                        reason: "expected evict or refuse".to_owned(),
                    });
                }
            },
        };
        let origin_verify_secret = get("ORIGIN_VERIFY_SECRET")
            .map(|s| origin_secret(s, "ORIGIN_VERIFY_SECRET"))
            .transpose()?;

        Ok(Self {
            auth,
            app_env,
            tables,
            dynamodb,
            tokens,
            sessions,
            cursor_key,
            origin_verify_required: boolean(&get, "ORIGIN_VERIFY_REQUIRED", false)?,
            cors_allowed_origins,
            retry_after_seconds: 1,
            origin_verify_secret,
        })
    }
}

/// A paging-cursor key from its base64 text: at least 32 bytes.
pub fn cursor_key(b64: &str, setting: &'static str) -> Result<Vec<u8>, StartupError> {
    let key = STANDARD
        .decode(b64.trim())
        .map_err(|e| StartupError::Invalid {
            name: setting,
            reason: format!("not base64: {e}"),
        })?;
    if key.len() < 32 {
        return Err(StartupError::Invalid {
            name: setting,
            reason: "must decode to at least 32 bytes".to_owned(),
        });
    }
    Ok(key)
}

/// CloudFront's origin secret: at least 16 characters.
pub fn origin_secret(secret: String, setting: &'static str) -> Result<String, StartupError> {
    if secret.trim().len() < 16 {
        return Err(StartupError::Invalid {
            name: setting,
            reason: "must be at least 16 characters".to_owned(),
        });
    }
    Ok(secret.trim().to_owned())
}

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
    int("LOGIN_MAX_FAILURES_PER_ACCOUNT", 50, 1, 100_000),
    int("LOGIN_FAILURE_WINDOW_SECONDS", 900, 10, DAY),
    int("PASSWORD_HASH_MEMORY_KIB", 9_216, 1024, 1 << 20),
    int("PASSWORD_HASH_ITERATIONS", 4, 1, 10),
    int("REAUTH_MAX_AGE_SECONDS", 900, 60, DAY),
    int("SESSION_LIMIT", 0, 0, 100),
];

/// Reads a `true`/`false` setting with a default.
fn boolean(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: bool,
) -> Result<bool, StartupError> {
    match get(name).as_deref() {
        None => Ok(default),
        Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(_) => Err(StartupError::Invalid {
            name,
            reason: "expected true or false".to_owned(),
        }),
    }
}

/// Reads the integer setting `name` of [`INT_SETTINGS`] with its default and bounds.
fn number(get: &impl Fn(&str) -> Option<String>, name: &'static str) -> Result<u64, StartupError> {
    let Some(setting) = INT_SETTINGS.iter().find(|s| s.name == name) else {
        return Err(StartupError::Invalid {
            name,
            reason: "not a known integer setting".to_owned(),
        });
    };
    let Some(raw) = get(name) else {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::SigningKey;
    use std::collections::HashMap;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    const TABLES: [(&str, &str); 3] = [
        ("SESSIONS_TABLE", "s"),
        ("USERS_TABLE", "u"),
        ("USER_EMAILS_TABLE", "e"),
    ];

    #[test]
    fn local_defaults_to_dev_key_and_secret() {
        let mut env = TABLES.to_vec();
        env.push(("APP_ENV", "local"));
        let config = Config::from_lookup(lookup(&env)).unwrap();
        assert!(config.tokens.public_keys.contains_dev_key());
        assert_eq!(config.sessions.idle_timeout_seconds, 7 * 86_400);
        assert_eq!(config.dynamodb.max_attempts, 2);
        // OWASP's 9 MiB / 4 passes: as much work as 19 MiB / 2, less memory per sign-in.
        assert_eq!(config.auth.password_hash_memory_kib, 9 * 1024);
        assert_eq!(config.auth.password_hash_iterations, 4);
    }

    #[test]
    fn deployed_refuses_missing_or_dev_keys() {
        let env = TABLES.to_vec();
        assert!(matches!(
            Config::from_lookup(lookup(&env)),
            Err(StartupError::Missing("JWT_PUBLIC_KEYS"))
        ));
        let dev = serde_json::to_string(&JwkSet {
            keys: vec![dev_signing_key().public_jwk()],
        })
        .unwrap();
        let mut env = TABLES.to_vec();
        env.push(("JWT_PUBLIC_KEYS", &dev));
        env.push((
            "CURSOR_SECRET",
            "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE=",
        ));
        assert!(matches!(
            Config::from_lookup(lookup(&env)),
            Err(StartupError::DevKeyOutsideLocal)
        ));
    }

    #[test]
    fn deployed_cursor_secrets_are_real_ones_or_come_from_secrets_manager() {
        let real = serde_json::to_string(&JwkSet {
            keys: vec![SigningKey::generate("k1").unwrap().public_jwk()],
        })
        .unwrap();
        let mut env = TABLES.to_vec();
        env.push(("JWT_PUBLIC_KEYS", &real));
        // No key in the environment: the listing functions read CURSOR_SECRET_ARN at cold start.
        assert_eq!(Config::from_lookup(lookup(&env)).unwrap().cursor_key, None);
        env.push(("CURSOR_SECRET", "c2hvcnQ="));
        assert!(Config::from_lookup(lookup(&env)).is_err());
        env.pop();
        env.push((
            "CURSOR_SECRET",
            "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE=",
        ));
        let config = Config::from_lookup(lookup(&env)).unwrap();
        assert_eq!(config.app_env, AppEnv::Deployed);
    }

    #[test]
    fn session_controls_default_off_and_are_validated() {
        let mut env = TABLES.to_vec();
        env.push(("APP_ENV", "local"));
        let config = Config::from_lookup(lookup(&env)).unwrap();
        assert_eq!(config.auth.session_limit, 0);
        assert_eq!(config.auth.session_limit_action, SessionLimitAction::Evict);
        assert_eq!(config.auth.reauth_max_age_seconds, 900);
        assert_eq!(config.origin_verify_secret, None);
        for bad in [
            ("SESSION_LIMIT_ACTION", "kick"),
            ("SESSION_LIMIT", "101"),
            ("REAUTH_MAX_AGE_SECONDS", "5"),
            ("ORIGIN_VERIFY_SECRET", "short"),
        ] {
            let mut env = env.clone();
            env.push(bad);
            assert!(Config::from_lookup(lookup(&env)).is_err(), "{bad:?}");
        }
        env.push(("SESSION_LIMIT", "10"));
        env.push(("SESSION_LIMIT_ACTION", "refuse"));
        let config = Config::from_lookup(lookup(&env)).unwrap();
        assert_eq!(config.auth.session_limit, 10);
        assert_eq!(config.auth.session_limit_action, SessionLimitAction::Refuse);
    }

    #[test]
    fn aws_clients_trust_amazon_roots_unless_told() {
        let mut env = TABLES.to_vec();
        env.push(("APP_ENV", "local"));
        let config = Config::from_lookup(lookup(&env)).unwrap();
        assert_eq!(config.dynamodb.tls_roots, TlsRoots::Amazon);
        let mut system = env.clone();
        system.push(("TLS_ROOTS", "system"));
        let config = Config::from_lookup(lookup(&system)).unwrap();
        assert_eq!(config.dynamodb.tls_roots, TlsRoots::System);
        env.push(("TLS_ROOTS", "mozilla"));
        assert!(Config::from_lookup(lookup(&env)).is_err());
    }

    #[test]
    fn every_integer_setting_defaults_within_its_bounds() {
        let mut names = std::collections::HashSet::new();
        for s in INT_SETTINGS {
            assert!(s.min <= s.default && s.default <= s.max, "{s:?}");
            assert!(names.insert(s.name), "{} twice", s.name);
        }
        let mut env = TABLES.to_vec();
        env.push(("APP_ENV", "local"));
        for s in INT_SETTINGS {
            for (value, ok) in [(s.min, true), (s.max, true), (s.max + 1, false)] {
                let mut env = env.clone();
                let text = value.to_string();
                env.push((s.name, &text));
                assert_eq!(
                    Config::from_lookup(lookup(&env)).is_ok(),
                    ok,
                    "{} = {value}",
                    s.name
                );
            }
        }
    }

    #[test]
    fn out_of_range_numbers_are_refused() {
        let mut env = TABLES.to_vec();
        env.push(("APP_ENV", "local"));
        env.push(("DYNAMODB_MAX_ATTEMPTS", "0"));
        assert!(Config::from_lookup(lookup(&env)).is_err());
    }
}
