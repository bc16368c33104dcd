//! An expiry as the pages send it (a preset, `custom` with a date, `never`) and as the API
//! sends it (ISO 8601 / RFC 3339 `expires_at`), then the expiry rule applied at an
//! arbitrary moment, to a teacher and to a student-only owner (SPEC 4.2, 4.3).
//!
//! Lines of the input: the form's select, the date (also read as the API's `expires_at`),
//! then as numbers: seconds to move `now` by, the student maximum, a number of days, and a
//! Unix time for an exact expiry.

use super::{line, now_plus, number, text};
use chrono::{DateTime, Datelike, Duration, NaiveDateTime, Timelike};
use tokenwarden::domain::token::{ExpiryChoice, ExpiryRule, PRESET_DAYS};
use tokenwarden::routes::api::v1::tokens::parse_expires_at;
use tokenwarden::views::tokens::{date, date_time, iso, ymd};

fn check_apply(rule: ExpiryRule, choice: ExpiryChoice, now: NaiveDateTime) {
    let result = rule.apply(choice, now);
    match &result {
        Ok(Some(at)) => {
            let at = *at;
            assert!(at > now, "{choice:?} at {now}: {at} is not in the future");
            assert!(choice != ExpiryChoice::Never);
            if rule.owner_student_only {
                let limit = now.checked_add_signed(Duration::days(rule.max_days()));
                assert!(
                    limit.is_none_or(|l| at <= l),
                    "{choice:?} at {now}: {at} is past a student's maximum"
                );
            }
            // What a page shows of it, and the API can read back what it writes.
            let _ = (date(at), date_time(at), ymd(at));
            if (1..=9999).contains(&at.year()) {
                assert_eq!(parse_expires_at(Some(&iso(at))), Ok(ExpiryChoice::At(at)), "{}", iso(at));
            }
        }
        Ok(None) => {
            assert_eq!(choice, ExpiryChoice::Never);
            assert!(!rule.owner_student_only, "a student-only owner got no expiry");
        }
        Err(e) => assert_eq!(e.field, ExpiryChoice::FIELD),
    }
    if choice == ExpiryChoice::Never && !rule.owner_student_only {
        assert_eq!(result, Ok(None));
    }
    // The retroactive cap: only students, never further than the maximum.
    let current = result.ok().flatten();
    let capped = rule.cap(current, now);
    if !rule.owner_student_only {
        assert_eq!(capped, None);
    } else if let Some(limit) = now.checked_add_signed(Duration::days(rule.max_days())) {
        match capped {
            None => assert!(current.is_some_and(|at| at <= limit)),
            Some(c) => assert_eq!(c, limit),
        }
    }
}

pub fn check(data: &[u8]) {
    let s = text(data);
    let s = s.as_ref();
    let (select, day) = (line(s, 0), line(s, 1));
    let now = now_plus(number(s, 2, 0));
    let max_days: i32 = number(s, 3, 120);
    let days: i64 = number(s, 4, 30);
    let unix: Option<i64> = line(s, 5).trim().parse().ok();

    let mut choices = vec![ExpiryChoice::Never, ExpiryChoice::Days(days)];
    match ExpiryChoice::from_form(select, day) {
        Ok(c) => {
            match c {
                ExpiryChoice::Days(d) => assert!(PRESET_DAYS.contains(&d)),
                ExpiryChoice::OnDate(_) => assert_eq!(select.trim(), "custom"),
                ExpiryChoice::Never => assert_eq!(select.trim(), "never"),
                ExpiryChoice::At(_) => panic!("a form gave an exact moment"),
            }
            choices.push(c);
        }
        Err(e) => assert_eq!(e.field, ExpiryChoice::FIELD),
    }
    for given in [day, s] {
        match parse_expires_at(Some(given)) {
            Ok(c) => {
                match c {
                    ExpiryChoice::At(at) => assert_eq!(at.nanosecond(), 0, "{given:?}: kept to the second"),
                    ExpiryChoice::Never => assert!(matches!(given.trim(), "" | "null")),
                    ExpiryChoice::OnDate(_) => {}
                    ExpiryChoice::Days(_) => panic!("the API gave a number of days"),
                }
                choices.push(c);
            }
            Err(e) => assert_eq!(e.field, ExpiryChoice::FIELD),
        }
    }
    if let Some(at) = unix.and_then(|u| DateTime::from_timestamp(u, 0)) {
        choices.push(ExpiryChoice::At(at.naive_utc()));
        choices.push(ExpiryChoice::OnDate(at.date_naive()));
    }

    for owner_student_only in [false, true] {
        let rule = ExpiryRule { owner_student_only, student_max_days: max_days };
        assert!((1..=120).contains(&rule.max_days()));
        for &choice in &choices {
            check_apply(rule, choice, now);
        }
    }
}
