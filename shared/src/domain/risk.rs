//! What a refresh can show about a session that its sign-in did not: the request comes from
//! another country (or, where no country is known, another network) than the sign-in, from
//! another browser family, or from a place too far from the last one for the time between
//! them. Flags are sticky: once raised they stay on the session, shown in both listings.

use super::session::{Location, Session};
use serde::{Deserialize, Serialize};

/// One thing a refresh saw that the sign-in did not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskFlag {
    /// Another country than the sign-in's (CloudFront's viewer country), or, where neither
    /// request has one, another network than the sign-in's address.
    LocationChanged,
    /// Another browser family than the sign-in's (both recognised).
    BrowserChanged,
    /// From a place farther from the session's last one than [`MAX_TRAVEL_KMH`] allows in the
    /// time between them (CloudFront's viewer coordinates).
    ImpossibleTravel,
}

impl RiskFlag {
    /// The name stored, shown and logged.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LocationChanged => "location_changed",
            Self::BrowserChanged => "browser_changed",
            Self::ImpossibleTravel => "impossible_travel",
        }
    }
}

/// Faster than an airliner's cruise: no one travels like that between two requests.
pub const MAX_TRAVEL_KMH: f64 = 900.0;

/// Shorter jumps are within geolocation's error (a city's coordinates for a nearby address).
pub const MIN_TRAVEL_KM: f64 = 100.0;

/// A refresh as the service sees it.
#[derive(Debug, Clone, Copy)]
pub struct Seen<'a> {
    /// The client's address.
    pub ip: &'a str,
    /// Where CloudFront placed it, if known.
    pub location: Option<&'a Location>,
    /// The browser family of its User-Agent.
    pub browser: &'a str,
    /// When (Unix seconds).
    pub at: i64,
}

/// The flags the refresh `seen` raises on `session` that it does not carry yet, in order.
pub fn assess(session: &Session, seen: &Seen<'_>) -> Vec<RiskFlag> {
    let signed_in_from = session.signin_location.as_ref();
    let country = |l: Option<&Location>| l.map(|l| l.country.clone());
    let location_changed = match (country(signed_in_from), country(seen.location)) {
        (Some(then), Some(now)) => then != now,
        // No country for either: the address's network, where the sign-in's is known.
        (None, None) => session
            .signin_ip
            .as_deref()
            .is_some_and(|then| network(then) != network(seen.ip)),
        _ => false,
    };
    let known = |b: &str| !b.is_empty() && b != "Unknown";
    let browser_changed =
        known(&session.browser) && known(seen.browser) && session.browser != seen.browser;
    let last_seen_at = session.refresh_rotated_at.unwrap_or(session.created_at);
    let travel = session
        .location
        .as_ref()
        .and_then(Location::point)
        .zip(seen.location.and_then(Location::point))
        .is_some_and(|(from, to)| impossible(from, to, seen.at - last_seen_at));
    [
        (location_changed, RiskFlag::LocationChanged),
        (browser_changed, RiskFlag::BrowserChanged),
        (travel, RiskFlag::ImpossibleTravel),
    ]
    .into_iter()
    .filter(|(raised, flag)| *raised && !session.risk_flags.contains(flag))
    .map(|(_, flag)| flag)
    .collect()
}

/// An address's network, coarsely: the first two octets of IPv4, the first 32 bits of IPv6
/// (an ISP's block, not a household: mobile devices change addresses within it all the time).
fn network(ip: &str) -> Option<String> {
    match ip.parse::<std::net::IpAddr>().ok()? {
        std::net::IpAddr::V4(v4) => {
            let o = v4.octets();
            Some(format!("{}.{}", o[0], o[1]))
        }
        std::net::IpAddr::V6(v6) => {
            let s = v6.segments();
            Some(format!("{:x}:{:x}", s[0], s[1]))
        }
    }
}

/// Whether going from `from` to `to` (degrees) in `seconds` is faster than
/// [`MAX_TRAVEL_KMH`] over more than [`MIN_TRAVEL_KM`].
fn impossible(from: (f64, f64), to: (f64, f64), seconds: i64) -> bool {
    let km = distance_km(from, to);
    km > MIN_TRAVEL_KM && km > MAX_TRAVEL_KMH * (seconds.max(0) as f64) / 3600.0
}

/// Great-circle distance (haversine, mean Earth radius).
fn distance_km((lat1, lon1): (f64, f64), (lat2, lon2): (f64, f64)) -> f64 {
    const EARTH_RADIUS_KM: f64 = 6371.0;
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let (dp, dl) = ((lat2 - lat1).to_radians(), (lon2 - lon1).to_radians());
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * a.sqrt().asin()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::session::tests::{policy, session};

    fn place(country: &str, lat: &str, lon: &str) -> Location {
        Location {
            country: country.to_owned(),
            region: None,
            city: None,
            latitude: Some(lat.to_owned()),
            longitude: Some(lon.to_owned()),
        }
    }

    #[test]
    fn distances_are_great_circles() {
        let (berlin, paris) = ((52.52, 13.405), (48.8566, 2.3522));
        let km = distance_km(berlin, paris);
        assert!((870.0..890.0).contains(&km), "{km}");
        assert!(distance_km(berlin, berlin) < 1e-9);
    }

    #[test]
    fn a_refresh_from_elsewhere_or_another_browser_is_flagged_once() {
        let _ = policy();
        let mut s = session();
        let berlin = place("DE", "52.52000", "13.40500");
        s.signin_location = Some(berlin.clone());
        s.location = Some(berlin.clone());
        s.signin_ip = Some("203.0.113.7".into());
        let at = s.created_at + 3600;
        let seen = |loc, browser, at| Seen {
            ip: "203.0.113.9",
            location: loc,
            browser,
            at,
        };
        // Same place, same browser: nothing.
        assert!(assess(&s, &seen(Some(&berlin), "Chrome", at)).is_empty());
        // Sydney an hour after Berlin: another country and no plane is that fast.
        let sydney = place("AU", "-33.86880", "151.20930");
        assert_eq!(
            assess(&s, &seen(Some(&sydney), "Firefox", at)),
            [
                RiskFlag::LocationChanged,
                RiskFlag::BrowserChanged,
                RiskFlag::ImpossibleTravel
            ]
        );
        // Paris five hours later is a train ride: another country, not impossible.
        let paris = place("FR", "48.85660", "2.35220");
        let later = s.created_at + 5 * 3600;
        assert_eq!(
            assess(&s, &seen(Some(&paris), "Chrome", later)),
            [RiskFlag::LocationChanged]
        );
        // An unrecognised browser is not a change; a flag already raised is not raised again.
        assert!(assess(&s, &seen(Some(&berlin), "Unknown", at)).is_empty());
        s.risk_flags = vec![RiskFlag::LocationChanged];
        assert!(assess(&s, &seen(Some(&paris), "Chrome", later)).is_empty());
    }

    #[test]
    fn without_countries_the_network_of_the_address_counts() {
        let mut s = session();
        s.signin_ip = Some("203.0.113.7".into());
        let seen = |ip| Seen {
            ip,
            location: None,
            browser: "Chrome",
            at: s.created_at + 60,
        };
        assert!(assess(&s, &seen("203.0.200.1")).is_empty(), "the same /16");
        assert_eq!(
            assess(&s, &seen("198.51.100.4")),
            [RiskFlag::LocationChanged]
        );
        // A session from before the field knows no sign-in address: no guess.
        s.signin_ip = None;
        assert!(assess(&s, &seen("198.51.100.4")).is_empty());
    }
}
