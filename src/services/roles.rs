//! Custom account roles (SPEC 1, 2): created and edited only with permissions the editor
//! holds, never a role the editor holds, never the built-in `Account Admin`.

use super::users::{facts, finish_roles_change};
use super::{Actor, Error};
use crate::db::{DbConnection, write_transaction};
use crate::domain::authority;
use crate::domain::role::RoleName;
use crate::domain::text::same_name;
use crate::domain::{Permission, PermissionSet, ValidationError};
use crate::models::{AccountRole, AuditAction, User};

/// "access_tokens.view, users.manage", or "no permissions".
pub fn describe(set: PermissionSet) -> String {
    let keys: Vec<&str> = set.iter().map(Permission::key).collect();
    if keys.is_empty() { "no permissions".to_owned() } else { keys.join(", ") }
}

/// Whether the acting user holds the role `role_id`.
fn actor_holds(conn: &mut DbConnection, actor: &Actor, role_id: i64) -> Result<bool, Error> {
    Ok(match actor.user_id() {
        Some(id) => User::roles(conn, id)?.account.iter().any(|r| r.id == role_id),
        None => false,
    })
}

/// Creates a custom role.
pub fn create(
    conn: &mut DbConnection,
    actor: &Actor,
    name: &str,
    set: PermissionSet,
) -> Result<AccountRole, Error> {
    actor.require(Permission::ManageUsers)?;
    let name = RoleName::parse(name)?;
    authority::may_edit_role(actor.permissions, false, None, set)?;
    write_transaction(conn, |conn| {
        // Whatever its case: an import, a role map and a directory name roles as they
        // please, and each must find one role by it, not the built-in one by chance.
        if let Some(other) = AccountRole::all(conn)?.into_iter().find(|r| same_name(&r.name, name.as_str())) {
            return Err(Error::invalid(ValidationError::new(
                RoleName::FIELD,
                format!("The role “{}” already exists; names differ by more than case.", other.name),
            )));
        }
        AccountRole::create(conn, name.as_str(), set)?;
        let role = AccountRole::find_by_name(conn, name.as_str())?.ok_or(Error::NotFound)?;
        actor
            .audit(AuditAction::RoleCreated)
            .details(format!("role \"{}\": {}", role.name, describe(set)))
            .record(conn)?;
        Ok(role)
    })
}

/// Changes a custom role's permissions; they apply to its holders from their next request.
pub fn update(
    conn: &mut DbConnection,
    actor: &Actor,
    id: i64,
    set: PermissionSet,
) -> Result<AccountRole, Error> {
    actor.require(Permission::ManageUsers)?;
    write_transaction(conn, |conn| {
        let role = AccountRole::find(conn, id)?;
        let holds = actor_holds(conn, actor, id)?;
        authority::may_edit_role(actor.permissions, holds, Some(&facts(&role)), set)?;
        AccountRole::set_permissions(conn, id, set)?;
        actor
            .audit(AuditAction::RoleUpdated)
            .details(format!(
                "role \"{}\": {} → {}",
                role.name,
                describe(role.permission_set()),
                describe(set)
            ))
            .record(conn)?;
        Ok(role)
    })
}

/// Deletes a custom role: its holders lose it, each as by a change of their roles (in the
/// audit log, to webhooks); one who is left a student only has their tokens capped to the
/// student maximum (SPEC 4, rule 3), as any change that leaves someone student-only does.
pub fn delete(conn: &mut DbConnection, actor: &Actor, id: i64) -> Result<AccountRole, Error> {
    actor.require(Permission::ManageUsers)?;
    write_transaction(conn, |conn| {
        let role = AccountRole::find(conn, id)?;
        if role.built_in {
            return Err(Error::Forbidden("The built-in Account Admin role cannot be deleted.".into()));
        }
        let holds = actor_holds(conn, actor, id)?;
        authority::may_edit_role(actor.permissions, holds, Some(&facts(&role)), PermissionSet::empty())?;
        let mut holders = Vec::new();
        for user_id in AccountRole::holders(conn, id)? {
            holders.push((User::find(conn, user_id)?, User::roles(conn, user_id)?));
        }
        AccountRole::delete(conn, id)?;
        actor.audit(AuditAction::RoleDeleted).details(format!("role \"{}\"", role.name)).record(conn)?;
        let note = format!(" (the role \"{}\" was deleted)", role.name);
        for (user, before) in &holders {
            finish_roles_change(conn, actor, user, before, &note)?;
        }
        Ok(role)
    })
}
