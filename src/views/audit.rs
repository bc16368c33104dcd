//! Audit events as people read them: names resolved, dates written out.

use std::collections::HashMap;

use crate::db::DbConnection;
use crate::models::{AuditEvent, User};
use crate::views::tokens::date_time;

/// One event as people read it.
pub struct AuditRow {
    pub when: String,
    pub action: String,
    pub actor: Option<(i64, String)>,
    pub subject: Option<(i64, String)>,
    pub token_id: Option<i64>,
    pub details: String,
    pub ip: String,
}

/// Resolves actor and subject names for a batch of events (one query).
pub fn audit_rows(conn: &mut DbConnection, events: Vec<AuditEvent>) -> diesel::QueryResult<Vec<AuditRow>> {
    let mut ids: Vec<i64> = events.iter().flat_map(|e| [e.actor_id, e.subject_user_id]).flatten().collect();
    ids.sort_unstable();
    ids.dedup();
    let names: HashMap<i64, String> = User::names(conn, &ids)?.into_iter().collect();
    let name =
        |id: Option<i64>| id.map(|i| (i, names.get(&i).cloned().unwrap_or_else(|| format!("user #{i}"))));
    Ok(events
        .into_iter()
        .map(|e| AuditRow {
            when: date_time(e.occurred_at),
            actor: name(e.actor_id),
            subject: name(e.subject_user_id),
            token_id: e.token_id,
            details: e.details,
            ip: e.ip.unwrap_or_default(),
            action: e.action,
        })
        .collect())
}
