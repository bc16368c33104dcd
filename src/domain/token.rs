//! The rules of personal access tokens (SPEC 4): purpose, expiry, scopes, who may do what.

use std::fmt;

use chrono::{Duration, NaiveDate, NaiveDateTime};

pub use super::authority::Refusal;
use super::{Permission, PermissionSet, ValidationError};

/// The ceiling of the student maximum lifetime, in days (Canvas: 120).
pub const STUDENT_MAX_DAYS_CEILING: i32 = 120;
/// Lifetimes offered in forms, in days.
pub const PRESET_DAYS: [i64; 6] = [7, 30, 60, 90, 120, 365];
/// A token expiring within this many days is shown as "expiring soon".
pub const EXPIRING_SOON_DAYS: i64 = 7;
/// The furthest an expiry may be set, in days (ten years): a later date is "no expiry" in
/// all but name, and the dashboard's horizons and the lists' filters stop there.
pub const MAX_EXPIRY_DAYS: i64 = 3650;

/// Why an expiry past [`MAX_EXPIRY_DAYS`] is refused.
const BEYOND_TEN_YEARS: &str =
    "Choose an expiry within ten years, or no expiry for a token that should not end.";

// ---------------------------------------------------------------------------------------
// Purpose

/// Why a token exists: trimmed, 1–255 characters, no control characters (SPEC 4.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Purpose(String);

impl Purpose {
    pub const FIELD: &'static str = "purpose";
    pub const MAX_CHARS: usize = 255;

    pub fn parse(input: &str) -> Result<Purpose, ValidationError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(ValidationError::new(
                Self::FIELD,
                "Enter a purpose: what will this token be used for?",
            ));
        }
        if s.chars().count() > Self::MAX_CHARS {
            return Err(ValidationError::new(
                Self::FIELD,
                format!("A purpose has at most {} characters.", Self::MAX_CHARS),
            ));
        }
        if s.chars().any(super::text::is_forbidden_in_text) {
            return Err(ValidationError::new(
                Self::FIELD,
                "A purpose cannot contain control characters (a line break, a text-direction override).",
            ));
        }
        Ok(Purpose(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

// ---------------------------------------------------------------------------------------
// Scopes

/// A scope the server knows: the Canvas string, the resource it belongs to, a plain label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScopeDef {
    pub scope: &'static str,
    pub resource: &'static str,
    pub label: &'static str,
}

/// Every scope a token may be limited to, one per API route, written as Canvas writes them.
pub const SCOPE_CATALOGUE: &[ScopeDef] = &[
    ScopeDef { scope: "url:GET|/api/v1/users/:id", resource: "Users", label: "View a user" },
    ScopeDef {
        scope: "url:GET|/api/v1/users/:user_id/profile",
        resource: "Users",
        label: "View a user's profile",
    },
    ScopeDef {
        scope: "url:GET|/api/v1/users/:user_id/user_generated_tokens",
        resource: "Access tokens",
        label: "List access tokens",
    },
    ScopeDef {
        scope: "url:GET|/api/v1/users/:user_id/tokens/:id",
        resource: "Access tokens",
        label: "View an access token",
    },
    ScopeDef {
        scope: "url:POST|/api/v1/users/:user_id/tokens",
        resource: "Access tokens",
        label: "Create access tokens",
    },
    ScopeDef {
        scope: "url:PUT|/api/v1/users/:user_id/tokens/:id",
        resource: "Access tokens",
        label: "Update or regenerate access tokens",
    },
    ScopeDef {
        scope: "url:DELETE|/api/v1/users/:user_id/tokens/:id",
        resource: "Access tokens",
        label: "Delete access tokens",
    },
];

/// A scope of one of the institution's services (SPEC 11), as the token forms offer it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceScopeDef {
    pub scope: String,
    /// The service's name, under which the forms group its scopes.
    pub service: String,
    pub label: String,
    /// Who may hold it.
    pub holders: super::service::Holders,
    /// Whether its service takes unscoped tokens too (SPEC 11: by default it does not).
    pub accepts_unscoped: bool,
}

/// Every scope a token may be given: the API's own ([`SCOPE_CATALOGUE`]) and those of the
/// services registered now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Catalogue {
    pub services: Vec<ServiceScopeDef>,
}

impl Catalogue {
    pub fn service_scope(&self, scope: &str) -> Option<&ServiceScopeDef> {
        self.services.iter().find(|d| d.scope == scope)
    }

    /// Whether a token with no limitation opens what `scope` names already: an API route
    /// (a retired one opens nothing at all), or a service that takes unscoped tokens. Not
    /// a service that refuses them, nor one removed (registered again, it would be opened
    /// by its old scopes).
    pub fn opened_without_scopes(&self, scope: &str) -> bool {
        scope.starts_with("url:") || self.service_scope(scope).is_some_and(|d| d.accepts_unscoped)
    }

    fn knows(&self, scope: &str) -> bool {
        SCOPE_CATALOGUE.iter().any(|d| d.scope == scope) || self.service_scope(scope).is_some()
    }

    /// The plain label of a scope this catalogue knows.
    pub fn label<'a>(&'a self, scope: &str) -> Option<&'a str> {
        SCOPE_CATALOGUE
            .iter()
            .find(|d| d.scope == scope)
            .map(|d| d.label)
            .or_else(|| self.service_scope(scope).map(|d| d.label.as_str()))
    }

    /// Whether an owner with these roles may hold every service scope of `scopes` (a service
    /// may keep a scope from some roles: students never `gradebook:write`).
    pub fn may_hold(
        &self,
        scopes: &Scopes,
        enrollment: &[super::EnrollmentRole],
        holds_account_role: bool,
    ) -> Result<(), ValidationError> {
        for scope in scopes.iter() {
            if let Some(def) = self.service_scope(scope)
                && !def.holders.admit(enrollment, holds_account_role)
            {
                return Err(ValidationError::new(
                    Scopes::FIELD,
                    format!("{} ({scope}) is only for {}.", def.label, def.holders.describe()),
                ));
            }
        }
        Ok(())
    }
}

/// The scopes of a token: empty means no limitation (Canvas's meaning, SPEC 4.9). API
/// scopes name routes (`url:GET|/api/v1/users/:id`); a service's scopes are `slug:name`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Scopes(Vec<String>);

impl Scopes {
    pub const FIELD: &'static str = "scopes";

    /// Only scopes the catalogue knows; duplicates dropped, order made canonical (the API's
    /// in the catalogue's order, then the services', alphabetically).
    pub fn parse<S: AsRef<str>>(items: &[S], catalogue: &Catalogue) -> Result<Scopes, ValidationError> {
        let mut out = Vec::new();
        for item in items {
            let item = item.as_ref().trim();
            if item.is_empty() {
                continue;
            }
            if !catalogue.knows(item) {
                let shown: String = item.chars().take(80).collect();
                return Err(ValidationError::new(Self::FIELD, format!("Unknown scope: {shown}")));
            }
            out.push(item.to_owned());
        }
        Ok(Scopes::canonical(out))
    }

    fn canonical(mut scopes: Vec<String>) -> Scopes {
        let rank =
            |s: &String| SCOPE_CATALOGUE.iter().position(|d| d.scope == s).unwrap_or(SCOPE_CATALOGUE.len());
        scopes.sort_by(|a, b| rank(a).cmp(&rank(b)).then_with(|| a.cmp(b)));
        scopes.dedup();
        Scopes(scopes)
    }

    /// From the stored, space-separated form, as stored: a scope that no route or service
    /// knows any more (a retired route, a deleted service) stays, and opens nothing — the
    /// token never becomes unlimited by losing its scopes.
    pub fn from_stored(stored: &str) -> Scopes {
        Scopes::canonical(stored.split_whitespace().map(str::to_owned).collect())
    }

    pub fn to_stored(&self) -> String {
        self.0.join(" ")
    }

    pub fn is_unlimited(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    pub fn as_slice(&self) -> &[String] {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, scope: &str) -> bool {
        self.0.iter().any(|s| s == scope)
    }

    /// Whether the token may call the route named by `scope`.
    pub fn allows(&self, scope: &str) -> bool {
        self.is_unlimited() || self.contains(scope)
    }

    /// Whether these scopes open nothing that `other` does not: no limitation only within
    /// no limitation.
    pub fn is_within(&self, other: &Scopes) -> bool {
        other.is_unlimited() || (!self.is_unlimited() && self.iter().all(|s| other.contains(s)))
    }

    /// "No limitation", the one scope's label, or "3 scopes".
    pub fn summary(&self) -> String {
        match self.0.as_slice() {
            [] => "No limitation".to_owned(),
            [one] => SCOPE_CATALOGUE
                .iter()
                .find(|d| d.scope == one)
                .map_or_else(|| one.clone(), |d| d.label.to_owned()),
            many => format!("{} scopes", many.len()),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Expiry

/// What a person (or client) asked for as the end of a token's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpiryChoice {
    /// This many days from now.
    Days(i64),
    /// The start (00:00 UTC) of this date.
    OnDate(NaiveDate),
    /// An exact moment (the API's ISO 8601 `expires_at`).
    At(NaiveDateTime),
    /// No expiry.
    Never,
}

impl ExpiryChoice {
    pub const FIELD: &'static str = "expires_at";

    /// From the form's select (`7`…`365`, `custom`, `never`) and date field.
    pub fn from_form(select: &str, date: &str) -> Result<ExpiryChoice, ValidationError> {
        // A date typed beside another choice would be silently dropped: say so instead.
        if !date.trim().is_empty() && select.trim() != "custom" {
            return Err(Self::date_with_another_choice());
        }
        match select.trim() {
            "never" => Ok(ExpiryChoice::Never),
            // A date picker sends nothing until a date is picked; typed into a plain text
            // field (an old browser), the date must be as the picker writes it.
            "custom" if date.trim().is_empty() => {
                Err(ValidationError::new(Self::FIELD, "Choose the expiry date, or another lifetime."))
            }
            "custom" => NaiveDate::parse_from_str(date.trim(), "%Y-%m-%d")
                .map(ExpiryChoice::OnDate)
                .map_err(|_| ValidationError::new(Self::FIELD, "Enter the expiry date as YYYY-MM-DD.")),
            days => match days.parse::<i64>() {
                Ok(d) if PRESET_DAYS.contains(&d) => Ok(ExpiryChoice::Days(d)),
                _ => Err(ValidationError::new(Self::FIELD, "Choose one of the offered lifetimes.")),
            },
        }
    }

    /// The refusal of an expiry date entered beside another lifetime (a preset, no expiry,
    /// keeping the current one).
    pub fn date_with_another_choice() -> ValidationError {
        ValidationError::new(
            Self::FIELD,
            "You entered an expiry date but chose another lifetime: choose “On a date of my choice…” \
             to use the date, or clear the date.",
        )
    }

    /// The moment chosen; a number of days past what a date can hold is refused (a preset
    /// never is, but a choice may come from elsewhere than the form).
    fn resolve(self, now: NaiveDateTime) -> Result<Option<NaiveDateTime>, ValidationError> {
        match self {
            ExpiryChoice::Days(d) => days_after(now, d)
                .map(Some)
                .ok_or_else(|| ValidationError::new(Self::FIELD, BEYOND_TEN_YEARS)),
            ExpiryChoice::OnDate(date) => Ok(Some(date.and_hms_opt(0, 0, 0).expect("midnight exists"))),
            ExpiryChoice::At(at) => Ok(Some(at)),
            ExpiryChoice::Never => Ok(None),
        }
    }
}

/// `now` moved by `days`, or `None` when that is beyond what a date can hold (chrono's
/// `+` panics there).
fn days_after(now: NaiveDateTime, days: i64) -> Option<NaiveDateTime> {
    Duration::try_days(days).and_then(|d| now.checked_add_signed(d))
}

/// The owner facts an expiry rule needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpiryRule {
    pub owner_student_only: bool,
    /// The account's student maximum, in days (≤ 120).
    pub student_max_days: i32,
}

impl ExpiryRule {
    /// The student maximum in force: never above the 120-day ceiling, never below a day.
    pub fn max_days(&self) -> i64 {
        i64::from(self.student_max_days.clamp(1, STUDENT_MAX_DAYS_CEILING))
    }

    /// Whether "no expiry" may be offered.
    pub fn allows_never(&self) -> bool {
        !self.owner_student_only
    }

    /// The presets this owner may pick.
    pub fn allowed_presets(&self) -> Vec<i64> {
        PRESET_DAYS.iter().copied().filter(|d| !self.owner_student_only || *d <= self.max_days()).collect()
    }

    /// Resolves a choice into the expiry to store (SPEC 4.2), at creation, regeneration
    /// or an expiry change: a date in the future, and for a student-only owner an expiry
    /// no later than `now` + the student maximum.
    pub fn apply(
        &self,
        choice: ExpiryChoice,
        now: NaiveDateTime,
    ) -> Result<Option<NaiveDateTime>, ValidationError> {
        let at = choice.resolve(now)?;
        // A maximum past the last representable moment does not bind.
        let limit = days_after(now, self.max_days()).unwrap_or(NaiveDateTime::MAX);
        match at {
            None if self.owner_student_only => Err(ValidationError::new(
                ExpiryChoice::FIELD,
                format!(
                    "Tokens of students must expire: choose a lifetime of at most {} days.",
                    self.max_days()
                ),
            )),
            None => Ok(None),
            Some(at) if at <= now => {
                Err(ValidationError::new(ExpiryChoice::FIELD, "Choose an expiry date in the future."))
            }
            Some(at) if self.owner_student_only && at > limit => Err(ValidationError::new(
                ExpiryChoice::FIELD,
                format!("Tokens of students must expire within {} days.", self.max_days()),
            )),
            Some(at) if at > days_after(now, MAX_EXPIRY_DAYS).unwrap_or(NaiveDateTime::MAX) => {
                Err(ValidationError::new(ExpiryChoice::FIELD, BEYOND_TEN_YEARS))
            }
            Some(at) => Ok(Some(at)),
        }
    }

    /// The retroactive cap (SPEC 4.3): the expiry a token of a student-only owner must have
    /// now, if its current one is missing or too far away.
    pub fn cap(&self, current: Option<NaiveDateTime>, now: NaiveDateTime) -> Option<NaiveDateTime> {
        if !self.owner_student_only {
            return None;
        }
        let limit = days_after(now, self.max_days()).unwrap_or(NaiveDateTime::MAX);
        match current {
            Some(at) if at <= limit => None,
            _ => Some(limit),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Who may do what

/// A change to a token that the account settings may forbid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenChange {
    Create,
    Update,
    Regenerate,
}

impl fmt::Display for TokenChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TokenChange::Create => "create",
            TokenChange::Update => "update",
            TokenChange::Regenerate => "regenerate",
        })
    }
}

/// The account settings that limit token changes (SPEC 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CreationLimits {
    pub limit_personal_creation: bool,
    pub block_students: bool,
}

/// Who acts, on whose tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenAccess {
    pub actor_id: i64,
    pub actor_permissions: PermissionSet,
    pub actor_student_only: bool,
    pub owner_id: i64,
}

impl TokenAccess {
    pub fn on_behalf(&self) -> bool {
        self.actor_id != self.owner_id
    }

    fn has(&self, p: Permission) -> bool {
        self.actor_permissions.contains(p)
    }

    /// Seeing the owner's tokens: one's own always; anyone's with `access_tokens.view`.
    pub fn may_view(&self) -> bool {
        !self.on_behalf() || self.has(Permission::ViewTokens)
    }

    /// Deleting: one's own always; anyone's with `access_tokens.delete`.
    pub fn may_delete(&self) -> bool {
        !self.on_behalf() || self.has(Permission::DeleteTokens)
    }

    /// Creating, updating, regenerating (SPEC 2 and 3).
    pub fn may_change(&self, change: TokenChange, limits: CreationLimits) -> Result<(), Refusal> {
        let privileged = self.has(Permission::CreateUpdateTokens);
        if self.on_behalf() {
            return if privileged {
                Ok(())
            } else {
                Err(Refusal(format!(
                    "You need the access_tokens.create_update permission to {change} tokens of another user."
                )))
            };
        }
        if limits.limit_personal_creation && !privileged {
            return Err(Refusal(format!(
                "Personal access tokens are limited on this account: only administrators may {change} them. \
                 Ask an administrator if you need one."
            )));
        }
        if limits.block_students && self.actor_student_only && !privileged {
            return Err(Refusal(format!(
                "Students may not {change} access tokens on this account. Ask a teacher or an administrator \
                 if you need API access."
            )));
        }
        Ok(())
    }
}

/// Whether changing a token's scopes and expiry from `before` to `after` gives it more reach:
/// a scope it did not have (no limitation, where it had scopes), or a later expiry (none,
/// where it had one). No limitation opens the API, not a service that refuses unscoped
/// tokens (SPEC 11): a service's scope given to an unscoped token opens that service, so it
/// widens the token too (whether or not that service would have taken it unscoped: the
/// safe side). Narrowing, or changing nothing, does not.
pub fn widens(before: (&Scopes, Option<NaiveDateTime>), after: (&Scopes, Option<NaiveDateTime>)) -> bool {
    let later = match (before.1, after.1) {
        (None, _) => false,
        (Some(_), None) => true,
        (Some(was), Some(is)) => is > was,
    };
    let into_a_service = before.0.is_unlimited() && after.0.iter().any(|s| !is_api_scope(s));
    later || into_a_service || !after.0.is_within(before.0)
}

/// Whether `scope` names one of the API's own routes (`url:GET|/api/v1/…`), not a service's.
fn is_api_scope(scope: &str) -> bool {
    SCOPE_CATALOGUE.iter().any(|d| d.scope == scope)
}

// ---------------------------------------------------------------------------------------
// Status

/// What a person sees of a token's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenStatus {
    Active,
    ExpiringSoon,
    Expired,
    Pending,
}

impl TokenStatus {
    pub fn of(pending: bool, expires_at: Option<NaiveDateTime>, now: NaiveDateTime) -> TokenStatus {
        match expires_at {
            Some(at) if at <= now => TokenStatus::Expired,
            _ if pending => TokenStatus::Pending,
            Some(at) if at <= now + Duration::days(EXPIRING_SOON_DAYS) => TokenStatus::ExpiringSoon,
            _ => TokenStatus::Active,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            TokenStatus::Active => "Active",
            TokenStatus::ExpiringSoon => "Expiring soon",
            TokenStatus::Expired => "Expired",
            TokenStatus::Pending => "Pending",
        }
    }

    pub fn badge(self) -> &'static str {
        match self {
            TokenStatus::Active => "badge-success",
            TokenStatus::ExpiringSoon => "badge-warning",
            TokenStatus::Expired => "badge-danger",
            TokenStatus::Pending => "badge-muted",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 11, 23).unwrap().and_hms_opt(10, 30, 0).unwrap()
    }

    const STUDENT: ExpiryRule = ExpiryRule { owner_student_only: true, student_max_days: 120 };
    const TEACHER: ExpiryRule = ExpiryRule { owner_student_only: false, student_max_days: 120 };

    // Purpose (SPEC 4.1)

    #[test]
    fn a_blank_purpose_is_refused() {
        assert_eq!(Purpose::parse("   ").unwrap_err().field, "purpose");
        assert!(Purpose::parse("").is_err());
    }

    #[test]
    fn a_purpose_is_trimmed_and_at_most_255_characters() {
        assert_eq!(Purpose::parse("  grade sync ").unwrap().as_str(), "grade sync");
        assert!(Purpose::parse(&"é".repeat(255)).is_ok());
        assert!(Purpose::parse(&"é".repeat(256)).is_err());
    }

    #[test]
    fn a_purpose_with_control_characters_is_refused() {
        assert!(Purpose::parse("sync\u{0}").is_err());
        assert!(Purpose::parse("two\nlines").is_err());
    }

    #[test]
    fn markup_in_a_purpose_is_kept_as_text() {
        assert_eq!(Purpose::parse("<script>x</script>").unwrap().as_str(), "<script>x</script>");
    }

    // Expiry (SPEC 4.2)

    #[test]
    fn a_student_only_user_cannot_choose_121_days() {
        let err = STUDENT.apply(ExpiryChoice::At(now() + Duration::days(121)), now()).unwrap_err();
        assert!(err.message.contains("within 120 days"), "{}", err.message);
    }

    #[test]
    fn a_student_only_user_may_choose_exactly_120_days() {
        assert_eq!(STUDENT.apply(ExpiryChoice::Days(120), now()).unwrap(), Some(now() + Duration::days(120)));
    }

    #[test]
    fn a_student_only_user_cannot_choose_no_expiry() {
        assert!(STUDENT.apply(ExpiryChoice::Never, now()).is_err());
        assert!(!STUDENT.allows_never());
    }

    #[test]
    fn a_student_only_user_cannot_pick_the_one_year_preset() {
        assert!(STUDENT.apply(ExpiryChoice::Days(365), now()).is_err());
        assert_eq!(STUDENT.allowed_presets(), vec![7, 30, 60, 90, 120]);
    }

    #[test]
    fn a_lowered_student_maximum_binds_and_is_never_above_120() {
        let lowered = ExpiryRule { owner_student_only: true, student_max_days: 30 };
        assert!(lowered.apply(ExpiryChoice::Days(60), now()).is_err());
        assert!(lowered.apply(ExpiryChoice::Days(30), now()).is_ok());
        assert_eq!(lowered.allowed_presets(), vec![7, 30]);
        let raised = ExpiryRule { owner_student_only: true, student_max_days: 400 };
        assert_eq!(raised.max_days(), 120);
        assert!(raised.apply(ExpiryChoice::Days(365), now()).is_err());
    }

    #[test]
    fn a_teacher_may_choose_no_expiry_and_a_year() {
        assert_eq!(TEACHER.apply(ExpiryChoice::Never, now()).unwrap(), None);
        assert!(TEACHER.apply(ExpiryChoice::Days(365), now()).is_ok());
        assert!(TEACHER.allows_never());
    }

    #[test]
    fn a_student_who_is_also_a_ta_may_choose_no_expiry() {
        let student_and_ta = ExpiryRule {
            owner_student_only: crate::domain::is_student_only(
                &[crate::domain::EnrollmentRole::Student, crate::domain::EnrollmentRole::Ta],
                0,
            ),
            student_max_days: 120,
        };
        assert_eq!(student_and_ta.apply(ExpiryChoice::Never, now()).unwrap(), None);
    }

    #[test]
    fn a_custom_date_must_be_in_the_future() {
        let today = now().date();
        assert!(TEACHER.apply(ExpiryChoice::OnDate(today), now()).is_err());
        assert!(TEACHER.apply(ExpiryChoice::OnDate(today.pred_opt().unwrap()), now()).is_err());
        assert!(TEACHER.apply(ExpiryChoice::At(now()), now()).is_err());
        assert!(TEACHER.apply(ExpiryChoice::OnDate(today.succ_opt().unwrap()), now()).is_ok());
    }

    #[test]
    fn an_expiry_is_at_most_ten_years_away() {
        let now = now();
        let furthest = (now + Duration::days(MAX_EXPIRY_DAYS)).date();
        assert!(TEACHER.apply(ExpiryChoice::OnDate(furthest), now).is_ok());
        assert!(TEACHER.apply(ExpiryChoice::OnDate(furthest.succ_opt().unwrap()), now).is_err());
        let last = NaiveDate::from_ymd_opt(9999, 12, 31).unwrap();
        assert!(TEACHER.apply(ExpiryChoice::OnDate(last), now).is_err());
        assert!(TEACHER.apply(ExpiryChoice::At(NaiveDateTime::MAX), now).is_err());
        assert_eq!(TEACHER.apply(ExpiryChoice::Never, now).unwrap(), None, "no expiry stays a choice");
    }

    #[test]
    fn a_custom_date_120_days_ahead_is_allowed_for_a_student() {
        let date = (now() + Duration::days(120)).date();
        assert!(STUDENT.apply(ExpiryChoice::OnDate(date), now()).is_ok());
        assert!(STUDENT.apply(ExpiryChoice::OnDate(date.succ_opt().unwrap()), now()).is_err());
    }

    #[test]
    fn the_form_accepts_only_offered_lifetimes() {
        assert_eq!(ExpiryChoice::from_form("30", "").unwrap(), ExpiryChoice::Days(30));
        assert_eq!(ExpiryChoice::from_form("never", "").unwrap(), ExpiryChoice::Never);
        assert!(ExpiryChoice::from_form("31", "").is_err());
        assert!(ExpiryChoice::from_form("custom", "next tuesday").is_err());
        // Found in review: no date picked was answered with the format, which nobody typed.
        let none = ExpiryChoice::from_form("custom", " ").unwrap_err();
        assert_eq!(none.message, "Choose the expiry date, or another lifetime.");
        assert_eq!(
            ExpiryChoice::from_form("custom", "2027-01-31").unwrap(),
            ExpiryChoice::OnDate(NaiveDate::from_ymd_opt(2027, 1, 31).unwrap())
        );
    }

    #[test]
    fn a_lifetime_or_a_moment_past_what_a_date_can_hold_is_refused_without_a_panic() {
        // Found by fuzzing (fuzz/fuzz_targets/expiry.rs): `now + Duration::days(d)` panicked.
        for days in [i64::MAX, i64::MIN, 106_751_991_167_300] {
            assert_eq!(TEACHER.apply(ExpiryChoice::Days(days), now()).unwrap_err().field, "expires_at");
        }
        let late = NaiveDateTime::MAX - Duration::days(1);
        assert!(STUDENT.apply(ExpiryChoice::Days(30), late).is_err());
        assert!(STUDENT.apply(ExpiryChoice::At(NaiveDateTime::MAX), late).is_ok(), "within 120 days");
        assert_eq!(STUDENT.cap(None, late), Some(NaiveDateTime::MAX));
        assert_eq!(TEACHER.apply(ExpiryChoice::Never, late), Ok(None));
    }

    // Retroactive cap (SPEC 4.3)

    #[test]
    fn the_cap_shortens_long_and_missing_expiries_of_students_only() {
        let limit = now() + Duration::days(120);
        assert_eq!(STUDENT.cap(None, now()), Some(limit));
        assert_eq!(STUDENT.cap(Some(now() + Duration::days(365)), now()), Some(limit));
        assert_eq!(STUDENT.cap(Some(now() + Duration::days(30)), now()), None);
        assert_eq!(TEACHER.cap(None, now()), None);
    }

    // Scopes (SPEC 4.9)

    #[test]
    fn empty_scopes_mean_no_limitation() {
        let s = Scopes::parse::<&str>(&[], &Catalogue::default()).unwrap();
        assert!(s.is_unlimited());
        assert!(s.allows("url:DELETE|/api/v1/users/:user_id/tokens/:id"));
    }

    #[test]
    fn an_unknown_scope_is_refused() {
        let err = Scopes::parse(&["url:GET|/api/v1/courses"], &Catalogue::default()).unwrap_err();
        assert!(err.message.contains("Unknown scope"));
    }

    #[test]
    fn scopes_limit_the_token_to_the_routes_they_name() {
        let s = Scopes::parse(&["url:GET|/api/v1/users/:id"], &Catalogue::default()).unwrap();
        assert!(s.allows("url:GET|/api/v1/users/:id"));
        assert!(!s.allows("url:GET|/api/v1/users/:user_id/profile"));
    }

    #[test]
    fn scopes_round_trip_through_storage_in_canonical_order() {
        let s = Scopes::parse(
            &[
                "url:DELETE|/api/v1/users/:user_id/tokens/:id",
                "url:GET|/api/v1/users/:id",
                "url:GET|/api/v1/users/:id",
            ],
            &Catalogue::default(),
        )
        .unwrap();
        assert_eq!(s.as_slice().len(), 2);
        assert_eq!(s.as_slice()[0], "url:GET|/api/v1/users/:id");
        assert_eq!(Scopes::from_stored(&s.to_stored()), s);
    }

    fn gradebook() -> Catalogue {
        let def = |scope: &str, label: &str, holders: &str| ServiceScopeDef {
            scope: scope.into(),
            service: "Gradebook".into(),
            label: label.into(),
            holders: crate::domain::service::Holders::parse(holders).unwrap(),
            accepts_unscoped: false,
        };
        Catalogue {
            services: vec![
                def("gradebook:read", "Read grades", ""),
                def("gradebook:write", "Enter grades", "teacher ta"),
            ],
        }
    }

    #[test]
    fn service_scopes_are_known_while_their_service_is() {
        let s = Scopes::parse(&["gradebook:read", "url:GET|/api/v1/users/:id"], &gradebook()).unwrap();
        assert_eq!(s.as_slice(), ["url:GET|/api/v1/users/:id", "gradebook:read"], "the API's first");
        assert!(Scopes::parse(&["gradebook:read"], &Catalogue::default()).is_err(), "no such service");
        assert!(Scopes::parse(&["gradebook:delete"], &gradebook()).is_err());
        assert_eq!(gradebook().label("gradebook:write"), Some("Enter grades"));
    }

    #[test]
    fn a_service_may_keep_a_scope_from_students() {
        use crate::domain::EnrollmentRole::{Student, Teacher};
        let c = gradebook();
        let write = Scopes::parse(&["gradebook:write"], &c).unwrap();
        let why = c.may_hold(&write, &[Student], false).unwrap_err();
        assert_eq!(why.field, "scopes");
        assert!(why.message.contains("only for teachers and TAs"), "{}", why.message);
        assert!(c.may_hold(&write, &[Teacher], false).is_ok());
        assert!(c.may_hold(&Scopes::parse(&["gradebook:read"], &c).unwrap(), &[Student], false).is_ok());
    }

    #[test]
    fn stored_scopes_that_are_all_unknown_never_widen_a_token() {
        let s = Scopes::from_stored("url:GET|/api/v1/retired");
        assert!(!s.is_unlimited());
        assert!(!s.allows("url:GET|/api/v1/users/:id"));
    }

    // Permissions and account settings (SPEC 2, 3)

    fn access(actor: i64, owner: i64, perms: &[Permission], student_only: bool) -> TokenAccess {
        TokenAccess {
            actor_id: actor,
            actor_permissions: perms.iter().copied().collect(),
            actor_student_only: student_only,
            owner_id: owner,
        }
    }

    const OPEN: CreationLimits = CreationLimits { limit_personal_creation: false, block_students: false };
    const LIMITED: CreationLimits = CreationLimits { limit_personal_creation: true, block_students: false };
    const NO_STUDENTS: CreationLimits =
        CreationLimits { limit_personal_creation: false, block_students: true };

    #[test]
    fn anyone_may_manage_their_own_tokens_by_default() {
        let me = access(1, 1, &[], true);
        assert!(me.may_view() && me.may_delete());
        assert!(me.may_change(TokenChange::Create, OPEN).is_ok());
    }

    #[test]
    fn limiting_personal_creation_refuses_create_update_and_regenerate_but_not_delete() {
        let me = access(1, 1, &[], false);
        for change in [TokenChange::Create, TokenChange::Update, TokenChange::Regenerate] {
            let why = me.may_change(change, LIMITED).unwrap_err();
            assert!(why.0.contains("limited"), "{why}");
        }
        assert!(me.may_view() && me.may_delete());
    }

    #[test]
    fn create_update_permission_bypasses_the_personal_limit() {
        let admin = access(1, 1, &[Permission::CreateUpdateTokens], false);
        assert!(admin.may_change(TokenChange::Create, LIMITED).is_ok());
    }

    #[test]
    fn blocking_students_refuses_student_only_users_but_not_teachers() {
        let student = access(1, 1, &[], true);
        assert!(student.may_change(TokenChange::Create, NO_STUDENTS).unwrap_err().0.contains("Students"));
        assert!(student.may_change(TokenChange::Regenerate, NO_STUDENTS).is_err());
        let teacher = access(2, 2, &[], false);
        assert!(teacher.may_change(TokenChange::Create, NO_STUDENTS).is_ok());
    }

    #[test]
    fn on_behalf_changes_need_create_update() {
        assert!(access(1, 2, &[], false).may_change(TokenChange::Create, OPEN).is_err());
        assert!(
            access(1, 2, &[Permission::ViewTokens], false).may_change(TokenChange::Update, OPEN).is_err()
        );
        assert!(
            access(1, 2, &[Permission::CreateUpdateTokens], false)
                .may_change(TokenChange::Create, OPEN)
                .is_ok()
        );
    }

    #[test]
    fn viewing_and_deleting_another_users_tokens_need_their_own_permissions() {
        assert!(!access(1, 2, &[], false).may_view());
        assert!(!access(1, 2, &[], false).may_delete());
        assert!(access(1, 2, &[Permission::ViewTokens], false).may_view());
        assert!(!access(1, 2, &[Permission::ViewTokens], false).may_delete());
        let deleter = access(1, 2, &[Permission::DeleteTokens], false);
        assert!(deleter.may_delete() && !deleter.may_view());
    }

    // Status

    #[test]
    fn status_is_derived_from_the_dates() {
        let n = now();
        assert_eq!(TokenStatus::of(false, None, n), TokenStatus::Active);
        assert_eq!(TokenStatus::of(false, Some(n + Duration::days(30)), n), TokenStatus::Active);
        assert_eq!(TokenStatus::of(false, Some(n + Duration::days(3)), n), TokenStatus::ExpiringSoon);
        assert_eq!(TokenStatus::of(false, Some(n), n), TokenStatus::Expired);
        assert_eq!(TokenStatus::of(true, Some(n + Duration::days(30)), n), TokenStatus::Pending);
        assert_eq!(TokenStatus::of(true, Some(n - Duration::days(1)), n), TokenStatus::Expired);
    }

    #[test]
    fn widening_is_any_new_scope_or_later_expiry() {
        let scopes = |list: &[&str]| Scopes(list.iter().map(|s| (*s).to_owned()).collect());
        let (read, both, none) = (scopes(&["a:read"]), scopes(&["a:read", "a:write"]), Scopes::default());
        let (soon, later) = (Some(now()), Some(now() + Duration::days(1)));
        assert!(!widens((&read, soon), (&read, soon)), "no change");
        assert!(!widens((&both, later), (&read, soon)), "narrower on both");
        let api = scopes(&["url:GET|/api/v1/users/:id"]);
        assert!(!widens((&none, None), (&api, soon)), "from no limitation to the API's scopes");
        assert!(widens((&read, soon), (&both, soon)), "a scope added");
        assert!(widens((&read, soon), (&none, soon)), "no limitation where it had scopes");
        assert!(widens((&read, soon), (&read, later)), "a later expiry");
        assert!(widens((&read, soon), (&read, None)), "no expiry where it had one");
        assert!(widens((&both, later), (&scopes(&["a:admin"]), soon)), "a scope swapped for another");
        assert!(read.is_within(&both) && both.is_within(&none) && !none.is_within(&both));
        // Found in review: no limitation does not open a service that refuses unscoped
        // tokens; its scope does.
        assert!(!widens((&none, soon), (&api, soon)), "an API route: narrower");
        assert!(widens((&none, soon), (&read, soon)), "a service's scope: into the service");
    }

    #[test]
    fn a_date_beside_another_lifetime_is_refused_not_dropped() {
        for select in ["30", "never", "365"] {
            let refused = ExpiryChoice::from_form(select, "2027-01-04").unwrap_err();
            assert!(refused.message.contains("On a date of my choice"), "{select}");
        }
        assert_eq!(ExpiryChoice::from_form("30", "  ").unwrap(), ExpiryChoice::Days(30));
        assert_eq!(
            ExpiryChoice::from_form("custom", "2027-01-04").unwrap(),
            ExpiryChoice::OnDate(NaiveDate::from_ymd_opt(2027, 1, 4).unwrap())
        );
    }
}
