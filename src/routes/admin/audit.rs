//! `/admin/audit` — the account-wide audit log (SPEC 7), filterable by actor, subject,
//! action and dates; and the rows the profile page shows for one user.

use actix_web::{HttpResponse, get, web};
use askama::Template;
use serde::Deserialize;

use crate::auth::guard::{ReadAudit, Require};
use crate::db::DbConnection;
use crate::domain::period::DayRange;
use crate::domain::{Login, ValidationError};
use crate::error::AppError;
use crate::models::{AuditAction, AuditEvent, AuditQuery, Cursor, User};
use crate::routes::render;
use crate::state::AppState;
use crate::views::audit::{AuditRow, audit_rows};
use crate::views::forms::FieldErrors;
use crate::views::page::PageCtx;

const PER_PAGE: u32 = 50;

#[derive(Deserialize, Default)]
pub struct AuditFilter {
    #[serde(default)]
    actor: String,
    #[serde(default)]
    subject: String,
    #[serde(default)]
    action: String,
    /// The first and last day, `YYYY-MM-DD` in UTC, both included.
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    before: String,
}

#[derive(Template)]
#[template(path = "admin/audit.html")]
struct AuditPage {
    ctx: PageCtx,
    actor: String,
    subject: String,
    action: String,
    from: String,
    to: String,
    /// The filter's choices: (group, [(key, label)]), the revocations first.
    actions: Vec<(&'static str, Vec<(&'static str, &'static str)>)>,
    rows: Vec<AuditRow>,
    next: Option<String>,
    /// The pages' addresses: the next (older), and from a later page the first.
    first: Option<String>,
    /// What is wrong with a field (an unknown login, a date), by its name.
    errors: FieldErrors,
}

/// `GET /admin/audit`
#[get("/admin/audit")]
pub async fn index(
    ctx: PageCtx,
    _me: Require<ReadAudit>,
    state: web::Data<AppState>,
    filter: web::Query<AuditFilter>,
) -> Result<HttpResponse, AppError> {
    let filter = filter.into_inner();
    let (actor, subject, action) = (filter.actor.clone(), filter.subject.clone(), filter.action.clone());
    let before = Cursor::parse(&filter.before);
    let (between, mut errors) = match DayRange::parse(&filter.from, &filter.to) {
        Ok(range) => (range.map(DayRange::instants).unwrap_or_default(), FieldErrors::new()),
        Err(errors) => (Default::default(), FieldErrors::from(errors)),
    };
    let valid = errors.is_empty();
    let (rows, next, unknown) = crate::db::run_within(
        &state.pool,
        crate::db::ACCOUNT_VIEW_WITHIN,
        move |conn| -> Result<_, AppError> {
            let mut unknown = Vec::new();
            let mut resolve = |conn: &mut DbConnection,
                               field: &'static str,
                               login: &str|
             -> Result<Option<i64>, AppError> {
                if login.trim().is_empty() {
                    return Ok(None);
                }
                let found = match Login::parse(login) {
                    Ok(l) => User::find_by_login(conn, &l)?,
                    Err(_) => None,
                };
                match found {
                    Some(u) => Ok(Some(u.id)),
                    None => {
                        unknown.push(ValidationError::new(
                            field,
                            format!("No user has the login “{}”.", login.trim()),
                        ));
                        Ok(Some(-1))
                    }
                }
            };
            let query = AuditQuery {
                actor_id: resolve(conn, "actor", &actor)?,
                subject_id: resolve(conn, "subject", &subject)?,
                actions: if action == AuditAction::REVOCATIONS.0 {
                    AuditAction::REVOCATIONS.1.iter().map(|a| a.key()).collect()
                } else {
                    AuditAction::ALL.iter().filter(|a| a.key() == action).map(|a| a.key()).collect()
                },
                between,
                before,
            };
            if !valid {
                return Ok((Vec::new(), None, unknown));
            }
            let (events, next) = AuditEvent::page(conn, &query, PER_PAGE)?;
            Ok((audit_rows(conn, events)?, next, unknown))
        },
    )
    .await?;
    unknown.into_iter().for_each(|e| errors.push(e));
    // The pages' addresses: the filters as given (those left empty left out), and where
    // the page starts.
    let page = |before: &str| {
        let params = [
            ("actor", filter.actor.as_str()),
            ("subject", filter.subject.as_str()),
            ("action", filter.action.as_str()),
            ("from", filter.from.as_str()),
            ("to", filter.to.as_str()),
            ("before", before),
        ];
        crate::routes::page_href("/admin/audit", &params)
    };
    let next = next.map(|b| page(&b.param()));
    let first = before.is_some().then(|| page(""));
    render(&AuditPage {
        ctx,
        actor: filter.actor,
        subject: filter.subject,
        action: filter.action,
        from: filter.from,
        to: filter.to,
        actions: action_choices(),
        rows,
        next,
        first,
        errors,
    })
}

/// The audit log's action filter, grouped by area in a fixed order, each action in words.
fn action_choices() -> Vec<(&'static str, Vec<(&'static str, &'static str)>)> {
    let mut groups: Vec<(&'static str, Vec<(&'static str, &'static str)>)> =
        ["Tokens", "People and sign-in", "Roles and settings", "Services and directory", "Notifications"]
            .into_iter()
            .map(|area| (area, Vec::new()))
            .collect();
    groups[0].1.push((AuditAction::REVOCATIONS.0, "Any revocation (one, all, leaked)"));
    for action in AuditAction::ALL {
        if let Some(group) = groups.iter_mut().find(|(area, _)| *area == action.area()) {
            group.1.push((action.key(), action.label()));
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_is_offered_once_in_its_group() {
        let offered: Vec<&str> =
            action_choices().iter().flat_map(|(_, c)| c.iter().map(|(key, _)| *key)).collect();
        assert_eq!(offered.len(), AuditAction::ALL.len() + 1, "each action, and the revocations");
        for action in AuditAction::ALL {
            assert!(offered.contains(&action.key()), "{}", action.key());
            assert!(!action.label().is_empty());
        }
    }
}
