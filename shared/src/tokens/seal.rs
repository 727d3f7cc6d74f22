//! Secrets at rest: values the service must read back (a second factor's shared secret) are
//! stored sealed with AES-256-GCM under a server key, bound to what they belong to.
//!
//! A sealed value is `v1.` and base64url of a random 96-bit nonce followed by the ciphertext
//! and its tag. The context (for example `totp:<user id>`) is authenticated as associated
//! data, so a sealed value copied onto another item does not open there. Random nonces are
//! safe for 2^32 seals per key (NIST SP 800-38D §8.3); one seal per enrolment is far below.

use crate::domain::ids::random_bytes;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::{hkdf, hmac};

/// The format's prefix; a later format (or key) gets another.
const VERSION: &str = "v1.";

/// The server key values are sealed with. Its bytes never appear in `Debug` output.
pub struct SealKey(LessSafeKey);

impl std::fmt::Debug for SealKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealKey(..)")
    }
}

impl SealKey {
    /// A key from exactly 32 bytes (AES-256); `None` for any other length.
    pub fn new(bytes: &[u8]) -> Option<Self> {
        let key = UnboundKey::new(&AES_256_GCM, bytes).ok()?;
        Some(Self(LessSafeKey::new(key)))
    }

    /// `plaintext` sealed for `context`.
    pub fn seal(
        &self,
        context: &str,
        plaintext: &[u8],
    ) -> Result<String, ring::error::Unspecified> {
        let nonce = random_bytes::<NONCE_LEN>()?;
        let mut out = nonce.to_vec();
        let mut body = plaintext.to_vec();
        self.0.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(context.as_bytes()),
            &mut body,
        )?;
        out.extend_from_slice(&body);
        Ok(format!("{VERSION}{}", URL_SAFE_NO_PAD.encode(out)))
    }

    /// The plaintext of `sealed`, if it was sealed under this key for this `context` and has
    /// not been altered; `None` otherwise (the caller cannot tell which, nor needs to).
    pub fn open(&self, context: &str, sealed: &str) -> Option<Vec<u8>> {
        let raw = URL_SAFE_NO_PAD.decode(sealed.strip_prefix(VERSION)?).ok()?;
        if raw.len() < NONCE_LEN {
            return None;
        }
        let (nonce, body) = raw.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut body = body.to_vec();
        let plain = self
            .0
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut body)
            .ok()?;
        Some(plain.to_vec())
    }
}

/// Shortest second-factor secret accepted, in bytes.
pub const MIN_FACTOR_SECRET_BYTES: usize = 32;

/// The dev-only second-factor secret: used only where `APP_ENV=local` and none is configured.
const DEV_ONLY_FACTOR_SECRET: &[u8] = b"dev-only-second-factor-key-not-for-production";

/// The second factor's server keys, both derived (HKDF-SHA-256, RFC 5869) from one secret
/// (`MFA_KEY_SECRET_ARN`): the key TOTP secrets are sealed with, and the key recovery codes
/// are hashed with ([`crate::domain::recovery::hash`]). Never in `Debug` output.
pub struct FactorKeys {
    seal: SealKey,
    recovery: hmac::Key,
}

impl std::fmt::Debug for FactorKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FactorKeys(..)")
    }
}

impl FactorKeys {
    /// The keys derived from `secret`; `None` when it is shorter than
    /// [`MIN_FACTOR_SECRET_BYTES`].
    pub fn new(secret: &[u8]) -> Option<Self> {
        if secret.len() < MIN_FACTOR_SECRET_BYTES {
            return None;
        }
        let prk =
            hkdf::Salt::new(hkdf::HKDF_SHA256, b"device-sessions second factor").extract(secret);
        let seal = UnboundKey::from(prk.expand(&[b"seal v1"], &AES_256_GCM).ok()?);
        let recovery = hmac::Key::from(prk.expand(&[b"recovery v1"], hmac::HMAC_SHA256).ok()?);
        Some(Self {
            seal: SealKey(LessSafeKey::new(seal)),
            recovery,
        })
    }

    /// The dev-only keys (local stack and tests).
    pub fn dev() -> Self {
        Self::new(DEV_ONLY_FACTOR_SECRET)
            .unwrap_or_else(|| unreachable!("the dev secret is long enough"))
    }

    /// Whether `secret` is the dev-only one (refused by a deployed stack).
    pub fn is_dev(secret: &[u8]) -> bool {
        secret == DEV_ONLY_FACTOR_SECRET
    }

    /// The key TOTP secrets are sealed with.
    pub fn seal(&self) -> &SealKey {
        &self.seal
    }

    /// The key recovery codes are hashed with.
    pub fn recovery(&self) -> &hmac::Key {
        &self.recovery
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> SealKey {
        SealKey::new(&[byte; 32]).unwrap()
    }

    #[test]
    fn a_sealed_value_opens_under_its_key_and_context_only() {
        let secret = b"12345678901234567890";
        let sealed = key(1).seal("totp:42", secret).unwrap();
        assert!(sealed.starts_with("v1."));
        assert!(
            !sealed.contains("MTIzNDU2Nzg5MDEyMzQ1Njc4OTA"),
            "not the plaintext"
        );
        assert_eq!(
            key(1).open("totp:42", &sealed).as_deref(),
            Some(&secret[..])
        );
        assert_eq!(key(2).open("totp:42", &sealed), None, "another key");
        assert_eq!(key(1).open("totp:43", &sealed), None, "another user's item");
    }

    #[test]
    fn each_seal_has_its_own_nonce() {
        let a = key(1).seal("totp:42", b"same").unwrap();
        let b = key(1).seal("totp:42", b"same").unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn altered_or_malformed_values_do_not_open() {
        let sealed = key(1).seal("totp:42", b"12345678901234567890").unwrap();
        let mut raw = URL_SAFE_NO_PAD.decode(&sealed[3..]).unwrap();
        for i in [0, NONCE_LEN, raw.len() - 1] {
            raw[i] ^= 1;
            let altered = format!("v1.{}", URL_SAFE_NO_PAD.encode(&raw));
            assert_eq!(key(1).open("totp:42", &altered), None, "byte {i} flipped");
            raw[i] ^= 1;
        }
        let truncated = format!("v1.{}", URL_SAFE_NO_PAD.encode(&raw[..raw.len() - 1]));
        for bad in [
            "",
            "v1.",
            "v1.AAAA",
            "v2.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            &sealed[3..],
            &truncated,
            "v1.!!!!",
        ] {
            assert_eq!(key(1).open("totp:42", bad), None, "{bad:?}");
        }
    }

    #[test]
    fn only_256_bit_keys_are_taken() {
        assert!(SealKey::new(&[0; 31]).is_none());
        assert!(SealKey::new(&[0; 33]).is_none());
        assert!(SealKey::new(&[0; 16]).is_none());
        assert!(SealKey::new(&[0; 32]).is_some());
    }

    #[test]
    fn one_factor_secret_gives_two_distinct_keys_and_a_short_one_none() {
        assert!(FactorKeys::new(&[7; 31]).is_none());
        let keys = FactorKeys::new(&[7; 32]).unwrap();
        let sealed = keys.seal().seal("totp:1", b"secret").unwrap();
        let same = FactorKeys::new(&[7; 32]).unwrap();
        assert_eq!(
            same.seal().open("totp:1", &sealed).as_deref(),
            Some(&b"secret"[..])
        );
        assert_eq!(FactorKeys::dev().seal().open("totp:1", &sealed), None);
        let tag = |k: &FactorKeys| hmac::sign(k.recovery(), b"x").as_ref().to_vec();
        assert_eq!(tag(&keys), tag(&same));
        assert_ne!(tag(&keys), tag(&FactorKeys::dev()));
        assert!(FactorKeys::is_dev(DEV_ONLY_FACTOR_SECRET));
        assert!(!FactorKeys::is_dev(&[7; 32]));
    }
}
