//! The API's test harness, shared by the tests in `tests/` and by `make bench`.
//!
//! - [`routes`]: every route's function name, method, path and handler: the one table event
//!   replay and the bench dispatch through.
//! - [`harness`]: a fresh in-process Dynoxide per test with the service's tables, the state a
//!   function builds, API Gateway v2 events, replies and captured logs.
//!
//! Tests call the handlers in process, from many tasks at once where a race is the point:
//! `cargo lambda watch` runs one instance per function and would hide them.

pub mod harness;
pub mod routes;

pub use harness::*;
