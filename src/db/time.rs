//! Timestamps read from SQLite without chrono's pattern parser.
//!
//! SQLite keeps a timestamp as text, and diesel reads each one with chrono's
//! `parse_from_str`, which parses its pattern again for every value and tries several
//! patterns in turn: 7% of the Access Tokens page, where each row has four timestamps, and
//! part of every API request. [`Time`] reads the text diesel and SQLite write
//! (`2026-12-05 10:39:17`, with a fraction or without) directly and hands anything else to
//! diesel's reader, so every value diesel could read still reads the same. PostgreSQL's
//! binary timestamps go to diesel's reader as before.
//!
//! Used on the columns read on every request: `#[diesel(deserialize_as = Time)]` (or
//! [`MaybeTime`] for a nullable one) on a model's field.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::deserialize::{self, FromSql};
use diesel::pg::Pg;
use diesel::sql_types::{Nullable, Timestamp};
use diesel::sqlite::{Sqlite, SqliteValue};

use super::MultiBackend;

/// A timestamp column's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, diesel::deserialize::FromSqlRow)]
pub struct Time(pub NaiveDateTime);

/// A nullable timestamp column's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, diesel::deserialize::FromSqlRow)]
pub struct MaybeTime(pub Option<NaiveDateTime>);

impl From<Time> for NaiveDateTime {
    fn from(t: Time) -> NaiveDateTime {
        t.0
    }
}

impl From<MaybeTime> for Option<NaiveDateTime> {
    fn from(t: MaybeTime) -> Option<NaiveDateTime> {
        t.0
    }
}

/// `YYYY-MM-DD HH:MM:SS`, then nothing or `.` and one to nine digits of a second; `None`
/// for any other text (diesel's reader then tries it), and for a date or time that does
/// not exist (a leap second included, which chrono reads its own way).
fn parse(text: &str) -> Option<NaiveDateTime> {
    let b = text.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || b[10] != b' ' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let number = |digits: &[u8]| -> Option<u32> {
        digits.iter().try_fold(0u32, |n, &c| c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0')))
    };
    let nanos = match &b[19..] {
        [] => 0,
        [b'.', fraction @ ..] if (1..=9).contains(&fraction.len()) => {
            number(fraction)? * 10u32.pow(9 - u32::try_from(fraction.len()).ok()?)
        }
        _ => return None,
    };
    let year = i32::try_from(number(&b[0..4])?).ok()?;
    NaiveDate::from_ymd_opt(year, number(&b[5..7])?, number(&b[8..10])?)?.and_hms_nano_opt(
        number(&b[11..13])?,
        number(&b[14..16])?,
        number(&b[17..19])?,
        nanos,
    )
}

impl FromSql<Timestamp, Sqlite> for Time {
    fn from_sql(mut value: SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
        if let Some(t) = parse(value.read_text()) {
            return Ok(Time(t));
        }
        <NaiveDateTime as FromSql<Timestamp, Sqlite>>::from_sql(value).map(Time)
    }
}

impl FromSql<Timestamp, Pg> for Time {
    fn from_sql(value: diesel::pg::PgValue<'_>) -> deserialize::Result<Self> {
        <NaiveDateTime as FromSql<Timestamp, Pg>>::from_sql(value).map(Time)
    }
}

impl FromSql<Timestamp, MultiBackend> for Time {
    fn from_sql(
        value: <MultiBackend as diesel::backend::Backend>::RawValue<'_>,
    ) -> deserialize::Result<Self> {
        value.from_sql::<Self, Timestamp>()
    }
}

/// A nullable column: NULL is `MaybeTime(None)`, any other value is read as [`Time`].
macro_rules! maybe_time {
    ($($backend:ty),+) => {$(
        impl FromSql<Nullable<Timestamp>, $backend> for MaybeTime {
            fn from_sql(value: <$backend as diesel::backend::Backend>::RawValue<'_>) -> deserialize::Result<Self> {
                <Time as FromSql<Timestamp, $backend>>::from_sql(value).map(|t| MaybeTime(Some(t.0)))
            }

            fn from_nullable_sql(
                value: Option<<$backend as diesel::backend::Backend>::RawValue<'_>>,
            ) -> deserialize::Result<Self> {
                value.map_or(Ok(MaybeTime(None)), <Self as FromSql<Nullable<Timestamp>, $backend>>::from_sql)
            }
        }
    )+};
}

maybe_time!(Sqlite, Pg, MultiBackend);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// How diesel writes a timestamp into SQLite, and reads it back.
    fn diesel_writes(t: NaiveDateTime) -> String {
        t.format("%F %T%.f").to_string()
    }

    fn diesel_reads(text: &str) -> Option<NaiveDateTime> {
        ["%F %T%.f", "%F %T"].iter().find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
    }

    #[test]
    fn reads_what_diesel_and_sqlite_write() {
        let t = |s: &str| NaiveDateTime::parse_from_str(s, "%F %T%.f").unwrap();
        assert_eq!(parse("2026-12-05 10:39:17"), Some(t("2026-12-05 10:39:17.0")));
        assert_eq!(parse("2026-12-05 10:39:17.5"), Some(t("2026-12-05 10:39:17.5")));
        assert_eq!(parse("2026-12-05 10:39:17.123"), Some(t("2026-12-05 10:39:17.123")));
        assert_eq!(parse("2026-12-05 10:39:17.123456789"), Some(t("2026-12-05 10:39:17.123456789")));
        assert_eq!(
            parse("0001-01-01 00:00:00"),
            NaiveDate::from_ymd_opt(1, 1, 1).unwrap().and_hms_opt(0, 0, 0)
        );
    }

    #[test]
    fn leaves_every_other_text_to_diesel() {
        for text in [
            "",
            "2026-12-05",
            "2026-12-05T10:39:17",
            "2026-12-05 10:39",
            "2026-12-05 10:39:17Z",
            "2026-12-05 10:39:17+01:00",
            "2026-12-05 10:39:17.",
            "2026-12-05 10:39:17.1234567890",
            "2026-02-30 10:39:17",
            "2026-12-05 24:00:00",
            "2026-12-05 23:59:60",
            "2026-1a-05 10:39:17",
            "+2026-12-05 10:39:17",
            "2461014.5",
            "2026-12-05 10:39:17.-1",
            "२०२६-12-05 10:39:17",
        ] {
            assert_eq!(parse(text), None, "{text:?}");
        }
    }

    proptest! {
        /// Whatever diesel writes, read back as diesel reads it.
        #[test]
        fn agrees_with_diesel_on_what_it_writes(secs in 0i64..253_402_300_799, nanos in 0u32..1_000_000_000) {
            let t = chrono::DateTime::from_timestamp(secs, nanos).unwrap().naive_utc();
            let text = diesel_writes(t);
            prop_assert_eq!(parse(&text), Some(t));
            prop_assert_eq!(diesel_reads(&text), Some(t));
        }

        /// Any text of the shape: the same answer as diesel's reader, or none (then
        /// diesel's reader is asked).
        #[test]
        fn never_disagrees_with_diesel(text in "[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,10})?") {
            if let Some(t) = parse(&text) {
                prop_assert_eq!(Some(t), diesel_reads(&text));
            }
        }
    }
}
