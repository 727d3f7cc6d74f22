//! Credentials: email normalisation, the password policy, and argon2id hashing.

use crate::error::ApiError;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};

/// Password length bounds, in characters (ASVS 5.0 6.2.1 / 6.2.9).
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Longest password accepted.
pub const MAX_PASSWORD_CHARS: usize = 128;
/// Longest email accepted (RFC 5321 path limit).
pub const MAX_EMAIL_LEN: usize = 254;

/// The most common passwords that fit the length policy, one per line, lower case: the 11,611
/// of 8 to 128 characters among the 30,000 most common of the xato.net corpus (see
/// `shared/data/passwords/README.md`). Only the binaries that call [`check_password_policy`]
/// keep it (link-time optimisation drops it from the others).
static COMMON_PASSWORDS: &str = include_str!("../data/passwords/common-passwords.txt");

/// Whether `lower` (already lower-cased) is one of [`COMMON_PASSWORDS`]. A scan of about
/// 100 KB: some microseconds, next to the tens of milliseconds of the argon2 hash that follows.
fn is_common(lower: &str) -> bool {
    COMMON_PASSWORDS.lines().any(|p| p == lower)
}

/// Normalises and validates an email: trimmed, lower-cased, a plain `local@domain.tld` of at
/// most 254 bytes without quoting, whitespace or control characters.
pub fn normalise_email(raw: &str) -> Result<String, ApiError> {
    let email = raw.trim().to_lowercase();
    let invalid = || ApiError::bad_request("email is not a valid address", "invalid_email");
    if email.is_empty() || email.len() > MAX_EMAIL_LEN {
        return Err(invalid());
    }
    let (local, domain) = email.rsplit_once('@').ok_or_else(invalid)?;
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if local_ok && domain_ok && email_address::EmailAddress::is_valid(&email) {
        Ok(email)
    } else {
        Err(invalid())
    }
}

/// Checks a new password against the policy: 8 to 128 characters, not one of the most common.
pub fn check_password_policy(password: &str) -> Result<(), ApiError> {
    let chars = password.chars().count();
    if !(MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&chars) {
        return Err(ApiError::bad_request(
            format!(
                "password must be {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters long"
            ),
            "invalid_password",
        ));
    }
    if is_common(&password.to_lowercase()) {
        return Err(ApiError::bad_request(
            "this password is too common; choose another",
            "common_password",
        ));
    }
    Ok(())
}

/// Hashes and verifies passwords with argon2id.
#[derive(Clone)]
pub struct PasswordHashing {
    argon2: Argon2<'static>,
}

impl std::fmt::Debug for PasswordHashing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordHashing(argon2id)")
    }
}

impl PasswordHashing {
    /// argon2id with `memory_kib` of memory and `iterations` passes, one lane. The default
    /// (9 MiB, 4 passes) is one of OWASP's equivalent minimum configurations (with 19 MiB / 2,
    /// 12 MiB / 3 and 7 MiB / 5): the same work, less memory held per sign-in.
    pub fn new(memory_kib: u32, iterations: u32) -> Result<Self, String> {
        let params = Params::new(memory_kib, iterations, 1, None).map_err(|e| e.to_string())?;
        return_large_blocks_to_the_system();
        Ok(Self {
            argon2: Argon2::new(Algorithm::Argon2id, Version::V0x13, params),
        })
    }

    /// A PHC string (`$argon2id$v=19$...`) with a fresh random salt.
    pub fn hash(&self, password: &str) -> Result<String, ApiError> {
        self.argon2
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| ApiError::internal(e.to_string()))
    }

    /// Whether `password` matches the PHC string (with the parameters stored in it).
    pub fn verify(&self, password: &str, phc: &str) -> bool {
        self.argon2
            .verify_password(password.as_bytes(), phc)
            .is_ok()
    }

    /// Spends the time of a real verification, for sign-ins with an unknown email, so that
    /// response time does not tell which emails exist: a verification is a hash with the same
    /// parameters and a comparison.
    pub fn verify_dummy(&self, password: &str) {
        let _ = self.argon2.hash_password(password.as_bytes());
    }
}

/// Makes large allocations (argon2's memory block) come from `mmap` and go back to the system
/// when freed. glibc otherwise raises its threshold after the first such block is freed and
/// serves the next ones from the heap, where they fragment it: a warm sign-in function grew to
/// 155 MB over 1,000 requests (`make bench`).
fn return_large_blocks_to_the_system() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            // SAFETY: mallopt only changes the allocator's settings and may be called at any
            // time; a fixed threshold also turns off glibc's dynamic one.
            unsafe {
                libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised() {
        assert_eq!(
            normalise_email("  Jane.Doe@Example.COM ").unwrap(),
            "jane.doe@example.com"
        );
        assert_eq!(
            normalise_email("a+tag@sub.example.org").unwrap(),
            "a+tag@sub.example.org"
        );
    }

    #[test]
    fn bad_emails_are_refused() {
        for bad in [
            "",
            "plain",
            "@example.com",
            "jane@",
            "jane@localhost",
            "jane doe@example.com",
            "jane@exa mple.com",
            "\"quoted\"@example.com",
            "jane..doe@example.com",
            ".jane@example.com",
            "jane@-example.com",
            "jane@example..com",
            "jane\u{0}@example.com",
            "jäne@example.com",
        ] {
            assert!(normalise_email(bad).is_err(), "{bad:?}");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(normalise_email(&long).is_err());
    }

    #[test]
    fn password_policy() {
        assert!(check_password_policy("correct horse battery").is_ok());
        assert!(check_password_policy("short").is_err());
        assert!(check_password_policy(&"x".repeat(129)).is_err());
        assert!(
            check_password_policy(&"é".repeat(128)).is_ok(),
            "characters, not bytes"
        );
        for common in [
            "password",
            "PASSWORD",
            "12345678",
            "iloveyou",
            "qwerty123",
            "q1w2e3r4t5",
            "trustno1",
        ] {
            let err = check_password_policy(common).unwrap_err();
            assert_eq!(err.code(), "common_password", "{common}");
        }
    }

    #[test]
    fn the_common_list_covers_ten_thousand_that_fit_the_length_policy() {
        let listed: Vec<&str> = COMMON_PASSWORDS.lines().collect();
        assert!(listed.len() >= 10_000, "{}", listed.len());
        for p in &listed {
            let chars = p.chars().count();
            assert!(
                (MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&chars),
                "{p:?}"
            );
            assert_eq!(*p, p.to_lowercase(), "lower case: {p:?}");
        }
        // Deep in the list, and its last entry, are refused like the first.
        for p in [listed[5_000], listed[9_999], listed[listed.len() - 1]] {
            assert_eq!(
                check_password_policy(p).unwrap_err().code(),
                "common_password"
            );
        }
    }

    #[test]
    fn hashes_made_with_other_parameters_still_verify() {
        // Users who signed up under earlier settings (e.g. 19 MiB / 2 passes) keep signing
        // in: the parameters travel in the PHC string.
        let old = PasswordHashing::new(2048, 1)
            .unwrap()
            .hash("tr0ub4dor&3")
            .unwrap();
        let now = PasswordHashing::new(1024, 2).unwrap();
        assert!(now.verify("tr0ub4dor&3", &old));
        assert!(!now.verify("tr0ub4dor&4", &old));
    }

    #[test]
    fn hashes_verify_and_differ() {
        let h = PasswordHashing::new(1024, 1).unwrap();
        let a = h.hash("correct horse battery").unwrap();
        let b = h.hash("correct horse battery").unwrap();
        assert!(a.starts_with("$argon2id$v=19$"));
        assert_ne!(a, b, "salted");
        assert!(h.verify("correct horse battery", &a));
        assert!(!h.verify("wrong horse battery", &a));
        assert!(!h.verify("x", "not a phc string"));
    }
}
