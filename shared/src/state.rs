//! What a function builds once per cold start: the configuration, the clients, the keys.

use crate::config::{self, Config};
use crate::error::{self, ApiError};
use crate::store::Store;
use crate::tokens::{self, keys, link, refresh, seal};
use crate::{cursor, passwords, store};
use std::sync::Arc;

/// Reads into `config` the secrets its [`config::SecretSources`] name by ARN: the paging-cursor
/// key (`CURSOR_SECRET_ARN`, a base64 string) and CloudFront's origin secret
/// (`ORIGIN_VERIFY_SECRET_ARN`). Nothing is read for an ARN that is unset.
pub async fn read_secrets(
    config: &mut Config,
    client: &aws_sdk_secretsmanager::Client,
) -> Result<(), error::StartupError> {
    if let Some(arn) = config.secrets.cursor_arn.clone() {
        let text = keys::fetch_secret_string(client, &arn, "CURSOR_SECRET_ARN").await?;
        config.cursor_key = Some(config::cursor_key(&text, "CURSOR_SECRET_ARN")?);
    }
    if let Some(arn) = config.secrets.origin_verify_arn.clone() {
        let text = keys::fetch_secret_string(client, &arn, "ORIGIN_VERIFY_SECRET_ARN").await?;
        config.origin_verify_secret =
            Some(config::origin_secret(text, "ORIGIN_VERIFY_SECRET_ARN")?);
    }
    if config.origin_verify_required && config.origin_verify_secret.is_none() {
        return Err(error::StartupError::Missing("ORIGIN_VERIFY_SECRET_ARN"));
    }
    Ok(())
}

/// What a function builds once per cold start and reuses for every request.
#[derive(Clone)]
pub struct AppState {
    /// Settings read from the environment.
    pub config: Arc<Config>,
    /// DynamoDB access.
    pub store: Store,
    /// Access-token verification with the public keys.
    pub verifier: Arc<tokens::TokenVerifier>,
    /// Paging cursors: only in the functions that page (they read the key at cold start).
    pub cursors: Option<Arc<cursor::CursorCodec>>,
    /// argon2id hashing.
    pub passwords: passwords::PasswordHashing,
    /// Access-token signing: only in the functions that issue tokens.
    pub signer: Option<Arc<tokens::TokenSigner>>,
    /// Refresh-token MACs: only in the functions that issue refresh tokens.
    pub refresh_key: Option<Arc<refresh::RefreshKey>>,
    /// The second factor's keys: only in the functions that check or enrol one.
    pub factor_keys: Option<Arc<seal::FactorKeys>>,
    /// The key of the "This wasn't me" links: only in the function that takes them.
    pub link_key: Option<Arc<link::LinkKey>>,
    /// The shared AWS configuration (region, credentials, timeouts).
    pub sdk: aws_config::SdkConfig,
}

impl AppState {
    /// Builds the state from a loaded configuration: the DynamoDB client and the verifier. The
    /// AWS configuration comes from the SDK's default provider chains (the CLI and tools).
    pub async fn build(config: Config) -> Result<Self, error::StartupError> {
        let sdk = store::aws_config(&config.dynamodb).await;
        Self::build_with(config, sdk)
    }

    /// Builds the state on a given AWS configuration.
    pub fn build_with(
        config: Config,
        sdk: aws_config::SdkConfig,
    ) -> Result<Self, error::StartupError> {
        crate::metrics::init(config.metrics_namespace.clone());
        let client = store::dynamodb_client(&sdk, &config.dynamodb);
        let wire = store::dynamodb_wire(&sdk, &client, &config.dynamodb)?;
        let store = Store::new(client, wire, config.tables.clone());
        let verifier = tokens::TokenVerifier::new(&config.tokens)?;
        let cursors = config
            .cursor_key
            .as_deref()
            .map(|key| Arc::new(cursor::CursorCodec::new(key)));
        let passwords = passwords::PasswordHashing::new(
            config.auth.password_hash_memory_kib,
            config.auth.password_hash_iterations,
        )
        .map_err(|reason| error::StartupError::Invalid {
            name: "PASSWORD_HASH_MEMORY_KIB",
            reason,
        })?;
        Ok(Self {
            config: Arc::new(config),
            store,
            verifier: Arc::new(verifier),
            cursors,
            passwords,
            signer: None,
            refresh_key: None,
            factor_keys: None,
            link_key: None,
            sdk,
        })
    }

    /// The text of a secret: the string value of the Secrets Manager secret named by the
    /// setting `arn_setting` (read once, at cold start), or the value set in the environment;
    /// `None` where neither is set and `APP_ENV=local` (the dev-only key is used).
    async fn secret_text(
        &self,
        (arn, value): (Option<String>, Option<String>),
        arn_setting: &'static str,
    ) -> Result<Option<String>, error::StartupError> {
        match (arn, value) {
            (Some(arn), _) => {
                let client = aws_sdk_secretsmanager::Client::new(&self.sdk);
                Ok(Some(
                    keys::fetch_secret_string(&client, &arn, arn_setting).await?,
                ))
            }
            (None, Some(value)) => Ok(Some(value)),
            (None, None) if self.config.app_env == config::AppEnv::Local => Ok(None),
            (None, None) => Err(error::StartupError::Missing(arn_setting)),
        }
    }

    /// Adds the refresh-token key, for the functions that issue refresh tokens: from
    /// `REFRESH_TOKEN_KEY_SECRET_ARN`, or `REFRESH_TOKEN_KEY`, or, only where `APP_ENV=local`,
    /// the dev-only key.
    pub async fn with_refresh_key_from_env(self) -> Result<Self, error::StartupError> {
        let sources = &self.config.secrets;
        let from = (sources.refresh_key_arn.clone(), sources.refresh_key.clone());
        match self
            .secret_text(from, "REFRESH_TOKEN_KEY_SECRET_ARN")
            .await?
        {
            Some(key) => self.with_refresh_key_bytes(key.as_bytes()),
            None => Ok(self.with_refresh_key(refresh::RefreshKey::dev())),
        }
    }

    /// Adds the second factor's keys, for the functions that check or enrol one: from
    /// `MFA_KEY_SECRET_ARN`, or `MFA_KEY`, or, only where `APP_ENV=local`, the dev-only key.
    /// At least 32 bytes, and never the dev-only key in a deployed stack.
    pub async fn with_factor_keys_from_env(self) -> Result<Self, error::StartupError> {
        let sources = &self.config.secrets;
        let from = (sources.factor_key_arn.clone(), sources.factor_key.clone());
        let keys = match self.secret_text(from, "MFA_KEY_SECRET_ARN").await? {
            None => seal::FactorKeys::dev(),
            Some(secret) => {
                let invalid = |reason: &str| error::StartupError::Invalid {
                    name: "MFA_KEY",
                    reason: reason.to_owned(),
                };
                let deployed = self.config.app_env == config::AppEnv::Deployed;
                if deployed && seal::FactorKeys::is_dev(secret.as_bytes()) {
                    return Err(invalid("the dev-only key is refused outside APP_ENV=local"));
                }
                seal::FactorKeys::new(secret.as_bytes())
                    .ok_or_else(|| invalid("at least 32 bytes"))?
            }
        };
        Ok(self.with_factor_keys(keys))
    }

    /// Adds the second factor's keys.
    pub fn with_factor_keys(mut self, keys: seal::FactorKeys) -> Self {
        self.factor_keys = Some(Arc::new(keys));
        self
    }

    /// The second factor's keys, or a 500 in a function built without them.
    pub fn factor_keys(&self) -> Result<&seal::FactorKeys, ApiError> {
        self.factor_keys
            .as_deref()
            .ok_or_else(|| ApiError::internal("this function has no second-factor key"))
    }

    /// Adds the key of the "This wasn't me" links: from `ALERT_LINK_KEY_SECRET_ARN`, or
    /// `ALERT_LINK_KEY`, or, only where `APP_ENV=local`, the dev-only key. At least 32 bytes,
    /// and never the dev-only key in a deployed stack.
    pub async fn with_link_key_from_env(self) -> Result<Self, error::StartupError> {
        let sources = &self.config.secrets;
        let from = (sources.link_key_arn.clone(), sources.link_key.clone());
        let text = self.secret_text(from, "ALERT_LINK_KEY_SECRET_ARN").await?;
        let deployed = self.config.app_env == config::AppEnv::Deployed;
        let key = link::LinkKey::from_secret(text.as_deref(), deployed)?;
        Ok(self.with_link_key(key))
    }

    /// Adds the key of the "This wasn't me" links.
    pub fn with_link_key(mut self, key: link::LinkKey) -> Self {
        self.link_key = Some(Arc::new(key));
        self
    }

    /// The key of the "This wasn't me" links, or a 500 in a function built without it.
    pub fn link_key(&self) -> Result<&link::LinkKey, ApiError> {
        self.link_key
            .as_deref()
            .ok_or_else(|| ApiError::internal("this function has no link key"))
    }

    /// Adds the refresh-token key from its bytes: at least 32, and never the dev-only key in a
    /// deployed stack.
    pub fn with_refresh_key_bytes(self, bytes: &[u8]) -> Result<Self, error::StartupError> {
        let invalid = |reason: &str| error::StartupError::Invalid {
            name: "REFRESH_TOKEN_KEY",
            reason: reason.to_owned(),
        };
        if self.config.app_env == config::AppEnv::Deployed && refresh::RefreshKey::is_dev(bytes) {
            return Err(invalid("the dev-only key is refused outside APP_ENV=local"));
        }
        let key = refresh::RefreshKey::new(bytes).ok_or_else(|| invalid("at least 32 bytes"))?;
        Ok(self.with_refresh_key(key))
    }

    /// Adds a refresh-token key.
    pub fn with_refresh_key(mut self, key: refresh::RefreshKey) -> Self {
        self.refresh_key = Some(Arc::new(key));
        self
    }

    /// The refresh-token key, or a 500 in a function built without one.
    pub fn refresh_key(&self) -> Result<&refresh::RefreshKey, ApiError> {
        self.refresh_key
            .as_deref()
            .ok_or_else(|| ApiError::internal("this function has no refresh-token key"))
    }

    /// Adds the token signer, for the functions that issue tokens. The key comes from the
    /// Secrets Manager secret named by `SIGNING_KEY_SECRET_ARN` (read once, here, at cold
    /// start), or from `SIGNING_KEY` + `SIGNING_KEY_ID`, or, only where `APP_ENV=local`, is the
    /// dev-only key.
    pub async fn with_signer_from_env(self) -> Result<Self, error::StartupError> {
        let sources = &self.config.secrets;
        let key = match (&sources.signing_key_arn, &sources.signing_key) {
            (Some(arn), _) => {
                let client = aws_sdk_secretsmanager::Client::new(&self.sdk);
                keys::fetch_signing_key(&client, arn).await?
            }
            (None, Some((b64, kid))) => {
                let kid = kid
                    .clone()
                    .ok_or(error::StartupError::Missing("SIGNING_KEY_ID"))?;
                keys::SigningKey::from_pkcs8_base64(kid, b64)?
            }
            (None, None) if self.config.app_env == config::AppEnv::Local => keys::dev_signing_key(),
            (None, None) => return Err(error::StartupError::Missing("SIGNING_KEY_SECRET_ARN")),
        };
        self.with_signer(key)
    }

    /// Adds the token signer for `key`. A deployed function refuses the dev key, and any
    /// function refuses a key whose public half is not among its verifying keys under its kid.
    pub fn with_signer(mut self, key: keys::SigningKey) -> Result<Self, error::StartupError> {
        let public = key.public_jwk();
        let dev = keys::dev_signing_key().public_jwk();
        if self.config.app_env == config::AppEnv::Deployed && public.x == dev.x {
            return Err(error::StartupError::DevKeyOutsideLocal);
        }
        if !self
            .config
            .tokens
            .public_keys
            .keys
            .iter()
            .any(|k| k.kid == public.kid && k.x == public.x)
        {
            return Err(error::StartupError::Invalid {
                name: "SIGNING_KEY",
                reason: "its public key is not in JWT_PUBLIC_KEYS under its kid".to_owned(),
            });
        }
        self.signer = Some(Arc::new(tokens::TokenSigner::new(
            &key,
            &self.config.tokens,
            self.config.auth.access_token_ttl_seconds,
        )));
        Ok(self)
    }

    /// The token signer, or a 500 in a function built without one.
    pub fn signer(&self) -> Result<&tokens::TokenSigner, ApiError> {
        self.signer
            .as_deref()
            .ok_or_else(|| ApiError::internal("this function has no signing key"))
    }

    /// Loads the configuration from the environment and builds the state: the one call each
    /// function's `main` makes before serving. Region and credentials come from the
    /// environment Lambda sets ([`store::lambda_aws_config`]). The secrets a function is given
    /// the ARN of are read here, once per cold start, never into its configuration: the
    /// paging-cursor key (`CURSOR_SECRET_ARN`, the listing functions) and CloudFront's origin
    /// secret (`ORIGIN_VERIFY_SECRET_ARN`, every function that records addresses).
    pub async fn from_env() -> Result<Self, error::StartupError> {
        let mut config = Config::from_env()?;
        let sdk = store::lambda_aws_config(&config.dynamodb, config::process_var)?;
        let client = aws_sdk_secretsmanager::Client::new(&sdk);
        read_secrets(&mut config, &client).await?;
        Self::build_with(config, sdk)
    }

    /// Refuses to start without a paging-cursor key: for the functions that page.
    pub fn require_cursors(self) -> Result<Self, error::StartupError> {
        match self.cursors {
            Some(_) => Ok(self),
            None => Err(error::StartupError::Missing("CURSOR_SECRET_ARN")),
        }
    }

    /// The paging-cursor codec, or a 500 in a function built without one.
    pub fn cursors(&self) -> Result<&cursor::CursorCodec, ApiError> {
        self.cursors
            .as_deref()
            .ok_or_else(|| ApiError::internal("this function has no cursor key"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueOutput;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    #[tokio::test]
    async fn secrets_named_by_arn_are_read_at_cold_start_and_never_from_the_environment() {
        let cursor = mock!(aws_sdk_secretsmanager::Client::get_secret_value)
            .match_requests(|r| r.secret_id() == Some("arn:cursor"))
            .then_output(|| {
                GetSecretValueOutput::builder()
                    .secret_string("MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE=")
                    .build()
            });
        let origin = mock!(aws_sdk_secretsmanager::Client::get_secret_value)
            .match_requests(|r| r.secret_id() == Some("arn:origin"))
            .then_output(|| {
                GetSecretValueOutput::builder()
                    .secret_string("cf-origin-secret-0123456789")
                    .build()
            });
        let client = mock_client!(
            aws_sdk_secretsmanager,
            RuleMode::MatchAny,
            [&cursor, &origin]
        );
        let deployed = deployed_env;
        // Without ARNs nothing is read and nothing is there.
        let env = deployed(&[]);
        let mut config = Config::from_lookup(|k| env.get(k).cloned()).unwrap();
        read_secrets(&mut config, &client).await.unwrap();
        assert_eq!((cursor.num_calls(), origin.num_calls()), (0, 0));
        assert!(config.cursor_key.is_none() && config.origin_verify_secret.is_none());
        // Requiring CloudFront without its secret is refused at start-up.
        let env = deployed(&[("ORIGIN_VERIFY_REQUIRED", "true")]);
        let mut config = Config::from_lookup(|k| env.get(k).cloned()).unwrap();
        assert!(read_secrets(&mut config, &client).await.is_err());
        // With them, both are read once.
        let env = deployed(&[
            ("CURSOR_SECRET_ARN", "arn:cursor"),
            ("ORIGIN_VERIFY_SECRET_ARN", "arn:origin"),
        ]);
        let mut config = Config::from_lookup(|k| env.get(k).cloned()).unwrap();
        read_secrets(&mut config, &client).await.unwrap();
        assert_eq!((cursor.num_calls(), origin.num_calls()), (1, 1));
        assert_eq!(config.cursor_key.map(|k| k.len()), Some(32));
        assert_eq!(
            config.origin_verify_secret.as_deref(),
            Some("cf-origin-secret-0123456789")
        );
    }

    fn deployed_env(pairs: &[(&str, &str)]) -> std::collections::HashMap<String, String> {
        let key = keys::SigningKey::generate("k1").unwrap();
        let set = serde_json::to_string(&keys::JwkSet {
            keys: vec![key.public_jwk()],
        })
        .unwrap();
        let base = [
            ("SESSIONS_TABLE", "s"),
            ("USERS_TABLE", "u"),
            ("USER_EMAILS_TABLE", "e"),
            ("ACTIVITY_TABLE", "a"),
        ];
        let mut env: std::collections::HashMap<String, String> = base
            .iter()
            .chain(pairs)
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        env.insert("JWT_PUBLIC_KEYS".into(), set);
        env
    }

    #[tokio::test]
    async fn a_deployed_function_refuses_a_missing_short_or_dev_only_second_factor_key() {
        let state = |pairs: &[(&str, &str)]| {
            let env = deployed_env(pairs);
            let config = Config::from_lookup(|k| env.get(k).cloned()).unwrap();
            // Lambda always gives a function its region.
            let sdk = aws_config::SdkConfig::builder()
                .behavior_version(aws_config::BehaviorVersion::latest())
                .region(aws_config::Region::new("eu-west-1"))
                .build();
            AppState::build_with(config, sdk).unwrap()
        };
        let refused = |r: Result<AppState, error::StartupError>| r.err().map(|e| e.to_string());
        let missing = state(&[]).with_factor_keys_from_env().await;
        assert!(refused(missing).unwrap().contains("MFA_KEY_SECRET_ARN"));
        let short = state(&[("MFA_KEY", "too-short")])
            .with_factor_keys_from_env()
            .await;
        assert!(refused(short).unwrap().contains("at least 32 bytes"));
        let dev = "dev-only-second-factor-key-not-for-production";
        let dev = state(&[("MFA_KEY", dev)]).with_factor_keys_from_env().await;
        assert!(refused(dev).unwrap().contains("dev-only"));
        let good = "a-second-factor-key-of-at-least-32-bytes";
        let good = state(&[("MFA_KEY", good)])
            .with_factor_keys_from_env()
            .await;
        assert!(good.unwrap().factor_keys().is_ok());
        assert!(state(&[]).factor_keys().is_err(), "only where asked for");
    }
}
