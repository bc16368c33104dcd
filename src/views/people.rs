//! The people's administration as pages and the command line show it: a one-time link to
//! set a password, and the preview of an import.

use serde::{Deserialize, Serialize};

use crate::services::import::{FieldChange, Plan, Summary};

/// A one-time link to set a password, shown once to the administrator who made it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LinkView {
    /// The whole link, to copy and hand over.
    pub url: String,
    pub name: String,
    /// "4 Mar 2027, 09:05 UTC"
    pub expires: String,
    /// How many older links stopped working.
    pub replaced: usize,
    /// The user was just created (else: a fresh link for someone who exists).
    pub new_user: bool,
}

/// One line of a preview.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviewRow {
    pub line: u64,
    pub login: String,
    pub name: String,
    pub email: String,
    pub roles: String,
    /// For a change: each field that changes, with its value before and after.
    pub changes: Vec<(&'static str, String, String)>,
    /// For a change that makes them student-only: what it does to their tokens ("2 tokens
    /// shortened to the student maximum of 120 days"), else empty.
    pub caps: String,
}

/// A bad line: its number, its login as written, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRow {
    pub line: u64,
    pub login: String,
    pub reasons: Vec<String>,
}

/// The preview of an import.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanView {
    pub create: Vec<PreviewRow>,
    pub change: Vec<PreviewRow>,
    pub unchanged: Vec<PreviewRow>,
    pub bad: Vec<BadRow>,
    /// Tokens shortened in all, and whose.
    pub capped_tokens: usize,
    pub capped_people: usize,
    pub student_max_days: i32,
}

impl PlanView {
    pub fn of(plan: &Plan) -> PlanView {
        let row = |p: &crate::domain::people_import::Person, changes, caps: usize| PreviewRow {
            line: p.line,
            login: p.login.as_str().to_owned(),
            name: p.name.as_str().to_owned(),
            email: p.email.as_str().to_owned(),
            roles: plan.roles_of(p),
            changes,
            caps: match caps {
                0 => String::new(),
                n => format!(
                    "becomes student-only: {} shortened to the student maximum of {} days",
                    crate::domain::count(n, "token", "tokens"),
                    plan.student_max_days
                ),
            },
        };
        let field = |label: &'static str, c: &Option<FieldChange>| {
            c.as_ref().map(|c| (label, c.before.clone(), c.after.clone()))
        };
        PlanView {
            create: plan.create.iter().map(|p| row(p, Vec::new(), 0)).collect(),
            change: plan
                .change
                .iter()
                .map(|c| {
                    let changes =
                        [field("name", &c.name), field("email", &c.email), field("roles", &c.roles)]
                            .into_iter()
                            .flatten()
                            .collect();
                    row(&c.person, changes, c.caps)
                })
                .collect(),
            unchanged: plan.unchanged.iter().map(|p| row(p, Vec::new(), 0)).collect(),
            bad: plan
                .bad
                .iter()
                .map(|b| BadRow { line: b.line, login: b.login.clone(), reasons: b.reasons.clone() })
                .collect(),
            capped_tokens: plan.change.iter().map(|c| c.caps).sum(),
            capped_people: plan.change.iter().filter(|c| c.caps > 0).count(),
            student_max_days: plan.student_max_days,
        }
    }

    /// The question before applying: "Create 2 users and change 1 user now? This shortens
    /// 3 tokens of 1 person to the student maximum of 120 days." (a part with none is left out).
    pub fn question(&self) -> String {
        let create = (!self.create.is_empty())
            .then(|| format!("create {}", crate::domain::count(self.create.len(), "user", "users")));
        let change = (!self.change.is_empty())
            .then(|| format!("change {}", crate::domain::count(self.change.len(), "user", "users")));
        let what = create.into_iter().chain(change).collect::<Vec<_>>().join(" and ");
        let mut letters = what.chars();
        let Some(first) = letters.next() else { return "Apply nothing?".to_owned() };
        let mut q = format!("{}{} now?", first.to_uppercase(), letters.as_str());
        if self.capped_tokens > 0 {
            q.push_str(&format!(
                " This shortens {} of {} to the student maximum of {} days.",
                crate::domain::count(self.capped_tokens, "token", "tokens"),
                crate::domain::count(self.capped_people, "person", "people"),
                self.student_max_days
            ));
        }
        q
    }

    pub fn is_clean(&self) -> bool {
        self.bad.is_empty()
    }

    /// Whether the file changes anything at all.
    pub fn changes_anything(&self) -> bool {
        !self.create.is_empty() || !self.change.is_empty()
    }

    /// "2 to create, 1 to change, 3 unchanged, 2 bad lines"
    pub fn counts(&self) -> String {
        let bad = match self.bad.len() {
            1 => ", 1 bad line".to_owned(),
            n if n > 1 => format!(", {n} bad lines"),
            _ => String::new(),
        };
        format!(
            "{} to create, {} to change, {} unchanged{bad}",
            self.create.len(),
            self.change.len(),
            self.unchanged.len()
        )
    }

    /// The preview as `tokenwarden user import` prints it.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let mut section = |title: &str, rows: Vec<String>| {
            if !rows.is_empty() {
                out.push_str(&format!("\n{title}:\n"));
                rows.iter().for_each(|r| out.push_str(&format!("  {r}\n")));
            }
        };
        section(
            "Create",
            self.create
                .iter()
                .map(|r| format!("line {}: {} — {} <{}> — {}", r.line, r.login, r.name, r.email, r.roles))
                .collect(),
        );
        section(
            "Change",
            self.change
                .iter()
                .map(|r| {
                    let what: Vec<String> = r
                        .changes
                        .iter()
                        .map(|(f, before, after)| format!("{f} {before} → {after}"))
                        .chain((!r.caps.is_empty()).then(|| r.caps.clone()))
                        .collect();
                    format!("line {}: {} — {}", r.line, r.login, what.join("; "))
                })
                .collect(),
        );
        section(
            "Unchanged",
            self.unchanged.iter().map(|r| format!("line {}: {}", r.line, r.login)).collect(),
        );
        section(
            "Bad lines (nothing is applied while any line is bad)",
            self.bad
                .iter()
                .map(|b| {
                    let who = if b.login.is_empty() { String::new() } else { format!(" ({})", b.login) };
                    format!("line {}{who}: {}", b.line, b.reasons.join(" "))
                })
                .collect(),
        );
        out
    }
}

/// "Imported: 2 created, 1 changed, 3 unchanged; 4 tokens capped …"
pub fn summary_sentence(s: &Summary) -> String {
    let mut out = format!("{} created, {} changed, {} unchanged.", s.created, s.changed, s.unchanged);
    if s.capped > 0 {
        out.push_str(&format!(
            " Capped to the student maximum lifetime: {} of people who became student-only.",
            crate::domain::count(s.capped, "token", "tokens")
        ));
    }
    out
}
