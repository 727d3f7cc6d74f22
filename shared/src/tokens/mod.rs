//! Tokens and their keys: access tokens verified (RFC 8725, no I/O) and signed (EdDSA), the
//! signing keys and where they come from, the EdDSA-only crypto provider, and refresh tokens
//! (generations and their MACs). Who a token stands for, as of this request, is
//! [`crate::auth`].
//!
//! - [`verify`]: access-token verification.
//! - [`sign`]: access-token signing.
//! - [`keys`]: signing keys and the dev-only key; [`crypto`]: the EdDSA-only provider on ring.
//! - [`refresh`]: refresh tokens.
//! - [`link`]: the "This wasn't me" links of new-sign-in alerts.
//! - [`seal`]: secrets at rest (a second factor's shared secret), AES-256-GCM.

pub mod crypto;
pub mod keys;
pub mod link;
pub mod refresh;
pub mod seal;
pub mod sign;
pub mod verify;

pub use sign::TokenSigner;
pub use verify::{ACCESS_TOKEN_TYPE, AccessClaims, Bearer, TokenVerifier};
