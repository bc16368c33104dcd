//! The institution's people as its systems describe them (SPEC 12): how their groups map
//! to tokenwarden's roles, for single sign-on and provisioning alike.

use super::EnrollmentRole;
use super::text::same_name;

/// A role a group can give: an enrollment role, or an account role by its name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MappedRole {
    Enrollment(EnrollmentRole),
    Account(String),
}

impl std::fmt::Display for MappedRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MappedRole::Enrollment(r) => f.write_str(r.key()),
            MappedRole::Account(name) => f.write_str(name),
        }
    }
}

/// How the institution's groups map to roles (`--oidc-role-map`):
/// `student=Students,teacher=Faculty,ta=Teaching assistants,Account Admin=IT`. A role may
/// be named more than once (several groups give it); a group not named gives nothing. Groups
/// compare without regard to case and surrounding spaces.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoleMap {
    entries: Vec<(MappedRole, String)>,
}

impl RoleMap {
    /// From `ROLE=GROUP` pairs separated by commas (or new lines). An enrollment role is
    /// named by its key (`student`, `teacher`, `ta`, `designer`, `observer`); anything
    /// else names an account role (`Account Admin`, a custom role).
    pub fn parse(input: &str) -> Result<RoleMap, String> {
        let mut entries = Vec::new();
        for pair in input.split([',', '\n']).map(str::trim).filter(|p| !p.is_empty()) {
            let (role, group) = pair
                .split_once('=')
                .ok_or_else(|| format!("“{pair}” is not ROLE=GROUP (e.g. student=Students)"))?;
            let (role, group) = (role.trim(), group.trim());
            if role.is_empty() || group.is_empty() {
                return Err(format!("“{pair}” names no role or no group"));
            }
            let role = match EnrollmentRole::parse(role) {
                Some(r) => MappedRole::Enrollment(r),
                None => MappedRole::Account(role.to_owned()),
            };
            entries.push((role, group.to_owned()));
        }
        Ok(RoleMap { entries })
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The roles the groups give: enrollment roles, and account roles by name; each once.
    pub fn roles_for<S: AsRef<str>>(&self, groups: &[S]) -> (Vec<EnrollmentRole>, Vec<String>) {
        let mut enrollment = Vec::new();
        let mut account: Vec<String> = Vec::new();
        for (role, group) in &self.entries {
            if !groups.iter().any(|g| same_name(g.as_ref().trim(), group)) {
                continue;
            }
            match role {
                MappedRole::Enrollment(r) if !enrollment.contains(r) => enrollment.push(*r),
                MappedRole::Account(name) if !account.contains(name) => account.push(name.clone()),
                _ => {}
            }
        }
        enrollment.sort();
        (enrollment, account)
    }

    /// The roles one group gives.
    pub fn roles_of(&self, group: &str) -> Vec<&MappedRole> {
        self.entries.iter().filter(|(_, g)| same_name(g, group.trim())).map(|(r, _)| r).collect()
    }

    /// Every account role the map names (to check they exist, at start).
    pub fn account_roles(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().filter_map(|(r, _)| match r {
            MappedRole::Account(name) => Some(name.as_str()),
            MappedRole::Enrollment(_) => None,
        })
    }

    /// Every group the map names, each once.
    pub fn groups(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for (_, g) in &self.entries {
            if !out.iter().any(|o| same_name(o, g)) {
                out.push(g);
            }
        }
        out
    }
}

impl std::str::FromStr for RoleMap {
    type Err = String;
    fn from_str(s: &str) -> Result<RoleMap, String> {
        RoleMap::parse(s)
    }
}

/// Who may sign in with a password (`--password-login`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum PasswordLogin {
    /// Everyone with a password.
    #[default]
    On,
    /// Nobody: everyone signs in with the institution's identity provider.
    Off,
    /// Only the named break-glass administrators (`--break-glass-logins`), for when the
    /// identity provider is down or misconfigured.
    BreakGlass,
}

impl PasswordLogin {
    /// Whether `login` (lower-cased) may sign in with a password.
    pub fn allows<S: AsRef<str>>(self, login: &str, break_glass: &[S]) -> bool {
        match self {
            PasswordLogin::On => true,
            PasswordLogin::Off => false,
            PasswordLogin::BreakGlass => {
                break_glass.iter().any(|b| b.as_ref().trim().eq_ignore_ascii_case(login.trim()))
            }
        }
    }
}

/// Who may have a password here: `--password-login` and the break-glass logins, together.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PasswordRule {
    pub mode: PasswordLogin,
    pub break_glass: Vec<String>,
}

impl PasswordRule {
    /// Whether `login` may sign in with a password (and so be sent a link to set one).
    pub fn allows(&self, login: &str) -> bool {
        self.mode.allows(login, &self.break_glass)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_map_to_enrollment_and_account_roles() {
        let map = RoleMap::parse(
            "student=Students, teacher=Faculty,ta=TAs,teacher=Adjuncts,Account Admin=IT Admins",
        )
        .unwrap();
        let (enrollment, account) = map.roles_for(&["faculty", " IT Admins ", "Chess club"]);
        assert_eq!(enrollment, [EnrollmentRole::Teacher]);
        assert_eq!(account, ["Account Admin"]);
        assert_eq!(map.roles_for(&["Adjuncts", "Faculty"]).0, [EnrollmentRole::Teacher], "each role once");
        assert_eq!(map.roles_for::<&str>(&[]), (vec![], vec![]));
        assert_eq!(map.account_roles().collect::<Vec<_>>(), ["Account Admin"]);
        assert_eq!(map.roles_of("students"), [&MappedRole::Enrollment(EnrollmentRole::Student)]);
        assert_eq!(map.groups(), ["Students", "Faculty", "TAs", "Adjuncts", "IT Admins"]);
    }

    #[test]
    fn a_map_that_does_not_read_says_why() {
        assert!(RoleMap::parse("student").unwrap_err().contains("ROLE=GROUP"));
        assert!(RoleMap::parse("student=").is_err());
        assert!(RoleMap::parse("").unwrap().is_empty());
    }

    #[test]
    fn break_glass_lets_only_the_named_sign_in_with_a_password() {
        let named = ["root", "Ada"];
        assert!(PasswordLogin::On.allows("anyone", &named));
        assert!(!PasswordLogin::Off.allows("root", &named));
        assert!(PasswordLogin::BreakGlass.allows("ada", &named));
        assert!(!PasswordLogin::BreakGlass.allows("sam", &named));
    }
}
