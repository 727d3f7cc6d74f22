//! Configuration, read once per cold start from the environment.
//!
//! Every setting is documented in the README's "Configuration" table; the names here and there
//! must agree.

mod auth;
pub mod env;
pub mod jwks;
mod secrets;

pub use auth::AuthPolicy;
use secrets::DEV_ONLY_CURSOR_SECRET;
pub use secrets::{SecretSources, cursor_key, origin_secret};

use env::Env;
pub use env::{INT_SETTINGS, IntSetting, log_level, process_var};
use jwks::{JwkSet, dev_public_jwk};

use crate::domain::SessionPolicy;
use crate::error::StartupError;
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
    /// Each user's activity history (`user_id` N + `at_id` S).
    pub activity: String,
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
    /// Where the secrets come from (read at cold start, never held in the environment).
    pub secrets: SecretSources,
    /// The CloudWatch namespace of the service's own metrics (`METRICS_NAMESPACE`); `None`
    /// writes none (tests, the local stack).
    pub metrics_namespace: Option<String>,
    /// How long an entry of a user's activity history is kept, in seconds
    /// (`ACTIVITY_RETENTION_DAYS`).
    pub activity_retention_seconds: i64,
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, StartupError> {
        Self::from_lookup(process_var)
    }

    /// Reads settings through `get`, so tests can pass a map instead of the environment.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, StartupError> {
        let env = Env::new(get);
        let app_env = match env.text("APP_ENV").as_deref() {
            Some("local") => AppEnv::Local,
            _ => AppEnv::Deployed,
        };
        let auth = AuthPolicy::read(&env)?;
        let origin_verify_secret = env
            .text("ORIGIN_VERIFY_SECRET")
            .map(|s| origin_secret(s, "ORIGIN_VERIFY_SECRET"))
            .transpose()?;
        Ok(Self {
            app_env,
            tables: TableNames::read(&env)?,
            dynamodb: DynamoConfig::read(&env)?,
            tokens: TokenConfig::read(&env, app_env, auth.access_token_ttl_seconds)?,
            sessions: session_policy(&env)?,
            cursor_key: match (env.text("CURSOR_SECRET"), app_env) {
                (Some(b64), _) => Some(cursor_key(&b64, "CURSOR_SECRET")?),
                (None, AppEnv::Local) => Some(DEV_ONLY_CURSOR_SECRET.to_vec()),
                (None, AppEnv::Deployed) => None,
            },
            cors_allowed_origins: env.origins("CORS_ALLOWED_ORIGINS"),
            retry_after_seconds: 1,
            auth,
            origin_verify_secret,
            origin_verify_required: env.boolean("ORIGIN_VERIFY_REQUIRED", false)?,
            secrets: SecretSources::read(&env),
            metrics_namespace: env.text("METRICS_NAMESPACE"),
            activity_retention_seconds: retention(&env)?,
        })
    }
}

/// How long an entry of a user's activity history is kept (`ACTIVITY_RETENTION_DAYS`), in
/// seconds: for the event publisher, which writes the history and builds no [`Config`].
pub fn activity_retention_seconds() -> Result<i64, StartupError> {
    retention(&Env::new(process_var))
}

fn retention(env: &Env<impl Fn(&str) -> Option<String>>) -> Result<i64, StartupError> {
    let days = env.number("ACTIVITY_RETENTION_DAYS")?;
    Ok(i64::try_from(days).unwrap_or(i64::MAX / 86_400) * 86_400)
}

/// New-sign-in alerts, for the event publisher (which builds no [`Config`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertSettings {
    /// `ALERT_EMAIL_FROM`: the SES-verified sender.
    pub from: String,
    /// `ALERT_LINK_URL`: the app's page an alert's link opens (`https://`, or
    /// `http://localhost` for a local page).
    pub link_url: String,
    /// `ALERT_LINK_KEY_SECRET_ARN`: the secret holding the link key.
    pub key_arn: Option<String>,
    /// `ALERT_LINK_KEY`: the link key itself, outside AWS.
    pub key: Option<String>,
    /// Anything but `APP_ENV=local`: the dev-only link key is refused.
    pub deployed: bool,
}

impl AlertSettings {
    /// The settings from the process environment; `None` where `ALERT_EMAIL_FROM` is unset
    /// (no alerts).
    pub fn from_env() -> Result<Option<Self>, StartupError> {
        Self::read(&Env::new(process_var))
    }

    fn read(env: &Env<impl Fn(&str) -> Option<String>>) -> Result<Option<Self>, StartupError> {
        let Some(from) = env.text("ALERT_EMAIL_FROM") else {
            return Ok(None);
        };
        let link_url = env.required("ALERT_LINK_URL")?;
        if !(link_url.starts_with("https://") || link_url.starts_with("http://localhost")) {
            return Err(StartupError::Invalid {
                name: "ALERT_LINK_URL",
                reason: "must be an https:// page of the app".to_owned(),
            });
        }
        Ok(Some(Self {
            from,
            link_url,
            key_arn: env.text("ALERT_LINK_KEY_SECRET_ARN"),
            key: env.text("ALERT_LINK_KEY"),
            deployed: env.text("APP_ENV").as_deref() != Some("local"),
        }))
    }
}

impl TableNames {
    /// The table names from the process environment (for functions that need no more, such as
    /// the event publisher).
    pub fn from_env() -> Result<Self, StartupError> {
        Self::read(&Env::new(process_var))
    }

    fn read(env: &Env<impl Fn(&str) -> Option<String>>) -> Result<Self, StartupError> {
        Ok(Self {
            sessions: env.required("SESSIONS_TABLE")?,
            users: env.required("USERS_TABLE")?,
            user_emails: env.required("USER_EMAILS_TABLE")?,
            activity: env.required("ACTIVITY_TABLE")?,
        })
    }
}

impl DynamoConfig {
    /// The client settings from the process environment.
    pub fn from_env() -> Result<Self, StartupError> {
        Self::read(&Env::new(process_var))
    }

    fn read(env: &Env<impl Fn(&str) -> Option<String>>) -> Result<Self, StartupError> {
        let roots = [("amazon", TlsRoots::Amazon), ("system", TlsRoots::System)];
        Ok(Self {
            endpoint: env.text("DYNAMODB_ENDPOINT"),
            connect_timeout: env.millis("DYNAMODB_CONNECT_TIMEOUT_MS")?,
            attempt_timeout: env.millis("DYNAMODB_ATTEMPT_TIMEOUT_MS")?,
            operation_timeout: env.millis("DYNAMODB_OPERATION_TIMEOUT_MS")?,
            max_attempts: env.number("DYNAMODB_MAX_ATTEMPTS")? as u32,
            tls_roots: env.choice("TLS_ROOTS", &roots, TlsRoots::Amazon)?,
        })
    }
}

impl TokenConfig {
    /// The verifying keys (the dev key where `APP_ENV=local` and none are set; never in a
    /// deployed stack), issuer, audience, leeway and the longest lifetime issued.
    fn read(
        env: &Env<impl Fn(&str) -> Option<String>>,
        app_env: AppEnv,
        max_lifetime_seconds: i64,
    ) -> Result<Self, StartupError> {
        let public_keys = match (env.text("JWT_PUBLIC_KEYS"), app_env) {
            (Some(json), _) => JwkSet::parse(&json).map_err(|reason| StartupError::Invalid {
                name: "JWT_PUBLIC_KEYS",
                reason,
            })?,
            (None, AppEnv::Local) => JwkSet {
                keys: vec![dev_public_jwk()],
            },
            (None, AppEnv::Deployed) => return Err(StartupError::Missing("JWT_PUBLIC_KEYS")),
        };
        if app_env == AppEnv::Deployed && public_keys.contains_dev_key() {
            return Err(StartupError::DevKeyOutsideLocal);
        }
        Ok(Self {
            issuer: env.text_or("TOKEN_ISSUER", "device-sessions-api"),
            audience: env.text_or("TOKEN_AUDIENCE", "device-sessions-api"),
            public_keys,
            leeway_seconds: env.number("TOKEN_LEEWAY_SECONDS")?,
            max_lifetime_seconds,
        })
    }
}

fn session_policy(
    env: &Env<impl Fn(&str) -> Option<String>>,
) -> Result<SessionPolicy, StartupError> {
    Ok(SessionPolicy {
        idle_timeout_seconds: env.number("SESSION_IDLE_TIMEOUT_SECONDS")? as i64,
        absolute_lifetime_seconds: env.number("SESSION_ABSOLUTE_LIFETIME_SECONDS")? as i64,
        retention_seconds: env.number("SESSION_RETENTION_SECONDS")? as i64,
        activity_write_interval_seconds: 60,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::limits::SessionLimitAction;
    use crate::tokens::keys::{SigningKey, dev_signing_key};
    use std::collections::HashMap;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    const TABLES: [(&str, &str); 4] = [
        ("SESSIONS_TABLE", "s"),
        ("USERS_TABLE", "u"),
        ("USER_EMAILS_TABLE", "e"),
        ("ACTIVITY_TABLE", "a"),
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
    fn alerts_need_a_sender_and_an_https_page_and_empty_is_unset() {
        let read = |pairs: &[(&str, &str)]| {
            let map: std::collections::HashMap<String, String> = pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            AlertSettings::read(&Env::new(|k: &str| map.get(k).cloned()))
        };
        assert_eq!(read(&[]).unwrap(), None);
        assert_eq!(read(&[("ALERT_EMAIL_FROM", " ")]).unwrap(), None);
        let from = ("ALERT_EMAIL_FROM", "alerts@example.com");
        assert!(read(&[from]).is_err(), "no page");
        assert!(read(&[from, ("ALERT_LINK_URL", "http://app.example.com")]).is_err());
        let page = ("ALERT_LINK_URL", "https://app.example.com/not-me");
        let settings = read(&[from, page, ("ALERT_LINK_KEY_SECRET_ARN", "")])
            .unwrap()
            .unwrap();
        assert_eq!(settings.key_arn, None, "empty is unset");
        assert!(settings.deployed);
        let local = read(&[from, page, ("APP_ENV", "local")]).unwrap().unwrap();
        assert!(!local.deployed);
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
