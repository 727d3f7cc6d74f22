//! Verifying access tokens (RFC 8725): the algorithm is pinned to EdDSA, the header must name
//! a known `kid` and the explicit type `at+jwt`, headers that point at other keys (`jku`, `x5u`,
//! `jwk`, `x5c`) or demand extensions (`crit`) are refused and never followed, and `iss`,
//! `aud`, `exp` and `nbf` are checked. A valid signature is not enough: every request also reads
//! the session item ([`crate::auth`]), so a session ended a moment ago is refused on its next
//! request.

use crate::config::TokenConfig;
use crate::domain::UserId;
use crate::domain::ids::is_session_id;
use crate::domain::{Aal, Amr, Role};
use crate::error::{ApiError, StartupError};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use lambda_http::http::HeaderMap;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Mutex;

/// The explicit JWT type of access tokens (RFC 9068).
pub const ACCESS_TOKEN_TYPE: &str = "at+jwt";

/// Longest `Authorization` header value looked at.
const MAX_TOKEN_LEN: usize = 4096;

/// The claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// The user id, as a decimal string.
    pub sub: String,
    /// The session id.
    pub sid: String,
    /// The role when the token was issued (authorisation re-reads the users table).
    pub role: Role,
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// Not before (Unix seconds).
    pub nbf: i64,
    /// Expiry (Unix seconds).
    pub exp: i64,
    /// Unique token id.
    pub jti: String,
    /// When the user last proved their password in this session (OIDC `auth_time`). The
    /// server checks the session item's copy, which re-authentication moves forward at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    /// The user's credential epoch the token was issued in (see
    /// [`crate::domain::User::credential_epoch`]).
    #[serde(default)]
    pub cep: u64,
    /// The global epoch the session was started in (see [`crate::domain::Cutoffs`]).
    #[serde(default)]
    pub gep: u64,
    /// The session's refresh-token generation when the token was issued: orders tokens against
    /// re-authentications exactly, where `iat` has whole seconds only.
    #[serde(default)]
    pub rgen: u64,
    /// The session's assurance level when the token was issued (informational: policy reads
    /// the session item's copy).
    #[serde(default = "aal1")]
    pub aal: Aal,
    /// How the session was authenticated (RFC 8176 `amr`).
    #[serde(default = "crate::domain::assurance::password_only")]
    pub amr: Vec<Amr>,
}

fn aal1() -> Aal {
    Aal::Aal1
}

/// What a verified token says about its bearer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bearer {
    /// The user.
    pub user_id: UserId,
    /// The session the token belongs to.
    pub session_id: String,
    /// The role claim (informational; admin checks read the users table).
    pub role: Role,
    /// When the token was issued (`iat`).
    pub issued_at: i64,
    /// When the token expires (`exp`).
    pub expires_at: i64,
    /// The session's refresh-token generation at issue (`rgen`): only tokens issued at or after
    /// the session's latest sign-in count as a recent sign-in.
    pub generation: u64,
    /// The credential epoch the token was issued in (`cep`).
    pub credential_epoch: u64,
    /// The global epoch of the token's session (`gep`).
    pub global_epoch: u64,
}

pub(super) fn unauthorized(detail: &'static str, code: &'static str) -> ApiError {
    ApiError::Unauthorized { detail, code }
}

fn invalid_token() -> ApiError {
    unauthorized("Could not validate credentials.", "invalid_token")
}

/// Verifies access tokens against the configured public keys.
pub struct TokenVerifier {
    keys: HashMap<String, DecodingKey>,
    validation: Validation,
    /// Longest `exp - iat` accepted: the configured lifetime plus the leeway.
    max_lifetime_seconds: i64,
    /// Tokens this process has verified, with their expiry. A warm function that sees a token
    /// again (an admin panel paging and refreshing, a client polling its sessions) skips the
    /// signature check, the largest part of a request's own CPU. Sound because a token's
    /// validity depends on nothing that changes in a process's life but the clock: the keys
    /// are fixed at cold start and revocation is decided by the session item on every request.
    verified: Mutex<HashMap<Box<str>, (Bearer, i64)>>,
}

/// Verified tokens remembered per process (a few hundred bytes each).
const VERIFIED_CAPACITY: usize = 256;

impl std::fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenVerifier")
            .field("kids", &self.keys.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl TokenVerifier {
    /// A verifier for the configured keys, issuer and audience.
    pub fn new(cfg: &TokenConfig) -> Result<Self, StartupError> {
        crate::tokens::crypto::install();
        let mut keys = HashMap::new();
        for jwk in &cfg.public_keys.keys {
            let key =
                DecodingKey::from_ed_components(&jwk.x).map_err(|e| StartupError::Invalid {
                    name: "JWT_PUBLIC_KEYS",
                    reason: format!("key {:?}: {e}", jwk.kid),
                })?;
            keys.insert(jwk.kid.clone(), key);
        }
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[&cfg.issuer]);
        validation.set_audience(&[&cfg.audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "aud", "sub"]);
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.leeway = cfg.leeway_seconds;
        Ok(Self {
            keys,
            validation,
            max_lifetime_seconds: cfg.max_lifetime_seconds + cfg.leeway_seconds as i64,
            verified: Mutex::new(HashMap::new()),
        })
    }

    /// Verifies a compact JWT and returns its bearer.
    pub fn verify(&self, token: &str) -> Result<Bearer, ApiError> {
        if token.is_empty() || token.len() > MAX_TOKEN_LEN {
            return Err(invalid_token());
        }
        let now = crate::domain::time::now_epoch();
        let earliest_exp = now.saturating_sub(self.validation.leeway as i64);
        if let Some(bearer) = self.remembered(token, earliest_exp) {
            return Ok(bearer);
        }
        let (bearer, exp) = self.verify_signed(token)?;
        self.remember(token, &bearer, exp, earliest_exp);
        Ok(bearer)
    }

    /// A token verified before that has not expired since (the same rule as `exp` below).
    fn remembered(&self, token: &str, earliest_exp: i64) -> Option<Bearer> {
        let verified = self.verified.lock().ok()?;
        verified
            .get(token)
            .filter(|(_, exp)| *exp >= earliest_exp)
            .map(|(bearer, _)| bearer.clone())
    }

    fn remember(&self, token: &str, bearer: &Bearer, exp: i64, earliest_exp: i64) {
        let Ok(mut verified) = self.verified.lock() else {
            return;
        };
        if verified.len() >= VERIFIED_CAPACITY {
            verified.retain(|_, (_, exp)| *exp >= earliest_exp);
            if verified.len() >= VERIFIED_CAPACITY {
                verified.clear();
            }
        }
        verified.insert(token.into(), (bearer.clone(), exp));
    }

    /// The full check: header, key, signature and claims.
    fn verify_signed(&self, token: &str) -> Result<(Bearer, i64), ApiError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| invalid_token())?;
        if header.alg != Algorithm::EdDSA
            || header.typ.as_deref() != Some(ACCESS_TOKEN_TYPE)
            || header.jku.is_some()
            || header.x5u.is_some()
            || header.jwk.is_some()
            || header.x5c.is_some()
            || header.crit.is_some()
        {
            return Err(invalid_token());
        }
        let key = header
            .kid
            .as_deref()
            .and_then(|kid| self.keys.get(kid))
            .ok_or_else(invalid_token)?;
        let data = jsonwebtoken::decode::<AccessClaims>(token, key, &self.validation).map_err(
            |e| match e.kind() {
                ErrorKind::ExpiredSignature => {
                    unauthorized("The access token has expired.", "token_expired")
                }
                _ => invalid_token(),
            },
        )?;
        let claims = data.claims;
        let user_id = UserId::parse(&claims.sub).ok_or_else(invalid_token)?;
        // A token that lives longer than this service issues them was not made by it (or by a
        // signer configured differently): refused, however valid its signature.
        if !is_session_id(&claims.sid)
            || claims.exp.saturating_sub(claims.iat) > self.max_lifetime_seconds
        {
            return Err(invalid_token());
        }
        let bearer = Bearer {
            user_id,
            session_id: claims.sid,
            role: claims.role,
            issued_at: claims.iat,
            expires_at: claims.exp,
            credential_epoch: claims.cep,
            global_epoch: claims.gep,
            generation: claims.rgen,
        };
        Ok((bearer, claims.exp))
    }

    /// Finds and verifies the bearer token of a request (`Authorization: Bearer <jwt>`).
    pub fn verify_headers(&self, headers: &HeaderMap) -> Result<Bearer, ApiError> {
        let mut values = headers
            .get_all(lambda_http::http::header::AUTHORIZATION)
            .iter();
        let (Some(value), None) = (values.next(), values.next()) else {
            return Err(unauthorized("Not authenticated.", "not_authenticated"));
        };
        let value = value.to_str().map_err(|_| invalid_token())?;
        let (scheme, token) = value.split_once(' ').ok_or_else(invalid_token)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(unauthorized("Not authenticated.", "not_authenticated"));
        }
        self.verify(token.trim())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::TokenSigner;
    use crate::tokens::keys::SigningKey;
    use crate::tokens::keys::{JwkSet, dev_signing_key};
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    const SID: &str = "abcdefghijklmnopqrstuvwxyz0";

    fn config(keys: &[&SigningKey]) -> TokenConfig {
        TokenConfig {
            issuer: "iss-test".into(),
            audience: "aud-test".into(),
            public_keys: JwkSet {
                keys: keys.iter().map(|k| k.public_jwk()).collect(),
            },
            leeway_seconds: 0,
            max_lifetime_seconds: 900,
        }
    }

    fn now() -> i64 {
        crate::domain::time::now_epoch()
    }

    fn b64(json: &str) -> String {
        URL_SAFE_NO_PAD.encode(json)
    }

    #[test]
    fn remembers_verified_tokens_until_they_expire() {
        let key = SigningKey::generate("k1").unwrap();
        let cfg = config(&[&key]);
        let signer = TokenSigner::new(&key, &cfg, 900);
        let verifier = TokenVerifier::new(&cfg).unwrap();
        let token = signer
            .issue(UserId::of(74), SID, Role::Admin, now())
            .unwrap();
        let first = verifier.verify(&token).unwrap();
        assert_eq!(verifier.verify(&token).unwrap(), first, "from memory");
        assert_eq!(verifier.verified.lock().unwrap().len(), 1);

        // What is remembered is used: a token only remembered (never signed) passes while its
        // expiry holds, and once it has passed the full check runs again and refuses it.
        let forged = format!("{token}x");
        assert!(
            verifier.verify(&forged).is_err(),
            "a bad signature is not remembered"
        );
        verifier.remember(&forged, &first, now() + 60, now());
        assert_eq!(verifier.verify(&forged).unwrap(), first);
        verifier.remember(&forged, &first, now() - 1, now());
        assert!(
            verifier.verify(&forged).is_err(),
            "expired: checked in full again"
        );

        // Bounded: expired entries go first, then everything.
        for i in 0..(VERIFIED_CAPACITY * 2) {
            verifier.remember(&format!("t{i}"), &first, now() + 60, now());
            assert!(verifier.verified.lock().unwrap().len() <= VERIFIED_CAPACITY);
        }
    }

    #[test]
    fn accepts_a_good_token() {
        let key = SigningKey::generate("k1").unwrap();
        let cfg = config(&[&key]);
        let signer = TokenSigner::new(&key, &cfg, 900);
        let verifier = TokenVerifier::new(&cfg).unwrap();
        let token = signer
            .issue(UserId::of(74), SID, Role::Admin, now())
            .unwrap();
        let bearer = verifier.verify(&token).unwrap();
        assert_eq!(bearer.user_id, UserId::of(74));
        assert_eq!(bearer.session_id, SID);
        assert_eq!(bearer.role, Role::Admin);
        // The dev key works the same way.
        let dev = dev_signing_key();
        let dev_cfg = config(&[&dev]);
        let token = TokenSigner::new(&dev, &dev_cfg, 900)
            .issue(UserId::of(1), SID, Role::Admin, now())
            .unwrap();
        assert!(TokenVerifier::new(&dev_cfg).unwrap().verify(&token).is_ok());
    }

    #[test]
    fn several_keys_verify_during_rotation() {
        let old = SigningKey::generate("old").unwrap();
        let new = SigningKey::generate("new").unwrap();
        let cfg = config(&[&old, &new]);
        let verifier = TokenVerifier::new(&cfg).unwrap();
        for key in [&old, &new] {
            let token = TokenSigner::new(key, &cfg, 900)
                .issue(UserId::of(1), SID, Role::User, now())
                .unwrap();
            assert!(verifier.verify(&token).is_ok());
        }
    }

    fn code_of(result: Result<Bearer, ApiError>) -> &'static str {
        match result {
            Err(e) => {
                assert_eq!(e.status(), 401);
                e.code()
            }
            Ok(b) => panic!("accepted: {b:?}"),
        }
    }

    #[test]
    fn rejects_every_bad_token() {
        let key = SigningKey::generate("k1").unwrap();
        let other = SigningKey::generate("k1").unwrap();
        let cfg = config(&[&key]);
        let verifier = TokenVerifier::new(&cfg).unwrap();
        let signer = TokenSigner::new(&key, &cfg, 900);
        let good = signer.claims(UserId::of(74), SID, Role::Admin, now());
        let sign = |c: &AccessClaims| signer.sign_claims(c).unwrap();

        // Expired, with its own code.
        let mut c = good.clone();
        c.exp = now() - 10;
        assert_eq!(code_of(verifier.verify(&sign(&c))), "token_expired");

        let mut cases: Vec<(&str, String)> = Vec::new();
        let mut c = good.clone();
        c.nbf = now() + 600;
        cases.push(("nbf in the future", sign(&c)));
        let mut c = good.clone();
        c.aud = "someone-else".into();
        cases.push(("wrong aud", sign(&c)));
        let mut c = good.clone();
        c.iss = "someone-else".into();
        cases.push(("wrong iss", sign(&c)));
        let mut c = good.clone();
        c.sub = "0".into();
        cases.push(("sub not a user id", sign(&c)));
        let mut c = good.clone();
        c.sid = "not-a-session".into();
        cases.push(("sid malformed", sign(&c)));
        // Signed with the right key, but living longer than this service issues tokens: an
        // hour where the configured lifetime is 15 minutes (a leaked signer, a misconfigured
        // issuer).
        let mut c = good.clone();
        c.exp = c.iat + 3600;
        cases.push(("exp - iat above the lifetime", sign(&c)));
        // Signed by another key under a known kid.
        let forged = TokenSigner::new(&other, &cfg, 900)
            .sign_claims(&good)
            .unwrap();
        cases.push(("wrong key", forged));
        // Unknown kid.
        let stranger = SigningKey::generate("k9").unwrap();
        cases.push((
            "unknown kid",
            TokenSigner::new(&stranger, &cfg, 900)
                .sign_claims(&good)
                .unwrap(),
        ));
        // alg none and its case variants, unsigned.
        let payload = b64(&serde_json::to_string(&good).unwrap());
        for alg in ["none", "None", "NONE", "nOnE"] {
            let header = b64(&format!(r#"{{"alg":"{alg}","typ":"at+jwt","kid":"k1"}}"#));
            cases.push(("alg none", format!("{header}.{payload}.")));
        }
        // HS256 "signed" with the public key as the HMAC secret (key confusion).
        // Built by hand: the provider refuses to make HMAC signatures at all.
        let public = URL_SAFE_NO_PAD.decode(&key.public_jwk().x).unwrap();
        let body = format!(
            "{}.{payload}",
            b64(r#"{"alg":"HS256","typ":"at+jwt","kid":"k1"}"#)
        );
        let mac = ring::hmac::sign(
            &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &public),
            body.as_bytes(),
        );
        let confused = format!("{body}.{}", URL_SAFE_NO_PAD.encode(mac.as_ref()));
        cases.push(("HS256 with the public key", confused));
        // Tampered payload: same signature, other subject.
        let token = sign(&good);
        let parts: Vec<&str> = token.split('.').collect();
        let mut evil = good.clone();
        evil.sub = "1".into();
        let tampered = format!(
            "{}.{}.{}",
            parts[0],
            b64(&serde_json::to_string(&evil).unwrap()),
            parts[2]
        );
        cases.push(("tampered payload", tampered));
        // Headers that point elsewhere for keys, or want extensions.
        for extra in [
            r#""jku":"https://evil.example/jwks.json""#,
            r#""x5u":"https://evil.example/cert.pem""#,
            r#""crit":["exp"]"#,
        ] {
            let header = b64(&format!(
                r#"{{"alg":"EdDSA","typ":"at+jwt","kid":"k1",{extra}}}"#
            ));
            let body = format!("{header}.{payload}");
            cases.push(("key-pointing header", format!("{body}.{}", parts[2])));
        }
        // Wrong or missing typ.
        let header = b64(r#"{"alg":"EdDSA","kid":"k1"}"#);
        cases.push(("no typ", format!("{header}.{payload}.{}", parts[2])));
        // Garbage.
        for junk in ["", "abc", "a.b.c", "....", &"x".repeat(5000)] {
            cases.push(("garbage", junk.to_owned()));
        }
        for (name, token) in cases {
            assert_eq!(code_of(verifier.verify(&token)), "invalid_token", "{name}");
        }
        // And the good one still passes.
        assert!(verifier.verify(&sign(&good)).is_ok());
    }

    #[test]
    fn bearer_header_parsing() {
        let key = SigningKey::generate("k1").unwrap();
        let cfg = config(&[&key]);
        let verifier = TokenVerifier::new(&cfg).unwrap();
        let token = TokenSigner::new(&key, &cfg, 900)
            .issue(UserId::of(7), SID, Role::User, now())
            .unwrap();
        let mut headers = HeaderMap::new();
        assert_eq!(
            code_of(verifier.verify_headers(&headers)),
            "not_authenticated"
        );
        headers.insert("authorization", format!("Basic {token}").parse().unwrap());
        assert_eq!(
            code_of(verifier.verify_headers(&headers)),
            "not_authenticated"
        );
        headers.insert("authorization", format!("bearer {token}").parse().unwrap());
        assert_eq!(
            verifier.verify_headers(&headers).unwrap().user_id,
            UserId::of(7)
        );
        headers.append("authorization", format!("Bearer {token}").parse().unwrap());
        assert_eq!(
            code_of(verifier.verify_headers(&headers)),
            "not_authenticated"
        );
    }
}
