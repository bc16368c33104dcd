//! The account settings (SPEC 3): changed only with `account.settings`, every change in
//! the audit log.

use super::{Actor, Error};
use crate::db::{DbConnection, write_transaction};
use crate::domain::token::{ExpiryRule, PRESET_DAYS, STUDENT_MAX_DAYS_CEILING};
use crate::domain::{Permission, ValidationError, now};
use crate::models::{AccessToken, AccountSettings, AuditAction, SettingsChange, User};

/// The settings' own rules: the student maximum within 1–120 days, the default lifetime
/// one of the offered presets.
pub fn check(change: &SettingsChange) -> Result<(), Error> {
    let mut errors = Vec::new();
    if !(1..=STUDENT_MAX_DAYS_CEILING).contains(&change.student_max_days) {
        errors.push(ValidationError::new(
            "student_max_days",
            format!("Enter a whole number of days from 1 to {STUDENT_MAX_DAYS_CEILING}."),
        ));
    }
    if !PRESET_DAYS.contains(&i64::from(change.default_lifetime_days)) {
        errors.push(ValidationError::new("default_lifetime_days", "Choose one of the offered lifetimes."));
    }
    if errors.is_empty() { Ok(()) } else { Err(Error::Invalid(errors)) }
}

fn describe(before: &SettingsChange, after: &SettingsChange) -> String {
    let on = |b: bool| if b { "on" } else { "off" };
    let mut changes = Vec::new();
    if before.limit_personal_creation != after.limit_personal_creation {
        changes.push(format!("limit personal token creation: {}", on(after.limit_personal_creation)));
    }
    if before.block_students != after.block_students {
        changes.push(format!("block students from creating tokens: {}", on(after.block_students)));
    }
    if before.student_max_days != after.student_max_days {
        changes.push(format!(
            "student maximum lifetime: {} → {} days",
            before.student_max_days, after.student_max_days
        ));
    }
    if before.default_lifetime_days != after.default_lifetime_days {
        changes.push(format!(
            "default lifetime: {} → {} days",
            before.default_lifetime_days, after.default_lifetime_days
        ));
    }
    changes.join("; ")
}

/// What lowering the student maximum to `change`'s would shorten now, for the question
/// asked before it is done: `None` when it shortens nothing (not lowered, or no token of a
/// student-only user lives beyond the new maximum).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapPreview {
    pub from_days: i32,
    pub to_days: i32,
    pub tokens: usize,
    pub owners: usize,
}

pub fn preview_cap(
    conn: &mut DbConnection,
    actor: &Actor,
    change: &SettingsChange,
) -> Result<Option<CapPreview>, Error> {
    actor.require(Permission::AccountSettings)?;
    check(change)?;
    let before = AccountSettings::load(conn)?;
    if change.student_max_days >= before.student_max_days {
        return Ok(None);
    }
    let rule = ExpiryRule { owner_student_only: true, student_max_days: change.student_max_days };
    let limit = rule.cap(None, now()).expect("a student-only rule always caps a missing expiry");
    let students = User::student_only_ids(conn)?;
    let (tokens, owners) = AccessToken::count_beyond(conn, &students, limit)?;
    Ok((tokens > 0).then_some(CapPreview {
        from_days: before.student_max_days,
        to_days: change.student_max_days,
        tokens,
        owners,
    }))
}

/// Saves the settings: `None` when nothing changed (and nothing was recorded), else how
/// many tokens a lowered student maximum shortened. A maximum is a maximum: lowered, it
/// applies to the tokens student-only users hold already, as the retroactive cap does when
/// someone becomes student-only (SPEC 4, rule 3), each owner told and the audit log too.
pub fn save(conn: &mut DbConnection, actor: &Actor, change: &SettingsChange) -> Result<Option<usize>, Error> {
    actor.require(Permission::AccountSettings)?;
    check(change)?;
    write_transaction(conn, |conn| {
        let before = AccountSettings::load(conn)?.as_change();
        if before == *change {
            return Ok(None);
        }
        AccountSettings::save(conn, change)?;
        actor.audit(AuditAction::SettingsChanged).details(describe(&before, change)).record(conn)?;
        if change.student_max_days >= before.student_max_days {
            return Ok(Some(0));
        }
        let students = User::student_only_ids(conn)?;
        let why = format!("the student maximum was lowered to {} days", change.student_max_days);
        Ok(Some(super::tokens::cap_student_tokens(conn, Some(actor), &students, &why)?))
    })
}
