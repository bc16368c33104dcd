//! Login throttling per client IP and per login, with `governor`'s keyed GCRA limiters.
//! In memory, per instance: behind a load balancer each instance throttles on its own.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};

use crate::domain::net::throttle_key;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tokio::sync::{Semaphore, SemaphorePermit};

/// Leak reports (`POST /api/v1/credentials/revoke`) per address: a scanner reports in
/// batches of up to 1,000, so a few a minute is plenty, and nobody can use the endpoint to
/// test guesses at scale (it answers 202 whatever the tokens were anyway).
pub struct ReportLimiter {
    per_ip: DefaultKeyedRateLimiter<IpAddr>,
}

impl ReportLimiter {
    /// `per_minute` reports from one address.
    pub fn new(per_minute: u32) -> Self {
        let burst = NonZeroU32::new(per_minute.max(1)).expect("at least one");
        ReportLimiter { per_ip: RateLimiter::keyed(Quota::per_minute(burst)) }
    }

    /// Counts one report from `ip` (an IPv6 address by its /64); `false` over the budget.
    pub fn allow(&self, ip: IpAddr) -> bool {
        self.per_ip.check_key(&throttle_key(ip)).is_ok()
    }

    pub fn shrink(&self) {
        self.per_ip.retain_recent();
        self.per_ip.shrink_to_fit();
    }
}

/// A login longer than this is no login (logins have at most 64 characters): no more of it
/// becomes a throttle key or a log field.
pub const MAX_LOGIN_KEY_CHARS: usize = 64;

/// Whose budget a sign-in attempt at a login spends.
///
/// Guessing must stay expensive, but a stranger must not be able to lock the owner out by
/// spending the login's budget. So a browser that has signed in as this login before
/// carries a device cookie (OWASP's "device cookies"), and its attempts spend a budget of
/// their own; everybody else — every address of a botnet included — shares the login's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignInBudget {
    /// A browser this login has signed in from before: its own budget.
    Device(String),
    /// Anybody else.
    Strangers,
}

pub struct LoginLimiter {
    per_ip: DefaultKeyedRateLimiter<IpAddr>,
    per_login: DefaultKeyedRateLimiter<String>,
    /// A refused address is logged as a warning once a minute, not once per request: a
    /// flood of guesses must not become a flood of log lines.
    warned: DefaultKeyedRateLimiter<IpAddr>,
    /// Refused attempts being held back (see [`TARPIT`]).
    tarpit: Semaphore,
    clock: DefaultClock,
}

/// How long a refused attempt from an address over its budget waits for its answer. A
/// script guessing passwords on a few connections then gets a handful of answers a second
/// instead of thousands, and the machine stays with the people using it.
pub const TARPIT: Duration = Duration::from_secs(1);
/// At most this many refused attempts wait at once (each holds a connection and a few KB);
/// beyond it they are answered at once.
const TARPIT_SLOTS: usize = 256;

impl LoginLimiter {
    /// `per_ip` attempts per minute from one address; `per_login` attempts in a burst for
    /// one login, then one more every 90 seconds.
    pub fn new(per_ip: u32, per_login: u32) -> Self {
        let ip_burst = NonZeroU32::new(per_ip.max(1)).expect("at least one");
        let login_burst = NonZeroU32::new(per_login.max(1)).expect("at least one");
        LoginLimiter {
            per_ip: RateLimiter::keyed(Quota::per_minute(ip_burst)),
            per_login: RateLimiter::keyed(
                Quota::with_period(Duration::from_secs(90)).expect("non-zero").allow_burst(login_burst),
            ),
            warned: RateLimiter::keyed(Quota::per_minute(NonZeroU32::MIN)),
            tarpit: Semaphore::new(TARPIT_SLOTS),
            clock: DefaultClock::default(),
        }
    }

    /// Whether a refusal for `ip` should be logged as a warning now (once a minute).
    pub fn should_warn(&self, ip: IpAddr) -> bool {
        self.warned.check_key(&throttle_key(ip)).is_ok()
    }

    /// Counts one attempt from `ip` (an IPv6 address by its /64); `Err(wait)` when the
    /// address is over its budget.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), Duration> {
        let now = self.clock.now();
        self.per_ip
            .check_key(&throttle_key(ip))
            .map_err(|not_until| Self::wait(not_until.wait_time_from(now)))
    }

    /// Counts one attempt at `login` from a browser that has no device cookie for it (or
    /// from `device`'s budget when it has one: see [`SignInBudget`]); `Err(wait)` when that
    /// budget is spent. Only the first [`MAX_LOGIN_KEY_CHARS`] characters make the key.
    pub fn check_login(&self, login: &str, budget: &SignInBudget) -> Result<(), Duration> {
        let key = match budget {
            SignInBudget::Device(id) => format!("device:{id}"),
            SignInBudget::Strangers => {
                let login: String = login.trim().chars().take(MAX_LOGIN_KEY_CHARS).collect();
                format!("login:{}", login.to_lowercase())
            }
        };
        let now = self.clock.now();
        self.per_login.check_key(&key).map_err(|not_until| Self::wait(not_until.wait_time_from(now)))
    }

    /// Counts one try of the current password on the form that changes it, for the signed-in
    /// user `user_id`: the same budget as a login's (a burst, then one every 90 seconds), so
    /// a stolen session cannot guess the password it would need to take the account over.
    pub fn check_current_password(&self, user_id: i64) -> Result<(), Duration> {
        let now = self.clock.now();
        self.per_login
            .check_key(&format!("current-password:{user_id}"))
            .map_err(|not_until| Self::wait(not_until.wait_time_from(now)))
    }

    fn wait(d: Duration) -> Duration {
        d.max(Duration::from_secs(1))
    }

    /// Forgets keys whose budget is full again (call now and then to bound memory).
    /// A place among the refused attempts held back for [`TARPIT`]; `None` when all are taken.
    pub fn hold(&self) -> Option<SemaphorePermit<'_>> {
        self.tarpit.try_acquire().ok()
    }

    pub fn shrink(&self) {
        self.per_ip.retain_recent();
        self.per_login.retain_recent();
        self.warned.retain_recent();
        self.per_ip.shrink_to_fit();
        self.per_login.shrink_to_fit();
        self.warned.shrink_to_fit();
    }
}

/// What a throttled person is told, and the `Retry-After` seconds that go with it.
pub fn refusal(wait: Duration) -> (u64, String) {
    let secs = wait.as_secs().max(1);
    let unit = if secs == 1 { "second" } else { "seconds" };
    (secs, format!("Too many sign-in attempts. Wait {secs} {unit}, then try again."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_login_is_throttled_after_its_burst_whatever_its_spelling() {
        let l = LoginLimiter::new(100, 3);
        let strangers = SignInBudget::Strangers;
        for login in ["Ada", "ada", " ADA "] {
            assert!(l.check_login(login, &strangers).is_ok());
        }
        let wait = l.check_login("ada", &strangers).unwrap_err();
        assert!(wait >= Duration::from_secs(1));
        assert!(l.check_login("grace", &strangers).is_ok());
    }

    #[test]
    fn a_known_device_keeps_its_own_budget_when_strangers_spent_the_logins() {
        let l = LoginLimiter::new(100, 2);
        for _ in 0..2 {
            assert!(l.check_login("ada", &SignInBudget::Strangers).is_ok());
        }
        assert!(l.check_login("ada", &SignInBudget::Strangers).is_err(), "strangers are throttled");
        let mine = SignInBudget::Device("d1".into());
        assert!(l.check_login("ada", &mine).is_ok(), "the owner's browser is not locked out");
        assert!(l.check_login("ada", &mine).is_ok());
        assert!(l.check_login("ada", &mine).is_err(), "and is throttled on its own when it guesses");
    }

    #[test]
    fn a_huge_login_makes_a_bounded_key() {
        let l = LoginLimiter::new(100, 1);
        let long = "a".repeat(256 * 1024);
        assert!(l.check_login(&long, &SignInBudget::Strangers).is_ok());
        // Only the first 64 characters count: another huge login with the same start shares them.
        let other = format!("{}b", "a".repeat(70));
        assert!(l.check_login(&other, &SignInBudget::Strangers).is_err());
    }

    #[test]
    fn the_refusal_names_the_wait_in_whole_seconds() {
        assert_eq!(
            refusal(Duration::from_millis(1500)),
            (1, "Too many sign-in attempts. Wait 1 second, then try again.".to_owned())
        );
        assert_eq!(
            refusal(Duration::from_secs(90)).1,
            "Too many sign-in attempts. Wait 90 seconds, then try again."
        );
        assert_eq!(refusal(Duration::ZERO).0, 1, "never Retry-After: 0");
    }

    #[test]
    fn an_ipv6_subscriber_is_one_address() {
        let l = LoginLimiter::new(1, 100);
        assert!(l.check_ip("2001:db8:5:6::1".parse().unwrap()).is_ok());
        assert!(l.check_ip("2001:db8:5:6:ffff::2".parse().unwrap()).is_err(), "the same /64");
        assert!(l.check_ip("2001:db8:5:7::1".parse().unwrap()).is_ok());
    }

    #[test]
    fn an_address_is_throttled_after_its_budget() {
        let l = LoginLimiter::new(2, 100);
        let ip = IpAddr::from([192, 0, 2, 1]);
        assert!(l.check_ip(ip).is_ok());
        assert!(l.check_ip(ip).is_ok());
        assert!(l.check_ip(ip).is_err());
        assert!(l.check_ip(IpAddr::from([192, 0, 2, 2])).is_ok());
    }
}
