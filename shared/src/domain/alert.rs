//! New-sign-in alerts: which sign-ins a user is told about. A user is told about a sign-in
//! from a device (type, browser, operating system) or a country not seen for them before,
//! never about their first sign-in (everything is new then, and they know it was them).

use std::collections::BTreeSet;

/// What has been seen for a user before: device keys ([`device_key`]) and countries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Known {
    /// Device keys of earlier sign-ins.
    pub devices: BTreeSet<String>,
    /// Countries of earlier sign-ins (ISO 3166-1 alpha-2, as CloudFront gives them).
    pub countries: BTreeSet<String>,
}

/// What is new about a sign-in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Novelty {
    /// A device not seen for the user before.
    pub device: bool,
    /// A country not seen for the user before (never when the country is unknown).
    pub country: bool,
}

impl Novelty {
    /// Whether the user is told.
    pub fn alerts(self) -> bool {
        self.device || self.country
    }
}

/// The key a device is remembered by: its type, browser family and operating system family
/// (the OS as stored, "iOS 17" or "Windows 10", without its version), so a browser or system
/// update is no new device but another browser on the same machine is.
pub fn device_key(device_type: &str, browser: &str, os: &str) -> String {
    format!("{device_type}/{browser}/{}", os_family(os))
}

/// An OS name without its version: the words before the first that starts with a digit.
fn os_family(os: &str) -> String {
    os.split_whitespace()
        .take_while(|w| !w.starts_with(|c: char| c.is_ascii_digit()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// What is new about a sign-in from `device` in `country`, given what was `known` (none for a
/// user never seen signing in: their first sign-in is new in every way, and no alert).
pub fn novelty(known: Option<&Known>, device: &str, country: Option<&str>) -> Novelty {
    let Some(known) = known else {
        return Novelty::default();
    };
    Novelty {
        device: !known.devices.contains(device),
        country: country.is_some_and(|c| !known.countries.contains(c)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_update_of_the_system_is_the_same_device_and_another_browser_is_not() {
        let ios = |v: &str| device_key("mobile", "Safari", v);
        assert_eq!(ios("iOS 17"), ios("iOS 18"));
        assert_eq!(ios("iOS 17"), "mobile/Safari/iOS");
        assert_eq!(
            device_key("web", "Chrome", "Chrome OS 120"),
            "web/Chrome/Chrome OS"
        );
        assert_eq!(device_key("web", "Firefox", "Linux"), "web/Firefox/Linux");
        assert_ne!(
            device_key("web", "Chrome", "Windows 10"),
            device_key("web", "Edge", "Windows 10")
        );
    }

    #[test]
    fn the_first_sign_in_is_no_alert_and_a_new_device_or_country_is() {
        let phone = device_key("mobile", "Safari", "iOS");
        assert_eq!(novelty(None, &phone, Some("FR")), Novelty::default());
        let known = Known {
            devices: [phone.clone()].into(),
            countries: ["FR".to_owned()].into(),
        };
        assert!(!novelty(Some(&known), &phone, Some("FR")).alerts());
        assert!(!novelty(Some(&known), &phone, None).alerts(), "no country");
        let laptop = device_key("web", "Chrome", "Windows");
        let new = novelty(Some(&known), &laptop, Some("BR"));
        assert_eq!(
            new,
            Novelty {
                device: true,
                country: true
            }
        );
        assert_eq!(
            novelty(Some(&known), &phone, Some("BR")),
            Novelty {
                device: false,
                country: true
            }
        );
    }
}
