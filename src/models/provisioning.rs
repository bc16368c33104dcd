//! Provisioning (SCIM, SPEC 12): the credentials of provisioning clients, the groups they
//! push and their members, and what SCIM keeps of a user beyond the user's own row.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::User;
use crate::db::schema::{provisioning_credentials, scim_group_members, scim_groups, scim_users, users};
use crate::db::{DbConnection, on_backend};

/// A provisioning client's credential: its digest and hint only.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable, PartialEq, Eq)]
#[diesel(table_name = provisioning_credentials)]
pub struct ProvisioningCredential {
    pub id: i64,
    pub purpose: String,
    pub digest: String,
    pub hint: String,
    pub created_at: NaiveDateTime,
    pub last_used_at: Option<NaiveDateTime>,
}

impl ProvisioningCredential {
    pub fn insert(
        conn: &mut DbConnection,
        purpose: &str,
        digest: &str,
        hint: &str,
        now: NaiveDateTime,
    ) -> QueryResult<ProvisioningCredential> {
        diesel::insert_into(provisioning_credentials::table)
            .values((
                provisioning_credentials::purpose.eq(purpose),
                provisioning_credentials::digest.eq(digest),
                provisioning_credentials::hint.eq(hint),
                provisioning_credentials::created_at.eq(now),
            ))
            .execute(conn)?;
        provisioning_credentials::table
            .filter(provisioning_credentials::digest.eq(digest))
            .select(ProvisioningCredential::as_select())
            .get_result(conn)
    }

    /// Every credential, newest first.
    pub fn all(conn: &mut DbConnection) -> QueryResult<Vec<ProvisioningCredential>> {
        provisioning_credentials::table
            .order(provisioning_credentials::id.desc())
            .select(ProvisioningCredential::as_select())
            .load(conn)
    }

    pub fn find(conn: &mut DbConnection, id: i64) -> QueryResult<ProvisioningCredential> {
        provisioning_credentials::table.find(id).select(ProvisioningCredential::as_select()).get_result(conn)
    }

    /// The credential with this digest: one indexed look-up, on every SCIM request.
    pub fn find_by_digest(
        conn: &mut DbConnection,
        digest: &str,
    ) -> QueryResult<Option<ProvisioningCredential>> {
        on_backend!(conn, |c| provisioning_credentials::table
            .filter(provisioning_credentials::digest.eq(digest))
            .select(ProvisioningCredential::as_select())
            .get_result(c)
            .optional())
    }

    pub fn delete(conn: &mut DbConnection, id: i64) -> QueryResult<usize> {
        diesel::delete(provisioning_credentials::table.find(id)).execute(conn)
    }

    /// Records a use, unless one was recorded since `stale_before` (the condition is the
    /// UPDATE's own, so concurrent requests write it once).
    pub fn touch(
        conn: &mut DbConnection,
        id: i64,
        now: NaiveDateTime,
        stale_before: NaiveDateTime,
    ) -> QueryResult<usize> {
        diesel::update(
            provisioning_credentials::table.find(id).filter(
                provisioning_credentials::last_used_at
                    .is_null()
                    .or(provisioning_credentials::last_used_at.lt(stale_before)),
            ),
        )
        .set(provisioning_credentials::last_used_at.eq(now))
        .execute(conn)
    }
}

/// A group a provisioning client pushed; its display name names its roles in the role map.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable, PartialEq, Eq)]
#[diesel(table_name = scim_groups)]
pub struct ScimGroup {
    pub id: String,
    pub display_name: String,
    pub external_id: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

diesel::define_sql_function! {
    /// SQL `lower()`, the same on both backends.
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

impl ScimGroup {
    /// Every group, by name.
    pub fn all(conn: &mut DbConnection) -> QueryResult<Vec<ScimGroup>> {
        scim_groups::table.order(scim_groups::display_name).select(ScimGroup::as_select()).load(conn)
    }

    pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<ScimGroup> {
        scim_groups::table.find(id).select(ScimGroup::as_select()).get_result(conn)
    }

    /// The group with this name, without regard to case in any script (SQL's `lower()`
    /// folds only ASCII on SQLite). An account has tens or hundreds of groups.
    pub fn find_by_name(conn: &mut DbConnection, name: &str) -> QueryResult<Option<ScimGroup>> {
        let named: Vec<(String, String)> =
            scim_groups::table.select((scim_groups::id, scim_groups::display_name)).load(conn)?;
        match named.into_iter().find(|(_, n)| crate::domain::text::same_name(n, name)) {
            Some((id, _)) => ScimGroup::find(conn, &id).optional(),
            None => Ok(None),
        }
    }

    pub fn insert(
        conn: &mut DbConnection,
        id: &str,
        display_name: &str,
        external_id: Option<&str>,
        now: NaiveDateTime,
    ) -> QueryResult<usize> {
        diesel::insert_into(scim_groups::table)
            .values((
                scim_groups::id.eq(id),
                scim_groups::display_name.eq(display_name),
                scim_groups::external_id.eq(external_id),
                scim_groups::created_at.eq(now),
                scim_groups::updated_at.eq(now),
            ))
            .execute(conn)
    }

    pub fn update(
        conn: &mut DbConnection,
        id: &str,
        display_name: &str,
        external_id: Option<&str>,
        now: NaiveDateTime,
    ) -> QueryResult<usize> {
        diesel::update(scim_groups::table.find(id))
            .set((
                scim_groups::display_name.eq(display_name),
                scim_groups::external_id.eq(external_id),
                scim_groups::updated_at.eq(now),
            ))
            .execute(conn)
    }

    /// Marks the group changed (its members).
    pub fn touch(conn: &mut DbConnection, id: &str, now: NaiveDateTime) -> QueryResult<usize> {
        diesel::update(scim_groups::table.find(id)).set(scim_groups::updated_at.eq(now)).execute(conn)
    }

    /// Removes the group; its memberships go with it.
    pub fn delete(conn: &mut DbConnection, id: &str) -> QueryResult<usize> {
        diesel::delete(scim_group_members::table.filter(scim_group_members::group_id.eq(id)))
            .execute(conn)?;
        diesel::delete(scim_groups::table.find(id)).execute(conn)
    }

    /// The ids of the group's members.
    pub fn member_ids(conn: &mut DbConnection, id: &str) -> QueryResult<Vec<i64>> {
        scim_group_members::table
            .filter(scim_group_members::group_id.eq(id))
            .order(scim_group_members::user_id)
            .select(scim_group_members::user_id)
            .load(conn)
    }

    /// (group id, member id, member name) of the given groups.
    pub fn members_of(conn: &mut DbConnection, ids: &[String]) -> QueryResult<Vec<(String, i64, String)>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        scim_group_members::table
            .inner_join(users::table)
            .filter(scim_group_members::group_id.eq_any(ids))
            .order((scim_group_members::group_id, scim_group_members::user_id))
            .select((scim_group_members::group_id, users::id, users::name))
            .load(conn)
    }

    pub fn add_member(conn: &mut DbConnection, id: &str, user_id: i64) -> QueryResult<usize> {
        diesel::insert_into(scim_group_members::table)
            .values((scim_group_members::group_id.eq(id), scim_group_members::user_id.eq(user_id)))
            .execute(conn)
    }

    pub fn remove_member(conn: &mut DbConnection, id: &str, user_id: i64) -> QueryResult<usize> {
        diesel::delete(
            scim_group_members::table
                .filter(scim_group_members::group_id.eq(id))
                .filter(scim_group_members::user_id.eq(user_id)),
        )
        .execute(conn)
    }

    /// The groups of the given users: (user id, group).
    pub fn of_users(conn: &mut DbConnection, user_ids: &[i64]) -> QueryResult<Vec<(i64, ScimGroup)>> {
        if user_ids.is_empty() {
            return Ok(Vec::new());
        }
        scim_group_members::table
            .inner_join(scim_groups::table)
            .filter(scim_group_members::user_id.eq_any(user_ids))
            .order(scim_groups::display_name)
            .select((scim_group_members::user_id, ScimGroup::as_select()))
            .load(conn)
    }

    /// Takes a user out of every group; the ids of those groups.
    pub fn leave_all(conn: &mut DbConnection, user_id: i64) -> QueryResult<Vec<String>> {
        let ids: Vec<String> = scim_group_members::table
            .filter(scim_group_members::user_id.eq(user_id))
            .select(scim_group_members::group_id)
            .load(conn)?;
        diesel::delete(scim_group_members::table.filter(scim_group_members::user_id.eq(user_id)))
            .execute(conn)?;
        Ok(ids)
    }
}

/// What SCIM keeps of a user beyond the user's row.
#[derive(Debug, Clone, Default, Queryable, Selectable, PartialEq, Eq)]
#[diesel(table_name = scim_users)]
pub struct ScimUser {
    pub user_id: i64,
    pub formatted: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub deleted_at: Option<NaiveDateTime>,
}

impl ScimUser {
    /// The rows of the given users (a user without one has none).
    pub fn of_users(conn: &mut DbConnection, user_ids: &[i64]) -> QueryResult<Vec<ScimUser>> {
        if user_ids.is_empty() {
            return Ok(Vec::new());
        }
        scim_users::table
            .filter(scim_users::user_id.eq_any(user_ids))
            .select(ScimUser::as_select())
            .load(conn)
    }

    /// Writes the row of `row.user_id`, whether or not it existed.
    pub fn put(conn: &mut DbConnection, row: &ScimUser) -> QueryResult<()> {
        let values = (
            scim_users::formatted.eq(&row.formatted),
            scim_users::given_name.eq(&row.given_name),
            scim_users::family_name.eq(&row.family_name),
            scim_users::deleted_at.eq(row.deleted_at),
        );
        let updated = diesel::update(scim_users::table.find(row.user_id)).set(values).execute(conn)?;
        if updated == 0 {
            diesel::insert_into(scim_users::table)
                .values((scim_users::user_id.eq(row.user_id), values))
                .execute(conn)?;
        }
        Ok(())
    }

    /// The ids of the users SCIM deleted.
    pub fn deleted_ids(conn: &mut DbConnection) -> QueryResult<Vec<i64>> {
        scim_users::table.filter(scim_users::deleted_at.is_not_null()).select(scim_users::user_id).load(conn)
    }

    /// Whether SCIM deleted this user.
    pub fn is_deleted(conn: &mut DbConnection, user_id: i64) -> QueryResult<bool> {
        let at: Option<Option<NaiveDateTime>> =
            scim_users::table.find(user_id).select(scim_users::deleted_at).get_result(conn).optional()?;
        Ok(at.flatten().is_some())
    }
}

impl User {
    /// Users by id, in id order, after `after`, at most `limit` (`None`: all).
    pub fn by_id_from(conn: &mut DbConnection, after: i64, limit: Option<i64>) -> QueryResult<Vec<User>> {
        let q = users::table.filter(users::id.gt(after)).order(users::id).select(User::as_select());
        match limit {
            Some(n) => q.limit(n).load(conn),
            None => q.load(conn),
        }
    }

    /// Users whose `externalId` (SCIM's) is this.
    pub fn find_by_scim_external_id(conn: &mut DbConnection, external_id: &str) -> QueryResult<Vec<User>> {
        users::table
            .filter(users::scim_external_id.eq(external_id))
            .order(users::id)
            .select(User::as_select())
            .load(conn)
    }

    /// Users whose email is this, without regard to case.
    pub fn find_by_email(conn: &mut DbConnection, email: &str) -> QueryResult<Vec<User>> {
        users::table
            .filter(lower(users::email).eq(email.to_lowercase()))
            .order(users::id)
            .select(User::as_select())
            .load(conn)
    }

    /// Sets what SCIM gives a user: login, name, email and externalId.
    pub fn set_provisioned(
        conn: &mut DbConnection,
        user_id: i64,
        login: &str,
        name: &str,
        email: &str,
        external_id: Option<&str>,
    ) -> QueryResult<usize> {
        diesel::update(users::table.find(user_id))
            .set((
                users::login.eq(login),
                users::name.eq(name),
                users::email.eq(email),
                users::scim_external_id.eq(external_id),
                users::updated_at.eq(crate::domain::now()),
            ))
            .execute(conn)
    }
}

/// A role a user holds, as SCIM writes it: (user id, value, label, source key).
pub type SourcedRole = (i64, String, String, String);

impl User {
    /// The roles of the given users with where each came from (two queries).
    pub fn sourced_roles(conn: &mut DbConnection, user_ids: &[i64]) -> QueryResult<Vec<SourcedRole>> {
        use crate::db::schema::{account_roles, user_account_roles, user_roles};
        use crate::domain::EnrollmentRole;
        if user_ids.is_empty() {
            return Ok(Vec::new());
        }
        let enrollment: Vec<(i64, String, String)> = user_roles::table
            .filter(user_roles::user_id.eq_any(user_ids))
            .order((user_roles::user_id, user_roles::role, user_roles::source))
            .select((user_roles::user_id, user_roles::role, user_roles::source))
            .load(conn)?;
        let account: Vec<(i64, String, String)> = user_account_roles::table
            .inner_join(account_roles::table)
            .filter(user_account_roles::user_id.eq_any(user_ids))
            .order((user_account_roles::user_id, account_roles::name, user_account_roles::source))
            .select((user_account_roles::user_id, account_roles::name, user_account_roles::source))
            .load(conn)?;
        Ok(enrollment
            .into_iter()
            .filter_map(|(id, role, source)| {
                let r = EnrollmentRole::parse(&role)?;
                Some((id, r.key().to_owned(), r.label().to_owned(), source))
            })
            .chain(account.into_iter().map(|(id, name, source)| (id, name.clone(), name, source)))
            .collect())
    }

    /// A page of users in id order, leaving out `excluded`, and how many there are in all.
    pub fn page_excluding(
        conn: &mut DbConnection,
        excluded: &[i64],
        offset: i64,
        limit: i64,
    ) -> QueryResult<(Vec<User>, i64)> {
        let total: i64 = users::table.filter(users::id.ne_all(excluded)).count().get_result(conn)?;
        let page = users::table
            .filter(users::id.ne_all(excluded))
            .order(users::id)
            .offset(offset)
            .limit(limit)
            .select(User::as_select())
            .load(conn)?;
        Ok((page, total))
    }
}
