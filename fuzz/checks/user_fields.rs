//! The fields of a user and of a role, as the sign-up, profile and role forms send them:
//! login, display name, email, password, role name, enrollment role, permission key.

use super::{assert_clean_text, text};
use tokenwarden::domain::permission::Permission;
use tokenwarden::domain::role::{EnrollmentRole, RoleName};
use tokenwarden::domain::{DisplayName, Email, Login, Password};

pub fn check(data: &[u8]) {
    let s = text(data);
    let s = s.as_ref();

    // A login: 1–64 letters, digits or `.` `_` `-` `@`, lower-cased: what is stored is a
    // login again, the same one.
    if let Ok(login) = Login::parse(s) {
        let l = login.as_str();
        let n = l.chars().count();
        assert!((1..=64).contains(&n), "login {l:?} of {n} characters from {s:?}");
        assert!(l.chars().all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@')), "login {l:?}");
        assert_eq!(l, l.to_lowercase());
        assert_eq!(Login::parse(l).as_ref(), Ok(&login), "login {l:?} from {s:?} does not parse to itself");
    }

    if let Ok(name) = DisplayName::parse(s) {
        assert_clean_text("name", s, name.as_str(), 100);
        assert_eq!(DisplayName::parse(name.as_str()).as_ref(), Ok(&name));
    }

    // A role name: as typed, but one space between words (names that differ only in
    // spacing are one role's).
    if let Ok(role) = RoleName::parse(s) {
        let spaced = s.split_whitespace().collect::<Vec<_>>().join(" ");
        assert_clean_text("role name", &spaced, role.as_str(), 60);
        assert_eq!(RoleName::parse(role.as_str()).as_ref(), Ok(&role));
    }

    if let Ok(email) = Email::parse(s) {
        let e = email.as_str();
        assert!(!e.is_empty() && e.len() <= 254 && e == s.trim() && e.contains('@'), "email {e:?}");
        assert_eq!(Email::parse(e).as_ref(), Ok(&email));
    }

    match Password::parse(s) {
        Ok(p) => {
            assert_eq!(p.expose(), s, "a password is kept exactly as typed");
            assert!((12..=128).contains(&s.chars().count()) && !s.trim().is_empty());
            assert_eq!(format!("{p:?}"), "Password(***)");
        }
        Err(e) => assert_eq!(e.field, Password::FIELD),
    }

    if let Some(r) = EnrollmentRole::parse(s) {
        assert!(r.key().eq_ignore_ascii_case(s.trim()));
    }
    if let Some(p) = Permission::parse(s) {
        assert_eq!(p.key(), s.trim());
    }
}
