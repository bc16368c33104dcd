use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::account_settings;
use crate::db::{DbConnection, on_backend};

/// The account settings of SPEC 3 (one row).
#[derive(Debug, Clone, Queryable, Selectable, PartialEq, Eq)]
#[diesel(table_name = account_settings)]
pub struct AccountSettings {
    pub id: i64,
    pub limit_personal_creation: bool,
    pub block_students: bool,
    pub student_max_days: i32,
    pub default_lifetime_days: i32,
    pub updated_at: NaiveDateTime,
    pub student_cap_applied_at: Option<NaiveDateTime>,
}

impl AccountSettings {
    pub fn load(conn: &mut DbConnection) -> QueryResult<AccountSettings> {
        on_backend!(conn, |c| {
            account_settings::table.find(1_i64).select(AccountSettings::as_select()).get_result(c)
        })
    }
}

/// New values for the settings, already checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, AsChangeset)]
#[diesel(table_name = account_settings)]
pub struct SettingsChange {
    pub limit_personal_creation: bool,
    pub block_students: bool,
    pub student_max_days: i32,
    pub default_lifetime_days: i32,
}

impl AccountSettings {
    pub fn save(conn: &mut DbConnection, change: &SettingsChange) -> QueryResult<usize> {
        diesel::update(account_settings::table.find(1_i64))
            .set((change, account_settings::updated_at.eq(crate::domain::now())))
            .execute(conn)
    }

    pub fn mark_student_cap_applied(conn: &mut DbConnection, at: NaiveDateTime) -> QueryResult<usize> {
        diesel::update(account_settings::table.find(1_i64))
            .set(account_settings::student_cap_applied_at.eq(at))
            .execute(conn)
    }

    /// Records the check of the session key this server started with.
    pub fn record_session_key_check(conn: &mut DbConnection, check: &str) -> QueryResult<usize> {
        diesel::update(account_settings::table.find(1_i64))
            .set(account_settings::session_key_check.eq(check))
            .execute(conn)
    }

    /// The check of the session key the server last started with; `None` before any has.
    pub fn session_key_check(conn: &mut DbConnection) -> QueryResult<Option<String>> {
        on_backend!(conn, |c| {
            account_settings::table.find(1_i64).select(account_settings::session_key_check).get_result(c)
        })
    }

    pub fn as_change(&self) -> SettingsChange {
        SettingsChange {
            limit_personal_creation: self.limit_personal_creation,
            block_students: self.block_students,
            student_max_days: self.student_max_days,
            default_lifetime_days: self.default_lifetime_days,
        }
    }
}
