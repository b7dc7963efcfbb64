//! Slows down guessing: an address (or an outing's check-in, or whatever else is
//! guessed at) that keeps being refused waits longer and longer for each refusal, while
//! requests that are right are never held. Memory is bounded: at most
//! [`MAX_ADDRESSES`] keys are remembered, idle ones are forgotten. And bounds what is
//! not a guess but may still be abuse: [`Quota`], so many uses of a key an hour.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Bad tokens an address may present before its refusals are held back (a person
/// mistyping or a client with a stale token should not notice).
const FREE_FAILURES: u32 = 5;
/// The hold on the first refusal past the free ones; it doubles with each further one.
const FIRST_HOLD: Duration = Duration::from_millis(100);
const MAX_HOLD: Duration = Duration::from_secs(10);
/// An address with no failure for this long starts over.
const FORGET_AFTER: Duration = Duration::from_secs(600);
const MAX_ADDRESSES: usize = 10_000;

struct Strikes {
    failures: u32,
    last: Instant,
}

pub(crate) struct Limiter<K = IpAddr> {
    strikes: Mutex<HashMap<K, Strikes>>,
}

impl<K> Default for Limiter<K> {
    fn default() -> Self {
        Self { strikes: Mutex::new(HashMap::new()) }
    }
}

/// How long the `failures`-th refusal in a row is held.
fn hold(failures: u32) -> Duration {
    match failures.checked_sub(FREE_FAILURES + 1) {
        None => Duration::ZERO,
        Some(past) => FIRST_HOLD.saturating_mul(1u32 << past.min(16)).min(MAX_HOLD),
    }
}

impl<K: Copy + Eq + Hash> Limiter<K> {
    /// Records a refusal of `address` at `now`; answers how long to hold it.
    pub(crate) fn failure(&self, address: K, now: Instant) -> Duration {
        let mut strikes = self.strikes.lock().expect("limiter lock");
        if strikes.len() >= MAX_ADDRESSES && !strikes.contains_key(&address) {
            strikes.retain(|_, s| now.duration_since(s.last) < FORGET_AFTER);
            if strikes.len() >= MAX_ADDRESSES {
                let oldest = strikes.iter().min_by_key(|(_, s)| s.last).map(|(a, _)| *a);
                strikes.remove(&oldest.expect("the map is full, so not empty"));
            }
        }
        let entry = strikes.entry(address).or_insert(Strikes { failures: 0, last: now });
        if now.duration_since(entry.last) >= FORGET_AFTER {
            entry.failures = 0;
        }
        entry.failures = entry.failures.saturating_add(1);
        entry.last = now;
        hold(entry.failures)
    }

    #[cfg(test)]
    fn remembered(&self) -> usize {
        self.strikes.lock().unwrap().len()
    }
}

/// At most `max` uses per key within each `window` (an opinion form per address, per
/// unit): a use past it is refused until the window that began with the key's first
/// counted use is over. Memory is bounded as [`Limiter`]'s is.
pub(crate) struct Quota<K> {
    max: u32,
    window: Duration,
    used: Mutex<HashMap<K, (u32, Instant)>>,
}

impl<K: Copy + Eq + Hash> Quota<K> {
    pub(crate) fn new(max: u32, window: Duration) -> Self {
        Self { max, window, used: Mutex::new(HashMap::new()) }
    }

    /// Counts a use of `key` at `now`, or answers how long until one is allowed again.
    pub(crate) fn take(&self, key: K, now: Instant) -> Result<(), Duration> {
        let mut used = self.used.lock().expect("quota lock");
        if used.len() >= MAX_ADDRESSES && !used.contains_key(&key) {
            used.retain(|_, (_, since)| now.duration_since(*since) < self.window);
            if used.len() >= MAX_ADDRESSES {
                let oldest = used.iter().min_by_key(|(_, (_, since))| *since).map(|(k, _)| *k);
                used.remove(&oldest.expect("the map is full, so not empty"));
            }
        }
        let (count, since) = used.entry(key).or_insert((0, now));
        if now.duration_since(*since) >= self.window {
            (*count, *since) = (0, now);
        }
        if *count >= self.max {
            return Err(self.window - now.duration_since(*since));
        }
        *count += 1;
        Ok(())
    }

    /// Gives back a use counted for a request that was then refused for another reason.
    pub(crate) fn give_back(&self, key: K) {
        if let Some((count, _)) = self.used.lock().expect("quota lock").get_mut(&key) {
            *count = count.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quota_refuses_uses_past_its_maximum_until_the_window_is_over() {
        let quota = Quota::new(3, Duration::from_secs(3600));
        let t = Instant::now();
        for _ in 0..3 {
            assert_eq!(quota.take(address(1), t), Ok(()));
        }
        let later = t + Duration::from_secs(600);
        assert_eq!(quota.take(address(1), later), Err(Duration::from_secs(3000)));
        // Another key has its own; a use given back may be taken again.
        assert_eq!(quota.take(address(2), later), Ok(()));
        quota.give_back(address(1));
        assert_eq!(quota.take(address(1), later), Ok(()));
        assert!(quota.take(address(1), later).is_err());
        assert_eq!(quota.take(address(1), t + Duration::from_secs(3600)), Ok(()));
    }

    fn address(n: u32) -> IpAddr {
        IpAddr::from(n.to_be_bytes())
    }

    #[test]
    fn refusals_are_held_longer_and_longer_per_address() {
        let limiter = Limiter::<IpAddr>::default();
        let t = Instant::now();
        let holds: Vec<Duration> = (0..9).map(|_| limiter.failure(address(1), t)).collect();
        let ms = |n| Duration::from_millis(n);
        assert_eq!(holds, [0, 0, 0, 0, 0, 100, 200, 400, 800].map(ms));
        for _ in 0..20 {
            limiter.failure(address(1), t);
        }
        assert_eq!(limiter.failure(address(1), t), MAX_HOLD);
        // Another address is not affected, and a quiet address starts over.
        assert_eq!(limiter.failure(address(2), t), Duration::ZERO);
        assert_eq!(limiter.failure(address(1), t + FORGET_AFTER), Duration::ZERO);
    }

    #[test]
    fn memory_stays_bounded() {
        let limiter = Limiter::<IpAddr>::default();
        let t = Instant::now();
        for n in 0..(MAX_ADDRESSES as u32 + 500) {
            limiter.failure(address(n), t + Duration::from_millis(n.into()));
        }
        assert_eq!(limiter.remembered(), MAX_ADDRESSES);
    }
}
