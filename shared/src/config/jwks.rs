//! The verifying keys (`JWT_PUBLIC_KEYS`): public Ed25519 keys as JWKs (RFC 7517 / RFC 8037),
//! and the dev-only key's public half, which a deployed stack refuses.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

/// Key id of the dev-only key. Tokens signed with it are accepted only where `APP_ENV=local`.
pub const DEV_ONLY_KID: &str = "dev-only-not-for-production";

/// The public half of the dev-only signing key (`crate::tokens::keys::dev_signing_key`), base64url:
/// a unit test there checks the two agree.
const DEV_ONLY_PUBLIC_KEY: &str = "7R1Fz848e-n6xFO-l-a0drw5j3azU_5x85ZRx9Gjohw";

/// The dev-only key as a verifying key.
pub fn dev_public_jwk() -> PublicJwk {
    PublicJwk {
        kty: "OKP".to_owned(),
        crv: "Ed25519".to_owned(),
        kid: DEV_ONLY_KID.to_owned(),
        x: DEV_ONLY_PUBLIC_KEY.to_owned(),
        alg: eddsa(),
        use_: sig(),
    }
}

/// A public Ed25519 key as a JWK (RFC 7517 / RFC 8037): what `jwks` publishes and what
/// verifiers are configured with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicJwk {
    /// Always `OKP`.
    pub kty: String,
    /// Always `Ed25519`.
    pub crv: String,
    /// Key id, matched against the token header's `kid`.
    pub kid: String,
    /// The 32-byte public key, base64url without padding.
    pub x: String,
    /// Always `EdDSA`.
    #[serde(default = "eddsa")]
    pub alg: String,
    /// Always `sig`.
    #[serde(rename = "use", default = "sig")]
    pub use_: String,
}

fn eddsa() -> String {
    "EdDSA".to_owned()
}
fn sig() -> String {
    "sig".to_owned()
}

impl PublicJwk {
    /// A JWK for raw public key bytes.
    pub fn new(kid: impl Into<String>, public_key: &[u8]) -> Self {
        Self {
            kty: "OKP".to_owned(),
            crv: "Ed25519".to_owned(),
            kid: kid.into(),
            x: URL_SAFE_NO_PAD.encode(public_key),
            alg: eddsa(),
            use_: sig(),
        }
    }

    /// Checks the fields a verifier depends on.
    fn validate(&self) -> Result<(), String> {
        if self.kty != "OKP" || self.crv != "Ed25519" {
            return Err(format!("key {:?} is not an Ed25519 (OKP) key", self.kid));
        }
        if self.kid.is_empty() {
            return Err("a key has an empty kid".to_owned());
        }
        match URL_SAFE_NO_PAD.decode(&self.x) {
            Ok(bytes) if bytes.len() == 32 => Ok(()),
            _ => Err(format!("key {:?} has an invalid x", self.kid)),
        }
    }
}

/// A JWK Set: `{"keys": [...]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JwkSet {
    /// The keys.
    pub keys: Vec<PublicJwk>,
}

impl JwkSet {
    /// Parses and checks a JWK Set from its JSON text.
    pub fn parse(json: &str) -> Result<Self, String> {
        let set: JwkSet = serde_json::from_str(json).map_err(|e| e.to_string())?;
        if set.keys.is_empty() {
            return Err("the key set is empty".to_owned());
        }
        let mut kids = std::collections::HashSet::new();
        for key in &set.keys {
            key.validate()?;
            // Two keys under one kid: which one verifies would depend on the order.
            if !kids.insert(key.kid.as_str()) {
                return Err(format!("two keys share the kid {:?}", key.kid));
            }
        }
        Ok(set)
    }

    /// Whether the set holds the dev-only public key (under any kid).
    pub fn contains_dev_key(&self) -> bool {
        let dev = dev_public_jwk();
        self.keys
            .iter()
            .any(|k| k.x == dev.x || k.kid == DEV_ONLY_KID)
    }
}
