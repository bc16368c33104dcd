//! The invariants of every parser of untrusted input (issue 12), one module per parser
//! family: `check(data)` feeds the bytes to the parsers and panics if any of them panics or
//! breaks a rule. Shared by the libFuzzer targets (`fuzz/fuzz_targets`, through the
//! `tokenwarden-fuzz` crate) and the property tests of the main crate's `cargo test`
//! (`tests/properties.rs`), which also replay every input in `fuzz/corpus`.
//!
//! A new parser: a module here with its `check`, a line in [`ALL`], a target in
//! `fuzz/fuzz_targets` with its `[[bin]]` in `fuzz/Cargo.toml`, seeds in `fuzz/corpus/NAME`.

pub mod api_json;
pub mod basic_auth;
pub mod expiry;
pub mod forms;
pub mod forwarded_for;
pub mod gateway_paths;
pub mod pagination;
pub mod people_import;
pub mod redirects;
pub mod scim;
pub mod token_fields;
pub mod token_secret;
pub mod user_fields;

use std::borrow::Cow;

use chrono::{Duration, NaiveDate, NaiveDateTime};

/// A parser family's check: panics on an input that breaks a rule.
pub type Check = fn(&[u8]);

/// Every check, by the name of its fuzz target and corpus directory.
pub const ALL: &[(&str, Check)] = &[
    ("api_json", api_json::check),
    ("basic_auth", basic_auth::check),
    ("expiry", expiry::check),
    ("forms", forms::check),
    ("forwarded_for", forwarded_for::check),
    ("gateway_paths", gateway_paths::check),
    ("pagination", pagination::check),
    ("people_import", people_import::check),
    ("redirects", redirects::check),
    ("scim", scim::check),
    ("token_fields", token_fields::check),
    ("token_secret", token_secret::check),
    ("user_fields", user_fields::check),
];

/// The bytes as text, the way a request's field reaches a parser: valid UTF-8 as it is,
/// anything else with its bad bytes replaced by U+FFFD (a multi-byte character, which is
/// exactly what byte-offset slicing trips over).
pub fn text(data: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(data)
}

/// Line `i` of `s` (`""` past the end): targets with several inputs take one per line.
pub fn line(s: &str, i: usize) -> &str {
    s.split('\n').nth(i).unwrap_or("")
}

/// Line `i` read as a number, or `default` when it is missing or not a number.
pub fn number<T: std::str::FromStr>(s: &str, i: usize, default: T) -> T {
    line(s, i).trim().parse().unwrap_or(default)
}

/// The moment the unit tests use, 2026-11-23 10:30 UTC, moved by `offset_secs` (clamped to
/// what chrono can hold).
pub fn now_plus(offset_secs: i64) -> NaiveDateTime {
    let base =
        NaiveDate::from_ymd_opt(2026, 11, 23).and_then(|d| d.and_hms_opt(10, 30, 0)).expect("a real date");
    Duration::try_seconds(offset_secs)
        .and_then(|d| base.checked_add_signed(d))
        .unwrap_or(if offset_secs < 0 { NaiveDateTime::MIN } else { NaiveDateTime::MAX })
}

/// A free-text field as the domain keeps it (purpose, names): the input trimmed, 1 to
/// `max_chars` characters, no control characters.
pub fn assert_clean_text(what: &str, input: &str, kept: &str, max_chars: usize) {
    assert_eq!(kept, input.trim(), "{what}: kept {kept:?} for {input:?}");
    let n = kept.chars().count();
    assert!((1..=max_chars).contains(&n), "{what}: {n} characters in {kept:?}");
    assert!(!kept.chars().any(char::is_control), "{what}: a control character in {kept:?}");
}

/// A path to send a browser to: on this site, so starting with one `/` and not with `//`
/// or `/\` (which browsers read as another host), with no tab or newline (which browsers
/// drop, so `/<TAB>/host` is `//host`) and no `\` in the path (read as `/`).
pub fn assert_local_path(what: &str, input: &str, path: &str) {
    assert!(path.starts_with('/'), "{what}({input:?}) = {path:?}: not a path");
    assert!(
        !path.starts_with("//") && !path.starts_with("/\\"),
        "{what}({input:?}) = {path:?}: another host for a browser"
    );
    assert!(!path.contains(['\t', '\n', '\r']), "{what}({input:?}) = {path:?}: a tab or newline");
    let before_query = path.split(['?', '#']).next().unwrap_or_default();
    assert!(!before_query.contains('\\'), "{what}({input:?}) = {path:?}: a `\\` in the path");
}

/// What the services do with a form's or a request's draft, short of the database: each
/// field through its rule, the expiry for a teacher and for a student-only owner.
pub fn check_draft(draft: &tokenwarden::services::tokens::TokenDraft) {
    use tokenwarden::domain::token::{ExpiryRule, Purpose, Scopes};
    if let Some(p) = &draft.purpose
        && let Ok(purpose) = Purpose::parse(p)
    {
        assert_clean_text("purpose", p, purpose.as_str(), Purpose::MAX_CHARS);
    }
    if let Some(s) = &draft.scopes
        && let Ok(scopes) = Scopes::parse(s, &Default::default())
    {
        assert_eq!(Scopes::from_stored(&scopes.to_stored()), scopes);
    }
    if let Some(Ok(choice)) = &draft.expiry {
        let now = now_plus(0);
        for owner_student_only in [false, true] {
            let rule = ExpiryRule { owner_student_only, student_max_days: 120 };
            if let Ok(Some(at)) = rule.apply(*choice, now) {
                assert!(at > now);
            }
        }
    }
}
