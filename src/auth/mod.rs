//! Who is asking, and what they may do: passwords, sessions, CSRF, login throttling, API
//! bearer tokens.

pub mod basic;
pub mod bearer;
pub mod csrf;
pub mod gateway;
pub mod guard;
pub mod oidc;
pub mod password;
pub mod rate_limit;
pub mod scim;
pub mod session;

pub use session::CurrentUser;
