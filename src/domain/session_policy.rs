//! When a signed-in session ends by itself (OWASP ASVS 3.3): after a spell without
//! requests (idle) or a fixed time after sign-in (absolute), whichever comes first.

use chrono::{Duration, NaiveDateTime};

#[derive(Debug, Clone, Copy)]
pub struct SessionTimeouts {
    pub idle: Duration,
    pub absolute: Duration,
}

impl SessionTimeouts {
    pub fn new(idle_minutes: u32, absolute_hours: u32) -> Self {
        SessionTimeouts {
            idle: Duration::minutes(i64::from(idle_minutes)),
            absolute: Duration::hours(i64::from(absolute_hours)),
        }
    }

    pub fn has_expired(&self, now: NaiveDateTime, created: NaiveDateTime, last_seen: NaiveDateTime) -> bool {
        now - last_seen > self.idle || now - created > self.absolute
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minutes: i64) -> NaiveDateTime {
        chrono::DateTime::from_timestamp(1_800_000_000 + minutes * 60, 0).unwrap().naive_utc()
    }

    #[test]
    fn a_session_used_within_the_idle_window_lives_on() {
        let t = SessionTimeouts::new(30, 12);
        assert!(!t.has_expired(at(29), at(0), at(0)));
        assert!(!t.has_expired(at(30), at(0), at(0)));
    }

    #[test]
    fn a_session_idle_for_more_than_30_minutes_ends() {
        let t = SessionTimeouts::new(30, 12);
        assert!(t.has_expired(at(31), at(0), at(0)));
    }

    #[test]
    fn a_busy_session_still_ends_12_hours_after_sign_in() {
        let t = SessionTimeouts::new(30, 12);
        assert!(!t.has_expired(at(12 * 60), at(0), at(12 * 60 - 1)));
        assert!(t.has_expired(at(12 * 60 + 1), at(0), at(12 * 60)));
    }
}
