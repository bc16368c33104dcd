//! The database: one connection type over SQLite and PostgreSQL, the pool, migrations.

pub mod schema;

use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context;
use diesel::connection::{InstrumentationEvent, SimpleConnection};
use diesel::r2d2::{ConnectionManager, ManageConnection, Pool, PoolError};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::{Connection, PgConnection, SqliteConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

/// A connection to whichever backend `DATABASE_URL` names.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Sqlite(SqliteConnection),
    Pg(PgConnection),
}

pub type DbPool = Pool<Manager>;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const PG_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgresql");

/// Which backend a URL names; anything that is not a PostgreSQL URL is a SQLite path.
pub fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// Per-connection SQLite settings, for pooled connections and the CLI's alike (WAL itself
/// is set once, before the pool exists). Without `busy_timeout` a second process — a CLI
/// command beside the running server — fails at once with "database is locked". The page
/// cache is 2 MB per connection: the operating system caches the file anyway, and with
/// 16 MB each the pool alone could hold 128 MB of a large database in the server's memory.
fn sqlite_pragmas(conn: &mut DbConnection) -> diesel::QueryResult<()> {
    if let DbConnection::Sqlite(c) = conn {
        c.batch_execute(
            "PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON; \
             PRAGMA synchronous = NORMAL; PRAGMA cache_size = -2000;",
        )?;
    }
    Ok(())
}

/// Whether an error means the connection to the database is gone (server down or
/// restarted), rather than that one query failed.
pub fn is_connection_lost(e: &DieselError) -> bool {
    matches!(
        e,
        DieselError::DatabaseError(
            DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
            _
        )
    )
}

/// A pooled connection that remembers whether a query on it found the database gone.
pub struct PooledDb {
    conn: DbConnection,
    lost: Arc<AtomicBool>,
    /// The pool's count of lost connections when this one was last known to work.
    losses_seen: u64,
    losses: Arc<AtomicU64>,
}

impl PooledDb {
    /// After another connection found the database gone, this older one may be dead too:
    /// it is tested before use instead of failing the request that gets it.
    fn check_after_outage(&mut self) -> bool {
        let losses = self.losses.load(Ordering::Relaxed);
        if losses == self.losses_seen {
            return true;
        }
        let alive = self.conn.batch_execute("SELECT 1").is_ok();
        if alive {
            self.losses_seen = losses;
        }
        alive
    }
}

impl Deref for PooledDb {
    type Target = DbConnection;
    fn deref(&self) -> &DbConnection {
        &self.conn
    }
}

impl DerefMut for PooledDb {
    fn deref_mut(&mut self) -> &mut DbConnection {
        &mut self.conn
    }
}

/// The pool's connection manager: diesel's, plus the SQLite settings on connect. A
/// connection whose database went away is dropped when it comes back to the pool, and
/// after such a loss the others are tested once before their next use — so the pool
/// needs no `SELECT 1` before every use and recovers by itself after an outage.
#[derive(Debug)]
pub struct Manager {
    inner: ConnectionManager<DbConnection>,
    losses: Arc<AtomicU64>,
}

impl ManageConnection for Manager {
    type Connection = PooledDb;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<PooledDb, Self::Error> {
        let mut conn = self.inner.connect()?;
        sqlite_pragmas(&mut conn).map_err(diesel::r2d2::Error::QueryError)?;
        let lost = Arc::new(AtomicBool::new(false));
        let (flag, losses) = (Arc::clone(&lost), Arc::clone(&self.losses));
        conn.set_instrumentation(move |event: InstrumentationEvent<'_>| {
            if let InstrumentationEvent::FinishQuery { error: Some(e), .. } = event
                && is_connection_lost(e)
                && !flag.swap(true, Ordering::Relaxed)
            {
                losses.fetch_add(1, Ordering::Relaxed);
            }
        });
        let losses_seen = self.losses.load(Ordering::Relaxed);
        Ok(PooledDb { conn, lost, losses_seen, losses: Arc::clone(&self.losses) })
    }

    fn is_valid(&self, conn: &mut PooledDb) -> Result<(), Self::Error> {
        self.inner.is_valid(&mut conn.conn)
    }

    fn has_broken(&self, conn: &mut PooledDb) -> bool {
        conn.lost.load(Ordering::Relaxed) || self.inner.has_broken(&mut conn.conn)
    }
}

/// Opens one connection outside any pool (for migrations, WAL set-up and the CLI).
pub fn connect(url: &str) -> anyhow::Result<DbConnection> {
    let mut conn = DbConnection::establish(url)
        .with_context(|| format!("could not connect to the database ({})", redact(url)))?;
    sqlite_pragmas(&mut conn).context("could not configure the SQLite connection")?;
    Ok(conn)
}

/// Builds the pool. For SQLite, switches the file to WAL first.
pub fn build_pool(url: &str, max_size: u32) -> anyhow::Result<DbPool> {
    if !is_postgres(url) {
        let mut conn = connect(url)?;
        conn.batch_execute("PRAGMA journal_mode = WAL;").context("could not switch SQLite to WAL mode")?;
    }
    let manager = Manager { inner: ConnectionManager::new(url), losses: Arc::default() };
    let pool = Pool::builder()
        .max_size(max_size)
        .min_idle(Some(1))
        .connection_timeout(Duration::from_secs(5))
        // No `SELECT 1` before every use (a parse and, on PostgreSQL, a round trip per
        // request): a connection that lost its database is found out by the query that
        // meets it (a 503) and dropped when it returns (see `Manager`).
        .test_on_check_out(false)
        // Build without failing when the database is down: the app serves 503 until it is back.
        .build_unchecked(manager);
    Ok(pool)
}

/// Applies every pending migration of the connection's backend; returns how many ran.
pub fn run_migrations(conn: &mut DbConnection) -> anyhow::Result<usize> {
    let applied = match conn {
        DbConnection::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS),
        DbConnection::Pg(c) => c.run_pending_migrations(PG_MIGRATIONS),
    }
    .map_err(|e| anyhow::anyhow!("migration failed: {e}"))?;
    Ok(applied.len())
}

/// Runs one typed diesel query on the concrete connection behind a [`DbConnection`].
///
/// Through the multi-backend connection every query is serialised to SQL again on each
/// execution, even when its prepared statement is cached; on the concrete connection a
/// cached statement is found by its type alone. The queries that run on every request
/// (the bearer-token and session look-ups, roles, settings) go this way.
macro_rules! on_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::DbConnection::Sqlite($c) => $body,
            $crate::db::DbConnection::Pg($c) => $body,
        }
    };
}
pub(crate) use on_backend;

/// Runs `f` in a transaction that takes the write lock at once.
///
/// On SQLite a deferred transaction that reads and then writes can fail with SQLITE_BUSY
/// when another writer commits in between; starting with a (no-op) write takes the lock
/// up front, as `BEGIN IMMEDIATE` would. PostgreSQL needs nothing special.
pub fn write_transaction<T, E, F>(conn: &mut DbConnection, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    conn.transaction(|conn| {
        if matches!(conn, DbConnection::Sqlite(_)) {
            conn.batch_execute("UPDATE account_settings SET id = id WHERE id = 0")?;
        }
        f(conn)
    })
}

/// The URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            match creds.find(':') {
                Some(colon) => format!("{}{}:***{}", &url[..scheme + 3], &creds[..colon], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// Why [`run`] could not do its work: before any query ran.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The pool could hand out no connection in time: the database is down or saturated.
    #[error("no database connection could be had")]
    Unavailable(#[source] PoolError),
    /// The work did not finish: it panicked, or the runtime is shutting down.
    #[error("the database work did not finish: {0}")]
    Aborted(String),
}

/// Runs blocking database work off the async executor with a pooled connection, and hands
/// back whatever the work returns. The error type is the caller's (a service error, a
/// page's or the API's): each knows what a lost database means for its client.
pub async fn run<T, E, F>(pool: &DbPool, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
    T: Send + 'static,
    E: From<RunError> + Send + 'static,
{
    let pool = pool.clone();
    actix_web::web::block(move || {
        let mut conn = pool.get().map_err(RunError::Unavailable)?;
        // Dead connections are dropped as they fail their check; at most one try per slot.
        for _ in 0..pool.max_size() {
            if conn.check_after_outage() {
                break;
            }
            drop(conn);
            conn = pool.get().map_err(RunError::Unavailable)?;
        }
        f(&mut conn)
    })
    .await
    .map_err(|e| RunError::Aborted(e.to_string()))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_hides_the_password_only() {
        assert_eq!(redact("postgres://me:secret@db/x"), "postgres://me:***@db/x");
        assert_eq!(redact("postgres://me@db/x"), "postgres://me@db/x");
        assert_eq!(redact("tokenwarden.db"), "tokenwarden.db");
    }

    #[test]
    fn only_postgres_urls_are_postgres() {
        assert!(is_postgres("postgres://x"));
        assert!(is_postgres("postgresql://x"));
        assert!(!is_postgres("sqlite://x.db"));
        assert!(!is_postgres("x.db"));
    }
}
