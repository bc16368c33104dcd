//! Users: creating them, their roles, their state, their sessions — under the grant rule
//! (SPEC 2): nobody gives or takes away more than they hold, nobody changes their own
//! account roles, and the last active Account Admin stays.

use super::{Actor, Error};
use crate::db::{DbConnection, write_transaction};
use crate::domain::authority::{self, AccountRoleChange, RoleFacts};
use crate::domain::{DisplayName, Email, EnrollmentRole, Login, Permission, ValidationError};
use crate::models::{
    AccountRole, AuditAction, CreateUserError, NewUserData, RoleSource, User, UserRoles, UserSession,
    UserState,
};

/// The facts the grant rule needs about an account role.
pub fn facts(role: &AccountRole) -> RoleFacts<'_> {
    RoleFacts { id: role.id, name: &role.name, permissions: role.permission_set(), built_in: role.built_in }
}

/// The roles of a user in words, for the audit log and messages.
pub fn describe_roles(r: &UserRoles) -> String {
    let labels: Vec<String> = r
        .enrollment
        .iter()
        .map(|e| e.label().to_owned())
        .chain(r.account.iter().map(|a| a.name.clone()))
        .collect();
    if labels.is_empty() { "no roles".to_owned() } else { labels.join(", ") }
}

/// Whether `user` is the last active holder of `Account Admin`. Called inside the
/// transaction that would suspend or demote them: when they are an active admin, other such
/// transactions wait until this one ends, so two admins removing each other at once
/// cannot both go through.
fn is_last_admin(conn: &mut DbConnection, user: &User, roles: &UserRoles) -> Result<bool, Error> {
    if !is_active_admin(user, roles) {
        return Ok(false);
    }
    User::lock_admin_count(conn)?;
    Ok(User::active_admin_count(conn)? <= 1)
}

fn is_active_admin(user: &User, roles: &UserRoles) -> bool {
    user.is_active() && roles.account.iter().any(|r| r.built_in)
}

/// The roles named by id, each known; an unknown id is a field error.
fn known_roles(conn: &mut DbConnection, ids: &[i64]) -> Result<Vec<AccountRole>, Error> {
    let all = AccountRole::all(conn)?;
    ids.iter()
        .map(|id| {
            all.iter().find(|r| r.id == *id).cloned().ok_or_else(|| {
                Error::invalid(ValidationError::new(
                    "account_roles",
                    format!("There is no account role #{id}."),
                ))
            })
        })
        .collect()
}

/// Why a new user cannot have `login`: somebody has it.
pub fn login_taken(login: &str) -> ValidationError {
    ValidationError::new("login", format!("A user with the login “{login}” already exists."))
}

/// Whether `login` is somebody's already: for a form refused for other fields, to say so at
/// once with the rest (creating checks it again).
pub fn is_login_taken(conn: &mut DbConnection, actor: &Actor, login: &Login) -> Result<bool, Error> {
    actor.require(Permission::ManageUsers)?;
    Ok(User::find_by_login(conn, login)?.is_some())
}

/// Creates a user (the CLI, and later the web and provisioning). The actor needs
/// `users.manage` and may give only account roles within their own permissions.
pub fn create(conn: &mut DbConnection, actor: &Actor, data: &NewUserData) -> Result<User, Error> {
    actor.require(Permission::ManageUsers)?;
    write_transaction(conn, |conn| {
        for role in known_roles(conn, &data.account_role_ids)? {
            authority::may_grant(actor.permissions, &facts(&role))?;
        }
        let user = User::create(conn, data).map_err(|e| match e {
            CreateUserError::DuplicateLogin(login) => Error::invalid(login_taken(&login)),
            CreateUserError::Database(e) => e.into(),
        })?;
        let roles = User::roles(conn, user.id)?;
        actor
            .audit(AuditAction::UserCreated)
            .subject(user.id)
            .details(format!("login \"{}\"; roles: {}", user.login, describe_roles(&roles)))
            .record(conn)?;
        Ok(user)
    })
}

/// What a change of roles did.
#[derive(Debug, Clone)]
pub struct RolesChanged {
    pub name: String,
    /// Tokens capped to the student maximum because the user became student-only.
    pub capped: usize,
    pub student_only: bool,
    /// Whether anything changed: saving the roles a user has already records nothing.
    pub changed: bool,
}

/// Sets the roles an administrator gives a user to exactly these; roles from the
/// institution's systems (single sign-on, SCIM) stay as they are. When that makes the user
/// student-only, their long-lived tokens are capped in the same transaction (SPEC 4.3).
pub fn set_roles(
    conn: &mut DbConnection,
    actor: &Actor,
    user_id: i64,
    enrollment: &[EnrollmentRole],
    account_role_ids: &[i64],
) -> Result<RolesChanged, Error> {
    actor.require(Permission::ManageUsers)?;
    write_transaction(conn, |conn| {
        let user = User::find(conn, user_id)?;
        let before = User::roles(conn, user_id)?;
        judge_admin_roles(conn, actor, &user, &before, account_role_ids, None)?;
        let (had_enrollment, had_account) = User::role_sources(conn, user_id)?.from(RoleSource::Admin);
        if set_of(had_enrollment) == set_of(enrollment.to_vec())
            && set_of(had_account) == set_of(account_role_ids.to_vec())
        {
            return Ok(RolesChanged {
                name: user.name,
                capped: 0,
                student_only: before.is_student_only(),
                changed: false,
            });
        }
        User::replace_roles(conn, user_id, enrollment, account_role_ids, RoleSource::Admin)?;
        finish_roles_change(conn, actor, &user, &before, "")
    })
}

/// Whether `actor` may set the account roles an administrator gives `user` (who holds
/// `before`) to exactly `account_role_ids`, by the grant rule (SPEC 2): they may manage
/// the user, give and take only roles within their own permissions, never change their
/// own, and never demote the last active Account Admin. Nothing is written.
///
/// `active_admins` is how many active Account Admins there are when the change would be
/// made, for a change judged ahead of the changes before it (an import's preview); else
/// they are counted. Returns how the change moves that number: −1 when it takes Account
/// Admin from an active holder, +1 when it gives it to an active user without it, else 0.
pub(super) fn judge_admin_roles(
    conn: &mut DbConnection,
    actor: &Actor,
    user: &User,
    before: &UserRoles,
    account_role_ids: &[i64],
    active_admins: Option<i64>,
) -> Result<i64, Error> {
    authority::may_manage(actor.permissions, before.permissions())?;
    let sources = User::role_sources(conn, user.id)?;
    let (_, given_before) = sources.from(RoleSource::Admin);
    let wanted = known_roles(conn, account_role_ids)?;
    let all = AccountRole::all(conn)?;
    let added: Vec<&AccountRole> = wanted.iter().filter(|r| !given_before.contains(&r.id)).collect();
    let removed: Vec<&AccountRole> =
        all.iter().filter(|r| given_before.contains(&r.id) && !wanted.iter().any(|w| w.id == r.id)).collect();
    // Demoted only if no other source keeps Account Admin for them either.
    let admin_after = wanted.iter().any(|r| r.built_in)
        || sources
            .account
            .iter()
            .any(|(id, s)| *s != RoleSource::Admin && all.iter().any(|r| r.id == *id && r.built_in));
    let demotes = !admin_after && is_active_admin(user, before);
    let promotes = admin_after && user.is_active() && !is_active_admin(user, before);
    let target_is_last_admin = demotes
        && match active_admins {
            Some(n) => n <= 1,
            None => is_last_admin(conn, user, before)?,
        };
    authority::may_change_account_roles(&AccountRoleChange {
        // The operator is nobody's own administrator.
        actor_id: actor.user_id().unwrap_or(-1),
        actor: actor.permissions,
        target_id: user.id,
        added: added.iter().map(|r| facts(r)).collect(),
        removed: removed.iter().map(|r| facts(r)).collect(),
        target_is_last_admin,
    })?;
    Ok(i64::from(promotes) - i64::from(demotes))
}

/// Sets a user's display name and email (an administrator's edit, or an import). The
/// actor needs `users.manage` and must be able to manage the user. Unchanged fields record
/// nothing.
pub fn update_profile(
    conn: &mut DbConnection,
    actor: &Actor,
    user_id: i64,
    name: &DisplayName,
    email: &Email,
) -> Result<User, Error> {
    actor.require(Permission::ManageUsers)?;
    write_transaction(conn, |conn| {
        let user = User::find(conn, user_id)?;
        authority::may_manage(actor.permissions, User::roles(conn, user_id)?.permissions())?;
        let mut changes = Vec::new();
        if user.name != name.as_str() {
            changes.push(format!("name “{}” → “{}”", user.name, name.as_str()));
        }
        if user.email != email.as_str() {
            changes.push(format!("email {} → {}", user.email, email.as_str()));
        }
        if changes.is_empty() {
            return Ok(user);
        }
        User::update_profile(conn, user_id, name, email)?;
        actor.audit(AuditAction::UserUpdated).subject(user_id).details(changes.join("; ")).record(conn)?;
        Ok(User::find(conn, user_id)?)
    })
}

/// After a change of someone's roles: the audit event, and the retroactive cap when they
/// are student-only now.
pub(super) fn finish_roles_change(
    conn: &mut DbConnection,
    actor: &Actor,
    user: &User,
    before: &UserRoles,
    note: &str,
) -> Result<RolesChanged, Error> {
    let after = User::roles(conn, user.id)?;
    actor
        .audit(AuditAction::RolesChanged)
        .subject(user.id)
        .details(format!("{} → {}{note}", describe_roles(before), describe_roles(&after)))
        .record(conn)?;
    let capped = if after.is_student_only() {
        super::tokens::cap_student_tokens(conn, Some(actor), &[user.id], "the user became student-only")?
    } else {
        0
    };
    super::notifications::roles_changed(conn, actor, &user.card(), before, &after, capped)?;
    Ok(RolesChanged { name: user.name.clone(), capped, student_only: after.is_student_only(), changed: true })
}

/// Sets the roles the institution's systems give a user — single sign-on's claim at a
/// sign-in, SCIM's groups — through the role map: exactly these, from `source`; roles from
/// other sources stay. The directory is the authority on its own roles, with one exception:
/// it cannot take Account Admin from the last active holder (the account would have none).
/// `None` when nothing changed (and nothing was recorded).
pub fn sync_directory_roles(
    conn: &mut DbConnection,
    actor: &Actor,
    user_id: i64,
    source: RoleSource,
    enrollment: &[EnrollmentRole],
    account_role_ids: &[i64],
) -> Result<Option<RolesChanged>, Error> {
    write_transaction(conn, |conn| {
        let user = User::find(conn, user_id)?;
        let sources = User::role_sources(conn, user_id)?;
        let (had_enrollment, had_account) = sources.from(source);
        let (had_enrollment, had_account) = (set_of(had_enrollment), set_of(had_account));
        let (want_enrollment, want_account) =
            (set_of(enrollment.to_vec()), set_of(account_role_ids.to_vec()));
        if had_enrollment == want_enrollment && had_account == want_account {
            return Ok(None);
        }
        let before = User::roles(conn, user_id)?;
        let all = AccountRole::all(conn)?;
        let builtin = |ids: &[i64]| ids.iter().any(|id| all.iter().any(|r| r.id == *id && r.built_in));
        let elsewhere = sources.account.iter().any(|(id, s)| *s != source && builtin(&[*id]));
        if builtin(&had_account)
            && !builtin(&want_account)
            && !elsewhere
            && is_last_admin(conn, &user, &before)?
        {
            return Err(Error::Forbidden(authority::last_admin("demoted")));
        }
        User::replace_roles(conn, user_id, &want_enrollment, &want_account, source)?;
        let note = format!(" ({})", source.describe());
        finish_roles_change(conn, actor, &user, &before, &note).map(Some)
    })
}

/// Roles as a set: sorted, each once, so that two lists compare whatever their order.
pub(super) fn set_of<T: Ord>(mut roles: Vec<T>) -> Vec<T> {
    roles.sort_unstable();
    roles.dedup();
    roles
}

/// Suspends or reactivates a user. Suspension ends every session of theirs at once, and
/// their tokens stop authenticating; nobody suspends themself or the last active admin.
/// Returns the user as they were before: one already in `state` is left as they are, and
/// nothing is recorded.
pub fn set_state(
    conn: &mut DbConnection,
    actor: &Actor,
    user_id: i64,
    state: UserState,
) -> Result<User, Error> {
    actor.require(Permission::ManageUsers)?;
    if state == UserState::Suspended && actor.user_id() == Some(user_id) {
        return Err(Error::Forbidden("You cannot suspend yourself.".into()));
    }
    write_transaction(conn, |conn| {
        let user = User::find(conn, user_id)?;
        let roles = User::roles(conn, user_id)?;
        authority::may_manage(actor.permissions, roles.permissions())?;
        if state == UserState::Suspended && is_last_admin(conn, &user, &roles)? {
            return Err(Error::Forbidden(authority::last_admin("suspended")));
        }
        if user.state == state.key() {
            return Ok(user);
        }
        User::set_state(conn, user_id, state)?;
        let action = match state {
            UserState::Suspended => {
                let n = UserSession::end_all_for_user(conn, user_id)?;
                actor
                    .audit(AuditAction::UserSuspended)
                    .details(format!("{} ended", crate::domain::count(n, "session", "sessions")))
            }
            UserState::Active => actor.audit(AuditAction::UserReactivated),
        };
        action.subject(user_id).record(conn)?;
        Ok(user)
    })
}

/// Signs a user out everywhere; returns the user and how many sessions ended.
pub fn end_sessions(conn: &mut DbConnection, actor: &Actor, user_id: i64) -> Result<(User, usize), Error> {
    actor.require(Permission::ManageUsers)?;
    write_transaction(conn, |conn| {
        let user = User::find(conn, user_id)?;
        authority::may_manage(actor.permissions, User::roles(conn, user_id)?.permissions())?;
        let n = UserSession::end_all_for_user(conn, user_id)?;
        actor
            .audit(AuditAction::SessionsEnded)
            .subject(user_id)
            .details(format!("{} ended", crate::domain::count(n, "session", "sessions")))
            .record(conn)?;
        Ok((user, n))
    })
}
