//! Client-supplied text kept for display: session labels, device names sent by native apps,
//! display names and CloudFront's city names. An admin reads these in the panel, so what is
//! stored must show what it is: no characters that reorder or hide text, one spelling per
//! string, no marks stacked to spill over neighbouring lines.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

/// Most combining marks kept on one base character. Real text needs few (Vietnamese stacks
/// two, some Indic, Hebrew and Arabic text three); "Zalgo" text stacks dozens.
pub const MAX_COMBINING_MARKS: usize = 3;

/// Whether a character is dropped outright: controls (Cc), format characters (Cf: the bidi
/// controls U+202A–U+202E and U+2066–U+2069, the marks U+200E/U+200F, zero-width U+200B–U+200D,
/// U+2060, the BOM, tag characters), line and paragraph separators and private-use characters.
fn dropped(c: char) -> bool {
    matches!(
        c.general_category(),
        GeneralCategory::Control
            | GeneralCategory::Format
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
            | GeneralCategory::PrivateUse
    )
}

/// Cleans client-supplied text for storage and display: drops the characters above, turns
/// every run of whitespace into one space, normalises to NFC, keeps at most
/// [`MAX_COMBINING_MARKS`] combining marks per base character, trims, and keeps at most
/// `max_chars` characters. `None` when nothing is left.
///
/// Emoji joined with U+200D (a format character) come apart into their parts: the price of
/// refusing every zero-width character.
pub fn clean(raw: Option<&str>, max_chars: usize) -> Option<String> {
    let mut spaced = String::with_capacity(raw?.len());
    let mut pending_space = false;
    for c in raw?.chars() {
        if c.is_whitespace() {
            pending_space = true;
        } else if !dropped(c) {
            if pending_space && !spaced.is_empty() {
                spaced.push(' ');
            }
            pending_space = false;
            spaced.push(c);
        }
    }
    let mut out = String::with_capacity(spaced.len());
    let mut marks = 0;
    for c in spaced.nfc() {
        if is_combining_mark(c) {
            marks += 1;
            if marks > MAX_COMBINING_MARKS {
                continue;
            }
        } else {
            marks = 0;
        }
        out.push(c);
    }
    let out: String = out.chars().take(max_chars).collect();
    let out = out.trim();
    (!out.is_empty()).then(|| out.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> Option<String> {
        clean(Some(s), 64)
    }

    #[test]
    fn bidi_controls_and_zero_width_characters_are_dropped() {
        // "work laptop" that displays as "work pot..." with a right-to-left override.
        assert_eq!(
            c("work \u{202E}pot\u{202C}pal").as_deref(),
            Some("work potpal")
        );
        assert_eq!(
            c("\u{2066}admin\u{2069}\u{200B}\u{200C}\u{200D}\u{2060}\u{FEFF}").as_deref(),
            Some("admin")
        );
        assert_eq!(c("a\u{200E}b\u{200F}c\u{061C}d").as_deref(), Some("abcd"));
        // Tag characters, separators, private use and controls.
        assert_eq!(
            c("x\u{E0041}\u{2028}\u{2029}\u{E000}\u{7}y").as_deref(),
            Some("x y")
        );
        assert_eq!(c("\u{202E}\u{200B}"), None);
    }

    #[test]
    fn whitespace_runs_become_one_space() {
        assert_eq!(
            c("  Chrome\u{00A0}\u{3000} on\t\nWindows ").as_deref(),
            Some("Chrome on Windows")
        );
    }

    #[test]
    fn text_is_nfc_normalised() {
        // "é" as e + U+0301 and as U+00E9 are stored the same way.
        assert_eq!(c("Caf\u{0065}\u{0301}"), c("Caf\u{00E9}"));
        assert_eq!(c("Caf\u{0065}\u{0301}").as_deref(), Some("Café"));
    }

    #[test]
    fn stacked_combining_marks_are_capped() {
        let zalgo = format!("a{}b", "\u{0301}\u{0316}\u{0324}\u{0331}".repeat(10));
        let cleaned = c(&zalgo).unwrap();
        assert_eq!(cleaned.chars().count(), 2 + MAX_COMBINING_MARKS);
        // Real text keeps its marks: Vietnamese, Hindi.
        assert_eq!(c("Việt Nam").as_deref(), Some("Việt Nam"));
        assert_eq!(c("हिन्दी").as_deref(), Some("हिन्दी"));
    }

    #[test]
    fn length_is_capped_in_characters() {
        assert_eq!(
            clean(Some(&"ä".repeat(100)), 64).unwrap().chars().count(),
            64
        );
        assert_eq!(clean(None, 64), None);
        assert_eq!(c("   "), None);
        // Emoji stay.
        assert_eq!(c("📱 phone").as_deref(), Some("📱 phone"));
    }
}
