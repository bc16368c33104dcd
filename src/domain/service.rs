//! The institution's services that tokens guard (SPEC 11): their slugs, their scopes, the
//! route rules that say which scope a request needs, and who may hold a scope.

use super::{EnrollmentRole, ValidationError};

/// A service's slug: 2–40 characters of lower-case letters, digits and `-`, starting with
/// a letter (`gradebook`, `print-service`). It prefixes the service's scopes and names it
/// in gateway configurations.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Slug(String);

impl Slug {
    pub const FIELD: &'static str = "slug";

    pub fn parse(input: &str) -> Result<Slug, ValidationError> {
        let s = input.trim();
        let ok = (2..=40).contains(&s.len())
            && s.starts_with(|c: char| c.is_ascii_lowercase())
            && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !s.ends_with('-');
        if !ok {
            return Err(ValidationError::new(
                Self::FIELD,
                "A slug has 2 to 40 lower-case letters, digits and dashes, and starts with a letter (e.g. gradebook).",
            ));
        }
        if s == "url" {
            return Err(ValidationError::new(Self::FIELD, "“url” is taken by the API's own scopes."));
        }
        Ok(Slug(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Who may hold a scope: anyone, or holders of these roles (`admin` standing for any
/// account role). A student-only user holds only `student`, so a scope without it is never
/// theirs (e.g. `gradebook:write`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Holders {
    enrollment: Vec<EnrollmentRole>,
    admins: bool,
    /// Nobody at all: what a stored value that no longer reads stands for (fail closed).
    closed: bool,
}

impl Holders {
    pub const FIELD: &'static str = "holders";

    /// From `student teacher admin` (spaces or commas); empty: anyone.
    pub fn parse(input: &str) -> Result<Holders, ValidationError> {
        let mut h = Holders::default();
        for word in input.split([' ', ',']).map(str::trim).filter(|w| !w.is_empty()) {
            if word.eq_ignore_ascii_case("admin") {
                h.admins = true;
            } else if let Some(r) = EnrollmentRole::parse(word) {
                if !h.enrollment.contains(&r) {
                    h.enrollment.push(r);
                }
            } else {
                return Err(ValidationError::new(
                    Self::FIELD,
                    format!(
                        "Unknown role “{}”: use student, teacher, ta, designer, observer or admin.",
                        word.chars().take(30).collect::<String>()
                    ),
                ));
            }
        }
        h.enrollment.sort();
        Ok(h)
    }

    /// From the stored form; a value that does not read admits nobody.
    pub fn from_stored(stored: &str) -> Holders {
        Holders::parse(stored).unwrap_or(Holders { closed: true, ..Holders::default() })
    }

    pub fn anyone(&self) -> bool {
        self.enrollment.is_empty() && !self.admins && !self.closed
    }

    /// Whether someone with these roles may hold the scope.
    pub fn admit(&self, enrollment: &[EnrollmentRole], holds_account_role: bool) -> bool {
        !self.closed
            && (self.anyone()
                || (self.admins && holds_account_role)
                || enrollment.iter().any(|r| self.enrollment.contains(r)))
    }

    /// The stored form, `student teacher admin` (empty: anyone).
    pub fn to_stored(&self) -> String {
        let mut words: Vec<&str> = self.enrollment.iter().map(|r| r.key()).collect();
        if self.admins {
            words.push("admin");
        }
        words.join(" ")
    }

    /// "anyone", or "teachers, TAs and administrators".
    pub fn describe(&self) -> String {
        if self.closed {
            return "nobody".to_owned();
        }
        if self.anyone() {
            return "anyone".to_owned();
        }
        let mut words: Vec<String> = self
            .enrollment
            .iter()
            .map(|r| match r {
                EnrollmentRole::Ta => "TAs".to_owned(),
                other => format!("{}s", other.key()),
            })
            .collect();
        if self.admins {
            words.push("administrators".to_owned());
        }
        match words.as_slice() {
            [one] => one.clone(),
            [init @ .., last] => format!("{} and {last}", init.join(", ")),
            [] => String::new(),
        }
    }
}

/// A service scope: `slug:name`, the name 1–40 characters of lower-case letters, digits,
/// `-`, `_` and `.` (`gradebook:read`, `library:loans.write`).
pub fn parse_scope(slug: &Slug, input: &str) -> Result<String, ValidationError> {
    let s = input.trim();
    let name = s.strip_prefix(slug.as_str()).and_then(|r| r.strip_prefix(':')).unwrap_or(s);
    let ok = (1..=40).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.'));
    if !ok {
        return Err(ValidationError::new(
            "scopes",
            format!(
                "A scope is {}:NAME, the name 1 to 40 lower-case letters, digits, dots, dashes or underscores.",
                slug.as_str()
            ),
        ));
    }
    Ok(format!("{}:{name}", slug.as_str()))
}

/// `SCOPE=LABEL` as the CLI's `--scope` takes it (`read=Read grades`, `gradebook:read=…`).
pub fn parse_scope_with_label(slug: &Slug, input: &str) -> Result<(String, String), ValidationError> {
    let (scope, label) = input.split_once('=').unwrap_or((input, ""));
    let scope = parse_scope(slug, scope)?;
    let label = label.trim();
    let label = if label.is_empty() { scope.clone() } else { label.chars().take(100).collect() };
    if label.chars().any(char::is_control) {
        return Err(ValidationError::new("scopes", "A scope's label cannot contain control characters."));
    }
    Ok((scope, label))
}

/// A route rule: requests with this method (or any, `*`) and a path matching this pattern
/// need this scope. A pattern is a path whose last segment may be `*` (anything below) and
/// whose other segments may be `*` (any one segment): `/grades/*`, `/courses/*/export`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteRule {
    pub method: String,
    pub path: String,
    pub scope: String,
}

impl RouteRule {
    pub const FIELD: &'static str = "rules";

    /// `GET /grades/*=gradebook:read` (or `* /admin/*=gradebook:admin`).
    pub fn parse(slug: &Slug, input: &str) -> Result<RouteRule, ValidationError> {
        let bad = |why: &str| {
            ValidationError::new(
                Self::FIELD,
                format!("{why} A rule reads like: GET /grades/*={}:read", slug.as_str()),
            )
        };
        let (route, scope) =
            input.trim().rsplit_once('=').ok_or_else(|| bad("A rule names a scope after “=”."))?;
        let (method, path) =
            route.trim().split_once(' ').ok_or_else(|| bad("A rule starts with a method and a path."))?;
        let method = method.trim().to_ascii_uppercase();
        if method != "*" && !(1..=10).contains(&method.len())
            || !method.bytes().all(|b| b.is_ascii_uppercase() || b == b'*')
        {
            return Err(bad("The method is a word such as GET, or * for any."));
        }
        let path = path.trim();
        if !path.starts_with('/')
            || path.len() > 200
            || path.chars().any(|c| c.is_control() || c == ' ' || c == '?')
        {
            return Err(bad("The path starts with / and has no spaces or query."));
        }
        Ok(RouteRule { method, path: path.to_owned(), scope: parse_scope(slug, scope)? })
    }

    /// Whether a request with `method` and `path` (its query already cut off) falls under
    /// this rule.
    pub fn matches(&self, method: &str, path: &str) -> bool {
        if self.method != "*" && !self.method.eq_ignore_ascii_case(method) {
            return false;
        }
        let mut pattern = self.path.split('/').peekable();
        let mut segments = path.split('/');
        while let Some(p) = pattern.next() {
            let last = pattern.peek().is_none();
            match (p, segments.next()) {
                ("*", Some(_)) if last => return true,
                ("*", Some(s)) if !s.is_empty() => {}
                (p, Some(s)) if p == s => {}
                _ => return false,
            }
        }
        segments.next().is_none()
    }
}

impl std::fmt::Display for RouteRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}={}", self.method, self.path, self.scope)
    }
}

/// The path of a request URI as a gateway forwards it: no query, no fragment, and nothing
/// that could walk out of a rule's prefix (`/grades/../admin` is refused, not matched).
pub fn request_path(uri: &str) -> Option<&str> {
    let path = uri.split(['?', '#']).next().unwrap_or_default();
    let ok = path.starts_with('/')
        && !path.split('/').any(|s| s == ".." || s == ".")
        && !path.contains('\\')
        && !path.to_ascii_lowercase().contains("%2e")
        && !path.to_ascii_lowercase().contains("%2f");
    ok.then_some(path)
}

/// What a service is, to the access rule: its scopes (with who may hold each), its route
/// rules, and whether it takes unscoped tokens.
#[derive(Debug, Clone, Copy)]
pub struct ServicePolicy<'a> {
    pub slug: &'a str,
    pub accept_unscoped: bool,
    /// (scope, holders)
    pub scopes: &'a [(String, Holders)],
    /// Empty: any of the service's scopes opens every request.
    pub rules: &'a [RouteRule],
}

/// The owner facts the access rule needs.
#[derive(Debug, Clone, Copy)]
pub struct OwnerRoles<'a> {
    pub enrollment: &'a [EnrollmentRole],
    pub holds_account_role: bool,
}

/// Why a token does not open this request. A 403 names it for the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denied {
    /// A token without scopes, at a service that takes only tokens scoped to it.
    Unscoped,
    /// The token holds none of this service's scopes (or its owner may hold none of them now).
    NoScopeHere,
    /// The route needs this scope, which the token lacks (or its owner may no longer hold).
    Missing(String),
    /// The service has route rules, and none matches this request.
    NoRule,
}

impl Denied {
    pub fn sentence(&self, slug: &str) -> String {
        match self {
            Denied::Unscoped => format!(
                "This token has no scopes, and the service {slug} takes only tokens limited to its own scopes."
            ),
            Denied::NoScopeHere => format!("This token holds none of the scopes of the service {slug}."),
            Denied::Missing(scope) => {
                format!("This request needs the scope {scope}, which this token lacks.")
            }
            Denied::NoRule => format!("No rule of the service {slug} allows this request."),
        }
    }
}

/// Whether a token with `token_scopes` (empty: unscoped) of an owner with `owner`'s roles
/// may make this request of the service, and if so the service scopes it carries there.
/// The owner's roles count as they are now: a scope they may no longer hold is not theirs.
pub fn access<'p>(
    policy: &'p ServicePolicy<'_>,
    token_scopes: &[&str],
    owner: OwnerRoles<'_>,
    method: &str,
    path: &str,
) -> Result<Vec<&'p str>, Denied> {
    let held_by_owner = |holders: &Holders| holders.admit(owner.enrollment, owner.holds_account_role);
    let granted: Vec<&str> = if token_scopes.is_empty() {
        if !policy.accept_unscoped {
            return Err(Denied::Unscoped);
        }
        policy.scopes.iter().filter(|(_, h)| held_by_owner(h)).map(|(s, _)| s.as_str()).collect()
    } else {
        let own: Vec<&str> = policy
            .scopes
            .iter()
            .filter(|(s, h)| token_scopes.contains(&s.as_str()) && held_by_owner(h))
            .map(|(s, _)| s.as_str())
            .collect();
        if own.is_empty() {
            return Err(Denied::NoScopeHere);
        }
        own
    };
    if policy.rules.is_empty() {
        return Ok(granted);
    }
    let rule = policy.rules.iter().find(|r| r.matches(method, path)).ok_or(Denied::NoRule)?;
    if granted.contains(&rule.scope.as_str()) {
        Ok(granted)
    } else {
        Err(Denied::Missing(rule.scope.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slug() -> Slug {
        Slug::parse("gradebook").unwrap()
    }

    #[test]
    fn slugs_are_short_lower_case_words() {
        assert!(Slug::parse("gradebook").is_ok() && Slug::parse("print-service2").is_ok());
        for bad in ["", "g", "Gradebook", "grade book", "-x", "x-", "1abc", "url", &"a".repeat(41)] {
            assert!(Slug::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn scopes_take_the_slug_as_prefix() {
        assert_eq!(parse_scope(&slug(), "read").unwrap(), "gradebook:read");
        assert_eq!(parse_scope(&slug(), "gradebook:loans.write").unwrap(), "gradebook:loans.write");
        assert!(parse_scope(&slug(), "Read").is_err());
        assert!(parse_scope(&slug(), "").is_err());
        assert!(parse_scope(&slug(), "a b").is_err());
        assert_eq!(
            parse_scope_with_label(&slug(), "read=Read grades").unwrap(),
            ("gradebook:read".into(), "Read grades".into())
        );
        assert_eq!(parse_scope_with_label(&slug(), "read").unwrap().1, "gradebook:read");
    }

    #[test]
    fn holders_limit_who_may_hold_a_scope() {
        let teachers = Holders::parse("teacher, ta admin").unwrap();
        assert!(teachers.admit(&[EnrollmentRole::Teacher], false));
        assert!(teachers.admit(&[], true), "administrators");
        assert!(!teachers.admit(&[EnrollmentRole::Student], false), "students never");
        assert!(Holders::parse("").unwrap().admit(&[EnrollmentRole::Student], false));
        assert_eq!(teachers.to_stored(), "teacher ta admin");
        assert_eq!(Holders::parse(&teachers.to_stored()).unwrap(), teachers);
        assert_eq!(teachers.describe(), "teachers, TAs and administrators");
        assert!(Holders::parse("principal").is_err());
        assert!(!Holders::from_stored("principal").admit(&[EnrollmentRole::Teacher], true), "fail closed");
    }

    #[test]
    fn rules_parse_and_match_as_written() {
        let r = RouteRule::parse(&slug(), "GET /grades/*=gradebook:read").unwrap();
        assert_eq!(r.to_string(), "GET /grades/*=gradebook:read");
        assert!(r.matches("GET", "/grades/42") && r.matches("get", "/grades/42/history"));
        assert!(r.matches("GET", "/grades/"), "anything below");
        assert!(
            !r.matches("GET", "/grades")
                && !r.matches("POST", "/grades/42")
                && !r.matches("GET", "/gradesx/1")
        );
        let any = RouteRule::parse(&slug(), "* /courses/*/export=write").unwrap();
        assert_eq!(any.scope, "gradebook:write");
        assert!(any.matches("POST", "/courses/7/export") && !any.matches("GET", "/courses/7/export/x"));
        assert!(!any.matches("GET", "/courses//export"), "a segment wildcard needs a segment");
        let exact = RouteRule::parse(&slug(), "DELETE /cache=admin").unwrap();
        assert!(exact.matches("DELETE", "/cache") && !exact.matches("DELETE", "/cache/x"));
        for bad in ["GET /x", "/x=read", "GET x=read", "GET /a b=read", "G3T /x=read", "GET /x=Bad Scope"] {
            assert!(RouteRule::parse(&slug(), bad).is_err(), "{bad}");
        }
    }

    /// A gradebook with a read scope for anyone and a write scope for teaching staff.
    fn policy(accept_unscoped: bool, rules: &[&str]) -> ServicePolicy<'static> {
        let scopes = vec![
            ("gradebook:read".to_owned(), Holders::default()),
            ("gradebook:write".to_owned(), Holders::parse("teacher ta admin").unwrap()),
        ];
        let rules: Vec<RouteRule> = rules.iter().map(|r| RouteRule::parse(&slug(), r).unwrap()).collect();
        ServicePolicy { slug: "gradebook", accept_unscoped, scopes: scopes.leak(), rules: rules.leak() }
    }

    const STUDENT: OwnerRoles<'static> =
        OwnerRoles { enrollment: &[EnrollmentRole::Student], holds_account_role: false };
    const TEACHER: OwnerRoles<'static> =
        OwnerRoles { enrollment: &[EnrollmentRole::Teacher], holds_account_role: false };

    #[test]
    fn a_scoped_token_opens_the_routes_its_scopes_name() {
        let p = policy(false, &["GET /grades/*=read", "POST /grades/*=write"]);
        assert_eq!(access(&p, &["gradebook:read"], STUDENT, "GET", "/grades/1"), Ok(vec!["gradebook:read"]));
        assert_eq!(
            access(&p, &["gradebook:read"], STUDENT, "POST", "/grades/1"),
            Err(Denied::Missing("gradebook:write".into()))
        );
        assert_eq!(access(&p, &["gradebook:read"], STUDENT, "GET", "/admin"), Err(Denied::NoRule));
        assert_eq!(access(&p, &["library:read"], TEACHER, "GET", "/grades/1"), Err(Denied::NoScopeHere));
    }

    #[test]
    fn a_scope_its_owner_may_not_hold_opens_nothing() {
        // A student's token that somehow carries gradebook:write (or a teacher's, after
        // the teacher became student-only): the scope is not theirs any more.
        let p = policy(false, &["POST /grades/*=write"]);
        assert_eq!(access(&p, &["gradebook:write"], STUDENT, "POST", "/grades/1"), Err(Denied::NoScopeHere));
        assert!(access(&p, &["gradebook:write"], TEACHER, "POST", "/grades/1").is_ok());
    }

    #[test]
    fn unscoped_tokens_need_the_services_consent() {
        assert_eq!(access(&policy(false, &[]), &[], TEACHER, "GET", "/x"), Err(Denied::Unscoped));
        assert_eq!(
            access(&policy(true, &[]), &[], TEACHER, "GET", "/x"),
            Ok(vec!["gradebook:read", "gradebook:write"])
        );
        assert_eq!(access(&policy(true, &[]), &[], STUDENT, "GET", "/x"), Ok(vec!["gradebook:read"]));
        let p = policy(true, &["POST /grades/*=write"]);
        assert_eq!(
            access(&p, &[], STUDENT, "POST", "/grades/2"),
            Err(Denied::Missing("gradebook:write".into()))
        );
    }

    #[test]
    fn request_paths_cannot_walk_out_of_a_rule() {
        assert_eq!(request_path("/grades/1?x=2"), Some("/grades/1"));
        assert_eq!(request_path("/grades/1#f"), Some("/grades/1"));
        for bad in ["/grades/../admin", "/grades/%2e%2e/admin", "/a%2Fb", "grades", "/a\\b", "/./x"] {
            assert_eq!(request_path(bad), None, "{bad}");
        }
    }
}
