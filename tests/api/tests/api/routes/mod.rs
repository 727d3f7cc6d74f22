//! One module per route, named for its function crate: what the route does, and refuses, as a
//! client sees it.

mod admin_revoke_session;
mod admin_revoke_user_sessions;
mod change_password;
mod confirm_totp;
mod enrol_totp;
mod get_current_session;
mod get_user_activity;
mod get_user_sessions;
mod introspect;
mod jwks;
mod list_my_activity;
mod list_my_sessions;
mod login;
mod login_mfa;
mod logout;
mod reauthenticate;
mod refresh;
mod regenerate_recovery_codes;
mod register;
mod remove_totp;
mod rename_session;
mod report_sign_in;
mod revoke_my_session;
mod revoke_other_sessions;
mod update_user;
