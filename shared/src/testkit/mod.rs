//! Dev, test and bench support, compiled only with the `testkit` feature (the admin CLI, the
//! API tests and the bench enable it; the functions never do): demo data, table creation for
//! the local stack, the local stack's event relay, and the round-trip recorder.

pub mod demo;
pub mod relay;
pub mod tables;
pub mod trips;
