use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::{AccountRole, is_unique_violation};
use crate::db::schema::{user_account_roles, user_roles, users};
use crate::db::{AtMostDsl, DbConnection, on_backend};
use crate::domain::{DisplayName, Email, EnrollmentRole, Login, PermissionSet, is_student_only};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserState {
    Active,
    Suspended,
}

impl UserState {
    pub const fn key(self) -> &'static str {
        match self {
            UserState::Active => "active",
            UserState::Suspended => "suspended",
        }
    }
}

/// A user's row. Its `Debug` leaves out the password hash: nothing that formats a user
/// (in a log line, an error, a test's failure) may show it. What every request carries is
/// a [`UserCard`], which has no hash to show.
#[derive(Clone, Queryable, Selectable, Identifiable, PartialEq, Eq)]
#[diesel(table_name = users)]
pub struct User {
    pub id: i64,
    pub login: String,
    pub name: String,
    pub email: String,
    pub password_hash: String,
    pub state: String,
    pub time_zone: String,
    pub locale: String,
    #[diesel(deserialize_as = crate::db::Time)]
    pub created_at: NaiveDateTime,
    #[diesel(deserialize_as = crate::db::Time)]
    pub updated_at: NaiveDateTime,
    /// `issuer|subject` of the identity provider's account, for a user who signs in with it.
    pub oidc_subject: Option<String>,
    /// SCIM's `externalId`, as the provisioning client gave it.
    pub scim_external_id: Option<String>,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("login", &self.login)
            .field("name", &self.name)
            .field("email", &self.email)
            .field("password_hash", &if self.password_hash.is_empty() { "(none)" } else { "(redacted)" })
            .field("state", &self.state)
            .field("time_zone", &self.time_zone)
            .field("locale", &self.locale)
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .field("oidc_subject", &self.oidc_subject)
            .field("scim_external_id", &self.scim_external_id)
            .finish()
    }
}

/// A user as a credential presents them on every request (a token to the API and the
/// gateways, a session to the pages): who they are, how to reach and address them, and
/// whether they may act. Not the password hash, the sign-in links or the row's
/// bookkeeping: such a request never needs them, so it never reads them.
#[derive(Debug, Clone, Queryable, Selectable, PartialEq, Eq)]
#[diesel(table_name = users)]
pub struct UserCard {
    pub id: i64,
    pub login: String,
    pub name: String,
    pub email: String,
    pub state: String,
    pub time_zone: String,
    pub locale: String,
}

impl UserCard {
    pub fn find(conn: &mut DbConnection, id: i64) -> QueryResult<UserCard> {
        on_backend!(conn, |c| users::table.find(id).select(UserCard::as_select()).get_result(c))
    }

    pub fn is_active(&self) -> bool {
        self.state == UserState::Active.key()
    }
}

/// Where a role a user holds came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RoleSource {
    /// Given by an administrator on the profile page, or by the operator at the shell.
    Admin,
    /// The identity provider's claim, set again at each sign-in with it.
    Sso,
    /// SCIM groups, set by the provisioning client.
    Scim,
}

impl RoleSource {
    pub const fn key(self) -> &'static str {
        match self {
            RoleSource::Admin => "admin",
            RoleSource::Sso => "sso",
            RoleSource::Scim => "scim",
        }
    }

    pub fn parse(s: &str) -> Option<RoleSource> {
        [RoleSource::Admin, RoleSource::Sso, RoleSource::Scim].into_iter().find(|r| r.key() == s)
    }

    /// "set by an administrator", "from single sign-on", "from provisioning".
    pub const fn describe(self) -> &'static str {
        match self {
            RoleSource::Admin => "set by an administrator",
            RoleSource::Sso => "from single sign-on",
            RoleSource::Scim => "from provisioning (SCIM)",
        }
    }
}

#[derive(Insertable)]
#[diesel(table_name = users)]
struct NewUser<'a> {
    login: &'a str,
    name: &'a str,
    email: &'a str,
    password_hash: &'a str,
    state: &'a str,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

/// A user to create, every field already parsed (not `Debug`: it holds a password hash).
pub struct NewUserData {
    pub login: Login,
    pub name: DisplayName,
    pub email: Email,
    pub password_hash: String,
    pub roles: Vec<EnrollmentRole>,
    pub account_role_ids: Vec<i64>,
}

#[derive(Debug, thiserror::Error)]
pub enum CreateUserError {
    #[error("a user with the login '{0}' already exists")]
    DuplicateLogin(String),
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
}

/// Left-joins both role tables onto a query that has `users` in it: one row per pair of an
/// enrollment role and an account role the user holds (one row when they hold neither).
/// Select `user_roles::role.nullable()` and `Option::<AccountRole>::as_select()`, then fold
/// with [`UserRoles::from_joined`]; the per-request look-ups get user and roles in one go.
macro_rules! join_roles {
    ($query:expr) => {{
        use $crate::db::schema::{account_roles, user_account_roles, user_roles, users};
        $query
            .left_join(user_roles::table.on(user_roles::user_id.eq(users::id)))
            .left_join(user_account_roles::table.on(user_account_roles::user_id.eq(users::id)))
            .left_join(account_roles::table.on(account_roles::id.eq(user_account_roles::account_role_id)))
    }};
}
pub(crate) use join_roles;

/// Where a user's roles came from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoleSources {
    pub enrollment: Vec<(EnrollmentRole, RoleSource)>,
    /// (account role id, source)
    pub account: Vec<(i64, RoleSource)>,
}

impl RoleSources {
    pub fn of_enrollment(&self, role: EnrollmentRole) -> Vec<RoleSource> {
        let mut v: Vec<RoleSource> =
            self.enrollment.iter().filter(|(r, _)| *r == role).map(|(_, s)| *s).collect();
        v.sort();
        v
    }

    pub fn of_account(&self, id: i64) -> Vec<RoleSource> {
        let mut v: Vec<RoleSource> = self.account.iter().filter(|(r, _)| *r == id).map(|(_, s)| *s).collect();
        v.sort();
        v
    }

    /// The roles one source gave: enrollment roles and account role ids.
    pub fn from(&self, source: RoleSource) -> (Vec<EnrollmentRole>, Vec<i64>) {
        self.matching(|s| s == source)
    }

    /// The roles every other source gave (what stays when `source` replaces its own).
    pub fn besides(&self, source: RoleSource) -> (Vec<EnrollmentRole>, Vec<i64>) {
        self.matching(|s| s != source)
    }

    fn matching(&self, wanted: impl Fn(RoleSource) -> bool) -> (Vec<EnrollmentRole>, Vec<i64>) {
        (
            self.enrollment.iter().filter(|(_, s)| wanted(*s)).map(|(r, _)| *r).collect(),
            self.account.iter().filter(|(_, s)| wanted(*s)).map(|(id, _)| *id).collect(),
        )
    }
}

/// The roles a user holds and what follows from them.
#[derive(Debug, Clone, Default)]
pub struct UserRoles {
    pub enrollment: Vec<EnrollmentRole>,
    pub account: Vec<AccountRole>,
}

impl UserRoles {
    /// The roles as the account-wide views filter tokens by them.
    pub fn owner_roles(&self) -> crate::domain::owner_roles::OwnerRoles {
        crate::domain::owner_roles::OwnerRoles::of(&self.enrollment, !self.account.is_empty())
    }

    pub fn permissions(&self) -> PermissionSet {
        self.account.iter().fold(PermissionSet::empty(), |acc, r| acc.union(r.permission_set()))
    }

    pub fn is_student_only(&self) -> bool {
        is_student_only(&self.enrollment, self.account.len())
    }

    /// Folds the rows of a user left-joined with both role tables: one row per pair of an
    /// enrollment role and an account role, `None` where the user holds none of a kind.
    pub fn from_joined(rows: impl IntoIterator<Item = (Option<String>, Option<AccountRole>)>) -> UserRoles {
        let mut roles = UserRoles::default();
        for (enrollment, account) in rows {
            if let Some(r) = enrollment.as_deref().and_then(EnrollmentRole::parse)
                && !roles.enrollment.contains(&r)
            {
                roles.enrollment.push(r);
            }
            if let Some(a) = account
                && !roles.account.iter().any(|held| held.id == a.id)
            {
                roles.account.push(a);
            }
        }
        roles.enrollment.sort();
        roles.account.sort_by(|a, b| a.name.cmp(&b.name));
        roles
    }

    /// Folds the rows of `join_roles!(some_table.inner_join(users))` for one key: the
    /// row's own record and user from the first row, the roles from all of them; `None`
    /// when there was no row.
    pub fn fold_rows<T, U>(
        rows: Vec<(T, U, Option<String>, Option<AccountRole>)>,
    ) -> Option<(T, U, UserRoles)> {
        let mut rows = rows.into_iter();
        let (record, user, role, account) = rows.next()?;
        let roles = UserRoles::from_joined(
            std::iter::once((role, account)).chain(rows.map(|(_, _, role, account)| (role, account))),
        );
        Some((record, user, roles))
    }
}

/// A page of the user search.
#[derive(Debug, Clone)]
pub struct UserPage {
    pub users: Vec<User>,
    /// The id to continue after, when there is a next page.
    pub next_after: Option<i64>,
}

/// `s` for a LIKE pattern with `\\` as its escape: `%`, `_` and `\\` taken literally.
fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

/// A lower-cased search and the other cases SQLite's LIKE would not fold for it: none for
/// ASCII (LIKE folds it), else its capital and title case ("öd": "ÖD", "Öd").
fn case_variants(needle: &str) -> Vec<String> {
    if needle.is_empty() {
        return Vec::new();
    }
    let mut variants = vec![needle.to_owned()];
    if !needle.is_ascii() {
        let mut chars = needle.chars();
        let title: String = chars.next().into_iter().flat_map(char::to_uppercase).chain(chars).collect();
        for v in [needle.to_uppercase(), title] {
            if !variants.contains(&v) {
                variants.push(v);
            }
        }
    }
    variants
}

/// The order of a list of users: as they were created, or the newest first (where the
/// people an import has just created are).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum UserOrder {
    #[default]
    Oldest,
    Newest,
}

impl UserOrder {
    /// `sort=newest` in an address; anything else is the default.
    pub fn parse(given: &str) -> UserOrder {
        if given == "newest" { UserOrder::Newest } else { UserOrder::Oldest }
    }

    /// As an address writes it (`None` for the default).
    pub fn param(self) -> Option<&'static str> {
        (self == UserOrder::Newest).then_some("newest")
    }

    /// The other way round: the users before a cursor in one order are those after it in
    /// the other.
    pub fn reversed(self) -> UserOrder {
        match self {
            UserOrder::Oldest => UserOrder::Newest,
            UserOrder::Newest => UserOrder::Oldest,
        }
    }
}

impl User {
    /// Users whose login, name or email contains `query` (case-insensitive), in `order`,
    /// past the user `after` in it (keyset pagination; 0 for the first page). From three
    /// characters on, a trigram index finds them — FTS5's trigram tokenizer on SQLite,
    /// `pg_trgm` on PostgreSQL (migration 2026-12-03-000010, on the kept `search_text`
    /// since 2026-12-04-000012) — instead of reading every user. A shorter query makes no
    /// trigram and reads users in order until a page is full: at once for a common pair of
    /// letters, every user for a rare one.
    pub fn search(
        conn: &mut DbConnection,
        query: &str,
        order: UserOrder,
        after: i64,
        per_page: u32,
    ) -> QueryResult<UserPage> {
        let needle: String = query.trim().to_lowercase().chars().filter(|c| !c.is_control()).collect();
        let pattern = format!("%{}%", escape_like(&needle));
        let newest = order == UserOrder::Newest;
        // Past `after` in the list's order: below it for the newest first.
        let past = match (newest, after) {
            (true, 0) => i64::MAX,
            _ => after,
        };
        // A boxed query on any backend, past the cursor in the list's order.
        macro_rules! in_order {
            ($q:expr) => {
                if newest {
                    $q.filter(users::id.lt(past)).order(users::id.desc())
                } else {
                    $q.filter(users::id.gt(past)).order(users::id.asc())
                }
            };
        }
        let mut users: Vec<User> = match conn {
            DbConnection::Sqlite(c) if needle.chars().count() >= 3 => {
                #[derive(QueryableByName)]
                struct Found {
                    #[diesel(sql_type = diesel::sql_types::BigInt)]
                    id: i64,
                }
                // A quoted FTS5 string: with the trigram tokenizer, "contains".
                let phrase = format!("\"{}\"", needle.replace('"', "\"\""));
                // The limit written, not bound: SQLite prepares a statement with a bound
                // limit again every time it runs (see `db::AtMost`).
                let sql = if newest {
                    format!(
                        "SELECT rowid AS id FROM users_search WHERE users_search MATCH ? AND rowid < ? \
                         ORDER BY rowid DESC LIMIT {}",
                        per_page + 1
                    )
                } else {
                    format!(
                        "SELECT rowid AS id FROM users_search WHERE users_search MATCH ? AND rowid > ? \
                         ORDER BY rowid LIMIT {}",
                        per_page + 1
                    )
                };
                let ids: Vec<i64> = diesel::sql_query(sql)
                    .bind::<diesel::sql_types::Text, _>(phrase)
                    .bind::<diesel::sql_types::BigInt, _>(past)
                    .load::<Found>(c)?
                    .into_iter()
                    .map(|f| f.id)
                    .collect();
                let mut found =
                    users::table.filter(users::id.eq_any(ids)).select(User::as_select()).load(c)?;
                found.sort_by_key(|u: &User| if newest { -u.id } else { u.id });
                found
            }
            DbConnection::Pg(c) if !needle.is_empty() => in_order!(users::table.into_boxed())
                .filter(
                    // The lowercased login, name and email, kept by PostgreSQL itself
                    // (migration 2026-12-04-000012), with the trigram index on it.
                    diesel::dsl::sql::<diesel::sql_types::Bool>("search_text LIKE ")
                        .bind::<diesel::sql_types::Text, _>(pattern)
                        .sql(" ESCAPE '\\'"),
                )
                .select(User::as_select())
                .at_most(per_page + 1)
                .load(c)?,
            conn => {
                let mut q = in_order!(users::table.into_boxed());
                // SQLite's LIKE ignores the case of ASCII letters, and its `lower()` folds
                // only those: lowercasing each column of every user (the search under three
                // letters reads them all) found nothing more and took half the time. Other
                // letters ("öd" for "Ödön") are looked for in capital and title case too.
                let like = |variant: &str| {
                    let p = format!("%{}%", escape_like(variant));
                    users::login
                        .like(p.clone())
                        .escape('\\')
                        .or(users::name.like(p.clone()).escape('\\'))
                        .or(users::email.like(p).escape('\\'))
                };
                q = match case_variants(&needle).as_slice() {
                    [] => q,
                    [a] => q.filter(like(a)),
                    [a, b] => q.filter(like(a).or(like(b))),
                    [a, b, c, ..] => q.filter(like(a).or(like(b)).or(like(c))),
                };
                q.select(User::as_select()).at_most(per_page + 1).load(conn)?
            }
        };
        let next_after = if users.len() > per_page as usize {
            users.truncate(per_page as usize);
            users.last().map(|u| u.id)
        } else {
            None
        };
        Ok(UserPage { users, next_after })
    }

    /// The roles of several users at once (two queries, not two per user).
    pub fn roles_of_many(
        conn: &mut DbConnection,
        ids: &[i64],
    ) -> QueryResult<std::collections::HashMap<i64, UserRoles>> {
        use crate::db::schema::account_roles;
        let mut out: std::collections::HashMap<i64, UserRoles> =
            ids.iter().map(|id| (*id, UserRoles::default())).collect();
        let enrollment: Vec<(i64, String)> = user_roles::table
            .filter(user_roles::user_id.eq_any(ids))
            .select((user_roles::user_id, user_roles::role))
            .load(conn)?;
        for (id, role) in enrollment {
            if let (Some(r), Some(entry)) = (EnrollmentRole::parse(&role), out.get_mut(&id)) {
                entry.enrollment.push(r);
            }
        }
        let account: Vec<(i64, AccountRole)> = user_account_roles::table
            .inner_join(account_roles::table)
            .filter(user_account_roles::user_id.eq_any(ids))
            .select((user_account_roles::user_id, AccountRole::as_select()))
            .load(conn)?;
        for (id, role) in account {
            if let Some(entry) = out.get_mut(&id) {
                entry.account.push(role);
            }
        }
        for roles in out.values_mut() {
            roles.enrollment.sort();
        }
        Ok(out)
    }

    /// Every student-only user's id (SPEC 1), for the cap applied at upgrade.
    pub fn student_only_ids(conn: &mut DbConnection) -> QueryResult<Vec<i64>> {
        use std::collections::HashSet;
        let students: Vec<i64> = user_roles::table
            .filter(user_roles::role.eq("student"))
            .select(user_roles::user_id)
            .load(conn)?;
        let mut others: HashSet<i64> = user_roles::table
            .filter(user_roles::role.ne("student"))
            .select(user_roles::user_id)
            .load::<i64>(conn)?
            .into_iter()
            .collect();
        others.extend(user_account_roles::table.select(user_account_roles::user_id).load::<i64>(conn)?);
        let mut ids: Vec<i64> = students.into_iter().filter(|id| !others.contains(id)).collect();
        ids.sort_unstable();
        ids.dedup();
        Ok(ids)
    }

    pub fn is_active(&self) -> bool {
        self.state == UserState::Active.key()
    }

    pub fn count(conn: &mut DbConnection) -> QueryResult<i64> {
        users::table.count().get_result(conn)
    }

    /// What a notification about this user needs of them.
    pub fn card(&self) -> UserCard {
        UserCard {
            id: self.id,
            login: self.login.clone(),
            name: self.name.clone(),
            email: self.email.clone(),
            state: self.state.clone(),
            time_zone: self.time_zone.clone(),
            locale: self.locale.clone(),
        }
    }

    pub fn find(conn: &mut DbConnection, id: i64) -> QueryResult<User> {
        on_backend!(conn, |c| users::table.find(id).select(User::as_select()).get_result(c))
    }

    pub fn find_by_login(conn: &mut DbConnection, login: &Login) -> QueryResult<Option<User>> {
        users::table
            .filter(users::login.eq(login.as_str()))
            .select(User::as_select())
            .get_result(conn)
            .optional()
    }

    /// Display names of the given users, for "created by" columns.
    pub fn names(conn: &mut DbConnection, ids: &[i64]) -> QueryResult<Vec<(i64, String)>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        users::table.filter(users::id.eq_any(ids)).select((users::id, users::name)).load(conn)
    }

    /// Creates a user with their roles (call inside a transaction: two statements and more).
    pub fn create(conn: &mut DbConnection, data: &NewUserData) -> Result<User, CreateUserError> {
        let now = crate::domain::now();
        let row = NewUser {
            login: data.login.as_str(),
            name: data.name.as_str(),
            email: data.email.as_str(),
            password_hash: &data.password_hash,
            state: UserState::Active.key(),
            created_at: now,
            updated_at: now,
        };
        diesel::insert_into(users::table).values(&row).execute(conn).map_err(|e| {
            if is_unique_violation(&e) {
                CreateUserError::DuplicateLogin(data.login.to_string())
            } else {
                CreateUserError::Database(e)
            }
        })?;
        let user = User::find_by_login(conn, &data.login)?.ok_or(diesel::result::Error::NotFound)?;
        User::replace_roles(conn, user.id, &data.roles, &data.account_role_ids, RoleSource::Admin)?;
        Ok(user)
    }

    /// Makes every other transaction that would change [`Self::active_admin_count`] through
    /// the last-admin rule wait for this one to end. SQLite needs nothing (a write
    /// transaction holds the only write lock); on PostgreSQL two transactions counting at
    /// once under READ COMMITTED would each see the other's admin still active, and both
    /// suspend — so they take a transaction-scoped advisory lock first, and the second
    /// counts again after the first commits.
    pub fn lock_admin_count(conn: &mut DbConnection) -> QueryResult<()> {
        /// The advisory lock's key: any number no other lock of this database uses.
        const ADMIN_COUNT: i64 = 0x746f_6b65_6e77_6164; // "tokenwad"
        if let DbConnection::Pg(pg) = conn {
            diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
                .bind::<diesel::sql_types::BigInt, _>(ADMIN_COUNT)
                .execute(pg)?;
        }
        Ok(())
    }

    /// How many active users hold the built-in `Account Admin` role — each once, from
    /// however many sources (an administrator, single sign-on, SCIM) they hold it.
    pub fn active_admin_count(conn: &mut DbConnection) -> QueryResult<i64> {
        use crate::db::schema::account_roles;
        user_account_roles::table
            .inner_join(account_roles::table)
            .inner_join(users::table)
            .filter(account_roles::built_in.eq(true))
            .filter(users::state.eq(UserState::Active.key()))
            .select(diesel::dsl::count(users::id).aggregate_distinct())
            .get_result(conn)
    }

    /// Holds the user's row until the transaction ends, on PostgreSQL (SQLite's write
    /// transactions run one at a time already). Every change to a user's tokens and every
    /// change of their roles takes it before reading or writing the roles, so one waits for
    /// the other: a token is never written under roles that are changing beneath it, and a
    /// role change's triggers and retroactive cap see every token (SPEC 4.2, 4.3).
    /// `NO KEY UPDATE`: rows that merely refer to the user (audit entries) do not wait.
    pub fn lock(conn: &mut DbConnection, user_id: i64) -> QueryResult<()> {
        if let DbConnection::Pg(pg) = conn {
            users::table.find(user_id).select(users::id).for_no_key_update().load::<i64>(pg)?;
        }
        Ok(())
    }

    /// Sets a user's enrollment and account roles **from `source`** to exactly these; the
    /// roles from other sources stay. Takes [`User::lock`] first.
    pub fn replace_roles(
        conn: &mut DbConnection,
        user_id: i64,
        roles: &[EnrollmentRole],
        account_role_ids: &[i64],
        source: RoleSource,
    ) -> QueryResult<()> {
        Self::lock(conn, user_id)?;
        diesel::delete(
            user_roles::table
                .filter(user_roles::user_id.eq(user_id))
                .filter(user_roles::source.eq(source.key())),
        )
        .execute(conn)?;
        diesel::delete(
            user_account_roles::table
                .filter(user_account_roles::user_id.eq(user_id))
                .filter(user_account_roles::source.eq(source.key())),
        )
        .execute(conn)?;
        let mut roles = roles.to_vec();
        roles.sort();
        roles.dedup();
        // One row at a time: the two-backend connection has no multi-row INSERT.
        for r in &roles {
            diesel::insert_into(user_roles::table)
                .values((
                    user_roles::user_id.eq(user_id),
                    user_roles::role.eq(r.key()),
                    user_roles::source.eq(source.key()),
                ))
                .execute(conn)?;
        }
        let mut ids = account_role_ids.to_vec();
        ids.sort_unstable();
        ids.dedup();
        for id in &ids {
            diesel::insert_into(user_account_roles::table)
                .values((
                    user_account_roles::user_id.eq(user_id),
                    user_account_roles::account_role_id.eq(*id),
                    user_account_roles::source.eq(source.key()),
                ))
                .execute(conn)?;
        }
        Ok(())
    }

    /// Where each role of a user came from: enrollment role keys and account role ids, with
    /// their source (a role may come from more than one).
    pub fn role_sources(conn: &mut DbConnection, user_id: i64) -> QueryResult<RoleSources> {
        let enrollment: Vec<(String, String)> = user_roles::table
            .filter(user_roles::user_id.eq(user_id))
            .select((user_roles::role, user_roles::source))
            .load(conn)?;
        let account: Vec<(i64, String)> = user_account_roles::table
            .filter(user_account_roles::user_id.eq(user_id))
            .select((user_account_roles::account_role_id, user_account_roles::source))
            .load(conn)?;
        Ok(RoleSources {
            enrollment: enrollment
                .into_iter()
                .filter_map(|(r, s)| Some((EnrollmentRole::parse(&r)?, RoleSource::parse(&s)?)))
                .collect(),
            account: account.into_iter().filter_map(|(id, s)| Some((id, RoleSource::parse(&s)?))).collect(),
        })
    }

    /// The roles a user holds (two indexed queries).
    pub fn roles(conn: &mut DbConnection, user_id: i64) -> QueryResult<UserRoles> {
        let enrollment: Vec<String> = on_backend!(conn, |c| user_roles::table
            .filter(user_roles::user_id.eq(user_id))
            .select(user_roles::role)
            .load(c))?;
        let mut enrollment: Vec<EnrollmentRole> =
            enrollment.iter().filter_map(|r| EnrollmentRole::parse(r)).collect();
        enrollment.sort();
        Ok(UserRoles { enrollment, account: AccountRole::for_user(conn, user_id)? })
    }

    /// Sets a user's state (the service ends their sessions when it suspends them).
    pub fn set_state(conn: &mut DbConnection, user_id: i64, state: UserState) -> QueryResult<usize> {
        diesel::update(users::table.find(user_id))
            .set((users::state.eq(state.key()), users::updated_at.eq(crate::domain::now())))
            .execute(conn)
    }

    /// Sets a user's display name and email.
    pub fn update_profile(
        conn: &mut DbConnection,
        user_id: i64,
        name: &DisplayName,
        email: &Email,
    ) -> QueryResult<usize> {
        diesel::update(users::table.find(user_id))
            .set((
                users::name.eq(name.as_str()),
                users::email.eq(email.as_str()),
                users::updated_at.eq(crate::domain::now()),
            ))
            .execute(conn)
    }

    /// Stores a new password hash.
    pub fn set_password_hash(conn: &mut DbConnection, user_id: i64, hash: &str) -> QueryResult<usize> {
        diesel::update(users::table.find(user_id))
            .set((users::password_hash.eq(hash), users::updated_at.eq(crate::domain::now())))
            .execute(conn)
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_search_is_also_tried_in_the_cases_sqlite_does_not_fold() {
        assert_eq!(super::case_variants("ab"), ["ab"], "ASCII: LIKE folds it");
        assert_eq!(super::case_variants("öd"), ["öd", "ÖD", "Öd"]);
        assert_eq!(super::case_variants("ä"), ["ä", "Ä"]);
        assert!(super::case_variants("").is_empty());
    }

    use super::*;

    fn role(id: i64, name: &str, built_in: bool) -> AccountRole {
        AccountRole { id, name: name.into(), permissions: 0, built_in, created_at: crate::domain::now() }
    }

    /// Whatever formats a user for a log shows who it is, never the password hash (and so
    /// does whatever holds one: the API request's owner, a gateway's verification).
    #[test]
    fn a_user_formatted_for_a_log_shows_no_password_hash() {
        let hash = "$argon2id$v=19$m=9216,t=4,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo";
        let user = User {
            id: 7,
            login: "sam".into(),
            name: "Sam".into(),
            email: "sam@example.edu".into(),
            password_hash: hash.into(),
            state: "active".into(),
            time_zone: "Etc/UTC".into(),
            locale: "en".into(),
            created_at: crate::domain::now(),
            updated_at: crate::domain::now(),
            oidc_subject: None,
            scim_external_id: None,
        };
        for shown in [format!("{user:?}"), format!("{user:#?}")] {
            assert!(!shown.contains("argon2") && !shown.contains("c2FsdHNhbHQ"), "{shown}");
            assert!(shown.contains("\"sam\"") && shown.contains("(redacted)"), "{shown}");
        }
        let without = User { password_hash: String::new(), ..user };
        assert!(format!("{without:?}").contains("(none)"), "a user without a password says so");
    }

    #[test]
    fn joined_rows_fold_into_each_role_once() {
        // A student and TA holding two account roles: 2 × 2 rows.
        let admin = role(1, "Account Admin", true);
        let auditor = role(2, "Auditor", false);
        let rows = [
            (Some("student".to_owned()), Some(auditor.clone())),
            (Some("student".to_owned()), Some(admin.clone())),
            (Some("ta".to_owned()), Some(auditor.clone())),
            (Some("ta".to_owned()), Some(admin.clone())),
        ];
        let roles = UserRoles::from_joined(rows);
        assert_eq!(roles.enrollment, vec![EnrollmentRole::Student, EnrollmentRole::Ta]);
        assert_eq!(roles.account, vec![admin, auditor]);
        assert_eq!(roles.permissions(), PermissionSet::all());
    }

    #[test]
    fn a_student_without_account_roles_is_one_row_and_student_only() {
        let roles = UserRoles::from_joined([(Some("student".to_owned()), None)]);
        assert!(roles.is_student_only());
        assert_eq!(roles.permissions(), PermissionSet::empty());
        let nobody = UserRoles::from_joined([(None, None)]);
        assert!(!nobody.is_student_only() && nobody.enrollment.is_empty() && nobody.account.is_empty());
    }
}
