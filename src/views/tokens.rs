//! How tokens and their forms are shown: shared by the user's page and the admin pages.

use std::collections::HashMap;

use chrono::{Datelike, Duration, NaiveDateTime, Timelike};

use serde::{Deserialize, Serialize};

use crate::domain::ValidationError;
use crate::domain::token::{Catalogue, ExpiryChoice, ExpiryRule, SCOPE_CATALOGUE};
use crate::models::{AccessToken, UserRoles};
use crate::services::tokens::{Issued, TokenDraft};

// Dates are written out by hand: chrono's `format` parses its pattern on every call, and
// `format!` with padded fields pads each one through the formatter, which showed up in
// profiles of the token lists (four dates a row: 4% of the Access Tokens page's time).
const MONTHS: [&str; 12] =
    ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// A short text built on the stack: one date as a page shows it.
struct Line {
    bytes: [u8; 48],
    len: usize,
}

impl Line {
    fn new() -> Line {
        Line { bytes: [0; 48], len: 0 }
    }

    fn text(&mut self, text: &str) -> &mut Line {
        self.bytes[self.len..self.len + text.len()].copy_from_slice(text.as_bytes());
        self.len += text.len();
        self
    }

    /// `n` in decimal, at least `width` characters (zeros in front), as `{:0width$}` writes
    /// it: a negative year, which no stored date has, counts its sign in the width.
    fn number(&mut self, n: i64, mut width: usize) -> &mut Line {
        if n < 0 {
            self.text("-");
            width = width.saturating_sub(1);
        }
        let mut digits = [b'0'; 20];
        let mut rest = n.unsigned_abs();
        let mut start = digits.len();
        while rest > 0 || start == digits.len() {
            start -= 1;
            digits[start] = b'0' + (rest % 10) as u8;
            rest /= 10;
        }
        start = start.min(digits.len().saturating_sub(width));
        self.bytes[self.len..self.len + digits.len() - start].copy_from_slice(&digits[start..]);
        self.len += digits.len() - start;
        self
    }

    fn day(&mut self, t: NaiveDateTime) -> &mut Line {
        self.number(i64::from(t.day()), 1).text(" ").text(MONTHS[t.month0() as usize]).text(" ");
        self.number(i64::from(t.year()), 1)
    }

    fn ymd(&mut self, t: NaiveDateTime) -> &mut Line {
        self.number(i64::from(t.year()), 4).text("-").number(i64::from(t.month()), 2).text("-");
        self.number(i64::from(t.day()), 2)
    }

    /// "09:05"
    fn hours_minutes(&mut self, t: NaiveDateTime) -> &mut Line {
        self.number(i64::from(t.hour()), 2).text(":").number(i64::from(t.minute()), 2)
    }

    fn as_str(&self) -> &str {
        // Only ASCII was written.
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or_default()
    }
}

/// A moment as the pages write it, straight into the page: a list of tokens shows four
/// of them a row, and a `String` each cost an allocation, a copy and a free.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Moment(pub NaiveDateTime);

/// The way a [`Moment`] is written.
#[derive(Debug, Clone, Copy)]
pub enum Written {
    /// "4 Mar 2027"
    Day(NaiveDateTime),
    /// "4 Mar 2027, 09:05 UTC"
    DayTime(NaiveDateTime),
    /// "2027-03-04T09:05:00Z"
    Iso(NaiveDateTime),
    /// "2027-03-04", as `<input type="date">` wants it.
    Ymd(NaiveDateTime),
}

impl Moment {
    pub fn day(self) -> Written {
        Written::Day(self.0)
    }

    pub fn day_time(self) -> Written {
        Written::DayTime(self.0)
    }

    pub fn iso(self) -> Written {
        Written::Iso(self.0)
    }
}

impl std::fmt::Display for Written {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut line = Line::new();
        match *self {
            Written::Day(t) => line.day(t),
            Written::DayTime(t) => line.day(t).text(", ").hours_minutes(t).text(" UTC"),
            Written::Iso(t) => {
                line.ymd(t).text("T").hours_minutes(t).text(":").number(i64::from(t.second()), 2).text("Z")
            }
            Written::Ymd(t) => line.ymd(t),
        };
        f.write_str(line.as_str())
    }
}

/// "4 Mar 2027"
pub fn date(t: NaiveDateTime) -> String {
    Written::Day(t).to_string()
}

/// "4 Mar 2027, 09:05 UTC"
pub fn date_time(t: NaiveDateTime) -> String {
    Written::DayTime(t).to_string()
}

/// "2027-03-04T09:05:00Z"
pub fn iso(t: NaiveDateTime) -> String {
    Written::Iso(t).to_string()
}

/// "2027-03-04", as `<input type="date">` wants it.
pub fn ymd(t: NaiveDateTime) -> String {
    Written::Ymd(t).to_string()
}

/// The secret of a token just created or regenerated, shown once.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SecretView {
    pub value: String,
    pub purpose: String,
    pub regenerated: bool,
    /// The token it opens, so the page can say so when that token is deleted before the
    /// secret is copied (none for a service's or a directory's credential).
    #[serde(default)]
    pub token_id: Option<i64>,
}

impl SecretView {
    pub fn of(issued: &Issued, regenerated: bool) -> SecretView {
        SecretView {
            value: issued.secret.expose().to_owned(),
            purpose: issued.token.purpose.clone(),
            regenerated,
            token_id: Some(issued.token.id),
        }
    }
}

/// One row of a token list.
#[derive(Debug, Clone)]
pub struct TokenRow {
    pub id: i64,
    pub purpose: String,
    pub scopes_summary: String,
    /// The API's scopes by their labels; a service's by their name (`gradebook:read`).
    pub scope_labels: Vec<std::borrow::Cow<'static, str>>,
    pub created: Moment,
    /// `None`: never.
    pub expires: Option<Moment>,
    pub last_used: Option<Moment>,
    pub hint: String,
    pub status_label: &'static str,
    pub status_badge: &'static str,
    pub pending: bool,
    pub expired: bool,
    /// Who created it, when not the owner.
    pub created_by: Option<String>,
    /// Uses in the last [`USAGE_DAYS`] days, per service, busiest first.
    pub usage: Vec<ServiceUse>,
}

/// A token's uses at one service over the last [`USAGE_DAYS`] days.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceUse {
    /// `api` for tokenwarden's own API, else the service's slug.
    pub slug: String,
    /// "API", or the service's name.
    pub name: String,
    pub uses: i64,
}

/// How many days of use a token's row shows.
pub const USAGE_DAYS: i64 = 30;

/// Each token's uses per service over the last [`USAGE_DAYS`] days, for some of one
/// owner's tokens (two queries for a whole page of them).
pub fn usage_of(
    conn: &mut crate::db::DbConnection,
    owner: i64,
    token_ids: &[i64],
    today: chrono::NaiveDate,
) -> diesel::QueryResult<HashMap<i64, Vec<ServiceUse>>> {
    use crate::models::service::{API_SERVICE_ID, Service, TokenUsage};
    let since = today - Duration::days(USAGE_DAYS - 1);
    let totals = TokenUsage::totals_since(conn, owner, token_ids, since)?;
    if totals.is_empty() {
        return Ok(HashMap::new());
    }
    let services: HashMap<i64, Service> = Service::all(conn)?.into_iter().map(|s| (s.id, s)).collect();
    let mut out: HashMap<i64, Vec<ServiceUse>> = HashMap::new();
    for (token, service, uses) in totals {
        let (slug, name) = match services.get(&service) {
            _ if service == API_SERVICE_ID => ("api".to_owned(), "API".to_owned()),
            Some(s) => (s.slug.clone(), s.name.clone()),
            // A service removed since: its uses are no one's business any more.
            None => continue,
        };
        out.entry(token).or_default().push(ServiceUse { slug, name, uses });
    }
    for uses in out.values_mut() {
        uses.sort_by(|a, b| b.uses.cmp(&a.uses).then_with(|| a.name.cmp(&b.name)));
    }
    Ok(out)
}

impl TokenRow {
    pub fn new(t: &AccessToken, names: &HashMap<i64, String>, now: NaiveDateTime) -> TokenRow {
        let status = t.status(now);
        let scopes = t.scope_set();
        TokenRow {
            id: t.id,
            purpose: t.purpose.clone(),
            scopes_summary: scopes.summary(),
            scope_labels: scopes
                .iter()
                .map(|s| {
                    SCOPE_CATALOGUE.iter().find(|d| d.scope == s).map_or_else(
                        || std::borrow::Cow::Owned(s.to_owned()),
                        |d| std::borrow::Cow::Borrowed(d.label),
                    )
                })
                .collect(),
            created: Moment(t.created_at),
            expires: t.expires_at.map(Moment),
            last_used: t.last_used_at.map(Moment),
            hint: t.hint.clone(),
            status_label: status.label(),
            status_badge: status.badge(),
            pending: t.is_pending(),
            expired: t.is_expired(now),
            created_by: t
                .real_user_id
                .map(|id| names.get(&id).cloned().unwrap_or_else(|| "a former administrator".to_owned())),
            usage: Vec::new(),
        }
    }

    /// With its uses, from [`usage_of`].
    pub fn with_usage(mut self, usage: &HashMap<i64, Vec<ServiceUse>>) -> TokenRow {
        self.usage = usage.get(&self.id).cloned().unwrap_or_default();
        self
    }
}

/// The expiry choices a form may offer this owner.
#[derive(Debug, Clone)]
pub struct ExpiryOptions {
    /// (value, label)
    pub presets: Vec<(String, String)>,
    pub allows_never: bool,
    pub student_only: bool,
    pub max_days: i64,
    /// Earliest custom date (tomorrow); latest: the student maximum for a student-only
    /// owner, ten years for anyone else.
    pub min_date: String,
    pub max_date: String,
    /// The value selected by default.
    pub default: String,
    /// The rule in a sentence, for the owner ("your tokens") or an administrator.
    pub rule_note: String,
}

impl ExpiryOptions {
    pub fn new(rule: &ExpiryRule, default_days: i64, now: NaiveDateTime) -> ExpiryOptions {
        let presets: Vec<i64> = rule.allowed_presets();
        let default = if presets.contains(&default_days) {
            default_days
        } else {
            presets
                .iter()
                .copied()
                .filter(|d| *d <= default_days)
                .max()
                .or(presets.first().copied())
                .unwrap_or(7)
        };
        ExpiryOptions {
            presets: presets
                .iter()
                .map(|d| {
                    let label = if *d == 365 { "1 year".to_owned() } else { format!("{d} days") };
                    (d.to_string(), format!("{label} (until {})", date(now + Duration::days(*d))))
                })
                .collect(),
            allows_never: rule.allows_never(),
            student_only: rule.owner_student_only,
            max_days: rule.max_days(),
            min_date: ymd(now + Duration::days(1)),
            max_date: ymd(now
                + Duration::days(if rule.owner_student_only {
                    rule.max_days()
                } else {
                    crate::domain::token::MAX_EXPIRY_DAYS
                })),
            default: default.to_string(),
            rule_note: if rule.owner_student_only {
                format!(
                    "As a student, your tokens must expire within {} days; “no expiry” is not available.",
                    rule.max_days()
                )
            } else {
                "A token that expires is safer if it leaks. Choose “no expiry” only for long-lived tools."
                    .to_owned()
            },
        }
    }

    /// The same options, explained to an administrator acting for `owner`.
    pub fn for_owner(mut self, owner: &str) -> Self {
        if self.student_only {
            self.rule_note = format!(
                "{owner} is student-only: their tokens must expire within {} days; “no expiry” is not available.",
                self.max_days
            );
        }
        self
    }
}

/// A scope as the form offers it.
pub struct ScopeOption {
    pub scope: String,
    pub label: String,
}

/// Scopes grouped by resource (the API's) or by service, for the form.
pub struct ScopeGroup {
    pub resource: String,
    pub scopes: Vec<ScopeOption>,
}

/// The API's scopes by resource, then each service's that `owner` may hold.
pub fn scope_groups(catalogue: &Catalogue, owner: &UserRoles) -> Vec<ScopeGroup> {
    let mut groups: Vec<ScopeGroup> = Vec::new();
    let mut add = |resource: &str, scope: &str, label: &str| {
        let option = ScopeOption { scope: scope.to_owned(), label: label.to_owned() };
        match groups.iter_mut().find(|g| g.resource == resource) {
            Some(g) => g.scopes.push(option),
            None => groups.push(ScopeGroup { resource: resource.to_owned(), scopes: vec![option] }),
        }
    };
    for def in SCOPE_CATALOGUE {
        add(def.resource, def.scope, def.label);
    }
    for def in
        catalogue.services.iter().filter(|d| d.holders.admit(&owner.enrollment, !owner.account.is_empty()))
    {
        add(&def.service, &def.scope, &def.label);
    }
    groups
}

/// What a token form posts. `scopes` repeats, so it is read with `serde_html_form`.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    pub purpose: String,
    /// `7`…`365`, `custom`, `never`, or `keep` (edit only).
    #[serde(default)]
    pub expires_in: String,
    #[serde(default)]
    pub expires_on: String,
    #[serde(default)]
    pub scopes: Vec<String>,
}

impl TokenForm {
    /// What the form asks for, the same on every page that has it. The create form always
    /// names an expiry (a select with a default), so a post without one is refused next
    /// to the field; an edit or regenerate form without one keeps the current expiry.
    pub fn draft(&self, creating: bool) -> TokenDraft {
        let expiry = match self.expiry() {
            None if creating => {
                Some(Err(ValidationError::new(ExpiryChoice::FIELD, "Choose when the token expires.")))
            }
            other => other,
        };
        TokenDraft { purpose: Some(self.purpose.clone()), scopes: Some(self.scopes.clone()), expiry }
    }

    /// A regenerate form: only the new expiry.
    pub fn regenerate_draft(&self) -> TokenDraft {
        TokenDraft { expiry: self.expiry(), ..TokenDraft::default() }
    }

    /// `None` when the form keeps the current expiry.
    pub fn expiry(&self) -> Option<Result<ExpiryChoice, ValidationError>> {
        match self.expires_in.trim() {
            "keep" | "" if !self.expires_on.trim().is_empty() => {
                Some(Err(ExpiryChoice::date_with_another_choice()))
            }
            "keep" | "" => None,
            select => Some(ExpiryChoice::from_form(select, &self.expires_on)),
        }
    }

    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_written_as_the_pages_show_them() {
        let t = chrono::NaiveDate::from_ymd_opt(2027, 3, 4).unwrap().and_hms_opt(9, 5, 7).unwrap();
        assert_eq!(date(t), "4 Mar 2027");
        assert_eq!(date_time(t), "4 Mar 2027, 09:05 UTC");
        assert_eq!(iso(t), "2027-03-04T09:05:07Z");
        assert_eq!(ymd(t), "2027-03-04");
        // the same as chrono's patterns, on every month, day and hour, and years of every width
        for month in 1..=12 {
            let t = chrono::NaiveDate::from_ymd_opt(2026, month, 28).unwrap().and_hms_opt(23, 59, 0).unwrap();
            assert_eq!(date(t), t.format("%-d %b %Y").to_string());
            assert_eq!(iso(t), t.format("%Y-%m-%dT%H:%M:%SZ").to_string());
        }
        for (year, day, hour) in
            [(1, 1, 0), (99, 9, 1), (999, 10, 10), (2026, 31, 23), (10000, 15, 12), (-44, 15, 3)]
        {
            let t = chrono::NaiveDate::from_ymd_opt(year, 1, day).unwrap().and_hms_opt(hour, 0, 5).unwrap();
            assert_eq!(date(t), format!("{} Jan {}", t.day(), t.year()));
            assert_eq!(date_time(t), format!("{} Jan {}, {:02}:00 UTC", t.day(), t.year(), t.hour()));
            assert_eq!(iso(t), format!("{:04}-01-{:02}T{:02}:00:05Z", t.year(), t.day(), t.hour()));
            assert_eq!(ymd(t), format!("{:04}-01-{:02}", t.year(), t.day()));
        }
    }
}
