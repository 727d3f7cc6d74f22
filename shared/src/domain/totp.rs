//! Time-based one-time passwords: RFC 6238 (TOTP) on RFC 4226's HOTP, as authenticator apps
//! compute them: HMAC-SHA-1, 6 digits, 30-second steps from the Unix epoch, a secret of 160
//! random bits shown in base32 and as an `otpauth://` URI.
//!
//! What is checked here is pure: which time step a code belongs to within the ±1 step window,
//! and that a step already used is never accepted again. Remembering the last used step (a
//! conditional write) and keeping the secret encrypted are the store's and the service's.

use crate::domain::ids::random_bytes;
use ring::hmac;
use subtle::ConstantTimeEq;

/// Seconds per time step (RFC 6238's default X = 30, what authenticator apps assume).
pub const STEP_SECONDS: i64 = 30;

/// Digits of a code (authenticator apps' default).
pub const DIGITS: u32 = 6;

/// Steps either side of the current one that are still accepted: RFC 6238 §5.2 recommends at
/// most one, for clock drift and the time a person takes to type.
pub const WINDOW: u64 = 1;

/// Bytes of a new secret: 160 bits, the length RFC 4226 §4 recommends and SHA-1's output.
const SECRET_BYTES: usize = 20;

/// The hash under HMAC: RFC 6238 allows SHA-256 and SHA-512; this service issues SHA-1 secrets
/// (the one every authenticator app supports) and the others exist for RFC 6238's test vectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// HMAC-SHA-1: RFC 4226's, and what `otpauth://` URIs default to.
    Sha1,
    /// HMAC-SHA-256.
    Sha256,
    /// HMAC-SHA-512.
    Sha512,
}

impl Algorithm {
    fn hmac(self) -> hmac::Algorithm {
        match self {
            // HMAC-SHA-1 is sound as a PRF; SHA-1's collisions do not reach it (RFC 6238 §5.1
            // and RFC 4226 Appendix A), hence ring's "legacy" name only.
            Algorithm::Sha1 => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            Algorithm::Sha256 => hmac::HMAC_SHA256,
            Algorithm::Sha512 => hmac::HMAC_SHA512,
        }
    }

    fn uri_name(self) -> &'static str {
        match self {
            Algorithm::Sha1 => "SHA1",
            Algorithm::Sha256 => "SHA256",
            Algorithm::Sha512 => "SHA512",
        }
    }
}

/// What a user's sealed secret is bound to ([`crate::tokens::seal`]'s context): their id.
pub fn seal_context(user_id: super::ids::UserId) -> String {
    format!("totp:{user_id}")
}

/// A TOTP shared secret. Its bytes never appear in `Debug` output.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret {
    bytes: Vec<u8>,
    algorithm: Algorithm,
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secret")
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

impl Secret {
    /// A new random HMAC-SHA-1 secret of 160 bits from the operating system's CSPRNG.
    pub fn generate() -> Result<Self, ring::error::Unspecified> {
        Ok(Self::from_bytes(
            random_bytes::<SECRET_BYTES>()?.to_vec(),
            Algorithm::Sha1,
        ))
    }

    /// A secret from its bytes (as stored once decrypted, or a test vector's key).
    pub fn from_bytes(bytes: Vec<u8>, algorithm: Algorithm) -> Self {
        Self { bytes, algorithm }
    }

    /// The secret's bytes, to be encrypted for storage.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// An HMAC-SHA-1 secret from its base32 text (as [`Secret::base32`] writes it); `None`
    /// when it is not base32.
    pub fn from_base32(text: &str) -> Option<Self> {
        let bytes = data_encoding::BASE32_NOPAD.decode(text.as_bytes()).ok()?;
        Some(Self::from_bytes(bytes, Algorithm::Sha1))
    }

    /// The secret as people type it into an authenticator app: RFC 4648 base32, no padding.
    pub fn base32(&self) -> String {
        data_encoding::BASE32_NOPAD.encode(&self.bytes)
    }

    /// The `otpauth://totp/` URI authenticator apps read from a QR code (the Key Uri Format of
    /// Google Authenticator, which the others follow): label `issuer:account`, with the issuer
    /// repeated as a parameter, every part percent-encoded.
    pub fn otpauth_uri(&self, issuer: &str, account: &str) -> String {
        use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
        let issuer = utf8_percent_encode(issuer, NON_ALPHANUMERIC).to_string();
        let account = utf8_percent_encode(account, NON_ALPHANUMERIC);
        format!(
            "otpauth://totp/{issuer}:{account}?secret={}&issuer={issuer}&algorithm={}&digits={DIGITS}&period={STEP_SECONDS}",
            self.base32(),
            self.algorithm.uri_name(),
        )
    }

    /// RFC 4226's HOTP value of `counter`, `digits` long (dynamic truncation, §5.3), as a
    /// zero-padded string.
    pub fn hotp(&self, counter: u64, digits: u32) -> String {
        let key = hmac::Key::new(self.algorithm.hmac(), &self.bytes);
        let mac = hmac::sign(&key, &counter.to_be_bytes());
        let mac = mac.as_ref();
        // The last byte's low nibble picks four bytes; their top bit is dropped.
        let offset = usize::from(mac[mac.len() - 1] & 0x0f);
        let binary = u32::from_be_bytes([
            mac[offset] & 0x7f,
            mac[offset + 1],
            mac[offset + 2],
            mac[offset + 3],
        ]);
        let value = u64::from(binary) % 10u64.pow(digits);
        format!("{value:0width$}", width = digits as usize)
    }

    /// The code for time step `step` ([`step_at`]).
    pub fn code(&self, step: u64) -> String {
        self.hotp(step, DIGITS)
    }

    /// The time step `code` belongs to, if it is this secret's code for the step at `now` or
    /// one step either side ([`WINDOW`]) and that step is later than `last_used` (a code, once
    /// accepted, is never accepted again: RFC 6238 §5.2). Comparisons take the same time
    /// whatever the code. The caller records the returned step as the new `last_used` with a
    /// conditional write, so two requests racing with one code cannot both succeed.
    pub fn verify(&self, code: &str, now: i64, last_used: Option<u64>) -> Option<u64> {
        if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let current = step_at(now)?;
        let mut matched = None;
        // Every step of the window is computed and compared, whichever matches.
        for step in current.saturating_sub(WINDOW)..=current.saturating_add(WINDOW) {
            let ok = self.code(step).as_bytes().ct_eq(code.as_bytes());
            if bool::from(ok) && matched.is_none() {
                matched = Some(step);
            }
        }
        matched.filter(|step| last_used.is_none_or(|used| *step > used))
    }
}

/// The time step of Unix time `now`: RFC 6238's T = (now - T0) / X with T0 = 0; `None` before
/// the epoch.
pub fn step_at(now: i64) -> Option<u64> {
    u64::try_from(now).ok().map(|t| t / STEP_SECONDS as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B's seeds: the ASCII "12345678901234567890" repeated to the hash's
    /// length.
    fn rfc_secret(algorithm: Algorithm) -> Secret {
        let len = match algorithm {
            Algorithm::Sha1 => 20,
            Algorithm::Sha256 => 32,
            Algorithm::Sha512 => 64,
        };
        let bytes = b"1234567890".iter().copied().cycle().take(len).collect();
        Secret::from_bytes(bytes, algorithm)
    }

    #[test]
    fn rfc_6238_appendix_b_test_vectors() {
        // (time, SHA-1, SHA-256, SHA-512), 8 digits, X = 30, T0 = 0.
        let vectors = [
            (59, "94287082", "46119246", "90693936"),
            (1111111109, "07081804", "68084774", "25091201"),
            (1111111111, "14050471", "67062674", "99943326"),
            (1234567890, "89005924", "91819424", "93441116"),
            (2000000000, "69279037", "90698825", "38618901"),
            (20000000000, "65353130", "77737706", "47863826"),
        ];
        for (time, sha1, sha256, sha512) in vectors {
            let step = step_at(time).unwrap();
            assert_eq!(rfc_secret(Algorithm::Sha1).hotp(step, 8), sha1, "{time}");
            assert_eq!(
                rfc_secret(Algorithm::Sha256).hotp(step, 8),
                sha256,
                "{time}"
            );
            assert_eq!(
                rfc_secret(Algorithm::Sha512).hotp(step, 8),
                sha512,
                "{time}"
            );
        }
    }

    #[test]
    fn rfc_4226_appendix_d_hotp_values() {
        let secret = rfc_secret(Algorithm::Sha1);
        let expected = [
            "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583",
            "399871", "520489",
        ];
        for (counter, code) in expected.iter().enumerate() {
            assert_eq!(secret.hotp(counter as u64, 6), *code, "counter {counter}");
        }
    }

    #[test]
    fn a_code_is_accepted_one_step_either_side_and_no_further() {
        let secret = rfc_secret(Algorithm::Sha1);
        let now = 1_234_567_890;
        let step = step_at(now).unwrap();
        for (offset, accepted) in [(-2i64, false), (-1, true), (0, true), (1, true), (2, false)] {
            let at = step.checked_add_signed(offset).unwrap();
            let code = secret.code(at);
            let got = secret.verify(&code, now, None);
            if accepted {
                assert_eq!(got, Some(at), "offset {offset}");
            } else {
                // A code two steps away may collide with one inside the window by chance (1 in
                // 10^6 per step); these vectors do not.
                assert_eq!(got, None, "offset {offset}");
            }
        }
    }

    #[test]
    fn a_used_step_and_every_earlier_one_are_refused() {
        let secret = rfc_secret(Algorithm::Sha1);
        let now = 1_234_567_890;
        let step = step_at(now).unwrap();
        let code = secret.code(step);
        assert_eq!(secret.verify(&code, now, Some(step - 1)), Some(step));
        // Replayed within its window: refused.
        assert_eq!(secret.verify(&code, now, Some(step)), None);
        assert_eq!(secret.verify(&code, now + 30, Some(step)), None);
        // The previous step's code, after the current one was used: refused too.
        assert_eq!(secret.verify(&secret.code(step - 1), now, Some(step)), None);
        // The next step's code is still good.
        assert_eq!(
            secret.verify(&secret.code(step + 1), now, Some(step)),
            Some(step + 1)
        );
    }

    #[test]
    fn a_secret_reads_back_from_its_base32_text() {
        let secret = Secret::generate().unwrap();
        assert_eq!(Secret::from_base32(&secret.base32()), Some(secret));
        assert_eq!(Secret::from_base32("not base32!"), None);
    }

    #[test]
    fn malformed_codes_are_refused_without_a_match() {
        let secret = rfc_secret(Algorithm::Sha1);
        let now = 1_234_567_890;
        let code = secret.code(step_at(now).unwrap());
        for bad in [
            "",
            "12345",
            "1234567",
            " 123456",
            "12345a",
            "１２３４５６",
            &format!("{code} "),
            &format!("+{}", &code[1..]),
        ] {
            assert_eq!(secret.verify(bad, now, None), None, "{bad:?}");
        }
        assert_eq!(secret.verify(&code, -1, None), None, "before the epoch");
    }

    #[test]
    fn new_secrets_are_160_random_bits_in_base32_and_an_otpauth_uri() {
        let a = Secret::generate().unwrap();
        let b = Secret::generate().unwrap();
        assert_eq!(a.as_bytes().len(), 20);
        assert_ne!(a, b);
        assert_eq!(a.base32().len(), 32);
        assert!(!format!("{a:?}").contains(&a.base32()));

        let rfc = rfc_secret(Algorithm::Sha1);
        assert_eq!(rfc.base32(), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        assert_eq!(
            rfc.otpauth_uri("Device Sessions", "jane@example.com"),
            "otpauth://totp/Device%20Sessions:jane%40example%2Ecom?\
             secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Device%20Sessions&\
             algorithm=SHA1&digits=6&period=30"
        );
    }
}
