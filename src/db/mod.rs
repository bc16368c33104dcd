//! The database: one connection type over SQLite and PostgreSQL, the pool, migrations.

pub mod schema;
mod time;

pub use time::{MaybeTime, Time};

use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context;
use diesel::backend::Backend;
use diesel::connection::{InstrumentationEvent, SimpleConnection};
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::r2d2::{ConnectionManager, ManageConnection, Pool, PoolError};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::serialize::ToSql;
use diesel::sql_types::{BigInt, HasSqlType};
use diesel::{Connection, PgConnection, SqliteConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

/// A connection to whichever backend `DATABASE_URL` names.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Sqlite(SqliteConnection),
    Pg(PgConnection),
}

/// The connection pool, and what it has learnt of the database's health.
#[derive(Clone)]
pub struct DbPool {
    pool: Pool<Manager>,
    health: Arc<Health>,
    /// PostgreSQL: a server across a network, which can go silent. (SQLite's waits are
    /// bounded by its busy timeout.)
    networked: bool,
}

/// Whether the database answers (PostgreSQL: a server that can go away). While it does not,
/// requests are answered 503 at once instead of each waiting for the pool's timeout; one
/// request at a time, every [`PROBE_EVERY`], tries the database again, so the app recovers
/// by itself the moment it is back.
#[derive(Debug, Default)]
struct Health {
    /// When the database was found gone (ms since `epoch`), 0 while it answers.
    down_since_ms: AtomicU64,
    /// When a request last tried it while it was gone (ms since `epoch`).
    last_probe_ms: AtomicU64,
    epoch: std::sync::OnceLock<std::time::Instant>,
}

/// How often, while the database is gone, one request tries it again.
const PROBE_EVERY: Duration = Duration::from_millis(250);
/// How long a request waits for a pooled connection before it is answered 503: long
/// enough to queue behind a burst, short enough that nobody waits on an outage.
const CONNECTION_WAIT: Duration = Duration::from_millis(800);

impl Health {
    fn now_ms(&self) -> u64 {
        let epoch = self.epoch.get_or_init(std::time::Instant::now);
        u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX).max(1)
    }

    fn mark_down(&self) {
        let now = self.now_ms();
        // The failure that found it gone was a try: the next comes after PROBE_EVERY.
        self.last_probe_ms.store(now, Ordering::Relaxed);
        if self.down_since_ms.compare_exchange(0, now, Ordering::Relaxed, Ordering::Relaxed).is_ok() {
            tracing::warn!("the database does not answer: requests get 503 until it is back");
        }
    }

    fn mark_up(&self) {
        // A load first: on every request, a write to a line all workers share would cost.
        if self.down_since_ms.load(Ordering::Relaxed) != 0
            && self.down_since_ms.swap(0, Ordering::Relaxed) != 0
        {
            tracing::info!("the database answers again");
        }
    }

    /// While the database is gone: `true` for the one request that may try it now.
    fn may_try(&self) -> bool {
        if self.down_since_ms.load(Ordering::Relaxed) == 0 {
            return true;
        }
        let now = self.now_ms();
        let last = self.last_probe_ms.load(Ordering::Relaxed);
        now.saturating_sub(last) >= PROBE_EVERY.as_millis() as u64
            && self.last_probe_ms.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_ok()
    }
}

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

/// Why the database cannot do any work right now, when an error says so: the connection
/// is gone, or (SQLite) the file is locked by another process, the disk is full, or the
/// file cannot be written. Such a request is answered 503 — the work is not done, and the
/// client is told to come back — never a 500, never a write reported as done.
pub fn unavailable_reason(e: &DieselError) -> Option<&'static str> {
    if is_connection_lost(e) {
        return Some("the connection to the database is gone");
    }
    let DieselError::DatabaseError(_, info) = e else { return None };
    let message = info.message();
    [
        ("database is locked", "the database file is locked by another process"),
        ("database table is locked", "the database file is locked by another process"),
        ("database or disk is full", "the disk is full"),
        ("disk I/O error", "the database file cannot be written (disk I/O error)"),
        ("readonly database", "the database file is read-only"),
        ("unable to open database file", "the database file cannot be opened"),
    ]
    .into_iter()
    .find(|(text, _)| message.contains(text))
    .map(|(_, why)| why)
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

/// Initialises OpenSSL before libpq first uses it. libpq and native-tls share the vendored
/// OpenSSL, and whichever initialises it first decides whether it frees itself when the
/// process exits. libpq would have it do so: the exit then frees OpenSSL under threads still
/// using it — r2d2's, reconnecting in the background — and the process crashes on its way
/// out (a test binary did, after all its tests had passed). This is the openssl crate's own
/// initialisation, which asks for no clean-up at exit. Idempotent and cheap.
pub fn init_openssl() {
    openssl_sys::init();
}

/// Opens one connection outside any pool (for migrations, WAL set-up and the CLI).
pub fn connect(url: &str) -> anyhow::Result<DbConnection> {
    if is_postgres(url) {
        init_openssl();
    }
    let mut conn = DbConnection::establish(url)
        .with_context(|| format!("could not connect to the database ({})", redact(url)))?;
    sqlite_pragmas(&mut conn).context("could not configure the SQLite connection")?;
    Ok(conn)
}

/// Builds the pool. For SQLite, switches the file to WAL first.
pub fn build_pool(url: &str, max_size: u32) -> anyhow::Result<DbPool> {
    if is_postgres(url) {
        init_openssl();
    } else {
        let mut conn = connect(url)?;
        conn.batch_execute("PRAGMA journal_mode = WAL;").context("could not switch SQLite to WAL mode")?;
    }
    let manager =
        Manager { inner: ConnectionManager::new(with_connect_timeout(url)), losses: Arc::default() };
    let pool = Pool::builder()
        .max_size(max_size)
        .min_idle(Some(1))
        .connection_timeout(CONNECTION_WAIT)
        // No `SELECT 1` before every use (a parse and, on PostgreSQL, a round trip per
        // request): a connection that lost its database is found out by the query that
        // meets it (a 503) and dropped when it returns (see `Manager`).
        .test_on_check_out(false)
        // Build without failing when the database is down: the app serves 503 until it is back.
        .build_unchecked(manager);
    Ok(DbPool { pool, health: Arc::default(), networked: is_postgres(url) })
}

/// A PostgreSQL URL with libpq's `connect_timeout` (5 s) unless it sets one: without it a
/// database whose packets are dropped (a firewall, a dead host) holds a connection attempt
/// for minutes.
fn with_connect_timeout(url: &str) -> String {
    if !is_postgres(url) || url.contains("connect_timeout=") {
        return url.to_owned();
    }
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}connect_timeout=5")
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
/// cached statement is found by its type alone (by its SQL, written out once, for a query
/// whose type does not say it all, such as [`AtMost`]). The queries that run on every request
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

/// A query's first `n` rows: on SQLite with `n` written into its SQL (`LIMIT 5`), on
/// PostgreSQL bound.
///
/// diesel's `.limit(n)` binds `n`, and SQLite plans a statement with the value bound to
/// its `LIMIT`, so it prepares a statement with a bound `LIMIT` again every time it runs,
/// parsing and planning all of it: the query of the five recent leak notes alone was 15%
/// of the Access Tokens page's time. A number in the SQL is planned once, and each `n` is
/// a statement of its own in the connection's cache (so `n` should come from a short list:
/// a constant, a page size).
///
/// PostgreSQL is the other way round. After five runs of a prepared statement it may keep
/// a generic plan, made for any values; with the limit written into it, that plan is made
/// for the average key's few rows and sorts them, which for an uncommon key with many rows
/// means reading them all (the audit log of an actor with 100,000 events among a million:
/// 48 ms, where the walk of its index that a bound limit leaves takes 0.1 ms). `offset`,
/// when there is one, is bound on both: SQLite does not plan with it.
#[derive(Debug, Clone, Copy)]
pub struct AtMost<Q> {
    query: Q,
    n: i64,
    offset: Option<i64>,
}

impl<Q> AtMost<Q> {
    /// Skips `offset` rows before the first it gives (a page after the first).
    pub fn after(self, offset: i64) -> AtMost<Q> {
        AtMost { offset: Some(offset), ..self }
    }
}

/// `.at_most(n)` on any query without a `LIMIT` of its own.
pub trait AtMostDsl: Sized {
    fn at_most(self, n: u32) -> AtMost<Self> {
        AtMost { query: self, n: i64::from(n), offset: None }
    }

    /// `.at_most_of::<N>()`: [`AtMost`] with its number in its type ([`AtMostOf`]).
    fn at_most_of<const N: u32>(self) -> AtMostOf<Self, N> {
        AtMostOf(self.at_most(N))
    }
}

impl<Q: Query> AtMostDsl for Q {}

impl<Q: Query> Query for AtMost<Q> {
    type SqlType = Q::SqlType;
}

/// How a backend's planner is best served: [`AtMost`]'s limit, [`Likely`]'s hint.
pub trait PlannerStyle {
    /// A limit written into the SQL (else bound).
    fn writes_limit(&self) -> bool;
    /// Whether the planner guesses how many rows a range holds (it has no statistics) and
    /// is better told.
    fn guesses_ranges(&self) -> bool;
}

impl PlannerStyle for diesel::sqlite::Sqlite {
    fn writes_limit(&self) -> bool {
        true
    }
    fn guesses_ranges(&self) -> bool {
        true
    }
}

impl PlannerStyle for diesel::pg::Pg {
    fn writes_limit(&self) -> bool {
        false
    }
    fn guesses_ranges(&self) -> bool {
        false
    }
}

/// Through the two-backend connection, as the backend it is running on.
impl PlannerStyle for MultiBackend {
    fn writes_limit(&self) -> bool {
        match self {
            MultiBackend::Sqlite(b) => b.writes_limit(),
            MultiBackend::Pg(b) => b.writes_limit(),
        }
    }
    fn guesses_ranges(&self) -> bool {
        match self {
            MultiBackend::Sqlite(b) => b.guesses_ranges(),
            MultiBackend::Pg(b) => b.guesses_ranges(),
        }
    }
}

impl<Q, DB> QueryFragment<DB> for AtMost<Q>
where
    DB: Backend + HasSqlType<BigInt> + PlannerStyle,
    Q: QueryFragment<DB>,
    i64: ToSql<BigInt, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> diesel::QueryResult<()> {
        self.query.walk_ast(out.reborrow())?;
        out.push_sql(" LIMIT ");
        // `backend()` is the one diesel's own two-backend connection asks (hidden from
        // its documentation as meant for implementers, which this is).
        if out.backend().writes_limit() {
            out.push_sql(&self.n.to_string());
        } else {
            out.push_bind_param::<BigInt, _>(&self.n)?;
        }
        if let Some(offset) = &self.offset {
            out.push_sql(" OFFSET ");
            out.push_bind_param::<BigInt, _>(offset)?;
        }
        Ok(())
    }
}

/// Not a static id: the statement cache keys it by its SQL, which holds `n`.
impl<Q> QueryId for AtMost<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q, Conn> diesel::RunQueryDsl<Conn> for AtMost<Q> {}

/// [`AtMost`] with its number in its type, for a query that runs on every request. diesel
/// finds the prepared statement of a query whose type says it all by that type; for
/// [`AtMost`], whose number is known only when it runs, it writes the whole SQL out again
/// on every run to find it by its text — with the leak notes' query, 2% of the Access
/// Tokens page.
#[derive(Debug, Clone, Copy)]
pub struct AtMostOf<Q, const N: u32>(AtMost<Q>);

impl<Q: Query, const N: u32> Query for AtMostOf<Q, N> {
    type SqlType = Q::SqlType;
}

impl<Q, DB, const N: u32> QueryFragment<DB> for AtMostOf<Q, N>
where
    DB: Backend,
    AtMost<Q>: QueryFragment<DB>,
{
    fn walk_ast<'b>(&'b self, out: AstPass<'_, 'b, DB>) -> diesel::QueryResult<()> {
        self.0.walk_ast(out)
    }
}

/// The query's own id and the number: one statement per query and number, as with
/// [`AtMost`], found without writing its SQL.
impl<Q: QueryId, const N: u32> QueryId for AtMostOf<Q, N> {
    type QueryId = AtMostOf<Q::QueryId, N>;
    const HAS_STATIC_QUERY_ID: bool = Q::HAS_STATIC_QUERY_ID;
}

impl<Q, Conn, const N: u32> diesel::RunQueryDsl<Conn> for AtMostOf<Q, N> {}

/// A bound of a range that SQLite's planner is told holds half the rows it is asked of
/// (`likelihood(c, 0.5)`); as it is on PostgreSQL, which plans from statistics.
///
/// Without statistics SQLite guesses that a range between two bounds holds 1/64 of the rows,
/// and no estimate goes below two rows: for one user's events of one kind between two
/// dates, the (user, time) index and the (user, kind, time) index both come to two rows,
/// and the narrower one is taken — every event of the user in the period, where the other
/// walks only that kind's (an administrator's script: 100,000 events in a year, none of
/// them revocations, 340 ms). Told a half for each bound, it counts the kind's equality
/// too, and takes the index that holds it.
#[derive(Debug, Clone, Copy, diesel::query_builder::QueryId)]
pub struct Likely<E>(pub E);

impl<E: diesel::Expression<SqlType = diesel::sql_types::Bool>> diesel::Expression for Likely<E> {
    type SqlType = diesel::sql_types::Bool;
}

impl<E: diesel::AppearsOnTable<QS>, QS> diesel::AppearsOnTable<QS> for Likely<E> where
    Likely<E>: diesel::Expression
{
}

impl<E: diesel::SelectableExpression<QS>, QS> diesel::SelectableExpression<QS> for Likely<E> where
    Likely<E>: diesel::AppearsOnTable<QS>
{
}

impl<E: diesel::expression::ValidGrouping<G>, G> diesel::expression::ValidGrouping<G> for Likely<E> {
    type IsAggregate = E::IsAggregate;
}

impl<E: QueryFragment<DB>, DB: Backend + PlannerStyle> QueryFragment<DB> for Likely<E> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> diesel::QueryResult<()> {
        if out.backend().guesses_ranges() {
            out.push_sql("likelihood(");
            self.0.walk_ast(out.reborrow())?;
            out.push_sql(", 0.5)");
            Ok(())
        } else {
            self.0.walk_ast(out)
        }
    }
}

/// A query planned for its values every time it runs: never kept as a prepared statement.
///
/// PostgreSQL plans a prepared statement for its parameters' values for its first five
/// runs only; after that it keeps a "generic" plan, for any values, when that looks as
/// cheap. For All tokens' page of one set of owners' roles, that plan walks every token
/// backwards by id and filters: right for the students' 700,000 tokens, 1.2 s for the 120
/// of administrators who are also designers. Planning takes about a millisecond, and the
/// account-wide views run when an administrator asks, not on every request.
#[derive(Debug, Clone, Copy)]
pub struct PlannedEachTime<Q>(Q);

/// `.planned_each_time()` on any query.
pub trait PlannedEachTimeDsl: Sized {
    fn planned_each_time(self) -> PlannedEachTime<Self> {
        PlannedEachTime(self)
    }
}

impl<Q: Query> PlannedEachTimeDsl for Q {}

impl<Q: Query> Query for PlannedEachTime<Q> {
    type SqlType = Q::SqlType;
}

impl<Q: QueryFragment<DB>, DB: Backend> QueryFragment<DB> for PlannedEachTime<Q> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> diesel::QueryResult<()> {
        out.unsafe_to_cache_prepared();
        self.0.walk_ast(out)
    }
}

impl<Q> QueryId for PlannedEachTime<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q, Conn> diesel::RunQueryDsl<Conn> for PlannedEachTime<Q> {}

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

/// Runs the reads of one page together: on SQLite in one read transaction, so they take
/// the write-ahead log's read lock once instead of once per statement (a tenth of the
/// Access Tokens page's time), and see one snapshot. On PostgreSQL each statement runs
/// on its own as before: a transaction there would only add two round trips.
pub fn read_together<T, E, F>(conn: &mut DbConnection, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    match conn {
        DbConnection::Sqlite(_) => conn.transaction(f),
        DbConnection::Pg(_) => f(conn),
    }
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
    /// The database was found gone a moment ago, and another request is trying it again.
    #[error("the database is gone (answered at once while it is tried again)")]
    Down,
    /// PostgreSQL did not answer within the work's deadline: a network gone silent (a dead
    /// host, dropped packets), where nothing closes the connection, or a server too busy to
    /// be of use. The work goes on in the background and ends when the database answers or
    /// the connection breaks.
    #[error("the database did not answer within {0:?}")]
    TooSlow(Duration),
    /// The work did not finish: it panicked, or the runtime is shutting down.
    #[error("the database work did not finish: {0}")]
    Aborted(String),
}

/// How long a request's work on PostgreSQL may take before its client is answered 503: the
/// wait for a connection ([`CONNECTION_WAIT`]) and the queries. A request's queries take
/// milliseconds; a database that has not answered in a second is gone, or as good as gone.
pub const ANSWER_WITHIN: Duration = Duration::from_secs(1);
/// The deadline of the account-wide views (every token, every user, the audit log): they
/// read across the whole account, and a cold cache at a million tokens is slow, not gone.
pub const ACCOUNT_VIEW_WITHIN: Duration = Duration::from_secs(15);
/// The deadline of work that is known to be long (an import of a whole school's people).
pub const LONG_WORK_WITHIN: Duration = Duration::from_secs(60);

/// Runs blocking database work off the async executor with a pooled connection, and hands
/// back whatever the work returns — or [`RunError::TooSlow`] when it has not finished
/// within [`ANSWER_WITHIN`]. The error type is the caller's (a service error, a page's or
/// the API's): each knows what a lost database means for its client.
pub async fn run<T, E, F>(pool: &DbPool, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
    T: Send + 'static,
    E: From<RunError> + Send + 'static,
{
    run_within(pool, ANSWER_WITHIN, f).await
}

/// [`run`] with a deadline of the caller's, counted from the moment the work has its
/// connection (until then the pool's own wait, [`CONNECTION_WAIT`], bounds it). No timeout
/// of PostgreSQL's or of TCP's bounds a wait on a network that went silent: the server never
/// sees the query, and the socket stays open. Only this request is answered 503 — one slow
/// query is not an outage; when a silent network holds every pooled connection, the next
/// requests find none within the pool's wait, and the database is taken for gone.
///
/// On SQLite there is no deadline: a local file does not go silent, and its one wait (for
/// another writer) is bounded by the busy timeout, after which the work fails and changes
/// nothing — where a deadline shorter than that would answer 503 for a write that then
/// commits.
pub async fn run_within<T, E, F>(pool: &DbPool, deadline: Duration, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
    T: Send + 'static,
    E: From<RunError> + Send + 'static,
{
    use futures_util::future::{Either, select};
    if !pool.health.may_try() {
        return Err(RunError::Down.into());
    }
    if !pool.networked {
        return work(pool, None, f).await;
    }
    let (connected, has_connection) = tokio::sync::oneshot::channel();
    let mut work = std::pin::pin!(work(pool, Some(connected), f));
    let connected_at = match select(work.as_mut(), has_connection).await {
        Either::Left((done, _)) => return done,
        Either::Right((Ok(at), _)) => at,
        // No connection could be had: the work ends at once with the pool's error.
        Either::Right((Err(_), _)) => return work.await,
    };
    let left = deadline.saturating_sub(connected_at.elapsed());
    match actix_web::rt::time::timeout(left, work).await {
        Ok(done) => done,
        Err(_) => Err(RunError::TooSlow(deadline).into()),
    }
}

/// The work of [`run_within`], on a thread of the blocking pool.
/// `connected` learns when the work has its connection.
async fn work<T, E, F>(
    pool: &DbPool,
    connected: Option<tokio::sync::oneshot::Sender<std::time::Instant>>,
    f: F,
) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
    T: Send + 'static,
    E: From<RunError> + Send + 'static,
{
    let DbPool { pool, health, .. } = pool.clone();
    actix_web::web::block(move || {
        let unavailable = |e: PoolError| {
            health.mark_down();
            RunError::Unavailable(e)
        };
        let mut conn = pool.get().map_err(unavailable)?;
        // Dead connections are dropped as they fail their check; at most one try per slot.
        for _ in 0..pool.max_size() {
            if conn.check_after_outage() {
                break;
            }
            drop(conn);
            conn = pool.get().map_err(unavailable)?;
        }
        if let Some(connected) = connected {
            // Nobody listening: the request is gone, the work is done all the same.
            let _ = connected.send(std::time::Instant::now());
        }
        let result = f(&mut conn);
        if conn.lost.load(Ordering::Relaxed) {
            health.mark_down();
        } else {
            health.mark_up();
        }
        result
    })
    .await
    .map_err(|e| RunError::Aborted(e.to_string()))?
}

#[cfg(test)]
mod tests {
    use super::*;

    diesel::table! {
        numbers (n) {
            n -> BigInt,
        }
    }

    #[test]
    fn at_most_writes_its_number_on_sqlite_and_binds_it_on_postgresql() {
        use diesel::prelude::*;
        let page = numbers::table.select(numbers::n).order(numbers::n).at_most(3).after(4);
        let sql = diesel::debug_query::<diesel::sqlite::Sqlite, _>(&page).to_string();
        assert!(sql.ends_with("ORDER BY `numbers`.`n` LIMIT 3 OFFSET ? -- binds: [4]"), "{sql}");
        let sql = diesel::debug_query::<diesel::pg::Pg, _>(&page).to_string();
        assert!(sql.ends_with("LIMIT $1 OFFSET $2 -- binds: [3, 4]"), "{sql}");

        let mut c = numbers_up_to(9);
        assert_eq!(page.load::<i64>(&mut c).unwrap(), [5, 6, 7]);
        let first = numbers::table.select(numbers::n).order(numbers::n.desc()).at_most(2);
        assert_eq!(first.load::<i64>(&mut c).unwrap(), [9, 8]);
        assert_eq!(first.load::<i64>(&mut c).unwrap(), [9, 8], "the cached statement, again");
        let past_the_end = numbers::table.select(numbers::n).at_most(5).after(20);
        assert_eq!(past_the_end.load::<i64>(&mut c).unwrap(), Vec::<i64>::new());
    }

    /// An in-memory table of the numbers 1 to `last`.
    fn numbers_up_to(last: i64) -> SqliteConnection {
        let mut c = SqliteConnection::establish(":memory:").unwrap();
        c.batch_execute("CREATE TABLE numbers (n INTEGER PRIMARY KEY)").unwrap();
        let values: Vec<String> = (1..=last).map(|n| format!("({n})")).collect();
        c.batch_execute(&format!("INSERT INTO numbers VALUES {}", values.join(", "))).unwrap();
        c
    }

    /// SQLite is told each bound holds half the rows; PostgreSQL gets the bound as it is.
    #[test]
    fn likely_tells_sqlite_alone() {
        use diesel::prelude::*;
        let at_least = numbers::table.select(numbers::n).filter(Likely(numbers::n.ge(3)));
        let sql = diesel::debug_query::<diesel::sqlite::Sqlite, _>(&at_least).to_string();
        assert!(sql.ends_with("WHERE likelihood((`numbers`.`n` >= ?), 0.5) -- binds: [3]"), "{sql}");
        let sql = diesel::debug_query::<diesel::pg::Pg, _>(&at_least).to_string();
        assert!(sql.ends_with("WHERE (\"numbers\".\"n\" >= $1) -- binds: [3]"), "{sql}");

        let mut c = numbers_up_to(4);
        assert_eq!(at_least.load::<i64>(&mut c).unwrap(), [3, 4], "the same rows");
    }

    /// diesel finds a statement by its query's type when the type says it all: for
    /// `at_most_of` it must hold the number too, or `at_most_of::<3>` would run the cached
    /// statement of `at_most_of::<2>`.
    #[test]
    fn at_most_of_is_known_by_its_type_and_number() {
        use diesel::prelude::*;
        use diesel::query_builder::QueryId;
        fn id_of<T: QueryId>(_: &T) -> Option<std::any::TypeId> {
            T::query_id()
        }
        let first = || numbers::table.select(numbers::n).order(numbers::n);
        let (two, three) = (first().at_most_of::<2>(), first().at_most_of::<3>());
        assert!(id_of(&two).is_some(), "found by its type");
        assert_ne!(id_of(&two), id_of(&three));
        assert_eq!(id_of(&first().at_most(2)), None, "at_most is found by its SQL");
        let sql = diesel::debug_query::<diesel::sqlite::Sqlite, _>(&two).to_string();
        assert!(sql.ends_with("ORDER BY `numbers`.`n` LIMIT 2 -- binds: []"), "{sql}");
        let sql = diesel::debug_query::<diesel::pg::Pg, _>(&two).to_string();
        assert!(sql.ends_with("LIMIT $1 -- binds: [2]"), "{sql}");

        let mut c = numbers_up_to(4);
        assert_eq!(two.load::<i64>(&mut c).unwrap(), [1, 2]);
        assert_eq!(three.load::<i64>(&mut c).unwrap(), [1, 2, 3]);
        assert_eq!(two.load::<i64>(&mut c).unwrap(), [1, 2], "the cached statement, again");
    }

    /// A statement planned each time is never kept: the connection's cache (which on
    /// PostgreSQL holds named, server-side prepared statements) takes the plain query and
    /// not the other.
    #[test]
    fn a_query_planned_each_time_is_not_kept_prepared() {
        use diesel::connection::{Instrumentation, InstrumentationEvent};
        use diesel::prelude::*;
        use std::sync::{Arc, Mutex};

        struct Kept(Arc<Mutex<Vec<String>>>);
        impl Instrumentation for Kept {
            fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
                if let InstrumentationEvent::CacheQuery { sql, .. } = event {
                    self.0.lock().unwrap().push(sql.to_owned());
                }
            }
        }
        let kept = Arc::new(Mutex::new(Vec::new()));
        let mut c = numbers_up_to(3);
        c.set_instrumentation(Kept(kept.clone()));
        let each_time = numbers::table.select(numbers::n).filter(numbers::n.gt(1)).planned_each_time();
        assert_eq!(each_time.load::<i64>(&mut c).unwrap(), [2, 3]);
        assert_eq!(each_time.load::<i64>(&mut c).unwrap(), [2, 3]);
        assert!(kept.lock().unwrap().is_empty(), "{:?}", kept.lock().unwrap());
        let plain = numbers::table.select(numbers::n).filter(numbers::n.gt(1));
        assert_eq!(plain.load::<i64>(&mut c).unwrap(), [2, 3]);
        assert_eq!(kept.lock().unwrap().len(), 1, "the plain query is kept");
    }

    /// Migration 2026-12-05-000017 builds five tables again: an upgraded database keeps every
    /// row and every link between them, its children still go with their parents, and an id
    /// is never given twice.
    #[test]
    fn the_ids_migration_keeps_every_row_and_never_gives_an_id_twice() {
        use diesel::prelude::*;
        use diesel_migrations::MigrationHarness;

        #[derive(QueryableByName, Debug, PartialEq)]
        struct Row {
            #[diesel(sql_type = diesel::sql_types::Text)]
            row: String,
        }
        let rows = |c: &mut SqliteConnection, sql: &str| -> Vec<String> {
            diesel::sql_query(sql).load::<Row>(c).unwrap().into_iter().map(|r| r.row).collect()
        };
        let mut c = SqliteConnection::establish(":memory:").unwrap();
        c.batch_execute("PRAGMA foreign_keys = ON").unwrap();
        let pending = c.pending_migrations(SQLITE_MIGRATIONS).unwrap();
        let at = pending.iter().position(|m| m.name().to_string().ends_with("_ids_never_reused"));
        let (before, rest) = pending.split_at(at.expect("the ids migration"));
        let ids_migration = &rest[0];
        for m in before {
            c.run_migration(m.as_ref()).unwrap();
        }
        c.batch_execute(
            "INSERT INTO users (id, login, name, email, password_hash, created_at, updated_at)
                 VALUES (1, 'ada', 'Ada', 'ada@example.edu', '', '2026-01-01', '2026-01-01');
             INSERT INTO services VALUES
                 (1, 'print', 'Print', '', 0, 'd1', 'h1', '2026-01-01', '2026-01-01'),
                 (2, 'library', 'Library', 'Books', 1, 'd2', 'h2', '2026-01-01', '2026-01-02');
             INSERT INTO service_scopes VALUES (2, 0, 'library:read', 'Read', 'student teacher');
             INSERT INTO service_rules VALUES (2, 0, 'GET', '/books/*', 'library:read');
             INSERT INTO webhook_endpoints VALUES
                 (1, 'https://a.example/hook', '', '', 1, 'sealed', 'whsec_x', '2026-01-01', '2026-01-01'),
                 (2, 'https://b.example/hook', 'B', 'token.created', 0, 'sealed', 'whsec_y', '2026-01-01', '2026-01-01');
             INSERT INTO notifications (id, message_id, channel, event, endpoint_id, user_id, payload,
                                        next_attempt_at, give_up_at, created_at)
                 VALUES (7, 'm7', 'webhook', 'token.created', 2, NULL, '{}', '2026-01-01', '2026-01-02', '2026-01-01'),
                        (8, 'm8', 'email', 'token.created', NULL, 1, '{}', '2026-01-01', '2026-01-02', '2026-01-01');
             INSERT INTO provisioning_credentials VALUES (3, 'HR feed', 'pd', 'ph', '2026-01-01', NULL);",
        )
        .unwrap();
        let everything = "SELECT id || slug || name || description || accept_unscoped || credential_hint || updated_at AS row FROM services
             UNION ALL SELECT service_id || scope || holders FROM service_scopes
             UNION ALL SELECT service_id || method || path || scope FROM service_rules
             UNION ALL SELECT id || url || description || events || enabled || secret_hint FROM webhook_endpoints
             UNION ALL SELECT id || channel || coalesce(endpoint_id, '-') || coalesce(user_id, '-') FROM notifications
             UNION ALL SELECT id || purpose || digest FROM provisioning_credentials";
        let kept = rows(&mut c, everything);
        c.run_migration(ids_migration.as_ref()).unwrap();
        assert_eq!(rows(&mut c, everything), kept, "every row, as it was");
        assert!(rows(&mut c, "SELECT \"table\" AS row FROM pragma_foreign_key_check").is_empty());
        let schema = rows(&mut c, "SELECT sql AS row FROM sqlite_master WHERE sql IS NOT NULL").join("\n");
        assert!(!schema.contains("_new"), "every reference names the rebuilt table: {schema}");
        assert!(schema.contains("notifications_endpoint_idx"), "the indexes are back");

        // The newest of each removed; the next one gets a new id all the same.
        c.batch_execute(
            "DELETE FROM services WHERE id = 2; DELETE FROM webhook_endpoints WHERE id = 2;
             DELETE FROM notifications WHERE id = 8; DELETE FROM provisioning_credentials WHERE id = 3;",
        )
        .unwrap();
        assert!(
            rows(&mut c, "SELECT service_id || '' AS row FROM service_scopes UNION ALL SELECT service_id || '' FROM service_rules UNION ALL SELECT id || '' FROM notifications").is_empty(),
            "children still go with their parent"
        );
        c.batch_execute(
            "INSERT INTO services (slug, name, credential_digest, credential_hint, created_at, updated_at)
                 VALUES ('maps', 'Maps', 'd3', 'h3', '2026-02-01', '2026-02-01');
             INSERT INTO webhook_endpoints (url, secret_sealed, secret_hint, created_at, updated_at)
                 VALUES ('https://c.example/hook', 's', 'h', '2026-02-01', '2026-02-01');
             INSERT INTO notifications (message_id, channel, event, payload, next_attempt_at, give_up_at, created_at)
                 VALUES ('m9', 'email', 'token.created', '{}', '2026-02-01', '2026-02-02', '2026-02-01');
             INSERT INTO provisioning_credentials (purpose, digest, hint, created_at)
                 VALUES ('LMS', 'pd2', 'ph2', '2026-02-01');",
        )
        .unwrap();
        assert_eq!(
            rows(
                &mut c,
                "SELECT (SELECT max(id) FROM services) || ' ' || (SELECT max(id) FROM webhook_endpoints) || ' ' || \
                 (SELECT max(id) FROM notifications) || ' ' || (SELECT max(id) FROM provisioning_credentials) AS row"
            ),
            ["3 3 9 4"]
        );
    }

    #[test]
    fn redact_hides_the_password_only() {
        assert_eq!(redact("postgres://me:secret@db/x"), "postgres://me:***@db/x");
        assert_eq!(redact("postgres://me@db/x"), "postgres://me@db/x");
        assert_eq!(redact("tokenwarden.db"), "tokenwarden.db");
    }

    #[test]
    fn postgres_urls_get_a_connect_timeout_unless_they_set_one() {
        assert_eq!(with_connect_timeout("postgres://h/db"), "postgres://h/db?connect_timeout=5");
        assert_eq!(
            with_connect_timeout("postgres://h/db?sslmode=require"),
            "postgres://h/db?sslmode=require&connect_timeout=5"
        );
        assert_eq!(
            with_connect_timeout("postgres://h/db?connect_timeout=1"),
            "postgres://h/db?connect_timeout=1"
        );
        assert_eq!(with_connect_timeout("app.db"), "app.db");
    }

    #[test]
    fn while_the_database_is_gone_one_request_at_a_time_tries_it() {
        let h = Health::default();
        assert!(h.may_try() && h.may_try(), "while it answers, everybody goes");
        h.mark_down();
        assert_eq!((0..10).filter(|_| h.may_try()).count(), 0, "right after the failure: answered at once");
        // A while later (time moved back for the test): one probe, the others at once.
        h.last_probe_ms.fetch_sub(h.last_probe_ms.load(Ordering::Relaxed), Ordering::Relaxed);
        h.down_since_ms.store(1, Ordering::Relaxed);
        std::thread::sleep(PROBE_EVERY);
        assert_eq!((0..10).filter(|_| h.may_try()).count(), 1, "one probe, the others answered at once");
        h.mark_up();
        assert!(h.may_try());
    }

    #[test]
    fn sqlite_faults_are_unavailability_not_bugs() {
        use diesel::result::DatabaseErrorInformation;
        struct Info(&'static str);
        impl DatabaseErrorInformation for Info {
            fn message(&self) -> &str {
                self.0
            }
            fn details(&self) -> Option<&str> {
                None
            }
            fn hint(&self) -> Option<&str> {
                None
            }
            fn table_name(&self) -> Option<&str> {
                None
            }
            fn column_name(&self) -> Option<&str> {
                None
            }
            fn constraint_name(&self) -> Option<&str> {
                None
            }
            fn statement_position(&self) -> Option<i32> {
                None
            }
        }
        let e = |m| DieselError::DatabaseError(DatabaseErrorKind::Unknown, Box::new(Info(m)));
        assert!(unavailable_reason(&e("database is locked")).unwrap().contains("locked"));
        assert!(unavailable_reason(&e("database or disk is full")).unwrap().contains("full"));
        assert!(
            unavailable_reason(&e("attempt to write a readonly database")).unwrap().contains("read-only")
        );
        assert_eq!(unavailable_reason(&e("UNIQUE constraint failed: users.login")), None);
    }

    #[test]
    fn only_postgres_urls_are_postgres() {
        assert!(is_postgres("postgres://x"));
        assert!(is_postgres("postgresql://x"));
        assert!(!is_postgres("sqlite://x.db"));
        assert!(!is_postgres("x.db"));
    }
}
