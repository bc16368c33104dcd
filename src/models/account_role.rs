use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{account_roles, user_account_roles};
use crate::db::{DbConnection, on_backend};
use crate::domain::PermissionSet;

/// An account role: the built-in `Account Admin` (every permission) or a custom one.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable, PartialEq, Eq)]
#[diesel(table_name = account_roles)]
pub struct AccountRole {
    pub id: i64,
    pub name: String,
    pub permissions: i64,
    pub built_in: bool,
    pub created_at: NaiveDateTime,
}

impl AccountRole {
    pub const ACCOUNT_ADMIN: &'static str = "Account Admin";

    /// What the role grants. The built-in admin has every permission, including any added
    /// after its row was written.
    pub fn permission_set(&self) -> PermissionSet {
        if self.built_in { PermissionSet::all() } else { PermissionSet::from_bits(self.permissions) }
    }

    pub fn all(conn: &mut DbConnection) -> QueryResult<Vec<AccountRole>> {
        account_roles::table.order((account_roles::built_in.desc(), account_roles::name)).load(conn)
    }

    pub fn find(conn: &mut DbConnection, id: i64) -> QueryResult<AccountRole> {
        account_roles::table.find(id).select(AccountRole::as_select()).get_result(conn)
    }

    pub fn create(conn: &mut DbConnection, name: &str, permissions: PermissionSet) -> QueryResult<usize> {
        diesel::insert_into(account_roles::table)
            .values((
                account_roles::name.eq(name),
                account_roles::permissions.eq(permissions.bits()),
                account_roles::built_in.eq(false),
                account_roles::created_at.eq(crate::domain::now()),
            ))
            .execute(conn)
    }

    pub fn set_permissions(
        conn: &mut DbConnection,
        id: i64,
        permissions: PermissionSet,
    ) -> QueryResult<usize> {
        diesel::update(account_roles::table.find(id).filter(account_roles::built_in.eq(false)))
            .set(account_roles::permissions.eq(permissions.bits()))
            .execute(conn)
    }

    pub fn delete(conn: &mut DbConnection, id: i64) -> QueryResult<usize> {
        diesel::delete(account_roles::table.find(id).filter(account_roles::built_in.eq(false))).execute(conn)
    }

    /// Who holds the role, each once (from any source).
    pub fn holders(conn: &mut DbConnection, id: i64) -> QueryResult<Vec<i64>> {
        user_account_roles::table
            .filter(user_account_roles::account_role_id.eq(id))
            .select(user_account_roles::user_id)
            .distinct()
            .order(user_account_roles::user_id)
            .load(conn)
    }

    pub fn holder_count(conn: &mut DbConnection, id: i64) -> QueryResult<i64> {
        user_account_roles::table.filter(user_account_roles::account_role_id.eq(id)).count().get_result(conn)
    }

    pub fn find_by_name(conn: &mut DbConnection, name: &str) -> QueryResult<Option<AccountRole>> {
        account_roles::table.filter(account_roles::name.eq(name)).get_result(conn).optional()
    }

    /// The account roles a user holds.
    pub fn for_user(conn: &mut DbConnection, user_id: i64) -> QueryResult<Vec<AccountRole>> {
        on_backend!(conn, |c| user_account_roles::table
            .inner_join(account_roles::table)
            .filter(user_account_roles::user_id.eq(user_id))
            .select(AccountRole::as_select())
            .order(account_roles::name)
            .load(c))
    }
}
