//! What a refresh can show about a session that its sign-in did not: the request comes from
//! another country than the sign-in (CloudFront's viewer country; an address change alone is
//! not flagged, since mobile and home networks change addresses all the time), from another
//! browser family (browsers only: an app's HTTP client is not compared), or from a place too
//! far from the last one for the time between them. Flags are sticky: once raised they stay
//! on the session, shown in both listings.

use super::session::{Location, Session};
use serde::{Deserialize, Serialize};

/// One thing a refresh saw that the sign-in did not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskFlag {
    /// Another country than the sign-in's (CloudFront's viewer country).
    LocationChanged,
    /// Another browser family than the sign-in's, both requests from browsers.
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

/// Shorter jumps are within IP geolocation's error (a carrier's addresses placed at a hub city
/// hundreds of kilometres away).
pub const MIN_TRAVEL_KM: f64 = 500.0;

/// A refresh as the service sees it.
#[derive(Debug, Clone, Copy)]
pub struct Seen<'a> {
    /// Where CloudFront placed it, if known.
    pub location: Option<&'a Location>,
    /// The browser family of its User-Agent, when it is a browser's (`Mozilla/...`).
    pub browser: Option<&'a str>,
    /// When (Unix seconds).
    pub at: i64,
}

/// What the refresh `seen` shows about `session`, in order, whether or not the session carries
/// the flags already.
pub fn assess(session: &Session, seen: &Seen<'_>) -> Vec<RiskFlag> {
    let country = |l: Option<&Location>| l.map(|l| l.country.clone());
    let location_changed = match (
        country(session.signin_location.as_ref()),
        country(seen.location),
    ) {
        (Some(then), Some(now)) => then != now,
        _ => false,
    };
    let signed_in_with = is_browser(&session.user_agent).then_some(session.browser.as_str());
    let browser_changed = match (signed_in_with, seen.browser) {
        (Some(then), Some(now)) => known(then) && known(now) && then != now,
        _ => false,
    };
    let last_seen_at = session
        .located_at
        .or(session.refresh_rotated_at)
        .unwrap_or(session.created_at);
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
    .filter(|(raised, _)| *raised)
    .map(|(_, flag)| flag)
    .collect()
}

/// Whether a User-Agent is a browser's (every browser's starts so; apps' HTTP clients, such as
/// okhttp or CFNetwork, do not).
pub fn is_browser(user_agent: &str) -> bool {
    user_agent.starts_with("Mozilla/")
}

/// A browser family the parser recognised.
fn known(family: &str) -> bool {
    !family.is_empty() && family != "Unknown"
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
    use crate::domain::session::tests::session;

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
    fn a_refresh_from_elsewhere_or_another_browser_is_flagged() {
        let mut s = session();
        s.user_agent = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0.0.0".into();
        let berlin = place("DE", "52.52000", "13.40500");
        s.signin_location = Some(berlin.clone());
        s.location = Some(berlin.clone());
        let at = s.created_at + 3600;
        let seen = |loc, browser, at| Seen {
            location: loc,
            browser,
            at,
        };
        // Same place, same browser: nothing.
        assert!(assess(&s, &seen(Some(&berlin), Some("Chrome"), at)).is_empty());
        // Sydney an hour after Berlin: another country and no plane is that fast.
        let sydney = place("AU", "-33.86880", "151.20930");
        assert_eq!(
            assess(&s, &seen(Some(&sydney), Some("Firefox"), at)),
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
            assess(&s, &seen(Some(&paris), Some("Chrome"), later)),
            [RiskFlag::LocationChanged]
        );
        // Hamburg ten minutes later is within geolocation's error, not travel.
        let hamburg = place("DE", "53.55110", "9.99370");
        let soon = s.created_at + 600;
        assert!(assess(&s, &seen(Some(&hamburg), Some("Chrome"), soon)).is_empty());
        // An unrecognised browser, or an app's HTTP client, is not a change of browser.
        assert!(assess(&s, &seen(Some(&berlin), Some("Unknown"), at)).is_empty());
        assert!(assess(&s, &seen(Some(&berlin), None, at)).is_empty());
        s.user_agent = "okhttp/4.12.0".into();
        assert!(assess(&s, &seen(Some(&berlin), Some("Firefox"), at)).is_empty());
    }

    #[test]
    fn travel_is_timed_from_when_the_last_place_was_recorded() {
        let mut s = session();
        let berlin = place("DE", "52.52000", "13.40500");
        let london = place("GB", "51.50740", "-0.12780");
        s.location = Some(berlin);
        // Recorded two hours ago, though the session re-authenticated a minute ago: a flight.
        let now = s.created_at + 10 * 3600;
        s.located_at = Some(now - 2 * 3600);
        s.refresh_rotated_at = Some(now - 60);
        let seen = Seen {
            location: Some(&london),
            browser: None,
            at: now,
        };
        assert!(!assess(&s, &seen).contains(&RiskFlag::ImpossibleTravel));
        s.located_at = Some(now - 60);
        assert!(assess(&s, &seen).contains(&RiskFlag::ImpossibleTravel));
    }

    #[test]
    fn without_countries_an_address_change_is_not_flagged() {
        let s = session();
        let seen = Seen {
            location: None,
            browser: Some("Chrome"),
            at: s.created_at + 60,
        };
        assert!(assess(&s, &seen).is_empty());
    }
}
