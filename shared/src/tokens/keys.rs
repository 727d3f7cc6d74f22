//! Ed25519 signing keys, where they are read from, and the dev-only key. Their public form
//! (JWK) is [`crate::config::jwks`]: the verifying keys are configuration.

pub use crate::config::jwks::{DEV_ONLY_KID, JwkSet, PublicJwk};
use crate::error::StartupError;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::signature::{Ed25519KeyPair, KeyPair};
use serde::Deserialize;

/// The dev-only Ed25519 private key (PKCS#8 DER, base64). It is public by design: it exists so
/// that `make dev` and the tests can mint tokens. Every deployed function refuses to start when
/// its verifying keys include this key's public half.
pub const DEV_ONLY_SIGNING_KEY_PKCS8_B64: &str =
    "MC4CAQAwBQYDK2VwBCIEIMCdCq+TNOQ/BgrovHNi8eiTes9nF0Y8FFMrFBhzoNgr";

/// An Ed25519 private key with its key id, for the functions (and the CLI) that sign tokens.
pub struct SigningKey {
    kid: String,
    pkcs8: Vec<u8>,
    public: Vec<u8>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A key from PKCS#8 DER bytes.
    pub fn from_pkcs8(kid: impl Into<String>, pkcs8: &[u8]) -> Result<Self, StartupError> {
        // PKCS#8 v1 (private key only, as `openssl genpkey` writes it) or v2 (with the public
        // key, as `generate` writes it).
        let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8).map_err(|e| {
            StartupError::Invalid {
                name: "signing key",
                reason: format!("not an Ed25519 PKCS#8 key: {e}"),
            }
        })?;
        Ok(Self {
            kid: kid.into(),
            pkcs8: pkcs8.to_vec(),
            public: pair.public_key().as_ref().to_vec(),
        })
    }

    /// A key from base64 (standard alphabet) PKCS#8 DER text.
    pub fn from_pkcs8_base64(kid: impl Into<String>, b64: &str) -> Result<Self, StartupError> {
        let der = STANDARD
            .decode(b64.trim())
            .map_err(|e| StartupError::Invalid {
                name: "signing key",
                reason: format!("not base64: {e}"),
            })?;
        Self::from_pkcs8(kid, &der)
    }

    /// A new random key (for `sessions-cli keygen` and tests).
    pub fn generate(kid: impl Into<String>) -> Result<Self, StartupError> {
        let doc =
            Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new()).map_err(|e| {
                StartupError::Invalid {
                    name: "signing key",
                    reason: format!("key generation failed: {e}"),
                }
            })?;
        Self::from_pkcs8(kid, doc.as_ref())
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The PKCS#8 DER bytes, for the token encoder.
    pub fn pkcs8(&self) -> &[u8] {
        &self.pkcs8
    }

    /// The PKCS#8 DER bytes as base64, for storing the key.
    pub fn pkcs8_base64(&self) -> String {
        STANDARD.encode(&self.pkcs8)
    }

    /// The public half as a JWK.
    pub fn public_jwk(&self) -> PublicJwk {
        PublicJwk::new(self.kid.clone(), &self.public)
    }
}

/// The JSON a signing-key secret holds in Secrets Manager, as `sessions-cli keygen` writes it.
#[derive(Deserialize)]
struct SigningSecret {
    kid: String,
    private_key: String,
}

/// Parses a signing-key secret: `{"kid": "...", "private_key": "<base64 PKCS#8>"}`.
pub fn parse_signing_secret(json: &str) -> Result<SigningKey, StartupError> {
    let secret: SigningSecret = serde_json::from_str(json).map_err(|e| StartupError::Invalid {
        name: "SIGNING_KEY_SECRET_ARN",
        reason: format!(
            "the secret is not {{\"kid\", \"private_key\"}} JSON (line {}, column {})",
            e.line(),
            e.column()
        ),
    })?;
    if secret.kid.is_empty() {
        return Err(StartupError::Invalid {
            name: "SIGNING_KEY_SECRET_ARN",
            reason: "the secret's kid is empty".to_owned(),
        });
    }
    SigningKey::from_pkcs8_base64(secret.kid, &secret.private_key)
}

/// The JSON to store as a signing-key secret.
pub fn signing_secret_json(key: &SigningKey) -> String {
    serde_json::json!({"kid": key.kid(), "private_key": key.pkcs8_base64()}).to_string()
}

/// Reads the string value of the secret `secret_id` (named by the setting `setting`) from
/// Secrets Manager: once per cold start, never into configuration.
pub async fn fetch_secret_string(
    client: &aws_sdk_secretsmanager::Client,
    secret_id: &str,
    setting: &'static str,
) -> Result<String, StartupError> {
    let out = client
        .get_secret_value()
        .secret_id(secret_id)
        .send()
        .await
        .map_err(|e| StartupError::Invalid {
            name: setting,
            reason: format!("cannot read the secret: {}", crate::error::cause_chain(&e)),
        })?;
    out.secret_string()
        .map(str::to_owned)
        .ok_or(StartupError::Invalid {
            name: setting,
            reason: "the secret has no string value".to_owned(),
        })
}

/// Reads the signing key from Secrets Manager, once per cold start.
pub async fn fetch_signing_key(
    client: &aws_sdk_secretsmanager::Client,
    secret_id: &str,
) -> Result<SigningKey, StartupError> {
    let json = fetch_secret_string(client, secret_id, "SIGNING_KEY_SECRET_ARN").await?;
    parse_signing_secret(&json)
}

/// The dev-only signing key. Never accepted where `APP_ENV` is not `local`.
pub fn dev_signing_key() -> SigningKey {
    // The constant is checked by a unit test, so this cannot fail at run time.
    SigningKey::from_pkcs8_base64(DEV_ONLY_KID, DEV_ONLY_SIGNING_KEY_PKCS8_B64)
        .unwrap_or_else(|e| panic!("the built-in dev key is invalid: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dev_public_key_in_configuration_is_the_dev_signing_keys() {
        assert_eq!(
            crate::config::jwks::dev_public_jwk(),
            dev_signing_key().public_jwk()
        );
    }

    #[test]
    fn dev_key_loads_and_is_recognised() {
        let key = dev_signing_key();
        let set = JwkSet {
            keys: vec![key.public_jwk()],
        };
        assert!(set.contains_dev_key());
        assert_eq!(key.public_jwk().x.len(), 43);
    }

    #[test]
    fn generated_keys_differ_from_the_dev_key() {
        let key = SigningKey::generate("k1").unwrap();
        let set = JwkSet {
            keys: vec![key.public_jwk()],
        };
        assert!(!set.contains_dev_key());
        let round = SigningKey::from_pkcs8_base64("k1", &key.pkcs8_base64()).unwrap();
        assert_eq!(round.public_jwk(), key.public_jwk());
    }

    #[test]
    fn signing_secrets_round_trip_and_bad_ones_are_refused() {
        let key = SigningKey::generate("2026-11").unwrap();
        let parsed = parse_signing_secret(&signing_secret_json(&key)).unwrap();
        assert_eq!(parsed.public_jwk(), key.public_jwk());
        for bad in [
            "",
            "not json",
            r#"{"kid": "a"}"#,
            r#"{"kid": "", "private_key": "MC4CAQAwBQYDK2VwBCIEIMCdCq+TNOQ/BgrovHNi8eiTes9nF0Y8FFMrFBhzoNgr"}"#,
            r#"{"kid": "a", "private_key": "bm90IGEga2V5"}"#,
        ] {
            let err = parse_signing_secret(bad).unwrap_err().to_string();
            assert!(!err.contains("MC4CAQ"), "never echo key material: {err}");
        }
    }

    #[tokio::test]
    async fn signing_key_is_fetched_from_secrets_manager() {
        use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueOutput;
        use aws_smithy_mocks::{mock, mock_client};
        let key = SigningKey::generate("2026-11").unwrap();
        let json = signing_secret_json(&key);
        let rule = mock!(aws_sdk_secretsmanager::Client::get_secret_value)
            .match_requests(|r| {
                r.secret_id() == Some("arn:aws:secretsmanager:eu-west-1:1:secret:sk")
            })
            .then_output(move || {
                GetSecretValueOutput::builder()
                    .secret_string(json.clone())
                    .build()
            });
        let client = mock_client!(aws_sdk_secretsmanager, [&rule]);
        let fetched = fetch_signing_key(&client, "arn:aws:secretsmanager:eu-west-1:1:secret:sk")
            .await
            .unwrap();
        assert_eq!(fetched.public_jwk(), key.public_jwk());
        assert_eq!(rule.num_calls(), 1);
    }

    #[test]
    fn jwk_set_parsing_rejects_bad_keys() {
        assert!(JwkSet::parse(r#"{"keys":[]}"#).is_err());
        assert!(
            JwkSet::parse(r#"{"keys":[{"kty":"RSA","crv":"Ed25519","kid":"a","x":"AA"}]}"#)
                .is_err()
        );
        assert!(
            JwkSet::parse(r#"{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"a","x":"AA"}]}"#)
                .is_err()
        );
        let good = serde_json::to_string(&JwkSet {
            keys: vec![SigningKey::generate("a").unwrap().public_jwk()],
        })
        .unwrap();
        assert_eq!(JwkSet::parse(&good).unwrap().keys[0].kid, "a");
        // Two keys under one kid are refused at start-up, whichever order they come in.
        let twice = serde_json::to_string(&JwkSet {
            keys: vec![
                SigningKey::generate("a").unwrap().public_jwk(),
                SigningKey::generate("a").unwrap().public_jwk(),
            ],
        })
        .unwrap();
        let err = JwkSet::parse(&twice).unwrap_err();
        assert!(err.contains("share the kid"), "{err}");
    }
}
