//! One handler per route. Each reads like its route's story: authenticate, authorise,
//! validate, read or write, shape the response.

pub mod admin_revoke_session;
pub mod admin_revoke_user_sessions;
pub mod change_password;
pub mod get_user_sessions;
pub mod jwks;
pub mod list_my_sessions;
pub mod login;
pub mod logout;
pub mod reauthenticate;
pub mod refresh;
pub mod register;
pub mod rename_session;
pub mod revoke_my_session;
pub mod revoke_other_sessions;
pub mod update_user;
