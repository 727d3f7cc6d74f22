//! `DELETE /sessions/user/{user_id}`: an admin ends every session of a user. Its route test is
//! `admin_revoke_session::admins_end_one_session_or_all_of_a_users` (both admin routes in one
//! story); `attacks::revocation::no_earlier_session_survives_an_admin_ending_them_all` races it
//! against sign-ins, and `model` runs it among everything else.
