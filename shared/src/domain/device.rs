//! Device labelling from a User-Agent: web or mobile, browser, OS and a display name such as
//! "Chrome on Windows 10".
//!
//! Parsing uses the uap-core rules (vendored under `shared/data/uap-core/`, Apache-2.0),
//! matched by [`rules`]. The parser is built once, lazily, on first use, so a
//! function that never labels a device never pays for it.

mod rules;

use rules::{Kind, RuleSet, RuleSpec};
use serde::{Deserialize, Serialize};
use std::sync::LazyLock;

/// The kind of device a session runs on, as the admin panel shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceType {
    /// A browser or anything not recognised as a phone or tablet.
    Web,
    /// A phone or tablet (browser or native app).
    Mobile,
}

/// Where a session's `device_name` came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceNameSource {
    /// Parsed from the User-Agent by the service.
    #[default]
    UserAgent,
    /// Sent by the client at sign-in (native apps): its own claim, shown as such.
    Client,
}

/// Longest User-Agent kept; longer ones are truncated before parsing and storing.
pub const MAX_USER_AGENT_LEN: usize = 512;

/// What a User-Agent says about the device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    /// `web` or `mobile`.
    pub device_type: DeviceType,
    /// Browser (or app) family, e.g. "Chrome"; "Unknown" when not recognised.
    pub browser: String,
    /// OS with its major version where meaningful, e.g. "Windows 10", "iOS 17"; "Unknown" when
    /// not recognised.
    pub os: String,
    /// e.g. "Chrome on Windows 10".
    pub device_name: String,
    /// The User-Agent as stored: control characters removed, truncated.
    pub user_agent: String,
}

/// uap-core's browser and OS rules, compiled once. Its device rules (brands and models, about
/// half of the file) are left out at build time: the device type comes from the OS and the
/// User-Agent's own tokens.
struct Parsers {
    browser: RuleSet,
    os: RuleSet,
}

#[derive(serde::Deserialize)]
struct Rules {
    user_agent_parsers: Vec<RuleSpec>,
    os_parsers: Vec<RuleSpec>,
}

static PARSERS: LazyLock<Option<Parsers>> = LazyLock::new(|| {
    static RULES: &str = include_str!(concat!(env!("OUT_DIR"), "/uap-regexes.json"));
    let build = || -> Result<Parsers, String> {
        let rules: Rules = serde_json::from_str(RULES).map_err(|e| e.to_string())?;
        Ok(Parsers {
            browser: RuleSet::build(Kind::Browser, rules.user_agent_parsers)?,
            os: RuleSet::build(Kind::Os, rules.os_parsers)?,
        })
    };
    let parsers = build()
        .inspect_err(|e| tracing::error!(error = %e, "user-agent rules do not compile"))
        .ok();
    give_back_freed_memory();
    parsers
});

/// Compiling the rules allocates several MB that are freed at once but that glibc keeps in the
/// heap; handing them back keeps them out of the function's resident memory (`make bench`,
/// `login`'s peak RSS).
fn give_back_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free heap pages to the system; no live allocation moves.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Removes control characters and truncates to [`MAX_USER_AGENT_LEN`] bytes on a character
/// boundary.
pub fn sanitise(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len().min(MAX_USER_AGENT_LEN));
    for c in raw.chars().filter(|c| !c.is_control()) {
        if out.len() + c.len_utf8() > MAX_USER_AGENT_LEN {
            break;
        }
        out.push(c);
    }
    out.trim().to_owned()
}

/// Labels the device behind a User-Agent.
pub fn describe(raw_user_agent: &str) -> DeviceInfo {
    let user_agent = sanitise(raw_user_agent);
    let (ua, os) = match PARSERS.as_ref() {
        Some(p) => (p.browser.extract(&user_agent), p.os.extract(&user_agent)),
        None => (None, None),
    };
    let [family, _, _] = ua.unwrap_or_default();
    let [os_family, os_major, os_minor] = os.unwrap_or_default();

    let browser = family
        .map(|f| browser_name(&f))
        .filter(|b| b != "Other")
        .unwrap_or_else(|| "Unknown".to_owned());
    let os_family = os_family.unwrap_or_default();
    let os_name = os_name(&os_family, os_major.as_deref(), os_minor.as_deref());
    let device_type = if is_mobile(&os_family, &user_agent) {
        DeviceType::Mobile
    } else {
        DeviceType::Web
    };
    let device_name = match (browser.as_str(), os_name.as_str()) {
        ("Unknown", "Unknown") => "Unknown device".to_owned(),
        (b, "Unknown") => b.to_owned(),
        ("Unknown", o) => format!("Unknown browser on {o}"),
        (b, o) => format!("{b} on {o}"),
    };
    DeviceInfo {
        device_type,
        browser,
        os: os_name,
        device_name,
        user_agent,
    }
}

/// The browser name people know: uap-core distinguishes "Chrome Mobile", "Mobile Safari" and
/// so on, which the device type already says.
fn browser_name(family: &str) -> String {
    match family {
        "Chrome Mobile" | "Chrome Mobile iOS" | "Chrome Mobile WebView" => "Chrome",
        "Mobile Safari" | "Mobile Safari UI/WKWebView" => "Safari",
        "Firefox Mobile" | "Firefox iOS" => "Firefox",
        "Edge Mobile" => "Edge",
        "Opera Mobile" => "Opera",
        other => other,
    }
    .to_owned()
}

/// The OS with the version people name it by: "Windows 10", "macOS 10.15", "iOS 17",
/// "Android 14", plain "Linux"/"Ubuntu".
fn os_name(family: &str, major: Option<&str>, minor: Option<&str>) -> String {
    match (family, major) {
        ("" | "Other", _) => "Unknown".to_owned(),
        ("Mac OS X", Some(ma)) => match minor {
            Some(mi) if ma == "10" => format!("macOS {ma}.{mi}"),
            _ => format!("macOS {ma}"),
        },
        ("Mac OS X", None) => "macOS".to_owned(),
        ("Windows", Some(v)) => format!("Windows {v}"),
        ("iOS" | "Android" | "Chrome OS" | "iPadOS" | "HarmonyOS", Some(v)) => {
            format!("{family} {v}")
        }
        (f, _) => f.to_owned(),
    }
}

/// Phones and tablets count as mobile: a mobile OS, or the tokens browsers put in their
/// User-Agent on phones and tablets ("Tablet PC" in old desktop Internet Explorer is not one).
fn is_mobile(os_family: &str, user_agent: &str) -> bool {
    matches!(
        os_family,
        "iOS" | "iPadOS" | "Android" | "Windows Phone" | "BlackBerry OS" | "KaiOS" | "HarmonyOS"
    ) || ["Mobile", "iPhone", "iPad", "iPod", "(Tablet;"]
        .iter()
        .any(|token| user_agent.contains(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Real-world User-Agent strings and the labels the admin panel should show.
    const CASES: &[(&str, DeviceType, &str, &str, &str)] = &[
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
            DeviceType::Web,
            "Chrome",
            "Windows 10",
            "Chrome on Windows 10",
        ),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Safari/605.1.15",
            DeviceType::Web,
            "Safari",
            "macOS 10.15",
            "Safari on macOS 10.15",
        ),
        (
            "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
            DeviceType::Web,
            "Firefox",
            "Ubuntu",
            "Firefox on Ubuntu",
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
            DeviceType::Mobile,
            "Safari",
            "iOS 17",
            "Safari on iOS 17",
        ),
        (
            "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.81 Mobile Safari/537.36",
            DeviceType::Mobile,
            "Chrome",
            "Android 14",
            "Chrome on Android 14",
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
            DeviceType::Web,
            "Edge",
            "Windows 10",
            "Edge on Windows 10",
        ),
        (
            "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1",
            DeviceType::Mobile,
            "Chrome",
            "iOS 17",
            "Chrome on iOS 17",
        ),
        (
            "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
            DeviceType::Web,
            "Chrome",
            "Chrome OS 14541",
            "Chrome on Chrome OS 14541",
        ),
        (
            "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
            DeviceType::Mobile,
            "Chrome",
            "Android 13",
            "Chrome on Android 13",
        ),
        (
            "Mozilla/5.0 (Tablet; rv:26.0) Gecko/26.0 Firefox/26.0",
            DeviceType::Mobile,
            "Firefox",
            "Firefox OS",
            "Firefox on Firefox OS",
        ),
        (
            "Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; SLCC2; .NET CLR 2.0.50727; Tablet PC 2.0; rv:11.0) like Gecko",
            DeviceType::Web,
            "IE",
            "Windows 7",
            "IE on Windows 7",
        ),
        ("curl/8.5.0", DeviceType::Web, "curl", "Unknown", "curl"),
        ("", DeviceType::Web, "Unknown", "Unknown", "Unknown device"),
    ];

    #[test]
    fn labels_real_user_agents() {
        for (ua, device_type, browser, os, name) in CASES {
            let info = describe(ua);
            assert_eq!(
                (
                    info.device_type,
                    info.browser.as_str(),
                    info.os.as_str(),
                    info.device_name.as_str()
                ),
                (*device_type, *browser, *os, *name),
                "for {ua:?}"
            );
        }
    }

    #[derive(serde::Deserialize)]
    struct Expected {
        test_cases: Vec<Case>,
    }

    #[derive(serde::Deserialize)]
    struct Case {
        user_agent_string: String,
        family: String,
        major: Option<String>,
        minor: Option<String>,
    }

    fn cases(file: &str) -> Vec<Case> {
        let path = format!("{}/data/uap-core/tests/{file}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).expect("uap-core's test file is vendored");
        let expected: Expected = serde_norway::from_str(&text).expect("valid YAML");
        expected.test_cases
    }

    /// uap-core's own test cases (browser family; OS family, major and minor): the rules as
    /// matched here give what uap-core specifies for every one of them.
    #[test]
    fn the_rules_give_uap_cores_expected_answers() {
        let rules: Rules =
            serde_json::from_str(include_str!(concat!(env!("OUT_DIR"), "/uap-regexes.json")))
                .expect("valid rules");
        let parsers = Parsers {
            browser: RuleSet::build(Kind::Browser, rules.user_agent_parsers).expect("compile"),
            os: RuleSet::build(Kind::Os, rules.os_parsers).expect("compile"),
        };
        let mut wrong = Vec::new();
        for case in cases("test_ua.yaml") {
            let [family, _, _] = parsers
                .browser
                .extract(&case.user_agent_string)
                .unwrap_or_default();
            let family = family.unwrap_or_else(|| "Other".to_owned());
            if family != case.family {
                wrong.push((case.user_agent_string, family, case.family));
            }
        }
        for case in cases("test_os.yaml") {
            let got = parsers
                .os
                .extract(&case.user_agent_string)
                .unwrap_or_default();
            let got = (
                got[0].clone().unwrap_or_else(|| "Other".to_owned()),
                got[1].clone(),
                got[2].clone(),
            );
            let want = (case.family, case.major, case.minor);
            if got != want {
                wrong.push((
                    case.user_agent_string,
                    format!("{got:?}"),
                    format!("{want:?}"),
                ));
            }
        }
        assert!(wrong.is_empty(), "{} wrong: {wrong:#?}", wrong.len());
    }

    #[test]
    fn sanitise_strips_controls_and_truncates() {
        assert_eq!(sanitise("a\u{0}b\r\nc\u{7f}"), "abc");
        let long = "é".repeat(1000);
        let s = sanitise(&long);
        assert!(s.len() <= MAX_USER_AGENT_LEN);
        assert!(s.chars().all(|c| c == 'é'));
    }
}
