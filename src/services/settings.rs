//! The account settings (SPEC 3): changed only with `account.settings`, every change in
//! the audit log.

use super::{Actor, Error};
use crate::db::{DbConnection, write_transaction};
use crate::domain::token::{PRESET_DAYS, STUDENT_MAX_DAYS_CEILING};
use crate::domain::{Permission, ValidationError};
use crate::models::{AccountSettings, AuditAction, SettingsChange};

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

/// Saves the settings; `false` when nothing changed (and nothing was recorded).
pub fn save(conn: &mut DbConnection, actor: &Actor, change: &SettingsChange) -> Result<bool, Error> {
    actor.require(Permission::AccountSettings)?;
    check(change)?;
    write_transaction(conn, |conn| {
        let before = AccountSettings::load(conn)?.as_change();
        if before == *change {
            return Ok(false);
        }
        AccountSettings::save(conn, change)?;
        actor.audit(AuditAction::SettingsChanged).details(describe(&before, change)).record(conn)?;
        Ok(true)
    })
}
