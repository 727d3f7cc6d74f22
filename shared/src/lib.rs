//! Device Sessions API: the library the route crates (`functions/<name>`) share.
//!
//! Each function binary builds an [`AppState`] once per cold start and runs its route (its
//! crate's `lib.rs`) for every request inside [`http::serve`]. A route reads like its story:
//! authenticate ([`auth::Caller`]), authorise, validate ([`http`]), one call into
//! [`services`], respond.
//!
//! Dependencies run one way, each layer importing only those below it (`tests/layers.rs`
//! checks every import): [`domain`] (sessions, users, devices and the pure rules, no I/O) ←
//! [`error`], [`config`] ← [`store`] (DynamoDB), [`tokens`] (access and refresh tokens, keys),
//! [`events`] (domain events from the tables' stream records) ←
//! `state` ([`AppState`], what a cold start builds) ← [`auth`] (who is calling) ← [`services`] (the use
//! cases and their audit events) ← [`http`] ← the routes. Authentication sits below the
//! services because the caller is what every use case acts for.

pub(crate) mod audit;
pub mod auth;
pub mod config;
pub(crate) mod cursor;
pub mod domain;
pub mod error;
pub mod events;
pub mod http;
pub mod logging;
pub mod metrics;
pub(crate) mod passwords;
pub mod services;
mod state;
pub mod store;
pub mod tables;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod tokens;

pub use config::Config;
pub use error::ApiError;
pub use state::{AppState, read_secrets};
pub use store::Store;
