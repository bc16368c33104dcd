//! Enrollment roles and the student-only rule (SPEC 1).

use std::fmt;

/// A course-level role a user may hold (several at once).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EnrollmentRole {
    Student,
    Teacher,
    Ta,
    Designer,
    Observer,
}

impl EnrollmentRole {
    pub const ALL: [EnrollmentRole; 5] = [
        EnrollmentRole::Student,
        EnrollmentRole::Teacher,
        EnrollmentRole::Ta,
        EnrollmentRole::Designer,
        EnrollmentRole::Observer,
    ];

    pub const fn key(self) -> &'static str {
        match self {
            EnrollmentRole::Student => "student",
            EnrollmentRole::Teacher => "teacher",
            EnrollmentRole::Ta => "ta",
            EnrollmentRole::Designer => "designer",
            EnrollmentRole::Observer => "observer",
        }
    }

    pub const fn label(self) -> &'static str {
        match self {
            EnrollmentRole::Student => "Student",
            EnrollmentRole::Teacher => "Teacher",
            EnrollmentRole::Ta => "TA",
            EnrollmentRole::Designer => "Designer",
            EnrollmentRole::Observer => "Observer",
        }
    }

    pub fn parse(s: &str) -> Option<EnrollmentRole> {
        let s = s.trim();
        EnrollmentRole::ALL.into_iter().find(|r| r.key().eq_ignore_ascii_case(s))
    }
}

impl fmt::Display for EnrollmentRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// A user is student-only when every role they hold is `student` and they hold at least one.
///
/// Account roles count as roles: an administrator who is also enrolled as a student is not
/// student-only. This is the one place the rule is written.
pub fn is_student_only(enrollment: &[EnrollmentRole], account_role_count: usize) -> bool {
    account_role_count == 0
        && !enrollment.is_empty()
        && enrollment.iter().all(|r| *r == EnrollmentRole::Student)
}

/// The name of a custom account role: trimmed, 1–60 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleName(String);

impl RoleName {
    pub const FIELD: &'static str = "name";

    pub fn parse(input: &str) -> Result<RoleName, super::ValidationError> {
        let s = input.trim();
        if s.is_empty() || s.chars().count() > 60 || s.chars().any(super::text::is_forbidden_in_text) {
            return Err(super::ValidationError::new(Self::FIELD, "Enter a role name of 1 to 60 characters."));
        }
        if s.chars().any(super::text::is_invisible) {
            return Err(super::ValidationError::new(
                Self::FIELD,
                "A role name cannot contain invisible characters (a zero-width space, a soft hyphen): \
                 two roles that look the same must not be two roles.",
            ));
        }
        // Spaced as people read it: one space between words.
        Ok(RoleName(s.split_whitespace().collect::<Vec<_>>().join(" ")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::EnrollmentRole::*;
    use super::*;

    #[test]
    fn a_role_name_that_only_looks_like_another_is_refused() {
        for lookalike in [
            "Acc\u{200B}ount Admin",
            "Account\u{00AD} Admin",
            "\u{FEFF}Account Admin",
            "Admin\u{2060}",
            "Admin\u{E0020}",
            "Admin\u{E0100}",
        ] {
            assert!(RoleName::parse(lookalike).is_err(), "{lookalike:?}");
        }
        assert_eq!(RoleName::parse("  Help   desk ").unwrap().as_str(), "Help desk");
        assert!(RoleName::parse("Équipe 教务").is_ok(), "letters of any script are fine");
    }

    #[test]
    fn a_student_is_student_only() {
        assert!(is_student_only(&[Student], 0));
    }

    #[test]
    fn a_student_who_is_also_a_ta_is_not_student_only() {
        assert!(!is_student_only(&[Student, Ta], 0));
    }

    #[test]
    fn a_student_with_an_account_role_is_not_student_only() {
        assert!(!is_student_only(&[Student], 1));
    }

    #[test]
    fn a_user_without_roles_is_not_student_only() {
        assert!(!is_student_only(&[], 0));
    }

    #[test]
    fn teachers_and_observers_are_not_student_only() {
        assert!(!is_student_only(&[Teacher], 0));
        assert!(!is_student_only(&[Observer], 0));
    }

    #[test]
    fn role_names_are_trimmed_and_bounded() {
        assert_eq!(RoleName::parse("  Auditor ").unwrap().as_str(), "Auditor");
        assert_eq!(RoleName::parse("Lab   assistant").unwrap().as_str(), "Lab assistant", "one space");
        assert!(RoleName::parse(" ").is_err());
        assert!(RoleName::parse(&"r".repeat(61)).is_err());
        assert!(RoleName::parse("a\u{0}b").is_err());
    }

    #[test]
    fn roles_parse_case_insensitively() {
        assert_eq!(EnrollmentRole::parse(" TA "), Some(Ta));
        assert_eq!(EnrollmentRole::parse("principal"), None);
    }
}
