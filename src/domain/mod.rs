//! Pure rules: no I/O, no HTTP, no SQL. Used alike by the pages, the API and the CLI.

pub mod authority;
pub mod net;
pub mod notification;
pub mod owner_roles;
pub mod people;
pub mod people_import;
pub mod period;
pub mod permission;
pub mod role;
pub mod scim;
pub mod service;
pub mod session_policy;
pub mod text;
pub mod token;
pub mod token_secret;
pub mod user_fields;

pub use permission::{Permission, PermissionSet};
pub use role::{EnrollmentRole, is_student_only};
pub use text::count;
pub use user_fields::{DisplayName, Email, Login, Password, ValidationError};

/// The current time, to the second (what every timestamp of the app is stored with).
pub fn now() -> chrono::NaiveDateTime {
    let now = chrono::Utc::now().naive_utc();
    chrono::DateTime::from_timestamp(now.and_utc().timestamp(), 0).map(|d| d.naive_utc()).unwrap_or(now)
}
