//! The database: one connection type over SQLite and PostgreSQL, the pool, migrations.

pub mod schema;

use std::time::Duration;

use anyhow::Context;
use diesel::connection::SimpleConnection;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool, PooledConnection};
use diesel::{Connection, PgConnection, SqliteConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

/// A connection to whichever backend `DATABASE_URL` names.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Sqlite(SqliteConnection),
    Pg(PgConnection),
}

pub type DbPool = Pool<ConnectionManager<DbConnection>>;
pub type PooledConn = PooledConnection<ConnectionManager<DbConnection>>;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const PG_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgresql");

/// Which backend a URL names; anything that is not a PostgreSQL URL is a SQLite path.
pub fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// Per-connection SQLite settings (WAL itself is set once, before the pool exists).
#[derive(Debug)]
struct SqlitePragmas;

impl CustomizeConnection<DbConnection, diesel::r2d2::Error> for SqlitePragmas {
    fn on_acquire(&self, conn: &mut DbConnection) -> Result<(), diesel::r2d2::Error> {
        if let DbConnection::Sqlite(c) = conn {
            c.batch_execute(
                "PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON; \
                 PRAGMA synchronous = NORMAL; PRAGMA cache_size = -16000;",
            )
            .map_err(diesel::r2d2::Error::QueryError)?;
        }
        Ok(())
    }
}

/// Opens one connection outside any pool (for migrations and WAL set-up).
pub fn connect(url: &str) -> anyhow::Result<DbConnection> {
    let conn = DbConnection::establish(url)
        .with_context(|| format!("could not connect to the database ({})", redact(url)))?;
    Ok(conn)
}

/// Builds the pool. For SQLite, switches the file to WAL first.
pub fn build_pool(url: &str, max_size: u32) -> anyhow::Result<DbPool> {
    if !is_postgres(url) {
        let mut conn = connect(url)?;
        conn.batch_execute("PRAGMA journal_mode = WAL;").context("could not switch SQLite to WAL mode")?;
    }
    let manager = ConnectionManager::<DbConnection>::new(url);
    let pool = Pool::builder()
        .max_size(max_size)
        .min_idle(Some(1))
        .connection_timeout(Duration::from_secs(5))
        .connection_customizer(Box::new(SqlitePragmas))
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

/// Runs blocking database work off the async executor with a pooled connection.
/// A pool that cannot hand out a connection means the database is down: 503.
pub async fn run<T, F>(pool: &DbPool, f: F) -> Result<T, crate::error::AppError>
where
    F: FnOnce(&mut DbConnection) -> Result<T, crate::error::AppError> + Send + 'static,
    T: Send + 'static,
{
    let pool = pool.clone();
    actix_web::web::block(move || {
        let mut conn = pool.get().map_err(|e| crate::error::AppError::Unavailable(e.into()))?;
        f(&mut conn)
    })
    .await?
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
