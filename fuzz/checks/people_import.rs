//! The people import's CSV file (`domain::people_import`): what an administrator uploads
//! or a shell script passes to `tokenwarden user import`, read by `read` and `parse_roles`.
//! The whole input is the file; the account has the built-in Account Admin and two custom
//! roles (one named with spaces), and the file is read for an actor who holds every
//! permission and for one who holds only `users.manage`.

use std::collections::HashSet;

use super::assert_clean_text;
use tokenwarden::domain::authority::RoleFacts;
use tokenwarden::domain::people_import::{self, MAX_PEOPLE};
use tokenwarden::domain::permission::Permission;
use tokenwarden::domain::{Login, PermissionSet};

fn catalogue() -> Vec<RoleFacts<'static>> {
    vec![
        RoleFacts { id: 1, name: "Account Admin", permissions: PermissionSet::all(), built_in: true },
        RoleFacts {
            id: 2,
            name: "Token viewer",
            permissions: [Permission::ViewTokens].into_iter().collect(),
            built_in: false,
        },
        RoleFacts {
            id: 3,
            name: "User manager",
            permissions: [Permission::ManageUsers].into_iter().collect(),
            built_in: false,
        },
    ]
}

pub fn check(data: &[u8]) {
    let roles = catalogue();
    let users_manage: PermissionSet = [Permission::ManageUsers].into_iter().collect();
    for actor in [PermissionSet::all(), users_manage] {
        let Ok(roster) = people_import::read(data, &roles, actor) else { continue };
        // Every line is a person or a bad line, never both, each once; none is the header.
        let mut lines = HashSet::new();
        for line in roster.people.iter().map(|p| p.line).chain(roster.bad.iter().map(|b| b.line)) {
            assert!(line >= 1, "line {line}");
            assert!(lines.insert(line), "line {line} judged twice");
        }
        assert!(roster.people.len() <= MAX_PEOPLE);
        let mut logins = HashSet::new();
        for p in &roster.people {
            // What is stored is valid by the same rules as every other door.
            assert_eq!(Login::parse(p.login.as_str()).as_ref(), Ok(&p.login));
            assert!(logins.insert(p.login.as_str().to_owned()), "{} twice among the people", p.login);
            assert_clean_text("name", p.name.as_str(), p.name.as_str(), 100);
            assert!(p.email.as_str().contains('@'));
            assert!(p.enrollment.windows(2).all(|w| w[0] < w[1]), "enrollment sorted, once each");
            assert!(p.account_roles.windows(2).all(|w| w[0] < w[1]), "account roles sorted, once each");
            for id in &p.account_roles {
                let role = roles.iter().find(|r| r.id == *id).expect("a known role");
                assert!(
                    role.permissions.is_subset(actor),
                    "{} given by an actor without its permissions",
                    role.name
                );
            }
        }
        for b in &roster.bad {
            assert!(!b.reasons.is_empty(), "line {} is bad for no reason", b.line);
            assert!(b.login.chars().count() <= 65, "the login shown is cut");
        }
    }
    // The roles field alone: what it names is known, each once, sorted; the rest is unknown.
    let text = super::text(data);
    let wanted = people_import::parse_roles(&text, &roles);
    assert!(wanted.enrollment.windows(2).all(|w| w[0] < w[1]));
    assert!(wanted.account.windows(2).all(|w| w[0] < w[1]));
    assert!(wanted.account.iter().all(|id| roles.iter().any(|r| r.id == *id)));
    assert!(wanted.unknown.iter().all(|u| !u.trim().is_empty() && !u.contains(';')));
}
