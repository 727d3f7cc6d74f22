//! What the service does, one use case per function, each with its audit events: the layer
//! between the routes (which parse and respond) and the store (which reads and writes).
//!
//! - [`sign_in`]: email and password to a new session and its tokens.
//! - [`second_factor`]: the second step of a sign-in: a challenge and a code.
//! - [`tokens`]: issuing tokens, rotating refresh tokens (with theft detection).
//! - [`sessions`]: a user's own sessions: list, name, end one, end all others, sign out.
//! - [`admin`]: an administrator's view and control of any user and their sessions.
//! - [`credentials`]: password checks (throttled), password change, re-authentication.
//! - [`accounts`]: creating users (sign-up and the admin CLI).
//! - [`limits`]: starting a session within the concurrent session limit.
//! - [`introspection`]: whether an access token is alive, for other backends (RFC 7662).
//! - [`activity`]: a user's activity history, for them and for administrators.
//! - [`alerts`]: new-sign-in e-mails with a "This wasn't me" link (the event publisher's).

pub mod accounts;
pub mod activity;
pub mod admin;
pub mod alerts;
pub mod credentials;
pub mod introspection;
pub mod limits;
pub mod second_factor;
pub mod sessions;
pub mod sign_in;
pub mod tokens;
