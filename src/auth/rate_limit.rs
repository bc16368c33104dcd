//! Login throttling per client IP and per login, with `governor`'s keyed GCRA limiters.
//! In memory, per instance: behind a load balancer each instance throttles on its own.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

pub struct LoginLimiter {
    per_ip: DefaultKeyedRateLimiter<IpAddr>,
    per_login: DefaultKeyedRateLimiter<String>,
    clock: DefaultClock,
}

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
            clock: DefaultClock::default(),
        }
    }

    /// Counts one attempt; `Err(wait)` when the address or the login is over its budget.
    pub fn check(&self, ip: IpAddr, login: &str) -> Result<(), Duration> {
        let login = login.trim().to_lowercase();
        let now = self.clock.now();
        self.per_ip
            .check_key(&ip)
            .and_then(|()| self.per_login.check_key(&login))
            .map_err(|not_until| not_until.wait_time_from(now).max(Duration::from_secs(1)))
    }

    /// Forgets keys whose budget is full again (call now and then to bound memory).
    pub fn shrink(&self) {
        self.per_ip.retain_recent();
        self.per_login.retain_recent();
        self.per_ip.shrink_to_fit();
        self.per_login.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_login_is_throttled_after_its_burst_whatever_the_address() {
        let l = LoginLimiter::new(100, 3);
        for i in 0..3 {
            assert!(l.check(IpAddr::from([10, 0, 0, i]), "Ada").is_ok());
        }
        let wait = l.check(IpAddr::from([10, 0, 0, 9]), "ada").unwrap_err();
        assert!(wait >= Duration::from_secs(1));
        assert!(l.check(IpAddr::from([10, 0, 0, 9]), "grace").is_ok());
    }

    #[test]
    fn an_address_is_throttled_after_its_budget_whatever_the_login() {
        let l = LoginLimiter::new(2, 100);
        let ip = IpAddr::from([192, 0, 2, 1]);
        assert!(l.check(ip, "a").is_ok());
        assert!(l.check(ip, "b").is_ok());
        assert!(l.check(ip, "c").is_err());
        assert!(l.check(IpAddr::from([192, 0, 2, 2]), "c").is_ok());
    }
}
