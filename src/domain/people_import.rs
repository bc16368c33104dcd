//! A CSV file of people to import (SPEC 12): a header naming the columns `login`, `name`,
//! `email` and `roles`, then one person per line. Read here and each line judged on its
//! own: its fields by the same rules as every other door, its roles against the account's
//! roles and the grant rule (SPEC 2), its login against the other lines. What the lines
//! would change, and whether the actor may change those people, needs the database: the
//! service (`services::import`) decides that.
//!
//! The roles field lists roles separated by `;` or by spaces: enrollment role keys
//! (`student`, `teacher`, `ta`, `designer`, `observer`) and account role names, which may
//! themselves contain spaces (`teacher Account Admin` is Teacher and Account Admin).

use std::collections::HashMap;

use super::authority::{RoleFacts, may_grant};
use super::{DisplayName, Email, EnrollmentRole, Login, PermissionSet, ValidationError};

/// The largest file read: about ten thousand people.
pub const MAX_BYTES: usize = 1024 * 1024;
/// The most people in one file: one transaction applies them all.
pub const MAX_PEOPLE: usize = 5_000;
/// The columns, as the header names them (in any order).
pub const COLUMNS: [&str; 4] = ["login", "name", "email", "roles"];
/// What a file starts with.
pub const HEADER: &str = "login,name,email,roles";

/// A line that reads: the person it describes, every field parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// The line of the file the person's record starts on (the header is line 1).
    pub line: u64,
    pub login: Login,
    pub name: DisplayName,
    pub email: Email,
    /// Sorted, each once.
    pub enrollment: Vec<EnrollmentRole>,
    /// Account role ids, sorted, each once.
    pub account_roles: Vec<i64>,
}

/// A line that does not, with every reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLine {
    pub line: u64,
    /// The login as the line wrote it (at most 64 characters), to find the line by.
    pub login: String,
    pub reasons: Vec<String>,
}

/// What a file says: the people of its good lines and its bad lines, in file order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Roster {
    pub people: Vec<Person>,
    pub bad: Vec<BadLine>,
}

/// Why a file cannot be read at all, so that no line can be judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileProblem(pub String);

impl std::fmt::Display for FileProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for FileProblem {}

/// At most `n` characters of `s`, with an ellipsis when cut: enough to recognise a value.
fn shown(s: &str, n: usize) -> String {
    let s = s.trim();
    if s.chars().count() <= n { s.to_owned() } else { s.chars().take(n).collect::<String>() + "…" }
}

/// The text of the file: UTF-8 (a byte-order mark is dropped).
fn text(bytes: &[u8]) -> Result<&str, FileProblem> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    std::str::from_utf8(bytes).map_err(|e| {
        let line = 1 + bytes[..e.valid_up_to()].iter().filter(|b| **b == b'\n').count();
        FileProblem(format!(
            "Line {line} is not UTF-8 text. Save the file as “CSV UTF-8” (in a spreadsheet: \
             Save as… or Download as… CSV UTF-8) and upload it again."
        ))
    })
}

/// Reads the file and judges each line: `roles` are the account's account roles, `actor`
/// the permissions of whoever imports (they may give only roles within them).
pub fn read(bytes: &[u8], roles: &[RoleFacts<'_>], actor: PermissionSet) -> Result<Roster, FileProblem> {
    if bytes.len() > MAX_BYTES {
        return Err(FileProblem(format!(
            "The file is larger than {} KiB: split it into smaller files and import them one after another.",
            MAX_BYTES / 1024
        )));
    }
    let text = text(bytes)?;
    if text.trim().is_empty() {
        return Err(FileProblem(format!("The file is empty. Its first line is the header {HEADER}.")));
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::None)
        .from_reader(text.as_bytes());

    let starts = line_starts(text);
    let line_at = |p: Option<&csv::Position>| {
        // A record's position may be the end of the previous record's terminator (the `\n`
        // of a `\r\n`): its own first byte is past any line break.
        let mut at = p.map_or(0, csv::Position::byte) as usize;
        while matches!(text.as_bytes().get(at), Some(b'\r' | b'\n')) {
            at += 1;
        }
        line_of(&starts, at as u64)
    };
    let mut order: Option<[usize; 4]> = None;
    let mut lines: Vec<Result<Person, BadLine>> = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = line_at(e.position());
                lines.push(Err(BadLine {
                    line,
                    login: String::new(),
                    reasons: vec![format!("The line cannot be read as CSV: {e}.")],
                }));
                continue;
            }
        }
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        let line = line_at(record.position());
        let Some(order) = order else {
            order = Some(header(&record)?);
            continue;
        };
        if lines.len() >= MAX_PEOPLE {
            return Err(FileProblem(format!(
                "The file lists more than {MAX_PEOPLE} people: split it into smaller files and import them one after another."
            )));
        }
        lines.push(person(line, &record, order, roles, actor));
    }
    if order.is_none() {
        return Err(FileProblem(format!("The file is empty. Its first line is the header {HEADER}.")));
    }
    Ok(without_duplicates(lines))
}

/// Where each line of `text` starts, as an editor counts lines: after `\n`, `\r\n`, or a
/// `\r` alone (which also ends a CSV record).
fn line_starts(text: &str) -> Vec<u64> {
    let bytes = text.as_bytes();
    let mut starts = vec![0u64];
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'\n' || (*b == b'\r' && bytes.get(i + 1) != Some(&b'\n')) {
            starts.push(i as u64 + 1);
        }
    }
    starts
}

/// The line (from 1) that byte `at` is on.
fn line_of(starts: &[u64], at: u64) -> u64 {
    starts.partition_point(|s| *s <= at) as u64
}

/// Where each column is, from the header line.
fn header(record: &csv::StringRecord) -> Result<[usize; 4], FileProblem> {
    let names: Vec<String> = record.iter().map(|f| f.trim().to_lowercase()).collect();
    let mut order = [0usize; 4];
    for (i, column) in COLUMNS.iter().enumerate() {
        let mut at = names.iter().enumerate().filter(|(_, n)| n == column);
        match (at.next(), at.next()) {
            (Some((j, _)), None) => order[i] = j,
            _ => {
                return Err(FileProblem(format!(
                    "The first line must be the header {HEADER} (the four column names, separated by \
                     commas); it is “{}”.",
                    shown(&record.iter().collect::<Vec<_>>().join(","), 80)
                )));
            }
        }
    }
    if names.len() != COLUMNS.len() {
        return Err(FileProblem(format!(
            "The header names {} columns; a file has exactly these four: {HEADER}.",
            names.len()
        )));
    }
    Ok(order)
}

/// One line, judged on its own.
fn person(
    line: u64,
    record: &csv::StringRecord,
    order: [usize; 4],
    roles: &[RoleFacts<'_>],
    actor: PermissionSet,
) -> Result<Person, BadLine> {
    let field = |i: usize| record.get(order[i]).unwrap_or("");
    let login_typed = shown(field(0), 64);
    if record.len() != COLUMNS.len() {
        return Err(BadLine {
            line,
            login: if record.len() > order[0] { login_typed } else { String::new() },
            reasons: vec![format!(
                "It has {} fields; a line has 4 ({HEADER}). A name or roles with a comma go in double quotes.",
                record.len()
            )],
        });
    }
    let mut reasons = Vec::new();
    let login = kept(Login::parse(field(0)), field(0), &mut reasons);
    let name = kept(DisplayName::parse(field(1)), field(1), &mut reasons);
    let email = kept(Email::parse(field(2)), field(2), &mut reasons);
    let wanted = parse_roles(field(3), roles);
    for unknown in &wanted.unknown {
        reasons.push(format!(
            "Unknown role “{}”: roles are student, teacher, ta, designer, observer{}.",
            shown(unknown, 40),
            account_role_names(roles)
        ));
    }
    for facts in roles.iter().filter(|r| wanted.account.contains(&r.id)) {
        if let Err(refusal) = may_grant(actor, facts) {
            reasons.push(refusal.0);
        }
    }
    match (login, name, email) {
        (Some(login), Some(name), Some(email)) if reasons.is_empty() => Ok(Person {
            line,
            login,
            name,
            email,
            enrollment: wanted.enrollment,
            account_roles: wanted.account,
        }),
        _ => Err(BadLine { line, login: login_typed, reasons }),
    }
}

/// The parsed value, or the reason it is refused (naming the field and what was typed).
fn kept<T>(parsed: Result<T, ValidationError>, typed: &str, reasons: &mut Vec<String>) -> Option<T> {
    match parsed {
        Ok(v) => Some(v),
        Err(e) if typed.trim().is_empty() => {
            reasons.push(format!("{}: {}", e.field, e.message));
            None
        }
        Err(e) => {
            reasons.push(format!("{} “{}”: {}", e.field, shown(typed, 40), e.message));
            None
        }
    }
}

/// ", or an account role: Account Admin, Auditor" — what else the roles field may name.
fn account_role_names(roles: &[RoleFacts<'_>]) -> String {
    if roles.is_empty() {
        return String::new();
    }
    let names: Vec<&str> = roles.iter().map(|r| r.name).collect();
    format!(", or an account role ({})", names.join(", "))
}

/// Every line whose login another line has too is bad, naming the other lines: which of
/// them is right, only the person who made the file knows.
fn without_duplicates(lines: Vec<Result<Person, BadLine>>) -> Roster {
    let key_of = |l: &Result<Person, BadLine>| match l {
        Ok(p) => (p.line, Some(p.login.as_str().to_owned())),
        Err(b) => (b.line, Login::parse(&b.login).ok().map(|l| l.as_str().to_owned())),
    };
    let mut at: HashMap<String, Vec<u64>> = HashMap::new();
    for (line, key) in lines.iter().map(key_of) {
        if let Some(key) = key {
            at.entry(key).or_default().push(line);
        }
    }
    let mut roster = Roster::default();
    for l in lines {
        let (line, key) = key_of(&l);
        let others: Vec<String> = key
            .as_ref()
            .and_then(|k| at.get(k))
            .map(|v| v.iter().filter(|n| **n != line).map(u64::to_string).collect())
            .unwrap_or_default();
        let duplicate = (!others.is_empty()).then(|| {
            format!(
                "The login “{}” is also on line{} {}: each person once.",
                key.as_deref().unwrap_or_default(),
                if others.len() == 1 { "" } else { "s" },
                others.join(", ")
            )
        });
        match (l, duplicate) {
            (Ok(p), None) => roster.people.push(p),
            (Ok(p), Some(why)) => roster.bad.push(BadLine {
                line: p.line,
                login: p.login.as_str().to_owned(),
                reasons: vec![why],
            }),
            (Err(mut b), why) => {
                b.reasons.extend(why);
                roster.bad.push(b);
            }
        }
    }
    roster
}

/// The roles a roles field names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WantedRoles {
    /// Sorted, each once.
    pub enrollment: Vec<EnrollmentRole>,
    /// Account role ids, sorted, each once.
    pub account: Vec<i64>,
    /// What names no role, as written.
    pub unknown: Vec<String>,
}

/// Lower case, single spaces: how role names compare.
fn normal(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

/// The roles of a roles field: items separated by `;`, each an enrollment role key or an
/// account role name; within an item, words separated by spaces are read as the longest
/// role names they make (`teacher Account Admin`), and words that make none are unknown.
pub fn parse_roles(field: &str, roles: &[RoleFacts<'_>]) -> WantedRoles {
    enum Known {
        Enrollment(EnrollmentRole),
        Account(i64),
    }
    let find = |words: &str| -> Option<Known> {
        let n = normal(words);
        EnrollmentRole::parse(&n)
            .map(Known::Enrollment)
            .or_else(|| roles.iter().find(|r| normal(r.name) == n).map(|r| Known::Account(r.id)))
    };
    let mut out = WantedRoles::default();
    for item in field.split(';') {
        let words: Vec<&str> = item.split_whitespace().collect();
        let mut unknown: Vec<&str> = Vec::new();
        let mut i = 0;
        while i < words.len() {
            let found =
                (i + 1..=words.len()).rev().find_map(|j| find(&words[i..j].join(" ")).map(|k| (j, k)));
            match found {
                Some((j, known)) => {
                    if !unknown.is_empty() {
                        out.unknown.push(unknown.join(" "));
                        unknown.clear();
                    }
                    match known {
                        Known::Enrollment(r) => out.enrollment.push(r),
                        Known::Account(id) => out.account.push(id),
                    }
                    i = j;
                }
                None => {
                    unknown.push(words[i]);
                    i += 1;
                }
            }
        }
        if !unknown.is_empty() {
            out.unknown.push(unknown.join(" "));
        }
    }
    out.enrollment.sort();
    out.enrollment.dedup();
    out.account.sort_unstable();
    out.account.dedup();
    out
}

/// The name an import is shown and audited under: the uploaded file's, without control or
/// text-direction characters (`grades\u{202E}vsc.exe` must not read as another name), at
/// most 120 characters; "pasted lines" when there is none.
pub fn file_label(uploaded: &str) -> String {
    let name: String =
        uploaded.trim().chars().filter(|c| !super::text::is_forbidden_in_text(*c)).take(120).collect();
    if name.is_empty() { "pasted lines".to_owned() } else { name }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Permission;

    fn catalogue() -> Vec<RoleFacts<'static>> {
        vec![
            RoleFacts { id: 1, name: "Account Admin", permissions: PermissionSet::all(), built_in: true },
            RoleFacts {
                id: 2,
                name: "Token viewer",
                permissions: [Permission::ViewTokens].into_iter().collect(),
                built_in: false,
            },
        ]
    }

    fn read_all(csv: &str) -> Roster {
        read(csv.as_bytes(), &catalogue(), PermissionSet::all()).expect("a readable file")
    }

    #[test]
    fn good_lines_become_people_with_their_roles() {
        let roster = read_all(
            "login,name,email,roles\n\
             Ada,Ada Lovelace,ada@example.edu,teacher\n\
             sam,\"Student, Sam\",sam@example.edu,student\n\
             root,Root,root@example.edu,teacher;Account Admin\n\
             nobody,No Roles,nobody@example.edu,\n",
        );
        assert!(roster.bad.is_empty(), "{:?}", roster.bad);
        let lines: Vec<(u64, &str)> = roster.people.iter().map(|p| (p.line, p.login.as_str())).collect();
        assert_eq!(lines, [(2, "ada"), (3, "sam"), (4, "root"), (5, "nobody")]);
        assert_eq!(roster.people[1].name.as_str(), "Student, Sam");
        assert_eq!(roster.people[2].enrollment, [EnrollmentRole::Teacher]);
        assert_eq!(roster.people[2].account_roles, [1]);
        assert!(roster.people[3].enrollment.is_empty() && roster.people[3].account_roles.is_empty());
    }

    #[test]
    fn the_columns_may_come_in_any_order_and_a_bom_and_blank_lines_are_ignored() {
        let roster = read_all("\u{feff}Email, Login ,ROLES,name\r\n\r\nada@example.edu,ada,TA,Ada\r\n");
        assert_eq!(roster.people.len(), 1, "{roster:?}");
        assert_eq!(roster.people[0].line, 3);
        assert_eq!(roster.people[0].email.as_str(), "ada@example.edu");
        assert_eq!(roster.people[0].enrollment, [EnrollmentRole::Ta]);
    }

    #[test]
    fn roles_are_separated_by_semicolons_or_spaces_and_names_may_have_spaces() {
        let c = catalogue();
        let r = parse_roles("teacher Account Admin; ta  student;token VIEWER", &c);
        assert_eq!(r.enrollment, [EnrollmentRole::Student, EnrollmentRole::Teacher, EnrollmentRole::Ta]);
        assert_eq!(r.account, [1, 2]);
        assert!(r.unknown.is_empty());
        let r = parse_roles("student headmaster of things; Account Admn", &c);
        assert_eq!(r.enrollment, [EnrollmentRole::Student]);
        assert_eq!(r.unknown, ["headmaster of things", "Account Admn"]);
        assert_eq!(parse_roles(" ; ", &c), WantedRoles::default());
    }

    #[test]
    fn every_bad_line_is_named_by_its_number_with_each_reason() {
        let roster = read_all(
            "login,name,email,roles\n\
             ada,Ada,ada@example.edu,teacher\n\
             bob,Bob,not-an-email,student\n\
             cy,Cy,cy@example.edu,headmaster\n\
             d d,Dee,dee@example.edu,student\n\
             eve,Eve,eve@example.edu\n\
             ,,,\n\
             \"multi\nline\",Quoted,q@example.edu,student\n\
             zed,Zed,zed@example.edu,student\n",
        );
        let bad: Vec<(u64, &str)> = roster.bad.iter().map(|b| (b.line, b.login.as_str())).collect();
        assert_eq!(bad, [(3, "bob"), (4, "cy"), (5, "d d"), (6, "eve"), (8, "multi\nline")]);
        assert!(roster.bad[0].reasons[0].starts_with("email “not-an-email”"), "{:?}", roster.bad[0]);
        assert!(roster.bad[1].reasons[0].contains("Unknown role “headmaster”"));
        assert!(roster.bad[1].reasons[0].contains("Account Admin, Token viewer"));
        assert!(roster.bad[2].reasons[0].starts_with("login “d d”"));
        assert!(roster.bad[3].reasons[0].contains("It has 3 fields"));
        let good: Vec<u64> = roster.people.iter().map(|p| p.line).collect();
        assert_eq!(good, [2, 10], "a record spanning lines 8–9 is numbered by where it starts");
    }

    #[test]
    fn a_login_twice_in_the_file_makes_every_such_line_bad() {
        let roster = read_all(
            "login,name,email,roles\nsam,Sam,sam@example.edu,student\nada,Ada,ada@example.edu,\n\
             SAM,Sam Again,sam2@example.edu,teacher\nsam,Sam Thrice,bad,student\n",
        );
        assert_eq!(roster.people.iter().map(|p| p.line).collect::<Vec<_>>(), [3]);
        let bad: Vec<(u64, &Vec<String>)> = roster.bad.iter().map(|b| (b.line, &b.reasons)).collect();
        assert_eq!(bad[0], (2, &vec!["The login “sam” is also on lines 4, 5: each person once.".to_owned()]));
        assert_eq!(bad[1].0, 4);
        assert_eq!(bad[2].0, 5);
        assert_eq!(bad[2].1.len(), 2, "its own email, and the duplicate: {:?}", bad[2].1);
    }

    #[test]
    fn a_role_the_actor_may_not_give_is_a_bad_line() {
        let users_manage: PermissionSet = [Permission::ManageUsers].into_iter().collect();
        let roster = read(
            b"login,name,email,roles\nroot,Root,root@example.edu,Account Admin\nsam,Sam,sam@example.edu,student\n",
            &catalogue(),
            users_manage,
        )
        .unwrap();
        assert_eq!(roster.people.len(), 1);
        assert_eq!(roster.bad[0].line, 2);
        assert!(roster.bad[0].reasons[0].contains("You cannot give or take away the role “Account Admin”"));
    }

    #[test]
    fn files_that_cannot_be_read_say_why() {
        let read = |b: &[u8]| read(b, &catalogue(), PermissionSet::all()).unwrap_err().0;
        assert!(read(b"").contains("empty"));
        assert!(read(b" \n\n").contains("empty"));
        assert!(read(b"login;name;email;roles\nsam;Sam;sam@example.edu;student\n").contains("header"));
        assert!(read(b"login,name,email\n").contains("header"));
        assert!(read(b"login,name,email,roles,extra\n").contains("exactly these four"));
        assert!(
            read(b"login,name,email,roles\nsam,S\xe9bastien,s@example.edu,\n")
                .contains("Line 2 is not UTF-8")
        );
        assert!(read(&vec![b'a'; MAX_BYTES + 1]).contains("larger than"));
        let many = format!("{HEADER}\n{}", "x,X,x@example.edu,\n".repeat(MAX_PEOPLE + 1));
        assert!(read(many.as_bytes()).contains("more than"));
    }

    #[test]
    fn lines_are_numbered_as_an_editor_numbers_them_whatever_ends_them() {
        // Found by the property test: a `\r` alone ends a record, and two records were
        // both "line 2" when only `\n` was counted.
        let roster =
            read_all("login,name,email,roles\rada,Ada,ada@example.edu,\r\nbo\rb,Bob,b@example.edu,\n");
        let good: Vec<u64> = roster.people.iter().map(|p| p.line).collect();
        let bad: Vec<u64> = roster.bad.iter().map(|b| b.line).collect();
        assert_eq!((good, bad), (vec![2, 4], vec![3]), "`bo` alone on line 3, `b,…` on line 4");
    }

    #[test]
    fn a_header_alone_lists_nobody() {
        assert_eq!(read_all("login,name,email,roles\n"), Roster::default());
    }

    #[test]
    fn a_file_name_keeps_no_control_or_direction_characters() {
        assert_eq!(file_label("grades\u{202E}vsc.exe"), "gradesvsc.exe");
        assert_eq!(file_label(" people\u{2066}.csv\r\n"), "people.csv");
        assert_eq!(file_label("\u{202D}"), "pasted lines");
        assert_eq!(file_label(&"é".repeat(200)).chars().count(), 120);
    }
}
