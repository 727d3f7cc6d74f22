//! One throttle for every password check: sign-in, re-authentication and password change.
//!
//! Each attempt is reserved before argon2 runs, by one conditional update per counter, so
//! concurrent attempts on many instances all count and none slips past the limit. Two
//! counters, both per email:
//!
//! - **per client**: email + the client's network (the IPv4 address, or the IPv6 /64). At
//!   `LOGIN_MAX_FAILURES` attempts in `LOGIN_FAILURE_WINDOW_SECONDS` that client gets 429 with
//!   `Retry-After`. A success clears it. Someone who knows only the email locks out only
//!   themselves.
//! - **per account**: every client together. At `LOGIN_MAX_FAILURES_PER_ACCOUNT` attempts in
//!   the window, clients on networks the account has never signed in from get 429 too, which
//!   caps a guessing attack spread over many addresses; the owner's known networks (recorded at
//!   each successful sign-in) and signed-in sessions (re-authentication, password change) are
//!   not locked out by it, except a second factor's code sent from a session on an unknown
//!   network (a stolen session must not guess codes faster than a sign-in). A success does not
//!   clear it.
//!
//! This is the "per email and client address, with a bypass for the owner's known devices"
//! choice of OWASP's authentication cheat sheet; `docs/security.md` says what it does not cover
//! (a botnet inside the owner's own network, per-address limits across many emails, which
//! belong to the edge).

use super::ids::hash_for_log;
use std::net::IpAddr;

/// The throttle's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Attempts per email and client network within the window.
    pub per_client: u32,
    /// Attempts per email within the window before unknown networks are refused.
    pub per_account: u32,
    /// The window in seconds.
    pub window_seconds: i64,
}

/// Whether one counter let an attempt through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// Counted; go on.
    Allowed,
    /// The counter is full until the window ends, this many seconds from now.
    Blocked {
        /// Seconds until the window ends.
        retry_after_seconds: u64,
    },
}

/// What the two counters said about one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reservation {
    /// The email + client-network counter.
    pub client: Attempt,
    /// The email counter.
    pub account: Attempt,
}

/// Which counter refused an attempt (for the audit log).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// This client used up its attempts.
    Client,
    /// The account is under attack from elsewhere and this client's network is not known.
    Account,
}

impl Refusal {
    /// The name logged.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Client => "throttled_client",
            Self::Account => "throttled_account",
        }
    }
}

/// A refused attempt: which counter refused it and when to try again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttled {
    /// The counter that refused.
    pub why: Refusal,
    /// Seconds until the window lets the client try again (at least 1).
    pub retry_after_seconds: u64,
}

impl Reservation {
    /// Whether the attempt may go on: the per-client counter always applies, the per-account
    /// one only to a client on a network the account has not signed in from.
    pub fn decide(&self, known_client: bool) -> Result<(), Throttled> {
        let blocked = |attempt: Attempt, why| match attempt {
            Attempt::Allowed => None,
            Attempt::Blocked {
                retry_after_seconds,
            } => Some(Throttled {
                why,
                retry_after_seconds: retry_after_seconds.max(1),
            }),
        };
        if let Some(t) = blocked(self.client, Refusal::Client) {
            return Err(t);
        }
        match blocked(self.account, Refusal::Account) {
            Some(t) if !known_client => Err(t),
            _ => Ok(()),
        }
    }
}

/// The network a client address counts under: an IPv4 address itself, an IPv6 address's /64
/// (one subscriber usually holds a whole /64). Anything unparsable counts as itself.
pub fn network(ip: &str) -> String {
    match ip.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => v4.to_string(),
        Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        Err(_) => ip.to_owned(),
    }
}

/// How a network is remembered on the user item: a short one-way tag, not the address.
pub fn network_tag(network: &str) -> String {
    hash_for_log(network)
}

/// Networks remembered per user, most recent last.
pub const KNOWN_NETWORKS: usize = 8;

/// The user's known networks with `tag` added (moved to the end), or `None` when it is
/// already the most recent one.
pub fn remember(known: &[String], tag: &str) -> Option<Vec<String>> {
    if known.last().is_some_and(|t| t == tag) {
        return None;
    }
    let mut next: Vec<String> = known.iter().filter(|t| *t != tag).cloned().collect();
    next.push(tag.to_owned());
    let excess = next.len().saturating_sub(KNOWN_NETWORKS);
    next.drain(..excess);
    Some(next)
}

/// Key of the per-client counter in the emails table. Emails contain no space, so these keys
/// never collide with an email's own item.
pub fn client_key(email: &str, network: &str) -> String {
    format!("throttle {email} {network}")
}

/// Key of the per-account counter in the emails table.
pub fn account_key(email: &str) -> String {
    format!("throttle {email}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_counts_per_64_and_ipv4_per_address() {
        assert_eq!(network("198.51.100.7"), "198.51.100.7");
        assert_eq!(
            network("2001:db8:1:2:aaaa::1"),
            network("2001:db8:1:2:ffff:ffff:ffff:ffff")
        );
        assert_eq!(network("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_ne!(network("2001:db8:1:2::1"), network("2001:db8:1:3::1"));
        assert_eq!(network("::ffff:198.51.100.7"), "198.51.100.7");
        assert_eq!(network(""), "");
    }

    #[test]
    fn the_client_limit_always_applies_the_account_limit_only_to_strangers() {
        let blocked = Attempt::Blocked {
            retry_after_seconds: 60,
        };
        let allowed = Attempt::Allowed;
        let r = |client, account| Reservation { client, account };
        assert!(r(allowed, allowed).decide(false).is_ok());
        assert!(r(allowed, blocked).decide(true).is_ok(), "owner's network");
        let t = r(allowed, blocked).decide(false).unwrap_err();
        assert_eq!(t.why, Refusal::Account);
        assert_eq!(t.retry_after_seconds, 60);
        let t = r(blocked, allowed).decide(true).unwrap_err();
        assert_eq!(t.why, Refusal::Client);
    }

    #[test]
    fn known_networks_keep_the_most_recent() {
        assert_eq!(remember(&[], "a"), Some(vec!["a".to_owned()]));
        let known: Vec<String> = ["a", "b"].map(str::to_owned).to_vec();
        assert_eq!(remember(&known, "b"), None);
        assert_eq!(remember(&known, "a"), Some(vec!["b".into(), "a".into()]));
        let full: Vec<String> = (0..KNOWN_NETWORKS).map(|i| i.to_string()).collect();
        let next = remember(&full, "new").unwrap();
        assert_eq!(next.len(), KNOWN_NETWORKS);
        assert_eq!(next.first().map(String::as_str), Some("1"));
        assert_eq!(next.last().map(String::as_str), Some("new"));
    }
}
