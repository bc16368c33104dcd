//! Diesel rows and their queries. Models know nothing of HTTP.
//!
//! Lookups by a unique key use `get_result`, not `first`: `first` adds `LIMIT ?`, and
//! SQLite (3.45+) lets a bound LIMIT steer the query plan, so it re-prepares such a
//! statement on every execution — on the bearer-token lookup that was a third of the CPU.

pub mod access_token;
pub mod account_role;
pub mod account_settings;
pub mod audit_event;
pub mod notification;
pub mod oidc_login;
pub mod password_setup;
pub mod provisioning;
pub mod secret_stash;
pub mod service;
pub mod session;
pub mod token_tally;
pub mod user;
pub mod user_import;

pub use access_token::{AccessToken, Cursor, NewAccessToken, PresentedToken, TokenFilter};
pub use account_role::AccountRole;
pub use account_settings::{AccountSettings, SettingsChange};
pub use audit_event::{AuditAction, AuditEvent, AuditQuery, NewAuditEvent};
pub use notification::{DigestFigures, Notification, Preferences, WebhookEndpoint};
pub use oidc_login::OidcLogin;
pub use password_setup::PasswordSetup;
pub use provisioning::{ProvisioningCredential, ScimGroup, ScimUser};
pub use secret_stash::SecretStash;
pub use service::{Service, ServiceDefinition, ServiceFields, TokenUsage};
pub use session::{SessionTimes, UserSession};
pub use token_tally::TokenFigures;
pub use user::{
    CreateUserError, NewUserData, RoleSource, RoleSources, User, UserCard, UserOrder, UserPage, UserRoles,
    UserState,
};
pub use user_import::UserImport;

/// Whether a diesel error is a unique-constraint violation (same on both backends).
pub fn is_unique_violation(e: &diesel::result::Error) -> bool {
    matches!(e, diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _))
}
