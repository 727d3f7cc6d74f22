//! Dev, test and bench support, compiled only with the `testkit` feature (the admin CLI, the
//! API tests and the bench enable it; the functions never do): demo data, table creation for
//! the local stack, and the round-trip recorder.

pub mod demo;
pub mod tables;
pub mod trips;
