//! Recovery codes: single-use codes for a user who has lost their authenticator, issued ten
//! at a time with the second factor, shown once, stored only as hashes.
//!
//! A code is 10 base32 characters (50 random bits), shown as two groups of five
//! (`abcde-fghij`). People type them back with other case, spaces or dashes; all of that is
//! ignored. Fifty random bits need no slow hash: guessing is limited by the sign-in throttle,
//! and a stolen hash list cannot be searched in useful time, so SHA-256 is what is stored
//! (as for other high-entropy secrets).

use crate::domain::ids::random_bytes;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::digest;

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

/// The stored form of a code (shown or typed): SHA-256 of its normalised characters,
/// base64url. `None` when it cannot be a code.
pub fn hash(code: &str) -> Option<String> {
    let code = normalise(code)?;
    Some(URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, code.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

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
        let h = hash(shown).unwrap();
        for typed in [
            "ABCDE-FGH23",
            "abcdefgh23",
            " abcde fgh23 ",
            "ab-cde-fgh-23",
        ] {
            assert_eq!(hash(typed).as_deref(), Some(h.as_str()), "{typed:?}");
        }
        assert_ne!(hash("abcde-fgh24"), Some(h));
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
            assert_eq!(hash(bad), None, "{bad:?}");
        }
    }
}
