//! Every password check (sign-in, re-authentication, password change) goes through here: the
//! attempt is reserved on the throttle ([`crate::domain::throttle`]) before argon2 runs, and a success
//! clears the client's counter.

use crate::AppState;
use crate::domain::throttle::{Refusal, Reservation, network, network_tag};
use crate::error::ApiError;
use crate::store::StoreError;

/// One password check in progress.
pub struct PasswordCheck<'a> {
    state: &'a AppState,
    email: &'a str,
    network: String,
    reservation: Reservation,
}

/// Why a check did not verify.
#[derive(Debug)]
pub enum CheckFailed {
    /// The throttle refused the attempt before argon2 ran (429).
    Throttled(Refusal, ApiError),
    /// The password is wrong (or the account has none, or does not exist).
    Wrong,
}

impl<'a> PasswordCheck<'a> {
    /// Reserves an attempt for `email` from the client at `ip`: one conditional update on each
    /// of the two counters, concurrently.
    pub async fn reserve(
        state: &'a AppState,
        email: &'a str,
        ip: &str,
        now: i64,
    ) -> Result<Self, StoreError> {
        let network = network(ip);
        let policy = state.config.auth.throttle();
        let reservation = state
            .store
            .reserve_password_attempt(email, &network, &policy, now)
            .await?;
        Ok(Self {
            state,
            email,
            network,
            reservation,
        })
    }

    /// The tag under which this client's network is remembered on the user item.
    pub fn network_tag(&self) -> String {
        network_tag(&self.network)
    }

    /// Decides the throttle (`known_client`: the account knows this client's network, or the
    /// client holds one of its sessions), then verifies `password` against `hash` with
    /// argon2id; without a hash the same work is spent on a dummy, so that the time taken does
    /// not tell which accounts exist.
    pub fn verify(
        &self,
        known_client: bool,
        password: &str,
        hash: Option<&str>,
    ) -> Result<(), CheckFailed> {
        self.reservation
            .decide(known_client)
            .map_err(|t| CheckFailed::Throttled(t.why, t.into()))?;
        let passwords = &self.state.passwords;
        let verified = match hash {
            Some(hash) => passwords.verify(password, hash),
            None => {
                passwords.verify_dummy(password);
                false
            }
        };
        if verified {
            Ok(())
        } else {
            Err(CheckFailed::Wrong)
        }
    }

    /// After a success: the client's counter starts again (the account's does not).
    pub async fn succeeded(&self) -> Result<(), StoreError> {
        self.state
            .store
            .forget_password_attempts(self.email, &self.network)
            .await
    }
}
