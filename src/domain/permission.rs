//! Account-level permissions (SPEC 2) and the set of them a user holds.

use std::fmt;

/// One account-level permission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// View any user's tokens (never the secret).
    ViewTokens,
    /// Create, update and regenerate tokens on behalf of others; bypasses the personal limit.
    CreateUpdateTokens,
    /// Delete (revoke) any user's tokens.
    DeleteTokens,
    /// List and search users, edit their roles and state.
    ManageUsers,
    /// Change the account settings.
    AccountSettings,
}

impl Permission {
    pub const ALL: [Permission; 5] = [
        Permission::ViewTokens,
        Permission::CreateUpdateTokens,
        Permission::DeleteTokens,
        Permission::ManageUsers,
        Permission::AccountSettings,
    ];

    const fn bit(self) -> i64 {
        match self {
            Permission::ViewTokens => 1,
            Permission::CreateUpdateTokens => 1 << 1,
            Permission::DeleteTokens => 1 << 2,
            Permission::ManageUsers => 1 << 3,
            Permission::AccountSettings => 1 << 4,
        }
    }

    /// The name used in forms, the CLI and the docs, e.g. `access_tokens.view`.
    pub const fn key(self) -> &'static str {
        match self {
            Permission::ViewTokens => "access_tokens.view",
            Permission::CreateUpdateTokens => "access_tokens.create_update",
            Permission::DeleteTokens => "access_tokens.delete",
            Permission::ManageUsers => "users.manage",
            Permission::AccountSettings => "account.settings",
        }
    }

    /// What it lets its holder do, to finish "administrators who may …".
    pub const fn label(self) -> &'static str {
        match self {
            Permission::ViewTokens => "see everyone's access tokens",
            Permission::CreateUpdateTokens => "create and change tokens on other people's behalf",
            Permission::DeleteTokens => "revoke other people's tokens",
            Permission::ManageUsers => "manage users",
            Permission::AccountSettings => "change the account settings",
        }
    }

    /// A sentence for the roles page.
    pub const fn description(self) -> &'static str {
        match self {
            Permission::ViewTokens => {
                "View any user's access tokens: purpose, scopes, dates and hint, never the secret."
            }
            Permission::CreateUpdateTokens => {
                "Create, update and regenerate tokens on behalf of other users, and for themselves \
                 even when personal token creation is limited."
            }
            Permission::DeleteTokens => "Delete (revoke) any user's access tokens.",
            Permission::ManageUsers => "List and search users, edit their roles and suspend them.",
            Permission::AccountSettings => "Change the account settings.",
        }
    }

    pub fn parse(key: &str) -> Option<Permission> {
        Permission::ALL.into_iter().find(|p| p.key() == key.trim())
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// A set of permissions, stored as a bit set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PermissionSet(i64);

impl PermissionSet {
    pub const fn empty() -> Self {
        PermissionSet(0)
    }

    pub const fn all() -> Self {
        let mut bits = 0;
        let mut i = 0;
        while i < Permission::ALL.len() {
            bits |= Permission::ALL[i].bit();
            i += 1;
        }
        PermissionSet(bits)
    }

    /// Whether every permission of `self` is among `other`'s.
    pub const fn is_subset(self, other: PermissionSet) -> bool {
        self.0 & !other.0 == 0
    }

    /// From the stored bits; bits that name no permission are dropped.
    pub fn from_bits(bits: i64) -> Self {
        PermissionSet(bits & Self::all().0)
    }

    pub const fn bits(self) -> i64 {
        self.0
    }

    pub const fn contains(self, p: Permission) -> bool {
        self.0 & p.bit() != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn union(self, other: PermissionSet) -> Self {
        PermissionSet(self.0 | other.0)
    }

    pub fn iter(self) -> impl Iterator<Item = Permission> {
        Permission::ALL.into_iter().filter(move |p| self.contains(*p))
    }

    /// Whether any administration page is open to the holder.
    pub fn any_admin(self) -> bool {
        !self.is_empty()
    }
}

impl FromIterator<Permission> for PermissionSet {
    fn from_iter<I: IntoIterator<Item = Permission>>(iter: I) -> Self {
        PermissionSet(iter.into_iter().fold(0, |acc, p| acc | p.bit()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_permission_has_its_own_bit() {
        let bits: Vec<i64> = Permission::ALL.iter().map(|p| p.bit()).collect();
        for (i, a) in bits.iter().enumerate() {
            assert_eq!(a.count_ones(), 1);
            assert!(bits[i + 1..].iter().all(|b| a & b == 0));
        }
    }

    #[test]
    fn all_contains_every_permission_and_matches_the_built_in_admin_bits() {
        let all = PermissionSet::all();
        assert!(Permission::ALL.iter().all(|p| all.contains(*p)));
        // migrations seed Account Admin with 31: keep the two in step.
        assert_eq!(all.bits(), 31);
    }

    #[test]
    fn union_and_unknown_bits() {
        let view: PermissionSet = [Permission::ViewTokens].into_iter().collect();
        let del: PermissionSet = [Permission::DeleteTokens].into_iter().collect();
        let both = view.union(del);
        assert!(both.contains(Permission::ViewTokens) && both.contains(Permission::DeleteTokens));
        assert!(!both.contains(Permission::ManageUsers));
        assert_eq!(PermissionSet::from_bits(1 << 40), PermissionSet::empty());
    }

    #[test]
    fn keys_round_trip() {
        for p in Permission::ALL {
            assert_eq!(Permission::parse(p.key()), Some(p));
        }
        assert_eq!(Permission::parse("access_tokens.everything"), None);
    }
}
