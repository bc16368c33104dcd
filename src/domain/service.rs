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

/// What a form's scopes and rules are checked under while the slug typed beside them is
/// not one: every field is checked at once, and the messages read as a pattern
/// ("A scope is SLUG:NAME").
pub const SLUG_STAND_IN: &str = "SLUG";

/// A service scope: `slug:name`, the name 1–40 characters of lower-case letters, digits,
/// `-`, `_` and `.` (`gradebook:read`, `library:loans.write`). `service` is the slug (or
/// [`SLUG_STAND_IN`]).
pub fn parse_scope(service: &str, input: &str) -> Result<String, ValidationError> {
    let s = input.trim();
    let name = if service == SLUG_STAND_IN {
        // Whatever slug it was written under is checked once there is one: its name now.
        s.split_once(':').map_or(s, |(_, name)| name)
    } else {
        s.strip_prefix(service).and_then(|r| r.strip_prefix(':')).unwrap_or(s)
    };
    let ok = (1..=40).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.'));
    if !ok {
        return Err(ValidationError::new(
            "scopes",
            format!(
                "A scope is {service}:NAME, the name 1 to 40 lower-case letters, digits, dots, dashes or underscores."
            ),
        ));
    }
    Ok(format!("{service}:{name}"))
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

    /// `GET /grades/*=gradebook:read` (or `* /admin/*=gradebook:admin`), for the service
    /// `service` (its slug, or [`SLUG_STAND_IN`]).
    pub fn parse(service: &str, input: &str) -> Result<RouteRule, ValidationError> {
        let bad = |why: &str| {
            ValidationError::new(
                Self::FIELD,
                format!("{why} A rule reads like: GET /grades/*={service}:read"),
            )
        };
        let (route, scope) =
            input.trim().rsplit_once('=').ok_or_else(|| bad("A rule names a scope after “=”."))?;
        let (method, path) =
            route.trim().split_once(' ').ok_or_else(|| bad("A rule starts with a method and a path."))?;
        let method = method.trim().to_ascii_uppercase();
        if method != "*"
            && !((1..=10).contains(&method.len()) && method.bytes().all(|b| b.is_ascii_uppercase()))
        {
            return Err(bad("The method is a word such as GET, or * for any."));
        }
        let written = path.trim();
        if !written.starts_with('/')
            || written.len() > 200
            || written.chars().any(|c| c.is_control() || matches!(c, ' ' | '?' | '#'))
        {
            return Err(bad("The path starts with / and has no spaces, query or fragment."));
        }
        // Written as requests carry it: other characters than ASCII as their UTF-8 escapes,
        // and in the one reading every service agrees on (see `RequestPath`), or a rule
        // would match what no request is ever read as.
        let mut encoded = String::with_capacity(written.len());
        for c in written.chars() {
            if c.is_ascii() {
                encoded.push(c);
            } else {
                for b in c.encode_utf8(&mut [0; 4]).bytes() {
                    encoded.push_str(&format!("%{b:02X}"));
                }
            }
        }
        let path = match RequestPath::parse(&encoded) {
            Ok(mut p) if p.readings.len() == 1 => p.readings.remove(0),
            _ => {
                return Err(bad(
                    "Write the path plainly: no empty segment (//), no . or .. segment, no ; parameters, \\ or %25, \
                     no encoded / (%2F), and letters, digits, -, ., _ and ~ as themselves, not escaped.",
                ));
            }
        };
        // Said under the rules, where the rule is: a scope's own refusal is the scopes'.
        let scope =
            parse_scope(service, scope).map_err(|e| bad(&format!("“{}”: {}", scope.trim(), e.message)))?;
        Ok(RouteRule { method, path, scope })
    }

    /// A rule as it was stored, after [`RouteRule::parse`] accepted it: taken as it is, so
    /// that a stricter parser later never drops a stored rule (a dropped rule would let
    /// its requests fall to a broader one).
    pub fn from_stored(method: &str, path: &str, scope: &str) -> RouteRule {
        RouteRule { method: method.to_ascii_uppercase(), path: path.to_owned(), scope: scope.to_owned() }
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

/// Why a request's path is refused outright, at a service with route rules: services behind
/// gateways read such a path in ways no rule can follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OddPath {
    /// No leading `/`: an absolute URI, `*`, nothing.
    NotAPath,
    /// A byte that is not printable ASCII, or an escaped control character (`%00`, `%0A`).
    Unprintable,
    /// A `%` without two hexadecimal digits after it.
    BadEscape,
    /// `%2F`: one segment to some services, two to others.
    EncodedSlash,
    /// `\` or `%5C`: a separator to some services (and to Windows).
    Backslash,
    /// `%25`: an escaped escape; `/%2570rivate` is `/private` to a service that decodes twice.
    DoubleEscape,
    /// A `.` or `..` segment in some reading (`/a/../b`, `/%2e%2e/`, `/..;/`).
    DotSegment,
}

impl OddPath {
    pub fn describe(self) -> &'static str {
        match self {
            OddPath::NotAPath => "it does not start with /",
            OddPath::Unprintable => "it has a character that is not printable ASCII",
            OddPath::BadEscape => "it has a % that is not an escape",
            OddPath::EncodedSlash => "it has an encoded / (%2F)",
            OddPath::Backslash => "it has a \\",
            OddPath::DoubleEscape => "it has an escaped % (%25)",
            OddPath::DotSegment => "it has a . or .. segment",
        }
    }
}

/// The path of a request URI as the route rules judge it (its query and fragment cut off).
///
/// The service behind the gateway reads the path itself, and services disagree: some
/// decode escapes of unreserved characters (`%70` is `p`) before routing and some do not,
/// some merge empty segments (`//`) and some keep them, some cut `;` parameters off each
/// segment (`/a;x/b` is `/a/b` to Tomcat) and some keep them. A rule that matches one
/// reading says nothing about another (and a path may pass through several of them: nginx
/// merging slashes in front of Tomcat cutting parameters), and the first matching rule wins, so a request is
/// judged in **every** reading it has: each must match a rule, and the token must hold
/// every scope those rules need. What no reading can be trusted with is refused
/// ([`OddPath`]). Matching is case-sensitive, as URIs are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestPath {
    /// The distinct readings; first the canonical one: escapes of unreserved characters
    /// decoded, other escapes in upper-case hex, empty segments merged, `;` parameters cut.
    readings: Vec<String>,
}

/// When a reading merges empty segments (`//`): never, before cutting `;` parameters, after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Merge {
    Never,
    BeforeCut,
    AfterCut,
}

/// `ALPHA / DIGIT / "-" / "." / "_" / "~"` (RFC 3986 §2.3): its escape means the character.
fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// One segment as (escapes kept, escapes of unreserved characters decoded), hex in upper case.
fn read_segment(segment: &str) -> Result<(String, String), OddPath> {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let bytes = segment.as_bytes();
    let (mut kept, mut decoded) = (String::with_capacity(bytes.len()), String::with_capacity(bytes.len()));
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'%' => {
                let hex = |at: usize| bytes.get(at).and_then(|h| char::from(*h).to_digit(16));
                let (Some(hi), Some(lo)) = (hex(i + 1), hex(i + 2)) else { return Err(OddPath::BadEscape) };
                let v = (hi * 16 + lo) as u8;
                match v {
                    b'/' => return Err(OddPath::EncodedSlash),
                    b'\\' => return Err(OddPath::Backslash),
                    b'%' => return Err(OddPath::DoubleEscape),
                    v if v < 0x20 || v == 0x7f => return Err(OddPath::Unprintable),
                    _ => {}
                }
                let escape = [b'%', HEX[usize::from(v >> 4)], HEX[usize::from(v & 15)]];
                let escape = std::str::from_utf8(&escape).unwrap_or_default();
                kept.push_str(escape);
                if unreserved(v) {
                    decoded.push(char::from(v));
                } else {
                    decoded.push_str(escape);
                }
                i += 3;
            }
            b'\\' => return Err(OddPath::Backslash),
            0x21..=0x7e => {
                kept.push(char::from(b));
                decoded.push(char::from(b));
                i += 1;
            }
            _ => return Err(OddPath::Unprintable),
        }
    }
    Ok((kept, decoded))
}

impl RequestPath {
    /// The path of `uri` (`/grades/7?term=fall` → `/grades/7`) in each of its readings.
    pub fn parse(uri: &str) -> Result<RequestPath, OddPath> {
        let path = uri.split(['?', '#']).next().unwrap_or_default();
        let Some(rest) = path.strip_prefix('/') else { return Err(OddPath::NotAPath) };
        let mut kept = Vec::new();
        let mut decoded = Vec::new();
        for segment in rest.split('/') {
            let (k, d) = read_segment(segment)?;
            kept.push(k);
            decoded.push(d);
        }
        // Only the ways in which this path can be read differently: escapes of unreserved
        // characters decoded or not; `;` parameters cut or not; empty segments merged not
        // at all, before the cut (nginx's `merge_slashes` in front of Tomcat) or after it.
        let escapes: &[bool] = if kept != decoded { &[true, false] } else { &[true] };
        let last = kept.len() - 1;
        let odd = path.contains(';') || kept[..last].iter().any(String::is_empty);
        let ways: &[(bool, Merge)] = if odd {
            &[
                (true, Merge::AfterCut),
                (true, Merge::BeforeCut),
                (true, Merge::Never),
                (false, Merge::AfterCut),
                (false, Merge::Never),
            ]
        } else {
            &[(true, Merge::AfterCut)]
        };
        let mut readings: Vec<String> = Vec::with_capacity(1);
        for &decode in escapes {
            let segments = if decode { &decoded } else { &kept };
            for &(cut, merge) in ways {
                let mut parts: Vec<&str> = Vec::with_capacity(segments.len());
                for (i, s) in segments.iter().enumerate() {
                    // Merged, there is no empty segment but the last (a trailing `/` stays).
                    if !(merge == Merge::BeforeCut && s.is_empty() && i != last) {
                        parts.push(if cut { s.split(';').next().unwrap_or_default() } else { s });
                    }
                }
                if parts.iter().any(|s| *s == "." || *s == "..") {
                    return Err(OddPath::DotSegment);
                }
                let end = parts.len() - 1;
                let mut reading = String::with_capacity(path.len());
                for (i, s) in parts.iter().enumerate() {
                    if !(merge == Merge::AfterCut && s.is_empty() && i != end) {
                        reading.push('/');
                        reading.push_str(s);
                    }
                }
                if !readings.contains(&reading) {
                    readings.push(reading);
                }
            }
        }
        Ok(RequestPath { readings })
    }

    /// The canonical reading: what most services route.
    pub fn canonical(&self) -> &str {
        &self.readings[0]
    }

    /// Every reading, the canonical one first.
    pub fn readings(&self) -> impl Iterator<Item = &str> {
        self.readings.iter().map(String::as_str)
    }
}

/// The request a gateway asks about: its method, and its path as the rules read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestLine<'a> {
    pub method: &'a str,
    pub path: Result<RequestPath, OddPath>,
}

impl<'a> RequestLine<'a> {
    pub fn new(method: &'a str, uri: &str) -> RequestLine<'a> {
        RequestLine { method, path: RequestPath::parse(uri) }
    }
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
    /// The service has route rules, and none matches this request (in one of its readings).
    NoRule,
    /// The service has route rules, and this request's path is one no rule can judge.
    OddPath(OddPath),
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
            Denied::OddPath(why) => format!(
                "The path of this request is ambiguous ({}): no rule of the service {slug} allows it.",
                why.describe()
            ),
        }
    }
}

/// Whether a token with `token_scopes` (empty: unscoped) of an owner with `owner`'s roles
/// may make this request of the service (`None`: no request, only which scopes the token
/// carries there, as introspection asks), and if so the service scopes it carries there.
/// The owner's roles count as they are now: a scope they may no longer hold is not theirs.
/// With route rules, each reading of the path must match a rule whose scope the token holds.
pub fn access<'p>(
    policy: &'p ServicePolicy<'_>,
    token_scopes: &[&str],
    owner: OwnerRoles<'_>,
    request: Option<&RequestLine<'_>>,
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
    let Some(request) = request else { return Ok(granted) };
    if policy.rules.is_empty() {
        return Ok(granted);
    }
    let path = request.path.as_ref().map_err(|odd| Denied::OddPath(*odd))?;
    for reading in path.readings() {
        let rule = policy.rules.iter().find(|r| r.matches(request.method, reading)).ok_or(Denied::NoRule)?;
        if !granted.contains(&rule.scope.as_str()) {
            return Err(Denied::Missing(rule.scope.clone()));
        }
    }
    Ok(granted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slug() -> &'static str {
        "gradebook"
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
        assert_eq!(parse_scope(slug(), "read").unwrap(), "gradebook:read");
        assert_eq!(parse_scope(slug(), "gradebook:loans.write").unwrap(), "gradebook:loans.write");
        assert!(parse_scope(slug(), "Read").is_err());
        assert!(parse_scope(slug(), "").is_err());
        assert!(parse_scope(slug(), "a b").is_err());
        assert!(parse_scope(slug(), "library:read").is_err(), "another service's scope");
        // Under the stand-in (the slug typed is not one), only the name is checked.
        assert_eq!(parse_scope(SLUG_STAND_IN, "Grade Book:read").unwrap(), "SLUG:read");
        assert!(parse_scope(SLUG_STAND_IN, "gradebook:Read").is_err());
        let refused = RouteRule::parse(slug(), "GET /grades=Read").unwrap_err();
        assert_eq!(refused.field, RouteRule::FIELD, "a rule's scope is refused under the rules");
        assert!(refused.message.starts_with("“Read”: A scope is gradebook:NAME"), "{}", refused.message);
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
        let r = RouteRule::parse(slug(), "GET /grades/*=gradebook:read").unwrap();
        assert_eq!(r.to_string(), "GET /grades/*=gradebook:read");
        assert!(r.matches("GET", "/grades/42") && r.matches("get", "/grades/42/history"));
        assert!(r.matches("GET", "/grades/"), "anything below");
        assert!(
            !r.matches("GET", "/grades")
                && !r.matches("POST", "/grades/42")
                && !r.matches("GET", "/gradesx/1")
        );
        let any = RouteRule::parse(slug(), "* /courses/*/export=write").unwrap();
        assert_eq!(any.scope, "gradebook:write");
        assert!(any.matches("POST", "/courses/7/export") && !any.matches("GET", "/courses/7/export/x"));
        assert!(!any.matches("GET", "/courses//export"), "a segment wildcard needs a segment");
        let exact = RouteRule::parse(slug(), "DELETE /cache=admin").unwrap();
        assert!(exact.matches("DELETE", "/cache") && !exact.matches("DELETE", "/cache/x"));
        for bad in ["GET /x", "/x=read", "GET x=read", "GET /a b=read", "G3T /x=read", "GET /x=Bad Scope"] {
            assert!(RouteRule::parse(slug(), bad).is_err(), "{bad}");
        }
    }

    /// A gradebook with a read scope for anyone and a write scope for teaching staff.
    fn policy(accept_unscoped: bool, rules: &[&str]) -> ServicePolicy<'static> {
        let scopes = vec![
            ("gradebook:read".to_owned(), Holders::default()),
            ("gradebook:write".to_owned(), Holders::parse("teacher ta admin").unwrap()),
        ];
        let rules: Vec<RouteRule> = rules.iter().map(|r| RouteRule::parse(slug(), r).unwrap()).collect();
        ServicePolicy { slug: "gradebook", accept_unscoped, scopes: scopes.leak(), rules: rules.leak() }
    }

    const STUDENT: OwnerRoles<'static> =
        OwnerRoles { enrollment: &[EnrollmentRole::Student], holds_account_role: false };
    const TEACHER: OwnerRoles<'static> =
        OwnerRoles { enrollment: &[EnrollmentRole::Teacher], holds_account_role: false };

    #[test]
    fn a_scoped_token_opens_the_routes_its_scopes_name() {
        let p = policy(false, &["GET /grades/*=read", "POST /grades/*=write"]);
        assert_eq!(ask(&p, &["gradebook:read"], STUDENT, "GET", "/grades/1"), Ok(vec!["gradebook:read"]));
        assert_eq!(
            ask(&p, &["gradebook:read"], STUDENT, "POST", "/grades/1"),
            Err(Denied::Missing("gradebook:write".into()))
        );
        assert_eq!(ask(&p, &["gradebook:read"], STUDENT, "GET", "/admin"), Err(Denied::NoRule));
        assert_eq!(ask(&p, &["library:read"], TEACHER, "GET", "/grades/1"), Err(Denied::NoScopeHere));
    }

    #[test]
    fn a_scope_its_owner_may_not_hold_opens_nothing() {
        // A student's token that somehow carries gradebook:write (or a teacher's, after
        // the teacher became student-only): the scope is not theirs any more.
        let p = policy(false, &["POST /grades/*=write"]);
        assert_eq!(ask(&p, &["gradebook:write"], STUDENT, "POST", "/grades/1"), Err(Denied::NoScopeHere));
        assert!(ask(&p, &["gradebook:write"], TEACHER, "POST", "/grades/1").is_ok());
    }

    #[test]
    fn unscoped_tokens_need_the_services_consent() {
        assert_eq!(ask(&policy(false, &[]), &[], TEACHER, "GET", "/x"), Err(Denied::Unscoped));
        assert_eq!(
            ask(&policy(true, &[]), &[], TEACHER, "GET", "/x"),
            Ok(vec!["gradebook:read", "gradebook:write"])
        );
        assert_eq!(ask(&policy(true, &[]), &[], STUDENT, "GET", "/x"), Ok(vec!["gradebook:read"]));
        let p = policy(true, &["POST /grades/*=write"]);
        assert_eq!(
            ask(&p, &[], STUDENT, "POST", "/grades/2"),
            Err(Denied::Missing("gradebook:write".into()))
        );
    }

    /// `access` for `method uri`, as a gateway asks it.
    fn ask<'p>(
        p: &'p ServicePolicy<'_>,
        scopes: &[&str],
        owner: OwnerRoles<'_>,
        method: &str,
        uri: &str,
    ) -> Result<Vec<&'p str>, Denied> {
        access(p, scopes, owner, Some(&RequestLine::new(method, uri)))
    }

    fn readings(uri: &str) -> Vec<String> {
        RequestPath::parse(uri).unwrap().readings().map(str::to_owned).collect()
    }

    #[test]
    fn a_plain_path_has_one_reading_without_its_query() {
        assert_eq!(readings("/grades/1?x=2"), ["/grades/1"]);
        assert_eq!(readings("/grades/1#f"), ["/grades/1"]);
        assert_eq!(readings("/grades/"), ["/grades/"], "a trailing / stays");
        assert_eq!(readings("/"), ["/"]);
        assert_eq!(readings("/caf%c3%a9/a%20b"), ["/caf%C3%A9/a%20b"], "escapes in upper-case hex");
        assert_eq!(RequestPath::parse("/x").unwrap().canonical(), "/x");
    }

    #[test]
    fn escapes_of_unreserved_characters_are_read_both_decoded_and_as_sent() {
        assert_eq!(readings("/files/%70rivate/x"), ["/files/private/x", "/files/%70rivate/x"]);
        assert_eq!(readings("/a%7e%2D%5f%2E"), ["/a~-_.", "/a%7E%2D%5F%2E"]);
        // Other escapes are not the character: kept, in upper-case hex.
        assert_eq!(readings("/a%3b%3f%23"), ["/a%3B%3F%23"]);
    }

    #[test]
    fn empty_segments_are_read_both_merged_and_kept() {
        assert_eq!(readings("/files//private/x"), ["/files/private/x", "/files//private/x"]);
        assert_eq!(readings("//x"), ["/x", "//x"]);
        assert_eq!(readings("/x//"), ["/x/", "/x//"]);
    }

    #[test]
    fn path_parameters_are_read_both_cut_and_kept() {
        assert_eq!(readings("/files/private;v=1/x"), ["/files/private/x", "/files/private;v=1/x"]);
        // Cut, `;x` leaves an empty segment: merged and kept too.
        assert_eq!(readings("/a/;x/b"), ["/a/b", "/a//b", "/a/;x/b"]);
        assert_eq!(readings("/a;x"), ["/a", "/a;x"]);
        // Merged before the cut (nginx in front of Tomcat), after it, or not at all.
        assert_eq!(readings("//;x/b"), ["/b", "//b", "///b", "/;x/b", "//;x/b"]);
    }

    #[test]
    fn paths_no_reading_can_be_trusted_with_are_refused() {
        for (uri, why) in [
            ("grades", OddPath::NotAPath),
            ("", OddPath::NotAPath),
            ("*", OddPath::NotAPath),
            ("http://x/grades", OddPath::NotAPath),
            ("/grades/../admin", OddPath::DotSegment),
            ("/grades/%2e%2e/admin", OddPath::DotSegment),
            ("/grades/.%2E/admin", OddPath::DotSegment),
            ("/./x", OddPath::DotSegment),
            ("/x/.", OddPath::DotSegment),
            ("/grades/..;/admin", OddPath::DotSegment),
            ("/grades/.;x/admin", OddPath::DotSegment),
            ("/a%2Fb", OddPath::EncodedSlash),
            ("/a%2fb", OddPath::EncodedSlash),
            ("/a\\b", OddPath::Backslash),
            ("/a%5cb", OddPath::Backslash),
            ("/%2570rivate", OddPath::DoubleEscape),
            ("/a%", OddPath::BadEscape),
            ("/a%7", OddPath::BadEscape),
            ("/a%zz", OddPath::BadEscape),
            ("/a%00b", OddPath::Unprintable),
            ("/a%0Ab", OddPath::Unprintable),
            ("/a%7fb", OddPath::Unprintable),
            ("/a b", OddPath::Unprintable),
            ("/a\tb", OddPath::Unprintable),
            ("/café", OddPath::Unprintable),
        ] {
            assert_eq!(RequestPath::parse(uri), Err(why), "{uri:?}");
        }
    }

    /// The vault of the review: private files need admin, everything else below /files read.
    fn vault() -> ServicePolicy<'static> {
        let slug = Slug::parse("vault").unwrap();
        let scopes = vec![
            ("vault:read".to_owned(), Holders::default()),
            ("vault:admin".to_owned(), Holders::default()),
        ];
        let rules: Vec<RouteRule> =
            ["GET /files/private/*=admin", "GET /files/public/*=read", "GET /files/*=admin"]
                .iter()
                .map(|r| RouteRule::parse(slug.as_str(), r).unwrap())
                .collect();
        ServicePolicy { slug: "vault", accept_unscoped: false, scopes: scopes.leak(), rules: rules.leak() }
    }

    #[test]
    fn no_spelling_of_a_path_slips_past_a_more_specific_rule() {
        let p = vault();
        let admin = Err(Denied::Missing("vault:admin".into()));
        assert_eq!(ask(&p, &["vault:read"], TEACHER, "GET", "/files/private/report"), admin);
        assert!(ask(&p, &["vault:read"], TEACHER, "GET", "/files/public/report").is_ok());
        for uri in [
            // Decoded by the service: private.
            "/files/%70rivate/report",
            "/files/PRIVATE/../private/report",
            // Merged by the service: private.
            "/files//private/report",
            "//files/private/report",
            // Cut by the service: private.
            "/files/private;x=1/report",
            "/files/private;/report",
            // Read literally by the service: not the public folder, so the catch-all's admin.
            "/files/public;x/report",
            "/files//public/report",
            "/files/%70ublic/report",
            "/files/public/../private/report",
        ] {
            let got = ask(&p, &["vault:read"], TEACHER, "GET", uri);
            assert!(got.is_err(), "{uri}: a read-only token got through: {got:?}");
        }
        // The token that holds both opens every reading.
        for uri in ["/files/%70rivate/report", "/files//public/report", "/files/public;x/report"] {
            assert!(ask(&p, &["vault:read", "vault:admin"], TEACHER, "GET", uri).is_ok(), "{uri}");
        }
        // An odd path is refused with its reason, at a service with rules only.
        assert_eq!(
            ask(&p, &["vault:admin"], TEACHER, "GET", "/files/%2e%2e/x"),
            Err(Denied::OddPath(OddPath::DotSegment))
        );
        let open = ServicePolicy { rules: &[], ..vault() };
        assert!(ask(&open, &["vault:read"], TEACHER, "GET", "/files/%2e%2e/x").is_ok());
    }

    #[test]
    fn matching_is_case_sensitive() {
        let p = vault();
        // `/Files/…` is no path of the rules: refused, never the broader rule.
        assert_eq!(ask(&p, &["vault:admin"], TEACHER, "GET", "/Files/private/x"), Err(Denied::NoRule));
        assert!(ask(&p, &["vault:admin"], TEACHER, "get", "/files/private/x").is_ok(), "methods are words");
    }

    #[test]
    fn introspection_asks_no_route() {
        let p = vault();
        assert_eq!(access(&p, &["vault:read"], TEACHER, None), Ok(vec!["vault:read"]));
    }

    #[test]
    fn rules_are_written_in_the_one_reading_every_service_agrees_on() {
        let s = Slug::parse("vault").unwrap();
        let rule = |r: &str| RouteRule::parse(s.as_str(), r).map(|r| r.path);
        assert_eq!(rule("GET /café/*=read").unwrap(), "/caf%C3%A9/*", "escaped as requests carry it");
        assert_eq!(rule("GET /a%c3%a9=read").unwrap(), "/a%C3%A9");
        assert_eq!(rule("GET /files/=read").unwrap(), "/files/");
        for bad in [
            "GET /files//private/*=read",
            "GET /files/private;x/*=read",
            "GET /files/%70rivate/*=read",
            "GET /files/../x=read",
            "GET /files/./x=read",
            "GET /a%2Fb=read",
            "GET /a%25=read",
            "GET /a\\b=read",
            "GET /a#b=read",
            "** /a=read",
            "G*T /a=read",
        ] {
            assert!(RouteRule::parse(s.as_str(), bad).is_err(), "{bad}");
        }
        // Stored rules are taken as they are, whatever the parser says today.
        let stored = RouteRule::from_stored("get", "/files//private/*", "vault:admin");
        assert_eq!((stored.method.as_str(), stored.path.as_str()), ("GET", "/files//private/*"));
    }
}
