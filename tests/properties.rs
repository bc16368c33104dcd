//! Property tests of every parser of untrusted input (issue 12). The invariants are those
//! of `fuzz/checks`, which the libFuzzer targets of `fuzz/` assert too; here they run in
//! the normal test build over
//! 1. every input of the committed corpus `fuzz/corpus/NAME/`: the seeds, what fuzzing
//!    kept, and each input that once crashed a parser;
//! 2. inputs proptest makes: random bytes, strings of the fragments parsers trip over
//!    (`é`, `İ`, `…`, `/./`, `\`, tabs, huge numbers…), and corpus inputs with random edits.
//!
//! `PROPTEST_CASES` (default 4000) sets how many generated inputs each parser gets. A
//! failure prints the smallest input proptest found: add it to the corpus with the fix.

#[path = "../fuzz/checks/mod.rs"]
mod checks;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, TestRunner};

/// What parsers of text, paths, numbers, dates and JSON trip over.
const FRAGMENTS: &[&str] = &[
    "/",
    "//",
    "\\",
    ".",
    "..",
    "/./",
    "%2e",
    "%2F",
    "%",
    "\t",
    "\n",
    "\r",
    " ",
    "\u{a0}",
    "\0",
    "\u{7f}",
    "é",
    "İ",
    "ß",
    "\u{212a}",
    "\u{307}",
    "…",
    "...",
    "\u{feff}",
    "\u{fffd}",
    "😀",
    ":",
    "@",
    "?",
    "#",
    "&",
    "=",
    "+",
    "-",
    "0",
    "1",
    "9",
    "7",
    "30",
    "120",
    "365",
    "9223372036854775807",
    "-9223372036854775808",
    "99999999999",
    "T",
    "Z",
    "+02:00",
    "-23:59",
    "2027-01-31",
    "T10:00:00",
    ".999",
    "9999-12-31",
    "+262143",
    "null",
    "true",
    "\"",
    "{",
    "}",
    "[",
    "]",
    ",",
    "tw_",
    "custom",
    "never",
    "keep",
    "http:",
    "https://",
    "url:GET|/api/v1/users/:id",
    "token[purpose]",
    "token[expires_at]",
    "token[scopes][]",
    "purpose",
    "expires_in",
    "page",
    "per_page",
    "login,name,email,roles\n",
    "\"",
    "\"\"",
    ";",
    "\r\n",
    "student",
    "Account Admin",
    "Token  viewer",
    "ada@example.edu",
    " eq ",
    " and ",
    " or ",
    "not (",
    "(",
    ")",
    " pr",
    "[",
    "].",
    "urn:ietf:params:scim:schemas:core:2.0:User:",
    "userName",
    "emails[type eq \"work\"].value",
    "members[value eq \"42\"]",
    "{\"op\":\"Replace\",\"path\":",
    "\"Operations\":[",
];

#[derive(Debug, Clone)]
enum Edit {
    Insert(Index, usize),
    Replace(Index, usize),
    Delete(Index, usize),
    Byte(Index, u8),
}

fn edit() -> impl Strategy<Value = Edit> {
    let fragment = 0..FRAGMENTS.len();
    prop_oneof![
        (any::<Index>(), fragment.clone()).prop_map(|(at, f)| Edit::Insert(at, f)),
        (any::<Index>(), fragment).prop_map(|(at, f)| Edit::Replace(at, f)),
        (any::<Index>(), 1..4usize).prop_map(|(at, n)| Edit::Delete(at, n)),
        (any::<Index>(), any::<u8>()).prop_map(|(at, b)| Edit::Byte(at, b)),
    ]
}

fn apply(mut data: Vec<u8>, edits: Vec<Edit>) -> Vec<u8> {
    for e in edits {
        let len = data.len();
        let at = |i: &Index| if len == 0 { 0 } else { i.index(len + 1) };
        match e {
            Edit::Insert(i, f) => {
                let at = at(&i);
                data.splice(at..at, FRAGMENTS[f].bytes());
            }
            Edit::Replace(i, f) => {
                let at = at(&i);
                let end = (at + FRAGMENTS[f].len()).min(len);
                data.splice(at..end, FRAGMENTS[f].bytes());
            }
            Edit::Delete(i, n) => {
                let at = at(&i);
                data.drain(at..(at + n).min(len));
            }
            Edit::Byte(i, b) if len > 0 => data[i.index(len)] = b,
            Edit::Byte(..) => data.push(b'x'),
        }
    }
    data
}

fn inputs(corpus: Vec<Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        1 => prop::collection::vec(any::<u8>(), 0..64),
        1 => prop::collection::vec(prop::sample::select(FRAGMENTS), 0..12).prop_map(|f| f.concat().into_bytes()),
        4 => (prop::sample::select(corpus), prop::collection::vec(edit(), 1..6))
            .prop_map(|(seed, edits)| apply(seed, edits)),
    ]
}

fn corpus_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus").join(name)
}

fn corpus(name: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = corpus_dir(name);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let data = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p, data)
        })
        .collect()
}

fn check(name: &str) -> checks::Check {
    checks::ALL.iter().find(|(n, _)| *n == name).unwrap_or_else(|| panic!("no check {name}")).1
}

fn property(name: &str) {
    let check = check(name);
    let corpus = corpus(name);
    assert!(!corpus.is_empty(), "{name}: an empty corpus");
    for (path, data) in &corpus {
        if catch_unwind(AssertUnwindSafe(|| check(data))).is_err() {
            panic!("{name}: {} breaks the check (its panic is above)", path.display());
        }
    }
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(4000);
    let mut runner = TestRunner::new(Config { cases, failure_persistence: None, ..Config::default() });
    let seeds = corpus.into_iter().map(|(_, data)| data).collect();
    runner
        .run(&inputs(seeds), |data| {
            check(&data);
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{name}: {e}"));
}

macro_rules! properties {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                property(stringify!($name));
            }
        )*
        const TESTED: &[&str] = &[$(stringify!($name)),*];
    };
}

properties!(
    api_json,
    basic_auth,
    expiry,
    forms,
    forwarded_for,
    gateway_paths,
    pagination,
    people_import,
    redirects,
    scim,
    token_fields,
    token_secret,
    user_fields,
);

#[test]
fn every_check_has_a_test_a_fuzz_target_and_a_corpus() {
    let names: Vec<&str> = checks::ALL.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, TESTED, "a check without its test here, or the other way round");
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let manifest = std::fs::read_to_string(fuzz.join("Cargo.toml")).expect("fuzz/Cargo.toml");
    for name in names {
        assert!(fuzz.join(format!("fuzz_targets/{name}.rs")).is_file(), "no fuzz target {name}");
        assert!(manifest.contains(&format!("path = \"fuzz_targets/{name}.rs\"")), "no [[bin]] for {name}");
        assert!(corpus_dir(name).is_dir(), "no corpus for {name}");
    }
}
