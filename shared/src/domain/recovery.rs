//! Recovery codes: single-use codes for a user who has lost their authenticator, issued ten
//! at a time with the second factor, shown once, stored only as keyed hashes.
//!
//! A code is 10 base32 characters (50 random bits), shown as two groups of five
//! (`abcde-fghij`). People type them back with other case, spaces or dashes; all of that is
//! ignored. What is stored is HMAC-SHA-256 under a server key of the user's id and the code:
//! a copy of the users table alone gives nothing to search (50 bits of plain SHA-256 would
//! fall to a GPU in hours), and one user's hashes say nothing about another's. Online
//! guessing is for the route that accepts them to limit, with the sign-in throttle.

use crate::domain::UserId;
use crate::domain::ids::random_bytes;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::hmac;

/// Codes issued at a time.
pub const CODES: usize = 10;

/// Characters of a code, without separators.
const LEN: usize = 10;

/// A new set of [`CODES`] codes, as shown to the user once.
pub fn generate() -> Result<Vec<String>, ring::error::Unspecified> {
    (0..CODES)
        .map(|_| {
            // 50 bits are encoded from 7 random bytes, of which the first 10 characters
            // (5 bits each) are kept.
            let text = data_encoding::BASE32_NOPAD.encode(&random_bytes::<7>()?);
            let code = text[..LEN].to_ascii_lowercase();
            Ok(format!("{}-{}", &code[..5], &code[5..]))
        })
        .collect()
}

/// A code as typed, reduced to its characters (lower case, no spaces or dashes), or `None`
/// when it cannot be a code.
pub fn normalise(typed: &str) -> Option<String> {
    let code: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let alphabet = |c: char| c.is_ascii_lowercase() || ('2'..='7').contains(&c);
    (code.len() == LEN && code.chars().all(alphabet)).then_some(code)
}

/// The stored form of a code (shown or typed) of `user_id`: HMAC-SHA-256 under `key` of the
/// user's id and the code's normalised characters, base64url. `None` when it cannot be a code.
pub fn hash(key: &hmac::Key, user_id: UserId, code: &str) -> Option<String> {
    let code = normalise(code)?;
    let tag = hmac::sign(key, format!("recovery:{user_id}:{code}").as_bytes());
    Some(URL_SAFE_NO_PAD.encode(tag))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    const JANE: UserId = UserId::of(74);

    fn key(byte: u8) -> hmac::Key {
        hmac::Key::new(hmac::HMAC_SHA256, &[byte; 32])
    }

    #[test]
    fn a_set_is_ten_distinct_codes_in_two_groups_of_five() {
        let codes = generate().unwrap();
        assert_eq!(codes.len(), CODES);
        assert_eq!(codes.iter().collect::<HashSet<_>>().len(), CODES);
        for code in &codes {
            assert_eq!(code.len(), 11, "{code}");
            assert_eq!(&code[5..6], "-", "{code}");
            assert!(normalise(code).is_some(), "{code}");
        }
        assert_ne!(generate().unwrap(), codes);
    }

    #[test]
    fn a_code_typed_with_other_case_spaces_or_dashes_has_the_same_hash() {
        let shown = "abcde-fgh23";
        let h = hash(&key(1), JANE, shown).unwrap();
        for typed in [
            "ABCDE-FGH23",
            "abcdefgh23",
            " abcde fgh23 ",
            "ab-cde-fgh-23",
        ] {
            assert_eq!(
                hash(&key(1), JANE, typed).as_deref(),
                Some(h.as_str()),
                "{typed:?}"
            );
        }
        assert_ne!(hash(&key(1), JANE, "abcde-fgh24").unwrap(), h);
    }

    #[test]
    fn the_hash_depends_on_the_server_key_and_the_user() {
        let h = hash(&key(1), JANE, "abcde-fgh23").unwrap();
        assert_ne!(
            hash(&key(2), JANE, "abcde-fgh23").unwrap(),
            h,
            "another key"
        );
        assert_ne!(
            hash(&key(1), UserId::of(75), "abcde-fgh23").unwrap(),
            h,
            "another user"
        );
    }

    #[test]
    fn what_cannot_be_a_code_has_no_hash() {
        for bad in [
            "",
            "abcde",
            "abcde-fghij-k",
            "abcde-fgh18",
            "abcde_fgh23",
            "abcdé-fgh23",
            "123456",
        ] {
            assert_eq!(hash(&key(1), JANE, bad), None, "{bad:?}");
        }
    }
}
