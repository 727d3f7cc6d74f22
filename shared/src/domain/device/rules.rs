//! uap-core's rules, matched as uap-core specifies: the first rule (in file order) whose regex
//! matches anywhere in the User-Agent wins, and each field is its replacement (with `$1`…`$9`
//! filled from the match's groups) or else the group of its position.
//!
//! Memory is the reason this is not one compiled regex per rule (what the `ua-parser` crate
//! does, about 11 MB resident for the browser and OS rules): each rule set is compiled into one
//! multi-pattern regex without capture groups that only says which rules match (about 1.1 MB),
//! and the winning rule alone is compiled again, with its groups, to read them. The compiling
//! itself allocates several MB that are freed at once; the caller hands them back to the system.

use regex_automata::nfa::thompson::WhichCaptures;
use regex_automata::util::captures::Captures;
use regex_automata::{Input, MatchKind, PatternSet, meta};
use serde::Deserialize;

/// One rule as uap-core's `regexes.yaml` writes it (the fields this service reads).
#[derive(Debug, Deserialize)]
pub struct RuleSpec {
    regex: String,
    #[serde(default)]
    family_replacement: Option<String>,
    #[serde(default)]
    os_replacement: Option<String>,
    #[serde(default)]
    os_v1_replacement: Option<String>,
    #[serde(default)]
    os_v2_replacement: Option<String>,
}

/// The fields a rule yields: a browser's family, or an OS's family, major and minor version.
pub type Fields = [Option<String>; 3];

/// Which fields of [`RuleSpec`] a rule set resolves.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// `family_replacement` (the browser family; versions are not read).
    Browser,
    /// `os_replacement`, `os_v1_replacement`, `os_v2_replacement`.
    Os,
}

struct Rule {
    pattern: String,
    replacements: Fields,
}

/// A list of rules and the one regex that finds which of them match.
pub struct RuleSet {
    rules: Vec<Rule>,
    any: meta::Regex,
    /// How many of [`Fields`] this kind of rule fills.
    fields: usize,
}

impl RuleSet {
    /// Compiles `specs` in order.
    pub fn build(kind: Kind, specs: Vec<RuleSpec>) -> Result<Self, String> {
        let rules: Vec<Rule> = specs
            .into_iter()
            .map(|spec| Rule {
                pattern: simplify(&spec.regex),
                replacements: match kind {
                    Kind::Browser => [spec.family_replacement, None, None],
                    Kind::Os => [
                        spec.os_replacement,
                        spec.os_v1_replacement,
                        spec.os_v2_replacement,
                    ],
                },
            })
            .collect();
        let config = meta::Config::new()
            .match_kind(MatchKind::All)
            .which_captures(WhichCaptures::None)
            .onepass(false)
            .backtrack(false);
        let any = meta::Regex::builder()
            .configure(config)
            .build_many(&rules.iter().map(|r| &r.pattern).collect::<Vec<_>>())
            .map_err(|e| e.to_string())?;
        let fields = match kind {
            Kind::Browser => 1,
            Kind::Os => 3,
        };
        Ok(Self { rules, any, fields })
    }

    /// The fields of the first rule matching `text`, if any does.
    pub fn extract(&self, text: &str) -> Option<Fields> {
        let mut matching = PatternSet::new(self.any.pattern_len());
        self.any
            .which_overlapping_matches(&Input::new(text), &mut matching);
        let rule = self.rules.get(matching.iter().next()?.as_usize())?;
        // Compiled once per extraction: tens of microseconds, against megabytes to keep every
        // rule's groups compiled.
        let regex = meta::Regex::builder()
            .configure(meta::Config::new().hybrid(false).onepass(false))
            .build(&rule.pattern)
            .ok()?;
        let mut groups = regex.create_captures();
        regex.captures(text, &mut groups);
        let group = |i: usize| groups.get_group(i).map(|span| &text[span]);
        let mut fields: Fields = [None, None, None];
        for (i, field) in fields.iter_mut().enumerate().take(self.fields) {
            let value = match &rule.replacements[i] {
                Some(replacement) => substitute(replacement, &groups, text),
                None => group(i + 1).unwrap_or_default().to_owned(),
            };
            let value = value.trim();
            *field = (!value.is_empty()).then(|| value.to_owned());
        }
        Some(fields)
    }
}

/// For the text after a `{`: `*` or `+` and the length of `0,n}` or `1,n}` when `n` has three
/// digits or more.
fn loose_bound(rest: &str) -> Option<(char, usize)> {
    let close = rest.find('}')?;
    let (low, high) = rest[..close].split_once(',')?;
    let op = match low {
        "0" => '*',
        "1" => '+',
        _ => return None,
    };
    (high.len() >= 3 && high.bytes().all(|b| b.is_ascii_digit())).then_some((op, close + 1))
}

/// `replacement` with each `$1`…`$9` replaced by that group of the match (empty when the group
/// did not take part).
fn substitute(replacement: &str, groups: &Captures, text: &str) -> String {
    let mut out = String::with_capacity(replacement.len());
    let mut chars = replacement.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek().and_then(|d| d.to_digit(10))) {
            ('$', Some(n)) if n > 0 => {
                chars.next();
                if let Some(span) = groups.get_group(n as usize) {
                    out.push_str(&text[span]);
                }
            }
            _ => out.push(c),
        }
    }
    out
}

/// uap-core's regexes come from Python and JavaScript, where `\d` and `\w` are ASCII; in this
/// regex engine they are Unicode classes, many times larger once compiled. Rewritten to their
/// ASCII ranges (inside a character class without the brackets). Bounds of 100 or more
/// (`{0,100}`, `{1,200}`), there to limit backtracking in those engines, are loosened to `*` and
/// `+`: this engine does not backtrack, and each bound copies its expression that many times.
fn simplify(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut chars = pattern.chars();
    let mut class_depth = 0usize;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let Some(next) = chars.next() else {
                    out.push(c);
                    break;
                };
                let ranges = match next {
                    'd' => Some(("0-9", false)),
                    'D' => Some(("0-9", true)),
                    'w' => Some(("A-Za-z0-9_", false)),
                    'W' => Some(("A-Za-z0-9_", true)),
                    _ => None,
                };
                match ranges {
                    // A negated shorthand inside a class has no range form; kept as it is.
                    Some((_, true)) if class_depth > 0 => {
                        out.push(c);
                        out.push(next);
                    }
                    Some((r, _)) if class_depth > 0 => out.push_str(r),
                    Some((r, negated)) => {
                        out.push_str(if negated { "[^" } else { "[" });
                        out.push_str(r);
                        out.push(']');
                    }
                    None => {
                        out.push(c);
                        out.push(next);
                    }
                }
            }
            '[' => {
                class_depth += 1;
                out.push(c);
            }
            ']' if class_depth > 0 => {
                class_depth -= 1;
                out.push(c);
            }
            '{' if class_depth == 0 => {
                let rest = chars.as_str();
                match loose_bound(rest) {
                    Some((op, len)) => {
                        out.push(op);
                        chars = rest[len..].chars();
                    }
                    None => out.push(c),
                }
            }
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_bounds_are_loosened() {
        assert_eq!(simplify(r"a{0,100}b{1,250}c"), r"a*b+c");
        assert_eq!(simplify(r"a{0,30}b{2,300}c{1,}"), r"a{0,30}b{2,300}c{1,}");
        assert_eq!(simplify(r"[{0,100}]\{0,100}"), r"[{0,100}]\{0,100}");
    }

    #[test]
    fn shorthand_classes_become_ascii_ranges() {
        assert_eq!(simplify(r"(\d+)\.(\w+)"), r"([0-9]+)\.([A-Za-z0-9_]+)");
        assert_eq!(simplify(r"[\d\.]+ \D"), r"[0-9\.]+ [^0-9]");
        assert_eq!(simplify(r"[^\W]"), r"[^\W]");
        assert_eq!(simplify(r"\\d \[\d\]"), r"\\d \[[0-9]\]");
    }

    fn set(kind: Kind, specs: &str) -> RuleSet {
        let specs: Vec<RuleSpec> = serde_json::from_str(specs).expect("valid test rules");
        RuleSet::build(kind, specs).expect("rules compile")
    }

    #[test]
    fn the_first_matching_rule_wins_and_fills_its_replacements() {
        let rules = set(
            Kind::Os,
            r#"[{"regex": "Foo/(\\d+)\\.(\\d+)", "os_replacement": "Foo OS $1"},
                {"regex": "(Bar|Foo)/(\\d+)\\.(\\d+)"}]"#,
        );
        assert_eq!(
            rules.extract("x Foo/12.3 y"),
            Some([Some("Foo OS 12".into()), Some("3".into()), None])
        );
        assert_eq!(
            rules.extract("Bar/4.5"),
            Some([Some("Bar".into()), Some("4".into()), Some("5".into())])
        );
        assert_eq!(rules.extract("Baz/1.0"), None);
    }

    #[test]
    fn a_group_that_did_not_take_part_is_empty() {
        let rules = set(
            Kind::Browser,
            r#"[{"regex": "(Qux)(?:/(\\d+)|)", "family_replacement": "$1 $2"}]"#,
        );
        assert_eq!(rules.extract("Qux"), Some([Some("Qux".into()), None, None]));
        assert_eq!(
            rules.extract("Qux/7"),
            Some([Some("Qux 7".into()), None, None])
        );
    }
}
