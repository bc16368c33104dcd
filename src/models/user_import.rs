use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::user_imports;

/// A CSV file of people, uploaded and waiting between its preview and its application.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, PartialEq, Eq)]
#[diesel(table_name = user_imports)]
pub struct UserImport {
    /// Random: it names the import in the preview's URL.
    pub id: String,
    /// Who uploaded it: nobody else may see or apply it.
    pub user_id: i64,
    pub file_name: String,
    pub content: String,
    pub created_at: NaiveDateTime,
}

impl UserImport {
    pub fn put(conn: &mut DbConnection, row: &UserImport) -> QueryResult<usize> {
        diesel::insert_into(user_imports::table).values(row).execute(conn)
    }

    /// The import `id` of `user_id`, if uploaded after `since`.
    pub fn find_for(
        conn: &mut DbConnection,
        id: &str,
        user_id: i64,
        since: NaiveDateTime,
    ) -> QueryResult<Option<UserImport>> {
        user_imports::table
            .filter(user_imports::id.eq(id))
            .filter(user_imports::user_id.eq(user_id))
            .filter(user_imports::created_at.gt(since))
            .select(UserImport::as_select())
            .get_result(conn)
            .optional()
    }

    pub fn delete(conn: &mut DbConnection, id: &str) -> QueryResult<usize> {
        diesel::delete(user_imports::table.filter(user_imports::id.eq(id))).execute(conn)
    }

    /// Forgets imports uploaded before `cutoff` and never applied.
    pub fn purge_before(conn: &mut DbConnection, cutoff: NaiveDateTime) -> QueryResult<usize> {
        diesel::delete(user_imports::table.filter(user_imports::created_at.lt(cutoff))).execute(conn)
    }
}
