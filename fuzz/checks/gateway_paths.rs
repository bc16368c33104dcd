//! The original request a gateway asks `/auth/verify` about (SPEC 11): its path as the
//! route rules read it (`RequestPath`), the rules an administrator writes (`RouteRule`),
//! and the access rule that judges a request by them.
//!
//! The input: line 0 is a request URI as a gateway forwards it; line 1 a rule as an
//! administrator writes it (`GET /files/*=read`).

use super::{line, text};
use tokenwarden::domain::EnrollmentRole;
use tokenwarden::domain::service::{
    Holders, OwnerRoles, RequestLine, RequestPath, RouteRule, ServicePolicy, Slug, access,
};

/// Private files need admin, the public folder read, the rest of /files admin again, and
/// any method on the reports' segment wildcard read.
const RULES: &[&str] = &[
    "GET /files/private/*=admin",
    "GET /files/public/*=read",
    "GET /files/*=admin",
    "* /reports/*/summary=read",
    "* /reports/*=admin",
];

const TOKENS: &[&[&str]] = &[&["vault:read"], &["vault:admin"], &["vault:read", "vault:admin"]];

const OWNER: OwnerRoles<'static> =
    OwnerRoles { enrollment: &[EnrollmentRole::Teacher], holds_account_role: false };

fn opens(policy: &ServicePolicy<'_>, token: &[&str], uri: &str) -> bool {
    access(policy, token, OWNER, Some(&RequestLine::new("GET", uri))).is_ok()
}

/// The same path, spelled as a client may spell it so that some service reads it as `path`:
/// unreserved characters escaped, slashes doubled, `;` parameters added to each segment.
fn spellings(path: &str) -> Vec<String> {
    // Letters and digits escaped, but not those of an escape already there (`%C3`).
    let mut escaped = String::new();
    let mut in_escape = 0u8;
    for c in path.chars() {
        if c == '%' {
            in_escape = 3;
        }
        if in_escape == 0 && c.is_ascii_alphanumeric() {
            escaped.push_str(&format!("%{:02x}", u32::from(c)));
        } else {
            escaped.push(c);
        }
        in_escape = in_escape.saturating_sub(1);
    }
    let doubled = path.replace('/', "//");
    let params = path.split('/').collect::<Vec<_>>().join(";p/") + ";p";
    let params = params.strip_prefix(";p").unwrap_or(&params).to_owned();
    vec![escaped.clone(), doubled.clone(), params, escaped.replace('/', "//")]
}

pub fn check(data: &[u8]) {
    let s = text(data);
    let (uri, written) = (line(&s, 0), line(&s, 1));
    let slug = Slug::parse("vault").expect("a slug");
    let rules: Vec<RouteRule> =
        RULES.iter().map(|r| RouteRule::parse(slug.as_str(), r).expect("a rule")).collect();
    let scopes =
        [("vault:read".to_owned(), Holders::default()), ("vault:admin".to_owned(), Holders::default())];
    let policy = ServicePolicy { slug: "vault", accept_unscoped: false, scopes: &scopes, rules: &rules };

    if let Ok(path) = RequestPath::parse(uri) {
        let readings: Vec<&str> = path.readings().collect();
        assert!((1..=10).contains(&readings.len()), "{uri:?}: {readings:?}");
        assert_eq!(readings[0], path.canonical());
        for (i, r) in readings.iter().enumerate() {
            assert!(!readings[..i].contains(r), "{uri:?}: {r:?} twice");
            assert!(r.starts_with('/') && r.bytes().all(|b| (0x21..=0x7e).contains(&b)), "{uri:?}: {r:?}");
            assert!(!r.contains(['?', '#', '\\']), "{uri:?}: {r:?}");
            let upper = r.to_ascii_uppercase();
            assert!(
                !upper.contains("%2F") && !upper.contains("%25") && !upper.contains("%5C"),
                "{uri:?}: {r:?}"
            );
            assert!(!r.split('/').any(|seg| seg == "." || seg == ".."), "{uri:?}: {r:?} walks");
            // Judging every reading is closed: a reading has no reading the path lacks.
            let again =
                RequestPath::parse(r).unwrap_or_else(|e| panic!("{uri:?}: reading {r:?} refused: {e:?}"));
            for rr in again.readings() {
                assert!(readings.contains(&rr), "{uri:?}: {r:?} reads as {rr:?}, which {uri:?} does not");
            }
        }
        // The canonical reading is its own only reading.
        let canonical = RequestPath::parse(path.canonical()).expect("the canonical reading parses");
        assert_eq!(canonical.readings().collect::<Vec<_>>(), [path.canonical()], "{uri:?}");
        // Whatever opens the path opens each of its readings.
        for token in TOKENS {
            if opens(&policy, token, uri) {
                for r in &readings {
                    assert!(opens(&policy, token, r), "{token:?} opens {uri:?} but not its reading {r:?}");
                }
            }
        }
        // No other spelling of the canonical path opens more than it: what a service may
        // read as `/files/private/x` needs what `/files/private/x` needs.
        for spelled in spellings(path.canonical()) {
            for token in TOKENS {
                if opens(&policy, token, &spelled) {
                    assert!(
                        opens(&policy, token, path.canonical()),
                        "{token:?} opens {spelled:?} but not {:?}, which a service reads it as",
                        path.canonical()
                    );
                }
            }
        }
    } else {
        // Refused paths open nothing at a service with rules…
        for token in TOKENS {
            assert!(!opens(&policy, token, uri), "{uri:?} was refused yet opened");
        }
    }
    // …and the path decides nothing at a service without them.
    let open = ServicePolicy { rules: &[], ..policy };
    assert!(opens(&open, &["vault:read"], uri));

    if let Ok(rule) = RouteRule::parse(slug.as_str(), written) {
        // A rule's path is in the one reading every service agrees on, and reads back.
        let path = RequestPath::parse(&rule.path).unwrap_or_else(|e| panic!("{written:?}: {e:?}"));
        assert_eq!(path.readings().collect::<Vec<_>>(), [rule.path.as_str()], "{written:?}");
        assert_eq!(RouteRule::parse(slug.as_str(), &rule.to_string()).as_ref(), Ok(&rule), "{written:?}");
        assert!(rule.scope.starts_with("vault:"), "{written:?}");
        // It matches its own path with `*` segments filled in.
        let example =
            rule.path.split('/').map(|s| if s == "*" { "x" } else { s }).collect::<Vec<_>>().join("/");
        if rule.method != "*" {
            assert!(rule.matches(&rule.method, &example), "{written:?} does not match {example:?}");
        }
    }
}
