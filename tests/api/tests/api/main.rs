//! The API's integration tests, in one binary: every route's handler called in process, as a
//! client calls it ([`api_tests::TestApp`]), against a fresh in-process Dynoxide per test.
//!
//! - `routes`: one module per route, named for its function crate;
//! - `cross_route`: what every route shares (ended sessions, step-up, the `serve` wrapper);
//! - `events`: domain events from the tables' streams, and a killed publisher losing none;
//! - `attacks`: the attacks that once got through, by theme;
//! - `matrix`: every authenticated route × every kind of credential;
//! - `model`: a model-based concurrency test of revocation;
//! - `races`: concurrency at scale;
//! - `round_trips`: DynamoDB round trips per route, the latency budget;
//! - `second_factor`: the second factor's store (no route yet): used once, even in parallel;
//! - `faults`: a slow, throttling or refusing DynamoDB;
//! - `fuzz`: generated bad input.
//!
//! `logs.rs` and `audit.rs` are binaries of their own: each installs a global log subscriber.
//! One module alone: `cargo test -p api-tests --test api routes::login`.

mod attacks;
mod cross_route;
mod events;
mod faults;
mod fuzz;
mod matrix;
mod migration;
mod model;
mod races;
mod round_trips;
mod routes;
mod second_factor;
