//! Each caller's share of the processor. Every request's work is bounded (`limits.rs`),
//! but a caller sending the heaviest allowed requests in closed loops over several
//! connections could still keep every core busy, and a clerk's page would queue behind
//! them. So the CPU time each token's requests take is counted (the time every poll of a
//! request's execution holds its worker, and the thread's CPU time around a report's
//! computation on its blocking thread), against a credit that refills at the token's
//! share of the cores: all of them for a token alone, `cores / (active tokens + 1)`
//! while several are active. A
//! request whose token has overdrawn waits, before it starts, until the credit is back
//! to zero, so a heavy caller gets its share and no more, and a light one never waits.
//! The wait counts against the request deadline.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use uuid::Uuid;

/// The most CPU time a token may save up while idle, in core-seconds: a burst of a
/// quarter of a second runs at once, whatever the others do.
const BURST: f64 = 0.25;
/// A token that ran a request within this long counts as active.
const ACTIVE_WITHIN: Duration = Duration::from_secs(2);
/// How often the active tokens are counted again (counting walks every account).
const RECOUNT_EVERY: Duration = Duration::from_millis(250);

pub(crate) struct Shares {
    cores: f64,
    accounts: Mutex<Accounts>,
}

struct Accounts {
    by_token: HashMap<Uuid, Account>,
    active: usize,
    counted_at: Instant,
}

struct Account {
    /// Core-seconds; negative when overdrawn.
    credit: f64,
    refilled: Instant,
}

impl Shares {
    pub(crate) fn new() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        let accounts = Accounts { by_token: HashMap::new(), active: 1, counted_at: Instant::now() };
        Self { cores, accounts: Mutex::new(accounts) }
    }

    /// How long a request of `token` waits before it starts: zero unless the token has
    /// used more than its share lately.
    pub(crate) fn wait(&self, token: Uuid) -> Duration {
        let now = Instant::now();
        let mut accounts = self.accounts.lock().expect("share accounts lock");
        let rate = self.rate(&mut accounts, now);
        let account = accounts.by_token.entry(token).or_insert(Account { credit: BURST, refilled: now });
        account.refill(now, rate);
        if account.credit >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-account.credit / rate)
        }
    }

    /// Debits `token` with CPU time its requests took.
    pub(crate) fn charge(&self, token: Uuid, cpu: Duration) {
        let now = Instant::now();
        let mut accounts = self.accounts.lock().expect("share accounts lock");
        let rate = self.rate(&mut accounts, now);
        let account = accounts.by_token.entry(token).or_insert(Account { credit: BURST, refilled: now });
        account.refill(now, rate);
        account.credit -= cpu.as_secs_f64();
    }

    /// Each active token's share of the cores, in core-seconds per second.
    fn rate(&self, accounts: &mut Accounts, now: Instant) -> f64 {
        if now.duration_since(accounts.counted_at) >= RECOUNT_EVERY {
            // Idle accounts that owe nothing are forgotten; they would be full again.
            accounts.by_token.retain(|_, a| now.duration_since(a.refilled) < ACTIVE_WITHIN || a.credit < 0.0);
            accounts.active = accounts.by_token.len().max(1);
            accounts.counted_at = now;
        }
        match accounts.active {
            1 => self.cores,
            // One share is kept for a caller about to come, so that the first request of
            // a light caller finds a core as much as the heavy callers leave.
            active => self.cores / (active + 1) as f64,
        }
    }

    /// `work` (a future, or a stream of a subscription's answers), with the CPU time it
    /// takes charged to `token` when it ends or is dropped (a request past its deadline).
    pub(crate) fn timed<F>(self: &Arc<Self>, token: Uuid, work: F) -> Timed<F> {
        Timed { work, shares: self.clone(), token, spent: Duration::ZERO }
    }
}

impl Account {
    fn refill(&mut self, now: Instant, rate: f64) {
        self.credit = (self.credit + now.duration_since(self.refilled).as_secs_f64() * rate).min(BURST);
        self.refilled = now;
    }
}

/// The calling thread's CPU time so far. A system call each time (the kernel keeps it,
/// and the vDSO cannot read it), about 0.8 µs here: right around a report's minutes of
/// work, too dear around every poll of every request.
pub(crate) fn thread_cpu() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

pin_project_lite::pin_project! {
    /// See [`Shares::timed`].
    pub(crate) struct Timed<F> {
        #[pin]
        work: F,
        shares: Arc<Shares>,
        token: Uuid,
        spent: Duration,
    }

    impl<F> PinnedDrop for Timed<F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            this.shares.charge(*this.token, *this.spent);
        }
    }
}

// A poll holds its worker from start to end (nothing else runs on that thread
// meanwhile), so its length on the monotonic clock is the worker time it took; it also
// counts a moment the OS gave the core to another thread, which charges a busy
// machine's requests a little more, every caller alike. The monotonic clock is read
// without a system call, unlike the thread's CPU time (a mutation is polled three or
// four times: 5 % of its cost).
impl<S: futures_util::Stream> futures_util::Stream for Timed<S> {
    type Item = S::Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        let this = self.project();
        let started = Instant::now();
        let polled = this.work.poll_next(cx);
        *this.spent += started.elapsed();
        polled
    }
}

impl<F: Future> Future for Timed<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let started = Instant::now();
        let polled = this.work.poll(cx);
        *this.spent += started.elapsed();
        polled
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_alone_has_every_core_and_shares_them_when_others_come() {
        let shares = Shares { cores: 2.0, ..Shares::new() };
        let (heavy, light) = (Uuid::new_v4(), Uuid::new_v4());
        assert_eq!(shares.wait(heavy), Duration::ZERO, "a new token starts with its burst");
        shares.charge(heavy, Duration::from_millis(1250));
        // Overdrawn by one core-second, alone: back at two cores a second.
        let alone = shares.wait(heavy);
        assert!(alone > Duration::from_millis(400) && alone <= Duration::from_millis(500), "{alone:?}");
        // Another token appears; at the next count each has two thirds of a core.
        assert_eq!(shares.wait(light), Duration::ZERO);
        shares.accounts.lock().unwrap().counted_at -= RECOUNT_EVERY;
        let shared = shares.wait(heavy);
        assert!(shared > Duration::from_millis(1300) && shared <= Duration::from_millis(1500), "{shared:?}");
        assert_eq!(shares.wait(light), Duration::ZERO, "the light token does not wait");
    }

    #[tokio::test]
    async fn work_is_counted_while_polled() {
        let shares = Arc::new(Shares::new());
        let token = Uuid::new_v4();
        let busy = async {
            let until = thread_cpu() + Duration::from_millis(300);
            while thread_cpu() < until {}
        };
        shares.timed(token, busy).await;
        let owed = shares.accounts.lock().unwrap().by_token[&token].credit;
        assert!(owed < BURST - 0.29, "charged about 300 ms: {owed}");
    }
}
