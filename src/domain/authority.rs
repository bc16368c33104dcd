//! Nobody grants more than they hold (SPEC 2), and a token never widens itself (SPEC 4.13).
//!
//! Pure rules: the service layer loads the facts (who holds what, which roles a change adds
//! or removes, how many active administrators there are) and asks these functions.

use chrono::NaiveDateTime;

use super::token::{ExpiryChoice, Scopes};
use super::{Permission, PermissionSet, ValidationError};

/// Why a change is refused, in a sentence for the person who asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal(pub String);

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The permissions of `wanted` that `held` lacks, as their keys ("users.manage, …").
fn missing(held: PermissionSet, wanted: PermissionSet) -> Option<String> {
    let lacking: Vec<&str> = wanted.iter().filter(|p| !held.contains(*p)).map(Permission::key).collect();
    (!lacking.is_empty()).then(|| lacking.join(", "))
}

/// An account role as the grant rule sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoleFacts<'a> {
    pub id: i64,
    pub name: &'a str,
    pub permissions: PermissionSet,
    /// The built-in `Account Admin`.
    pub built_in: bool,
}

/// Whether `actor` may give or take away `role`: only roles whose permissions are all
/// among the actor's own (Canvas: an admin may only assign roles whose permissions they
/// have).
pub fn may_grant(actor: PermissionSet, role: &RoleFacts<'_>) -> Result<(), Refusal> {
    match missing(actor, role.permissions) {
        None => Ok(()),
        Some(lacking) => Err(Refusal(format!(
            "You cannot give or take away the role “{}”: it grants {lacking}, which you do not hold yourself.",
            role.name
        ))),
    }
}

/// Whether `actor` may manage `target` at all — change their roles or state, end their
/// sessions: only someone whose permissions are all among the actor's own. A lesser
/// administrator cannot lock out a greater one.
pub fn may_manage(actor: PermissionSet, target: PermissionSet) -> Result<(), Refusal> {
    match missing(actor, target) {
        None => Ok(()),
        Some(lacking) => Err(Refusal(format!(
            "This user holds permissions you do not hold yourself ({lacking}): only an administrator \
             with at least those permissions may change their roles or state."
        ))),
    }
}

/// A change of someone's account roles, as the grant rule sees it.
#[derive(Debug, Clone)]
pub struct AccountRoleChange<'a> {
    pub actor_id: i64,
    pub actor: PermissionSet,
    pub target_id: i64,
    /// The roles the change gives the target.
    pub added: Vec<RoleFacts<'a>>,
    /// The roles the change takes away.
    pub removed: Vec<RoleFacts<'a>>,
    /// Whether the target is the last active holder of `Account Admin`.
    pub target_is_last_admin: bool,
}

/// The grant rule for a change of account roles (SPEC 2): never one's own, only roles whose
/// permissions the actor holds, and never the last active `Account Admin`'s.
pub fn may_change_account_roles(change: &AccountRoleChange<'_>) -> Result<(), Refusal> {
    if change.added.is_empty() && change.removed.is_empty() {
        return Ok(());
    }
    if change.actor_id == change.target_id {
        return Err(Refusal(
            "You cannot change your own account roles: another administrator must do it.".into(),
        ));
    }
    for role in change.added.iter().chain(&change.removed) {
        may_grant(change.actor, role)?;
    }
    if change.target_is_last_admin && change.removed.iter().any(|r| r.built_in) {
        return Err(Refusal(last_admin("demoted")));
    }
    Ok(())
}

/// The sentence for the last active administrator.
pub fn last_admin(what: &str) -> String {
    format!(
        "This is the last active Account Admin: the account would be left without one. Make \
         someone else an Account Admin first; this account cannot be {what} until then."
    )
}

/// The rule for creating or editing a custom role: only with permissions the actor holds,
/// never a role the actor holds (that would be changing their own authority), and never
/// one that grants permissions beyond the actor's (its holders would lose or gain what the
/// actor cannot give).
pub fn may_edit_role(
    actor: PermissionSet,
    actor_holds_it: bool,
    before: Option<&RoleFacts<'_>>,
    after: PermissionSet,
) -> Result<(), Refusal> {
    if before.is_some_and(|r| r.built_in) {
        return Err(Refusal("The built-in Account Admin role always has every permission.".into()));
    }
    if actor_holds_it {
        return Err(Refusal(
            "You cannot change a role you hold yourself: another administrator must do it.".into(),
        ));
    }
    if let Some(role) = before {
        may_grant(actor, role)?;
    }
    match missing(actor, after) {
        None => Ok(()),
        Some(lacking) => Err(Refusal(format!(
            "A role you create or edit may grant only permissions you hold yourself; you do not hold {lacking}."
        ))),
    }
}

/// What a token may give the tokens it creates or changes (SPEC 4.13): at most its own
/// scopes (an unscoped token only may give unscoped) and its own expiry (no expiry only
/// if it has none itself). No limitation opens the API, not a service that refuses
/// unscoped tokens (SPEC 11), so an unscoped token may give the API's scopes, and those of
/// services that take unscoped tokens, but no other service's it does not find on the
/// token already.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenReach {
    pub token_id: i64,
    pub scopes: Scopes,
    pub expires_at: Option<NaiveDateTime>,
}

impl TokenReach {
    /// Whether scopes set by the acting token stay within its own. `kept` are the scopes
    /// the token keeps without a new secret (an update's current scopes; none for a new
    /// secret): giving a token back what it has opens nothing new to the acting token.
    pub fn bound_scopes(
        &self,
        wanted: &Scopes,
        kept: &Scopes,
        catalogue: &super::token::Catalogue,
    ) -> Result<(), ValidationError> {
        if self.scopes.is_unlimited() {
            let beyond = wanted.iter().find(|s| !kept.contains(s) && !catalogue.opened_without_scopes(s));
            return match beyond {
                None => Ok(()),
                Some(service_scope) => Err(ValidationError::new(
                    Scopes::FIELD,
                    format!(
                        "This access token has no limitation, which opens the API but no service \
                         that refuses unscoped tokens, so it cannot give the scope {service_scope}. \
                         Give it on the web pages, or through a token that holds the scope."
                    ),
                )),
            };
        }
        if wanted.is_unlimited() {
            return Err(ValidationError::new(
                Scopes::FIELD,
                "This access token is limited to scopes, so a token it creates or changes must be limited \
                 too: name the scopes, all among this token's own.",
            ));
        }
        match wanted.as_slice().iter().find(|s| !self.scopes.contains(s)) {
            None => Ok(()),
            Some(outside) => Err(ValidationError::new(
                Scopes::FIELD,
                format!("This access token cannot give the scope {outside}: it does not hold it itself."),
            )),
        }
    }

    /// Whether an expiry set by the acting token comes no later than its own.
    pub fn bound_expiry(&self, wanted: Option<NaiveDateTime>) -> Result<(), ValidationError> {
        match (self.expires_at, wanted) {
            (None, _) => Ok(()),
            (Some(own), Some(at)) if at <= own => Ok(()),
            (Some(own), _) => Err(ValidationError::new(
                ExpiryChoice::FIELD,
                format!(
                    "This access token expires at {}: a token it creates or changes must expire by then.",
                    own.format("%Y-%m-%dT%H:%M:%SZ")
                ),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, NaiveDate};

    use super::*;
    use crate::domain::token::{Catalogue, ServiceScopeDef};

    fn set(perms: &[Permission]) -> PermissionSet {
        perms.iter().copied().collect()
    }

    fn role(id: i64, perms: &[Permission]) -> RoleFacts<'static> {
        RoleFacts { id, name: "Some role", permissions: set(perms), built_in: false }
    }

    const ADMIN: RoleFacts<'static> =
        RoleFacts { id: 1, name: "Account Admin", permissions: PermissionSet::all(), built_in: true };

    fn change<'a>(added: Vec<RoleFacts<'a>>, removed: Vec<RoleFacts<'a>>) -> AccountRoleChange<'a> {
        AccountRoleChange {
            actor_id: 1,
            actor: set(&[Permission::ManageUsers]),
            target_id: 2,
            added,
            removed,
            target_is_last_admin: false,
        }
    }

    #[test]
    fn a_user_manager_cannot_grant_account_admin() {
        let why = may_change_account_roles(&change(vec![ADMIN], vec![])).unwrap_err();
        assert!(why.0.contains("account.settings"), "{why}");
    }

    #[test]
    fn a_user_manager_may_grant_a_role_within_his_own_permissions() {
        assert!(may_change_account_roles(&change(vec![role(5, &[Permission::ManageUsers])], vec![])).is_ok());
        assert!(may_change_account_roles(&change(vec![role(5, &[Permission::ViewTokens])], vec![])).is_err());
    }

    #[test]
    fn taking_a_role_away_needs_its_permissions_too() {
        assert!(may_change_account_roles(&change(vec![], vec![ADMIN])).is_err());
    }

    #[test]
    fn nobody_changes_their_own_account_roles() {
        let mut c = change(vec![role(5, &[Permission::ManageUsers])], vec![]);
        c.target_id = c.actor_id;
        c.actor = PermissionSet::all();
        assert!(may_change_account_roles(&c).unwrap_err().0.contains("your own"));
        // Saving one's own roles unchanged is no change.
        assert!(may_change_account_roles(&AccountRoleChange { added: vec![], ..c }).is_ok());
    }

    #[test]
    fn the_last_active_admin_cannot_be_demoted() {
        let mut c = change(vec![], vec![ADMIN]);
        c.actor = PermissionSet::all();
        assert!(may_change_account_roles(&c).is_ok());
        c.target_is_last_admin = true;
        assert!(may_change_account_roles(&c).unwrap_err().0.contains("last active Account Admin"));
    }

    #[test]
    fn managing_a_user_needs_every_permission_they_hold() {
        let manager = set(&[Permission::ManageUsers]);
        assert!(may_manage(manager, PermissionSet::empty()).is_ok());
        assert!(may_manage(manager, manager).is_ok());
        assert!(may_manage(manager, PermissionSet::all()).is_err());
        assert!(may_manage(PermissionSet::all(), PermissionSet::all()).is_ok());
    }

    #[test]
    fn roles_are_created_and_edited_only_within_the_editors_permissions() {
        let manager = set(&[Permission::ManageUsers, Permission::ViewTokens]);
        assert!(may_edit_role(manager, false, None, set(&[Permission::ViewTokens])).is_ok());
        assert!(may_edit_role(manager, false, None, PermissionSet::all()).is_err());
        let held = role(5, &[Permission::ManageUsers]);
        assert!(may_edit_role(manager, true, Some(&held), set(&[Permission::ManageUsers])).is_err());
        let wider = role(6, &[Permission::AccountSettings]);
        assert!(may_edit_role(manager, false, Some(&wider), PermissionSet::empty()).is_err(), "nor strip it");
        assert!(may_edit_role(PermissionSet::all(), false, Some(&ADMIN), PermissionSet::empty()).is_err());
    }

    fn t(days: i64) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 12, 1).unwrap().and_hms_opt(12, 0, 0).unwrap() + Duration::days(days)
    }

    const CREATE: &str = "url:POST|/api/v1/users/:user_id/tokens";
    const SHOW: &str = "url:GET|/api/v1/users/:id";

    #[test]
    fn a_scoped_token_gives_only_its_own_scopes() {
        let reach = TokenReach {
            token_id: 1,
            scopes: Scopes::parse(&[CREATE], &Default::default()).unwrap(),
            expires_at: None,
        };
        let (none, catalogue) = (Scopes::default(), Catalogue::default());
        let bound = |wanted: &[&str]| {
            reach.bound_scopes(&Scopes::parse(wanted, &catalogue).unwrap(), &none, &catalogue)
        };
        assert!(bound(&[CREATE]).is_ok());
        assert_eq!(reach.bound_scopes(&none, &none, &catalogue).unwrap_err().field, "scopes");
        assert!(bound(&[CREATE, SHOW]).is_err());
    }

    #[test]
    fn an_unscoped_token_gives_only_what_no_limitation_opens_or_the_token_keeps() {
        let def = |scope: &str, accepts_unscoped| ServiceScopeDef {
            scope: scope.into(),
            service: "Some service".into(),
            label: scope.into(),
            holders: Default::default(),
            accepts_unscoped,
        };
        // The gradebook refuses unscoped tokens; the library takes them.
        let catalogue = Catalogue {
            services: vec![
                def("gradebook:read", false),
                def("gradebook:write", false),
                def("library:read", true),
            ],
        };
        let scopes = |s: &[&str]| Scopes::parse(s, &catalogue).unwrap();
        let none = Scopes::default();
        let reach = TokenReach { token_id: 1, scopes: Scopes::default(), expires_at: None };
        assert!(reach.bound_scopes(&none, &none, &catalogue).is_ok());
        assert!(reach.bound_scopes(&scopes(&[SHOW]), &none, &catalogue).is_ok(), "the API's");
        assert!(
            reach.bound_scopes(&scopes(&["library:read"]), &none, &catalogue).is_ok(),
            "a service it opens"
        );
        let refused = reach.bound_scopes(&scopes(&[SHOW, "gradebook:read"]), &none, &catalogue);
        let refused = refused.expect_err("no limitation does not open a service that refuses it");
        assert_eq!(refused.field, "scopes");
        assert!(refused.message.contains("cannot give the scope gradebook:read"), "{}", refused.message);
        // Narrowing a gradebook token it does not open gives it nothing.
        let kept = scopes(&["gradebook:read", "gradebook:write"]);
        assert!(reach.bound_scopes(&scopes(&["gradebook:read"]), &kept, &catalogue).is_ok());
        assert!(
            reach.bound_scopes(&scopes(&["gradebook:write", "gradebook:read"]), &kept, &catalogue).is_ok()
        );
        // A scope of a service removed since (the catalogue no longer knows it) might open
        // that service again one day: not given either.
        let removed = Scopes::from_stored("cafeteria:eat");
        assert!(reach.bound_scopes(&removed, &none, &catalogue).is_err());
        assert!(reach.bound_expiry(None).is_ok());
    }

    #[test]
    fn an_expiring_token_gives_no_later_expiry_and_never_none() {
        let reach = TokenReach { token_id: 1, scopes: Scopes::default(), expires_at: Some(t(7)) };
        assert!(reach.bound_expiry(Some(t(3))).is_ok());
        assert!(reach.bound_expiry(Some(t(7))).is_ok());
        assert_eq!(reach.bound_expiry(Some(t(8))).unwrap_err().field, "expires_at");
        assert!(reach.bound_expiry(None).is_err());
    }
}
