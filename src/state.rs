//! What every worker shares: the pool, the settings, the sign-in throttle and the password
//! hashing threads. Below the routes, so that `auth` and the middleware can use it too.

use crate::auth::password::PasswordWork;
use crate::auth::rate_limit::LoginLimiter;
use crate::config::Settings;
use crate::db::DbPool;

pub struct AppState {
    pub pool: DbPool,
    pub settings: Settings,
    pub login_limiter: LoginLimiter,
    pub passwords: PasswordWork,
    /// The first-run setup code, while no user exists.
    pub setup_code: String,
    /// Signs and encrypts the cookies the app sets besides the session (the device cookie).
    pub cookie_key: actix_web::cookie::Key,
    /// The services' definitions, read at most once a second.
    pub services: crate::auth::gateway::ServiceCache,
    /// Uses of tokens, written every few seconds.
    pub usage: crate::auth::gateway::UsageCounter,
    /// The institution's identity provider, when single sign-on is configured.
    pub sso: Option<crate::auth::oidc::Sso>,
    /// Leak reports per address (`POST /api/v1/credentials/revoke`).
    pub leak_reports: crate::auth::rate_limit::ReportLimiter,
}

impl AppState {
    /// The client's address as the audit log records it.
    pub fn client_ip(&self, req: &actix_web::HttpRequest) -> Option<String> {
        crate::client::client_ip(req, &self.settings.serve).map(|i| i.to_string())
    }

    /// Who may have a password here (`--password-login`, `--break-glass-logins`).
    pub fn password_rule(&self) -> crate::domain::people::PasswordRule {
        crate::domain::people::PasswordRule {
            mode: self.settings.serve.password_login,
            break_glass: self.settings.serve.break_glass_logins.clone(),
        }
    }

    /// What verifications for gateways and introspection need.
    pub fn gateway(&self) -> crate::auth::gateway::Gateway<'_> {
        crate::auth::gateway::Gateway {
            pool: &self.pool,
            cache: &self.services,
            usage: &self.usage,
            last_used_interval_secs: self.settings.serve.token_last_used_interval_secs,
        }
    }

    /// The signed-in user as the actor of a service operation.
    pub fn actor(
        &self,
        req: &actix_web::HttpRequest,
        user: &crate::auth::CurrentUser,
    ) -> crate::services::Actor {
        user.actor(self.client_ip(req))
    }
}
