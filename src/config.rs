//! Settings from flags and environment variables. Secrets are never printed.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};

/// tokenwarden: personal API access tokens for a school or company, and their oversight.
#[derive(Debug, Parser)]
#[command(name = "tokenwarden", version, about, long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Option<Command>,

    /// Options of `serve`, which runs when no subcommand is given.
    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Database: a SQLite file path (default) or a postgres:// URL.
    #[arg(long, env = "DATABASE_URL", default_value = "tokenwarden.db", global = true)]
    pub database_url: String,

    /// Log level or tracing filter (e.g. `info`, `debug`, `tokenwarden=debug,actix_web=info`).
    #[arg(long, env = "TOKENWARDEN_LOG", default_value = "info", global = true)]
    pub log_level: String,

    /// Log format.
    #[arg(long, env = "TOKENWARDEN_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the web application and the API (the default).
    // Boxed: the settings are most of the enum's size, and a command is parsed once.
    Serve(Box<ServeArgs>),
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage access tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Fill the database with demo or benchmark data.
    Seed(SeedArgs),
    /// Manage the institution's services that tokens guard.
    #[command(subcommand)]
    Service(ServiceCommand),
    /// Manage the credentials of provisioning clients (SCIM at /scim/v2).
    #[command(subcommand)]
    ProvisioningCredential(ProvisioningCredentialCommand),
    /// Manage webhook endpoints (notifications of token and role changes).
    #[command(subcommand)]
    Webhook(WebhookCommand),
}

#[derive(Debug, Subcommand)]
pub enum ProvisioningCredentialCommand {
    /// Create a credential for a provisioning client (Entra ID, Okta…); prints it alone.
    Create(ProvisioningCredentialCreateArgs),
}

#[derive(Debug, Args)]
pub struct ProvisioningCredentialCreateArgs {
    /// What the credential is for, e.g. "Microsoft Entra ID provisioning".
    #[arg(long)]
    pub purpose: String,
}

#[derive(Debug, Subcommand)]
pub enum WebhookCommand {
    /// Register a webhook endpoint; prints its signing secret (`whsec_…`) alone.
    Create(WebhookCreateArgs),
}

#[derive(Debug, Args)]
pub struct WebhookCreateArgs {
    /// The http:// or https:// URL that receives the deliveries.
    #[arg(long)]
    pub url: String,
    /// An event to deliver, e.g. token.revoked (repeatable; default: every event). Events:
    /// token.created, token.updated, token.regenerated, token.revoked, token.expired,
    /// token.leaked, user.roles_changed.
    #[arg(long = "event")]
    pub events: Vec<String>,
    /// What the endpoint is, for the admin page.
    #[arg(long, default_value = "")]
    pub description: String,
    /// The server's session key, which seals the signing secret (default: the key file
    /// `serve` keeps beside the database).
    #[arg(long, env = "TOKENWARDEN_SESSION_KEY", hide_env_values = true)]
    pub session_key: Option<String>,
    /// Private networks webhooks may go to, as `serve` is given them (default: none).
    #[arg(long, env = "TOKENWARDEN_WEBHOOK_ALLOW_NETWORKS", value_delimiter = ',', value_parser = clap::value_parser!(crate::domain::net::Cidr))]
    pub webhook_allow_networks: Vec<crate::domain::net::Cidr>,
}

#[derive(Debug, Subcommand)]
pub enum ServiceCommand {
    /// Register a service; prints its credential for introspection alone.
    Create(ServiceCreateArgs),
}

#[derive(Debug, Args)]
pub struct ServiceCreateArgs {
    /// The service's slug, e.g. gradebook: it prefixes its scopes (gradebook:read).
    #[arg(long)]
    pub slug: String,
    /// The service's name, as people read it.
    #[arg(long)]
    pub name: String,
    /// What the service is.
    #[arg(long, default_value = "")]
    pub description: String,
    /// A scope and its label, e.g. 'read=Read grades' or 'gradebook:read=Read grades' (repeatable).
    #[arg(long = "scope", required = true)]
    pub scopes: Vec<String>,
    /// Who may hold a scope, e.g. 'write=teacher,ta,admin' (repeatable; default: anyone).
    #[arg(long = "holders")]
    pub holders: Vec<String>,
    /// A route rule, e.g. 'GET /grades/*=gradebook:read' (repeatable).
    #[arg(long = "rule")]
    pub rules: Vec<String>,
    /// Accept tokens without scopes (they may do everything their owner may do).
    #[arg(long, default_value_t = false)]
    pub accept_unscoped: bool,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token for a user under the same rules as the web form; prints the secret alone.
    Create(TokenCreateArgs),
}

#[derive(Debug, Args)]
pub struct TokenCreateArgs {
    /// The owner's login.
    #[arg(long)]
    pub login: String,
    /// What the token is for (required).
    #[arg(long)]
    pub purpose: String,
    /// Lifetime in days; without it the token does not expire (refused for students).
    #[arg(long)]
    pub expires_in_days: Option<i64>,
    /// Limit the token to this scope, e.g. 'url:GET|/api/v1/users/:id' (repeatable).
    #[arg(long = "scope")]
    pub scopes: Vec<String>,
}

#[derive(Debug, Args)]
pub struct SeedArgs {
    /// How many users to create.
    #[arg(long, default_value_t = 100)]
    pub users: u32,
    /// How many tokens each user gets.
    #[arg(long, default_value_t = 5)]
    pub tokens_per_user: u32,
    /// Write no audit log for the seeded tokens. By default each one's `token.created` is
    /// written at its creation time, so that the dashboard's weekly chart and the audit log
    /// agree (the benchmark writes its own, outside the seed's time).
    #[arg(long)]
    pub without_history: bool,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user; the password is read from standard input.
    Create(UserCreateArgs),
    /// Create and change users from a CSV file (login,name,email,roles): prints the preview,
    /// then applies all of it — or nothing, with any bad line.
    Import(UserImportArgs),
}

#[derive(Debug, Args)]
pub struct UserImportArgs {
    /// The CSV file: a header `login,name,email,roles`, then one person per line.
    #[arg(long)]
    pub csv: PathBuf,
    /// Print the preview only; change nothing.
    #[arg(long, default_value_t = false)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct UserCreateArgs {
    #[arg(long)]
    pub login: String,
    #[arg(long)]
    pub name: String,
    #[arg(long)]
    pub email: String,
    /// Enrollment role: student, teacher, ta, designer or observer (repeatable).
    #[arg(long = "role")]
    pub roles: Vec<String>,
    /// Account role by name, e.g. "Account Admin" (repeatable).
    #[arg(long = "account-role")]
    pub account_roles: Vec<String>,
    /// Read the password from standard input (required: passwords never go on a command line).
    #[arg(long, required = true)]
    pub password_stdin: bool,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address and port to listen on.
    #[arg(long, env = "TOKENWARDEN_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,

    /// Key that signs and encrypts session cookies (at least 32 bytes). Every instance behind
    /// one load balancer needs the same. When unset, one is generated once and kept in a file
    /// beside the database.
    #[arg(long, env = "TOKENWARDEN_SESSION_KEY", hide_env_values = true)]
    pub session_key: Option<String>,

    /// Mark cookies `Secure` (turn on when the app is served over HTTPS).
    #[arg(long, env = "TOKENWARDEN_SECURE_COOKIES", default_value_t = false)]
    pub secure_cookies: bool,

    /// The server is behind one reverse proxy: the client is the address that proxy appended
    /// to X-Forwarded-For (its rightmost hop), and the scheme and host come from the proxy.
    #[arg(long, env = "TOKENWARDEN_TRUST_PROXY", default_value_t = false)]
    pub trust_proxy: bool,

    /// The reverse proxies in front of the server, as addresses or CIDR blocks
    /// (`10.0.0.0/8,fd00::/8`): the client is the rightmost X-Forwarded-For hop that is not
    /// one of them. Implies --trust-proxy for requests that come from them.
    #[arg(long, env = "TOKENWARDEN_TRUSTED_PROXIES", value_delimiter = ',', value_parser = clap::value_parser!(crate::domain::net::Cidr))]
    pub trusted_proxies: Vec<crate::domain::net::Cidr>,

    /// The one-time code for first-run setup; generated and logged when unset.
    #[arg(long, env = "TOKENWARDEN_SETUP_CODE", hide_env_values = true)]
    pub setup_code: Option<String>,

    /// Sign a session out after this many minutes without a request.
    #[arg(long, env = "TOKENWARDEN_IDLE_TIMEOUT_MINUTES", default_value_t = 30)]
    pub idle_timeout_minutes: u32,

    /// Sign a session out this many hours after login, active or not.
    #[arg(long, env = "TOKENWARDEN_ABSOLUTE_TIMEOUT_HOURS", default_value_t = 12)]
    pub absolute_timeout_hours: u32,

    /// Failed-login budget per client IP per minute.
    #[arg(long, env = "TOKENWARDEN_LOGIN_ATTEMPTS_PER_IP", default_value_t = 20)]
    pub login_attempts_per_ip: u32,

    /// Sign-in budget per login: this many attempts at once, then one more every 90 seconds
    /// (a browser that signed in before has a budget of its own, full again at each sign-in).
    #[arg(long, env = "TOKENWARDEN_LOGIN_ATTEMPTS_PER_LOGIN", default_value_t = 5)]
    pub login_attempts_per_login: u32,

    /// The address people reach this server at (`https://tokens.example.edu`): links in
    /// emails and the redirect URI to register at the identity provider
    /// (`<public-url>/login/oidc/callback`).
    #[arg(long, env = "TOKENWARDEN_PUBLIC_URL", value_parser = base_url)]
    pub public_url: Option<url::Url>,

    /// The OpenID Connect issuer of the institution's identity provider (its discovery
    /// document is at `<issuer>/.well-known/openid-configuration`).
    #[arg(long, env = "TOKENWARDEN_OIDC_ISSUER")]
    pub oidc_issuer: Option<url::Url>,

    /// The client id registered at the identity provider.
    #[arg(long, env = "TOKENWARDEN_OIDC_CLIENT_ID")]
    pub oidc_client_id: Option<String>,

    /// The client secret registered at the identity provider.
    #[arg(long, env = "TOKENWARDEN_OIDC_CLIENT_SECRET", hide_env_values = true)]
    pub oidc_client_secret: Option<String>,

    /// The scopes to ask the identity provider for (space-separated; add the one that
    /// releases the groups claim where the provider needs one, e.g. `groups` for Okta).
    #[arg(long, env = "TOKENWARDEN_OIDC_SCOPES", default_value = "openid profile email")]
    pub oidc_scopes: String,

    /// The ID token claim that lists the user's groups.
    #[arg(long, env = "TOKENWARDEN_OIDC_ROLES_CLAIM", default_value = "groups")]
    pub oidc_roles_claim: String,

    /// How the institution's groups map to roles, for single sign-on and SCIM:
    /// `student=GROUP,teacher=GROUP,…,Account Admin=GROUP`.
    #[arg(long, env = "TOKENWARDEN_OIDC_ROLE_MAP", default_value = "")]
    pub oidc_role_map: crate::domain::people::RoleMap,

    /// The identity provider's name on the sign-in button ("Sign in with …").
    #[arg(long, env = "TOKENWARDEN_OIDC_NAME", default_value = "your institution's account")]
    pub oidc_name: String,

    /// Who may sign in with a password: on, off, or break-glass (only --break-glass-logins).
    #[arg(long, env = "TOKENWARDEN_PASSWORD_LOGIN", value_enum, default_value_t = crate::domain::people::PasswordLogin::On)]
    pub password_login: crate::domain::people::PasswordLogin,

    /// With --password-login break-glass: the logins that may still sign in with a password.
    #[arg(long, env = "TOKENWARDEN_BREAK_GLASS_LOGINS", value_delimiter = ',')]
    pub break_glass_logins: Vec<String>,

    /// Write the counted uses of tokens (per service and day) every this many seconds.
    #[arg(long, env = "TOKENWARDEN_USAGE_FLUSH_SECS", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..))]
    pub usage_flush_secs: u64,

    /// Leak reports (`POST /api/v1/credentials/revoke`) per client address per minute.
    #[arg(long, env = "TOKENWARDEN_LEAK_REPORTS_PER_IP", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    pub leak_reports_per_ip: u32,

    /// Database connections in the pool, and threads to run their queries (default: one
    /// per core for SQLite, whose queries are work on the cores; 8 for PostgreSQL, whose
    /// queries mostly wait on the network).
    #[arg(long, env = "TOKENWARDEN_DB_POOL_SIZE", value_parser = clap::value_parser!(u32).range(1..))]
    pub db_pool_size: Option<u32>,

    /// HTTP worker threads (default: one per core).
    #[arg(long, env = "TOKENWARDEN_WORKERS")]
    pub workers: Option<usize>,

    /// Record a token's "last used" time at most once per this many seconds (Canvas: 10
    /// minutes), so that a busy token does not turn every API read into a write.
    #[arg(long, env = "TOKENWARDEN_TOKEN_LAST_USED_INTERVAL_SECS", default_value_t = 600)]
    pub token_last_used_interval_secs: u64,

    #[command(flatten)]
    pub notify: NotifyArgs,
}

/// Notifications (SPEC 13): email over SMTP, and the delivery worker's pace.
#[derive(Clone, Args)]
pub struct NotifyArgs {
    /// The SMTP server that sends email: `smtp://host:25` (no TLS), `smtp://host:587?tls=required`
    /// (STARTTLS), `smtps://host:465` (TLS from the start); a user and password go in the URL
    /// (`smtps://user:password@host`). Without it, each email is written to the log
    /// (recipient and subject) instead of sent.
    #[arg(long, env = "TOKENWARDEN_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,

    /// The sender of emails, e.g. `tokenwarden <tokens@example.edu>` (required with --smtp-url).
    #[arg(long, env = "TOKENWARDEN_MAIL_FROM")]
    pub mail_from: Option<String>,

    /// Private networks that webhooks may be delivered into, as addresses or CIDR blocks
    /// (`10.20.0.0/16,fd00:1::/32`; `127.0.0.0/8` for a receiver on this host). By default
    /// webhooks go to public addresses only: an endpoint's URL must not reach the server's
    /// own loopback services, the cloud's metadata address or the intranet.
    #[arg(long, env = "TOKENWARDEN_WEBHOOK_ALLOW_NETWORKS", value_delimiter = ',', value_parser = clap::value_parser!(crate::domain::net::Cidr))]
    pub webhook_allow_networks: Vec<crate::domain::net::Cidr>,

    /// An HTTP proxy that webhooks go through, for a network whose only way out is one:
    /// `http://proxy.example.edu:3128` (a user and password, if it asks for them, in the URL).
    /// The proxy then resolves the endpoints' names; this server still refuses an address
    /// outside its reach in an endpoint's URL, and a name that it resolves itself only into
    /// such addresses. Without it, webhooks go direct: a proxy named in the environment
    /// (`HTTPS_PROXY`) is never used.
    ///
    /// Judged at the start, not by the argument parser, whose errors repeat the value given
    /// (and with it the password).
    #[arg(long, env = "TOKENWARDEN_WEBHOOK_PROXY", hide_env_values = true)]
    pub webhook_proxy: Option<String>,

    /// How often the delivery worker looks for messages that are due, in milliseconds.
    #[arg(long, env = "TOKENWARDEN_NOTIFY_POLL_MS", default_value_t = 2000, hide = true, value_parser = clap::value_parser!(u64).range(10..))]
    pub notify_poll_ms: u64,

    /// How often the scheduler looks for tokens crossing an expiry line and digests that
    /// are due, in milliseconds.
    #[arg(long, env = "TOKENWARDEN_NOTIFY_SCHEDULE_MS", default_value_t = 60_000, hide = true, value_parser = clap::value_parser!(u64).range(10..))]
    pub notify_schedule_ms: u64,

    /// The wait after a first failed delivery, in milliseconds; it doubles at each failure
    /// (at most two hours), for a day.
    #[arg(long, env = "TOKENWARDEN_NOTIFY_RETRY_MS", default_value_t = 30_000, hide = true, value_parser = clap::value_parser!(u64).range(1..))]
    pub notify_retry_ms: u64,

    /// How long the SMTP server has for a whole message, from connecting to its last
    /// reply, in milliseconds: a server that stops answering is left for a later attempt.
    #[arg(long, env = "TOKENWARDEN_NOTIFY_SEND_TIMEOUT_MS", default_value_t = 30_000, hide = true, value_parser = clap::value_parser!(u64).range(1..=60_000))]
    pub notify_send_timeout_ms: u64,
}

/// `--public-url` as a base the app's paths are joined to: `https://x.edu/tw` is the same
/// as `https://x.edu/tw/` (else a join would replace `tw`, and links would lose it).
fn base_url(given: &str) -> Result<url::Url, String> {
    let mut url =
        url::Url::parse(given.trim()).map_err(|e| format!("{e} (e.g. https://tokens.example.edu)"))?;
    if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
        return Err("an http:// or https:// address, e.g. https://tokens.example.edu".into());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("an address without a query or fragment, e.g. https://tokens.example.edu/tokens".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("an address without a user or password: it goes into every email's links".into());
    }
    let path = format!("{}/", url.path().trim_end_matches('/'));
    url.set_path(&path);
    Ok(url)
}

/// `--webhook-proxy`: an http:// or https:// address with a host and nothing after it.
fn proxy_url(given: &str) -> Result<url::Url, String> {
    let example = "e.g. http://proxy.example.edu:3128";
    let url = url::Url::parse(given.trim())
        .map_err(|e| format!("a proxy's address, which this is not: {e} ({example})"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err(format!("a proxy's http:// or https:// address ({example})"));
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(format!("a proxy's address alone, without a path ({example})"));
    }
    Ok(url)
}

impl NotifyArgs {
    /// `--webhook-proxy`, checked (the error never repeats the address: it may hold a password).
    pub fn webhook_proxy(&self) -> anyhow::Result<Option<url::Url>> {
        self.webhook_proxy
            .as_deref()
            .map(|given| proxy_url(given).map_err(|why| anyhow::anyhow!("--webhook-proxy: expected {why}")))
            .transpose()
    }

    /// Where webhooks may be delivered: the public internet and the allowed networks.
    pub fn outbound_reach(&self) -> crate::domain::net::OutboundReach {
        crate::domain::net::OutboundReach::new(self.webhook_allow_networks.clone())
    }
}

/// Without the SMTP server's or the proxy's address: either may hold a password.
impl std::fmt::Debug for NotifyArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let set = |v: &Option<String>| if v.is_some() { "***" } else { "none" };
        f.debug_struct("NotifyArgs")
            .field("smtp_url", &set(&self.smtp_url))
            .field("mail_from", &self.mail_from)
            .field("webhook_allow_networks", &self.webhook_allow_networks)
            .field("webhook_proxy", &set(&self.webhook_proxy))
            .finish_non_exhaustive()
    }
}

impl Default for NotifyArgs {
    fn default() -> Self {
        NotifyArgs {
            smtp_url: None,
            mail_from: None,
            webhook_allow_networks: Vec::new(),
            webhook_proxy: None,
            notify_poll_ms: 2000,
            notify_schedule_ms: 60_000,
            notify_retry_ms: 30_000,
            notify_send_timeout_ms: 30_000,
        }
    }
}

impl Default for ServeArgs {
    fn default() -> Self {
        ServeArgs {
            bind: "127.0.0.1:0".parse().expect("a literal address"),
            session_key: None,
            secure_cookies: false,
            trust_proxy: false,
            trusted_proxies: Vec::new(),
            setup_code: None,
            idle_timeout_minutes: 30,
            absolute_timeout_hours: 12,
            login_attempts_per_ip: 20,
            login_attempts_per_login: 5,
            leak_reports_per_ip: 10,
            usage_flush_secs: 5,
            public_url: None,
            oidc_issuer: None,
            oidc_client_id: None,
            oidc_client_secret: None,
            oidc_scopes: "openid profile email".to_owned(),
            oidc_roles_claim: "groups".to_owned(),
            oidc_role_map: crate::domain::people::RoleMap::default(),
            oidc_name: "your institution's account".to_owned(),
            password_login: crate::domain::people::PasswordLogin::On,
            break_glass_logins: Vec::new(),
            db_pool_size: None,
            workers: None,
            token_last_used_interval_secs: 600,
            notify: NotifyArgs::default(),
        }
    }
}

impl ServeArgs {
    /// Whom the proxies in front of the server speak for.
    pub fn proxy_trust(&self) -> crate::domain::net::ProxyTrust<'_> {
        use crate::domain::net::ProxyTrust;
        if !self.trusted_proxies.is_empty() {
            ProxyTrust::Blocks(&self.trusted_proxies)
        } else if self.trust_proxy {
            ProxyTrust::Peer
        } else {
            ProxyTrust::None
        }
    }
}

impl ServeArgs {
    /// Single sign-on's configuration, when `--oidc-issuer` is set; what is missing or
    /// contradictory is an error at start, not at someone's first sign-in.
    pub fn sso_config(&self) -> anyhow::Result<Option<crate::auth::oidc::SsoConfig>> {
        use crate::domain::people::PasswordLogin;
        let Some(issuer) = &self.oidc_issuer else {
            anyhow::ensure!(
                self.password_login == PasswordLogin::On,
                "--password-login {} needs single sign-on: set --oidc-issuer",
                if self.password_login == PasswordLogin::Off { "off" } else { "break-glass" }
            );
            return Ok(None);
        };
        let client_id = self.oidc_client_id.clone().filter(|c| !c.trim().is_empty()).context(
            "--oidc-issuer needs --oidc-client-id (the client registered at the identity provider)",
        )?;
        let public = self.public_url.as_ref().context(
            "--oidc-issuer needs --public-url: the identity provider sends people back to <public-url>/login/oidc/callback",
        )?;
        anyhow::ensure!(
            self.password_login != PasswordLogin::BreakGlass || !self.break_glass_logins.is_empty(),
            "--password-login break-glass needs --break-glass-logins (the administrators who keep a password)"
        );
        let redirect = public.join("login/oidc/callback").context("--public-url is not a base URL")?;
        // The issuer as configured, without the trailing slash url adds to a bare host: the
        // ID token's `iss` is compared with it character for character.
        let issuer =
            issuer.as_str().strip_suffix('/').filter(|_| issuer.path() == "/").unwrap_or(issuer.as_str());
        Ok(Some(crate::auth::oidc::SsoConfig {
            issuer: openidconnect::IssuerUrl::new(issuer.to_owned()).context("--oidc-issuer")?,
            client_id,
            client_secret: self.oidc_client_secret.clone().filter(|s| !s.is_empty()),
            redirect: openidconnect::RedirectUrl::from_url(redirect),
            scopes: self.oidc_scopes.split_whitespace().map(str::to_owned).collect(),
            roles_claim: self.oidc_roles_claim.clone(),
            name: self.oidc_name.clone(),
        }))
    }
}

/// Everything `serve` needs, resolved.
#[derive(Clone)]
pub struct Settings {
    pub database_url: String,
    pub serve: ServeArgs,
    /// The session key material (≥ 32 bytes).
    pub session_key: Vec<u8>,
}

impl Settings {
    /// The pool's size: as configured, else one connection per core for SQLite (a query
    /// is work on a core, and more threads than cores only switch between each other) and
    /// 8 for PostgreSQL (a query mostly waits for the server to answer).
    pub fn db_pool_size(&self) -> u32 {
        self.serve.db_pool_size.unwrap_or_else(|| {
            if crate::db::is_postgres(&self.database_url) {
                8
            } else {
                u32::try_from(cores()).unwrap_or(u32::MAX)
            }
        })
    }

    /// HTTP worker threads: as configured, else one per core.
    pub fn workers(&self) -> usize {
        self.serve.workers.unwrap_or_else(cores)
    }
}

/// The cores this process may use.
pub fn cores() -> usize {
    std::thread::available_parallelism().map(std::num::NonZeroUsize::get).unwrap_or(1)
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("database_url", &crate::db::redact(&self.database_url))
            .field("bind", &self.serve.bind)
            .field("session_key", &"***")
            .finish()
    }
}

/// Normalises a database URL: `sqlite://path` and `sqlite:path` become the path.
pub fn normalize_database_url(url: &str) -> String {
    url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")).unwrap_or(url).to_owned()
}

/// Where a generated session key is kept: beside the SQLite file, or in the working
/// directory for PostgreSQL.
pub fn session_key_path(database_url: &str) -> PathBuf {
    if crate::db::is_postgres(database_url) {
        PathBuf::from("tokenwarden.session-key")
    } else {
        let db = Path::new(database_url);
        let mut name = db.file_name().map(|n| n.to_os_string()).unwrap_or_default();
        name.push(".session-key");
        db.with_file_name(name)
    }
}

/// The session key from the environment, or else from (or newly into) its file.
pub fn resolve_session_key(serve: &ServeArgs, database_url: &str) -> anyhow::Result<Vec<u8>> {
    session_key(serve.session_key.as_deref(), database_url, true)
}

/// The server's session key for a command that seals with it (`webhook create`): given, or
/// read from its file; never generated, since a server given its key by the environment
/// would not read a new file, and a secret sealed with it could not be opened.
pub fn existing_session_key(given: Option<&str>, database_url: &str) -> anyhow::Result<Vec<u8>> {
    session_key(given, database_url, false)
}

fn session_key(given: Option<&str>, database_url: &str, may_generate: bool) -> anyhow::Result<Vec<u8>> {
    if let Some(key) = given {
        anyhow::ensure!(key.len() >= 32, "TOKENWARDEN_SESSION_KEY must be at least 32 bytes long");
        return Ok(key.as_bytes().to_vec());
    }
    let path = session_key_path(database_url);
    match std::fs::read_to_string(&path) {
        Ok(text) if text.trim().len() >= 32 => Ok(text.trim().as_bytes().to_vec()),
        Ok(_) => anyhow::bail!("the session key file {} is too short", path.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !may_generate => anyhow::bail!(
            "no session key: give the server's (TOKENWARDEN_SESSION_KEY or --session-key), or run \
             where its key file is ({} was not found; `serve` makes it at its first start)",
            path.display()
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = crate::domain::token_secret::random_base62(64);
            write_private(&path, &key)
                .with_context(|| format!("could not write the session key to {}", path.display()))?;
            tracing::warn!(
                path = %path.display(),
                "no TOKENWARDEN_SESSION_KEY set: generated a session key and saved it; \
                 keep this file private, and give every instance the same key"
            );
            Ok(key.into_bytes())
        }
        Err(e) => Err(e).with_context(|| format!("could not read {}", path.display())),
    }
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_prefixes_are_stripped() {
        assert_eq!(normalize_database_url("sqlite://a/b.db"), "a/b.db");
        assert_eq!(normalize_database_url("sqlite:b.db"), "b.db");
        assert_eq!(normalize_database_url("postgres://x/y"), "postgres://x/y");
    }

    #[test]
    fn a_webhook_proxy_is_an_http_address_alone() {
        let ok = proxy_url(" http://user:pw@proxy.example.edu:3128 ").unwrap();
        assert_eq!(
            (ok.host_str(), ok.port(), ok.password()),
            (Some("proxy.example.edu"), Some(3128), Some("pw"))
        );
        assert!(proxy_url("https://proxy.example.edu/").is_ok());
        for (bad, says) in [
            ("proxy.example.edu:3128", "a proxy's http:// or https:// address"),
            ("socks5://proxy.example.edu:1080", "a proxy's http:// or https:// address"),
            ("http://proxy.example.edu:3128/pac", "without a path"),
            ("http://proxy.example.edu:3128?x=1", "without a path"),
            ("not a url", "relative URL without a base"),
        ] {
            let err = proxy_url(bad).unwrap_err();
            assert!(err.contains(says) && err.contains("e.g. http://proxy.example.edu:3128"), "{bad}: {err}");
        }
        // The start's error, and the settings' Debug, never repeat a password.
        let args = |proxy: &str| NotifyArgs {
            webhook_proxy: Some(proxy.to_owned()),
            smtp_url: Some("smtps://mailer:mail-secret@smtp.example.edu".into()),
            ..NotifyArgs::default()
        };
        let err =
            args("http://user:s3cret@proxy.example.edu:3128/pac").webhook_proxy().unwrap_err().to_string();
        assert!(
            err.starts_with("--webhook-proxy: expected a proxy's address alone") && !err.contains("s3cret"),
            "{err}"
        );
        let shown = format!("{:?}", args("http://user:s3cret@proxy.example.edu:3128"));
        assert!(!shown.contains("s3cret") && !shown.contains("mail-secret"), "{shown}");
        assert!(args("http://proxy.example.edu:3128").webhook_proxy().unwrap().is_some());
    }

    #[test]
    fn the_pool_has_a_connection_per_core_for_sqlite_and_eight_for_postgres_unless_set() {
        let settings = |url: &str, size: Option<u32>| Settings {
            database_url: url.to_owned(),
            serve: ServeArgs { db_pool_size: size, ..ServeArgs::default() },
            session_key: Vec::new(),
        };
        assert_eq!(settings("tokenwarden.db", None).db_pool_size() as usize, cores());
        assert_eq!(settings("postgres://db/tw", None).db_pool_size(), 8);
        assert_eq!(settings("tokenwarden.db", Some(16)).db_pool_size(), 16);
        assert_eq!(settings("postgres://db/tw", Some(3)).db_pool_size(), 3);
        assert!(
            Cli::try_parse_from(["tokenwarden", "--db-pool-size", "0"]).is_err(),
            "an empty pool serves nothing"
        );
    }

    #[test]
    fn the_key_file_sits_beside_the_database() {
        assert_eq!(session_key_path("/var/lib/tw/app.db"), PathBuf::from("/var/lib/tw/app.db.session-key"));
        assert_eq!(session_key_path("postgres://x/y"), PathBuf::from("tokenwarden.session-key"));
    }

    #[test]
    fn the_cli_parses_and_serve_is_the_default() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
        let cli = Cli::try_parse_from(["tokenwarden", "--bind", "0.0.0.0:9000"]).unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.serve.bind.port(), 9000);
    }

    #[test]
    fn single_sign_on_needs_its_client_and_public_url_and_passwords_off_need_it() {
        let parse = |args: &[&str]| {
            Cli::try_parse_from(std::iter::once("tokenwarden").chain(args.iter().copied()))
                .unwrap()
                .serve
                .sso_config()
                .map_err(|e| e.to_string())
        };
        assert!(parse(&[]).unwrap().is_none());
        assert!(parse(&["--password-login", "off"]).unwrap_err().contains("--oidc-issuer"));
        let issuer = ["--oidc-issuer", "https://login.example.edu"];
        assert!(parse(&issuer).unwrap_err().contains("--oidc-client-id"));
        let with_client = [&issuer[..], &["--oidc-client-id", "tw"]].concat();
        assert!(parse(&with_client).unwrap_err().contains("--public-url"));
        let full = [&with_client[..], &["--public-url", "https://tokens.example.edu/"]].concat();
        let config = parse(&full).unwrap().unwrap();
        assert_eq!(config.issuer.as_str(), "https://login.example.edu", "no slash added to the issuer");
        assert_eq!(config.redirect.as_str(), "https://tokens.example.edu/login/oidc/callback");
        assert_eq!(config.scopes, ["openid", "profile", "email"]);
        let break_glass = [&full[..], &["--password-login", "break-glass"]].concat();
        assert!(parse(&break_glass).unwrap_err().contains("--break-glass-logins"));
        let tenant = [
            "--oidc-issuer",
            "https://login.microsoftonline.com/t/v2.0/",
            "--oidc-client-id",
            "x",
            "--public-url",
            "https://a.edu/tw/",
        ];
        let config = parse(&tenant).unwrap().unwrap();
        assert_eq!(
            config.issuer.as_str(),
            "https://login.microsoftonline.com/t/v2.0/",
            "a path stays as given"
        );
        assert_eq!(config.redirect.as_str(), "https://a.edu/tw/login/oidc/callback");
    }

    #[test]
    fn trusted_proxies_are_a_list_of_blocks() {
        use crate::domain::net::ProxyTrust;
        let cli = Cli::try_parse_from(["tokenwarden", "--trusted-proxies", "10.0.0.0/8,fd00::/8"]).unwrap();
        assert!(matches!(cli.serve.proxy_trust(), ProxyTrust::Blocks(b) if b.len() == 2));
        let cli = Cli::try_parse_from(["tokenwarden", "--trust-proxy"]).unwrap();
        assert_eq!(cli.serve.proxy_trust(), ProxyTrust::Peer);
        assert_eq!(Cli::try_parse_from(["tokenwarden"]).unwrap().serve.proxy_trust(), ProxyTrust::None);
        assert!(Cli::try_parse_from(["tokenwarden", "--trusted-proxies", "10.0.0.0/40"]).is_err());
    }

    #[test]
    fn a_public_url_with_a_path_is_a_base_with_or_without_its_trailing_slash() {
        for given in ["https://x.edu/tw", "https://x.edu/tw/", " https://x.edu/tw "] {
            let url = base_url(given).unwrap();
            assert_eq!(url.join("settings/tokens").unwrap().as_str(), "https://x.edu/tw/settings/tokens");
        }
        assert_eq!(base_url("https://x.edu").unwrap().join("a").unwrap().as_str(), "https://x.edu/a");
        let doubled = base_url("https://x.edu/tw//").unwrap();
        assert_eq!(doubled.join("a").unwrap().as_str(), "https://x.edu/tw/a", "as the pages' links have it");
        for refused in [
            "x.edu",
            "ftp://x.edu/",
            "mailto:a@x.edu",
            "https://x.edu/?a=1",
            "https://x.edu/#top",
            "https://u:p@x.edu/",
        ] {
            assert!(base_url(refused).is_err(), "{refused}");
        }
    }
}
