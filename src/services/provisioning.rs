//! Provisioning (SCIM 2.0, SPEC 12): the institution's systems create, change, suspend
//! and delete users, and push groups whose members get roles through the role map — the
//! same map as single sign-on's (`--oidc-role-map`).
//!
//! **Authority.** A provisioning client acts as the directory ([`Actor::directory`]
//! through [`Via::Provisioning`]) with the permissions its role map can give: `users.manage`
//! and those of the account roles the map names ([`directory_permissions`]). So:
//! - it gives only roles the map names: a group the map does not name gives nothing, and
//!   Account Admin only when the map gives a group Account Admin;
//! - it changes, suspends or deletes only users whose permissions are all among its own
//!   (SPEC 2's `may_manage`): a break-glass Account Admin set by hand is out of its reach
//!   unless the map itself gives Account Admin;
//! - the last active Account Admin is never suspended, deleted or demoted;
//! - whoever issues a credential must hold every permission it carries (the grant rule:
//!   nobody grants more than they hold).
//!
//! Roles from SCIM are kept apart (`RoleSource::Scim`): an administrator's stay as they are.
//! A user whom a group change leaves student-only has their tokens capped at once (SPEC 4.3).
//! DELETE suspends the user and revokes their tokens; nothing is destroyed, but SCIM no
//! longer sees them (RFC 7644 §3.6: 404 from then on) until it creates them again.

use std::collections::{BTreeSet, HashMap};

use serde_json::Value;

use super::{Actor, Error, Via};
use crate::db::{DbConnection, write_transaction};
use crate::domain::authority::{self, may_manage};
use crate::domain::people::RoleMap;
use crate::domain::scim::filter::{CompValue, CompareOp, Filter};
use crate::domain::scim::patch::{self, Operation};
use crate::domain::scim::resource::{
    GROUP_RULES, GroupInput, GroupView, NameParts, USER_RULES, UserInput, UserView, parse_group, parse_user,
    render_group, render_user,
};
use crate::domain::scim::{Paging, ScimError};
use crate::domain::text::same_name;
use crate::domain::token::Purpose;
use crate::domain::token_secret::ProvisioningSecret;
use crate::domain::{Email, Login, Permission, PermissionSet, ValidationError, now};
use crate::models::{
    AccessToken, AccountRole, AuditAction, CreateUserError, NewUserData, ProvisioningCredential, RoleSource,
    ScimGroup, ScimUser, User, UserState,
};

/// Why a SCIM operation did not happen: a SCIM error (with its `scimType`), or one of the
/// service layer's. Nothing was written.
#[derive(Debug)]
pub enum Failure {
    Scim(ScimError),
    Service(Error),
}

impl From<ScimError> for Failure {
    fn from(e: ScimError) -> Self {
        Failure::Scim(e)
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Service(e)
    }
}

impl From<diesel::result::Error> for Failure {
    fn from(e: diesel::result::Error) -> Self {
        Failure::Service(e.into())
    }
}

impl From<crate::db::RunError> for Failure {
    fn from(e: crate::db::RunError) -> Self {
        Failure::Service(e.into())
    }
}

type Outcome<T> = Result<T, Failure>;

// ---------------------------------------------------------------------------------------
// Credentials

/// A credential and its secret, as created: the only time the secret is known.
#[derive(Debug)]
pub struct IssuedCredential {
    pub credential: ProvisioningCredential,
    pub secret: ProvisioningSecret,
}

/// What the directory may do with the role map `map`: manage users, and the permissions
/// of the account roles the map gives (those that exist).
pub fn directory_permissions(conn: &mut DbConnection, map: &RoleMap) -> Result<PermissionSet, Error> {
    let roles = AccountRole::all(conn)?;
    Ok(map
        .account_roles()
        .filter_map(|name| roles.iter().find(|r| same_name(&r.name, name)))
        .fold([Permission::ManageUsers].into_iter().collect(), |acc: PermissionSet, r| {
            acc.union(r.permission_set())
        }))
}

/// Creates a credential. The actor needs `users.manage` and every permission the
/// credential will carry: they may not hand a provisioning client more than they hold.
pub fn create_credential(
    conn: &mut DbConnection,
    actor: &Actor,
    map: &RoleMap,
    purpose: &str,
) -> Result<IssuedCredential, Error> {
    actor.require(Permission::ManageUsers)?;
    if purpose.trim().is_empty() {
        // A credential, not a token: the purpose names the client that will hold it.
        return Err(Error::invalid(ValidationError::new(
            Purpose::FIELD,
            "Enter a purpose: which client will use this credential (e.g. Microsoft Entra ID)?",
        )));
    }
    let purpose = Purpose::parse(purpose)?;
    write_transaction(conn, |conn| {
        let roles = AccountRole::all(conn)?;
        for name in map.account_roles() {
            if let Some(role) = roles.iter().find(|r| same_name(&r.name, name)) {
                authority::may_grant(actor.permissions, &super::users::facts(role)).map_err(|_| {
                    Error::Forbidden(format!(
                        "The role map gives the role “{}”, which grants permissions you do not hold \
                         yourself: a provisioning credential could give it, so only someone who holds \
                         them may create one.",
                        role.name
                    ))
                })?;
            }
        }
        let secret = ProvisioningSecret::generate();
        let credential = ProvisioningCredential::insert(
            conn,
            purpose.as_str(),
            secret.digest().as_str(),
            &secret.hint(),
            now(),
        )?;
        actor
            .audit(AuditAction::ProvisioningCredentialCreated)
            .details(format!("credential #{} “{}” ({})", credential.id, credential.purpose, credential.hint))
            .record(conn)?;
        Ok(IssuedCredential { credential, secret })
    })
}

/// Every credential (never a secret), newest first.
pub fn list_credentials(
    conn: &mut DbConnection,
    actor: &Actor,
) -> Result<Vec<ProvisioningCredential>, Error> {
    actor.require(Permission::ManageUsers)?;
    Ok(ProvisioningCredential::all(conn)?)
}

/// Revokes a credential: its next request is refused.
pub fn revoke_credential(
    conn: &mut DbConnection,
    actor: &Actor,
    id: i64,
) -> Result<ProvisioningCredential, Error> {
    actor.require(Permission::ManageUsers)?;
    write_transaction(conn, |conn| {
        let credential = ProvisioningCredential::find(conn, id)?;
        ProvisioningCredential::delete(conn, id)?;
        actor
            .audit(AuditAction::ProvisioningCredentialRevoked)
            .details(format!("credential #{} “{}” ({})", credential.id, credential.purpose, credential.hint))
            .record(conn)?;
        Ok(credential)
    })
}

/// A group SCIM pushed, for the admin page: the group and how many members it has.
pub fn groups_overview(conn: &mut DbConnection, actor: &Actor) -> Result<Vec<(ScimGroup, usize)>, Error> {
    actor.require(Permission::ManageUsers)?;
    let groups = ScimGroup::all(conn)?;
    let ids: Vec<String> = groups.iter().map(|g| g.id.clone()).collect();
    let mut counts: HashMap<String, usize> = HashMap::new();
    for (group, _, _) in ScimGroup::members_of(conn, &ids)? {
        *counts.entry(group).or_default() += 1;
    }
    Ok(groups
        .into_iter()
        .map(|g| {
            let n = counts.get(&g.id).copied().unwrap_or(0);
            (g, n)
        })
        .collect())
}

/// The directory acting through the credential `presented`, if it is one: one indexed
/// look-up of its digest; its use recorded at most once per `interval_secs`.
pub fn authenticate(
    conn: &mut DbConnection,
    presented: &str,
    map: &RoleMap,
    ip: Option<String>,
    interval_secs: u64,
) -> Result<Option<Actor>, Error> {
    let Some(digest) = ProvisioningSecret::presented(presented) else { return Ok(None) };
    let Some(credential) = ProvisioningCredential::find_by_digest(conn, digest.as_str())? else {
        return Ok(None);
    };
    let at = now();
    let stale_before = i64::try_from(interval_secs)
        .ok()
        .and_then(chrono::Duration::try_seconds)
        .and_then(|d| at.checked_sub_signed(d))
        .unwrap_or(chrono::NaiveDateTime::MIN);
    if credential.last_used_at.is_none_or(|t| t < stale_before)
        && let Err(e) = ProvisioningCredential::touch(conn, credential.id, at, stale_before)
    {
        tracing::warn!(credential_id = credential.id, error = %e, "could not record a provisioning credential's use");
    }
    let mut actor = Actor::directory(Via::Provisioning(credential.id), ip);
    actor.permissions = directory_permissions(conn, map)?;
    Ok(Some(actor))
}

/// The credential the actor acts through; only a provisioning client provisions.
fn credential_of(actor: &Actor) -> Result<i64, Error> {
    match actor.via {
        Via::Provisioning(id) => Ok(id),
        _ => Err(Error::Forbidden("Only a provisioning client (SCIM) does this.".into())),
    }
}

/// " through SCIM (credential #3)", for the audit log.
fn by(actor: &Actor) -> String {
    match actor.via {
        Via::Provisioning(id) => format!(" through SCIM (provisioning credential #{id})"),
        _ => String::new(),
    }
}

// ---------------------------------------------------------------------------------------
// Users

/// The views of these users, in their order (a few queries for all of them).
fn user_views(conn: &mut DbConnection, users: Vec<User>) -> Result<Vec<UserView>, Error> {
    let mut scim: HashMap<i64, ScimUser> = HashMap::new();
    let mut groups: HashMap<i64, Vec<(String, String)>> = HashMap::new();
    let mut roles: HashMap<i64, Vec<(String, String, String)>> = HashMap::new();
    let ids: Vec<i64> = users.iter().map(|u| u.id).collect();
    for chunk in ids.chunks(500) {
        for row in ScimUser::of_users(conn, chunk)? {
            scim.insert(row.user_id, row);
        }
        for (user, group) in ScimGroup::of_users(conn, chunk)? {
            groups.entry(user).or_default().push((group.id, group.display_name));
        }
        for (user, value, label, source) in User::sourced_roles(conn, chunk)? {
            roles.entry(user).or_default().push((value, label, source));
        }
    }
    Ok(users
        .into_iter()
        .map(|u| {
            let row = scim.remove(&u.id).unwrap_or_default();
            UserView {
                id: u.id,
                external_id: u.scim_external_id,
                display_name: u.name,
                name: NameParts { formatted: row.formatted, given: row.given_name, family: row.family_name },
                email: u.email,
                active: u.state == UserState::Active.key(),
                created: u.created_at,
                last_modified: u.updated_at,
                groups: groups.remove(&u.id).unwrap_or_default(),
                roles: roles.remove(&u.id).unwrap_or_default(),
                login: u.login,
            }
        })
        .collect())
}

fn user_view(conn: &mut DbConnection, id: i64) -> Result<UserView, Error> {
    let user = User::find(conn, id)?;
    user_views(conn, vec![user])?.pop().ok_or(Error::NotFound)
}

/// A user SCIM may see: one that exists and that SCIM did not delete.
fn live_user(conn: &mut DbConnection, id: &str) -> Outcome<User> {
    let missing = || Failure::Scim(ScimError::not_found(format!("There is no user “{}”.", clip(id))));
    let Ok(id) = id.parse::<i64>() else { return Err(missing()) };
    match User::find(conn, id) {
        Ok(user) if !ScimUser::is_deleted(conn, user.id)? => Ok(user),
        Ok(_) | Err(diesel::result::Error::NotFound) => Err(missing()),
        Err(e) => Err(e.into()),
    }
}

/// At most 60 characters of what a client sent, for a message.
fn clip(s: &str) -> String {
    s.chars().take(60).collect()
}

/// Whether the directory may change this user: only one whose permissions are all among
/// its own.
fn may_change(conn: &mut DbConnection, actor: &Actor, user: &User) -> Outcome<()> {
    let held = User::roles(conn, user.id)?.permissions();
    may_manage(actor.permissions, held).map_err(|_| {
        Failure::Scim(ScimError::forbidden(format!(
            "“{}” holds permissions beyond those the role map gives a provisioning client; \
             an administrator manages them in tokenwarden.",
            user.login
        )))
    })
}

/// The address to keep: the one SCIM gives, else the login if it is an address, else none.
fn address(input: &UserInput) -> String {
    input
        .email
        .as_ref()
        .map(|e| e.as_str().to_owned())
        .or_else(|| Email::parse(input.login.as_str()).ok().map(|e| e.as_str().to_owned()))
        .unwrap_or_default()
}

fn login_taken(login: &Login) -> Failure {
    Failure::Scim(ScimError::uniqueness(format!(
        "A user with the userName “{login}” already exists (GET /Users?filter=userName eq \"{login}\" finds them)."
    )))
}

/// `POST /Users`
pub fn create_user(conn: &mut DbConnection, actor: &Actor, input: &UserInput) -> Outcome<UserView> {
    credential_of(actor)?;
    actor.require(Permission::ManageUsers)?;
    write_transaction(conn, |conn| {
        let id = match User::find_by_login(conn, &input.login)? {
            // SCIM deleted them before: they come back, the same person.
            Some(existing) if ScimUser::is_deleted(conn, existing.id)? => {
                may_change(conn, actor, &existing)?;
                actor
                    .audit(AuditAction::UserCreated)
                    .subject(existing.id)
                    .details(format!("login \"{}\" provisioned again{}", existing.login, by(actor)))
                    .record(conn)?;
                if !existing.is_active() && input.active != Some(false) {
                    super::users::set_state(conn, actor, existing.id, UserState::Active)?;
                }
                existing.id
            }
            Some(_) => return Err(login_taken(&input.login)),
            None => {
                // `User::create` takes a parsed address; a provisioned user may have none, and
                // the row gets its own (or none) below, in this transaction.
                let placeholder = Email::parse("nobody@example.invalid").map_err(Error::from)?;
                let data = NewUserData {
                    login: input.login.clone(),
                    name: input.display_name.clone(),
                    email: input.email.clone().unwrap_or(placeholder),
                    password_hash: String::new(),
                    roles: Vec::new(),
                    account_role_ids: Vec::new(),
                };
                let user = User::create(conn, &data).map_err(|e| match e {
                    CreateUserError::DuplicateLogin(_) => login_taken(&input.login),
                    CreateUserError::Database(e) => e.into(),
                })?;
                actor
                    .audit(AuditAction::UserCreated)
                    .subject(user.id)
                    .details(format!("login \"{}\" provisioned{}", user.login, by(actor)))
                    .record(conn)?;
                user.id
            }
        };
        write_user(conn, id, input, None)?;
        ScimUser::put(
            conn,
            &ScimUser {
                user_id: id,
                formatted: input.name.formatted.clone(),
                given_name: input.name.given.clone(),
                family_name: input.name.family.clone(),
                deleted_at: None,
            },
        )?;
        if input.active == Some(false) && User::find(conn, id)?.is_active() {
            super::users::set_state(conn, actor, id, UserState::Suspended)?;
        }
        Ok(user_view(conn, id)?)
    })
}

/// Writes login, name, email and externalId; `display_name` overrides the input's.
fn write_user(
    conn: &mut DbConnection,
    id: i64,
    input: &UserInput,
    display_name: Option<&str>,
) -> Result<(), Error> {
    User::set_provisioned(
        conn,
        id,
        input.login.as_str(),
        display_name.unwrap_or(input.display_name.as_str()),
        &address(input),
        input.external_id.as_deref(),
    )?;
    Ok(())
}

/// `GET /Users/{id}`
pub fn get_user(conn: &mut DbConnection, actor: &Actor, id: &str) -> Outcome<UserView> {
    credential_of(actor)?;
    let user = live_user(conn, id)?;
    Ok(user_view(conn, user.id)?)
}

/// What an equality filter lets the database narrow a search to.
enum Narrow {
    Login(String),
    ExternalId(String),
    Id(String),
    Email(String),
}

/// A filter's equality on an indexed attribute (alone or beside others with `and`): the
/// database finds the candidates, and the whole filter then decides among them.
fn narrow(filter: &Filter) -> Option<Narrow> {
    match filter {
        Filter::Compare(path, CompareOp::Eq, CompValue::Str(v)) if path.uri.is_none() => {
            let name = path.name.to_ascii_lowercase();
            match (name.as_str(), path.sub.as_deref().map(str::to_ascii_lowercase).as_deref()) {
                ("username", None) => Some(Narrow::Login(v.clone())),
                ("externalid", None) => Some(Narrow::ExternalId(v.clone())),
                ("id", None) => Some(Narrow::Id(v.clone())),
                ("emails", None | Some("value")) => Some(Narrow::Email(v.clone())),
                _ => None,
            }
        }
        Filter::And(a, b) => narrow(a).or_else(|| narrow(b)),
        _ => None,
    }
}

/// `GET /Users`: the users that match `filter` (all when none), a page of them, and how
/// many match in all.
pub fn list_users(
    conn: &mut DbConnection,
    actor: &Actor,
    filter: Option<&Filter>,
    paging: Paging,
) -> Outcome<(Vec<UserView>, usize)> {
    credential_of(actor)?;
    let deleted = ScimUser::deleted_ids(conn)?;
    let offset = i64::try_from(paging.offset()).unwrap_or(i64::MAX);
    let Some(filter) = filter else {
        let (page, total) = User::page_excluding(conn, &deleted, offset, paging.count as i64)?;
        return Ok((user_views(conn, page)?, usize::try_from(total).unwrap_or(0)));
    };
    let candidates = match narrow(filter) {
        Some(Narrow::Login(v)) => Login::parse(&v)
            .ok()
            .map(|l| User::find_by_login(conn, &l))
            .transpose()?
            .into_iter()
            .flatten()
            .collect(),
        Some(Narrow::ExternalId(v)) => User::find_by_scim_external_id(conn, &v)?,
        Some(Narrow::Id(v)) => match v.parse::<i64>() {
            Ok(id) => User::find(conn, id).map(|u| vec![u]).or_else(|e| match e {
                diesel::result::Error::NotFound => Ok(Vec::new()),
                e => Err(e),
            })?,
            Err(_) => Vec::new(),
        },
        Some(Narrow::Email(v)) => User::find_by_email(conn, &v)?,
        None => User::by_id_from(conn, 0, None)?,
    };
    let deleted: BTreeSet<i64> = deleted.into_iter().collect();
    let candidates: Vec<User> = candidates.into_iter().filter(|u| !deleted.contains(&u.id)).collect();
    let matching: Vec<UserView> = user_views(conn, candidates)?
        .into_iter()
        .filter(|v| filter.matches(&render_user(v, ""), &USER_RULES.attributes))
        .collect();
    let total = matching.len();
    Ok((matching.into_iter().skip(paging.offset()).take(paging.count).collect(), total))
}

/// `PUT /Users/{id}`: every attribute as given (those left out are cleared; `active` left
/// out stays as it is).
pub fn replace_user(
    conn: &mut DbConnection,
    actor: &Actor,
    id: &str,
    input: &UserInput,
) -> Outcome<UserView> {
    credential_of(actor)?;
    write_transaction(conn, |conn| {
        let user = live_user(conn, id)?;
        let before = user_view(conn, user.id)?;
        update_user(conn, actor, &user, &before, input, None)?;
        Ok(user_view(conn, user.id)?)
    })
}

/// `PATCH /Users/{id}`: the operations applied to the user as SCIM writes them, then
/// read again as a PUT is.
pub fn patch_user(conn: &mut DbConnection, actor: &Actor, id: &str, ops: &[Operation]) -> Outcome<UserView> {
    credential_of(actor)?;
    write_transaction(conn, |conn| {
        let user = live_user(conn, id)?;
        let before = user_view(conn, user.id)?;
        let current = render_user(&before, "");
        let mut patched = current.clone();
        patch::apply(&mut patched, ops, &USER_RULES)?;
        if patched == current {
            return Ok(before);
        }
        let input = parse_user(&patched)?;
        // A display name that was made from the name's parts follows them, unless the
        // client sets it too.
        let derived = before.name.full().filter(|full| *full == before.display_name);
        let follow = match (&derived, input.name.full()) {
            (Some(old), Some(new)) if input.display_name.as_str() == before.display_name && *old != new => {
                Some(new)
            }
            _ => None,
        };
        update_user(conn, actor, &user, &before, &input, follow.as_deref())?;
        Ok(user_view(conn, user.id)?)
    })
}

/// Writes what a PUT or a PATCH changed, audited; suspends or reactivates as `active` says.
fn update_user(
    conn: &mut DbConnection,
    actor: &Actor,
    user: &User,
    before: &UserView,
    input: &UserInput,
    display_name: Option<&str>,
) -> Outcome<()> {
    may_change(conn, actor, user)?;
    if input.login.as_str() != user.login
        && User::find_by_login(conn, &input.login)?.is_some_and(|other| other.id != user.id)
    {
        return Err(login_taken(&input.login));
    }
    let name = display_name.unwrap_or(input.display_name.as_str());
    let email = address(input);
    let mut changed = Vec::new();
    if input.login.as_str() != user.login {
        changed.push(format!("login \"{}\" → \"{}\"", user.login, input.login));
    }
    if name != user.name {
        changed.push(format!("name \"{}\" → \"{name}\"", user.name));
    }
    if email != user.email {
        changed.push(format!("email \"{}\" → \"{email}\"", user.email));
    }
    if input.external_id != user.scim_external_id {
        changed.push("externalId".to_owned());
    }
    if input.name != before.name {
        changed.push("name parts".to_owned());
    }
    if !changed.is_empty() {
        User::set_provisioned(
            conn,
            user.id,
            input.login.as_str(),
            name,
            &email,
            input.external_id.as_deref(),
        )?;
        ScimUser::put(
            conn,
            &ScimUser {
                user_id: user.id,
                formatted: input.name.formatted.clone(),
                given_name: input.name.given.clone(),
                family_name: input.name.family.clone(),
                deleted_at: None,
            },
        )?;
        actor
            .audit(AuditAction::UserUpdated)
            .subject(user.id)
            .details(format!("{}{}", changed.join("; "), by(actor)))
            .record(conn)?;
    }
    match input.active {
        Some(false) if user.is_active() => {
            super::users::set_state(conn, actor, user.id, UserState::Suspended)?;
        }
        Some(true) if !user.is_active() => {
            super::users::set_state(conn, actor, user.id, UserState::Active)?;
        }
        _ => {}
    }
    Ok(())
}

/// `DELETE /Users/{id}`: suspends the user (their sessions end), revokes their tokens and
/// takes them out of SCIM's groups (their roles from SCIM go). Nothing is destroyed; SCIM
/// sees them no more.
pub fn delete_user(conn: &mut DbConnection, actor: &Actor, map: &RoleMap, id: &str) -> Outcome<()> {
    credential_of(actor)?;
    write_transaction(conn, |conn| {
        let user = live_user(conn, id)?;
        may_change(conn, actor, &user)?;
        if user.is_active() {
            super::users::set_state(conn, actor, user.id, UserState::Suspended)?;
        }
        let revoked = AccessToken::delete_all_for_user(conn, user.id)?;
        actor
            .audit(AuditAction::TokensRevokedAll)
            .subject(user.id)
            .details(format!(
                "{} revoked: the user was deprovisioned{}",
                crate::domain::count(revoked, "token", "tokens"),
                by(actor)
            ))
            .record(conn)?;
        let left = ScimGroup::leave_all(conn, user.id)?;
        for group in &left {
            ScimGroup::touch(conn, group, now())?;
        }
        sync_roles(conn, actor, map, user.id)?;
        let mut row = ScimUser::of_users(conn, &[user.id])?.pop().unwrap_or_default();
        row.user_id = user.id;
        row.deleted_at = Some(now());
        ScimUser::put(conn, &row)?;
        actor
            .audit(AuditAction::UserDeprovisioned)
            .subject(user.id)
            .details(format!(
                "suspended, {} revoked, out of {}{}",
                crate::domain::count(revoked, "token", "tokens"),
                crate::domain::count(left.len(), "group", "groups"),
                by(actor)
            ))
            .record(conn)?;
        Ok(())
    })
}

/// Sets the roles SCIM gives a user to those the role map gives their groups. Only roles
/// the map names, only within the directory's permissions (the grant rule), and only for a
/// user the directory may change: a group's new member or a renamed group is refused (403)
/// for someone who holds more than the directory may give, as a change of their own record
/// would be — when it would change their roles; a membership that gives nothing new is fine.
fn sync_roles(conn: &mut DbConnection, actor: &Actor, map: &RoleMap, user_id: i64) -> Outcome<()> {
    let names: Vec<String> =
        ScimGroup::of_users(conn, &[user_id])?.into_iter().map(|(_, g)| g.display_name).collect();
    let (enrollment, account_names) = map.roles_for(&names);
    let all = AccountRole::all(conn)?;
    let mut ids = Vec::new();
    for name in account_names {
        // A role the map names that does not exist gives nothing (logged at start).
        if let Some(role) = all.iter().find(|r| same_name(&r.name, &name)) {
            authority::may_grant(actor.permissions, &super::users::facts(role)).map_err(Error::from)?;
            ids.push(role.id);
        }
    }
    // Their roles as they would be: the other sources' and these. Only a change of what
    // they hold asks whether the directory may change them (a role they hold already from
    // an administrator, now from SCIM too, changes nothing).
    use super::users::set_of;
    let sources = User::role_sources(conn, user_id)?;
    let held = |e: &[(crate::domain::EnrollmentRole, RoleSource)], a: &[(i64, RoleSource)]| {
        (set_of(e.iter().map(|(r, _)| *r).collect()), set_of(a.iter().map(|(r, _)| *r).collect()))
    };
    let now = held(&sources.enrollment, &sources.account);
    let others_enrollment =
        sources.enrollment.iter().filter(|(_, s)| *s != RoleSource::Scim).map(|(r, _)| *r);
    let others_account = sources.account.iter().filter(|(_, s)| *s != RoleSource::Scim).map(|(r, _)| *r);
    let then = (
        set_of(others_enrollment.chain(enrollment.iter().copied()).collect()),
        set_of(others_account.chain(ids.iter().copied()).collect()),
    );
    if now != then {
        let user = User::find(conn, user_id)?;
        may_change(conn, actor, &user)?;
    }
    super::users::sync_directory_roles(conn, actor, user_id, RoleSource::Scim, &enrollment, &ids)?;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Groups

/// A new group id: a random UUID (version 4), as identity providers expect ids to look.
fn new_group_id() -> Result<String, Error> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|e| Error::Unexpected(anyhow::anyhow!("no randomness: {e}")))?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    Ok(format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..]))
}

fn group_views(conn: &mut DbConnection, groups: Vec<ScimGroup>) -> Result<Vec<GroupView>, Error> {
    let ids: Vec<String> = groups.iter().map(|g| g.id.clone()).collect();
    let mut members: HashMap<String, Vec<(i64, String)>> = HashMap::new();
    for (group, user, name) in ScimGroup::members_of(conn, &ids)? {
        members.entry(group).or_default().push((user, name));
    }
    Ok(groups
        .into_iter()
        .map(|g| GroupView {
            members: members.remove(&g.id).unwrap_or_default(),
            id: g.id,
            display_name: g.display_name,
            external_id: g.external_id,
            created: g.created_at,
            last_modified: g.updated_at,
        })
        .collect())
}

fn group_view(conn: &mut DbConnection, id: &str) -> Result<GroupView, Error> {
    let group = ScimGroup::find(conn, id)?;
    group_views(conn, vec![group])?.pop().ok_or(Error::NotFound)
}

fn find_group(conn: &mut DbConnection, id: &str) -> Outcome<ScimGroup> {
    match ScimGroup::find(conn, id) {
        Ok(g) => Ok(g),
        Err(diesel::result::Error::NotFound) => {
            Err(Failure::Scim(ScimError::not_found(format!("There is no group “{}”.", clip(id)))))
        }
        Err(e) => Err(e.into()),
    }
}

/// The roles a group gives, in words, for the audit log.
fn gives(map: &RoleMap, name: &str) -> String {
    let roles: Vec<String> = map.roles_of(name).iter().map(|r| r.to_string()).collect();
    if roles.is_empty() { "no role (the role map does not name it)".to_owned() } else { roles.join(", ") }
}

/// Checks that a group's name is free (but for the group `except`).
fn name_free(conn: &mut DbConnection, name: &str, except: Option<&str>) -> Outcome<()> {
    match ScimGroup::find_by_name(conn, name)? {
        Some(other) if Some(other.id.as_str()) != except => Err(Failure::Scim(ScimError::uniqueness(
            format!("A group named “{}” already exists (id {}).", other.display_name, other.id),
        ))),
        _ => Ok(()),
    }
}

/// Checks that every member is a user SCIM may see.
fn check_members(conn: &mut DbConnection, members: &[i64]) -> Outcome<()> {
    for id in members {
        if live_user(conn, &id.to_string()).is_err() {
            return Err(Failure::Scim(ScimError::invalid_value(format!("members: there is no user {id}."))));
        }
    }
    Ok(())
}

/// `POST /Groups`
pub fn create_group(
    conn: &mut DbConnection,
    actor: &Actor,
    map: &RoleMap,
    input: &GroupInput,
) -> Outcome<GroupView> {
    credential_of(actor)?;
    actor.require(Permission::ManageUsers)?;
    write_transaction(conn, |conn| {
        name_free(conn, &input.display_name, None)?;
        check_members(conn, &input.members)?;
        let id = new_group_id()?;
        ScimGroup::insert(conn, &id, &input.display_name, input.external_id.as_deref(), now())?;
        for member in &input.members {
            ScimGroup::add_member(conn, &id, *member)?;
        }
        actor
            .audit(AuditAction::GroupCreated)
            .details(format!(
                "group “{}” with {}; gives {}{}",
                input.display_name,
                crate::domain::count(input.members.len(), "member", "members"),
                gives(map, &input.display_name),
                by(actor)
            ))
            .record(conn)?;
        for member in &input.members {
            sync_roles(conn, actor, map, *member)?;
        }
        Ok(group_view(conn, &id)?)
    })
}

/// `GET /Groups/{id}`
pub fn get_group(conn: &mut DbConnection, actor: &Actor, id: &str) -> Outcome<GroupView> {
    credential_of(actor)?;
    let group = find_group(conn, id)?;
    Ok(group_views(conn, vec![group])?.pop().ok_or(Error::NotFound)?)
}

/// `GET /Groups`
pub fn list_groups(
    conn: &mut DbConnection,
    actor: &Actor,
    filter: Option<&Filter>,
    paging: Paging,
) -> Outcome<(Vec<GroupView>, usize)> {
    credential_of(actor)?;
    let groups = ScimGroup::all(conn)?;
    let all = group_views(conn, groups)?;
    let matching: Vec<GroupView> = match filter {
        Some(f) => {
            all.into_iter().filter(|g| f.matches(&render_group(g, ""), &GROUP_RULES.attributes)).collect()
        }
        None => all,
    };
    let total = matching.len();
    Ok((matching.into_iter().skip(paging.offset()).take(paging.count).collect(), total))
}

/// `PUT /Groups/{id}`
pub fn replace_group(
    conn: &mut DbConnection,
    actor: &Actor,
    map: &RoleMap,
    id: &str,
    input: &GroupInput,
) -> Outcome<GroupView> {
    credential_of(actor)?;
    write_transaction(conn, |conn| {
        let group = find_group(conn, id)?;
        update_group(conn, actor, map, &group, input)?;
        Ok(group_view(conn, &group.id)?)
    })
}

/// `PATCH /Groups/{id}`: members added and removed, the name changed.
pub fn patch_group(
    conn: &mut DbConnection,
    actor: &Actor,
    map: &RoleMap,
    id: &str,
    ops: &[Operation],
) -> Outcome<GroupView> {
    credential_of(actor)?;
    write_transaction(conn, |conn| {
        let group = find_group(conn, id)?;
        let current = render_group(&group_view(conn, &group.id)?, "");
        let mut patched = current.clone();
        patch::apply(&mut patched, ops, &GROUP_RULES)?;
        if patched != current {
            let input = parse_group(&patched)?;
            update_group(conn, actor, map, &group, &input)?;
        }
        Ok(group_view(conn, &group.id)?)
    })
}

/// Writes a group's new name and members; the roles of everyone whose roles that changes
/// follow (all members, when the name — which the role map reads — changed).
fn update_group(
    conn: &mut DbConnection,
    actor: &Actor,
    map: &RoleMap,
    group: &ScimGroup,
    input: &GroupInput,
) -> Outcome<()> {
    actor.require(Permission::ManageUsers)?;
    let renamed = input.display_name != group.display_name;
    if renamed {
        name_free(conn, &input.display_name, Some(&group.id))?;
    }
    let before: BTreeSet<i64> = ScimGroup::member_ids(conn, &group.id)?.into_iter().collect();
    let after: BTreeSet<i64> = input.members.iter().copied().collect();
    let added: Vec<i64> = after.difference(&before).copied().collect();
    let removed: Vec<i64> = before.difference(&after).copied().collect();
    check_members(conn, &added)?;
    if !renamed && added.is_empty() && removed.is_empty() && input.external_id == group.external_id {
        return Ok(());
    }
    ScimGroup::update(conn, &group.id, &input.display_name, input.external_id.as_deref(), now())?;
    for id in &added {
        ScimGroup::add_member(conn, &group.id, *id)?;
    }
    for id in &removed {
        ScimGroup::remove_member(conn, &group.id, *id)?;
    }
    let mut what = Vec::new();
    if renamed {
        what.push(format!(
            "renamed “{}” → “{}” (gives {})",
            group.display_name,
            input.display_name,
            gives(map, &input.display_name)
        ));
    }
    if !added.is_empty() {
        what.push(format!("{} added", crate::domain::count(added.len(), "member", "members")));
    }
    if !removed.is_empty() {
        what.push(format!("{} removed", crate::domain::count(removed.len(), "member", "members")));
    }
    if what.is_empty() {
        what.push("externalId".to_owned());
    }
    actor
        .audit(AuditAction::GroupUpdated)
        .details(format!("group “{}”: {}{}", input.display_name, what.join("; "), by(actor)))
        .record(conn)?;
    let affected: BTreeSet<i64> = if renamed {
        before.union(&after).copied().collect()
    } else {
        added.into_iter().chain(removed).collect()
    };
    for user in affected {
        sync_roles(conn, actor, map, user)?;
    }
    Ok(())
}

/// `DELETE /Groups/{id}`: the group goes, and the roles it gave its members with it.
pub fn delete_group(conn: &mut DbConnection, actor: &Actor, map: &RoleMap, id: &str) -> Outcome<()> {
    credential_of(actor)?;
    actor.require(Permission::ManageUsers)?;
    write_transaction(conn, |conn| {
        let group = find_group(conn, id)?;
        let members = ScimGroup::member_ids(conn, &group.id)?;
        ScimGroup::delete(conn, &group.id)?;
        actor
            .audit(AuditAction::GroupDeleted)
            .details(format!(
                "group “{}” with {}{}",
                group.display_name,
                crate::domain::count(members.len(), "member", "members"),
                by(actor)
            ))
            .record(conn)?;
        for user in members {
            sync_roles(conn, actor, map, user)?;
        }
        Ok(())
    })
}

/// Reads a request body as JSON; what does not read is SCIM's `invalidSyntax`.
pub fn read_json(body: &[u8]) -> Result<Value, ScimError> {
    serde_json::from_slice(body).map_err(|e| ScimError::invalid_syntax(format!("The body is not JSON: {e}.")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::scim::filter::parse_filter;

    #[test]
    fn equalities_on_indexed_attributes_narrow_the_search() {
        let n = |f: &str| narrow(&parse_filter(f).unwrap());
        assert!(matches!(n(r#"userName eq "a""#), Some(Narrow::Login(v)) if v == "a"));
        assert!(matches!(n(r#"externalId eq "x" and active eq true"#), Some(Narrow::ExternalId(_))));
        assert!(matches!(n(r#"active eq true and id eq "3""#), Some(Narrow::Id(_))));
        assert!(n(r#"emails[type eq "work"] or emails.value eq "a@b.c""#).is_none());
        assert!(matches!(n(r#"emails.value eq "a@b.c""#), Some(Narrow::Email(_))));
        assert!(n(r#"userName ne "a""#).is_none() && n(r#"not (userName eq "a")"#).is_none());
    }

    #[test]
    fn group_ids_are_version_4_uuids() {
        let id = new_group_id().unwrap();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"));
        assert_ne!(id, new_group_id().unwrap());
    }
}
