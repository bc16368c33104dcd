//! Importing people from a CSV file (SPEC 12), from the admin pages and from
//! `tokenwarden user import`: a preview of who is created, who is changed (and how) and who
//! is left alone, with every bad line by its number; then all of it, or nothing.
//!
//! The file's lines are read by `domain::people_import`; here each good line meets the
//! database: a login nobody has is a new user, a known one a change of their name, email
//! and the roles an administrator gives them (roles from single sign-on or SCIM stay), and
//! a change the actor may not make — a user beyond their permissions, their own account
//! roles, the last Account Admin's — makes its line bad. Applying plans again inside the
//! write transaction, so it applies exactly what holds at that moment, through the same
//! operations as the pages (`users::create`, `users::update_profile`, `users::set_roles`,
//! which caps the tokens of whoever becomes student-only), with their audit events.
//!
//! On the web, the uploaded file waits server-side between the preview and the apply
//! ([`stage`]): applying reads that copy again and never anything a browser posts back.

use std::collections::HashMap;

use super::users::{self, facts};
use super::{Actor, Error};
use crate::db::{DbConnection, write_transaction};
use crate::domain::people_import::{self, BadLine, Person};
use crate::domain::token::ExpiryRule;
use crate::domain::{EnrollmentRole, Permission, ValidationError, now};
use crate::models::{
    AccessToken, AccountRole, AccountSettings, AuditAction, NewUserData, RoleSource, User, UserImport,
};

/// How long an uploaded file waits for its apply.
pub const STAGED_MINUTES: i64 = 60;
/// The form field a problem with the file as a whole is reported under.
pub const FILE_FIELD: &str = "file";

/// A change of one field: what it was, what it becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldChange {
    pub before: String,
    pub after: String,
}

/// A known user whom a line changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub person: Person,
    pub user_id: i64,
    pub name: Option<FieldChange>,
    pub email: Option<FieldChange>,
    /// The roles an administrator gives them, in words.
    pub roles: Option<FieldChange>,
    /// How many of their tokens the student maximum would shorten: they become
    /// student-only (SPEC 4.3), and these tokens expire later than it allows (or never).
    pub caps: usize,
}

/// What a file would do, line by line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub create: Vec<Person>,
    pub change: Vec<Change>,
    pub unchanged: Vec<Person>,
    /// Every bad line, in file order.
    pub bad: Vec<BadLine>,
    /// The names of the account roles, by id, to show a person's roles.
    pub role_names: HashMap<i64, String>,
    /// The student maximum in days, which the tokens of people who become student-only
    /// are shortened to.
    pub student_max_days: i32,
}

impl Plan {
    /// Whether it may be applied: no bad line.
    pub fn is_clean(&self) -> bool {
        self.bad.is_empty()
    }

    /// A person's roles in words: "Teacher, Account Admin", or "no roles".
    pub fn roles_of(&self, person: &Person) -> String {
        role_words(&person.enrollment, &person.account_roles, &self.role_names)
    }
}

fn role_words(enrollment: &[EnrollmentRole], account: &[i64], names: &HashMap<i64, String>) -> String {
    let words: Vec<String> = enrollment
        .iter()
        .map(|r| r.label().to_owned())
        .chain(account.iter().map(|id| names.get(id).cloned().unwrap_or_else(|| format!("role #{id}"))))
        .collect();
    if words.is_empty() { "no roles".to_owned() } else { words.join(", ") }
}

/// A file problem, reported next to the upload field.
fn file_problem(p: people_import::FileProblem) -> Error {
    Error::invalid(ValidationError::new(FILE_FIELD, p.0))
}

/// What `content` would do if `actor` applied it now. Reads only.
pub fn plan(conn: &mut DbConnection, actor: &Actor, content: &[u8]) -> Result<Plan, Error> {
    actor.require(Permission::ManageUsers)?;
    let all_roles = AccountRole::all(conn)?;
    let role_facts: Vec<_> = all_roles.iter().map(facts).collect();
    let roster = people_import::read(content, &role_facts, actor.permissions).map_err(file_problem)?;
    let mut plan = Plan {
        bad: roster.bad,
        role_names: all_roles.iter().map(|r| (r.id, r.name.clone())).collect(),
        ..Plan::default()
    };
    let mut known = Vec::new();
    for person in roster.people {
        match User::find_by_login(conn, &person.login)? {
            Some(user) => known.push((person, user)),
            None => plan.create.push(person),
        }
    }
    // The last-admin rule judges the file as a whole, as applying it does: its new users
    // are created first, then each change sees the ones before it (an Account Admin given
    // on line 2 may let line 3 take it from the last one).
    let settings = AccountSettings::load(conn)?;
    plan.student_max_days = settings.student_max_days;
    let cap_limit = ExpiryRule { owner_student_only: true, student_max_days: settings.student_max_days }
        .cap(None, now())
        .expect("a student-only rule always caps a missing expiry");
    let is_admin_role = |id: &i64| all_roles.iter().any(|r| r.id == *id && r.built_in);
    let mut active_admins = User::active_admin_count(conn)?
        + plan.create.iter().filter(|p| p.account_roles.iter().any(is_admin_role)).count() as i64;
    for (person, user) in known {
        let sources = User::role_sources(conn, user.id)?;
        let (mut enrollment, mut account) = sources.from(RoleSource::Admin);
        enrollment.sort();
        enrollment.dedup();
        account.sort_unstable();
        account.dedup();
        let differs = |before: &str, after: &str| {
            (before != after).then(|| FieldChange { before: before.to_owned(), after: after.to_owned() })
        };
        let change = Change {
            user_id: user.id,
            name: differs(&user.name, person.name.as_str()),
            email: differs(&user.email, person.email.as_str()),
            roles: (enrollment != person.enrollment || account != person.account_roles).then(|| {
                FieldChange {
                    before: role_words(&enrollment, &account, &plan.role_names),
                    after: role_words(&person.enrollment, &person.account_roles, &plan.role_names),
                }
            }),
            caps: 0,
            person,
        };
        if change.name.is_none() && change.email.is_none() && change.roles.is_none() {
            plan.unchanged.push(change.person);
            continue;
        }
        let before = User::roles(conn, user.id)?;
        let mut change = change;
        // As applying does: whoever the new roles leave student-only is capped.
        if change.roles.is_some() {
            // Their roles after: the file's, and those single sign-on or SCIM gave.
            let (mut enrollment_after, mut account_after) = sources.besides(RoleSource::Admin);
            enrollment_after.extend(change.person.enrollment.iter().copied());
            enrollment_after.sort();
            enrollment_after.dedup();
            account_after.extend(change.person.account_roles.iter().copied());
            account_after.sort_unstable();
            account_after.dedup();
            if crate::domain::role::is_student_only(&enrollment_after, account_after.len()) {
                change.caps = AccessToken::count_beyond(conn, &[user.id], cap_limit)?.0;
            }
        }
        let judged = match &change.roles {
            Some(_) => users::judge_admin_roles(
                conn,
                actor,
                &user,
                &before,
                &change.person.account_roles,
                Some(active_admins),
            ),
            None => crate::domain::authority::may_manage(actor.permissions, before.permissions())
                .map(|()| 0)
                .map_err(Error::from),
        };
        match judged {
            Ok(admins_moved) => {
                active_admins += admins_moved;
                plan.change.push(change)
            }
            Err(Error::Forbidden(why)) | Err(Error::Conflict(why)) => plan.bad.push(BadLine {
                line: change.person.line,
                login: change.person.login.as_str().to_owned(),
                reasons: vec![why],
            }),
            Err(Error::Invalid(errors)) => plan.bad.push(BadLine {
                line: change.person.line,
                login: change.person.login.as_str().to_owned(),
                reasons: errors.into_iter().map(|e| e.message).collect(),
            }),
            Err(other) => return Err(other),
        }
    }
    plan.bad.sort_by_key(|b| b.line);
    Ok(plan)
}

/// What an import did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    pub created: usize,
    pub changed: usize,
    pub unchanged: usize,
    /// Tokens capped because someone became student-only.
    pub capped: usize,
}

/// How an apply ended: all of it, or — with any bad line — nothing, and the plan that says why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Applied(Summary),
    Refused(Plan),
}

/// Why the apply's transaction stops (and rolls back).
enum Stop {
    Refused(Box<Plan>),
    Failed(Error),
}

impl From<diesel::result::Error> for Stop {
    fn from(e: diesel::result::Error) -> Self {
        Stop::Failed(e.into())
    }
}

impl From<Error> for Stop {
    fn from(e: Error) -> Self {
        Stop::Failed(e)
    }
}

/// Applies `content` as `actor`, all or nothing, in one transaction; `source` names the file
/// in the audit log.
pub fn apply(conn: &mut DbConnection, actor: &Actor, content: &[u8], source: &str) -> Result<Outcome, Error> {
    let done = write_transaction(conn, |conn| -> Result<Summary, Stop> {
        let plan = plan(conn, actor, content)?;
        if !plan.is_clean() {
            return Err(Stop::Refused(Box::new(plan)));
        }
        // An operation refused now, though the plan allowed it, is the line's fault too.
        let at_line = |plan: &Plan, p: &Person, e: Error| match e {
            Error::Forbidden(why) | Error::Conflict(why) => Stop::Refused(Box::new(Plan {
                bad: vec![BadLine { line: p.line, login: p.login.as_str().to_owned(), reasons: vec![why] }],
                ..plan.clone()
            })),
            Error::Invalid(errors) => Stop::Refused(Box::new(Plan {
                bad: vec![BadLine {
                    line: p.line,
                    login: p.login.as_str().to_owned(),
                    reasons: errors.into_iter().map(|e| e.message).collect(),
                }],
                ..plan.clone()
            })),
            other => Stop::Failed(other),
        };
        let mut summary = Summary { unchanged: plan.unchanged.len(), ..Summary::default() };
        for p in &plan.create {
            let data = NewUserData {
                login: p.login.clone(),
                name: p.name.clone(),
                email: p.email.clone(),
                // Nobody signs in with a password until one is set (a link from their
                // profile page), or they sign in with the identity provider.
                password_hash: String::new(),
                roles: p.enrollment.clone(),
                account_role_ids: p.account_roles.clone(),
            };
            users::create(conn, actor, &data).map_err(|e| at_line(&plan, p, e))?;
            summary.created += 1;
        }
        for c in &plan.change {
            let p = &c.person;
            if c.name.is_some() || c.email.is_some() {
                users::update_profile(conn, actor, c.user_id, &p.name, &p.email)
                    .map_err(|e| at_line(&plan, p, e))?;
            }
            if c.roles.is_some() {
                let changed = users::set_roles(conn, actor, c.user_id, &p.enrollment, &p.account_roles)
                    .map_err(|e| at_line(&plan, p, e))?;
                summary.capped += changed.capped;
            }
            summary.changed += 1;
        }
        actor
            .audit(AuditAction::UsersImported)
            .details(format!(
                "{source}: {} created, {} changed, {} unchanged",
                summary.created, summary.changed, summary.unchanged
            ))
            .record(conn)?;
        Ok(summary)
    });
    match done {
        Ok(summary) => Ok(Outcome::Applied(summary)),
        Err(Stop::Refused(plan)) => Ok(Outcome::Refused(*plan)),
        Err(Stop::Failed(e)) => Err(e),
    }
}

/// Keeps an uploaded file for its preview and apply; returns the name it waits under. A
/// file that cannot be read at all is refused here, under [`FILE_FIELD`].
pub fn stage(
    conn: &mut DbConnection,
    actor: &Actor,
    file_name: &str,
    content: &[u8],
) -> Result<String, Error> {
    actor.require(Permission::ManageUsers)?;
    let me = actor.require_user()?;
    let all_roles = AccountRole::all(conn)?;
    let role_facts: Vec<_> = all_roles.iter().map(facts).collect();
    people_import::read(content, &role_facts, actor.permissions).map_err(file_problem)?;
    // It read, so it is UTF-8.
    let text = String::from_utf8_lossy(content).into_owned();
    let id = crate::domain::token_secret::random_base62(22);
    let file_name = people_import::file_label(file_name);
    write_transaction(conn, |conn| {
        UserImport::purge_before(conn, now() - chrono::Duration::minutes(STAGED_MINUTES))?;
        UserImport::put(
            conn,
            &UserImport { id: id.clone(), user_id: me, file_name, content: text, created_at: now() },
        )?;
        Ok::<_, Error>(())
    })?;
    Ok(id)
}

/// The file `id` that the actor uploaded in the last hour, if it still waits: `None` once
/// applied, after its hour, or when it is anyone else's (all alike to the asker).
pub fn waiting(conn: &mut DbConnection, actor: &Actor, id: &str) -> Result<Option<UserImport>, Error> {
    actor.require(Permission::ManageUsers)?;
    let me = actor.require_user()?;
    let since = now() - chrono::Duration::minutes(STAGED_MINUTES);
    Ok(UserImport::find_for(conn, id, me, since)?)
}

/// The file `id` and what it would do now; `None` when it no longer waits.
pub fn preview_staged(
    conn: &mut DbConnection,
    actor: &Actor,
    id: &str,
) -> Result<Option<(UserImport, Plan)>, Error> {
    let Some(file) = waiting(conn, actor, id)? else { return Ok(None) };
    let plan = plan(conn, actor, file.content.as_bytes())?;
    Ok(Some((file, plan)))
}

/// Applies the file `id` (read again from where it waits), all or nothing; once applied,
/// it is gone. `None` when it no longer waits: nothing is applied.
pub fn apply_staged(
    conn: &mut DbConnection,
    actor: &Actor,
    id: &str,
) -> Result<Option<(UserImport, Outcome)>, Error> {
    write_transaction(conn, |conn| {
        let Some(file) = waiting(conn, actor, id)? else { return Ok(None) };
        let outcome = apply(conn, actor, file.content.as_bytes(), &format!("file “{}”", file.file_name))?;
        if matches!(outcome, Outcome::Applied(_)) {
            UserImport::delete(conn, &file.id)?;
        }
        Ok(Some((file, outcome)))
    })
}

/// Forgets uploads nobody applied.
pub fn purge(conn: &mut DbConnection) -> Result<usize, Error> {
    Ok(UserImport::purge_before(conn, now() - chrono::Duration::minutes(STAGED_MINUTES))?)
}
