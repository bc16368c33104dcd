//! Builds the application and the HTTP server. Returns the bound port so tests can use
//! port 0.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_session::SessionMiddleware;
use actix_session::config::{BrowserSession, CookieContentSecurity};
use actix_session::storage::CookieSessionStore;
use actix_web::cookie::{Key, SameSite};
use actix_web::dev::Server;
use actix_web::middleware::{Condition, DefaultHeaders, from_fn};
use actix_web::{App, HttpServer, web};
use actix_web_flash_messages::FlashMessagesFramework;
use anyhow::Context;

use crate::auth::rate_limit::LoginLimiter;
use crate::config::Settings;
use crate::db::{self, DbPool};
use crate::error::bad_input;
use crate::models::User;
use crate::state::AppState;

/// Makes glibc's malloc give large blocks back to the system as soon as they are freed.
///
/// By default glibc raises its mmap threshold after the first large block is freed, so the
/// next ones come from the thread's arena and stay resident there: each password hash
/// (argon2, 9 MiB) left its blocking thread 10–20 MB heavier, and a few sign-ins took the
/// server from 20 MB to 80 MB. A fixed threshold keeps blocks of 1 MiB and more in their
/// own mappings, unmapped on free. Call it once, before any thread starts.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator settings; called before other threads exist.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1024 * 1024);
    }
}

/// SQLite as the server uses it: each connection in one thread at a time, and no
/// memory statistics.
///
/// By default SQLite takes a mutex for every call on a connection (for every column of
/// every row read) and a global one for each of its allocations, to count them: 5% of the
/// Access Tokens page. In multi-thread mode SQLite still guards what its connections share
/// and leaves each connection's own guarding to its user; here the pool hands a connection
/// to one query thread at a time, and diesel's connection is `Send` but not `Sync`, so two
/// threads never use one at once (rusqlite opens its connections the same way). Call it
/// before the first connection opens: once SQLite is initialised it refuses any change, and
/// nothing changes.
pub fn tune_sqlite() {
    use libsqlite3_sys::{SQLITE_CONFIG_MEMSTATUS, SQLITE_CONFIG_MULTITHREAD, SQLITE_OK, sqlite3_config};
    // SAFETY: sqlite3_config before SQLite is initialised only sets options; after that it
    // returns SQLITE_MISUSE and changes nothing. The variadic argument is the int
    // MEMSTATUS takes.
    let (threads, memstatus) = unsafe {
        (
            sqlite3_config(SQLITE_CONFIG_MULTITHREAD),
            sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0 as std::ffi::c_int),
        )
    };
    if threads != SQLITE_OK || memstatus != SQLITE_OK {
        tracing::debug!(threads, memstatus, "SQLite was initialised already: its thread mode is as it was");
    }
}

/// A file-size limit (`ulimit -f`) or a full disk must not kill the server: with SIGXFSZ
/// ignored, a write past the limit fails with an error that SQLite reports and the request
/// gets a 503, instead of the kernel ending the process. Call it once, at start.
pub fn survive_file_size_limits() {
    #[cfg(unix)]
    // SAFETY: setting a signal's disposition to "ignore" touches no Rust state.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
}

/// Checks the settings that can be judged without the database — single sign-on's, the
/// mail's — so that a contradiction stops the start before anything is written. (The
/// application checks them again as it builds what they configure.)
pub fn check_settings(serve: &crate::config::ServeArgs) -> anyhow::Result<()> {
    serve.sso_config()?;
    let placeholder = url::Url::parse("http://localhost/").expect("a URL");
    crate::notify::mail::Mailer::new(
        serve.notify.smtp_url.as_deref(),
        serve.notify.mail_from.as_deref(),
        placeholder,
    )?;
    serve.notify.webhook_proxy()?;
    // With single sign-on the list also keeps the provider's people off those accounts,
    // whatever the mode; without it, it does nothing.
    if serve.oidc_issuer.is_none() && !serve.break_glass_logins.is_empty() {
        tracing::warn!(
            "--break-glass-logins is set but has no effect without single sign-on (--oidc-issuer)"
        );
    }
    Ok(())
}

pub struct Application {
    port: u16,
    server: Server,
    /// Dropped when the server has stopped: the background work (housekeeping, the
    /// notification worker) stops with it.
    _running: tokio::sync::watch::Sender<()>,
}

/// The Content-Security-Policy: nothing inline, nothing from elsewhere.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; \
                   object-src 'none'";

impl Application {
    /// Migrates the database, then binds. The database may be down at start for PostgreSQL
    /// only if migrations already ran; otherwise start-up fails with the reason.
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        let url = settings.database_url.clone();
        let pool_size = settings.db_pool_size();
        let role_map = settings.serve.oidc_role_map.clone();
        let key_check = crate::services::notifications::session_key_check(&settings.session_key);
        let (pool, user_count) = web::block(move || -> anyhow::Result<(DbPool, i64)> {
            let mut conn = db::connect(&url)?;
            let applied = db::run_migrations(&mut conn)?;
            if applied > 0 {
                tracing::info!(applied, "applied database migrations");
            }
            if let Some(capped) = crate::services::tokens::apply_upgrade_cap(&mut conn)
                .map_err(|e| anyhow::anyhow!("could not apply the student cap: {e}"))?
            {
                tracing::info!(capped, "applied the student maximum lifetime to existing tokens");
            }
            crate::models::AccountSettings::record_session_key_check(&mut conn, &key_check)
                .context("could not record the session key's check")?;
            let count = User::count(&mut conn).context("could not count users")?;
            let roles = crate::models::AccountRole::all(&mut conn).context("could not read the account roles")?;
            for name in role_map.account_roles() {
                if !roles.iter().any(|r| crate::domain::text::same_name(&r.name, name)) {
                    tracing::warn!(role = %name, "the role map names an account role that does not exist: its group gives nothing until the role is created");
                }
            }
            Ok((db::build_pool(&url, pool_size)?, count))
        })
        .await??;

        let setup_code = settings
            .serve
            .setup_code
            .clone()
            .unwrap_or_else(|| crate::domain::token_secret::random_base62(12));
        let listener = TcpListener::bind(settings.serve.bind)
            .with_context(|| format!("could not listen on {}", settings.serve.bind))?;
        let port = listener.local_addr()?.port();
        if user_count == 0 {
            let host = match settings.serve.bind.ip() {
                ip if ip.is_unspecified() => "localhost".to_owned(),
                ip => ip.to_string(),
            };
            tracing::warn!(
                setup_url = %format!("http://{host}:{port}/setup"),
                setup_code = %setup_code,
                "no user exists yet: open the setup page and enter this one-time setup code to create the first administrator"
            );
        }
        let sso = settings.serve.sso_config()?.map(crate::auth::oidc::Sso::new).transpose()?;
        let state = web::Data::new(AppState {
            sso,
            login_limiter: LoginLimiter::new(
                settings.serve.login_attempts_per_ip,
                settings.serve.login_attempts_per_login,
            ),
            passwords: crate::auth::password::PasswordWork::new(crate::config::cores())
                .context("could not start the password hashing threads")?,
            pool,
            cookie_key: Key::derive_from(&settings.session_key),
            services: Default::default(),
            usage: Default::default(),
            leak_reports: crate::auth::rate_limit::ReportLimiter::new(settings.serve.leak_reports_per_ip),
            settings,
            setup_code,
        });
        let (running, stopped) = tokio::sync::watch::channel(());
        spawn_housekeeping(state.clone().into_inner(), &stopped);
        // Links in emails lead to --public-url, or else to where this server listens.
        let public_url = match &state.settings.serve.public_url {
            Some(url) => url.clone(),
            None => {
                let host = match state.settings.serve.bind.ip() {
                    ip if ip.is_unspecified() => "localhost".to_owned(),
                    std::net::IpAddr::V6(ip) => format!("[{ip}]"),
                    ip => ip.to_string(),
                };
                url::Url::parse(&format!("http://{host}:{port}/")).context("the server's own address")?
            }
        };
        let notifier = crate::notify::Notifier::new(state.pool.clone(), &state.settings, public_url)?;
        spawn_until_stopped(&stopped, notifier.run());
        let server = run(listener, state)?;
        Ok(Application { port, server, _running: running })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server from elsewhere (the tests stop each app they started).
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// Every minute: drop expired sessions and secrets nobody came back for, and let the login
/// limiter forget old keys.
fn spawn_housekeeping(state: Arc<AppState>, stopped: &tokio::sync::watch::Receiver<()>) {
    let counter = state.clone();
    spawn_until_stopped(stopped, async move {
        let mut tick =
            actix_web::rt::time::interval(Duration::from_secs(counter.settings.serve.usage_flush_secs));
        loop {
            tick.tick().await;
            counter.usage.flush(&counter.pool).await;
        }
    });
    spawn_until_stopped(stopped, async move {
        let mut tick = actix_web::rt::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            state.login_limiter.shrink();
            state.leak_reports.shrink();
            let now = crate::domain::now();
            let idle = now - chrono::Duration::minutes(i64::from(state.settings.serve.idle_timeout_minutes));
            let absolute =
                now - chrono::Duration::hours(i64::from(state.settings.serve.absolute_timeout_hours));
            let purged = db::run_within(
                &state.pool,
                db::LONG_WORK_WITHIN,
                move |conn| -> Result<_, crate::services::Error> {
                    crate::models::UserSession::purge_expired(conn, idle, absolute)?;
                    crate::services::sso::purge(conn)?;
                    // The dashboard's "unused" tally forgets tokens as they expire.
                    crate::models::token_tally::sweep(conn, now)?;
                    crate::services::password_links::purge(conn)?;
                    crate::services::import::purge(conn)?;
                    crate::services::stash::purge(conn)
                },
            )
            .await;
            if let Err(e) = purged {
                tracing::debug!(error = %e, "session clean-up skipped");
            }
        }
    });
}

/// Runs `work` on the server's runtime until the server has stopped (its [`Application`]
/// is dropped): a stopped server leaves nothing polling its database.
fn spawn_until_stopped(
    stopped: &tokio::sync::watch::Receiver<()>,
    work: impl std::future::Future<Output = ()> + 'static,
) {
    let mut stopped = stopped.clone();
    actix_web::rt::spawn(async move {
        let work = std::pin::pin!(work);
        // Never sent to: `changed` ends when the sender is dropped.
        let stop = std::pin::pin!(stopped.changed());
        futures_util::future::select(work, stop).await;
    });
}

fn run(listener: TcpListener, state: web::Data<AppState>) -> anyhow::Result<Server> {
    let key = Key::derive_from(&state.settings.session_key);
    let secure = state.settings.serve.secure_cookies;
    let idle =
        actix_web::cookie::time::Duration::minutes(i64::from(state.settings.serve.idle_timeout_minutes));
    let workers = state.settings.workers();
    // Blocking work is database work (password hashing has threads of its own), and it
    // cannot go faster than the pool hands out connections: more threads than connections
    // only queue on the pool, and each idle one is a thread to wake and put back to sleep
    // for every query — under load that switching cost more than the queries themselves.
    let blocking_threads = (state.settings.db_pool_size() as usize).div_ceil(workers).max(1);
    let request_log = tracing::enabled!(target: crate::middleware::REQUEST_LOG, tracing::Level::INFO);
    let server = HttpServer::new(move || {
        let flash =
            FlashMessagesFramework::builder(crate::flash::FlashCookie::new(key.clone(), secure)).build();
        let sessions = SessionMiddleware::builder(CookieSessionStore::default(), key.clone())
            .cookie_name("tw_session".to_owned())
            .cookie_http_only(true)
            .cookie_same_site(SameSite::Lax)
            .cookie_secure(secure)
            .cookie_content_security(CookieContentSecurity::Private)
            .session_lifecycle(BrowserSession::default().state_ttl(idle))
            .build();
        App::new()
            .app_data(state.clone())
            .app_data(web::FormConfig::default().limit(256 * 1024).error_handler(|e, _| bad_input(e)))
            .app_data(web::QueryConfig::default().error_handler(|e, _| bad_input(e)))
            .app_data(web::PathConfig::default().error_handler(|e, _| bad_input(e)))
            .app_data(web::JsonConfig::default().limit(256 * 1024).error_handler(|e, _| bad_input(e)))
            .configure(crate::routes::configure)
            .default_service(web::to(crate::routes::not_found))
            // Outermost last: headers → logging → HEAD as GET → sign-in throttle → sessions → flash → errors →
            // user → CSRF.
            .wrap(from_fn(crate::auth::csrf::protect))
            .wrap(from_fn(crate::auth::session::load_user))
            .wrap(from_fn(crate::middleware::render_errors))
            .wrap(flash)
            .wrap(sessions)
            .wrap(from_fn(crate::middleware::throttle_sign_in))
            .wrap(from_fn(crate::middleware::head_as_get))
            // One line per request. The path only: a query string may carry an
            // `access_token`, a one-time link's path its secret, and nothing secret is ever
            // logged. Only where the log keeps it: formatting lines the log drops was 5% of
            // an API request's time at `warn`, for nothing.
            .wrap(Condition::new(request_log, from_fn(crate::middleware::request_log)))
            .wrap(
                DefaultHeaders::new()
                    .add(("Content-Security-Policy", CSP))
                    .add(("X-Frame-Options", "DENY"))
                    .add(("X-Content-Type-Options", "nosniff"))
                    .add(("Referrer-Policy", "same-origin"))
                    .add(("Cross-Origin-Opener-Policy", "same-origin"))
                    .add(("Permissions-Policy", "camera=(), microphone=(), geolocation=()"))
                    // Pages may show a secret once: never cache them. Assets set their own.
                    .add(("Cache-Control", "no-store")),
            )
            // Served over HTTPS (cookies marked Secure): browsers keep to HTTPS for a year, so
            // no later visit starts in clear text where a session cookie could be stripped.
            .wrap(Condition::new(
                secure,
                DefaultHeaders::new().add(("Strict-Transport-Security", "max-age=31536000")),
            ))
    })
    .workers(workers)
    .worker_max_blocking_threads(blocking_threads)
    .listen(listener)?;
    Ok(server.run())
}
