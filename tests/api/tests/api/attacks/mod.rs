//! The attacks that once got through, each as it was tried from outside, now failing, one
//! theme per module: stale refresh tokens ([`refresh_theft`]), sessions outliving a password
//! change or a disable ([`revocation`]), an unthrottled password oracle, a check-then-act
//! throttle and malicious lockout ([`throttle`]), step-up side-stepped ([`step_up`]), spoofing
//! text ([`text`]), and two admins demoting each other ([`admins`]). Real handlers, in process
//! and in parallel, against Dynoxide.

use api_tests::{FIREFOX_LINUX, TestApp};
use shared::AppState;

mod admins;
mod refresh_theft;
mod revocation;
mod step_up;
mod text;
mod throttle;

/// The account under attack.
const SAM: &str = "sam@example.com";
/// The owner's network (API Gateway's default source IP).
const OWNER_IP: &str = "198.51.100.20";
/// Someone else's.
const ATTACKER_IP: &str = "203.0.113.66";

/// The owner's browser; `.from_ip` for anyone else's.
fn client(s: &AppState) -> TestApp<'_> {
    TestApp::new(s)
        .with_user_agent(FIREFOX_LINUX)
        .from_ip(OWNER_IP)
}
