//! A period of whole days, as a filter's two date fields give it.

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime};

use crate::domain::ValidationError;

/// Days from one to another, both included, in UTC; either end may be open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayRange {
    pub first: Option<NaiveDate>,
    pub last: Option<NaiveDate>,
}

impl DayRange {
    /// From the text of the `from` and `to` fields (`YYYY-MM-DD`, as a date input sends
    /// it); empty fields leave that end open, and both empty is no range at all. Each
    /// error names its field.
    pub fn parse(from: &str, to: &str) -> Result<Option<DayRange>, Vec<ValidationError>> {
        let day = |field: &'static str, text: &str| {
            let text = text.trim();
            if text.is_empty() {
                return Ok(None);
            }
            NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .ok()
                .filter(|d| (1..=9999).contains(&d.year()))
                .map(Some)
                .ok_or_else(|| {
                    ValidationError::new(
                        field,
                        format!("“{text}” is not a date: write it as YYYY-MM-DD, e.g. 2026-11-23."),
                    )
                })
        };
        let (first, last) = match (day("from", from), day("to", to)) {
            (Ok(first), Ok(last)) => (first, last),
            (first, last) => return Err([first.err(), last.err()].into_iter().flatten().collect()),
        };
        match (first, last) {
            (None, None) => Ok(None),
            (Some(f), Some(l)) if l < f => Err(vec![ValidationError::new(
                "to",
                "The last day is before the first: swap them, or change one.",
            )]),
            _ => Ok(Some(DayRange { first, last })),
        }
    }

    /// The instants it covers: from the first day's midnight to the midnight after the
    /// last day, that one excluded; `None` for an open end. A last day of 9999-12-31 is an
    /// open end too: the midnight after it is in year 10000, which the databases' text and
    /// timestamp columns cannot compare (SQLite would compare `+10000-…` as text and find
    /// nothing before it).
    pub fn instants(self) -> (Option<NaiveDateTime>, Option<NaiveDateTime>) {
        let midnight = |d: NaiveDate| d.and_time(NaiveTime::MIN);
        let after_last = self.last.and_then(|d| d.succ_opt()).filter(|d| d.year() <= 9999);
        (self.first.map(midnight), after_last.map(midnight))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn both_days_are_included() {
        let range = DayRange::parse("2026-11-23", "2026-11-29").unwrap().unwrap();
        let (start, end) = range.instants();
        assert_eq!(start, day("2026-11-23").and_hms_opt(0, 0, 0));
        assert_eq!(end, day("2026-11-30").and_hms_opt(0, 0, 0));
        let one = DayRange::parse("2026-11-23", " 2026-11-23 ").unwrap().unwrap().instants();
        assert_eq!(one.1.unwrap() - one.0.unwrap(), chrono::Duration::days(1));
    }

    #[test]
    fn an_empty_field_leaves_its_end_open() {
        assert_eq!(DayRange::parse("", "  ").unwrap(), None);
        let range = DayRange::parse("2026-11-23", "").unwrap().unwrap();
        assert_eq!(range.instants(), (day("2026-11-23").and_hms_opt(0, 0, 0), None));
        let range = DayRange::parse("", "2026-11-29").unwrap().unwrap();
        assert_eq!(range.instants(), (None, day("2026-11-30").and_hms_opt(0, 0, 0)));
    }

    #[test]
    fn the_last_day_there_is_leaves_the_end_open() {
        let range = DayRange::parse("2026-11-23", "9999-12-31").unwrap().unwrap();
        assert_eq!(range.instants(), (day("2026-11-23").and_hms_opt(0, 0, 0), None));
        let range = DayRange::parse("9999-12-31", "9999-12-31").unwrap().unwrap();
        assert_eq!(range.instants(), (day("9999-12-31").and_hms_opt(0, 0, 0), None));
        let range = DayRange::parse("", "9999-12-30").unwrap().unwrap();
        assert_eq!(range.instants(), (None, day("9999-12-31").and_hms_opt(0, 0, 0)));
    }

    #[test]
    fn each_error_names_its_field() {
        let errors = DayRange::parse("23/11/2026", "soon").unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field).collect();
        assert_eq!(fields, ["from", "to"]);
        assert!(errors[0].message.contains("“23/11/2026” is not a date"));
        for impossible in ["2026-02-30", "0000-01-01", "+10000-01-01", "-0001-01-01"] {
            let errors = DayRange::parse("2026-11-23", impossible).unwrap_err();
            assert_eq!(errors.iter().map(|e| e.field).collect::<Vec<_>>(), ["to"], "{impossible}");
        }
    }

    #[test]
    fn the_last_day_may_not_come_before_the_first() {
        let errors = DayRange::parse("2026-11-29", "2026-11-23").unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, "to");
        assert!(DayRange::parse("2026-11-29", "2026-11-29").is_ok());
    }
}
