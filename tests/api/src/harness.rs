//! The harness: a real DynamoDB wire protocol (Dynoxide, in process, in memory), fresh for
//! every test, with the service's tables, and the API as a client calls it.
//!
//! - [`env`](mod@env): [`TestEnv`], one test's DynamoDB and state, and fixtures written to
//!   the store;
//! - [`app`]: [`TestApp`], one method per route, and what the tests share on top of it
//!   ([`Signed`], [`TestApp::sign_in`], the devices' User-Agents);
//! - [`event`](mod@event): API Gateway v2 events, sent through a handler, and the [`Reply`];
//! - [`capture`]: [`Capture`], the JSON log lines a subscriber writes, in memory.

pub mod app;
pub mod capture;
pub mod env;
pub mod event;

pub use app::*;
pub use capture::*;
pub use env::*;
pub use event::*;
