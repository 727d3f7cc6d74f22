//! One handler per route. Each reads like its route's story: authenticate, authorise,
//! validate, read or write, shape the response.

pub mod get_user_sessions;
pub mod listing;
