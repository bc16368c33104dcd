//! Whose tokens: an owner's roles as the account-wide views filter by them (SPEC 5). The
//! database keeps them beside every token (`access_tokens.owner_roles`, maintained by
//! triggers whenever a role is given or taken away) as the bits below, so that "tokens of
//! administrators" or "tokens of student-only users" is an index range, not a join.

use super::EnrollmentRole;

/// A token owner's roles: a bit per enrollment role, and one for any account role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct OwnerRoles(pub i32);

impl OwnerRoles {
    /// Held by anyone with at least one account role.
    pub const ACCOUNT_ROLE: i32 = 32;

    /// The bit of an enrollment role (the migration's SQL gives the same).
    pub const fn bit(role: EnrollmentRole) -> i32 {
        match role {
            EnrollmentRole::Student => 1,
            EnrollmentRole::Teacher => 2,
            EnrollmentRole::Ta => 4,
            EnrollmentRole::Designer => 8,
            EnrollmentRole::Observer => 16,
        }
    }

    pub fn of(enrollment: &[EnrollmentRole], has_account_role: bool) -> OwnerRoles {
        let bits = enrollment.iter().fold(0, |acc, r| acc | Self::bit(*r));
        OwnerRoles(bits | if has_account_role { Self::ACCOUNT_ROLE } else { 0 })
    }

    pub fn has(self, role: EnrollmentRole) -> bool {
        self.0 & Self::bit(role) != 0
    }

    pub fn has_account_role(self) -> bool {
        self.0 & Self::ACCOUNT_ROLE != 0
    }

    /// Student-only (SPEC 1): every role held is `student`, and there is one.
    pub fn is_student_only(self) -> bool {
        self.0 == Self::bit(EnrollmentRole::Student)
    }
}

/// Whose tokens a view shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OwnerFilter {
    #[default]
    Anyone,
    StudentOnly,
    Enrollment(EnrollmentRole),
    /// Holders of any account role.
    AccountRole,
}

impl OwnerFilter {
    /// From the views' query parameter (`student_only`, `teacher`, `account_role`, …);
    /// anything else is everyone.
    pub fn parse(s: &str) -> OwnerFilter {
        match s {
            "student_only" => OwnerFilter::StudentOnly,
            "account_role" => OwnerFilter::AccountRole,
            other => EnrollmentRole::parse(other).map_or(OwnerFilter::Anyone, OwnerFilter::Enrollment),
        }
    }

    /// The query parameter's value.
    pub fn key(self) -> &'static str {
        match self {
            OwnerFilter::Anyone => "",
            OwnerFilter::StudentOnly => "student_only",
            OwnerFilter::AccountRole => "account_role",
            OwnerFilter::Enrollment(r) => r.key(),
        }
    }

    /// Whether tokens of an owner with these roles are shown.
    pub fn admits(self, owner: OwnerRoles) -> bool {
        match self {
            OwnerFilter::Anyone => true,
            OwnerFilter::StudentOnly => owner.is_student_only(),
            OwnerFilter::Enrollment(role) => owner.has(role),
            OwnerFilter::AccountRole => owner.has_account_role(),
        }
    }

    /// The filters the dashboard counts tokens by, in its order.
    pub const BREAKDOWN: [OwnerFilter; 7] = [
        OwnerFilter::StudentOnly,
        OwnerFilter::Enrollment(EnrollmentRole::Student),
        OwnerFilter::Enrollment(EnrollmentRole::Teacher),
        OwnerFilter::Enrollment(EnrollmentRole::Ta),
        OwnerFilter::Enrollment(EnrollmentRole::Designer),
        OwnerFilter::Enrollment(EnrollmentRole::Observer),
        OwnerFilter::AccountRole,
    ];

    /// How the views name the owners.
    pub fn label(self) -> &'static str {
        match self {
            OwnerFilter::Anyone => "Anyone",
            OwnerFilter::StudentOnly => "Student-only users",
            OwnerFilter::Enrollment(EnrollmentRole::Student) => "Students",
            OwnerFilter::Enrollment(EnrollmentRole::Teacher) => "Teachers",
            OwnerFilter::Enrollment(EnrollmentRole::Ta) => "TAs",
            OwnerFilter::Enrollment(EnrollmentRole::Designer) => "Designers",
            OwnerFilter::Enrollment(EnrollmentRole::Observer) => "Observers",
            OwnerFilter::AccountRole => "Administrators (any account role)",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every set of roles a user can hold: the bits say student-only exactly when the
    /// domain's rule does.
    #[test]
    fn the_bits_agree_with_the_student_only_rule_for_every_set_of_roles() {
        for set in 0..(1 << EnrollmentRole::ALL.len()) {
            let roles: Vec<EnrollmentRole> = EnrollmentRole::ALL
                .iter()
                .enumerate()
                .filter(|(i, _)| set & (1 << i) != 0)
                .map(|(_, r)| *r)
                .collect();
            for admin in [false, true] {
                let owner = OwnerRoles::of(&roles, admin);
                assert_eq!(
                    owner.is_student_only(),
                    super::super::is_student_only(&roles, usize::from(admin)),
                    "{roles:?} admin={admin}"
                );
                assert_eq!(owner.has_account_role(), admin);
                for r in EnrollmentRole::ALL {
                    assert_eq!(owner.has(r), roles.contains(&r));
                }
            }
        }
    }

    #[test]
    fn filters_read_their_parameter_and_admit_their_owners() {
        for f in OwnerFilter::BREAKDOWN {
            assert_eq!(OwnerFilter::parse(f.key()), f);
        }
        assert_eq!(OwnerFilter::parse("nonsense"), OwnerFilter::Anyone);
        let student_ta = OwnerRoles::of(&[EnrollmentRole::Student, EnrollmentRole::Ta], false);
        assert!(!OwnerFilter::StudentOnly.admits(student_ta));
        assert!(OwnerFilter::Enrollment(EnrollmentRole::Student).admits(student_ta));
        assert!(OwnerFilter::StudentOnly.admits(OwnerRoles(1)));
        assert!(!OwnerFilter::StudentOnly.admits(OwnerRoles(1 | OwnerRoles::ACCOUNT_ROLE)));
        assert!(OwnerFilter::AccountRole.admits(OwnerRoles(OwnerRoles::ACCOUNT_ROLE)));
    }
}
