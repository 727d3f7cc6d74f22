//! The bottom layer: what a session, a user and a device are, and the pure rules about them.
//!
//! Nothing here performs I/O or imports any other module of the crate; every layer above
//! (store, services, auth, http, the functions) builds on these types.
//!
//! - [`session`]: the session item, its lifetimes and status, the wire shape.
//! - [`user`]: the user item, roles, the wire shape.
//! - [`device`]: device labels from a User-Agent.
//! - [`end_reason`]: why a session ended; [`event`]: what a change to a stored item means;
//!   [`activity`]: a user's history of those events.
//! - [`assurance`]: how a session was authenticated (`amr`) and the level reached (`aal`).
//! - [`limits`]: the concurrent session limit's plan (which slot, what to end).
//! - [`throttle`]: the password throttle's decision and keys.
//! - [`challenge`]: the second step of a sign-in with a second factor.
//! - [`totp`]: time-based one-time passwords (RFC 6238), the second factor's codes;
//!   [`recovery`]: its single-use recovery codes.
//! - [`ids`], [`text`], [`time`]: identifiers, cleaning user text, timestamps.

pub mod activity;
pub mod alert;
pub mod assurance;
pub mod challenge;
pub mod device;
pub mod end_reason;
pub mod event;
pub mod ids;
pub mod limits;
pub mod recovery;
pub mod response;
pub mod risk;
pub mod session;
pub mod text;
pub mod throttle;
pub mod time;
pub mod totp;
pub mod user;

pub use assurance::{Aal, Amr};
pub use device::{DeviceInfo, DeviceNameSource, DeviceType};
pub use end_reason::EndReason;
pub use ids::{SessionId, UserId};
pub use response::SessionResponse;
pub use risk::RiskFlag;
pub use session::{Cutoffs, Location, Session, SessionPolicy, SessionStatus};
pub use user::{Role, User, UserResponse};
