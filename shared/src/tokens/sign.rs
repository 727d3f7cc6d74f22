//! Signing access tokens (EdDSA). Only the functions that issue tokens (and the CLI) hold a
//! signer.

use super::verify::{ACCESS_TOKEN_TYPE, AccessClaims};
use crate::config::TokenConfig;
use crate::domain::UserId;
use crate::domain::{Role, Session};
use crate::error::ApiError;
use crate::tokens::keys::SigningKey;
use jsonwebtoken::{Algorithm, EncodingKey, Header};

#[derive(Clone)]
pub struct TokenSigner {
    key: EncodingKey,
    kid: String,
    issuer: String,
    audience: String,
    ttl_seconds: i64,
}

impl std::fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSigner")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl TokenSigner {
    /// Default access-token lifetime: 15 minutes.
    pub const DEFAULT_TTL_SECONDS: i64 = 15 * 60;

    /// A signer for `key` with the verifier's issuer and audience.
    pub fn new(key: &SigningKey, cfg: &TokenConfig, ttl_seconds: i64) -> Self {
        crate::tokens::crypto::install();
        Self {
            key: EncodingKey::from_ed_der(key.pkcs8()),
            kid: key.kid().to_owned(),
            issuer: cfg.issuer.clone(),
            audience: cfg.audience.clone(),
            ttl_seconds,
        }
    }

    /// The same signer with another token lifetime.
    pub fn with_ttl(mut self, ttl_seconds: i64) -> Self {
        self.ttl_seconds = ttl_seconds;
        self
    }

    /// The claims a token for this session would carry at `now`.
    pub fn claims(&self, user_id: UserId, session_id: &str, role: Role, now: i64) -> AccessClaims {
        let jti = crate::domain::ids::new_session_id().unwrap_or_default();
        AccessClaims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: user_id.to_string(),
            sid: session_id.to_owned(),
            role,
            iat: now,
            nbf: now,
            exp: now + self.ttl_seconds,
            jti,
            auth_time: Some(now),
            cep: 0,
            gep: 0,
            rgen: 0,
            aal: crate::domain::Aal::Aal1,
            amr: crate::domain::assurance::password_only(),
        }
    }

    /// Signs a set of claims (tests use this to build edge cases).
    pub fn sign_claims(&self, claims: &AccessClaims) -> Result<String, ApiError> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        header.typ = Some(ACCESS_TOKEN_TYPE.to_owned());
        jsonwebtoken::encode(&header, claims, &self.key).map_err(ApiError::internal)
    }

    /// Issues an access token for a session at `now`: its `auth_time` is the session's latest
    /// sign-in, its `cep` the session's credential epoch.
    pub fn issue_for(&self, session: &Session, role: Role, now: i64) -> Result<String, ApiError> {
        let mut claims = self.claims(session.user_id, &session.session_id, role, now);
        claims.auth_time = Some(session.auth_time());
        claims.cep = session.credential_epoch;
        claims.gep = session.global_epoch;
        claims.rgen = session.refresh_generation;
        claims.aal = session.aal();
        claims.amr = session.amr.clone();
        self.sign_claims(&claims)
    }

    /// Issues an access token for a session signed in at `now`.
    pub fn issue(
        &self,
        user_id: UserId,
        session_id: &str,
        role: Role,
        now: i64,
    ) -> Result<String, ApiError> {
        self.sign_claims(&self.claims(user_id, session_id, role, now))
    }
}
