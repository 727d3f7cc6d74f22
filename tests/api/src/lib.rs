//! The API's test harness, shared by the tests in `tests/` and by `make bench`.
//!
//! - [`routes`]: every route's function name, method, path and handler: the one table [`TestApp`],
//!   event replay and the bench go by.
//! - [`harness`]: a fresh in-process Dynoxide per test with the service's tables and the state a
//!   function builds ([`TestEnv`]), the API as a client calls it ([`TestApp`]), API Gateway v2
//!   events, replies and captured logs.
//! - [`proxy`]: an HTTP proxy in front of DynamoDB that delays, throttles or drops requests
//!   (the fault tests, and the bench's round-trip latency).
//! - [`replay`]: the event-file replay each function crate runs beside its route
//!   ([`replays_its_events!`]).
//!
//! Tests call the handlers in process, from many tasks at once where a race is the point:
//! `cargo lambda watch` runs one instance per function and would hide them.

pub mod harness;
pub mod proxy;
pub mod replay;
pub mod routes;

// For `replays_its_events!`, expanded in the function crates.
#[doc(hidden)]
pub use lambda_http;
#[doc(hidden)]
pub use shared;

pub use harness::*;
