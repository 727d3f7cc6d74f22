//! The HTTP layer: reading requests, shaping responses, paging, and the wrapper every function
//! runs its route in.

pub mod paging;
mod request;
mod response;
mod serve;

pub use request::{
    MAX_BODY_BYTES, Viewer, backend_caller, client_ip, expect_method, form_body, iam_principal,
    json_body, path_param, request_path, session_id_param, source_ip, target_user_id, user_agent,
    user_id_param, viewer,
};
pub use response::{EXPOSED_HEADERS, Revoked, empty, error_response, json};
pub use serve::{is_loopback_origin, serve};
